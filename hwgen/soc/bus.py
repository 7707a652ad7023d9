"""Bridges from a standard host bus to the register block's `CsrSignature`: AXI4-Lite (AMBA AXI4-Lite,
ARM IHI 0022) and Wishbone B4 (classic, or pipelined). Port names are the ones Vivado's interface inference,
LiteX and cocotbext-axi expect: `s_axi_awaddr` ... `s_axi_rready`; `wb_cyc`, `wb_stb`, `wb_we`, `wb_adr`,
`wb_dat_w`, `wb_dat_r`, `wb_sel`, `wb_ack`, `wb_err` (and `wb_stall`, pipelined).

Every output handshake comes from a flip-flop: no combinational path from a valid/strobe to a ready/ack.
"""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.common import SwsError

from .csr import CsrSignature

__all__ = ["AxiLiteToCsr", "WishboneToCsr", "axil_members", "wishbone_members", "bus_bridge"]


def axil_members(addr_width: int, prefix: str = "s_axi_") -> dict:
    """An AXI4-Lite subordinate's ports (byte addresses, 32-bit data)."""
    return {prefix + name: member for name, member in {
        "awaddr": In(addr_width), "awprot": In(3), "awvalid": In(1), "awready": Out(1),
        "wdata": In(32), "wstrb": In(4), "wvalid": In(1), "wready": Out(1),
        "bresp": Out(2), "bvalid": Out(1), "bready": In(1),
        "araddr": In(addr_width), "arprot": In(3), "arvalid": In(1), "arready": Out(1),
        "rdata": Out(32), "rresp": Out(2), "rvalid": Out(1), "rready": In(1)}.items()}


def wishbone_members(addr_width: int, pipelined: bool, prefix: str = "wb_") -> dict:
    """A Wishbone B4 slave's ports (word addresses, 32-bit data, 8-bit granularity)."""
    members = {"cyc": In(1), "stb": In(1), "we": In(1), "adr": In(addr_width), "dat_w": In(32), "sel": In(4),
               "dat_r": Out(32), "ack": Out(1), "err": Out(1)}
    if pipelined:
        members["stall"] = Out(1)
    return {prefix + name: member for name, member in members.items()}


class AxiLiteToCsr(wiring.Component):
    """AXI4-Lite subordinate to the register bus, one transfer at a time. A write is taken when AWVALID
    and WVALID are both high (AWREADY and WREADY rise together the cycle after), done in the cycle of that
    handshake and answered with BVALID (OKAY) two cycles after, once its fields and strobes have taken
    effect (so a host that waits for the response sees, e.g., the counters cleared); a read: ARREADY the cycle after ARVALID,
    RVALID (OKAY) three cycles after that. Every ready and valid is a register.

    Parameters
    ----------
    addr_width : int
        Byte address bits of the register map (the register bus has addr_width - 2).
    """

    def __init__(self, addr_width: int):
        self.addr_width = addr_width
        super().__init__({**axil_members(addr_width), "csr": Out(CsrSignature(addr_width - 2))})

    def elaborate(self, platform):
        m = Module()
        g = lambda name: getattr(self, "s_axi_" + name)   # noqa: E731
        csr = self.csr
        m.d.comb += [g("bresp").eq(0), g("rresp").eq(0)]
        write, read = Signal(), Signal()
        # The transfer's word address, taken into a register as IDLE accepts it (AXI holds an address from
        # valid to its handshake, in W_TAKE / R_TAKE): the register file decodes a flip-flop, not the state.
        addr = Signal(self.addr_width - 2, name="transfer_addr")
        # One transfer at a time, a write first when both come: IDLE -> W_TAKE (AWREADY and WREADY high:
        # the handshake and the register write) -> W_WAIT -> W_RESP; IDLE -> R_TAKE (ARREADY high: the register read)
        # -> R_WAIT -> R_DATA -> R_RESP (RVALID high, RDATA the register file's r_data, three cycles after the read).
        with m.FSM(name="axil"):
            with m.State("IDLE"):
                with m.If(g("awvalid") & g("wvalid")):
                    m.d.sync += [g("awready").eq(1), g("wready").eq(1), addr.eq(g("awaddr")[2:])]
                    m.next = "W_TAKE"
                with m.Elif(g("arvalid")):
                    m.d.sync += [g("arready").eq(1), addr.eq(g("araddr")[2:])]
                    m.next = "R_TAKE"
            with m.State("W_TAKE"):
                m.d.comb += write.eq(1)
                m.d.sync += [g("awready").eq(0), g("wready").eq(0)]
                m.next = "W_WAIT"
            with m.State("W_WAIT"):           # the register file's two-cycle write: respond once it is done
                m.d.sync += g("bvalid").eq(1)
                m.next = "W_RESP"
            with m.State("W_RESP"):
                with m.If(g("bready")):
                    m.d.sync += g("bvalid").eq(0)
                    m.next = "IDLE"
            with m.State("R_TAKE"):
                m.d.comb += read.eq(1)
                m.d.sync += g("arready").eq(0)
                m.next = "R_WAIT"
            with m.State("R_WAIT"):           # the register file's three-cycle read
                m.next = "R_DATA"
            with m.State("R_DATA"):           # r_data arrives with RVALID, held until the next read
                m.d.sync += g("rvalid").eq(1)
                m.next = "R_RESP"
            with m.State("R_RESP"):
                with m.If(g("rready")):
                    m.d.sync += g("rvalid").eq(0)
                    m.next = "IDLE"
        m.d.comb += g("rdata").eq(csr.r_data)        # the register file's output register
        m.d.comb += [csr.w_stb.eq(write), csr.w_data.eq(g("wdata")), csr.w_sel.eq(g("wstrb")), csr.r_stb.eq(read),
                     csr.addr.eq(addr)]
        return m


class WishboneToCsr(wiring.Component):
    """Wishbone B4 slave to the register bus. Classic: a cycle (CYC & STB) is taken in its first cycle and
    ACKed (registered) three cycles later, with DAT_R of a read (the register file's three-cycle read); the
    master drops STB or starts the next cycle after the ACK (four cycles a transfer). Pipelined
    (`pipelined=True`): STALL is 0, every cycle with CYC & STB is a transfer, each ACKed three cycles later,
    in order. ERR is 0. Addresses are word
    addresses (byte offset / 4).

    Parameters
    ----------
    addr_width : int
        Word address bits.
    pipelined : bool
        Wishbone B4 pipelined mode (a `wb_stall` port).
    """

    def __init__(self, addr_width: int, *, pipelined: bool = False):
        self.addr_width = addr_width
        self.pipelined = pipelined
        super().__init__({**wishbone_members(addr_width, pipelined), "csr": Out(CsrSignature(addr_width))})

    def elaborate(self, platform):
        m = Module()
        g = lambda name: getattr(self, "wb_" + name)   # noqa: E731
        csr = self.csr
        # The register file answers three cycles after a transfer is taken: ACK follows `taken` by two more.
        take, taken, waited = Signal(), Signal(), Signal()
        if self.pipelined:
            m.d.comb += [take.eq(g("cyc") & g("stb")), g("stall").eq(0)]
        else:
            m.d.comb += take.eq(g("cyc") & g("stb") & ~taken & ~waited & ~g("ack"))
        m.d.sync += [taken.eq(take), waited.eq(taken & g("cyc")), g("ack").eq(waited & g("cyc"))]
        m.d.comb += [g("err").eq(0), g("dat_r").eq(csr.r_data), csr.addr.eq(g("adr")),
                     csr.w_stb.eq(take & g("we")), csr.r_stb.eq(take & ~g("we")),
                     csr.w_data.eq(g("dat_w")), csr.w_sel.eq(g("sel"))]
        return m


def bus_bridge(bus: str, byte_addr_width: int):
    """The bridge of a `hwgen.soc.regmap.BUSES` name and its host ports' prefix."""
    if bus == "axil":
        return AxiLiteToCsr(byte_addr_width)
    if bus in ("wishbone", "wishbone-pipelined"):
        return WishboneToCsr(byte_addr_width - 2, pipelined=bus == "wishbone-pipelined")
    raise SwsError(f"bus must be axil, wishbone or wishbone-pipelined, not {bus!r}")
