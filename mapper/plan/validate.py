"""The range and consistency rules of a layer's plan (docs/design.md section 5), for plans written by any tool."""

from __future__ import annotations

import numpy as np

from ..common import SwsError
from ..sectioning import lossless_bits
from .layout import COLUMN_FIELDS, LayerPlan

__all__ = ["check_layer_plan"]


def check_layer_plan(lp: LayerPlan, where: dict | None = None) -> None:
    """An SwsError unless every ROM field of `lp` is in its range and the tables agree with each other,
    with the layer's shape and with the cells (docs/design.md section 5).

    `where` maps each ROM ("sections", "rows", "columns", "cells") to (file, line of each word), for the
    messages; without it the messages name the word's index.
    """
    cfg, (k, n) = lp.cfg, lp.shape
    g, bm, r = cfg.hw.group, cfg.hw.weight_bits, cfg.hw.rows
    sec, cols, s_count = lp.sections, lp.columns, lp.n_sections

    def fail(rom, index, field, value, rule):
        if where and rom in where:
            f, lines = where[rom]
            at = f"{f}, line {lines[index]}" if index < len(lines) else f
        else:
            at = f"layer {lp.name}, {rom} word {index}"
        raise SwsError(f"{at}: field {field} = {value} {rule}")

    def first(bad):
        return int(np.argmax(bad))

    def check(rom, field, values, bad, rule):
        if np.any(bad):
            i = first(bad)
            fail(rom, i, field, int(values[i]), rule)

    rows, n_act, out_base = sec["rows"], sec["n_active"], sec["out_base"]
    check("sections", "rows", rows, rows > r, f"is more than the array's {r} rows")
    check("sections", "n_active", n_act, n_act > cfg.hw.slot_cols, f"is more than the {cfg.hw.slot_cols} slot columns")
    check("sections", "out_base", out_base, out_base >= n, f"is not below N = {n}")
    check("sections", "out_base", out_base, out_base % g != 0, f"is not a multiple of the group {g}")
    row_base = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    col_base = np.concatenate([[0], np.cumsum(n_act)[:-1]]).astype(np.int64)
    check("sections", "row_base", sec["row_base"], sec["row_base"] != row_base,
          "is not the sum of the rows of the sections before it (sections are contiguous)")
    check("sections", "col_base", sec["col_base"], sec["col_base"] != col_base,
          "is not the sum of the active columns of the sections before it (sections are contiguous)")
    if rows.sum() != len(lp.row_index):
        fail("sections", s_count - 1, "rows", int(rows[-1]) if s_count else 0,
             f"makes {int(rows.sum())} rows in all, but the row table holds {len(lp.row_index)}")
    if n_act.sum() != len(cols["res"]):
        fail("sections", s_count - 1, "n_active", int(n_act[-1]) if s_count else 0,
             f"makes {int(n_act.sum())} active columns in all, but the column table holds {len(cols['res'])}")
    idx = lp.row_index
    check("rows", "index", idx, idx >= k, f"is not below K = {k}")
    # Each input meets each output group at most once.
    sec_of_row = np.repeat(np.arange(s_count), rows)
    pair = out_base[sec_of_row] // g * k + idx
    order = np.argsort(pair, kind="stable")
    dup = np.zeros(len(pair), bool)
    dup[order[1:]] = pair[order[1:]] == pair[order[:-1]]
    check("rows", "index", idx, dup, "appears twice for the same outputs")
    slot, out, sign, bit, res = (cols[f] for f in COLUMN_FIELDS)
    sec_of_col = np.repeat(np.arange(s_count), n_act)
    check("columns", "slot_col", slot, slot >= cfg.hw.slot_cols, f"is not below the {cfg.hw.slot_cols} slot columns")
    check("columns", "bit", bit, bit >= bm, f"is not below weight_bits = {bm}")
    check("columns", "res", res, res > cfg.hw.full_resolution, f"is above the full resolution {cfg.hw.full_resolution}")
    check("columns", "res", res, res < 1, "is 0: an active column is converted at 1 bit or more")
    fixed = cfg.mapping.placement == "fixed"
    if fixed:
        j, rem = np.divmod(slot, 2 * bm)
        check("columns", "sign", sign, sign != rem // bm, "does not match the slot column's sign")
        check("columns", "bit", bit, bit != rem % bm, "does not match the slot column's bit")
        check("columns", "out", out, out != out_base[sec_of_col] + j,
              "is not the section's out_base plus the slot column's output")
    else:
        local = out - out_base[sec_of_col]
        check("columns", "out", out, (local < 0) | (local >= g),
              f"is not one of the section's {g} outputs out_base .. out_base + {g - 1}")
        logical = (local * 2 + sign) * bm + bit
        for name, key, what in (("slot_col", slot, "slot column"), ("out", logical, "(out, sign, bit) column")):
            pair = sec_of_col * cfg.hw.slot_cols + key
            order = np.argsort(pair, kind="stable")
            dup = np.zeros(len(pair), bool)
            dup[order[1:]] = pair[order[1:]] == pair[order[:-1]]
            check("columns", name, cols[name], dup, f"repeats a {what} of its section")
    check("columns", "out", out, out >= n, f"is not below N = {n}")
    grp = slot // cfg.hw.adc_mux if cfg.hw.adc_mux else np.zeros_like(slot)
    later = np.zeros(len(slot), bool)
    same = sec_of_col[1:] == sec_of_col[:-1]
    later[1:] = same & ((grp[1:] < grp[:-1]) | ((grp[1:] == grp[:-1]) & (
        (res[1:] > res[:-1]) | ((res[1:] == res[:-1]) & (slot[1:] <= slot[:-1])))))
    rule = ("ADC group (slot column // adc_mux) first, then widest resolution, then ascending slot column"
            if cfg.hw.adc_mux else "widest resolution first, then ascending slot column")
    check("columns", "res", res, later, f"breaks the order of a section's columns: {rule}")
    # Cells: zero outside the section's rows and real outputs; ones only in active columns, and never
    # more of them than the column's resolution counts (unless a cap makes that saturation deliberate).
    cells = lp.cells
    valid_row = np.arange(r)[None, :] < rows[:, None]                                     # (S, R)
    real_col = (out_base[:, None] + np.arange(cfg.hw.slot_cols)[None, :] // (2 * bm)) < n   # (S, slot_cols)
    stray = cells.any(axis=2) & ~valid_row
    if stray.any():
        s, rr = np.argwhere(stray)[0]
        fail("cells", s * r + rr, "row", f"{rr} of section {s}", f"holds ones, but the section has "
             f"{int(rows[s])} rows")
    ones = cells.sum(axis=1, dtype=np.int64)                                              # (S, slot_cols)
    col_res = np.zeros((s_count, cfg.hw.slot_cols), np.int64)
    col_res[sec_of_col, slot] = res
    beyond = (ones > 0) & ~real_col & fixed     # balanced: the inactive-column rule and out < N cover it
    if beyond.any():
        s, c = np.argwhere(beyond)[0]
        fail("cells", s * r, "slot column", f"{c} of section {s}", f"holds ones, but its output "
             f"{int(out_base[s]) + c // (2 * bm)} is not below N = {n}")
    inactive = (ones > 0) & (col_res == 0)
    if inactive.any():
        s, c = np.argwhere(inactive)[0]
        fail("cells", s * r, "slot column", f"{c} of section {s}", "holds ones but is not an active column")
    need = lossless_bits(ones)
    if cfg.mapping.cap is not None:
        need = np.minimum(need, cfg.mapping.cap)
    short = (col_res > 0) & (col_res < need)
    if short.any():
        s, c = np.argwhere(short)[0]
        i = int(np.nonzero((sec_of_col == s) & (slot == c))[0][0])
        fail("columns", i, "res", int(col_res[s, c]), f"cannot count the {int(ones[s, c])} ones of slot column "
             f"{c} of section {s} (it needs {int(need[s, c])} bits)")
