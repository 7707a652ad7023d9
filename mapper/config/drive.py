"""Input encodings: how a vector of signed integer inputs becomes the 1-bit row drives of the crossbar
(docs/design.md section 1), one drive step after the other, each with its weight.

- `twos`: two's complement, bit-serial: A steps, step t drives bit t of every input and weighs 2**t,
  except the sign step t = A-1, which weighs -2**(A-1) (unsigned inputs: no negative step).
- `signmag`: sign-magnitude in two passes: the A-1 magnitude bits of the positive inputs (weights
  2**t), then those of the negative inputs (weights -2**t). A small negative input sets only its own
  low-order magnitude bits, where in two's complement it sets every high-order bit: real activations,
  mostly small, leave the high steps of both passes nearly empty. Inputs lie in -(2**(A-1)-1)..2**(A-1)-1.
- `bipolar`: one pass of A-1 magnitude steps whose rows are driven +1, 0 or -1 by the input's sign (weights
  2**t); the column sum is signed and its conversion needs one bit more (`sign_bits`).
The controller's RTL builds all three (`BUILT`).
"""

from __future__ import annotations

import numpy as np

from ..common import SwsError

__all__ = ["ENCODINGS", "BUILT", "step_count", "step_weights", "drive_steps", "input_range", "sign_bits"]

ENCODINGS = ("twos", "signmag", "bipolar")
#: The encodings the controller's RTL builds (hwgen): every one.
BUILT = ("twos", "signmag", "bipolar")


def sign_bits(encoding: str) -> int:
    """Bits a conversion needs beyond its column's count: 1 for the bipolar drive's signed column sums."""
    return 1 if encoding == "bipolar" else 0


def _check(encoding: str, signed: bool) -> None:
    if encoding not in ENCODINGS:
        raise SwsError(f"input encoding must be one of {', '.join(ENCODINGS)}, not {encoding!r}")
    if encoding in ("signmag", "bipolar") and not signed:
        raise SwsError(f"input encoding {encoding!r} is for signed inputs: unsigned inputs are already magnitudes")


def input_range(input_bits: int, signed: bool, encoding: str = "twos") -> tuple[int, int]:
    """The inputs an encoding can drive: (lowest, highest)."""
    _check(encoding, signed)
    if not signed:
        return 0, 2 ** input_bits - 1
    top = 2 ** (input_bits - 1) - 1
    return (-top - 1 if encoding == "twos" else -top), top


def step_count(input_bits: int, signed: bool, encoding: str = "twos") -> int:
    """Drive steps per input vector: A (two's complement or unsigned), 2 * (A - 1) (sign-magnitude)."""
    _check(encoding, signed)
    return 2 * (input_bits - 1) if encoding == "signmag" else input_bits - 1 if encoding == "bipolar" else input_bits


def step_weights(input_bits: int, signed: bool, encoding: str = "twos") -> np.ndarray:
    """The weight of each drive step, in step order."""
    _check(encoding, signed)
    if encoding == "signmag":
        mag = 2 ** np.arange(input_bits - 1, dtype=np.int64)
        return np.concatenate([mag, -mag])
    if encoding == "bipolar":
        return 2 ** np.arange(input_bits - 1, dtype=np.int64)
    w = 2 ** np.arange(input_bits, dtype=np.int64)
    if signed:
        w[-1] = -w[-1]
    return w


def drive_steps(x, input_bits: int, signed: bool, encoding: str = "twos") -> np.ndarray:
    """(..., P, K) uint8: the row drive of each step for integer inputs x (..., K); int8 of -1, 0, +1 for the
    bipolar drive.

    sum over steps of weight[p] * drive[..., p, k] equals x[..., k] for every input in `input_range`.
    """
    x = np.asarray(x, dtype=np.int64)
    if encoding == "bipolar":
        _check(encoding, signed)
        t = np.arange(input_bits - 1)[:, None]
        mag = (np.abs(x)[..., None, :] >> t) & 1
        return (mag * np.sign(x)[..., None, :]).astype(np.int8)
    if encoding == "signmag":
        _check(encoding, signed)
        t = np.arange(input_bits - 1)[:, None]
        pos = (np.maximum(x, 0)[..., None, :] >> t) & 1
        neg = (np.maximum(-x, 0)[..., None, :] >> t) & 1
        return np.concatenate([pos, neg], axis=-2).astype(np.uint8)
    _check(encoding, signed)
    u = x & ((1 << input_bits) - 1)
    return ((u[..., None, :] >> np.arange(input_bits)[:, None]) & 1).astype(np.uint8)
