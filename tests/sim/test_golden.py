"""The golden model: outputs from the plan's ROM arrays alone, counters, energy and the cycle model."""

import numpy as np
import pytest

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import given, settings, strategies as st

from mapper.config import ArrayConfig
from mapper.errors import SwsError
from mapper.mapping import saturating_matvec
from sim.golden import check_inputs, cycle_model, golden_outputs, predict

from .cases import Case, inputs, rtl_cases, weights

CASES = rtl_cases()


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden_outputs_equal_x_at_w_or_the_saturating_matvec(case):
    y = golden_outputs(case.lp, case.x)
    assert np.array_equal(y, saturating_matvec(case.lm, case.x))
    if case.lossless:
        assert np.array_equal(y, case.x @ case.w)


def test_capped_plan_really_saturates():
    case = next(c for c in CASES if c.name == "capped_lossy")
    assert not case.lossless
    assert not np.array_equal(golden_outputs(case.lp, case.x), case.x @ case.w)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_counter_energy_equals_the_mappers_energy_per_vector(case):
    pred = predict(case.lp, case.x)
    cost = case.lm.cost()
    assert pred.energy_pj == pytest.approx(cost.energy_pj * len(case.x))
    assert sum(pred.conversions) == cost.conversions * len(case.x)
    assert tuple(c // len(case.x) for c in pred.conversions) == \
        tuple(cost.resolution_histogram) + (0,) * (len(pred.conversions) - len(cost.resolution_histogram))
    assert pred.sections == cost.sections * len(case.x)


@settings(max_examples=40, deadline=None)
@given(k=st.integers(1, 40), n=st.integers(1, 4), sparsity=st.sampled_from([0.0, 0.5, 0.9]),
       rows=st.sampled_from([8, 16]), group=st.sampled_from([1, 2]), n_adc=st.sampled_from([1, 3, 16]),
       ordering=st.sampled_from(["sorted", "natural"]), policy=st.sampled_from(["column", "section", "full"]),
       cap=st.sampled_from([None, 2, 3]), seed=st.integers(0, 1000))
def test_golden_outputs_match_the_mapper_on_random_layers(k, n, sparsity, rows, group, n_adc, ordering, policy,
                                                          cap, seed):
    cfg = ArrayConfig(rows=rows, cols=14 * group, group=group, n_adc=n_adc, ordering=ordering, policy=policy, cap=cap)
    case = Case("h", cfg, weights(k, n, sparsity, seed), inputs(cfg, k, seed, random_vectors=2))
    assert np.array_equal(golden_outputs(case.lp, case.x), saturating_matvec(case.lm, case.x))
    sched = cycle_model(case.lp)
    assert sched["batch_cycles"] >= sched["adc_bound"]
    assert sched["run"] >= sched["batch_cycles"]


def test_cycle_model_reaches_the_bound_when_every_section_fits_the_adc_bank():
    cfg = ArrayConfig(rows=16, cols=14, n_adc=16)
    case = Case("fit", cfg, weights(64, 3, 0.5, 1), inputs(cfg, 64, 1))
    sched = cycle_model(case.lp)
    res, sec = case.lp.columns["res"], case.lp.sections
    by_hand = sum(cfg.input_bits * int(res[b:b + n].max()) for b, n in zip(sec["col_base"], sec["n_active"]) if n)
    assert sched["adc_bound"] == sched["batch_cycles"] == by_hand


def test_cycle_model_of_a_layer_without_sections_is_load_and_output():
    cfg = ArrayConfig(rows=8, cols=14)
    case = Case("zero", cfg, np.zeros((5, 3), np.int64), inputs(cfg, 5, 0))
    assert case.lp.n_sections == 0
    sched = cycle_model(case.lp)
    assert sched["adc_bound"] == 0
    assert sched["cycles"] == 5 + sched["run"] + 1 + 3


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 4), np.int64), r"shape \(V, 5\) or \(5,\).*not \(2, 4\)"),
    (np.full(5, 128), r"input \[0, 0\] = 128 is outside -128..127"),
    (np.full((1, 5), -129), r"input \[0, 0\] = -129 is outside"),
    (np.zeros(5, np.float64), r"inputs must be integers, not float64"),
    (np.zeros((0, 5), np.int64), r"at least one input vector"),
])
def test_bad_inputs_are_refused_with_the_rule(x, message):
    case = Case("zero", ArrayConfig(rows=8, cols=14), np.ones((5, 1), np.int64), np.zeros((1, 5), np.int64))
    with pytest.raises(SwsError, match=message):
        check_inputs(case.lp, x)
