"""Energy of one analog-to-digital conversion, and area of one ADC, as functions of the resolution
(docs/design.md section 4), under the configuration's ADC model (mapper.config.adc_models)."""

from __future__ import annotations

import numpy as np

from .adc_models import MODELS
from .array import ArrayConfig

__all__ = ["conversion_energy", "energy_table", "adc_area"]


def _bits(bits) -> np.ndarray:
    b = np.asarray(bits, dtype=np.int64)
    if np.any(b < 1):
        raise ValueError("a conversion has at least 1 bit")
    return b


def conversion_energy(cfg: ArrayConfig, bits) -> np.ndarray:
    """Energy in pJ of one conversion at `bits` (array-like, each >= 1) under the configuration's law."""
    return np.asarray(MODELS[cfg.energy.law].energy(_bits(bits), **cfg.energy.model_params()), dtype=np.float64)


def adc_area(cfg: ArrayConfig, bits) -> np.ndarray:
    """Area in um^2 of one ADC of `bits` resolution under the configuration's law (its model's area)."""
    return np.asarray(MODELS[cfg.energy.law].area(_bits(bits), **cfg.energy.model_params()), dtype=np.float64)


def energy_table(cfg: ArrayConfig, max_bits: int | None = None) -> np.ndarray:
    """E[b] for b = 0..max_bits (default the widest conversion, hw.adc_bits), with E[0] = 0 (a column that is
    never converted costs nothing)."""
    max_bits = cfg.hw.adc_bits if max_bits is None else max_bits
    e = np.zeros(max_bits + 1)
    e[1:] = conversion_energy(cfg, np.arange(1, max_bits + 1))
    return e
