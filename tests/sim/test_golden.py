"""The golden model: outputs from the plan's ROM arrays alone, counters, energy and the cycle model."""

import numpy as np
import pytest

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import given, settings, strategies as st

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import saturating_matvec
from sim.golden import check_inputs, golden_outputs, predict
from mapper.schedule import cycle_model

from .cases import Case, encoding_cases, inputs, rtl_cases, weights

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
    by_hand = sum(cfg.hw.input_bits * int(res[b:b + n].max()) for b, n in zip(sec["col_base"], sec["n_active"]) if n)
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


# Input encodings and input-aware resolution ---------------------------------------------------------------

ENC_CASES = encoding_cases()


def _drive_bits(x: int, cfg) -> list[int]:
    """The row drive of one input in each step, by hand: two's complement bits, or the magnitude's bits in
    the pass of the input's sign (positive pass first)."""
    a = cfg.hw.input_bits
    if cfg.hw.input_encoding == "twos":
        return [((x & ((1 << a) - 1)) >> t) & 1 for t in range(a)]
    return [(abs(x) >> t) & 1 if (x > 0 if neg == 0 else x < 0) else 0 for neg in (0, 1) for t in range(a - 1)]


def _brute_counters(case: Case) -> tuple[list[int], int]:
    """Conversions by resolution and issued steps, from the LayerMap's sections, by loops."""
    cfg, lm = case.cfg, case.lm
    conv = [0] * (cfg.hw.full_resolution + 1)
    planes = 0
    for xv in case.x:
        drive = [_drive_bits(int(v), cfg) for v in xv]
        for s in range(lm.sec.n_sections):
            res = [int(r) for r in lm.res[s].reshape(-1) if r > 0]
            if not res:
                continue
            rows = lm.sec.section_rows(s)
            for p in range(cfg.hw.steps):
                q = sum(drive[r][p] for r in rows)
                if cfg.hw.input_aware and q == 0:
                    continue
                planes += 1
                for r in res:
                    conv[min(r, q.bit_length()) if cfg.hw.input_aware else r] += 1
    conv[0] = 0
    return conv, planes


@pytest.mark.parametrize("case", ENC_CASES, ids=lambda c: c.name)
def test_every_encoding_computes_x_at_w_and_its_counters_by_brute_force(case):
    pred = predict(case.lp, case.x)
    assert np.array_equal(pred.outputs, saturating_matvec(case.lm, case.x))
    if case.lossless:
        assert np.array_equal(pred.outputs, case.x @ case.w)
    conv, planes = _brute_counters(case)
    assert pred.conversions == conv
    assert pred.planes == planes
    assert pred.sections == case.lp.n_sections * len(case.x)


@pytest.mark.parametrize("case", ENC_CASES, ids=lambda c: c.name)
def test_input_aware_never_costs_more_than_weight_only(case):
    pred = predict(case.lp, case.x)
    weight_only = predict(Case(case.name, case.cfg.replace(input_aware=False), case.w, case.x).lp, case.x)
    assert pred.energy_pj <= weight_only.energy_pj + 1e-9
    assert np.array_equal(pred.outputs, weight_only.outputs)
    if not case.cfg.hw.input_aware:
        cost = case.lm.cost()                      # the mapper's weight-only figure: every drive step
        assert pred.energy_pj == pytest.approx(cost.energy_pj * len(case.x))
        assert pred.vector_cycles == [pred.cycles_per_vector] * len(case.x)
    else:
        # Never longer than the weight-only schedule, its upper bound.
        assert cycle_model(case.lp)["cycles"] == weight_only.cycles_per_vector
        assert all(c <= weight_only.cycles_per_vector for c in pred.vector_cycles)


def test_input_aware_cycles_of_one_live_step_by_hand():
    # One section of 8 rows (lanes 1: 8 gather cycles), one column of 8 ones (res 4 = bitlen(8)); the
    # input 1 on one row drives only step t = 0, one row: one 1-bit conversion. From the module docstring:
    # S0 at 0, gather from 2 for 8 cycles, ready at 2 + 8 + 5 = 15 (copy), issue 16, start on the
    # registered bus at 17, done (captured) 18; the next S0 at 11 finds no section; RUN ends at
    # max(18 + D + 5, 12) = 31 with D = 4 + log2(16) = 8, run = 32; cycles = K + run + 1 + N = 8 + 32 + 1 +
    # 1 = 42. Weight-only: issue 16, 4 steps of 4 cycles, the last started at 29 and done at 33, RUN ends
    # at 46: 8 + 47 + 2 = 57.
    cfg = ArrayConfig(rows=8, cols=14, n_adc=16, input_bits=4, input_aware=True)
    x = np.zeros((1, 8), np.int64)
    x[0, 3] = 1
    case = Case("one_step", cfg, np.ones((8, 1), np.int64), x)
    pred = predict(case.lp, case.x)
    assert pred.vector_cycles == [42]
    assert pred.conversions == [0, 1, 0, 0, 0] and pred.planes == 1
    assert cycle_model(case.lp)["cycles"] == 57                 # without inputs: the weight-only schedule
    plain = Case("one_step", cfg.replace(input_aware=False), case.w, x)
    assert predict(plain.lp, x).vector_cycles == [57]
    assert predict(case.lp, np.zeros((1, 8), np.int64)).conversions == [0] * 5


def test_signmag_inputs_refuse_the_twos_complement_minimum():
    case = Case("sm", ArrayConfig(rows=8, cols=14, input_encoding="signmag"), np.ones((5, 1), np.int64),
                np.zeros((1, 5), np.int64))
    with pytest.raises(SwsError, match=r"input \[0, 0\] = -128 is outside -127..127"):
        check_inputs(case.lp, np.full(5, -128))


def test_cycle_model_by_hand_with_two_columns_per_adc():
    """K = 3, N = 1, w = (3, 1, 1), R = 8: one section of 3 rows; slot column 0 (bit 0) holds 3 ones
    (2 bits), slot column 1 (bit 1) one (1 bit). With M = 2 both sit on ADC 0: two batches a plane."""
    from mapper.sectioning import map_layer
    from mapper.plan import build_layer_plan
    from mapper.sources import QuantLayer
    w = np.array([[3], [1], [1]])
    lp = build_layer_plan(map_layer(QuantLayer("w", w), ArrayConfig(rows=8, cols=14, adc_mux=2, n_adc=7)))
    assert lp.columns["slot_col"].tolist() == [0, 1] and lp.columns["res"].tolist() == [2, 1]
    # lanes 1: gather g = 2 for max(3 rows, 2 columns) = 3 cycles, in `next` at r = 2 + 3 + 5 = 10, copied
    # at 10; with ADC groups the first batch's lanes are registered the cycle after the copy and its
    # widest lane the cycle after that, so the first issue is e = 10 + 1 + 2 = 13; 8 planes of batches
    # 2 + 1 = 3 cycles, the last (1 bit) issued at 13 + 24 - 1 = 36 and captured through the registered
    # boundary at 36 + 1 + 1 = 38; D = 4 + ceil(log2 7) = 7: RUN ends at 38 + 7 + 5 = 50, 51 cycles;
    # 3 load + 51 + 1 + 1 output = 56. Bound: ADC 0's 2 + 1 bits a plane, 24.
    got = cycle_model(lp)
    assert (got["cycles"], got["adc_bound"], got["batch_cycles"]) == (56, 24, 24)
    x = np.array([[5, -7, 100], [-128, 127, -1]])
    assert np.array_equal(predict(lp, x).outputs, x @ w)
    # A full switch matrix (16 ADCs): one batch of 2 cycles a plane, the last issued at 11 + 16 - 2 = 25 and
    # captured at 25 + 1 + 2 = 28, D = 8: RUN ends at 28 + 8 + 5 = 41, 3 + 42 + 1 + 1 = 47.
    lp0 = build_layer_plan(map_layer(QuantLayer("w", w), ArrayConfig(rows=8, cols=14)))
    assert cycle_model(lp0)["cycles"] == 47


def test_the_counters_that_count_an_event_depend_on_the_timing_and_the_beat():
    from hwgen.params import TileParams
    from mapper.schedule import MacroTiming, ScheduleParams
    from sim.golden import HARDWARE_COUNTERS, hardware_counters
    case = CASES[0]
    plain = hardware_counters(ScheduleParams.of(case.lp))          # no phases, one element a beat
    assert plain == {**HARDWARE_COUNTERS, "inputs": "input_beats", "outputs": "output_beats"}
    timed = TileParams.from_plan(case.lp.on_hardware(beat=2), None, MacroTiming(precharge=2, settle=1))
    assert hardware_counters(timed) == {**HARDWARE_COUNTERS, "precharges": "precharges"}
