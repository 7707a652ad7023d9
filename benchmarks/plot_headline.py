"""Draw the README's headline plot from docs/results/minilm-headline.csv (MiniLM per token, dense against
natural order, SWS as published and the objective's choice, at each sparsity; ADC and whole macro).

    python benchmarks/plot_headline.py [--csv docs/results/minilm-headline.csv] [--out docs/results/minilm_headline.png]

The figures are those of docs/results/objective.md's tables (each with its benchmarks/bench_objective.py
command); the CSV names the table each row comes from.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DESIGNS = ("dense", "natural order", "SWS as published (G = 1)", "objective's choice")


def read(path: str) -> dict[tuple[str, str], tuple[float, float]]:
    with open(path) as f:
        rows = csv.DictReader(line for line in f if not line.startswith("#"))
        return {(r["sparsity"], r["design"]): (float(r["adc_uj"]), float(r["macro_uj"])) for r in rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", default=os.path.join(ROOT, "docs", "results", "minilm-headline.csv"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "results", "minilm_headline.png"))
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    data = read(args.csv)
    sparsities = sorted({s for s, _ in data}, key=float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=False)
    width = 0.2
    for panel, (ax, title) in enumerate(zip(axes, ("ADC energy", "whole macro energy"))):
        for j, design in enumerate(DESIGNS):
            xs = [i + (j - 1.5) * width for i in range(len(sparsities))]
            ys = [data[(s, design)][panel] for s in sparsities]
            bars = ax.bar(xs, ys, width, label=design)
            for x, y, s in zip(xs, ys, sparsities):
                if design != "dense":
                    dense = data[(s, "dense")][panel]
                    ax.annotate(f"{100 * (1 - y / dense):.0f}%", (x, y), ha="center", va="bottom", fontsize=7,
                                rotation=90, xytext=(0, 2), textcoords="offset points")
            del bars
        ax.set_xticks(range(len(sparsities)), [f"{float(s):.0%}" for s in sparsities])
        ax.set_xlabel("sparsity (SparseGPT; 30% is the highest where MiniLM still works)")
        ax.set_ylabel("uJ per token (36 layers)")
        ax.set_title(f"MiniLM, {title} (labels: % below dense)")
        ax.grid(axis="y", alpha=0.3)
    axes[1].set_ylim(0, max(v[1] for v in data.values()) * 1.18)
    axes[0].set_ylim(0, max(v[0] for v in data.values()) * 1.25)
    axes[1].legend(fontsize=8, loc="upper right")
    fig.suptitle("ADC model isaac (Accelergy ISAAC SAR, 32 nm), macro isaac-32nm; 128 x 128 crossbars, 16 ADCs; "
                 "segmented wordlines an assumption", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {os.path.relpath(args.out, ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
