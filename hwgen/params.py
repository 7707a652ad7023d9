"""Sizes of a tile's ROMs, buffers and datapaths, derived from the configuration and a plan (or from limits)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mapper.config import ArrayConfig, clog2
from mapper.errors import SwsError
from mapper.plan import COLUMN_FIELDS, SECTION_FIELDS, LayerPlan, rom_widths

__all__ = ["TileParams", "default_lanes", "pack_words"]


def default_lanes(rows: int) -> int:
    """Rows gathered per cycle: enough that a full section's gather (R / lanes cycles, 32 at most)
    hides behind the conversions of the section before it, which take at least A * 4 cycles."""
    lanes = 1
    while rows > 32 * lanes:
        lanes *= 2
    return lanes


def _check(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SwsError(f"{name} must be an integer >= {minimum}, not {value!r}")


@dataclass(frozen=True)
class TileParams:
    """Every size the RTL needs. A plan-initialized tile takes them from its plan; a generic tile takes
    limits, and then serves any plan whose layer and tables fit them.

    k, n      -- inputs and outputs of the layer (the input buffer and accumulator depths)
    sections  -- section table depth
    rows      -- row-index table depth (rows used by all sections)
    columns   -- column table depth (active columns of all sections)
    lanes     -- rows (and columns) gathered per cycle, a power of two
    """

    cfg: ArrayConfig
    k: int
    n: int
    sections: int
    rows: int
    columns: int
    lanes: int

    def __post_init__(self):
        _check("k", self.k, 1)
        _check("n", self.n, 1)
        _check("sections", self.sections, 0)
        _check("rows", self.rows, 0)
        _check("columns", self.columns, 0)
        _check("lanes", self.lanes, 1)
        if self.lanes & (self.lanes - 1):
            raise SwsError(f"lanes must be a power of two, not {self.lanes}")

    @classmethod
    def from_plan(cls, lp: LayerPlan, lanes: int | None = None) -> "TileParams":
        k, n = lp.shape
        return cls(lp.cfg, int(k), int(n), lp.n_sections, len(lp.row_index), len(lp.columns["res"]),
                   default_lanes(lp.cfg.rows) if lanes is None else lanes)

    def fits(self, lp: LayerPlan) -> None:
        """Raise unless the plan fits a generic tile of these limits."""
        if lp.cfg != self.cfg:
            raise SwsError(f"layer {lp.name}: its configuration differs from the tile's")
        have = {"k": lp.shape[0], "n": lp.shape[1], "sections": lp.n_sections, "rows": len(lp.row_index),
                "columns": len(lp.columns["res"])}
        for name, value in have.items():
            if value > getattr(self, name):
                raise SwsError(f"layer {lp.name}: {name} {value} exceeds the tile's limit {getattr(self, name)}")

    # Derived sizes -------------------------------------------------------------------------------

    @property
    def widths(self) -> dict[str, dict[str, int]]:
        return rom_widths(self.cfg, (self.k, self.n), self.rows, self.columns)

    @property
    def res_width(self) -> int:
        return clog2(self.cfg.full_resolution + 1)

    @property
    def code_width(self) -> int:
        """An ADC code holds up to 2**full_resolution - 1."""
        return self.cfg.full_resolution

    @property
    def acc_width(self) -> int:
        """Signed bits of an output: |y| <= K * (2**Bm - 1) * (2**A - 1), saturated codes only shrink terms."""
        cfg = self.cfg
        return (self.k * cfg.weight_max * (2 ** cfg.input_bits - 1)).bit_length() + 1

    @property
    def slot_pad(self) -> int:
        """Slot columns rounded up to a power of two: the emulator addresses a column word as {section, col}."""
        return 1 << clog2(self.cfg.slot_cols)

    @property
    def n_groups(self) -> int:
        return -(-self.n // self.cfg.group)

    @property
    def batches(self) -> int:
        """Most ADC batches a plane of one section can need."""
        return -(-self.cfg.slot_cols // self.cfg.n_adc)

    def section_words(self, lp: LayerPlan) -> list[int]:
        w = self.widths["sections"]
        return pack_words([lp.sections[f] for f in SECTION_FIELDS], [w[f] for f in SECTION_FIELDS])

    def row_words(self, lp: LayerPlan) -> list[int]:
        return [int(x) for x in lp.row_index]

    def column_words(self, lp: LayerPlan) -> list[int]:
        w = self.widths["columns"]
        return pack_words([lp.columns[f] for f in COLUMN_FIELDS], [w[f] for f in COLUMN_FIELDS])

    def cell_words(self, lp: LayerPlan) -> dict[int, int]:
        """The cell image transposed for the emulator: address {section, slot column} -> R-bit column word."""
        s_count = lp.n_sections
        if s_count == 0:
            return {}
        bits = lp.cells.astype(np.int64).transpose(0, 2, 1)                  # (S, SC, R)
        words = {}
        for s in range(s_count):
            for c in range(self.cfg.slot_cols):
                col = bits[s, c]
                if col.any():
                    words[s * self.slot_pad + c] = int("".join("1" if b else "0" for b in col[::-1]), 2)
        return words


def pack_words(fields, widths) -> list[int]:
    """Integers with the first field in the least significant bits."""
    out = []
    for values in zip(*[np.asarray(f, np.int64).tolist() for f in fields]):
        word, at = 0, 0
        for v, w in zip(values, widths):
            if not 0 <= v < (1 << w):
                raise SwsError(f"ROM field value {v} does not fit its {w} bits")
            word |= v << at
            at += w
        out.append(word)
    return out
