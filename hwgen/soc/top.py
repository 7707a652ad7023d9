"""The SoC wrapper `sws_soc`: the tile behind a register block on a host bus (AXI4-Lite or Wishbone B4) and
AXI4-Stream data ports, with an interrupt (docs/design.md section 6, "The SoC wrapper").

The register block reaches the controller's host ports: its status (STATUS, CTRL.ERROR_CLEAR), its timing
registers (TIMING, TIMING_ADC), its counters' snapshot and clear (CTRL, the counter registers) and its
end-of-vector `last` (m_axis TLAST), and with the macro options of `MacroTiming` its guard cycles
(TIMING_GUARD), its cell writes' busy (STATUS.WRITE_BUSY, `write_ack`) and its enable and sleep (POWER,
`power`).
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from ..controller import Controller
from ..interface import ERRORS, PROG_SELECT, array_back, array_wide, bank_buses, bus_member
from ..params import TileParams
from ..tile import Tile
from .axis import AxisToStream, RegisterSlice, StreamToAxis, axis_members
from .bus import axil_members, bus_bridge, wishbone_members
from .csr import RegisterFile
from .regmap import TIMING_FIELDS, RegisterMap, counter_names, prog_data_words, register_map

__all__ = ["SocTile"]

#: Where each timing word field lives in the register map.
_TIMING_REGS = {"precharge": "TIMING_PRECHARGE", "wordline": "TIMING_WORDLINE", "settle": "TIMING_SETTLE",
                "sample": "TIMING_SAMPLE", "sync": "TIMING_ADC_SYNC", "watchdog": "TIMING_ADC_WATCHDOG",
                "guard": "TIMING_GUARD_GUARD"}


class SocTile(wiring.Component):
    """The tile (controller + array emulator) with its host interfaces made standard.

    Ports (Verilog names as listed): the bus of `bus` (`s_axi_*` for axil, `wb_*` for Wishbone),
    `s_axis_*` (input vectors), `m_axis_*` (output vectors), `irq` (level, registered), and `clk`/`rst`
    (active-high synchronous reset). Every output is a flip-flop: each stream passes a register slice
    (`RegisterSlice`) at the ports, which adds a cycle of latency at each end but keeps a beat a cycle, so a
    vector's busy cycles (the controller's counters) are the tile's; programming over the bus does not count
    as busy cycles.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        Baked tile, or (None) a generic tile programmed over the bus (LAYER, PROG_*).
    bus : str
        axil, wishbone or wishbone-pipelined.
    controller_only : bool
        The wrapper of a chip: the controller alone, its array interface the module's `bus__*` ports (as
        `sws_controller`'s) for the analog macro; STATUS.VIOLATION reads 0 (no emulator).
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None, *, bus: str = "axil",
                 controller_only: bool = False):
        self.params, self.plan, self.host_bus, self.controller_only = params, plan, bus, controller_only
        self.regmap: RegisterMap = register_map(params, generic=plan is None, bus=bus)
        self.byte_addr_width = (self.regmap.size - 1).bit_length()
        if bus == "axil":
            host = axil_members(self.byte_addr_width)
        else:
            host = wishbone_members(self.byte_addr_width - 2, bus == "wishbone-pipelined")
        super().__init__({**host,
                          **axis_members("s_axis", In, params.beat, params.hw.input_bits),
                          **axis_members("m_axis", Out, params.beat, params.acc_width),
                          "irq": Out(1), **({"bus": bus_member(params)} if controller_only else {})})

    def elaborate(self, platform):
        m = Module()
        p, generic = self.params, self.plan is None
        rm = self.regmap
        if self.controller_only:
            # The chip's wrapper: the controller, its array interface the module's ports (`bus__*`).
            m.submodules.tile = tile = Controller(p, self.plan)
            for c, a in zip(bank_buses(tile.bus, p), bank_buses(self.bus, p), strict=True):
                m.d.comb += [getattr(a, n).eq(getattr(c, n)) for n in array_wide(c)]
                m.d.comb += [getattr(c, n).eq(getattr(a, n)) for n in array_back(c)]
                for ci, ai in zip(c.adc, a.adc, strict=True):
                    m.d.comb += [ai.start.eq(ci.start), ai.res.eq(ci.res), ai.ref.eq(ci.ref), ai.col.eq(ci.col),
                                 ci.done.eq(ai.done), ci.code.eq(ai.code)]
                m.d.comb += c.cell_reads.eq(a.cell_reads)
        else:
            m.submodules.tile = tile = Tile(p, self.plan)
        m.submodules.bridge = bridge = bus_bridge(self.host_bus, self.byte_addr_width)
        counters = counter_names(p)
        driven = ({"STATUS_BUSY", "STATUS_VIOLATION", "STATUS_CONFIGURED", "STATUS_ERROR", "VECTORS_VALUE"}
                  | ({"STATUS_WRITE_BUSY"} if p.timing.write_ack else set())
                  | {f"STATUS_{name.upper()}" for name in ERRORS}
                  | {f"{stem}_{half}_VALUE" for stem, _, _ in counters for half in ("LO", "HI")})
        m.submodules.regs = rf = RegisterFile(rm, driven=driven, loadable={"PROG_ADDR_ADDR"} if generic else set())
        wiring.connect(m, bridge.csr, rf.csr)
        _pass_through(m, self, bridge, "s_axi_" if self.host_bus == "axil" else "wb_")
        f, wr = rf.fields, rf.written

        ain, aout, vector_done = self._streams(m, tile, generic)

        # The controller's status.
        st = tile.status
        m.d.comb += [f["STATUS_BUSY"].eq(st.busy), f["STATUS_CONFIGURED"].eq(st.configured),
                     f["STATUS_ERROR"].eq(st.error), st.clear.eq(f["CTRL_ERROR_CLEAR"][0]),
                     f["STATUS_VIOLATION"].eq(0 if self.controller_only else tile.violation != 0)]
        m.d.comb += [f[f"STATUS_{name.upper()}"].eq(st.errors[i]) for i, name in enumerate(ERRORS)]
        if p.timing.write_ack:
            m.d.comb += f["STATUS_WRITE_BUSY"].eq(st.write_busy)

        # Power control: a write of POWER writes the controller's power registers (the macro's en, sleep).
        if p.timing.power:
            m.d.comb += [tile.power.we.eq(wr["POWER"]), tile.power.en.eq(f["POWER_ENABLE"]),
                         tile.power.sleep.eq(f["POWER_SLEEP"])]

        # The timing registers: a write of TIMING, TIMING_ADC or TIMING_GUARD writes the whole word (the
        # fields are registers, `written` too), in the cycle of the bus response.
        m.d.comb += tile.timing.we.eq(wr["TIMING"] | wr["TIMING_ADC"] | wr["TIMING_GUARD"])
        m.d.comb += [getattr(tile.timing.data, name).eq(f[_TIMING_REGS[name]]) for name in TIMING_FIELDS]

        # Programming (generic): PROG_WRITE and LAYER writes become prog writes, registered.
        if generic:
            data = Cat(*[f[f"PROG_DATA{i}_DATA"] for i in range(prog_data_words(p))])
            layer = Cat(*[f[f"LAYER_{fl.name}"] for fl in rm["LAYER"].fields])
            m.d.sync += [tile.prog.we.eq(wr["PROG_WRITE"] | wr["LAYER"]),
                         tile.prog.sel.eq(Mux(wr["LAYER"], PROG_SELECT["layer"], f["PROG_WRITE_SEL"])),
                         tile.prog.addr.eq(Mux(wr["LAYER"], 0, f["PROG_ADDR_ADDR"])),
                         tile.prog.data.eq(Mux(wr["LAYER"], layer, data))]
            m.d.comb += [rf.load["PROG_ADDR_ADDR"].eq(wr["PROG_WRITE"]),
                         rf.load_value["PROG_ADDR_ADDR"].eq(f["PROG_ADDR_ADDR"] + 1)]
            m.d.comb += [ain.length.eq(f["LAYER_K"]), ain.load.eq(wr["LAYER"]),
                         aout.length.eq(f["LAYER_N"]), aout.load.eq(wr["LAYER"])]

        # Errors and interrupts: the wrapper's sticky bits, each rising edge of a level.
        violation_was, error_was = Signal(), Signal()
        m.d.sync += [violation_was.eq(f["STATUS_VIOLATION"]), error_was.eq(st.error)]
        errors = {"TLAST_EARLY": ain.tlast_early, "TLAST_MISSING": ain.tlast_missing,
                  "VIOLATION": f["STATUS_VIOLATION"] & ~violation_was, "CTRL_ERROR": st.error & ~error_was}
        any_error = Signal()
        for name, cause in errors.items():
            m.d.comb += rf.set[f"ERROR_{name}"].eq(cause)
        m.d.comb += any_error.eq(Cat(*errors.values()).any())
        m.d.comb += [rf.set["IRQ_STATUS_DONE"].eq(vector_done), rf.set["IRQ_STATUS_ERROR"].eq(any_error)]
        m.d.sync += self.irq.eq(((f["IRQ_STATUS_DONE"] & f["IRQ_ENABLE_DONE"]) |
                                 (f["IRQ_STATUS_ERROR"] & f["IRQ_ENABLE_ERROR"])).any())

        # Counters: the controller's snapshot registers, read as two words each; the wrapper's vector count
        # with the same snapshot and clear.
        snapshot, clear = f["CTRL_SNAPSHOT"][0], f["CTRL_CLEAR"][0]
        ctr = tile.counters
        m.d.comb += [ctr.snapshot.eq(snapshot), ctr.clear.eq(clear)]
        for stem, member, index in counters:
            value = getattr(ctr, member) if index is None else ctr.conversions[index]
            m.d.comb += [f[f"{stem}_LO_VALUE"].eq(value[:32]), f[f"{stem}_HI_VALUE"].eq(value[32:])]
        vectors = Signal(32)
        with m.If(snapshot):
            m.d.sync += f["VECTORS_VALUE"].eq(vectors)
        m.d.sync += vectors.eq(Mux(clear, 0, vectors + vector_done))
        return m


    def _streams(self, m, tile, generic: bool):
        """The AXI4-Stream ports: the adapters (m_axis TLAST is the controller's `last`) behind a register slice
        at each port, so TREADY in, and TVALID, TDATA, TKEEP, TLAST out, are flip-flops. In the error state
        both slices drop what they hold (the vector in progress is abandoned, as the controller's datapath is)
        and keep TREADY and TVALID low until CTRL.ERROR_CLEAR. Returns (the input adapter, the output adapter,
        `vector_done`: high, registered, the cycle after a vector's last beat left m_axis, not when it entered
        the slice, so that the DONE interrupt and VECTORS count vectors the sink has whole)."""
        p = self.params
        m.submodules.axis_in = ain = AxisToStream(beat=p.beat, width=p.hw.input_bits, k=p.k, k_limit=p.k,
                                                  reload=generic)
        m.submodules.axis_out = aout = StreamToAxis(beat=p.beat, width=p.acc_width, n=p.n, n_limit=p.n,
                                                    reload=generic)
        m.d.comb += ain.abandon.eq(tile.status.error)       # its TLAST check restarts with the vector
        _register_slice(m, "slice_in", tile.status.error, self, ain, "s_axis_")
        _register_slice(m, "slice_out", tile.status.error, aout, self, "m_axis_")
        wiring.connect(m, ain.o, tile.i)
        wiring.connect(m, tile.o, aout.i)
        vector_done = Signal()
        m.d.sync += vector_done.eq(self.m_axis_tvalid & self.m_axis_tready & self.m_axis_tlast)
        return ain, aout, vector_done


def _pass_through(m, outer, inner, prefix: str) -> None:
    """Wire `outer`'s ports named `prefix*` to the same-named ports of `inner` (same flows)."""
    for name, member in inner.signature.members.items():
        if name.startswith(prefix):
            a, b = getattr(outer, name), getattr(inner, name)
            m.d.comb += (b.eq(a) if member.flow == In else a.eq(b))


def _register_slice(m, name: str, flush, src, dst, prefix: str) -> None:
    """A `RegisterSlice` named `name` from `src`'s AXI4-Stream port `prefix*` (TVALID, TDATA, TKEEP, TLAST
    out of `src`, TREADY into it) to the same-named port of `dst`, dropping what it holds while `flush`."""
    port = lambda c, n: getattr(c, prefix + n)
    payload = lambda c: Cat(port(c, "tdata"), port(c, "tkeep"), port(c, "tlast"))
    m.submodules[name] = s = RegisterSlice(len(payload(src)))
    m.d.comb += [s.i.valid.eq(port(src, "tvalid")), port(src, "tready").eq(s.i.ready), s.i.payload.eq(payload(src)),
                 port(dst, "tvalid").eq(s.o.valid), s.o.ready.eq(port(dst, "tready")), payload(dst).eq(s.o.payload),
                 s.flush.eq(flush)]
