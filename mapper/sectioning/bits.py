"""Bit slicing shared by the mapper, the bounds and the golden model: weight bit columns, their running
counts along a row order, lossless resolutions and input bit-planes (docs/design.md sections 2 and 4)."""

from __future__ import annotations

import numpy as np

__all__ = ["weight_bits_of", "grouped", "group_bit_cumsum", "block_bit_counts", "lossless_bits", "input_planes"]


def weight_bits_of(w: np.ndarray, weight_bits: int) -> np.ndarray:
    """Sign-magnitude bit slices (uint8): `[..., s, b]` is bit b of max(w, 0) (s = 0) or of max(-w, 0) (s = 1).

    The magnitudes are unpacked from their bytes (np.unpackbits): bits 0..Bm-1 of a magnitude are bits of
    its low one or two bytes, so the narrow cast keeps every bit asked for (Bm <= 15).
    """
    w = np.asarray(w)
    if w.dtype.kind not in "iu" or w.dtype.itemsize > 4:
        w = w.astype(np.int32)   # weights hold at most 15 magnitude bits
    mag = np.empty(w.shape + (2,), np.uint8 if weight_bits <= 8 else "<u2")
    mag[..., 0] = np.maximum(w, 0)
    mag[..., 1] = np.maximum(-w, 0)
    bits = np.unpackbits(mag.reshape(-1).view(np.uint8), bitorder="little").reshape(mag.shape + (8 * mag.itemsize,))
    return bits[..., :weight_bits]   # a view; a reshape copies it when it must


def grouped(w: np.ndarray, group: int, dtype=np.int64) -> np.ndarray:
    """W as (n_groups, K, G), the last group padded with zero outputs."""
    k, n = w.shape
    n_groups = -(-n // group)
    padded = np.zeros((k, n_groups * group), dtype=dtype)
    padded[:, :n] = w
    return padded.reshape(k, n_groups, group).transpose(1, 0, 2)


def group_bit_cumsum(w: np.ndarray, order: np.ndarray, group: int, weight_bits: int) -> np.ndarray:
    """(n_groups, K + 1, G, 2, Bm): ones per column over the first i rows of each group's order."""
    permuted = np.take_along_axis(grouped(w, group), order[:, :, None], axis=1)
    bits = weight_bits_of(permuted, weight_bits)
    out = np.zeros((bits.shape[0], bits.shape[1] + 1) + bits.shape[2:], dtype=np.int32)
    np.cumsum(bits, axis=1, dtype=np.int32, out=out[:, 1:])
    return out


def block_bit_counts(w: np.ndarray, order: np.ndarray, group: int, weight_bits: int, rows: int) -> np.ndarray:
    """(n_groups, ceil(K / R), G, 2, Bm): ones per column in each block of R consecutive rows of each group's order.

    Plain sections are such blocks, so their counts need no running sum over all K rows (the last block
    is padded with zero rows, which hold no ones). Rows come first in memory, so each block's sum adds
    whole rows of uint8 bits at once.
    """
    k, n = w.shape
    n_groups = order.shape[0]
    blocks = -(-k // rows)
    wg = np.zeros((blocks * rows, n_groups * group), np.int16)        # |w| <= 2**15 - 1
    wg[:k, :n] = w
    wg = wg.reshape(blocks * rows, n_groups, group)
    if not np.array_equal(order, np.broadcast_to(np.arange(k), order.shape)):
        wg[:k] = wg[order.T, np.arange(n_groups)[None, :], :]          # row i of group g is its order[g, i]
    mag = np.empty(wg.shape + (2,), np.uint8 if weight_bits <= 8 else np.uint16)
    mag[..., 0] = np.maximum(wg, 0)
    mag[..., 1] = np.maximum(-wg, 0)
    acc = np.uint8 if rows < 256 else np.uint16 if rows < 65536 else np.int64
    out = np.empty((blocks, n_groups, group, 2, weight_bits), np.int32)
    for b in range(weight_bits):
        plane = ((mag >> b) & 1).astype(np.uint8)
        out[..., b] = plane.reshape(blocks, rows, n_groups, group, 2).sum(axis=1, dtype=acc)
    return out.transpose(1, 0, 2, 3, 4)


def lossless_bits(m) -> np.ndarray:
    """ceil(log2(m + 1)): the fewest bits that hold every count 0..m (0 for m = 0)."""
    m = np.asarray(m, dtype=np.int64)
    # frexp gives m = f * 2**e with 0.5 <= f < 1, so e is m's bit length, exactly (no float log2).
    return np.where(m > 0, np.frexp(np.maximum(m, 1))[1], 0).astype(np.int64)


def input_planes(x: np.ndarray, input_bits: int) -> np.ndarray:
    """(..., A, K) bit-planes of integer inputs in two's complement (or unsigned)."""
    u = np.asarray(x, dtype=np.int64) & ((1 << input_bits) - 1)
    return ((u[..., None, :] >> np.arange(input_bits)[:, None]) & 1).astype(np.int64)
