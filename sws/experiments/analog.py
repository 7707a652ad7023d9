"""MiniLM through analog crossbars (mapper.analog): every weight MatMul computed as the mapped crossbars compute
it with device and ADC noise, layer by layer (sws.experiments.fidelity.crossbar_outputs), Monte Carlo over
chip instances, for several mapping plans, sparsities and noise levels.

The measures, against the unpruned float model (int8 weights, float activations) on the shipped sentences:
token cosine of last_hidden_state over the evaluation sentences' real tokens, and paraphrase retrieval on the
shipped pairs. The evaluation and paraphrase sentences go through the crossbars as one batch (one input scale
per layer over all their real tokens).
"""

from __future__ import annotations

import dataclasses
import os
import time

import numpy as np

from mapper.analog import AnalogRun, analog_matvec
from mapper.analog import fine_energy_pj
from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.common import atomic_dir, dumps_json, write_text
from mapper.job import check_output_folder
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
from mapper.prepare import check_sparsity

from .fidelity import crossbar_outputs, masked_cosine, model_energy
from .pruning import (CALIBRATION_PATH, PARAPHRASES_PATH, layer_weights, pooled_embeddings, prune_model,
                      retrieval_accuracy, retrieval_ranking)
from .runtime import initializers
from .runtime import TOKENS_PATH, load_token_sequences, minilm_model, run_model, token_feeds

__all__ = ["PLANS", "plan_config", "minilm_analog", "analog_markdown", "analog_to_folder", "plot_analog",
           "remedy_label", "plot_studies"]

#: The mapping plans compared: SWS (sorted, each column at its need), the same without sorting, the classic
#: dense design (natural order, every column at full resolution), and the objective's choice on MiniLM
#: (docs/results/objective.md, "The bipolar drive": G = 1, gray order, bipolar drive, input-aware, one wordline
#: a slot on 33 of 36 layers at 30% and 32 at 0%; here on every layer, its drive replacing the base's).
PLANS = {"sws": {"ordering": "sorted", "policy": "column"}, "natural": {"ordering": "natural", "policy": "column"},
         "dense": {"ordering": "natural", "policy": "dense"},
         "objective": {"ordering": "gray", "policy": "column", "group": 1, "input_encoding": "bipolar",
                       "input_aware": True, "wordline_slots": 1}}


def plan_config(base: ArrayConfig, plan: str) -> ArrayConfig:
    if plan not in PLANS:
        raise SwsError(f"--plans: expected comma-separated plans of {', '.join(PLANS)}, not {plan!r}")
    return base.replace(**PLANS[plan], sectioning="plain", section_cost_pj=0.0)


def _spread(values: list[float]) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values, ddof=1)) if len(values) > 1 else 0.0,
            "per_seed": [float(v) for v in values]}


def minilm_analog(run: AnalogRun, *, sparsities=(0.0,), plans=("sws", "dense"), seeds: int = 3,
                  noise_scales=(1.0,), method: str = "sparsegpt", base: ArrayConfig = ArrayConfig(),
                  calibration_path: str = CALIBRATION_PATH, retrieval: bool = True, tokens_path: str = TOKENS_PATH,
                  energy: bool = True, progress=None) -> dict:
    """Token cosine and paraphrase retrieval of MiniLM through the analog crossbars.

    Parameters
    ----------
    run : the device model, read time and drift compensation.
    sparsities : pruned one-shot by `method` (sparsegpt calibrates on `calibration_path`).
    plans : of PLANS, each mapped from `base` (its hardware and energy model).
    seeds : chip instances per point (seed s draws layer i's chip from (s * 1000 + i)).
    noise_scales : every noise std of the device and ADC times each of these (DeviceModel.scaled).
    retrieval : also run the paraphrase sentences through the crossbars (3x the tokens) for retrieval.
    tokens_path : the evaluation sentences (default the shipped ones).
    energy : price each plan's ADC energy (mapper.report over the 36 layers; False: 0, for tests).

    Returns
    -------
    dict with `rows`: one per sparsity, plan and noise scale, with the digital crossbar's cosine and retrieval
    (ideal analog), the analog ones (mean, std, per seed), and the plan's ADC energy per token.
    """
    sparsities = tuple(check_sparsity(s) for s in sparsities)
    for p in plans:
        plan_config(base, p)
    model, linears = minilm_model()
    ev, para = load_token_sequences(tokens_path), load_token_sequences(PARAPHRASES_PATH)
    feeds = token_feeds(ev + para if retrieval else ev)
    mask = feeds["attention_mask"]
    ne = len(ev)
    (reference,) = run_model(model, feeds, ["last_hidden_state"])

    def measure(y):
        """Token cosine, retrieval accuracy and its margin and rank (retrieval_ranking; None without retrieval)."""
        if not retrieval:
            return masked_cosine(y[:ne], reference[:ne], mask[:ne]), None, None
        emb = pooled_embeddings(y[ne:], mask[ne:])
        return masked_cosine(y[:ne], reference[:ne], mask[:ne]), retrieval_accuracy(emb), retrieval_ranking(emb)

    calib = None
    if method != "magnitude" and any(s > 0 for s in sparsities):
        calib = token_feeds(load_token_sequences(calibration_path))
    rows = []
    jobs = len(sparsities) * len(plans) * (1 + len(noise_scales) * seeds)
    done = 0
    start = time.time()

    def tick(what):
        nonlocal done
        done += 1
        if progress:
            progress(done - 1, jobs, f"{what} ({time.time() - start:.0f} s)")

    for s in sparsities:
        pm = model if s == 0 else prune_model(model, linears, s, method, calibration=calib)
        for plan in plans:
            cfg = plan_config(base, plan)
            tick(f"sparsity {s:g}, {plan}: digital crossbar")
            y, _ = crossbar_outputs(pm, linears, feeds, mask, cfg, "last_hidden_state")
            cos_d, ret_d, rank_d = measure(y)
            energy_pj = model_energy(pm, linears, cfg)["energy_pj"] if energy else 0.0
            extra = 0.0
            if run.fine_bits and energy:
                inits = initializers(pm)
                extra = sum(fine_energy_pj(map_layer(QuantLayer(lin.name, layer_weights(inits, lin)[0].astype(np.int64)),
                                                     cfg), run.fine_bits, run.fine_extra) for lin in linears)
            for scale in noise_scales:
                dev = run.device.scaled(scale) if scale != 1.0 else run.device
                r = dataclasses.replace(run, device=dev)
                cos, ret, ranks = [], [], []
                for seed in range(seeds):
                    tick(f"sparsity {s:g}, {plan}, noise x{scale:g}, seed {seed}")
                    mv = lambda lm, x, i, seed=seed: analog_matvec(lm, x, r, seed * 1000 + i)
                    y, _ = crossbar_outputs(pm, linears, feeds, mask, cfg, "last_hidden_state", matvec=mv)
                    c, q, k = measure(y)
                    cos.append(c)
                    ret.append(q)
                    ranks.append(k)
                rows.append({"sparsity": s, "plan": plan, "noise_scale": scale, "energy_pj": energy_pj + extra,
                             "remedy_energy_pj": extra,
                             "cosine_digital": cos_d, "retrieval_digital": ret_d,
                             "cosine": _spread(cos), "retrieval": _spread(ret) if retrieval else None,
                             **({"retrieval_margin_digital": rank_d["margin"], "retrieval_rank_digital": rank_d["rank"],
                                 "retrieval_margin": _spread([k["margin"] for k in ranks]),
                                 "retrieval_rank": _spread([k["rank"] for k in ranks])} if retrieval else {})})
    cos_u, ret_u, rank_u = measure(reference)
    return {"source": "minilm", "output": "last_hidden_state", "method": method, "seeds": seeds,
            "device": run.device.to_dict(), "drift_time_s": run.drift_time_s, "compensation": run.compensation,
            "fine_bits": run.fine_bits, "leak_correction": run.leak_correction, "redundancy": run.redundancy, "fine_extra": run.fine_extra,
            "analog": run.describe(),
            "config": base.to_dict(), "tokens": int(mask[:ne].sum()), "paraphrase_pairs": len(para) // 2,
            "unpruned_retrieval": ret_u, "unpruned_cosine": cos_u, "retrieval": retrieval,
            **({"unpruned_retrieval_margin": rank_u["margin"], "unpruned_retrieval_rank": rank_u["rank"]}
               if retrieval else {}),
            "token_scale": "one input scale per layer over " + ("the evaluation and paraphrase tokens" if retrieval
                                                                 else "the evaluation tokens"), "rows": rows}


def analog_markdown(result: dict) -> str:
    comp = "with" if result["compensation"] else "without"
    lines = [f"# MiniLM through analog crossbars: {result['device']['name']}", "",
             f"{result['analog']}; pruning "
             f"{result['method']}; {result['seeds']} chip instances per point (mean +- std). Token cosine of "
             f"last_hidden_state against the unpruned float model over {result['tokens']} real tokens"
             + (f"; paraphrase retrieval on {result['paraphrase_pairs']} pairs (unpruned: "
                f"{100 * result['unpruned_retrieval']:.1f}%)." if result["retrieval"] else "."),
             "", "| sparsity | plan | noise x | ADC energy nJ/token | digital cosine | analog cosine | digital retrieval "
             "| analog retrieval |", "|---:|---|---:|---:|---:|---:|---:|---:|"]
    if result["retrieval"] and "unpruned_retrieval_margin" in result:
        lines[2:2] = [f"Retrieval margin: the own paraphrase's cosine less the nearest other sentence's, mean over the "
                      f"sentences (unpruned: {result['unpruned_retrieval_margin']:.4f}); own rank: its mean rank "
                      f"among the other sentences (1 = nearest).", ""]
    for r in result["rows"]:
        ret = (f"{100 * r['retrieval_digital']:.1f}% | {100 * r['retrieval']['mean']:.1f}% +- "
               f"{100 * r['retrieval']['std']:.1f}%" if r["retrieval"] else "- | -")
        if r.get("retrieval_margin"):
            ret = (f"{100 * r['retrieval_digital']:.1f}% (margin {r['retrieval_margin_digital']:.4f}) | "
                   f"{100 * r['retrieval']['mean']:.1f}% +- {100 * r['retrieval']['std']:.1f}% (margin "
                   f"{r['retrieval_margin']['mean']:.4f} +- {r['retrieval_margin']['std']:.4f}, own rank "
                   f"{r['retrieval_rank']['mean']:.2f})")
        lines.append(f"| {r['sparsity']:g} | {r['plan']} | {r['noise_scale']:g} | {r['energy_pj'] / 1000:.1f} | "
                     f"{r['cosine_digital']:.4f} | {r['cosine']['mean']:.4f} +- {r['cosine']['std']:.4f} | {ret} |")
    return "\n".join(lines) + "\n"


def plot_analog(result: dict, path: str) -> None:
    """Token cosine against noise scale, one line per plan and sparsity, error bars the seeds' std."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys_plot = ("cosine", "retrieval") if result["retrieval"] else ("cosine",)
    fig, axes = plt.subplots(1, len(keys_plot), figsize=(5 * len(keys_plot), 4), squeeze=False)
    axes = axes[0]
    keys = list(dict.fromkeys((r["plan"], r["sparsity"]) for r in result["rows"]))
    for plan, s in keys:
        rs = sorted((r for r in result["rows"] if (r["plan"], r["sparsity"]) == (plan, s)),
                    key=lambda r: r["noise_scale"])
        xs = [r["noise_scale"] for r in rs]
        for ax, key in zip(axes, keys_plot):
            ax.errorbar(xs, [r[key]["mean"] for r in rs], yerr=[r[key]["std"] for r in rs], marker="o",
                        capsize=3, label=f"{plan}, sparsity {s:g}")
    axes[0].axhline(0.95, color="grey", lw=0.6, ls=":")
    axes[0].set_ylabel("token cosine vs unpruned float")
    if len(axes) > 1:
        axes[1].set_ylabel("paraphrase retrieval")
    for ax in axes:
        ax.set_xlabel(f"noise scale ({result['device']['name']} = 1)")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(f"MiniLM, {result['device']['name']}, read at {result['drift_time_s']:g} s, "
                 f"{result['seeds']} chips per point")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def analog_to_folder(run: AnalogRun, out: str, **kwargs) -> dict:
    """`minilm_analog` written as analog.json, analog.md and analog.png into `out`, whole or not at all."""
    check_output_folder(out)
    result = minilm_analog(run, **kwargs)
    with atomic_dir(out) as tmp:
        write_text(os.path.join(tmp, "analog.json"), dumps_json(result, indent=1) + "\n")
        write_text(os.path.join(tmp, "analog.md"), analog_markdown(result))
        try:
            plot_analog(result, os.path.join(tmp, "analog.png"))
        except ImportError:
            pass   # matplotlib is optional: the table has the same numbers
    return result


def remedy_label(result: dict) -> str:
    parts = []
    rows = result.get("config", {}).get("hardware", {}).get("rows", 128)
    if rows != 128:
        parts.append(f"{rows}-row sections")
    hw = result.get("config", {}).get("hardware", {})
    if hw.get("input_encoding", "twos") != "twos":
        parts.append(f"{hw['input_encoding']} drive")
    if hw.get("input_aware"):
        parts.append("input-aware")
    if result.get("fine_bits"):
        parts.append(f"+{result.get('fine_extra', 1)} ADC bit{'s' if result.get('fine_extra', 1) > 1 else ''} on top "
                     f"{result['fine_bits']} bits")
    if result.get("leak_correction"):
        parts.append("leak correction")
    if result.get("redundancy", 1) > 1:
        parts.append(f"{result['redundancy']} cells per bit")
    return ", ".join(parts) or "no remedy"


def plot_studies(results: list[dict], path: str) -> None:
    """Token cosine against noise scale from several `minilm_analog` results (e.g. with and without a remedy):
    one line per plan, sparsity and remedy, error bars the chips' std (matplotlib, PNG)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    lines = {}
    for res in results:
        for r in res["rows"]:
            lines.setdefault((r["plan"], r["sparsity"], remedy_label(res)), []).append(r)
    digital = {(r["plan"], r["sparsity"]): r["cosine_digital"] for res in results for r in res["rows"]}
    for k, ax in enumerate(axes):   # the whole range, then a zoom on the goal's 0.95
        for (plan, s, remedy), rs in sorted(lines.items()):
            rs = sorted(rs, key=lambda r: r["noise_scale"])
            ax.errorbar([r["noise_scale"] for r in rs], [r["cosine"]["mean"] for r in rs],
                        yerr=[r["cosine"]["std"] for r in rs], marker="o" if plan == "sws" else "s", capsize=3,
                        ls="-" if remedy == "no remedy" else "--", label=f"{plan}, sparsity {s:g}, {remedy}")
        for c in set(digital.values()):
            ax.axhline(c, color="grey", lw=0.6, ls=":")
        ax.axhline(0.95, color="red", lw=0.6, ls=":")
        ax.set_xscale("log")
        ax.set_xlabel(f"noise scale (x every noise std of the {results[0]['device']['name']} preset)")
        ax.grid(alpha=0.3)
        if k:
            ax.set_ylim(0.9, 0.97)
            ax.set_title("zoom (dotted grey: ideal crossbars; red: 0.95)", fontsize=9)
        else:
            ax.set_ylabel("token cosine vs unpruned float model")
            ax.set_title(f"MiniLM through analog crossbars, read {results[0]['drift_time_s']:g} s after programming",
                         fontsize=9)
            ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
