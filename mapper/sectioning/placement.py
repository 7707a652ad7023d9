"""Where a section's active columns sit in its slot, on hardware whose ADC i serves only the adjacent slot
columns i*M .. i*M+M-1 (`HardwareConfig.adc_mux` M >= 1), and what the lockstep batches then cost.

The controller converts a section's columns in lockstep batches: batch k holds the k-th column (in
column-table order: widest first) of every ADC group, and lasts its widest column. Per drive step a section
then takes sum over k of max over groups of the k-th widest resolution of the group (`lockstep_batches`).
Sorting each group widest first is the best lockstep order for a given placement: for every t the batches
whose widest column has t bits or more are at least max over groups of the group's columns of t bits or
more, and the sorted order has exactly that many.

Placements (`MappingConfig.placement`):
- "fixed": the natural slot order, logical column l = (j * 2 + sign) * Bm + bit at slot column l.
- "balanced" (SWS-aware): the active columns sorted widest first (then by logical column) and dealt round
  robin over the groups that still have a free column, so that batch k holds the k-th chunk of ceil(n / M)
  (n = number of groups) similar resolutions; the inactive columns fill the free positions in logical order.
  While no group is full this is the best lockstep placement (the batches are the chunks of the sorted
  resolutions: for every t, ceil(count(res >= t) / groups) batches, the fewest any placement allows);
  the fixed placement is kept for a section where it is not worse.

`mux_bound` is the fewest cycles any schedule of one step can take under the multiplexing: ADC g converts
its columns one after the other, so max over groups of the sum of their resolutions (reached by letting
every ADC run free; lockstep batches reach it when every group holds at most one column, e.g. M = 1).
"""

from __future__ import annotations

import numpy as np

from ..config import ArrayConfig

__all__ = ["lockstep_batches", "mux_bound", "place_section", "placements"]


def _groups(res: np.ndarray, m: int) -> list[np.ndarray]:
    return [np.sort(res[g:g + m][res[g:g + m] > 0])[::-1] for g in range(0, len(res), m)]


def lockstep_batches(res: np.ndarray, m: int) -> list[int]:
    """The widest resolution of each lockstep batch of one step, for resolutions `res` by slot column (0: not
    active) and M = `m` columns per ADC."""
    groups = _groups(np.asarray(res, np.int64), m)
    depth = max((len(g) for g in groups), default=0)
    return [max(int(g[k]) for g in groups if len(g) > k) for k in range(depth)]


def mux_bound(res: np.ndarray, m: int) -> int:
    """Fewest cycles of one step on ADCs of M = `m` columns each: max over ADCs of the sum of their columns'
    resolutions (`res` by slot column)."""
    res = np.asarray(res, np.int64)
    return max((int(res[g:g + m].sum()) for g in range(0, len(res), m)), default=0)


def place_section(res: np.ndarray, cfg: ArrayConfig) -> np.ndarray:
    """perm (slot_cols,): the slot column of each logical column (natural order) of one section with
    resolutions `res` (logical order, 0: not active), under the configuration's placement and adc_mux."""
    res = np.asarray(res, np.int64)
    sc, m = len(res), cfg.hw.adc_mux
    ident = np.arange(sc)
    if cfg.mapping.placement == "fixed" or not m:
        return ident
    n_groups = -(-sc // m)
    room = [min(m, sc - g * m) for g in range(n_groups)]
    fill = [0] * n_groups
    perm = np.full(sc, -1, np.int64)
    g = 0
    for l in np.lexsort((ident, -res)):
        if res[l] == 0:
            break
        while fill[g] == room[g]:
            g = (g + 1) % n_groups
        perm[l] = g * m + fill[g]
        fill[g] += 1
        g = (g + 1) % n_groups
    free = np.setdiff1d(ident, perm[perm >= 0])
    perm[perm < 0] = free
    placed = np.zeros(sc, np.int64)
    placed[perm] = res
    if sum(lockstep_batches(placed, m)) >= sum(lockstep_batches(res, m)):
        return ident
    return perm


def placements(res: np.ndarray, cfg: ArrayConfig) -> np.ndarray:
    """perm (S, slot_cols): `place_section` of every section of the (S, ...) resolutions."""
    flat = np.asarray(res, np.int64).reshape(len(res), cfg.hw.slot_cols)
    if cfg.mapping.placement == "fixed" or not cfg.hw.adc_mux:     # every section in its natural order
        return np.broadcast_to(np.arange(cfg.hw.slot_cols), flat.shape).copy()
    return np.array([place_section(r, cfg) for r in flat], np.int64).reshape(flat.shape)
