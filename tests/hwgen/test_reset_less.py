"""The datapath's reset-less data registers change nothing a port shows (docs/results/controller.md, tenth
round): a tile as built and the same tile with every register of the files that made them reset-less given
its reset again (the RTL before that change), driven side by side with the same inputs, bubbles and
backpressure, and a one-cycle reset or a halt (a host write while a vector is in progress: the
`host_protocol` error, the datapath held in reset until the host's clear) at every cycle of a vector,
agree on every output port and on the array interface in every cycle. The reference also loads the
cursor's section only at a take, as before the eleventh round (`BatchCursor.waiting`: it loads in every
cycle the scheduler waits), so the test checks that change too. And each part's copy of `halt` equals
`halt` in every cycle."""

import sys

import numpy as np
import pytest
from amaranth import Cat, Signal, Value
from amaranth.hdl import ClockDomain, Elaboratable, Fragment, Module, ResetSignal
from amaranth.lib import data
from amaranth.sim import Simulator

from hwgen.batches import BatchCursor
from hwgen.interface import bank_buses, timing_word
from hwgen.params import TileParams
from hwgen.tile import Tile
from mapper.schedule import cycle_model
from tests.sim.cases import bipolar_cases, mux_cases, rtl_cases

#: The files whose registers were made reset-less (none of them had one before).
FILES = ("hwgen/shift_add.py", "hwgen/scheduler.py", "hwgen/batches.py", "hwgen/accumulate.py")
CASES = {c.name: c for c in [*rtl_cases(), *bipolar_cases(), *mux_cases()]}


def _caller_file():
    """The file of the first frame outside Amaranth that is making a Signal."""
    f = sys._getframe(2)
    while f is not None and "/amaranth/" in f.f_code.co_filename:
        f = f.f_back
    return "" if f is None else f.f_code.co_filename


def _all_reset(tile):
    """`tile` elaborated with every Signal made in FILES given a reset (`reset_less` False)."""
    init = Signal.__init__

    def with_reset(self, *args, **kwargs):
        if kwargs.get("reset_less") and _caller_file().endswith(FILES):
            kwargs["reset_less"] = False
        init(self, *args, **kwargs)

    Signal.__init__ = with_reset
    try:
        return Fragment.get(tile, None)
    finally:
        Signal.__init__ = init


def _before(tile):
    """`tile` elaborated as before the reset-less registers and `BatchCursor.waiting`: `_all_reset`, and
    the cursor's section loaded at a take only (its `waiting` read as `take` while it elaborates)."""
    elaborate = BatchCursor.elaborate

    def at_take(self, platform):
        waiting, self.waiting = self.waiting, self.take
        try:
            return elaborate(self, platform)
        finally:
            self.waiting = waiting

    BatchCursor.elaborate = at_take
    try:
        return _all_reset(tile)
    finally:
        BatchCursor.elaborate = elaborate


def _reset_less_count(frag):
    """Signals assigned in `sync` that are reset-less, in `frag` and below."""
    n = 0
    for stmts in frag.statements.values():
        for s in stmts:
            n += sum(sig.reset_less for sig in s._lhs_signals())
    return n + sum(_reset_less_count(sub) for sub, *_ in frag.subfragments)


class _Pair(Elaboratable):
    """The two tiles under one clock and reset, their inputs driven from one set of signals, and `differ`:
    high in a cycle where a pair of their ports (`pairs`) or a part's copy of `halt` and `halt` differ (the
    comparison in the simulated logic, so the bench reads one signal a cycle; `which` names the ports)."""

    def __init__(self, dut, ref_fragment, ref):
        self.dut, self.ref = dut, ref_fragment
        self.pairs = list(zip(_ports(dut), _ports(ref), strict=True))
        self.halts = []    # (name, copy, halt) once the controller is elaborated (it makes them)
        self.differ = Signal()
        # The inputs and the reset in one signal, so the bench sets one signal a cycle (each set settles the
        # design once): a struct of a field per input, set from a dict of their values.
        self._ref_inputs = dict(_inputs(ref))
        self.drive = Signal(data.StructLayout({"rst": 1, **{n: Value.cast(v).shape() for n, v in _inputs(dut)}}))

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.submodules.dut, m.submodules.ref = Fragment.get(self.dut, platform), self.ref
        halt = self.dut.controller._halt
        self.halts = [(f"the {part} copy of halt", h, halt) for part, h in self.dut.controller._halts.items()]
        assert self.halts
        m.d.comb += ResetSignal().eq(self.drive["rst"])
        for n, v in _inputs(self.dut):
            m.d.comb += [Value.cast(v).eq(self.drive[n]), Value.cast(self._ref_inputs[n]).eq(self.drive[n])]
        m.d.comb += self.differ.eq(Cat(*[a != b for (_, a), (_, b) in self.pairs],
                                       *[h != halt for _, h, halt in self.halts]).any())
        return m

    def which(self, ctx):
        """The names of the ports (or copies of halt) that differ now."""
        return ([n for (n, a), (_, b) in self.pairs if ctx.get(a) != ctx.get(b)]
                + [n for n, h, halt in self.halts if ctx.get(h) != ctx.get(halt)])


def _inputs(tile):
    """The tile's inputs the bench drives, as (name, value)."""
    return [("i.valid", tile.i.valid), ("i.payload", tile.i.payload), ("o.ready", tile.o.ready),
            ("timing.we", tile.timing.we), ("timing.data", tile.timing.data), ("status.clear", tile.status.clear)]


def _ports(tile):
    """Every output of the tile and its controller's array interface, as (name, value)."""
    ctrl, out = tile.controller, []
    for name in ("o", "counters", "status"):
        sig = getattr(tile, name)
        out += [(f"{name}.{'.'.join(map(str, path))}", Value.cast(v)) for path, _, v in sig.signature.flatten(sig)]
    out += [("i.ready", tile.i.ready), ("violation", tile.violation)]
    for b, bus in enumerate(bank_buses(ctrl.bus, tile.params)):
        out += [(f"bus{b}.{'.'.join(map(str, path))}", Value.cast(v)) for path, _, v in bus.signature.flatten(bus)]
    return out


@pytest.mark.parametrize("name, step", [("single_weight", 1), ("a4_signed", 1),
                                        *[pytest.param(n, s, marks=pytest.mark.slow) for n, s in (
                                            ("r8_k_not_multiple", 2), ("r32_natural_section", 2),
                                            (bipolar_cases()[0].name, 3), (mux_cases()[0].name, 2))]])
def test_reset_less_data_registers_change_no_port_under_a_reset_or_halt_in_any_cycle(name, step):
    """Per offset t (every `step`-th cycle of a vector and a little past it): a reset, then the vector's
    inputs offered (with random bubbles and backpressure) and at cycle t a one-cycle reset or (alternately)
    a host write, which while the vector is in progress stops the controller with `host_protocol` until a
    clear 1 to 3 cycles later; then a vector more. Every port of the two tiles equal in every cycle."""
    case = CASES[name]
    params = TileParams.from_plan(case.lp)
    cycles = cycle_model(case.lp, params)["cycles"]
    dut, ref = Tile(params, case.lp), Tile(params, case.lp)
    ref_frag = _before(ref)
    assert _reset_less_count(ref_frag) < _reset_less_count(Fragment.get(Tile(params, case.lp), None))
    top = _Pair(dut, ref_frag, ref)
    word = timing_word(params.timing)
    rng = np.random.default_rng(cycles)
    values = case.x.flatten()
    seen = {"cycles": 0, "outputs": 0, "halts": 0, "resets": 0}

    async def cycle(ctx, rst=0, we=0, clear=0):
        valid, ready, payload = rng.random() < 0.9, rng.random() < 0.9, int(rng.choice(values))
        ctx.set(top.drive, {"rst": rst, "i.valid": valid, "i.payload": payload, "o.ready": ready,
                            "timing.we": we, "timing.data": word, "status.clear": clear})
        # Every port of the two tiles equal, and each part's copy of `halt` (hwgen.controller) `halt`.
        assert not ctx.get(top.differ), f"{top.which(ctx)} at cycle {seen['cycles']}"
        halt = ctx.get(dut.controller._halt)
        seen["outputs"] += bool(ctx.get(dut.o.valid) and ready)
        seen["halts"] += halt
        seen["resets"] += rst
        seen["cycles"] += 1
        await ctx.tick()

    async def bench(ctx):
        for k, t in enumerate(range(0, cycles + 6, step)):
            await cycle(ctx, rst=1)
            for _ in range(t):
                await cycle(ctx)
            if k % 2:
                await cycle(ctx, rst=1)
            else:
                await cycle(ctx, we=1)
                for _ in range(int(rng.integers(1, 4))):
                    await cycle(ctx)
                await cycle(ctx, clear=1)
            for _ in range(cycles + 40):
                await cycle(ctx)

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # The vectors ran to their outputs, and halts came (a host write while the vector is in progress).
    assert seen["outputs"] > cycles // step and seen["halts"] > cycles // step // 4, seen
