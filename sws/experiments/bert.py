"""A small BERT encoder in JAX (the `prune` extra): read from and written back to the int8 ONNX form of MiniLM.

The forward is the one all-MiniLM-L6-v2's export computes (post-LayerNorm BERT, exact erf GELU, LayerNorm
epsilon 1e-12, padding keys masked out of every softmax); `sws prune` trains it (sws.experiments.distill).

Parameters are a flat dict of float32 arrays (a JAX pytree), named as the mapper names the layers:
`L<i>.attn.query` (K x N, y = x @ W), `L<i>.attn.query.bias`, ..., `L<i>.attn.ln.weight` / `.bias` (the
LayerNorm after attention), `L<i>.ffn.ln.weight` / `.bias`, and the embeddings `emb.word`, `emb.position`,
`emb.type`, `emb.ln.weight`, `emb.ln.bias`.

The ONNX form (`to_onnx`, `from_onnx`) is the shipped model's convention: each weight matrix an int8 K x N
initializer `<name>_q` times a float32 per-output-column scale `<name>_scale` of shape (1, N) (Cast, Mul,
MatMul, then the Add of a bias named as the Hugging Face export names it, `inner.encoder.layer.<i>.<role>
.bias`, which is how mapper.models recognises the 36 layers); the word and position tables int8 with one
scale per row; the scale of a column is max |w| / 127 (symmetric).
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np

from mapper.common import SwsError

__all__ = ["BertShape", "ROLES", "linear_names", "random_params", "from_onnx", "to_onnx", "forward",
           "quantize_columns", "jax_modules", "PRUNE_EXTRA", "embed", "encoder_block", "attention_bias"]

PRUNE_EXTRA = "pip install -e '.[prune]'"

#: A layer's weight matrices, in graph order, and the Hugging Face module each one's bias is named after.
ROLES = {
    "attn.query": "attention.self.query",
    "attn.key": "attention.self.key",
    "attn.value": "attention.self.value",
    "attn.output": "attention.output.dense",
    "ffn.in": "intermediate.dense",
    "ffn.out": "output.dense",
}
_LN = {"attn.ln": "attention.output.LayerNorm", "ffn.ln": "output.LayerNorm"}
_HF = "inner.encoder.layer.{i}.{module}"
LN_EPS = 1e-12


def jax_modules():
    """(jax, jax.numpy), or an SwsError naming the extra."""
    try:
        import jax
        import jax.numpy as jnp
    except ImportError:
        raise SwsError(f"training a sparse model needs JAX: {PRUNE_EXTRA}") from None
    return jax, jnp


@dataclasses.dataclass(frozen=True)
class BertShape:
    """The sizes of a BERT encoder (all-MiniLM-L6-v2: 6 layers, hidden 384, 12 heads, FFN 1536)."""

    layers: int = 6
    hidden: int = 384
    heads: int = 12
    intermediate: int = 1536
    vocab: int = 30522
    positions: int = 512

    def __post_init__(self):
        for name in ("layers", "hidden", "heads", "intermediate", "vocab", "positions"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SwsError(f"BertShape.{name} must be a positive integer, not {v!r}")
        if self.hidden % self.heads:
            raise SwsError(f"BertShape.hidden ({self.hidden}) must be a multiple of heads ({self.heads})")

    def matrix(self, role: str) -> tuple[int, int]:
        h, f = self.hidden, self.intermediate
        return {"ffn.in": (h, f), "ffn.out": (f, h)}.get(role, (h, h))


def linear_names(shape: BertShape) -> list[str]:
    """The weight matrices in graph order: L0.attn.query .. L<n-1>.ffn.out."""
    return [f"L{i}.{role}" for i in range(shape.layers) for role in ROLES]


def random_params(shape: BertShape, seed: int = 0) -> dict[str, np.ndarray]:
    """A randomly initialized encoder (normal 0.02 weights as BERT initializes them; LayerNorms at 1, 0)."""
    rng = np.random.default_rng(seed)
    h = shape.hidden
    p = {"emb.word": rng.normal(0, 0.02, (shape.vocab, h)), "emb.position": rng.normal(0, 0.02, (shape.positions, h)),
         "emb.type": rng.normal(0, 0.02, (2, h)), "emb.ln.weight": np.ones(h), "emb.ln.bias": np.zeros(h)}
    for i in range(shape.layers):
        for role in ROLES:
            k, n = shape.matrix(role)
            p[f"L{i}.{role}"] = rng.normal(0, 0.02, (k, n))
            p[f"L{i}.{role}.bias"] = rng.normal(0, 0.02, n)
        for ln in _LN:
            p[f"L{i}.{ln}.weight"] = np.ones(h)
            p[f"L{i}.{ln}.bias"] = np.zeros(h)
    return {k: np.asarray(v, np.float32) for k, v in p.items()}


def quantize_columns(w: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 with one scale per column (axis=0: reduce over rows) or per row (axis=1):
    (q in -127..127 as int8, scale float32 shaped to broadcast) with w ~ q * scale; exact zeros stay zero."""
    w = np.asarray(w, np.float32)
    peak = np.abs(w).max(axis=axis, keepdims=True)
    scale = np.where(peak > 0, peak / np.float32(127), np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale


# -- ONNX ---------------------------------------------------------------------------------------------------

def from_onnx(model) -> tuple[BertShape, dict[str, np.ndarray]]:
    """The shape and float32 parameters (int8 weights times their scales) of a MiniLM-form ONNX model."""
    from onnx import numpy_helper

    from mapper.sources import onnx_linears

    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {}
    for node in model.graph.node:
        if node.op_type == "Mul" and len(node.input) == 2 and node.input[1] in inits:
            cast = next((n for n in model.graph.node if n.output and n.output[0] == node.input[0]
                         and n.op_type == "Cast"), None)
            if cast is not None and cast.input[0] in inits:
                consts[node.output[0]] = inits[cast.input[0]].astype(np.float32) * inits[node.input[1]]
    tensors = {**inits, **consts}
    bias = re.compile(r"^inner\.encoder\.layer\.(\d+)\.(.+)\.bias$")
    roles = {v: k for k, v in ROLES.items()}
    p = {}
    for lin in onnx_linears(model):
        m = bias.match(lin.bias or "")
        if not m or m.group(2) not in roles or lin.weight not in tensors:
            raise SwsError(f"MatMul {lin.node} is not a BERT linear layer of the MiniLM form (bias {lin.bias!r})")
        name = f"L{m.group(1)}.{roles[m.group(2)]}"
        w = inits[lin.weight].astype(np.float32)
        w = w.T if lin.transposed else w
        if lin.scale:
            w = w * inits[lin.scale].astype(np.float32).reshape(1, -1)
        p[name] = w.astype(np.float32)
        p[name + ".bias"] = inits[lin.bias].astype(np.float32)
    layers = 1 + max(int(k.split(".")[0][1:]) for k in p)
    for i in range(layers):
        for ln, module in _LN.items():
            for part in ("weight", "bias"):
                p[f"L{i}.{ln}.{part}"] = inits[_HF.format(i=i, module=module) + f".{part}"].astype(np.float32)
    emb = "inner.embeddings."
    p["emb.word"] = tensors[emb + "word_embeddings.weight"].astype(np.float32)
    p["emb.position"] = tensors[emb + "position_embeddings.weight"].astype(np.float32)
    p["emb.type"] = tensors[emb + "token_type_embeddings.weight"].astype(np.float32)
    p["emb.ln.weight"] = inits[emb + "LayerNorm.weight"].astype(np.float32)
    p["emb.ln.bias"] = inits[emb + "LayerNorm.bias"].astype(np.float32)
    heads = _heads_of(model)
    hidden = p["emb.word"].shape[1]
    shape = BertShape(layers=layers, hidden=hidden, heads=heads, intermediate=p["L0.ffn.in"].shape[1],
                      vocab=p["emb.word"].shape[0], positions=p["emb.position"].shape[0])
    missing = [n for n in linear_names(shape) if n not in p]
    if missing:
        raise SwsError(f"the ONNX model lacks the BERT layers {', '.join(missing[:4])}")
    return shape, p


def _heads_of(model) -> int:
    """The attention heads: the last dimension of the shape the query is reshaped to (the shipped export
    concatenates [batch, tokens, -1, head size]; ours writes [0, 0, heads, head size])."""
    from onnx import numpy_helper
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    hidden = None
    for i in model.graph.initializer:
        if i.name == "inner.embeddings.LayerNorm.weight":
            hidden = int(numpy_helper.to_array(i).shape[0])
    for node in model.graph.node:
        if node.op_type == "Concat":
            vals = [inits[x] for x in node.input if x in inits]
            if len(vals) == 2 and all(v.size == 1 for v in vals) and int(vals[0].reshape(-1)[0]) == -1:
                size = int(vals[1].reshape(-1)[0])
                if hidden and size > 0 and hidden % size == 0:
                    return hidden // size
        if node.op_type == "Reshape" and node.input[1] in inits:
            s = inits[node.input[1]].reshape(-1)
            if s.size == 4 and int(s[0]) == 0 and int(s[1]) == 0 and int(s[2]) > 0:
                return int(s[2])
    raise SwsError("cannot find the number of attention heads in the ONNX model")


def to_onnx(shape: BertShape, params: dict[str, np.ndarray], *, doc: str = ""):
    """An ONNX model (opset 17) of the encoder in the shipped int8 form; inputs input_ids, attention_mask,
    token_type_ids (int64, batch x tokens), output last_hidden_state. Weight matrices and the word and
    position tables are quantized to int8 here (quantize_columns): exact zeros stay zeros."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    inits, nodes = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=f"n{len(nodes)}_{op}", **attrs))
        return out

    def int8(name, w, axis):
        q, s = quantize_columns(w, axis)
        node("Cast", [const(name + "_q", q)], name + "_f", to=TensorProto.FLOAT)
        return node("Mul", [name + "_f", const(name + "_scale", s)], name)

    def layer_norm(x, prefix, out):
        return node("LayerNormalization", [x, prefix + ".weight", prefix + ".bias"], out, axis=-1, epsilon=LN_EPS)

    h, heads = shape.hidden, shape.heads
    d = h // heads
    emb = "inner.embeddings."
    word = int8(emb + "word_embeddings.weight", params["emb.word"], 1)
    pos = int8(emb + "position_embeddings.weight", params["emb.position"], 1)
    const(emb + "token_type_embeddings.weight", params["emb.type"].astype(np.float32))
    const(emb + "LayerNorm.weight", params["emb.ln.weight"].astype(np.float32))
    const(emb + "LayerNorm.bias", params["emb.ln.bias"].astype(np.float32))
    const("c_zero", np.array([0], np.int64))
    const("c_one", np.array([1], np.int64))
    const("c_one_f", np.array(1.0, np.float32))
    const("c_neg", np.array(-1e9, np.float32))
    const("c_heads", np.array([0, 0, heads, d], np.int64))
    const("c_merge", np.array([0, 0, h], np.int64))
    const("c_rsqrt_d", np.array(1 / math.sqrt(d), np.float32))
    const("c_sqrt2", np.array(math.sqrt(2), np.float32))
    const("c_half", np.array(0.5, np.float32))
    node("Shape", ["input_ids"], "ids_shape")
    node("Slice", ["ids_shape", "c_one", const("c_two", np.array([2], np.int64))], "n_tokens")
    node("Slice", [pos, "c_zero", "n_tokens", "c_zero"], "pos_rows")
    node("Gather", [word, "input_ids"], "word_rows", axis=0)
    node("Gather", [emb + "token_type_embeddings.weight", "token_type_ids"], "type_rows", axis=0)
    node("Add", ["word_rows", "type_rows"], "emb_sum0")
    node("Add", ["emb_sum0", "pos_rows"], "emb_sum")
    x = layer_norm("emb_sum", emb + "LayerNorm", "layer_norm")
    # Padding keys: -1e9 added to their scores (exp underflows to exactly 0, as the export's -inf does).
    node("Cast", ["attention_mask"], "mask_f", to=TensorProto.FLOAT)
    node("Sub", ["c_one_f", "mask_f"], "mask_off")
    node("Mul", ["mask_off", "c_neg"], "mask_add2")
    node("Unsqueeze", ["mask_add2", const("c_axes12", np.array([1, 2], np.int64))], "mask_add")
    for i in range(shape.layers):
        hf = lambda module: _HF.format(i=i, module=module)  # noqa: E731
        for ln, module in _LN.items():
            const(hf(module) + ".weight", params[f"L{i}.{ln}.weight"].astype(np.float32))
            const(hf(module) + ".bias", params[f"L{i}.{ln}.bias"].astype(np.float32))

        def linear(src, role, out):
            w = int8(f"L{i}.{role}", params[f"L{i}.{role}"], 0)
            mm = node("MatMul", [src, w], f"L{i}.{role}.mm")
            return node("Add", [mm, const(hf(ROLES[role]) + ".bias", params[f"L{i}.{role}.bias"]
                                          .astype(np.float32))], out)

        heads_of = {}
        for role, perm in (("attn.query", [0, 2, 1, 3]), ("attn.key", [0, 2, 3, 1]), ("attn.value", [0, 2, 1, 3])):
            y = linear(x, role, f"L{i}.{role}.y")
            r = node("Reshape", [y, "c_heads"], f"L{i}.{role}.heads")
            heads_of[role] = node("Transpose", [r], f"L{i}.{role}.t", perm=perm)
        s = node("MatMul", [heads_of["attn.query"], heads_of["attn.key"]], f"L{i}.scores0")
        s = node("Mul", [s, "c_rsqrt_d"], f"L{i}.scores1")
        s = node("Add", [s, "mask_add"], f"L{i}.scores")
        p = node("Softmax", [s], f"L{i}.probs", axis=-1)
        c = node("MatMul", [p, heads_of["attn.value"]], f"L{i}.context0")
        c = node("Transpose", [c], f"L{i}.context1", perm=[0, 2, 1, 3])
        c = node("Reshape", [c, "c_merge"], f"L{i}.context")
        a = linear(c, "attn.output", f"L{i}.attn.output.y")
        a = node("Add", [a, x], f"L{i}.attn.residual")
        a = layer_norm(a, hf(_LN["attn.ln"]), f"L{i}.attn.ln.y")
        f = linear(a, "ffn.in", f"L{i}.ffn.in.y")
        g = node("Div", [f, "c_sqrt2"], f"L{i}.gelu0")
        g = node("Erf", [g], f"L{i}.gelu1")
        g = node("Add", [g, "c_one_f"], f"L{i}.gelu2")
        g = node("Mul", [g, "c_half"], f"L{i}.gelu3")
        g = node("Mul", [f, g], f"L{i}.gelu")
        f = linear(g, "ffn.out", f"L{i}.ffn.out.y")
        f = node("Add", [f, a], f"L{i}.ffn.residual")
        x = layer_norm(f, hf(_LN["ffn.ln"]), "last_hidden_state" if i == shape.layers - 1 else f"L{i}.out")
    ints = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch", "tokens"])
            for n in ("input_ids", "attention_mask", "token_type_ids")]
    out = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "tokens", h])
    graph = helper.make_graph(nodes, "bert", ints, [out], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="sws prune",
                              doc_string=doc)
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


# -- forward ------------------------------------------------------------------------------------------------

def _layer_norm(jnp, x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / jnp.sqrt(var + LN_EPS) * g + b


def attention_bias(mask):
    """The additive attention mask of `mask` (batch x tokens, 1 real, 0 padding): -1e9 on padding keys."""
    _, jnp = jax_modules()
    return (1.0 - mask.astype(jnp.float32))[:, None, None, :] * jnp.float32(-1e9)


def embed(params: dict, ids, shape: BertShape):
    """The embeddings' LayerNorm output (batch x tokens x hidden): the first block's input."""
    _, jnp = jax_modules()
    t = ids.shape[1]
    x = params["emb.word"][ids] + params["emb.position"][:t][None] + params["emb.type"][0]
    return _layer_norm(jnp, x, params["emb.ln.weight"], params["emb.ln.bias"])


def encoder_block(params: dict, i: int, x, add, shape: BertShape, weight_masks: dict | None = None, *,
                  capture: dict | None = None):
    """Block i on its input x (batch x tokens x hidden) with the additive attention mask `add`
    (attention_bias): (its output, its attention log-probabilities, batch x heads x tokens x tokens)."""
    jax, jnp = jax_modules()
    b, t = x.shape[0], x.shape[1]
    h, heads = shape.hidden, shape.heads
    d = h // heads

    def lin(x, name):
        if capture is not None:
            capture[name] = x
        w = params[name] if weight_masks is None or name not in weight_masks else params[name] * weight_masks[name]
        return x @ w + params[name + ".bias"]

    split = lambda y: y.reshape(b, t, heads, d).transpose(0, 2, 1, 3)  # noqa: E731
    q, k, v = (split(lin(x, f"L{i}.attn.{r}")) for r in ("query", "key", "value"))
    s = (q @ k.transpose(0, 1, 3, 2)) * jnp.float32(1 / math.sqrt(d)) + add
    lp = jax.nn.log_softmax(s, axis=-1)
    c = (jnp.exp(lp) @ v).transpose(0, 2, 1, 3).reshape(b, t, h)
    a = _layer_norm(jnp, lin(c, f"L{i}.attn.output") + x, params[f"L{i}.attn.ln.weight"],
                    params[f"L{i}.attn.ln.bias"])
    f = lin(a, f"L{i}.ffn.in")
    f = f * 0.5 * (1.0 + jax.scipy.special.erf(f / jnp.float32(math.sqrt(2))))
    x = _layer_norm(jnp, lin(f, f"L{i}.ffn.out") + a, params[f"L{i}.ffn.ln.weight"], params[f"L{i}.ffn.ln.bias"])
    return x, lp


def forward(params: dict, ids, mask, shape: BertShape, weight_masks: dict | None = None, *,
            log_probs: bool = False, capture: dict | None = None):
    """The encoder on token ids (batch x tokens) with attention_mask `mask` (1 real, 0 padding).

    weight_masks: name -> 0/1 array multiplying that weight matrix (the pruned student).
    log_probs: return the attention's log-probabilities instead of its probabilities.
    capture: a dict that receives each weight matrix's input by name (outside jit only).
    Returns (hidden, probs): hidden[0] the embeddings' LayerNorm output and hidden[i + 1] layer i's output
    (batch x tokens x hidden), probs[i] layer i's attention probabilities (batch x heads x tokens x tokens).
    """
    _, jnp = jax_modules()
    x = embed(params, ids, shape)
    add = attention_bias(mask)
    hidden, probs = [x], []
    for i in range(shape.layers):
        x, lp = encoder_block(params, i, x, add, shape, weight_masks, capture=capture)
        hidden.append(x)
        probs.append(lp if log_probs else jnp.exp(lp))
    return hidden, probs
