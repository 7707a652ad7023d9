"""One-shot pruning of a layer (no retraining): by magnitude, by Wanda's |W| times input norm, and by SparseGPT's
layer-wise reconstruction; each optionally steered towards the weights whose removal saves ADC energy.

Layout as everywhere in the mapper: `y = x @ W`, W is K x N (K inputs, N outputs); calibration activations
X are (tokens, K). References:
- Wanda: Sun, Liu, Bair, Kolter, "A Simple and Effective Pruning Approach for Large Language Models",
  ICLR 2024. Saliency |W_kn| * ||X_k||_2, compared within each output (its K weights).
- SparseGPT: Frantar, Alistarh, "SparseGPT: Massive Language Models Can Be Accurately Pruned in One-Shot",
  ICML 2023 (their reference code: blocks of 128 inputs, 1% damping). Per output, the Optimal Brain Surgeon
  update with the inverse Hessian H^-1 of H = X^T X: pruning weight k costs w_k^2 / [H^-1]_kk and the other
  weights not yet fixed absorb its error. Integer weights stay integers (their joint sparsify-and-quantize
  variant, GPTQ's rule): each kept weight is rounded to the nearest integer in -qmax..qmax when its input is
  processed, and its rounding error is compensated like a pruning error. In an int8 model each output has
  one scale, and the reconstruction of one output is invariant to it, so the integers are updated in their
  own units and the layer keeps its per-channel scales unchanged.

ADC-aware pruning (`AdcAware`): a weight's bits sit in the ADC columns of its section (mapper.sectioning),
and a column of c ones is converted at res(c) bits (policy `column`: ceil(log2(c + 1))) in each of the A
input planes. A weight's gain is its ones' share of their columns' conversions, A * sum over its set bits of
E(res(c)) / c: a lone one in a high-order column carries a whole conversion, a one among 60 a sixtieth of a
6-bit one. Pruning removes many weights at once, so the share, not the exact marginal saving (which is zero
except where c crosses a power of two), is the estimate; the section layout is held fixed (removing a row's
weight also moves the later rows of its order, which is ignored). The knob `trade` in [0, 1] scales each
weight's saliency by 1 - trade * min(1, gain / g), g the largest gain among the weights whose saliency is
within a factor 1 - trade of the plain method's cut: at 0 the plain method; at 0.3 a weight of the largest
gain goes before every weight of no gain whose saliency is above 0.7 times its own. Weights more than that below the cut go whatever their
gain, and the gains are priced on the layer without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..config import ArrayConfig
from ..common import SwsError
from .quantize import check_sparsity, prune

__all__ = ["PRUNE_METHODS", "CALIBRATED_METHODS", "AdcAware", "magnitude", "wanda", "sparsegpt", "input_norms",
           "hessian", "check_method", "dense_target", "obs_factor"]

PRUNE_METHODS = ("magnitude", "wanda", "sparsegpt")
#: The methods that need calibration activations.
CALIBRATED_METHODS = ("wanda", "sparsegpt")


def check_method(method: str) -> str:
    if method not in PRUNE_METHODS:
        raise SwsError(f"the pruning method must be one of {', '.join(PRUNE_METHODS)}, not {method!r}")
    return method


def input_norms(x: np.ndarray) -> np.ndarray:
    """||X_k||_2 over the calibration rows, per input k: the activation factor of Wanda's saliency."""
    x = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
    return np.sqrt(np.einsum("tk,tk->k", x, x))


def hessian(x: np.ndarray) -> np.ndarray:
    """H = X^T X (K x K) over the calibration rows: the layer-wise reconstruction's Hessian (up to a factor 2)."""
    x = np.asarray(x, np.float64).reshape(-1, np.shape(x)[-1])
    return x.T @ x


@dataclass(frozen=True)
class AdcAware:
    """Prefer, among weights of nearly equal saliency, those whose removal saves ADC energy under `cfg`.

    trade : float in [0, 1]
        Saliency is scaled by 1 - trade * min(1, gain / the largest gain near the cut) (module docstring).
    """

    cfg: ArrayConfig
    trade: float = 0.1

    def __post_init__(self):
        if isinstance(self.trade, bool) or not isinstance(self.trade, (int, float)) or not math.isfinite(self.trade) \
                or not 0 <= self.trade <= 1:
            raise SwsError(f"the ADC-aware trade must be a number in [0, 1], not {self.trade!r}")
        if self.cfg.mapping.policy not in ("column", "full"):
            raise SwsError(f"ADC-aware pruning prices each column on its own: policy column or full, "
                           f"not {self.cfg.mapping.policy!r}")

    def gains(self, w: np.ndarray) -> np.ndarray:
        """(K, N) pJ per input vector: each weight's ones' share of their columns' conversions (layout fixed)."""
        from ..sectioning import lossless_bits, weight_bits_of
        from ..config import energy_table
        from ..sectioning import map_layer
        from ..sources import QuantLayer

        cfg = self.cfg
        w = np.asarray(w)
        if not np.issubdtype(w.dtype, np.integer):
            raise SwsError("ADC-aware pruning needs integer weights (the crossbar's)")
        w = w.astype(np.int64)
        k, n = w.shape
        sec = map_layer(QuantLayer("adc-aware", w), cfg).sec
        n_groups = sec.order.shape[0]
        # The section of each position of each group's order (-1: a dropped zero row), then of each row.
        at = np.full((n_groups, k), -1, np.int64)
        for s in range(sec.n_sections):
            at[sec.sec_group[s], sec.sec_start[s]:sec.sec_start[s] + sec.sec_len[s]] = s
        where = np.empty_like(at)
        np.put_along_axis(where, sec.order, at, axis=1)
        outputs = np.arange(n)
        sec_of = where[outputs // cfg.hw.group].T                              # (K, N)

        def resolution(c):
            b = lossless_bits(c)
            if cfg.mapping.policy == "full":
                b = np.where(c > 0, cfg.hw.full_resolution, 0)
            return b if cfg.mapping.cap is None else np.minimum(b, cfg.mapping.cap)

        e = energy_table(cfg)
        counts = sec.counts.astype(np.int64)                                # (S, G, 2, Bm)
        # Each one's share of its column's conversions: a lone one carries a whole conversion.
        saved = cfg.hw.steps * e[resolution(counts)] / np.maximum(counts, 1)
        bits = weight_bits_of(w, cfg.hw.weight_bits).astype(np.float64)        # (K, N, 2, Bm)
        col = saved[np.maximum(sec_of, 0), (outputs % cfg.hw.group)[None, :]]  # (K, N, 2, Bm)
        return np.where(sec_of >= 0, (bits * col).sum(axis=(2, 3)), 0.0)

    def factor(self, w: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
        """(K, N) multipliers of the saliency: 1 - trade * min(1, gain / largest gain `among` the candidates)."""
        g = self.gains(w)
        top = g[among].max(initial=0.0) if among is not None else g.max(initial=0.0)
        return 1.0 - self.trade * (np.minimum(g / top, 1.0) if top > 0 else g)


def _lowest(scores: np.ndarray, count: int, axis=None) -> np.ndarray:
    """Boolean mask of the `count` lowest scores (flat, or along `axis`); ties: lower index first."""
    mask = np.zeros(scores.shape, bool)
    if count <= 0:
        return mask
    if axis is None:
        order = np.argsort(scores, axis=None, kind="stable")
        mask.reshape(-1)[order[:count]] = True
        return mask
    order = np.argsort(scores, axis=axis, kind="stable")
    np.put_along_axis(mask, np.take(order, np.arange(count), axis=axis), True, axis=axis)
    return mask


def _steered(w, saliency, sparsity, adc: AdcAware | None, select):
    """Prune by `select(scores)`; with `adc`, first the weights no trade can save, then by steered saliency."""
    mask = select(saliency)
    if adc is None or adc.trade == 0:
        return mask
    # A weight whose saliency is below (1 - trade) times the plain cut's is pruned whatever its gain; the
    # gains are priced on the layer with those gone, closer to the layer that will be mapped.
    cut = np.where(mask, saliency, -np.inf).max(initial=0.0) if mask.any() else 0.0
    sure = mask & (saliency < (1 - adc.trade) * cut)
    near = (saliency >= (1 - adc.trade) * cut) & (saliency <= cut / max(1 - adc.trade, 1e-9))
    return select(saliency * adc.factor(np.where(sure, 0, w), near))


def magnitude(w: np.ndarray, sparsity: float, *, adc: AdcAware | None = None) -> np.ndarray:
    """The layer with its round(sparsity * K * N) smallest ``|w|`` zeroed (mapper.prepare.quantize.prune), ADC-steered."""
    sparsity = check_sparsity(sparsity)
    if adc is None:
        return prune(w, sparsity)
    n_zero = int(round(sparsity * w.size))
    mask = _steered(w, np.abs(w).astype(np.float64), sparsity, adc, lambda s: _lowest(s, n_zero))
    return np.where(mask, 0, w).astype(w.dtype)


def wanda(w: np.ndarray, sparsity: float, x_norm: np.ndarray, *, adc: AdcAware | None = None) -> np.ndarray:
    """Zero, in each output (column), the round(sparsity * K) weights of lowest ``|W_kn| * ||X_k||``.

    x_norm : (K,) the L2 norm of each input over the calibration tokens (`input_norms`).
    """
    sparsity = check_sparsity(sparsity)
    x_norm = np.asarray(x_norm, np.float64).reshape(-1)
    if x_norm.shape != (w.shape[0],):
        raise SwsError(f"wanda: {x_norm.size} input norms for a layer of {w.shape[0]} inputs")
    n_zero = int(round(sparsity * w.shape[0]))
    saliency = np.abs(w).astype(np.float64) * x_norm[:, None]
    mask = _steered(w, saliency, sparsity, adc, lambda s: _lowest(s, n_zero, axis=0))
    return np.where(mask, 0, w).astype(w.dtype)


def obs_factor(h: np.ndarray, damp: float = 0.01) -> tuple[np.ndarray, np.ndarray]:
    """(U, dead): the upper Cholesky factor of (H + damp * mean(diag H) I)^-1, whose row k holds the OBS update
    of the inputs after k, and the inputs never active in calibration (H_kk = 0, taken as 1)."""
    h = np.array(h, np.float64)
    k = h.shape[0]
    if h.shape != (k, k):
        raise SwsError(f"sparsegpt: the Hessian must be square, not of shape {h.shape}")
    dead = np.diag(h) == 0
    h[dead, dead] = 1.0
    h[np.diag_indices(k)] += damp * np.mean(np.diag(h))
    return np.linalg.cholesky(np.linalg.inv(h)).T, dead


def sparsegpt(w: np.ndarray, sparsity: float, h: np.ndarray, *, scale: np.ndarray | None = None,
              block: int = 128, damp: float = 0.01, qmax: int | None = None,
              adc: AdcAware | None = None) -> np.ndarray:
    """SparseGPT: prune and reconstruct a K x N layer against the Hessian h = X^T X of its calibration inputs.

    Parameters
    ----------
    w : (K, N) integer or float weights.
    sparsity : the fraction of zeros per block of `block` inputs x N outputs (adaptive mask selection).
    h : (K, K) `hessian(X)` of the calibration inputs (of the already-pruned earlier layers), or its
        `obs_factor` (computed once for layers that share their inputs).
    scale : (N,) per-output scale of integer weights (real weight = w * scale): the mask compares weights
        of different outputs in real units. Default 1.
    damp : added to the diagonal, times its mean (the paper's 1%), so that H is invertible.
    qmax : the weights are rounded to integers in -qmax..qmax (default for integer w: the dtype's largest
        value; float w given a qmax is rounded too, and returned as floats holding integers).
    adc : steer the mask within each block towards weights whose removal saves ADC energy (the gains priced
        once, on the layer as it comes in).

    Returns
    -------
    The pruned weights, of w's dtype. Inputs never active in calibration (H_kk = 0) are pruned, as in the
    reference code.
    """
    sparsity = check_sparsity(sparsity)
    k, n = w.shape
    hinv, dead = h if isinstance(h, tuple) else obs_factor(h, damp)
    if hinv.shape != (k, k):
        raise SwsError(f"sparsegpt: a Hessian of shape {hinv.shape} for a layer of {k} inputs")
    integer = np.issubdtype(w.dtype, np.integer) or qmax is not None
    if integer and qmax is None:
        qmax = int(np.iinfo(w.dtype).max)
    sc = np.ones(n) if scale is None else np.asarray(scale, np.float64).reshape(-1)
    wt = w.astype(np.float64).T.copy()                 # (N, K): one row per output, as in the paper
    wt[:, dead] = 0.0
    gains = None
    if adc is not None and adc.trade > 0:
        # Priced once, on the layer as it comes in (rounded); the blocks' updates move it only a little.
        gains = adc.gains(np.clip(np.rint(wt.T), -qmax, qmax).astype(np.int64) if integer else wt.T)
    for i1 in range(0, k, block):
        i2 = min(i1 + block, k)
        w1 = wt[:, i1:i2].copy()
        q1 = np.zeros_like(w1)
        err1 = np.zeros_like(w1)
        d = np.diag(hinv)[i1:i2]
        score = (w1 * sc[:, None]) ** 2 / d[None, :] ** 2
        if gains is not None:
            plain = _lowest(score, int(round(sparsity * score.size)))
            cut = score[plain].max(initial=0.0)
            t2 = (1 - adc.trade) ** 2
            g = gains[i1:i2].T
            top = g[(score >= t2 * cut) & (score <= cut / max(t2, 1e-18))].max(initial=0.0)
            score = score * (1 - adc.trade * (np.minimum(g / top, 1.0) if top > 0 else g)) ** 2
        mask = _lowest(score, int(round(sparsity * score.size)))
        for i in range(i2 - i1):
            col = w1[:, i]
            q = np.where(mask[:, i], 0.0, col)
            if integer:
                q = np.clip(np.rint(q), -qmax, qmax)
            q1[:, i] = q
            e = (col - q) / hinv[i1 + i, i1 + i]
            w1[:, i:] -= np.outer(e, hinv[i1 + i, i1 + i:i2])
            err1[:, i] = e
        wt[:, i1:i2] = q1
        wt[:, i2:] -= err1 @ hinv[i1:i2, i2:]
    out = wt.T
    return np.rint(out).astype(w.dtype) if integer else out.astype(w.dtype)


def dense_target(w: np.ndarray, h: np.ndarray, cross: np.ndarray, damp: float = 0.01) -> np.ndarray:
    """The weights that best reproduce the unpruned model's output from the pruned model's inputs.

    With Xp the layer's inputs in the model whose earlier layers are pruned and Xd those of the unpruned
    model, ||Xp W' - Xd W||^2 = ||Xp (W' - T)||^2 + const for the least-squares solution
    T = (Xp^T Xp)^-1 Xp^T Xd W, so SparseGPT run on T (with Xp's Hessian) prunes towards the unpruned
    output instead of towards the output of already-degraded inputs. h = Xp^T Xp, cross = Xp^T Xd; the
    same damping as `sparsegpt` keeps h invertible.
    """
    h = np.asarray(h, np.float64)
    k = h.shape[0]
    if h.shape != (k, k) or np.shape(cross) != (k, k) or w.shape[0] != k:
        raise SwsError(f"dense_target: shapes {h.shape}, {np.shape(cross)} for a layer of shape {w.shape}")
    d = np.diag(h).copy()
    d[d == 0] = 1.0
    reg = h.copy()
    reg[np.diag_indices(k)] = d + damp * np.mean(d)
    # Ridge towards W rather than towards 0: T = W + (H + damp)^-1 Xp^T (Xd - Xp) W.
    w = w.astype(np.float64)
    return w + np.linalg.solve(reg, (np.asarray(cross, np.float64) - h) @ w)
