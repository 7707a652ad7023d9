"""The objective study's headline figures (sws.experiments.objective.headline) by hand, on a made-up result of two
layers: the reductions against dense and the ranked totals of the choice and its runner-up."""

import pytest

from tests.support import need_module

from sws.experiments.objective import CHOICE, headline, headline_markdown, plot_headline


def _row(step, adc, macro, layers=()):
    return {"sparsity": 0.3, "step": step, "energy_pj": adc, "macro_energy_pj": macro, "dense_energy_pj": 400.0,
            "dense_macro_energy_pj": 1000.0, "sparsity_achieved": 0.31, "layers": list(layers)}


def test_the_headline_of_a_made_up_study_by_hand(tmp_path):
    a = {"name": "a", "choice": {"energy_pj": 30.0, "macro_energy_pj": 200.0},
         "runner_up": {"energy_pj": 20.0, "macro_energy_pj": 260.0}}
    b = {"name": "b", "choice": {"energy_pj": 50.0, "macro_energy_pj": 150.0}, "runner_up": None}
    result = {"sparsities": [0.3], "rows": [
        _row("natural order, G = 9 (adaptive resolution, no sorting)", 200.0, 700.0),
        _row("sorted, G = 9", 150.0, 650.0),
        _row("SWS as published: sorted, G = 1", 100.0, 1640.0),
        _row(CHOICE, 90.0, 360.0, [a, b])]}
    [h] = headline(result)
    assert h["dense"]["macro_reduction_vs_dense"] == 0.0
    assert h["natural"]["macro_reduction_vs_dense"] == pytest.approx(0.3)           # 1 - 700 / 1000
    assert h["published"]["macro_reduction_vs_dense"] == pytest.approx(-0.64)       # 64% more than dense
    assert h["published"]["reduction_vs_dense"] == pytest.approx(0.75)              # 1 - 100 / 400
    assert h["choice"]["macro_energy_pj"] == 360.0 and h["choice"]["reduction_vs_dense"] == pytest.approx(0.775)
    # As ranked: a's choice 200 and b's 150; the runner-up a's 260 and, b having none, b's choice 150.
    assert h["choice_ranked"]["macro_energy_pj"] == 350.0 and h["choice_ranked"]["energy_pj"] == 80.0
    assert h["runner_up_ranked"]["macro_energy_pj"] == 410.0 and h["runner_up_ranked"]["energy_pj"] == 70.0
    text = headline_markdown(result)
    assert "| SWS as published (sorted, G = 1) | 0.00 | 75.0% | 0.00 | -64.0% |" in text
    need_module("matplotlib", "plots")
    plot_headline(result, str(tmp_path / "h.png"))
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
