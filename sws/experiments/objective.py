"""MiniLM's energy against dense, step by step (docs/results/minilm-objective.md): the classic dense design,
natural order, SWS as published, and the objective's choice of each layer's design, on the model pruned to
each sparsity, with its 36 weight MatMuls' actual inputs (captured on the shipped sentences) for the
input-aware designs. Each step adds one thing, so the table says which part of the saving comes from what:
sorting, the group G, segmented wordlines, the input encoding and input-aware resolution, and pruning
(the same step at another sparsity)."""

from __future__ import annotations

from collections import Counter

from mapper.config import ArrayConfig
from mapper.cost import dense_group, map_layers, report_dict
from mapper.sources import QuantLayer

__all__ = ["STEPS", "SPARSITIES", "study", "study_markdown", "plot_study"]

SPARSITIES = (0.0, 0.3, 0.5, 0.9)


BIPOLAR = "input_encoding=twos,signmag,bipolar"


def _steps(cfg: ArrayConfig, bipolar: bool = False) -> list[tuple[str, dict]]:
    """(label, map_layers options) of each step; each adds one thing to the one before (but `published`);
    `bipolar`: two more, the objectives with the bipolar drive (which the RTL does not build) in the space."""
    wide = dense_group(cfg)
    plain = dict(wordline_slots=0, input_aware=False, input_encoding="twos", sectioning="plain")
    return [
        ("natural order, G = %d (adaptive resolution, no sorting)" % wide,
         {"cfg": cfg.replace(ordering="natural", group=wide)}),
        ("sorted, G = %d" % wide, {"cfg": cfg.replace(ordering="sorted", group=wide)}),
        ("SWS as published: sorted, G = 1", {"cfg": cfg.replace(ordering="sorted", group=1)}),
        ("+ G and ordering per layer", {"objective": "macro", "fixed": dict(plain)}),
        ("+ segmented wordlines", {"objective": "macro", "fixed": {k: v for k, v in plain.items()
                                                                  if k != "wordline_slots"}}),
        ("+ encoding and input-aware resolution (the objective's choice)", {"objective": "macro", "inputs": True}),
        ("objective adc (lowest ADC energy)", {"objective": "adc", "inputs": True}),
    ] + ([("+ the bipolar drive (no RTL yet)", {"objective": "macro", "inputs": True, "search": BIPOLAR}),
          ("objective adc with the bipolar drive (no RTL yet)", {"objective": "adc", "inputs": True,
                                                                 "search": BIPOLAR})] if bipolar else [])


STEPS = [label for label, _ in _steps(ArrayConfig(), bipolar=True)]


def study(layers_by_sparsity: dict, cfg: ArrayConfig = ArrayConfig(), progress=None, bipolar: bool = False) -> dict:
    """Totals per token over the layers for each sparsity and step. `layers_by_sparsity` maps a sparsity to its
    layers (objects with layer, x (V, K), w (K, N): sws.experiments.minilm_inputs.capture_layers)."""
    rows = []
    steps = _steps(cfg, bipolar)
    todo, done = len(layers_by_sparsity) * len(steps), 0
    for sparsity, captured in layers_by_sparsity.items():
        layers = [QuantLayer(c.layer, c.w) for c in captured]
        inputs = {c.layer: c.x for c in captured}
        for label, opt in steps:
            if progress:
                progress(done, todo, f"sparsity {sparsity:g}: {label}")
            done += 1
            c = opt.get("cfg", cfg)
            results = map_layers(layers, c, inputs=inputs if opt.get("inputs") else None,
                                 objective=opt.get("objective"), fixed=opt.get("fixed"), search=opt.get("search"))
            report = report_dict(results, c, source="minilm", sparsity=sparsity)
            t = report["total"]
            choices = Counter(tuple(row["choice"][k] for k in ("group", "ordering", "input_encoding", "input_aware",
                                                               "wordline_slots"))
                              for row in report["layers"] if "choice" in row)
            rows.append({"sparsity": sparsity, "step": label, "energy_pj": t["energy_pj"],
                         "dense_energy_pj": t["dense_energy_pj"], "reduction_vs_dense": t["reduction_vs_dense"],
                         "macro_energy_pj": t["macro_energy_pj"], "dense_macro_energy_pj": t["dense_macro_energy_pj"],
                         "macro_reduction_vs_dense": t["macro_reduction_vs_dense"],
                         "macro_breakdown_pj": t["macro_breakdown_pj"],
                         "dense_macro_breakdown_pj": None, "cycles_per_vector": t["cycles_per_vector"],
                         "area_um2": t["area_um2"], "dense_area_um2": t["dense_area_um2"],
                         "sparsity_achieved": t["sparsity"],
                         "choices": [{"group": k[0], "ordering": k[1], "input_encoding": k[2], "input_aware": k[3],
                                      "wordline_slots": k[4], "layers": n} for k, n in choices.most_common()],
                         "layers": [{"name": row["name"], "energy_pj": row["energy_pj"],
                                     "macro_energy_pj": row["macro_energy_pj"],
                                     "choice": row.get("choice"), "runner_up": row.get("runner_up")}
                                    for row in report["layers"]]})
    if progress:
        progress(todo, todo, "done")
    return {"config": cfg.to_dict(), "sparsities": list(layers_by_sparsity), "steps": [s for s, _ in steps],
            "rows": rows}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def study_markdown(result: dict) -> str:
    """One table per sparsity: each step's ADC and whole-macro energy per token and its reduction vs dense."""
    out = []
    for s in result["sparsities"]:
        rows = [r for r in result["rows"] if r["sparsity"] == s]
        d = rows[0]
        out += [f"Sparsity {s:g} (achieved {d['sparsity_achieved']:.3f}): dense {d['dense_energy_pj'] / 1e3:.0f} nJ ADC, "
                f"{d['dense_macro_energy_pj'] / 1e3:.0f} nJ whole macro per token", "",
                "| step | ADC nJ | vs dense | macro nJ | vs dense | cycles | area mm2 | designs (layers) |",
                "|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in rows:
            designs = ", ".join(f"G{c['group']} {c['ordering']} {c['input_encoding']}"
                                f"{' aware' if c['input_aware'] else ''}{' wl' + str(c['wordline_slots']) if c['wordline_slots'] else ''}"
                                f" ({c['layers']})" for c in r["choices"][:4])
            out.append(f"| {r['step']} | {r['energy_pj'] / 1e3:.0f} | {_pct(r['reduction_vs_dense'])} | "
                       f"{r['macro_energy_pj'] / 1e3:.0f} | {_pct(r['macro_reduction_vs_dense'])} | "
                       f"{r['cycles_per_vector']} | {r['area_um2'] / 1e6:.2f} | {designs or '-'} |")
        out.append("")
    return "\n".join(out)


def plot_study(result: dict, path: str) -> str:
    """Whole-macro and ADC energy relative to dense against sparsity, one line per step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, key, title in ((axes[0], "reduction_vs_dense", "ADC energy"),
                           (axes[1], "macro_reduction_vs_dense", "whole macro (isaac-32nm)")):
        for step in result["steps"]:
            rows = [r for r in result["rows"] if r["step"] == step]
            ax.plot([r["sparsity"] for r in rows], [100 * (1 - r[key]) for r in rows], marker="o", label=step)
        ax.axhline(100, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("sparsity")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("energy per token, % of the dense design")
    axes[1].legend(fontsize=7, loc="upper right")
    fig.suptitle("MiniLM, 36 layers, per token: each step adds one design choice")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
