"""Protocol checkers for simulation, a stream driver and consumer with random bubbles and backpressure,
and a tile harness that can inject a protocol fault (to show that the checkers fire).

The checkers know only the documented ports (docs/design.md section 6): the array interface as
`hwgen.interface.ArraySignature` has it (`bus.adc[i]`; with B > 1 banks a checker on each bank's `bus[b]`), and
the host's `o` stream (W elements a beat). A violation raises ProtocolError from inside the simulation, naming
the cycle, the bank (with B > 1), the port and the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth import Module, Signal, Value
from amaranth.lib import wiring
from amaranth.sim import Simulator

from hwgen.controller import Controller
from hwgen.emulator import array_emulator
from hwgen.interface import bank_buses, connect_array, host_members, pack_beats, unpack_beat
from hwgen.params import TileParams
from mapper.plan import LayerPlan
from sim.amaranth_sim import error_names, read_counters

__all__ = ["ProtocolError", "Seen", "FAULTS", "Harness", "array_monitor", "stream_monitor", "run_checked"]

#: Faults the harness can inject between the controller and the array, or on the host's `o` stream.
FAULTS = ("double_start", "res_zero", "res_too_high", "col_past_slot", "col_outside_group", "payload_glitch",
          "valid_drop")


class ProtocolError(AssertionError):
    """A protocol rule broken in simulation."""


@dataclass
class Seen:
    """What the checkers and the stream ends saw: the proof that a run exercised what it claims."""
    starts: int = 0            # ADC starts checked
    busy_cycles: int = 0       # (cycle, ADC) pairs with a conversion running
    stalls: int = 0            # cycles with o.valid and not o.ready
    bubbles: int = 0           # cycles with i.valid low between a vector's first and last input
    starts_by_res: dict = field(default_factory=dict)


def array_monitor(bus, params: TileParams, seen: Seen, bank: int | None = None):
    """A testbench that checks one array interface every cycle: no ADC started while busy (counted mode:
    started and its done not yet seen, a start in the done cycle allowed; four-phase handshake: a start
    rising while its conversion runs or its done is still high), `adc_res` within 1..full resolution and
    `adc_col` within the slot's columns (with adc_mux M, within ADC i's group) at every start, no done
    without a conversion running (handshake: no done rising without one). `bank` (with B > 1) names the
    bank in the messages."""
    cfg = params.hw
    hand = params.timing.sync != 0
    lanes = bus.adc
    probes = [s for lane in lanes for s in (lane.start, lane.res, lane.col, lane.done)]
    where = "" if bank is None else f"bank {bank} "

    async def watch(ctx):
        since = [None] * cfg.n_adc           # the cycle ADC i was started, while it converts
        was_start, was_done = [0] * cfg.n_adc, [0] * cfg.n_adc
        cycle = 0
        async for _, _, *values in ctx.tick().sample(*probes):
            for i in range(cfg.n_adc):
                start, res, col, done = values[4 * i:4 * i + 4]
                adc = f"{where}ADC {i}"
                rising_done = done and not (hand and was_done[i])
                if rising_done and since[i] is None:
                    raise ProtocolError(f"cycle {cycle}: {adc} done without a conversion running")
                begins = start and not (hand and was_start[i])
                if begins and since[i] is not None and not done:
                    raise ProtocolError(f"cycle {cycle}: {adc} started while busy "
                                        f"(started at cycle {since[i]}, not yet done)")
                if hand and begins and done:
                    raise ProtocolError(f"cycle {cycle}: {adc} started while its done is still high")
                if rising_done:
                    since[i] = None
                if begins:
                    if not 1 <= res <= cfg.full_resolution:
                        raise ProtocolError(f"cycle {cycle}: {adc} started with adc_res {res}, "
                                            f"outside 1..{cfg.full_resolution}")
                    if cfg.adc_mux and not 0 <= col < min(cfg.adc_mux, cfg.slot_cols - i * cfg.adc_mux):
                        raise ProtocolError(f"cycle {cycle}: {adc} started with adc_col {col}, "
                                            f"outside its group of slot columns {i * cfg.adc_mux}.."
                                            f"{min(cfg.slot_cols, (i + 1) * cfg.adc_mux) - 1}")
                    if not cfg.adc_mux and not 0 <= col < cfg.slot_cols:
                        raise ProtocolError(f"cycle {cycle}: {adc} started with adc_col {col}, "
                                            f"outside the slot's columns 0..{cfg.slot_cols - 1}")
                    since[i] = cycle
                    seen.starts += 1
                    seen.starts_by_res[res] = seen.starts_by_res.get(res, 0) + 1
                seen.busy_cycles += since[i] is not None
                was_start[i], was_done[i] = start, done
            cycle += 1
    return watch


def stream_monitor(o, seen: Seen):
    """A testbench that checks a stream's source every cycle: once valid and not ready, the payload is
    held and valid stays high until the beat is taken."""
    async def watch(ctx):
        held = None
        cycle = 0
        async for _, _, valid, ready, payload in ctx.tick().sample(o.valid, o.ready, Value.cast(o.payload)):
            if held is not None:
                if not valid:
                    raise ProtocolError(f"cycle {cycle}: o.valid dropped before the beat was taken")
                if payload != held:
                    raise ProtocolError(f"cycle {cycle}: o.payload changed from {held} to {payload} "
                                        "while o.valid and not o.ready")
            held = payload if valid and not ready else None
            seen.stalls += bool(valid and not ready)
            cycle += 1
    return watch


class Harness(wiring.Component):
    """The tile's controller and array emulator, wired as `hwgen.tile.Tile` wires them, with the array
    interface exposed (`link`, as the array sees it: with B > 1 banks, `link[b]`) and an optional fault
    injected on the link (bank 0's) or the host's `o` stream. Without a fault it is the tile."""

    def __init__(self, params: TileParams, plan: LayerPlan, *, extra_latency: int = 0, fault: str | None = None):
        if fault is not None and fault not in FAULTS:
            raise ValueError(f"fault must be one of {FAULTS}, not {fault!r}")
        self.params, self.plan, self.fault = params, plan, fault
        self.controller = Controller(params, plan)
        self.array = array_emulator(params, plan, extra_latency=extra_latency)
        super().__init__(host_members(params, False))

    @property
    def link(self):
        return self.array.bus

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = ctrl = self.controller
        m.submodules.array = arr = self.array
        fault, cfg = self.fault, self.params.hw
        wiring.connect(m, wiring.flipped(self.i), ctrl.i)
        for name in ("counters", "status"):
            wiring.connect(m, getattr(ctrl, name), wiring.flipped(getattr(self, name)))
        wiring.connect(m, wiring.flipped(self.timing), ctrl.timing)
        m.d.comb += self.o.last.eq(ctrl.o.last)
        ctrl_buses, arr_buses = bank_buses(ctrl.bus, self.params), bank_buses(arr.bus, self.params)
        for c, a in zip(ctrl_buses, arr_buses, strict=True):
            connect_array(m, c, a)              # a fault below overrides one of these connections
        m.d.comb += [self.o.valid.eq(ctrl.o.valid), self.o.payload.eq(ctrl.o.payload), ctrl.o.ready.eq(self.o.ready)]
        ctrl_lane, arr_lane = ctrl_buses[0].adc[0], arr_buses[0].adc[0]
        if fault == "double_start":
            # ADC 0 started again the cycle after a start of at least 2 bits: it is still converting.
            again = Signal()
            m.d.sync += again.eq(ctrl_lane.start & (ctrl_lane.res >= 2))
            m.d.comb += arr_lane.start.eq(ctrl_lane.start | again)
        elif fault == "res_zero":
            m.d.comb += arr_lane.res.eq(0)
        elif fault == "res_too_high":
            m.d.comb += arr_lane.res.eq(cfg.full_resolution + 1)
        elif fault == "col_past_slot":
            m.d.comb += arr_lane.col.eq(cfg.slot_cols)
        elif fault == "col_outside_group":
            # ADC groups: the last ADC sent the first column past its group (its group is short, or M is no
            # power of two, so the port can carry it).
            last = arr_buses[0].adc[-1]
            m.d.comb += last.col.eq(min(cfg.adc_mux, cfg.slot_cols - (cfg.n_adc - 1) * cfg.adc_mux))
        elif fault == "payload_glitch":
            # The payload's bit 0 flips every cycle: visible only while the beat waits.
            flip = Signal()
            m.d.sync += flip.eq(~flip)
            m.d.comb += self.o.payload.eq(ctrl.o.payload ^ flip)
        elif fault == "valid_drop":
            # valid withdrawn for a cycle after every stalled cycle, then offered again.
            stalled = Signal()
            m.d.sync += stalled.eq(ctrl.o.valid & ~self.o.ready)
            m.d.comb += self.o.valid.eq(ctrl.o.valid & ~stalled)
        return m


@dataclass
class CheckedRun:
    outputs: np.ndarray          # (V, N) in stream order
    counters: dict
    seen: Seen
    extra_valid: int             # o.valid cycles seen after the last expected output


def run_checked(lp: LayerPlan, x: np.ndarray, *, seed: int = 0, p_bubble: float = 0.0, p_stall: float = 0.0,
                extra_latency: int = 0, fault: str | None = None, params: TileParams | None = None,
                budget: int | None = None, monitors: bool = True) -> CheckedRun:
    """Simulate the tile (any B banks, W elements a beat, double-buffered or not) with the checkers watching
    (one on each bank's array interface, one on `o`), inputs with random bubbles (probability p_bubble before
    each beat) and outputs with random backpressure (o.ready low with p_stall, and always in
    the first cycle of an output burst when p_stall > 0, so that every such run stalls)."""
    from mapper.schedule import cycle_model
    x = np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    params = params or TileParams.from_plan(lp)
    dut = Harness(params, lp, extra_latency=extra_latency, fault=fault)
    n = lp.shape[1]
    v_count = len(x)
    seen = Seen()
    rng = np.random.default_rng(seed)
    budget = budget or 20 * (extra_latency + 2) * cycle_model(lp, params)["cycles"] * v_count + 1000
    result = {}

    # W elements a beat (hwgen.interface.beat_shape); a vector is ceil(N / W) output beats, padding dropped.
    beat, in_payload, out_payload = params.beat, Value.cast(dut.i.payload), Value.cast(dut.o.payload)
    n_beats = -(-n // beat)

    async def drive(ctx):
        for v in range(v_count):
            for kk, word in enumerate(pack_beats(x[v], beat, lp.cfg.hw.input_bits)):
                while rng.random() < p_bubble:
                    ctx.set(dut.i.valid, 0)
                    await ctx.tick()
                    seen.bubbles += kk > 0
                ctx.set(dut.i.valid, 1)
                ctx.set(in_payload, word)
                while not (await ctx.tick().sample(dut.i.ready))[2]:
                    pass
            ctx.set(dut.i.valid, 0)

    async def take(ctx):
        got = []
        was_valid = False
        for cycle in range(budget):
            if len(got) == v_count * n_beats:
                break
            # With backpressure on, the first cycle of every output burst always waits (so every run stalls,
            # whatever the schedule), the others at random.
            stall = (p_stall > 0 and not was_valid) or rng.random() < p_stall
            ctx.set(dut.o.ready, int(not stall))
            _, _, valid, ready, payload, error = await ctx.tick().sample(dut.o.valid, dut.o.ready, out_payload,
                                                                          dut.status.error)
            if error:
                raise ProtocolError(f"cycle {cycle}: the controller reported errors: "
                                    f"{', '.join(error_names(ctx.get(dut.status.errors)))}")
            was_valid = bool(valid)
            if valid and ready:
                got.append(payload)
        else:
            raise ProtocolError(f"{len(got)} of {v_count * n_beats} output beats after {budget} cycles")
        # Nothing more may come: no output is duplicated.
        ctx.set(dut.o.ready, 1)
        extra = 0
        for _ in range(n_beats + 8):
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            extra += valid
        elements = [e for raw in got for e in unpack_beat(raw, beat, params.acc_width)]
        result["outputs"] = np.array(elements, np.int64).reshape(v_count, n_beats * beat)[:, :n]
        result["extra"] = extra
        result["counters"] = await read_counters(ctx, dut.counters, lp.cfg.hw.adc_bits)
        if ctx.get(dut.status.error):
            raise ProtocolError(f"the controller reported errors: {', '.join(error_names(ctx.get(dut.status.errors)))}")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    if monitors:        # without them, only the design's own assertions (the emulator's) watch
        links = bank_buses(dut.link, params)
        for b, link in enumerate(links):
            sim.add_testbench(array_monitor(link, params, seen, None if len(links) == 1 else b), background=True)
        sim.add_testbench(stream_monitor(dut.o, seen), background=True)
    sim.add_testbench(drive, background=True)
    sim.add_testbench(take)
    sim.run()
    return CheckedRun(result["outputs"], result["counters"], seen, result["extra"])
