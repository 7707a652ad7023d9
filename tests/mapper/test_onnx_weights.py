"""ONNX graphs as exporters write them, built with onnx.helper: every weight path and operator the reader
follows, checked against matrices and convolutions computed here by explicit loops."""

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.prepare import prepare_layer
from mapper.cost import map_layers
from mapper.sources import load_weights
from tests.support import need_module

onnx = need_module("onnx", "onnx", module_level=True)

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

RNG = np.random.default_rng(7)


def _save(tmp_path, nodes, inits, name="m.onnx", inputs=("x",)):
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(i, TensorProto.FLOAT, None) for i in inputs],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.asarray(a), n) for n, a in inits.items()])
    path = tmp_path / name
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)]), str(path))
    return str(path)


def _const(name, a):
    return helper.make_node("Constant", [], [name], value=numpy_helper.from_array(np.asarray(a), name + "_v"))


def test_matmul_and_gemm_weights_are_read_as_k_by_n_named_after_their_nodes(tmp_path):
    w1 = np.arange(6, dtype=np.float32).reshape(3, 2)
    w2 = np.arange(8, dtype=np.float32).reshape(4, 2)          # Gemm with transB: stored N x K
    path = _save(tmp_path, [helper.make_node("MatMul", ["x", "w1"], ["h"], name="fc1"),
                            helper.make_node("Gemm", ["h", "w2"], ["y"], name="fc2", transB=1)], {"w1": w1, "w2": w2})
    layers = load_weights(path)
    assert [l.name for l in layers] == ["fc1", "fc2"]
    np.testing.assert_array_equal(layers[0].weights, w1)
    np.testing.assert_array_equal(layers[1].weights, w2.T)


def test_gemm_with_the_constant_as_its_left_operand_maps_its_transpose(tmp_path):
    # Y = A' @ X with A' = A.T (transA): each column of X is a vector, Y.T = X.T @ A'.T, a crossbar holding A'.T = A.
    a = RNG.normal(size=(5, 3)).astype(np.float32)
    path = _save(tmp_path, [helper.make_node("Gemm", ["a", "x"], ["y"], name="left", transA=1)], {"a": a})
    [layer] = load_weights(path)
    np.testing.assert_array_equal(layer.weights, a)
    x = RNG.normal(size=(5, 4))
    np.testing.assert_allclose((a.T @ x).T, x.T @ layer.weights, rtol=1e-6)


def test_weights_in_constant_nodes_through_cast_transpose_and_reshape(tmp_path):
    # An exporter that stores every weight in a Constant node, as float16, flat, and N x K.
    w = RNG.normal(size=(4, 6)).astype(np.float16)             # K = 4, N = 6
    nodes = [_const("flat", w.T.reshape(-1)), _const("shape", np.array([6, 0 - 1], np.int64)),
             helper.make_node("Reshape", ["flat", "shape"], ["nk"]),
             helper.make_node("Cast", ["nk"], ["nk32"], to=TensorProto.FLOAT),
             helper.make_node("Transpose", ["nk32"], ["kn"], perm=[1, 0]),
             helper.make_node("MatMul", ["x", "kn"], ["y"], name="proj")]
    [layer] = load_weights(_save(tmp_path, nodes, {}))
    assert layer.name == "proj" and layer.weights.dtype == np.float32
    np.testing.assert_array_equal(layer.weights, w.astype(np.float32))


def test_int8_weights_behind_cast_and_scale_are_taken_as_integers(tmp_path):
    q = np.array([[1, -127], [5, 0], [3, 2]], dtype=np.int8)
    path = _save(tmp_path, [helper.make_node("Cast", ["wq"], ["wf"], to=TensorProto.FLOAT),
                            helper.make_node("Mul", ["wf", "scale"], ["w"]),
                            helper.make_node("MatMul", ["x", "w"], ["y"])],
                 {"wq": q, "scale": np.full((1, 2), 0.01, np.float32)})
    [layer] = load_weights(path)
    assert layer.weights.dtype == np.int8
    np.testing.assert_array_equal(layer.weights, q)


def test_qdq_weights_are_the_quantized_integers_less_their_zero_point(tmp_path):
    # QuantizeLinear of a float weight (per output channel, axis 1), then DequantizeLinear: the integers are
    # round-half-even(w / scale) clipped to int8; a second weight stored as uint8 with zero point 128.
    w = np.array([[0.31, -0.52, 0.07], [1.2, 0.0, -0.24], [-0.9, 0.44, 0.011]], np.float32)
    scale = np.array([0.01, 0.02, 0.004], np.float32)
    expected = np.clip(np.round(w / scale), -128, 127)
    u = np.array([[128, 130], [0, 255], [129, 127]], np.uint8)
    nodes = [helper.make_node("QuantizeLinear", ["w", "s", "zp"], ["wq"], axis=1),
             helper.make_node("DequantizeLinear", ["wq", "s", "zp"], ["wd"], axis=1),
             helper.make_node("MatMul", ["x", "wd"], ["h"], name="qdq"),
             helper.make_node("DequantizeLinear", ["u", "us", "uzp"], ["ud"]),
             helper.make_node("MatMul", ["h", "ud"], ["y"], name="u8")]
    layers = load_weights(_save(tmp_path, nodes, {"w": w, "s": scale, "zp": np.zeros(3, np.int8), "u": u,
                                                  "us": np.float32(0.1), "uzp": np.uint8(128)}))
    assert [l.name for l in layers] == ["qdq", "u8"]
    np.testing.assert_array_equal(layers[0].weights, expected)
    assert layers[0].weights.dtype.kind == "i"
    np.testing.assert_array_equal(layers[1].weights, u.astype(int) - 128)


def test_matmul_integer_subtracts_the_weight_zero_point(tmp_path):
    b = np.array([[3, 250], [128, 0]], np.uint8)
    g = helper.make_graph([helper.make_node("MatMulInteger", ["x", "b", "", "bzp"], ["y"], name="mmi")], "g",
                          [helper.make_tensor_value_info("x", TensorProto.UINT8, None)],
                          [helper.make_tensor_value_info("y", TensorProto.INT32, None)],
                          [numpy_helper.from_array(b, "b"), numpy_helper.from_array(np.array([128, 127], np.uint8), "bzp")])
    onnx.save(helper.make_model(g), str(tmp_path / "i.onnx"))
    [layer] = load_weights(str(tmp_path / "i.onnx"))
    np.testing.assert_array_equal(layer.weights, [[3 - 128, 250 - 127], [0, -127]])


# --- convolutions: im2col computed here by loops, and checked against a direct convolution -----------------

def _im2col_by_loops(w, groups, transposed=False):
    """K x N per group: row (c, i, j) of the group's inputs and kernel offsets, column = the group's outputs."""
    if transposed:   # (Cin, Cout/g, kh, kw) -> the equivalent convolution's (Cout, Cin/g, kh, kw), flipped
        cin, cout_g, kh, kw = w.shape
        eq = np.zeros((cout_g * groups, cin // groups, kh, kw), w.dtype)
        for ci in range(cin):
            g, c = divmod(ci, cin // groups)
            for o in range(cout_g):
                for i in range(kh):
                    for j in range(kw):
                        eq[g * cout_g + o, c, i, j] = w[ci, o, kh - 1 - i, kw - 1 - j]
        w = eq
    cout, cin_g, kh, kw = w.shape
    n = cout // groups
    out = []
    for g in range(groups):
        m = np.zeros((cin_g * kh * kw, n), w.dtype)
        for o in range(n):
            for c in range(cin_g):
                for i in range(kh):
                    for j in range(kw):
                        m[(c * kh + i) * kw + j, o] = w[g * n + o, c, i, j]
        out.append(m)
    return out


def _conv_direct(x, w, groups):
    """A direct convolution, stride 1, no padding: x (Cin, H, W), w (Cout, Cin/g, kh, kw)."""
    cout, cin_g, kh, kw = w.shape
    n = cout // groups
    h, wd = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    y = np.zeros((cout, h, wd))
    for o in range(cout):
        g = o // n
        for p in range(h):
            for q in range(wd):
                y[o, p, q] = np.sum(x[g * cin_g:(g + 1) * cin_g, p:p + kh, q:q + kw] * w[o])
    return y


def _conv_by_layers(x, layers, cin_g, kh, kw):
    """The crossbar computation: per output pixel and group, the patch (c, i, j) times the group's layer."""
    h, wd = x.shape[1] - kh + 1, x.shape[2] - kw + 1
    ys = []
    for g, layer in enumerate(layers):
        xs = x[g * cin_g:(g + 1) * cin_g]
        patches = np.array([[xs[:, p:p + kh, q:q + kw].reshape(-1) for q in range(wd)] for p in range(h)])
        ys.append(np.moveaxis(patches @ layer.weights, -1, 0))
    return np.concatenate(ys, axis=0)


def _energies(layers, cfg):
    return [r.cost.energy_pj for r in map_layers([prepare_layer(l, cfg, 0.0) for l in layers], cfg)]


@pytest.mark.parametrize("cin, cout, groups", [(6, 4, 1), (6, 4, 2), (4, 4, 4)], ids=["plain", "grouped", "depthwise"])
def test_conv_is_one_im2col_layer_per_group(tmp_path, cin, cout, groups):
    w = RNG.integers(-127, 128, (cout, cin // groups, 3, 2)).astype(np.float32)
    path = _save(tmp_path, [helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv", group=groups)],
                 {"w": w, "b": np.zeros(cout, np.float32)})
    layers = load_weights(path)
    expected = _im2col_by_loops(w, groups)
    assert [l.name for l in layers] == (["conv"] if groups == 1 else [f"conv.g{g}" for g in range(groups)])
    for layer, m in zip(layers, expected):
        assert layer.shape == (cin // groups * 3 * 2, cout // groups)
        np.testing.assert_array_equal(layer.weights, m)
    x = RNG.normal(size=(cin, 5, 4))
    np.testing.assert_allclose(_conv_by_layers(x, layers, cin // groups, 3, 2), _conv_direct(x, w, groups),
                               rtol=1e-9, atol=1e-9)
    cfg = ArrayConfig(rows=8, cols=28)
    from mapper.sources import Layer
    assert _energies(layers, cfg) == _energies([Layer(f"{i}", m) for i, m in enumerate(expected)], cfg)


def _conv_transpose_direct(x, w, groups, stride):
    """ConvTranspose by its definition: each input pixel scatters its weighted kernel into the output."""
    cin, cout_g, kh, kw = w.shape
    cin_g = cin // groups
    h, wd = (x.shape[1] - 1) * stride + kh, (x.shape[2] - 1) * stride + kw
    y = np.zeros((cout_g * groups, h, wd))
    for ci in range(cin):
        g = ci // cin_g
        for p in range(x.shape[1]):
            for q in range(x.shape[2]):
                y[g * cout_g:(g + 1) * cout_g, p * stride:p * stride + kh, q * stride:q * stride + kw] += x[ci, p, q] * w[ci]
    return y


@pytest.mark.parametrize("groups, stride", [(1, 1), (2, 2)])
def test_conv_transpose_is_the_flipped_convolution_of_the_dilated_input(tmp_path, groups, stride):
    cin, cout_g, kh, kw = 4, 3, 3, 2
    w = RNG.integers(-9, 10, (cin, cout_g, kh, kw)).astype(np.float32)
    path = _save(tmp_path, [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", group=groups,
                                             strides=[stride, stride])], {"w": w})
    layers = load_weights(path)
    for layer, m in zip(layers, _im2col_by_loops(w, groups, transposed=True)):
        assert layer.shape == (cin // groups * kh * kw, cout_g)
        np.testing.assert_array_equal(layer.weights, m)
    x = RNG.normal(size=(cin, 3, 4))
    dilated = np.zeros((cin, (x.shape[1] - 1) * stride + 1, (x.shape[2] - 1) * stride + 1))
    dilated[:, ::stride, ::stride] = x
    padded = np.pad(dilated, ((0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
    np.testing.assert_allclose(_conv_by_layers(padded, layers, cin // groups, kh, kw),
                               _conv_transpose_direct(x, w, groups, stride), rtol=1e-9, atol=1e-9)


def test_qdq_conv_weights_are_integers_per_output_channel(tmp_path):
    q = RNG.integers(-127, 128, (4, 2, 3, 3)).astype(np.int8)
    path = _save(tmp_path, [helper.make_node("DequantizeLinear", ["q", "s"], ["w"], axis=0),
                            helper.make_node("Conv", ["x", "w"], ["y"], name="qconv")],
                 {"q": q, "s": np.linspace(0.01, 0.04, 4).astype(np.float32)})
    [layer] = load_weights(path)
    np.testing.assert_array_equal(layer.weights, _im2col_by_loops(q.astype(np.int64), 1)[0])


def test_weights_that_cannot_be_crossbars_are_listed_with_the_reason(tmp_path):
    emb = RNG.normal(size=(10, 3)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["emb", "ids"], ["e"], name="embed"),
             helper.make_node("LayerNormalization", ["e", "gamma", "beta"], ["n"], name="ln"),
             helper.make_node("MatMul", ["n", "w"], ["h"], name="fc"),
             helper.make_node("MatMul", ["h", "w3"], ["y"], name="batched")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("ids", TensorProto.INT64, None)],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                          [numpy_helper.from_array(a, n) for n, a in
                           {"emb": emb, "gamma": np.ones(3, np.float32), "beta": np.zeros(3, np.float32),
                            "w": np.ones((3, 2), np.float32), "w3": np.ones((2, 2, 2), np.float32)}.items()])
    onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)]), str(tmp_path / "n.onnx"))
    [layer] = load_weights(str(tmp_path / "n.onnx"))
    assert layer.name == "fc"
    notes = "\n".join(layer.notes)
    assert "1 Gather node (embed) not mapped: a lookup table (an embedding)" in notes
    assert "1 LayerNormalization node (ln) not mapped: a normalization's per-channel scale and shift" in notes
    assert "1 MatMul node (batched) not mapped: a constant operand of shape [2, 2, 2], not a K x N matrix" in notes


def test_one_weight_used_by_two_nodes_is_mapped_once(tmp_path):
    w = RNG.normal(size=(3, 3)).astype(np.float32)
    path = _save(tmp_path, [helper.make_node("MatMul", ["x", "w"], ["h"], name="a"),
                            helper.make_node("MatMul", ["h", "w"], ["y"], name="b")], {"w": w})
    [layer] = load_weights(path)
    assert layer.name == "a" and "onnx: b uses the same weights as a: mapped once" in layer.notes


def test_a_model_without_weights_to_map_is_refused(tmp_path):
    path = _save(tmp_path, [helper.make_node("Add", ["x", "b"], ["y"], name="bias")], {"b": np.ones((1, 3), np.float32)})
    with pytest.raises(SwsError, match="m.onnx: the model has no MatMul, Gemm or convolution with a constant weight "
                                       r"\(onnx: 1 Add node \(bias\) not mapped"):
        load_weights(path)


def test_a_damaged_onnx_file_is_refused(tmp_path):
    (tmp_path / "bad.onnx").write_bytes(b"\x00\x01garbage")
    with pytest.raises(SwsError, match="bad.onnx: not a readable ONNX model"):
        load_weights(str(tmp_path / "bad.onnx"))


def test_safetensors_linear_weights_are_transposed_and_convolutions_unrolled(tmp_path):
    st = need_module("safetensors.numpy", "safetensors")
    lin = RNG.normal(size=(5, 3)).astype(np.float32)       # PyTorch Linear: (out, in)
    conv = RNG.normal(size=(4, 2, 3, 3)).astype(np.float32)
    st.save_file({"fc.weight": lin, "fc.bias": np.zeros(5, np.float32), "conv.weight": conv,
                  "embed.weight": np.ones((7, 3), np.float32)}, str(tmp_path / "m.safetensors"))
    layers = {l.name: l for l in load_weights(str(tmp_path / "m.safetensors"))}
    assert sorted(layers) == ["conv.weight", "fc.weight"]
    np.testing.assert_array_equal(layers["fc.weight"].weights, lin.T)
    np.testing.assert_array_equal(layers["conv.weight"].weights, _im2col_by_loops(conv, 1)[0])
    assert any("2 tensors" in n and "not mapped" in n for n in layers["fc.weight"].notes)


def test_a_damaged_safetensors_file_is_refused(tmp_path):
    need_module("safetensors", "safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}")
    with pytest.raises(SwsError, match="bad.safetensors: not a .safetensors file numpy can read"):
        load_weights(str(tmp_path / "bad.safetensors"))


def test_a_grouped_convolution_is_quantized_with_one_scale_for_its_tensor(tmp_path):
    # Two groups of a 3 x 1 x 1 x 2 kernel (Cout 2, Cin/groups 1, 1 x 2): group 0's weights reach 2.0,
    # group 1's only 0.5. One scale for the tensor, max |w| / (2**Bm - 1) = 2 / 7 with Bm = 3, so group 1's
    # 0.5 is rint(0.5 * 7 / 2) = rint(1.75) = 2 (its own scale would make it 7).
    w = np.array([[[[2.0, -1.0]]], [[[0.5, 0.25]]]], np.float32)
    path = _save(tmp_path, [helper.make_node("Conv", ["x", "w"], ["y"], name="dw", group=2)], {"w": w})
    layers = load_weights(path)
    assert [l.name for l in layers] == ["dw.g0", "dw.g1"]
    cfg = ArrayConfig(rows=8, cols=6, weight_bits=3)
    from mapper.prepare import prepare_layers
    q0, q1 = prepare_layers(layers, cfg)
    assert q0.weights.tolist() == [[7], [-4]]              # 2 * 7/2 = 7, -1 * 7/2 = -3.5 -> rint -4
    assert q1.weights.tolist() == [[2], [1]]               # 0.5 * 7/2 = 1.75 -> 2, 0.25 * 7/2 = 0.875 -> 1
    assert q0.scale.tolist() == q1.scale.tolist() == [2 / 7]
    # Per output channel each group's one output gets its own scale, as any layer's would.
    p0, p1 = prepare_layers(layers, cfg, per_channel=True)
    assert p1.weights.tolist() == [[7], [4]] and p1.scale.tolist() == [0.5 / 7]
    # A layer alone keeps its own scale (no tensor shared with another layer).
    assert prepare_layer(layers[1], cfg).weights.tolist() == [[7], [4]]
