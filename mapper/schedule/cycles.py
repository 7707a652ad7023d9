"""The cycle model of the controller's schedule (hwgen/controller.py; docs/design.md section 6), the one
implementation the golden model (sim/golden.py), the report and the benchmarks use; its latencies come from
mapper.schedule.latency. Weight-only hardware: it depends
on the plan only. Input-aware hardware (`input_aware`): also on each vector's step popcounts q (the
section's rows driven in each drive step), so it is computed per vector. Per vector: K load cycles + RUN
cycles + 1 + N output cycles. In RUN (cycle 0 = the cycle after the last input), for the sections in table
order, with L = lanes, P drive steps (A two's complement, 2(A-1) sign-magnitude) issued in
`step_order`:
  prefetch  a_0 = 0; a section's table word is read at a (S0), registered at a + 1 (S1) and decoded
            at a + 2 (S2). Empty section (no active column): a' = a + 3.
            otherwise it starts gathering at g = max(a + 2, c_prev + 1) (c_prev: the cycle the previous
            non-empty section left the `next` buffer), gathers for n = ceil(max(rows, n_active) / L)
            cycles, a' = g + n + 1, and is ready in `next` from r = g + n + 5 (table words registered,
            columns decoded and row indices registered, inputs read, inputs registered, written; on
            input-aware hardware the step popcounts are added up in the cycle the rows are written).
  issue     it is copied to `current` at c = max(r, l_prev + 1) (l_prev: the cycle the previous section
            issued its last batch) and issues its first batch at e = max(c + 1, f_prev) (f_prev: the
            cycle the bank is free after the previous section's last batch). Its batches (`_batches`: with a full
            switch matrix ceil(n_active / n_adc) batches of n_adc columns in column-table order; with
            ADC groups of M = adc_mux columns, batch k = the k-th column of each group), for each issued
            step, follow back to back, each step's first batch opening the step's one activation of the
            array (its front phases): a batch of longest
            resolution b issued at cycle T frees the bank for the next issue at T + period(b) and is
            captured (done) at T + capture(b) (`batch_timing`, MacroTiming: with the
            default timing period b and capture 1 + b, the start leaving through a register at T + 1;
            with front phases F = precharge + wordline + settle + sample and f = F for a step's first
            batch, 0 for the others: period f + b, but f + max(1, b - F) with sample-and-hold before an
            activation, capture 1 + f + b; with a four-phase handshake of `sync` flops period
            f + b + 2 sync + 2 + DONE_FALL and capture 1 + f + b + sync); f is the last one's capture.
            Weight-only: every step is issued, each column at its planned resolution res.
            Input-aware: a step with q = 0 is skipped (no cycle), the others convert each column at
            min(res, bitlen(q)) bits, so a batch's b is min(b, bitlen(q)); a section whose steps all
            have q = 0 leaves `next` at c and issues nothing (l_prev and f_prev stay).
  end       RUN ends with cycle max(f_last + D + 5, a_end + 1, c_dead + 1) (f_last: the capture of the
            last batch; a_end: the S0 that finds no more sections; c_dead: the copy of the last section
            that issued nothing, if it came after the last that issued;
            D = pipeline_depth(n_adc) = 4 + ceil(log2(n_adc)), the accumulator pipeline
            from the last batch's done to its section's sums; 5 = flush read, the block RAM's read
            register, the bypass register, the registered sum, write and end test).
The ADC bound of a vector: for each section and issued step, the fewest cycles any schedule of that step's
active-column resolutions on n_adc ADCs can take, summed over the steps and sections (`_step_bound`). Full
switch matrix: max(ceil(sum res / n_adc), max res); the batch schedule reaches it whenever a section has at
most n_adc active columns. ADC groups of M columns (adc_mux): ADC g converts its group's columns one
after the other, so max over g of the sum of its columns' res (reached by free-running ADCs; the lockstep
batches reach it when each group holds at most one active column, as with M = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import HardwareConfig, drive_steps
from ..plan import LayerPlan, bank_plans
from ..sectioning import lossless_bits
from .latency import (EMPTY_SECTION, FLUSH, GATHER_NEXT_READ, SECTION_DECODE, MacroTiming, default_lanes,
                      gather_ready, group_prime, merge_depth, pipeline_depth, run_end_latency, step_order)

__all__ = ["ScheduleParams", "cycle_model", "bank_run", "vector_ends", "batch_timing", "step_popcounts",
           "plan_drive", "issued_steps"]


@dataclass(frozen=True)
class ScheduleParams:
    """What the schedule depends on besides the plan: the hardware, the gather width and the macro timing
    (hwgen.params.TileParams carries the same three, plus the table sizes, which do not change cycles)."""

    hw: HardwareConfig
    lanes: int
    timing: MacroTiming = MacroTiming()

    @classmethod
    def of(cls, params) -> "ScheduleParams":
        """From a ScheduleParams, a TileParams (anything with hw, lanes and timing) or a LayerPlan (its own
        hardware, the default lanes, the default timing)."""
        if isinstance(params, ScheduleParams):
            return params
        if isinstance(params, LayerPlan):
            return cls(params.cfg.hw, default_lanes(params.cfg.hw.rows))
        return cls(params.hw, params.lanes, params.timing)

    @property
    def step_order(self) -> list[int]:
        return step_order(self.hw)


def plan_drive(lp: LayerPlan, x: np.ndarray) -> np.ndarray:
    """The row drives (V, P, K) of input vectors x on the plan's drive hardware (mapper.config.drive)."""
    cfg = lp.cfg
    return drive_steps(np.asarray(x, np.int64).reshape(-1, lp.shape[0]), cfg.hw.input_bits, cfg.hw.input_signed,
                       cfg.hw.input_encoding).astype(np.int64)                          # (V, P, K)


def step_popcounts(lp: LayerPlan, x: np.ndarray) -> np.ndarray:
    """q (V, S, P): the rows of section s driven in drive step p (mapper.config.drive step order) by vector v."""
    drive = plan_drive(lp, x)
    sec = lp.sections
    q = np.zeros((len(drive), lp.n_sections, drive.shape[1]), np.int64)
    for s in range(lp.n_sections):
        base, rows = int(sec["row_base"][s]), int(sec["rows"][s])
        q[:, s] = drive[:, :, lp.row_index[base:base + rows]].sum(axis=2)
    return q


def _batches(res: np.ndarray, slot: np.ndarray, n_adc: int, adc_mux: int) -> list[int]:
    """The widest resolution of each batch of a section's columns (res, slot: column-table order).
    Full switch matrix (adc_mux 0): batch b holds entries b * n_adc .. b * n_adc + n_adc - 1. ADC groups of
    M = adc_mux columns: batch k holds the k-th entry of every group (group = slot // M) that has one."""
    if not adc_mux:
        return [int(res[i:i + n_adc].max()) for i in range(0, len(res), n_adc)]
    ranks: dict[int, int] = {}
    widest: list[int] = []
    for r, c in zip(res.tolist(), slot.tolist()):
        k = ranks.get(c // adc_mux, 0)
        ranks[c // adc_mux] = k + 1
        widest.extend([0] * (k + 1 - len(widest)))
        widest[k] = max(widest[k], r)
    return widest


def _step_bound(eff: np.ndarray, slot: np.ndarray, n_adc: int, adc_mux: int) -> int:
    """Fewest cycles any schedule of one step's conversions (eff bits, at slot columns) can take: full
    switch matrix max(ceil(sum / n_adc), max); ADC groups of M columns the busiest ADC's sum of bits."""
    if not adc_mux:
        return max(-(-int(eff.sum()) // n_adc), int(eff.max()))
    return int(np.bincount(slot // adc_mux, weights=eff).max())


def batch_timing(params: ScheduleParams, longest: int, front: bool = True, next_front: bool = True) -> tuple[int, int]:
    """(period, capture) of a batch whose longest conversion is `longest` bits, in cycles from its issue:
    when the next batch may issue, and when its codes are captured (MacroTiming.period and capture:
    `front` the batch opens an activation, `next_front` the next one does; default timing:
    `longest` and 1 + `longest`, the registered boundary's cycle)."""
    tm = params.timing
    return tm.period(longest, front, next_front), tm.capture(longest, front)


def issued_steps(lp: LayerPlan, params: ScheduleParams, q: np.ndarray | None) -> list[list[tuple[int, int]]]:
    """Per section, the (step, resolution bound) pairs it issues, in issue order: every step with the full
    resolution (weight-only, or no inputs given), or the steps with q > 0 with the bound bitlen(q)."""
    order, full = params.step_order, lp.cfg.hw.full_resolution
    if q is None or not lp.cfg.hw.input_aware:
        return [[(p, full) for p in order]] * lp.n_sections
    bits = lossless_bits(q)
    return [[(p, int(bits[s, p])) for p in order if q[s, p] > 0] for s in range(lp.n_sections)]


def cycle_model(lp: LayerPlan, params=None, x=None) -> dict:
    """Cycles of one vector (see the module docstring), and the ADC bound, for the plan's schedule.

    x : one input vector (K,), for input-aware hardware, whose schedule depends on it. Without it (or on
    weight-only hardware) the weight-only schedule: on input-aware hardware the most any vector can take.

    With B banks each bank runs its own sections (mapper.plan.banks) with `bank_run`, all from the same cycle;
    RUN ends when the last bank is done. W elements a beat: ceil(K / W) load beats and ceil(N / W) output
    beats, behind the output merge's `merge_depth(B)` pipeline stages. The ADC bound and batch cycles
    are then the busiest bank's (its ADC bank's bound on its sections).
    """
    params = ScheduleParams.of(params or lp)
    cfg, (k, n) = lp.cfg, lp.shape
    beat = cfg.hw.beat
    if cfg.hw.banks == 1:
        runs = [bank_run(lp, params, x)]
    else:
        runs = [bank_run(blp, params, x) for blp in bank_plans(lp)]
    run = max(r["run"] for r in runs) + run_end_latency(cfg.hw.banks)
    load, out = -(-k // beat), 1 + merge_depth(cfg.hw.banks) + -(-n // beat)
    ends = vector_ends(load, [run] * 4, out, cfg.hw.double_buffer)
    return {"load": load, "run": run, "out": out, "cycles": ends[0] + 1, "throughput": ends[3] - ends[2],
            "adc_bound": max(r["adc_bound"] for r in runs), "batch_cycles": max(r["batch_cycles"] for r in runs),
            "bank_runs": [r["run"] for r in runs]}


def vector_ends(load: int, runs: list[int], out: int, double_buffer: bool) -> list[int]:
    """The cycle of each vector's last output, cycle 0 the first vector's first input beat, the inputs
    streamed without a gap and the outputs taken at once; `runs` each vector's RUN cycles.

    One vector at a time: vector v's load, RUN and output follow each other, load + run + out cycles,
    and the next vector's first beat comes the cycle after v's last output.
    Double-buffered (hwgen.controller): vector v loads its `load` beats from
    ls_v = max(le_{v-1} + 1, rd_{v-2} + 1) to le_v = ls_v + load - 1 (its buffer is free the cycle after
    the RUN of vector v - 2 ends, rd); the runner starts it at s_v = max(le_v + 1, d_{v-1} + 1) (its
    buffer full, the previous vector's last output d_{v-1} given), RUN ends at rd_v = s_v + run_v, and
    its last output is d_v = rd_v + out."""
    ends = []
    if not double_buffer:
        t = -1
        for run in runs:
            t += load + run + out
            ends.append(t)
        return ends
    le = rd = d = None
    rds = []
    for v, run in enumerate(runs):
        ls = 0 if v == 0 else max(le + 1, rds[v - 2] + 1 if v >= 2 else 0)
        le = ls + load - 1
        s = le + 1 if d is None else max(le + 1, d + 1)
        rd = s + run
        d = rd + out
        rds.append(rd)
        ends.append(d)
    return ends


def bank_run(lp: LayerPlan, params: ScheduleParams, x=None) -> dict:
    """RUN cycles of one bank on the plan's sections (the module docstring's schedule), its ADC bound and
    ADC batch cycles: {"run", "adc_bound", "batch_cycles"}."""
    params = ScheduleParams.of(params)
    cfg = lp.cfg
    lanes, n_adc = params.lanes, cfg.hw.n_adc
    q = None if x is None else step_popcounts(lp, np.asarray(x).reshape(1, -1))[0]
    issued = issued_steps(lp, params, q)
    sec, res_all, slot_all = lp.sections, lp.columns["res"], lp.columns["slot_col"]
    a = 0
    c_prev = l_prev = f_prev = None
    f_last = last_copy = None
    bound = batch_cycles = 0
    for s in range(lp.n_sections):
        rows, nact, cb = int(sec["rows"][s]), int(sec["n_active"][s]), int(sec["col_base"][s])
        if nact == 0:
            a += EMPTY_SECTION
            continue
        res, slot = res_all[cb:cb + nact], slot_all[cb:cb + nact]
        g = a + SECTION_DECODE if c_prev is None else max(a + SECTION_DECODE, c_prev + 1)
        steps = -(-max(rows, nact) // lanes)
        a = g + steps + GATHER_NEXT_READ
        r = g + steps + gather_ready(cfg.hw.beat)
        c = r if l_prev is None else max(r, l_prev + 1)
        c_prev = c
        if not issued[s]:
            last_copy = c
            continue
        first = c + 1 + group_prime(cfg.hw.adc_mux)
        e = first if f_prev is None else max(first, f_prev)
        plane = _batches(res, slot, n_adc, cfg.hw.adc_mux)
        # (longest conversion, opens an activation) of each batch: a plane's first batch opens one.
        batches = [(min(b, top), k == 0) for _, top in issued[s] for k, b in enumerate(plane)]
        # The batch after a section's last opens the next section's first activation.
        durations = [batch_timing(params, d, front, nxt[1] if nxt else True)[0]
                     for (d, front), nxt in zip(batches, batches[1:] + [None])]
        total = sum(durations)
        l_prev = e + total - durations[-1]
        f_prev = e + total
        f_last = l_prev + batch_timing(params, *batches[-1])[1]
        batch_cycles += sum(d for d, _ in batches)
        for _, top in issued[s]:
            eff = np.minimum(res, top)
            bound += _step_bound(eff, slot, n_adc, cfg.hw.adc_mux)
    run_end = max(a + 1, -1 if f_last is None else f_last + pipeline_depth(n_adc) + FLUSH,
                  -1 if last_copy is None else last_copy + 1)
    return {"run": run_end + 1, "adc_bound": bound, "batch_cycles": batch_cycles}
