"""The pruning sweep: ADC and whole-macro energy of a model over sparsity x ordering x policy x ADC model,
against dense and natural order.

Sectioning depends only on the sparsity and the arrangement (ordering, group); the policies and laws are
re-costings of the same ones-per-column counts, so each layer is sectioned once per (sparsity, arrangement).
The macro's components other than the ADCs do not depend on the law, so they are costed once per policy.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

import numpy as np

from mapper.config import DEFAULT_E8_PJ, RELATIVE
from mapper.config import ArrayConfig
from mapper.config import adc_area
from mapper.common import SwsError
from mapper.common import atomic_dir, dumps_json, write_text
from mapper.job import check_output_folder
from mapper.sources import Layer
from mapper.cost import MacroCost, dense_config, macro_cost, macro_of
from mapper.sectioning import Cost, LayerMap, cost_of
from mapper.prepare import check_sparsity, prepare_layers
from mapper.sectioning import plan_resolutions
from mapper.sectioning import section_layer
from mapper.sources import load_weights

__all__ = ["Arrangement", "SPARSITIES", "ARRANGEMENTS", "POLICIES", "LAWS", "sweep", "sweep_to_folder", "sweep_markdown",
           "summary_markdown", "find_row"]

SPARSITIES = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95)
POLICIES = ("full", "section", "column")
LAWS = ("isaac", "neurosim", "murmann", "mnsim", "walden", "thermal")


@dataclass(frozen=True)
class Arrangement:
    """A row ordering and the number of outputs that share it."""

    ordering: str
    group: int = 1

    @property
    def label(self) -> str:
        return "natural" if self.ordering == "natural" and self.group == 1 else f"{self.ordering} G={self.group}"


ARRANGEMENTS = (Arrangement("natural"), Arrangement("sorted", 1), Arrangement("sorted", 2), Arrangement("sorted", 4),
                Arrangement("sorted", 9))


def _ratio(a: float, b: float) -> float:
    return 1.0 - a / b if b > 0 else 0.0


def _total(costs: list[Cost]) -> Cost:
    return sum(costs[1:], costs[0])


def _cost_dict(c: Cost) -> dict:
    return {"energy_pj": c.energy_pj, "conversions": c.conversions, "sar_cycles": c.sar_cycles,
            "sections": c.sections, "crossbars": c.crossbars, "resolution_histogram": list(c.resolution_histogram)}


def _with_adc(m: MacroCost, adc_pj: float, cfg: ArrayConfig, res: np.ndarray) -> MacroCost:
    """The macro cost `m` (costed under another law) with the ADC energy and ADC bank area of cfg's law."""
    top = int(res.max(initial=0))
    bank = cfg.hw.banks * cfg.hw.n_adc * float(adc_area(cfg, top)) if top else 0.0
    return MacroCost({**m.energy, "adc": adc_pj}, {**m.area, "adc_bank": bank}, m.cycles, m.adc_bound_cycles,
                     m.latency, m.events)


def _macro_dict(m: MacroCost) -> dict:
    return {"macro_energy_pj": m.energy_pj, "macro_breakdown_pj": dict(m.energy), "row_drives": m.row_drives,
            "area_um2": m.area_um2, "cycles_per_vector": m.cycles}


def law_config(cfg: ArrayConfig, law: str, e8_pj: float) -> ArrayConfig:
    """cfg under `law`: the relative laws calibrated at e8_pj, the published ones with their own energies."""
    return cfg.replace(law=law, e8_pj=e8_pj if law in RELATIVE else DEFAULT_E8_PJ)


def sweep(layers: list[Layer], cfg: ArrayConfig = ArrayConfig(), *, sparsities=SPARSITIES,
          arrangements=ARRANGEMENTS, policies=POLICIES, laws=LAWS, source: str = "", progress=None) -> dict:
    """Cost every layer under every (sparsity, arrangement, policy, law); totals and per-layer energies.

    `cfg` gives the array (rows, cols, bits, n_adc), the relative laws' e8 and the macro; its ordering, group,
    policy and law are swept over. Each row quotes `reduction_vs_dense` (the classic design of
    mapper.cost.dense_config: natural order, C // (2 Bm) outputs a crossbar, every column at full
    resolution, whatever the group) and `reduction_vs_natural` (natural order, same group, policy and law:
    what sorting itself buys), the same references as `sws map`, for the ADC energy alone and for the whole
    macro (`macro_*`, mapper.cost.macro). Cycles per vector are given for the column policy only.
    """
    e8 = cfg.energy.e8_pj
    cfg = cfg.replace(cap=None, ordering="sorted", policy="column", law="walden", law_table=None, node_nm=None,
                      sample_rate_hz=None)
    groups = sorted({a.group for a in arrangements})
    # Natural order in every group width that a sorted arrangement uses: its same-policy reference.
    naturals = [Arrangement("natural", g) for g in groups]
    todo = list(dict.fromkeys(list(naturals) + list(arrangements)))
    rows, dense_rows, achieved = [], [], []
    steps, step = len(sparsities) * len(todo), 0
    for s in sparsities:
        q = prepare_layers(layers, cfg, s)
        achieved.append(float(sum(np.count_nonzero(l.weights == 0) for l in q) / sum(l.weights.size for l in q)))
        costs = {}  # (arrangement, policy, law) -> per-layer costs
        macros = {}  # (arrangement, policy, law) -> whole-macro cost of all layers
        dcfg = dense_config(cfg)
        dense_maps = [LayerMap(l, sec, plan_resolutions(sec.counts, dcfg, sec.output_mask()))
                      for l, sec in ((l, section_layer(l.weights, dcfg)) for l in q)]
        dense_rest = [macro_cost(lm, tables=False) for lm in dense_maps]
        for law in laws:
            cl = law_config(dcfg, law, e8)
            costs["dense", law] = [cost_of(lm.res, cl, lm.sec.n_sections) for lm in dense_maps]
            macros["dense", law] = _total([_with_adc(m, x.energy_pj, cl, lm.res) for m, x, lm in
                                           zip(dense_rest, costs["dense", law], dense_maps)])
        for arr in todo:
            step += 1
            if progress:
                progress(step - 1, steps, f"sparsity {s:g}, {arr.label}: sectioning {len(q)} layers")
            c = cfg.replace(ordering=arr.ordering, group=arr.group)
            secs = [section_layer(l.weights, c) for l in q]
            for policy in policies:
                cp = c.replace(policy=policy)
                res = [plan_resolutions(sec.counts, cp, sec.output_mask()) for sec in secs]
                rest = [macro_cost(LayerMap(l, dataclasses.replace(sec, cfg=cp), r), cycles=policy == "column")
                        for l, r, sec in zip(q, res, secs)]
                for law in laws:
                    cl = law_config(cp, law, e8)
                    costs[arr, policy, law] = [cost_of(r, cl, sec.n_sections) for r, sec in zip(res, secs)]
                    macros[arr, policy, law] = _total([_with_adc(m, x.energy_pj, cl, r)
                                                       for m, x, r in zip(rest, costs[arr, policy, law], res)])
        for law in laws:
            dense = costs["dense", law]
            dense_total = _total(dense)
            dense_macro = macros["dense", law]
            dense_rows.append({"sparsity": s, "law": law, **_cost_dict(dense_total), **_macro_dict(dense_macro),
                               "layer_energy_pj": [x.energy_pj for x in dense]})
            for arr in arrangements:
                ref = Arrangement("natural", arr.group)
                for policy in policies:
                    per_layer = costs[arr, policy, law]
                    total = _total(per_layer)
                    natural = _total(costs[ref, policy, law])
                    mac, mac_nat = macros[arr, policy, law], macros[ref, policy, law]
                    rows.append({"sparsity": s, "ordering": arr.label, "group": arr.group, "policy": policy,
                                 "law": law, **_cost_dict(total),
                                 "dense_energy_pj": dense_total.energy_pj, "natural_energy_pj": natural.energy_pj,
                                 "reduction_vs_dense": _ratio(total.energy_pj, dense_total.energy_pj),
                                 "reduction_vs_natural": _ratio(total.energy_pj, natural.energy_pj),
                                 **_macro_dict(mac), "dense_macro_energy_pj": dense_macro.energy_pj,
                                 "natural_macro_energy_pj": mac_nat.energy_pj,
                                 "macro_reduction_vs_dense": _ratio(mac.energy_pj, dense_macro.energy_pj),
                                 "macro_reduction_vs_natural": _ratio(mac.energy_pj, mac_nat.energy_pj),
                                 "layer_energy_pj": [x.energy_pj for x in per_layer]})
    if progress:
        progress(steps, steps, "done")
    notes = sorted({n for layer in layers for n in layer.notes})
    return {"source": source, "config": cfg.to_dict(), "sparsities": list(sparsities),
            "sparsity_achieved": achieved, "orderings": [a.label for a in arrangements],
            "policies": list(policies), "laws": list(laws),
            "macro": macro_of(cfg).name,
            "layers": [{"name": l.name, "shape": list(l.weights.shape)} for l in layers],
            "weights": int(sum(l.weights.size for l in layers)),
            "rows": rows, "dense": dense_rows, "notes": notes}


def find_row(result: dict, sparsity: float, ordering: str, policy: str, law: str) -> dict:
    for r in result["rows"]:
        if r["sparsity"] == sparsity and r["ordering"] == ordering and r["policy"] == policy and r["law"] == law:
            return r
    raise KeyError((sparsity, ordering, policy, law))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _table(head, lines) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i < 3 else "---:" for i in range(len(head))) + "|"]
    return out + ["| " + " | ".join(l) + " |" for l in lines]


def _nj(pj: float) -> str:
    return f"{pj / 1000:.1f}"


def summary_markdown(result: dict, policy: str = "column", macro: bool = False) -> str:
    """Reduction vs dense (and vs natural order) of the whole model, every law side by side: one line per
    sparsity and arrangement. `macro`: of the whole macro's energy instead of the ADC energy alone."""
    key = "macro_reduction_vs" if macro else "reduction_vs"
    what = "whole-macro" if macro else "ADC"
    head = ["sparsity", "ordering"] + [f"{law}" for law in result["laws"]]
    out = [f"Policy `{policy}`: total {what} energy reduction vs dense (vs natural order, same group and policy), "
           "per ADC model", "", "| " + " | ".join(head) + " |", "|---|---|" + "---:|" * len(result["laws"])]
    for s in result["sparsities"]:
        for o in result["orderings"]:
            cells = [f"{s:g}", o]
            for law in result["laws"]:
                r = find_row(result, s, o, policy, law)
                cells.append(f"{100 * r[key + '_dense']:.2f}% ({_pct(r[key + '_natural'])})")
            out.append("| " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)


def group_markdown(result: dict, law: str = "isaac", policy: str = "column") -> str:
    """Whole-macro energy per vector against the group G at each sparsity under one law, and which G wins."""
    sorted_orders = [o for o in result["orderings"] if o != "natural"]
    head = ["sparsity", "dense nJ", "natural nJ"] + [f"{o} nJ" for o in sorted_orders] + ["best"]
    out = [f"Law `{law}`, policy `{policy}`: whole-macro energy per input vector (nJ) against the group G", "",
           "| " + " | ".join(head) + " |", "|---:|" + "---:|" * (len(head) - 2) + "---|"]
    for s in result["sparsities"]:
        d = next(d for d in result["dense"] if d["sparsity"] == s and d["law"] == law)
        nat = find_row(result, s, "natural", policy, law)
        mine = {o: find_row(result, s, o, policy, law)["macro_energy_pj"] for o in sorted_orders}
        best = min(mine, key=mine.get)
        out.append("| " + " | ".join([f"{s:g}", _nj(d["macro_energy_pj"]), _nj(nat["macro_energy_pj"])]
                                     + [_nj(v) for v in mine.values()] + [best]) + " |")
    out.append("")
    return "\n".join(out)


def sweep_markdown(result: dict) -> str:
    """The whole table, one section per law; a `dense` line per sparsity gives the reference itself."""
    cfg = {**result["config"]["hardware"], **result["config"]["energy"]}
    lines = [f"# SWS pruning sweep: {result['source']}", "",
             f"{len(result['layers'])} layers, {result['weights']} weights; array {cfg['rows']} x {cfg['cols']}, "
             f"weights {cfg['weight_bits']} magnitude bits, inputs {cfg['input_bits']} bits, {cfg['n_adc']} ADCs. "
             f"ADC models: {', '.join(result['laws'])} (`sws laws`; the relative laws at E8 = {cfg['e8_pj']} pJ); "
             f"whole macro: {result['macro']} (mapper/cost/macro.py). "
             "Energy is per input vector (one token) through every layer. `vs dense`: against natural "
             "order with every column of every section converted at full resolution; `vs natural`: against "
             "natural order with the same group, policy and law (what sorting itself buys). Cycles: the "
             "controller's exact cycle model, layers one after another.", ""]
    lines += [f"- {n}" for n in result["notes"]]
    achieved = ", ".join(f"{s:g}: {a:.4f}" for s, a in zip(result["sparsities"], result["sparsity_achieved"]))
    lines += [f"- fraction of zero weights after pruning (requested: achieved): {achieved}"]
    lines += ["", "## Summary", "", summary_markdown(result), summary_markdown(result, macro=True)]
    if "isaac" in result["laws"]:
        lines += [group_markdown(result)]
    head = ["sparsity", "ordering", "policy", "ADC nJ", "vs dense", "vs natural", "macro nJ", "vs dense",
            "vs natural", "conversions", "SAR cycles", "sections", "crossbars", "cycles"]
    for law in result["laws"]:
        body = []
        for i, s in enumerate(result["sparsities"]):
            d = next(d for d in result["dense"] if d["sparsity"] == s and d["law"] == law)
            body.append([f"{s:g}", "natural", "dense", _nj(d["energy_pj"]), "0.0%", "", _nj(d["macro_energy_pj"]),
                         "0.0%", "", str(d["conversions"]), str(d["sar_cycles"]), str(d["sections"]),
                         str(d["crossbars"]), str(d["cycles_per_vector"])])
            for o in result["orderings"]:
                for p in result["policies"]:
                    r = find_row(result, s, o, p, law)
                    body.append([f"{s:g}", o, p, _nj(r["energy_pj"]), _pct(r["reduction_vs_dense"]),
                                 _pct(r["reduction_vs_natural"]), _nj(r["macro_energy_pj"]),
                                 _pct(r["macro_reduction_vs_dense"]), _pct(r["macro_reduction_vs_natural"]),
                                 str(r["conversions"]), str(r["sar_cycles"]), str(r["sections"]),
                                 str(r["crossbars"]), str(r["cycles_per_vector"]) if p == "column" else ""])
        lines += ["", f"## Law `{law}`", ""] + _table(head, body)
    return "\n".join(lines) + "\n"


def write_json(result: dict, path: str) -> None:
    write_text(path, dumps_json(result, indent=1) + "\n")


def sweep_to_folder(spec: str, cfg: ArrayConfig, out: str, *, sparsities, groups, plot_sparsity: float | None = None,
                    plots: bool = True, progress=None) -> dict:
    """Sweep `spec` and write sweep.md, sweep.json (and the plots) into `out`, whole or not at all."""
    sparsities = tuple(check_sparsity(s) for s in sparsities)
    if not sparsities:
        raise SwsError("--sparsities needs at least one sparsity")
    if plot_sparsity is None:
        plot_sparsity = 0.9 if 0.9 in sparsities else max(sparsities)
    if plots and plot_sparsity not in sparsities:
        raise SwsError(f"--plot-sparsity {plot_sparsity} is not one of the swept sparsities {sparsities}")
    arrangements = (ARRANGEMENTS[0],) + tuple(Arrangement("sorted", g) for g in groups)
    for g in groups:
        cfg.replace(group=g)  # checks the group fits a crossbar, with the config's message
    check_output_folder(out, inputs=[spec])
    layers = load_weights(spec)
    result = sweep(layers, cfg, sparsities=sparsities, arrangements=arrangements, source=spec,
                   progress=progress)
    with atomic_dir(out, inputs=[spec]) as tmp:
        write_json(result, os.path.join(tmp, "sweep.json"))
        write_text(os.path.join(tmp, "sweep.md"), sweep_markdown(result))
        if plots:
            from .plots import write_plots
            result["plots"] = write_plots(result, tmp, sparsity=plot_sparsity)
    return result
