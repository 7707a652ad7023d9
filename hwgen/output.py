"""The output streamer: reads the accumulator memory group by group and streams its outputs in order,
clearing each word as it reads it."""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from .interface import AccReadSignature
from .params import TileParams

__all__ = ["OutputStreamer"]


class OutputStreamer(wiring.Component):
    """Streams outputs 0..n_out-1 from the accumulator memory (G outputs a word).

    `start` (in IDLE) goes to FETCH, which reads group 0; then STREAM offers one output a cycle, and when a
    group's last output is taken, reads the next group (its data is there the cycle after, so the stream
    has no bubble). Every read also clears the word it reads (the accumulator's read before write), so
    the memory is zero for the next vector. After the last output is taken (`done`, combinational
    from `o.ready`) it is IDLE again. Latency: 1 + n_out cycles with a ready sink; `o.payload` holds while
    `o.valid` waits for `o.ready`.

    Parameters
    ----------
    params : TileParams
        Hardware (G, accumulator width) and the number of outputs.

    Attributes
    ----------
    start : In(1)
        Begin streaming (IDLE only).
    n_out : In
        Outputs of the layer.
    read : Out(AccReadSignature)
        Reads and clears of the accumulator memory.
    o : Out(stream.Signature(signed(acc_width)))
        The outputs, in order.
    done : Out(1)
        The last output is taken this cycle.
    """

    def __init__(self, params: TileParams):
        self.params = params
        super().__init__({"start": In(1), "n_out": In(range(params.n + 1)), "read": Out(AccReadSignature(params)),
                          "o": Out(stream.Signature(signed(params.acc_width))), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        G, W = p.hw.group, p.acc_width
        og = Signal(range(p.n_groups + 1))
        og_next = Signal(range(p.n_groups + 2))   # og + 1, a register: the read address has no adder
        oj = Signal(range(max(2, G)))
        o_left = Signal(range(p.n + 1))  # outputs after the current one
        o_last = Signal()                # the current output is the layer's last (o_left == 0), registered
        o_jlast = Signal()               # the current output is its group's last (oj == G - 1), registered
        rd = self.read
        # The read address, a register: og in FETCH, og_next in STREAM (the accumulator's block RAM is far).
        rd_at = Signal(range(p.n_groups + 2))
        m.d.comb += rd.addr.eq(rd_at)
        with m.FSM(name="output"):
            with m.State("IDLE"):
                # Loaded every IDLE cycle, not on `start` (nothing reads them in IDLE; the read port is not
                # enabled): `start`, the end of RUN, then enables only the state register.
                m.d.sync += [og.eq(0), og_next.eq(1), oj.eq(0), o_left.eq(self.n_out - 1), o_last.eq(self.n_out == 1),
                             o_jlast.eq(G == 1), rd_at.eq(0)]
                with m.If(self.start):
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += [rd.en.eq(1), rd.clear.eq(1)]
                m.d.sync += rd_at.eq(og_next)
                m.next = "STREAM"
            with m.State("STREAM"):
                # The next group's address whether or not it is read: only `en` waits for `o.ready`.
                m.d.comb += self.o.valid.eq(1)
                with m.Switch(oj):
                    for j in range(G):
                        with m.Case(j):
                            m.d.comb += self.o.payload.eq(rd.data[j * W:(j + 1) * W].as_signed())
                with m.If(self.o.ready):
                    m.d.sync += [o_left.eq(o_left - 1), o_last.eq(o_left == 1)]
                    with m.If(o_last):
                        m.d.comb += self.done.eq(1)
                        m.next = "IDLE"
                    with m.Elif(o_jlast):
                        m.d.comb += [rd.en.eq(1), rd.clear.eq(1)]
                        m.d.sync += [oj.eq(0), og.eq(og_next), og_next.eq(og_next + 1), o_jlast.eq(G == 1),
                                     rd_at.eq(og_next + 1)]
                    with m.Else():
                        m.d.sync += [oj.eq(oj + 1), o_jlast.eq(oj == G - 2)]
        return m
