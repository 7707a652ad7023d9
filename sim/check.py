"""A plan's tile simulated on input vectors and checked against the golden model: the library call
behind `sws sim` and the flow's simulation step."""

from __future__ import annotations

import os

import numpy as np

from hwgen.params import TileParams
from mapper.common import SwsError
from mapper.cost import plan_cost, price_events
from mapper.plan import load_plan
from mapper.schedule import EVENTS, Events, MacroTiming, ScheduleParams, default_lanes
from mapper.sources import read_npy

from .amaranth_sim import run_tile
from .golden import check_inputs, energy_of, hardware_counters, predict
from .verilog_sim import HDL_BACKENDS, available_backends, run_verilog

__all__ = ["BACKENDS", "load_inputs", "compare", "default_backend", "simulate_plan", "counter_energy",
           "report_cycles"]

BACKENDS = ("amaranth",) + HDL_BACKENDS


def load_inputs(path: str) -> np.ndarray:
    """The input vectors of a .npy file (checked against a layer by `golden.check_inputs`)."""
    if not os.path.lexists(path) or os.path.isdir(path):   # a FIFO or device is refused by the reading layer
        raise SwsError(f"{path}: no such inputs file (expected a .npy integer array)")
    # The golden model holds each vector's bit-planes: up to 16 int64 values per input.
    return read_npy(path, bytes_per_value=128, what="to simulate")


def compare(pred, run) -> list[str]:
    """Where the simulation differs from the golden model, one line each (empty: bit-exact)."""
    out = []
    diff = np.argwhere(pred.outputs != run.outputs)
    if len(diff):
        v, n = diff[0]
        out.append(f"output [{v}, {n}]: simulation {run.outputs[v, n]}, golden model {pred.outputs[v, n]} "
                   f"({len(diff)} outputs differ)")
    for v, (c, want) in enumerate(zip(run.cycles_per_vector, pred.vector_cycles)):
        if c != want:
            out.append(f"cycles of vector {v}: simulation {c}, golden model {want}")
            break
    for name, want in pred.counters().items():
        got = run.counters[name]
        if got != want:
            out.append(f"counter {name}: simulation {got}, golden model {want}")
    return out


def counter_energy(lp, x, run, report_row: dict | None = None, params=None) -> tuple[dict, list[str]]:
    """The macro energy of the simulated vectors from the hardware's counters alone, priced as the report
    prices its events (mapper.cost.price_events): each event from the counter that counts it
    (`sim.golden.hardware_counters`: on this timing), none from the golden model (`compare` checks the
    counters against its prediction). Compared with the mapper's model of the same
    plan and inputs (`plan_cost`), and with the plan's report.json row (`report_row`: weight-only hardware,
    whose events do not depend on the inputs). `params` (ScheduleParams or TileParams; default the plan's
    own hardware and no macro phases) give the timing. Returns the figures and the mismatches."""
    v = len(x)
    counters = hardware_counters(params or ScheduleParams.of(lp))
    counted = {name: (list(run.counters[counters[name]]) if name == "conversions" else int(run.counters[counters[name]]))
               for name in EVENTS}
    parts = {k: e / v for k, e in price_events(Events(v, **counted), lp.cfg, lp.widths()).items()}
    total = sum(parts.values())
    model = plan_cost(lp, x=x if lp.cfg.hw.input_aware else None, cycles=False).energy_pj
    problems = []
    if abs(total - model) > 1e-9 * max(1.0, abs(model)):
        problems.append(f"macro energy from the counters {total:.6f} pJ per vector, the mapper's model of this plan "
                        f"and these inputs {model:.6f}")
    if report_row is not None and abs(total - report_row["macro_energy_pj"]) > 1e-9 * max(1.0, total):
        problems.append(f"macro energy from the counters {total:.6f} pJ per vector, the plan's report.json "
                        f"{report_row['macro_energy_pj']:.6f}")
    return {"macro_energy_pj": total, "macro_breakdown_pj": parts, "model_macro_energy_pj": model,
            "report_macro_energy_pj": None if report_row is None else report_row["macro_energy_pj"],
            "counted_by_hardware": list(EVENTS), "counted_by_hardware_as": {n: counters[n] for n in EVENTS}}, problems


def report_cycles(run, report_row: dict | None, lanes: int, report_lanes: int, timing: MacroTiming) -> list[str]:
    """The report's cycles against the simulation's, when the report's figures are this simulation's (its row,
    `report_lanes` (the default) and no macro phases, as the report assumes): the first vector's cycles are the report's
    latency_cycles (one vector alone), every later vector's its cycles_per_vector (the steady state)."""
    if report_row is None or lanes != report_lanes or timing != MacroTiming():
        return []
    per, problems = list(run.cycles_per_vector), []
    want = (report_row.get("latency_cycles"), report_row.get("cycles_per_vector"))
    if per and per[0] != want[0]:
        problems.append(f"cycles of vector 0 (alone): simulation {per[0]}, the plan's report.json latency_cycles "
                        f"{want[0]}")
    later = sorted(set(per[1:]))
    if later and later != [want[1]]:
        problems.append(f"cycles per vector in the steady state: simulation {', '.join(map(str, later))}, "
                        f"the plan's report.json cycles_per_vector {want[1]}")
    return problems


def _report_row(plan_dir: str, name: str, lp, hardware: dict | None) -> dict | None:
    """The plan's report.json row of the layer, when its figures are the simulated hardware's: the plan's
    own drive, weight-only (an input-aware layer's report is for other vectors)."""
    import json
    path = os.path.join(plan_dir, "report.json")
    if lp.cfg.hw.input_aware or any(v is not None for v in (hardware or {}).values()) or not os.path.isfile(path):
        return None
    try:
        with open(path) as f:
            rows = json.load(f).get("layers", [])
    except (OSError, ValueError):
        return None
    return next((r for r in rows if isinstance(r, dict) and r.get("name") == name
                 and isinstance(r.get("macro_energy_pj"), (int, float))), None)


def default_backend() -> str:
    """The fastest simulator installed: Verilator, then Icarus Verilog, then Amaranth's own."""
    return (available_backends() + ["amaranth"])[0]


def simulate_plan(plan_dir: str, x, *, layer: str | None = None, vcd: str | None = None, generic: bool = False,
                  lanes: int | None = None, where: str = "inputs", backend: str | None = None,
                  hardware: dict | None = None, timing=None, say=None) -> dict:
    """Simulate one layer of a plan folder on the vectors x and compare with the golden model.

    Parameters
    ----------
    plan_dir : str
        A plan folder made by `sws map`.
    x : array_like
        Integer input vectors (V, K) or (K,), in the configuration's input range.
    layer : str, optional
        The plan's layer (default its first).
    vcd : str, optional
        Write a waveform (Amaranth backend only).
    generic : bool
        Simulate the generic tile, programmed through its prog port first (with Verilator or Icarus, any
        cached generic build of the same hardware and lanes that fits the plan serves: no compilation).
    lanes : int, optional
        Rows gathered per cycle.
    where : str
        How error messages name the inputs.
    backend : str, optional
        "amaranth", "verilator" or "icarus" (default: the fastest installed; amaranth with `vcd`).
    hardware : dict, optional
        Drive fields (input_encoding, input_aware) replacing the plan's (`LayerPlan.on_hardware`).
    timing : MacroTiming, optional
        The macro's phase timing (default: none, counted conversions).

    Returns
    -------
    dict
        layer, backend, outputs, cycles, cycles_per_vector, adc_bound_per_vector (the largest of the
        vectors': they differ on input-aware hardware), adc_bound (over all vectors), conversions,
        conversions_by_bits, planes, sections, energy_pj (the ADCs', from the counters), macro_energy_pj and
        macro_breakdown_pj (per vector, from the hardware's counters alone: `counter_energy`),
        model_macro_energy_pj, report_macro_energy_pj, counted_by_hardware (every event) and
        counted_by_hardware_as (each event's counter),
        report_cycles (the report's latency_cycles and cycles_per_vector when they are this simulation's:
        `report_cycles`; else None), match, problems, sim_seconds.

    Raises
    ------
    SwsError
        For a bad plan, inputs or option; a mismatch is reported in `problems`, not raised.
    """
    backend = backend or ("amaranth" if vcd else default_backend())
    if backend not in BACKENDS:
        raise SwsError(f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}")
    if vcd and backend != "amaranth":
        raise SwsError(f"--vcd writes the Amaranth simulation's waveform: use it with --backend amaranth, "
                       f"not {backend}")
    lp = load_plan(plan_dir).layer(layer).on_hardware(**(hardware or {}))
    x = check_inputs(lp, x, where)
    params = TileParams.from_plan(lp, lanes, timing)
    pred = predict(lp, x, params)
    if backend == "amaranth":
        run = run_tile(lp, x, vcd=vcd, generic=params if generic else None, params=params)
    else:
        run = run_verilog(lp, x, backend, params=params, generic=params if generic else None, reuse=True,
                          **({} if say is None else {"say": say}))
    problems = compare(pred, run)
    row = _report_row(plan_dir, lp.name, lp, hardware)
    macro, energy_problems = counter_energy(lp, x, run, row, params)
    problems += energy_problems
    same_cycles = row is not None and params.lanes == default_lanes(lp.cfg.hw.rows) and params.timing == MacroTiming()
    problems += report_cycles(run, row, params.lanes, default_lanes(lp.cfg.hw.rows), params.timing)
    conv = run.counters["conversions"]
    return {"layer": lp.name, "backend": backend, "outputs": run.outputs, "cycles": run.counters["cycles"],
            "cycles_per_vector": run.cycles_per_vector, "adc_bound_per_vector": pred.bound_per_vector,
            "adc_bound": int(sum(pred.vector_bounds)),
            "conversions": int(sum(conv)), "conversions_by_bits": conv, "planes": run.counters["planes"],
            "sections": run.counters["sections"], "energy_pj": energy_of(lp.cfg, conv), **macro,
            "report_cycles": ([row.get("latency_cycles"), row.get("cycles_per_vector")] if same_cycles else None),
            "match": not problems, "problems": problems, "sim_seconds": run.seconds}
