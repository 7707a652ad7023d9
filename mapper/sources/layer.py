"""The records of a layer as the weight sources read it: a named K x N matrix, and where a linear layer
sits in an ONNX graph. A leaf module: every weight source and tool that handles layers imports it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from ..common import SwsError

__all__ = ["Layer", "GraphLinear", "QuantLayer", "check_matrix", "check_size", "memory_limit", "BYTES_PER_WEIGHT", "conv_matrices"]

#: Peak memory of mapping one layer, per weight: about 237 bytes measured for synthetic:laplace:2048x1024
#: at the default configuration (peak RSS of `sws map`, /usr/bin/time -f %M, 557 MB less 133 MB at
#: 512x512, over the 1.8 M weights between them); rounded up.
BYTES_PER_WEIGHT = 256


@dataclass
class Layer:
    """One matrix of `y = x @ W`: K inputs (rows) x N outputs (columns), integer or float.

    `tensor` names the weight tensor a grouped convolution's groups come from (one layer per group, each
    with the same `tensor`): they are quantized with one scale for the tensor (mapper.prepare.prepare_layers).
    None: the layer is its own tensor."""

    name: str
    weights: np.ndarray
    notes: list[str] = field(default_factory=list)
    tensor: str | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weights.shape)

@dataclass
class QuantLayer:
    """A layer ready to map: signed integer weights (K x N), and where they came from."""

    name: str
    weights: np.ndarray
    scale: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weights.shape)

    @property
    def sparsity(self) -> float:
        return float(np.mean(self.weights == 0))


@dataclass(frozen=True)
class GraphLinear:
    """Where one weight matrix of a model sits in its ONNX graph, for tools that read, rewrite or run it.

    name       -- a readable name (the built-in models' own, else the weight's)
    node       -- the MatMul or Gemm node
    weight     -- the root initializer (the integer one, in a quantized export)
    transposed -- the initializer is N x K
    scale      -- the initializer that rescales it per output channel, if any
    bias       -- the initializer added to the node's output, if any
    input      -- the activation operand of the node
    output     -- the node's output
    """

    name: str
    node: str
    weight: str
    transposed: bool = False
    scale: str | None = None
    bias: str | None = None
    input: str = ""
    output: str = ""


def check_matrix(where: str, a: np.ndarray) -> np.ndarray:
    """`a` if it is a finite, non-empty 2-D integer or float matrix, else an SwsError naming `where`."""
    if a.ndim != 2:
        raise SwsError(f"{where}: a layer must be a 2-D K x N matrix, but this array has shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise SwsError(f"{where}: a layer must have at least one row and one column, not shape {a.shape}")
    if a.dtype.kind not in "iuf":   # by kind: numpy counts timedelta64 as an integer type
        raise SwsError(f"{where}: weights must be integers or floats, not {a.dtype}")
    if a.dtype.kind == "f" and not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise SwsError(f"{where}: weights must be finite, but W[{bad[0]}, {bad[1]}] = {a[tuple(bad)]}")
    return a


def conv_matrices(kernel: np.ndarray, groups: int = 1, *, transposed: bool = False) -> list[np.ndarray]:
    """A convolution's kernel as im2col matrices, one K x N matrix per group.

    Conv kernels are (Cout, Cin/groups, k...): group g's matrix has K = Cin/groups * prod(k) rows ordered
    (input channel, kernel position) and N = Cout/groups columns, `W_g[(c, i, j), o] = w[g*N + o, c, i, j]`.
    ConvTranspose kernels are (Cin, Cout/groups, k...): a transposed convolution is the direct convolution
    of the stride-dilated, padded input with the kernel flipped in space and its channels swapped, so
    `W_g[(c, i, j), o] = w[g*Cin/groups + c, o, kh-1-i, kw-1-j]`. The caller checks that groups divide
    the kernel's first axis.
    """
    per = kernel.shape[0] // groups
    out = []
    for g in range(groups):
        part = kernel[g * per:(g + 1) * per]
        if transposed:
            part = np.moveaxis(np.flip(part, axis=tuple(range(2, part.ndim))), 1, 0)
        out.append(np.ascontiguousarray(part.reshape(part.shape[0], -1).T))
    return out


def memory_limit() -> int:
    """Bytes a run may use: the SWS_MEMORY_LIMIT environment variable if set, else the memory the kernel
    reports available (MemAvailable in /proc/meminfo), else the physical memory."""
    env = os.environ.get("SWS_MEMORY_LIMIT")
    if env:
        try:
            value = int(env)
        except ValueError:
            value = -1
        if value < 1:
            raise SwsError(f"SWS_MEMORY_LIMIT must be a whole number of bytes >= 1, not {env!r}")
        return value
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return 2 ** 63 - 1


def _gb(n: int) -> str:
    return f"{n / 1e9:.3g} GB"


def check_size(where: str, k: int, n: int, bytes_per_weight: int = BYTES_PER_WEIGHT, what: str = "to map",
               noun: str = "layer") -> None:
    """An SwsError, before anything is allocated, if a K x N layer needs more memory than memory_limit()."""
    need = int(k) * int(n) * bytes_per_weight
    limit = memory_limit()
    if need > limit:
        raise SwsError(f"{where}: a {k} x {n} {noun} needs about {_gb(need)} {what} ({bytes_per_weight} bytes per "
                       f"value), more than the {_gb(limit)} this machine has available (set SWS_MEMORY_LIMIT "
                       f"in bytes to change the limit)")
