"""The macro contract (docs/design.md section 4): the phase timing `MacroTiming`, the array emulator's
protocol checks (each rule fired by a hand-made bus sequence, and silent on a correct one), the cell-write
port, the reference select, and whole tiles under non-trivial phase settings against the golden model."""

import dataclasses

import numpy as np
import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hwgen.emulator import VIOLATIONS, ArrayEmulator
from hwgen.params import TileParams
from mapper.common import SwsError
from mapper.config import ArrayConfig
from mapper.schedule import MacroTiming
from sim.amaranth_sim import ControllerError, program, read_counters, run_tile
from sim.golden import predict
from tests.sim.cases import rtl_cases

#: A bare array (no plan): 8 rows, 14-column slots, 2 ADCs of up to 4 bits, 2 sections.
HW = ArrayConfig(rows=8, cols=14, n_adc=2, input_bits=2).hw


def _params(**timing):
    return TileParams(HW, k=8, n=2, section_depth=2, row_depth=16, column_depth=28, lanes=1,
                      timing=MacroTiming(**timing))




def _simulate(dut, bench):
    """Run the testbench `bench` on `dut` with a 100 MHz clock until it ends."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()

class _Pair(wiring.Component):
    """A controller built for `ctrl_params` and the array emulator of `emu_params` (the macro, perhaps of
    another timing) on one plan, wired at the array interface; `violation`: the emulator's rule bits."""

    def __init__(self, lp, ctrl_params, emu_params, **controller):
        from hwgen.controller import Controller
        self.ctrl, self.emu = Controller(ctrl_params, lp, **controller), ArrayEmulator(emu_params, lp)
        super().__init__({"violation": wiring.Out(len(VIOLATIONS))})

    def elaborate(self, platform):
        from hwgen.interface import connect_array
        m = Module()
        m.submodules.ctrl, m.submodules.emu = self.ctrl, self.emu
        connect_array(m, self.ctrl.bus, self.emu.bus)
        m.d.comb += self.violation.eq(self.emu.violation)
        return m

def test_period_and_capture_by_hand():
    # No phases: a batch of 3 bits every 3 cycles, captured 1 + 3 cycles after its issue (output register).
    assert (MacroTiming().period(3), MacroTiming().capture(3)) == (3, 4)
    # pch 1, wl 2, settle 1: F = 4, no sample-and-hold. A plane's first batch (it opens the activation):
    # 4 + 3 = 7, captured 1 + 4 + 3 = 8 after its issue; the plane's other batches have no front: 3 and 4.
    t = MacroTiming(precharge=1, wordline=2, settle=1)
    assert (t.front, t.period(3), t.capture(3)) == (4, 7, 8)
    assert (t.period(3, front=False, next_front=True), t.capture(3, front=False)) == (3, 4)
    # With a 1-cycle sample-and-hold F = 5. Before the next plane's activation its front overlaps this
    # conversion: the next start lands in the done cycle, but no earlier than the cycle after this start
    # (the columns change then): 5 + max(1, 3 - 5) = 6, 5 + max(1, 7 - 5) = 7, and without a front
    # max(1, 3 - 5) = 1; within a plane the next start waits for the done: 5 + 3 = 8.
    t = MacroTiming(precharge=1, wordline=2, settle=1, sample=1)
    assert (t.period(3), t.period(7), t.capture(3)) == (6, 7, 9)
    assert (t.period(3, front=False, next_front=True), t.period(3, front=True, next_front=False)) == (1, 8)
    # Four-phase handshake through a two-flop synchronizer, F = 0: the start at issue + 1, done 3 cycles
    # later, seen 2 later (the capture: 1 + 3 + 2 = 6), the start low the cycle after, the ADC's done low the
    # cycle after that, seen 2 later, and the bank's registered free lets the next batch issue the cycle
    # after: 6 + 1 + 1 + 2 + 1 = 11.
    assert (MacroTiming(sync=2).period(3), MacroTiming(sync=2).capture(3)) == (11, 6)


@pytest.mark.parametrize("kw, message", [
    ({"precharge": -1}, "precharge must be an integer >= 0, not -1"),
    ({"settle": 65}, "settle must be at most 64 cycles, not 65"),
    ({"sync": 3}, r"sync must be 0 \(counted\), 1 \(registered done\) or 2 \(two-flop synchronizer\), not 3"),
    ({"sample": True}, "sample must be an integer >= 0, not True"),
])
def test_bad_timing_is_refused_with_the_rule(kw, message):
    with pytest.raises(SwsError, match=message):
        MacroTiming(**kw)


def _drive_emulator(params, cycles, writes=()):
    """Run the bare emulator: first the cell writes (address, word), one a cycle, then `cycles`, a list of
    per-cycle dicts of bus values (keys: section, drive, pch, wl_en, sh; start0, res0, ref0, col0, ...);
    a value stays until changed. Returns the violation bits after each cycle, and (cycle, ADC, code) of
    every done."""
    emu = ArrayEmulator(params)
    log = {"violation": [], "done": []}

    async def bench(ctx):
        for addr, word in writes:
            ctx.set(emu.bus.wr_en, 1)
            ctx.set(emu.bus.wr_addr, addr)
            ctx.set(emu.bus.wr_data, word)
            await ctx.tick()
        ctx.set(emu.bus.wr_en, 0)
        for cycle, values in enumerate(cycles):
            for i in range(params.hw.n_adc):
                ctx.set(emu.bus.adc[i].start, 0)
            for name, value in values.items():
                if name[-1].isdigit():
                    ctx.set(getattr(emu.bus.adc[int(name[-1])], name[:-1]), value)
                else:
                    ctx.set(getattr(emu.bus, name), value)
            for i in range(params.hw.n_adc):
                if ctx.get(emu.bus.adc[i].done):
                    log["done"].append((cycle, i, ctx.get(emu.bus.adc[i].code)))
            await ctx.tick()
            log["violation"].append(ctx.get(emu.violation))

    _simulate(emu, bench)
    return log


def _bit(rule):
    return 1 << VIOLATIONS.index(rule)


# Section 1, slot column 5 holds rows 0, 2, 3, 6 (the word 0b01001101): 4 cells.
WRITES = [(1 * 16 + 5, 0b01001101), (0 * 16 + 5, 0b11111111)]
COLUMN = {"section": 1, "col0": 5, "drive": 0b11111111}


def _front(pch, wl, settle, sample):
    return [{"pch": 1}] * pch + [{"pch": 0, "wl_en": 1}] * wl + [{"pch": 0, "wl_en": 0}] * settle + \
        [{"pch": 0, "wl_en": 0, "sh": 1}] * sample + [{"sh": 0}]


def test_cells_written_through_the_port_give_the_column_count_at_the_documented_phases():
    """pch 1, wl 2, settle 1, sample 1: the sample at the strobe, then a start of 3 bits: done 3 cycles
    later with popcount(column & drive) = 4 (written through wr_en/wr_addr/wr_data); no violation."""
    params = _params(precharge=1, wordline=2, settle=1, sample=1)
    front = _front(1, 2, 1, 1)
    seq = [COLUMN | front[0]] + front[1:-1] + [front[-1] | {"start0": 1, "res0": 3, "ref0": 3}] + [{}] * 4
    log = _drive_emulator(params, seq, WRITES)
    start = len(front) - 1
    assert log["done"] == [(start + 3, 0, 4)]
    assert log["violation"][-1] == 0


def test_the_reference_select_sets_the_full_scale_range():
    """The same column (4 cells) converted at 3 bits with ref 2: full scale 2**2 - 1 = 3, so the code is 3."""
    params = _params()
    seq = [COLUMN | {"start0": 1, "res0": 3, "ref0": 2}] + [{}] * 4
    log = _drive_emulator(params, seq, WRITES)
    assert log["done"] == [(3, 0, 3)]
    assert log["violation"][-1] == 0


@pytest.mark.parametrize("rule, timing, seq", [
    # A start in the second cycle of a 3-bit conversion (the done cycle, 3, would be allowed).
    ("start while busy", {}, [COLUMN | {"start0": 1, "res0": 3, "ref0": 3}, {}, {"start0": 1}, {}]),
    # The wordline raised after 1 of the 2 precharge cycles.
    ("wordline without precharge", {"precharge": 2, "wordline": 1},
     [COLUMN | {"pch": 1}, {"pch": 0, "wl_en": 1}, {"wl_en": 0}]),
    # The strobe 1 cycle after the wordline fell, of 2 settle cycles.
    ("sample before settle", {"wordline": 1, "settle": 2, "sample": 1},
     [COLUMN | {"wl_en": 1}, {"wl_en": 0}, {"sh": 1}, {"sh": 0}]),
    # Without sample-and-hold the start samples: here while the wordline is still on.
    ("sample before settle", {"wordline": 2},
     [COLUMN | {"wl_en": 1}, {"start0": 1, "res0": 1, "ref0": 1}, {"wl_en": 0}]),
    # With a 2-cycle sample-and-hold, the start after 1 strobe cycle.
    ("start without a sample", {"sample": 2}, [COLUMN | {"sh": 1}, {"sh": 0, "start0": 1, "res0": 1, "ref0": 1}, {}]),
    # A 1-cycle wordline pulse where 3 are due.
    ("wordline pulse too short", {"wordline": 3}, [COLUMN | {"wl_en": 1}, {"wl_en": 0}, {}]),
    # Four-phase: the start dropped in the second cycle of a 3-bit conversion, before its done.
    ("start withdrawn before done", {"sync": 1}, [COLUMN | {"start0": 1, "res0": 3, "ref0": 3}, {"start0": 1}, {}]),
    # Without sample-and-hold the bitlines hold the column until the done: a precharge a cycle into it.
    ("precharge during a conversion", {"precharge": 1},
     [COLUMN | {"start0": 1, "res0": 3, "ref0": 3}, {"pch": 1}, {"pch": 0}]),
])
def test_the_emulator_flags_each_injected_protocol_violation_and_keeps_it(rule, timing, seq):
    log = _drive_emulator(_params(**timing), seq + [{}] * 3, WRITES)
    assert log["violation"][-1] == _bit(rule)              # this rule, no other, sticky to the end
    first = next(c for c, v in enumerate(log["violation"]) if v)
    assert all(v == _bit(rule) for v in log["violation"][first:])


@pytest.mark.parametrize("mode", ["level", "pulse"])
def test_a_handshake_adc_holds_done_until_its_start_falls_or_pulses_it(mode):
    """Four-phase (sync 1): a 2-bit conversion started at cycle 0 and held, done from cycle 2 (the code
    there); as a level it stays high until the ADC sees its start low (cycle 4) and falls the cycle after
    (5); as a pulse it is high at cycle 2 only. A start held high after the done begins nothing new; the
    next conversion begins when the start rises again (cycle 6), done 2 later."""
    params = _params(sync=1)
    emu = ArrayEmulator(params, done_mode=mode)
    adc, log = emu.bus.adc[0], []

    async def bench(ctx):
        for addr, word in WRITES:
            ctx.set(emu.bus.wr_en, 1)
            ctx.set(emu.bus.wr_addr, addr)
            ctx.set(emu.bus.wr_data, word)
            await ctx.tick()
        ctx.set(emu.bus.wr_en, 0)
        ctx.set(emu.bus.section, 1)
        ctx.set(emu.bus.drive, 0b11111111)
        ctx.set(adc.col, 5)
        ctx.set(adc.res, 2)
        ctx.set(adc.ref, 2)
        for cycle in range(12):
            ctx.set(adc.start, cycle in (0, 1, 2, 3, 6, 7, 8))
            log.append((ctx.get(adc.done), ctx.get(adc.code)))
            await ctx.tick()
        log.append(ctx.get(emu.violation))

    _simulate(emu, bench)
    done = [c for c, (d, _) in enumerate(log[:-1]) if d]
    assert done == ([2, 3, 4, 8, 9] if mode == "level" else [2, 8])
    assert log[2][1] == 3                  # min(4 cells, 2**2 - 1)
    assert log[-1] == 0


def test_the_next_start_in_the_done_cycle_is_no_violation():
    params = _params()
    seq = [COLUMN | {"start0": 1, "res0": 2, "ref0": 2}, {}, {"start0": 1, "res0": 1, "ref0": 1}, {}, {}]
    log = _drive_emulator(params, seq, WRITES)
    assert [d[0] for d in log["done"]] == [2, 3]
    assert log["violation"][-1] == 0


CASES = {c.name: c for c in rtl_cases()}
TIMINGS = [
    MacroTiming(precharge=1, wordline=2, settle=1),                 # serial front, no sample-and-hold
    MacroTiming(precharge=1, wordline=1, settle=1, sample=1),       # F = 4 overlapping the conversions
    MacroTiming(wordline=3, settle=2, sample=2),                    # F = 7 longer than any conversion
    MacroTiming(sync=1),                                            # registered done
    MacroTiming(precharge=1, wordline=1, sample=1, sync=2),         # phases and a two-flop synchronizer
]


@pytest.mark.parametrize("timing", TIMINGS, ids=lambda t: "p{}w{}s{}h{}sync{}".format(*dataclasses.astuple(t)))
@pytest.mark.parametrize("name", ["r8_k_not_multiple", "group2_partial"])
def test_a_tile_under_any_phase_timing_is_exact_with_the_golden_model_and_breaks_no_rule(name, timing):
    """Outputs x @ W, counters, and cycles as the golden cycle model predicts for the timing; run_tile
    fails on any emulator violation, so passing also means the controller kept the contract."""
    case = CASES[name]
    params = TileParams.from_plan(case.lp, timing=timing)
    run = run_tile(case.lp, case.x, params=params)
    want = predict(case.lp, case.x, params)
    if case.lossless:
        assert np.array_equal(run.outputs, case.x @ case.w)
    assert np.array_equal(run.outputs, want.outputs)
    assert run.counters == want.counters()
    assert run.cycles_per_vector == want.vector_cycles
    # Phases only add cycles.
    assert want.cycles_per_vector > predict(case.lp, case.x).cycles_per_vector


def test_a_controller_timed_for_a_shorter_front_than_the_macro_is_caught():
    """The controller built for no settle, the emulated macro needing 2 settle cycles: every sample is
    early and the simulation fails."""
    case = CASES["r8_k_not_multiple"]

    fast = TileParams.from_plan(case.lp, timing=MacroTiming(wordline=1, sample=1))
    slow = TileParams.from_plan(case.lp, timing=MacroTiming(wordline=1, settle=2, sample=1))

    dut = _Pair(case.lp, fast, slow)
    seen = {}

    async def bench(ctx):
        ctx.set(dut.ctrl.o.ready, 1)
        for kk in range(case.lp.shape[0]):
            ctx.set(dut.ctrl.i.valid, 1)
            ctx.set(dut.ctrl.i.payload, int(case.x[0, kk]))
            await ctx.tick().until(dut.ctrl.i.ready)
        ctx.set(dut.ctrl.i.valid, 0)
        for _ in range(200):
            await ctx.tick()
        seen["violation"] = ctx.get(dut.violation)

    _simulate(dut, bench)
    assert seen["violation"] == _bit("sample before settle")


def test_run_tile_fails_on_a_violation():
    """An ADC 2 cycles late in counted mode: the controller stops with a missing done, and the emulator saw
    the next batch start while the late ADC still converted; run_tile names both."""
    case = CASES["group2_partial"]
    with pytest.raises(ControllerError, match="done_missing; the array emulator flagged a protocol violation: "
                                              "start while busy"):
        run_tile(case.lp, case.x, extra_latency=2)


@pytest.mark.parametrize("encoding", ["twos", "bipolar"])
@pytest.mark.parametrize("timing", [MacroTiming(), MacroTiming(precharge=1, wordline=1, settle=1, sample=1)],
                         ids=["no_phases", "phases"])
def test_raw_codes_through_the_test_port_after_programming_the_cells_then_a_correct_vector(timing, encoding):
    """A generic tile programmed through `prog` (its cells over the array interface's write port), then
    raw-code requests: each code is min(popcount(column & drive), 2**res - 1) from the plan's cells (by
    hand, numpy; bipolar: the rows of `drive_neg` count -1, the code is two's complement and saturates at
    +-(2**(res-1) - 1)); then a vector computes x @ W: the test conversions were not accumulated (they are
    counted in `conversions`, by resolution, in `sample_holds` one each and in `cell_reads` their column's
    1-cells)."""
    from hwgen.program import program_writes
    from hwgen.tile import Tile

    case = CASES["r8_k_not_multiple"]
    lp, cfg = case.lp.on_hardware(input_encoding=encoding), case.lp.cfg.replace(input_encoding=encoding)
    bipolar = encoding == "bipolar"
    x = np.clip(case.x, cfg.hw.input_min, cfg.hw.input_max)      # the bipolar drive has no -2**(A-1)
    params = TileParams.from_plan(lp, timing=timing)
    dut = Tile(params, test_port=True)
    rng = np.random.default_rng(7)
    requests = [(int(rng.integers(lp.n_sections)), int(rng.integers(cfg.hw.slot_cols)), int(rng.integers(1 << cfg.hw.rows)),
                 int(rng.integers(1, cfg.hw.adc_bits + 1)), int(rng.integers(cfg.hw.n_adc)),
                 int(rng.integers(1 << cfg.hw.rows)) if bipolar else 0) for _ in range(16)]
    requests.append((0, int(lp.columns["slot_col"][0]), (1 << cfg.hw.rows) - 1, cfg.hw.adc_bits, 0, 0))
    fullest = int(lp.cells[0].sum(axis=0).argmax())       # saturated: a 1-bit range (bipolar: sign and 1 bit)
    assert lp.cells[0, :, fullest].sum() >= 2
    requests.append((0, fullest, (1 << cfg.hw.rows) - 1, 1 + cfg.hw.sign_bits, 2, 0))
    if bipolar:     # every row driven -1
        requests.append((0, int(lp.columns["slot_col"][0]), (1 << cfg.hw.rows) - 1, cfg.hw.adc_bits, 1,
                         (1 << cfg.hw.rows) - 1))
    got = {"codes": []}

    async def bench(ctx):
        await program(ctx, dut.prog, program_writes(params, lp))
        await ctx.tick().until(dut.i.ready)
        for section, col, drive, res, adc, neg in requests:
            for name, value in (("section", section), ("col", col), ("drive", drive), ("res", res), ("adc", adc)):
                ctx.set(getattr(dut.test, name), value)
            if bipolar:
                ctx.set(dut.test.drive_neg, neg)
            ctx.set(dut.test.en, 1)
            (code,) = await ctx.tick().sample(dut.test.code).until(dut.test.valid)
            got["codes"].append(code)
            ctx.set(dut.test.en, 0)
            await ctx.tick()
        ctx.set(dut.o.ready, 1)
        for v in range(len(x)):
            for kk in range(lp.shape[0]):
                ctx.set(dut.i.valid, 1)
                ctx.set(dut.i.payload, int(x[v, kk]))
                await ctx.tick().until(dut.i.ready)
            ctx.set(dut.i.valid, 0)
            out = []
            for _ in range(lp.shape[1]):
                (value,) = await ctx.tick().sample(dut.o.payload).until(dut.o.valid)
                out.append(value)
            got.setdefault("outputs", []).append(out)
        await ctx.tick().repeat(4)
        got["counters"] = await read_counters(ctx, dut.counters, cfg.hw.adc_bits)
        got["conversions"] = got["counters"]["conversions"]
        got["violation"] = ctx.get(dut.violation)

    _simulate(dut, bench)
    want_codes, clipped = [], 0
    for section, col, drive, res, _, neg in requests:
        rows = np.array([((drive >> r) & 1) * (-1 if (neg >> r) & 1 else 1) for r in range(cfg.hw.rows)])
        count = int((lp.cells[section, :, col].astype(np.int64) * rows).sum())
        top = (1 << (res - 1 if bipolar else res)) - 1
        clipped += abs(count) > top
        want_codes.append(max(-top, min(count, top)) % (1 << params.code_width))
    assert got["codes"] == want_codes
    assert max(want_codes) > 0 and clipped > 0
    if bipolar:     # negative codes
        assert any(c >> (params.code_width - 1) for c in want_codes)
    want = predict(lp, x, params)
    assert np.array_equal(np.array(got["outputs"]), want.outputs)
    extra = np.bincount([r for *_, r, _, _ in requests], minlength=cfg.hw.adc_bits + 1)
    assert got["conversions"] == [int(c) for c in np.asarray(want.conversions) + extra]
    # Each test conversion samples its one column and reads that column's 1-cells (whatever the drive);
    # its activation drives the host's rows, not a section's: row_drives is the vectors' alone.
    ev = want.events
    assert got["counters"]["sample_holds"] == ev.sample_holds + len(requests)
    assert got["counters"]["cell_reads"] == ev.cell_reads + sum(int(lp.cells[sec, :, col].sum())
                                                                for sec, col, *_ in requests)
    assert got["counters"]["row_drives"] == ev.row_drives
    assert got["violation"] == 0


@pytest.mark.parametrize("timing", [MacroTiming(precharge=1, wordline=2, settle=1, sample=1),
                                    MacroTiming(precharge=1, wordline=1, sync=2)], ids=["phases", "handshake"])
def test_the_timing_written_at_run_time_is_the_one_the_controller_keeps_and_the_golden_model_predicts(timing):
    """A controller generated with no phases (its timing registers' reset values) on a macro that needs
    `timing`: with the timing word written through the `timing` port between vectors, the outputs are
    x @ W, no rule is broken, and each vector takes the golden cycles of that timing (a controller
    generated with it: the same netlist behaviour); without the write the macro's rules break."""
    from amaranth import Value

    from hwgen.interface import timing_word
    case = CASES["r8_k_not_multiple"]
    slow = TileParams.from_plan(case.lp, timing=timing)
    results = {}
    for write in (True, False):
        dut = _Pair(case.lp, TileParams.from_plan(case.lp), slow)
        got = {"outputs": [], "cycles": []}

        async def bench(ctx):
            c = dut.ctrl
            await ctx.tick().until(c.i.ready)
            if write:
                ctx.set(c.timing.we, 1)
                ctx.set(Value.cast(c.timing.data), timing_word(timing))
                await ctx.tick()
                ctx.set(c.timing.we, 0)
            ctx.set(c.o.ready, 1)
            for xv in case.x[:2]:
                start = None
                for cycle in range(20000):
                    if cycle < len(xv):
                        ctx.set(c.i.valid, 1)
                        ctx.set(c.i.payload, int(xv[cycle]))
                    else:
                        ctx.set(c.i.valid, 0)
                    _, _, valid, y = await ctx.tick().sample(c.o.valid, c.o.payload)
                    if valid:
                        got["outputs"].append(y)
                        if len(got["outputs"]) % case.lp.shape[1] == 0:
                            got["cycles"].append(cycle + 1)
                            break
            got["violation"] = ctx.get(dut.violation)

        _simulate(dut, bench)
        results[write] = got
    want = predict(case.lp, case.x[:2], slow)
    assert results[True]["violation"] == 0
    assert results[True]["outputs"] == list((case.x[:2] @ case.w).ravel())
    assert results[True]["cycles"] == [want.vector_cycles[0]] * 2
    assert results[False]["violation"] != 0


@pytest.mark.parametrize("rule, timing, seq", [
    # The wordline raised in a precharge cycle (after the precharge's 1 cycle: not "without precharge").
    ("wordline while precharge", {"precharge": 1, "wordline": 1},
     [COLUMN | {"pch": 1}, {"wl_en": 1}, {"pch": 0, "wl_en": 0}]),
    # Guard 2: the wordline 1 cycle after the precharge fell.
    ("wordline while precharge", {"precharge": 1, "wordline": 1, "guard": 2},
     [COLUMN | {"pch": 1}, {"pch": 0}, {"wl_en": 1}, {"wl_en": 0}]),
    # Guard 2, settle 0: the strobe 1 cycle after the wordline fell (no settle is due: only the guard).
    ("sample while wordline", {"wordline": 1, "sample": 1, "guard": 2},
     [COLUMN | {"wl_en": 1}, {"wl_en": 0}, {"sh": 1}, {"sh": 0}]),
])
def test_the_emulator_flags_a_break_of_the_guard(rule, timing, seq):
    """The electrical interface's rules (docs/design.md section 6), injected on a bus driven by hand: this
    rule and no other, sticky."""
    log = _drive_emulator(_params(**timing), seq + [{}] * 3, WRITES)
    assert log["violation"][-1] == _bit(rule)
    first = next(c for c, v in enumerate(log["violation"]) if v)
    assert all(v == _bit(rule) for v in log["violation"][first:])


def test_the_guarded_schedule_breaks_no_rule_of_the_emulator():
    """The same bus with the guard kept (pch, 2 cycles low, wl_en, 2 cycles low, sh): no violation."""
    seq = [COLUMN | {"pch": 1}, {"pch": 0}, {}, {"wl_en": 1}, {"wl_en": 0}, {}, {"sh": 1}, {"sh": 0}]
    log = _drive_emulator(_params(precharge=1, wordline=1, sample=1, guard=2), seq + [{}] * 3, WRITES)
    assert log["violation"][-1] == 0


@pytest.mark.parametrize("timing", [MacroTiming(precharge=1, wordline=2, settle=1, sample=1),
                                    MacroTiming(precharge=2, wordline=1, settle=2, sample=2, guard=3)],
                         ids=["phases", "guard"])
def test_a_timing_written_in_the_cycle_of_a_one_beat_vector_is_the_one_that_vector_runs_with(timing):
    """The front's registers take a timing write FRONT_STAGES + 1 cycles after it (hwgen/host.py); the
    soonest a vector can read them is a vector of one beat taken in the write's cycle. Written so, on a
    controller generated with no phases and a macro that needs `timing`: that vector's outputs are x @ W,
    no rule of the macro breaks and it takes the golden cycles of `timing`."""
    from amaranth import Value

    from hwgen.host import FRONT_READ_MIN, FRONT_STAGES
    from hwgen.interface import pack_beats, timing_word, unpack_beat
    assert FRONT_STAGES + 1 < FRONT_READ_MIN
    case = CASES["r8_k_not_multiple"]
    lp = case.lp.on_hardware(beat=32)
    slow = TileParams.from_plan(lp, timing=timing)
    assert slow.k_words == 1

    dut = _Pair(lp, TileParams.from_plan(lp), slow)
    x = case.x[:1]
    got = {}

    async def bench(ctx):
        c = dut.ctrl
        await ctx.tick().until(c.i.ready)
        ctx.set(c.o.ready, 1)
        ctx.set(c.timing.we, 1)
        ctx.set(Value.cast(c.timing.data), timing_word(timing))
        ctx.set(c.i.valid, 1)
        ctx.set(Value.cast(c.i.payload), pack_beats(x[0], 32, 8)[0])
        assert ctx.get(c.i.ready)
        for cycle in range(5000):
            _, _, valid, y = await ctx.tick().sample(c.o.valid, Value.cast(c.o.payload))
            ctx.set(c.timing.we, 0)
            ctx.set(c.i.valid, 0)
            if valid:
                got["outputs"] = unpack_beat(y, 32, slow.acc_width)
                got["cycles"] = cycle + 1
                break
        got["violation"] = ctx.get(dut.violation)

    _simulate(dut, bench)
    want = predict(lp, x, slow)
    assert got["violation"] == 0
    assert got["outputs"][:lp.shape[1]] == list((x @ case.w).ravel())
    assert got["cycles"] == want.vector_cycles[0]


def test_a_test_request_made_in_the_cycle_of_a_timing_write_waits_for_the_front_and_breaks_no_rule():
    """The raw-code test port issues from WAIT, not after a vector's walk: a request made in the cycle of a
    timing write is held until the front's registers take the write (`front_loading`), so its conversion
    runs with the written phases: no rule of a macro that needs them breaks, and the code is the column's
    sum under the drive (clipped to the resolution's range)."""
    from amaranth import Value

    from hwgen.interface import timing_word
    case = CASES["r8_k_not_multiple"]
    timing = MacroTiming(precharge=2, wordline=2, settle=1, sample=1)
    slow = TileParams.from_plan(case.lp, timing=timing)

    dut = _Pair(case.lp, TileParams.from_plan(case.lp), slow, test_port=True)
    col = int(case.lp.columns["slot_col"][0])
    got = {}

    async def bench(ctx):
        c = dut.ctrl
        await ctx.tick().until(c.i.ready)
        ctx.set(c.timing.we, 1)
        ctx.set(Value.cast(c.timing.data), timing_word(timing))
        for name, value in {"section": 0, "col": col, "drive": 0xff, "res": 4, "adc": 2}.items():
            ctx.set(getattr(c.test, name), value)
        ctx.set(c.test.en, 1)
        for _ in range(300):
            _, _, valid, code = await ctx.tick().sample(c.test.valid, c.test.code)
            ctx.set(c.timing.we, 0)
            if valid:
                got["code"] = code
                break
        got["violation"] = ctx.get(dut.violation)

    _simulate(dut, bench)
    assert got == {"code": min(int(case.lp.cells[0, :, col].sum()), 15), "violation": 0}
