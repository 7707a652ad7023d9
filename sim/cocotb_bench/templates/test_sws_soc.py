"""cocotb testbench of an `sws_soc` (written by `sws rtl PLAN --testbench DIR`; runs without the sws project).

It reads bench.json (the golden outputs and counters the plan implies, computed by the generator's golden
model) and regmap.json (the register map), drives the host bus (AXI4-Lite with cocotbext-axi's
AxiLiteMaster, or Wishbone B4 with the small driver below) and the streams (cocotbext-axi's
AxiStreamSource and AxiStreamSink), and checks outputs, counters, status, errors and the interrupt.
Run it with `python run.py --sim verilator` or `--sim icarus` (cocotb's own runner).
"""

import json
import logging
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge
from cocotbext.axi import AxiLiteBus, AxiLiteMaster, AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "bench.json")) as _f:
    BENCH = json.load(_f)
with open(os.path.join(HERE, "regmap.json")) as _f:
    REGMAP = json.load(_f)
REGS = {r["name"]: r for r in REGMAP["registers"]}
CLOCK_NS = 10


def offset(name):
    return REGS[name]["offset"]


def field_of(reg, name, word):
    for f in REGS[reg]["fields"]:
        if f["name"] == name:
            return (word >> f["lsb"]) & ((1 << f["width"]) - 1)
    raise KeyError(f"{reg}.{name}")


class Wishbone:
    """A Wishbone B4 master, one transfer at a time: signals change on the falling edge, ACK is looked at
    on the falling edge after each rising edge. Classic: STB held until ACK; pipelined: STB for the one
    cycle the slave takes it (STALL low), CYC until ACK."""

    def __init__(self, dut):
        self.dut = dut
        self.pipelined = REGMAP["bus"] == "wishbone-pipelined"
        for name in ("cyc", "stb", "we", "adr", "dat_w", "sel"):
            getattr(dut, "wb_" + name).value = 0

    async def _transfer(self, addr, data, we):
        d = self.dut
        await FallingEdge(d.clk)
        d.wb_adr.value, d.wb_dat_w.value, d.wb_we.value, d.wb_sel.value = addr // 4, data, we, 0xF
        d.wb_cyc.value, d.wb_stb.value = 1, 1
        for _ in range(100):
            stalled = self.pipelined and d.wb_stall.value
            await FallingEdge(d.clk)
            if self.pipelined and not stalled:
                d.wb_stb.value = 0
            if d.wb_ack.value:
                value = int(d.wb_dat_r.value)
                d.wb_cyc.value, d.wb_stb.value, d.wb_we.value = 0, 0, 0
                return value
        raise AssertionError(f"no Wishbone ACK for address {addr:#x}")

    async def write(self, addr, value):
        await self._transfer(addr, value, 1)

    async def read(self, addr):
        return await self._transfer(addr, 0, 0)


class AxiLite:
    def __init__(self, dut):
        self.master = AxiLiteMaster(AxiLiteBus.from_prefix(dut, "s_axi"), dut.clk, dut.rst, reset_active_level=True)
        for side in (self.master.write_if, self.master.read_if):     # one log line per transfer otherwise
            side.log.setLevel(logging.WARNING)

    async def write(self, addr, value):
        await self.master.write_dword(addr, value)

    async def read(self, addr):
        return await self.master.read_dword(addr)


class Host:
    """The register block by name, over the generated bus."""

    def __init__(self, dut):
        self.bus = AxiLite(dut) if REGMAP["bus"] == "axil" else Wishbone(dut)

    async def write(self, reg, value):
        await self.bus.write(offset(reg), value)

    async def read(self, reg):
        return await self.bus.read(offset(reg))

    async def field(self, reg, name):
        return field_of(reg, name, await self.read(reg))

    async def counters(self):
        """CTRL.SNAPSHOT, then every counter (two 32-bit words each, the register map's *_LO and *_HI), named
        as the golden model's Prediction.counters(); and the wrapper's VECTORS."""
        await self.write("CTRL", 1)                                   # SNAPSHOT
        out = {"conversions": [0] * (BENCH["conv_bits"] + 1)}
        for stem, member, index in BENCH["counter_registers"]:
            value = await self.read(f"{stem}_LO") | await self.read(f"{stem}_HI") << 32
            if member == "conversions":
                out["conversions"][index] = value
            else:
                out[member] = value
        out["vectors"] = await self.read("VECTORS")
        return out


def vector_bytes(vector, width_bytes, beat):
    """One vector as TDATA bytes: each element in `width_bytes` little-endian two's complement bytes, the
    vector padded to whole beats only where asked (callers pass padded vectors)."""
    out = bytearray()
    for v in vector:
        out += int(v).to_bytes(width_bytes, "little", signed=True)
    return bytes(out)


def decode(data, width_bytes):
    return [int.from_bytes(data[i:i + width_bytes], "little", signed=True) for i in range(0, len(data), width_bytes)]


async def start(dut):
    """Clock, reset, the bus and the streams."""
    try:
        clock = Clock(dut.clk, CLOCK_NS, unit="ns")                   # cocotb 2
    except TypeError:
        clock = Clock(dut.clk, CLOCK_NS, units="ns")                  # cocotb 1.9
    cocotb.start_soon(clock.start())
    dut.rst.value = 1
    host = Host(dut)
    src = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst, reset_active_level=True)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst, reset_active_level=True)
    src.log.setLevel(logging.WARNING)
    sink.log.setLevel(logging.WARNING)
    await ClockCycles(dut.clk, 5)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 2)
    assert await host.read("ID") == REGS["ID"]["reset"], "ID register"
    if BENCH["prog"] is not None:
        await program(host)
    # The accumulators clear after reset (n_groups cycles) before the tile takes inputs.
    await ClockCycles(dut.clk, 4 + BENCH["n"])
    return host, src, sink


async def program(host):
    """Load the plan into a generic tile over the bus: table words through PROG_*, then LAYER."""
    n_data = sum(1 for r in REGS if r.startswith("PROG_DATA"))
    next_addr = None
    for sel, addr, data in BENCH["prog"]:
        if sel == BENCH["layer_select"]:
            await host.write("LAYER", data)
            continue
        if addr != next_addr:
            await host.write("PROG_ADDR", addr)
        for i in range(n_data):
            await host.write(f"PROG_DATA{i}", (data >> (32 * i)) & 0xFFFFFFFF)
        await host.write("PROG_WRITE", sel)
        next_addr = addr + 1
    layer = await host.read("LAYER")
    assert layer == BENCH["layer_word"], f"LAYER reads {layer:#x}, written {BENCH['layer_word']:#x}"


async def run_vectors(dut, src, sink, vectors, frames=None):
    """Send the vectors (one frame each, or the given frames), receive one output frame each."""
    beat, eb_in, eb_out = BENCH["beat"], BENCH["in_bytes"], BENCH["out_bytes"]
    for f in frames if frames is not None else [vector_bytes(v, eb_in, beat) for v in vectors]:
        await src.send(AxiStreamFrame(f))
    outputs = []
    for _ in vectors:
        frame = await sink.recv()
        assert len(frame.tdata) == BENCH["n"] * eb_out, \
            f"output frame of {len(frame.tdata)} bytes (TKEEP/TLAST), expected N * {eb_out} = {BENCH['n'] * eb_out}"
        outputs.append(decode(frame.tdata, eb_out))
    await src.wait()
    return outputs


def check_counters(got, want, *, cycles="equal"):
    """Every counter equal to the golden model's; the busy cycles equal (stall-free streams) or at least
    the stall-free cycles (bubbles and backpressure)."""
    assert set(got) == set(want), f"counters read {sorted(got)}, golden {sorted(want)}"
    for name in sorted(want):
        if name == "cycles" and cycles != "equal":
            assert got[name] >= want[name], f"cycles {got[name]} below the stall-free {want[name]}"
        else:
            assert got[name] == want[name], f"counter {name}: simulation {got[name]}, golden {want[name]}"


def bubbles(rng, p):
    while True:
        yield rng.random() < p


@cocotb.test()
async def outputs_and_counters_stall_free(dut):
    """Stall-free streams: outputs, counters and busy cycles equal the golden model's."""
    host, src, sink = await start(dut)
    await host.write("CTRL", 2)                                       # CLEAR
    run = BENCH["runs"]["stall_free"]
    assert await run_vectors(dut, src, sink, run["inputs"]) == run["outputs"], "outputs differ from x @ W"
    await ClockCycles(dut.clk, 2)
    check_counters(await host.counters(), run["counters"])
    assert await host.field("STATUS", "BUSY") == 0
    assert await host.read("ERROR") == 0, "no error bit after a clean run"
    assert await host.field("STATUS", "VIOLATION") == 0, "macro-contract violation"


@cocotb.test()
async def outputs_and_counters_with_bubbles_and_backpressure(dut):
    """Random input bubbles and output backpressure: the same outputs and counts; cycles only grow."""
    host, src, sink = await start(dut)
    rng = random.Random(BENCH["seed"])
    src.set_pause_generator(bubbles(rng, 0.3))
    sink.set_pause_generator(bubbles(rng, 0.4))
    await host.write("IRQ_ENABLE", 1)                                 # DONE
    assert dut.irq.value == 0
    run = BENCH["runs"]["bubbles"]
    assert await run_vectors(dut, src, sink, run["inputs"]) == run["outputs"], "outputs differ from x @ W"
    await ClockCycles(dut.clk, 2)
    check_counters(await host.counters(), run["counters"], cycles="at least")
    assert dut.irq.value == 1, "irq after the vectors' DONE"
    assert await host.field("IRQ_STATUS", "DONE") == 1
    await host.write("IRQ_STATUS", 1)                                 # write 1 to clear
    await ClockCycles(dut.clk, 2)
    assert dut.irq.value == 0 and await host.field("IRQ_STATUS", "DONE") == 0
    await host.write("CTRL", 2)                                       # CLEAR
    got = await host.counters()
    assert all(v == 0 for k, v in got.items() if k != "conversions") and sum(got["conversions"]) == 0, \
        f"counters after CLEAR: {got}"


@cocotb.test()
async def tlast_errors_are_flagged_and_cleared(dut):
    """TLAST missing (two vectors in one frame) and early (a vector in two frames): the outputs are still
    right, ERROR and the ERROR interrupt say so, and a write of 1 clears them."""
    host, src, sink = await start(dut)
    await host.write("IRQ_ENABLE", 2)                                 # ERROR
    run = BENCH["runs"]["stall_free"]
    beat, eb = BENCH["beat"], BENCH["in_bytes"]
    pad = -len(run["inputs"][0]) % beat
    v0, v1 = [list(v) + [0] * pad for v in run["inputs"][:2]]
    frames = [vector_bytes(v0, eb, beat) + vector_bytes(v1, eb, beat)]
    assert await run_vectors(dut, src, sink, run["inputs"][:2], frames) == run["outputs"][:2]
    await ClockCycles(dut.clk, 2)
    assert await host.field("ERROR", "TLAST_MISSING") == 1 and await host.field("ERROR", "TLAST_EARLY") == 0
    assert dut.irq.value == 1 and await host.field("IRQ_STATUS", "ERROR") == 1
    await host.write("ERROR", 0xFFFFFFFF)
    await host.write("IRQ_STATUS", 2)
    assert await host.read("ERROR") == 0
    if len(v0) > beat:                                                # a vector of more than one beat
        cut = beat * eb
        whole = vector_bytes(v0, eb, beat)
        assert await run_vectors(dut, src, sink, run["inputs"][:1], [whole[:cut], whole[cut:]]) == run["outputs"][:1]
        await ClockCycles(dut.clk, 2)
        assert await host.field("ERROR", "TLAST_EARLY") == 1


def timing_words(t):
    """The TIMING, TIMING_ADC and TIMING_GUARD words of a timing (a dict of MacroTiming's fields)."""
    words = {"TIMING": 0, "TIMING_ADC": 0, "TIMING_GUARD": 0}
    for reg in words:
        for f in REGS[reg]["fields"]:
            words[reg] |= t[f["name"].lower()] << f["lsb"]
    return words


def status_bits(word):
    return {f["name"]: field_of("STATUS", f["name"], word) for f in REGS["STATUS"]["fields"]}


@cocotb.test()
async def run_time_timing_over_the_bus(dut):
    """Phase timing written over the bus (TIMING, then the guard cycles TIMING_GUARD) between vectors: the
    outputs are x @ W and every counter, the busy cycles included, is the golden model's for that timing
    (not the generation-time one)."""
    host, src, sink = await start(dut)
    alt = BENCH["runs"]["timing"]
    words = timing_words(alt["timing"])
    assert await host.read("TIMING_ADC") == timing_words(BENCH["timing"])["TIMING_ADC"], "TIMING_ADC after reset"
    await host.write("TIMING", words["TIMING"])
    assert await host.read("TIMING") == words["TIMING"], "TIMING reads back what was written"
    await host.write("TIMING_GUARD", words["TIMING_GUARD"])
    assert await host.read("TIMING_GUARD") == words["TIMING_GUARD"], "TIMING_GUARD reads back what was written"
    await host.write("CTRL", 2)                                       # CLEAR
    assert await run_vectors(dut, src, sink, alt["inputs"]) == alt["outputs"]
    await ClockCycles(dut.clk, 2)
    check_counters(await host.counters(), alt["counters"])
    assert status_bits(await host.read("STATUS"))["ERROR"] == 0


@cocotb.test()
async def status_reports_a_refused_host_value_and_error_clear_leaves_the_error_state(dut):
    """An out-of-range TIMING phase (and on a generic tile an out-of-range LAYER word: K = 0) is refused: the
    controller's OUT_OF_RANGE and ERROR in STATUS, ERROR.CTRL_ERROR and its interrupt, no input taken;
    CTRL.ERROR_CLEAR clears them, and the tile then computes x @ W with the generation-time timing (the
    refused word did not reach it) and the golden counters."""
    host, src, sink = await start(dut)
    await host.write("IRQ_ENABLE", 2)                                 # ERROR
    good = timing_words(BENCH["timing"])
    bad = dict(BENCH["timing"], precharge=100)                        # above the 64 cycles a phase may take
    cases = [("TIMING", timing_words(bad)["TIMING"], good["TIMING"])]
    if BENCH["prog"] is not None:
        k = next(f for f in REGS["LAYER"]["fields"] if f["name"] == "K")
        kmask = ((1 << k["width"]) - 1) << k["lsb"]
        cases.append(("LAYER", BENCH["layer_word"] & ~kmask, BENCH["layer_word"]))
    for reg, wrong, right in cases:
        await host.write(reg, wrong)
        await ClockCycles(dut.clk, 2)
        st = status_bits(await host.read("STATUS"))
        assert st["OUT_OF_RANGE"] == 1 and st["ERROR"] == 1, f"{reg} {wrong:#x}: STATUS {st}"
        assert st["HOST_PROTOCOL"] == 0 and st["DONE_MISSING"] == 0 and st["DONE_PROTOCOL"] == 0, st
        if reg == "LAYER":
            assert st["CONFIGURED"] == 0, "a refused LAYER word leaves the tile unconfigured"
        assert await host.field("ERROR", "CTRL_ERROR") == 1 and dut.irq.value == 1
        assert dut.s_axis_tready.value == 0, "no input taken in the error state"
        await host.write("CTRL", 4)                                   # ERROR_CLEAR
        await host.write("ERROR", 0xFFFFFFFF)
        await host.write("IRQ_STATUS", 2)
        await host.write(reg, right)
        await ClockCycles(dut.clk, 2)
        st = status_bits(await host.read("STATUS"))
        assert st["ERROR"] == 0 and st["OUT_OF_RANGE"] == 0 and st["CONFIGURED"] == 1, f"after ERROR_CLEAR: {st}"
        assert dut.irq.value == 0
    await host.write("CTRL", 2)                                       # CLEAR
    run = BENCH["runs"]["stall_free"]
    assert await run_vectors(dut, src, sink, run["inputs"]) == run["outputs"], "outputs differ from x @ W"
    await ClockCycles(dut.clk, 2)
    check_counters(await host.counters(), run["counters"])
