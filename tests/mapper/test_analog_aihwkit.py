"""Cross-check of the PCM preset with IBM's aihwkit (the `aihwkit` extra; CPU): one MiniLM layer's cells drawn by
aihwkit's own PCMLikeNoiseModel and GlobalDriftCompensation code, against mapper.analog's draws.

aihwkit's tiles compute with multi-bit weights on differential pairs, not bit-serial 1-bit columns, so the
layer's binary cells (mapper.analog.section_cells) are given to aihwkit's noise model as conductance targets
(25 uS for a 1, 0 for a 0: its single-pair converter's g_max and g_min), its compensation's readout gives
alpha, and both sets of cells are read through the same columns and ADC model (mapper.analog.analog_matvec):
what differs is only who drew the cells.
"""

import math

import numpy as np
import pytest

from mapper.analog import PRESETS, AnalogRun, analog_matvec, program_chip, section_cells
from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
from tests.support import need_module

T_READ = 3600.0


def _aihwkit_chip(lm, run, cells, seed):
    torch = need_module("torch", "aihwkit")
    need_module("aihwkit", "aihwkit")
    from aihwkit.inference import PCMLikeNoiseModel
    from aihwkit.inference.compensation.drift import GlobalDriftCompensation
    torch.manual_seed(seed)
    rows, valid, bits = cells
    chip = program_chip(lm, run, np.random.default_rng(seed), cells)   # our ADC bank and layout
    model = PCMLikeNoiseModel(g_max=25.0)
    target = torch.from_numpy((bits[valid] * 25.0).astype(np.float32))
    g_prog = model.apply_programming_noise_to_conductance(target)
    nu = model.generate_drift_coefficients(target)
    g_t = model.apply_drift_noise_to_conductance(g_prog, nu, T_READ)
    comp = GlobalDriftCompensation()
    alpha = float(comp.readout(g_prog) / comp.readout(g_t))   # aihwkit's ratio: reference readout / current one
    g = np.zeros(bits.shape, np.float32)
    g[valid] = g_t.numpy() / 25.0
    chip.g, chip.alpha = g, alpha
    return chip, g_t.numpy(), bits[valid].astype(bool)


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def layer():
    need_module("aihwkit", "aihwkit")
    from mapper.sources import minilm
    w = next(l for l in minilm() if l.name == "L0.attn.query").weights
    lm = map_layer(QuantLayer("L0.attn.query", np.asarray(w, np.int64)), ArrayConfig())
    return lm, section_cells(lm)


def test_cell_conductances_match_aihwkit_pcm_at_one_hour(layer):
    lm, cells = layer
    run = AnalogRun(PRESETS["pcm"], T_READ)
    _, g_a, on = _aihwkit_chip(lm, run, cells, 0)
    ours = program_chip(lm, run, np.random.default_rng(0), cells)
    g_o = ours.g[cells[1]] * 25.0
    for state in (on, ~on):
        a, o = g_a[state].astype(np.float64), g_o[state].astype(np.float64)
        tol = 5 * math.sqrt(a.var() / len(a) + o.var() / len(o))
        assert abs(a.mean() - o.mean()) < tol, (a.mean(), o.mean(), tol)
        # The std, within 5 of its own sample sd (~ sd sqrt((kurtosis - 1) / 2n), kurtosis < 10 here).
        assert abs(a.std() / o.std() - 1) < 5 * math.sqrt(9 / (2 * len(a)))


@pytest.mark.slow
def test_layer_output_error_matches_aihwkit_drawn_cells_within_the_monte_carlo_spread(layer):
    lm, cells = layer
    run = AnalogRun(PRESETS["pcm"], T_READ)
    x = np.random.default_rng(1).integers(-128, 128, (8, lm.layer.shape[0]))
    exact = (x @ lm.layer.weights).astype(np.float64)
    rel = lambda y: float(np.sqrt(np.mean((y - exact) ** 2) / np.mean(exact ** 2)))
    seeds = range(6)
    ours = [rel(analog_matvec(lm, x, run, s, cells=cells)) for s in seeds]
    theirs = [rel(analog_matvec(lm, x, run, s, chip=_aihwkit_chip(lm, run, cells, 100 + s)[0])) for s in seeds]
    se = math.sqrt(np.var(ours, ddof=1) / len(ours) + np.var(theirs, ddof=1) / len(theirs))
    assert abs(np.mean(ours) - np.mean(theirs)) < 3 * se + 1e-3 * np.mean(ours), (ours, theirs)
