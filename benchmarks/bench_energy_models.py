"""MiniLM under every ADC model, ADC-only and whole macro, and the section-cost Pareto front (README tables).

    python benchmarks/bench_energy_models.py [--out docs/results] [--sparsity 0.9]

Needs the minilm and plots extras. Writes OUT/minilm-energy-models.md, OUT/minilm-energy-models.json and
OUT/pareto_section_cost.png. About 10 minutes on 2 cores: each (law, plan) maps all 36 layers with their
natural and dense references; the optimal cuts depend on the law, so they are redone per law.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

LAWS = ("isaac", "neurosim", "murmann", "mnsim", "walden", "thermal")
PLANS = {"plain SWS (sorted, G=1)": {}, "gray, optimal cuts": {"ordering": "gray", "sectioning": "optimal"}}
SECTION_COSTS = (0.0, 0.05, 0.2, 1.0, 5.0, 20.0, 100.0)
KEYS = ("energy_pj", "dense_energy_pj", "natural_energy_pj", "reduction_vs_dense", "reduction_vs_natural",
        "macro_energy_pj", "dense_macro_energy_pj", "natural_macro_energy_pj", "macro_reduction_vs_dense",
        "macro_reduction_vs_natural", "sections", "crossbars", "cycles_per_vector", "dense_cycles_per_vector",
        "area_um2", "dense_area_um2", "ratio_to_bound", "column_bound_pj", "macro_breakdown_pj")


def say(text):
    print(text, file=sys.stderr, flush=True)


def total(layers, cfg, sparsity):
    from mapper.cost import map_layers, report_dict
    t = time.perf_counter()
    rep = report_dict(map_layers(layers, cfg), cfg, source="minilm", sparsity=sparsity)
    row = {k: rep["total"][k] for k in KEYS}
    row["seconds"] = round(time.perf_counter() - t, 1)
    return row


def pct(x):
    return f"{100 * x:.1f}%"


def markdown(result) -> str:
    s = result["sparsity"]
    lines = [f"# MiniLM at sparsity {s:g} under every ADC model", "",
             "All 36 layers, R = 128, 128 columns, 16 ADCs, 8-bit signed inputs, per input vector (one token). "
             "`vs dense`: against natural order with every column at full resolution; `vs natural`: against "
             "natural order with per-column resolution (what sorting buys). ADC: the conversions alone; macro: "
             "the whole ISAAC macro (mapper/data/isaac_macro.json). Reproduce: "
             f"`python benchmarks/bench_energy_models.py --sparsity {s:g}`, or per law "
             f"`sws map minilm --sparsity {s:g} --law LAW [--ordering gray --sectioning optimal]`.", ""]
    for plan in PLANS:
        lines += [f"## {plan}", "",
                  "| model | ADC nJ | ADC vs dense | ADC vs natural | macro nJ | macro vs dense | macro vs natural "
                  "| x split bound | sections | crossbars |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for law in LAWS:
            r = result["plans"][plan][law]
            lines.append(f"| {law} | {r['energy_pj'] / 1e3:.1f} | {pct(r['reduction_vs_dense'])} | "
                         f"{pct(r['reduction_vs_natural'])} | {r['macro_energy_pj'] / 1e3:.1f} | "
                         f"{pct(r['macro_reduction_vs_dense'])} | {pct(r['macro_reduction_vs_natural'])} | "
                         f"{r['ratio_to_bound']:.3f} | {r['sections']} | {r['crossbars']} |")
        lines.append("")
    r = result["plans"]["plain SWS (sorted, G=1)"]["isaac"]
    lines += ["## Whole-macro breakdown, plain SWS under isaac (nJ per token)", "",
              "| component | nJ | share |", "|---|---:|---:|"]
    for k, v in r["macro_breakdown_pj"].items():
        lines.append(f"| {k} | {v / 1e3:.1f} | {pct(v / r['macro_energy_pj'])} |")
    lines += ["", "## Section cost: energy against crossbars and cycles (isaac, gray, optimal cuts)", "",
              "| section cost pJ | ADC nJ | macro nJ | sections | crossbars | cycles per token | ADC vs dense |",
              "|---:|---:|---:|---:|---:|---:|---:|"]
    for c, p in zip(SECTION_COSTS, result["pareto"]):
        lines.append(f"| {c:g} | {p['energy_pj'] / 1e3:.1f} | {p['macro_energy_pj'] / 1e3:.1f} | {p['sections']} | "
                     f"{p['crossbars']} | {p['cycles_per_vector']} | {pct(p['reduction_vs_dense'])} |")
    p = result["plans"]["plain SWS (sorted, G=1)"]["isaac"]
    lines.append(f"| plain SWS | {p['energy_pj'] / 1e3:.1f} | {p['macro_energy_pj'] / 1e3:.1f} | {p['sections']} | "
                 f"{p['crossbars']} | {p['cycles_per_vector']} | {pct(p['reduction_vs_dense'])} |")
    return "\n".join(lines) + "\n"


def plot_pareto(result, path):
    """Energy (ADC alone, top; whole macro, bottom) against crossbars (left) and cycles (right)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    pts = result["pareto"]
    plain = result["plans"]["plain SWS (sorted, G=1)"]["isaac"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for row, (what, name, color) in enumerate((("energy_pj", "ADC", "tab:blue"),
                                               ("macro_energy_pj", "whole macro", "tab:red"))):
        for col, (key, label) in enumerate((("crossbars", "crossbars"), ("cycles_per_vector", "cycles per token"))):
            ax = axes[row][col]
            x = [p[key] for p in pts]
            y = [p[what] / 1e3 for p in pts]
            ax.plot(x, y, "-o", color=color, ms=4, label="gray, optimal cuts (label: section cost, pJ)")
            for c, xi, yi in zip(SECTION_COSTS, x, y):
                ax.annotate(f"{c:g}", (xi, yi), fontsize=7, textcoords="offset points", xytext=(3, 4))
            ax.plot([plain[key]], [plain[what] / 1e3], "s", color=color, ms=8, mfc="none", label="plain SWS")
            ax.set_xlabel(label)
            ax.set_ylabel(f"{name} energy per token (nJ), isaac")
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize=7)
    fig.suptitle(f"MiniLM at sparsity {result['sparsity']:g}, R = 128, G = 1: the section cost trades energy "
                 "against crossbars and cycles", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default="docs/results")
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--replot", action="store_true", help="redraw the plot and table from OUT's JSON")
    args = p.parse_args()
    if args.replot:
        with open(os.path.join(args.out, "minilm-energy-models.json")) as f:
            result = json.load(f)
        with open(os.path.join(args.out, "minilm-energy-models.md"), "w") as f:
            f.write(markdown(result))
        plot_pareto(result, os.path.join(args.out, "pareto_section_cost.png"))
        return

    from mapper.config import ArrayConfig
    from mapper.prepare import prepare_layer
    from mapper.sources import load_weights

    base = ArrayConfig()
    layers = [prepare_layer(l, base, args.sparsity) for l in load_weights("minilm")]
    result = {"sparsity": args.sparsity, "plans": {}, "pareto": []}
    for plan, fields in PLANS.items():
        result["plans"][plan] = {}
        for law in LAWS:
            cfg = base.replace(law=law, **fields)
            result["plans"][plan][law] = r = total(layers, cfg, args.sparsity)
            say(f"{plan}, {law}: ADC {pct(r['reduction_vs_dense'])} vs dense, macro "
                f"{pct(r['macro_reduction_vs_dense'])} ({r['seconds']} s)")
    for cost in SECTION_COSTS:
        cfg = base.replace(ordering="gray", sectioning="optimal", section_cost_pj=cost)
        result["pareto"].append(total(layers, cfg, args.sparsity))
        say(f"section cost {cost}: {result['pareto'][-1]['crossbars']} crossbars")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "minilm-energy-models.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "minilm-energy-models.md"), "w") as f:
        f.write(markdown(result))
    plot_pareto(result, os.path.join(args.out, "pareto_section_cost.png"))


if __name__ == "__main__":
    main()
