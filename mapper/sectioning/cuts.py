"""Row ordering and sectioning (docs/design.md section 3): which input rows share a section, and the ones per column.

A layer's outputs are taken in groups of G. Each group gets a row order (sorted: by descending
max |W| over the group, zero rows dropped; natural: input order) and is cut into sections of at
most R rows. A section's column (output j, sign s, bit b) holds `counts[sec, j, s, b]` ones.
Where the cuts fall is a strategy passed in (`Cuts`): `plain_cuts` here, the energy-optimal ones in
mapper.sectioning.optimal; mapper.sectioning.mapping picks one by the configuration's sectioning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from .bits import block_bit_counts, group_bit_cumsum, grouped
from ..config import ArrayConfig
from .orderings import ORDERING_KEYS, order_rows

__all__ = ["Sectioning", "Cuts", "group_keys", "row_orders", "plain_cuts", "section_layer"]

#: A cut strategy: (w, cfg, order, kept, cumsum) -> (order, cumsum, group, start, length) of every section.
#: It may reorder rows within a group's kept rows (then it returns the new order and its cumsum).
Cuts = Callable[..., tuple]


def group_keys(w: np.ndarray, group: int) -> np.ndarray:
    """The sorting key of each input row for each output group: max over the group's outputs of ``|W|``."""
    return np.abs(grouped(w, group, np.int32)).max(axis=2).astype(np.int64)


def row_orders(w: np.ndarray, cfg: ArrayConfig) -> tuple[np.ndarray, np.ndarray]:
    """(order, kept): order[g] lists input rows for group g, the first kept[g] of which take crossbar rows."""
    keys = group_keys(w, cfg.hw.group)
    n_groups, k = keys.shape
    if cfg.mapping.ordering == "natural":
        return np.tile(np.arange(k), (n_groups, 1)), np.full(n_groups, k)
    if cfg.mapping.ordering in ORDERING_KEYS:
        return order_rows(grouped(w, cfg.hw.group), keys, cfg.mapping.ordering)
    # Stable sort of the key's complement: descending key, ties by ascending input index; zero rows sort
    # last. Keys hold at most 15 bits, so the complement is a uint16 and the stable sort is a radix sort.
    top = int(keys.max(initial=0))
    order = np.argsort((top - keys).astype(np.uint16), axis=1, kind="stable")
    kept = np.count_nonzero(keys, axis=1)
    return order, kept


def plain_cuts(w, cfg: ArrayConfig, order, kept, csum):
    """Full sections of R rows, the last one partial, in the order as it is."""
    n_sec = -(-kept // cfg.hw.rows)
    group = np.repeat(np.arange(len(kept)), n_sec)
    first = np.concatenate([[0], np.cumsum(n_sec)[:-1]])
    index_in_group = np.arange(len(group)) - np.repeat(first, n_sec)
    start = index_in_group * cfg.hw.rows
    length = np.minimum(cfg.hw.rows, kept[group] - start)
    return order, csum, group, start, length


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

    def section_rows(self, s: int) -> np.ndarray:
        """Input indices of the rows of section s, in crossbar row order."""
        g, a = self.sec_group[s], self.sec_start[s]
        return self.order[g, a:a + self.sec_len[s]]

    def output_mask(self) -> np.ndarray:
        """(S, G): True where the section's local output j is a real output (the last group may be partial)."""
        out = self.sec_group[:, None] * self.cfg.hw.group + np.arange(self.cfg.hw.group)[None, :]
        return out < self.shape[1]


def section_layer(w: np.ndarray, cfg: ArrayConfig, cuts: Cuts = plain_cuts) -> Sectioning:
    """Order a K x N integer layer by the configuration's ordering and cut it with the `cuts` strategy."""
    order, kept = row_orders(w, cfg)
    if cuts is plain_cuts:
        # Plain sections are blocks of R rows of each order: count their ones block by block.
        _, _, group, start, length = plain_cuts(w, cfg, order, kept, None)
        blocks = block_bit_counts(w, order, cfg.hw.group, cfg.hw.weight_bits, cfg.hw.rows)
        return Sectioning(cfg, tuple(w.shape), order, kept, group, start, length, blocks[group, start // cfg.hw.rows])
    csum = group_bit_cumsum(w, order, cfg.hw.group, cfg.hw.weight_bits)
    order, csum, group, start, length = cuts(w, cfg, order, kept, csum)
    counts = csum[group, start + length] - csum[group, start]
    return Sectioning(cfg, tuple(w.shape), order, kept, group, start, length, counts)
