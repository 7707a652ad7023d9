"""The numpy golden model of a tile: outputs, counters and cycle count, predicted from a plan's ROM images.

Outputs are computed from the LayerPlan arrays alone (section table, row-index table, column table and
cells), independently of the mapper's LayerMap, with the ADC saturation min(count, 2**res - 1).

The cycles, the conversions by resolution, the planes and sections and every other event the energy model
prices (mapper.schedule.events) come from the one schedule and event model, mapper.schedule (docs/design.md
sections 4 and 6), for the plan and these inputs. The RTL's other counters (hwgen.interface.EVENTS: the
activations' phase pulses, the rows driven high, the codes' sum, the table reads, the flushes) are
predicted here from the plan's tables and the inputs (`golden_events`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mapper.common import SwsError
from mapper.config import energy_table
from mapper.plan import LayerPlan
from mapper.schedule import (Events, ScheduleParams, cycle_model, events_of_schedule, plan_drive, schedule,
                             section_membership, step_popcounts, vector_ends)

__all__ = ["Prediction", "predict", "golden_outputs", "golden_events", "check_inputs", "energy_of",
           "HARDWARE_COUNTERS", "hardware_counters", "cycle_model"]

#: Every event the energy model prices (mapper.schedule.EVENTS) and the RTL counter
#: (hwgen.interface.CounterSignature) that counts it by the same definition: `sws sim` prices the macro
#: energy from the simulated hardware's counters alone (docs/design.md sections 4 and 6, "Counters").
#: `wordline_pulses` and `precharges` are the activations, `planes`, on every timing; where the timing has
#: the phase, the `wl_en` and `pch` pulses the controller makes (`hardware_counters`), one per activation.
HARDWARE_COUNTERS = {"cycles": "cycles", "conversions": "conversions", "sample_holds": "sample_holds",
                     "shift_adds": "shift_adds", "planes": "planes", "wordline_pulses": "planes",
                     "precharges": "planes", "row_drives": "row_drives", "cell_reads": "cell_reads",
                     "inputs": "inputs", "outputs": "outputs", "gathered_rows": "row_reads",
                     "column_words": "column_reads", "sections": "sections"}


def hardware_counters(params) -> dict:
    """HARDWARE_COUNTERS on this timing (`params`: a ScheduleParams or TileParams): with a precharge phase
    the model's `precharges` are the `pch` pulses the controller makes (the `precharges` counter), with a
    wordline phase its `wordline_pulses` the `wl_en` pulses (`wordlines`); without the phase the analog
    macro makes its own, one per activation, and `planes` (the activations) counts them."""
    out = dict(HARDWARE_COUNTERS)
    timing = params.timing
    if timing.precharge:
        out["precharges"] = "precharges"
    if timing.wordline:
        out["wordline_pulses"] = "wordlines"
    return out


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
    events: Events | None = None        # every event of the V vectors (mapper.schedule.events)
    #: The RTL's other counters (hwgen.interface.EVENTS besides planes and sections): `golden_events`.
    rtl: dict = field(default_factory=dict)

    def counters(self) -> dict:
        """The predicted value of every RTL counter (hwgen.interface.CounterSignature)."""
        return {"cycles": self.cycles, "conversions": list(self.conversions), "planes": self.planes,
                "sections": self.sections, **self.rtl}


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
    count per drive step, saturated at its resolution (the bipolar drive's signed counts at -(2**res - 1)
    too)."""
    sec, col = lp.sections, lp.columns
    for s in range(lp.n_sections):
        rows, nact = int(sec["rows"][s]), int(sec["n_active"][s])
        if nact == 0:
            continue
        idx = lp.row_index[int(sec["row_base"][s]):int(sec["row_base"][s]) + rows]
        cs = slice(int(sec["col_base"][s]), int(sec["col_base"][s]) + nact)
        slot, res = col["slot_col"][cs], col["res"][cs]
        cells = lp.cells[s, :rows][:, slot].astype(np.int64)                 # (rows, nact)
        top = (1 << res) - 1
        yield s, cs, np.clip(drive[:, :, idx] @ cells, -top, top)            # (V, P, nact)


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


def golden_events(lp: LayerPlan, x: np.ndarray, params: ScheduleParams, ev: Events) -> dict:
    """The RTL's event counters (hwgen.interface.EVENTS besides planes and sections) for the vectors x, from
    the plan's tables, the inputs and the energy model's events `ev` of the same vectors (docs/design.md
    section 6, "Counters"): one activation per issued drive step of a non-empty section (its pch and wl_en
    pulses, when the timing has the phase); the columns it samples (the section's active columns: one per
    conversion), its section's rows and the 1-cells of its converted columns (`ev`'s sample_holds,
    row_drives and cell_reads); the rows it drives high (the step's popcount over the section's rows: q);
    the captured codes' sum (the cells conducting in the converted columns, saturated at each column's
    resolution); a shift-add per conversion; the row-index (and input) and column words the gather reads; a
    flush per section that issues; the streams' elements. With the bipolar drive the rows driven high are
    those driven +1 or -1 (q+ + q-, not the max(q+, q-) that bounds the conversion) and the codes' sum is of
    their magnitudes |code|."""
    cfg, tm, (k, n) = lp.cfg, params.timing, lp.shape
    v = len(x)
    sec = lp.sections
    busy = sec["n_active"] > 0
    q = step_popcounts(lp, x)                                                       # (V, S, P)
    issuing = busy[None, :] & ((q.sum(axis=2) > 0) if cfg.hw.input_aware else np.ones((v, 1), bool))  # (V, S)
    drive = plan_drive(lp, x)                                                       # (V, P, K)
    driven = np.abs(drive).sum(axis=1) @ section_membership(lp).astype(np.int64)    # (V, S): rows driven, all steps
    codes = sum(int(np.abs(c).sum()) for _, _, c in _section_codes(lp, drive))
    return {"precharges": ev.planes if tm.precharge else 0, "wordlines": ev.planes if tm.wordline else 0,
            "sample_holds": ev.sample_holds, "rows_high": int(driven[:, busy].sum()), "code_sum": codes,
            "shift_adds": ev.shift_adds, "row_reads": v * int(sec["rows"][busy].sum()),
            "column_reads": v * int(sec["n_active"][busy].sum()), "flushes": int(issuing.sum()),
            "inputs": v * k, "outputs": v * n, "row_drives": ev.row_drives, "cell_reads": ev.cell_reads}


def energy_of(cfg, conversions) -> float:
    e = energy_table(cfg, max(cfg.hw.adc_bits, len(conversions) - 1))
    return float(sum(c * e[b] for b, c in enumerate(conversions) if b > 0))


def predict(lp: LayerPlan, x, params=None) -> Prediction:
    """Outputs, counters (every event) and cycles the tile must produce for the input vectors x (V, K) or (K,)."""
    x = check_inputs(lp, x)
    params = ScheduleParams.of(params or lp)
    cfg, v = lp.cfg, len(x)
    sch = schedule(lp, params, x)
    ev = events_of_schedule(lp, sch, v)
    runs = [int(r) for r in sch.run] if len(sch.run) == v else [int(sch.run[0])] * v
    bounds = [int(b) for b in sch.adc_bound] if len(sch.adc_bound) == v else [int(sch.adc_bound[0])] * v
    ends = vector_ends(sch.load, runs, sch.out, cfg.hw.double_buffer, sch.wake)
    vector_cycles = [int(e) for e in np.diff([-1] + ends)]
    return Prediction(golden_outputs(lp, x), max(vector_cycles), sum(vector_cycles), list(ev.conversions),
                      ev.planes, ev.sections, energy_of(cfg, ev.conversions), max(bounds), vector_cycles, bounds, ev,
                      golden_events(lp, x, params, ev))
