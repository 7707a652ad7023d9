"""Input-aware ADC resolution on real activations: every MiniLM weight MatMul, its captured inputs, each
input encoding, weight-only and input-aware planning, under every energy law (mapper.cost.input_aware)."""

from __future__ import annotations

import os

import numpy as np

from mapper.config import LAWS, ArrayConfig
from mapper.config import energy_table
from mapper.common import atomic_dir, dumps_json, write_text
from mapper.cost import (ANALYSIS_ENCODINGS, bounded_cost, macro_energy, section_membership, step_bits, step_bounds,
                         weight_only_cost)
from mapper.job import check_output_folder
from mapper.cost import dense_config, macro_cost, macro_of
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
from mapper.prepare import check_sparsity

__all__ = ["study", "study_markdown", "study_to_folder", "SPARSITIES"]

SPARSITIES = (0.0, 0.5, 0.9)


def _without_adc(m) -> float:
    return m.energy_pj - m.energy["adc"]


def _laws(laws):
    return tuple(l for l in (laws or LAWS) if l != "table")


def study(layers_by_sparsity: dict, cfg: ArrayConfig, *, laws=None, encodings=ANALYSIS_ENCODINGS,
          progress=None) -> dict:
    """Energy and ADC cycles per input vector (token), summed over the layers, for each sparsity, law,
    encoding and planning (`weight-only`, `skip-only`: empty steps skipped, `input-aware`).

    `layers_by_sparsity` maps a sparsity to its layers (objects with layer, x (V, K), w (K, N)).
    References: `dense` (two's complement, natural order, every column at full resolution, the classic
    design) and `weight-only twos` (plain SWS as published). Histograms: per encoding and step index,
    how many section-steps drove q = 0..R rows, over all layers and tokens (sparsity 0).
    """
    laws = _laws(laws)
    constants = macro_of(cfg)
    top = cfg.hw.full_resolution + 1
    tables = {law: energy_table(cfg.replace(law=law), top) for law in laws}
    rows, hists = [], {}
    todo = sum(len(v) for v in layers_by_sparsity.values())
    done = 0
    for sparsity, layers in layers_by_sparsity.items():
        acc: dict = {}

        def add(key, values):
            tot = acc.setdefault(key, {})
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    tot[k] = tot.get(k, 0.0) + float(v)

        for layer in layers:
            if progress:
                progress(done, todo, f"sparsity {sparsity:g}: {layer.layer}")
            done += 1
            q_layer = QuantLayer(layer.layer, layer.w)
            lm = map_layer(q_layer, cfg)
            dense = map_layer(q_layer, dense_config(cfg))
            natural = map_layer(q_layer, cfg.replace(ordering="natural"))
            member = section_membership(lm)
            # Buffers, input register and tables: the same whatever the drive (mapper.cost.macro).
            parts = macro_cost(lm, cycles=False).energy
            fixed = sum(parts[k] for k in ("input_buffer", "input_register", "output_buffer", "tables"))
            # The references' whole macro but the ADCs (law-independent), and each law's ADC energy.
            dense_rest = _without_adc(macro_cost(dense, tables=False, cycles=False))
            natural_rest = _without_adc(macro_cost(natural, cycles=False))
            for law, e in tables.items():
                d = weight_only_cost(dense, "twos", e)
                d["macro_energy_pj"] = dense_rest + d["energy_pj"]
                add(("dense", law, "twos"), d)
                nat = weight_only_cost(natural, "twos", e)
                nat["macro_energy_pj"] = natural_rest + nat["energy_pj"]
                add(("natural weight-only", law, "twos"), nat)
            for enc in encodings:
                q = step_bounds(lm, layer.x, enc, membership=member)
                if sparsity == min(layers_by_sparsity):
                    h = hists.setdefault(enc, np.zeros((q.shape[1], cfg.hw.rows + 1), np.int64))
                    for p in range(q.shape[1]):
                        h[p] += np.bincount(q[:, p, :].reshape(-1), minlength=cfg.hw.rows + 1)
                bits = step_bits(lm, enc == "bipolar")
                for law, e in tables.items():
                    c = bounded_cost(lm, q, e, bipolar=enc == "bipolar", bits=bits)
                    c["macro_energy_pj"] = macro_energy(fixed, c, constants, cfg.hw.wordline_columns)
                    add(("input-aware", law, enc), c)
                    add(("skip-only", law, enc), {"energy_pj": c["skip_only_energy_pj"]})
                    wo = weight_only_cost(lm, enc, e)
                    wo["macro_energy_pj"] = macro_energy(fixed, wo, constants, cfg.hw.wordline_columns)
                    add(("weight-only", law, enc), wo)
        for (mode, law, enc), tot in acc.items():
            dense, base = acc[("dense", law, "twos")], acc[("weight-only", law, "twos")]
            row = {"sparsity": sparsity, "law": law, "encoding": enc, "planning": mode, **tot,
                   "reduction_vs_dense": 1 - tot["energy_pj"] / dense["energy_pj"],
                   "reduction_vs_weight_only": 1 - tot["energy_pj"] / base["energy_pj"]}
            if "macro_energy_pj" in tot:
                row["macro_reduction_vs_dense"] = 1 - tot["macro_energy_pj"] / dense["macro_energy_pj"]
                row["macro_reduction_vs_weight_only"] = 1 - tot["macro_energy_pj"] / base["macro_energy_pj"]
            rows.append(row)
    if progress:
        progress(todo, todo, "done")
    return {"config": cfg.to_dict(), "sparsities": list(layers_by_sparsity), "laws": list(laws),
            "encodings": list(encodings), "layers": [l.layer for l in next(iter(layers_by_sparsity.values()))],
            "tokens": int(len(next(iter(layers_by_sparsity.values()))[0].x)), "rows": rows,
            "popcount_histogram": {enc: h.tolist() for enc, h in hists.items()}}


def find(result: dict, **match) -> dict:
    for r in result["rows"]:
        if all(r.get(k) == v for k, v in match.items()):
            return r
    raise KeyError(match)


def study_markdown(result: dict) -> str:
    hw = result["config"]["hardware"]
    lines = [f"# Input-aware ADC resolution: {len(result['layers'])} layers, {result['tokens']} real tokens", "",
             f"R = {hw['rows']}, {hw['n_adc']} ADCs, {result['config']['mapping']['ordering']} order, "
             f"G = {hw['group']}; per token, summed over the layers; inputs quantized per layer to "
             f"{hw['input_bits']}-bit signed integers. `dense`: two's complement, natural order, every column "
             "at full resolution. `weight-only twos`: plain SWS. `skip-only`: steps whose section drives no "
             "row skipped, planned resolutions kept. `input-aware`: each conversion at "
             "min(res, bitlen(min(m, q))). ADC cycles: the batch schedule of the conversions.", ""]
    for law in result["laws"]:
        lines += [f"## Energy law `{law}`", "",
                  "| sparsity | encoding | planning | ADC energy nJ | vs dense | vs weight-only twos | "
                  "macro nJ | macro vs dense | macro vs weight-only twos | conversions | ADC cycles |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for s in result["sparsities"]:
            dense = find(result, sparsity=s, law=law, planning="dense")
            lines.append(f"| {s:g} | twos | dense | {dense['energy_pj'] / 1e3:.1f} | - | - | "
                         f"{dense['macro_energy_pj'] / 1e3:.1f} | - | - | "
                         f"{dense['conversions']:.0f} | {dense['adc_cycles']:.0f} |")
            for enc in result["encodings"]:
                for mode in ("weight-only", "skip-only", "input-aware"):
                    r = find(result, sparsity=s, law=law, encoding=enc, planning=mode)
                    conv = f"{r['conversions']:.0f}" if "conversions" in r else "-"
                    cyc = f"{r['adc_cycles']:.0f}" if "adc_cycles" in r else "-"
                    macro = (f"{r['macro_energy_pj'] / 1e3:.1f} | {100 * r['macro_reduction_vs_dense']:.1f}% | "
                             f"{100 * r['macro_reduction_vs_weight_only']:.1f}%") if "macro_energy_pj" in r \
                        else "- | - | -"
                    lines.append(f"| {s:g} | {enc} | {mode} | {r['energy_pj'] / 1e3:.1f} | "
                                 f"{100 * r['reduction_vs_dense']:.1f}% | {100 * r['reduction_vs_weight_only']:.1f}% | "
                                 f"{macro} | {conv} | {cyc} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot_study(result: dict, folder: str) -> list[str]:
    """Two plots: the per-step popcount distribution, and where the saving comes from."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    hists = result["popcount_histogram"]
    fig, axes = plt.subplots(1, len(hists), figsize=(5 * len(hists), 3.6), squeeze=False)
    for ax, (enc, h) in zip(axes[0], hists.items()):
        h = np.asarray(h, float)
        frac_empty = h[:, 0] / h.sum(axis=1)
        mean_q = (h * np.arange(h.shape[1])).sum(axis=1) / h.sum(axis=1)
        steps = np.arange(len(h))
        ax.bar(steps, mean_q, color="#4c72b0", label="mean driven rows q")
        ax2 = ax.twinx()
        passes = np.split(steps, 2) if enc == "signmag" else [steps]   # one line per pass
        for part in passes:
            ax2.plot(part, 100 * frac_empty[part], "o-", color="#dd8452")
        ax2.set_ylim(0, 100)
        ax.set_title(f"{enc}: driven rows per section and step")
        ax.set_xlabel("drive step (signmag: 0-6 positive, 7-13 negative pass)" if enc == "signmag" else "drive step")
        ax.set_ylabel("mean q")
        ax2.set_ylabel("% skipped")
    fig.tight_layout()
    paths.append(os.path.join(folder, "popcount_per_step.png"))
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    law = result["laws"][0] if "isaac" not in result["laws"] else "isaac"
    fig, ax = plt.subplots(figsize=(7, 3.8))
    labels, bottoms = [], []
    width = 0.25
    for i, enc in enumerate(result["encodings"]):
        vals = []
        for s in result["sparsities"]:
            dense = find(result, sparsity=s, law=law, planning="dense")["energy_pj"]
            wo = find(result, sparsity=s, law=law, encoding=enc, planning="weight-only")["energy_pj"]
            sk = find(result, sparsity=s, law=law, encoding=enc, planning="skip-only")["energy_pj"]
            ia = find(result, sparsity=s, law=law, encoding=enc, planning="input-aware")["energy_pj"]
            vals.append((ia / dense, (sk - ia) / dense, (wo - sk) / dense))
        vals = np.asarray(vals)
        x = np.arange(len(result["sparsities"])) + (i - 1) * width
        ax.bar(x, vals[:, 0], width, color="#4c72b0", label="input-aware energy" if i == 0 else None)
        ax.bar(x, vals[:, 1], width, bottom=vals[:, 0], color="#55a868",
               label="saved by lower resolutions" if i == 0 else None)
        ax.bar(x, vals[:, 2], width, bottom=vals[:, 0] + vals[:, 1], color="#c44e52",
               label="saved by skipped steps" if i == 0 else None)
        for xx in x:
            ax.text(xx, 0.005, enc[:4], ha="center", va="bottom", fontsize=7, rotation=90, color="white")
    ax.set_xticks(np.arange(len(result["sparsities"])), [f"sparsity {s:g}" for s in result["sparsities"]])
    ax.set_ylabel("ADC energy / dense")
    ax.set_title(f"Where the input-aware saving comes from (ADC model {law})\nbars per sparsity: twos, signmag, bipolar")
    ax.legend(fontsize=8)
    fig.tight_layout()
    paths.append(os.path.join(folder, "input_aware_saving.png"))
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)
    return paths


def study_to_folder(out: str, cfg: ArrayConfig, *, sparsities=SPARSITIES, laws=None, max_sequences=None,
                    plots: bool = True, model_spec: str | None = None, progress=None) -> dict:
    """Capture MiniLM's activations at each sparsity, run the study and write input_aware.md, .json and
    the plots into `out`, whole or not at all."""
    from .minilm_inputs import capture_layers

    sparsities = tuple(check_sparsity(s) for s in sparsities)
    check_output_folder(out)
    layers = {s: capture_layers(s, input_bits=cfg.hw.input_bits, max_sequences=max_sequences, model_spec=model_spec)
              for s in sparsities}
    result = study(layers, cfg, laws=laws, progress=progress)
    with atomic_dir(out) as tmp:
        write_text(os.path.join(tmp, "input_aware.json"), dumps_json(result, what="the study", indent=1) + "\n")
        write_text(os.path.join(tmp, "input_aware.md"), study_markdown(result))
        if plots:
            result["plots"] = [os.path.basename(p) for p in plot_study(result, tmp)]
    return result
