"""Row ordering and sectioning (DESIGN.md section 3): which input rows share a section, and the ones per column.

A layer's outputs are taken in groups of G. Each group gets a row order (sorted: by descending
max |W| over the group, zero rows dropped; natural: input order) and is cut into sections of at
most R rows. A section's column (output j, sign s, bit b) holds `counts[sec, j, s, b]` ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ArrayConfig
from .optimal import optimal_cuts, refine_sections
from .orderings import ORDERING_KEYS, order_rows

__all__ = ["Sectioning", "group_keys", "row_orders", "plain_cuts", "group_bit_cumsum", "section_layer",
           "weight_bits_of"]


def weight_bits_of(w: np.ndarray, weight_bits: int) -> np.ndarray:
    """Sign-magnitude bit slices: `[..., s, b]` is bit b of max(w, 0) (s = 0) or of max(-w, 0) (s = 1)."""
    w = np.asarray(w, dtype=np.int64)
    mag = np.stack([np.maximum(w, 0), np.maximum(-w, 0)], axis=-1)
    return ((mag[..., None] >> np.arange(weight_bits)) & 1).astype(np.uint8)


def _grouped(w: np.ndarray, group: int) -> np.ndarray:
    """W as (n_groups, K, G), the last group padded with zero outputs."""
    k, n = w.shape
    n_groups = -(-n // group)
    padded = np.zeros((k, n_groups * group), dtype=np.int64)
    padded[:, :n] = w
    return padded.reshape(k, n_groups, group).transpose(1, 0, 2)


def group_keys(w: np.ndarray, group: int) -> np.ndarray:
    """The sorting key of each input row for each output group: max over the group's outputs of |W|."""
    return np.abs(_grouped(w, group)).max(axis=2)


def row_orders(w: np.ndarray, cfg: ArrayConfig) -> tuple[np.ndarray, np.ndarray]:
    """(order, kept): order[g] lists input rows for group g, the first kept[g] of which take crossbar rows."""
    keys = group_keys(w, cfg.group)
    n_groups, k = keys.shape
    if cfg.ordering == "natural":
        return np.tile(np.arange(k), (n_groups, 1)), np.full(n_groups, k)
    if cfg.ordering in ORDERING_KEYS:
        return order_rows(_grouped(w, cfg.group), keys, cfg.ordering)
    # Stable sort of the negated key: descending key, ties by ascending input index; zero rows sort last.
    order = np.argsort(-keys, axis=1, kind="stable")
    kept = np.count_nonzero(keys, axis=1)
    return order, kept


def plain_cuts(kept: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Full sections of R rows, the last one partial: (group, start, length) of every section."""
    n_sec = -(-kept // rows)
    group = np.repeat(np.arange(len(kept)), n_sec)
    first = np.concatenate([[0], np.cumsum(n_sec)[:-1]])
    index_in_group = np.arange(len(group)) - np.repeat(first, n_sec)
    start = index_in_group * rows
    length = np.minimum(rows, kept[group] - start)
    return group, start, length


def group_bit_cumsum(w: np.ndarray, order: np.ndarray, cfg: ArrayConfig) -> np.ndarray:
    """(n_groups, K + 1, G, 2, Bm): ones per column over the first i rows of each group's order."""
    wg = _grouped(w, cfg.group)
    permuted = np.take_along_axis(wg, order[:, :, None], axis=1)
    bits = weight_bits_of(permuted, cfg.weight_bits)
    out = np.zeros((bits.shape[0], bits.shape[1] + 1) + bits.shape[2:], dtype=np.int32)
    np.cumsum(bits, axis=1, dtype=np.int32, out=out[:, 1:])
    return out


@dataclass
class Sectioning:
    """Where every section's rows come from, and how many ones each of its columns holds."""

    cfg: ArrayConfig
    shape: tuple[int, int]
    order: np.ndarray        # (n_groups, K) input rows in each group's order
    kept: np.ndarray         # (n_groups,) rows of each group that take crossbar rows
    sec_group: np.ndarray    # (S,) output group of each section
    sec_start: np.ndarray    # (S,) first position of the section in its group's order
    sec_len: np.ndarray      # (S,) rows used, 1..R
    counts: np.ndarray       # (S, G, 2, Bm) ones per column

    @property
    def n_sections(self) -> int:
        return len(self.sec_group)

    @property
    def n_crossbars(self) -> int:
        return -(-self.n_sections // self.cfg.slots_per_crossbar)

    def section_rows(self, s: int) -> np.ndarray:
        """Input indices of the rows of section s, in crossbar row order."""
        g, a = self.sec_group[s], self.sec_start[s]
        return self.order[g, a:a + self.sec_len[s]]

    def output_mask(self) -> np.ndarray:
        """(S, G): True where the section's local output j is a real output (the last group may be partial)."""
        out = self.sec_group[:, None] * self.cfg.group + np.arange(self.cfg.group)[None, :]
        return out < self.shape[1]


def section_layer(w: np.ndarray, cfg: ArrayConfig, cuts=None) -> Sectioning:
    """Order and cut a K x N integer layer. `cuts(cumsum, kept)` may replace the plain R-row cuts."""
    order, kept = row_orders(w, cfg)
    csum = group_bit_cumsum(w, order, cfg)
    if cuts is None and cfg.sectioning in ("optimal", "refined"):
        cuts = lambda c, k: optimal_cuts(c, k, cfg)  # noqa: E731
    if cuts is None:
        group, start, length = plain_cuts(kept, cfg.rows)
    else:
        group, start, length = cuts(csum, kept)
    if cfg.sectioning == "refined":   # move and swap rows between the cut sections, then cut the new order
        order = refine_sections(_grouped(w, cfg.group), cfg, order, kept, group, start, length)
        csum = group_bit_cumsum(w, order, cfg)
        group, start, length = cuts(csum, kept)
    counts = csum[group, start + length] - csum[group, start]
    return Sectioning(cfg, tuple(w.shape), order, kept, group, start, length, counts)
