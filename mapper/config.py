"""The one configuration object of a crossbar array, shared by the mapper, the RTL and the golden model."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .errors import SwsError

__all__ = ["ArrayConfig", "ORDERINGS", "POLICIES", "LAWS", "SECTIONINGS", "clog2"]

ORDERINGS = ("sorted", "natural", "signed", "gray")
POLICIES = ("column", "section", "full", "dense")
LAWS = ("walden", "thermal", "table")
SECTIONINGS = ("plain", "optimal", "refined")


def clog2(n: int) -> int:
    """Bits needed to hold the values 0..n-1 (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _positive_int(name, value, *, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SwsError(f"{name} must be an integer >= {minimum}, not {value!r}")


@dataclass(frozen=True)
class ArrayConfig:
    """Every parameter of a bit-sliced crossbar array and of how a layer is mapped onto it.

    rows, cols      -- R x C one-bit cells per crossbar
    weight_bits     -- Bm magnitude bits of a signed weight (7: int8 symmetric, -127..127)
    input_bits      -- A bits of an input, applied one bit-plane per step
    input_signed    -- two's-complement inputs (the top plane weighs -2**(A-1)); False: unsigned
    group           -- G consecutive outputs share one row order and one slot
    n_adc           -- ADCs per crossbar controller (the bank that converts a section's active columns)
    ordering        -- "sorted" (SWS), "natural" (input order, no row dropped), or the sorted variants
                       "signed" and "gray" of mapper.orderings
    sectioning      -- "plain": full sections of R rows, the last one partial; "optimal": the cuts of
                       each group's order that minimize its energy plus section_cost_pj per section;
                       "refined": optimal, then rows moved and swapped between sections, then cut again
    section_cost_pj -- with sectioning "optimal": energy (pJ per input vector) charged for each section,
                       to trade energy against sections and crossbars; not part of the reported energy
    policy          -- ADC resolution policy: "column", "section", "full" or the "dense" reference
    cap             -- optional resolution cap in bits (lossy when a column needs more)
    law             -- conversion energy law: "walden", "thermal" or "table"
    law_table       -- with law "table": relative energy of a conversion at 1, 2, ... bits
    e8_pj           -- energy of one 8-bit conversion, the calibration point of every law
    """

    rows: int = 128
    cols: int = 128
    weight_bits: int = 7
    input_bits: int = 8
    input_signed: bool = True
    group: int = 1
    n_adc: int = 16
    ordering: str = "sorted"
    sectioning: str = "plain"
    policy: str = "column"
    cap: int | None = None
    law: str = "walden"
    law_table: tuple[float, ...] | None = None
    e8_pj: float = 1.67
    section_cost_pj: float = 0.0

    def __post_init__(self):
        _positive_int("rows", self.rows)
        _positive_int("cols", self.cols)
        _positive_int("weight_bits", self.weight_bits)
        if self.weight_bits > 15:
            raise SwsError(f"weight_bits must be at most 15, not {self.weight_bits}")
        _positive_int("input_bits", self.input_bits, minimum=2 if self.input_signed else 1)
        if self.input_bits > 16:
            raise SwsError(f"input_bits must be at most 16, not {self.input_bits}")
        _positive_int("group", self.group)
        _positive_int("n_adc", self.n_adc)
        if self.ordering not in ORDERINGS:
            raise SwsError(f"ordering must be one of {', '.join(ORDERINGS)}, not {self.ordering!r}")
        if self.sectioning not in SECTIONINGS:
            raise SwsError(f"sectioning must be one of {', '.join(SECTIONINGS)}, not {self.sectioning!r}")
        if isinstance(self.section_cost_pj, bool) or not isinstance(self.section_cost_pj, (int, float)) \
                or not math.isfinite(self.section_cost_pj) or self.section_cost_pj < 0:
            raise SwsError(f"section_cost_pj must be a finite number >= 0, not {self.section_cost_pj!r}")
        if self.section_cost_pj and self.sectioning == "plain":
            raise SwsError("section_cost_pj is only used with sectioning 'optimal' or 'refined', not with "
                           "sectioning 'plain'")
        if self.sectioning == "refined" and self.policy != "column":
            raise SwsError(f"sectioning 'refined' prices moves per column: it needs policy 'column', "
                           f"not {self.policy!r}")
        if self.policy not in POLICIES:
            raise SwsError(f"policy must be one of {', '.join(POLICIES)}, not {self.policy!r}")
        if self.law not in LAWS:
            raise SwsError(f"law must be one of {', '.join(LAWS)}, not {self.law!r}")
        if self.slot_cols > self.cols:
            raise SwsError(
                f"group {self.group} is wider than a crossbar: a slot needs 2 * weight_bits * group = "
                f"{self.slot_cols} columns but cols is {self.cols}")
        if self.policy == "dense" and self.ordering != "natural":
            raise SwsError("policy 'dense' is the natural-order reference: it needs ordering 'natural', "
                           f"not {self.ordering!r}")
        if self.policy == "dense" and self.sectioning != "plain":
            raise SwsError("policy 'dense' is the plain-sectioned reference: it needs sectioning 'plain'")
        if self.cap is not None:
            _positive_int("cap", self.cap)
        if not (isinstance(self.e8_pj, (int, float)) and math.isfinite(self.e8_pj) and self.e8_pj > 0):
            raise SwsError(f"e8_pj must be a positive finite number, not {self.e8_pj!r}")
        if self.law == "table":
            table = self.law_table
            if table is None:
                raise SwsError("law 'table' needs law_table: relative energies of 1, 2, ... bit conversions")
            table = tuple(float(x) for x in table)
            object.__setattr__(self, "law_table", table)
            if len(table) < max(8, self.full_resolution):
                raise SwsError(f"law_table must give at least {max(8, self.full_resolution)} entries "
                               f"(1..8 bits for the calibration, and up to the full resolution "
                               f"{self.full_resolution}), not {len(table)}")
            if not all(math.isfinite(x) and x > 0 for x in table):
                raise SwsError(f"law_table entries must be positive finite numbers, not {table}")
        elif self.law_table is not None:
            raise SwsError(f"law_table is only used with law 'table', not with law {self.law!r}")

    # Derived values ------------------------------------------------------------------------------

    @property
    def full_resolution(self) -> int:
        """Bits that hold any count of a full section: ceil(log2(R + 1))."""
        return math.ceil(math.log2(self.rows + 1))

    @property
    def slot_cols(self) -> int:
        """Columns of one slot: a (sign, bit) column pair set for each of the G outputs."""
        return 2 * self.weight_bits * self.group

    @property
    def slots_per_crossbar(self) -> int:
        return self.cols // self.slot_cols

    @property
    def weight_max(self) -> int:
        return 2 ** self.weight_bits - 1

    @property
    def input_min(self) -> int:
        return -(2 ** (self.input_bits - 1)) if self.input_signed else 0

    @property
    def input_max(self) -> int:
        return 2 ** (self.input_bits - 1) - 1 if self.input_signed else 2 ** self.input_bits - 1

    @property
    def max_resolution(self) -> int:
        """The largest resolution any column can be given under this configuration."""
        return self.full_resolution if self.cap is None else min(self.cap, self.full_resolution)

    def plane_weights(self) -> list[int]:
        """The weight of bit-plane t: 2**t, and -2**(A-1) for the sign plane of signed inputs."""
        w = [2 ** t for t in range(self.input_bits)]
        if self.input_signed:
            w[-1] = -w[-1]
        return w

    def replace(self, **changes) -> "ArrayConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if d["law_table"] is not None:
            d["law_table"] = list(d["law_table"])
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ArrayConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise SwsError(f"unknown configuration keys: {', '.join(sorted(unknown))}")
        d = dict(d)
        if d.get("law_table") is not None:
            d["law_table"] = tuple(d["law_table"])
        return cls(**d)
