"""The numpy golden model of a tile: outputs, counters and cycle count, predicted from a plan's ROM images.

Outputs are computed from the LayerPlan arrays alone (section table, row-index table, column table and
cells), independently of the mapper's LayerMap, with the ADC saturation min(count, 2**res - 1).

The counters' conversions and events (hwgen.interface.EVENTS) are counted from the plan's tables and the
inputs; the cycles come from the one cycle model, mapper.schedule (docs/design.md section 6).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mapper.common import SwsError
from mapper.config import energy_table
from mapper.plan import LayerPlan
from mapper.schedule import ScheduleParams, cycle_model, issued_steps, plan_drive, step_popcounts, vector_ends

__all__ = ["Prediction", "predict", "golden_outputs", "golden_events", "check_inputs", "energy_of"]


@dataclass
class Prediction:
    """What the tile must produce for V input vectors (counters are totals over the V vectors).

    `vector_cycles` and `vector_bounds` hold each vector's cycles and ADC bound; `cycles_per_vector` and
    `bound_per_vector` their largest (all vectors alike on weight-only hardware). On double-buffered
    hardware a vector's cycles run from the previous vector's last output to its own (`vector_ends`): the
    first vector's are its latency, the others the throughput.
    """

    outputs: np.ndarray                 # (V, N) int64
    cycles_per_vector: int
    cycles: int
    conversions: list[int]              # index = resolution in bits (0 stays 0)
    planes: int
    sections: int
    energy_pj: float
    bound_per_vector: int
    vector_cycles: list[int] = field(default_factory=list)
    vector_bounds: list[int] = field(default_factory=list)
    #: The other counters of the counter port (hwgen.interface.EVENTS besides planes and sections).
    events: dict = field(default_factory=dict)

    def counters(self) -> dict:
        return {"cycles": self.cycles, "conversions": list(self.conversions), "planes": self.planes,
                "sections": self.sections, **self.events}


def check_inputs(lp: LayerPlan, x, where: str = "inputs") -> np.ndarray:
    """X as an int64 (V, K) array, or SwsError naming the shape, the value and the rule."""
    cfg, (k, _) = lp.cfg, lp.shape
    x = np.asarray(x)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer):
        raise SwsError(f"{where}: inputs must be integers, not {x.dtype}")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != k:
        raise SwsError(f"{where}: inputs must have shape (V, {k}) or ({k},) for layer {lp.name}, not {x.shape}")
    if x.shape[0] == 0:
        raise SwsError(f"{where}: there must be at least one input vector, not shape {x.shape}")
    bad = (x < cfg.hw.input_min) | (x > cfg.hw.input_max)
    if bad.any():
        v, kk = np.argwhere(bad)[0]
        raise SwsError(f"{where}: input [{v}, {kk}] = {int(x[v, kk])} is outside {cfg.hw.input_min}..{cfg.hw.input_max} "
                       f"({cfg.hw.input_bits}-bit {'signed' if cfg.hw.input_signed else 'unsigned'} inputs)")
    return x.astype(np.int64)


def _section_codes(lp: LayerPlan, drive: np.ndarray):
    """Per non-empty section s: (s, its column-table slice, codes (V, P, n_active)): each active column's
    count per drive step, saturated at its resolution."""
    sec, col = lp.sections, lp.columns
    for s in range(lp.n_sections):
        rows, nact = int(sec["rows"][s]), int(sec["n_active"][s])
        if nact == 0:
            continue
        idx = lp.row_index[sec["row_base"][s]:sec["row_base"][s] + rows]
        cs = slice(int(sec["col_base"][s]), int(sec["col_base"][s]) + nact)
        slot, res = col["slot_col"][cs], col["res"][cs]
        cells = lp.cells[s, :rows][:, slot].astype(np.int64)                 # (rows, nact)
        yield s, cs, np.minimum(drive[:, :, idx] @ cells, (1 << res) - 1)    # (V, P, nact)


def golden_outputs(lp: LayerPlan, x: np.ndarray) -> np.ndarray:
    """y (V, N): every active column's count per drive step, saturated at its resolution, shift-added with
    the step's weight (mapper.config.drive)."""
    cfg, (_, n) = lp.cfg, lp.shape
    drive = plan_drive(lp, x)                                                             # (V, P, K)
    step_w = np.asarray(cfg.hw.plane_weights(), np.int64)
    y = np.zeros((len(drive), n), np.int64)
    col = lp.columns
    for _, cs, codes in _section_codes(lp, drive):
        weight = (1 - 2 * col["sign"][cs]) << col["bit"][cs]                 # (nact,)
        contrib = np.einsum("vac,a,c->vc", codes, step_w, weight)
        np.add.at(y, (slice(None), col["out"][cs]), contrib)
    return y


def golden_events(lp: LayerPlan, x: np.ndarray, params: ScheduleParams, conversions: list[int], planes: int) -> dict:
    """The event counters (hwgen.interface.EVENTS besides planes and sections) for the vectors x, from the
    plan's tables and the inputs (docs/design.md section 6, "Counters"): one activation per issued drive
    step of a non-empty section (its pch, wl_en and sh pulses, when the timing has the phase); the rows
    it drives (the step's popcount over the section's rows: q); the captured codes' sum (the cells
    conducting in the converted columns, saturated at each column's resolution); a shift-add per
    conversion; the row-index (and input) and column words the gather reads; a flush per section that
    issues; the streams' beats."""
    cfg, tm, (k, n) = lp.cfg, params.timing, lp.shape
    v = len(x)
    sec = lp.sections
    busy = sec["n_active"] > 0
    q = step_popcounts(lp, x)                                                       # (V, S, P)
    issuing = busy[None, :] & ((q.sum(axis=2) > 0) if cfg.hw.input_aware else np.ones((v, 1), bool))  # (V, S)
    codes = sum(int(c.sum()) for _, _, c in _section_codes(lp, plan_drive(lp, x)))
    return {"precharges": planes if tm.precharge else 0, "wordlines": planes if tm.wordline else 0,
            "holds": planes if tm.sample else 0, "row_drives": int(q[:, busy].sum()), "cell_reads": codes,
            "shift_adds": int(sum(conversions)), "row_reads": v * int(sec["rows"][busy].sum()),
            "column_reads": v * int(sec["n_active"][busy].sum()), "flushes": int(issuing.sum()),
            "input_beats": v * -(-k // cfg.hw.beat), "output_beats": v * -(-n // cfg.hw.beat)}


def energy_of(cfg, conversions) -> float:
    e = energy_table(cfg)
    return float(sum(c * e[b] for b, c in enumerate(conversions) if b > 0))


def _conversions(lp: LayerPlan, params: ScheduleParams, q: np.ndarray | None) -> tuple[np.ndarray, int]:
    """Conversions by resolution and steps issued by the non-empty sections, for one vector (q: its step
    popcounts (S, P)) or, weight-only, for any vector."""
    cfg = lp.cfg
    conv = np.zeros(cfg.hw.full_resolution + 1, np.int64)
    planes = 0
    sec, res_all = lp.sections, lp.columns["res"]
    for s, steps in enumerate(issued_steps(lp, params, q)):
        nact, cb = int(sec["n_active"][s]), int(sec["col_base"][s])
        if nact == 0:
            continue
        res = res_all[cb:cb + nact]
        planes += len(steps)
        for _, top in steps:
            conv += np.bincount(np.minimum(res, top), minlength=cfg.hw.full_resolution + 1)[:cfg.hw.full_resolution + 1]
    conv[0] = 0
    return conv, planes


def predict(lp: LayerPlan, x, params=None) -> Prediction:
    """Outputs, counters and cycles the tile must produce for the input vectors x (V, K) or (K,)."""
    x = check_inputs(lp, x)
    params = ScheduleParams.of(params or lp)
    cfg, v = lp.cfg, len(x)
    if cfg.hw.input_aware:
        q = step_popcounts(lp, x)
        scheds = [cycle_model(lp, params, xv) for xv in x]
        counted = [_conversions(lp, params, qv) for qv in q]
        conv = np.sum([c for c, _ in counted], axis=0)
        planes = sum(p for _, p in counted)
    else:
        scheds = [cycle_model(lp, params)] * v
        conv, planes = _conversions(lp, params, None)
        conv, planes = conv * v, planes * v
    conversions = [int(c) for c in conv]
    ends = vector_ends(scheds[0]["load"], [sch["run"] for sch in scheds], scheds[0]["out"], cfg.hw.double_buffer)
    vector_cycles = [int(e) for e in np.diff([-1] + ends)]
    bounds = [sch["adc_bound"] for sch in scheds]
    return Prediction(golden_outputs(lp, x), max(vector_cycles), sum(vector_cycles), conversions, planes,
                      lp.n_sections * v, energy_of(cfg, conversions), max(bounds), vector_cycles, bounds,
                      golden_events(lp, x, params, conversions, planes))
