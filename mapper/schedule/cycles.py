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
            cycles, a' = g + n + 1, and is ready in `next` from r = g + n + gather_ready(W) (5: table words
            registered, columns decoded and row indices registered, inputs read, inputs registered,
            written; 6 with W > 1 inputs a word: the input's element registered before it is written; on
            input-aware hardware the step popcounts are added up in the cycle the rows are written).
  issue     it is copied to `current` at c = max(r, l_prev + 1) (l_prev: the cycle the previous section
            issued its last batch) and issues its first batch at e = max(c + 1 + P, f_prev) (f_prev: the
            cycle the bank is free after the previous section's last batch; P = group_prime: 2 with ADC
            groups, whose first batch's lanes are registered the cycle after the copy and its widest lane
            the cycle after that, else 0). Its batches (`batch_ids` of
            mapper.schedule.tables: with a full switch matrix ceil(n_active / n_adc) batches of n_adc
            columns in column-table order; with ADC groups of M = adc_mux columns, batch k = the k-th
            column of each group), for each issued step, follow back to back, each step's first batch
            opening the step's one activation of the array (its front phases): a batch of longest
            resolution b issued at cycle T frees the bank for the next issue at T + period(b) and is
            captured (done) at T + capture(b) (`batch_timing`, MacroTiming: with the
            default timing period b and capture 1 + b, the start leaving through a register at T + 1;
            with front phases F = precharge + wordline + settle + sample and f = F for a step's first
            batch, 0 for the others: period f + b, but f + max(1, b - F) with sample-and-hold before an
            activation, capture 1 + f + b; with a four-phase handshake of `sync` flops period
            f + b + 2 sync + 2 + DONE_FALL + FREE_DELAY and capture 1 + f + b + sync); f is the last one's capture.
            Weight-only: every step is issued, each column at its planned resolution res.
            Input-aware: a step with q = 0 is skipped (no cycle), the others convert each column at
            min(res, bitlen(q)) bits, so a batch's b is min(b, bitlen(q)); a section whose steps all
            have q = 0 leaves `next` at c and issues nothing (l_prev and f_prev stay).
  end       RUN ends with cycle max(f_last + D + 5, a_end + 1, c_dead + 1) (f_last: the capture of the
            last batch; a_end: the S0 that finds no more sections; c_dead: the copy of the last section
            that issued nothing, if it came after the last that issued;
            D = pipeline_depth(n_adc) = 4 + ceil(log2(n_adc)), the accumulator pipeline
            from the last batch's done to its section's sums; 5 = flush read, the block RAM's read
            register, the bypass register, the registered sum, write and end test). With B > 1 banks RUN
            ends run_end_latency(B) = 1 cycle after the last bank's end (each bank's done flag registered).
The ADC bound of a vector: for each section and issued step, the fewest cycles any schedule of that step's
active-column resolutions on n_adc ADCs can take, summed over the steps and sections (`SectionTables.bound`). Full
switch matrix: max(ceil(sum res / n_adc), max res); the batch schedule reaches it whenever a section has at
most n_adc active columns. ADC groups of M columns (adc_mux): ADC g converts its group's columns one
after the other, so max over g of the sum of its columns' res (reached by free-running ADCs; the lockstep
batches reach it when each group holds at most one active column, as with M = 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..config import HardwareConfig, drive_steps
from ..plan import LayerPlan, assign_banks
from ..sectioning import lossless_bits
from .latency import (EMPTY_SECTION, FLUSH, GATHER_NEXT_READ, SECTION_DECODE, MacroTiming, gather_ready, group_prime,
                      default_lanes, merge_depth, pipeline_depth, run_end_latency, step_order)
from .tables import SectionTables, section_tables, step_bounds

__all__ = ["ScheduleParams", "Schedule", "schedule", "cycle_model", "bank_run", "vector_ends", "batch_timing",
           "step_popcounts", "section_membership", "plan_drive", "issued_steps"]


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


def section_membership(lp: LayerPlan) -> np.ndarray:
    """(K, S) float32: 1 where input k is one of section s's rows."""
    rows = np.asarray(lp.sections["rows"], np.int64)
    member = np.zeros((lp.shape[0], lp.n_sections), np.float32)
    member[lp.row_index[:int(rows.sum())], np.repeat(np.arange(lp.n_sections), rows)] = 1.0
    return member


def step_popcounts(lp: LayerPlan, x: np.ndarray, member: np.ndarray | None = None) -> np.ndarray:
    """q (V, S, P): the rows of section s driven in drive step p (mapper.config.drive step order) by vector v;
    with the bipolar drive the larger of the rows driven +1 and those driven -1 (the column sum lies in
    -min(m, q-)..min(m, q+)). `member`: the plan's section_membership, when the caller has it."""
    drive = plan_drive(lp, x)
    v, p, k = drive.shape
    member = section_membership(lp) if member is None else member

    def count(d):
        q = d.reshape(v * p, k).astype(np.float32) @ member                       # exact: counts <= R < 2**24
        return np.rint(q).astype(np.int64).reshape(v, p, -1).transpose(0, 2, 1)
    if lp.cfg.hw.input_encoding == "bipolar":
        return np.maximum(count(drive > 0), count(drive < 0))
    return count(drive)


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


@dataclass
class Schedule:
    """The schedule of V input vectors (one, the weight-only schedule, when the hardware is weight-only or no
    inputs are given): per vector its RUN cycles, ADC bound and ADC batch cycles, and each bank's RUN.

    `load` and `out` are the cycles of a vector's input beats and of its output (merge pipeline and beats);
    `cycles(v)` the single-vector latency load + RUN + out, `ends` each vector's last output when the V
    vectors stream one after the other (`vector_ends`). `wake` (`MacroTiming.first_wake`): the cycles the
    first vector after a wake (or reset) of a power-controlled macro waits before its walk; the latency and
    the ends count it, the steady-state throughput does not."""

    load: int
    out: int
    run: np.ndarray          # (V,)
    adc_bound: np.ndarray    # (V,)
    batch_cycles: np.ndarray  # (V,)
    bank_runs: np.ndarray    # (V, B)
    double_buffer: bool
    tables: SectionTables
    bounds: np.ndarray       # (V, S, P) each section's step bounds t in issue order (0: not issued)
    wake: int = 0

    def latency(self, v: int = 0) -> int:
        """Cycles from vector v's first input beat to its last output, alone (load + RUN + out, and with
        double buffering one more: the runner starts the cycle after the last beat; after a wake)."""
        return vector_ends(self.load, [int(self.run[v])], self.out, self.double_buffer, self.wake)[0] + 1

    def ends(self, repeat: int | None = None) -> list[int]:
        """The last output cycle of each vector (the V vectors in turn; `repeat`: the first vector's schedule
        that many times, for the steady state of a weight-only schedule)."""
        runs = [int(self.run[0])] * repeat if repeat else [int(r) for r in self.run]
        return vector_ends(self.load, runs, self.out, self.double_buffer, self.wake)

    def throughput(self) -> int:
        """Cycles between consecutive vectors' last outputs in the steady state of the first vector's schedule."""
        e = vector_ends(self.load, [int(self.run[0])] * 4, self.out, self.double_buffer)
        return e[3] - e[2]


def schedule(lp: LayerPlan, params=None, x=None, *, ones: np.ndarray | None = None,
             tables: SectionTables | None = None, run: bool = True, member: np.ndarray | None = None) -> Schedule:
    """The controller's schedule (the module docstring) of the plan for the input vectors x (V, K), or the
    weight-only schedule (x None, or weight-only hardware, whose schedule does not depend on the inputs).

    `ones` (each section's 1-cells) is needed only for a plan without cells; `tables` reuses the plan's
    SectionTables. With B banks each bank runs its own sections (mapper.plan.banks.assign_banks) in table
    order, all from the same cycle; RUN ends when the last bank is done, and the ADC bound and batch cycles
    are the busiest bank's. `run` False skips the RUN recursion and the ADC bound (all 0): the step bounds
    alone, for the event counts."""
    params = ScheduleParams.of(params or lp)
    cfg, (k, n) = lp.cfg, lp.shape
    if tables is None:
        tables = section_tables(lp, params.lanes, params.timing,
                                ones if ones is not None or lp.cells is None else None)
    q = None
    if x is not None and cfg.hw.input_aware:
        q = step_popcounts(lp, x, member)
    bounds = step_bounds(tables, params.step_order, q)
    banks = [np.arange(lp.n_sections)] if cfg.hw.banks == 1 else \
        [np.asarray(b, np.int64) for b in assign_banks(lp)]
    if not run:             # the bounds alone (the event counts need nothing else)
        zero = np.zeros(bounds.shape[0], np.int64)
        per_bank = [(zero, zero, zero) for _ in banks]
    else:
        per_bank = [_bank(tables, bounds, b, _latencies(cfg.hw), run) for b in banks]
    # With B > 1 banks RUN ends run_end_latency cycles after the last bank is done (its done flag registered).
    run = np.max([r for r, _, _ in per_bank], axis=0) + (run_end_latency(cfg.hw.banks) if run else 0)
    beat = cfg.hw.beat
    return Schedule(-(-k // beat), 1 + merge_depth(cfg.hw.banks) + -(-n // beat), run,
                    np.max([b for _, b, _ in per_bank], axis=0), np.max([c for _, _, c in per_bank], axis=0),
                    np.stack([r for r, _, _ in per_bank], axis=1), cfg.hw.double_buffer, tables, bounds,
                    params.timing.first_wake)


def cycle_model(lp: LayerPlan, params=None, x=None) -> dict:
    """Cycles of one vector (see the module docstring), and the ADC bound, for the plan's schedule.

    x : one input vector (K,), for input-aware hardware, whose schedule depends on it. Without it (or on
    weight-only hardware) the weight-only schedule: on input-aware hardware the most any vector can take.

    Returns load, run, out, cycles (load + run + out: one vector's latency), throughput (cycles between
    consecutive vectors' last outputs in the steady state, with double buffering less than cycles),
    adc_bound and batch_cycles (the busiest bank's) and bank_runs.
    """
    sch = schedule(lp, params, None if x is None else np.asarray(x).reshape(1, -1))
    return {"load": sch.load, "run": int(sch.run[0]), "out": sch.out, "cycles": sch.latency(),
            "throughput": sch.throughput(), "adc_bound": int(sch.adc_bound[0]),
            "batch_cycles": int(sch.batch_cycles[0]), "bank_runs": [int(r) for r in sch.bank_runs[0]]}


def vector_ends(load: int, runs: list[int], out: int, double_buffer: bool, wake: int = 0) -> list[int]:
    """The cycle of each vector's last output, cycle 0 the first vector's first input beat, the inputs
    streamed without a gap and the outputs taken at once; `runs` each vector's RUN cycles. `wake`: the
    macro's wake-up (`MacroTiming.first_wake`), which the first vector's RUN waits before its walk (the
    vectors follow a reset or a wake).

    One vector at a time: vector v's load, RUN and output follow each other, load + run + out cycles,
    and the next vector's first beat comes the cycle after v's last output.
    Double-buffered (hwgen.controller): vector v loads its `load` beats from
    ls_v = max(le_{v-1} + 1, rd_{v-2} + 1) to le_v = ls_v + load - 1 (its buffer is free the cycle after
    the RUN of vector v - 2 ends, rd); the runner starts it at s_v = max(le_v + 1, d_{v-1} + 1) (its
    buffer full, the previous vector's last output d_{v-1} given), RUN ends at rd_v = s_v + run_v, and
    its last output is d_v = rd_v + out."""
    runs = [int(r) + (wake if v == 0 else 0) for v, r in enumerate(runs)]
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
    """RUN cycles of one bank running all of the plan's sections (the module docstring's schedule), its ADC
    bound and ADC batch cycles, for one vector x (or the weight-only schedule): {"run", "adc_bound",
    "batch_cycles"}."""
    params = ScheduleParams.of(params)
    tables = section_tables(lp, params.lanes, params.timing)
    q = None if x is None or not lp.cfg.hw.input_aware else step_popcounts(lp, np.asarray(x).reshape(1, -1))
    bounds = step_bounds(tables, params.step_order, q)
    run, bound, batch = _bank(tables, bounds, np.arange(lp.n_sections), _latencies(lp.cfg.hw))
    return {"run": int(run[0]), "adc_bound": int(bound[0]), "batch_cycles": int(batch[0])}


def _latencies(hw: HardwareConfig) -> tuple[int, int, int]:
    """The hardware's latencies the RUN recursion reads (mapper.schedule.latency): the accumulator's pipeline
    depth, the gather's ready latency (W inputs a word) and the ADC groups' lane priming."""
    return pipeline_depth(hw.n_adc), gather_ready(hw.beat), group_prime(hw.adc_mux)


def _bank(tables: SectionTables, bounds: np.ndarray, sections: np.ndarray, depth: tuple[int, int, int],
          run: bool = True):
    """RUN cycles, ADC bound and batch cycles (each (V,)) of one bank running `sections` (table order);
    `depth`: the latencies of `_latencies`."""
    v, _, p = bounds.shape
    chunk = max(1, 4_000_000 // max(1, len(sections) * p))
    if v > chunk:
        parts = [_bank(tables, bounds[i:i + chunk], sections, depth, run) for i in range(0, v, chunk)]
        return tuple(np.concatenate(x) for x in zip(*parts))
    t = bounds[:, sections]                                                       # (V, S_b, P)
    idx = sections[None, :, None]
    steps = (t > 0).sum(axis=2)                                                   # issued steps
    total = tables.period_sum[idx, t].sum(axis=2)
    bound = tables.bound[idx, t].sum(axis=(1, 2))
    batch = tables.batch_bits[idx, t].sum(axis=(1, 2))
    last = p - 1 - np.argmax(t[:, :, ::-1] > 0, axis=2) if p else np.zeros(t.shape[:2], np.int64)
    t_last = np.take_along_axis(t, last[:, :, None], axis=2)[:, :, 0] if p else last
    last_period = tables.last_period[sections[None, :], t_last]
    last_capture = tables.last_capture[sections[None, :], t_last]
    live = tables.live[sections]
    gather = tables.gather[sections]
    runs = np.zeros(v, np.int64)
    for i in range(v if run else 0):
        runs[i] = _run(live.tolist(), gather.tolist(), steps[i].tolist(), total[i].tolist(),
                       last_period[i].tolist(), last_capture[i].tolist(), depth)
    return runs, bound, batch


def _run(live, gather, steps, total, last_period, last_capture, latencies: tuple[int, int, int]) -> int:
    """The RUN recursion of the module docstring over one bank's sections, for one vector: per section whether
    it has an active column, its gather cycles, its issued steps, the cycles of all its batches, and the
    period and capture of its last batch; `latencies` those of `_latencies`."""
    depth, ready, prime = latencies
    never = -(1 << 40)
    a = 0
    c_prev = l_prev = f_prev = never
    f_last = last_copy = -1
    for s in range(len(live)):
        if not live[s]:
            a += EMPTY_SECTION
            continue
        g = max(a + SECTION_DECODE, c_prev + 1)
        n = gather[s]
        a = g + n + GATHER_NEXT_READ
        c = max(g + n + ready, l_prev + 1)
        c_prev = c
        if not steps[s]:
            last_copy = c
            continue
        e = max(c + 1 + prime, f_prev)
        f_prev = e + total[s]
        l_prev = f_prev - last_period[s]
        f_last = l_prev + last_capture[s]
    run_end = max(a + 1, f_last + depth + FLUSH if f_last >= 0 else -1, last_copy + 1)
    return run_end + 1
