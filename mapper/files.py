"""Output folders that appear whole or not at all: a failed run never leaves a half-written folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

__all__ = ["atomic_dir"]


@contextlib.contextmanager
def atomic_dir(path: str):
    """Yield a fresh temporary folder beside `path`; on success it replaces `path`, on failure it vanishes."""
    path = os.path.abspath(path)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if os.path.exists(path):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(path)}.old.", dir=parent)
        os.rename(path, os.path.join(old, "x"))
    os.rename(tmp, path)
    if old:
        shutil.rmtree(old, ignore_errors=True)
