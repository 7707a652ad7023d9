"""Map a quantized layer onto crossbars: section it, plan its resolutions, cost it, and compute what it outputs."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .bits import lossless_bits, weight_bits_of
from ..config import drive_steps
from ..config import ArrayConfig
from ..config import energy_table
from .optimal import optimal_strategy, refined_strategy
from ..sources import QuantLayer
from .resolution import plan_resolutions
from .cuts import Cuts, Sectioning, plain_cuts, section_layer

__all__ = ["LayerMap", "Cost", "map_layer", "with_policy", "cost_of", "saturating_matvec", "cap_error", "CUT_STRATEGIES"]

#: sectioning name -> where the cuts fall (mapper.sectioning.Cuts).
CUT_STRATEGIES: dict[str, Cuts] = {"plain": plain_cuts, "optimal": optimal_strategy, "refined": refined_strategy}


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
        a, b = self.resolution_histogram, other.resolution_histogram
        h = tuple((a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(max(len(a), len(b))))
        return Cost(self.energy_pj + other.energy_pj, self.conversions + other.conversions,
                    self.sar_cycles + other.sar_cycles, self.sections + other.sections,
                    self.crossbars + other.crossbars, h)


def cost_of(res: np.ndarray, cfg: ArrayConfig, n_sections: int) -> Cost:
    """Per input vector: every active column is converted once in each drive step (A planes in two's
    complement, 2 * (A - 1) in sign-magnitude, A - 1 bipolar at one bit more); the weight-only figure, also
    with input-aware hardware."""
    active = res[res > 0] + cfg.hw.sign_bits        # the bipolar drive's signed sums take a bit more
    hist = np.bincount(active, minlength=cfg.hw.adc_bits + 1) * cfg.hw.steps
    energy = float(cfg.hw.steps * energy_table(cfg, cfg.hw.adc_bits)[active].sum())
    return Cost(energy, int(cfg.hw.steps * active.size), int(cfg.hw.steps * active.sum()), int(n_sections),
                int(-(-n_sections // cfg.hw.slots_per_crossbar)), tuple(int(x) for x in hist))


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
    """Section a quantized layer and plan each column's resolution under `cfg`.

    Parameters
    ----------
    layer : QuantLayer
        Signed integer weights within the configuration's weight bits.
    cfg : ArrayConfig
        Hardware, mapping choices (ordering, sectioning, policy, cap) and energy model.

    Returns
    -------
    LayerMap
        The sectioning and the (S, G, 2, Bm) resolutions; `cost()` prices one input vector.
    """
    sec = section_layer(layer.weights, cfg, CUT_STRATEGIES[cfg.mapping.sectioning])
    return LayerMap(layer, sec, plan_resolutions(sec.counts, cfg, sec.output_mask()))


def with_policy(lm: LayerMap, cfg: ArrayConfig) -> LayerMap:
    """The same sections under another policy, cap or energy model: resolutions planned again, nothing re-sectioned.

    The dense reference is the natural-order map at policy `dense`, so it reuses the natural reference's
    sections instead of ordering and counting the layer once more.
    """
    old = lm.cfg
    if (cfg.hw, cfg.mapping.ordering, cfg.mapping.sectioning, cfg.mapping.section_cost_pj) != \
            (old.hw, old.mapping.ordering, old.mapping.sectioning, old.mapping.section_cost_pj):
        raise ValueError("with_policy keeps the sections: hardware, ordering and sectioning must not change")
    sec = dataclasses.replace(lm.sec, cfg=cfg)
    return LayerMap(lm.layer, sec, plan_resolutions(sec.counts, cfg, sec.output_mask()))


def saturating_matvec(lm: LayerMap, x: np.ndarray, chunk: int = 32) -> np.ndarray:
    """What the crossbars output for integer inputs x (V, K): x @ W, except where a capped ADC saturates.

    The sections with a capped column are taken `chunk` at a time, each padded to R rows with zero cells;
    their columns' counts for every input and plane are one batched float32 product (exact: a count is at
    most R < 2**24). A count above its column's 2**res - 1 loses the excess, times the column's sign, bit
    weight and plane weight. A column whose resolution holds its ones never loses anything.
    """
    cfg = lm.cfg
    w = lm.layer.weights
    x = np.asarray(x, dtype=np.int64)
    y = x @ w
    short = np.nonzero((lm.res < lm.need).any(axis=(1, 2, 3)))[0]
    if not len(short):
        return y
    planes = drive_steps(x, cfg.hw.input_bits, cfg.hw.input_signed, cfg.hw.input_encoding).astype(np.float32)  # (V, P, K)
    v, a = planes.shape[:2]
    planes_t = np.ascontiguousarray(planes.reshape(v * a, -1).T)           # (K, V * A)
    g, bm, n_out = cfg.hw.group, cfg.hw.weight_bits, w.shape[1]
    plane_w = np.asarray(cfg.hw.plane_weights(), dtype=np.int64)
    col_w = (1 - 2 * np.arange(2))[:, None] * (1 << np.arange(bm))[None, :]  # (2, Bm): sign and bit weight
    yt = y.T  # a view: outputs first, for np.add.at
    for part in np.array_split(short, -(-len(short) // chunk)):
        rows = np.zeros((len(part), cfg.hw.rows), dtype=np.int64)
        wc = np.zeros((len(part), cfg.hw.rows, g), dtype=np.int64)
        for i, s in enumerate(part):
            r = lm.sec.section_rows(s)
            lo = int(lm.sec.sec_group[s]) * g
            hi = min(lo + g, n_out)
            rows[i, :len(r)] = r
            wc[i, :len(r), :hi - lo] = w[r][:, lo:hi]
        bits = weight_bits_of(wc, bm).reshape(len(part), cfg.hw.rows, -1).astype(np.float32)
        # Contiguous operands, so that the batched product runs in BLAS.
        counts = np.matmul(np.ascontiguousarray(bits.transpose(0, 2, 1)), planes_t[rows])  # (n, G*2*Bm, V*A)
        full = (2.0 ** lm.res[part].reshape(len(part), -1, 1) - 1).astype(np.float32)
        # A code holds min(count, 2**res - 1); the bipolar drive's signed sums saturate at -(2**res - 1) too.
        lost = np.rint(np.maximum(counts - full, 0) + np.minimum(counts + full, 0)).astype(np.int64)
        lost = lost.reshape(len(part), g, 2, bm, v, a)
        loss = np.einsum("njsbva,a,sb->njv", lost, plane_w, col_w)             # (n, G, V)
        outs = lm.sec.sec_group[part][:, None] * g + np.arange(g)[None, :]      # (n, G)
        real = outs < n_out
        np.subtract.at(yt, outs[real], loss[real])
    return y


def cap_error(lm: LayerMap, n_vectors: int = 64, seed: int = 0) -> dict:
    """The error a resolution cap causes, measured on uniformly random inputs over the input range."""
    cfg = lm.cfg
    x = np.random.default_rng(seed).integers(cfg.hw.input_min, cfg.hw.input_max + 1, (n_vectors, lm.layer.shape[0]))
    exact = x @ lm.layer.weights
    err = saturating_matvec(lm, x) - exact
    scale = float(np.sqrt(np.mean(exact.astype(np.float64) ** 2))) or 1.0
    return {"capped_columns": lm.capped_columns, "vectors": n_vectors,
            "max_abs_error": int(np.abs(err).max(initial=0)),
            "rms_error_relative": float(np.sqrt(np.mean(err.astype(np.float64) ** 2)) / scale)}
