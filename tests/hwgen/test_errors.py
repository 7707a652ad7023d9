"""A controller that never hangs (issue 24): ADCs whose done is a pulse or a level, late at random, missing
or stuck, against the asynchronous ADC model of tests/hwgen/async_adc.py; the test port's and the host's
values range-checked; an error state the host reads and clears; a generic tile unconfigured after reset.
Each case ends in the right outputs or a named error (hwgen.interface.ERRORS), never a hang. The cases of
the issue (a level done held until the next start, a test request naming a missing ADC or resolution 0,
a missing done in counted mode, a reset of a generic tile) hang or give wrong outputs on the controller
before issue 24 (main at 3234642): the reason each test exists."""

import numpy as np
import pytest
from amaranth import Value
from amaranth.sim import Simulator

from hwgen.controller import Controller
from hwgen.handshake import MODE_LAYOUT, AdcHandshake, mode_of
from hwgen.interface import ERRORS, PROG_SELECT, layer_word_layout
from hwgen.params import TileParams, pack_words
from hwgen.program import program_writes
from hwgen.tile import Tile
from mapper.schedule import MacroTiming, cycle_model
from sim.amaranth_sim import error_names, program
from sim.golden import predict
from tests.hwgen.async_adc import AdcModel, run_against
from tests.sim.cases import rtl_cases

CASES = {c.name: c for c in rtl_cases()}
#: R = 8, 3 ADCs (the issue's shipped case), with 1-bit conversions.
CASE = CASES["r8_k_not_multiple"]
X = CASE.x[:2]


def _budget(params, vectors=len(X)):
    return 6 * cycle_model(CASE.lp, params)["cycles"] * vectors + 500


def _run(timing, model, x=X):
    params = TileParams.from_plan(CASE.lp, timing=timing)
    return run_against(Controller(params, CASE.lp), CASE.lp, x, model, budget=_budget(params, len(x)))


def _right(outcome, x=X):
    assert outcome.errors == []
    assert np.array_equal(outcome.outputs, x @ CASE.w)
    assert np.array_equal(outcome.outputs, predict(CASE.lp, x).outputs)


@pytest.mark.parametrize("sync", [1, 2])
@pytest.mark.parametrize("mode", ["level", "pulse"])
def test_a_done_as_a_level_held_until_start_falls_or_as_a_pulse_gives_the_right_outputs(mode, sync):
    assert 1 in CASE.lp.columns["res"]             # 1-bit conversions, the issue's hang
    _right(_run(MacroTiming(sync=sync), AdcModel(CASE.lp, mode)))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("mode", ["level", "pulse"])
def test_dones_late_by_random_delays_give_the_right_outputs(mode, seed):
    model = AdcModel(CASE.lp, mode, delays=(0, 7), seed=seed)
    _right(_run(MacroTiming(sync=2, precharge=1, wordline=1), model))
    assert model.conversions > 100


@pytest.mark.parametrize("sync", [1, 2])
def test_a_done_held_until_the_next_start_is_a_named_error_not_a_hang(sync):
    """The level docs/design.md allowed before (held until the next start): with 1-bit conversions it
    never falls, which the controller before issue 24 waited for forever (no outputs after 3000 cycles);
    a four-phase handshake waits for done to fall before the next start, and its watchdog names it."""
    out = _run(MacroTiming(sync=sync, watchdog=40), AdcModel(CASE.lp, "next_start"))
    assert out.errors == ["done_protocol"]


@pytest.mark.parametrize("timing, mode", [(MacroTiming(), "counted"), (MacroTiming(sync=2), "level"),
                                          (MacroTiming(sync=1, watchdog=20), "pulse")], ids=["counted", "level", "pulse"])
def test_a_missing_done_is_a_named_error_never_a_lost_batch(timing, mode):
    """The 40th conversion never signals done: counted mode, which before issue 24 never looked at done and
    lost the batch silently, finds it missing when its batch is due; the handshake's watchdog finds it."""
    out = _run(timing, AdcModel(CASE.lp, mode, missing=40))
    assert out.errors == ["done_missing"]


def test_a_late_done_in_counted_mode_is_a_named_error():
    out = _run(MacroTiming(), AdcModel(CASE.lp, "counted", delays=(0, 1), seed=4))
    assert out.errors == ["done_missing"]


@pytest.mark.parametrize("timing, mode", [(MacroTiming(), "counted"), (MacroTiming(sync=2, watchdog=30), "level")],
                         ids=["counted", "level"])
def test_a_stuck_done_is_a_named_error(timing, mode):
    """ADC 0's done stuck high from cycle 150, in the middle of the first vector."""
    out = _run(timing, AdcModel(CASE.lp, mode, stuck_from=150))
    assert out.errors == ["done_protocol"]


def _first_high(dut, signal, done, done_at, pulses=(), held=(), read=None, cycles=40):
    """The cycle `signal` is first high (cycle 0 the first after reset) and `read` then, when `done` is 1 in
    cycle `done_at` alone; `pulses` (signal, value) are set in cycle 0 alone, `held` in every cycle."""
    seen = []

    async def bench(ctx):
        for cycle in range(cycles):
            for sig, value in held:
                ctx.set(sig, value)
            for sig, value in pulses:
                ctx.set(sig, value if cycle == 0 else 0)
            ctx.set(done, cycle == done_at)
            if ctx.get(signal) and not seen:
                seen.append((cycle, None if read is None else ctx.get(read)))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen[0] if seen else None


def test_a_done_of_no_conversion_in_counted_mode_sets_done_protocol_two_cycles_later():
    """Counted mode, the controller idle (no conversion pending): ADC 1 done in cycle 20. Its group's register
    takes the done with nothing pending at the end of cycle 20 (high in 21), the sticky bit takes the
    registers' OR at the end of 21: the error bit is high from cycle 22 (before the group registers, 21)."""
    ctrl = Controller(TileParams.from_plan(CASE.lp, timing=MacroTiming()), CASE.lp)
    cycle, bits = _first_high(ctrl, ctrl.status.error, ctrl.bus.adc[1].done, 20, read=ctrl.status.errors)
    assert (cycle, error_names(bits)) == (22, ["done_protocol"])


@pytest.mark.parametrize("sync", [1, 2])
def test_a_done_outside_the_batch_raises_unexpected_sync_plus_one_cycles_later(sync):
    """Handshake, a batch of ADC 0 alone issued and fired in cycle 0: ADC 2's done in cycle 10 is taken
    through `sync` flip-flops (seen from cycle 10 + sync), its group's register takes it at the end of that
    cycle: `unexpected` from cycle 11 + sync (before the group registers, 10 + sync), the controller's
    sticky bit (`done_protocol`) a cycle later."""
    params = TileParams.from_plan(CASE.lp, timing=MacroTiming(sync=sync))
    assert params.hw.n_adc == 3
    hs = AdcHandshake(params)
    held = [(hs.mode, MODE_LAYOUT.const(mode_of(sync))), (hs.watchdog, 100), (hs.starts, 0b001),
            (hs.starts_any, 1), (hs.res[0], 1), (hs.longest, 1), (hs.period, 1)]
    assert _first_high(hs, hs.unexpected, hs.done[2], 10, pulses=[(hs.fire, 1), (hs.issue, 1)], held=held) \
        == (11 + sync, None)


def test_after_an_error_the_host_clears_it_and_the_next_vectors_are_right():
    """A missing done stops the controller (no input taken, no output offered, the array idle); the host
    reads the named error, clears it, and sends the vectors again: right outputs."""
    params = TileParams.from_plan(CASE.lp, timing=MacroTiming(sync=2, watchdog=30))
    ctrl = Controller(params, CASE.lp)
    model = AdcModel(CASE.lp, "level", missing=10)
    seen = {}

    async def host(ctx):
        await ctx.tick().until(ctrl.status.error)
        seen["errors"] = ctx.get(ctrl.status.errors)
        for _ in range(20):           # stopped: nothing taken or offered, no ADC started
            _, _, ready, valid, *starts = await ctx.tick().sample(ctrl.i.ready, ctrl.o.valid,
                                                                  *[a.start for a in ctrl.bus.adc])
            assert not ready and not valid and not any(starts)
        ctx.set(ctrl.status.clear, 1)
        await ctx.tick()
        ctx.set(ctrl.status.clear, 0)
        seen["after"] = ctx.get(ctrl.status.errors)

    async def feed(ctx):
        while not ctx.get(ctrl.status.error):
            ctx.set(ctrl.i.valid, 1)
            ctx.set(Value.cast(ctrl.i.payload), int(X[0, 0]))
            await ctx.tick()
        ctx.set(ctrl.i.valid, 0)

    sim = Simulator(ctrl)
    sim.add_clock(1e-8)
    sim.add_testbench(model.bench(ctrl.bus, params.hw.n_adc), background=True)
    sim.add_testbench(feed, background=True)
    sim.add_testbench(host)
    sim.run()
    assert seen == {"errors": 1 << ERRORS.index("done_missing"), "after": 0}
    # The same controller after a clear: here a fresh one, then the vectors (a cleared controller is one
    # just out of its accumulator clear, which this run_against starts from).
    _right(run_against(Controller(params, CASE.lp), CASE.lp, X, AdcModel(CASE.lp, "level"),
                       budget=_budget(params)))


# The test port and the host's writes -------------------------------------------------------------------

def _test_request(dut, request, cycles=300):
    """Make one raw-code request on a tile's test port: its code, or the named errors, or None (a hang)."""
    got = {}

    async def bench(ctx):
        await ctx.tick().until(dut.i.ready)
        for name, value in request.items():
            ctx.set(getattr(dut.test, name), value)
        ctx.set(dut.test.en, 1)
        status = getattr(dut, "status", None)
        for _ in range(cycles):
            _, _, valid, code = await ctx.tick().sample(dut.test.valid, dut.test.code)
            if valid:
                got["code"] = code
                return
            if status is not None and ctx.get(status.error):
                got["errors"] = [n for b, n in enumerate(ERRORS) if ctx.get(status.errors) >> b & 1]
                return

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


@pytest.mark.parametrize("field, value", [("adc", 3), ("res", 0), ("res", 5), ("col", 14)])
def test_a_test_request_out_of_range_is_a_named_error_not_a_hang(field, value):
    """n_adc = 3 is no power of two, so the port's `adc` can name ADC 3, which does not exist (before issue
    24 no ADC started and the controller waited forever); resolution 0 or above the full 4 bits, a column
    past the slot's 14, are refused the same way."""
    params = TileParams.from_plan(CASE.lp)
    assert params.hw.n_adc == 3 and params.hw.full_resolution == 4 and params.hw.slot_cols == 14
    request = {"section": 0, "col": 1, "drive": 0xff, "res": 2, "adc": 0} | {field: value}
    assert _test_request(Tile(params, CASE.lp, test_port=True), request) == {"errors": ["out_of_range"]}


def test_a_test_request_in_range_returns_its_code():
    params = TileParams.from_plan(CASE.lp)
    col = int(CASE.lp.columns["slot_col"][0])
    got = _test_request(Tile(params, CASE.lp, test_port=True), {"section": 0, "col": col, "drive": 0xff,
                                                                 "res": 4, "adc": 2})
    assert got == {"code": min(int(CASE.lp.cells[0, :, col].sum()), 15)}


GENERIC = TileParams(CASE.lp.cfg.hw, k=24, n=4, section_depth=8, row_depth=48, column_depth=96, lanes=1)


def _generic_run(steps):
    """A generic tile: `steps`, a list of ("prog", writes) / ("timing", word) / ("reset",) / ("vector", x) /
    ("idle", cycles); returns what each step saw: the status and, for a vector, its outputs (or None if
    the tile took no input within 300 cycles)."""
    dut = Tile(GENERIC)
    from tests.hwgen.reset import WithReset
    top = WithReset(dut, "tile")
    rst = top.rst

    seen = []

    async def status(ctx):
        return {"configured": ctx.get(dut.status.configured),
                "errors": [n for b, n in enumerate(ERRORS) if ctx.get(dut.status.errors) >> b & 1]}

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        for step in steps:
            if step[0] == "prog":
                await program(ctx, dut.prog, step[1])
                await ctx.tick()
            elif step[0] == "reset":
                ctx.set(rst, 1)
                await ctx.tick()
                ctx.set(rst, 0)
                await ctx.tick().repeat(20)
            elif step[0] == "vector":
                out, taken = [], 0
                for _ in range(300 + 20 * cycle_model(CASE.lp, GENERIC)["cycles"]):
                    ctx.set(dut.i.valid, taken < len(step[1]))
                    if taken < len(step[1]):
                        ctx.set(dut.i.payload, int(step[1][taken]))
                    _, _, ready, valid, y = await ctx.tick().sample(dut.i.ready, dut.o.valid, dut.o.payload)
                    taken += bool(ready and taken < len(step[1]))
                    if valid:
                        out.append(y)
                    if len(out) == CASE.lp.shape[1] or (taken == 0 and _ > 300) or ctx.get(dut.status.error):
                        break
                ctx.set(dut.i.valid, 0)
                seen.append({**await status(ctx), "taken": taken, "outputs": out})
                continue
            seen.append(await status(ctx))

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def _layer(k, n, sections):
    return (PROG_SELECT["layer"], 0, pack_words(layer_word_layout(GENERIC), {"sections": [sections], "k": [k],
                                                                              "n": [n]})[0])


def test_a_generic_tile_is_unconfigured_after_reset_refuses_input_and_runs_again_after_its_layer_word():
    """Reset keeps the tables (block RAM) but not the layer register: the tile says it is unconfigured and
    takes no input (before issue 24 it took the inputs and gave no outputs, then zeros); one layer word,
    the last of program_writes, configures it again."""
    x = CASE.x[1]
    writes = program_writes(GENERIC, CASE.lp)
    seen = _generic_run([("prog", writes), ("vector", x), ("reset",), ("vector", x), ("prog", writes[-1:]),
                         ("vector", x)])
    want = list(x @ CASE.w)
    assert seen[1] == {"configured": 1, "errors": [], "taken": len(x), "outputs": want}
    assert seen[3] == {"configured": 0, "errors": [], "taken": 0, "outputs": []}
    assert seen[5] == {"configured": 1, "errors": [], "taken": len(x), "outputs": want}


@pytest.mark.parametrize("k, n, sections", [(0, 2, 3), (25, 2, 3), (21, 0, 3), (21, 5, 3), (21, 2, 9)],
                         ids=["k0", "k_above_limit", "n0", "n_above_limit", "too_many_sections"])
def test_a_layer_word_out_of_range_is_refused_and_leaves_the_tile_unconfigured(k, n, sections):
    writes = program_writes(GENERIC, CASE.lp)
    seen = _generic_run([("prog", writes), ("prog", [_layer(k, n, sections)]), ("vector", CASE.x[1])])
    assert seen[1] == {"configured": 0, "errors": ["out_of_range"]}


def test_a_programming_write_while_a_vector_runs_is_refused_as_a_protocol_error():
    writes = program_writes(GENERIC, CASE.lp)
    dut = Tile(GENERIC)
    got = {}

    async def bench(ctx):
        await program(ctx, dut.prog, writes)
        for v in CASE.x[1]:
            ctx.set(dut.i.valid, 1)
            ctx.set(dut.i.payload, int(v))
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)
        await ctx.tick().repeat(10)
        assert ctx.get(dut.status.busy)
        await program(ctx, dut.prog, writes[:1])
        await ctx.tick()
        got["errors"] = ctx.get(dut.status.errors)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got["errors"] == 1 << ERRORS.index("host_protocol")


@pytest.mark.parametrize("word", [{"precharge": 65}, {"sync": 3}, {"watchdog": 0}])
def test_a_timing_word_out_of_range_is_refused(word):
    from hwgen.interface import timing_word
    params = TileParams.from_plan(CASE.lp)
    dut = Tile(params, CASE.lp)
    fields = {"precharge": 0, "wordline": 0, "settle": 0, "sample": 0, "sync": 0, "watchdog": 255, "guard": 0} | word
    got = {}

    async def bench(ctx):
        await ctx.tick().until(dut.i.ready)
        ctx.set(dut.timing.we, 1)
        ctx.set(Value.cast(dut.timing.data), timing_word(type("T", (), fields)))
        await ctx.tick()
        ctx.set(dut.timing.we, 0)
        await ctx.tick()
        got["errors"] = ctx.get(dut.status.errors)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got["errors"] == 1 << ERRORS.index("out_of_range")


# Reset in every state ------------------------------------------------------------------------------------

def _reset_at_every_cycle(case, offsets, generic: TileParams | None = None):
    """One simulation: for each offset t, a vector's inputs offered from cycle 0 and a one-cycle reset at
    cycle t (whatever state every state machine is in then), then (a generic tile: its layer word again)
    a whole vector. Returns, per offset, (i.ready, o.valid, status.busy at the reset, the vector's outputs)."""
    from tests.hwgen.reset import WithReset
    params = generic or TileParams.from_plan(case.lp)
    dut = Tile(params, None if generic else case.lp)
    top = WithReset(dut, "tile")
    rst = top.rst

    writes = program_writes(params, case.lp) if generic else []
    budget = 20 * cycle_model(case.lp, params)["cycles"] + 200
    seen = []

    async def vector(ctx, x, cycles):
        out, k = [], 0
        for _ in range(cycles):
            ctx.set(dut.i.valid, k < len(x))
            if k < len(x):
                ctx.set(dut.i.payload, int(x[k]))
            _, _, ready, valid, y = await ctx.tick().sample(dut.i.ready, dut.o.valid, dut.o.payload)
            k += bool(ready and k < len(x))
            if valid:
                out.append(y)
                if len(out) == case.lp.shape[1]:
                    break
        ctx.set(dut.i.valid, 0)
        return out

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        await program(ctx, dut.prog, writes) if generic else None
        for t in offsets:
            await vector(ctx, case.x[0], t)
            state = (ctx.get(dut.i.ready), ctx.get(dut.o.valid), ctx.get(dut.status.busy))
            ctx.set(rst, 1)
            await ctx.tick()
            ctx.set(rst, 0)
            if generic:
                assert not ctx.get(dut.status.configured)
                await program(ctx, dut.prog, writes[-1:])
            seen.append((*state, await vector(ctx, case.x[1], budget)))

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


@pytest.mark.parametrize("name", ["single_weight", pytest.param("a4_signed", marks=pytest.mark.slow)])
def test_a_reset_in_any_cycle_of_a_vector_leaves_the_next_vector_right(name):
    """A reset at every cycle of a vector (and of the accumulator clear before it), in each state of the
    phase (LOAD, RUN, OUT), prefetch, scheduler, accumulator and streamer state machines it goes through:
    the next vector's outputs are x @ W."""
    case = CASES[name]
    cycles = cycle_model(case.lp, TileParams.from_plan(case.lp))["cycles"]
    seen = _reset_at_every_cycle(case, range(0, cycles + 6, 1 if cycles < 100 else 2))
    want = list(case.x[1] @ case.w)
    assert all(out == want for *_, out in seen)
    states = {(r, v, b) for r, v, b, _ in seen}
    assert {(1, 0, 0), (1, 0, 1), (0, 0, 1), (0, 1, 1)} <= states     # idle, loading, running, streaming


def test_a_reset_of_a_generic_tile_in_any_cycle_leaves_it_unconfigured_then_right_after_its_layer_word():
    case = CASES["single_weight"]
    limits = TileParams(case.lp.cfg.hw, k=16, n=2, section_depth=2, row_depth=16, column_depth=8, lanes=1)
    cycles = cycle_model(case.lp, limits)["cycles"]
    seen = _reset_at_every_cycle(case, range(0, cycles + 6, 3), generic=limits)
    assert all(out == list(case.x[1] @ case.w) for *_, out in seen)


def test_a_reset_in_the_error_state_clears_it():
    """A missing done stops the controller; a reset (instead of status.clear) starts it afresh."""
    from tests.hwgen.reset import WithReset
    params = TileParams.from_plan(CASE.lp, timing=MacroTiming(sync=1, watchdog=20))
    ctrl = Controller(params, CASE.lp)
    model = AdcModel(CASE.lp, "level", missing=5)
    top = WithReset(ctrl, "ctrl")
    rst = top.rst

    got = {}

    async def bench(ctx):
        ctx.set(ctrl.o.ready, 1)
        for v in X[0]:
            ctx.set(ctrl.i.valid, 1)
            ctx.set(ctrl.i.payload, int(v))
            await ctx.tick().until(ctrl.i.ready)
        ctx.set(ctrl.i.valid, 0)
        await ctx.tick().until(ctrl.status.error)
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        await ctx.tick()
        got["errors"] = ctx.get(ctrl.status.errors)
        for v in X[1]:
            ctx.set(ctrl.i.valid, 1)
            ctx.set(ctrl.i.payload, int(v))
            await ctx.tick().until(ctrl.i.ready)
        ctx.set(ctrl.i.valid, 0)
        out = []
        while len(out) < CASE.lp.shape[1]:
            _, _, valid, y = await ctx.tick().sample(ctrl.o.valid, ctrl.o.payload)
            if valid:
                out.append(y)
        got["outputs"] = out

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(model.bench(ctrl.bus, params.hw.n_adc), background=True)
    sim.add_testbench(bench)
    sim.run()
    assert got == {"errors": 0, "outputs": list(X[1] @ CASE.w)}
