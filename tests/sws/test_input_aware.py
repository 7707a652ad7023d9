import numpy as np
import pytest

from mapper.config import ArrayConfig
from sws.cli import main
from sws.experiments.input_aware import find, study, study_markdown
from sws.experiments.minilm_inputs import LayerInputs


def _layers(seed):
    rng = np.random.default_rng(seed)
    out = []
    for name, (k, n) in (("a", (40, 6)), ("b", (24, 9))):
        w = rng.integers(-127, 128, (k, n))
        w[rng.random(w.shape) < 0.5] = 0
        x = np.clip(np.rint(rng.laplace(0, 5, (6, k))), -127, 127).astype(np.int64)
        out.append(LayerInputs(name, x, w, 1.0))
    return out


def test_study_sums_the_layers_and_quotes_both_references():
    cfg = ArrayConfig(rows=16, n_adc=4)
    result = study({0.0: _layers(1)}, cfg, laws=("walden",))
    dense = find(result, sparsity=0.0, law="walden", planning="dense")
    wo = find(result, sparsity=0.0, law="walden", encoding="twos", planning="weight-only")
    ia = find(result, sparsity=0.0, law="walden", encoding="signmag", planning="input-aware")
    # The dense reference by hand: natural order, every column of every section at 5 bits
    # (ceil(log2(17))), in 8 steps: 40 rows -> 3 sections x 6 outputs x 14 columns, 24 rows -> 2 x 9 x 14.
    e5 = 1.67 * 2.0 ** (5 - 8)
    assert dense["energy_pj"] == pytest.approx(8 * e5 * 14 * (3 * 6 + 2 * 9))
    assert wo["reduction_vs_weight_only"] == 0.0
    assert ia["reduction_vs_dense"] == pytest.approx(1 - ia["energy_pj"] / dense["energy_pj"])
    assert ia["energy_pj"] < find(result, sparsity=0.0, law="walden", encoding="signmag",
                                  planning="weight-only")["energy_pj"]
    text = study_markdown(result)
    assert "## Energy law `walden`" in text and "| 0 | signmag | input-aware |" in text
    assert len(result["popcount_histogram"]["signmag"]) == 14


def test_sws_input_aware_refuses_bad_options_in_one_line(capsys):
    assert main(["input-aware", "--sparsities", "0,x"]) == 2
    assert main(["input-aware", "--sequences", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("sws: error: ") for line in err)


def test_the_weight_only_whole_macro_of_twos_complement_is_the_reports():
    from mapper.cost import macro_cost
    from mapper.sectioning import map_layer
    from mapper.sources import QuantLayer

    cfg = ArrayConfig(rows=16, n_adc=4)
    result = study({0.0: _layers(2)}, cfg, laws=("isaac",), encodings=("twos",))
    want = sum(macro_cost(map_layer(QuantLayer(l.layer, l.w), cfg), cycles=False).energy_pj for l in _layers(2))
    got = find(result, sparsity=0.0, law="isaac", encoding="twos", planning="weight-only")
    assert got["macro_energy_pj"] == pytest.approx(want)


def test_sws_map_with_inputs_adds_the_input_aware_figures(tmp_path, capsys):
    rng = np.random.default_rng(9)
    w = rng.integers(-127, 128, (40, 6))
    w[rng.random(w.shape) < 0.5] = 0
    x = np.clip(np.rint(rng.laplace(0, 5, (4, 40))), -127, 127).astype(np.int64)
    np.save(tmp_path / "w.npy", w)
    np.save(tmp_path / "x.npy", x)
    out = tmp_path / "plan"
    # --objective none: the layer's own design (the objective would pick its own drive and ordering).
    assert main(["map", str(tmp_path / "w.npy"), "--inputs", str(tmp_path / "x.npy"), "--rows", "16",
                 "--law", "walden", "-o", str(out), "--json", "--objective", "none"]) == 0
    import json
    row = json.loads(capsys.readouterr().out)["layers"][0]
    ia = row["input_aware"]
    assert ia["vectors"] == 4 and set(ia) == {"vectors", "twos", "signmag", "bipolar"}
    # Weight-only two's complement is the report's own energy; input-aware never costs more.
    assert ia["twos"]["weight_only_energy_pj"] == pytest.approx(row["energy_pj"])
    assert ia["twos"]["energy_pj"] <= row["energy_pj"]
    assert ia["signmag"]["reduction_vs_dense"] == pytest.approx(1 - ia["signmag"]["energy_pj"] / row["dense_energy_pj"])
    # The bipolar figures are those of the golden model's conversions on this plan, on bipolar hardware.
    from mapper.plan import load_plan
    from sim.golden import predict
    lp = load_plan(str(out)).layers[0]
    for aware, key in ((False, "weight_only_energy_pj"), (True, "energy_pj")):
        want = predict(lp.on_hardware(input_encoding="bipolar", input_aware=aware), x)
        assert ia["bipolar"][key] == pytest.approx(want.energy_pj / len(x), rel=1e-9), key
    assert ia["bipolar"]["energy_pj"] <= ia["bipolar"]["weight_only_energy_pj"]


def test_inputs_that_do_not_fit_the_layer_are_refused_in_one_line(tmp_path, capsys):
    np.save(tmp_path / "w.npy", np.ones((8, 3), np.int64))
    np.save(tmp_path / "x.npy", np.zeros((2, 7), np.int64))
    np.save(tmp_path / "f.npy", np.zeros((2, 8)))
    np.save(tmp_path / "big.npy", np.full((1, 8), 128))
    for name, message in (("x.npy", "inputs must have shape (V, 8)"), ("f.npy", "inputs must be integers"),
                          ("big.npy", "= 128 is outside -128..127"), ("none.npy", "no such inputs file")):
        assert main(["map", str(tmp_path / "w.npy"), "--inputs", str(tmp_path / name), "-o",
                     str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (name, err)
        assert not (tmp_path / "o").exists()
