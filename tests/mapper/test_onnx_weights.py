import numpy as np
import pytest

from mapper.errors import SwsError
from mapper.weights import load_weights
from tests.support import need_module

onnx = need_module("onnx", "onnx", module_level=True)

from onnx import TensorProto, helper, numpy_helper  # noqa: E402


def _save(tmp_path, nodes, inits, name="m.onnx"):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(a, n) for n, a in inits.items()])
    path = tmp_path / name
    onnx.save(helper.make_model(graph), str(path))
    return str(path)


def test_matmul_and_gemm_weights_are_read_as_k_by_n(tmp_path):
    w1 = np.arange(6, dtype=np.float32).reshape(3, 2)
    w2 = np.arange(8, dtype=np.float32).reshape(4, 2)          # Gemm with transB: stored N x K
    path = _save(tmp_path, [helper.make_node("MatMul", ["x", "w1"], ["h"]),
                            helper.make_node("Gemm", ["h", "w2"], ["y"], transB=1)], {"w1": w1, "w2": w2})
    layers = load_weights(path)
    assert [l.name for l in layers] == ["w1", "w2"]
    np.testing.assert_array_equal(layers[0].weights, w1)
    np.testing.assert_array_equal(layers[1].weights, w2.T)


def test_int8_weights_behind_cast_and_scale_are_taken_as_integers(tmp_path):
    q = np.array([[1, -127], [5, 0], [3, 2]], dtype=np.int8)
    path = _save(tmp_path, [helper.make_node("Cast", ["wq"], ["wf"], to=TensorProto.FLOAT),
                            helper.make_node("Mul", ["wf", "scale"], ["w"]),
                            helper.make_node("MatMul", ["x", "w"], ["y"])],
                 {"wq": q, "scale": np.full((1, 2), 0.01, np.float32)})
    [layer] = load_weights(path)
    assert layer.weights.dtype == np.int8
    np.testing.assert_array_equal(layer.weights, q)


def test_a_model_without_matmul_weights_is_refused(tmp_path):
    path = _save(tmp_path, [helper.make_node("Add", ["x", "b"], ["y"])], {"b": np.ones((1, 3), np.float32)})
    with pytest.raises(SwsError, match="m.onnx: the model has no MatMul or Gemm with a constant 2-D weight"):
        load_weights(path)


def test_a_damaged_onnx_file_is_refused(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x00\x01garbage")
    with pytest.raises(SwsError, match="bad.onnx: not a readable ONNX model"):
        load_weights(str(tmp_path / "bad.onnx"))
