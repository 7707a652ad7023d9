"""Amaranth simulation driver: runs a tile on input vectors and reads back the outputs and counters."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from amaranth import Value
from amaranth.sim import Simulator

from hwgen.emulator import VIOLATIONS
from hwgen.interface import ERRORS, EVENTS, pack_beats, unpack_beat
from hwgen.params import TileParams
from hwgen.program import program_writes
from hwgen.tile import Tile
from mapper.common import atomic_path
from mapper.plan import LayerPlan

__all__ = ["SimRun", "run_tile", "ProtocolViolation", "ControllerError", "SimulationHang", "program", "read_counters",
           "error_names"]


class ProtocolViolation(RuntimeError):
    """The array emulator saw the controller break the macro contract (hwgen.emulator.VIOLATIONS)."""


class ControllerError(RuntimeError):
    """The controller stopped in its error state; `errors` names the sticky bits (hwgen.interface.ERRORS),
    `violations` the rules the array emulator saw broken meanwhile (hwgen.emulator.VIOLATIONS)."""

    def __init__(self, errors: list[str], violations: list[str] = ()):
        self.errors, self.violations = errors, list(violations)
        also = f"; the array emulator flagged a protocol violation: {', '.join(violations)}" if violations else ""
        super().__init__(f"the controller stopped with errors: {', '.join(errors)}{also}")


class SimulationHang(RuntimeError):
    """Neither the outputs nor an error came within the cycle budget."""


def error_names(bits: int) -> list[str]:
    """The names (hwgen.interface.ERRORS) of the set bits of `status.errors`."""
    return [name for k, name in enumerate(ERRORS) if bits >> k & 1]


async def read_counters(ctx, counters, full_resolution: int) -> dict:
    """Every counter, through the counter port's snapshot (one cycle): cycles, conversions (a list by
    bits) and the events (hwgen.interface.EVENTS)."""
    ctx.set(counters.snapshot, 1)
    await ctx.tick()
    ctx.set(counters.snapshot, 0)
    return {"cycles": ctx.get(counters.cycles),
            "conversions": [ctx.get(counters.conversions[b]) for b in range(full_resolution + 1)],
            **{name: ctx.get(getattr(counters, name)) for name in EVENTS}}


@dataclass
class SimRun:
    outputs: np.ndarray              # (V, N) int64
    cycles_per_vector: list[int]
    counters: dict                   # totals: cycles, conversions (list by bits), planes, sections
    sim_cycles: int                  # clock cycles simulated, programming included
    seconds: float                   # wall time of the simulation
    cpu_seconds: float = 0.0         # CPU time of the simulation (this process)


async def program(ctx, prog, writes, write_busy=None) -> None:
    """Make the programming writes (sel, addr, data) on a generic netlist's `prog` port, one a cycle, and
    leave `we` low. With program-and-verify cells (`MacroTiming.write_ack`) `write_busy` is the status
    port's: each write waits for it to be low (a write while it is high is refused)."""
    for sel, addr, data in writes:
        if write_busy is not None and ctx.get(write_busy):
            ctx.set(prog.we, 0)
            await ctx.tick().until(~write_busy)
        ctx.set(prog.we, 1)
        ctx.set(prog.sel, sel)
        ctx.set(prog.addr, addr)
        ctx.set(prog.data, data)
        await ctx.tick()
    ctx.set(prog.we, 0)


def run_tile(lp: LayerPlan, x: np.ndarray, *, vcd: str | None = None, generic: TileParams | None = None,
             params: TileParams | None = None, extra_latency: int = 0, done_mode: str = "level",
             max_cycles: int | None = None, write_latency: int = 1, write_random: int = 0) -> SimRun:
    """Simulate the tile for the vectors x (V, K): the plan-initialized tile, or with `generic` limits a
    generic tile programmed through its port first. Inputs stream back to back; outputs are taken at once.
    `write_latency` and `write_random` (program-and-verify cells, `MacroTiming.write_ack`) set the emulated
    macro's write loop. `extra_latency` and `done_mode` (tests only) make the emulated ADCs' done that many
    cycles late, and
    a level or a pulse in handshake mode. Raises ControllerError when the controller stops in its error
    state, SimulationHang when neither the outputs nor an error came within `max_cycles` (default: ten
    times the golden cycle count, and more)."""
    from mapper.schedule import cycle_model
    x = np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    if generic is not None:
        params = generic
        dut = Tile(generic, extra_latency=extra_latency, done_mode=done_mode, write_latency=write_latency,
                   write_random=write_random)
        writes = program_writes(params, lp)
    else:
        params = params or TileParams.from_plan(lp)
        dut = Tile(params, lp, extra_latency=extra_latency, done_mode=done_mode)
        writes = []
    n = lp.shape[1]
    outputs = np.zeros((len(x), n), np.int64)
    # W elements a beat, packed element e at bits [e * width, (e + 1) * width) (hwgen.interface.beat_shape).
    beat, a, acc_w = params.beat, lp.cfg.hw.input_bits, params.acc_width
    fr = lp.cfg.hw.adc_bits        # the widest conversion (the bipolar drive: one bit more)
    in_payload, out_payload = Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    per_vector = []
    result = {}
    if max_cycles is None:
        max_cycles = (10 * (extra_latency + 1) * (cycle_model(lp, params)["cycles"] + params.timing.first_wake + 50)
                      * len(x) + len(writes) * (write_latency + (1 << write_random) + 8) + 10000)

    async def bench(ctx):
        if generic is not None:
            await program(ctx, dut.prog, writes, dut.status.write_busy if params.timing.write_ack else None)
            await ctx.tick()
        ctx.set(dut.o.ready, 1)
        before = 0
        fed["go"] = True
        for v in range(len(x)):
            if not overlap:
                await feed(ctx, v)
            # Sleep through the computation instead of waking every cycle (the simulation's main cost).
            if not ctx.get(dut.o.valid) and not ctx.get(dut.status.error):
                await ctx.changed(dut.o.valid, dut.status.error)
            got = []
            for _ in range(-(-n // beat)):
                value, error = await ctx.tick().sample(out_payload, dut.status.error).until(
                    dut.o.valid | dut.status.error)
                if error:
                    result["errors"] = error_names(ctx.get(dut.status.errors))
                    result["violation"] = ctx.get(dut.violation)
                    return
                got += unpack_beat(value, beat, acc_w)
            outputs[v] = got[:n]
            ctx.set(dut.counters.snapshot, 1)
            await ctx.tick()
            ctx.set(dut.counters.snapshot, 0)
            now = ctx.get(dut.counters.cycles)
            per_vector.append(now - before)
            before = now
        await ctx.tick().repeat(4)          # the last events reach the counters
        result["counters"] = await read_counters(ctx, dut.counters, fr)
        result["violation"] = ctx.get(dut.violation)

    # Double-buffered hardware takes the next vector while it runs: the inputs then stream from a
    # testbench of their own, without a gap, while this one takes the outputs.
    overlap = params.hw.double_buffer
    fed = {"go": False}

    async def feed(ctx, v):
        for word in pack_beats(x[v], beat, a):
            ctx.set(dut.i.valid, 1)
            ctx.set(in_payload, word)
            await ctx.tick().until(dut.i.ready | dut.status.error)
            if ctx.get(dut.status.error):
                break
        ctx.set(dut.i.valid, 0)

    async def feeder(ctx):
        while not fed["go"]:
            await ctx.tick()
        for v in range(len(x)):
            await feed(ctx, v)

    async def watchdog(ctx):
        await ctx.delay(max_cycles * 1e-8)
        raise SimulationHang(f"{len(per_vector)} of {len(x)} vectors' outputs after {max_cycles} cycles, "
                             "and no error reported")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.add_testbench(watchdog, background=True)
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
    broken = [rule for k, rule in enumerate(VIOLATIONS) if result["violation"] >> k & 1]
    if "errors" in result:
        raise ControllerError(result["errors"], broken)
    if broken:
        raise ProtocolViolation(f"the array emulator flagged a protocol violation: {', '.join(broken)}")
    sim_cycles = sum(per_vector) + (len(writes) + 1 if generic is not None else 0)
    return SimRun(outputs, per_vector, result["counters"], sim_cycles, seconds, cpu)
