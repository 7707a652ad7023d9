"""`sws flow` end to end: map, Verilog and the cycle simulation against the golden model."""

import numpy as np

from mapper.plan import load_plan, rebuild_weights
from sws.cli import main


def test_flow_maps_generates_verilog_and_simulates_bit_exact(tmp_path, capsys):
    out = tmp_path / "flow"
    code = main(["flow", "--weights", "synthetic:laplace:40x3:4", "--sparsity", "0.5", "--rows", "16",
                 "--cols", "42", "--n-adc", "3", "--no-synth", "-o", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "== rtl" in stdout and "== sim" in stdout and "match the golden model bit for bit" in stdout
    assert "module sws_tile(" in (out / "rtl" / "sws_tile.v").read_text()
    x, y = np.load(out / "sim" / "inputs.npy"), np.load(out / "sim" / "outputs.npy")
    w = rebuild_weights(load_plan(str(out / "plan")).layers[0])
    assert x.shape == (2, 40) and np.array_equal(y, x @ w)


def test_flow_ends_with_synthesis_of_the_controller(tmp_path, capsys):
    import json
    out = tmp_path / "flow"
    code = main(["flow", "--weights", "synthetic:laplace:20x2:4", "--sparsity", "0.5", "--rows", "8",
                 "--cols", "28", "--n-adc", "3", "--synth-target", "generic", "-o", str(out)])
    stdout = capsys.readouterr().out
    assert code == 0
    assert "== synth" in stdout and "== summary" in stdout
    r = json.loads((out / "synth" / "controller-generic.json").read_text())
    assert r["luts"] > 0 and r["flip_flops"] > 0       # synthesize() refuses latches and Yosys errors
    assert f"controller {r['luts']} LUTs" in stdout
