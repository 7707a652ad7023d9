"""The fast paths (bit slices unpacked from bytes, plain sections counted block by block, references sharing
their sections) give exactly what the straightforward computations give, on random layers."""

import dataclasses

import numpy as np
import pytest

from mapper.sectioning import block_bit_counts, group_bit_cumsum, weight_bits_of
from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
from mapper.cost.report import map_layers, reference_configs
from mapper.sectioning import plain_cuts, row_orders, section_layer

RNG = np.random.default_rng(2024)


def _layer(k, n, bm, sparsity):
    w = RNG.integers(-(2 ** bm - 1), 2 ** bm, (k, n))
    w[RNG.random((k, n)) < sparsity] = 0
    return w


@pytest.mark.parametrize("bm", [1, 2, 7, 8, 9, 15])
def test_weight_bits_are_the_sign_magnitude_bits_one_by_one(bm):
    w = _layer(23, 11, bm, 0.3)
    bits = weight_bits_of(w, bm)
    assert bits.shape == (23, 11, 2, bm) and bits.dtype == np.uint8
    for (k, n), v in np.ndenumerate(w):
        for s, mag in enumerate((max(int(v), 0), max(-int(v), 0))):
            assert [int(x) for x in bits[k, n, s]] == [(mag >> b) & 1 for b in range(bm)]


@pytest.mark.parametrize("k, n, group, bm, rows", [(37, 5, 2, 7, 8), (300, 40, 1, 7, 128), (100, 9, 4, 9, 16),
                                                   (64, 3, 3, 15, 300), (1, 1, 1, 7, 1)])
def test_block_counts_equal_explicit_sums_and_running_sum_differences(k, n, group, bm, rows):
    w = _layer(k, n, bm, 0.5)
    n_groups = -(-n // group)
    order = np.stack([RNG.permutation(k) for _ in range(n_groups)])
    got = block_bit_counts(w, order, group, bm, rows)
    csum = group_bit_cumsum(w, order, group, bm)
    starts = np.arange(0, k, rows)
    np.testing.assert_array_equal(got, csum[:, np.minimum(starts + rows, k)] - csum[:, starts])
    g, blk = n_groups - 1, len(starts) - 1             # the last group and block, by hand
    for j in range(group):
        out = g * group + j
        for b in range(bm):
            rows_of = order[g, blk * rows:]
            pos = sum((max(int(w[r, out]), 0) >> b) & 1 for r in rows_of) if out < n else 0
            neg = sum((max(-int(w[r, out]), 0) >> b) & 1 for r in rows_of) if out < n else 0
            assert (got[g, blk, j, 0, b], got[g, blk, j, 1, b]) == (pos, neg)


CONFIGS = [dict(), dict(ordering="natural"), dict(group=4, cols=128), dict(ordering="signed", rows=16),
           dict(ordering="gray", group=2, rows=32), dict(policy="section", cap=3), dict(policy="full", rows=64),
           dict(weight_bits=4, rows=8, cols=32)]


@pytest.mark.parametrize("fields", CONFIGS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()) or "default")
def test_plain_sections_and_references_equal_the_straightforward_computation(fields):
    cfg = ArrayConfig(**fields)
    layers = [QuantLayer(f"l{i}", _layer(k, n, cfg.hw.weight_bits, s))
              for i, (k, n, s) in enumerate([(200, 30, 0.8), (77, 13, 0.0), (130, 5, 0.95)])]
    for layer in layers:
        sec = section_layer(layer.weights, cfg, plain_cuts)
        order, kept = row_orders(layer.weights, cfg)
        csum = group_bit_cumsum(layer.weights, order, cfg.hw.group, cfg.hw.weight_bits)
        _, _, g, start, length = plain_cuts(layer.weights, cfg, order, kept, csum)
        np.testing.assert_array_equal(sec.counts, csum[g, start + length] - csum[g, start])
        np.testing.assert_array_equal(sec.order, order)
    natural_cfg, dense_cfg = reference_configs(cfg)
    def same(a, b):
        # The report's ADC energy is its events' conversions priced by resolution: the same sum in
        # another order.
        assert a.energy_pj == pytest.approx(b.energy_pj, rel=1e-12)
        assert dataclasses.replace(a, energy_pj=0.0) == dataclasses.replace(b, energy_pj=0.0)
    for r, layer in zip(map_layers(layers, cfg), layers):
        same(r.cost, map_layer(layer, cfg).cost())
        same(r.natural, map_layer(layer, natural_cfg).cost())
        same(r.dense, map_layer(layer, dense_cfg).cost())
