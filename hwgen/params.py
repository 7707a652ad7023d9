"""Sizes of a tile's ROMs, buffers and datapaths, derived from the hardware configuration and a plan (or
from limits), and the ROM word layouts (docs/design.md section 5) the packer and the RTL share."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from amaranth.lib import data

from mapper.config import BUILT, ArrayConfig, HardwareConfig, clog2
from mapper.common import SwsError
from mapper.schedule import MacroTiming, default_lanes, step_order   # the one place of every latency
from mapper.plan import COLUMN_FIELDS, SECTION_FIELDS, LayerPlan, rom_widths

__all__ = ["MacroTiming", "TileParams", "default_lanes", "pack_words"]


def _check(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SwsError(f"{name} must be an integer >= {minimum}, not {value!r}")


@dataclass(frozen=True)
class TileParams:
    """Every size the RTL needs. A plan-initialized tile takes them from its plan; a generic tile takes
    limits, and then serves any plan whose hardware is `hw` and whose layer and tables fit them.

    Parameters
    ----------
    hw : HardwareConfig
        The array, ADCs and bits (an ArrayConfig is reduced to its hardware part).
    k, n : int
        Inputs and outputs of the layer (the input buffer and accumulator depths).
    section_depth : int
        Section table depth (sections of the layer).
    row_depth : int
        Row-index table depth (crossbar rows used by all sections; not R).
    column_depth : int
        Column table depth (active columns of all sections).
    lanes : int
        Rows (and columns) gathered per cycle, a power of two, at most R.
    timing : MacroTiming
        The macro's phase timing and done handshake (default: no phases, counted conversions).
    """

    hw: HardwareConfig
    k: int
    n: int
    section_depth: int
    row_depth: int
    column_depth: int
    lanes: int
    timing: MacroTiming = MacroTiming()

    def __post_init__(self):
        if isinstance(self.timing, dict):
            object.__setattr__(self, "timing", MacroTiming(**self.timing))
        if not isinstance(self.timing, MacroTiming):
            raise SwsError(f"timing must be a MacroTiming, not {type(self.timing).__name__}")
        if isinstance(self.hw, ArrayConfig):
            object.__setattr__(self, "hw", self.hw.hw)
        if not isinstance(self.hw, HardwareConfig):
            raise SwsError(f"hw must be a HardwareConfig, not {type(self.hw).__name__}")
        if self.hw.input_encoding not in BUILT:
            raise SwsError(f"input_encoding {self.hw.input_encoding!r} has no RTL (the controller builds "
                           f"{', '.join(BUILT)})")
        _check("k", self.k, 1)
        _check("n", self.n, 1)
        _check("section_depth", self.section_depth, 0)
        _check("row_depth", self.row_depth, 0)
        _check("column_depth", self.column_depth, 0)
        _check("lanes", self.lanes, 1)
        if self.lanes & (self.lanes - 1):
            raise SwsError(f"lanes must be a power of two, not {self.lanes}")
        if self.lanes > max(self.hw.rows, self.hw.slot_cols):
            raise SwsError(f"lanes must be at most the rows R = {self.hw.rows} (or the slot's "
                           f"{self.hw.slot_cols} columns, if more), not {self.lanes}")

    @classmethod
    def from_plan(cls, lp: LayerPlan, lanes: int | None = None, timing: MacroTiming | None = None) -> "TileParams":
        """The sizes of exactly this plan layer (a baked netlist, or the smallest generic one for it)."""
        k, n = lp.shape
        return cls(lp.cfg.hw, int(k), int(n), lp.n_sections, len(lp.row_index), len(lp.columns["res"]),
                   default_lanes(lp.cfg.hw.rows) if lanes is None else lanes, timing or MacroTiming())

    def fits(self, lp: LayerPlan) -> None:
        """Raise an SwsError unless the plan's hardware is this tile's and its tables fit its limits.

        Mapping choices (ordering, sectioning, policy, cap) and the energy model do not matter: they
        change the ROM contents, never the netlist.
        """
        # The array's wordline segments are not the controller's: any netlist serves either array.
        hw = dataclasses.replace(lp.cfg.hw, wordline_slots=self.hw.wordline_slots)
        if hw != self.hw:
            diff = [f"{f.name} {getattr(hw, f.name)} (tile: {getattr(self.hw, f.name)})"
                    for f in dataclasses.fields(HardwareConfig)
                    if getattr(hw, f.name) != getattr(self.hw, f.name)]
            raise SwsError(f"layer {lp.name}: its hardware differs from the tile's: {', '.join(diff)}")
        have = {"k": lp.shape[0], "n": lp.shape[1], "section_depth": lp.n_sections,
                "row_depth": len(lp.row_index), "column_depth": len(lp.columns["res"])}
        for name, value in have.items():
            if value > getattr(self, name):
                raise SwsError(f"layer {lp.name}: {name} {value} exceeds the tile's limit {getattr(self, name)}")

    # Derived sizes -------------------------------------------------------------------------------

    @property
    def widths(self) -> dict[str, dict[str, int]]:
        return rom_widths(self.hw, (self.k, self.n), self.row_depth, self.column_depth)

    @property
    def section_layout(self) -> data.StructLayout:
        """A section table word, fields LSB first as mapper.plan.SECTION_FIELDS."""
        return data.StructLayout(self.widths["sections"])

    @property
    def column_layout(self) -> data.StructLayout:
        """A column table word, fields LSB first as mapper.plan.COLUMN_FIELDS."""
        return data.StructLayout(self.widths["columns"])

    @property
    def bipolar(self) -> bool:
        """The bipolar drive: rows driven +1, 0 or -1 (`drive` and `drive_neg`), signed ADC codes."""
        return self.hw.input_encoding == "bipolar"

    @property
    def conv_bits(self) -> int:
        """The widest conversion an ADC makes (`HardwareConfig.adc_bits`): the full resolution, plus the
        bipolar drive's sign bit. Inside the controller a resolution (`res`, `longest`, the ADC port's
        `res`) is a conversion's bits, the sign bit included: a column planned at r bits converts at
        r + 1 bits with the bipolar drive."""
        return self.hw.adc_bits

    @property
    def res_width(self) -> int:
        return clog2(self.conv_bits + 1)

    @property
    def code_width(self) -> int:
        """An ADC code holds up to 2**full_resolution - 1; with the bipolar drive it is a signed
        (two's complement) code of full_resolution + 1 bits, -(2**full_resolution - 1) .. 2**full_resolution - 1."""
        return self.conv_bits

    @property
    def acc_width(self) -> int:
        """Signed bits of an output: |y| <= K * (2**Bm - 1) * (2**A - 1), saturated codes only shrink terms."""
        hw = self.hw
        return (self.k * hw.weight_max * (2 ** hw.input_bits - 1)).bit_length() + 1

    @property
    def slot_pad(self) -> int:
        """Slot columns rounded up to a power of two: the emulator addresses a column word as {section, col}."""
        return 1 << clog2(self.hw.slot_cols)

    @property
    def n_groups(self) -> int:
        return -(-self.n // self.hw.group)

    @property
    def beat(self) -> int:
        """W elements a beat of the input and output streams."""
        return self.hw.beat

    @property
    def k_words(self) -> int:
        """Words of the input buffer (W inputs each), and input beats of a vector."""
        return -(-self.k // self.hw.beat)

    @property
    def n_words(self) -> int:
        """Words of an accumulator memory: W output groups each (W * G outputs, G output beats)."""
        return -(-self.n_groups // self.hw.beat)

    def bank(self, blp: LayerPlan) -> "TileParams":
        """The sizes of one bank running the bank plan `blp` (mapper.plan.banks.bank_plan): its own table
        depths, the layer's K and N, the same lanes."""
        return dataclasses.replace(self, section_depth=blp.n_sections, row_depth=len(blp.row_index),
                                   column_depth=len(blp.columns["res"]))

    @property
    def walks_steps(self) -> bool:
        """The controller walks the drive steps (hwgen.steps.StepWalker) and weighs each batch by its step:
        sign-magnitude, bipolar or input-aware hardware. Two's complement weight-only hardware counts planes."""
        return self.hw.input_encoding in ("signmag", "bipolar") or self.hw.input_aware

    @property
    def step_order(self) -> list[int]:
        """The drive steps in the order the controller issues them (mapper.schedule.step_order)."""
        return step_order(self.hw)

    @property
    def batches(self) -> int:
        """Most ADC batches a plane of one section can need: ceil(slot_cols / n_adc) with a full switch
        matrix; with ADC groups of M = adc_mux columns, M (batch k converts each group's k-th column)."""
        if self.hw.adc_mux:
            return self.hw.adc_mux
        return -(-self.hw.slot_cols // self.hw.n_adc)

    @property
    def col_width(self) -> int:
        """Bits of an ADC's `col` port: a slot column (full switch matrix) or, with ADC groups of M =
        adc_mux columns, the column within the ADC's group (ADC i, col c: slot column i * M + c)."""
        return max(1, ((self.hw.adc_mux or self.hw.slot_cols) - 1).bit_length())

    def section_words(self, lp: LayerPlan) -> list[int]:
        return pack_words(self.section_layout, {f: lp.sections[f] for f in SECTION_FIELDS})

    def row_words(self, lp: LayerPlan) -> list[int]:
        return [int(x) for x in lp.row_index]

    def column_words(self, lp: LayerPlan) -> list[int]:
        return pack_words(self.column_layout, {f: lp.columns[f] for f in COLUMN_FIELDS})

    def cell_words(self, lp: LayerPlan) -> dict[int, int]:
        """The cell image transposed for the emulator: address {section, slot column} -> R-bit column word."""
        s_count = lp.n_sections
        if s_count == 0:
            return {}
        bits = lp.cells.astype(np.int64).transpose(0, 2, 1)                  # (S, SC, R)
        words = {}
        for s in range(s_count):
            for c in range(self.hw.slot_cols):
                col = bits[s, c]
                if col.any():
                    words[s * self.slot_pad + c] = int("".join("1" if b else "0" for b in col[::-1]), 2)
        return words


def pack_words(layout: data.StructLayout, fields: dict) -> list[int]:
    """Integers laid out as `layout` (its fields at their offsets) from equal-length value arrays by field."""
    out = None
    for name, field in layout:
        values = np.asarray(fields[name], np.int64)
        width = field.width
        bad = (values < 0) | (values >= (1 << width))
        if bad.any():
            raise SwsError(f"ROM field {name} value {int(values[bad][0])} does not fit its {width} bits")
        shifted = [int(v) << field.offset for v in values.tolist()]
        out = shifted if out is None else [a | b for a, b in zip(out, shifted)]
    return out or []
