"""Lower bounds on the ADC energy (per input vector) of any lossless plan of a layer, whatever its order and cuts.

Every bound sums over the layer's (output, sign, bit) columns. Column c holds M_c ones in the whole
layer; a plan splits them over sections as m_1 + m_2 + ... = M_c (each m_i <= R), and each part with
m_i >= 1 is converted in all A planes at b_i >= bitlen(m_i) = ceil(log2(m_i + 1)) bits. A resolution
cap makes a plan lossy: these bounds hold for lossless plans only.

- walden  E(b) = E8 2**(b-8) >= E8 2**-8 (m + 1)  so a column costs >= E8 2**-8 A (M + 1):
          bound = E8 2**-8 A (ones + nonempty columns).
- thermal E(b) = E8 4**(b-8) >= E8 4**-8 (m + 1)**2 >= E8 4**-8 4m  ((m - 1)**2 >= 0), and 4m is additive:
          bound = E8 4**-7 A ones (tight: one-row sections convert every one at 1 bit).
- any other law (table and the published models isaac, neurosim, murmann, mnsim): a part costs >= h m with
          h = min over b of E(b) / min(2**b - 1, R) (the cheapest energy per one), and a nonempty column
          costs >= E_min = min over b of E(b): bound = A sum_c max(h M_c, E_min). Loose: see column_bound.

`column_bound` is tighter for any law: the cheapest split of each column on its own,
f(M) = min over parts of sum E(bitlen(m_i)), by a small dynamic program over M. It ignores that a
row's ones in different columns must share a section, so no plan beats it, and it shows how much
of the gap to `lower_bound` no cut or order can close. It prices a part at its need, so it holds for a
law whose E(b) does not fall as b grows: every model of mapper.config.adc_models (checked in the tests).
"""

from __future__ import annotations

import numpy as np

from ..config import ArrayConfig
from ..config import conversion_energy
from ..sectioning import lossless_bits

__all__ = ["column_ones", "lower_bound", "column_bound", "BOUND_FORMULAS", "COLUMN_BOUND_FORMULA"]

BOUND_FORMULAS = {
    "walden": "E8 * 2**-8 * A * (ones + nonempty columns)",
    "thermal": "E8 * 4**-7 * A * ones",
    "table": "A * sum over nonempty columns of max(h * M, E_min), h = min_b E(b) / min(2**b - 1, R)",
}
for _law in ("isaac", "neurosim", "murmann", "mnsim"):
    BOUND_FORMULAS[_law] = BOUND_FORMULAS["table"]
COLUMN_BOUND_FORMULA = "A * sum over columns of f(M), f(M) = min over splits into parts m_i <= R of sum E(bitlen(m_i))"


def column_ones(w: np.ndarray, weight_bits: int) -> np.ndarray:
    """(N, 2, Bm): ones of each (output, sign, bit) column over all K rows of the layer."""
    w = np.asarray(w, np.int64)
    out = np.empty((w.shape[1], 2, weight_bits), np.int64)
    for s, mag in enumerate((np.maximum(w, 0), np.maximum(-w, 0))):
        mag = mag.astype(np.uint16)        # magnitudes below 2**15 (weight_bits <= 15)
        for b in range(weight_bits):       # a count per bit: no K x N x 2 x Bm array of slices
            out[:, s, b] = np.count_nonzero(mag & (1 << b), axis=0)
    return out


def lower_bound(w: np.ndarray, cfg: ArrayConfig) -> float:
    """The closed-form bound of the configuration's law (pJ per input vector) for any lossless plan of w."""
    ones = column_ones(w, cfg.hw.weight_bits)
    total, nonempty = int(ones.sum()), int(np.count_nonzero(ones))
    a = cfg.hw.steps
    if cfg.energy.law == "walden":
        return cfg.energy.e8_pj * 2.0 ** -8 * a * (total + nonempty)
    if cfg.energy.law == "thermal":
        return cfg.energy.e8_pj * 4.0 ** -7 * a * total
    b = np.arange(1, cfg.hw.full_resolution + 1)
    e = conversion_energy(cfg, b)
    per_one = float(np.min(e / np.minimum(2 ** b - 1, cfg.hw.rows)))
    m = ones[ones > 0].astype(np.float64)
    return float(a * np.maximum(per_one * m, e.min()).sum())


def column_bound(w: np.ndarray, cfg: ArrayConfig) -> float:
    """Each column split on its own in the cheapest way into parts of at most R ones (pJ per input vector)."""
    ones = column_ones(w, cfg.hw.weight_bits)
    top = int(ones.max(initial=0))
    part = np.zeros(cfg.hw.rows + 1)
    part[1:] = conversion_energy(cfg, lossless_bits(np.arange(1, cfg.hw.rows + 1)))
    f = np.zeros(top + 1)
    for m in range(1, top + 1):
        k = min(m, cfg.hw.rows)
        f[m] = np.min(part[1:k + 1] + f[m - 1::-1][:k])   # last part of 1..k ones after f[m - part]
    return float(cfg.hw.steps * f[ones].sum())
