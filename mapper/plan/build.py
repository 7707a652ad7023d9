"""A mapped layer's ROM contents (docs/design.md section 5), and the weights rebuilt from them."""

from __future__ import annotations

import numpy as np

from ..common import SwsError
from ..sectioning import grouped, weight_bits_of
from ..sectioning import LayerMap
from ..sectioning import placements
from .layout import COLUMN_FIELDS, LayerPlan, SECTION_FIELDS

__all__ = ["build_layer_plan", "rebuild_weights"]


def _adc_group(slot: np.ndarray, cfg) -> np.ndarray:
    """The ADC that converts each slot column: slot // adc_mux, or 0 for all with a full switch matrix."""
    return slot // cfg.hw.adc_mux if cfg.hw.adc_mux else np.zeros_like(slot)


def build_layer_plan(lm: LayerMap, cells: bool = True) -> LayerPlan:
    """The ROM contents of a mapped layer (docs/design.md section 5).

    Parameters
    ----------
    lm : LayerMap
        A layer mapped by `mapper.sectioning.mapping.map_layer`.
    cells : bool
        Build the cell image too (False: the tables alone, `cells` None, for the schedule and the event
        counts of mapper.schedule, which read the tables only).

    Returns
    -------
    LayerPlan
        Section, row-index and column tables and the cell image, as integer arrays; active columns
        of each section are listed widest resolution first (with adc_mux M >= 1: by ADC group, then
        widest first), at the slot columns the placement gives them.
    """
    cfg, sec = lm.cfg, lm.sec
    k, n = lm.layer.shape
    s_count, r = sec.n_sections, cfg.hw.rows
    pos = sec.sec_start[:, None] + np.arange(r)[None, :]
    valid = np.arange(r)[None, :] < sec.sec_len[:, None]
    rowsel = sec.order[sec.sec_group[:, None], np.minimum(pos, k - 1)]
    row_index = rowsel[valid]                       # each section's rows in turn (row-major over (S, R))
    res = lm.res.reshape(s_count, cfg.hw.slot_cols)
    # Placement (mapper.sectioning.placement): logical column l of section s sits at slot column perm[s, l].
    perm = placements(res, cfg)
    logical = np.argsort(perm, axis=1)              # the logical column at each slot column
    if cells:
        # Cells: gather each section's rows (padded to R with zero rows) from the group-ordered weights.
        vals = grouped(lm.layer.weights, cfg.hw.group)[sec.sec_group[:, None], rowsel] * valid[:, :, None]
        image = weight_bits_of(vals, cfg.hw.weight_bits).reshape(s_count, r, cfg.hw.slot_cols)
        image = np.take_along_axis(image, logical[:, None, :], axis=2).astype(np.uint8)
    else:
        image = None
    res = np.take_along_axis(res, logical, axis=1)
    n_active = np.count_nonzero(res, axis=1)
    s_of, slot = np.nonzero(res)
    # Active columns, per section (and ADC group, with adc_mux), the widest first: ADCs that start together
    # then finish close together.
    by = np.lexsort((slot, -res[s_of, slot], _adc_group(slot, cfg), s_of))
    s_of, slot = s_of[by], slot[by]
    j, rem = np.divmod(logical[s_of, slot], 2 * cfg.hw.weight_bits)
    sign, bit = np.divmod(rem, cfg.hw.weight_bits)
    columns = {f: np.asarray(v, np.int64) for f, v in
               zip(COLUMN_FIELDS, (slot, sec.sec_group[s_of] * cfg.hw.group + j, sign, bit, res[s_of, slot]))}
    sections = {
        "rows": sec.sec_len.astype(np.int64),
        "row_base": np.concatenate([[0], np.cumsum(sec.sec_len)[:-1]]).astype(np.int64),
        "col_base": np.concatenate([[0], np.cumsum(n_active)[:-1]]).astype(np.int64),
        "n_active": n_active.astype(np.int64),
        "out_base": (sec.sec_group * cfg.hw.group).astype(np.int64),
    }
    if s_count == 0:
        sections = {f: np.zeros(0, np.int64) for f in SECTION_FIELDS}
    scale = None if lm.layer.scale is None else [float(x) for x in lm.layer.scale]
    return LayerPlan(lm.layer.name, cfg, (k, n), sections, row_index.astype(np.int64), columns, image, scale)


def rebuild_weights(lp: LayerPlan) -> np.ndarray:
    """W from the ROM images alone: each cell's bit, placed by the row-index table and the section's outputs."""
    cfg, (k, n) = lp.cfg, lp.shape
    g, bm = cfg.hw.group, cfg.hw.weight_bits
    s_count = lp.n_sections
    cells = lp.cells
    if cfg.mapping.placement != "fixed":     # back to the natural slot order, from the column table
        cols, sec = lp.columns, lp.sections
        sec_of_col = np.repeat(np.arange(s_count), sec["n_active"])
        logical = ((cols["out"] - sec["out_base"][sec_of_col]) * 2 + cols["sign"]) * bm + cols["bit"]
        cells = np.zeros_like(lp.cells)
        cells[sec_of_col, :, logical] = lp.cells[sec_of_col, :, cols["slot_col"]]
    bits = cells.reshape(s_count, cfg.hw.rows, g, 2, bm).astype(np.int64)
    vals = ((bits[:, :, :, 0, :] - bits[:, :, :, 1, :]) << np.arange(bm)).sum(axis=3)   # (S, R, G)
    valid_row = np.arange(cfg.hw.rows)[None, :] < lp.sections["rows"][:, None]
    out = lp.sections["out_base"][:, None] + np.arange(g)[None, :]                        # (S, G)
    if np.any(vals[~valid_row]) or np.any(vals.transpose(0, 2, 1)[out >= n]):
        raise SwsError(f"layer {lp.name}: the cell image holds ones outside the rows and outputs of its sections")
    w = np.zeros((k, n), np.int64)
    srow, r = np.nonzero(valid_row)
    inputs = lp.row_index[lp.sections["row_base"][srow] + r]
    for j in range(g):
        ok = out[srow, j] < n
        np.add.at(w, (inputs[ok], out[srow[ok], j]), vals[srow[ok], r[ok], j])
    return w
