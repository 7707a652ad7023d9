"""Real models from different exporters, as shipped inside PyPI packages, read whole and checked against the
ONNX reference evaluator (onnx.reference), which folds each weight's constant chain independently.

- onnx-caffe2: the `light_*` models in the onnx package's backend test data (weights made by ConstantOfShape);
- tf2onnx 1.14: magika 0.5.1's file-type classifier (`magika/models/standard_v1/model.onnx`, Keras dense layers);
- PaddlePaddle (paddle2onnx): rapidocr-onnxruntime 1.4.4's text-direction classifier
  (`ch_ppocr_mobile_v2.0_cls_infer.onnx`, a MobileNetV3 with depthwise convolutions, weights in Constant nodes).
Wheels are fetched once with `pip download --no-deps` from PyPI into a cache (SWS_TEST_CACHE, default
~/.cache/sws-crossbar/wheels); nothing is installed.
"""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.sources import read_onnx_layers
from mapper.prepare import prepare_layer
from mapper.cost import map_layers
from tests.support import need_module, unavailable

onnx = need_module("onnx", "onnx", module_level=True)

from onnx import helper  # noqa: E402
from onnx.reference import ReferenceEvaluator  # noqa: E402

CACHE = os.environ.get("SWS_TEST_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "sws-crossbar", "wheels"))


def wheel_member(requirement: str, member: str, tmp_path) -> str:
    """`member` of the wheel of `requirement`, downloaded from PyPI once into the cache."""
    name, version = requirement.split("==")
    stem = f"{name.replace('-', '_')}-{version}-"
    wheels = [f for f in os.listdir(CACHE) if f.startswith(stem) and f.endswith(".whl")] if os.path.isdir(CACHE) else []
    if not wheels:
        os.makedirs(CACHE, exist_ok=True)
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
                               "-d", CACHE, requirement], capture_output=True, text=True, timeout=300)
        wheels = [f for f in os.listdir(CACHE) if f.startswith(stem) and f.endswith(".whl")]
        if done.returncode or not wheels:
            unavailable(requirement, f"the test model comes from its wheel on PyPI ({done.stderr.strip()[-200:]})")
    with zipfile.ZipFile(os.path.join(CACHE, wheels[0])) as z:
        z.extract(member, tmp_path)
    return str(tmp_path / member)


def folded(model, tensor: str) -> np.ndarray:
    """The value of a constant tensor, by the ONNX reference evaluator on the nodes that compute it."""
    producer = {o: n for n in model.graph.node for o in n.output}
    inits = {i.name for i in model.graph.initializer}
    nodes, todo, seen = [], [tensor], set()
    while todo:
        t = todo.pop()
        if t in seen or t in inits or not t:
            continue
        seen.add(t)
        n = producer[t]
        nodes.append(n)
        todo.extend(n.input)
    order = {id(n): i for i, n in enumerate(model.graph.node)}
    nodes.sort(key=lambda n: order[id(n)])
    graph = helper.make_graph(nodes, "fold", [], [helper.make_tensor_value_info(tensor, 0, None)],
                              list(model.graph.initializer))
    sub = helper.make_model(graph, opset_imports=model.opset_import)
    return ReferenceEvaluator(sub).run(None, {})[0]


def im2col(w: np.ndarray, groups: int) -> list[np.ndarray]:
    """Per group: rows (c, i, j), columns the group's outputs, by an explicit loop over output channels."""
    n = w.shape[0] // groups
    out = []
    for g in range(groups):
        m = np.empty((int(np.prod(w.shape[1:])), n), w.dtype)
        for o in range(n):
            m[:, o] = w[g * n + o].reshape(-1)
        out.append(m)
    return out


def expected_layers(model) -> list[tuple[str, np.ndarray]]:
    """Each MatMul/Gemm/Conv node's matrices from the reference evaluator's weights (no names dropped)."""
    out = []
    for node in model.graph.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "MatMul":
            try:
                w = folded(model, node.input[1])
            except KeyError:       # an activation operand (attention): no weight
                continue
            out.append((node.name, w))
        elif node.op_type == "Gemm":
            w = folded(model, node.input[1])
            out.append((node.name, w.T if attrs.get("transB") else w))
        elif node.op_type == "Conv":
            groups = attrs.get("group", 1)
            ms = im2col(folded(model, node.input[1]), groups)
            out += [(f"{node.name}.g{g}" if groups > 1 else node.name, m) for g, m in enumerate(ms)]
    return out


def check_whole_model(path: str, cfg: ArrayConfig, sparsity: float = 0.5):
    model = onnx.load(path)
    layers = read_onnx_layers(path)
    expected = expected_layers(model)
    assert [l.name for l in layers] == [n for n, _ in expected]
    for layer, (_, w) in zip(layers, expected):
        np.testing.assert_array_equal(layer.weights, w, err_msg=layer.name)
    # Same names and weights as the independent extraction (above), so the same prepared layers and costs
    # (mapping is a function of them): mapping the extraction's layers too would only repeat this map.
    mine = map_layers([prepare_layer(l, cfg, sparsity) for l in layers], cfg)
    assert len(mine) == len(expected) and sum(r.cost.energy_pj for r in mine) > 0
    return layers


def test_tf2onnx_magika_dense_layers(tmp_path):
    path = wheel_member("magika==0.5.1", "magika/models/standard_v1/model.onnx", tmp_path)
    assert onnx.load(path).producer_name == "tf2onnx"
    layers = check_whole_model(path, ArrayConfig())
    assert [l.shape for l in layers] == [(257, 128), (512, 256), (256, 256), (256, 113)]
    assert any("Add nodes" in n and "bias" in n for n in layers[0].notes)


def test_paddle2onnx_mobilenet_with_depthwise_convolutions(tmp_path):
    path = wheel_member("rapidocr-onnxruntime==1.4.4", "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
                        tmp_path)
    model = onnx.load(path)
    assert model.producer_name == "PaddlePaddle"
    assert not any(n.op_type == "Conv" and n.input[1] in {i.name for i in model.graph.initializer}
                   for n in model.graph.node)   # every conv weight sits in a Constant node
    layers = check_whole_model(path, ArrayConfig(rows=64, cols=64))
    depthwise = [l for l in layers if l.shape[1] == 1]          # one output channel per group
    assert len(depthwise) > 500 and len(layers) == 907
    assert any("BatchNormalization" in n for n in layers[0].notes)


@pytest.mark.parametrize("name", ["light_shufflenet", "light_squeezenet"])
def test_onnx_caffe2_models_shipped_with_onnx(name):
    path = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light", f"{name}.onnx")
    if not os.path.exists(path):
        unavailable(path, "the onnx package ships its backend test models")
    assert onnx.load(path).producer_name == "onnx-caffe2"
    layers = check_whole_model(path, ArrayConfig(rows=64, cols=64), sparsity=0.0)
    assert sum(l.weights.size for l in layers) > 1_000_000
