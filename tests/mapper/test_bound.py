"""Lower bounds: never above the energy of any lossless plan, and the closed forms written out by hand."""

import numpy as np
import pytest

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import given, settings
from hypothesis import strategies as st

from mapper.cost import column_bound, column_ones, lower_bound
from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer

from .strategies import layers_and_configs

TABLE = (1.0, 1.5, 2.5, 3.0, 5.0, 6.0, 11.0, 16.0, 30.0)


def ones_by_hand(w, bm):
    """(N, 2, Bm) ones per (output, sign, bit) column, with Python integers."""
    k, n = w.shape
    out = np.zeros((n, 2, bm), int)
    for r in range(k):
        for c in range(n):
            v = int(w[r, c])
            for b in range(bm):
                out[c, 0 if v > 0 else 1, b] += (abs(v) >> b) & 1
    return out


def with_law(cfg, law):
    return cfg.replace(law=law, law_table=TABLE if law == "table" else None)


@settings(max_examples=200, deadline=None)
@given(layers_and_configs(policies=("column", "section", "full", "dense"),
                          orderings=("sorted", "natural", "signed", "gray")),
       st.sampled_from(["walden", "thermal", "table", "isaac", "neurosim", "murmann", "mnsim"]),
       st.sampled_from(["plain", "optimal", "refined"]))
def test_no_lossless_plan_costs_less_than_either_bound(case, law, sectioning):
    w, cfg = case
    cfg = with_law(cfg, law)
    if cfg.mapping.policy != "dense":
        cfg = cfg.replace(sectioning=sectioning if cfg.mapping.policy == "column" or sectioning != "refined" else "optimal")
    energy = map_layer(QuantLayer("w", w), cfg).cost().energy_pj
    closed, split = lower_bound(w, cfg), column_bound(w, cfg)
    assert closed <= split * (1 + 1e-9) + 1e-12           # the per-column split is the tighter bound
    assert split <= energy * (1 + 1e-9) + 1e-12


def test_walden_bound_is_ones_plus_nonempty_columns():
    w = np.array([[3, -1], [1, 0], [0, -2]])
    cfg = ArrayConfig(weight_bits=2, law="walden")
    # ones: output 0 +: bit0 = 2 (3, 1), bit1 = 1 (3); output 1 -: bit0 = 1, bit1 = 1: 5 ones, 4 columns.
    assert column_ones(w, 2).tolist() == ones_by_hand(w, 2).tolist()
    assert lower_bound(w, cfg) == pytest.approx(1.67 * 2 ** -8 * 8 * (5 + 4))


def test_thermal_bound_is_reached_by_one_row_sections():
    w = np.random.default_rng(1).integers(-127, 128, (40, 5))
    cfg = ArrayConfig(law="thermal", rows=1)
    ones = ones_by_hand(w, 7).sum()
    assert lower_bound(w, cfg) == pytest.approx(1.67 * 4.0 ** -7 * 8 * ones)
    # With one row per section every column holds at most one one: each conversion is 1 bit.
    assert map_layer(QuantLayer("w", w), cfg).cost().energy_pj == pytest.approx(lower_bound(w, cfg))


def test_table_bound_takes_the_cheapest_energy_per_one():
    cfg = ArrayConfig(rows=4, law="table", law_table=TABLE)
    w = np.array([[1], [1], [1], [1], [1], [1], [1]])   # one column of 7 ones
    # Per one: 1.0 / 1, 1.5 / 3, 2.5 / min(7, 4) -> 0.5 at 2 bits; 7 ones -> 3.5 (> E_min = 1.0).
    e8 = 1.67 / TABLE[7]
    assert lower_bound(w, cfg) == pytest.approx(8 * e8 * 0.5 * 7)
    # Split on its own: 3 + 3 + 1 ones at 2, 2, 1 bits = 1.5 + 1.5 + 1.0.
    assert column_bound(w, cfg) == pytest.approx(8 * e8 * 4.0)


def test_a_column_of_two_ones_costs_two_one_bit_conversions_at_least():
    # M = 2: one section needs 2 bits (4 units), two sections 1 bit each (2 + 2): the split bound is 4, the
    # closed form M + 1 = 3.
    w = np.array([[1], [1]])
    cfg = ArrayConfig(law="walden")
    unit = 1.67 * 2 ** -8 * 8
    assert lower_bound(w, cfg) == pytest.approx(3 * unit)
    assert column_bound(w, cfg) == pytest.approx(4 * unit)


def test_the_report_gives_the_bound_and_every_ratio_per_layer_and_in_total():
    from mapper.cost import map_layers, report_dict
    rng = np.random.default_rng(5)
    layers = [QuantLayer(f"l{i}", rng.integers(-127, 128, (40, 6))) for i in range(2)]
    cfg = ArrayConfig(rows=16, sectioning="optimal", ordering="gray")
    report = report_dict(map_layers(layers, cfg), cfg, source="test", sparsity=0.0)
    for row, layer in zip(report["layers"], layers):
        assert row["lower_bound_pj"] == pytest.approx(lower_bound(layer.weights, cfg))
        assert row["column_bound_pj"] == pytest.approx(column_bound(layer.weights, cfg))
        assert row["ratio_to_bound"] == pytest.approx(row["energy_pj"] / row["column_bound_pj"])
        plain = map_layer(layer, ArrayConfig(rows=16)).cost()
        assert row["plain_energy_pj"] == pytest.approx(plain.energy_pj)
        assert row["plain_sections"] == plain.sections and row["plain_crossbars"] == plain.crossbars
        assert row["ratio_to_plain"] == pytest.approx(row["energy_pj"] / plain.energy_pj) and row["ratio_to_plain"] <= 1
    total = report["total"]
    assert total["lower_bound_pj"] == pytest.approx(sum(r["lower_bound_pj"] for r in report["layers"]))
    assert total["column_bound_pj"] == pytest.approx(sum(r["column_bound_pj"] for r in report["layers"]))
    assert total["ratio_to_bound"] == pytest.approx(total["energy_pj"] / total["column_bound_pj"])
    assert total["plain_energy_pj"] == pytest.approx(sum(r["plain_energy_pj"] for r in report["layers"]))
    plain_report = report_dict(map_layers(layers, ArrayConfig(rows=16)), ArrayConfig(rows=16), source="t", sparsity=0.0)
    assert "plain_energy_pj" not in plain_report["total"] and plain_report["total"]["ratio_to_bound"] >= 1
