"""Fuzzing the input boundary (issue 29): hypothesis builds ONNX graphs, plan manifests, explore specs and
JSON files, runs the command that reads each, and checks the contract: exit 0 or 2, an error in one line on
stderr, and nothing written outside the command's output.

Each fuzzer runs twice: a fixed, derandomized set of examples in the fast test run (the same examples every
run, a few seconds each), and a longer randomized search marked slow, which CI runs. The commands run in
this process (`sws.cli.main`); the expensive steps that do not read input (Yosys's Verilog emission, the
process pool of `sws explore`) are replaced by cheap stand-ins, so the examples exercise the reading and
checking of the inputs, not the tools behind them.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import tempfile

import numpy as np
import pytest

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)
onnx = need_module("onnx", "onnx", module_level=True)

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402
from onnx import TensorProto, helper  # noqa: E402

from sws.cli import main  # noqa: E402
from tests.sws.test_bad_inputs import SPEC, MAP_ARGS, save_manifest, snapshot  # noqa: E402

#: The fixed part (fast run) and the search (slow run): examples per fuzzer.
FAST = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))
SLOW = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
#: An example still running after this long is a hang (the fuzzer's finding), not a slow input.
EXAMPLE_SECONDS = 60


def run_command(argv, work: str, output: str) -> tuple[int, str]:
    """Run `sws argv` in this process with `work` as the current folder; check the contract and return
    (exit code, stderr). Nothing in `work` but `output` may change."""
    before = {k: v for k, v in snapshot(work).items() if not k.startswith(output)}
    out, err = io.StringIO(), io.StringIO()
    old = os.getcwd()
    os.chdir(work)

    def hang(signum, frame):
        raise AssertionError(f"sws {' '.join(argv)} still running after {EXAMPLE_SECONDS} s: a hang")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(EXAMPLE_SECONDS)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(argv)
            except SystemExit as e:        # argparse
                code = e.code
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        os.chdir(old)
    err = err.getvalue()
    assert code in (0, 2), (code, err)
    if code == 2:
        assert err.count("\n") == 1 and err.startswith("sws"), err
    after = {k: v for k, v in snapshot(work).items() if not k.startswith(output)}
    assert after == before, "a file outside the output changed"
    return code, err


@pytest.fixture
def work():
    folder = tempfile.mkdtemp(prefix="sws-fuzz-")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _fresh(folder: str) -> None:
    for name in os.listdir(folder):
        path = os.path.join(folder, name)
        shutil.rmtree(path) if os.path.isdir(path) and not os.path.islink(path) else os.unlink(path)


# ONNX graphs ---------------------------------------------------------------------------------------------

DTYPES = [TensorProto.FLOAT, TensorProto.DOUBLE, TensorProto.FLOAT16, TensorProto.INT8, TensorProto.UINT8,
          TensorProto.INT16, TensorProto.INT32, TensorProto.INT64, TensorProto.BOOL]
small_dims = st.lists(st.integers(-2, 6), max_size=4)


@st.composite
def tensors(draw, name: str):
    """A TensorProto whose dims, type and data may or may not agree (raw bytes of any length, or typed)."""
    t = TensorProto()
    t.name = name
    t.data_type = draw(st.sampled_from(DTYPES + [9999]))
    t.dims.extend(draw(small_dims))
    if draw(st.booleans()):
        t.raw_data = draw(st.binary(max_size=200))
    else:
        t.float_data.extend(draw(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=32), max_size=40)))
    return t


@st.composite
def good_tensors(draw, name: str, dims=None):
    """A consistent tensor (numpy_helper.from_array) of a small shape and integer or float values."""
    shape = dims if dims is not None else draw(st.lists(st.integers(0, 5), min_size=0, max_size=3))
    kind = draw(st.sampled_from(["float32", "int8", "uint8", "int64", "float64"]))
    count = int(np.prod(shape))
    if kind.startswith("float"):
        values = draw(st.lists(st.floats(-1e3, 1e3, allow_nan=False, width=32), min_size=count, max_size=count))
    else:
        info = np.iinfo(kind)
        values = draw(st.lists(st.integers(max(int(info.min), -1000), min(int(info.max), 1000)),
                               min_size=count, max_size=count))
    return onnx.numpy_helper.from_array(np.asarray(values, kind).reshape(shape), name)


@st.composite
def onnx_models(draw):
    """A weight chain (an initializer, then folding steps) ending in an operator that holds a weight."""
    inits, nodes = [], []
    if draw(st.integers(0, 3)) == 0:
        inits.append(draw(tensors("w0")))
    else:
        inits.append(draw(good_tensors("w0", draw(st.lists(st.integers(1, 6), min_size=1, max_size=4)))))
    cur = "w0"
    for i in range(draw(st.integers(0, 4))):
        op = draw(st.sampled_from(["Identity", "Cast", "Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze",
                                   "DequantizeLinear", "QuantizeLinear", "Mul", "ConstantOfShape", "Constant"]))
        out, extra, attrs = f"t{i}", [], {}
        if op == "Cast":
            attrs["to"] = draw(st.sampled_from(DTYPES + [TensorProto.STRING, 12345]))
        elif op == "Transpose" and draw(st.booleans()):
            attrs["perm"] = draw(st.lists(st.integers(-1, 4), min_size=1, max_size=4))
        elif op == "Reshape":
            inits.append(onnx.numpy_helper.from_array(np.asarray(draw(st.lists(st.integers(-2, 12), max_size=4)),
                                                                 np.int64), f"shape{i}"))
            extra = [f"shape{i}"]
        elif op == "Flatten":
            attrs["axis"] = draw(st.integers(-5, 5))
        elif op in ("Squeeze", "Unsqueeze"):
            inits.append(onnx.numpy_helper.from_array(np.asarray(draw(st.lists(st.integers(-5, 5), max_size=3)),
                                                                 np.int64), f"axes{i}"))
            extra = [f"axes{i}"]
        elif op in ("DequantizeLinear", "QuantizeLinear"):
            inits.append(draw(good_tensors(f"s{i}", [draw(st.integers(1, 6))])))
            extra = [f"s{i}"]
            if draw(st.booleans()):
                inits.append(draw(good_tensors(f"z{i}", [draw(st.integers(1, 6))])))
                extra.append(f"z{i}")
            attrs["axis"] = draw(st.integers(-3, 3))
        elif op == "Mul":
            inits.append(draw(good_tensors(f"m{i}")))
            extra = [f"m{i}"]
        elif op == "ConstantOfShape":
            inits.append(onnx.numpy_helper.from_array(np.asarray(draw(st.lists(st.integers(-3, 9), max_size=3)),
                                                                 np.int64), f"cs{i}"))
            cur, extra = f"cs{i}", []
            if draw(st.booleans()):
                attrs["value"] = draw(good_tensors(f"v{i}", [draw(st.integers(0, 2))]))
        if op == "Constant":
            nodes.append(helper.make_node("Constant", [], [out], value=draw(tensors(f"c{i}"))))
        else:
            nodes.append(helper.make_node(op, [cur] + extra, [out], **attrs))
        cur = out
    last = draw(st.sampled_from(["MatMul", "MatMulLeft", "Gemm", "MatMulInteger", "Conv", "ConvInteger",
                                 "ConvTranspose"]))
    if last == "MatMulLeft":
        nodes.append(helper.make_node("MatMul", [cur, "x"], ["y"], name="op"))
    elif last == "Gemm":
        nodes.append(helper.make_node("Gemm", ["x", cur], ["y"], name="op", transB=draw(st.integers(0, 1))))
    elif last in ("MatMulInteger", "ConvInteger"):
        inits.append(draw(good_tensors("zp", draw(st.sampled_from([[], [1], [3], [7]])))))
        nodes.append(helper.make_node(last, ["x", cur, "", "zp"], ["y"], name="op"))
    elif last.startswith("Conv"):
        nodes.append(helper.make_node(last, ["x", cur], ["y"], name="op", group=draw(st.integers(-1, 4))))
    else:
        nodes.append(helper.make_node("MatMul", ["x", cur], ["y"], name="op"))
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], initializer=inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


def _fuzz_onnx(work, model):
    _fresh(work)
    with open(os.path.join(work, "w.onnx"), "wb") as f:
        f.write(model.SerializeToString())
    run_command(["map", "w.onnx", "-o", "out", "-q", *MAP_ARGS], work, "out")


@FAST
@given(model=onnx_models())
def test_fuzz_onnx_graphs(work, model):
    _fuzz_onnx(work, model)


@pytest.mark.slow
@SLOW
@given(model=onnx_models())
def test_fuzz_onnx_graphs_search(work, model):
    _fuzz_onnx(work, model)


# Plan manifests ------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)


def _paths(obj, at=()):
    yield at
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, at + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, at + (i,))


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def base_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "plan"
    assert main(["map", SPEC, *MAP_ARGS, "-o", str(out)]) == 0
    return out


def _edit(manifest, data):
    """Replace, delete or add one field anywhere in the manifest."""
    paths = sorted(_paths(manifest), key=repr)
    at = data.draw(st.sampled_from(paths), label="field")
    action = data.draw(st.sampled_from(["nudge", "nudge", "replace", "delete", "add"]), label="action")
    parent = manifest
    for key in at[:-1]:
        parent = parent[key]
    if not at:
        return data.draw(json_values, label="manifest")
    old = parent[at[-1]]
    if action == "nudge" and isinstance(old, (int, float)) and not isinstance(old, bool):
        # A number changed to a neighbour or to a size that must be refused before any work.
        parent[at[-1]] = data.draw(st.sampled_from([0, -1, old + 1, old - 1, 2 * old, 2 ** 31, 2 ** 40, 10 ** 20,
                                                    0.5, 1e300]), label="number")
    elif action == "delete" and isinstance(parent, dict):
        del parent[at[-1]]
    elif action == "add" and isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8), label="key")] = data.draw(json_values, label="value")
    else:
        parent[at[-1]] = data.draw(json_values, label="value")
    return manifest


def _fuzz_plan(base_plan, work, data, monkeypatch):
    import hwgen.verilog
    monkeypatch.setattr(hwgen.verilog, "emit_verilog", lambda lp, params, controller_only=False, bus=None: "// stub\n")
    _fresh(work)
    plan = os.path.join(work, "plan")
    shutil.copytree(base_plan, plan)
    from pathlib import Path
    manifest = json.loads(Path(plan, "plan.json").read_text())
    manifest = _edit(manifest, data)
    if isinstance(manifest, dict):
        save_manifest(Path(plan), manifest, sign=data.draw(st.integers(0, 3), label="re-signed") > 0)
    else:
        Path(plan, "plan.json").write_text(json.dumps(manifest))
    before = snapshot(plan)
    run_command(["rtl", "plan", "-o", "out/t.v"], work, "out")
    assert snapshot(plan) == before


@FAST
@given(data=st.data())
def test_fuzz_plan_manifests(base_plan, work, data, monkeypatch):
    _fuzz_plan(base_plan, work, data, monkeypatch)


@pytest.mark.slow
@SLOW
@given(data=st.data())
def test_fuzz_plan_manifests_search(base_plan, work, data, monkeypatch):
    _fuzz_plan(base_plan, work, data, monkeypatch)


# Explore specs -------------------------------------------------------------------------------------------

spec_values = st.one_of(
    st.sampled_from(["synthetic:laplace:8x8", "synthetic:gauss:6x4:3", "none.npy", "synthetic:laplace:0x3", "",
                     "minilm", "no", "yes", 16, 0, -1, 2 ** 40, 0.5, 1.5, True, None, "sorted", "walden"]),
    json_values)
#: Plausible values of the fields a grid names (and a few that are not), so that most specs get past the
#: first checks and reach the grid, the point checks and the mapping.
FIELD_VALUES = {"rows": st.sampled_from([8, 16, 32, 0, -4, 2 ** 40, "16", 16.0]),
                "cols": st.sampled_from([28, 64, 128, 7, 2 ** 40]),
                "n_adc": st.sampled_from([1, 4, 16, 0, 2 ** 40]),
                "sparsity": st.sampled_from([0.0, 0.5, 0.9, 1.0, -0.1, "0.5", float("nan")]),
                "law": st.sampled_from(["isaac", "walden", "thermal", "table", "nope"]),
                "ordering": st.sampled_from(["sorted", "natural", "gray", "x"]),
                "cap": st.sampled_from([None, 2, 4, 0, 10 ** 20]),
                "group": st.sampled_from([1, 2, 3, 100]),
                "e8_pj": st.sampled_from([1.67, 2.0, 0.0, 1e308, -1.0]),
                "input_bits": st.sampled_from([4, 8, 1, 17]),
                "banks": st.sampled_from([1, 2, 2 ** 40]),
                "policy": st.sampled_from(["column", "section", "dense", "x"]),
                "bogus": spec_values}


@st.composite
def specs(draw):
    spec = {}
    if draw(st.integers(0, 9)):
        spec["weights"] = draw(st.sampled_from(["synthetic:laplace:8x8", ["synthetic:gauss:6x4:3", "synthetic:laplace:12x5"]])
                               if draw(st.integers(0, 4)) else st.one_of(spec_values, st.lists(spec_values, max_size=3)))
    if draw(st.integers(0, 5)):
        keys = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=3, unique=True))
        spec["grid"] = {k: draw(st.lists(FIELD_VALUES[k], min_size=0 if draw(st.integers(0, 9)) == 0 else 1,
                                         max_size=3)) for k in keys}
    if draw(st.integers(0, 3)) == 0:
        keys = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), max_size=2, unique=True))
        spec["config"] = {k: draw(FIELD_VALUES[k]) for k in keys if k != "sparsity"}
    if draw(st.integers(0, 2)) == 0:
        spec["per_channel"] = draw(st.one_of(st.booleans(), spec_values))
    for key in ("layers", "synthesis", "extra"):
        if draw(st.integers(0, 12)) == 0:
            spec[key] = draw(spec_values)
    return spec


#: Pieces of YAML syntax (anchors, aliases, merges, tags, flow and block collections), strung together at
#: random: the raw texts of the spec fuzzer beyond what yaml.safe_dump writes.
YAML_TOKENS = ["&a ", "&b ", "*a", "*b", "[", "]", "{", "}", ": ", ", ", "- ", "\n", "\n  ", " ", "weights",
               "grid", "rows", "config", "per_channel", "16", "-1", "0.5", "1e400", "9" * 40, "no", "null", "~",
               "synthetic:laplace:8x8", "'q'", '"\\x00"', "<<: *a", "!!python/name:os.system", "!!binary", "? ",
               "---", "...", "%YAML 1.1\n", "#c", "|", ">"]
yaml_token_soup = st.lists(st.sampled_from(YAML_TOKENS), max_size=30).map("".join)


@st.composite
def yaml_with_aliases(draw):
    """A spec in YAML flow style whose collections may carry anchors and whose values may be aliases of any
    anchor seen so far, the enclosing ones included (a structure that contains itself)."""
    anchors: list[str] = []

    def node(depth):
        kinds = ["scalar", "alias", "seq", "map"] if depth < 4 else ["scalar", "alias"]
        kind = draw(st.sampled_from(kinds))
        if kind == "alias" and anchors:
            return "*" + draw(st.sampled_from(anchors))
        if kind in ("seq", "map"):
            name = f"a{len(anchors)}" if draw(st.booleans()) else None
            if name:
                anchors.append(name)
            n = draw(st.integers(0, 3))
            if kind == "seq":
                body = "[" + ", ".join(node(depth + 1) for _ in range(n)) + "]"
            else:
                keys = draw(st.lists(st.sampled_from(sorted(FIELD_VALUES)), min_size=n, max_size=n, unique=True))
                body = "{" + ", ".join(f"{k}: {node(depth + 1)}" for k in keys) + "}"
            return (f"&{name} " if name else "") + body
        return draw(st.sampled_from(["16", "32", "0.5", "sorted", "walden", "null", "true", "'x'"]))

    return f"weights: synthetic:laplace:8x8\ngrid: {node(0)}\nconfig: {node(1)}\n"


yaml_texts = yaml_token_soup | yaml_with_aliases()


def _fuzz_spec(work, spec, as_yaml, raw, monkeypatch):
    import sws.experiments.explore as explore
    monkeypatch.setattr(explore, "_run_local", lambda todo, workers: ((i, explore.run_point(p)) for i, p in todo))
    _fresh(work)
    name = "s.yaml" if as_yaml else "s.json"
    with open(os.path.join(work, name), "w", encoding="utf-8") as f:
        if raw is not None:
            f.write(raw)
        elif as_yaml:
            import yaml
            f.write(yaml.safe_dump(spec))
        else:
            f.write(json.dumps(spec))
    code, err = run_command(["explore", name, "-o", "out", "--no-plots", "--workers", "1", "-q"], work, "out")
    if code == 2 and "no such file" in err:
        assert not os.path.exists(os.path.join(work, "out")), "a bad source created the output folder"


@FAST
@given(spec=specs(), as_yaml=st.booleans(), raw=st.none() | st.text(max_size=60) | yaml_texts)
def test_fuzz_explore_specs(work, spec, as_yaml, raw, monkeypatch):
    need_module("yaml", "explore")
    _fuzz_spec(work, spec, as_yaml, raw, monkeypatch)


@pytest.mark.slow
@SLOW
@given(spec=specs(), as_yaml=st.booleans(), raw=st.none() | st.text(max_size=200) | yaml_texts)
def test_fuzz_explore_specs_search(work, spec, as_yaml, raw, monkeypatch):
    need_module("yaml", "explore")
    _fuzz_spec(work, spec, as_yaml, raw, monkeypatch)


# JSON files: macro files ----------------------------------------------------------------------------------

@st.composite
def macro_files(draw):
    """A macro file: a JSON document, often shaped like one (constants with values and sources), sometimes
    any JSON value, sometimes text that is not JSON."""
    how = draw(st.integers(0, 3))
    if how == 0:
        return draw(st.text(max_size=80))
    if how == 1:
        return json.dumps(draw(json_values))
    keys = st.sampled_from(["cell_read_pj", "clock_hz", "shift_add_pj", "output_bits", "flux"])
    constants = draw(st.dictionaries(keys, st.one_of(json_values, st.fixed_dictionaries(
        {"value": json_values}, optional={"source": json_values})), max_size=4))
    doc = {"constants": constants}
    if draw(st.booleans()):
        doc["name"] = draw(json_values)
    text = json.dumps(doc)
    if draw(st.booleans()):         # a number JSON writers never produce, at a random place
        text = text.replace("1", draw(st.sampled_from(["1e400", "9" * 40, "NaN", "-Infinity", "1.5"])), 1)
    return text


def _fuzz_macro(work, text):
    _fresh(work)
    with open(os.path.join(work, "m.json"), "w", encoding="utf-8") as f:
        f.write(text)
    run_command(["laws", "--macro", "m.json", "--no-plot", "--json"], work, "out")


@FAST
@given(text=macro_files())
def test_fuzz_macro_files(work, text):
    _fuzz_macro(work, text)


@pytest.mark.slow
@SLOW
@given(text=macro_files())
def test_fuzz_macro_files_search(work, text):
    _fuzz_macro(work, text)
