"""Per section of a plan, what the schedule and the event counts read from its tables, as lookup tables over a
drive step's resolution bound t (docs/design.md sections 4 and 6).

In a drive step a section converts each of its active columns at min(res, t) bits: t = full_resolution on
weight-only hardware, t = bitlen(q) on input-aware hardware (q: the section's rows driven in the step), and
t = 0 for a step that is not issued. Everything a step costs (its batches' periods, the ADC bound, the
conversions at each resolution) is therefore a function of (section, t), tabulated here once per plan, so
that the cycle model (mapper.schedule.cycles) and the event counts (mapper.schedule.events) are table
lookups, for one vector or many. Only the section and column tables are read: a plan built without its
cells (`mapper.plan.build_layer_plan(lm, cells=False)`) serves, and `ones` (each section's 1-cells) comes
from the cells when the plan has them, or is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..plan import LayerPlan
from ..sectioning import lossless_bits
from .latency import DONE_FALL, FREE_DELAY, MacroTiming

__all__ = ["SectionTables", "section_tables", "batch_ids", "periods", "captures"]


def periods(tm: MacroTiming, b: np.ndarray, front: np.ndarray | bool = True,
            next_front: np.ndarray | bool = True) -> np.ndarray:
    """MacroTiming.period for arrays of batch widths (each >= 1), whether each batch opens an activation
    (`front`) and whether the batch after it does (`next_front`)."""
    b = np.asarray(b, np.int64)
    f = np.where(front, tm.front, 0)
    if tm.sync:
        return f + 1 + b + tm.sync + 1 + DONE_FALL + tm.sync + FREE_DELAY
    if tm.sample:
        return np.where(next_front, f + np.maximum(1, b - tm.front), f + b)
    return f + b


def captures(tm: MacroTiming, b: np.ndarray, front: np.ndarray | bool = True) -> np.ndarray:
    """MacroTiming.capture for arrays of batch widths and whether each opens an activation."""
    return 1 + np.where(front, tm.front, 0) + np.asarray(b, np.int64) + tm.sync


def batch_ids(section: np.ndarray, slot: np.ndarray, n_adc: int, adc_mux: int) -> np.ndarray:
    """The batch of each active column within its section (columns in column-table order, `section` the
    section of each). Full switch matrix (adc_mux 0): batch b holds the section's entries b * n_adc ..
    b * n_adc + n_adc - 1. ADC groups of M = adc_mux columns: batch k holds the k-th entry of each group
    (group = slot // M), so an entry's batch is its rank among its group's entries."""
    n = len(section)
    if not n:
        return np.zeros(0, np.int64)
    starts = np.concatenate([[0], np.flatnonzero(np.diff(section)) + 1])
    first = np.repeat(starts, np.diff(np.concatenate([starts, [n]])))
    if not adc_mux:
        return (np.arange(n) - first) // n_adc
    key = section.astype(np.int64) * (int(slot.max()) // adc_mux + 1) + slot // adc_mux
    order = np.argsort(key, kind="stable")
    sk = key[order]
    run_start = np.concatenate([[0], np.flatnonzero(np.diff(sk)) + 1])
    rank_sorted = np.arange(n) - np.repeat(run_start, np.diff(np.concatenate([run_start, [n]])))
    rank = np.empty(n, np.int64)
    rank[order] = rank_sorted
    return rank


@dataclass
class SectionTables:
    """Per section s (table order) and step bound t = 0..F (F = full_resolution; t = 0: not issued).

    Parameters
    ----------
    rows, n_active, ones : (S,) int64
        Rows of the section, active columns, 1-cells (on its rows, in its active columns).
    live : (S,) bool
        The section has an active column (an empty section is skipped by the prefetch).
    gather : (S,) int64
        Gather cycles, ceil(max(rows, n_active) / lanes).
    period_sum : (S, F + 1)
        Cycles from a step's first issue to the bank being free after its last batch: the sum of its
        batches' periods (MacroTiming.period of min(widest, t), the first batch opening the step's
        activation).
    last_period, last_capture : (S, F + 1)
        Period and capture (issue to done) of the step's last batch.
    batch_bits : (S, F + 1)
        The sum of the batches' widths min(widest, t): the step's ADC batch cycles.
    bound : (S, F + 1)
        The step's ADC bound: the fewest cycles any schedule of its conversions min(res, t) can take on the
        bank (full switch matrix: max(ceil(sum / n_adc), max); ADC groups: the busiest group's sum).
    conversions : (S, F + 1, F + 1 + sign bits)
        conversions[s, t, b]: the step's conversions at b bits (bipolar drive: one bit more than min(res, t)).
    """

    full: int
    rows: np.ndarray
    n_active: np.ndarray
    ones: np.ndarray
    live: np.ndarray
    gather: np.ndarray
    period_sum: np.ndarray
    last_period: np.ndarray
    last_capture: np.ndarray
    batch_bits: np.ndarray
    bound: np.ndarray
    conversions: np.ndarray

    @property
    def n_sections(self) -> int:
        return len(self.rows)


def _section_ones(lp: LayerPlan) -> np.ndarray:
    if lp.cells is None:
        raise ValueError(f"layer {lp.name}: a plan without cells needs each section's ones given")
    if not lp.n_sections:
        return np.zeros(0, np.int64)
    return lp.cells.reshape(lp.n_sections, -1).sum(axis=1, dtype=np.int64)


def _section_max(index: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, np.int64)
    if len(index):
        np.maximum.at(out, index, values)
    return out


def section_tables(lp: LayerPlan, lanes: int, timing: MacroTiming, ones: np.ndarray | None = None) -> SectionTables:
    """The lookup tables of a plan's sections (see SectionTables) for a gather of `lanes` rows a cycle and the
    macro's phase timing."""
    hw = lp.cfg.hw
    full, n_adc, mux, extra = hw.full_resolution, hw.n_adc, hw.adc_mux, hw.sign_bits
    sec, cols = lp.sections, lp.columns
    s_count = lp.n_sections
    rows = np.asarray(sec["rows"], np.int64)
    nact = np.asarray(sec["n_active"], np.int64)
    ones = _section_ones(lp) if ones is None else np.asarray(ones, np.int64)
    res = np.asarray(cols["res"], np.int64)
    slot = np.asarray(cols["slot_col"], np.int64)
    col_sec = np.repeat(np.arange(s_count), nact)
    t = np.arange(full + 1)
    width = full + 1
    live = nact > 0

    def per_section(index, values, n=s_count):
        """Sum of values (rows, F + 1) by index (rows,) into (n, F + 1)."""
        flat = (index[:, None] * width + t[None, :]).reshape(-1)
        return np.bincount(flat, weights=values.reshape(-1), minlength=n * width).reshape(n, width).astype(np.int64)

    # A conversion's bits at bound t: min(res, t), plus the bipolar drive's sign bit (t = 0: none).
    eff = np.where(t[None, :] > 0, np.minimum(res[:, None], t[None, :]) + extra, 0)   # (C, F + 1)
    # Batches: the widest planned resolution of each, grouped by section in table order.
    bid = batch_ids(col_sec, slot, n_adc, mux)
    n_batches = np.zeros(s_count, np.int64)
    if len(bid):
        np.maximum.at(n_batches, col_sec, bid + 1)
    offset = np.concatenate([[0], np.cumsum(n_batches)[:-1]]).astype(np.int64)
    widest = np.zeros(int(n_batches.sum()), np.int64)
    if len(bid):
        np.maximum.at(widest, offset[col_sec] + bid, res)
    issued = (t > 0)[None, :]
    wt = np.where(issued, np.minimum(widest[:, None], t[None, :]) + extra, 0)    # (batches, F + 1)
    # A step's first batch opens its activation; the batch after a step's last opens the next step's (or
    # the next section's) activation.
    batch_sec = np.repeat(np.arange(s_count), n_batches)
    k_in = np.arange(len(widest)) - offset[batch_sec]
    first_b, last_b = (k_in == 0)[:, None], (k_in == n_batches[batch_sec] - 1)[:, None]
    per = np.where(issued, periods(timing, np.maximum(wt, 1), first_b, last_b), 0)
    period_sum = per_section(batch_sec, per)
    batch_bits = per_section(batch_sec, np.where(issued, wt, 0))
    last_w = np.zeros(s_count, np.int64)
    last_w[live] = widest[offset[live] + n_batches[live] - 1]
    lw = np.maximum(np.minimum(last_w[:, None], t[None, :]) + extra, 1)
    single = (n_batches == 1)[:, None]             # the last batch is also the first: it opens the activation
    last_period = np.where(issued, periods(timing, lw, single, True), 0)
    last_capture = np.where(issued, captures(timing, lw, single), 0)
    # The ADC bound of a step.
    if not mux:
        total = per_section(col_sec, eff)
        top = np.where(t[None, :] > 0, np.minimum(_section_max(col_sec, res, s_count)[:, None], t[None, :]) + extra, 0)
        bound = np.maximum(-(-total // n_adc), top)
    else:
        groups = hw.slot_cols // mux + 1
        bound = per_section(col_sec * groups + slot // mux, eff, s_count * groups)
        bound = bound.reshape(s_count, groups, width).max(axis=1)
    # conversions[s, t, b]: columns of s at res r convert at min(r, t) (+ the sign bit) bits.
    hist = np.bincount(col_sec * width + res, minlength=s_count * width).reshape(s_count, width)
    conversions = np.zeros((s_count, width, width + extra), np.int64)
    for tt in range(1, width):
        conversions[:, tt, extra:tt + extra] = hist[:, :tt]
        conversions[:, tt, tt + extra] = hist[:, tt:].sum(axis=1)
    conversions[:, :, 0] = 0
    gather = -(-np.maximum(rows, nact) // lanes)
    return SectionTables(full, rows, nact, ones, live, gather, period_sum, last_period, last_capture, batch_bits,
                         bound, conversions)


def step_bounds(tables: SectionTables, issue_order: list[int], q: np.ndarray | None) -> np.ndarray:
    """(V, S, P) the bound t of each section's drive steps in issue order: the full resolution on weight-only
    hardware (q None: V = 1), bitlen(q) on input-aware hardware (q (V, S, P) in step-index order); 0 for a
    step that is not issued (q = 0) and for every step of an empty section."""
    live = tables.live
    if q is None:
        t = np.where(live[:, None], tables.full, 0) * np.ones((1, len(issue_order)), np.int64)
        return t[None]
    q = np.asarray(q)[:, :, issue_order]
    bits = lossless_bits(np.arange(int(q.max(initial=0)) + 1))                 # bitlen by table lookup
    return np.where(live[None, :, None], np.minimum(bits[q], tables.full), 0)
