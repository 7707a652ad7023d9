"""Outputs that appear whole or not at all: a failed run never leaves a half-written file or folder."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

from .errors import SwsError

__all__ = ["atomic_dir", "atomic_path", "write_atomic"]


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


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary file name beside `path`; on success the file is renamed over `path`, on failure
    it is removed. For writers that take a file name (a waveform, np.save)."""
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise SwsError(f"{path}: cannot write under {parent}, which is a file")
    if os.path.isdir(path):
        raise SwsError(f"{path}: the output must be a file, but a folder is there")
    os.makedirs(parent, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", dir=parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)   # mkstemp makes 0600; the result is an ordinary file
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_atomic(path: str, content, *, binary: bool = False) -> None:
    """Write a file whole or not at all. `content` is text (bytes with `binary`) or a function of the
    open file that writes it."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb" if binary else "w") as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
