"""The records of a layer as the weight sources read it: a named K x N matrix, and where a linear layer
sits in an ONNX graph. A leaf module: every weight source and tool that handles layers imports it."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import SwsError

__all__ = ["Layer", "GraphLinear", "check_matrix"]


@dataclass
class Layer:
    """One matrix of `y = x @ W`: K inputs (rows) x N outputs (columns), integer or float."""

    name: str
    weights: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.weights.shape)


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
    if a.dtype == np.bool_ or not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)):
        raise SwsError(f"{where}: weights must be integers or floats, not {a.dtype}")
    if np.issubdtype(a.dtype, np.floating) and not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))[0]
        raise SwsError(f"{where}: weights must be finite, but W[{bad[0]}, {bad[1]}] = {a[tuple(bad)]}")
    return a
