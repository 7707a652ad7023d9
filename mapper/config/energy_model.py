"""The energy model that prices a plan (docs/design.md sections 0 and 4): the ADC law and its parameters,
the macro file."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..common import finite, one_of
from ..common import SwsError
from .adc_models import DEFAULT_E8_PJ, MODELS, NEUROSIM_NODES, PUBLISHED

__all__ = ["LAWS", "EnergyConfig"]


LAWS = tuple(MODELS)   # isaac (default), neurosim, murmann, mnsim, walden, thermal, table
#: Largest e8_pj: 1 uJ per 8-bit conversion, six orders above any published ADC, at which every law's energies
#: up to 16 bits stay finite (--e8 1e308 printed infinities).
MAX_E8_PJ = 1e6


@dataclass(frozen=True)
class EnergyConfig:
    """What a conversion, and the macro around it, costs (mapper.config.adc_models, mapper.config.energy, mapper.cost.macro).

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
        A JSON file of macro constants (mapper.cost.macro) replacing the built-in ISAAC macro's.
    """

    law: str = "isaac"
    law_table: tuple[float, ...] | None = None
    e8_pj: float = DEFAULT_E8_PJ
    node_nm: float | None = None
    sample_rate_hz: float | None = None
    macro: str | None = None

    def __post_init__(self):
        one_of("law", self.law, LAWS)
        finite("e8_pj", self.e8_pj, positive=True)
        if self.e8_pj > MAX_E8_PJ:
            raise SwsError(f"e8_pj must be at most {MAX_E8_PJ:g} pJ per 8-bit conversion (a microjoule, six orders "
                           f"above any published ADC), not {self.e8_pj!r}")
        if self.law in PUBLISHED and self.e8_pj != DEFAULT_E8_PJ:
            raise SwsError(f"e8_pj calibrates the relative laws (walden, thermal, table); law {self.law!r} has "
                           f"its own published energies, so e8_pj must stay {DEFAULT_E8_PJ}, not {self.e8_pj!r}")
        uses = MODELS[self.law].uses
        if self.node_nm is not None:
            if "node_nm" not in uses:
                raise SwsError(f"node_nm is only used with law neurosim or murmann, not with law {self.law!r}")
            finite("node_nm", self.node_nm, positive=True)
            if self.law == "neurosim" and self.node_nm not in NEUROSIM_NODES:
                raise SwsError(f"node_nm of law neurosim must be one of its planar nodes "
                               f"{', '.join(map(str, NEUROSIM_NODES))}, not {self.node_nm!r}")
        if self.sample_rate_hz is not None:
            if "sample_rate_hz" not in uses:
                raise SwsError(f"sample_rate_hz is only used with law murmann, not with law {self.law!r}")
            finite("sample_rate_hz", self.sample_rate_hz, positive=True)
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
                raise SwsError(f"law_table entries must be positive finite numbers, not {table}"[:200])
            if len(table) < 8:
                raise SwsError(f"law_table must give at least 8 entries (1..8 bits: the law is calibrated at 8 "
                               f"bits), not {len(table)}")
        elif self.law_table is not None:
            raise SwsError(f"law_table is only used with law 'table', not with law {self.law!r}")

    def model_params(self) -> dict:
        """The keyword parameters of the law's model (mapper.config.adc_models.AdcModel)."""
        return {"node_nm": self.node_nm, "sample_rate_hz": self.sample_rate_hz, "e8_pj": self.e8_pj,
                "law_table": self.law_table}
