"""The ADC bank's start and done as the scheduler sees them: the start registers, the done of each ADC
taken (counted, or through synchronizer flip-flops), and when the bank is free for the next batch
(docs/design.md section 6, `MacroTiming`)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .params import TileParams

__all__ = ["AdcHandshake"]


class AdcHandshake(wiring.Component):
    """The n_adc ADCs' start, res and ref registers, loaded on `fire`, and their done.

    Counted mode (`sync` 0): the bank is free `MacroTiming.period` cycles after an issue (a down-counter
    loaded with the issued batch's period), never looking at done for it; done only completes the batch.
    Handshake (`sync` 1 or 2): each done through `sync` flip-flops and a rising-edge detect; the bank is
    free once the batch outstanding is complete. `complete` is high in the cycle the batch's last ADC's
    done is seen, when its codes are there (an ADC holds its code until its next start).

    Attributes
    ----------
    fire : In(1)
        Load the start registers: the ADCs of `starts` start, at `res` bits.
    starts, res : In
        The lanes to start and their resolutions.
    done : In(n_adc)
        The ADCs' done.
    issue, longest : In
        A batch issued this cycle, and its longest conversion (counted mode's period).
    start, res_out : Out
        The start and res (= ref) registers, to the array interface.
    started, inflight, complete, free : Out(1)
        Some ADC started (a register, the cycle the starts are on the bus); a batch started and not yet
        complete; the batch completes this cycle; the bank takes the next issue this cycle.
    """

    def __init__(self, params: TileParams):
        self.params = params
        NA, rw = params.hw.n_adc, params.res_width
        super().__init__({
            "fire": In(1), "starts": In(NA), "res": In(data.ArrayLayout(rw, NA)), "done": In(NA),
            "issue": In(1), "longest": In(range(params.hw.full_resolution + 1)),
            "start": Out(NA), "res_out": Out(data.ArrayLayout(rw, NA)),
            "started": Out(1), "inflight": Out(1), "complete": Out(1), "free": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p, tm = self.params, self.params.timing
        NA, F, L = p.hw.n_adc, tm.front, tm.sync
        m.d.sync += [self.start.eq(Mux(self.fire, self.starts, 0)), self.started.eq(self.fire & self.starts.any())]
        with m.If(self.fire):
            m.d.sync += self.res_out.eq(self.res)
        # Done as taken: counted mode the done itself; handshake through `sync` flip-flops and a rising-edge
        # detect (a done held high as a level is taken once).
        if L:
            flops = [Signal(NA, name=f"done_sync{k}") for k in range(L + 1)]
            m.d.sync += [flops[0].eq(self.done), *[flops[k].eq(flops[k - 1]) for k in range(1, L + 1)]]
            seen = flops[L - 1] & ~flops[L]
        else:
            seen = self.done
        pending = Signal(NA)          # started, done not yet seen: all zero when nothing is in flight
        m.d.comb += self.complete.eq(self.inflight & (~pending | seen).all())
        with m.If(self.started):
            m.d.sync += [self.inflight.eq(1), pending.eq(self.start)]
        with m.Else():
            with m.If(self.complete):
                m.d.sync += self.inflight.eq(0)
            m.d.sync += pending.eq(pending & ~seen)
        if L:
            outstanding = Signal()
            m.d.comb += self.free.eq(~outstanding | self.complete)
            with m.If(self.issue):
                m.d.sync += outstanding.eq(1)
            with m.Elif(self.complete):
                m.d.sync += outstanding.eq(0)
        else:
            wait = Signal(range(max(2, tm.period(p.hw.full_resolution))), name="bank_wait")
            m.d.comb += self.free.eq(wait == 0)
            # Sample-and-hold: the next front overlaps this conversion.
            period = Mux(self.longest > F, self.longest, F) if tm.sample else self.longest + F
            with m.If(self.issue):
                m.d.sync += wait.eq(period - 1)
            with m.Elif(~self.free):
                m.d.sync += wait.eq(wait - 1)
        return m
