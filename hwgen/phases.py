"""The phase of a vector in the controller: loading its inputs, running its sections, streaming its
outputs; one vector at a time, or with double buffering the next loading while the current one runs
(docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .params import TileParams

__all__ = ["VectorPhases"]


class VectorPhases(wiring.Component):
    """LOAD, RUN, OUT one vector at a time (state machine `phase`), or with `double_buffer` a loader filling
    input buffer `lsel` while the runner (IDLE, RUN, OUT) runs the vector in buffer `rsel`.

    The input stream is taken while the accumulators are ready and the netlist configured (and, double-
    buffered, the loader's buffer is free). `k` counts the vector's input beats; whether it is the last
    (k == k_len - 1) is a register, compared with k_stop = k_len - 2 the cycle before.

    Attributes
    ----------
    i_valid, i_ready : In(1), Out(1)
        The input stream's handshake.
    acc_ready, configured, run_done, out_done : In(1)
        The accumulators are cleared; the netlist configured; every bank's RUN is over; the output
        streamer took the vector's last beat.
    k_len, k_stop, layer_we, k_one : In
        The layer's input beats and k_len - 2; a layer word taken this cycle and whether its K is one beat.
    load_en, k, start, out_start : Out
        Write input beat `k` into the input buffers; begin the walk (the cycle after the last beat is
        written); begin streaming the outputs.
    k_last : Out(1)
        Beat `k` is the vector's last (a register).
    loading : Out(1)
        One vector at a time: LOAD, from a register of its own (the input buffers' address select).
    lsel, rsel : Out(1)
        Double-buffered: the buffer the loader writes and the one the runner reads.
    count : Out(1)
        A busy cycle (the cycle counter): from a vector's first input to its last output.
    idle : Out(1)
        No vector in progress (one vector at a time: LOAD with no beat taken; double-buffered: the runner
        IDLE, both buffers empty and no beat taken), a register loaded with its next value: the same
        cycles, so that the host's write accept and the status's `busy` start at a flip-flop
        (docs/results/controller.md).
    """

    def __init__(self, params: TileParams):
        self.params = params
        super().__init__({
            "i_valid": In(1), "i_ready": Out(1), "acc_ready": In(1), "configured": In(1), "run_done": In(1),
            "out_done": In(1), "k_len": In(range(params.k_words + 1)), "k_stop": In(range(params.k_words + 1)),
            "layer_we": In(1), "k_one": In(1),
            "load_en": Out(1), "k": Out(range(params.k_words + 1)), "start": Out(1), "out_start": Out(1), "k_last": Out(1),
            **({"lsel": Out(1), "rsel": Out(1)} if params.hw.double_buffer else {"loading": Out(1, init=1)}),
            "count": Out(1), "idle": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        k = self.k
        k_last = Signal(init=self.params.k_words == 1)       # k is the vector's last beat, registered
        m.d.comb += self.k_last.eq(k_last)
        take = Signal()
        m.d.comb += take.eq(self.i_valid & self.i_ready)
        # `k == 0` as a register (its next value: a beat taken moves k to 0 if it was the last, else on),
        # for `idle`'s next value; `idle` itself a register (`idle_next`, set by the phase's states).
        k_zero, self._k_zero_next = Signal(name="k_zero", init=1), Signal(name="k_zero_next")
        self._idle_next = Signal(name="idle_next")
        m.d.comb += self._k_zero_next.eq(Mux(take & ~self.layer_we, k_last, k_zero))
        m.d.sync += [k_zero.eq(self._k_zero_next), self.idle.eq(self._idle_next)]
        with m.If(self.layer_we):
            m.d.sync += k_last.eq(self.k_one)
        with m.Elif(take):
            with m.If(k_last):
                m.d.sync += [k.eq(0), k_last.eq(self.k_len == 1)]
            with m.Else():
                m.d.sync += [k.eq(k + 1), k_last.eq(k == self.k_stop)]
        m.d.comb += self.load_en.eq(take)
        if self.params.hw.double_buffer:
            self._double_buffered(m, take & k_last)
        else:
            self._one_vector(m, take & k_last)
        return m

    def _one_vector(self, m, loaded):
        ready = self.acc_ready & self.configured
        # Cycles count from a vector's first input to its last output; not while the accumulators clear.
        m.d.comb += self.count.eq(1)
        with m.FSM(name="phase"):
            with m.State("LOAD"):
                m.d.comb += [self.i_ready.eq(ready), self.count.eq(ready & ((self.k != 0) | self.i_valid)),
                             self._idle_next.eq(~loaded & self._k_zero_next)]
                with m.If(loaded):
                    m.d.comb += self.start.eq(1)
                    m.d.sync += self.loading.eq(0)
                    m.next = "RUN"
            with m.State("RUN"):
                with m.If(self.run_done):
                    m.d.comb += self.out_start.eq(1)
                    m.next = "OUT"
            with m.State("OUT"):
                with m.If(self.out_done):
                    m.d.sync += self.loading.eq(1)
                    m.d.comb += self._idle_next.eq(self._k_zero_next)
                    m.next = "LOAD"

    def _double_buffered(self, m, loaded):
        """`full[b]` is set after a vector's last beat into buffer b and cleared when its RUN ends (its
        inputs are then read). The loader waits while its buffer is full; the runner starts a vector from
        IDLE, the cycle after its buffer is full (and after the previous vector's last output)."""
        lsel, rsel = self.lsel, self.rsel
        full = [Signal(name=f"full{b}") for b in range(2)]
        m.d.comb += self.i_ready.eq(self.acc_ready & self.configured & Mux(lsel, ~full[1], ~full[0]))
        with m.If(loaded):
            m.d.sync += lsel.eq(~lsel)
            with m.If(lsel):
                m.d.sync += full[1].eq(1)
            with m.Else():
                m.d.sync += full[0].eq(1)
        running = Signal()
        # `idle`'s next value: the runner IDLE next, both buffers empty next and k at 0 next. A buffer is
        # full next if set (a vector's last beat into it) or full, and not cleared (its RUN ends: the
        # clear is written after the set, so it wins, as in the assignments above and below).
        to_idle, cleared = Signal(), [Signal(name=f"full{b}_clear") for b in range(2)]
        full_next = [~cleared[b] & (full[b] | (loaded & (lsel == b))) for b in range(2)]
        m.d.comb += self._idle_next.eq(to_idle & ~full_next[0] & ~full_next[1] & self._k_zero_next)
        with m.FSM(name="phase"):
            with m.State("IDLE"):
                m.d.comb += to_idle.eq(1)
                with m.If(Mux(rsel, full[1], full[0])):
                    m.d.comb += [self.start.eq(1), to_idle.eq(0)]
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += running.eq(1)
                with m.If(self.run_done):
                    m.d.comb += [self.out_start.eq(1), cleared[1].eq(rsel), cleared[0].eq(~rsel)]
                    m.d.sync += rsel.eq(~rsel)
                    with m.If(rsel):
                        m.d.sync += full[1].eq(0)
                    with m.Else():
                        m.d.sync += full[0].eq(0)
                    m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += running.eq(1)
                with m.If(self.out_done):
                    m.d.comb += to_idle.eq(1)
                    m.next = "IDLE"
        ready = self.acc_ready & self.configured
        m.d.comb += self.count.eq(running | full[0] | full[1] | (ready & ((self.k != 0) | self.i_valid)))
