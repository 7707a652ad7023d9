"""Sphinx configuration of the sws-crossbar documentation site.

The source folder is the repository's root, so that README.md, CHANGELOG.md, CONTRIBUTING.md and the
pages under docs/ link to each other by the same relative paths on the site as on GitHub. Build it with
warnings as errors (CONTRIBUTING.md, "Documentation")::

    python -m sphinx -W --keep-going -c docs . build/docs
"""

import ast
import os
import pkgutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)  # document this checkout, not whichever sws-crossbar is installed

project = "sws-crossbar"
author = "the sws-crossbar authors"
copyright = "the sws-crossbar authors, Apache-2.0"

extensions = [
    "myst_parser",             # the Markdown pages
    "sphinx.ext.autodoc",      # the API reference, from the docstrings
    "sphinx.ext.autosummary",  # one page per package listed in docs/api/index.md
    "sphinx.ext.napoleon",     # numpydoc sections (Parameters, Returns, Attributes, ...)
]

root_doc = "docs/index"
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
include_patterns = ["README.md", "CHANGELOG.md", "CONTRIBUTING.md", "docs/**"]
exclude_patterns = ["build", ".git", "docs/_templates"]
templates_path = [os.path.join(ROOT, "docs", "_templates")]  # absolute: autosummary reads it from the source folder

myst_heading_anchors = 4   # `page.md#a-heading` links, slugged as GitHub slugs them
myst_enable_extensions = ["colon_fence"]
suppress_warnings = ["myst.header"]   # the tables the tools write start at level 2 (docs/results/input-aware-rtl.md)

napoleon_google_docstring = False
napoleon_numpy_docstring = True
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True, "undoc-members": True}
autosummary_generate = True


def _modules_without_all():
    """Submodules of each package whose __init__ has no `__all__`: their API page lists the modules instead.

    Read from the sources (no import), so the list follows the folders as they are."""
    out = {}
    for folder, _, files in (w for pkg in ("mapper", "hwgen", "sim", "sws") for w in os.walk(os.path.join(ROOT, pkg))):
        rel = os.path.relpath(folder, ROOT)
        if "__init__.py" not in files:
            continue
        name = rel.replace(os.sep, ".")
        tree = ast.parse(open(os.path.join(folder, "__init__.py")).read())
        has_all = any(isinstance(n, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in n.targets)
                      for n in tree.body)
        if not has_all:
            out[name] = sorted(m.name for m in pkgutil.iter_modules([folder])
                               if not m.name.startswith("_"))
    return out


autosummary_context = {"modules_without_all": _modules_without_all()}

html_theme = "furo"
html_title = "sws-crossbar"
