"""Map a quantized layer onto crossbars: section it, plan its resolutions, cost it, and compute what it outputs."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import ArrayConfig
from .energy import energy_table
from .quantize import QuantLayer
from .resolution import lossless_bits, plan_resolutions
from .sectioning import Sectioning, section_layer, weight_bits_of

__all__ = ["LayerMap", "Cost", "map_layer", "cost_of", "input_planes", "saturating_matvec", "cap_error"]


@dataclass(frozen=True)
class Cost:
    """What one input vector costs on a mapped layer."""

    energy_pj: float
    conversions: int
    sar_cycles: int
    sections: int
    crossbars: int
    resolution_histogram: tuple[int, ...]  # conversions per input vector at 0, 1, 2, ... bits (0 stays 0)

    def __add__(self, other: "Cost") -> "Cost":
        n = max(len(self.resolution_histogram), len(other.resolution_histogram))
        h = np.zeros(n, dtype=np.int64)
        h[:len(self.resolution_histogram)] += self.resolution_histogram
        h[:len(other.resolution_histogram)] += other.resolution_histogram
        return Cost(self.energy_pj + other.energy_pj, self.conversions + other.conversions,
                    self.sar_cycles + other.sar_cycles, self.sections + other.sections,
                    self.crossbars + other.crossbars, tuple(int(x) for x in h))


def cost_of(res: np.ndarray, cfg: ArrayConfig, n_sections: int) -> Cost:
    """Per input vector: every active column is converted once in each of the A planes."""
    active = res[res > 0]
    hist = np.bincount(active, minlength=cfg.full_resolution + 1) * cfg.input_bits
    energy = float(cfg.input_bits * energy_table(cfg)[active].sum())
    return Cost(energy, int(cfg.input_bits * active.size), int(cfg.input_bits * active.sum()), int(n_sections),
                int(-(-n_sections // cfg.slots_per_crossbar)), tuple(int(x) for x in hist))


@dataclass
class LayerMap:
    """A layer mapped under one configuration: its sectioning and each column's resolution."""

    layer: QuantLayer
    sec: Sectioning
    res: np.ndarray  # (S, G, 2, Bm), 0 = not converted

    @property
    def cfg(self) -> ArrayConfig:
        return self.sec.cfg

    @property
    def need(self) -> np.ndarray:
        return lossless_bits(self.sec.counts)

    @property
    def capped_columns(self) -> int:
        """Columns converted at fewer bits than their ones need (only with a cap)."""
        return int(np.count_nonzero(self.res < self.need))

    def cost(self) -> Cost:
        return cost_of(self.res, self.cfg, self.sec.n_sections)


def map_layer(layer: QuantLayer, cfg: ArrayConfig) -> LayerMap:
    sec = section_layer(layer.weights, cfg)
    return LayerMap(layer, sec, plan_resolutions(sec.counts, cfg, sec.output_mask()))


def input_planes(x: np.ndarray, cfg: ArrayConfig) -> np.ndarray:
    """(..., A, K) bit-planes of integer inputs in two's complement (or unsigned)."""
    u = np.asarray(x, dtype=np.int64) & ((1 << cfg.input_bits) - 1)
    return ((u[..., None, :] >> np.arange(cfg.input_bits)[:, None]) & 1).astype(np.int64)


def saturating_matvec(lm: LayerMap, x: np.ndarray) -> np.ndarray:
    """What the crossbars output for inputs x (V, K): x @ W, except where a capped ADC saturates."""
    cfg = lm.cfg
    x = np.asarray(x, dtype=np.int64)
    y = x @ lm.layer.weights
    short = lm.res < lm.need
    if not short.any():
        return y
    planes = input_planes(x, cfg)                                   # (V, A, K)
    plane_w = np.asarray(cfg.plane_weights(), dtype=np.int64)
    for s in np.unique(np.nonzero(short)[0]):
        rows = lm.sec.section_rows(s)
        g = lm.sec.sec_group[s]
        cols = lm.layer.weights[rows][:, g * cfg.group:(g + 1) * cfg.group]
        bits = weight_bits_of(cols, cfg.weight_bits).astype(np.int64)  # (len, G', 2, Bm)
        for j, sign, b in zip(*np.nonzero(short[s])):
            c = planes[:, :, rows] @ bits[:, j, sign, b]                # (V, A) counts
            lost = c - np.minimum(c, 2 ** lm.res[s, j, sign, b] - 1)
            y[:, g * cfg.group + j] -= (1 - 2 * sign) * (1 << b) * (lost @ plane_w)
    return y


def cap_error(lm: LayerMap, n_vectors: int = 64, seed: int = 0) -> dict:
    """The error a resolution cap causes, measured on uniformly random inputs over the input range."""
    cfg = lm.cfg
    x = np.random.default_rng(seed).integers(cfg.input_min, cfg.input_max + 1, (n_vectors, lm.layer.shape[0]))
    exact = x @ lm.layer.weights
    err = saturating_matvec(lm, x) - exact
    scale = float(np.sqrt(np.mean(exact.astype(np.float64) ** 2))) or 1.0
    return {"capped_columns": lm.capped_columns, "vectors": n_vectors,
            "max_abs_error": int(np.abs(err).max(initial=0)),
            "rms_error_relative": float(np.sqrt(np.mean(err.astype(np.float64) ** 2)) / scale)}
