import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.prepare import prepare_layer, prune, quantize
from mapper.sources import Layer


def test_prune_zeroes_the_rounded_fraction_of_smallest_magnitudes():
    w = np.array([[0.5, -3.0], [2.0, -0.1], [1.0, 4.0]])
    # round(0.5 * 6) = 3 smallest |w|: 0.1, 0.5, 1.0
    assert prune(w, 0.5).tolist() == [[0.0, -3.0], [2.0, 0.0], [0.0, 4.0]]
    # round(0.25 * 6) = round(1.5) = 2: 0.1 and 0.5
    assert np.count_nonzero(prune(w, 0.25) == 0) == 2


def test_prune_breaks_ties_by_position():
    w = np.array([[1, 1], [1, 1]])
    assert prune(w, 0.5).tolist() == [[0, 0], [1, 1]]


@pytest.mark.parametrize("s", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
def test_sparsity_outside_zero_to_one_is_refused(s):
    with pytest.raises(SwsError, match=r"sparsity must be a number in \[0, 1\)"):
        prune(np.ones((2, 2)), s)


def test_float_weights_are_quantized_symmetrically_per_tensor():
    w = np.array([[1.0, -0.5], [0.25, -2.0]])
    q, scale = quantize(w, 7)
    # scale = 2 / 127; 1.0 -> 63.5 -> 64 (round half to even), -0.5 -> -31.75 -> -32, 0.25 -> 15.875 -> 16
    assert scale.tolist() == [2.0 / 127]
    assert q.tolist() == [[64, -32], [16, -127]]


def test_per_channel_quantization_scales_each_output():
    w = np.array([[1.0, -0.5], [0.25, -0.25]])
    q, scale = quantize(w, 7, per_channel=True)
    assert scale.tolist() == [1.0 / 127, 0.5 / 127]
    assert q.tolist() == [[127, -127], [32, -64]]     # 0.25 * 127 = 31.75 -> 32; -0.25 / 0.5 * 127 = -63.5 -> -64


def test_integer_weights_are_taken_as_they_are():
    w = np.array([[127, -127], [0, 5]], dtype=np.int8)
    q, scale = quantize(w, 7)
    assert scale is None and q.tolist() == [[127, -127], [0, 5]]


def test_integer_weights_out_of_range_are_refused_with_the_position():
    w = np.array([[1, -128]], dtype=np.int8)
    with pytest.raises(SwsError, match=r"layer x: integer weight W\[0, 1\] = -128 is outside -127..127"):
        prepare_layer(Layer("x", w), ArrayConfig())


def test_prepare_prunes_then_quantizes():
    w = np.arange(1, 11, dtype=np.float64).reshape(5, 2)
    q = prepare_layer(Layer("x", w), ArrayConfig(weight_bits=3), 0.4)
    assert q.sparsity == pytest.approx(0.4)
    assert q.weights.max() == 7


def test_pruning_by_selection_equals_the_stable_sort_of_magnitudes():
    rng = np.random.default_rng(5)
    for w in (rng.integers(-3, 4, (40, 30)), rng.laplace(0, 1, (17, 9)).round(1), np.zeros((5, 5)), np.ones((3, 4))):
        for s in (0.1, 0.37, 0.5, 0.9, 0.99):
            n_zero = int(round(s * w.size))
            expected = w.copy().reshape(-1)
            expected[np.argsort(np.abs(w), axis=None, kind="stable")[:n_zero]] = 0
            np.testing.assert_array_equal(prune(w, s), expected.reshape(w.shape))
