"""The electrical view of the phase timing (hwgen/soc/electrical.py): windows in cycles from the timing,
the same-edge hazards of the unguarded schedule, the guard cycles that remove them, widths in ns; and the
RTL's own waveforms with guard cycles (the front alone and the whole tile) against that schedule, its
outputs, cycles and counters against x @ W and the golden model, the emulator's guard rules."""

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.emulator import VIOLATIONS
from hwgen.front import FrontPhases
from hwgen.interface import front_values, pack_beats
from hwgen.params import MacroTiming, TileParams
from hwgen.soc.electrical import PhaseWindows, cycles_for, implemented, phase_windows, same_edge, widths_ns
from hwgen.tile import Tile
from mapper.common import SwsError
from sim.amaranth_sim import run_tile
from sim.golden import predict
from sim.waveform import trace_interface
from tests.sim.cases import check, rtl_cases

CASES = {c.name: c for c in rtl_cases()}


def test_windows_follow_the_macro_contract_and_start_lands_at_the_front():
    t = MacroTiming(precharge=2, wordline=3, settle=1, sample=2)
    w = phase_windows(t)
    # By hand from docs/design.md: pch u..u+P-1, wl_en u+P..u+P+W-1, settle, sh the H cycles before start.
    assert (w.pch, w.wl_en, w.settle, w.sh, w.start) == ((0, 1), (2, 4), (5, 5), (6, 7), 8)
    assert w.start == t.front


def test_todays_schedule_switches_precharge_and_wordline_on_one_edge():
    hazards = same_edge(phase_windows(MacroTiming(precharge=1, wordline=1, settle=1, sample=1)))
    assert hazards == ["cycle 1: wl_en rises with pch falls"]
    # No precharge: the drive changes on the edge the wordline rises; no settle: sh rises as wl_en falls.
    assert same_edge(phase_windows(MacroTiming(wordline=2, sample=1))) == [
        "cycle 0: wl_en rises with drive changes", "cycle 2: wl_en falls with sh rises"]


@pytest.mark.parametrize("p, w, s, h", [(1, 1, 0, 1), (2, 3, 1, 0), (1, 1, 1, 1), (3, 2, 0, 2)])
def test_one_guard_cycle_leaves_no_wordline_edge_shared(p, w, s, h):
    t = MacroTiming(precharge=p, wordline=w, settle=s, sample=h)
    g = phase_windows(t, guard=1)
    assert same_edge(g) == []
    assert g.wl_en[0] - g.pch[1] == 2                        # one all-low cycle between them
    assert g.start == p + 1 + w + max(s, 1) + h              # F_G of docs/design.md
    assert g.start == dataclasses.replace(t, guard=1).front   # MacroTiming's front is F_G
    assert implemented(1) and implemented(7) and not implemented(8)


def test_widths_in_ns_and_the_cycles_a_minimum_needs():
    t = MacroTiming(precharge=2, wordline=3, settle=1, sample=1)
    ns = widths_ns(t, 150.0)
    assert ns["period"] == pytest.approx(6.6667, abs=1e-4)
    assert ns["precharge"] == pytest.approx(13.333, abs=1e-3) and ns["wordline"] == pytest.approx(20.0)
    assert cycles_for(10, 150) == 2 and cycles_for(20, 150) == 3 and cycles_for(6.6, 150) == 1
    assert cycles_for(0, 150) == 0
    with pytest.raises(SwsError, match="guard must be an integer from 0 to 7"):
        phase_windows(t, guard=8)


def test_the_guard_is_a_timing_field_checked_like_the_others():
    assert MacroTiming(precharge=1, wordline=2, settle=0, sample=1, guard=3).front == 1 + 3 + 2 + 3 + 1
    assert MacroTiming(precharge=2, sample=1, guard=2).front == 2 + 2 + 0 + 0 + 1      # no wordline: S, not G
    assert phase_windows(MacroTiming(precharge=1, wordline=1, guard=2)) == phase_windows(MacroTiming(1, 1), 2)
    with pytest.raises(SwsError, match="guard must be at most 7 cycles, not 8"):
        MacroTiming(guard=8)


def _windows(rows: dict, u: int) -> PhaseWindows:
    """The windows of pch, wl_en and sh in a waveform (`rows[name][c]`, cycle c), from cycle u on, up to the
    first start at or after u, as phase_windows states them (u = 0)."""
    start = next(c for c in range(u, len(rows["start"])) if rows["start"][c])

    def window(name):
        on = [c - u for c in range(u, start) if rows[name][c]]
        if on:
            assert on == list(range(on[0], on[-1] + 1)), f"{name} is not one pulse: {on}"
        return (on[0], on[-1]) if on else None
    return window("pch"), window("wl_en"), window("sh"), start - u


def _front_waveform(timing: MacroTiming) -> dict:
    """The front alone (hwgen.front.FrontPhases) with its timing registers at `timing`'s front: `go` in
    cycle 1, the phases recorded cycle by cycle; `start` the cycle after `fire` (the ADC start register)."""
    dut = FrontPhases()
    n = timing.front + 6
    rows = {"pch": [], "wl_en": [], "sh": [], "start": []}

    async def bench(ctx):
        ctx.set(dut.timing, front_values(timing))
        fire_was = 0
        for cycle in range(n):
            ctx.set(dut.go, int(cycle == 1))
            for name in ("pch", "wl_en", "sh"):
                rows[name].append(ctx.get(getattr(dut, name)))
            rows["start"].append(fire_was)
            fire_was = ctx.get(dut.fire)
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return rows


#: Every phase on, and each one off in turn (docs: "with and without each phase").
PHASE_SETS = [(1, 1, 1, 1), (0, 1, 1, 1), (1, 0, 1, 1), (1, 1, 0, 1), (1, 1, 1, 0), (2, 3, 1, 2), (0, 2, 0, 0)]


@pytest.mark.parametrize("guard", [0, 1, 2, 3, 7])
@pytest.mark.parametrize("phases", PHASE_SETS, ids=lambda p: "p{}w{}s{}h{}".format(*p))
def test_the_front_generates_the_guarded_windows_of_phase_windows(phases, guard):
    """The RTL's front (go in cycle 1: the activation's drive on the bus from cycle 2 = u) puts pch, wl_en,
    sh and the start exactly where phase_windows says, for every guard and with each phase off."""
    t = MacroTiming(*phases, guard=guard)
    rows = _front_waveform(t)
    w = phase_windows(t)
    assert _windows(rows, 2) == (w.pch, w.wl_en, w.sh, w.start)
    # Outside the front every phase is low.
    assert not any(rows[name][c] for name in ("pch", "wl_en", "sh") for c in (0, 1, 2 + w.start, 3 + w.start))


def _edges(rows: dict, names, cycles) -> dict:
    """The signals of `names` that change value on the edge that begins cycle c, for each c in `cycles`."""
    return {c: {n for n in names if rows[n][c] != rows[n][c - 1]} for c in cycles}


@pytest.mark.parametrize("guard", [1, 3])
@pytest.mark.parametrize("phases", [(1, 1, 0, 1), (1, 2, 0, 0), (2, 1, 1, 0)],
                         ids=lambda p: "p{}w{}s{}h{}".format(*p))
def test_no_wordline_edge_is_shared_in_the_tiles_own_waveform(phases, guard):
    """The whole tile (controller + emulator) on one vector with guard G >= 1 and P, W >= 1: on no clock
    edge of the run does wl_en change together with pch, sh, the drive, the section or an ADC start; the
    first activation's windows are phase_windows'."""
    case = CASES["r8_k_not_multiple"]
    t = MacroTiming(*phases, guard=guard)
    tr = trace_interface(case.lp, case.x[0], first=0, cycles=400, adcs=case.cfg.hw.n_adc, timing=t)
    rows = tr.rows
    assert not any(rows["violation"])
    rows["start"] = [int(any(rows[f"adc[{a}].start"][c] for a in range(case.cfg.hw.n_adc)))
                     for c in range(len(rows["pch"]))]
    others = ("pch", "sh", "drive", "section", "start")
    shared = {c: e for c, e in _edges(rows, ("wl_en",) + others, range(1, len(rows["pch"]))).items()
              if "wl_en" in e and len(e) > 1}
    assert shared == {}
    # The waveform has activations: wordline pulses, each opened by a precharge.
    rises = sum(rows["wl_en"][c] and not rows["wl_en"][c - 1] for c in range(1, len(rows["wl_en"])))
    assert rises >= 3
    first_pch = rows["pch"].index(1)
    assert _windows(rows, first_pch)[:3] == (lambda w: (w.pch, w.wl_en, w.sh))(phase_windows(t))
    assert _windows(rows, first_pch)[3] == t.front


def test_without_the_guard_the_wordline_shares_the_precharges_edge():
    """The check above can fail: with G = 0 the tile's wl_en rises on the edge pch falls."""
    case = CASES["r8_k_not_multiple"]
    tr = trace_interface(case.lp, case.x[0], first=0, cycles=200, timing=MacroTiming(1, 1, 1, 1))
    edges = _edges(tr.rows, ("wl_en", "pch"), range(1, 200))
    assert any(e == {"wl_en", "pch"} for e in edges.values())


#: G = 1 in the default run, G = 2 and 3 (the same checks, 2 s each) in the slow set; the front test above
#: covers every G in the default run.
GUARDED = [pytest.param(g, phases, marks=[pytest.mark.slow] if g > 1 else [])
           for g in (1, 2, 3) for phases in PHASE_SETS[:5]]


@pytest.mark.parametrize("guard, phases", GUARDED)
def test_guarded_tiles_are_bit_exact_and_take_the_golden_cycles(guard, phases):
    """Outputs equal x @ W (a lossless case) and the golden model's; cycles per vector and every counter are
    the golden model's (mapper.schedule, with MacroTiming.front = F_G); the emulator's guard rules hold."""
    case = CASES["r8_k_not_multiple"]
    params = TileParams.from_plan(case.lp, timing=MacroTiming(*phases, guard=guard))
    run = run_tile(case.lp, case.x, params=params)
    check(case, run, predict(case.lp, case.x, params))
    assert case.lossless


@pytest.mark.parametrize("phases", [(1, 1, 1, 0), (0, 2, 0, 0)], ids=lambda p: "p{}w{}s{}h{}".format(*p))
def test_each_activation_costs_the_guards_cycles_more(phases):
    """Without sample-and-hold every activation's front is on the critical path: G guard cycles add
    ΔF = F_G - F_0 cycles to each (by hand: G before the wordline, max(S, G) - S after it), the counted
    planes times ΔF in all, the gather staying hidden behind the longer fronts."""
    case = CASES["r8_k_not_multiple"]
    base = run_tile(case.lp, case.x, params=TileParams.from_plan(case.lp, timing=MacroTiming(*phases)))
    for guard in (1, 3):
        p, w, s, h = phases
        delta = guard + (max(s, guard) - s if w else 0)
        run = run_tile(case.lp, case.x, params=TileParams.from_plan(case.lp, timing=MacroTiming(*phases, guard=guard)))
        assert np.array_equal(run.outputs, base.outputs)
        assert run.counters["cycles"] - base.counters["cycles"] == base.counters["planes"] * delta


async def _timing_then_vector(ctx, dut, x, timing: MacroTiming, cycles: int):
    """Write `timing` into the tile's timing registers, stream one vector, run `cycles` cycles."""
    ctx.set(dut.o.ready, 1)
    await ctx.tick().until(dut.i.ready)
    for name in ("precharge", "wordline", "settle", "sample", "sync", "watchdog", "guard"):
        ctx.set(getattr(dut.timing.data, name), getattr(timing, name))
    ctx.set(dut.timing.we, 1)
    await ctx.tick()
    ctx.set(dut.timing.we, 0)
    for word in pack_beats(x, 1, 8):
        ctx.set(dut.i.valid, 1)
        ctx.set(dut.i.payload, word)
        await ctx.tick().until(dut.i.ready)
    ctx.set(dut.i.valid, 0)
    if cycles:
        await ctx.tick().repeat(cycles)


@pytest.mark.parametrize("built, written, rule", [
    (MacroTiming(1, 1, 2, 1, guard=2), MacroTiming(1, 1, 2, 1), "wordline while precharge"),
    (MacroTiming(1, 1, 1, 1, guard=2), MacroTiming(1, 1, 1, 1), ("wordline while precharge", "sample while wordline")),
    (MacroTiming(0, 1, 0, 1, guard=1), MacroTiming(0, 1, 0, 1), "sample while wordline"),
    (MacroTiming(1, 1, 1, 1, guard=2), MacroTiming(1, 1, 1, 1, guard=2), None),
])
def test_the_emulator_flags_a_wordline_inside_the_guard(built, written, rule):
    """An emulator built for guard G sees a controller whose timing registers were rewritten without it:
    the wordline comes right after the precharge (or the sample right after the wordline), a violation of
    its own rule and of no other; with the guard written back, none."""
    case = CASES["r8_k_not_multiple"]
    dut = Tile(TileParams.from_plan(case.lp, timing=built), case.lp)
    got = {}

    async def bench(ctx):
        await _timing_then_vector(ctx, dut, case.x[0], written, 300)
        got["violation"] = ctx.get(dut.violation)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    broken = [r for k, r in enumerate(VIOLATIONS) if got["violation"] >> k & 1]
    assert broken == ([] if rule is None else [rule] if isinstance(rule, str) else list(rule))


def test_a_guard_written_at_run_time_through_the_timing_port_gives_that_guards_golden_cycles():
    """A tile generated without a guard, the guard (2) written into its timing registers between vectors:
    its outputs are x @ W and its busy cycles those the golden model predicts for the guarded timing (more
    than the generation-time timing's), so the guard is a run-time setting, not a netlist's."""
    from sim.amaranth_sim import read_counters
    case = CASES["r8_k_not_multiple"]
    built = MacroTiming(1, 1, 0, 1)
    written = dataclasses.replace(built, guard=2)
    dut = Tile(TileParams.from_plan(case.lp, timing=built), case.lp)
    x = case.x[0]
    got = {"out": []}

    async def bench(ctx):
        await _timing_then_vector(ctx, dut, x, written, 0)
        while len(got["out"]) < case.lp.shape[1]:
            (value,) = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
            got["out"].append(int(value))
        await ctx.tick().repeat(4)
        got["counters"] = await read_counters(ctx, dut.counters, case.cfg.hw.adc_bits)
        got["violation"] = ctx.get(dut.violation)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got["out"] == (x @ case.w).tolist() and got["violation"] == 0
    want = predict(case.lp, x[None], TileParams.from_plan(case.lp, timing=written))
    plain = predict(case.lp, x[None], TileParams.from_plan(case.lp, timing=built))
    assert got["counters"]["cycles"] == want.cycles > plain.cycles
