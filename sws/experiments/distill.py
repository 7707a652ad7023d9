"""Gradual pruning with knowledge distillation (`sws prune`): a sparse MiniLM that still computes what the
unpruned int8 model computes.

The recipe, from the published sparse-BERT work, on CPU with JAX (the `prune` extra):
- teacher: the unpruned model (the shipped int8 weights times their scales: sws.experiments.bert); student:
  the same network, its 36 weight matrices pruned step by step while it is trained to imitate the teacher;
- gradual magnitude pruning (Zhu & Gupta 2017, "To prune, or not to prune", cubic schedule; tuned for BERT
  as GMP* by Kurtic & Alistarh 2022): in each stage the sparsity rises from the last target to the next
  over the first `ramp` part of its steps, a mask update every `prune_every` steps keeping the largest
  weights among those still kept (a pruned weight never returns), then the student recovers at the target
  while the learning rate decays; at the end of each stage the student is exported as int8 ONNX;
- distillation losses as TinyBERT (Jiao et al. 2020) and the sparse-BERT recipes (Sanh et al. 2020,
  movement pruning; Kurtic et al. 2022, oBERT) use them: the mean squared error of every layer's hidden
  states, the KL divergence of every layer's attention distributions (teacher to student), and the cosine
  distance of the output token states (the fidelity measure of `sws fidelity`); padding tokens excluded;
- non-uniform sparsity per layer by outlier-weighted layerwise sparsity (OWL, Yin et al. 2024, ICML): a
  block whose Wanda scores |W_ij| * ||X_i|| hold more outliers (scores above M times their matrix's mean)
  keeps more weights; block sparsities lie in [S - lam, S + lam] around the target S, their mean S, every
  block holds the same number of weights, so the whole model is at S;
- only the weight matrices, biases and LayerNorms train; the embeddings (lookups, not crossbars) stay.
- optionally (`block_steps`), block-wise reconstruction first in each stage (EBFT, Guo et al. 2024; BESA,
  Xu et al. 2024): each block in turn pruned at once to the target (SparseGPT on the student's own
  inputs, or magnitude) and trained alone to reproduce the teacher's output of the block from the
  student's input, on a cached pool of batches; one block's forward and backward a step instead of the
  whole model's; then the stage's end-to-end steps at the target. `last_block` takes sparsity from the
  last block (whose errors reach the output unmixed) and spreads it over the others.

Deterministic for a seed: the batch of step t is a function of (seed, t), the mask updates depend on the
weights only, and a checkpoint holds every array that the next step reads, so a run resumed from a
checkpoint ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import math
import os
import time

import numpy as np

from mapper.common import SwsError, atomic_path, dumps_json, open_input, write_atomic
from mapper.sources import memory_limit

from .bert import BertShape, attention_bias, embed, encoder_block, forward, jax_modules, linear_names, to_onnx

__all__ = ["DistillConfig", "stage_steps", "owl_sparsities", "matrix_damage", "sensitivity_sparsities",
           "update_masks", "Batches", "Distiller",
           "export_model", "model_file", "CHECKPOINT", "MANIFEST"]

CHECKPOINT = "checkpoint.npz"
MANIFEST = "prune.json"
_CAL_SEQUENCES = 128   # training sequences whose activations OWL (and the sparsegpt pruner) reads
#: How a mask update chooses the weights: the smallest |w| still kept, or SparseGPT on the student's own
#: inputs (second-order, with the OBS update of the kept weights; Frantar and Alistarh 2023), layer by layer.
PRUNERS = ("magnitude", "sparsegpt")
#: How the sparsity of a target is shared among the weight matrices: per block by OWL (every matrix of a block
#: alike), or per matrix from each matrix's measured sensitivity (sensitivity_sparsities).
ALLOCATIONS = ("owl", "sensitivity")
#: The sparsities at which each matrix is pruned alone (magnitude, every other matrix dense) to measure its
#: sensitivity: two points of its damage curve.
SENSITIVITY_PROBES = (0.7, 0.9)
#: The matrices of a block that SparseGPT prunes from one capture of the student's inputs, in order.
_GROUPS = (("attn.query", "attn.key", "attn.value"), ("attn.output",), ("ffn.in",), ("ffn.out",))


def model_file(sparsity: float) -> str:
    """The file name of the exported model at a target: minilm-sparse70.onnx for 0.7."""
    return f"minilm-sparse{round(100 * sparsity)}.onnx"


@dataclasses.dataclass(frozen=True)
class DistillConfig:
    """The options of a run. Each is checked here; `steps` is the total over all stages."""

    targets: tuple = (0.5, 0.7, 0.8, 0.9)
    steps: int = 3000
    batch_tokens: int = 2048
    lengths: tuple = (32, 64)
    lr: float = 1e-4
    final_lr: float = 0.2
    warmup: int = 50
    ramp: float = 0.6
    prune_every: int = 25
    owl_lambda: float = 0.08
    owl_m: float = 5.0
    pruner: str = "magnitude"
    hidden_weight: float = 1.0
    attention_weight: float = 1.0
    output_weight: float = 1.0
    block_steps: int = 0
    block_lr: float = 3e-3
    block_pool: int = 64
    last_block: float = 1.0
    allocation: str = "owl"
    seed: int = 0

    def __post_init__(self):
        t = tuple(float(x) for x in self.targets)
        object.__setattr__(self, "targets", t)
        object.__setattr__(self, "lengths", tuple(int(x) for x in self.lengths))
        if not t or any(not 0 < x < 1 for x in t) or list(t) != sorted(set(t)):
            raise SwsError(f"targets must be increasing sparsities in (0, 1), not {self.targets!r}")
        for name in ("steps", "batch_tokens", "prune_every"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise SwsError(f"{name} must be a positive integer, not {v!r}")
        if self.steps < 2 * len(t):
            raise SwsError(f"steps must be at least 2 per target ({2 * len(t)}), not {self.steps}")
        if not self.lengths or any(n < 3 for n in self.lengths) or list(self.lengths) != sorted(set(self.lengths)):
            raise SwsError(f"lengths must be increasing token counts of at least 3, not {self.lengths!r}")
        if self.batch_tokens < self.lengths[-1]:
            raise SwsError(f"batch_tokens ({self.batch_tokens}) must hold one sequence of {self.lengths[-1]} tokens")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise SwsError(f"lr must be a positive number, not {self.lr!r}")
        if not 0 < self.final_lr <= 1:
            raise SwsError(f"final_lr (a fraction of lr) must be in (0, 1], not {self.final_lr!r}")
        if not 0 < self.ramp <= 1:
            raise SwsError(f"ramp (the part of a stage that prunes) must be in (0, 1], not {self.ramp!r}")
        if not 0 <= self.owl_lambda < 0.5:
            raise SwsError(f"owl_lambda must be in [0, 0.5), not {self.owl_lambda!r}")
        if not self.owl_m > 0:
            raise SwsError(f"owl_m must be positive, not {self.owl_m!r}")
        if self.pruner not in PRUNERS:
            raise SwsError(f"pruner must be one of {', '.join(PRUNERS)}, not {self.pruner!r}")
        if self.warmup < 0:
            raise SwsError(f"warmup must be at least 0, not {self.warmup!r}")
        for name in ("block_steps", "block_pool"):
            v = getattr(self, name)
            if not isinstance(v, int) or isinstance(v, bool) or v < (0 if name == "block_steps" else 1):
                raise SwsError(f"{name} must be a {'non-negative' if name == 'block_steps' else 'positive'} "
                               f"integer, not {v!r}")
        if not 0 < self.last_block <= 1:
            raise SwsError(f"last_block (the last block's share of the sparsity) must be in (0, 1], not "
                           f"{self.last_block!r}")
        if self.allocation not in ALLOCATIONS:
            raise SwsError(f"allocation must be one of {', '.join(ALLOCATIONS)}, not {self.allocation!r}")
        if self.allocation == "sensitivity" and self.last_block != 1:
            raise SwsError(f"last_block must be 1 with allocation 'sensitivity' (which sets every matrix's "
                           f"sparsity, the last block's included), not {self.last_block!r}")
        if not (self.block_lr > 0 and math.isfinite(self.block_lr)):
            raise SwsError(f"block_lr must be a positive number, not {self.block_lr!r}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


def stage_steps(targets, steps: int) -> list[int]:
    """Steps of each stage, in proportion to log((1 - s_prev) / (1 - s)): the fraction of the remaining
    weights a stage removes (0 -> 50% weighs as much as 80 -> 90%), at least 2 each, summing to `steps`."""
    prev = [0.0, *targets[:-1]]
    w = np.array([math.log((1 - a) / (1 - b)) for a, b in zip(prev, targets)])
    raw = np.maximum(2, np.floor(steps * w / w.sum())).astype(int)
    raw[-1] += steps - raw.sum()
    if raw[-1] < 2:
        raise SwsError(f"steps ({steps}) too few for {len(targets)} stages")
    return raw.tolist()


# -- per-layer sparsity (OWL) -------------------------------------------------------------------------------

def owl_sparsities(params: dict, inputs: dict, shape: BertShape, target: float, lam: float, m: float) -> dict:
    """Sparsity of each weight matrix at `target`: outlier-weighted per block (Yin et al. 2024).

    inputs: name -> the matrix's input rows (tokens x K) on calibration text. LOD_b, the block's outlier
    ratio, is the fraction of its Wanda scores |W_ij| * ||X_i||_2 above m times their matrix's mean; block
    b gets S + lam_eff * (1 - 2 (LOD_b - min) / (max - min)), shifted to mean S, with lam_eff = min(lam,
    (1 - S) / 2) so no block is pruned beyond halfway to 100% from the target."""
    lods = []
    for i in range(shape.layers):
        above = total = 0
        for name in linear_names(shape)[6 * i:6 * i + 6]:
            norms = np.linalg.norm(np.asarray(inputs[name], np.float64), axis=0)
            score = np.abs(np.asarray(params[name], np.float64)) * norms[:, None]
            above += int(np.count_nonzero(score > m * score.mean()))
            total += score.size
        lods.append(above / total)
    lods = np.asarray(lods)
    lam = min(lam, (1 - target) / 2)
    spread = lods.max() - lods.min()
    s = np.full(shape.layers, target) if spread == 0 or lam == 0 else target + lam * (1 - 2 * (lods - lods.min()) / spread)
    s = np.clip(s - (s.mean() - target), 0.0, 0.995)
    return {name: float(s[i]) for i in range(shape.layers) for name in linear_names(shape)[6 * i:6 * i + 6]}


def protect_last_block(sparsities: dict, shape: BertShape, factor: float) -> dict:
    """The last block's sparsity times `factor` (<= 1) and the others raised by a common amount so that the
    mean over the blocks (all the same size) stays; none above 0.995 (the rest, if any, stays on the last).
    The last block's output is the model's: its errors reach the output unmixed (a measured effect:
    docs/results/minilm-distill.md)."""
    if factor == 1:
        return dict(sparsities)
    per = [sparsities[f"L{i}.attn.query"] for i in range(shape.layers)]
    target = float(np.mean(per))
    last = per[-1] * factor
    rise = (per[-1] - last) / (shape.layers - 1)
    s = [min(0.995, x + rise) for x in per[:-1]]
    s.append(shape.layers * target - sum(s))
    return {name: float(s[int(name.split(".")[0][1:])]) for name in sparsities}


def matrix_damage(params: dict, ids, mask, shape: BertShape, probes=SENSITIVITY_PROBES) -> dict:
    """Each weight matrix's sensitivity: the output's token cosine distance (1 - cos of last_hidden_state,
    mean over the real tokens) when that matrix alone is pruned by magnitude to each sparsity of `probes`,
    every other matrix dense. Returns name -> [distance at each probe]."""
    from .fidelity import masked_cosine
    jax, jnp = jax_modules()
    names = linear_names(shape)
    p = {k: jnp.asarray(v) for k, v in params.items()}
    ids_j, mask_j = jnp.asarray(ids), jnp.asarray(mask)

    @jax.jit
    def out(masks):
        return forward(p, ids_j, mask_j, shape, weight_masks=masks)[0][-1]

    ones = {n: jnp.ones(np.shape(params[n]), jnp.float32) for n in names}
    ref = np.asarray(out(ones))
    damage = {}
    for name in names:
        dense = {name: np.ones(np.shape(params[name]), bool)}
        row = []
        for s in probes:        # the magnitude pruning of a mask update (smallest |w| first, ties by index)
            keep = update_masks({name: params[name]}, dense, {name: s})[name]
            y = np.asarray(out({**ones, name: jnp.asarray(keep, jnp.float32)}))
            row.append(1 - masked_cosine(y, ref, mask))
        damage[name] = row
    return damage


def sensitivity_bounds(target: float) -> tuple[float, float]:
    """The range of a matrix's sparsity at `target` under allocation 'sensitivity': at least half the
    target, at most the sparsity that keeps a sixth of the target's density (0.35..0.95 at 0.7)."""
    return target / 2, 1 - (1 - target) / 6


def sensitivity_sparsities(damage: dict, sizes: dict, target: float, probes=SENSITIVITY_PROBES,
                           bounds: tuple | None = None) -> dict:
    """Per-matrix sparsities whose zeros, counted, are round(target * all weights), from measured damage.

    damage: name -> [d_a, d_b], the output's distance with that matrix alone pruned to probes (s_a, s_b)
    (matrix_damage). Each matrix's damage is taken as exponential in its sparsity, d(s) = d_b exp(k (s -
    s_b)) with k = ln(d_b / d_a) / (s_b - s_a) (at least 1); the allocation that minimizes the summed damage
    for the weights pruned gives every matrix the same marginal damage per weight, k d(s) = lam * n:
    s = s_b + ln(lam n / (k d_b)) / k, clipped to `bounds` (sensitivity_bounds by default), lam found by
    bisection so that the weighted mean is the target. A more sensitive matrix (larger d_b, same k and size)
    gets less sparsity; a larger one, more. Each matrix's zeros are then whole numbers (largest remainders)
    and its sparsity is zeros / size, so that round(s * size) are its zeros and they sum to the target's."""
    s_a, s_b = probes
    lo, hi = bounds or sensitivity_bounds(target)
    if not lo <= target <= hi:
        raise SwsError(f"sensitivity allocation: the target {target} lies outside its bounds {lo}..{hi}")
    names = list(damage)
    n = np.array([sizes[k] for k in names], np.float64)
    d_a = np.maximum([damage[k][0] for k in names], 1e-12)
    d_b = np.maximum([damage[k][1] for k in names], 1e-12)
    k = np.maximum(np.log(d_b / d_a) / (s_b - s_a), 1.0)

    def alloc(log_lam):
        return np.clip(s_b + (log_lam + np.log(n) - np.log(k * d_b)) / k, lo, hi)

    a, b = -200.0, 200.0                  # the weighted mean rises with lam from lo to hi
    for _ in range(200):
        mid = (a + b) / 2
        a, b = (mid, b) if (alloc(mid) * n).sum() < target * n.sum() else (a, mid)
    raw = alloc((a + b) / 2) * n
    zeros = np.floor(raw + 1e-9)
    short = int(round(target * n.sum()) - zeros.sum())
    if not 0 <= short <= len(names):
        raise SwsError(f"sensitivity allocation: {short} zeros left to place over {len(names)} matrices")
    zeros[np.lexsort((np.arange(len(names)), -(raw - zeros)))[:short]] += 1
    return {name: float(z / m) for name, z, m in zip(names, zeros, n)}


def update_masks(params: dict, masks: dict, sparsities: dict) -> dict:
    """New masks: per matrix, the round(s * n) zeros made of the current zeros and then the smallest |w|
    still kept (ties by index, so the result is deterministic)."""
    out = {}
    for name, s in sparsities.items():
        w = np.abs(np.asarray(params[name], np.float64)).reshape(-1)
        old = np.asarray(masks[name]).reshape(-1).astype(bool)
        zeros = int(round(s * w.size))
        have = int((~old).sum())
        new = old.copy()
        if zeros > have:
            key = np.where(old, w, -1.0)       # already pruned first
            order = np.lexsort((np.arange(w.size), key))
            new[order[:zeros]] = False
        out[name] = new.reshape(np.shape(masks[name]))
    return out


def layer_sparsity_at(stage: int, t: int, n: int, ramp: float, prev: dict, target: dict) -> dict:
    """Per-matrix sparsity at step t (0-based) of a stage of n steps: cubic from prev to target over the
    ramp, then the target."""
    r = max(1, int(round(ramp * n)))
    f = 1.0 if t + 1 >= r else 1 - (1 - (t + 1) / r) ** 3
    return {k: prev[k] + (target[k] - prev[k]) * f for k in target}


# -- batches ------------------------------------------------------------------------------------------------

class Batches:
    """The batch of any step, from (seed, step) alone: each epoch shuffles the sequences, files each in the
    shortest length bucket that holds it, cuts each bucket into batches of batch_tokens / length sequences
    and shuffles the batches; step t takes batch t mod n of epoch t // n."""

    def __init__(self, seqs: list, lengths: tuple, batch_tokens: int, seed: int):
        self.seqs = [np.asarray(s[:lengths[-1]] if len(s) <= lengths[-1] else np.r_[s[:lengths[-1] - 1], s[-1]],
                                np.int32) for s in seqs]
        self.lengths, self.batch_tokens, self.seed = lengths, batch_tokens, seed
        bucket = np.searchsorted(np.asarray(lengths), [len(s) for s in self.seqs])
        self.per_epoch = sum(int(np.count_nonzero(bucket == b)) // max(1, batch_tokens // n)
                             for b, n in enumerate(lengths))
        self._bucket = bucket
        if self.per_epoch < 1:
            raise SwsError(f"the training text ({len(seqs)} sequences) does not fill one batch of "
                           f"{batch_tokens} tokens")
        self._epoch, self._batches = None, None

    def _make(self, epoch: int):
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.seqs))
        batches = []
        for b, n in enumerate(self.lengths):
            idx = order[self._bucket[order] == b]
            per = max(1, self.batch_tokens // n)
            batches += [(n, idx[j:j + per]) for j in range(0, len(idx) - per + 1, per)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def __call__(self, step: int) -> tuple[np.ndarray, np.ndarray]:
        epoch, i = divmod(step, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, self._make(epoch)
        n, idx = self._batches[i]
        ids = np.zeros((len(idx), n), np.int32)
        mask = np.zeros((len(idx), n), np.int32)
        for r, j in enumerate(idx):
            s = self.seqs[j]
            ids[r, :len(s)] = s
            mask[r, :len(s)] = 1
        return ids, mask


# -- export -------------------------------------------------------------------------------------------------

def export_model(shape: BertShape, params: dict, masks: dict, path: str, doc: str = "") -> dict:
    """Write the student, each weight matrix times its mask, as int8 ONNX (bert.to_onnx) to `path`
    atomically; returns the zeros of the int8 matrices (per layer and in total)."""
    import onnx
    from onnx import numpy_helper

    dense = {k: (np.asarray(v, np.float32) * masks[k] if k in masks else np.asarray(v, np.float32))
             for k, v in params.items()}
    model = to_onnx(shape, dense, doc=doc)
    inits = {i.name: i for i in model.graph.initializer}
    zeros = {n: int(np.count_nonzero(numpy_helper.to_array(inits[n + "_q"]) == 0)) for n in masks}
    sizes = {n: int(np.size(masks[n])) for n in masks}
    with atomic_path(path, within=os.path.dirname(path) or ".") as tmp:   # whole or not at all
        onnx.save(model, tmp)
    return {"per_layer": {n: zeros[n] / sizes[n] for n in masks},
            "total": sum(zeros.values()) / sum(sizes.values())}


# -- training -----------------------------------------------------------------------------------------------

def _loss_fn(shape: BertShape, hidden_weight: float, attention_weight: float, output_weight: float):
    """loss(train, frozen, masks, teacher, ids, mask) -> (total, (hidden, attention, output))."""
    jax, jnp = jax_modules()

    def loss(train, frozen, masks, teacher, ids, mask):
        params = {**frozen, **train}
        hs, ps = forward(params, ids, mask, shape, weight_masks=masks, log_probs=True)
        ht, pt = forward(teacher, ids, mask, shape, log_probs=True)
        ht = [jax.lax.stop_gradient(h) for h in ht]
        pt = [jax.lax.stop_gradient(p) for p in pt]
        real = mask.astype(jnp.float32)
        n = real.sum()
        hidden = sum((((a - b) ** 2).mean(-1) * real).sum() / n for a, b in zip(hs[1:], ht[1:])) / shape.layers
        att = 0.0
        for lt, ls in zip(pt, ps):
            p = jnp.exp(lt)
            kl = jnp.where(p > 0, p * (lt - ls), 0.0).sum(-1).mean(1)      # batch x tokens (heads averaged)
            att = att + (kl * real).sum() / n
        att = att / shape.layers
        a, b = hs[-1], ht[-1]
        cos = (a * b).sum(-1) / jnp.maximum(jnp.linalg.norm(a, axis=-1) * jnp.linalg.norm(b, axis=-1), 1e-12)
        out = ((1 - cos) * real).sum() / n
        total = hidden_weight * hidden + attention_weight * att + output_weight * out
        return total, (hidden, att, out)

    return loss


def _optimizer():
    try:
        import optax
    except ImportError:
        from .bert import PRUNE_EXTRA
        raise SwsError(f"training a sparse model needs optax: {PRUNE_EXTRA}") from None
    return optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam())


def _compiled_step(shape: BertShape, cfg: DistillConfig):
    return _step_for(shape, (cfg.hidden_weight, cfg.attention_weight, cfg.output_weight))


@functools.lru_cache(maxsize=4)
def _step_for(shape: BertShape, weights: tuple):
    """One optimizer step, jitted; cached per shape and loss weights, which is all it depends on (the
    learning rate is an argument), so that several runs in one process compile it once."""
    jax, jnp = jax_modules()
    opt = _optimizer()
    hidden, attention, output = weights
    grad = jax.value_and_grad(_loss_fn(shape, hidden, attention, output), has_aux=True)

    def step(train, opt_state, frozen, masks, teacher, ids, mask, lr):
        (loss, parts), g = grad(train, frozen, masks, teacher, ids, mask)
        updates, opt_state = opt.update(g, opt_state, train)
        train = {k: train[k] - lr * updates[k] for k in train}
        train = {k: train[k] * masks[k] if k in masks else train[k] for k in train}
        return train, opt_state, loss, parts

    return jax.jit(step)


def _block_loss(shape: BertShape, i: int, weights: tuple):
    """loss(sub, train, masks, teacher, x_student, x_teacher, target, mask) of block i alone: its output on
    the student's own input against the teacher's output of the block (the teacher's hidden state i + 1:
    the block learns to undo the error of the sparse blocks before it), the KL divergence of its attention
    from the teacher block's on the teacher's input, and for the last block the cosine distance too."""
    jax, jnp = jax_modules()
    hidden_w, attention_w, output_w = weights

    def loss(sub, train, masks, teacher, xs, xt, target, mask):
        add = attention_bias(mask)
        y, ls = encoder_block({**train, **sub}, i, xs, add, shape, masks)
        _, lt = encoder_block(teacher, i, xt, add, shape)
        lt = jax.lax.stop_gradient(lt)
        real = mask.astype(jnp.float32)
        n = real.sum()
        hidden = (((y - target) ** 2).mean(-1) * real).sum() / n
        p = jnp.exp(lt)
        att = ((jnp.where(p > 0, p * (lt - ls), 0.0).sum(-1).mean(1)) * real).sum() / n
        cos = (y * target).sum(-1) / jnp.maximum(jnp.linalg.norm(y, axis=-1) * jnp.linalg.norm(target, axis=-1), 1e-12)
        out = ((1 - cos) * real).sum() / n
        total = hidden_w * hidden + attention_w * att + (output_w * out if i == shape.layers - 1 else 0.0)
        return total, (hidden, att, out)

    return loss


@functools.lru_cache(maxsize=16)
def _block_step_for(shape: BertShape, i: int, weights: tuple):
    """One optimizer step of block i alone (jitted): the gradient of the block's loss with respect to its
    own parameters, zeros elsewhere, through the whole model's optimizer (whose state is fresh at the
    block's start, so the other blocks do not move)."""
    jax, jnp = jax_modules()
    opt = _optimizer()
    grad = jax.value_and_grad(_block_loss(shape, i, weights), has_aux=True)

    def step(train, opt_state, masks, teacher, xs, xt, target, mask, lr):
        sub = {k: v for k, v in train.items() if k.startswith(f"L{i}.")}      # the block's own parameters
        (loss, parts), g = grad(sub, train, masks, teacher, xs, xt, target, mask)
        g = {k: g[k] if k in g else jnp.zeros_like(v) for k, v in train.items()}
        updates, opt_state = opt.update(g, opt_state, train)
        train = {k: (train[k] - lr * updates[k]) if k in sub else train[k] for k in train}
        train = {k: train[k] * masks[k] if k in masks else train[k] for k in train}
        return train, opt_state, loss, parts

    return jax.jit(step)


@functools.lru_cache(maxsize=16)
def _block_apply(shape: BertShape, i: int):
    """Block i's output on a cached input (jitted; masks given as 0/1 arrays, None for the teacher)."""
    jax, _ = jax_modules()
    return jax.jit(lambda params, x, mask, masks: encoder_block(params, i, x, attention_bias(mask), shape, masks)[0])


@functools.lru_cache(maxsize=2)
def _embed_fn(shape: BertShape):
    jax, _ = jax_modules()
    return jax.jit(lambda params, ids: embed(params, ids, shape))


class Distiller:
    """One run of gradual pruning with distillation, in a work folder holding its checkpoint, manifest and
    exported models. `Distiller(...).run()` starts or resumes it."""

    def __init__(self, shape: BertShape, teacher: dict, seqs: list, cfg: DistillConfig, folder: str, *,
                 text_info: dict | None = None, checkpoint_every: int = 200, time_budget: float | None = None,
                 progress: bool = True, log=None, student: dict | None = None):
        """student: the weights to start from instead of the teacher's (a sparse model: its zeros become the
        first mask, e.g. SparseGPT's one-shot result); the teacher stays what is imitated."""
        self.shape, self.teacher, self.cfg, self.folder = shape, teacher, cfg, folder
        self.student = student
        self.text_info = text_info or {}
        self.checkpoint_every, self.time_budget = checkpoint_every, time_budget
        self.progress, self.log = progress, log or (lambda msg: None)
        self.names = linear_names(shape)
        self.batches = Batches(seqs, cfg.lengths, cfg.batch_tokens, cfg.seed)
        #: steps of block-wise reconstruction at the start of each stage (block i takes block_steps of them)
        self.block_phase = shape.layers * cfg.block_steps
        self.stages = [self.block_phase + n for n in stage_steps(cfg.targets, cfg.steps)]
        self.total = sum(self.stages)
        self._step_fn = None
        self._pool_cache = None
        self.sensitivity = None

    # the arrays a step reads
    def _fresh(self):
        jax, jnp = jax_modules()
        start = self.student or self.teacher
        train = {k: np.array(v, np.float32) for k, v in start.items() if not k.startswith("emb.")}
        masks = {n: train[n] != 0 if self.student else np.ones(np.shape(self.teacher[n]), bool) for n in self.names}
        return train, _optimizer().init(jax.tree_util.tree_map(jnp.asarray, train)), masks

    def _step(self):
        if self._step_fn is None:
            self._step_fn = _compiled_step(self.shape, self.cfg)
        return self._step_fn

    def lr_at(self, step: int) -> float:
        """Linear warmup, then in each stage: constant while pruning, decaying linearly to final_lr * lr
        over the recovery. With block-wise reconstruction: each block's steps warm up over a tenth of them to
        block_lr and decay linearly to final_lr * block_lr; the end-to-end steps after them are all recovery
        (the masks are at the target), warming up again over `warmup` steps."""
        cfg = self.cfg
        stage, t, n = self.locate(step)
        if self.block_phase:
            if t < self.block_phase:
                tb = t % cfg.block_steps
                w = max(1, cfg.block_steps // 10)
                return cfg.block_lr * min(1.0, (tb + 1) / w) * (1 - (1 - cfg.final_lr) * tb / cfg.block_steps)
            te, ne = t - self.block_phase, n - self.block_phase
            return cfg.lr * (1 - (1 - cfg.final_lr) * te / ne) * min(1.0, (te + 1) / cfg.warmup if cfg.warmup else 1.0)
        r = max(1, int(round(cfg.ramp * n)))
        f = 1.0 if t < r or n == r else 1 - (1 - cfg.final_lr) * (t - r + 1) / (n - r)
        return cfg.lr * f * min(1.0, (step + 1) / cfg.warmup if cfg.warmup else 1.0)

    def locate(self, step: int) -> tuple[int, int, int]:
        """(stage, step within it, its steps)."""
        start = 0
        for i, n in enumerate(self.stages):
            if step < start + n:
                return i, step - start, n
            start += n
        raise IndexError(step)

    def calibration(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, mask) of the first _CAL_SEQUENCES training sequences in epoch 0's order."""
        cal = self.batches._make(0)
        idx = np.concatenate([b[1] for b in cal])[:_CAL_SEQUENCES]
        seqs = [self.batches.seqs[j] for j in idx]
        t = max(len(s) for s in seqs)
        ids = np.zeros((len(seqs), t), np.int32)
        mask = np.zeros_like(ids)
        for r, s in enumerate(seqs):
            ids[r, :len(s)], mask[r, :len(s)] = s, 1
        return ids, mask

    def plan(self, train: dict) -> list[dict]:
        """The per-matrix sparsity of each target (OWL on the teacher's activations of calibration text:
        the first training sequences of epoch 0's order, never the evaluation sentences; or, allocation
        'sensitivity', each matrix's damage to the teacher's output on that text, kept in self.sensitivity)."""
        jax, jnp = jax_modules()
        ids, mask = self.calibration()
        if self.cfg.allocation == "sensitivity":
            self.sensitivity = matrix_damage(self.teacher, ids, mask, self.shape)
            sizes = {k: int(np.size(self.teacher[k])) for k in self.names}
            return [sensitivity_sparsities(self.sensitivity, sizes, s) for s in self.cfg.targets]
        captured = {}
        forward(self.teacher, jnp.asarray(ids), jnp.asarray(mask), self.shape, capture=captured)
        real = mask.astype(bool)
        inputs = {k: np.asarray(v)[real] for k, v in captured.items()}
        return [protect_last_block(owl_sparsities(self.teacher, inputs, self.shape, s, self.cfg.owl_lambda,
                                                  self.cfg.owl_m), self.shape, self.cfg.last_block)
                for s in self.cfg.targets]

    def obs_prune(self, train: dict, sparsities: dict) -> tuple[dict, dict]:
        """SparseGPT on the student, block by block and in graph order: each group of matrices pruned to
        its sparsity from the student's inputs with every earlier matrix already pruned. Returns the new
        weights and masks (the zeros SparseGPT leaves)."""
        jax, jnp = jax_modules()
        from mapper.prepare import hessian, obs_factor, sparsegpt
        ids, mask = self.calibration()
        real = mask.astype(bool)
        ids, mask = jnp.asarray(ids), jnp.asarray(mask)
        shape = self.shape

        @jax.jit
        def inputs_of(params):
            cap = {}
            forward(params, ids, mask, shape, capture=cap)
            return cap

        params = {**{k: jnp.asarray(v) for k, v in self.teacher.items() if k.startswith("emb.")},
                  **{k: jnp.asarray(v) for k, v in train.items()}}
        new = dict(train)
        masks = {}
        for i in range(shape.layers):
            for group in _GROUPS:
                x = np.asarray(inputs_of(params)[f"L{i}.{group[0]}"])[real].astype(np.float64)
                factor = obs_factor(hessian(x))
                for role in group:
                    name = f"L{i}.{role}"
                    w = sparsegpt(np.asarray(new[name], np.float64), sparsities[name], factor).astype(np.float32)
                    new[name], masks[name] = w, w != 0
                    params[name] = jnp.asarray(w)
        return new, masks

    # block-wise reconstruction
    def _pool_inputs(self, stage: int, i: int, train_j: dict, masks_j: dict):
        """The pool of a stage's block-wise phase, at block i: per batch (ids, mask, the student's input of
        block i, the teacher's input of block i, the teacher's output of block i). The pool is the batches of
        steps stage * block_pool ... + block_pool - 1 of the batch order; the inputs are computed from the
        embeddings through blocks 0 .. i - 1, or advanced by one block from the cache of block i - 1 (the
        same jitted block, so both give the same arrays and a resumed run the same result)."""
        _, jnp = jax_modules()
        c = self._pool_cache
        if c is not None and c["stage"] == stage and c["block"] == i:
            return c["pool"]
        if c is not None and c["stage"] == stage and c["block"] == i - 1:
            pool = self._advance(i - 1, c["pool"], train_j, masks_j)
        else:
            emb, first = _embed_fn(self.shape), _block_apply(self.shape, 0)
            pool = []
            for j in range(self.cfg.block_pool):
                ids, mask = (jnp.asarray(a) for a in self.batches(stage * self.cfg.block_pool + j))
                x = emb(self._teacher_j, ids)
                pool.append((ids, mask, x, x, first(self._teacher_j, x, mask, None)))
            for b in range(i):
                pool = self._advance(b, pool, train_j, masks_j)
        self._pool_cache = {"stage": stage, "block": i, "pool": pool}
        return pool

    def _advance(self, b: int, pool: list, train_j: dict, masks_j: dict) -> list:
        """The pool at block b + 1 from the pool at block b: the student's input through the student's block
        b; the teacher's input is the teacher's output of block b, and the target the teacher's block b + 1
        on it."""
        this, after = _block_apply(self.shape, b), _block_apply(self.shape, b + 1)
        return [(ids, mask, this(train_j, xs, mask, masks_j), target, after(self._teacher_j, target, mask, None))
                for ids, mask, xs, _, target in pool]

    def _prune_block(self, i: int, want: dict, train_j: dict, masks_np: dict, pool: list) -> tuple[dict, dict]:
        """Block i's matrices pruned to their sparsities `want` at the start of its reconstruction: the
        smallest |w| still kept (magnitude), or SparseGPT group by group on the student's own inputs of the
        first pool batches (at least _CAL_SEQUENCES sequences), each group's inputs taken with the groups
        before it already pruned. Returns the new weights and masks (only block i's change)."""
        _, jnp = jax_modules()
        names = [n for n in self.names if n.startswith(f"L{i}.")]
        if self.cfg.pruner == "magnitude":
            new = update_masks({n: np.asarray(train_j[n]) for n in names}, {n: masks_np[n] for n in names},
                               {n: want[n] for n in names})
            return train_j, {**masks_np, **new}
        from mapper.prepare import hessian, obs_factor, sparsegpt
        cal, seqs = [], 0
        for ids, mask, xs, _, _ in pool:
            cal.append((xs, mask))
            seqs += int(mask.shape[0])
            if seqs >= _CAL_SEQUENCES:
                break
        params = dict(train_j)
        masks = dict(masks_np)
        for group in _GROUPS:
            h = 0.0
            for xs, mask in cal:
                cap = {}
                encoder_block(params, i, xs, attention_bias(mask), self.shape, capture=cap)
                h = h + hessian(np.asarray(cap[f"L{i}.{group[0]}"])[np.asarray(mask).astype(bool)])
            factor = obs_factor(h)
            for role in group:
                name = f"L{i}.{role}"
                w = sparsegpt(np.asarray(params[name], np.float64), want[name], factor).astype(np.float32)
                params[name], masks[name] = jnp.asarray(w), w != 0
        return params, masks

    # checkpoints
    def _save(self, step, train, opt_state, masks, meta):
        jax, _ = jax_modules()
        leaves = jax.tree_util.tree_leaves(opt_state)
        arrays = {f"p:{k}": np.asarray(v) for k, v in train.items()}
        arrays.update({f"m:{k}": np.packbits(np.asarray(v).reshape(-1)) for k, v in masks.items()})
        arrays.update({f"o:{i}": np.asarray(v) for i, v in enumerate(leaves)})
        arrays["meta"] = np.frombuffer(json.dumps({**meta, "step": step}).encode(), np.uint8)
        path = os.path.join(self.folder, CHECKPOINT)
        # whole or not at all, never through a link in the folder (mapper.common.outputs)
        write_atomic(path, lambda f: np.savez(f, **arrays), binary=True, within=self.folder)

    def _load(self):
        jax, jnp = jax_modules()
        path = os.path.join(self.folder, CHECKPOINT)
        with _open_checkpoint(path, self.folder) as z:
            meta = json.loads(bytes(z["meta"]).decode())
            # a checkpoint older than an option holds that option's default
            defaults = DistillConfig(targets=self.cfg.targets).to_dict()
            meta["config"] = {**{k: v for k, v in defaults.items() if k not in meta["config"]}, **meta["config"]}
            if meta["config"] != self.cfg.to_dict() or meta["shape"] != dataclasses.asdict(self.shape):
                raise SwsError(f"{path}: the checkpoint was made with other options ({_diff(meta['config'], self.cfg.to_dict())}); "
                               f"give those, or another output folder, or --restart")
            train = {k[2:]: z[k] for k in z.files if k.startswith("p:")}
            masks = {k[2:]: np.unpackbits(z[k])[:np.size(self.teacher[k[2:]])].reshape(np.shape(self.teacher[k[2:]]))
                     .astype(bool) for k in z.files if k.startswith("m:")}
            _, template, _ = self._fresh()
            treedef = jax.tree_util.tree_structure(template)
            leaves = [jnp.asarray(z[f"o:{i}"]) for i in range(treedef.num_leaves)]
        return meta, train, jax.tree_util.tree_unflatten(treedef, leaves), masks

    def run(self, *, stop_after: int | None = None) -> dict:
        """Train from the checkpoint in the folder (or from the start) to the end, or to `stop_after` steps
        in all, or to the time budget; returns the manifest (also written as prune.json)."""
        jax, jnp = jax_modules()
        os.makedirs(self.folder, exist_ok=True)
        started = time.monotonic()
        if os.path.isfile(os.path.join(self.folder, CHECKPOINT)):
            meta, train, opt_state, masks = self._load()
            self.log(f"resuming at step {meta['step']} of {self.total}")
        else:
            train, opt_state, masks = self._fresh()
            meta = {"config": self.cfg.to_dict(), "shape": dataclasses.asdict(self.shape), "text": self.text_info,
                    "stages": self.stages, "plan": self.plan(train), "history": [], "exported": {},
                    "seconds": 0.0, "step": 0, "total": self.total}
            if self.sensitivity is not None:
                meta["sensitivity"] = {"probes": list(SENSITIVITY_PROBES), "damage": self.sensitivity}
        step = meta["step"]
        plans = meta["plan"]
        frozen = {k: jnp.asarray(v) for k, v in self.teacher.items() if k.startswith("emb.")}
        teacher = {k: jnp.asarray(v) for k, v in self.teacher.items()}
        self._teacher_j = teacher
        fn = self._step()
        end = self.total if stop_after is None else min(self.total, stop_after)
        bar = _bar(self.progress, self.total, step)
        seconds0 = meta["seconds"]
        acc, n_acc = np.zeros(4), 0
        train_j = {k: jnp.asarray(v) for k, v in train.items()}
        masks_np = masks
        masks_j = {k: jnp.asarray(v, jnp.float32) for k, v in masks.items()}
        out_of_time = False
        weights = (self.cfg.hidden_weight, self.cfg.attention_weight, self.cfg.output_weight)
        while step < end:
            stage, t, n = self.locate(step)
            block = None
            if t < self.block_phase:      # block-wise reconstruction of one block
                block, tb = divmod(t, self.cfg.block_steps)
                pool = self._pool_inputs(stage, block, train_j, masks_j)
                if tb == 0:               # the block is pruned to the target and gets a fresh optimizer
                    own = [k for k in self.names if k.startswith(f"L{block}.")]
                    share = sum(plans[stage][k] * masks_np[k].size for k in own) / sum(masks_np[k].size for k in own)
                    self.log(f"step {step}: block {block} pruned ({self.cfg.pruner}) to {share:.3f}")
                    train_j, masks_np = self._prune_block(block, plans[stage], train_j, masks_np, pool)
                    masks_j = {k: jnp.asarray(v, jnp.float32) for k, v in masks_np.items()}
                    train_j = {k: v * masks_j[k] if k in masks_j else v for k, v in train_j.items()}
                    opt_state = _optimizer().init(train_j)
                epoch, k = divmod(tb, len(pool))
                k = int(np.random.default_rng([self.cfg.seed, stage, block, epoch]).permutation(len(pool))[k])
                ids, mask, xs, xt, target = pool[k]
                train_j, opt_state, loss, parts = _block_step_for(self.shape, block, weights)(
                    train_j, opt_state, masks_j, teacher, xs, xt, target, mask, jnp.float32(self.lr_at(step)))
            else:
                if self.block_phase and t == self.block_phase:    # end to end at the target, fresh optimizer
                    self._pool_cache = None
                    opt_state = _optimizer().init(train_j)
                ramp_end = max(1, int(round(self.cfg.ramp * n)))
                obs = self.cfg.pruner == "sparsegpt"
                due = (t == 0 or t + 1 == ramp_end) if obs else (t % self.cfg.prune_every == 0 or t + 1 == ramp_end)
                if due and not self.block_phase:
                    prev = plans[stage - 1] if stage else {k: 0.0 for k in self.names}
                    want = layer_sparsity_at(stage, t, n, self.cfg.ramp, prev, plans[stage])
                    if obs and t + 1 < ramp_end:
                        # SparseGPT prunes twice a stage: halfway (in remaining weights) at its start, to the
                        # target at the ramp's end.
                        want = {k: 1 - math.sqrt((1 - prev[k]) * (1 - plans[stage][k])) for k in want}
                    if obs:
                        self.log(f"step {step}: SparseGPT to {np.mean(list(want.values())):.3f}")
                        pruned, new = self.obs_prune({k: np.asarray(v) for k, v in train_j.items()}, want)
                        train_j = {k: jnp.asarray(v) for k, v in pruned.items()}
                    else:
                        new = update_masks({k: np.asarray(train_j[k]) for k in self.names}, masks_np, want)
                    if any((new[k] != masks_np[k]).any() for k in self.names):
                        masks_np = new
                        masks_j = {k: jnp.asarray(v, jnp.float32) for k, v in masks_np.items()}
                        train_j = {k: v * masks_j[k] if k in masks_j else v for k, v in train_j.items()}
                ids, mask = self.batches(step)
                train_j, opt_state, loss, parts = fn(train_j, opt_state, frozen, masks_j, teacher, jnp.asarray(ids),
                                                     jnp.asarray(mask), jnp.float32(self.lr_at(step)))
            step += 1
            acc += np.array([float(loss), *(float(p) for p in parts)])
            n_acc += 1
            if bar is not None:
                bar.update(1)
                where = f" block {block}" if block is not None else ""
                bar.set_postfix_str(f"stage {stage + 1}/{len(self.stages)}{where} loss {float(loss):.4f}")
            block_end = block is not None and (t + 1) % self.cfg.block_steps == 0
            if step % 50 == 0 or t + 1 == n or step == end or block_end:
                zeros = sum(int((~masks_np[k]).sum()) for k in self.names) / sum(masks_np[k].size for k in self.names)
                meta["history"].append({"step": step, "loss": acc[0] / n_acc, "hidden": acc[1] / n_acc,
                                        "attention": acc[2] / n_acc, "output": acc[3] / n_acc, "sparsity": zeros,
                                        **({"block": block} if block is not None else {})})
                acc, n_acc = np.zeros(4), 0
            meta["seconds"] = seconds0 + time.monotonic() - started
            if t + 1 == n:    # the stage is done: export its model
                target = self.cfg.targets[stage]
                path = os.path.join(self.folder, model_file(target))
                zeros = export_model(self.shape, {**self.teacher, **{k: np.asarray(v) for k, v in train_j.items()}},
                                     masks_np, path, doc=f"sws prune: all-MiniLM-L6-v2 int8, {target:g} sparsity, "
                                                         f"distilled from the unpruned model")
                meta["exported"][f"{target:g}"] = {"file": os.path.basename(path), "step": step,
                                                   "target": target, "zeros": zeros["total"],
                                                   "per_layer_zeros": zeros["per_layer"],
                                                   "per_layer_target": plans[stage]}
                self.log(f"stage {stage + 1}: {path} ({100 * zeros['total']:.2f}% zeros)")
            if self.time_budget is not None and time.monotonic() - started > self.time_budget and step < end:
                out_of_time = True
            if step % self.checkpoint_every == 0 or t + 1 == n or step == end or out_of_time or block_end:
                self._save(step, {k: np.asarray(v) for k, v in train_j.items()}, opt_state, masks_np, meta)
                self._manifest(meta, step)
            if out_of_time:
                self.log(f"time budget reached at step {step} of {self.total}: run the same command again "
                         f"to resume")
                break
        if bar is not None:
            bar.close()
        meta["step"] = step
        self._manifest(meta, step)
        self.final = {k: np.asarray(v) for k, v in train_j.items()}
        self.final_masks = masks_np
        return meta

    def _manifest(self, meta, step):
        out = {k: v for k, v in meta.items()}
        out["step"] = step
        out["done"] = step >= self.total
        path = os.path.join(self.folder, MANIFEST)
        write_atomic(path, dumps_json(out, indent=1) + "\n", within=self.folder)


def _diff(a: dict, b: dict) -> str:
    keys = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(f"{k} {a.get(k)!r} there, {b.get(k)!r} now" for k in keys[:3])


def _bar(show: bool, total: int, initial: int):
    if not show:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, initial=initial, unit="step", dynamic_ncols=True, mininterval=1.0)


# -- the command's library call -----------------------------------------------------------------------------

def seconds_per_step(d: Distiller, repeats: int = 2) -> float:
    """The measured time of one step (compiled), averaged over the length buckets as the text fills them."""
    jax, jnp = jax_modules()
    train, opt_state, masks = d._fresh()
    fn = d._step()
    frozen = {k: jnp.asarray(v) for k, v in d.teacher.items() if k.startswith("emb.")}
    teacher = {k: jnp.asarray(v) for k, v in d.teacher.items()}
    train = {k: jnp.asarray(v) for k, v in train.items()}
    masks = {k: jnp.asarray(v, jnp.float32) for k, v in masks.items()}
    def args(rows, n):
        ids = jnp.ones((rows, n), jnp.int32)
        return (train, opt_state, frozen, masks, teacher, ids, jnp.ones_like(ids), jnp.float32(0))

    total = _bucket_seconds(d, fn, args, repeats)
    t = time.monotonic()       # a mask update, every prune_every steps
    update_masks({k: np.asarray(v) for k, v in train.items() if k in masks},
                 {k: np.ones(np.shape(v), bool) for k, v in masks.items()}, {k: 0.5 for k in masks})
    return total + (time.monotonic() - t) / d.cfg.prune_every


def seconds_per_block_step(d: Distiller, repeats: int = 2) -> float:
    """The measured time of one block-wise step (block 0, compiled), averaged over the length buckets."""
    _, jnp = jax_modules()
    train, opt_state, masks = d._fresh()
    teacher = {k: jnp.asarray(v) for k, v in d.teacher.items()}
    train = {k: jnp.asarray(v) for k, v in train.items()}
    masks = {k: jnp.asarray(v, jnp.float32) for k, v in masks.items()}
    fn = _block_step_for(d.shape, 0, (d.cfg.hidden_weight, d.cfg.attention_weight, d.cfg.output_weight))
    def args(rows, n):
        x = jnp.zeros((rows, n, d.shape.hidden), jnp.float32)
        return (train, opt_state, masks, teacher, x, x, x, jnp.ones((rows, n), jnp.int32), jnp.float32(0))

    return _bucket_seconds(d, fn, args, repeats)


def _bucket_seconds(d: Distiller, fn, args, repeats: int) -> float:
    """The time of one call of the compiled step `fn` on `args(rows, n)`, averaged over the length buckets
    as the text fills them (each bucket's first call compiles, unmeasured)."""
    share = np.bincount(d.batches._bucket, minlength=len(d.cfg.lengths)) / len(d.batches.seqs)
    total = 0.0
    for b, n in enumerate(d.cfg.lengths):
        if share[b] == 0:
            continue
        call = args(max(1, d.cfg.batch_tokens // n), n)
        fn(*call)[2].block_until_ready()                       # compiles
        t = time.monotonic()
        for _ in range(repeats):
            fn(*call)[2].block_until_ready()
        total += share[b] * (time.monotonic() - t) / repeats
    return total


@contextlib.contextmanager
def _open_checkpoint(path: str, folder: str):
    """The checkpoint's arrays, read through mapper.common.reading: a regular file of the output folder (never
    a link out of it), at most the memory available; an archive of arrays only (no pickles)."""
    with open_input(path, what="checkpoint", limit=memory_limit(), folder=folder) as f, \
            np.load(f, allow_pickle=False) as z:
        yield z


def checkpoint_config(folder: str) -> dict | None:
    """The options of the checkpoint in `folder`, or None."""
    path = os.path.join(folder, CHECKPOINT)
    if not os.path.isfile(path):
        return None
    try:
        with _open_checkpoint(path, folder) as z:
            return json.loads(bytes(z["meta"]).decode())["config"]
    except (OSError, ValueError, KeyError) as e:
        raise SwsError(f"{path}: not a checkpoint of sws prune ({type(e).__name__}: {e}); remove it or use "
                       f"--restart") from None


DEFAULT_STEPS = 3000


def prune_minilm(folder: str, *, steps: int | None = None, model: str | None = None, text: str = "wordnet",
                 time_budget: float | None = None, threads: int | None = None, restart: bool = False,
                 progress: bool = True, log=None, init: str | None = None, **options) -> dict:
    """`sws prune`: distil the unpruned MiniLM (or the ONNX model `model` in its form) into sparse students at
    the targets, exported as `folder`/minilm-sparseNN.onnx; resumes from `folder`/checkpoint.npz.

    init: start the student from this sparse model (an .onnx in MiniLM's form) instead of the teacher.
    options: the other DistillConfig fields. steps: the total; None resumes a checkpoint's, else fits 90% of
    the time budget at the measured speed, else DEFAULT_STEPS. The time budget also stops the run
    (checkpointed, resumable) when it runs out."""
    log = log or (lambda msg: None)
    if threads is not None:
        if threads < 1:
            raise SwsError(f"--threads must be at least 1, not {threads}")
        # XLA reads this once, when JAX starts: before the first import.
        os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={threads}")
    if time_budget is not None and not time_budget > 0:
        raise SwsError(f"--time-budget must be positive, not {time_budget}")
    cfg = DistillConfig(**options, steps=steps or DEFAULT_STEPS)     # bad options fail before the long work
    from .bert import from_onnx
    from .runtime import minilm_model
    from .training_text import training_sequences
    jax_modules()
    onnx_model, _ = minilm_model(model)
    shape, teacher = from_onnx(onnx_model)
    ckpt = os.path.join(folder, CHECKPOINT)
    if restart and os.path.exists(ckpt):
        os.remove(ckpt)
    # The folder is made once the training text is read (training_sequences keeps its token cache there).
    seqs, info = training_sequences(text, max_tokens=cfg.lengths[-1], cache=folder)
    log(f"training text: {info['source']}, {info['sequences']} sequences, {info['tokens']} tokens")
    old = checkpoint_config(folder)
    if steps is None and old is not None:
        cfg = dataclasses.replace(cfg, steps=old["steps"])
    elif steps is None and time_budget is not None:
        probe = Distiller(shape, teacher, seqs, cfg, folder, progress=False)
        sps = seconds_per_step(probe)
        blocks = len(cfg.targets) * probe.block_phase
        spent = blocks * seconds_per_block_step(probe) if blocks else 0.0
        fit = int((0.9 * time_budget - spent) / sps)
        log(f"{sps:.2f} s per step" + (f", {spent / 60:.1f} min for {blocks} block-wise steps" if blocks else "")
            + f": {max(fit, 0)} end-to-end steps fit 90% of the {time_budget:g} s budget")
        cfg = dataclasses.replace(cfg, steps=max(fit, 2 * len(cfg.targets)))
    student = None
    if init is not None:
        start_shape, student = from_onnx(minilm_model(init)[0])
        if start_shape != shape:
            raise SwsError(f"--init: {init} is a {start_shape}, the teacher a {shape}")
        info = {**info, "init": os.path.abspath(init)}
    d = Distiller(shape, teacher, seqs, cfg, folder, text_info=info, time_budget=time_budget, progress=progress,
                  log=log, student=student)
    return d.run()
