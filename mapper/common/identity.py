"""Which inputs a run has read, by device and inode, so that no output replaces one of them whatever name
reaches it (mapper.common.outputs); mapper.common.reading records every file it opens here."""

from __future__ import annotations

import contextlib
import os

__all__ = ["recording_inputs", "inputs_read", "note_input", "input_ids", "held_input"]

_recorders: list[dict] = []


@contextlib.contextmanager
def recording_inputs():
    """Within this block, every input opened through mapper.common.reading (or noted by `note_input`) is
    recorded as {(device, inode): path}."""
    record: dict = {}
    _recorders.append(record)
    try:
        yield record
    finally:
        _recorders.remove(record)


def inputs_read() -> dict:
    """{(device, inode): path} of the inputs opened in the current `recording_inputs` blocks (else empty)."""
    out: dict = {}
    for record in _recorders:
        for key, path in record.items():
            out.setdefault(key, path)
    return out


def note_input(path: str, st: os.stat_result | None = None) -> None:
    """Record `path` (a file or folder read by other means) as an input of the current run."""
    if not _recorders:
        return
    try:
        st = st or os.stat(path)
    except OSError:
        return
    for record in _recorders:
        record.setdefault((st.st_dev, st.st_ino), path)


def _identity(path: str, follow: bool = True):
    try:
        st = os.stat(path) if follow else os.lstat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def input_ids(inputs) -> dict:
    """{(device, inode): name} of the named `inputs` and of every input the run has opened so far."""
    ids = dict(inputs_read())
    for name in inputs:
        key = _identity(name) if name else None
        if key is not None:
            ids[key] = name
    return ids


def held_input(full: str, ids: dict) -> str | None:
    """The input among `ids` that the folder `full` is or holds (an entry of it, by device and inode)."""
    if not ids:
        return None
    hit = ids.get(_identity(full))
    if hit:
        return hit
    for d, dirs, files in os.walk(full):
        for name in dirs + files:
            hit = ids.get(_identity(os.path.join(d, name), follow=False))
            if hit:
                return hit
    return None
