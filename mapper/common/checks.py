"""Checks of user-given values, shared by every layer: each failure is an SwsError naming the parameter,
the value and the rule."""

from __future__ import annotations

import math

from .errors import SwsError

__all__ = ["positive_int", "one_of", "finite"]


def positive_int(name, value, *, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SwsError(f"{name} must be an integer >= {minimum}, not {value!r}")


def one_of(name, value, choices):
    if value not in choices:
        raise SwsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def finite(name, value, *, positive: bool):
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) \
        and (value > 0 if positive else value >= 0)
    if not ok:
        raise SwsError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, not {value!r}")
