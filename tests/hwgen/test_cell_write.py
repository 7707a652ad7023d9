"""Program-and-verify cell writes (hwgen/cell_write.py, `MacroTiming.write_ack`; docs/design.md section 6
"Electrical interface"): the handshake alone against a macro of random latency (four phases in order, the
request held until its acknowledge, busy), a generic tile programmed under random write latencies (x @ W,
the golden cycles), a programming write while busy refused, and a reset of the controller in the middle of
a write (busy until the macro has finished, then reprogrammed to x @ W)."""

import numpy as np
import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.hdl import ResetInserter
from amaranth.sim import Simulator

from hwgen.cell_write import CellWriter
from hwgen.controller import Controller
from hwgen.emulator import VIOLATIONS, ArrayEmulator
from hwgen.interface import ERRORS, PROG_SELECT, connect_array, pack_beats
from hwgen.params import TileParams
from hwgen.program import program_writes
from hwgen.tile import Tile
from mapper.schedule import MacroTiming
from sim.amaranth_sim import program, run_tile
from sim.golden import predict
from tests.sim.cases import check, rtl_cases

CASE = {c.name: c for c in rtl_cases()}["r8_k_not_multiple"]


def _sim(dut, bench, *background):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    for b in background:
        sim.add_testbench(b, background=True)
    sim.run()


@pytest.mark.parametrize("seed", range(3))
def test_the_handshake_holds_each_write_until_its_acknowledge_in_four_phases(seed):
    """A testbench macro acknowledges each request after a random 1..9 cycles (busy meanwhile) and drops the
    acknowledge a random 0..3 cycles after the request falls. Every write arrives once, in order, with the
    address and data of its request, held from wr_en's rise to the acknowledge; wr_en never rises while
    wr_ack is high; busy is high from the request to the acknowledge's fall."""
    rng = np.random.default_rng(seed)
    dut = CellWriter(6, 8)
    writes = [(int(a), int(d)) for a, d in zip(rng.integers(0, 64, 12), rng.integers(0, 256, 12))]
    seen, log = [], {"rises_during_ack": 0, "changed": 0, "cycles": 0}

    async def macro(ctx):
        held = None
        wait = drop = None
        en_was = 0
        async for _, _, en, addr, data in ctx.tick().sample(dut.wr_en, dut.wr_addr, dut.wr_data):
            ack = ctx.get(dut.wr_ack)
            if en and not en_was and ack:
                log["rises_during_ack"] += 1
            if en and not en_was and held is None:
                held, wait = (addr, data), int(rng.integers(1, 10))
                ctx.set(dut.wr_busy, 1)
            elif held is not None and en and (addr, data) != held:
                log["changed"] += 1
            if held is not None and wait is not None:
                wait -= 1
                if wait == 0:
                    seen.append(held)
                    ctx.set(dut.wr_busy, 0)
                    ctx.set(dut.wr_ack, 1)
                    wait = None
            elif held is not None and ack and not en:
                drop = int(rng.integers(0, 4)) if drop is None else drop - 1
                if drop == 0:
                    ctx.set(dut.wr_ack, 0)
                    held = drop = None
            en_was = en

    async def host(ctx):
        for addr, data in writes:
            await ctx.tick().until(~dut.busy)
            ctx.set(dut.req, 1)
            ctx.set(dut.addr, addr)
            ctx.set(dut.data, data)
            await ctx.tick()
            ctx.set(dut.req, 0)
            ctx.set(dut.addr, 0)
            ctx.set(dut.data, 0)
            assert ctx.get(dut.busy) and ctx.get(dut.wr_en)
        await ctx.tick().until(~dut.busy)
        await ctx.tick().repeat(3)

    _sim(dut, host, macro)
    assert seen == writes
    assert log["rises_during_ack"] == 0 and log["changed"] == 0


@pytest.mark.parametrize("latency, random", [(1, 0), (4, 0), (1, 3), (3, 4)])
def test_a_generic_tile_programmed_under_random_write_latencies_computes_x_at_w(latency, random):
    """The cells written through the handshake to an emulated macro whose write loop takes `latency` plus a
    random 0 .. 2**random - 1 cycles (the programming harness waits for STATUS write_busy before each
    write): outputs x @ W and the golden model's cycles and counters (programming is not busy time)."""
    params = TileParams.from_plan(CASE.lp, timing=MacroTiming(write_ack=True))
    run = run_tile(CASE.lp, CASE.x, generic=params, write_latency=latency, write_random=random)
    check(CASE, run, predict(CASE.lp, CASE.x, params))
    cells = sum(1 for sel, _, _ in program_writes(params, CASE.lp) if sel == PROG_SELECT["cells"])
    assert cells > 5


def test_a_programming_write_while_a_cell_write_is_busy_is_refused():
    params = TileParams.from_plan(CASE.lp, timing=MacroTiming(write_ack=True))
    dut = Tile(params, write_latency=20)
    writes = [w for w in program_writes(params, CASE.lp) if w[0] == PROG_SELECT["cells"]][:2]
    got = {}

    async def bench(ctx):
        for sel, addr, data in writes:            # back to back: the second while the first is busy
            ctx.set(dut.prog.we, 1)
            ctx.set(dut.prog.sel, sel)
            ctx.set(dut.prog.addr, addr)
            ctx.set(dut.prog.data, data)
            await ctx.tick()
        ctx.set(dut.prog.we, 0)
        await ctx.tick()
        got["busy"] = ctx.get(dut.status.write_busy)
        got["errors"] = [e for k, e in enumerate(ERRORS) if ctx.get(dut.status.errors) >> k & 1]
        await ctx.tick().until(~dut.status.write_busy)
        got["violation"] = ctx.get(dut.violation)

    _sim(dut, bench)
    assert got == {"busy": 1, "errors": ["host_protocol"], "violation": 0}


class _ResettableController(Elaboratable):
    """A generic controller under a reset of its own (`ctrl_rst`) and the emulated macro, which that reset
    does not reach: a reset of the controller in the middle of the macro's write loop."""

    def __init__(self, params, latency):
        self.params = params
        self.ctrl = Controller(params)
        self.emu = ArrayEmulator(params, write_latency=latency)
        self.ctrl_rst = Signal()

    def elaborate(self, platform):
        m = Module()
        m.submodules.ctrl = ResetInserter(self.ctrl_rst)(self.ctrl)
        m.submodules.emu = self.emu
        connect_array(m, self.ctrl.bus, self.emu.bus)
        return m


@pytest.mark.parametrize("when", [2, 9])
def test_a_reset_in_the_middle_of_a_write_stays_busy_until_the_macro_is_done_and_recovers(when):
    """The controller is reset `when` cycles into a cell write (its request held, the macro's 15-cycle loop
    running): wr_en drops at once, STATUS write_busy stays high until the macro's loop ends (the request
    withdrawn: no acknowledge), no rule of the macro is broken; programmed again, it computes x @ W."""
    params = TileParams.from_plan(CASE.lp, timing=MacroTiming(write_ack=True))
    dut = _ResettableController(params, latency=15)
    ctrl, emu = dut.ctrl, dut.emu
    writes = program_writes(params, CASE.lp)
    first_cell = next(i for i, w in enumerate(writes) if w[0] == PROG_SELECT["cells"])
    got = {"busy_after_reset": []}
    n = CASE.lp.shape[1]

    async def bench(ctx):
        await program(ctx, ctrl.prog, writes[:first_cell + 1], ctrl.status.write_busy)
        await ctx.tick().until(ctrl.bus.wr_en)
        await ctx.tick().repeat(when)
        assert ctx.get(ctrl.bus.wr_en) and ctx.get(emu.bus.wr_busy)
        ctx.set(dut.ctrl_rst, 1)
        await ctx.tick()
        ctx.set(dut.ctrl_rst, 0)
        got["wr_en_after_reset"] = ctx.get(ctrl.bus.wr_en)
        while ctx.get(ctrl.status.write_busy):
            got["busy_after_reset"].append(ctx.get(emu.bus.wr_busy))
            await ctx.tick()
        got["ack_seen"] = ctx.get(emu.bus.wr_ack)
        await program(ctx, ctrl.prog, writes, ctrl.status.write_busy)
        await ctx.tick().until(~ctrl.status.write_busy)
        ctx.set(ctrl.o.ready, 1)
        outs = []
        for x in CASE.x:
            for word in pack_beats(x, 1, params.hw.input_bits):
                ctx.set(ctrl.i.valid, 1)
                ctx.set(ctrl.i.payload, word)
                await ctx.tick().until(ctrl.i.ready)
            ctx.set(ctrl.i.valid, 0)
            vec = []
            while len(vec) < n:
                (value,) = await ctx.tick().sample(ctrl.o.payload).until(ctrl.o.valid)
                vec.append(int(value))
            outs.append(vec)
        got["outputs"] = outs
        got["errors"] = ctx.get(ctrl.status.errors)
        got["violation"] = [r for k, r in enumerate(VIOLATIONS) if ctx.get(emu.violation) >> k & 1]

    _sim(dut, bench)
    assert got["wr_en_after_reset"] == 0
    # Busy while the macro's loop still runs (15 - when - 1 cycles of it), then while its busy is seen.
    assert len(got["busy_after_reset"]) >= 15 - when - 2 and got["busy_after_reset"][0] == 1
    assert got["ack_seen"] == 0
    assert got["errors"] == 0 and got["violation"] == []
    assert np.array_equal(np.array(got["outputs"]), CASE.x @ CASE.w)
