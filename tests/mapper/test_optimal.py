"""Optimal sectioning: the dynamic program against brute force over every cut, and the plan invariants it keeps."""

import itertools

import numpy as np
import pytest

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import given, settings
from hypothesis import strategies as st

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan, rebuild_weights
from mapper.sources import QuantLayer
from mapper.sectioning import row_orders, section_layer

from .strategies import layers_and_configs

TABLE = (1.0, 1.5, 2.5, 3.0, 5.0, 6.0, 11.0, 16.0, 30.0)


def conversion_pj(cfg, b):
    """One conversion at b bits, written out from docs/design.md section 4 (not mapper.config.energy)."""
    if cfg.energy.law == "walden":
        return cfg.energy.e8_pj * 2.0 ** (b - 8)
    if cfg.energy.law == "thermal":
        return cfg.energy.e8_pj * 4.0 ** (b - 8)
    return cfg.energy.e8_pj * cfg.energy.law_table[b - 1] / cfg.energy.law_table[7]


def section_pj(w, cfg, group, rows):
    """ADC energy per input vector of one section: the given input rows of one output group."""
    outs = [n for n in range(group * cfg.hw.group, (group + 1) * cfg.hw.group) if n < w.shape[1]]
    full = int(np.ceil(np.log2(cfg.hw.rows + 1)))
    needs = []
    for n in outs:
        for sign in (1, -1):
            mags = [max(sign * int(w[k, n]), 0) for k in rows]
            for b in range(cfg.hw.weight_bits):
                m = sum((v >> b) & 1 for v in mags)
                needs.append(int(m).bit_length())
    active = [b for b in needs if b > 0]
    if cfg.mapping.policy == "section":
        res = [max(active)] * len(active) if active else []
    elif cfg.mapping.policy == "full":
        res = [full] * len(active)
    else:
        res = active
    if cfg.mapping.cap is not None:
        res = [min(b, cfg.mapping.cap) for b in res]
    return cfg.hw.input_bits * sum(conversion_pj(cfg, b) for b in res)


def compositions(n, most):
    """Every way to cut n ordered rows into consecutive parts of 1..most rows."""
    if n == 0:
        yield ()
        return
    for first in range(1, min(n, most) + 1):
        for rest in compositions(n - first, most):
            yield (first,) + rest


def brute_force_pj(w, cfg):
    """The least energy plus section cost over every cut of every group's order (the order is row_orders')."""
    order, kept = row_orders(w, cfg)
    total = 0.0
    for g in range(len(kept)):
        rows = order[g, :kept[g]]
        best = np.inf
        for parts in compositions(int(kept[g]), cfg.hw.rows):
            at, cost = 0, 0.0
            for p in parts:
                cost += section_pj(w, cfg, g, rows[at:at + p]) + cfg.mapping.section_cost_pj
                at += p
            best = min(best, cost)
        total += best
    return total


@st.composite
def small_cases(draw):
    bm = draw(st.sampled_from([2, 3]))
    group = draw(st.sampled_from([1, 2]))
    k = draw(st.integers(1, 9))
    n = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 31)))
    w = rng.integers(-(2 ** bm - 1), 2 ** bm, (k, n))
    w[rng.random((k, n)) < draw(st.sampled_from([0.0, 0.3, 0.7]))] = 0
    law = draw(st.sampled_from(["walden", "thermal", "table"]))
    cfg = ArrayConfig(rows=draw(st.sampled_from([1, 2, 3, 4, 7])), cols=2 * bm * group, weight_bits=bm,
                      input_bits=draw(st.sampled_from([2, 8])), group=group,
                      ordering=draw(st.sampled_from(["sorted", "natural", "signed", "gray"])),
                      sectioning="optimal", policy=draw(st.sampled_from(["column", "section", "full"])),
                      cap=draw(st.sampled_from([None, None, 1, 2])), law=law,
                      law_table=TABLE if law == "table" else None,
                      section_cost_pj=draw(st.sampled_from([0.0, 0.0, 0.05, 1.0])))
    return w, cfg


@settings(max_examples=300, deadline=None)
@given(small_cases())
def test_dynamic_program_matches_brute_force_over_every_cut(case):
    w, cfg = case
    lm = map_layer(QuantLayer("w", w), cfg)
    got = lm.cost().energy_pj + cfg.mapping.section_cost_pj * lm.sec.n_sections
    assert got == pytest.approx(brute_force_pj(w, cfg), rel=1e-9, abs=1e-12)


def test_a_column_of_64_ones_is_split_below_the_power_of_two():
    # 64 rows with the same weight 1: one section of 64 ones needs 7 bits (2 x 64 units), 63 + 1 needs
    # 6 + 1 bits (64 + 2 units). Plain SWS with R = 128 keeps one section.
    w = np.ones((64, 1), np.int64)
    cfg = ArrayConfig(sectioning="optimal", law="walden")
    lm = map_layer(QuantLayer("w", w), cfg)
    assert sorted(lm.sec.sec_len.tolist()) == [1, 63]
    unit = cfg.energy.e8_pj * 2.0 ** -8 * cfg.hw.input_bits
    assert lm.cost().energy_pj == pytest.approx(66 * unit)
    assert map_layer(QuantLayer("w", w), cfg.replace(sectioning="plain")).cost().energy_pj == pytest.approx(128 * unit)


def test_a_section_cost_keeps_the_sections_together():
    w = np.ones((64, 1), np.int64)
    walden = ArrayConfig(law="walden")
    unit = walden.energy.e8_pj * 2.0 ** -8 * walden.hw.input_bits
    # Splitting saves 62 units of energy: a section cost above that keeps one section.
    cheap = map_layer(QuantLayer("w", w), walden.replace(sectioning="optimal", section_cost_pj=61 * unit))
    dear = map_layer(QuantLayer("w", w), walden.replace(sectioning="optimal", section_cost_pj=63 * unit))
    assert cheap.sec.n_sections == 2 and dear.sec.n_sections == 1


@settings(max_examples=150, deadline=None)
@given(layers_and_configs(orderings=("sorted", "natural", "signed", "gray")))
def test_optimal_cuts_never_cost_more_than_plain_cuts_of_the_same_order(case):
    w, cfg = case
    plain = map_layer(QuantLayer("w", w), cfg).cost()
    opt = map_layer(QuantLayer("w", w), cfg.replace(sectioning="optimal")).cost()
    assert opt.energy_pj <= plain.energy_pj * (1 + 1e-12) + 1e-12


@settings(max_examples=150, deadline=None)
@given(layers_and_configs(policies=("column",), orderings=("sorted", "natural", "signed", "gray"), caps=(None, 2)),
       st.sampled_from([0.0, 0.05, 0.5]), st.sampled_from(["walden", "thermal", "table"]))
def test_refining_never_costs_more_than_the_optimal_cuts_it_starts_from(case, section_cost, law):
    w, cfg = case
    cfg = cfg.replace(sectioning="optimal", section_cost_pj=section_cost, law=law,
                      law_table=TABLE if law == "table" else None)
    opt = map_layer(QuantLayer("w", w), cfg)
    ref = map_layer(QuantLayer("w", w), cfg.replace(sectioning="refined"))
    objective = [lm.cost().energy_pj + section_cost * lm.sec.n_sections for lm in (opt, ref)]
    assert objective[1] <= objective[0] * (1 + 1e-9) + 1e-12


def test_refining_regroups_rows_that_no_cut_of_the_order_can_put_together():
    # Order 7, 6, 5, 5: bit 0 holds 7, 5, 5; bit 1 holds 7, 6; bit 2 all four. In units of E8 2**-8 A:
    # one section costs 4 + 4 + 8 = 16 and no cut of this order does better; {7, 5, 5} + {6} costs
    # (4 + 2 + 4) + (2 + 2) = 14, which is each column split on its own at its cheapest.
    w = np.array([[7], [6], [5], [5]])
    cfg = ArrayConfig(weight_bits=3, cols=6, law="walden")
    unit = cfg.energy.e8_pj * 2.0 ** -8 * cfg.hw.input_bits
    opt = map_layer(QuantLayer("w", w), cfg.replace(sectioning="optimal"))
    ref = map_layer(QuantLayer("w", w), cfg.replace(sectioning="refined"))
    assert opt.cost().energy_pj == pytest.approx(16 * unit)
    assert ref.cost().energy_pj == pytest.approx(14 * unit)
    assert sorted(sorted(w[ref.sec.section_rows(s), 0].tolist()) for s in range(2)) == [[5, 5, 7], [6]]


@settings(max_examples=150, deadline=None)
@given(layers_and_configs(orderings=("sorted", "natural", "signed", "gray"), caps=(None, 2)),
       st.sampled_from([0.0, 0.5]), st.sampled_from(["optimal", "refined"]))
def test_an_optimal_plan_rebuilds_w_and_keeps_every_invariant(case, section_cost, sectioning):
    w, cfg = case
    if sectioning == "refined":
        cfg = cfg.replace(policy="column")
    cfg = cfg.replace(sectioning=sectioning, section_cost_pj=section_cost)
    lm = map_layer(QuantLayer("w", w), cfg)
    sec = lm.sec
    assert np.all(sec.sec_len >= 1) and np.all(sec.sec_len <= cfg.hw.rows)
    # Each group's sections tile its kept rows in order, from position 0 to kept[g].
    for g in range(len(sec.kept)):
        mine = sec.sec_group == g
        ends = np.cumsum(sec.sec_len[mine])
        assert np.array_equal(sec.sec_start[mine], np.concatenate([[0], ends])[:len(ends)])
        assert (ends[-1] if len(ends) else 0) == sec.kept[g]
    k, n = w.shape
    seen = np.zeros((k, n), int)
    for s in range(sec.n_sections):
        outs = np.arange(cfg.hw.group) + sec.sec_group[s] * cfg.hw.group
        seen[np.ix_(sec.section_rows(s), outs[outs < n])] += 1
    assert np.all(seen[w != 0] == 1) and np.all(seen <= 1)
    assert np.array_equal(rebuild_weights(build_layer_plan(lm)), w)


def test_a_layer_of_zeros_has_no_sections():
    lm = map_layer(QuantLayer("w", np.zeros((5, 3), np.int64)), ArrayConfig(sectioning="optimal"))
    assert lm.sec.n_sections == 0 and lm.cost().energy_pj == 0


def test_long_groups_in_many_chunks_give_the_same_cuts(monkeypatch):
    import mapper.sectioning.optimal as optimal
    w = np.random.default_rng(3).integers(-127, 128, (300, 7))
    cfg = ArrayConfig(rows=16, sectioning="optimal")
    whole = section_layer(w, cfg)
    monkeypatch.setattr(optimal, "CUBE_BYTES", 1)          # one group per chunk, several threads
    parts = section_layer(w, cfg)
    for a in ("sec_group", "sec_start", "sec_len"):
        assert np.array_equal(getattr(whole, a), getattr(parts, a))



def test_refining_in_many_chunks_gives_the_same_sections(monkeypatch):
    import mapper.sectioning.optimal as optimal
    w = np.random.default_rng(4).integers(-127, 128, (60, 7))
    w[np.random.default_rng(5).random(w.shape) < 0.6] = 0
    cfg = ArrayConfig(rows=16, sectioning="refined")
    whole = section_layer(w, cfg)
    monkeypatch.setattr(optimal, "SWAP_ELEMENTS", 1)       # one group per chunk
    parts = section_layer(w, cfg)
    for a in ("order", "sec_group", "sec_start", "sec_len"):
        assert np.array_equal(getattr(whole, a), getattr(parts, a))


@pytest.mark.parametrize("changes, message", [
    ({"section_cost_pj": -1.0}, "section_cost_pj must be a finite number >= 0, not -1.0"),
    ({"section_cost_pj": float("nan")}, "section_cost_pj must be a finite number >= 0, not nan"),
    ({"sectioning": "optimal", "section_cost_pj": "1"}, "section_cost_pj must be a finite number >= 0, not '1'"),
    ({"section_cost_pj": 1.0}, "section_cost_pj is only used with sectioning 'optimal' or 'refined', not with "
                               "sectioning 'plain'"),
    ({"sectioning": "best"}, "sectioning must be one of plain, optimal, refined, not 'best'"),
    ({"sectioning": "refined", "policy": "section"},
     "sectioning 'refined' prices moves per column: it needs policy 'column', not 'section'"),
    ({"sectioning": "optimal", "ordering": "natural", "policy": "dense"},
     "policy 'dense' is the plain-sectioned reference: it needs sectioning 'plain'"),
])
def test_bad_optimal_parameters_are_named_with_value_and_rule(changes, message):
    with pytest.raises(SwsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        ArrayConfig(**changes)
