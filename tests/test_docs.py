"""The documentation: a short README from which every page is one click away, relative links that resolve
on GitHub (file and heading), and the Sphinx site built with warnings as errors (CONTRIBUTING.md)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest

from tests.support import need_module

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOP = ("README.md", "CHANGELOG.md", "CONTRIBUTING.md")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _pages() -> list[str]:
    """Every Markdown page of the documentation, relative to the repository's root."""
    pages = list(TOP)
    for folder, dirs, files in os.walk(os.path.join(ROOT, "docs")):
        dirs[:] = [d for d in dirs if not d.startswith("_") and d != "generated"]
        pages += [os.path.relpath(os.path.join(folder, f), ROOT) for f in files if f.endswith(".md")]
    return sorted(pages)


def _prose(path: str) -> str:
    """The file's text without fenced code blocks (a link there is an example, not a link)."""
    return re.sub(r"^```.*?^```", "", open(os.path.join(ROOT, path)).read(), flags=re.S | re.M)


def _slugs(path: str) -> Iterator[str]:
    """Heading anchors as GitHub makes them: lower case, punctuation dropped, spaces to hyphens, -1, -2 on repeats."""
    seen: dict[str, int] = {}
    for line in _prose(path).splitlines():
        m = re.match(r"#{1,6} (.*)", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            n = seen.get(slug, 0)
            seen[slug] = n + 1
            yield slug if n == 0 else f"{slug}-{n}"


def _relative_links(path: str):
    for target in LINK.findall(_prose(path)):
        if not re.match(r"[a-z]+:", target):
            yield target


def test_the_slugs_are_githubs():
    # Worked out from GitHub's rule by hand for headings of docs/design.md and this project's pages.
    assert "6-the-controller-rtl" in set(_slugs("docs/design.md"))
    assert "4-adc-resolution-policies-and-energy" in set(_slugs("docs/design.md"))
    assert "section-cost-energy-against-crossbars-and-cycles" in set(_slugs("docs/results/adc-models.md"))


def test_the_readme_is_short():
    with open(os.path.join(ROOT, "README.md")) as f:
        assert len(f.read().splitlines()) <= 250


@pytest.mark.parametrize("page", _pages())
def test_relative_links_resolve(page):
    """Each relative link names a file that exists, and a heading of it that exists if it names one."""
    here = os.path.dirname(page)
    for target in _relative_links(page):
        file, _, anchor = target.partition("#")
        dest = os.path.normpath(os.path.join(here, file)) if file else page
        assert os.path.exists(os.path.join(ROOT, dest)), f"{page}: link to {target}: no {dest}"
        if anchor and dest.endswith(".md"):
            assert anchor in set(_slugs(dest)), f"{page}: link to {target}: no heading #{anchor} in {dest}"


def test_every_page_is_one_click_from_the_readme():
    linked = {os.path.normpath(t.partition("#")[0]) for t in _relative_links("README.md")}
    missing = [p for p in _pages() if p != "README.md" and p not in linked]
    assert not missing, f"README.md links to none of {missing}"


@pytest.mark.slow
def test_the_site_builds_without_a_warning(tmp_path):
    for module in ("sphinx", "myst_parser", "furo"):
        need_module(module, "docs")
    out = tmp_path / "site"
    run = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-c", "docs", ".", str(out)],
                         cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert (out / "docs" / "index.html").exists()
    # The reference documents the package's public names: on the package's page (not indexed there, so no
    # duplicate) and, indexed for cross-references, on the page of the subpackage that defines each.
    api = (out / "docs" / "api" / "generated" / "mapper.html").read_text()
    assert '<span class="sig-name descname"><span class="pre">map_layer</span>' in api
    sub = (out / "docs" / "api" / "generated" / "mapper.sectioning.html").read_text()
    assert 'id="mapper.sectioning.map_layer"' in sub
