"""MiniLM's energy against dense, step by step (docs/results/objective.md): the classic dense design,
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

__all__ = ["STEPS", "SPARSITIES", "CHOICE", "study", "study_markdown", "headline", "headline_markdown", "plot_study",
           "plot_headline"]

SPARSITIES = (0.0, 0.3, 0.5, 0.9)


#: The two drives built before the bipolar drive: the steps before it search these only.
TWO_DRIVES = "input_encoding=twos,signmag"
#: The step that adds encoding and input-aware resolution (two's complement and sign-magnitude drives).
ENCODING = "+ encoding (twos, signmag) and input-aware resolution"
#: The step whose designs are the objective's choice over its whole default space (what `sws map --inputs`
#: chooses: every drive the RTL builds, the bipolar drive included).
CHOICE = "+ the bipolar drive (the objective's choice)"


def _steps(cfg: ArrayConfig, bipolar: bool = False) -> list[tuple[str, dict]]:
    """(label, map_layers options) of each step; each adds one thing to the one before (but `published`);
    `bipolar`: two more, the objectives over their whole default space, the bipolar drive included (CHOICE and
    the ADC objective)."""
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
        (ENCODING, {"objective": "macro", "inputs": True, "search": TWO_DRIVES}),
        ("objective adc, twos and signmag", {"objective": "adc", "inputs": True, "search": TWO_DRIVES}),
    ] + ([(CHOICE, {"objective": "macro", "inputs": True}),
          ("objective adc (lowest ADC energy)", {"objective": "adc", "inputs": True})] if bipolar else [])


STEPS = [label for label, _ in _steps(ArrayConfig(), bipolar=True)]


def study(layers_by_sparsity: dict, cfg: ArrayConfig = ArrayConfig(), progress=None, bipolar: bool = False,
          only: list[str] | None = None) -> dict:
    """Totals per token over the layers for each sparsity and step. `layers_by_sparsity` maps a sparsity to its
    layers (objects with layer, x (V, K), w (K, N): sws.experiments.minilm_inputs.capture_layers); `only`:
    these steps (labels of STEPS) alone."""
    rows = []
    steps = [(label, opt) for label, opt in _steps(cfg, bipolar) if only is None or label in only]
    if only is not None and len(steps) != len(set(only)):
        raise ValueError(f"unknown steps: {sorted(set(only) - {label for label, _ in steps})}")
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


def _ranked(layers: list, which: str, key: str) -> float:
    """The sum over the layers of `which` (choice or runner_up) design's `key` as the objective ranked it (a
    layer with one candidate: its choice)."""
    return float(sum((l[which] or l["choice"])[key] for l in layers))


def _choice_step(result: dict, step: str | None) -> str:
    """`step`, or CHOICE when the study has it (else, a study without the bipolar steps, ENCODING)."""
    if step is not None:
        return step
    return CHOICE if any(r["step"] == CHOICE for r in result["rows"]) else ENCODING


def headline(result: dict, step: str | None = None) -> list[dict]:
    """Per sparsity, the issue's headline figures per token (pJ, ADC and whole macro): the dense design, natural
    order (adaptive per-column resolution), SWS as published (G = 1) and the objective's choice (`step`,
    default CHOICE),
    each with its reduction against dense; and the choice and its runner-up per layer as the objective
    ranked them (input-aware designs on at most mapper.cost.objective.RANK_VECTORS tokens of each layer,
    weight-only ones on any: the choice's total there can differ from its total over every token)."""
    out = []
    step = _choice_step(result, step)
    for s in result["sparsities"]:
        rows = {r["step"]: r for r in result["rows"] if r["sparsity"] == s}
        natural = next(r for label, r in rows.items() if label.startswith("natural order"))
        published, chosen = rows["SWS as published: sorted, G = 1"], rows[step]
        dense_adc, dense_macro = chosen["dense_energy_pj"], chosen["dense_macro_energy_pj"]

        def entry(adc, macro):
            return {"energy_pj": adc, "macro_energy_pj": macro, "reduction_vs_dense": 1 - adc / dense_adc,
                    "macro_reduction_vs_dense": 1 - macro / dense_macro}
        layers = chosen["layers"]
        out.append({"sparsity": s, "sparsity_achieved": chosen["sparsity_achieved"],
                    "dense": entry(dense_adc, dense_macro),
                    "natural": entry(natural["energy_pj"], natural["macro_energy_pj"]),
                    "published": entry(published["energy_pj"], published["macro_energy_pj"]),
                    "choice": entry(chosen["energy_pj"], chosen["macro_energy_pj"]),
                    "choice_ranked": entry(_ranked(layers, "choice", "energy_pj"),
                                           _ranked(layers, "choice", "macro_energy_pj")),
                    "runner_up_ranked": entry(_ranked(layers, "runner_up", "energy_pj"),
                                              _ranked(layers, "runner_up", "macro_energy_pj"))})
    return out


def headline_markdown(result: dict, step: str | None = None) -> str:
    """The headline figures (`headline`) as one table per sparsity, in uJ per token."""
    names = (("dense", "dense (natural order, G = C / 2Bm, full resolution)"),
             ("natural", "natural order, per-column resolution"),
             ("published", "SWS as published (sorted, G = 1)"),
             ("choice", "the objective's choice (all tokens)"),
             ("choice_ranked", "the objective's choice, as ranked"),
             ("runner_up_ranked", "its runner-up per layer, as ranked"))
    out = []
    for h in headline(result, step):
        out += [f"Sparsity {h['sparsity']:g} (achieved {h['sparsity_achieved']:.3f}), per token:", "",
                "| design | ADC uJ | ADC vs dense | whole macro uJ | macro vs dense |", "|---|---:|---:|---:|---:|"]
        for key, label in names:
            e = h[key]
            out.append(f"| {label} | {e['energy_pj'] / 1e6:.2f} | {_pct(e['reduction_vs_dense'])} | "
                       f"{e['macro_energy_pj'] / 1e6:.2f} | {_pct(e['macro_reduction_vs_dense'])} |")
        out.append("")
    return "\n".join(out)


def plot_study(result: dict, path: str) -> str:
    """Whole-macro and ADC energy relative to dense against sparsity, one line per step."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(15, 4.5), sharey=True)
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
    axes[1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle("MiniLM, 36 layers, per token: each step adds one design choice")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_headline(result: dict, path: str, step: str | None = None) -> str:
    """The headline designs' whole-macro energy per token (uJ) at each sparsity, the ADC's part hatched."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = (("dense", "dense"), ("natural", "natural order,\nper-column res."), ("published", "SWS as published\n(G = 1)"),
             ("choice", "objective's\nchoice"), ("runner_up_ranked", "its runner-up\n(as ranked)"))
    heads = headline(result, step)
    fig, ax = plt.subplots(figsize=(10, 4.5))
    width = 0.8 / len(heads)
    for i, h in enumerate(heads):
        xs = [j + (i - (len(heads) - 1) / 2) * width for j in range(len(names))]
        macro = [h[k]["macro_energy_pj"] / 1e6 for k, _ in names]
        adc = [h[k]["energy_pj"] / 1e6 for k, _ in names]
        bars = ax.bar(xs, macro, width, label=f"sparsity {h['sparsity']:g}: whole macro", color=f"C{i}")
        ax.bar(xs, adc, width, fill=False, hatch="//", edgecolor="black", lw=0,
               label="of which ADC" if i == 0 else None)
        for b, m, (k, _) in zip(bars, macro, names):
            pct = h[k]["macro_reduction_vs_dense"]
            ax.annotate(f"{m:.1f}" + ("" if k == "dense" else f"\n{-100 * pct:+.0f}%"), (b.get_x() + b.get_width() / 2, m),
                        ha="center", va="bottom", fontsize=7)
    ax.margins(y=0.12)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([label for _, label in names], fontsize=8)
    ax.set_ylabel("uJ per token (36 layers, isaac-32nm macro)")
    ax.set_title("MiniLM on the shipped sentences: whole macro against dense (the ADC's part hatched)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
