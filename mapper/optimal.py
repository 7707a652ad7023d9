"""Energy-optimal sectioning: the cut points of each group's row order that minimize its ADC energy.

The order stays as `row_orders` gives it; only where the sections are cut moves. For one group,
best[j] = min over d in 1..R of best[j - d] + cost(j - d, j), where cost(i, j) is the energy of one
section holding positions [i, j) of the order (under the configuration's law, policy and cap) plus the
optional per-section cost. The program runs over all groups at once (numpy, chunks of groups).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .config import ArrayConfig
from .energy import conversion_energy

__all__ = ["level_energies", "section_energies", "optimal_cuts", "CUBE_BYTES"]

#: Bytes of one chunk's table of section energies (position, length, group): bounds the working memory.
CUBE_BYTES = 64 << 20


def level_energies(cfg: ArrayConfig) -> np.ndarray:
    """E[b] for b = 0..bitlen(R), in units of A * e8_pj: one column that needs b bits, as the policy converts it."""
    top = int(cfg.rows).bit_length()
    need = np.arange(top + 1)
    res = np.full_like(need, cfg.full_resolution) if cfg.policy == "full" else need.copy()
    if cfg.cap is not None:
        res = np.minimum(res, cfg.cap)
    e = np.zeros(top + 1)
    active = need > 0
    e[active] = conversion_energy(cfg, res[active]) / cfg.e8_pj
    return e


def _integer_scale(e: np.ndarray, n_cols: int):
    """(scale, dtype) that make every section's energy an exact small integer, or (1, float64).

    The walden and thermal laws are dyadic (2**(b-8), 4**(b-8)), so scaled by a power of two the
    program runs on exact integers: ties are exact and the tables are 4x smaller than float64.
    """
    for shift in range(64):
        scaled = e * 2.0 ** shift
        if np.all(scaled == np.round(scaled)):
            worst = scaled.max() * max(n_cols, 1)
            if worst < 2 ** 16:
                return 2.0 ** shift, np.uint16
            if worst < 2 ** 31:
                return 2.0 ** shift, np.uint32
            break
    return 1.0, np.float64


def _count_dtype(rows: int):
    # Counts of one section are at most R: modular subtraction of wrapped prefix sums stays exact.
    return np.uint8 if rows < 256 else np.uint16 if rows < 65536 else np.uint32


def section_energies(cs: np.ndarray, d: int, policy: str, e: np.ndarray, col_max: np.ndarray, dtype) -> np.ndarray:
    """Energy of every section of d rows (in e's units): cs is (C, K + 1, n) wrapped prefix counts.

    Returns (K + 1 - d, n): entry [i, g] is the section [i, i + d) of group g. A column needing b bits
    costs e[b] = sum over levels k < b of (e[k + 1] - e[k]), and it needs more than k bits exactly when
    it holds at least 2**k ones: the column policy counts the columns at each level (a thermometer)
    with one-byte compares instead of looking up a table per column. `col_max[c]` bounds column c's
    ones, and a section of d rows holds at most d: higher levels are never reached and are skipped.
    """
    n_cols, k1, n = cs.shape
    shape = (k1 - d, n)
    m = np.empty(shape, cs.dtype)
    top = min(d, int(col_max.max(initial=0)))
    n_levels = top.bit_length()
    count_dt = np.uint8 if n_cols < 256 else np.uint32
    if policy == "column":
        step = np.diff(e)                               # step[k] = e[k + 1] - e[k]
        counts = np.zeros((n_levels,) + shape, count_dt)
        ge = np.empty(shape, bool)
        gev = ge.view(np.uint8)
        for c in range(n_cols):
            reach = min(d, int(col_max[c])).bit_length()
            if reach == 0:
                continue
            np.subtract(cs[c, d:], cs[c, :-d], out=m)
            for k in range(reach):
                np.greater_equal(m, 1 << k, out=ge)
                if count_dt is np.uint8:
                    np.add(counts[k], gev, out=counts[k])
                else:
                    counts[k] += ge
        out = np.zeros(shape, dtype)
        tmp = np.empty(shape, dtype)
        for k in range(n_levels):
            np.multiply(counts[k], dtype(step[k]), out=tmp, casting="unsafe")
            out += tmp
        return out
    # section and full: one resolution per section (the widest need, or full), for every active column.
    active = np.zeros(shape, count_dt)
    widest = np.zeros(shape, cs.dtype)
    for c in range(n_cols):
        if col_max[c] == 0:
            continue
        np.subtract(cs[c, d:], cs[c, :-d], out=m)
        active += m != 0
        np.bitwise_or(widest, m, out=widest)            # bitlen(a | b) = max(bitlen(a), bitlen(b))
    bits = np.zeros(shape, np.int64)
    for k in range(n_levels):
        bits += widest >= (1 << k)
    return (e[bits] * active).astype(dtype)


def optimal_cuts(csum: np.ndarray, kept: np.ndarray, cfg: ArrayConfig, *, workers: int | None = None):
    """(group, start, length) of the sections that minimize each group's energy plus section cost.

    csum is `group_bit_cumsum`: (n_groups, K + 1, G, 2, Bm) ones over the first i rows of each order;
    the first kept[g] rows of group g are cut into sections of 1..R rows. On equal cost the program
    takes the longest last section. Chunks of groups run on `workers` threads (default: one per CPU;
    numpy releases the GIL in its loops).
    """
    n_groups, k1 = csum.shape[:2]
    kept = np.asarray(kept, dtype=np.int64)
    flat = csum.reshape(n_groups, k1, -1)
    e = level_energies(cfg)
    scale, dtype = _integer_scale(e, flat.shape[2])
    penalty = cfg.section_cost_pj / (cfg.e8_pj * cfg.input_bits) * scale
    # Longest groups first, in chunks of similar length, so short groups do not pay for the longest one.
    todo = np.nonzero(kept > 0)[0]
    todo = todo[np.argsort(-kept[todo], kind="stable")]
    chunks, at = [], 0
    while at < len(todo):
        kmax = int(kept[todo[at]])
        per_group = (kmax + 1) * min(cfg.rows, kmax) * np.dtype(dtype).itemsize
        chunks.append(todo[at:at + max(1, CUBE_BYTES // per_group)])
        at += len(chunks[-1])

    def run(chunk):
        kmax = int(kept[chunk].max())
        g, s, l = _chunk_cuts(flat[chunk, :kmax + 1], kept[chunk], cfg.rows, cfg.policy, e * scale, dtype, penalty)
        return chunk[g], s, l

    workers = workers or os.cpu_count() or 1
    if workers > 1 and len(chunks) > 1:
        with ThreadPoolExecutor(min(workers, len(chunks))) as pool:
            parts = list(pool.map(run, chunks))
    else:
        parts = [run(c) for c in chunks]
    if not parts:
        z = np.zeros(0, np.int64)
        return z, z.copy(), z.copy()
    group, start, length = (np.concatenate(x).astype(np.int64) for x in zip(*parts))
    order = np.lexsort((start, group))
    return group[order], start[order], length[order]


def _chunk_cuts(flat, kept, rows, policy, e, dtype, penalty):
    n, k1, n_cols = flat.shape
    r = min(rows, k1 - 1)
    # (C, K + 1, n): one contiguous (position, group) plane per column; wrapping is harmless (see _count_dtype).
    cs = np.ascontiguousarray(flat.transpose(2, 1, 0)).astype(_count_dtype(rows))
    col_max = flat[:, -1, :].max(axis=0)
    # cube[j, r - d, g]: the section [j - d, j) of group g. Entries with d > j are never read.
    cube = np.empty((k1, r, n), dtype)
    for d in range(1, r + 1):
        cube[d:, r - d, :] = section_energies(cs, d, policy, e, col_max, dtype)
    best = np.zeros((k1, n))
    back = np.zeros((k1, n), np.int32)
    cols = np.arange(n)
    for j in range(1, k1):
        dmax = min(r, j)
        # Row i: a last section of dmax - i rows after best[j - dmax + i]. argmin takes the first
        # minimum, so on equal cost the longest section wins.
        cand = cube[j, r - dmax:] + best[j - dmax:j]
        pick = cand.argmin(axis=0)
        best[j] = cand[pick, cols] + penalty
        back[j] = dmax - pick
    # Walk back from each group's last kept row.
    g_out, s_out, l_out = [], [], []
    pos = kept.copy()
    live = np.nonzero(pos > 0)[0]
    while len(live):
        d = back[pos[live], live]
        pos[live] -= d
        g_out.append(live)
        s_out.append(pos[live].copy())
        l_out.append(d.astype(np.int64))
        live = live[pos[live] > 0]
    return np.concatenate(g_out), np.concatenate(s_out), np.concatenate(l_out)
