"""Constant folding of an ONNX graph's weight chains (docs/design.md section 1), each step checked first.

A weight reaches its MatMul or convolution through Identity, Cast, Transpose, Reshape, Flatten, Squeeze,
Unsqueeze, QuantizeLinear, DequantizeLinear, Mul-by-a-constant and ConstantOfShape nodes. A graph is
the user's input: every attribute and operand is checked against the operator's rule (ONNX operator
specification) before numpy sees it, and every constant is bounded before it is allocated, so a
malformed or hostile graph is one line (an SwsError naming the node and the rule, `GraphError` for the
caller to prefix with the file), never a traceback and never a gigabyte.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..common import SwsError
from .layer import BYTES_PER_WEIGHT, memory_limit

if TYPE_CHECKING:
    import onnx

# onnx is imported where it is used, not here: importing it takes about a second (most of it its ml_dtypes),
# which every `sws` command would pay whether or not it reads a model.

__all__ = ["Const", "FoldedGraph", "attr", "per_axis", "initializer_array", "check_values"]


@dataclass
class Const:
    """A constant tensor and how it was made from a stored one."""

    value: np.ndarray                # its value
    integer: np.ndarray | None       # the integers it is a scaled copy of (Cast / Mul / DequantizeLinear), if any
    root: str                        # the initializer or Constant output it comes from
    scale: str | None = None         # the tensor that scales it (Mul or DequantizeLinear), if any
    layout: str = ""                 # "" as stored, "T" the stored 2-D matrix transposed, "other" reshaped

    def weights(self) -> np.ndarray:
        return self.integer if self.integer is not None else self.value


def attr(node, name, default=None):
    from onnx import helper
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _node(node) -> str:
    shown = node.name or (node.output[0] if node.output else "")
    return f"node {shown} ({node.op_type})"


def check_values(where: str, count: int) -> None:
    """A constant of `count` values is refused, before it is made, if no layer of that size could be mapped
    on this machine (mapper.sources.layer.check_size's rule, at BYTES_PER_WEIGHT bytes a value)."""
    limit = memory_limit()
    if count * BYTES_PER_WEIGHT > limit:
        raise SwsError(f"{where}: a constant of {count} values is larger than any layer this machine can map "
                       f"({limit // BYTES_PER_WEIGHT} values at {BYTES_PER_WEIGHT} bytes each; set SWS_MEMORY_LIMIT "
                       f"in bytes to change the limit)")


_TYPED_FIELDS = ("float_data", "int32_data", "int64_data", "double_data", "uint64_data", "string_data")


def initializer_array(t: onnx.TensorProto, what: str = "initializer") -> np.ndarray:
    """The array of a TensorProto, its dims and data checked against each other first."""
    import onnx
    from onnx import helper, numpy_helper
    name = f"{what} {t.name}"
    dims = list(t.dims)
    if any(d < 0 for d in dims):
        raise SwsError(f"{name}: dims {dims} have a negative dimension")
    if t.data_location == onnx.TensorProto.EXTERNAL:
        raise SwsError(f"{name}: its data is stored outside the model file (external data), which sws does not "
                       f"read: save the model with its weights inside (onnx.save(model, path, "
                       f"save_as_external_data=False))")
    count = int(np.prod(dims, dtype=object))
    check_values(name, count)
    try:
        dtype = helper.tensor_dtype_to_np_dtype(t.data_type)
    except (KeyError, ValueError, TypeError):
        raise SwsError(f"{name}: data type {t.data_type} is not an ONNX tensor type") from None
    if t.HasField("raw_data"):
        have, data = len(t.raw_data) / max(1, dtype.itemsize), f"{len(t.raw_data)} bytes of {dtype.itemsize}-byte values"
    else:
        have = max((len(getattr(t, f)) for f in _TYPED_FIELDS), default=0)
        data = f"{have} values"
    packed = t.data_type in (onnx.TensorProto.INT4, onnx.TensorProto.UINT4)
    if (not packed and have != count) or (packed and have * 2 < count):
        raise SwsError(f"{name}: dims {dims} hold {count} values, which do not match its data ({data})")
    try:
        return numpy_helper.to_array(t)
    except (ValueError, TypeError, KeyError) as e:
        raise SwsError(f"{name}: cannot be read as an array ({type(e).__name__})") from None


def per_axis(p: np.ndarray, ndim: int, axis: int) -> np.ndarray:
    """A scale or zero point (scalar or 1-D along `axis`) shaped to broadcast over an ndim tensor."""
    p = np.asarray(p)
    if p.ndim == 0 or p.size == 1:
        return p.reshape(())
    shape = [1] * ndim
    shape[axis % ndim] = -1
    return p.reshape(shape)


def _axis(node, axis, ndim: int, what: str = "axis") -> int:
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)) or not -ndim <= axis < max(ndim, 1):
        raise SwsError(f"{_node(node)}: {what} {axis} is outside -{ndim}..{ndim - 1} of a {ndim}-D tensor")
    return int(axis) % max(ndim, 1)


def _check_quant_param(node, p: np.ndarray, x: np.ndarray, axis: int, what: str) -> None:
    """A scale or zero point: one value, or one per entry of the tensor's `axis` (ONNX Quantize/Dequantize)."""
    if p.size == 1:
        return
    if p.ndim != 1 or x.ndim == 0 or p.size != x.shape[_axis(node, axis, x.ndim)]:
        raise SwsError(f"{_node(node)}: its {what} holds {p.size} values, but it needs 1 or one per entry of "
                       f"axis {axis} of the {list(x.shape)} tensor")


def _layout(src: str, changed: bool, transpose2d: bool = False) -> str:
    if not changed:
        return src
    if transpose2d and src in ("", "T"):
        return "T" if src == "" else ""
    return "other"


class FoldedGraph:
    """Constant folding of weight chains, memoized per tensor name; an SwsError names the node and rule."""

    def __init__(self, model: onnx.ModelProto):
        g = model.graph
        self.inits = {i.name: i for i in g.initializer}
        self.producer = {o: n for n in g.node for o in n.output}
        self.consumers: dict[str, list] = {}
        for n in g.node:
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)
        self._memo: dict[str, Const | None] = {}

    def const(self, name: str, depth: int = 0) -> Const | None:
        if not name:
            return None
        if name not in self._memo:
            self._memo[name] = None if depth > 64 else self._fold(name, depth)
        return self._memo[name]

    def _fold(self, name: str, depth: int) -> Const | None:
        if name in self.inits:
            a = initializer_array(self.inits[name])
            return Const(a, a if a.dtype.kind in "iu" else None, name)
        node = self.producer.get(name)
        if node is None:
            return None
        if node.op_type == "Constant":
            return self._constant(node, name)
        ins = [self.const(i, depth + 1) for i in node.input]
        x = ins[0] if ins else None
        if x is None:
            return None
        try:
            return self._step(node, name, x, ins)
        except SwsError:
            raise
        except (ValueError, TypeError, IndexError, KeyError, ZeroDivisionError, OverflowError) as e:
            # A rule not checked above: still one line naming the node (numpy's reason names shapes only).
            raise SwsError(f"{_node(node)}: cannot fold its constant operands ({type(e).__name__}: "
                           f"{' '.join(str(e).split())[:160]})") from None

    def _step(self, node, name: str, x: Const, ins: list) -> Const | None:
        op = node.op_type
        if op == "Identity":
            return x
        if op == "ConstantOfShape":
            return self._constant_of_shape(node, name, x)
        if op == "Cast":
            to = attr(node, "to")
            from onnx import helper
            try:
                dtype = helper.tensor_dtype_to_np_dtype(to)
            except (KeyError, ValueError, TypeError):
                raise SwsError(f"{_node(node)}: Cast to {to!r}, which is not an ONNX tensor type") from None
            if dtype.kind not in "biuf":
                return None    # a cast to strings (or complex) makes no weight
            v = x.value.astype(dtype)
            integer = x.integer if x.integer is not None else (v if v.dtype.kind in "iu" else None)
            return Const(v, integer, x.root, x.scale, x.layout)
        if op in ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze"):
            shaped = self._reshape(node, op, x.value, ins)
            if shaped is None:
                return None
            f, transpose2d = shaped
            v = f(x.value)
            return Const(v, None if x.integer is None else f(x.integer), x.root, x.scale,
                         _layout(x.layout, v.shape != x.value.shape or transpose2d, transpose2d))
        if op == "DequantizeLinear":
            if attr(node, "block_size", 0) or x.value.dtype.kind not in "iu":
                return None
            axis = attr(node, "axis", 1)
            scale = ins[1] if len(ins) > 1 else None
            if scale is None:
                return None
            zp = ins[2].value if len(ins) > 2 and ins[2] is not None else np.zeros((), np.int64)
            _check_quant_param(node, scale.value, x.value, axis, "scale")
            _check_quant_param(node, zp, x.value, axis, "zero point")
            q = x.value.astype(np.int64) - per_axis(zp, x.value.ndim, axis).astype(np.int64)
            v = (q * per_axis(scale.value, x.value.ndim, axis)).astype(scale.value.dtype)
            return Const(v, q, x.root, node.input[1], x.layout)
        if op == "QuantizeLinear":
            if attr(node, "block_size", 0) or len(ins) < 2 or ins[1] is None:
                return None
            axis = attr(node, "axis", 1)
            zp = ins[2].value if len(ins) > 2 and ins[2] is not None else np.zeros((), np.uint8)
            _check_quant_param(node, ins[1].value, x.value, axis, "scale")
            _check_quant_param(node, zp, x.value, axis, "zero point")
            if zp.dtype.kind not in "iu":
                raise SwsError(f"{_node(node)}: its zero point is {zp.dtype}, not an integer type")
            info = np.iinfo(zp.dtype)
            q = np.rint(x.value / per_axis(ins[1].value, x.value.ndim, axis)) \
                + per_axis(zp, x.value.ndim, axis).astype(np.int64)
            q = np.clip(q, info.min, info.max).astype(zp.dtype)   # rint: round half to even, as ONNX specifies
            return Const(q, q, x.root, None, x.layout)
        if op == "Mul" and len(ins) == 2 and ins[1] is not None:
            w, s = (ins[0], ins[1]) if ins[0].value.size >= ins[1].value.size else (ins[1], ins[0])
            s_name = node.input[1] if s is ins[1] else node.input[0]
            try:
                shape = np.broadcast_shapes(w.value.shape, s.value.shape)
            except ValueError:
                raise SwsError(f"{_node(node)}: Mul of constants of shapes {list(w.value.shape)} and "
                               f"{list(s.value.shape)}, which do not broadcast together") from None
            if shape != w.value.shape:
                return None    # not a weight scaled by a constant
            return Const(w.value * s.value, w.integer, w.root, s_name, w.layout)
        return None

    @staticmethod
    def _constant_of_shape(node, name: str, x: Const) -> Const:
        dims = x.value.reshape(-1)
        if dims.dtype.kind not in "iu" or np.any(dims < 0):
            raise SwsError(f"{_node(node)}: ConstantOfShape needs a shape of non-negative integers, not "
                           f"{dims.tolist()[:8]}")
        check_values(_node(node), int(np.prod(dims.astype(object))))
        t = attr(node, "value")
        fill = initializer_array(t, "value of").reshape(-1) if t is not None else np.zeros(1, np.float32)
        if fill.size != 1:
            raise SwsError(f"{_node(node)}: its value must be one element, not {fill.size}")
        v = np.full([int(d) for d in dims], fill[0], dtype=fill.dtype)
        return Const(v, v if v.dtype.kind in "iu" else None, name)

    @staticmethod
    def _constant(node, name) -> Const | None:
        from onnx import helper
        a = None
        for at in node.attribute:
            if at.name == "value":
                a = initializer_array(at.t, "value of")
            elif at.name in ("value_float", "value_floats"):
                a = np.asarray(helper.get_attribute_value(at), dtype=np.float32)
            elif at.name in ("value_int", "value_ints"):
                a = np.asarray(helper.get_attribute_value(at), dtype=np.int64)
        if a is None:
            return None
        return Const(a, a if a.dtype.kind in "iu" else None, name)

    @staticmethod
    def _reshape(node, op, value: np.ndarray, ins):
        """(function applying the node to a tensor, whether it transposes a matrix), or None; each
        attribute checked against the tensor first."""
        ndim = value.ndim
        if op == "Transpose":
            perm = attr(node, "perm")
            perm = list(perm) if perm is not None else None
            if perm is not None and sorted(perm) != list(range(ndim)):
                raise SwsError(f"{_node(node)}: perm {perm[:8]} is not a permutation of the {ndim} axes")
            return (lambda a: np.transpose(a, perm)), ndim == 2 and (perm is None or perm == [1, 0])
        if op == "Flatten":
            axis = attr(node, "axis", 1)
            if not -ndim <= axis <= ndim:
                raise SwsError(f"{_node(node)}: axis {axis} is outside -{ndim}..{ndim} of a {ndim}-D tensor")
            cut = axis + ndim if axis < 0 else axis
            return (lambda a: a.reshape(int(np.prod(a.shape[:cut])), int(np.prod(a.shape[cut:])))), False
        if op == "Reshape":
            if len(ins) < 2 or ins[1] is None:
                return None
            shape = [int(d) for d in ins[1].value.reshape(-1)]
            allowzero = attr(node, "allowzero", 0)
            target = [value.shape[i] if d == 0 and not allowzero and i < ndim else d for i, d in enumerate(shape)]
            known = int(np.prod([d for d in target if d != -1], dtype=object))
            free = target.count(-1)
            if any(d < -1 for d in target) or free > 1 or \
                    (free == 0 and known != value.size) or (free == 1 and (known == 0 or value.size % known)):
                raise SwsError(f"{_node(node)}: Reshape of a {list(value.shape)} tensor ({value.size} values) to "
                               f"{shape[:8]}: the sizes differ")
            return (lambda a: a.reshape(target)), False
        axes = attr(node, "axes")
        if axes is None and len(ins) > 1 and ins[1] is not None:
            axes = ins[1].value.reshape(-1).tolist()
        axes = None if axes is None else [int(a) for a in axes]
        if op == "Squeeze":
            if axes is not None:
                axes = [_axis(node, a, ndim, "Squeeze axis") for a in axes]
                if len(set(axes)) != len(axes) or any(value.shape[a] != 1 for a in axes):
                    raise SwsError(f"{_node(node)}: Squeeze of axes {axes[:8]} of a {list(value.shape)} tensor: "
                                   f"only axes of size 1 can be squeezed, each once")
            return (lambda a: np.squeeze(a, axis=None if axes is None else tuple(axes))), False
        if axes is None:
            return None
        rank = ndim + len(axes)
        wanted = [_axis(node, a, rank, "Unsqueeze axis") for a in axes]
        if len(set(wanted)) != len(wanted):
            raise SwsError(f"{_node(node)}: Unsqueeze axes {axes[:8]} repeat an axis")

        def unsqueeze(a):
            for ax in sorted(wanted):
                a = np.expand_dims(a, ax)
            return a
        return unsqueeze, False
