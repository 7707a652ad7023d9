"""Unstructured magnitude pruning and symmetric quantization of a layer to signed Bm-bit integers."""

from __future__ import annotations

import math

import numpy as np

from ..config import ArrayConfig
from ..common import SwsError
from ..sources import Layer, QuantLayer

__all__ = ["prune", "quantize", "prepare_layer", "prepare_layers", "check_sparsity"]


def check_sparsity(sparsity: float) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float)) or not math.isfinite(sparsity) \
            or not 0 <= sparsity < 1:
        raise SwsError(f"sparsity must be a number in [0, 1), not {sparsity!r}")
    return float(sparsity)


def prune(w: np.ndarray, sparsity: float) -> np.ndarray:
    """Zero the round(sparsity * K * N) smallest ``|w|`` (ties: lower flat index first)."""
    sparsity = check_sparsity(sparsity)
    n_zero = int(round(sparsity * w.size))
    if n_zero == 0:
        return w.copy()
    # The n_zero-th smallest magnitude by selection (O(n)), not a full sort: everything below it goes, and of
    # the magnitudes equal to it, the lowest flat indices -- what a stable sort would give.
    mag = np.abs(w).reshape(-1)
    threshold = np.partition(mag, n_zero - 1)[n_zero - 1]
    out = w.copy().reshape(-1)
    below = mag < threshold
    out[below] = 0
    out[np.flatnonzero(mag == threshold)[:n_zero - int(np.count_nonzero(below))]] = 0
    return out.reshape(w.shape)


def quantize(w: np.ndarray, weight_bits: int, *, per_channel: bool = False, where: str = "weights",
             absmax: float | None = None):
    """Signed integers in -(2**Bm - 1)..2**Bm - 1, and the scale that maps them back (None for integer input).

    Per tensor, the scale is max abs(w) / (2**Bm - 1), or `absmax` / (2**Bm - 1) when given (the largest abs(w) of
    the whole tensor that w is a part of: a grouped convolution's group); per channel, each column's."""
    qmax = 2 ** weight_bits - 1
    if np.issubdtype(w.dtype, np.integer):
        # Compared in w's own type: converting first would wrap 2**64 - 1 to -1, and abs(-2**63) overflows.
        over = (w > qmax) if np.issubdtype(w.dtype, np.unsignedinteger) else (w > qmax) | (w < -qmax)
        if over.any():
            k, n = np.argwhere(over)[0]
            raise SwsError(f"{where}: integer weight W[{k}, {n}] = {int(w[k, n])} is outside -{qmax}..{qmax} "
                           f"(weight_bits {weight_bits}, symmetric)")
        return w.astype(np.int64), None
    w = w.astype(np.float64)    # a float16 or float32 scale of tiny weights would underflow to 0
    if per_channel:
        mag = np.abs(w).max(axis=0, keepdims=True)
    else:
        mag = np.abs(w).max(keepdims=True) if absmax is None else np.full((1, 1), float(absmax))
    scale = np.where(mag > 0, mag / qmax, 1.0)
    tiny = (mag > 0) & (scale < np.finfo(np.float64).tiny)
    if tiny.any():
        at = f"column {int(np.argmax(tiny))}" if per_channel else "the layer"
        raise SwsError(f"{where}: the largest |weight| of {at} is {float(mag[tiny][0]):.3g}, too small to "
                       f"quantize: its scale max|w| / {qmax} is not a normal float64 (rescale the weights)")
    q = np.clip(np.rint(w / scale), -qmax, qmax).astype(np.int64)
    return q, scale.reshape(-1)




def prepare_layer(layer: Layer, cfg: ArrayConfig, sparsity: float = 0.0, *, per_channel: bool = False,
                  absmax: float | None = None) -> QuantLayer:
    """Prune (in the source's own magnitudes), then quantize to the array's weight bits (per tensor: with the
    scale of `absmax`, the tensor's largest abs(w), when the layer is one group of a larger tensor)."""
    # Pruning zeroes the smallest magnitudes, so an out-of-range integer survives it to be reported.
    q, scale = quantize(prune(layer.weights, sparsity), cfg.hw.weight_bits, per_channel=per_channel,
                        where=f"layer {layer.name}", absmax=absmax)
    return QuantLayer(layer.name, q, scale, list(layer.notes))


def prepare_layers(layers: list[Layer], cfg: ArrayConfig, sparsity: float = 0.0, *,
                   per_channel: bool = False) -> list[QuantLayer]:
    """`prepare_layer` of each layer, the groups of one tensor (a grouped or depthwise convolution, Layer.tensor)
    quantized per tensor with one scale, the tensor's largest abs(w) over its groups (per channel: each output's
    own, as for any layer). Pruning stays per layer (docs/design.md section 1)."""
    absmax: dict[str, float] = {}
    for layer in layers:
        if layer.tensor is not None and np.issubdtype(layer.weights.dtype, np.floating):
            absmax[layer.tensor] = max(absmax.get(layer.tensor, 0.0), float(np.abs(layer.weights).max(initial=0.0)))
    return [prepare_layer(layer, cfg, sparsity, per_channel=per_channel,
                          absmax=None if per_channel or layer.tensor is None else absmax.get(layer.tensor))
            for layer in layers]
