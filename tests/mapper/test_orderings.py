"""Orderings beyond magnitude: each group's kept rows are its nonzero-key rows, grouped by sign pattern."""

import numpy as np

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import given, settings

from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan, rebuild_weights
from mapper.sources import QuantLayer
from mapper.sectioning import group_keys, row_orders

from .strategies import layers_and_configs


@settings(max_examples=150, deadline=None)
@given(layers_and_configs(orderings=("signed", "gray")))
def test_kept_rows_are_a_permutation_of_the_nonzero_key_rows(case):
    w, cfg = case
    order, kept = row_orders(w, cfg)
    keys = group_keys(w, cfg.hw.group)
    for g in range(len(kept)):
        assert sorted(order[g].tolist()) == list(range(w.shape[0]))
        assert sorted(order[g, :kept[g]].tolist()) == np.nonzero(keys[g])[0].tolist()
    assert np.array_equal(rebuild_weights(build_layer_plan(map_layer(QuantLayer("w", w), cfg))), w)


@settings(max_examples=100, deadline=None)
@given(layers_and_configs(orderings=("signed", "gray")))
def test_rows_with_the_same_sign_pattern_are_contiguous(case):
    w, cfg = case
    order, kept = row_orders(w, cfg)
    k, n = w.shape
    for g in range(len(kept)):
        cols = [c for c in range(g * cfg.hw.group, (g + 1) * cfg.hw.group) if c < n]
        pattern = [tuple(int(np.sign(w[r, c])) for c in cols) for r in order[g, :kept[g]]]
        runs = [p for i, p in enumerate(pattern) if i == 0 or p != pattern[i - 1]]
        assert len(runs) == len(set(runs))


def test_signed_puts_positive_weights_first_each_by_descending_magnitude():
    w = np.array([[-5], [3], [0], [7], [-9], [3]])
    order, kept = row_orders(w, ArrayConfig(ordering="signed"))
    assert kept.tolist() == [5]
    assert order[0, :5].tolist() == [3, 1, 5, 4, 0]


def test_gray_orders_by_highest_bit_then_the_gray_code_of_the_lower_bits():
    # Magnitudes 4..7 share the highest bit 2; lower bits 0, 1, 2, 3 have Gray codes 0, 1, 3, 2.
    w = np.array([[7], [4], [6], [5], [1]])
    order, kept = row_orders(w, ArrayConfig(ordering="gray"))
    assert order[0, :kept[0]].tolist() == [1, 3, 0, 2, 4]
