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

import numpy as np
import onnx
from onnx import helper, numpy_helper

from ..common import SwsError
from .layer import GraphLinear, Layer, check_matrix, check_size, conv_matrices

__all__ = ["read_onnx_layers", "onnx_layers", "onnx_linears", "OnnxLayer"]

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
class _Const:
    """A constant tensor and how it was made from a stored one."""

    value: np.ndarray                # its value
    integer: np.ndarray | None       # the integers it is a scaled copy of (Cast / Mul / DequantizeLinear), if any
    root: str                        # the initializer or Constant output it comes from
    scale: str | None = None         # the tensor that scales it (Mul or DequantizeLinear), if any
    layout: str = ""                 # "" as stored, "T" the stored 2-D matrix transposed, "other" reshaped

    def weights(self) -> np.ndarray:
        return self.integer if self.integer is not None else self.value


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _per_axis(p: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A scale or zero point (scalar or 1-D along `axis`) shaped to broadcast over an ndim tensor."""
    p = np.asarray(p)
    if p.ndim == 0 or p.size == 1:
        return p.reshape(())
    shape = [1] * ndim
    shape[axis % ndim] = -1
    return p.reshape(shape)


def _layout(src: str, changed: bool, transpose2d: bool = False) -> str:
    if not changed:
        return src
    if transpose2d and src in ("", "T"):
        return "T" if src == "" else ""
    return "other"


class _Graph:
    """Constant folding of weight chains, memoized per tensor name."""

    def __init__(self, model: onnx.ModelProto):
        g = model.graph
        self.inits = {i.name: i for i in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self._memo: dict[str, _Const | None] = {}

    def const(self, name: str, depth: int = 0) -> _Const | None:
        if not name:
            return None
        if name not in self._memo:
            self._memo[name] = None if depth > 64 else self._fold(name, depth)
        return self._memo[name]

    def _fold(self, name: str, depth: int) -> _Const | None:
        if name in self.inits:
            a = numpy_helper.to_array(self.inits[name])
            return _Const(a, a if a.dtype.kind in "iu" else None, name)
        node = self.producer.get(name)
        if node is None:
            return None
        op = node.op_type
        if op == "Constant":
            return self._constant(node, name)
        ins = [self.const(i, depth + 1) for i in node.input]
        x = ins[0] if ins else None
        if x is None:
            return None
        if op == "Identity":
            return x
        if op == "ConstantOfShape":
            t = _attr(node, "value")
            fill = numpy_helper.to_array(t).reshape(-1)[0] if t is not None else np.float32(0)
            v = np.full([int(d) for d in x.value.reshape(-1)], fill, dtype=np.asarray(fill).dtype)
            return _Const(v, v if v.dtype.kind in "iu" else None, name)
        if op == "Cast":
            dtype = helper.tensor_dtype_to_np_dtype(_attr(node, "to"))
            v = x.value.astype(dtype)
            integer = x.integer if x.integer is not None else (v if v.dtype.kind in "iu" else None)
            return _Const(v, integer, x.root, x.scale, x.layout)
        if op in ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"):
            shaped = self._reshape(node, op, ins)
            if shaped is None:
                return None
            f, transpose2d = shaped
            v = f(x.value)
            return _Const(v, None if x.integer is None else f(x.integer), x.root, x.scale,
                          _layout(x.layout, v.shape != x.value.shape or transpose2d, transpose2d))
        if op == "DequantizeLinear":
            if _attr(node, "block_size", 0) or x.value.dtype.kind not in "iu":
                return None
            axis = _attr(node, "axis", 1)
            scale = ins[1] if len(ins) > 1 else None
            if scale is None:
                return None
            zp = ins[2].value if len(ins) > 2 and ins[2] is not None else np.zeros((), np.int64)
            q = x.value.astype(np.int64) - _per_axis(zp, x.value.ndim, axis).astype(np.int64)
            v = (q * _per_axis(scale.value, x.value.ndim, axis)).astype(scale.value.dtype)
            return _Const(v, q, x.root, node.input[1], x.layout)
        if op == "QuantizeLinear":
            if _attr(node, "block_size", 0) or len(ins) < 2 or ins[1] is None:
                return None
            axis = _attr(node, "axis", 1)
            zp = ins[2].value if len(ins) > 2 and ins[2] is not None else np.zeros((), np.uint8)
            info = np.iinfo(zp.dtype)
            q = np.rint(x.value / _per_axis(ins[1].value, x.value.ndim, axis)) \
                + _per_axis(zp, x.value.ndim, axis).astype(np.int64)
            q = np.clip(q, info.min, info.max).astype(zp.dtype)   # rint: round half to even, as ONNX specifies
            return _Const(q, q, x.root, None, x.layout)
        if op == "Mul" and len(ins) == 2 and ins[1] is not None:
            w, s = (ins[0], ins[1]) if ins[0].value.size >= ins[1].value.size else (ins[1], ins[0])
            s_name = node.input[1] if s is ins[1] else node.input[0]
            v = w.value * s.value
            if v.shape != w.value.shape:
                return None
            return _Const(v, w.integer, w.root, s_name, w.layout)
        return None

    @staticmethod
    def _constant(node, name) -> _Const | None:
        a = None
        for attr in node.attribute:
            if attr.name == "value":
                a = numpy_helper.to_array(attr.t)
            elif attr.name in ("value_float", "value_floats"):
                a = np.asarray(helper.get_attribute_value(attr), dtype=np.float32)
            elif attr.name in ("value_int", "value_ints"):
                a = np.asarray(helper.get_attribute_value(attr), dtype=np.int64)
        if a is None:
            return None
        return _Const(a, a if a.dtype.kind in "iu" else None, name)

    @staticmethod
    def _reshape(node, op, ins):
        """(function applying the node to a tensor, whether it transposes a matrix), or None."""
        if op == "Transpose":
            perm = _attr(node, "perm")
            perm = list(perm) if perm is not None else None
            ndim = ins[0].value.ndim
            return (lambda a: np.transpose(a, perm)), ndim == 2 and (perm is None or perm == [1, 0])
        if op == "Flatten":
            axis = _attr(node, "axis", 1)
            return (lambda a: a.reshape(int(np.prod(a.shape[:axis + a.ndim if axis < 0 else axis])), -1)), False
        if op == "Reshape":
            if len(ins) < 2 or ins[1] is None:
                return None
            shape = [int(d) for d in ins[1].value.reshape(-1)]
            allowzero = _attr(node, "allowzero", 0)

            def reshape(a):
                target = [a.shape[i] if d == 0 and not allowzero else d for i, d in enumerate(shape)]
                return a.reshape(target)
            return reshape, False
        axes = _attr(node, "axes")
        if axes is None and len(ins) > 1 and ins[1] is not None:
            axes = ins[1].value.reshape(-1).tolist()
        axes = None if axes is None else [int(a) for a in axes]
        if op == "Squeeze":
            return (lambda a: np.squeeze(a, axis=None if axes is None else tuple(axes))), False
        if axes is None:
            return None

        def unsqueeze(a):
            rank = a.ndim + len(axes)
            for ax in sorted(x % rank for x in axes):
                a = np.expand_dims(a, ax)
            return a
        return unsqueeze, False


@dataclass
class OnnxLayer:
    """A mapped layer of an ONNX graph: its matrix and where it sits."""

    layer: Layer
    node: onnx.NodeProto
    const: _Const
    transposed: bool      # for MatMul / Gemm: the stored matrix is N x K
    key: tuple = ()       # (weight tensor, group, transposed): equal keys hold the same weights (tied)


def _node_name(node, index: int) -> str:
    return node.name or f"{node.op_type}_{index}"


def _zero_point(g: _Graph, node, index) -> np.ndarray | int:
    if index is None or len(node.input) <= index:
        return 0
    zp = g.const(node.input[index])
    return 0 if zp is None else zp.value.astype(np.int64)


def _linear(g: _Graph, node, name: str, notes: list) -> OnnxLayer | None:
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
        w = w.astype(np.int64) - np.asarray(_zero_point(g, node, zp_in))
    if w.ndim != 2:
        notes.append((node.op_type, name, f"a constant operand of shape {list(w.shape)}, not a K x N matrix"))
        return None
    transposed = c.layout == "T"
    flip = bool(_attr(node, "transA" if left else "transB", 0)) if node.op_type == "Gemm" else False
    if flip:
        w, transposed = w.T, not transposed
    if left:
        w, transposed = w.T, not transposed
    return OnnxLayer(Layer(name, np.ascontiguousarray(w)), node, c, transposed,
                     (node.input[a_in if left else w_in], 0, transposed))


def _conv(g: _Graph, node, name: str, notes: list) -> list[OnnxLayer]:
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
        w = w.astype(np.int64) - _per_axis(_zero_point(g, node, zp_in), w.ndim, 0)
    groups = int(_attr(node, "group", 1))
    if w.shape[0] % groups:
        notes.append((node.op_type, name, f"{w.shape[0]} weight channels do not split into {groups} groups"))
        return []
    names = [f"{name}.g{gi}" if groups > 1 else name for gi in range(groups)]
    matrices = conv_matrices(w, groups, transposed=node.op_type == "ConvTranspose")
    tensor = f"{name}:{node.input[w_in]}" if groups > 1 else None   # the groups share one quantization scale
    return [OnnxLayer(Layer(n, m, tensor=tensor), node, c, False, (node.input[w_in], gi, node.op_type))
            for gi, (n, m) in enumerate(zip(names, matrices))]


def _holds_weight(c: _Const | None) -> bool:
    # Shapes, axes and indices are int64 (or int32); scalars are hyperparameters (an epsilon, a power).
    if c is None or c.value.size < 2:
        return False
    return c.value.dtype.kind == "f" or (c.value.dtype.kind in "iu" and c.value.dtype.itemsize <= 2)


def onnx_layers(model: onnx.ModelProto) -> tuple[list[OnnxLayer], list[str]]:
    """Every crossbar layer of the graph in node order, and the notes on the weights that are not mapped."""
    g = _Graph(model)
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
        if op in _LINEAR:
            found = _linear(g, node, name, skipped)
            if found is not None:
                layers.append(found)
            continue
        if op in _CONV:
            layers.extend(_conv(g, node, name, skipped))
            continue
        if op == "Constant" or any(g.const(o) is not None for o in node.output):
            continue   # a step of a weight chain, folded into the weight it makes
        if any(_holds_weight(g.const(i)) for i in node.input):
            skipped.append((op, name, _REASONS.get(op, f"a {op} with a constant, not a matrix-vector product")))
    return layers, _summarize(skipped)


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
    g = _Graph(model)
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


def read_onnx_layers(path: str) -> list[Layer]:
    """The crossbar layers of an ONNX file (see the module docstring), each with the model's notes."""
    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises protobuf DecodeError and others for a damaged file
        raise SwsError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    found, notes = onnx_layers(model)
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
