"""The SoC wrapper's parts alone (hwgen/soc): the register map's emitters agree, the register file's access
kinds, the AXI4-Lite and Wishbone bridges, the AXI4-Stream framing (TLAST, TKEEP of partial beats), the
counter snapshot and clear, and the whole sws_soc in Amaranth's simulator with a generic tile programmed
over the bus."""

import json
import re

import numpy as np
import pytest
from amaranth import ClockDomain, Elaboratable, Module, Value
from amaranth.sim import Simulator

from hwgen.emulator import array_emulator
from hwgen.interface import PROG_SELECT, connect_array
from hwgen.params import MacroTiming, TileParams
from hwgen.program import program_writes
from hwgen.soc.axis import StreamToAxis
from hwgen.soc.bus import AxiLiteToCsr, WishboneToCsr
from hwgen.soc.constraints import nextpnr_sdc_text, sdc_text
from hwgen.soc.csr import READ_GROUP, RegisterFile
from hwgen.soc.regmap import NOT_WIRED, Field, Register, RegisterMap, counter_names, register_map
from hwgen.soc.top import SocTile
from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.plan import rebuild_weights
from mapper.schedule import ScheduleParams
from sim.golden import golden_outputs, predict
from tests.sim.cases import weights
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan
from mapper.sources import QuantLayer


def _params(**kw):
    hw = ArrayConfig(rows=16, cols=42, n_adc=3, **kw).hw
    return TileParams(hw, k=40, n=6, section_depth=8, row_depth=64, column_depth=64, lanes=1)


def _sim(dut, bench, deadline=1e-4):
    """Simulate until `bench` ends (not on to the deadline: `run_until` would clock the design all the way
    there); a bench still running at `deadline` simulated seconds fails the test (a hang)."""
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    if deadline:
        async def watchdog(ctx):
            await ctx.delay(deadline)
            raise AssertionError(f"the bench has not ended after {deadline} s of simulated time")
        sim.add_testbench(watchdog, background=True)
    sim.run()


# The register map -------------------------------------------------------------------------------------

def test_register_map_emitters_agree_on_every_register_and_field():
    rm = register_map(_params(), generic=True)
    d = json.loads(rm.to_json())
    header, md = rm.to_c_header(), rm.to_markdown()
    assert [r["name"] for r in d["registers"]] == [r.name for r in rm.registers]
    for r in rm.registers:
        m = re.search(rf"#define SWS_SOC_{r.name}_OFFSET 0x([0-9a-f]+)u", header)
        assert m and int(m.group(1), 16) == r.offset
        assert f"| {r.offset:#05x} | {r.name} |" in md
        for f in r.fields:
            m = re.search(rf"#define SWS_SOC_{r.name}_{f.name}_MASK 0x([0-9a-f]+)u", header)
            assert m and int(m.group(1), 16) == ((1 << f.width) - 1) << f.lsb
    # Every field has a port behind it now (the guard, the write busy, the power control included): no
    # output carries the unwired marker.
    assert all(f.wired for r in rm.registers for f in r.fields)
    assert NOT_WIRED not in md and "not wired yet" not in header
    by_name = {r["name"]: r for r in d["registers"]}
    assert [f["wired"] for f in by_name["TIMING_GUARD"]["fields"]] == [True]
    # Without power control or program-and-verify writes, POWER and WRITE_BUSY are read-only constants
    # that say why; with them, POWER is read/write and WRITE_BUSY the controller's.
    assert [f["access"] for f in by_name["POWER"]["fields"]] == ["ro", "ro"]
    assert "one cycle" in rm["STATUS"].field("WRITE_BUSY").doc
    both = TileParams(_params().hw, 40, 6, 8, 64, 64, 1, MacroTiming(write_ack=True, power=True, wake=9))
    rm2 = register_map(both, generic=True)
    assert [f.access for f in rm2["POWER"].fields] == ["rw", "rw"] and rm2["POWER"].reset == 1
    assert "9 cycles" in rm2["POWER"].doc and "wr_ack" in rm2["STATUS"].field("WRITE_BUSY").doc


def test_register_map_has_every_counter_as_two_words_and_every_error_bit_by_name():
    p = _params()
    rm = register_map(p, generic=False)
    # The controller's counters (hwgen.interface.CounterSignature): cycles, conversions 1..full resolution and
    # the 15 events of docs/design.md section 6, 48 bits each: LO 32 bits, HI 16 bits, eight bytes apart.
    events = ["PLANES", "SECTIONS", "PRECHARGES", "WORDLINES", "SAMPLE_HOLDS", "ROWS_HIGH", "CODE_SUM", "SHIFT_ADDS",
              "ROW_READS", "COLUMN_READS", "FLUSHES", "INPUTS", "OUTPUTS", "ROW_DRIVES", "CELL_READS"]
    stems = ["CYCLES"] + [f"CONV{b}" for b in range(1, p.hw.full_resolution + 1)] + events
    for stem in stems:
        lo, hi = rm[f"{stem}_LO"], rm[f"{stem}_HI"]
        assert hi.offset == lo.offset + 4
        assert (lo.fields[0].width, hi.fields[0].width) == (32, 16)
    assert "CONV0_LO" not in rm and "VECTORS" in rm
    status = {f.name: f.lsb for f in rm["STATUS"].fields}
    assert {k: status[k] for k in ("BUSY", "CONFIGURED", "ERROR", "DONE_MISSING", "DONE_PROTOCOL", "HOST_PROTOCOL",
                                   "OUT_OF_RANGE")} == {"BUSY": 0, "CONFIGURED": 2, "ERROR": 7, "DONE_MISSING": 8,
                                                        "DONE_PROTOCOL": 9, "HOST_PROTOCOL": 10, "OUT_OF_RANGE": 11}
    assert rm["CTRL"].field("ERROR_CLEAR").access == "pulse"


def test_register_map_offsets_are_word_aligned_and_unique_and_a_baked_tile_has_no_prog_registers():
    generic, baked = register_map(_params(), generic=True), register_map(_params(), generic=False)
    for rm in (generic, baked):
        offsets = [r.offset for r in rm.registers]
        assert len(set(offsets)) == len(offsets) and all(o % 4 == 0 for o in offsets) and max(offsets) < rm.size
    assert "PROG_WRITE" in generic and "LAYER" in generic
    assert "PROG_WRITE" not in baked and "LAYER" not in baked
    # TIMING resets to the generation-time timing.
    rm = register_map(TileParams(_params().hw, 40, 6, 8, 64, 64, 1, MacroTiming(2, 3, 1, 1, sync=2, watchdog=40)),
                      generic=False)
    assert rm["TIMING"].reset == 2 | 3 << 8 | 1 << 16 | 1 << 24
    assert rm["TIMING_ADC"].reset == 2 | 40 << 8
    assert rm["TIMING_GUARD"].reset == 0
    guarded = TileParams(_params().hw, 40, 6, 8, 64, 64, 1, MacroTiming(1, 1, 1, 1, guard=5))
    assert register_map(guarded, generic=False)["TIMING_GUARD"].reset == 5


def test_bad_register_descriptions_name_the_rule():
    with pytest.raises(SwsError, match="field X: bits 30..33 do not fit 32 bits"):
        Field("X", 30, 4, "rw", "")
    with pytest.raises(SwsError, match="access must be one of"):
        Field("X", 0, 1, "wo", "")
    with pytest.raises(SwsError, match="field B overlaps"):
        Register("R", 0, "", (Field("A", 0, 4, "rw", ""), Field("B", 3, 2, "rw", "")))
    with pytest.raises(SwsError, match="bus must be one of"):
        register_map(_params(), generic=False, bus="apb")


# The register file behind each bridge --------------------------------------------------------------------

_MAP = RegisterMap("t", "axil", (
    Register("A", 0x0, "", (Field("RW", 0, 12, "rw", "", 0x5A5),)),
    Register("B", 0x4, "", (Field("ST", 0, 3, "w1c", ""), Field("GO", 8, 1, "pulse", ""))),
    Register("C", 0x8, "", (Field("IN", 4, 8, "ro", ""), Field("K", 16, 4, "ro", "", 9))),
))


class AxiLiteHost:
    """A plain AXI4-Lite manager for the Amaranth simulator: valid held until ready, checks the response."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut

    def g(self, name):
        return getattr(self.dut, "s_axi_" + name)

    async def write(self, addr, data, strb=0xF):
        c = self.ctx
        c.set(self.g("awaddr"), addr), c.set(self.g("wdata"), data), c.set(self.g("wstrb"), strb)
        c.set(self.g("awvalid"), 1), c.set(self.g("wvalid"), 1), c.set(self.g("bready"), 1)
        for _ in range(20):
            aw = c.get(self.g("awready"))
            await c.tick()
            if aw:
                break
        c.set(self.g("awvalid"), 0), c.set(self.g("wvalid"), 0)
        for _ in range(20):
            if c.get(self.g("bvalid")):
                assert c.get(self.g("bresp")) == 0
                await c.tick()
                c.set(self.g("bready"), 0)
                return
            await c.tick()
        raise AssertionError("no BVALID")

    async def read(self, addr):
        c = self.ctx
        c.set(self.g("araddr"), addr), c.set(self.g("arvalid"), 1), c.set(self.g("rready"), 1)
        for _ in range(20):
            ar = c.get(self.g("arready"))
            await c.tick()
            if ar:
                break
        c.set(self.g("arvalid"), 0)
        for _ in range(20):
            if c.get(self.g("rvalid")):
                value = c.get(self.g("rdata"))
                await c.tick()
                c.set(self.g("rready"), 0)
                return value
            await c.tick()
        raise AssertionError("no RVALID")


class WishboneHost:
    """Classic: STB held until ACK; pipelined: STB for the one cycle the slave takes it (STALL low)."""

    def __init__(self, ctx, dut):
        self.ctx, self.dut = ctx, dut
        self.pipelined = hasattr(dut, "wb_stall")

    async def _cycle(self, addr, data, we, sel=0xF):
        c, d = self.ctx, self.dut
        c.set(d.wb_adr, addr // 4), c.set(d.wb_dat_w, data), c.set(d.wb_we, we), c.set(d.wb_sel, sel)
        c.set(d.wb_cyc, 1), c.set(d.wb_stb, 1)
        for _ in range(10):
            stalled = self.pipelined and c.get(d.wb_stall)
            await c.tick()
            if self.pipelined and not stalled:
                c.set(d.wb_stb, 0)
            if c.get(d.wb_ack):
                value = c.get(d.wb_dat_r)
                c.set(d.wb_cyc, 0), c.set(d.wb_stb, 0)
                await c.tick()
                return value
        raise AssertionError("no ACK")

    async def write(self, addr, data, strb=0xF):
        await self._cycle(addr, data, 1, strb)

    async def read(self, addr):
        return await self._cycle(addr, 0, 0)


def _bridged(bus, regmap=_MAP, driven=frozenset({"C_IN"})):
    from amaranth import Module
    from amaranth.lib import wiring

    class Top(wiring.Component):
        def __init__(self):
            self.rf = RegisterFile(regmap, driven=driven)
            words = max(2, (regmap.size // 4 - 1).bit_length())
            bridge = (AxiLiteToCsr(words + 2) if bus == "axil"
                      else WishboneToCsr(words, pipelined=bus == "wishbone-pipelined"))
            self.bridge = bridge
            super().__init__({k: v for k, v in bridge.signature.members.items() if k != "csr"})

        def elaborate(self, platform):
            m = Module()
            m.submodules.rf, m.submodules.bridge = self.rf, self.bridge
            wiring.connect(m, self.bridge.csr, self.rf.csr)
            for name, member in self.signature.members.items():
                a, b = getattr(self, name), getattr(self.bridge, name)
                m.d.comb += (b.eq(a) if member.flow == wiring.In else a.eq(b))
            return m
    return Top()


@pytest.mark.parametrize("bus", ["axil", "wishbone", "wishbone-pipelined"])
def test_register_access_kinds_behind_each_bus(bus):
    dut = _bridged(bus)
    rf = dut.rf
    seen = {"go": 0}

    async def watch(ctx):
        async for _, _, go in ctx.tick().sample(rf.fields["B_GO"]):
            seen["go"] += go

    async def bench(ctx):
        host = (AxiLiteHost if bus == "axil" else WishboneHost)(ctx, dut)
        ctx.set(rf.fields["C_IN"], 0xAB)
        assert await host.read(0x0) == 0x5A5                       # reset value
        await host.write(0x0, 0xFFFF_F123)
        assert await host.read(0x0) == 0x123                       # only the field's 12 bits
        await host.write(0x0, 0xFFFF_FFFF, strb=0b0010)            # byte 1 only: bits 15..8
        assert await host.read(0x0) == 0xF23
        assert await host.read(0x8) == (0xAB << 4) | (9 << 16)     # driven ro and constant ro
        await host.write(0x8, 0xFFFFFFFF)                          # ro ignores writes
        assert await host.read(0x8) == (0xAB << 4) | (9 << 16)
        ctx.set(rf.set["B_ST"], 0b101)
        await ctx.tick()
        ctx.set(rf.set["B_ST"], 0)
        assert await host.read(0x4) == 0b101                       # sticky; GO reads 0
        await host.write(0x4, 0b001)                               # write 1 to clear bit 0 only
        assert await host.read(0x4) == 0b100
        assert seen["go"] == 0
        await host.write(0x4, 1 << 8)
        await ctx.tick().repeat(2)
        assert seen["go"] == 1                                     # one pulse of one cycle
        assert await host.read(0x4) == 0b100
        assert await host.read(0xC) == 0                           # no register there
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_process(watch)
    sim.add_testbench(bench)
    sim.run_until(2e-5)


@pytest.mark.parametrize("bus", ["axil", "wishbone", "wishbone-pipelined"])
def test_every_register_of_a_map_over_two_read_groups_reads_back_what_was_written(bus):
    """The read's two stages (READ_GROUP registers' AND-OR, then the groups' OR): 20 registers of fields
    from bit 0 to bit 31 written with distinct words, then read back in another order, each its own word."""
    regs = tuple(Register(f"R{i}", 4 * i, "", (Field("LO", 0, 12, "rw", ""), Field("HI", 16, 16, "rw", "")))
                 for i in range(20))
    regmap = RegisterMap("g", "axil", regs)
    assert len(regs) > 2 * READ_GROUP
    dut = _bridged(bus, regmap, frozenset())
    rng = np.random.default_rng(3)
    words = {i: int(rng.integers(0, 2**32)) for i in range(20)}

    async def bench(ctx):
        host = (AxiLiteHost if bus == "axil" else WishboneHost)(ctx, dut)
        for i, w in words.items():
            await host.write(4 * i, w)
        for i in rng.permutation(20):
            assert await host.read(4 * int(i)) == words[int(i)] & 0xFFFF_0FFF, f"register R{i}"
    _sim(dut, bench, 1e-4)


def test_axil_ready_is_a_register_and_takes_one_transfer_at_a_time():
    dut = _bridged("axil")

    async def bench(ctx):
        g = lambda n: getattr(dut, "s_axi_" + n)        # noqa: E731
        ctx.set(g("awvalid"), 1), ctx.set(g("wvalid"), 1), ctx.set(g("arvalid"), 1)
        ctx.set(g("awaddr"), 0), ctx.set(g("wdata"), 7), ctx.set(g("wstrb"), 0xF), ctx.set(g("araddr"), 0)
        # Valid raised in this cycle: no ready yet (no combinational path from valid to ready).
        assert ctx.get(g("awready")) == 0 and ctx.get(g("arready")) == 0
        await ctx.tick()
        assert ctx.get(g("awready")) == 1 and ctx.get(g("wready")) == 1 and ctx.get(g("arready")) == 0
    _sim(dut, bench, 1e-6)


# AXI4-Stream framing ---------------------------------------------------------------------------------

@pytest.mark.parametrize("beat, n", [(1, 3), (4, 6), (4, 8), (2, 1)])
def test_output_tlast_is_the_controllers_last_and_a_partial_last_beat_keeps_n_mod_w_elements(beat, n):
    width = 11
    dut = StreamToAxis(beat=beat, width=width, n=n, n_limit=n, reload=False)
    beats = -(-n // beat)
    rng = np.random.default_rng(beat + n)
    eb = 2

    async def bench(ctx):
        got = []
        sent = 0                                       # beats taken: the controller's `last` every `beats`
        for cycle in range(200):
            valid, ready = int(rng.random() < 0.7), int(rng.random() < 0.6)
            last = int(sent % beats == beats - 1)
            ctx.set(dut.i.valid, valid), ctx.set(dut.m_axis_tready, ready), ctx.set(dut.i.last, last)
            elems = [int(v) for v in rng.integers(-1024, 1024, beat)]
            payload = sum((e & 0x7FF) << (i * width) for i, e in enumerate(elems))
            ctx.set(Value.cast(dut.i.payload), payload if beat > 1 else elems[0] & 0x7FF)
            if valid and ready:
                data = ctx.get(dut.m_axis_tdata)
                got.append((ctx.get(dut.m_axis_tlast), ctx.get(dut.m_axis_tkeep),
                            [(data >> (16 * i) & 0xFFFF) - ((data >> (16 * i) & 0x8000) << 1) for i in range(beat)],
                            elems))
                sent += 1
            await ctx.tick()
        assert len(got) > 3 * beats
        for j, (tlast, keep, out, elems) in enumerate(got):
            assert tlast == (j % beats == beats - 1)
            full = (1 << beat * eb) - 1
            keep_last = (1 << (((n - 1) % beat) + 1) * eb) - 1     # N mod W elements (W if 0), 2 bytes each
            assert keep == (keep_last if tlast else full)
            assert out == elems                                     # sign-extended to whole bytes
    # The adapter is logic only (no register without `reload`): a clock domain for the bench's ticks.
    top = Module()
    top.submodules.dut = dut
    top.domains.sync = ClockDomain()
    _sim(top, bench, None)


def test_constraints_carry_the_clock_and_the_synchronizer_false_path():
    p = TileParams(_params().hw, 40, 6, 8, 64, 64, 1, MacroTiming(1, 1, 1, 1, sync=2))
    text = sdc_text(p, controller_only=True, clock_mhz=200)
    assert "create_clock -name clk -period 5.000 [get_ports clk]" in text
    assert "set_false_path -from [get_ports {bus__*adc__*__done}] -to [get_cells -hierarchical {*done_sync0*}]" in text
    assert "set_multicycle_path -setup 3" in text
    assert "set_input_delay -clock clk 1.500" in text             # 30 % of 5 ns
    soc = sdc_text(p, bus="wishbone", clock_mhz=150)
    assert "wb_ack" in soc and "s_axis_tdata" in soc and "bus__" not in soc
    assert nextpnr_sdc_text(125).splitlines()[1] == "create_clock -name clk -period 8.000 [get_ports clk]"
    with pytest.raises(SwsError, match="clock_mhz"):
        nextpnr_sdc_text(0)


def test_a_bipolar_chip_wrapper_has_drive_neg_constrained_and_counts_every_conversion_width():
    """On bipolar hardware (R = 16: full resolution 5, conversions of up to 6 bits) the controller-only
    wrapper's Verilog has the `bus__drive_neg` port, its SDC constrains it with the other outputs to the
    macro, and the register map snapshots the conversions at 1..6 bits."""
    from hwgen.verilog import emit_verilog
    hw = ArrayConfig(rows=16, cols=42, n_adc=3, input_encoding="bipolar", input_aware=True).hw
    p = TileParams(hw, 12, 3, 8, 64, 64, 1)
    assert "bus__*drive bus__*drive_neg bus__*pch" in sdc_text(p, controller_only=True)
    assert "drive_neg" not in sdc_text(TileParams(_params().hw, 40, 6, 8, 64, 64, 1), controller_only=True)
    assert [b for stem, member, b in counter_names(p) if member == "conversions"] == [1, 2, 3, 4, 5, 6]
    text = emit_verilog(None, p, controller_only=True, bus="axil")
    assert re.search(r"output \[15:0\] bus__drive_neg", text)
    # The macro's count of the cells read: an input of clog2(3 * 16 + 1) = 6 bits, constrained as the codes.
    assert re.search(r"input \[5:0\] bus__cell_reads", text)
    assert "[get_ports {bus__*cell_reads*}]" in sdc_text(p, controller_only=True)


# The whole wrapper, a generic tile programmed over the bus --------------------------------------------

def _layer():
    cfg = ArrayConfig(rows=16, cols=42, n_adc=3)
    lp = build_layer_plan(map_layer(QuantLayer("l", weights(12, 3, 0.5, 7, magnitude=cfg.hw.weight_max)), cfg))
    return lp


class _ChipWithArray(Elaboratable):
    """sws_soc_controller with the array emulator on its array interface ports, as a chip's macro."""

    def __init__(self, params, **emulator):
        self.soc = SocTile(params, None, bus="axil", controller_only=True)
        self.emu = array_emulator(params, None, **emulator)
        self.params = params

    def elaborate(self, platform):
        m = Module()
        m.submodules.soc, m.submodules.array = self.soc, self.emu
        connect_array(m, self.soc.bus, self.emu.bus)
        return m


async def _program(host, rm, params, lp, before_each=None):
    """Every programming write of the plan over the bus; `before_each(host)` awaited before each (e.g. a wait
    for STATUS.WRITE_BUSY low with program-and-verify cells)."""
    n_data = sum(1 for r in rm.registers if r.name.startswith("PROG_DATA"))
    for sel, addr, data in program_writes(params, lp):
        if before_each is not None:
            await before_each(host)
        if sel == PROG_SELECT["layer"]:
            await host.write(rm["LAYER"].offset, data)
            continue
        await host.write(rm["PROG_ADDR"].offset, addr)
        for i in range(n_data):
            await host.write(rm[f"PROG_DATA{i}"].offset, data >> 32 * i & 0xFFFFFFFF)
        await host.write(rm["PROG_WRITE"].offset, sel)


async def _stream(ctx, dut, vectors, n, width):
    """Send the vectors (W = 1: a beat an element, TLAST on each vector's last), stall-free; collect each
    output beat (value, TLAST) until len(vectors) TLASTs."""
    out = []
    ctx.set(dut.m_axis_tready, 1)
    for x in vectors:
        for j, v in enumerate(x):
            ctx.set(dut.s_axis_tvalid, 1), ctx.set(dut.s_axis_tdata, int(v) & 0xFF), ctx.set(dut.s_axis_tkeep, 1)
            ctx.set(dut.s_axis_tlast, int(j == len(x) - 1))
            while True:
                ready = ctx.get(dut.s_axis_tready)
                if ctx.get(dut.m_axis_tvalid):
                    out.append((ctx.get(dut.m_axis_tdata), ctx.get(dut.m_axis_tlast)))
                await ctx.tick()
                if ready:
                    break
    ctx.set(dut.s_axis_tvalid, 0)
    for _ in range(5000):
        if sum(last for _, last in out) == len(vectors):
            break
        if ctx.get(dut.m_axis_tvalid):
            out.append((ctx.get(dut.m_axis_tdata), ctx.get(dut.m_axis_tlast)))
        await ctx.tick()
    top = 1 << (8 * -(-width // 8) - 1)
    return [((d ^ top) - top, last) for d, last in out]


async def _counters(host, rm, params):
    """CTRL.SNAPSHOT, then every counter's two words, as Prediction.counters() names them."""
    await host.write(rm["CTRL"].offset, 1)
    got = {}
    for stem, member, index in counter_names(params):
        value = await host.read(rm[f"{stem}_LO"].offset) | await host.read(rm[f"{stem}_HI"].offset) << 32
        if member == "conversions":
            got.setdefault("conversions", [0])
            got["conversions"].append(value)
        else:
            got[member] = value
    return got


@pytest.mark.slow
@pytest.mark.parametrize("bus", ["axil", "wishbone"])
def test_soc_tile_over_the_bus_reports_and_clears_an_error_runs_at_a_written_timing_and_counts_every_event(bus):
    """A generic tile programmed over the bus: an out-of-range LAYER word sets STATUS.OUT_OF_RANGE and the
    ERROR interrupt, CTRL.ERROR_CLEAR clears it; a phase timing with guard cycles written over the bus
    (TIMING, TIMING_GUARD) gives the golden model's cycles for that timing; after a snapshot every counter
    equals the golden model's; TLAST marks each vector's last beat; outputs are x @ W."""
    lp = _layer()
    params = TileParams.from_plan(lp)
    dut = SocTile(params, None, bus=bus)
    rm = dut.regmap
    alt = MacroTiming(precharge=2, wordline=3, settle=1, sample=1, guard=2)
    x = np.stack([np.arange(12) - 6, np.full(12, lp.cfg.hw.input_max)])
    n = lp.shape[1]
    want = predict(lp, x, ScheduleParams(params.hw, params.lanes, alt))
    default = predict(lp, x, ScheduleParams(params.hw, params.lanes, MacroTiming()))
    assert want.cycles > default.cycles                     # the written timing changes what is measured
    status = {f.name: f.lsb for f in rm["STATUS"].fields}
    seen = {}

    async def bench(ctx):
        host = (AxiLiteHost if bus == "axil" else WishboneHost)(ctx, dut)
        assert await host.read(rm["ID"].offset) == 0x53575303
        await _program(host, rm, params, lp)
        good_layer = await host.read(rm["LAYER"].offset)
        word = await host.read(rm["STATUS"].offset)
        assert word >> status["CONFIGURED"] & 1 == 1 and word >> status["ERROR"] & 1 == 0
        # An out-of-range layer word: K = 0.
        await host.write(rm["IRQ_ENABLE"].offset, 2)
        k = rm["LAYER"].field("K")
        await host.write(rm["LAYER"].offset, good_layer & ~k.mask)
        await ctx.tick().repeat(3)
        word = await host.read(rm["STATUS"].offset)
        seen["error"] = word
        assert word >> status["OUT_OF_RANGE"] & 1 == 1 and word >> status["ERROR"] & 1 == 1
        assert word >> status["CONFIGURED"] & 1 == 0 and word >> status["HOST_PROTOCOL"] & 1 == 0
        assert await host.read(rm["ERROR"].offset) == rm["ERROR"].field("CTRL_ERROR").mask
        assert ctx.get(dut.irq) == 1
        await host.write(rm["CTRL"].offset, rm["CTRL"].field("ERROR_CLEAR").mask)
        await host.write(rm["ERROR"].offset, 0xFFFFFFFF)
        await host.write(rm["IRQ_STATUS"].offset, 0xFFFFFFFF)
        await host.write(rm["LAYER"].offset, good_layer)
        await ctx.tick().repeat(3)
        word = await host.read(rm["STATUS"].offset)
        assert word >> status["ERROR"] & 1 == 0 and word >> 8 == 0 and word >> status["CONFIGURED"] & 1 == 1
        assert ctx.get(dut.irq) == 0
        # The phase timing written over the bus, then two vectors from cleared counters.
        await host.write(rm["TIMING"].offset, alt.precharge | alt.wordline << 8 | alt.settle << 16 | alt.sample << 24)
        await host.write(rm["TIMING_GUARD"].offset, alt.guard)
        assert await host.read(rm["TIMING_GUARD"].offset) == alt.guard
        await host.write(rm["CTRL"].offset, 2)
        seen["out"] = await _stream(ctx, dut, x, n, params.acc_width)
        await ctx.tick().repeat(4)
        seen["counters"] = await _counters(host, rm, params)
        seen["vectors"] = await host.read(rm["VECTORS"].offset)
        assert await host.read(rm["STATUS"].offset) & 1 == 0
    _sim(dut, bench, 2e-3)
    assert [v for v, _ in seen["out"]] == (x @ rebuild_weights(lp)).reshape(-1).tolist()
    assert [last for _, last in seen["out"]] == ([0] * (n - 1) + [1]) * len(x)
    assert seen["counters"] == want.counters()
    assert seen["vectors"] == len(x)


@pytest.mark.slow
@pytest.mark.parametrize("controller_only", [False, True])
def test_soc_tile_programmed_over_axil_computes_x_at_w_with_tlast_and_counts_the_vector(controller_only):
    lp = _layer()
    params = TileParams.from_plan(lp)
    top = _ChipWithArray(params) if controller_only else SocTile(params, None, bus="axil")
    dut = top.soc if controller_only else top
    rm = dut.regmap
    x = np.arange(12) - 6
    want = golden_outputs(lp, x[None])[0].tolist()
    out = []

    async def bench(ctx):
        host = AxiLiteHost(ctx, dut)
        assert await host.read(rm["ID"].offset) == 0x53575303
        await _program(host, rm, params, lp)
        await host.write(rm["IRQ_ENABLE"].offset, 1)
        ctx.set(dut.m_axis_tready, 1)
        for v in x:
            ctx.set(dut.s_axis_tvalid, 1), ctx.set(dut.s_axis_tdata, int(v) & 0xFF), ctx.set(dut.s_axis_tkeep, 1)
            ctx.set(dut.s_axis_tlast, int(v == x[-1]))
            while True:
                ready = ctx.get(dut.s_axis_tready)
                await ctx.tick()
                if ready:
                    break
        ctx.set(dut.s_axis_tvalid, 0)
        for _ in range(2000):
            if ctx.get(dut.m_axis_tvalid):
                d = ctx.get(dut.m_axis_tdata)
                out.append((d ^ 0x800000) - 0x800000 if d & 0x800000 else d)
                if ctx.get(dut.m_axis_tlast):
                    await ctx.tick()
                    break
            await ctx.tick()
        await ctx.tick().repeat(3)
        assert ctx.get(dut.irq) == 1
        await host.write(rm["CTRL"].offset, 1)
        assert await host.read(rm["VECTORS"].offset) == 1
        assert await host.read(rm["SECTIONS_LO"].offset) == lp.n_sections
        assert await host.read(rm["ERROR"].offset) == 0
        assert await host.read(rm["STATUS"].offset) & 1 == 0
        if controller_only:
            assert ctx.get(top.emu.violation) == 0
    _sim(top, bench, 5e-4)
    assert [int(v) for v in out] == want


def test_the_done_interrupt_and_vectors_wait_for_the_last_beat_to_leave_m_axis():
    """With a register slice at m_axis the controller hands its last beat over before the sink has it. The
    sink takes every beat but the last, then stalls 20 cycles: no DONE interrupt and VECTORS 0 meanwhile;
    once it takes the last beat, `irq` is high within 3 cycles (the registered done, IRQ_STATUS, `irq`)."""
    lp = _layer()
    dut = SocTile(TileParams.from_plan(lp), lp, bus="axil")
    rm = dut.regmap
    x = np.arange(12) - 6

    async def bench(ctx):
        host = AxiLiteHost(ctx, dut)
        await host.write(rm["IRQ_ENABLE"].offset, 1)
        for v in x:
            ctx.set(dut.s_axis_tvalid, 1), ctx.set(dut.s_axis_tdata, int(v) & 0xFF), ctx.set(dut.s_axis_tkeep, 1)
            ctx.set(dut.s_axis_tlast, int(v == x[-1]))
            await ctx.tick().until(dut.s_axis_tready)
        ctx.set(dut.s_axis_tvalid, 0)
        while not (ctx.get(dut.m_axis_tvalid) and ctx.get(dut.m_axis_tlast)):
            ctx.set(dut.m_axis_tready, ctx.get(dut.m_axis_tvalid))      # take each beat but the last
            await ctx.tick()
        ctx.set(dut.m_axis_tready, 0)
        for _ in range(20):
            await ctx.tick()
            assert ctx.get(dut.irq) == 0 and ctx.get(dut.m_axis_tvalid) == 1
        await host.write(rm["CTRL"].offset, 1)                            # snapshot
        assert await host.read(rm["VECTORS"].offset) == 0
        ctx.set(dut.m_axis_tready, 1)
        await ctx.tick()
        ctx.set(dut.m_axis_tready, 0)
        seen = []
        for _ in range(3):
            await ctx.tick()
            seen.append(ctx.get(dut.irq))
        assert seen[-1] == 1, seen
        await host.write(rm["CTRL"].offset, 1)
        assert await host.read(rm["VECTORS"].offset) == 1
    _sim(dut, bench, 5e-4)


def test_a_vector_abandoned_by_an_error_leaves_the_next_vectors_tlast_check_in_step():
    """Half a vector in, a TIMING write while the tile is busy is a host protocol error: the controller
    abandons the vector and both slices drop what they hold. After CTRL.ERROR_CLEAR the next whole vector
    must give x @ W with TLAST on its last beat and no TLAST error: the input framer starts counting again
    at the vector's first beat, not at the abandoned vector's seventh."""
    lp = _layer()
    params = TileParams.from_plan(lp)
    dut = SocTile(params, lp, bus="axil")
    rm = dut.regmap
    x = np.arange(12) - 6
    n = lp.shape[1]
    status = {f.name: f.lsb for f in rm["STATUS"].fields}
    seen = {}

    async def bench(ctx):
        host = AxiLiteHost(ctx, dut)
        for v in x[:6]:                                         # the first half of a vector, no TLAST
            ctx.set(dut.s_axis_tvalid, 1), ctx.set(dut.s_axis_tdata, int(v) & 0xFF), ctx.set(dut.s_axis_tkeep, 1)
            await ctx.tick().until(dut.s_axis_tready)
        ctx.set(dut.s_axis_tvalid, 0)
        await ctx.tick().repeat(4)
        assert await host.read(rm["STATUS"].offset) >> status["BUSY"] & 1 == 1
        await host.write(rm["TIMING"].offset, 0x01010101)      # refused while busy: HOST_PROTOCOL
        await ctx.tick().repeat(3)
        word = await host.read(rm["STATUS"].offset)
        assert word >> status["ERROR"] & 1 == 1 and word >> status["HOST_PROTOCOL"] & 1 == 1, hex(word)
        await host.write(rm["CTRL"].offset, rm["CTRL"].field("ERROR_CLEAR").mask)
        await host.write(rm["ERROR"].offset, 0xFFFFFFFF)
        await ctx.tick().repeat(3)
        assert await host.read(rm["STATUS"].offset) >> status["ERROR"] & 1 == 0
        seen["out"] = await _stream(ctx, dut, x[None], n, params.acc_width)
        await ctx.tick().repeat(3)
        seen["error"] = await host.read(rm["ERROR"].offset)
    _sim(dut, bench, 5e-4)
    assert [v for v, _ in seen["out"]] == golden_outputs(lp, x[None])[0].tolist()
    assert [last for _, last in seen["out"]] == [0] * (n - 1) + [1]
    assert seen["error"] == 0, {f.name: seen["error"] >> f.lsb & 1 for f in rm["ERROR"].fields}


@pytest.mark.slow
def test_a_chip_with_program_and_verify_cells_and_power_control_programs_polls_sleeps_and_wakes_over_axil():
    """The chip wrapper (controller only) with program-and-verify writes, power control (wake-up 6 cycles)
    and a guard cycle, its macro the emulator with a write loop of 5 + random 0..3 cycles on the module's
    ports: programmed over AXI4-Lite polling STATUS.WRITE_BUSY before each PROG_WRITE and LAYER write, it
    computes x @ W; the busy cycles are the golden model's, the first vector after reset the wake-up more;
    POWER.SLEEP drives the macro's sleep and after the wake the next vector again takes the wake-up more;
    a PROG_WRITE while WRITE_BUSY is refused (STATUS.HOST_PROTOCOL)."""
    lp = _layer()
    wake = 6
    timing = MacroTiming(precharge=1, wordline=1, sample=1, guard=1, write_ack=True, power=True, wake=wake)
    params = TileParams.from_plan(lp, timing=timing)
    top = _ChipWithArray(params, write_latency=5, write_random=2)
    dut, rm = top.soc, top.soc.regmap
    x = np.stack([np.arange(12) - 6, np.full(12, lp.cfg.hw.input_max)])
    n = lp.shape[1]
    plain = predict(lp, x, ScheduleParams(params.hw, params.lanes, MacroTiming(1, 1, 0, 1, guard=1))).vector_cycles
    status = {f.name: f.lsb for f in rm["STATUS"].fields}
    seen = {"busy_polls": 0}

    async def wait_write(host):
        while (await host.read(rm["STATUS"].offset)) >> status["WRITE_BUSY"] & 1:
            seen["busy_polls"] += 1

    async def cycles(host):
        await host.write(rm["CTRL"].offset, 1)
        return await host.read(rm["CYCLES_LO"].offset)

    async def bench(ctx):
        host = AxiLiteHost(ctx, top.soc)
        await _program(host, rm, params, lp, before_each=wait_write)
        await ctx.tick().repeat(3)
        assert (await host.read(rm["STATUS"].offset)) >> status["CONFIGURED"] & 1
        seen["out"] = await _stream(ctx, dut, x, n, params.acc_width)
        await ctx.tick().repeat(4)
        seen["cycles"] = await cycles(host)
        await host.write(rm["POWER"].offset, 0b11)                   # ENABLE, SLEEP: retention
        await ctx.tick()
        seen["asleep"] = (ctx.get(dut.bus.en), ctx.get(dut.bus.sleep))
        await host.write(rm["POWER"].offset, 0b01)                   # awake again
        await host.write(rm["CTRL"].offset, 2)                       # CLEAR
        seen["out"] += await _stream(ctx, dut, x[:1], n, params.acc_width)
        await ctx.tick().repeat(4)
        seen["cycles_after_wake"] = await cycles(host)
        # Two cell writes back to back: the second comes while the first is busy.
        cell = next(w for w in program_writes(params, lp) if w[0] == PROG_SELECT["cells"])
        await host.write(rm["PROG_ADDR"].offset, cell[1])
        await host.write(rm["PROG_DATA0"].offset, cell[2])
        await host.write(rm["PROG_WRITE"].offset, PROG_SELECT["cells"])
        await host.write(rm["PROG_WRITE"].offset, PROG_SELECT["cells"])
        await ctx.tick().repeat(3)
        seen["refused"] = (await host.read(rm["STATUS"].offset)) >> status["HOST_PROTOCOL"] & 1
        await ctx.tick().repeat(40)
        seen["violation"] = ctx.get(top.emu.violation)

    _sim(top, bench, 3e-3)
    w = rebuild_weights(lp)
    assert [v for v, _ in seen["out"]] == np.concatenate([x @ w, x[:1] @ w]).reshape(-1).tolist()
    assert seen["cycles"] == plain[0] + wake + plain[1]
    assert seen["asleep"] == (1, 1)
    assert seen["cycles_after_wake"] == plain[0] + wake
    assert seen["refused"] == 1 and seen["violation"] == 0


def test_the_chip_wrappers_constraints_and_ports_carry_the_write_handshake_and_power_control():
    """With program-and-verify writes and power control the controller-only wrapper has the macro's
    wr_ack/wr_busy inputs and en/sleep outputs, and its SDC constrains them with the other macro pins; the
    default wrapper has none of them (its Verilog is what it was)."""
    from hwgen.verilog import emit_verilog
    hw = _params().hw
    both = TileParams(hw, 40, 6, 8, 64, 64, 1, MacroTiming(write_ack=True, power=True, wake=3, guard=2))
    sdc = sdc_text(both, controller_only=True)
    assert "bus__*en bus__*sleep" in sdc and "[get_ports {bus__*wr_ack bus__*wr_busy}]" in sdc
    assert "guard 2 cycles" in sdc and "power control (wake 3)" in sdc
    text = emit_verilog(None, both, controller_only=True, bus="axil")
    for port in ("input bus__wr_ack", "input bus__wr_busy", "output bus__en", "output bus__sleep"):
        assert re.search(rf"\b{port};", text), port
    plain = emit_verilog(None, TileParams(hw, 40, 6, 8, 64, 64, 1), controller_only=True, bus="axil")
    assert not re.search(r"bus__(wr_ack|wr_busy|en|sleep)\b", plain)
