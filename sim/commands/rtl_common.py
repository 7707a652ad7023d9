"""Options and helpers shared by `sws rtl` and `sws sim`."""

from __future__ import annotations

import os
import tempfile

from mapper.errors import SwsError
from mapper.plan import LayerPlan, Plan


def add_layer_args(p) -> None:
    p.add_argument("--layer", help="the layer of the plan (default: its first)")
    p.add_argument("--lanes", type=int, default=None,
                   help="rows gathered per cycle, a power of two (default: R / 32, at least 1)")


def pick_layer(plan: Plan, name: str | None) -> LayerPlan:
    return plan.layer(name)


def write_atomic(path: str, content, *, binary: bool = False) -> None:
    """Write a file whole or not at all: into a temporary file beside it, then renamed over it."""
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise SwsError(f"{path}: cannot write under {parent}, which is a file")
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; the result is an ordinary file
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
