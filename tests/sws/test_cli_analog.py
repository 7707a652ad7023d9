"""`sws map --analog` and `sws fidelity --analog`: the analog block of the report, and one-line errors (exit 2)."""

import json

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.prepare import prepare_layer
from mapper.sources import load_weights
from sws.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_map_analog_reports_each_layers_output_error(tmp_path, capsys):
    spec = "synthetic:laplace:200x12:3"
    x = np.random.default_rng(0).integers(-128, 128, (10, 200))
    np.save(tmp_path / "x.npy", x)
    code, stdout, _ = run(capsys, "map", spec, "--rows", "64", "--analog", "pcm", "--seeds", "2", "--inputs",
                          str(tmp_path / "x.npy"), "--json", "-o", str(tmp_path / "o"))
    assert code == 0
    report = json.loads(stdout)
    a = report["layers"][0]["analog"]
    assert a["random"]["seeds"] == 2 and a["random"]["vectors"] == 16 and a["inputs"]["vectors"] == 10
    assert 0 < a["random"]["rms_error_relative"] < 1 and len(a["inputs"]["per_seed"]) == 2
    assert report["analog"]["device"]["name"] == "pcm" and report["analog"]["drift_time_s"] == 3600.0
    md = (tmp_path / "o" / "report.md").read_text()
    assert "Analog model `pcm`" in md


def test_map_analog_ideal_reports_zero_error(tmp_path, capsys):
    code, stdout, _ = run(capsys, "map", "synthetic:gauss:100x5", "--rows", "32", "--analog", "ideal", "--json",
                          "-o", str(tmp_path / "o"))
    assert code == 0
    a = json.loads(stdout)["layers"][0]["analog"]["random"]
    assert a["rms_error_relative"] == 0.0 and a["per_seed"] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("argv, words", [
    (["map", "synthetic:gauss:20x3", "--analog", "pcmm"], ["--analog", "pcmm", "preset"]),
    (["map", "synthetic:gauss:20x3", "--analog", "pcm", "--seeds", "0"], ["--seeds", "0"]),
    (["map", "synthetic:gauss:20x3", "--analog", "pcm", "--drift-time", "-5"], ["--drift-time", "-5"]),
    (["map", "synthetic:gauss:20x3", "--analog", "pcm", "--fine-bits", "-1"], ["--fine-bits", "-1"]),
    (["map", "synthetic:gauss:20x3", "--analog", "pcm", "--noise-scale", "nan"], ["--noise-scale", "nan"]),
    (["map", "synthetic:gauss:20x3", "--analog", "pcm", "--redundancy", "0"], ["--redundancy", "0"]),
    (["fidelity", "--analog", "pcm", "--redundancy", "65"], ["--redundancy", "65"]),
    (["fidelity", "--analog", "pcm", "--plans", "sws,zig"], ["--plans", "zig"]),
    (["fidelity", "--analog", "pcm", "--noise-scales", "1,-2"], ["--noise-scales"]),
    (["fidelity", "--analog", "pcm", "--prune", "magnitude,wanda"], ["--prune", "one pruning method"]),
])
def test_bad_analog_options_fail_with_one_line(tmp_path, capsys, argv, words):
    code, out, err = run(capsys, *argv, "-o", str(tmp_path / "o"))
    assert code == 2 and not out
    assert err.count("\n") == 1
    for w in words:
        assert w in err
    assert not (tmp_path / "o").exists()


def test_bad_device_file_fails_with_one_line_naming_it(tmp_path, capsys):
    dev = tmp_path / "dev.json"
    dev.write_text(json.dumps({"name": "x", "on": {"g_us": 10, "prog_sigma_us": "big"}, "off": {"g_us": 0}}))
    code, out, err = run(capsys, "map", "synthetic:gauss:20x3", "--analog", str(dev), "-o", str(tmp_path / "o"))
    assert code == 2 and str(dev) in err and "on.prog_sigma_us" in err and err.count("\n") == 1
