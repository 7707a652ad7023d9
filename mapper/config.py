"""The configuration, one object per concern (docs/design.md section 0): the hardware a netlist is built
for, the mapping choices of a plan, and the energy model that prices it; `ArrayConfig` holds the three.

A netlist depends on `HardwareConfig` only, so one generic netlist serves every plan whose hardware
fits, whatever its ordering, sectioning, policy or energy law.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from .adc_models import DEFAULT_E8_PJ, MODELS, NEUROSIM_NODES, PUBLISHED
from .drive import ENCODINGS as INPUT_ENCODINGS, input_range, step_count, step_weights
from .errors import SwsError

__all__ = ["ArrayConfig", "HardwareConfig", "MappingConfig", "EnergyConfig", "ORDERINGS", "POLICIES", "LAWS",
           "SECTIONINGS", "PLACEMENTS", "INPUT_ENCODINGS", "clog2"]

ORDERINGS = ("sorted", "natural", "signed", "gray")
POLICIES = ("column", "section", "full", "dense")
LAWS = tuple(MODELS)   # isaac (default), neurosim, murmann, mnsim, walden, thermal, table
SECTIONINGS = ("plain", "optimal", "refined")
PLACEMENTS = ("fixed", "balanced")


def clog2(n: int) -> int:
    """Bits needed to hold the values 0..n-1 (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


def _positive_int(name, value, *, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SwsError(f"{name} must be an integer >= {minimum}, not {value!r}")


def _one_of(name, value, choices):
    if value not in choices:
        raise SwsError(f"{name} must be one of {', '.join(choices)}, not {value!r}")


def _finite(name, value, *, positive: bool):
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value) \
        and (value > 0 if positive else value >= 0)
    if not ok:
        raise SwsError(f"{name} must be a finite number {'> 0' if positive else '>= 0'}, not {value!r}")


@dataclass(frozen=True)
class HardwareConfig:
    """What the netlist is built for.

    Parameters
    ----------
    rows, cols : int
        R x C one-bit cells per crossbar.
    weight_bits : int
        Bm magnitude bits of a signed weight (7: int8 symmetric, -127..127).
    input_bits : int
        A bits of an input, applied one bit-plane per step.
    input_signed : bool
        Two's-complement inputs (the top plane weighs -2**(A-1)); False: unsigned.
    group : int
        G consecutive outputs share one row order and one slot of 2 * Bm * G columns.
    n_adc : int
        ADCs of the bank that converts a section's active columns.
    input_encoding : str
        How inputs become row drives, one 1-bit drive step after the other (mapper.drive): "twos"
        (two's complement, A steps, the sign step first) or "signmag" (sign-magnitude, signed inputs
        only: A-1 magnitude steps of the positive inputs, then A-1 of the negative ones; the inputs lie
        in -(2**(A-1)-1)..2**(A-1)-1).
    input_aware : bool
        Input-aware ADC resolution (docs/design.md section 4): in each step the controller counts the
        section's driven rows q, converts each column at min(res, bitlen(q)) bits and skips the step
        when q = 0. Lossless; conversions and cycles then depend on the inputs.
    adc_mux : int
        M, slot columns per ADC. 0 (the default): a full switch matrix, any ADC converts any of a
        section's active columns. M >= 1: ADC i serves only the adjacent slot columns i*M .. i*M+M-1,
        so the bank has ceil(slot_cols / M) ADCs and n_adc must be that number (it is not derived, so
        that every n_adc of a configuration is the netlist's; `HardwareConfig.mux_adcs` gives it).
    banks : int
        B sequencer-plus-ADC-bank units working on different sections at once (docs/design.md, banks):
        the sections are assigned to banks statically (mapper.banks), the inputs broadcast to every
        bank, and the output streamer adds the B banks' partial sums. 1: one bank.
    beat : int
        W elements per beat of the input and output streams, a power of two (1: one element a beat).
    double_buffer : bool
        A ping-pong input buffer: the next vector loads while the current one runs and streams out
        (docs/design.md, double buffering). False: one vector at a time.
    """

    rows: int = 128
    cols: int = 128
    weight_bits: int = 7
    input_bits: int = 8
    input_signed: bool = True
    group: int = 1
    n_adc: int = 16
    input_encoding: str = "twos"
    input_aware: bool = False
    adc_mux: int = 0
    banks: int = 1
    beat: int = 1
    double_buffer: bool = False

    def __post_init__(self):
        _positive_int("rows", self.rows)
        _positive_int("cols", self.cols)
        _positive_int("weight_bits", self.weight_bits)
        if self.weight_bits > 15:
            raise SwsError(f"weight_bits must be at most 15, not {self.weight_bits}")
        if not isinstance(self.input_signed, bool):
            raise SwsError(f"input_signed must be true or false, not {self.input_signed!r}")
        _positive_int("input_bits", self.input_bits, minimum=2 if self.input_signed else 1)
        if self.input_bits > 16:
            raise SwsError(f"input_bits must be at most 16, not {self.input_bits}")
        _positive_int("group", self.group)
        _positive_int("n_adc", self.n_adc)
        _one_of("input_encoding", self.input_encoding, INPUT_ENCODINGS)
        if self.input_encoding == "signmag" and not self.input_signed:
            raise SwsError("input_encoding 'signmag' is for signed inputs: unsigned inputs are already magnitudes "
                           "(use input_encoding 'twos')")
        if not isinstance(self.input_aware, bool):
            raise SwsError(f"input_aware must be true or false, not {self.input_aware!r}")
        _positive_int("banks", self.banks)
        _positive_int("beat", self.beat)
        if self.beat & (self.beat - 1):
            raise SwsError(f"beat must be a power of two, not {self.beat}")
        if not isinstance(self.double_buffer, bool):
            raise SwsError(f"double_buffer must be true or false, not {self.double_buffer!r}")
        if self.slot_cols > self.cols:
            raise SwsError(
                f"group {self.group} is wider than a crossbar: a slot needs 2 * weight_bits * group = "
                f"{self.slot_cols} columns but cols is {self.cols}")
        _positive_int("adc_mux", self.adc_mux, minimum=0)
        if self.adc_mux > self.slot_cols:
            raise SwsError(f"adc_mux must be at most the slot's {self.slot_cols} columns (2 * weight_bits * group), "
                           f"not {self.adc_mux}")
        if self.adc_mux and self.n_adc != self.mux_adcs(self.adc_mux):
            raise SwsError(f"n_adc must be ceil(slot columns {self.slot_cols} / adc_mux {self.adc_mux}) = "
                           f"{self.mux_adcs(self.adc_mux)} with adc_mux {self.adc_mux} (one ADC per group of "
                           f"{self.adc_mux} adjacent columns), not {self.n_adc}")

    @property
    def full_resolution(self) -> int:
        """Bits that hold any count of a full section: ceil(log2(R + 1))."""
        return math.ceil(math.log2(self.rows + 1))

    @property
    def slot_cols(self) -> int:
        """Columns of one slot: a (sign, bit) column pair set for each of the G outputs."""
        return 2 * self.weight_bits * self.group

    def mux_adcs(self, adc_mux: int) -> int:
        """ADCs of a bank whose ADC i serves slot columns i*M .. i*M+M-1: ceil(slot_cols / M)."""
        return -(-self.slot_cols // adc_mux)

    @property
    def slots_per_crossbar(self) -> int:
        return self.cols // self.slot_cols

    @property
    def weight_max(self) -> int:
        return 2 ** self.weight_bits - 1

    @property
    def input_min(self) -> int:
        return input_range(self.input_bits, self.input_signed, self.input_encoding)[0]

    @property
    def input_max(self) -> int:
        return input_range(self.input_bits, self.input_signed, self.input_encoding)[1]

    @property
    def steps(self) -> int:
        """Drive steps per input vector: A (two's complement, unsigned), 2 * (A - 1) (sign-magnitude)."""
        return step_count(self.input_bits, self.input_signed, self.input_encoding)

    def plane_weights(self) -> list[int]:
        """The weight of drive step p (mapper.drive.step_weights): two's complement 2**t, and -2**(A-1)
        for the sign step of signed inputs; sign-magnitude 2**t, then -2**t."""
        return [int(w) for w in step_weights(self.input_bits, self.input_signed, self.input_encoding)]


@dataclass(frozen=True)
class MappingConfig:
    """How a layer is placed on the hardware.

    Parameters
    ----------
    ordering : str
        "sorted" (SWS), "natural" (input order, no row dropped), or the sorted variants "signed" and
        "gray" of mapper.orderings.
    sectioning : str
        "plain": full sections of R rows, the last one partial; "optimal": the cuts of each group's order
        that minimize its energy plus `section_cost_pj` per section; "refined": optimal, then rows moved
        and swapped between sections, then cut again.
    section_cost_pj : float
        With sectioning "optimal" or "refined": energy (pJ per input vector) charged for each section, to
        trade energy against sections and crossbars; not part of the reported energy.
    policy : str
        ADC resolution policy: "column", "section", "full" or the "dense" reference.
    cap : int or None
        Resolution cap in bits (lossy when a column needs more).
    placement : str
        Where a section's active columns sit in its slot (on hardware with adc_mux M >= 1, where it
        decides which ADC converts them): "fixed", the natural slot order (j * 2 + sign) * Bm + bit;
        "balanced", SWS-aware (mapper.placement): the columns sorted by resolution and dealt over the
        ADC groups so that each lockstep batch holds similar resolutions.
    """

    ordering: str = "sorted"
    sectioning: str = "plain"
    section_cost_pj: float = 0.0
    policy: str = "column"
    cap: int | None = None
    placement: str = "fixed"

    def __post_init__(self):
        _one_of("ordering", self.ordering, ORDERINGS)
        _one_of("placement", self.placement, PLACEMENTS)
        _one_of("sectioning", self.sectioning, SECTIONINGS)
        _one_of("policy", self.policy, POLICIES)
        _finite("section_cost_pj", self.section_cost_pj, positive=False)
        if self.section_cost_pj and self.sectioning == "plain":
            raise SwsError("section_cost_pj is only used with sectioning 'optimal' or 'refined', not with "
                           "sectioning 'plain'")
        if self.sectioning == "refined" and self.policy != "column":
            raise SwsError(f"sectioning 'refined' prices moves per column: it needs policy 'column', "
                           f"not {self.policy!r}")
        if self.policy == "dense" and self.ordering != "natural":
            raise SwsError("policy 'dense' is the natural-order reference: it needs ordering 'natural', "
                           f"not {self.ordering!r}")
        if self.policy == "dense" and self.sectioning != "plain":
            raise SwsError("policy 'dense' is the plain-sectioned reference: it needs sectioning 'plain'")
        if self.cap is not None:
            _positive_int("cap", self.cap)


@dataclass(frozen=True)
class EnergyConfig:
    """What a conversion, and the macro around it, costs (mapper.adc_models, mapper.energy, mapper.macro).

    Parameters
    ----------
    law : str
        ADC model: a published one ("isaac", the default; "neurosim", "murmann", "mnsim") with its own
        absolute energies, or a relative law calibrated at E(8) = e8_pj ("walden", "thermal", "table").
    law_table : tuple of float or None
        With law "table": relative energy of a conversion at 1, 2, ... bits.
    e8_pj : float
        Energy of one 8-bit conversion, the calibration point of the relative laws. The published models
        ignore it, so with them it must stay at its default (1.67 pJ): a calibration is never dropped silently.
    node_nm : float or None
        Technology node of "neurosim" (one of its planar LP nodes) and "murmann" (any); default 32 nm.
    sample_rate_hz : float or None
        Conversions per second per ADC of "murmann"; default 1 GS/s.
    macro : str or None
        A JSON file of macro constants (mapper.macro) replacing the built-in ISAAC macro's.
    """

    law: str = "isaac"
    law_table: tuple[float, ...] | None = None
    e8_pj: float = DEFAULT_E8_PJ
    node_nm: float | None = None
    sample_rate_hz: float | None = None
    macro: str | None = None

    def __post_init__(self):
        _one_of("law", self.law, LAWS)
        _finite("e8_pj", self.e8_pj, positive=True)
        if self.law in PUBLISHED and self.e8_pj != DEFAULT_E8_PJ:
            raise SwsError(f"e8_pj calibrates the relative laws (walden, thermal, table); law {self.law!r} has "
                           f"its own published energies, so e8_pj must stay {DEFAULT_E8_PJ}, not {self.e8_pj!r}")
        uses = MODELS[self.law].uses
        if self.node_nm is not None:
            if "node_nm" not in uses:
                raise SwsError(f"node_nm is only used with law neurosim or murmann, not with law {self.law!r}")
            _finite("node_nm", self.node_nm, positive=True)
            if self.law == "neurosim" and self.node_nm not in NEUROSIM_NODES:
                raise SwsError(f"node_nm of law neurosim must be one of its planar nodes "
                               f"{', '.join(map(str, NEUROSIM_NODES))}, not {self.node_nm!r}")
        if self.sample_rate_hz is not None:
            if "sample_rate_hz" not in uses:
                raise SwsError(f"sample_rate_hz is only used with law murmann, not with law {self.law!r}")
            _finite("sample_rate_hz", self.sample_rate_hz, positive=True)
        if self.macro is not None and (not isinstance(self.macro, str) or not self.macro):
            raise SwsError(f"macro must be the path of a JSON file, not {self.macro!r}")
        if self.law == "table":
            if self.law_table is None:
                raise SwsError("law 'table' needs law_table: relative energies of 1, 2, ... bit conversions")
            try:
                table = tuple(float(x) for x in self.law_table)
            except (TypeError, ValueError):
                raise SwsError(f"law_table must be a list of numbers, not {self.law_table!r}") from None
            object.__setattr__(self, "law_table", table)
            if not all(math.isfinite(x) and x > 0 for x in table):
                raise SwsError(f"law_table entries must be positive finite numbers, not {table}")
        elif self.law_table is not None:
            raise SwsError(f"law_table is only used with law 'table', not with law {self.law!r}")

    def model_params(self) -> dict:
        """The keyword parameters of the law's model (mapper.adc_models.AdcModel)."""
        return {"node_nm": self.node_nm, "sample_rate_hz": self.sample_rate_hz, "e8_pj": self.e8_pj,
                "law_table": self.law_table}


_PARTS = {"hw": HardwareConfig, "mapping": MappingConfig, "energy": EnergyConfig}
_FIELD_PART = {f.name: part for part, cls in _PARTS.items() for f in dataclasses.fields(cls)}
#: The name of each part in a configuration dictionary (plan.json, report.json).
_DICT_KEYS = {"hw": "hardware", "mapping": "mapping", "energy": "energy"}


class ArrayConfig:
    """The hardware, the mapping choices and the energy model of one mapping run, as one value.

    Built from the three parts or from their fields by name (``ArrayConfig(rows=64, law="thermal")``);
    a field is read through its part (``cfg.hw.rows``, ``cfg.mapping.policy``, ``cfg.energy.e8_pj``), so
    that editors, type checkers and readers see where it lives. Immutable and comparable; `replace`
    makes a changed copy.
    """

    __slots__ = ("hw", "mapping", "energy")

    def __init__(self, hw: HardwareConfig | None = None, mapping: MappingConfig | None = None,
                 energy: EnergyConfig | None = None, **fields):
        unknown = sorted(set(fields) - set(_FIELD_PART))
        if unknown:
            raise SwsError(f"unknown configuration keys: {', '.join(unknown)}")
        parts = {"hw": hw or HardwareConfig(), "mapping": mapping or MappingConfig(),
                 "energy": energy or EnergyConfig()}
        for part in parts:
            mine = {k: v for k, v in fields.items() if _FIELD_PART[k] == part}
            if mine:
                parts[part] = dataclasses.replace(parts[part], **mine)
        for part, value in parts.items():
            object.__setattr__(self, part, value)
        table = self.energy.law_table
        need = max(8, self.hw.full_resolution)
        if table is not None and len(table) < need:
            raise SwsError(f"law_table must give at least {need} entries (1..8 bits for the calibration, and up "
                           f"to the full resolution {self.hw.full_resolution}), not {len(table)}")
        if self.mapping.placement == "balanced" and not self.hw.adc_mux:
            raise SwsError("placement 'balanced' balances the ADC groups of adc_mux >= 1; with adc_mux 0 (a full "
                           "switch matrix) any ADC converts any column: use placement 'fixed'")
        top = MODELS[self.energy.law].max_bits
        if top is not None and self.hw.full_resolution > top:
            raise SwsError(f"law {self.energy.law!r} covers ADCs of at most {top} bits, but rows {self.hw.rows} "
                           f"need {self.hw.full_resolution} (rows must be at most {2 ** top - 1})")

    def __setattr__(self, name, value):
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __eq__(self, other):
        return isinstance(other, ArrayConfig) and \
            (self.hw, self.mapping, self.energy) == (other.hw, other.mapping, other.energy)

    def __hash__(self):
        return hash((self.hw, self.mapping, self.energy))

    def __repr__(self):
        return f"ArrayConfig({self.hw!r}, {self.mapping!r}, {self.energy!r})"

    def __reduce__(self):   # picklable for process pools
        return (ArrayConfig, (self.hw, self.mapping, self.energy))

    def replace(self, **changes) -> "ArrayConfig":
        """A copy with the named fields (of any part) changed."""
        return ArrayConfig(self.hw, self.mapping, self.energy, **changes)

    def to_dict(self) -> dict:
        """{"hardware": {...}, "mapping": {...}, "energy": {...}}: standard JSON values."""
        out = {}
        for part, key in _DICT_KEYS.items():
            d = dataclasses.asdict(getattr(self, part))
            if d.get("law_table") is not None:
                d["law_table"] = list(d["law_table"])
            out[key] = d
        return out

    @classmethod
    def from_dict(cls, d) -> "ArrayConfig":
        """The inverse of `to_dict`; an SwsError names an unknown or missing part or key."""
        if not isinstance(d, dict):
            raise SwsError(f"a configuration must be an object with {', '.join(_DICT_KEYS.values())}, "
                           f"not {type(d).__name__}")
        unknown = sorted(set(d) - set(_DICT_KEYS.values()))
        if unknown:
            raise SwsError(f"unknown configuration parts: {', '.join(unknown)}")
        parts = {}
        for part, key in _DICT_KEYS.items():
            fields = d.get(key, {})
            if not isinstance(fields, dict):
                raise SwsError(f"configuration part {key!r} must be an object, not {type(fields).__name__}")
            known = {f.name for f in dataclasses.fields(_PARTS[part])}
            bad = sorted(set(fields) - known)
            if bad:
                raise SwsError(f"unknown configuration keys in {key!r}: {', '.join(bad)}")
            fields = dict(fields)
            if fields.get("law_table") is not None:
                fields["law_table"] = tuple(fields["law_table"]) if isinstance(fields["law_table"], list) \
                    else fields["law_table"]
            try:
                parts[part] = _PARTS[part](**fields)
            except TypeError as e:
                raise SwsError(f"configuration part {key!r}: {e}") from None
        return cls(**parts)
