"""Helpers the tests share. One rule decides what a missing optional tool or package does: on a
developer's machine the test is skipped with the reason; under CI (the CI environment variable set, as
.ci/run does) it fails, so CI can never pass by skipping."""

from __future__ import annotations

import importlib
import os
import shutil

import pytest

__all__ = ["unavailable", "need_module", "need_tools", "under_ci"]


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
