"""The static assignment of a plan's sections to the B banks (sequencer + ADC bank units) of the hardware,
and each bank's own plan: the sections it runs, in table order, with their rows, columns and cells."""

from __future__ import annotations

import dataclasses

import numpy as np

from .layout import LayerPlan

__all__ = ["section_cost", "assign_banks", "bank_plan", "bank_plans"]


def section_cost(lp: LayerPlan) -> np.ndarray:
    """(S,) the cycles each section keeps its bank busy, as the assignment weighs them: its ADC batches
    (ceil(n_active / n_adc) batches of n_adc adjacent active columns, each as long as its longest
    resolution) in each of the P drive steps, plus 3 (the prefetch's section word: a section costs at
    least that, an empty one exactly that)."""
    hw, sec, res = lp.cfg.hw, lp.sections, lp.columns["res"]
    cost = np.full(lp.n_sections, 3, np.int64)
    for s in range(lp.n_sections):
        nact, cb = int(sec["n_active"][s]), int(sec["col_base"][s])
        r = res[cb:cb + nact]
        cost[s] += hw.steps * sum(int(r[i:i + hw.n_adc].max()) for i in range(0, nact, hw.n_adc))
    return cost


def assign_banks(lp: LayerPlan, banks: int | None = None) -> list[list[int]]:
    """The sections of each bank, in table order: longest processing time first (LPT), each section in
    order of decreasing `section_cost` (ties: table order) to the bank with the least cost so far (ties:
    the lowest bank). Deterministic, so the plan alone fixes it. `banks` defaults to the plan's."""
    banks = lp.cfg.hw.banks if banks is None else banks
    cost = section_cost(lp)
    load = [0] * banks
    out: list[list[int]] = [[] for _ in range(banks)]
    for s in sorted(range(lp.n_sections), key=lambda s: (-int(cost[s]), s)):
        b = min(range(banks), key=lambda b: (load[b], b))
        load[b] += int(cost[s])
        out[b].append(s)
    return [sorted(x) for x in out]


def bank_plan(lp: LayerPlan, sections: list[int], name: str | None = None) -> LayerPlan:
    """The plan of the sections `sections` (table order) alone: the same layer shape and outputs, its own
    section, row-index and column tables (bases renumbered) and cells."""
    sec, cols = lp.sections, lp.columns
    idx = np.asarray(sections, np.int64)
    rows = [lp.row_index[int(sec["row_base"][s]):int(sec["row_base"][s]) + int(sec["rows"][s])] for s in sections]
    col_slices = [slice(int(sec["col_base"][s]), int(sec["col_base"][s]) + int(sec["n_active"][s])) for s in sections]
    n_rows = np.asarray([len(r) for r in rows], np.int64)
    n_act = np.asarray([sl.stop - sl.start for sl in col_slices], np.int64)
    new_sec = {f: np.asarray(v)[idx].astype(np.asarray(v).dtype) for f, v in sec.items()}
    new_sec["row_base"] = (np.cumsum(n_rows) - n_rows).astype(np.asarray(sec["row_base"]).dtype)
    new_sec["col_base"] = (np.cumsum(n_act) - n_act).astype(np.asarray(sec["col_base"]).dtype)
    row_index = np.concatenate(rows).astype(lp.row_index.dtype) if rows else lp.row_index[:0]
    new_cols = {f: (np.concatenate([np.asarray(v)[sl] for sl in col_slices]) if sections else np.asarray(v)[:0])
                for f, v in cols.items()}
    return dataclasses.replace(lp, name=name or lp.name, sections=new_sec, row_index=row_index, columns=new_cols,
                               cells=None if lp.cells is None else lp.cells[idx] if sections else lp.cells[:0])


def bank_plans(lp: LayerPlan) -> list[LayerPlan]:
    """Each bank's plan (`bank_plan` of `assign_banks`), bank 0 first."""
    return [bank_plan(lp, s, f"{lp.name}.bank{b}") for b, s in enumerate(assign_banks(lp))]
