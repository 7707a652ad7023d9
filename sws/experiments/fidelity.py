"""What pruning (and a capped ADC plan) costs in accuracy: a model run with onnxruntime, its weights replaced.

The measures, against the unpruned model, on sequences shipped with the project and never used to calibrate:
- the cosine similarity of an output (MiniLM: last_hidden_state), averaged over the real tokens
  (attention_mask) of the evaluation sentences, and of the mean-pooled sentence embeddings;
- the task metric, paraphrase retrieval: on pairs of sentences written as paraphrases of each other, the
  fraction of sentences whose nearest neighbour among all is their own paraphrase;
- the SWS ADC energy per token of the pruned int8 layers (mapper.cost.report, under the given configuration).

Pruning is one-shot, by magnitude, Wanda or SparseGPT, optionally ADC-aware (sws.experiments.pruning,
mapper.prepare.pruning); the calibrated methods see calibration text only.

Two ways of running a pruned model:
- `pruned`: the ONNX model with its weight initializers replaced by the pruned ones (same scales), run as
  it is in float: the cost of pruning alone.
- `crossbar`: in addition, every weight MatMul is computed as the crossbars compute it: its input quantized
  symmetrically to A-bit integers (one scale per layer over the real tokens), multiplied through the mapped
  layer with each ADC saturating at its planned resolution (mapper.sectioning.mapping.saturating_matvec), and rescaled.
  The model is run once per layer, in graph order: each run adds the difference between the crossbar's
  output and the float MatMul's for the layers done so far, and captures the next layer's input.
"""

from __future__ import annotations

import os

import numpy as np

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.common import atomic_dir, dumps_json, write_text
from mapper.job import check_output_folder
from mapper.sources import GraphLinear
from mapper.sectioning import map_layer, saturating_matvec
from mapper.prepare import AdcAware, check_method
from mapper.sources import QuantLayer
from mapper.prepare import check_sparsity, prune
from mapper.cost import map_layers, report_dict

from .pruning import (CALIBRATION_PATH, PARAPHRASES_PATH, layer_weights, pooled_embeddings, prune_model,
                      retrieval_accuracy)
from .runtime import TOKENS_PATH, initializers, load_token_sequences, minilm_model, ort, run_model, session, \
    token_feeds

__all__ = ["TOKENS_PATH", "load_token_sequences", "token_feeds", "masked_cosine", "pooled_cosine", "pruned_model",
           "run_model", "crossbar_outputs", "fidelity", "minilm_model", "minilm_fidelity", "fidelity_markdown",
           "fidelity_to_folder", "quantize_inputs", "model_energy", "plot_front"]


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


def pruned_model(model, linears: list[GraphLinear], sparsity: float):
    """A copy of the model whose weight initializers are pruned by magnitude to `sparsity` (per layer)."""
    return prune_model(model, linears, sparsity, "magnitude")


_initializers = initializers
_ort = ort
_session = session


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
                     output: str, matvec=None) -> tuple[np.ndarray, list[dict]]:
    """The model's `output` with every weight MatMul computed by the mapped crossbars (see the module docstring).

    `model` already holds the (pruned) integer weights; `cfg` is the mapping (ordering, group, cap, ...).
    `matvec(lm, x_int, i)` computes layer i's integer output (default: mapper.mapping.saturating_matvec, the
    ideal analog array; sws.experiments.analog passes the analog model).
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
        if np.any(np.abs(w) > cfg.hw.weight_max):
            raise SwsError(f"{lin.name}: crossbar emulation needs integer weights within +-{cfg.hw.weight_max}")
        lm = map_layer(QuantLayer(lin.name, w), cfg)
        x_int, x_scale = quantize_inputs(x, cfg.hw.input_bits, real)
        rows = x_int[real]
        y_int = saturating_matvec(lm, rows) if matvec is None else matvec(lm, rows, i)
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
             crossbar: ArrayConfig | None = None, prune_fn=None, progress=None) -> list[dict]:
    """Cosine similarity of `output` against the unpruned model at each sparsity (and through the crossbars).

    prune_fn(model, linears, sparsity) -> pruned model; default magnitude (`pruned_model`).
    """
    prune_fn = prune_fn or pruned_model
    (reference,) = run_model(model, feeds, [output])
    rows = []
    for i, s in enumerate(sparsities):
        if progress:
            progress(i, len(sparsities), f"sparsity {s:g}")
        pm = prune_fn(model, linears, s)
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


def model_energy(model, linears: list[GraphLinear], cfg: ArrayConfig, *, tokens: int = 1) -> dict:
    """The SWS report's totals for the model's integer layers as they stand (mapper.cost.report): ADC energy per
    input vector, which is one token for every layer of a BERT encoder."""
    inits = initializers(model)
    layers = []
    for lin in linears:
        w, _ = layer_weights(inits, lin)
        if not np.issubdtype(w.dtype, np.integer):
            raise SwsError(f"{lin.name}: the energy of a pruned model is priced on integer weights, not {w.dtype}")
        layers.append(QuantLayer(lin.name, w.astype(np.int64)))
    total = report_dict(map_layers(layers, cfg), cfg, source="pruned model", sparsity=0.0)["total"]
    return {"energy_pj": total["energy_pj"], "dense_energy_pj": total["dense_energy_pj"],
            "reduction_vs_dense": total["reduction_vs_dense"], "sparsity": total["sparsity"]}


def _law(cfg: ArrayConfig) -> str:
    return cfg.energy.law


def minilm_fidelity(sparsities, *, methods=("magnitude",), adc_trade: float | None = None, plain: bool = True,
                    crossbar: ArrayConfig | None = None, energy: ArrayConfig | None = ArrayConfig(),
                    tokens_path: str = TOKENS_PATH, calibration_path: str = CALIBRATION_PATH,
                    paraphrases_path: str = PARAPHRASES_PATH, calibration_limit: int | None = None,
                    model_spec: str | None = None, progress=None) -> dict:
    """MiniLM's last_hidden_state, pruned by each method at each sparsity, against the unpruned int8 model.

    Parameters
    ----------
    sparsities : fractions of zeros per layer, each in [0, 1).
    methods : magnitude, wanda, sparsegpt (mapper.prepare.pruning); wanda and sparsegpt calibrate on `calibration_path`.
    adc_trade : also run each method ADC-aware with this trade (mapper.prepare.pruning.AdcAware, priced under `energy`).
    plain : run the methods without ADC steering too (False: only the ADC-aware variants).
    crossbar : also run every weight MatMul through the crossbars mapped under this configuration.
    energy : price each pruned model's ADC energy under this configuration (None: skip).
    calibration_limit : calibrate on the first this many sequences only (tests).
    model_spec : the model to prune and measure: None or `minilm` the shipped one, `minilm:sparseNN` or an
        .onnx file (a `sws prune` export); the reference stays the shipped unpruned int8 model.

    Returns
    -------
    dict with one row per method and sparsity: cosine_pruned (tokens), cosine_pruned_pooled (sentences),
    retrieval, energy_pj, reduction_vs_dense, zeros (the fraction of zero weights), and the crossbar's
    cosines; `unpruned` holds the unpruned model's retrieval and energy.
    """
    methods = tuple(check_method(m) for m in methods)
    sparsities = tuple(check_sparsity(s) for s in sparsities)
    variants = ([(m, None) for m in methods] if plain or not adc_trade else []) \
        + ([(m, adc_trade) for m in methods] if adc_trade else [])
    adc_cfg = energy or ArrayConfig()
    if adc_trade:
        AdcAware(adc_cfg, adc_trade)  # a bad trade or policy is refused before the long work
    model, linears = minilm_model(model_spec)
    shipped, shipped_linears = (model, linears) if model_spec in (None, "minilm") else minilm_model()
    feeds = token_feeds(load_token_sequences(tokens_path))
    mask = feeds["attention_mask"]
    para = token_feeds(load_token_sequences(paraphrases_path))
    calib = None
    if any(m != "magnitude" for m in methods) or adc_trade:
        seqs = load_token_sequences(calibration_path)
        calib = token_feeds(seqs[:calibration_limit] if calibration_limit else seqs)
    (reference,) = run_model(shipped, feeds, ["last_hidden_state"])

    def measure(pm, linears=linears) -> dict:
        sess = session(pm)
        (y,) = sess.run(["last_hidden_state"], feeds)
        (yp,) = sess.run(["last_hidden_state"], para)
        row = {"cosine_pruned": masked_cosine(y, reference, mask), "cosine_pruned_pooled": pooled_cosine(y, reference, mask),
               "retrieval": retrieval_accuracy(pooled_embeddings(yp, para["attention_mask"]))}
        if energy is not None:
            e = model_energy(pm, linears, energy)
            row.update({"energy_pj": e["energy_pj"], "reduction_vs_dense": e["reduction_vs_dense"],
                        "zeros": e["sparsity"]})
        if crossbar is not None:
            yx, stats = crossbar_outputs(pm, linears, feeds, mask, crossbar, "last_hidden_state")
            row["cosine_crossbar"] = masked_cosine(yx, reference, mask)
            row["cosine_crossbar_pooled"] = pooled_cosine(yx, reference, mask)
            row["capped_columns"] = sum(st["capped_columns"] for st in stats)
        return row

    unpruned = measure(shipped, shipped_linears)
    rows = []
    jobs = [(m, t, s) for m, t in variants for s in sparsities]
    for i, (method, trade, s) in enumerate(jobs):
        label = method + (f" + ADC-aware {trade:g}" if trade else "")
        if progress:
            progress(i, len(jobs), f"{label}, sparsity {s:g}")
        adc = AdcAware(adc_cfg, trade) if trade else None
        pm = model if s == 0 and adc is None else prune_model(model, linears, s, method, calibration=calib, adc=adc)
        rows.append({"method": method, "adc_trade": trade, "sparsity": s, **measure(pm)})
    m = mask[..., None].astype(np.float64)
    pooled = (reference * m).sum(axis=1) / m.sum(axis=1)
    pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
    between = pooled @ pooled.T
    n_seq = len(pooled)
    unrelated = float((between.sum() - np.trace(between)) / (n_seq * (n_seq - 1))) if n_seq > 1 else None
    return {"source": model_spec or "minilm", "output": "last_hidden_state", "sequences": n_seq,
            "unrelated_sentence_cosine": unrelated, "tokens": int(mask.sum()),
            "tokens_file": os.path.relpath(tokens_path),
            "calibration_file": os.path.relpath(calibration_path) if calib is not None else None,
            "calibration_sequences": len(calib["input_ids"]) if calib is not None else 0,
            "calibration_tokens": int(calib["attention_mask"].sum()) if calib is not None else 0,
            "paraphrases_file": os.path.relpath(paraphrases_path), "paraphrase_pairs": len(para["input_ids"]) // 2,
            "energy_config": energy.to_dict() if energy is not None else None,
            "law": _law(energy) if energy is not None else None,
            "crossbar": crossbar.to_dict() if crossbar is not None else None,
            "unpruned": unpruned, "rows": rows}


def _label(row: dict) -> str:
    return row.get("method", "magnitude") + (f" + ADC-aware {row['adc_trade']:g}" if row.get("adc_trade") else "")


def fidelity_markdown(result: dict) -> str:
    xb = result["crossbar"]
    energy = result.get("law") is not None
    lines = [f"# Fidelity of {result['source']} ({result['output']})", "",
             f"Against the unpruned int8 model: cosine similarity, mean over the {result['tokens']} real tokens of "
             f"{result['sequences']} evaluation sequences ({result['tokens_file']}), and paraphrase retrieval on "
             f"{result['paraphrase_pairs']} pairs ({result['paraphrases_file']})."]
    if result.get("calibration_file"):
        lines[-1] += (f" Wanda and SparseGPT calibrate on {result['calibration_sequences']} other sequences, "
                      f"{result['calibration_tokens']} tokens ({result['calibration_file']}).")
    if energy:
        cfg = result["energy_config"]
        hw, mp = cfg.get("hardware", cfg), cfg.get("mapping", cfg)
        lines[-1] += (f" Energy: the SWS ADC energy per token of all 36 layers (mapper.cost.report), law "
                      f"`{result['law']}`, {hw.get('rows')}-row sections, {mp.get('ordering')} order, policy "
                      f"{mp.get('policy')}.")
    lines.append("")
    head = "| method | sparsity | tokens | sentences | retrieval |"
    rule = "|---|---:|---:|---:|---:|"
    if energy:
        head += f" energy nJ ({result['law']}) | vs dense |"
        rule += "---:|---:|"
    if xb:
        lines += [f"`crossbar`: pruned, and every weight MatMul computed by the crossbars: {xb['input_bits']}-bit "
                  f"inputs (one scale per layer), {xb['rows']}-row sections, {xb['ordering']} order, G = "
                  f"{xb['group']}, ADC cap {xb['cap'] if xb['cap'] is not None else 'none (lossless)'}.", ""]
        head += " crossbar: tokens | crossbar: sentences | capped columns |"
        rule += "---:|---:|---:|"
    lines += [head, rule]
    u = result.get("unpruned")
    rows = ([{"method": "unpruned", "sparsity": 0.0, **u}] if u else []) + result["rows"]
    for r in rows:
        line = (f"| {_label(r)} | {r['sparsity']:g} | {r['cosine_pruned']:.4f} | {r['cosine_pruned_pooled']:.4f} |"
                f" {100 * r['retrieval']:.1f}% |") if "retrieval" in r else \
            f"| {_label(r)} | {r['sparsity']:g} | {r['cosine_pruned']:.4f} | {r['cosine_pruned_pooled']:.4f} | |"
        if energy:
            line += f" {r['energy_pj'] / 1000:.1f} | {100 * r['reduction_vs_dense']:.2f}% |"
        if xb:
            line += f" {r['cosine_crossbar']:.4f} | {r['cosine_crossbar_pooled']:.4f} | {r['capped_columns']} |"
        lines.append(line)
    lines += ["", "`tokens`: cosine of each real token's hidden state; `sentences`: cosine of the mean-pooled "
              "sentence embedding; `retrieval`: sentences whose nearest neighbour is their paraphrase."]
    if result.get("unrelated_sentence_cosine") is not None:
        lines[-1] += (f" Two different sentences of the set have a mean sentence cosine of "
                      f"{result['unrelated_sentence_cosine']:.3f} in the unpruned model: a value near that "
                      f"means the embedding is lost.")
    return "\n".join(lines) + "\n"


def plot_front(result: dict, path: str) -> None:
    """Energy against token cosine, one line per method through its sparsities (matplotlib, PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    labels = list(dict.fromkeys(_label(r) for r in result["rows"]))
    for label in labels:
        rows = sorted((r for r in result["rows"] if _label(r) == label), key=lambda r: r["sparsity"])
        ax.plot([r["energy_pj"] / 1000 for r in rows], [r["cosine_pruned"] for r in rows], "o-", label=label)
        for r in rows:
            ax.annotate(f"{r['sparsity']:g}", (r["energy_pj"] / 1000, r["cosine_pruned"]), fontsize=7,
                        textcoords="offset points", xytext=(3, 3))
    u = result.get("unpruned")
    if u:
        ax.plot([u["energy_pj"] / 1000], [1.0], "k*", label="unpruned")
    ax.axhline(0.95, color="grey", lw=0.6, ls=":")
    ax.axhline(0.85, color="grey", lw=0.6, ls=":")
    ax.set_xlabel(f"SWS ADC energy per token, nJ (law {result['law']})")
    ax.set_ylabel("token cosine vs unpruned int8")
    ax.set_title("MiniLM: energy against fidelity (labels: sparsity)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def fidelity_to_folder(sparsities, out: str, *, methods=("magnitude",), adc_trade: float | None = None,
                       crossbar: ArrayConfig | None = None, energy: ArrayConfig | None = ArrayConfig(),
                       calibration_path: str = CALIBRATION_PATH, model_spec: str | None = None,
                       progress=None) -> dict:
    """MiniLM's fidelity at each sparsity (`minilm_fidelity`), written as fidelity.json, fidelity.md and (with
    energies and matplotlib) front.png into `out`, whole or not at all."""
    sparsities = tuple(check_sparsity(s) for s in sparsities)
    for m in methods:
        check_method(m)
    check_output_folder(out)
    result = minilm_fidelity(sparsities, methods=methods, adc_trade=adc_trade, crossbar=crossbar, energy=energy,
                             calibration_path=calibration_path, model_spec=model_spec, progress=progress)
    with atomic_dir(out) as tmp:
        write_text(os.path.join(tmp, "fidelity.json"), dumps_json(result, indent=1) + "\n")
        write_text(os.path.join(tmp, "fidelity.md"), fidelity_markdown(result))
        if energy is not None and result["rows"]:
            try:
                plot_front(result, os.path.join(tmp, "front.png"))
            except ImportError:
                pass  # matplotlib is optional: the table has the same numbers
    return result
