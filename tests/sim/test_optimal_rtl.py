"""An optimal plan (sections shorter than R, cut where the ADCs are cheapest) runs through the RTL bit-exact."""

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan
from mapper.sources import QuantLayer
from sim.amaranth_sim import run_tile
from sim.golden import predict


def test_optimal_plan_runs_through_the_tile_bit_exact():
    rng = np.random.default_rng(7)
    w = rng.integers(-7, 8, (24, 3))
    w[rng.random(w.shape) < 0.2] = 0
    w[:, 0] = np.where(np.arange(24) < 16, 1, 0)   # 16 ones in one column: the optimal cut splits them 15 + 1
    cfg = ArrayConfig(rows=16, cols=36, weight_bits=3, input_bits=4, n_adc=4, ordering="signed",
                      sectioning="optimal")
    lm = map_layer(QuantLayer("w", w), cfg)
    lp = build_layer_plan(lm)
    plain = map_layer(QuantLayer("w", w), cfg.replace(ordering="sorted", sectioning="plain"))
    assert np.any(lp.sections["rows"] < cfg.hw.rows) and lm.sec.n_sections > plain.sec.n_sections
    x = rng.integers(cfg.hw.input_min, cfg.hw.input_max + 1, (3, 24))
    run = run_tile(lp, x)
    want = predict(lp, x)
    assert np.array_equal(run.outputs, x @ w)
    assert np.array_equal(run.outputs, want.outputs)
    assert run.counters == want.counters()
    assert run.cycles_per_vector == [want.cycles_per_vector] * len(x)
    assert want.energy_pj == pytest.approx(lm.cost().energy_pj * len(x))
