"""ADC groups of M columns (adc_mux) and the SWS-aware placement: lockstep batches, the M-constrained ADC
bound and the balanced placement, against hand calculation and brute force."""

import itertools

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import lockstep_batches, mux_bound, place_section
from mapper.plan import build_layer_plan, check_layer_plan, load_plan, rebuild_weights, write_plan
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
from mapper.config import ArrayConfig as _Cfg
from mapper.plan import LayerPlan
from mapper.schedule import MacroTiming, section_tables


def _one_section(res, slot, m):
    """The schedule's tables of a plan of one section whose columns (column-table order) are at `slot`, on
    ADC groups of m columns."""
    res, slot = np.asarray(res, np.int64), np.asarray(slot, np.int64)
    bm = -(-(int(slot.max()) + 1) // 2)
    cfg = _Cfg(rows=8, cols=2 * bm, weight_bits=bm, input_bits=2, group=1, adc_mux=m, n_adc=-(-2 * bm // m))
    z = np.zeros(1, np.int64)
    lp = LayerPlan("s", cfg, (8, 1), {"rows": z + 8, "row_base": z, "col_base": z, "n_active": z + len(res),
                                      "out_base": z}, np.arange(8), {"slot_col": slot, "out": 0 * slot,
                                                                     "sign": 0 * slot, "bit": 0 * slot, "res": res},
                   None)
    return section_tables(lp, 1, MacroTiming(), ones=z)


def _batches(res, slot, n_adc, m):
    """The widest resolution of each lockstep batch of one section (the schedule's: default timing, so each
    batch's period is its width; its last batch is read from the tables)."""
    del n_adc
    t = _one_section(res, slot, m)
    full = t.full
    return int(t.batch_bits[0, full]), int(t.last_period[0, full])


def _step_bound(res, slot, n_adc, m):
    del n_adc
    t = _one_section(res, slot, m)
    return int(t.bound[0, t.full])
from tests.sim.cases import weights


def _brute_lockstep(res, m):
    """Fewest cycles of lockstep batches (one column per group a batch, a batch as long as its widest) over
    every order of every group's columns."""
    groups = [[r for r in res[g:g + m] if r] for g in range(0, len(res), m)]
    best = None
    for orders in itertools.product(*(itertools.permutations(g) for g in groups)):
        depth = max((len(o) for o in orders), default=0)
        total = sum(max(o[k] for o in orders if len(o) > k) for k in range(depth))
        best = total if best is None else min(best, total)
    return best or 0


def _brute_makespan(res, m):
    """Fewest cycles of any schedule of one step: every conversion starts at an integer cycle, an ADC
    converts one column at a time, ADC g only its group's columns (exhaustive over start cycles)."""
    jobs = [(i // m, r) for i, r in enumerate(res) if r]
    horizon = sum(r for _, r in jobs)
    best = horizon
    for starts in itertools.product(range(horizon), repeat=len(jobs)):
        end = max((s + r for s, (_, r) in zip(starts, jobs)), default=0)
        if end >= best:
            continue
        busy = {}
        ok = True
        for s, (g, r) in zip(starts, jobs):
            for t in range(s, s + r):
                if (g, t) in busy:
                    ok = False
                    break
                busy[(g, t)] = True
            if not ok:
                break
        if ok:
            best = end
    return best


@pytest.mark.parametrize("seed", range(12))
def test_lockstep_batches_widest_first_are_the_best_lockstep_order_by_brute_force(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(1, 4))
    res = np.where(rng.random(7) < 0.7, rng.integers(1, 6, 7), 0)
    assert sum(lockstep_batches(res, m)) == _brute_lockstep(res, m)


@pytest.mark.parametrize("res, m", [([2, 1, 3, 0], 2), ([1, 1, 2, 2], 2), ([3, 0, 1, 2], 1), ([2, 1, 1, 0], 4),
                                    ([1, 2, 0, 2], 3)])
def test_mux_bound_is_the_fewest_cycles_of_any_schedule_by_brute_force(res, m):
    res = np.array(res)
    want = _brute_makespan(res, m)
    assert mux_bound(res, m) == want
    # The golden model's bound of a section whose columns are listed in slot order.
    slot = np.nonzero(res)[0]
    assert _step_bound(res[slot], slot, 99, m) == want
    assert sum(lockstep_batches(res, m)) >= want


def test_golden_batches_by_hand_with_two_columns_per_adc():
    # Column table (group-major, widest first): slots 1 (3 b), 0 (1 b) | 2 (2 b) | 5 (2 b), 4 (2 b).
    res, slot = np.array([3, 1, 2, 2, 2]), np.array([1, 0, 2, 5, 4])
    # Batch 0: slots 1, 2, 5: 3 bits; batch 1: slots 0, 4: 2 bits.
    assert _batches(res, slot, 3, 2) == (3 + 2, 2)
    # ADCs 0, 1, 2 convert 3 + 1, 2, 2 + 2 bits: the busiest takes 4 cycles.
    assert _step_bound(res, slot, 3, 2) == 4


def test_balanced_placement_deals_sorted_columns_over_the_groups_by_hand():
    cfg = ArrayConfig(rows=8, cols=14, weight_bits=1, group=2, adc_mux=2, n_adc=2, placement="balanced")
    res = np.array([3, 3, 1, 1])           # logical columns (j * 2 + sign) * Bm + bit
    # Fixed: groups {3, 3} and {1, 1}: batches of 3 and 3 bits, 6 cycles a step.
    assert sum(lockstep_batches(res, 2)) == 6
    # Balanced: widest first 0, 1, 2, 3 dealt to groups 0, 1, 0, 1 -> slots 0, 2, 1, 3: {3, 1} and {3, 1}.
    perm = place_section(res, cfg)
    assert perm.tolist() == [0, 2, 1, 3]
    placed = np.zeros(4, np.int64)
    placed[perm] = res
    assert sum(lockstep_batches(placed, 2)) == 4
    # With the fixed placement the slot order stays.
    assert place_section(res, cfg.replace(placement="fixed")).tolist() == [0, 1, 2, 3]


@pytest.mark.parametrize("seed", range(10))
def test_balanced_placement_is_the_best_of_all_placements_while_no_group_fills(seed):
    """Six slot columns, M = 3 (two groups), at most four active columns: round robin fills no group,
    so the balanced placement takes the fewest lockstep cycles of all 720 placements."""
    rng = np.random.default_rng(seed)
    cfg = ArrayConfig(rows=8, cols=14, weight_bits=3, adc_mux=3, n_adc=2, placement="balanced")
    res = np.zeros(6, np.int64)
    active = rng.choice(6, int(rng.integers(1, 5)), replace=False)
    res[active] = rng.integers(1, 5, len(active))
    perm = place_section(res, cfg)
    assert sorted(perm.tolist()) == list(range(6))
    placed = np.zeros(6, np.int64)
    placed[perm] = res
    best = min(sum(lockstep_batches(np.array(p), 3)) for p in itertools.permutations(res.tolist()))
    assert sum(lockstep_batches(placed, 3)) == best
    assert best <= sum(lockstep_batches(res, 3))


@pytest.mark.parametrize("mux, n_adc", [(1, 14), (4, 4), (3, 5), (8, 2)])
def test_a_balanced_plan_round_trips_and_never_takes_more_cycles_than_fixed(tmp_path, mux, n_adc):
    from mapper.schedule import cycle_model
    w = weights(60, 3, 0.5, mux)
    cycles = {}
    for placement in ("fixed", "balanced"):
        cfg = ArrayConfig(rows=16, adc_mux=mux, n_adc=n_adc, placement=placement)
        lp = build_layer_plan(map_layer(QuantLayer("w", w), cfg))
        check_layer_plan(lp)
        folder = tmp_path / placement
        folder.mkdir()
        write_plan(str(folder), [lp], {})
        back = load_plan(str(folder)).layer()
        assert np.array_equal(rebuild_weights(back), w)
        assert np.array_equal(back.cells, lp.cells)
        cycles[placement] = cycle_model(back)["cycles"]
    assert cycles["balanced"] <= cycles["fixed"]
    if mux == 1:
        assert cycles["balanced"] == cycles["fixed"]       # one column per ADC: nothing to balance


def test_a_misordered_column_table_is_refused_with_the_group_rule():
    cfg = ArrayConfig(rows=16, adc_mux=4, n_adc=4)
    lp = build_layer_plan(map_layer(QuantLayer("w", weights(30, 1, 0.0, 3)), cfg))
    nact = int(lp.sections["n_active"][0])
    assert nact >= 2 and len(set(lp.columns["slot_col"][:nact] // 4)) >= 2
    # Swap the first section's first and last entries: the groups are no longer ascending.
    for f in lp.columns:
        lp.columns[f][[0, nact - 1]] = lp.columns[f][[nact - 1, 0]]
    with pytest.raises(SwsError, match=r"ADC group \(slot column // adc_mux\) first"):
        check_layer_plan(lp)


@pytest.mark.parametrize("fields, message", [
    ({"adc_mux": -1}, "adc_mux must be an integer >= 0, not -1"),
    ({"adc_mux": 4}, r"n_adc must be ceil\(slot columns 14 / adc_mux 4\) = 4 with adc_mux 4 .*not 16"),
    ({"adc_mux": 15, "n_adc": 1}, "adc_mux must be at most the slot's 14 columns"),
    ({"placement": "balanced"}, "placement 'balanced' balances the ADC groups of adc_mux >= 1"),
    ({"placement": "random"}, "placement must be one of fixed, balanced, not 'random'"),
])
def test_bad_mux_settings_are_refused_with_the_rule(fields, message):
    with pytest.raises(SwsError, match=message):
        ArrayConfig(**fields)


@pytest.mark.parametrize("fields", [{}, {"adc_mux": 4, "n_adc": 4}, {"adc_mux": 4, "n_adc": 4, "placement": "balanced"},
                                    {"adc_mux": 3, "n_adc": 5, "placement": "balanced"}])
def test_the_input_aware_analysis_batches_like_the_golden_model(fields):
    from mapper.cost import weight_only_cost
    from mapper.schedule import cycle_model
    lm = map_layer(QuantLayer("w", weights(60, 3, 0.5, 1)), ArrayConfig(rows=16, **fields))
    assert weight_only_cost(lm, "twos")["adc_cycles"] == cycle_model(build_layer_plan(lm))["batch_cycles"]
