"""Invariants of ordering and sectioning, for any layer and array (hypothesis)."""

import numpy as np

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import given, settings

from mapper.config import ArrayConfig
from mapper.sectioning import input_planes
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
from mapper.sectioning import group_keys, section_layer

from .strategies import layers_and_configs


@settings(max_examples=150, deadline=None)
@given(layers_and_configs())
def test_every_nonzero_weight_lands_in_exactly_one_row_of_one_section(case):
    w, cfg = case
    sec = section_layer(w, cfg)
    k, n = w.shape
    seen = np.zeros((k, n), dtype=int)
    for s in range(sec.n_sections):
        outs = np.arange(cfg.hw.group) + sec.sec_group[s] * cfg.hw.group
        outs = outs[outs < n]
        rows = sec.section_rows(s)
        assert len(set(rows.tolist())) == len(rows)
        seen[np.ix_(rows, outs)] += 1
    assert np.all(seen[w != 0] == 1)
    assert np.all(seen <= 1)
    if cfg.mapping.ordering == "sorted":   # zeros never take a row: each kept row has a nonzero in its group
        keys = group_keys(w, cfg.hw.group)
        for s in range(sec.n_sections):
            assert np.all(keys[sec.sec_group[s], sec.section_rows(s)] > 0)


@settings(max_examples=150, deadline=None)
@given(layers_and_configs())
def test_no_section_has_more_than_r_rows_and_none_is_empty(case):
    w, cfg = case
    sec = section_layer(w, cfg)
    assert np.all(sec.sec_len <= cfg.hw.rows)
    assert np.all(sec.sec_len >= 1)


@settings(max_examples=150, deadline=None)
@given(layers_and_configs(orderings=("sorted",)))
def test_sorted_sections_come_in_non_increasing_key_order(case):
    w, cfg = case
    sec = section_layer(w, cfg)
    keys = group_keys(w, cfg.hw.group)
    for s in range(sec.n_sections - 1):
        if sec.sec_group[s] == sec.sec_group[s + 1]:
            this = keys[sec.sec_group[s], sec.section_rows(s)]
            nxt = keys[sec.sec_group[s], sec.section_rows(s + 1)]
            assert this.min() >= nxt.max()
            assert np.all(np.diff(this) <= 0)


@settings(max_examples=100, deadline=None)
@given(layers_and_configs(policies=("column", "section", "full", "dense"), caps=(None, 1, 2, 3)))
def test_no_column_count_exceeds_its_resolution_unless_capped(case):
    w, cfg = case
    lm = map_layer(QuantLayer("w", w), cfg)
    rng = np.random.default_rng(0)
    x = rng.integers(cfg.hw.input_min, cfg.hw.input_max + 1, (8, w.shape[0]))
    x[0] = cfg.hw.input_min       # all-ones sign plane: the largest counts there
    x[1] = -1 if cfg.hw.input_signed else cfg.hw.input_max
    planes = input_planes(x, cfg.hw.input_bits)
    for s in range(lm.sec.n_sections):
        rows = lm.sec.section_rows(s)
        g = lm.sec.sec_group[s]
        for j in range(cfg.hw.group):
            out = g * cfg.hw.group + j
            col = w[rows, out] if out < w.shape[1] else np.zeros(len(rows), dtype=np.int64)
            for sign, mag in ((0, np.maximum(col, 0)), (1, np.maximum(-col, 0))):
                for b in range(cfg.hw.weight_bits):
                    cells = (mag >> b) & 1
                    counts = planes[:, :, rows] @ cells
                    res = lm.res[s, j, sign, b]
                    if cells.any():
                        assert res >= 1, "a column holding ones must be converted"
                    if cfg.mapping.cap is None or res < cfg.mapping.cap:
                        assert counts.max(initial=0) <= 2 ** res - 1
