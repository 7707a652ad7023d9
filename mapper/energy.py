"""Energy of one analog-to-digital conversion as a function of its resolution (docs/design.md section 4)."""

from __future__ import annotations

import numpy as np

from .config import ArrayConfig

__all__ = ["conversion_energy", "energy_table"]


def conversion_energy(cfg: ArrayConfig, bits) -> np.ndarray:
    """Energy in pJ of one conversion at `bits` (array-like, each >= 1), calibrated at E(8) = e8_pj."""
    b = np.asarray(bits, dtype=np.int64)
    if np.any(b < 1):
        raise ValueError("a conversion has at least 1 bit")
    if cfg.law == "walden":
        return cfg.e8_pj * np.exp2(b - 8.0)
    if cfg.law == "thermal":
        return cfg.e8_pj * np.exp2(2.0 * (b - 8.0))
    table = np.asarray(cfg.law_table, dtype=np.float64)
    if np.any(b > len(table)):
        raise ValueError(f"law_table has no entry for {int(b.max())} bits")
    return cfg.e8_pj * table[b - 1] / table[7]


def energy_table(cfg: ArrayConfig, max_bits: int | None = None) -> np.ndarray:
    """E[b] for b = 0..max_bits, with E[0] = 0 (a column that is never converted costs nothing)."""
    max_bits = cfg.full_resolution if max_bits is None else max_bits
    e = np.zeros(max_bits + 1)
    e[1:] = conversion_energy(cfg, np.arange(1, max_bits + 1))
    return e
