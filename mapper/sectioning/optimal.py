"""Energy-optimal sectioning: the cut points of each group's row order that minimize its ADC energy.

The order stays as `row_orders` gives it; only where the sections are cut moves. For one group,
best[j] = min over d in 1..R of best[j - d] + cost(j - d, j), where cost(i, j) is the energy of one
section holding positions [i, j) of the order (under the configuration's law, policy and cap) plus the
optional per-section cost. The program runs over all groups at once (numpy, chunks of groups).

`refine_sections` goes beyond one order: it moves and swaps rows between a group's sections.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from .bits import group_bit_cumsum, grouped, weight_bits_of
from ..config import ArrayConfig
from ..config import conversion_energy

__all__ = ["level_energies", "section_energies", "optimal_cuts", "refine_sections", "optimal_strategy",
           "refined_strategy", "CUBE_BYTES"]

#: Bytes of one chunk's table of section energies (position, length, group): bounds the working memory.
CUBE_BYTES = 64 << 20


def level_energies(cfg: ArrayConfig) -> np.ndarray:
    """E[b] for b = 0..bitlen(R), in units of A * e8_pj: one column that needs b bits, as the policy converts it."""
    top = int(cfg.hw.rows).bit_length()
    need = np.arange(top + 1)
    res = np.full_like(need, cfg.hw.full_resolution) if cfg.mapping.policy == "full" else need.copy()
    if cfg.mapping.cap is not None:
        res = np.minimum(res, cfg.mapping.cap)
    e = np.zeros(top + 1)
    active = need > 0
    e[active] = conversion_energy(cfg, res[active]) / cfg.energy.e8_pj
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
    penalty = cfg.mapping.section_cost_pj / (cfg.energy.e8_pj * cfg.hw.steps) * scale
    # Longest groups first, in chunks of similar length, so short groups do not pay for the longest one.
    todo = np.nonzero(kept > 0)[0]
    todo = todo[np.argsort(-kept[todo], kind="stable")]
    chunks, at = [], 0
    while at < len(todo):
        kmax = int(kept[todo[at]])
        per_group = (kmax + 1) * min(cfg.hw.rows, kmax) * np.dtype(dtype).itemsize
        chunks.append(todo[at:at + max(1, CUBE_BYTES // per_group)])
        at += len(chunks[-1])

    def run(chunk):
        kmax = int(kept[chunk].max())
        g, s, l = _chunk_cuts(flat[chunk, :kmax + 1], kept[chunk], cfg.hw.rows, cfg.mapping.policy, e * scale, dtype, penalty)
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


_HUGE = 1e30

#: Float64 entries of one chunk's swap table (groups x rows x rows) in refine_sections.
SWAP_ELEMENTS = 1 << 22


def refine_sections(wg: np.ndarray, cfg: ArrayConfig, order: np.ndarray, kept: np.ndarray, group: np.ndarray,
                    start: np.ndarray, length: np.ndarray, *, max_rounds: int = 1000):
    """Improve cut sections by moving single rows to another section of their group, or swapping two rows.

    The cuts of one order cannot put a row with another section's rows unless the order already had it
    there; a move or a swap can. Each round applies, in every group, the one move or swap (of rows in
    different sections) that saves the most energy plus section cost, until none saves anything. Column
    policy only: a column's cost then depends on its own count, and a move changes each of the row's
    columns by one, so all moves and swaps of a round are priced at once with batched products.
    Returns the order with each group's kept rows regrouped section by section; the caller cuts it
    again (optimal_cuts), which can only do better than the refined sections, one of its cuts.
    """
    n_groups, k, g = wg.shape
    e = level_energies(cfg)
    scale, exact = _integer_scale(e, 2 * cfg.hw.weight_bits * g)
    penalty = cfg.mapping.section_cost_pj / (cfg.energy.e8_pj * cfg.hw.steps) * scale
    # With integer costs (walden, thermal, integral section cost) every price of a move or swap is a
    # small integer, exact in float32, which halves the memory traffic of the swap tables.
    real = np.float32 if exact is not np.float64 and penalty == round(penalty) \
        and (float(np.max(e)) * scale + penalty) * cfg.hw.rows * 4 < 2 ** 24 else np.float64
    m = np.arange(cfg.hw.rows + 2)   # a priced move may take a section one row over R: it is masked, not applied
    cost = ((e * scale)[np.minimum(np.frexp(np.maximum(m, 1))[1], len(e) - 1)] * (m > 0)).astype(real)
    first = np.searchsorted(group, np.arange(n_groups))
    local = np.arange(len(group)) - first[np.asarray(group, np.int64)]
    pos_sec = np.full((n_groups, k), -1)
    for i in range(int(length.max(initial=0))):
        take = length > i
        pos_sec[group[take], start[take] + i] = local[take]
    permuted = np.take_along_axis(wg, order[:, :, None], axis=1)
    todo = np.nonzero(kept > 0)[0]
    todo = todo[np.argsort(-kept[todo], kind="stable")]
    chunks, at = [], 0
    while at < len(todo):
        kmax = int(kept[todo[at]])
        chunks.append(todo[at:at + max(1, SWAP_ELEMENTS // (kmax * kmax))])
        at += len(chunks[-1])

    # One chunk after the other: on threads the swap tables' products and memory traffic contend
    # (measured slower on two cores).
    for chunk in chunks:
        kmax = int(kept[chunk].max())
        bits = weight_bits_of(permuted[chunk, :kmax], cfg.hw.weight_bits).reshape(len(chunk), kmax, -1)
        pos_sec[chunk, :kmax] = _refine_chunk(bits.astype(real), pos_sec[chunk, :kmax], cfg.hw.rows, cost,
                                              penalty, max_rounds)
    # Each group's kept rows, section by section (stable), then its zero-key rows as they were.
    key = np.where(pos_sec >= 0, pos_sec, np.iinfo(np.int64).max)
    return np.take_along_axis(order, np.argsort(key, axis=1, kind="stable"), axis=1)


def _refine_chunk(bits, pos_sec, rows, cost, penalty, max_rounds):
    n, k, _ = bits.shape
    live = pos_sec >= 0
    s = int(pos_sec.max(initial=0)) + 2                  # at least one spare, empty section per group
    ibits = bits.astype(np.int64)
    cnt = np.zeros((n, s, bits.shape[2]), np.int64)
    size = np.zeros((n, s), np.int64)
    gi, ki = np.nonzero(live)
    np.add.at(cnt, (gi, pos_sec[gi, ki]), ibits[gi, ki])
    np.add.at(size, (gi, pos_sec[gi, ki]), 1)
    active = np.arange(n)       # a group with no saving move or swap is final: others never touch it
    for _ in range(max_rounds):
        if not len(active):
            break
        if (size[active] == 0).sum(axis=1).min() == 0:   # a group opened its spare: give every group another
            cnt = np.concatenate([cnt, np.zeros((n, 1, cnt.shape[2]), np.int64)], axis=1)
            size = np.concatenate([size, np.zeros((n, 1), np.int64)], axis=1)
            s += 1
        mv, gain_mv = _best_moves(bits[active], pos_sec[active], cnt[active], size[active], rows, cost, penalty)
        stuck = gain_mv >= -1e-9
        sw = np.zeros(len(active), np.int64)
        gain_sw = np.full(len(active), np.inf)
        if stuck.any():
            sub = active[stuck]
            sw[stuck], gain_sw[stuck] = _best_swaps(bits[sub], pos_sec[sub], cnt[sub], cost)
        do_mv = ~stuck
        do_sw = stuck & (gain_sw < -1e-9)
        for j, t in zip(active[do_mv], mv[do_mv]):
            a, t = divmod(int(t), s)
            src = pos_sec[j, a]
            cnt[j, src] -= ibits[j, a]
            cnt[j, t] += ibits[j, a]
            size[j, src] -= 1
            size[j, t] += 1
            pos_sec[j, a] = t
        for j, ab in zip(active[do_sw], sw[do_sw]):
            a, b = divmod(int(ab), k)
            sa, sb = pos_sec[j, a], pos_sec[j, b]
            cnt[j, sa] += ibits[j, b] - ibits[j, a]
            cnt[j, sb] += ibits[j, a] - ibits[j, b]
            pos_sec[j, a], pos_sec[j, b] = sb, sa
        active = active[do_mv | do_sw]
    return pos_sec


def _best_moves(bits, pos_sec, cnt, size, rows, cost, penalty):
    """Per group: the move (row a to section t, flat index a * S + t) that saves most, and its cost change."""
    n, k, _ = bits.shape
    s = cnt.shape[1]
    own = np.maximum(pos_sec, 0)
    dec = cost[np.maximum(cnt - 1, 0)] - cost[cnt]                              # one one fewer
    inc = cost[cnt + 1] - cost[cnt]                                             # one one more
    leave = (bits * np.take_along_axis(dec, own[:, :, None], axis=1)).sum(axis=2)
    arrive = bits @ inc.transpose(0, 2, 1)                                     # (n, K, S)
    # A section that empties saves its section cost; one that opens pays it.
    emptied = np.take_along_axis(size, own, axis=1) == 1
    move = leave[:, :, None] + arrive + penalty * ((size == 0)[:, None, :].astype(float) - emptied[:, :, None])
    move[(pos_sec < 0)[:, :, None] | (own[:, :, None] == np.arange(s)) | (size[:, None, :] >= rows)] = np.inf
    flat = move.reshape(n, -1)
    best = flat.argmin(axis=1)
    return best, flat[np.arange(n), best]


def _best_swaps(bits, pos_sec, cnt, cost):
    """Per group: the swap of rows a and b of different sections (flat index a * K + b) that saves most.

    Section A of row a loses a's ones and gains b's, except in the columns both rows hold, so the change
    is X[a, b] + X[b, a] with X[a, b] = leave[a] + arrive[a, section of b] - sum over the shared columns
    of (dec + inc) of a's section.
    """
    n, k, _ = bits.shape
    s = cnt.shape[1]
    live = pos_sec >= 0
    own = np.maximum(pos_sec, 0)
    onehot = (pos_sec[:, :, None] == np.arange(s)) & live[:, :, None]                        # (n, K, S)
    dec = cost[np.maximum(cnt - 1, 0)] - cost[cnt]
    inc = cost[cnt + 1] - cost[cnt]
    leave = np.where(live, (bits * np.take_along_axis(dec, own[:, :, None], axis=1)).sum(axis=2), np.inf)
    arrive = bits @ inc.transpose(0, 2, 1)
    # A swap within a section is no swap: a huge finite price (not inf: it goes through a product).
    arrive[onehot] = _HUGE
    w = np.take_along_axis(dec + inc, own[:, :, None], axis=1)                 # (n, K, C): a's section
    # [a, b] = arrive[a, section of b], as a product with b's one-hot section (0 for rows not kept,
    # whose leave is inf).
    x = leave[:, :, None] + arrive @ onehot.transpose(0, 2, 1).astype(bits.dtype)
    x -= (bits * w) @ bits.transpose(0, 2, 1)
    swap = x + x.transpose(0, 2, 1)
    flat = swap.reshape(n, -1)
    best = flat.argmin(axis=1)
    return best, flat[np.arange(n), best]


# Cut strategies for mapper.sectioning.section_layer ---------------------------------------------------

def optimal_strategy(w, cfg: ArrayConfig, order, kept, csum):
    """The energy-optimal cuts of the order as it is."""
    return (order, csum, *optimal_cuts(csum, kept, cfg))


def refined_strategy(w, cfg: ArrayConfig, order, kept, csum):
    """Optimal cuts, rows moved and swapped between the sections, then the new order cut optimally."""
    group, start, length = optimal_cuts(csum, kept, cfg)
    order = refine_sections(grouped(w, cfg.hw.group), cfg, order, kept, group, start, length)
    csum = group_bit_cumsum(w, order, cfg.hw.group, cfg.hw.weight_bits)
    return (order, csum, *optimal_cuts(csum, kept, cfg))
