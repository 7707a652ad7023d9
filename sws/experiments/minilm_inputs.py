"""Real inputs for real MiniLM matrices: each weight MatMul's activations and its pruned int8 weights.

For the hardware run: the query MatMul of encoder layer 0 (384 x 384) reads the embedding LayerNorm's output.
That activation is captured with onnxruntime on the shipped token sequences (sws/data/minilm_tokens.json),
one row per real token, and quantized symmetrically to signed A-bit integers (one scale for the tensor).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mapper.prepare import prune

from .fidelity import quantize_inputs
from .runtime import TOKENS_PATH, load_token_sequences, minilm_model, token_feeds

__all__ = ["QueryInputs", "capture_query", "minilm_query_inputs", "LayerInputs", "capture_layers"]


@dataclass(frozen=True)
class QueryInputs:
    """x (V, K) integers, w (K, N) pruned int8 values; y = x @ w, times x_scale * w_scale[n], is the MatMul."""

    layer: str
    x: np.ndarray           # (V, 384) int64 in -(2**(A-1) - 1)..2**(A-1) - 1, one row per real token
    w: np.ndarray           # (384, 384) int64 in -127..127, pruned
    x_scale: float          # activation = x * x_scale (approximately)
    w_scale: np.ndarray     # (384,) the per-output-channel scale of the int8 weights
    activation: np.ndarray  # (V, 384) float32: the captured activation before quantization
    sparsity: float


def capture_query(sparsity: float = 0.9, *, input_bits: int = 8, layer: str = "L0.attn.query",
                  tokens_path: str = TOKENS_PATH) -> QueryInputs:
    """Capture the input of `layer` on the shipped sequences, quantize it, and prune the layer's weights."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .runtime import run_model

    model, linears = minilm_model()
    lin = next(l for l in linears if l.name == layer)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    m.graph.output.append(helper.make_tensor_value_info(lin.input, TensorProto.FLOAT, None))
    feeds = token_feeds(load_token_sequences(tokens_path))
    (act,) = run_model(m, feeds, [lin.input])
    real = feeds["attention_mask"].astype(bool)
    act = act[real]                                   # (V, K): the padding rows are not inputs
    x, x_scale = quantize_inputs(act, input_bits)
    inits = {i.name: i for i in model.graph.initializer}
    w = prune(numpy_helper.to_array(inits[lin.weight]), sparsity).astype(np.int64)
    w_scale = numpy_helper.to_array(inits[lin.scale]).astype(np.float64).reshape(-1)
    return QueryInputs(layer, x, w, x_scale, w_scale, act, sparsity)


def minilm_query_inputs(sparsity: float = 0.9, input_bits: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """(X, W): the first attention query's inputs (V, 384) as signed 8-bit integers, and its 384 x 384 int8
    weights pruned to `sparsity` (both int64 arrays). Needs the minilm extra."""
    q = capture_query(sparsity, input_bits=input_bits)
    return q.x, q.w


@dataclass(frozen=True)
class LayerInputs:
    """One weight MatMul of the (pruned) model as the crossbars see it: x (V, K) integers, w (K, N) int8 values."""

    layer: str
    x: np.ndarray           # (V, K) int64 in -(2**(A-1) - 1)..2**(A-1) - 1, one row per real token
    w: np.ndarray           # (K, N) int64 in -127..127, pruned
    x_scale: float


def capture_layers(sparsity: float = 0.0, *, input_bits: int = 8, tokens_path: str = TOKENS_PATH,
                   max_sequences: int | None = None, model_spec: str | None = None) -> list[LayerInputs]:
    """The input of every one of MiniLM's 36 weight MatMuls, in graph order, captured with onnxruntime on
    the shipped sequences from the model pruned to `sparsity` (magnitude, per layer: the activations the
    pruned crossbars would see), each quantized symmetrically to signed A-bit integers with one scale per
    layer over the real tokens."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from .fidelity import pruned_model, run_model

    model, linears = minilm_model(model_spec)
    pm = pruned_model(model, linears, sparsity)
    m = onnx.ModelProto()
    m.CopyFrom(pm)
    names = list(dict.fromkeys(lin.input for lin in linears))
    for name in names:
        m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    seqs = load_token_sequences(tokens_path)
    feeds = token_feeds(seqs[:max_sequences] if max_sequences else seqs)
    acts = dict(zip(names, run_model(m, feeds, names)))
    real = feeds["attention_mask"].astype(bool)
    inits = {i.name: i for i in pm.graph.initializer}
    out = []
    for lin in linears:
        x, scale = quantize_inputs(acts[lin.input][real], input_bits)
        out.append(LayerInputs(lin.name, x, numpy_helper.to_array(inits[lin.weight]).astype(np.int64), scale))
    return out
