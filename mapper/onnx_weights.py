"""Read the weight matrices of an ONNX model: the 2-D initializers that are the weight operand of MatMul or Gemm.

Quantized exports keep the integer weights behind a Cast / Mul(scale) / DequantizeLinear chain; the
chain is followed back to the integer initializer, which is taken as it is (its scale only rescales outputs).
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from .errors import SwsError
from .layer import GraphLinear, Layer, check_matrix

__all__ = ["read_onnx_layers", "onnx_weight_operands", "onnx_linears"]


def onnx_weight_operands(model: onnx.ModelProto) -> list[tuple[onnx.NodeProto, str, bool]]:
    """(node, root initializer name, transposed) for each MatMul/Gemm whose weight operand is a constant."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}

    def root(name, depth=0):
        # Follow a constant's path back through the ops that only cast, scale or dequantize it.
        if name in inits:
            return name, False
        node = producer.get(name)
        if node is None or depth > 8:
            return None, False
        if node.op_type in ("Cast", "DequantizeLinear", "Identity"):
            return root(node.input[0], depth + 1)
        if node.op_type == "Mul":
            for a, b in ((0, 1), (1, 0)):
                r, t = root(node.input[a], depth + 1)
                if r is not None and len(inits[r].dims) == 2 and node.input[b] in inits:
                    return r, t
            return None, False
        if node.op_type == "Transpose":
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), [1, 0])
            r, t = root(node.input[0], depth + 1)
            return (r, not t) if perm == [1, 0] and r is not None else (None, False)
        return None, False

    found = []
    for node in graph.node:
        if node.op_type not in ("MatMul", "Gemm") or len(node.input) < 2:
            continue
        r, transposed = root(node.input[1])
        if r is None or len(inits[r].dims) != 2:
            continue
        if node.op_type == "Gemm" and any(a.name == "transB" and a.i for a in node.attribute):
            transposed = not transposed
        found.append((node, r, transposed))
    return found


def _weight_scale(name: str, root: str, inits: dict, producer: dict) -> str | None:
    """The initializer that rescales the weight on its path from `root` to the MatMul (Mul or DequantizeLinear)."""
    for _ in range(8):
        node = producer.get(name)
        if node is None:
            return None
        if node.op_type == "DequantizeLinear":
            return node.input[1] if len(node.input) > 1 else None
        if node.op_type == "Mul":
            consts = [i for i in node.input if i in inits and i != root]
            others = [i for i in node.input if i not in consts]
            if consts and others:
                return consts[0]
            return None
        name = node.input[0]
    return None


def onnx_linears(model: onnx.ModelProto) -> list[GraphLinear]:
    """Every MatMul/Gemm with a constant weight operand, with its scale and bias initializers."""
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {out: node for node in graph.node for out in node.output}
    consumers: dict[str, list] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    out = []
    for node, name, transposed in onnx_weight_operands(model):
        bias = None
        if node.op_type == "Gemm" and len(node.input) > 2 and node.input[2] in inits:
            bias = node.input[2]
        for c in consumers.get(node.output[0], []):
            if c.op_type == "Add":
                bias = bias or next((i for i in c.input if i in inits), None)
        out.append(GraphLinear(name, node.name, name, transposed, _weight_scale(node.input[1], name, inits, producer),
                               bias, node.input[0], node.output[0]))
    return out


def read_onnx_layers(path: str) -> list[Layer]:
    try:
        model = onnx.load(path)
    except Exception as e:  # onnx raises protobuf DecodeError and others for a damaged file
        raise SwsError(f"{path}: not a readable ONNX model ({type(e).__name__}: {e})") from None
    inits = {i.name: i for i in model.graph.initializer}
    layers, seen = [], set()
    for node, name, transposed in onnx_weight_operands(model):
        if name in seen:
            continue
        seen.add(name)
        w = numpy_helper.to_array(inits[name])
        if transposed:
            w = w.T
        layers.append(Layer(name, check_matrix(f"{path}[{name}]", np.ascontiguousarray(w))))
    if not layers:
        raise SwsError(f"{path}: the model has no MatMul or Gemm with a constant 2-D weight operand")
    return layers
