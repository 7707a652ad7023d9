"""`ArrayConfig`: the hardware, the mapping choices and the energy model of one mapping run, as one value
(docs/design.md section 0). A netlist depends on `HardwareConfig` only, so one generic netlist serves
every plan whose hardware fits, whatever its ordering, sectioning, policy or energy law.
"""

from __future__ import annotations

import dataclasses

from ..common import SwsError
from .adc_models import MODELS
from .choices import MappingConfig
from .energy_model import EnergyConfig
from .hardware import HardwareConfig

__all__ = ["ArrayConfig"]


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
        need = max(8, self.hw.adc_bits)
        if table is not None and len(table) < need:
            raise SwsError(f"law_table must give at least {need} entries (1..8 bits for the calibration, and up "
                           f"to the widest conversion {self.hw.adc_bits}), not {len(table)}")
        if self.mapping.placement == "balanced" and not self.hw.adc_mux:
            raise SwsError("placement 'balanced' balances the ADC groups of adc_mux >= 1; with adc_mux 0 (a full "
                           "switch matrix) any ADC converts any column: use placement 'fixed'")
        top = MODELS[self.energy.law].max_bits
        if top is not None and self.hw.adc_bits > top:
            raise SwsError(f"law {self.energy.law!r} covers ADCs of at most {top} bits, but rows {self.hw.rows} "
                           f"need {self.hw.adc_bits}{' (with the bipolar drive sign bit)' if self.hw.sign_bits else ''}"
                           f" (rows must be at most {2 ** (top - self.hw.sign_bits) - 1})")

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
