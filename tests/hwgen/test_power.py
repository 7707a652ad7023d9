"""The macro's enable and sleep (hwgen/power.py, docs/design.md section 6 "Electrical interface"): the power
gate alone (its registers, the wake-up wait, a refused turn-off), the emulator's power rules on a bus
driven by hand, and the tile: x @ W with the first vector after reset and after each wake the wake-up
longer, by hand and by the golden model, a sleep written during a vector refused."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.emulator import VIOLATIONS, ArrayEmulator
from hwgen.interface import ERRORS, pack_beats
from hwgen.params import TileParams
from hwgen.power import PowerControl
from hwgen.tile import Tile
from mapper.common import SwsError
from mapper.schedule import MacroTiming
from sim.amaranth_sim import read_counters
from sim.golden import predict
from tests.sim.cases import rtl_cases

CASE = {c.name: c for c in rtl_cases()}["r8_k_not_multiple"]


def _sim(dut, bench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()


def test_power_options_are_checked():
    with pytest.raises(SwsError, match="wake 3: a wake-up time needs a macro with power control"):
        MacroTiming(wake=3)
    with pytest.raises(SwsError, match="wake must be at most 4095 cycles, not 4096"):
        MacroTiming(power=True, wake=4096)
    with pytest.raises(SwsError, match="power must be True or False, not 1"):
        MacroTiming(power=1)
    assert MacroTiming(power=True, wake=7).first_wake == 7 and MacroTiming().first_wake == 0


async def _pulse(ctx, dut, **values):
    for name, v in values.items():
        ctx.set(getattr(dut, name), v)
    await ctx.tick()
    for name in values:
        ctx.set(getattr(dut, name), 0)


async def _write(ctx, dut, en, sleep):
    ctx.set(dut.power.en, en)
    ctx.set(dut.power.sleep, sleep)
    ctx.set(dut.power.we, 1)
    refused = ctx.get(dut.refused)
    await ctx.tick()
    ctx.set(dut.power.we, 0)
    return refused


async def _start_latency(ctx, dut, limit=100):
    """Pulse `start`; the cycles until `start_out` (0: the same cycle), `holding` high in every cycle
    between (from the cycle after `start`: the controller's RUN begins then)."""
    ctx.set(dut.start, 1)
    for c in range(limit):
        out, hold = ctx.get(dut.start_out), ctx.get(dut.holding)
        await ctx.tick()
        ctx.set(dut.start, 0)
        if out:
            return c
        assert hold or c == 0, "a walk waits only while holding is high"
    raise AssertionError("no start_out")


@pytest.mark.parametrize("wake", [0, 1, 6])
def test_the_gate_holds_the_first_walk_after_reset_and_after_each_wake_for_the_wake_up(wake):
    dut = PowerControl(wake)
    got = {}

    async def bench(ctx):
        ctx.set(dut.idle, 1)
        assert (ctx.get(dut.en), ctx.get(dut.sleep)) == (1, 0)                # reset: enabled, awake
        got["after reset"] = await _start_latency(ctx, dut)
        got["again"] = await _start_latency(ctx, dut)
        assert not await _write(ctx, dut, 1, 1)                                # sleep, idle: taken
        assert (ctx.get(dut.en), ctx.get(dut.sleep)) == (1, 1)
        assert not await _write(ctx, dut, 1, 0)                                # wake
        await ctx.tick().repeat(20)                                            # the wait is from the walk
        got["after a wake"] = await _start_latency(ctx, dut)
        assert not await _write(ctx, dut, 0, 0)                                # disable
        assert ctx.get(dut.en) == 0
        ctx.set(dut.idle, 0)                                                   # a vector begins ...
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        await ctx.tick().repeat(5)
        assert ctx.get(dut.holding) and not ctx.get(dut.start_out)            # ... and waits while off
        assert not await _write(ctx, dut, 1, 0)                                # turning on: taken while busy
        for c in range(wake + 2):
            if ctx.get(dut.start_out):
                break
            await ctx.tick()
        got["enabled while waiting"] = c
        assert await _write(ctx, dut, 1, 1)                                    # sleep during a vector: refused
        assert (ctx.get(dut.en), ctx.get(dut.sleep)) == (1, 0)
        assert await _write(ctx, dut, 0, 0)                                    # so is disabling
        assert ctx.get(dut.en) == 1

    _sim(dut, bench)
    # By hand: `wake` cycles after reset and after a wake, none otherwise; enabled while a walk waits: the
    # en register is loaded the cycle after the write, the wake-up counted from there.
    assert got == {"after reset": wake, "again": 0, "after a wake": wake,
                   "enabled while waiting": wake if wake else 0}


def _bus_bench(timing, steps):
    """An ArrayEmulator of `timing` driven by hand: `steps` a list of dicts of bus values, one a cycle; the
    violations (names) after the last."""
    params = TileParams.from_plan(CASE.lp, timing=timing)
    dut = ArrayEmulator(params, CASE.lp)
    got = {}

    async def bench(ctx):
        for values in steps:
            for name, v in values.items():
                sig = dut.bus.adc[0].start if name == "start" else getattr(dut.bus, name)
                ctx.set(sig, v)
            ctx.set(dut.bus.adc[0].res, 1)
            ctx.set(dut.bus.adc[0].ref, 1)
            await ctx.tick()
        got["v"] = ctx.get(dut.violation)

    _sim(dut, bench)
    return [r for k, r in enumerate(VIOLATIONS) if got["v"] >> k & 1]


@pytest.mark.parametrize("phase", ["pch", "wl_en", "start", "wr_en"])
def test_the_emulator_refuses_to_compute_or_write_while_disabled_or_asleep(phase):
    tm = MacroTiming(power=True)
    off = [{"en": 0, "sleep": 0}, {phase: 1}, {phase: 0}]
    asleep = [{"en": 1, "sleep": 1}, {phase: 1}, {phase: 0}]
    on = [{"en": 1, "sleep": 0}, {phase: 1}, {phase: 0}, {}, {}]
    assert _bus_bench(tm, off) == ["array used while disabled or asleep"]
    assert _bus_bench(tm, asleep) == ["array used while disabled or asleep"]
    assert "array used while disabled or asleep" not in _bus_bench(tm, on)


def test_the_emulator_flags_a_precharge_within_the_wake_up():
    tm = MacroTiming(precharge=1, power=True, wake=4)
    # Woken at cycle 1 (sleep falls): a precharge 2 cycles later is too early, 5 cycles later is not.
    early = [{"en": 1, "sleep": 1}, {"sleep": 0}, {}, {"pch": 1}, {"pch": 0}]
    late = [{"en": 1, "sleep": 1}, {"sleep": 0}, {}, {}, {}, {}, {"pch": 1}, {"pch": 0}]
    assert _bus_bench(tm, early) == ["precharge before the wake-up"]
    assert _bus_bench(tm, late) == []


def _tile_run(timing, x, plan_between):
    """The tile on vectors x, one at a time; before vector v the power writes plan_between.get(v, [])
    (each (en, sleep)). Returns (outputs, cycles per vector from the counters, errors, violations, the
    bus's en and sleep after the writes)."""
    params = TileParams.from_plan(CASE.lp, timing=timing)
    dut = Tile(params, CASE.lp)
    out = {"outputs": [], "cycles": [], "power": []}
    n = CASE.lp.shape[1]

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        before = 0
        for v, vec in enumerate(x):
            for en, sleep in plan_between.get(v, []):
                ctx.set(dut.power.en, en)
                ctx.set(dut.power.sleep, sleep)
                ctx.set(dut.power.we, 1)
                await ctx.tick()
                ctx.set(dut.power.we, 0)
                await ctx.tick().repeat(3)
            out["power"].append((ctx.get(dut.controller.bus.en), ctx.get(dut.controller.bus.sleep)))
            for word in pack_beats(vec, 1, 8):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, word)
                await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            got = []
            while len(got) < n:
                valid, value = await ctx.tick().sample(dut.o.valid, dut.o.payload).until(dut.o.valid)
                got.append(value.as_signed() if hasattr(value, "as_signed") else value)
            out["outputs"].append([int(g) for g in got])
            c = await read_counters(ctx, dut.counters, params.hw.adc_bits)
            out["cycles"].append(c["cycles"] - before)
            before = c["cycles"]
        out["errors"] = [e for k, e in enumerate(ERRORS) if ctx.get(dut.status.errors) >> k & 1]
        out["violation"] = [r for k, r in enumerate(VIOLATIONS) if ctx.get(dut.violation) >> k & 1]

    _sim(dut, bench)
    return out


@pytest.mark.parametrize("phases", [(0, 0, 0, 0), (1, 1, 1, 1)], ids=["no_phases", "phases"])
def test_the_first_vector_after_reset_and_after_each_wake_takes_the_wake_up_more(phases):
    """Vectors 0..3: reset (a wake), vector 0; vector 1; sleep and wake before vector 2; disable and enable
    before vector 3. Outputs x @ W; cycles the golden model's (default power: none of the wake) plus `wake`
    on vectors 0, 2 and 3, by hand; the first vector's the golden model's with power (`first_wake`)."""
    wake = 9
    timing = MacroTiming(*phases, power=True, wake=wake)
    x = np.concatenate([CASE.x, CASE.x])[:4]
    run = _tile_run(timing, x, {2: [(1, 1), (1, 0)], 3: [(0, 0), (1, 0)]})
    assert run["errors"] == [] and run["violation"] == []
    assert np.array_equal(np.array(run["outputs"]), x @ CASE.w)
    plain = predict(CASE.lp, x, TileParams.from_plan(CASE.lp, timing=MacroTiming(*phases))).vector_cycles
    assert run["cycles"] == [plain[0] + wake, plain[1], plain[2] + wake, plain[3] + wake]
    powered = predict(CASE.lp, x, TileParams.from_plan(CASE.lp, timing=timing)).vector_cycles
    assert powered == [plain[0] + wake] + plain[1:]
    assert run["power"] == [(1, 0)] * 4


def test_a_sleep_written_while_a_vector_runs_is_refused_and_the_macro_stays_awake():
    params = TileParams.from_plan(CASE.lp, timing=MacroTiming(power=True, wake=2))
    dut = Tile(params, CASE.lp)
    got = {}

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for word in pack_beats(CASE.x[0], 1, 8):
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, word)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        assert ctx.get(dut.status.busy)
        ctx.set(dut.power.en, 1)
        ctx.set(dut.power.sleep, 1)
        ctx.set(dut.power.we, 1)
        await ctx.tick()
        ctx.set(dut.power.we, 0)
        await ctx.tick().repeat(3)
        got["errors"] = [e for k, e in enumerate(ERRORS) if ctx.get(dut.status.errors) >> k & 1]
        got["sleep"] = ctx.get(dut.controller.bus.sleep)
        got["violation"] = ctx.get(dut.violation)

    _sim(dut, bench)
    assert got == {"errors": ["host_protocol"], "sleep": 0, "violation": 0}


@pytest.mark.parametrize("hardware", [{"banks": 2}, {"double_buffer": True},
                                      {"banks": 2, "beat": 2, "double_buffer": True}],
                         ids=["banks2", "double_buffer", "banks2_beat2_double"])
def test_banks_and_double_buffering_with_power_control_and_a_guard_take_the_golden_cycles(hardware):
    """Every bank's macro gets en and sleep; the wake-up holds the first walk while the next vector loads
    (double buffering): outputs x @ W, the golden model's cycles (the first vector's the wake-up more)
    and counters."""
    from sim.amaranth_sim import run_tile
    base = {c.name: c for c in rtl_cases()}["group2_partial"]
    lp = base.lp.on_hardware(**hardware)
    params = TileParams.from_plan(lp, timing=MacroTiming(1, 1, 0, 1, guard=2, power=True, wake=11))
    run = run_tile(lp, base.x, params=params)
    assert np.array_equal(run.outputs, base.x @ base.w)
    want = predict(lp, base.x, params)
    assert run.cycles_per_vector == want.vector_cycles and run.counters == want.counters()
    unpowered = predict(lp, base.x, TileParams.from_plan(lp, timing=MacroTiming(1, 1, 0, 1, guard=2)))
    assert want.vector_cycles[0] == unpowered.vector_cycles[0] + 11


def test_the_cycle_model_counts_the_wake_up_in_the_latency_not_in_the_throughput():
    from mapper.schedule import cycle_model
    plain = cycle_model(CASE.lp, TileParams.from_plan(CASE.lp))
    woken = cycle_model(CASE.lp, TileParams.from_plan(CASE.lp, timing=MacroTiming(power=True, wake=13)))
    assert woken["cycles"] == plain["cycles"] + 13 and woken["throughput"] == plain["throughput"]
    assert woken["run"] == plain["run"]
