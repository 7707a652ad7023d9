"""Map every layer of a weight source and report its cost against the dense and the natural-order references."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import MODELS
from .bound import column_bound, lower_bound
from ..config import ArrayConfig
from .macro import ENERGY_PARTS, MacroCost, macro_cost, macro_of
from .objective import best_map, choice_of, parse_space, rank_layer
from ..sectioning import Cost, LayerMap, cap_error, map_layer, with_policy
from ..plan import layer_rom_bits
from ..sources import QuantLayer
from ..prepare import prepare_layers
from ..sources import load_weights

__all__ = ["LayerResult", "map_layers", "map_source", "report_dict", "format_table", "REPORT_KEYS", "cost_layer",
           "dense_config", "dense_group", "reference_configs", "plain_sws_config"]

REPORT_KEYS = ("name", "shape", "sparsity", "energy_pj", "dense_energy_pj", "natural_energy_pj",
               "reduction_vs_dense", "reduction_vs_natural", "conversions", "sar_cycles", "sections",
               "crossbars", "rom_bits", "lower_bound_pj", "column_bound_pj", "ratio_to_bound",
               "macro_energy_pj", "macro_breakdown_pj", "dense_macro_energy_pj", "natural_macro_energy_pj",
               "macro_reduction_vs_dense", "macro_reduction_vs_natural", "area_um2", "area_breakdown_um2",
               "dense_area_um2", "cycles_per_vector", "latency_cycles", "adc_bound_cycles",
               "dense_cycles_per_vector", "time_per_vector_ns", "events", "row_drives", "dense_row_drives")


@dataclass
class LayerResult:
    """A mapped layer with the costs of the same weights under the two references."""

    map: LayerMap
    cost: Cost
    natural: Cost   # natural order, same hardware, policy and cap: adaptive resolution without sorting
    dense: Cost     # the classic design (dense_config): natural order, every column at full resolution
    rom_bits: int
    bound: float = 0.0          # mapper.cost.bound.lower_bound: no lossless plan of the layer costs less
    plain: Cost | None = None   # sectioning optimal or refined: plain SWS (sorted, full sections)
    column_bound: float = 0.0   # mapper.cost.bound.column_bound: the tighter per-column split bound
    macro: MacroCost | None = None          # mapper.cost.macro: the whole macro, area and cycles of the plan
    natural_macro: MacroCost | None = None
    dense_macro: MacroCost | None = None
    inputs: int = 0             # input vectors the macro costs are the mean over (0: weight-only)
    objective: str | None = None            # mapper.cost.objective: the objective that chose this design
    ranking: list | None = None             # its candidates, best first (mapper.cost.objective.Candidate)


def dense_group(cfg: ArrayConfig) -> int:
    """The outputs a crossbar holds in the classic design: C // (2 Bm), the slots of a crossbar at G = 1."""
    return cfg.hw.cols // (2 * cfg.hw.weight_bits)


def dense_config(cfg: ArrayConfig) -> ArrayConfig:
    """The classic dense design for cfg's array, whatever cfg's group, drive and mapping: natural order,
    plain sections of R rows, C // (2 Bm) outputs side by side under one full-span wordline (G = that), every
    column converted at full resolution in every step of the two's complement drive, a full switch matrix
    of cfg's n_adc ADCs per bank, no tables. Fixed for a given layer and array."""
    return cfg.replace(ordering="natural", sectioning="plain", section_cost_pj=0.0, policy="dense", cap=None,
                       group=dense_group(cfg), input_encoding="twos", input_aware=False, adc_mux=0,
                       placement="fixed", wordline_slots=0)


def reference_configs(cfg: ArrayConfig) -> tuple[ArrayConfig, ArrayConfig]:
    """(natural, dense): natural order with cfg's hardware, policy and cap; the classic dense design."""
    natural = cfg.replace(ordering="natural", sectioning="plain", section_cost_pj=0.0)
    return natural, dense_config(cfg)


def plain_sws_config(cfg: ArrayConfig) -> ArrayConfig:
    """Plain SWS with the same array, policy, cap and law: the reference of optimal sectioning."""
    return cfg.replace(ordering="sorted", sectioning="plain", section_cost_pj=0.0)


def _adc_cost(cost: Cost, macro: MacroCost) -> Cost:
    """The layer's ADC figures as its events give them (per vector; the mean over the inputs when the macro
    was costed on inputs)."""
    conv = [int(c) if float(c).is_integer() else float(c) for c in macro.events["conversions"]]
    return Cost(macro.energy["adc"], sum(conv), sum(b * c for b, c in enumerate(conv)), cost.sections,
                cost.crossbars, tuple(conv))


def cost_layer(layer: QuantLayer, cfg: ArrayConfig, x=None, lm: LayerMap | None = None) -> LayerResult:
    """Map one layer under cfg (or take its map `lm`) and cost it, and its natural-order and dense references,
    as whole macros; `x` (V, K): the layer's actual inputs, on which input-aware hardware is costed."""
    natural_cfg, dense_cfg = reference_configs(cfg)
    lm = lm or map_layer(layer, cfg)
    # The references share their sections when they can: natural order, plain cuts.
    nat = lm if cfg == natural_cfg else map_layer(layer, natural_cfg)
    den = with_policy(nat, dense_cfg) if dense_cfg.hw == natural_cfg.hw and \
        dense_cfg.mapping.ordering == natural_cfg.mapping.ordering else map_layer(layer, dense_cfg)
    aware = x is not None and cfg.hw.input_aware
    macro = macro_cost(lm, x=x if aware else None)
    natural_macro = macro_cost(nat, x=x if aware else None, cycles=False)
    dense_macro = macro_cost(den, tables=False)
    plain = map_layer(layer, plain_sws_config(cfg)).cost() if cfg.mapping.sectioning != "plain" else None
    return LayerResult(lm, _adc_cost(lm.cost(), macro), _adc_cost(nat.cost(), natural_macro),
                       _adc_cost(den.cost(), dense_macro), layer_rom_bits(lm), lower_bound(layer.weights, cfg),
                       plain, column_bound(layer.weights, cfg), macro, natural_macro, dense_macro,
                       len(x) if aware else 0)


def map_layers(layers: list[QuantLayer], cfg: ArrayConfig, progress=None, inputs: dict | None = None, *,
               objective: str | None = None, search: str | None = None, fixed: dict | None = None) -> list[LayerResult]:
    """Map each layer under `cfg` (or under the design an objective chooses for it) and cost it against its
    references.

    Parameters
    ----------
    layers : list of QuantLayer
        Quantized (and pruned) layers.
    cfg : ArrayConfig
        Hardware, mapping choices and energy model.
    progress : callable, optional
        progress(i, n, layer name) before each layer.
    inputs : dict, optional
        Actual input vectors (V, K) by layer name: on input-aware hardware those layers are costed on them.
    objective : str, optional
        "adc", "macro", "latency" or "edp": choose each layer's design (mapper.cost.objective) among the
        search space; None: map every layer under cfg.
    search : str, optional
        The search space over the default one (`FIELD=V1,V2;...`, mapper.cost.objective.parse_space).
    fixed : dict, optional
        Fields the objective must not change (the ones given on the command line).

    Returns
    -------
    list of LayerResult
        Per layer: the map, its cost, the natural-order and dense references, ROM bits, the lower
        bound and (optimal or refined sectioning) plain SWS.
    """
    out = []
    for i, layer in enumerate(layers):
        if progress:
            progress(i, len(layers), layer.name)
        x = (inputs or {}).get(layer.name)
        if objective is None:
            out.append(cost_layer(layer, cfg, x))
            continue
        space = parse_space(search, cfg, x is not None, fixed)
        ranking, maps = rank_layer(layer, cfg, objective, space, x)
        lm = best_map(layer, ranking, maps)
        result = cost_layer(layer, lm.cfg, x, lm)
        result.objective, result.ranking = objective, ranking
        out.append(result)
    return out


def map_source(spec: str, cfg: ArrayConfig, sparsity: float = 0.0, *, per_channel: bool = False, progress=None):
    layers = prepare_layers(load_weights(spec), cfg, sparsity, per_channel=per_channel)
    return map_layers(layers, cfg, progress)


def _ratio(a: float, b: float) -> float:
    return 1.0 - a / b if b > 0 else 0.0


def _row(name, shape, sparsity, cost: Cost, natural: Cost, dense: Cost, rom_bits: int, bound: float,
         plain: Cost | None, split: float, macro: MacroCost, natural_macro: MacroCost, dense_macro: MacroCost,
         clock_hz: float) -> dict:
    row = {
        "name": name, "shape": shape, "sparsity": sparsity,
        "energy_pj": cost.energy_pj, "dense_energy_pj": dense.energy_pj, "natural_energy_pj": natural.energy_pj,
        "reduction_vs_dense": _ratio(cost.energy_pj, dense.energy_pj),
        "reduction_vs_natural": _ratio(cost.energy_pj, natural.energy_pj),
        "conversions": cost.conversions, "sar_cycles": cost.sar_cycles, "sections": cost.sections,
        "crossbars": cost.crossbars, "rom_bits": rom_bits,
        "resolution_histogram": list(cost.resolution_histogram),
        "lower_bound_pj": bound, "column_bound_pj": split,
        "ratio_to_bound": cost.energy_pj / split if split > 0 else None,
        "macro_energy_pj": macro.energy_pj, "macro_breakdown_pj": {k: macro.energy[k] for k in ENERGY_PARTS},
        "dense_macro_energy_pj": dense_macro.energy_pj, "natural_macro_energy_pj": natural_macro.energy_pj,
        "macro_reduction_vs_dense": _ratio(macro.energy_pj, dense_macro.energy_pj),
        "macro_reduction_vs_natural": _ratio(macro.energy_pj, natural_macro.energy_pj),
        "events": dict(macro.events), "row_drives": macro.row_drives, "dense_row_drives": dense_macro.row_drives,
        "area_um2": macro.area_um2, "area_breakdown_um2": dict(macro.area), "dense_area_um2": dense_macro.area_um2,
        "cycles_per_vector": macro.cycles, "latency_cycles": macro.latency, "adc_bound_cycles": macro.adc_bound_cycles,
        "dense_cycles_per_vector": dense_macro.cycles, "time_per_vector_ns": macro.cycles / clock_hz * 1e9,
    }
    if plain is not None:
        row.update({"plain_energy_pj": plain.energy_pj, "plain_sections": plain.sections,
                    "plain_crossbars": plain.crossbars,
                    "ratio_to_plain": cost.energy_pj / plain.energy_pj if plain.energy_pj > 0 else None})
    return row


def _sum(items):
    items = list(items)
    return sum(items[1:], items[0])


def report_dict(results: list[LayerResult], cfg: ArrayConfig, *, source: str, sparsity: float,
                per_channel: bool = False, cap_vectors: int = 64) -> dict:
    """The report of docs/design.md section 4 (report.json), standard JSON values only.

    Parameters
    ----------
    results : list of LayerResult
        From `map_layers`.
    cfg : ArrayConfig
        The configuration they were mapped under (each layer's own is its map's).
    source, sparsity, per_channel
        What was mapped, recorded in the report.
    cap_vectors : int
        Random input vectors on which a cap's error is measured.

    Returns
    -------
    dict
        source, sparsity_requested, per_channel, config, layers (one row each), total, notes.
    """
    macro = macro_of(cfg)
    clock = macro["clock_hz"]
    rows = []
    for r in results:
        row = _row(r.map.layer.name, list(r.map.layer.shape), r.map.layer.sparsity, r.cost, r.natural, r.dense,
                   r.rom_bits, r.bound, r.plain, r.column_bound, r.macro, r.natural_macro, r.dense_macro, clock)
        row["costed_on"] = f"{r.inputs} input vectors (mean)" if r.inputs else "weight-only"
        if r.map.cfg != cfg:
            row["config"] = r.map.cfg.to_dict()
        if r.ranking:
            row["choice"] = {"objective": r.objective, **r.ranking[0].summary(), "candidates": len(r.ranking)}
            row["runner_up"] = r.ranking[1].summary() if len(r.ranking) > 1 else None
        if r.map.cfg.mapping.cap is not None:
            row["cap_error"] = cap_error(r.map, n_vectors=cap_vectors)
        rows.append(row)
    weights = sum(r.map.layer.shape[0] * r.map.layer.shape[1] for r in results)
    zeros = sum(r.map.layer.sparsity * r.map.layer.shape[0] * r.map.layer.shape[1] for r in results)
    plains = [r.plain for r in results if r.plain is not None]
    total = _row("total", [sum(r.map.layer.shape[0] for r in results), sum(r.map.layer.shape[1] for r in results)],
                 zeros / weights, _sum(r.cost for r in results), _sum(r.natural for r in results),
                 _sum(r.dense for r in results), sum(r.rom_bits for r in results), sum(r.bound for r in results),
                 _sum(plains) if len(plains) == len(results) else None, sum(r.column_bound for r in results),
                 _sum(r.macro for r in results), _sum(r.natural_macro for r in results),
                 _sum(r.dense_macro for r in results), clock)
    total["shape"] = None  # layers of different shapes have no common shape
    total["weights"] = weights
    if any(r.map.cfg.mapping.cap is not None for r in results):
        total["capped_columns"] = sum(row.get("cap_error", {}).get("capped_columns", 0) for row in rows)
    notes = sorted({n for r in results for n in r.map.layer.notes})
    models = {"adc": _adc_source(cfg), "macro": macro.name, "macro_file": macro.path,
              "clock_hz": clock, "cycles": "the controller's schedule (mapper.schedule, docs/design.md section 6, "
                                           "default lanes, no macro phases) with its banks, beats and double "
                                           "buffering: cycles_per_vector in the steady state, latency_cycles "
                                           "of one vector alone; total: the layers one after another",
              "events": "mapper.schedule.events, priced by mapper.cost.macro (docs/design.md section 4)",
              "dense": "the classic design: natural order, C // (2 Bm) outputs a crossbar under one full-span "
                       "wordline, every column at full resolution, two's complement, no tables "
                       "(mapper.cost.report.dense_config)",
              "adc_mux": _mux_model(cfg)}
    return {"source": source, "sparsity_requested": sparsity, "per_channel": per_channel,
            "config": cfg.to_dict(), "models": models, "layers": rows, "total": total, "notes": notes}


def _mux_model(cfg: ArrayConfig) -> str:
    """How the ADC bank reaches the columns, as the cycles, bound and area above model it."""
    if not cfg.hw.adc_mux:
        return (f"full switch matrix: any of the {cfg.hw.n_adc} ADCs converts any active column; batches of "
                f"{cfg.hw.n_adc} columns in column-table order; bound max(ceil(sum res / n_adc), max res) a step")
    return (f"M = {cfg.hw.adc_mux} adjacent slot columns per ADC ({cfg.hw.n_adc} ADCs, ADC bank area {cfg.hw.n_adc} ADCs), "
            f"placement {cfg.mapping.placement} (mapper.sectioning.mapping.placement); lockstep batches, batch k the k-th widest column of "
            f"each ADC group; bound: the busiest ADC's sum of resolutions a step. The energy of a conversion does "
            f"not depend on M or the placement (no static or leakage term in the ADC models)")


def _adc_source(cfg: ArrayConfig) -> str:
    m = MODELS[cfg.energy.law]
    return f"{cfg.energy.law}: {m.formula}; {m.source}"


def format_table(report: dict) -> str:
    """The report as a fixed-width text table (also the body of report.md)."""
    head = ("layer", "shape", "sparsity", "energy pJ", "dense pJ", "natural pJ", "vs dense", "vs natural",
            "conversions", "sections", "crossbars", "ROM bits", "x bound", "macro pJ", "macro vs dense",
            "macro vs natural", "area mm2", "cycles")
    plain = "plain_energy_pj" in report["total"]
    if plain:
        head += ("plain SWS pJ", "x plain", "plain sections")
    lines = []
    for row in report["layers"] + [report["total"]]:
        shape = "x".join(map(str, row["shape"])) if row["shape"] else f"{row['weights']} w"
        lines.append((row["name"], shape, f"{row['sparsity']:.3f}", f"{row['energy_pj']:.1f}",
                      f"{row['dense_energy_pj']:.1f}", f"{row['natural_energy_pj']:.1f}",
                      f"{100 * row['reduction_vs_dense']:.1f}%", f"{100 * row['reduction_vs_natural']:.1f}%",
                      str(row["conversions"]), str(row["sections"]), str(row["crossbars"]), str(row["rom_bits"]),
                      "-" if row["ratio_to_bound"] is None else f"{row['ratio_to_bound']:.3f}",
                      f"{row['macro_energy_pj']:.1f}", f"{100 * row['macro_reduction_vs_dense']:.1f}%",
                      f"{100 * row['macro_reduction_vs_natural']:.1f}%", f"{row['area_um2'] / 1e6:.4f}",
                      str(row["cycles_per_vector"]))
                     + ((f"{row['plain_energy_pj']:.1f}",
                         "-" if row["ratio_to_plain"] is None else f"{row['ratio_to_plain']:.3f}",
                         str(row["plain_sections"])) if plain else ()))
    widths = [max(len(h), *(len(l[i]) for l in lines)) for i, h in enumerate(head)]
    fmt = lambda cells: "| " + " | ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))) + " |"
    out = [fmt(head), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [fmt(l) for l in lines]
    return "\n".join(out)
