"""The tile (controller + array emulator) in Amaranth simulation, bit for bit against numpy and the golden model.

Set SWS_VCD=FOLDER to write each case's waveform into that folder.
"""

import os

import numpy as np
import pytest

from hwgen.params import TileParams
from mapper.common import SwsError
from mapper.config import ArrayConfig
from sim.amaranth_sim import read_counters, run_tile
from sim.golden import predict
from tests.sim.cases import (BIPOLAR, ENCODINGS, Case, bipolar_cases, check, encoding_cases, inputs, mux_cases,
                             rtl_cases, sparse_inputs, weights)

CASES = rtl_cases()


#: Resolved at import, before the tests move into their temporary folders.
VCD_DIR = os.path.abspath(os.environ["SWS_VCD"]) if os.environ.get("SWS_VCD") else None


def _vcd(name):
    return os.path.join(VCD_DIR, f"{name}.vcd") if VCD_DIR else None


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_tile_is_bit_exact_with_numpy_and_the_golden_model(case):
    run = run_tile(case.lp, case.x, vcd=_vcd(case.name))
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("case", encoding_cases(), ids=lambda c: c.name)
def test_every_input_encoding_and_resolution_mode_is_bit_exact(case):
    run = run_tile(case.lp, case.x, vcd=_vcd(case.name))
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("case", mux_cases(), ids=lambda c: c.name)
def test_adc_groups_of_m_columns_are_bit_exact_and_cycle_exact(case):
    run = run_tile(case.lp, case.x, vcd=_vcd(case.name))
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("suffix, fields", ENCODINGS, ids=[e[0] for e in ENCODINGS])
def test_one_generic_drive_netlist_serves_two_plans(suffix, fields):
    _one_generic_netlist_serves_two_plans(fields, 31)


def _one_generic_netlist_serves_two_plans(fields: dict, seed: int):
    """Two plans of other shapes, orderings and resolution policies (weights and inputs from `seed` and
    `seed` + 1) on one generic netlist of the drive hardware `fields`."""
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, group=2, **fields)
    a = Case("a", cfg, weights(20, 3, 0.5, seed),
             np.concatenate([inputs(cfg, 20, seed), sparse_inputs(cfg, 20, seed)]))
    b = Case("b", cfg.replace(ordering="natural", policy="section"), weights(14, 4, 0.3, seed + 1),
             np.concatenate([inputs(cfg, 14, seed + 1), sparse_inputs(cfg, 14, seed + 1)]))
    limits = TileParams(cfg.hw, k=24, n=4, section_depth=8, row_depth=48, column_depth=96, lanes=2)
    for case in (a, b):
        run = run_tile(case.lp, case.x, generic=limits)
        check(case, run, predict(case.lp, case.x, limits))


@pytest.mark.parametrize("case", bipolar_cases(), ids=lambda c: c.name)
def test_the_bipolar_drive_is_bit_exact_with_numpy_and_the_golden_model(case):
    run = run_tile(case.lp, case.x, vcd=_vcd(case.name))
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("suffix, fields", BIPOLAR, ids=[e[0] for e in BIPOLAR])
def test_a_capped_bipolar_tile_saturates_at_both_ends_like_the_golden_model(suffix, fields):
    """capped_lossy (cap 2) on bipolar hardware: some column's signed count, worked out here from the plan's
    cells and the inputs' signs and magnitude bits, passes 2**res - 1 and some passes -(2**res - 1); the
    tile's outputs are then not x @ W, and equal the golden model's."""
    base = next(c for c in CASES if c.name == "capped_lossy")
    cfg = base.cfg.replace(**fields)
    x = np.concatenate([inputs(cfg, 40, 13), sparse_inputs(cfg, 40, 13)])
    case = Case(f"capped_{suffix}", cfg, base.w, x)
    lp, a = case.lp, cfg.hw.input_bits
    high = low = False
    for s in range(lp.n_sections):
        rows, nact = int(lp.sections["rows"][s]), int(lp.sections["n_active"][s])
        idx = lp.row_index[int(lp.sections["row_base"][s]):][:rows]
        cs = slice(int(lp.sections["col_base"][s]), int(lp.sections["col_base"][s]) + nact)
        for slot, res in zip(lp.columns["slot_col"][cs], lp.columns["res"][cs]):
            cells = lp.cells[s, :rows, slot].astype(np.int64)
            for t in range(a - 1):
                count = ((np.abs(x[:, idx]) >> t & 1) * np.sign(x[:, idx])) @ cells
                high |= bool((count > 2 ** int(res) - 1).any())
                low |= bool((count < -(2 ** int(res) - 1)).any())
    assert high and low
    run = run_tile(case.lp, case.x)
    assert not np.array_equal(run.outputs, case.x @ case.w)
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("suffix, fields", BIPOLAR, ids=[e[0] for e in BIPOLAR])
def test_one_generic_bipolar_netlist_serves_two_plans(suffix, fields):
    _one_generic_netlist_serves_two_plans(fields, 41)


@pytest.mark.parametrize("seed", range(3))
def test_random_bipolar_hardware_is_bit_exact(seed):
    rng = np.random.default_rng(700 + seed)
    rows = int(rng.choice([8, 16, 32]))
    group = int(rng.choice([1, 2]))
    cfg = ArrayConfig(rows=rows, cols=14 * group, group=group, n_adc=int(rng.choice([1, 3, 16])),
                      ordering=str(rng.choice(["sorted", "natural", "signed", "gray"])),
                      policy=str(rng.choice(["column", "section", "full"])), input_bits=int(rng.choice([2, 3, 4, 8])),
                      input_encoding="bipolar", input_aware=bool(rng.random() < 0.5),
                      cap=None if rng.random() < 0.6 else int(rng.integers(1, 4)))
    k, n = int(rng.integers(1, 2 * rows + 3)), int(rng.integers(1, 4))
    x = np.concatenate([inputs(cfg, k, seed, random_vectors=2), sparse_inputs(cfg, k, seed)])
    case = Case(f"random_bipolar{seed}", cfg, weights(k, n, float(rng.choice([0.0, 0.5, 0.9])), seed), x)
    run = run_tile(case.lp, case.x)
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("seed", range(4))
def test_random_drive_hardware_is_bit_exact(seed):
    rng = np.random.default_rng(300 + seed)
    rows = int(rng.choice([8, 16, 32, 64]))
    group = int(rng.choice([1, 2]))
    ordering = str(rng.choice(["sorted", "natural"]))
    cfg = ArrayConfig(rows=rows, cols=14 * group, group=group, n_adc=int(rng.choice([1, 3, 16])),
                      ordering=ordering, policy=str(rng.choice(["column", "section", "full"])),
                      input_bits=int(rng.choice([3, 4, 8])), input_encoding=str(rng.choice(["twos", "signmag"])),
                      input_aware=bool(rng.random() < 0.75),
                      cap=None if rng.random() < 0.7 else int(rng.integers(1, 4)))
    k, n = int(rng.integers(1, 2 * rows + 3)), int(rng.integers(1, 4))
    x = np.concatenate([inputs(cfg, k, seed, random_vectors=2), sparse_inputs(cfg, k, seed)])
    case = Case(f"random_drive{seed}", cfg, weights(k, n, float(rng.choice([0.0, 0.5, 0.9])), seed), x)
    run = run_tile(case.lp, case.x)
    check(case, run, predict(case.lp, case.x))


def test_capped_tile_saturates_like_the_golden_model():
    case = next(c for c in CASES if c.name == "capped_lossy")
    run = run_tile(case.lp, case.x)
    assert not np.array_equal(run.outputs, case.x @ case.w)
    assert np.array_equal(run.outputs, predict(case.lp, case.x).outputs)


def test_one_generic_netlist_serves_plans_that_differ_in_mapping_and_energy():
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, group=2)
    a = Case("a", cfg, weights(20, 3, 0.5, 21), inputs(cfg, 20, 21))
    # Another layer, ordering, policy and energy law on the same hardware: the same netlist.
    other = cfg.replace(ordering="natural", policy="section", law="thermal", e8_pj=2.0)
    b = Case("b", other, weights(14, 4, 0.3, 22), inputs(cfg, 14, 22))
    assert b.lp.cfg != a.lp.cfg and b.lp.cfg.hw == a.lp.cfg.hw
    limits = TileParams(cfg.hw, k=24, n=4, section_depth=8, row_depth=48, column_depth=96, lanes=1)
    for case in (a, b):
        run = run_tile(case.lp, case.x, generic=limits)
        check(case, run, predict(case.lp, case.x, limits))


def test_one_generic_adc_group_netlist_serves_a_fixed_and_a_balanced_placement():
    cfg = ArrayConfig(rows=8, cols=28, n_adc=4, group=2, adc_mux=7)
    a = Case("fixed", cfg, weights(20, 3, 0.4, 23), inputs(cfg, 20, 23))
    b = Case("balanced", cfg.replace(placement="balanced"), weights(20, 3, 0.4, 23), inputs(cfg, 20, 23))
    assert b.lp.cfg.hw == a.lp.cfg.hw and not np.array_equal(a.lp.cells, b.lp.cells)
    limits = TileParams(cfg.hw, k=24, n=4, section_depth=8, row_depth=48, column_depth=96, lanes=1)
    for case in (a, b):
        run = run_tile(case.lp, case.x, generic=limits)
        check(case, run, predict(case.lp, case.x, limits))


def test_a_generic_tile_refuses_a_plan_for_other_hardware_naming_the_difference():
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, group=2)
    case = Case("a", cfg.replace(n_adc=4), weights(20, 3, 0.5, 21), inputs(cfg, 20, 21))
    limits = TileParams(cfg.hw, k=24, n=4, section_depth=8, row_depth=48, column_depth=96, lanes=1)
    with pytest.raises(SwsError, match=r"its hardware differs from the tile's: n_adc 4 \(tile: 3\)"):
        limits.fits(case.lp)


@pytest.mark.parametrize("lanes", [1, 2, 4])
def test_gather_lanes_change_the_cycles_as_modelled_not_the_outputs(lanes):
    cfg = ArrayConfig(rows=16, cols=14, n_adc=16)
    case = Case("lanes", cfg, weights(64, 2, 0.0, 23), inputs(cfg, 64, 23))
    params = TileParams.from_plan(case.lp, lanes)
    run = run_tile(case.lp, case.x, params=params)
    check(case, run, predict(case.lp, case.x, params))


@pytest.mark.parametrize("seed", range(6))
def test_random_layers_and_configurations_are_bit_exact(seed):
    rng = np.random.default_rng(100 + seed)
    rows = int(rng.choice([8, 16, 32, 64]))
    group = int(rng.choice([1, 2]))
    ordering = str(rng.choice(["sorted", "natural"]))
    policy = str(rng.choice(["column", "section", "full"] + (["dense"] if ordering == "natural" else [])))
    input_bits = int(rng.choice([4, 8]))
    cfg = ArrayConfig(rows=rows, cols=14 * group, group=group, n_adc=int(rng.choice([1, 3, 16])),
                      ordering=ordering, policy=policy, input_bits=input_bits,
                      cap=None if rng.random() < 0.7 else int(rng.integers(1, 4)))
    k, n = int(rng.integers(1, 2 * rows + 3)), int(rng.integers(1, 4))
    case = Case(f"random{seed}", cfg, weights(k, n, float(rng.choice([0.0, 0.5, 0.8, 0.95])), seed),
                inputs(cfg, k, seed, random_vectors=2))
    run = run_tile(case.lp, case.x)
    check(case, run, predict(case.lp, case.x))


def test_tile_params_refuse_bad_lanes_and_plans_that_do_not_fit():
    case = CASES[0]
    with pytest.raises(SwsError, match="lanes must be a power of two, not 3"):
        TileParams.from_plan(case.lp, 3)
    with pytest.raises(SwsError, match=f"lanes must be at most the rows R = {case.cfg.hw.rows}"):
        TileParams.from_plan(case.lp, 1 << 20)
    small = TileParams(case.cfg, k=case.lp.shape[0], n=case.lp.shape[1], section_depth=1, row_depth=64,
                       column_depth=64, lanes=1)
    with pytest.raises(SwsError, match=r"section_depth \d+ exceeds the tile's limit 1"):
        small.fits(case.lp)
    other = next(c for c in CASES if c.cfg.hw != case.cfg.hw)
    with pytest.raises(SwsError, match="its hardware differs from the tile's"):
        TileParams.from_plan(case.lp).fits(other.lp)


def test_accumulator_width_holds_the_largest_output():
    cfg = ArrayConfig(rows=8, cols=14, input_bits=4)
    w = np.full((9, 1), -127)
    case = Case("extreme", cfg, w, np.full((1, 9), -8))
    params = TileParams.from_plan(case.lp)
    assert (case.x @ w).item() == 9 * 127 * 8
    assert params.acc_width == (9 * 127 * 15).bit_length() + 1
    assert np.array_equal(run_tile(case.lp, case.x).outputs, case.x @ w)


def test_a_reset_in_the_middle_of_a_vector_leaks_nothing_into_the_next():
    """Reset while a vector's sections are being accumulated, then run a whole vector: its outputs and
    counters are the golden model's for that vector alone (the accumulators are cleared after reset)."""
    from amaranth.sim import Simulator

    from hwgen.tile import Tile
    from mapper.schedule import cycle_model
    from tests.hwgen.reset import WithReset
    case = next(c for c in CASES if c.name == "group2_partial")
    params = TileParams.from_plan(case.lp)
    dut = Tile(params, case.lp)
    top = WithReset(dut, "tile")
    rst = top.rst

    n = case.lp.shape[1]
    first, second = case.x[1], case.x[2]
    got = {}

    async def feed(ctx, x):
        for v in x:
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, int(v))
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        await feed(ctx, first)
        # Run until all but the last section's sums are in the accumulators.
        await ctx.tick().repeat(cycle_model(case.lp, params)["run"] - 12)
        assert not ctx.get(dut.o.valid)
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        await feed(ctx, second)
        ys = []
        while len(ys) < n:
            _, _, valid, y = await ctx.tick().sample(dut.o.valid, dut.o.payload)
            if valid:
                ys.append(y)
        got["y"] = ys
        await ctx.tick().repeat(4)
        got["conversions"] = (await read_counters(ctx, dut.counters, case.cfg.hw.full_resolution))["conversions"]

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = predict(case.lp, second[None, :])
    assert got["y"] == list(second @ case.w) == list(want.outputs[0])
    assert got["conversions"] == want.conversions
