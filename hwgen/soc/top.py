"""The SoC wrapper `sws_soc`: the tile behind a register block on a host bus (AXI4-Lite or Wishbone B4) and
AXI4-Stream data ports, with an interrupt (docs/design.md section 6, "The SoC wrapper").

The seams to the controller's ports that issue 24 adds are `CounterSnapshot` (counters with snapshot and
clear, here done outside the controller by subtraction) and the unwired fields of the register map
(TIMING, TIMING_GUARD.GUARD, STATUS.CTRL_STATE, ERROR.CTRL_ERROR); docs/design.md lists what to wire.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from ..interface import PROG_SELECT, ProgSignature
from ..params import TileParams
from ..controller import Controller
from ..interface import ARRAY_WIDE, bank_buses, bus_member
from ..tile import Tile
from .axis import AxisToStream, StreamToAxis, axis_members
from .bus import axil_members, bus_bridge, wishbone_members
from .csr import RegisterFile
from .regmap import RegisterMap, prog_data_words, register_map

__all__ = ["CounterSnapshot", "SocTile", "counter_list"]


def counter_list(params: TileParams) -> list[tuple[str, str, int]]:
    """(snapshot register, counter, width) of every counter the wrapper snapshots: the tile's counters
    (`CounterSignature`) and the wrapper's vector count; CYCLES is split into _LO and _HI."""
    out = [("CYCLES", "cycles", 48), ("PLANES", "planes", 32), ("SECTIONS", "sections", 32),
           ("VECTORS", "vectors", 32)]
    return out + [(f"CONV{b}", f"conversions{b}", 32) for b in range(1, params.hw.full_resolution + 1)]


class CounterSnapshot(wiring.Component):
    """Snapshot and clear of free-running counters, outside the counters' owner: `clear` stores the live
    values as a base, `snapshot` stores live - base (modulo 2**width) into `value` (one cycle later).
    With the controller's own snapshot and clear (issue 24) this becomes a pass-through of its port.

    Parameters
    ----------
    widths : dict
        Counter name -> bits. Ports: `live_<name>` (in), `value_<name>` (out), `snapshot`, `clear`.
    """

    def __init__(self, widths: dict[str, int]):
        self.widths = widths
        members = {"snapshot": In(1), "clear": In(1)}
        for name, w in widths.items():
            members[f"live_{name}"] = In(w)
            members[f"value_{name}"] = Out(w)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        for name, w in self.widths.items():
            live, value = getattr(self, f"live_{name}"), getattr(self, f"value_{name}")
            base = Signal(w, name=f"base_{name}")
            with m.If(self.clear):
                m.d.sync += base.eq(live)
            with m.If(self.snapshot):
                m.d.sync += value.eq(live - base)
        return m


class SocTile(wiring.Component):
    """The tile (controller + array emulator) with its host interfaces made standard.

    Ports (Verilog names as listed): the bus of `bus` (`s_axi_*` for axil, `wb_*` for Wishbone),
    `s_axis_*` (input vectors), `m_axis_*` (output vectors), `irq` (level, registered), and `clk`/`rst`
    (active-high synchronous reset). Latency and throughput are the tile's; the stream adapters add no
    cycle (TVALID/TREADY/TDATA pass through) and programming over the bus does not count as busy cycles.

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
                m.d.comb += [getattr(a, n).eq(getattr(c, n)) for n in ARRAY_WIDE]
                for ci, ai in zip(c.adc, a.adc, strict=True):
                    m.d.comb += [ai.start.eq(ci.start), ai.res.eq(ci.res), ai.ref.eq(ci.ref), ai.col.eq(ci.col),
                                 ci.done.eq(ai.done), ci.code.eq(ai.code)]
        else:
            m.submodules.tile = tile = Tile(p, self.plan)
        m.submodules.bridge = bridge = bus_bridge(self.host_bus, self.byte_addr_width)
        driven = {"STATUS_BUSY", "STATUS_VIOLATION"} | {f"{name}_VALUE" for name in (
            ["CYCLES_LO", "CYCLES_HI"] + [r for r, _, _ in counter_list(p) if r != "CYCLES"])}
        m.submodules.regs = rf = RegisterFile(rm, driven=driven, loadable={"PROG_ADDR_ADDR"} if generic else set())
        wiring.connect(m, bridge.csr, rf.csr)
        _pass_through(m, self, bridge, "s_axi_" if self.host_bus == "axil" else "wb_")
        f, wr = rf.fields, rf.written

        # Streams.
        m.submodules.axis_in = ain = AxisToStream(beat=p.beat, width=p.hw.input_bits, k=p.k, k_limit=p.k,
                                                  reload=generic)
        m.submodules.axis_out = aout = StreamToAxis(beat=p.beat, width=p.acc_width, n=p.n, n_limit=p.n,
                                                    reload=generic)
        _pass_through(m, self, ain, "s_axis_")
        _pass_through(m, self, aout, "m_axis_")
        wiring.connect(m, ain.o, tile.i)
        wiring.connect(m, tile.o, aout.i)

        # Vectors in flight (at most two: one running, one loading with double buffering).
        in_flight = Signal(2)
        m.d.sync += in_flight.eq(in_flight + ain.first - aout.done)
        busy = Signal()
        m.d.comb += busy.eq((in_flight != 0) | ain.first)
        m.d.comb += [f["STATUS_BUSY"].eq(in_flight != 0),
                     f["STATUS_VIOLATION"].eq(0 if self.controller_only else tile.violation != 0)]

        # Programming (generic): PROG_WRITE and LAYER writes become prog writes, registered.
        prog_write = Signal()
        if generic:
            data = Cat(*[f[f"PROG_DATA{i}_DATA"] for i in range(prog_data_words(p))])
            layer = Cat(*[f[f"LAYER_{fl.name}"] for fl in rm["LAYER"].fields])
            m.d.comb += prog_write.eq(wr["PROG_WRITE"] | wr["LAYER"])
            m.d.sync += [tile.prog.we.eq(prog_write),
                         tile.prog.sel.eq(Mux(wr["LAYER"], PROG_SELECT["layer"], f["PROG_WRITE_SEL"])),
                         tile.prog.addr.eq(Mux(wr["LAYER"], 0, f["PROG_ADDR_ADDR"])),
                         tile.prog.data.eq(Mux(wr["LAYER"], layer, data))]
            m.d.comb += [rf.load["PROG_ADDR_ADDR"].eq(wr["PROG_WRITE"]),
                         rf.load_value["PROG_ADDR_ADDR"].eq(f["PROG_ADDR_ADDR"] + 1)]
            m.d.comb += [ain.length.eq(f["LAYER_K"]), ain.load.eq(wr["LAYER"]),
                         aout.length.eq(f["LAYER_N"]), aout.load.eq(wr["LAYER"])]

        # Errors and interrupts.
        violation_was = Signal()
        m.d.sync += violation_was.eq(f["STATUS_VIOLATION"])
        errors = {"TLAST_EARLY": ain.tlast_early, "TLAST_MISSING": ain.tlast_missing,
                  "PROG_BUSY": prog_write & busy, "VIOLATION": f["STATUS_VIOLATION"] & ~violation_was}
        any_error = Signal()
        for name, cause in errors.items():
            m.d.comb += rf.set[f"ERROR_{name}"].eq(cause)
        m.d.comb += any_error.eq(Cat(*errors.values()).any())
        m.d.comb += [rf.set["IRQ_STATUS_DONE"].eq(aout.done), rf.set["IRQ_STATUS_ERROR"].eq(any_error)]
        m.d.sync += self.irq.eq(((f["IRQ_STATUS_DONE"] & f["IRQ_ENABLE_DONE"]) |
                                 (f["IRQ_STATUS_ERROR"] & f["IRQ_ENABLE_ERROR"])).any())

        # Counters: the tile's, and the vectors that left m_axis.
        vectors = Signal(32)
        with m.If(aout.done):
            m.d.sync += vectors.eq(vectors + 1)
        counters = counter_list(p)
        m.submodules.snapshot = snap = CounterSnapshot({c: w for _, c, w in counters})
        live = {"cycles": tile.counters.cycles, "planes": tile.counters.planes,
                "sections": tile.counters.sections, "vectors": vectors}
        live |= {f"conversions{b}": tile.counters.conversions[b] for b in range(1, p.hw.full_resolution + 1)}
        for c, value in live.items():
            m.d.comb += getattr(snap, f"live_{c}").eq(value)
        m.d.comb += [snap.snapshot.eq(f["CTRL_SNAPSHOT"][0]), snap.clear.eq(f["CTRL_CLEAR"][0])]
        for reg, c, _ in counters:
            value = getattr(snap, f"value_{c}")
            if reg == "CYCLES":
                m.d.comb += [f["CYCLES_LO_VALUE"].eq(value[:32]), f["CYCLES_HI_VALUE"].eq(value[32:])]
            else:
                m.d.comb += f[f"{reg}_VALUE"].eq(value)
        return m


def _pass_through(m, outer, inner, prefix: str) -> None:
    """Wire `outer`'s ports named `prefix*` to the same-named ports of `inner` (same flows)."""
    for name, member in inner.signature.members.items():
        if name.startswith(prefix):
            a, b = getattr(outer, name), getattr(inner, name)
            m.d.comb += (b.eq(a) if member.flow == In else a.eq(b))
