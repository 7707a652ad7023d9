"""Amaranth simulation driver: runs a tile on input vectors and reads back the outputs and counters."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from amaranth import Value
from amaranth.sim import Simulator

from hwgen.emulator import VIOLATIONS
from hwgen.interface import pack_beats, unpack_beat
from hwgen.params import TileParams
from hwgen.program import program_writes
from hwgen.tile import Tile
from mapper.common import atomic_path
from mapper.plan import LayerPlan

__all__ = ["SimRun", "run_tile", "ProtocolViolation", "program"]


class ProtocolViolation(RuntimeError):
    """The array emulator saw the controller break the macro contract (hwgen.emulator.VIOLATIONS)."""


@dataclass
class SimRun:
    outputs: np.ndarray              # (V, N) int64
    cycles_per_vector: list[int]
    counters: dict                   # totals: cycles, conversions (list by bits), planes, sections
    sim_cycles: int                  # clock cycles simulated, programming included
    seconds: float                   # wall time of the simulation
    cpu_seconds: float = 0.0         # CPU time of the simulation (this process)


async def program(ctx, prog, writes) -> None:
    """Make the programming writes (sel, addr, data) on a generic netlist's `prog` port, one a cycle, and
    leave `we` low."""
    for sel, addr, data in writes:
        ctx.set(prog.we, 1)
        ctx.set(prog.sel, sel)
        ctx.set(prog.addr, addr)
        ctx.set(prog.data, data)
        await ctx.tick()
    ctx.set(prog.we, 0)


def run_tile(lp: LayerPlan, x: np.ndarray, *, vcd: str | None = None, generic: TileParams | None = None,
             params: TileParams | None = None, extra_latency: int = 0) -> SimRun:
    """Simulate the tile for the vectors x (V, K): the plan-initialized tile, or with `generic` limits a
    generic tile programmed through its port first. Inputs stream back to back; outputs are taken at once.
    `extra_latency` (tests only) makes the emulated ADCs' done that many cycles late."""
    x = np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    if generic is not None:
        params = generic
        dut = Tile(generic, extra_latency=extra_latency)
        writes = program_writes(params, lp)
    else:
        params = params or TileParams.from_plan(lp)
        dut = Tile(params, lp, extra_latency=extra_latency)
        writes = []
    n = lp.shape[1]
    outputs = np.zeros((len(x), n), np.int64)
    # W elements a beat, packed element e at bits [e * width, (e + 1) * width) (hwgen.interface.beat_shape).
    beat, a, acc_w = params.beat, lp.cfg.hw.input_bits, params.acc_width
    in_payload, out_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    per_vector = []
    result = {}

    async def bench(ctx):
        if generic is not None:
            await program(ctx, dut.prog, writes)
            await ctx.tick()
        ctx.set(dut.o.ready, 1)
        before = ctx.get(dut.counters.cycles)
        fed["go"] = True
        for v in range(len(x)):
            if not overlap:
                await feed(ctx, v)
            # Sleep through the computation instead of waking every cycle (the simulation's main cost).
            if not ctx.get(dut.o.valid):
                await ctx.changed(dut.o.valid)
            got = []
            for _ in range(-(-n // beat)):
                (value,) = await ctx.tick().sample(out_payload).until(dut.o.valid)
                got += unpack_beat(value, beat, acc_w)
            outputs[v] = got[:n]
            now = ctx.get(dut.counters.cycles)
            per_vector.append(now - before)
            before = now
        result["counters"] = {
            "cycles": ctx.get(dut.counters.cycles),
            "conversions": [ctx.get(dut.counters.conversions[b]) for b in range(lp.cfg.hw.full_resolution + 1)],
            "planes": ctx.get(dut.counters.planes),
            "sections": ctx.get(dut.counters.sections),
        }
        result["violation"] = ctx.get(dut.violation)

    # Double-buffered hardware takes the next vector while it runs: the inputs then stream from a
    # testbench of their own, without a gap, while this one takes the outputs.
    overlap = params.hw.double_buffer
    fed = {"go": False}

    async def feed(ctx, v):
        for word in pack_beats(x[v], beat, a):
            ctx.set(dut.i.valid, 1)
            ctx.set(in_payload, word)
            await ctx.tick().until(dut.i.ready)
        ctx.set(dut.i.valid, 0)

    async def feeder(ctx):
        while not fed["go"]:
            await ctx.tick()
        for v in range(len(x)):
            await feed(ctx, v)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if overlap:
        sim.add_testbench(feeder, background=True)
    start, cpu = time.perf_counter(), time.process_time()
    if vcd:
        with atomic_path(vcd) as tmp:   # a failed run leaves no half-written waveform
            with sim.write_vcd(tmp):
                sim.run()
    else:
        sim.run()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if result["violation"]:
        broken = [rule for k, rule in enumerate(VIOLATIONS) if result["violation"] >> k & 1]
        raise ProtocolViolation(f"the array emulator flagged a protocol violation: {', '.join(broken)}")
    sim_cycles = sum(per_vector) + (len(writes) + 1 if generic is not None else 0)
    return SimRun(outputs, per_vector, result["counters"], sim_cycles, seconds, cpu)
