"""Text outputs: standard JSON (no NaN or Infinity), and file names that are not UTF-8 written as escapes."""

from __future__ import annotations

import codecs
import json
import math

from .errors import SwsError

__all__ = ["ESCAPE", "write_text", "dumps_json"]


def _escape(e):
    """The codec error handler ESCAPE: a byte of a file name that is not UTF-8 (which Python keeps as a
    surrogate, U+DC80..U+DCFF) as \\xNN, any other character the encoding lacks as a backslash escape."""
    if not isinstance(e, UnicodeEncodeError):
        raise e
    out = []
    for c in e.object[e.start:e.end]:
        out.append(f"\\x{ord(c) - 0xDC00:02x}" if 0xDC80 <= ord(c) <= 0xDCFF else
                   c.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), e.end


#: Name of the error handler that writes file names that are not UTF-8 as \\xNN escapes (codecs.register_error).
ESCAPE = "sws.escape"
codecs.register_error(ESCAPE, _escape)


def write_text(path: str, text: str) -> None:
    """Write a text file inside a folder being built (atomic_dir's temporary): UTF-8, a file name that is not
    UTF-8 written with \\xNN escapes (ESCAPE)."""
    with open(path, "w", encoding="utf-8", errors=ESCAPE) as f:
        f.write(text)


def _first_non_finite(obj, where="$"):
    if isinstance(obj, float) and not math.isfinite(obj):
        return where, obj
    if isinstance(obj, dict):
        items = obj.items()
    elif isinstance(obj, (list, tuple)):
        items = enumerate(obj)
    else:
        return None
    for k, v in items:
        found = _first_non_finite(v, f"{where}.{k}" if isinstance(obj, dict) else f"{where}[{k}]")
        if found:
            return found
    return None


def dumps_json(obj, *, what: str = "the result", **kwargs) -> str:
    """Standard JSON text (RFC 8259: no NaN or Infinity); an SwsError naming the first non-finite value."""
    try:
        return json.dumps(obj, allow_nan=False, **kwargs)
    except ValueError:
        found = _first_non_finite(obj)
        at = f" ({found[0]} = {found[1]})" if found else ""
        raise SwsError(f"{what} holds a number too large for JSON{at}: an input (such as --e8) is out of "
                       f"any meaningful range") from None
