"""`$readmemh` images (one lowercase hex word per line) and the SHA-256 digests that sign a plan."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np

from ..common import SwsError

__all__ = ["hex_lines", "read_hex", "sha256_hex", "manifest_digest"]


#: The two hex digits of each byte value, as ASCII codes.
_HEX_PAIRS = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), np.uint8).reshape(256, 2)


def hex_lines(bits: np.ndarray) -> str:
    """One hex word per row of the bit matrix (bit 0 the least significant), ceil(width / 4) digits."""
    n, width = bits.shape
    digits = -(-width // 4)
    nbytes = -(-width // 8)
    padded = np.zeros((n, nbytes * 8), np.uint8)
    padded[:, :width] = bits
    packed = np.packbits(padded, axis=1, bitorder="little")[:, ::-1]          # most significant byte first
    chars = _HEX_PAIRS[packed].reshape(n, 2 * nbytes)[:, 2 * nbytes - digits:]
    lines = np.concatenate([chars, np.full((n, 1), ord("\n"), np.uint8)], axis=1)
    return lines.tobytes().decode("ascii")


def read_hex(path: str, width: int, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The words of a $readmemh image as a (words, width) bit matrix, and the file line of each word."""
    digits = -(-width // 4)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise SwsError(f"{path}, line {line}: byte 0x{data[e.start]:02x} is not text: every line must be a "
                       f"{digits}-digit hex word") from None
    words, lines = [], []
    for number, raw in enumerate(text.split("\n"), 1):
        ln = raw.strip()
        if not ln or ln.startswith("//"):
            continue
        if len(ln) != digits or not re.fullmatch(r"[0-9a-fA-F]+", ln):   # the line itself is not echoed
            raise SwsError(f"{path}, line {number}: not a {digits}-digit hex word (one word of hex digits "
                           f"0-9, a-f per line)")
        words.append(ln)
        lines.append(number)
    lines = np.asarray(lines, np.int64)
    if not words:
        return np.zeros((0, width), np.uint8), lines
    raw = np.frombuffer("".join(words).lower().encode(), np.uint8).reshape(len(words), digits)
    nib = np.where(raw >= ord("a"), raw - ord("a") + 10, raw - ord("0"))[:, ::-1]
    bits = ((nib[:, :, None] >> np.arange(4)) & 1).reshape(len(words), digits * 4).astype(np.uint8)
    wide = np.nonzero(bits[:, width:].any(axis=1))[0]
    if len(wide):
        raise SwsError(f"{path}, line {lines[wide[0]]}: the word is wider than its {width} bits")
    return bits[:, :width], lines


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_digest(manifest: dict) -> str:
    """The sha256 of the manifest without its own `manifest_sha256` entry, as canonical JSON (sorted keys,
    no spaces), so that any change of a value is caught and whitespace is not."""
    rest = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return sha256_hex(json.dumps(rest, sort_keys=True, separators=(",", ":"), allow_nan=False).encode())
