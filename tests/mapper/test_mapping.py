import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.sectioning import map_layer, saturating_matvec
from mapper.plan import build_layer_plan
from mapper.sources import QuantLayer
from sim.golden import golden_outputs


@pytest.mark.parametrize("group, cap, signed", [(1, 3, True), (3, 2, True), (2, 1, False), (2, 5, True), (1, None, True)])
def test_saturating_matvec_equals_the_golden_model_of_the_plans_roms(group, cap, signed):
    # Two independent paths: the mapper's batched product over its sectioning, and the golden model's
    # per-section sums over the ROM images of the plan built from it.
    rng = np.random.default_rng(group * 10 + (cap or 0))
    w = rng.integers(-127, 128, (50, 11))
    w[rng.random(w.shape) < 0.5] = 0
    cfg = ArrayConfig(rows=16, cols=128, group=group, cap=cap, input_signed=signed)
    lm = map_layer(QuantLayer("l", w), cfg)
    x = rng.integers(cfg.hw.input_min, cfg.hw.input_max + 1, (20, 50))
    y = saturating_matvec(lm, x)
    np.testing.assert_array_equal(y, golden_outputs(build_layer_plan(lm), x))
    if cap is None or cap >= cfg.hw.full_resolution:
        np.testing.assert_array_equal(y, x @ w)
    elif cap <= 2:
        assert (y != x @ w).any()   # a cap this low saturates some column on random inputs
