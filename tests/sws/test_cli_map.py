"""`sws map` end to end: the files it writes, its JSON, and one-line errors with exit code 2 for bad input."""

import json

import numpy as np
import pytest

from mapper.plan import load_plan, rebuild_weights
from mapper.prepare import prepare_layer
from mapper.config import ArrayConfig
from mapper.sources import load_weights
from mapper.cost import REPORT_KEYS
from sws.cli import main
from tests.support import unavailable


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_map_writes_plan_roms_and_reports(tmp_path, capsys):
    out = tmp_path / "o"
    code, stdout, _ = run(capsys, "map", "synthetic:laplace:100x12:5", "--sparsity", "0.7", "--rows", "16",
                          "-o", str(out))
    assert code == 0
    assert "less ADC energy than dense" in stdout
    assert {p.name for p in out.iterdir()} >= {"plan.json", "report.md", "report.json", "laplace100x12"}
    report = json.loads((out / "report.json").read_text())
    assert set(REPORT_KEYS) <= set(report["total"]) and set(REPORT_KEYS) <= set(report["layers"][0])
    plan = load_plan(str(out))
    expected = prepare_layer(load_weights("synthetic:laplace:100x12:5")[0], ArrayConfig(rows=16), 0.7).weights
    np.testing.assert_array_equal(rebuild_weights(plan.layers[0]), expected)
    assert report["layers"][0]["sparsity"] == pytest.approx(np.mean(expected == 0))


def test_map_json_prints_the_report_and_nothing_else(tmp_path, capsys):
    code, stdout, _ = run(capsys, "map", "synthetic:gauss:50x6", "--json", "-o", str(tmp_path / "o"))
    assert code == 0
    report = json.loads(stdout)
    total = report["total"]
    assert total["reduction_vs_dense"] == pytest.approx(1 - total["energy_pj"] / total["dense_energy_pj"])
    assert total["reduction_vs_natural"] == pytest.approx(1 - total["energy_pj"] / total["natural_energy_pj"])


def test_map_with_a_cap_reports_the_error_it_causes(tmp_path, capsys):
    code, stdout, _ = run(capsys, "map", "synthetic:laplace:256x4", "--cap", "3", "--json", "-o", str(tmp_path / "o"))
    assert code == 0
    layer = json.loads(stdout)["layers"][0]
    assert layer["cap_error"]["capped_columns"] > 0
    assert layer["cap_error"]["max_abs_error"] > 0


def _bad_inputs(tmp_path):
    np.save(tmp_path / "one_d.npy", np.ones(5))
    np.save(tmp_path / "three_d.npy", np.ones((2, 2, 2)))
    np.save(tmp_path / "nan.npy", np.array([[1.0, np.nan]]))
    np.save(tmp_path / "inf.npy", np.array([[np.inf]]))
    np.save(tmp_path / "int.npy", np.array([[300]], dtype=np.int16))
    np.savez(tmp_path / "empty.npz")
    return [
        ([str(tmp_path / "missing.npy")], "no such file"),
        ([str(tmp_path / "one_d.npy")], "must be a 2-D K x N matrix"),
        ([str(tmp_path / "three_d.npy")], "must be a 2-D K x N matrix"),
        ([str(tmp_path / "nan.npy")], "weights must be finite"),
        ([str(tmp_path / "inf.npy")], "weights must be finite"),
        ([str(tmp_path / "int.npy")], "integer weight W[0, 0] = 300 is outside -127..127"),
        ([str(tmp_path / "empty.npz")], "holds no arrays"),
        (["synthetic:laplace:8x8", "--rows", "0"], "rows must be an integer >= 1, not 0"),
        (["synthetic:laplace:8x8", "--cols", "0"], "cols must be an integer >= 1, not 0"),
        (["synthetic:laplace:8x8", "--sparsity", "1"], "sparsity must be a number in [0, 1), not 1.0"),
        (["synthetic:laplace:8x8", "--sparsity", "-0.5"], "sparsity must be a number in [0, 1), not -0.5"),
        (["synthetic:laplace:8x8", "--group", "10"], "group 10 is wider than a crossbar"),
    ]


@pytest.mark.parametrize("index", range(12))
def test_bad_input_gets_one_line_exit_2_and_no_output(tmp_path, capsys, index):
    argv, message = _bad_inputs(tmp_path)[index]
    out = tmp_path / "out"
    code, stdout, err = run(capsys, "map", *argv, "-o", str(out))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("sws: error: ") and message in err
    assert stdout == ""
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]   # no temporary left behind


def test_onnx_without_matmul_weights_exits_2(tmp_path, capsys):
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        unavailable("onnx", "pip install -e '.[onnx]'")
    graph = helper.make_graph([helper.make_node("Add", ["x", "b"], ["y"])], "g",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                              [numpy_helper.from_array(np.ones((1, 2), np.float32), "b")])
    onnx.save(helper.make_model(graph), str(tmp_path / "m.onnx"))
    code, _, err = run(capsys, "map", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "out"))
    assert code == 2 and "no MatMul, Gemm or convolution" in err and not (tmp_path / "out").exists()


def test_a_failed_map_leaves_an_earlier_output_untouched(tmp_path, capsys):
    out = tmp_path / "o"
    assert run(capsys, "map", "synthetic:laplace:20x3", "-o", str(out))[0] == 0
    before = (out / "report.json").read_text()
    assert run(capsys, "map", "synthetic:laplace:20x3", "--sparsity", "2", "-o", str(out))[0] == 2
    assert (out / "report.json").read_text() == before
