"""Prune every weight MatMul of an ONNX model one-shot (mapper.prepare.pruning), layer by layer on calibration text.

The calibrated methods (Wanda, SparseGPT) see the inputs of each layer as the model computes them with every
earlier layer already pruned (graph order, as in the SparseGPT paper): the model is run with onnxruntime on
the calibration sequences, the input of the next layers is captured (real tokens only, no padding), those
layers are pruned and written back, and so on. Layers that read the same tensor (a BERT layer's query, key
and value) are pruned from one capture. Integer weights stay integers with their scales unchanged.

Also here: the task metric of the fidelity check, paraphrase retrieval.
"""

from __future__ import annotations

import os

import numpy as np

from mapper.common import SwsError
from mapper.sources import GraphLinear
from mapper.prepare import (CALIBRATED_METHODS, AdcAware, check_method, dense_target, hessian, input_norms,
                            magnitude, obs_factor, sparsegpt, wanda)
from mapper.prepare import check_sparsity

from .runtime import DATA, initializers, load_token_sequences, ort, session, token_feeds, with_outputs

__all__ = ["CALIBRATION_PATH", "PARAPHRASES_PATH", "calibration_feeds", "prune_model", "prune_weights",
           "pooled_embeddings", "retrieval_accuracy", "retrieval_ranking", "layer_weights", "map_pruned_to_folder"]

CALIBRATION_PATH = os.path.join(DATA, "minilm_calibration.json")
PARAPHRASES_PATH = os.path.join(DATA, "minilm_paraphrases.json")


def calibration_feeds(path: str = CALIBRATION_PATH, limit: int | None = None) -> dict[str, np.ndarray]:
    """BERT feeds of the calibration sequences (the first `limit` of them)."""
    seqs = load_token_sequences(path)
    return token_feeds(seqs[:limit] if limit else seqs)


def layer_weights(inits: dict, lin: GraphLinear) -> tuple[np.ndarray, np.ndarray | None]:
    """(W as K x N in its stored dtype, the per-output scale or None) of one linear layer."""
    from onnx import numpy_helper
    w = numpy_helper.to_array(inits[lin.weight])
    scale = numpy_helper.to_array(inits[lin.scale]).astype(np.float64).reshape(-1) if lin.scale else None
    return (w.T if lin.transposed else w), scale


class _Inputs:
    """The calibration inputs of the layers that read one tensor, and what SparseGPT derives from them once."""

    def __init__(self, x: np.ndarray, x_dense: np.ndarray | None = None):
        self.x = x
        self.x_dense = x_dense
        self._h = self._factor = self._cross = None

    @property
    def h(self):
        if self._h is None:
            self._h = hessian(self.x)
        return self._h

    @property
    def factor(self):
        if self._factor is None:
            self._factor = obs_factor(self.h)
        return self._factor

    @property
    def cross(self):
        if self._cross is None:
            self._cross = self.x.T @ self.x_dense
        return self._cross


def prune_weights(w: np.ndarray, sparsity: float, method: str, x: np.ndarray | _Inputs | None = None,
                  scale: np.ndarray | None = None, adc: AdcAware | None = None,
                  x_dense: np.ndarray | None = None) -> np.ndarray:
    """One layer: `method` at `sparsity` on K x N weights w, with calibration inputs x (tokens, K).

    x_dense: SparseGPT reconstructs the unpruned model's output X_dense W from x (mapper.prepare.pruning.dense_target)
    instead of x W."""
    if method == "magnitude":
        return magnitude(w, sparsity, adc=adc)
    if x is None:
        raise SwsError(f"--prune {method} needs calibration inputs")
    inputs = x if isinstance(x, _Inputs) else _Inputs(np.asarray(x, np.float64), x_dense)
    if method == "wanda":
        return wanda(w, sparsity, input_norms(inputs.x), adc=adc)
    if scale is not None and scale.size == 1:
        scale = np.full(w.shape[1], float(scale[0]))
    if inputs.x_dense is None:
        return sparsegpt(w, sparsity, inputs.factor, scale=scale, adc=adc)
    qmax = int(np.iinfo(w.dtype).max) if np.issubdtype(w.dtype, np.integer) else None
    target = dense_target(w, inputs.h, inputs.cross)
    return sparsegpt(target, sparsity, inputs.factor, scale=scale, adc=adc, qmax=qmax).astype(w.dtype)


def prune_model(model, linears: list[GraphLinear], sparsity: float, method: str = "magnitude", *,
                calibration: dict | None = None, adc: AdcAware | None = None, dense_targets: bool = True,
                progress=None):
    """A copy of `model` with every layer of `linears` pruned to `sparsity` by `method`.

    Parameters
    ----------
    model : onnx.ModelProto
    linears : the weight MatMuls in graph order (mapper.sources.onnx_weights.onnx_linears, mapper.sources.builtin.minilm_linears).
    method : magnitude, wanda or sparsegpt.
    calibration : the model's feeds for the calibration text; an `attention_mask` marks the real tokens (else
        every position counts), also when the model has no such input. Needed by wanda and sparsegpt.
    adc : steer each layer's pruning towards ADC energy (mapper.prepare.pruning.AdcAware).
    dense_targets : SparseGPT reconstructs each layer's output in the unpruned model (from the inputs of the
        pruned one), so that a layer also corrects what the earlier layers' pruning changed.
    progress : progress(i, n, layer name) before each layer.

    Returns
    -------
    The pruned model (a new ModelProto).
    """
    onnx, _ = ort()
    from onnx import numpy_helper
    check_method(method)
    sparsity = check_sparsity(sparsity)
    calibrated = method in CALIBRATED_METHODS
    if calibrated and calibration is None:
        raise SwsError(f"--prune {method} needs a model and calibration inputs; --prune magnitude needs neither")
    work = with_outputs(model, [lin.input for lin in linears]) if calibrated else onnx.ModelProto()
    if not calibrated:
        work.CopyFrom(model)
    inits = initializers(work)
    real = None
    if calibrated:
        if "attention_mask" in calibration:
            real = np.asarray(calibration["attention_mask"]).astype(bool)
        names = {i.name for i in model.graph.input}
        calibration = {k: v for k, v in calibration.items() if k in names}

    def real_rows(act):
        rows = act[real] if real is not None and act.shape[:-1] == real.shape else act.reshape(-1, act.shape[-1])
        return rows.astype(np.float64)

    dense = {}
    if method == "sparsegpt" and dense_targets:
        # The unpruned model's inputs of every layer, from one run (real tokens only).
        names = list(dict.fromkeys(lin.input for lin in linears))
        dense = {n: real_rows(a).astype(np.float32) for n, a in zip(names, session(work).run(names, calibration))}
    i = 0
    while i < len(linears):
        j = i + 1
        while j < len(linears) and linears[j].input == linears[i].input:
            j += 1
        inputs = None
        if calibrated:
            # The input as the model computes it now: every earlier layer already pruned.
            (act,) = session(work).run([linears[i].input], calibration)
            xd = dense.get(linears[i].input)
            inputs = _Inputs(real_rows(act), None if xd is None else xd.astype(np.float64))
        for lin in linears[i:j]:
            if progress:
                progress(linears.index(lin), len(linears), lin.name)
            w, scale = layer_weights(inits, lin)
            new = prune_weights(w, sparsity, method, inputs, scale, adc)
            inits[lin.weight].CopyFrom(numpy_helper.from_array(np.ascontiguousarray(new.T if lin.transposed else new)
                                                               .astype(w.dtype), lin.weight))
        i = j
    out = onnx.ModelProto()
    out.CopyFrom(model)
    pruned = {lin.weight for lin in linears}
    for init in out.graph.initializer:
        if init.name in pruned:
            init.CopyFrom(inits[init.name])
    return out


def pooled_embeddings(y: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean-pooled (over real tokens) and L2-normalized sentence embeddings, as all-MiniLM-L6-v2 makes them."""
    m = np.asarray(mask, np.float64)[..., None]
    p = (np.asarray(y, np.float64) * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1)
    return p / np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-300)


def _own_and_others(emb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sentences 2i and 2i + 1 are paraphrases: each sentence's cosine to its own paraphrase, and its cosines to
    every sentence with itself and its own paraphrase set to -inf."""
    emb = np.asarray(emb, np.float64)
    if len(emb) % 2 or len(emb) < 4:
        raise SwsError(f"paraphrase retrieval needs an even number of sentences, at least 4, not {len(emb)}")
    n = len(emb)
    sim = emb @ emb.T
    np.fill_diagonal(sim, -np.inf)
    pair = np.arange(n) ^ 1
    own = sim[np.arange(n), pair]           # a copy (fancy indexing)
    sim[np.arange(n), pair] = -np.inf
    return own, sim


def retrieval_accuracy(emb: np.ndarray) -> float:
    """Sentences 2i and 2i + 1 are paraphrases: the fraction whose nearest neighbour (cosine, itself excluded)
    among all the sentences is its own paraphrase. Ties count against it."""
    own, others = _own_and_others(emb)
    return float(np.mean(own > others.max(axis=1)))


def retrieval_ranking(emb: np.ndarray) -> dict:
    """What `retrieval_accuracy` leaves out once every paraphrase is found (or none is), on the same pairs
    (sentences 2i and 2i + 1):
    `margin`, the mean over the sentences of the cosine to its own paraphrase less the highest cosine to any other
    sentence (itself excluded; > 0 where the paraphrase is the nearest, its size how near the others come), and
    `rank`, the mean rank of the own paraphrase among the other sentences by cosine (1 = nearest; a tie ranks it
    behind; a random embedding gives about half their number)."""
    own, others = _own_and_others(emb)
    rank = 1 + (others >= own[:, None]).sum(axis=1)
    return {"margin": float(np.mean(own - others.max(axis=1))), "rank": float(np.mean(rank))}


def map_pruned_to_folder(spec: str, cfg, sparsity: float, out: str, method: str, *,
                         calibration_path: str = CALIBRATION_PATH, progress=None, **choose) -> dict:
    """`sws map --prune METHOD`: prune the model by a calibrated method, then map it (mapper.job.map_to_folder;
    `choose`: its objective, search and fixed fields).

    Only the built-in `minilm` has calibration inputs (the shipped calibration text); a plain weight file has
    neither the model nor its inputs, so it takes magnitude pruning only.
    """
    from mapper.job import check_output_folder, map_to_folder
    from mapper.sources import QuantLayer

    from .runtime import minilm_model

    check_method(method)
    sparsity = check_sparsity(sparsity)
    if method == "magnitude":
        return map_to_folder(spec, cfg, sparsity, out, progress=progress, **choose)
    if spec != "minilm":
        raise SwsError(f"{spec}: --prune {method} needs a model and its calibration inputs, which only the built-in "
                       f"minilm has; plain weight files take --prune magnitude")
    check_output_folder(out)
    model, linears = minilm_model()
    pruned = prune_model(model, linears, sparsity, method, calibration=calibration_feeds(calibration_path),
                         progress=progress)
    inits = initializers(pruned)
    layers = [QuantLayer(lin.name, layer_weights(inits, lin)[0].astype(np.int64),
                         notes=[f"pruned one-shot by {method} on {os.path.basename(calibration_path)}"])
              for lin in linears]
    return map_to_folder(spec, cfg, sparsity, out, progress=progress, layers=layers, **choose)
