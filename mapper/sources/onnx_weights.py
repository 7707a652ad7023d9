"""Read the crossbar layers of an ONNX model as exporters write it (docs/design.md section 1).

Weights are constants: initializers or `Constant` nodes, possibly behind Identity, Cast, Transpose,
Reshape, Flatten, Squeeze, Unsqueeze, QuantizeLinear, DequantizeLinear and Mul-by-a-constant chains (QDQ
exports, scaled weights). Integer weights behind such a chain are taken as integers, less their zero
point (the scale only rescales the outputs). Each node with a constant weight gives its layers, named
after the node:
- MatMul, Gemm (transA, transB), MatMulInteger, QLinearMatMul: one K x N layer (`y = x @ W`);
- Conv, ConvInteger, QLinearConv: by im2col, one layer per group g, K = Cin/groups * prod(kernel) rows
  ordered (input channel, kernel position), N = Cout/groups columns: `W_g[(c, i, j), o] = w[g*N + o, c, i, j]`;
- ConvTranspose: as the direct convolution it equals (on the stride-dilated input), whose weight is
  the transposed kernel flipped in space: `W_g[(c, i, j), o] = w[g*Cin/groups + c, o, kh-1-i, kw-1-j]`.
Every other node that holds a weight (an embedding lookup, a normalization, a bias, a recurrent cell)
is listed in the layers' notes with the reason it is not a crossbar.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..common import SwsError, read_bytes
from .layer import GraphLinear, Layer, check_matrix, check_size, conv_matrices, memory_limit
from .onnx_fold import Const, FoldedGraph, attr, per_axis

if TYPE_CHECKING:
    # imported where used (read_onnx_model): it takes about a second to import (onnx_fold.py)
    import onnx

__all__ = ["read_onnx_layers", "read_onnx_model", "onnx_layers", "onnx_linears", "OnnxLayer"]

#: Operators whose weight is a K x N matrix: op -> (activation input, weight input, weight zero-point input).
_LINEAR = {"MatMul": (0, 1, None), "Gemm": (0, 1, None), "MatMulInteger": (0, 1, 3), "QLinearMatMul": (0, 3, 5)}
#: Convolutions: op -> (weight input, weight zero-point input).
_CONV = {"Conv": (1, None), "ConvInteger": (1, 3), "QLinearConv": (3, 5), "ConvTranspose": (1, None)}

#: Why a node that holds a weight is not mapped onto crossbars, by operator.
_REASONS = {
    **dict.fromkeys(("Gather", "GatherElements", "GatherND"),
                    "a lookup table (an embedding), not a matrix-vector product"),
    **dict.fromkeys(("BatchNormalization", "LayerNormalization", "InstanceNormalization", "GroupNormalization",
                     "SimplifiedLayerNormalization", "SkipLayerNormalization", "RMSNormalization"),
                    "a normalization's per-channel scale and shift, computed digitally"),
    **dict.fromkeys(("Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Where", "Sum"),
                    "an elementwise operation with a constant (a bias or a scale), computed digitally"),
    "PRelu": "an activation's per-channel slope, computed digitally",
    **dict.fromkeys(("LSTM", "GRU", "RNN"), "a recurrent cell: its gate matrices are not read (not supported)"),
    "Einsum": "an Einsum: not read (export the product as MatMul to map it)",
}


@dataclass
class OnnxLayer:
    """A mapped layer of an ONNX graph: its matrix and where it sits."""

    layer: Layer
    node: onnx.NodeProto
    const: Const
    transposed: bool      # for MatMul / Gemm: the stored matrix is N x K
    key: tuple = ()       # (weight tensor, group, transposed): equal keys hold the same weights (tied)


def _node_name(node, index: int) -> str:
    return node.name or f"{node.op_type}_{index}"


def _zero_point(g: FoldedGraph, node, index) -> np.ndarray | int:
    if index is None or len(node.input) <= index:
        return 0
    zp = g.const(node.input[index])
    return 0 if zp is None else zp.value.astype(np.int64)


def _linear(g: FoldedGraph, node, name: str, notes: list) -> OnnxLayer | None:
    a_in, w_in, zp_in = _LINEAR[node.op_type]
    if len(node.input) <= w_in:
        return None
    c = g.const(node.input[w_in])
    left = False
    if c is None and node.op_type in ("MatMul", "Gemm"):
        # A constant left operand: Y = A' @ X, i.e. Y.T = X.T @ A'.T, a crossbar holding A'.T.
        c, left = g.const(node.input[a_in]), True
    if c is None:
        return None   # a product of two activations (attention): no weights
    w = c.weights()
    if zp_in is not None:
        zp = np.asarray(_zero_point(g, node, zp_in))
        if zp.size != 1 and (w.ndim != 2 or zp.ndim != 1 or zp.size != w.shape[1]):
            raise SwsError(f"node {name} ({node.op_type}): its weight zero point holds {zp.size} values, but it "
                           f"needs 1 or one per column of the {list(w.shape)} weight")
        w = w.astype(np.int64) - zp.reshape(-1)
    if w.ndim != 2:
        notes.append((node.op_type, name, f"a constant operand of shape {list(w.shape)}, not a K x N matrix"))
        return None
    transposed = c.layout == "T"
    flip = bool(attr(node, "transA" if left else "transB", 0)) if node.op_type == "Gemm" else False
    if flip:
        w, transposed = w.T, not transposed
    if left:
        w, transposed = w.T, not transposed
    return OnnxLayer(Layer(name, np.ascontiguousarray(w)), node, c, transposed,
                     (node.input[a_in if left else w_in], 0, transposed))


def _conv(g: FoldedGraph, node, name: str, notes: list) -> list[OnnxLayer]:
    w_in, zp_in = _CONV[node.op_type]
    c = g.const(node.input[w_in]) if len(node.input) > w_in else None
    if c is None:
        notes.append((node.op_type, name, "its weight is computed at run time, not a constant"))
        return []
    w = c.weights()
    if w.ndim < 3:
        notes.append((node.op_type, name, f"a weight of shape {list(w.shape)}, not (out, in, kernel...)"))
        return []
    if zp_in is not None:
        zp = np.asarray(_zero_point(g, node, zp_in))
        if zp.size != 1 and (zp.ndim != 1 or zp.size != w.shape[0]):
            raise SwsError(f"node {name} ({node.op_type}): its weight zero point holds {zp.size} values, but it "
                           f"needs 1 or one per output channel ({w.shape[0]})")
        w = w.astype(np.int64) - per_axis(zp, w.ndim, 0)
    groups = attr(node, "group", 1)
    if isinstance(groups, bool) or not isinstance(groups, int) or groups < 1:
        raise SwsError(f"node {name} ({node.op_type}): group must be an integer >= 1, not {groups!r}")
    if w.shape[0] % groups:
        notes.append((node.op_type, name, f"{w.shape[0]} weight channels do not split into {groups} groups"))
        return []
    names = [f"{name}.g{gi}" if groups > 1 else name for gi in range(groups)]
    matrices = conv_matrices(w, groups, transposed=node.op_type == "ConvTranspose")
    tensor = f"{name}:{node.input[w_in]}" if groups > 1 else None   # the groups share one quantization scale
    return [OnnxLayer(Layer(n, m, tensor=tensor), node, c, False, (node.input[w_in], gi, node.op_type))
            for gi, (n, m) in enumerate(zip(names, matrices))]


def _holds_weight(c: Const | None) -> bool:
    # Shapes, axes and indices are int64 (or int32); scalars are hyperparameters (an epsilon, a power).
    if c is None or c.value.size < 2:
        return False
    return c.value.dtype.kind == "f" or (c.value.dtype.kind in "iu" and c.value.dtype.itemsize <= 2)


def onnx_layers(model: onnx.ModelProto) -> tuple[list[OnnxLayer], list[str]]:
    """Every crossbar layer of the graph in node order, and the notes on the weights that are not mapped."""
    g = FoldedGraph(model)
    layers: list[OnnxLayer] = []
    skipped: list[tuple[str, str, str]] = []
    names: dict[str, int] = {}
    for index, node in enumerate(model.graph.node):
        op = node.op_type
        name = _node_name(node, index)
        if name in names:
            names[name] += 1
            name = f"{name}#{names[name]}"
        else:
            names[name] = 1
        try:
            _read_node(g, node, name, layers, skipped)
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError) as e:
            if isinstance(e, SwsError):
                raise
            # A rule no check names: still one line naming the node (numpy's reason names shapes only).
            raise SwsError(f"node {name} ({op}): cannot read its weight ({type(e).__name__}: "
                           f"{' '.join(str(e).split())[:160]})") from None
    return layers, _summarize(skipped)


def _read_node(g: FoldedGraph, node, name: str, layers: list, skipped: list) -> None:
    op = node.op_type
    if op in _LINEAR:
        found = _linear(g, node, name, skipped)
        if found is not None:
            layers.append(found)
    elif op in _CONV:
        layers.extend(_conv(g, node, name, skipped))
    elif op == "Constant" or any(g.const(o) is not None for o in node.output):
        pass   # a step of a weight chain, folded into the weight it makes
    elif any(_holds_weight(g.const(i)) for i in node.input):
        skipped.append((op, name, _REASONS.get(op, f"a {op} with a constant, not a matrix-vector product")))


def _summarize(skipped: list[tuple[str, str, str]]) -> list[str]:
    by: dict[tuple[str, str], list[str]] = {}
    for op, name, reason in skipped:
        by.setdefault((op, reason), []).append(name)
    notes = []
    for (op, reason), names in by.items():
        shown = ", ".join(names[:3]) + (", ..." if len(names) > 3 else "")
        notes.append(f"onnx: {len(names)} {op} node{'s' if len(names) > 1 else ''} ({shown}) not mapped: {reason}")
    return notes


def onnx_linears(model: onnx.ModelProto) -> list[GraphLinear]:
    """Every MatMul/Gemm whose weight is a stored matrix (as stored or transposed), with its scale and bias."""
    g = FoldedGraph(model)
    layers, _ = onnx_layers(model)
    out = []
    for ol in layers:
        node, c = ol.node, ol.const
        if node.op_type not in ("MatMul", "Gemm") or c.layout == "other" or c.root not in g.inits \
                or g.const(node.input[1]) is None:
            continue
        bias = None
        if node.op_type == "Gemm" and len(node.input) > 2 and g.const(node.input[2]) is not None:
            bias = node.input[2]
        for consumer in g.consumers.get(node.output[0], []):
            if consumer.op_type == "Add":
                bias = bias or next((i for i in consumer.input if g.const(i) is not None), None)
        out.append(GraphLinear(c.root, node.name, c.root, ol.transposed, c.scale, bias, node.input[0],
                               node.output[0]))
    return out


def read_onnx_model(path: str) -> onnx.ModelProto:
    """The ONNX model of a file read through mapper.common.reading: a regular file, at most a quarter of the
    memory available (protobuf parsing and the arrays need about four times the file), its external data
    never followed."""
    import onnx
    data = read_bytes(path, what="ONNX model", limit=memory_limit() // 4)
    try:
        return onnx.load_model_from_string(data)
    except Exception as e:  # protobuf's DecodeError and others for a damaged file
        raise SwsError(f"{path}: not a readable ONNX model ({type(e).__name__})") from None


def read_onnx_layers(path: str) -> list[Layer]:
    """The crossbar layers of an ONNX file (see the module docstring), each with the model's notes."""
    model = read_onnx_model(path)
    try:
        found, notes = onnx_layers(model)
    except SwsError as e:
        raise SwsError(f"{path}: {e}") from None
    kept: list[Layer] = []
    first: dict[tuple, str] = {}
    for ol in found:
        if ol.key in first:   # one weight tensor used by two nodes (tied weights): one set of crossbars serves both
            notes.append(f"onnx: {ol.layer.name} uses the same weights as {first[ol.key]}: mapped once")
            continue
        first[ol.key] = ol.layer.name
        where = f"{path}[{ol.layer.name}]"
        check_size(where, *np.shape(ol.layer.weights)[:2])   # mapping needs far more than the tensor itself
        kept.append(Layer(ol.layer.name, check_matrix(where, ol.layer.weights), tensor=ol.layer.tensor))
    layers = [Layer(l.name, l.weights, list(notes), l.tensor) for l in kept]
    if not layers:
        raise SwsError(f"{path}: the model has no MatMul, Gemm or convolution with a constant weight"
                       + (f" ({'; '.join(notes)})" if notes else ""))
    return layers
