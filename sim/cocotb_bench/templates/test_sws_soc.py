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
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
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
        """Snapshot, then read every counter."""
        await self.write("CTRL", 1)                                   # SNAPSHOT
        out = {"cycles": await self.read("CYCLES_LO") | await self.read("CYCLES_HI") << 32,
               "planes": await self.read("PLANES"), "sections": await self.read("SECTIONS"),
               "vectors": await self.read("VECTORS")}
        res = BENCH["full_resolution"]
        out["conversions"] = [0] + [await self.read(f"CONV{b}") for b in range(1, res + 1)]
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
    assert await host.read("ID") == 0x53575301, "ID register"
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
    for name in ("planes", "sections", "conversions"):
        assert got[name] == want[name], f"counter {name}: simulation {got[name]}, golden {want[name]}"
    assert got["vectors"] == want["vectors"], f"vectors: {got['vectors']}, expected {want['vectors']}"
    if cycles == "equal":
        assert got["cycles"] == want["cycles"], f"cycles: simulation {got['cycles']}, golden {want['cycles']}"
    else:
        assert got["cycles"] >= want["cycles"], f"cycles {got['cycles']} below the stall-free {want['cycles']}"


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
    assert got["cycles"] == 0 and got["vectors"] == 0 and sum(got["conversions"]) == 0, "counters after CLEAR"


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


@cocotb.test()
async def run_time_timing_over_the_bus(dut):
    """Phase timing written over the bus: with STATUS.TIMING_LIVE the cycles are the golden cycles of the
    new timing; without (the controller's timing port not wired yet), TIMING holds what is written and
    the cycles stay those of the generation-time timing."""
    host, src, sink = await start(dut)
    alt = BENCH["runs"]["timing"]
    t = alt["timing"]
    await host.write("TIMING", t["precharge"] | t["wordline"] << 8 | t["settle"] << 16 | t["sample"] << 24)
    word = await host.read("TIMING")
    assert [field_of("TIMING", n, word) for n in ("PRECHARGE", "WORDLINE", "SETTLE", "SAMPLE")] == \
        [t["precharge"], t["wordline"], t["settle"], t["sample"]], "TIMING reads back what was written"
    live = await host.field("STATUS", "TIMING_LIVE")
    await host.write("CTRL", 2)
    assert await run_vectors(dut, src, sink, alt["inputs"]) == alt["outputs"]
    await ClockCycles(dut.clk, 2)
    want = alt["counters"] if live else BENCH["runs"]["stall_free"]["counters"]
    check_counters(await host.counters(), want)
    dut._log.info("TIMING_LIVE=%d: cycles checked against the %s timing", live, "written" if live else "generation-time")
