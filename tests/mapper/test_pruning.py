"""One-shot pruning (mapper/prepare/pruning.py): each method against a hand calculation, brute force or numpy."""

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import map_layer
from mapper.prepare import AdcAware, dense_target, hessian, input_norms, magnitude, obs_factor, sparsegpt, wanda
from mapper.sources import QuantLayer
from mapper.prepare import prune

# E(b) = b pJ: a table law simple enough to price conversions by hand.
LINEAR = ArrayConfig(rows=4, cols=28, law="table", law_table=(1, 2, 3, 4, 5, 6, 7, 8), e8_pj=8.0)


def test_input_norms_are_the_l2_norm_of_each_input_over_the_tokens():
    x = np.array([[3.0, 0.0], [4.0, 1.0]])
    np.testing.assert_allclose(input_norms(x), [5.0, 1.0])


def test_wanda_prunes_the_lowest_weight_times_input_norm_in_each_output():
    w = np.array([[1, 4], [3, 1], [2, 2]], np.int8)
    norms = np.array([10.0, 1.0, 2.0])
    # Saliency column 0: 10, 3, 4; column 1: 40, 1, 4. One weight of three goes in each output.
    np.testing.assert_array_equal(wanda(w, 1 / 3, norms), [[1, 4], [0, 0], [2, 2]])
    # Magnitude alone (over the layer) would take the two 1s instead.
    np.testing.assert_array_equal(magnitude(w, 1 / 3), [[0, 4], [3, 0], [2, 2]])


def test_magnitude_without_adc_is_the_mappers_prune():
    w = np.random.default_rng(0).integers(-127, 128, (20, 9))
    np.testing.assert_array_equal(magnitude(w, 0.6), prune(w, 0.6))


def test_sparsegpt_moves_a_pruned_weight_into_the_other_by_hand():
    # H = [[2, 1], [1, 2]]: H^-1 has equal diagonals, so w0 = 1 (smaller) goes; minimizing
    # d^T H d with d0 = 1 gives d1 = -H10 / H11 = -1/2, so w1 = 3 + 1/2.
    h = np.array([[2.0, 1.0], [1.0, 2.0]])
    out = sparsegpt(np.array([[1.0], [3.0]]), 0.5, h, damp=0.0)
    np.testing.assert_allclose(out, [[0.0], [3.5]])


def test_sparsegpt_reconstructs_better_than_magnitude_and_wanda():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 24)) * rng.uniform(0.2, 3.0, 24) + 0.3 * rng.normal(size=(400, 1))
    w = rng.normal(size=(24, 10))
    err = {}
    for name, wp in (("magnitude", magnitude(w, 0.5)), ("wanda", wanda(w, 0.5, input_norms(x))),
                     ("sparsegpt", sparsegpt(w, 0.5, hessian(x), block=8))):
        assert np.count_nonzero(wp == 0) == w.size // 2
        err[name] = np.linalg.norm(x @ w - x @ wp)
    assert err["sparsegpt"] < err["wanda"] < err["magnitude"]


def test_sparsegpt_keeps_int8_weights_integer_in_range_and_still_wins():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 32)) * rng.uniform(0.2, 3.0, 32)
    w = rng.integers(-127, 128, (32, 12)).astype(np.int8)
    out = sparsegpt(w, 0.5, hessian(x), block=16)
    assert out.dtype == np.int8 and np.abs(out.astype(int)).max() <= 127
    assert np.count_nonzero(out == 0) >= w.size // 2
    assert np.linalg.norm(x @ (w - out)) < np.linalg.norm(x @ (w - magnitude(w, 0.5)))
    # At sparsity 0 nothing moves: every integer rounds to itself.
    np.testing.assert_array_equal(sparsegpt(w, 0.0, hessian(x)), w)


def test_sparsegpt_compares_outputs_in_real_units_through_their_scales():
    # Output 1's integers are twice output 0's, but its scale is a hundredth: in real units its weights are
    # the smaller ones, and with an identity Hessian the half of the weights pruned are all of output 1's.
    w = np.array([[10, 20], [12, 24], [14, 28], [16, 32]], np.int8)
    out = sparsegpt(w, 0.5, np.eye(4), scale=np.array([1.0, 0.01]), damp=0.0)
    np.testing.assert_array_equal(out, [[10, 0], [12, 0], [14, 0], [16, 0]])


def test_obs_factor_is_the_upper_cholesky_factor_of_the_damped_inverse():
    h = np.array([[4.0, 1.0, 0.0], [1.0, 3.0, 0.0], [0.0, 0.0, 0.0]])
    u, dead = obs_factor(h, damp=0.1)
    damped = h.copy()
    damped[2, 2] = 1.0
    damped += 0.1 * np.mean([4.0, 3.0, 1.0]) * np.eye(3)
    np.testing.assert_allclose(u.T @ u, np.linalg.inv(damped))
    assert np.allclose(u, np.triu(u)) and dead.tolist() == [False, False, True]


def test_dense_target_is_the_least_squares_fit_of_the_unpruned_output():
    rng = np.random.default_rng(3)
    xd = rng.normal(size=(200, 6))
    xp = xd + 0.3 * rng.normal(size=(200, 6))
    w = rng.normal(size=(6, 3))
    t = dense_target(w, xp.T @ xp, xp.T @ xd, damp=0.0)
    np.testing.assert_allclose(t, np.linalg.lstsq(xp, xd @ w, rcond=None)[0], atol=1e-10)


def test_adc_gains_are_each_ones_share_of_its_columns_conversions():
    # One output, rows 3 (bits 0, 1) and 1 (bit 0), one section: bit 0 holds 2 ones (2 bits, 2 pJ),
    # bit 1 one (1 bit, 1 pJ); each of the 8 input planes converts them.
    gains = AdcAware(LINEAR, 0.1).gains(np.array([[1], [3]]))
    np.testing.assert_allclose(gains, [[8 * 2 / 2], [8 * (2 / 2 + 1)]])


def test_adc_aware_wanda_breaks_a_saliency_tie_towards_the_weight_with_more_ones():
    # 8 * 7 = 7 * 8: equal saliency. 8 has one set bit, 7 has three; plain Wanda takes the first row.
    w = np.array([[8], [7], [100]])
    norms = np.array([7.0, 8.0, 1.0])
    np.testing.assert_array_equal(wanda(w, 1 / 3, norms), [[0], [7], [100]])
    np.testing.assert_array_equal(wanda(w, 1 / 3, norms, adc=AdcAware(LINEAR, 0.1)), [[8], [0], [100]])


def test_adc_aware_pruning_lowers_the_mapped_energy_at_the_same_sparsity():
    rng = np.random.default_rng(4)
    w = np.clip(np.rint(rng.laplace(0, 20, (64, 16))), -127, 127).astype(np.int64)
    norms = rng.uniform(0.5, 2.0, 64)
    cfg = ArrayConfig(rows=16, cols=28)
    energy = {}
    for trade in (0.0, 0.5):
        wp = wanda(w, 0.5, norms, adc=AdcAware(cfg, trade) if trade else None)
        assert np.count_nonzero(wp == 0) == np.count_nonzero(wanda(w, 0.5, norms) == 0)
        energy[trade] = map_layer(QuantLayer("l", wp), cfg).cost().energy_pj
    assert energy[0.5] < energy[0.0]


@pytest.mark.parametrize("trade", [-0.1, 1.5, float("nan"), True])
def test_adc_trade_outside_zero_to_one_is_refused(trade):
    with pytest.raises(SwsError, match="trade must be a number in \\[0, 1\\]"):
        AdcAware(ArrayConfig(), trade)


def test_adc_aware_pruning_refuses_a_policy_it_cannot_price_per_column():
    with pytest.raises(SwsError, match="policy column or full, not 'section'"):
        AdcAware(ArrayConfig(policy="section"), 0.1)
