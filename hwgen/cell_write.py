"""The cell-write handshake for program-and-verify memories (`MacroTiming.write_ack`, docs/design.md section 6,
"Electrical interface"): a write held on the array interface until the macro acknowledges it."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.hdl import Assert
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["CellWriter"]


class CellWriter(wiring.Component):
    """A four-phase write handshake (state machine `cell_write`): REQ raises `wr_en` with the request's
    `wr_addr`/`wr_data` and holds all three until the macro's `wr_ack` is seen; RELEASE drops `wr_en` and
    waits for `wr_ack` to fall; then IDLE. The macro's `wr_ack` and `wr_busy` are registered on entry
    (`ack_seen`, `busy_seen`, reset high so that the cycle after a reset counts as busy).

    `busy` (STATUS.WRITE_BUSY) is high while a request is pending or held, while the macro acknowledges, and
    while the macro's own loop runs (`wr_busy`): in particular after a reset in the middle of a write, until
    the macro has finished it. A request (`req`) must come only while `busy` is low (the controller refuses
    a programming write otherwise); an Amaranth assertion checks it.

    Latency: `wr_en` rises the cycle after `req`; a write takes the macro's loop plus 2 cycles of the
    registered acknowledge on each edge. Every output is a register.

    Attributes
    ----------
    req : In(1)
        Start a write of `addr`, `data` (a one-cycle pulse, only while not busy).
    addr, data : In
        The write, sampled with `req`.
    wr_ack, wr_busy : In(1)
        From the macro.
    wr_en, wr_addr, wr_data : Out
        To the macro, registers.
    busy : Out(1)
        A write is in progress (the handshake or the macro's loop).
    """

    def __init__(self, addr_width: int, data_width: int):
        super().__init__({"req": In(1), "addr": In(addr_width), "data": In(data_width), "wr_ack": In(1),
                          "wr_busy": In(1), "wr_en": Out(1), "wr_addr": Out(addr_width), "wr_data": Out(data_width),
                          "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        ack, macro_busy = Signal(init=1, name="ack_seen"), Signal(init=1, name="busy_seen")
        m.d.sync += [ack.eq(self.wr_ack), macro_busy.eq(self.wr_busy)]
        with m.FSM(name="cell_write") as fsm:
            with m.State("IDLE"):
                with m.If(self.req):
                    m.d.sync += [self.wr_en.eq(1), self.wr_addr.eq(self.addr), self.wr_data.eq(self.data)]
                    m.next = "REQ"
            with m.State("REQ"):
                with m.If(ack):
                    m.d.sync += self.wr_en.eq(0)
                    m.next = "RELEASE"
            with m.State("RELEASE"):
                with m.If(~ack):
                    m.next = "IDLE"
        m.d.comb += self.busy.eq(~fsm.ongoing("IDLE") | self.req | ack | macro_busy)
        with m.If(self.req):
            m.d.sync += Assert(fsm.ongoing("IDLE") & ~ack & ~macro_busy, "a cell write requested while busy")
        return m
