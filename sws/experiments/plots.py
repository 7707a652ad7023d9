"""Plots of a sweep (sws.experiments.sweep): reduction against sparsity, energy per layer, ADC resolution histogram.

Needs the `plots` extra (matplotlib), imported only here and only when a plot is drawn.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["write_plots", "plot_reduction", "plot_layer_energy", "plot_resolutions", "plot_laws"]

_COLORS = {"natural": "tab:gray", "sorted G=1": "tab:blue", "sorted G=2": "tab:green", "sorted G=4": "tab:purple",
           "sorted G=8": "tab:orange", "sorted G=9": "tab:orange"}
_STYLES = {"full": ":", "section": "--", "column": "-"}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt
    return plt


def _color(label: str, i: int) -> str:
    return _COLORS.get(label, f"C{i + 3}")


def _rows(result, **match):
    return [r for r in result["rows"] if all(r[k] == v for k, v in match.items())]


def plot_reduction(result: dict, path: str, key: str = "reduction_vs_dense", what: str = "ADC energy") -> None:
    """Remaining energy (fraction of dense, log scale) against sparsity, one panel per ADC model: one line per
    ordering and policy. `key`: reduction_vs_dense (ADC alone) or macro_reduction_vs_dense (whole macro)."""
    plt = _pyplot()
    n = len(result["laws"])
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(5.2 * ncols + 1.6, 4.0 * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    s = result["sparsities"]
    for ax, law in zip(axes.flat, result["laws"]):
        for i, o in enumerate(result["orderings"]):
            for p in result["policies"]:
                y = [1 - next(r for r in _rows(result, sparsity=x, ordering=o, policy=p, law=law))[key] for x in s]
                ax.plot(s, np.maximum(y, 1e-6), _STYLES.get(p, "-"), color=_color(o, i), marker="o", ms=3,
                        label=f"{o}, {p}")
        ax.set_yscale("log")
        ax.set_xlabel("sparsity")
        ax.set_ylabel(f"{what} / dense")
        ax.set_title(f"{result['source']}: law {law}, R = {result['config']['hardware']['rows']}")
        ax.grid(True, which="both", alpha=0.3)
        ticks = [1, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002, 0.001, 0.0005, 0.0002, 0.0001]
        lo = ax.get_ylim()[0]
        ax.set_yticks([t for t in ticks if t >= lo])
        ax.set_yticklabels([f"{100 * (1 - t):g}% less" if t < 1 else "dense" for t in ticks if t >= lo], fontsize=7)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 0.84, 1))
    fig.legend(handles, labels, fontsize=7, loc="center left", bbox_to_anchor=(0.84, 0.5))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_layer_energy(result: dict, path: str, sparsity: float, law: str | None = None, policy: str = "column") -> None:
    """ADC energy of each layer at one sparsity: dense, and each ordering under one policy (log scale)."""
    plt = _pyplot()
    law = law or result["laws"][0]
    names = [l["name"] for l in result["layers"]]
    dense = next(d for d in result["dense"] if d["sparsity"] == sparsity and d["law"] == law)
    series = [("dense", "black", dense["layer_energy_pj"])]
    for i, o in enumerate(result["orderings"]):
        r = _rows(result, sparsity=sparsity, ordering=o, policy=policy, law=law)[0]
        series.append((f"{o}, {policy}", _color(o, i), r["layer_energy_pj"]))
    x = np.arange(len(names))
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.28 * len(names) + 2), 4.2))
    for j, (label, color, e) in enumerate(series):
        ax.bar(x + (j - (len(series) - 1) / 2) * width, np.asarray(e) / 1000, width, label=label, color=color)
    ax.set_yscale("log")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=90, fontsize=7)
    ax.set_ylabel("ADC energy per input vector (nJ)")
    ax.set_title(f"{result['source']}: energy per layer at sparsity {sparsity:g} (law {law})")
    top = max(max(e) for _, _, e in series) / 1000
    ax.set_ylim(top=top * 10)  # room for the legend above the bars
    ax.legend(fontsize=7, ncol=len(series), loc="upper left")
    ax.grid(True, axis="y", which="major", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_resolutions(result: dict, path: str, sparsity: float, policy: str = "column") -> None:
    """Conversions per input vector at each ADC resolution: dense, and each ordering under one policy."""
    plt = _pyplot()
    law = result["laws"][0]  # the histogram does not depend on the law
    dense = next(d for d in result["dense"] if d["sparsity"] == sparsity and d["law"] == law)
    series = [("dense", "black", dense["resolution_histogram"])]
    for i, o in enumerate(result["orderings"]):
        r = _rows(result, sparsity=sparsity, ordering=o, policy=policy, law=law)[0]
        series.append((f"{o}, {policy}", _color(o, i), r["resolution_histogram"]))
    n = max(len(h) for _, _, h in series)
    bits = np.arange(1, n)
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for j, (label, color, h) in enumerate(series):
        h = np.pad(np.asarray(h, dtype=float), (0, n - len(h)))[1:]
        ax.bar(bits + (j - (len(series) - 1) / 2) * width, h / 1e6, width, label=label, color=color)
    ax.set_xticks(bits)
    ax.set_xlabel("ADC resolution (bits)")
    ax.set_ylabel("conversions per input vector (millions)")
    ax.set_title(f"{result['source']}: ADC resolutions at sparsity {sparsity:g}")
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def write_plots(result: dict, folder: str, sparsity: float) -> list[str]:
    """The three plots as PNG files in `folder`; returns their file names."""
    files = {"reduction_vs_sparsity.png": lambda p: plot_reduction(result, p),
             "macro_reduction_vs_sparsity.png": lambda p: plot_reduction(result, p, "macro_reduction_vs_dense",
                                                                         "whole-macro energy"),
             "energy_per_layer.png": lambda p: plot_layer_energy(result, p, sparsity),
             "resolution_histogram.png": lambda p: plot_resolutions(result, p, sparsity)}
    for name, draw in files.items():
        draw(os.path.join(folder, name))
    return list(files)


def plot_laws(result: dict, path: str) -> None:
    """Energy per conversion and area per ADC against resolution, every model of `compare_models` (log scale)."""
    plt = _pyplot()
    fig, (ax_e, ax_a) = plt.subplots(1, 2, figsize=(11, 4.2))
    for i, (name, m) in enumerate(result["models"].items()):
        style = "--" if m["relative"] else "-"
        b = result["bits"][:len(m["energy_pj"])]
        ax_e.plot(b, m["energy_pj"], style, marker="o", ms=3, color=f"C{i}", label=name)
        if not m["relative"]:
            ax_a.plot(b, m["area_um2"], style, marker="o", ms=3, color=f"C{i}", label=name)
    ax_e.set_yscale("log")
    ax_e.set_xlabel("ADC resolution (bits)")
    ax_e.set_ylabel("energy per conversion (pJ)")
    ax_e.set_title(f"ADC energy (node {result['node_nm']:g} nm; relative laws dashed, E8 = {result['e8_pj']} pJ)",
                   fontsize=9)
    ax_a.set_yscale("log")
    ax_a.set_xlabel("ADC resolution (bits)")
    ax_a.set_ylabel("area per ADC (um^2)")
    ax_a.set_title(f"ADC area (murmann at {result['sample_rate_hz']:g} S/s)", fontsize=9)
    for ax in (ax_e, ax_a):
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xticks(result["bits"])
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)
