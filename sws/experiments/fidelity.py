"""What pruning (and a capped ADC plan) costs in accuracy: a model run with onnxruntime, its weights replaced.

The measure is the cosine similarity of an output (MiniLM: last_hidden_state) against the unpruned model,
averaged over the real tokens (attention_mask) of a fixed set of token sequences shipped with the project.

Two ways of running a pruned model:
- `pruned`: the ONNX model with its weight initializers replaced by the pruned ones (same scales), run as
  it is in float: the cost of pruning alone.
- `crossbar`: in addition, every weight MatMul is computed as the crossbars compute it: its input quantized
  symmetrically to A-bit integers (one scale per layer over the real tokens), multiplied through the mapped
  layer with each ADC saturating at its planned resolution (mapper.mapping.saturating_matvec), and rescaled.
  The model is run once per layer, in graph order: each run adds the difference between the crossbar's
  output and the float MatMul's for the layers done so far, and captures the next layer's input.
"""

from __future__ import annotations

import json
import os

import numpy as np

from mapper.config import ArrayConfig
from mapper.errors import SwsError
from mapper.files import atomic_dir, dumps_json
from mapper.job import check_output_folder
from mapper.layer import GraphLinear
from mapper.mapping import map_layer, saturating_matvec
from mapper.quantize import QuantLayer, check_sparsity, prune

__all__ = ["TOKENS_PATH", "load_token_sequences", "token_feeds", "masked_cosine", "pooled_cosine", "pruned_model",
           "run_model", "crossbar_outputs", "fidelity", "minilm_model", "minilm_fidelity", "fidelity_markdown", "fidelity_to_folder", "quantize_inputs"]

TOKENS_PATH = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "minilm_tokens.json")


def _ort():
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise SwsError("the fidelity check runs the model with onnxruntime: pip install -e '.[minilm]'") from None
    return onnx, onnxruntime


def load_token_sequences(path: str = TOKENS_PATH) -> list[list[int]]:
    """The shipped token-id sequences ([CLS] ... [SEP]); see sws/data/make_minilm_tokens.py for how they were made."""
    with open(path) as f:
        return [list(s["input_ids"]) for s in json.load(f)["sequences"]]


def token_feeds(seqs: list[list[int]]) -> dict[str, np.ndarray]:
    """BERT inputs for a batch: ids padded with 0 ([PAD]) to the longest, attention_mask, token_type_ids 0."""
    t = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), t), np.int64)
    mask = np.zeros((len(seqs), t), np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def masked_cosine(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean over the real tokens of the cosine similarity of the feature vectors (last axis) of a and b."""
    a = np.asarray(a, np.float64).reshape(-1, a.shape[-1])
    b = np.asarray(b, np.float64).reshape(-1, b.shape[-1])
    keep = np.ones(len(a), bool) if mask is None else np.asarray(mask).reshape(-1).astype(bool)
    a, b = a[keep], b[keep]
    na, nb = np.linalg.norm(a, axis=1), np.linalg.norm(b, axis=1)
    cos = np.where((na > 0) & (nb > 0), (a * b).sum(axis=1) / np.maximum(na * nb, 1e-300), (na == nb).astype(float))
    return float(cos.mean())


def pooled_cosine(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean over sequences of the cosine of the mean-pooled outputs (the sentence embedding of all-MiniLM)."""
    m = np.asarray(mask, np.float64)[..., None]
    pa = (np.asarray(a, np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)
    pb = (np.asarray(b, np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)
    return masked_cosine(pa, pb)


def _initializers(model) -> dict:
    return {i.name: i for i in model.graph.initializer}


def pruned_model(model, linears: list[GraphLinear], sparsity: float):
    """A copy of the model whose weight initializers are pruned to `sparsity` (per layer, in their own values)."""
    onnx, _ = _ort()
    from onnx import numpy_helper
    sparsity = check_sparsity(sparsity)
    m = onnx.ModelProto()
    m.CopyFrom(model)
    inits = _initializers(m)
    for lin in linears:
        w = numpy_helper.to_array(inits[lin.weight])
        inits[lin.weight].CopyFrom(numpy_helper.from_array(prune(w, sparsity).astype(w.dtype), lin.weight))
    return m


def _session(model):
    _, ort = _ort()
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1  # reproducible sums, and the 2-core machine is shared
    return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def run_model(model, feeds: dict, outputs: list[str]) -> list[np.ndarray]:
    return _session(model).run(outputs, feeds)


def quantize_inputs(x: np.ndarray, input_bits: int = 8, mask: np.ndarray | None = None):
    """Symmetric signed quantization of activations to -(2**(A-1) - 1)..2**(A-1) - 1, one scale per tensor."""
    qmax = 2 ** (input_bits - 1) - 1
    rows = x.reshape(-1, x.shape[-1])
    if mask is not None:
        rows = rows[np.asarray(mask).reshape(-1).astype(bool)]
    peak = float(np.abs(rows).max(initial=0.0))
    scale = peak / qmax if peak > 0 else 1.0
    return np.clip(np.rint(x / scale), -qmax, qmax).astype(np.int64), scale


def _with_corrections(model, linears: list[GraphLinear]):
    """The model with a graph input `sws_delta_<i>` added to each weight MatMul's output, and each input exposed."""
    onnx, _ = _ort()
    from onnx import TensorProto, helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    nodes = {n.name: n for n in m.graph.node}
    have = {o.name for o in m.graph.output}
    adds = []
    for i, lin in enumerate(linears):
        node = nodes[lin.node]
        exact = f"{lin.output}__sws_exact"
        node.output[0] = exact
        adds.append((node, helper.make_node("Add", [exact, f"sws_delta_{i}"], [lin.output], name=f"sws_add_{i}")))
        m.graph.input.append(helper.make_tensor_value_info(f"sws_delta_{i}", TensorProto.FLOAT, None))
        if lin.input not in have:
            m.graph.output.append(helper.make_tensor_value_info(lin.input, TensorProto.FLOAT, None))
            have.add(lin.input)
    # Insert each Add right after its MatMul, so the node list stays in topological order.
    for node, add in adds:
        index = list(m.graph.node).index(node)
        m.graph.node.insert(index + 1, add)
    return m


def crossbar_outputs(model, linears: list[GraphLinear], feeds: dict, mask: np.ndarray, cfg: ArrayConfig,
                     output: str) -> tuple[np.ndarray, list[dict]]:
    """The model's `output` with every weight MatMul computed by the mapped crossbars (see the module docstring).

    `model` already holds the (pruned) integer weights; `cfg` is the mapping (ordering, group, cap, ...).
    Returns the output and, per layer, the input scale and the columns the cap saturates.
    """
    _ort()
    from onnx import numpy_helper
    inits = _initializers(model)
    m = _with_corrections(model, linears)
    sess = _session(m)
    real = np.asarray(mask).astype(bool)
    # A zero correction broadcasts over a MatMul output until that layer's turn comes.
    deltas = {f"sws_delta_{i}": np.zeros((1,), np.float32) for i in range(len(linears))}
    stats = []
    for i, lin in enumerate(linears):
        (x,) = sess.run([lin.input], {**feeds, **deltas})
        w = numpy_helper.to_array(inits[lin.weight]).astype(np.int64)
        scale = (numpy_helper.to_array(inits[lin.scale]).astype(np.float64).reshape(-1) if lin.scale
                 else np.ones(w.shape[1]))
        if np.any(np.abs(w) > cfg.weight_max):
            raise SwsError(f"{lin.name}: crossbar emulation needs integer weights within +-{cfg.weight_max}")
        lm = map_layer(QuantLayer(lin.name, w), cfg)
        x_int, x_scale = quantize_inputs(x, cfg.input_bits, real)
        rows = x_int[real]
        y_int = saturating_matvec(lm, rows)
        y_xbar = y_int.astype(np.float64) * x_scale * scale
        y_float = x[real].astype(np.float64) @ (w * scale)
        delta = np.zeros(x.shape[:-1] + (w.shape[1],), np.float32)
        delta[real] = y_xbar - y_float
        deltas[f"sws_delta_{i}"] = delta
        stats.append({"layer": lin.name, "input_scale": x_scale, "capped_columns": lm.capped_columns,
                      "saturated_outputs": int(np.count_nonzero(y_int != rows @ w))})
    (y,) = sess.run([output], {**feeds, **deltas})
    return y, stats


def fidelity(model, linears: list[GraphLinear], feeds: dict, mask: np.ndarray, sparsities, *, output: str,
             crossbar: ArrayConfig | None = None, progress=None) -> list[dict]:
    """Cosine similarity of `output` against the unpruned model at each sparsity (and through the crossbars)."""
    (reference,) = run_model(model, feeds, [output])
    rows = []
    for i, s in enumerate(sparsities):
        if progress:
            progress(i, len(sparsities), f"sparsity {s:g}")
        pm = pruned_model(model, linears, s)
        (y,) = run_model(pm, feeds, [output])
        row = {"sparsity": s, "cosine_pruned": masked_cosine(y, reference, mask),
               "cosine_pruned_pooled": pooled_cosine(y, reference, mask)}
        if crossbar is not None:
            yx, stats = crossbar_outputs(pm, linears, feeds, mask, crossbar, output)
            row["cosine_crossbar"] = masked_cosine(yx, reference, mask)
            row["cosine_crossbar_pooled"] = pooled_cosine(yx, reference, mask)
            row["capped_columns"] = sum(st["capped_columns"] for st in stats)
        rows.append(row)
    return rows


def minilm_model():
    """The MiniLM ONNX model and its 36 linear layers (as GraphLinear), from the minilm extra."""
    onnx, _ = _ort()
    from mapper.models import minilm_linears, minilm_path
    model = onnx.load(minilm_path())
    linears = minilm_linears(model)
    return model, linears


def minilm_fidelity(sparsities, *, crossbar: ArrayConfig | None = None, tokens_path: str = TOKENS_PATH,
                    progress=None) -> dict:
    """Cosine of MiniLM's last_hidden_state, pruned (and through the crossbars), on the shipped sequences."""
    model, linears = minilm_model()
    seqs = load_token_sequences(tokens_path)
    feeds = token_feeds(seqs)
    mask = feeds["attention_mask"]
    rows = fidelity(model, linears, feeds, mask, sparsities, output="last_hidden_state",
                    crossbar=crossbar, progress=progress)
    (ref,) = run_model(model, feeds, ["last_hidden_state"])
    m = mask[..., None].astype(np.float64)
    pooled = (ref * m).sum(axis=1) / m.sum(axis=1)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    between = pooled @ pooled.T
    unrelated = float((between.sum() - np.trace(between)) / (len(seqs) * (len(seqs) - 1))) if len(seqs) > 1 else None
    return {"source": "minilm", "output": "last_hidden_state", "sequences": len(seqs),
            "unrelated_sentence_cosine": unrelated,
            "tokens": int(feeds["attention_mask"].sum()), "tokens_file": os.path.relpath(tokens_path),
            "crossbar": crossbar.to_dict() if crossbar is not None else None, "rows": rows}


def fidelity_markdown(result: dict) -> str:
    xb = result["crossbar"]
    lines = [f"# Fidelity of {result['source']} ({result['output']})", "",
             f"Cosine similarity against the unpruned int8 model, mean over the {result['tokens']} real tokens of "
             f"{result['sequences']} sequences ({result['tokens_file']}).", ""]
    head = "| sparsity | pruned: tokens | pruned: sentences |"
    rule = "|---:|---:|---:|"
    if xb:
        lines += [f"`crossbar`: pruned, and every weight MatMul computed by the crossbars: {xb['input_bits']}-bit "
                  f"inputs (one scale per layer), {xb['rows']}-row sections, {xb['ordering']} order, G = "
                  f"{xb['group']}, ADC cap {xb['cap'] if xb['cap'] is not None else 'none (lossless)'}.", ""]
        head += " crossbar: tokens | crossbar: sentences | capped columns |"
        rule += "---:|---:|---:|"
    lines += [head, rule]
    for r in result["rows"]:
        line = f"| {r['sparsity']:g} | {r['cosine_pruned']:.4f} | {r['cosine_pruned_pooled']:.4f} |"
        if xb:
            line += f" {r['cosine_crossbar']:.4f} | {r['cosine_crossbar_pooled']:.4f} | {r['capped_columns']} |"
        lines.append(line)
    lines += ["", "`tokens`: cosine of each real token's hidden state; `sentences`: cosine of the mean-pooled "
              "sentence embedding."]
    if result.get("unrelated_sentence_cosine") is not None:
        lines[-1] += (f" Two different sentences of the set have a mean sentence cosine of "
                      f"{result['unrelated_sentence_cosine']:.3f} in the unpruned model: a value near that "
                      f"means the embedding is lost.")
    return "\n".join(lines) + "\n"


def fidelity_to_folder(sparsities, out: str, *, crossbar: ArrayConfig | None = None, progress=None) -> dict:
    """MiniLM's fidelity at each sparsity (`minilm_fidelity`), written as fidelity.json and fidelity.md into
    `out`, whole or not at all."""
    sparsities = tuple(check_sparsity(s) for s in sparsities)
    check_output_folder(out)
    result = minilm_fidelity(sparsities, crossbar=crossbar, progress=progress)
    with atomic_dir(out) as tmp:
        with open(os.path.join(tmp, "fidelity.json"), "w") as f:
            f.write(dumps_json(result, indent=1))
            f.write("\n")
        with open(os.path.join(tmp, "fidelity.md"), "w") as f:
            f.write(fidelity_markdown(result))
    return result
