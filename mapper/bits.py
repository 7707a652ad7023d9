"""Bit slicing shared by the mapper, the bounds and the golden model: weight bit columns, their running
counts along a row order, lossless resolutions and input bit-planes (docs/design.md sections 2 and 4)."""

from __future__ import annotations

import numpy as np

__all__ = ["weight_bits_of", "grouped", "group_bit_cumsum", "lossless_bits", "input_planes"]


def weight_bits_of(w: np.ndarray, weight_bits: int) -> np.ndarray:
    """Sign-magnitude bit slices: `[..., s, b]` is bit b of max(w, 0) (s = 0) or of max(-w, 0) (s = 1)."""
    w = np.asarray(w, dtype=np.int64)
    mag = np.stack([np.maximum(w, 0), np.maximum(-w, 0)], axis=-1)
    return ((mag[..., None] >> np.arange(weight_bits)) & 1).astype(np.uint8)


def grouped(w: np.ndarray, group: int) -> np.ndarray:
    """W as (n_groups, K, G), the last group padded with zero outputs."""
    k, n = w.shape
    n_groups = -(-n // group)
    padded = np.zeros((k, n_groups * group), dtype=np.int64)
    padded[:, :n] = w
    return padded.reshape(k, n_groups, group).transpose(1, 0, 2)


def group_bit_cumsum(w: np.ndarray, order: np.ndarray, group: int, weight_bits: int) -> np.ndarray:
    """(n_groups, K + 1, G, 2, Bm): ones per column over the first i rows of each group's order."""
    permuted = np.take_along_axis(grouped(w, group), order[:, :, None], axis=1)
    bits = weight_bits_of(permuted, weight_bits)
    out = np.zeros((bits.shape[0], bits.shape[1] + 1) + bits.shape[2:], dtype=np.int32)
    np.cumsum(bits, axis=1, dtype=np.int32, out=out[:, 1:])
    return out


def lossless_bits(m) -> np.ndarray:
    """ceil(log2(m + 1)): the fewest bits that hold every count 0..m (0 for m = 0)."""
    m = np.asarray(m, dtype=np.int64)
    # frexp gives m = f * 2**e with 0.5 <= f < 1, so e is m's bit length, exactly (no float log2).
    return np.where(m > 0, np.frexp(np.maximum(m, 1))[1], 0).astype(np.int64)


def input_planes(x: np.ndarray, input_bits: int) -> np.ndarray:
    """(..., A, K) bit-planes of integer inputs in two's complement (or unsigned)."""
    u = np.asarray(x, dtype=np.int64) & ((1 << input_bits) - 1)
    return ((u[..., None, :] >> np.arange(input_bits)[:, None]) & 1).astype(np.int64)
