import json
import os

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.prepare import prepare_layer
from mapper.cost import map_layers, report_dict
from mapper.sources import Layer, load_weights
from sws.cli import main
from sws.experiments.sweep import Arrangement, find_row, summary_markdown, sweep, sweep_markdown
from tests.support import need_module

CFG = ArrayConfig(rows=16, cols=80, weight_bits=4, input_bits=3)


def _small_model():
    rng = np.random.default_rng(5)
    return [Layer("a", rng.integers(-15, 16, (40, 10))), Layer("b", rng.laplace(0, 1, (23, 7)))]


def test_sweep_matches_sws_map_for_every_configuration():
    layers = _small_model()
    arrangements = (Arrangement("natural"), Arrangement("sorted", 1), Arrangement("sorted", 2))
    result = sweep(layers, CFG, sparsities=(0.0, 0.6), arrangements=arrangements)
    assert len(result["rows"]) == 2 * 3 * 3 * 6
    for s in (0.0, 0.6):
        q = [prepare_layer(l, CFG, s) for l in layers]
        for arr in arrangements:
            for policy in ("full", "section", "column"):
                for law in ("isaac", "neurosim", "murmann", "mnsim", "walden", "thermal"):
                    cfg = CFG.replace(ordering=arr.ordering, group=arr.group, policy=policy, law=law)
                    want = report_dict(map_layers(q, cfg), cfg, source="x", sparsity=s)
                    got = find_row(result, s, arr.label, policy, law)
                    t = want["total"]
                    for key in ("energy_pj", "dense_energy_pj", "natural_energy_pj", "reduction_vs_dense",
                                "reduction_vs_natural", "macro_energy_pj", "dense_macro_energy_pj",
                                "natural_macro_energy_pj", "macro_reduction_vs_dense", "macro_reduction_vs_natural",
                                "area_um2"):
                        assert got[key] == pytest.approx(t[key], rel=1e-12, abs=1e-12), (s, arr, policy, law, key)
                    for key in ("conversions", "sar_cycles", "sections", "crossbars", "resolution_histogram"):
                        assert got[key] == t[key], (s, arr, policy, law, key)
                    assert got["layer_energy_pj"] == pytest.approx([r["energy_pj"] for r in want["layers"]])
                    if policy == "column":
                        assert got["cycles_per_vector"] == t["cycles_per_vector"]
        assert result["sparsity_achieved"][result["sparsities"].index(s)] == pytest.approx(
            sum(np.count_nonzero(l.weights == 0) for l in q) / sum(l.weights.size for l in q))


def test_sweep_of_a_hand_computed_layer():
    # W = [3, 0, 0, 1] (one output), R = 2, Bm = 2, A = 2, E8 = 1 pJ.
    cfg = ArrayConfig(rows=2, cols=4, weight_bits=2, input_bits=2, law="walden", e8_pj=1.0)
    result = sweep([Layer("w", np.array([[3], [0], [0], [1]]))], cfg, sparsities=(0.0,),
                   arrangements=(Arrangement("natural"), Arrangement("sorted", 1)), policies=("full", "column"),
                   laws=("walden", "thermal"))
    walden = lambda b: 2.0 ** (b - 8)
    thermal = lambda b: 4.0 ** (b - 8)
    for law, e in (("walden", walden), ("thermal", thermal)):
        # dense: 2 sections x 4 columns (sign, bit) x 2 planes, each at ceil(log2(3)) = 2 bits
        dense = 16 * e(2)
        d = next(d for d in result["dense"] if d["law"] == law)
        assert d["energy_pj"] == pytest.approx(dense) and d["conversions"] == 16
        # natural: section [3, 0] has + bits 0 and 1 (one 1 each), section [0, 1] has + bit 0: 3 columns
        nat_col = find_row(result, 0.0, "natural", "column", law)
        assert nat_col["conversions"] == 6 and nat_col["energy_pj"] == pytest.approx(6 * e(1))
        assert find_row(result, 0.0, "natural", "full", law)["energy_pj"] == pytest.approx(6 * e(2))
        # sorted: the zero rows are dropped, one section [3, 1]: + bit 0 holds 2 ones (2 bits), + bit 1 one (1 bit)
        srt = find_row(result, 0.0, "sorted G=1", "column", law)
        assert srt["conversions"] == 4 and srt["sections"] == 1 and srt["crossbars"] == 1
        assert srt["energy_pj"] == pytest.approx(2 * (e(2) + e(1)))
        assert srt["reduction_vs_dense"] == pytest.approx(1 - 2 * (e(2) + e(1)) / dense)
        assert srt["reduction_vs_natural"] == pytest.approx(1 - 2 * (e(2) + e(1)) / (6 * e(1)))
        assert find_row(result, 0.0, "sorted G=1", "full", law)["energy_pj"] == pytest.approx(4 * e(2))
        assert srt["resolution_histogram"] == [0, 2, 2]


def test_sweep_markdown_has_every_row_and_the_summary():
    result = sweep(_small_model(), CFG, sparsities=(0.0, 0.5))
    md = sweep_markdown(result)
    assert md.count("| natural | dense |") == 2 * 6            # a dense line per sparsity and law
    assert md.count("| sorted G=9 | column |") == 2 * 6
    r = find_row(result, 0.5, "sorted G=1", "column", "thermal")
    assert f"{100 * r['reduction_vs_dense']:.2f}% ({100 * r['reduction_vs_natural']:.1f}%)" in summary_markdown(result)
    assert f"{100 * r['macro_reduction_vs_dense']:.2f}% ({100 * r['macro_reduction_vs_natural']:.1f}%)" in \
        summary_markdown(result, macro=True)


def test_sweep_reports_progress_on_every_step():
    seen = []
    sweep(_small_model(), CFG, sparsities=(0.0, 0.5), progress=lambda i, n, text: seen.append((i, n)))
    n = seen[0][1]
    assert n == 2 * 8  # natural G=1, 2, 4, 9 (the references of sorted G) and sorted G=1, 2, 4, 9 per sparsity
    assert [i for i, _ in seen[:n]] == list(range(n))


def test_sws_sweep_writes_table_json_and_plots(tmp_path, capsys):
    out = tmp_path / "sw"
    need_module("matplotlib", "plots")
    args = ["sweep", "synthetic:laplace:48x12:3", "--sparsities", "0,0.5", "--rows", "16", "--cols", "112",
            "--groups", "1,8", "-o", str(out)]
    assert main(args) == 0
    files = set(os.listdir(out))
    assert {"sweep.md", "sweep.json", "reduction_vs_sparsity.png", "macro_reduction_vs_sparsity.png",
            "energy_per_layer.png", "resolution_histogram.png"} <= files
    data = json.loads((out / "sweep.json").read_text())
    assert data["sparsities"] == [0.0, 0.5] and data["config"]["hardware"]["rows"] == 16
    # Progress is a bar on a terminal only: on a pipe (as here) stderr stays empty (sws/progress.py).
    assert capsys.readouterr().err == ""


def test_sws_sweep_rejects_a_bad_sparsity(tmp_path, capsys):
    out = tmp_path / "sw"
    assert main(["sweep", "synthetic:laplace:8x4", "--sparsities", "0,1.5", "--no-plots", "-o", str(out)]) == 2
    assert "sparsity must be a number in [0, 1)" in capsys.readouterr().err
    assert not out.exists()


def test_sws_laws_prints_every_model_and_draws_them(tmp_path, capsys):
    assert main(["laws", "--no-plot", "--json", "--node", "22"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data["models"]) == {"isaac", "neurosim", "murmann", "mnsim", "walden", "thermal"}
    # NeuroSim LP 22 nm, 8 bits: (0.538 * 8 + 4.3753) uW x 9 ns = 78.1137 fJ (hand-computed).
    assert data["models"]["neurosim"]["energy_pj"][7] == pytest.approx(0.0781137, rel=1e-6)
    assert main(["laws", "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "| 8 | 1.67 |" in out and "isaac_adc.csv" in out and "SarADC.cpp" in out and "ADC.py" in out
    assert main(["laws", "--no-plot", "--node", "28"]) == 2
    assert "node_nm of law neurosim must be one of its planar nodes" in capsys.readouterr().err
    need_module("matplotlib", "plots")
    plot = tmp_path / "laws.png"
    assert main(["laws", "--plot", str(plot)]) == 0
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
