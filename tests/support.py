"""Helpers the tests share. One rule decides what a missing optional tool or package does: on a
developer's machine the test is skipped with the reason; under CI (the CI environment variable set, as
.ci/run does) it fails, so CI can never pass by skipping."""

from __future__ import annotations

import fcntl
import importlib
import os
import pickle
import shutil

import pytest

__all__ = ["unavailable", "need_module", "need_tools", "under_ci", "once_per_run"]


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def unavailable(what: str, why: str, *, module_level: bool = False):
    """Skip (locally) or fail (under CI) because `what` is missing; `why` says what it is needed for."""
    if under_ci():
        pytest.fail(f"{what} is required under CI: {why}", pytrace=False)
    pytest.skip(f"{what} is not available: {why}", allow_module_level=module_level)


def need_module(name: str, extra: str, *, module_level: bool = False):
    """The imported module, or skip/fail naming the extra that installs it."""
    try:
        return importlib.import_module(name)
    except ImportError as e:
        unavailable(name, f"pip install -e '.[{extra}]' ({e})", module_level=module_level)


def need_tools(*names: str, why: str, module_level: bool = False) -> None:
    """Skip/fail unless every executable in `names` is on the PATH."""
    missing = [n for n in names if shutil.which(n) is None]
    if missing:
        unavailable(", ".join(missing), why, module_level=module_level)


def once_per_run(tmp_path_factory, name: str, make):
    """`make(folder)`'s value, made once for the whole test run however many pytest-xdist workers ask: the
    first computes it in its folder (shared by the workers, under pytest's base temporary folder) and pickles
    it, the others wait on the lock and read it (pytest-xdist's documented recipe for a session fixture that
    runs once). Without xdist, once for the session."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent                      # the workers' base folders share this parent
    folder, value = root / name, root / f"{name}.pickle"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # released when the file closes
        if value.exists():
            return pickle.loads(value.read_bytes())
        folder.mkdir(exist_ok=True)
        made = make(folder)
        value.write_bytes(pickle.dumps(made))
        return made
