"""The pruning front of MiniLM: one-shot pruning (sws.experiments.pruning) against the models `sws prune`
distilled, in fidelity and in SWS energy, at the same sparsities (benchmarks/bench_distill.py).

Each model is measured as `sws fidelity` measures it, against the shipped unpruned int8 model: token and
sentence cosine of last_hidden_state on the evaluation sentences, paraphrase retrieval, and the SWS report's
ADC energy and whole-macro energy per token (mapper.report; ADC model and macro of the configuration,
isaac and the ISAAC macro by default) of its 36 int8 matrices as they stand.
"""

from __future__ import annotations

import os

import numpy as np

from mapper.config import ArrayConfig
from mapper.sources import QuantLayer
from mapper.cost import map_layers, report_dict

from .fidelity import masked_cosine, pooled_cosine
from .pruning import (CALIBRATION_PATH, PARAPHRASES_PATH, calibration_feeds, layer_weights, pooled_embeddings,
                      prune_model, retrieval_accuracy)
from .runtime import TOKENS_PATH, initializers, load_token_sequences, minilm_model, session, token_feeds

__all__ = ["measure_models", "front_markdown", "plot_distill_front"]


def _energy(model, linears, cfg: ArrayConfig) -> dict:
    inits = initializers(model)
    layers = [QuantLayer(lin.name, layer_weights(inits, lin)[0].astype(np.int64)) for lin in linears]
    t = report_dict(map_layers(layers, cfg), cfg, source="minilm", sparsity=0.0)["total"]
    return {"energy_pj": t["energy_pj"], "dense_energy_pj": t["dense_energy_pj"],
            "reduction_vs_dense": t["reduction_vs_dense"], "macro_energy_pj": t["macro_energy_pj"],
            "dense_macro_energy_pj": t["dense_macro_energy_pj"], "macro_reduction_vs_dense": t["macro_reduction_vs_dense"],
            "zeros": t["sparsity"]}


def measure_models(distilled: dict, sparsities, *, oneshot: str = "sparsegpt", cfg: ArrayConfig = ArrayConfig(),
                   save_oneshot: str | None = None, extra: dict | None = None, progress=None) -> dict:
    """Rows for the unpruned model, `oneshot` pruning at each sparsity, and each distilled model.

    distilled: sparsity -> ONNX path (or spec) of the model `sws prune` made for it.
    save_oneshot: a folder for the one-shot models (oneshot-<method>-sparseNN.onnx): read if there, else
        made and written.
    extra: label -> {sparsity: path} of more models to measure (other runs)."""
    model, linears = minilm_model()
    feeds = token_feeds(load_token_sequences(TOKENS_PATH))
    mask = feeds["attention_mask"]
    para = token_feeds(load_token_sequences(PARAPHRASES_PATH))
    (reference,) = session(model).run(["last_hidden_state"], feeds)

    def measure(m, lins) -> dict:
        sess = session(m)
        (y,) = sess.run(["last_hidden_state"], feeds)
        (yp,) = sess.run(["last_hidden_state"], para)
        return {"cosine_tokens": masked_cosine(y, reference, mask), "cosine_sentences": pooled_cosine(y, reference, mask),
                "retrieval": retrieval_accuracy(pooled_embeddings(yp, para["attention_mask"])), **_energy(m, lins, cfg)}

    extra = extra or {}
    jobs = [("unpruned", 0.0)] + [(oneshot, s) for s in sparsities] + [("distilled", s) for s in sparsities
                                                                        if s in distilled]
    jobs += [(label, s) for label, paths in extra.items() for s in sorted(paths)]
    calib = calibration_feeds(CALIBRATION_PATH) if oneshot != "magnitude" else None
    rows = []
    for i, (method, s) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), f"{method} {s:g}")
        if method == "unpruned":
            m, lins = model, linears
        elif method == "distilled":
            m, lins = minilm_model(distilled[s])
        elif method in extra:
            m, lins = minilm_model(extra[method][s])
        else:
            saved = os.path.join(save_oneshot, f"oneshot-{method}-sparse{round(100 * s)}.onnx") if save_oneshot else None
            if saved and os.path.isfile(saved):      # made by an earlier run: SparseGPT takes minutes a model
                m, lins = minilm_model(saved)
            else:
                m, lins = prune_model(model, linears, s, method, calibration=calib), linears
                if saved:
                    import onnx
                    os.makedirs(save_oneshot, exist_ok=True)
                    onnx.save(m, saved)
        rows.append({"method": method if method != oneshot else f"{oneshot} (one-shot)", "sparsity": s,
                     "model": distilled.get(s) if method == "distilled" else extra.get(method, {}).get(s),
                     **measure(m, lins)})
    cfgd = cfg.to_dict()
    return {"rows": rows, "tokens": int(mask.sum()), "sequences": len(mask), "paraphrase_pairs": len(para["input_ids"]) // 2,
            "config": cfgd, "law": cfgd.get("energy", {}).get("law")}


def front_markdown(result: dict) -> str:
    u = result["rows"][0]
    lines = ["| method | sparsity | zeros | tokens | sentences | retrieval | ADC nJ/token | ADC vs dense | ADC vs unpruned "
             "| macro nJ/token | macro vs dense | macro vs unpruned |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        lines.append(f"| {r['method']} | {r['sparsity']:g} | {100 * r['zeros']:.1f}% | {r['cosine_tokens']:.4f} | "
                     f"{r['cosine_sentences']:.4f} | {100 * r['retrieval']:.1f}% | {r['energy_pj'] / 1000:.1f} | "
                     f"{100 * r['reduction_vs_dense']:.1f}% | {100 * (1 - r['energy_pj'] / u['energy_pj']):.1f}% | "
                     f"{r['macro_energy_pj'] / 1000:.1f} | {100 * r['macro_reduction_vs_dense']:.1f}% | "
                     f"{100 * (1 - r['macro_energy_pj'] / u['macro_energy_pj']):.1f}% |")
    return "\n".join(lines) + "\n"


def plot_distill_front(result: dict, path: str) -> None:
    """ADC and macro energy per token against token cosine, one line per method (matplotlib, PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2), sharey=True)
    u = result["rows"][0]
    for ax, key, what in ((axes[0], "energy_pj", "SWS ADC energy"), (axes[1], "macro_energy_pj", "whole macro energy")):
        for method in dict.fromkeys(r["method"] for r in result["rows"][1:]):
            rows = sorted((r for r in result["rows"] if r["method"] == method), key=lambda r: r["sparsity"])
            ax.plot([r[key] / 1000 for r in rows], [r["cosine_tokens"] for r in rows], "o-", label=method)
            for r in rows:
                ax.annotate(f"{r['sparsity']:g}", (r[key] / 1000, r["cosine_tokens"]), fontsize=7,
                            textcoords="offset points", xytext=(3, 3))
        ax.plot([u[key] / 1000], [1.0], "k*", label="unpruned")
        ax.axhline(0.95, color="grey", lw=0.6, ls=":")
        ax.axhline(0.90, color="grey", lw=0.6, ls=":")
        ax.set_xlabel(f"{what} per token, nJ ({result['law']})")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("token cosine vs unpruned int8")
    axes[0].legend(fontsize=8)
    fig.suptitle("MiniLM: one-shot against distilled pruning (labels: sparsity)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
