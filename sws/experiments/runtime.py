"""Running an ONNX model with onnxruntime on shipped token sequences: sessions, BERT feeds, MiniLM itself.

A leaf of sws.experiments: the fidelity check, the pruning driver and the hardware inputs all run the model
through these helpers.
"""

from __future__ import annotations

import os

import numpy as np

from mapper.common import SwsError, read_json

__all__ = ["DATA", "TOKENS_PATH", "ort", "load_token_sequences", "token_feeds", "initializers", "session",
           "run_model", "minilm_model", "minilm_path_of", "with_outputs"]

DATA = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data")
TOKENS_PATH = os.path.join(DATA, "minilm_tokens.json")


def ort():
    """(onnx, onnxruntime), or an SwsError naming the extra that installs them."""
    try:
        import onnx
        import onnxruntime
    except ImportError:
        raise SwsError("running the model needs onnx and onnxruntime: pip install -e '.[minilm]'") from None
    return onnx, onnxruntime


#: Bounds of a token file: BERT's vocabulary (30522 ids), its 512 positions, and at most 10000 sequences.
VOCABULARY, MAX_TOKENS, MAX_SEQUENCES = 30522, 512, 10000


def load_token_sequences(path: str = TOKENS_PATH) -> list[list[int]]:
    """The token-id sequences ([CLS] ... [SEP]) of a token file (sws/data/make_minilm_tokens.py makes the
    shipped ones), read through mapper.common.reading and checked value by value: at most MAX_SEQUENCES
    sequences of 1..MAX_TOKENS ids in 0..VOCABULARY-1."""
    data = read_json(path, what="token file")
    seqs = data.get("sequences") if isinstance(data, dict) else None
    if not isinstance(seqs, list) or not 1 <= len(seqs) <= MAX_SEQUENCES:
        raise SwsError(f"{path}: field sequences must be a list of 1..{MAX_SEQUENCES} sequences (a token file of "
                       f"sws/data/make_minilm_tokens.py)")
    out = []
    for i, s in enumerate(seqs):
        ids = s.get("input_ids") if isinstance(s, dict) else None
        if not isinstance(ids, list) or not 1 <= len(ids) <= MAX_TOKENS or not all(
                isinstance(t, int) and not isinstance(t, bool) and 0 <= t < VOCABULARY for t in ids):
            raise SwsError(f"{path}: field sequences[{i}].input_ids must be a list of 1..{MAX_TOKENS} token ids in "
                           f"0..{VOCABULARY - 1}")
        out.append(list(ids))
    return out


def token_feeds(seqs: list[list[int]]) -> dict[str, np.ndarray]:
    """BERT inputs for a batch: ids padded with 0 ([PAD]) to the longest, attention_mask, token_type_ids 0."""
    t = max(len(s) for s in seqs)
    ids = np.zeros((len(seqs), t), np.int64)
    mask = np.zeros((len(seqs), t), np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def initializers(model) -> dict:
    return {i.name: i for i in model.graph.initializer}


def session(model):
    _, rt = ort()
    opts = rt.SessionOptions()
    opts.log_severity_level = 3
    opts.intra_op_num_threads = 1  # reproducible sums, and the 2-core machine is shared
    return rt.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])


def run_model(model, feeds: dict, outputs: list[str]) -> list[np.ndarray]:
    return session(model).run(outputs, feeds)


def with_outputs(model, names):
    """A copy of the model that also outputs the (float) tensors `names`."""
    onnx, _ = ort()
    from onnx import TensorProto, helper
    m = onnx.ModelProto()
    m.CopyFrom(model)
    have = {o.name for o in m.graph.output}
    for name in names:
        if name not in have:
            m.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
            have.add(name)
    return m


def minilm_path_of(spec: str | None = None) -> str:
    """The ONNX file of a MiniLM spec: None or `minilm` the shipped model, `minilm:sparseNN` the model `sws
    prune` wrote (mapper.models.minilm_variant), else the path of an .onnx file in the same form."""
    from mapper.sources import minilm_path, minilm_variant
    if spec is None or spec == "minilm":
        return minilm_path()
    variant = minilm_variant(spec)
    if variant is not None:
        return variant
    if not os.path.isfile(spec):
        raise SwsError(f"--model: {spec} is neither minilm, minilm:sparseNN nor an .onnx file")
    return spec


def minilm_model(spec: str | None = None):
    """The MiniLM ONNX model (see minilm_path_of) and its 36 linear layers (as GraphLinear), from the minilm
    extra."""
    ort()
    from mapper.sources import minilm_linears, read_onnx_model
    path = minilm_path_of(spec)
    model = read_onnx_model(path)       # through mapper.common.reading: regular, bounded, no external data
    linears = minilm_linears(model)
    return model, linears
