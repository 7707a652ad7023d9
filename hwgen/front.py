"""The front phases of an activation on the array interface: precharge, wordline pulse, settle and the
sample-and-hold strobe, then the first batch's start (docs/design.md section 6, `MacroTiming`)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .interface import front_layout

__all__ = ["FrontPhases"]


class FrontPhases(wiring.Component):
    """Counts an activation's front, F cycles from the cycle after `go`, and drives `pch`, `wl_en` and `sh`
    from registers: `pch` in its first `precharge` cycles, `wl_en` in the next `wordline`, both low for
    `settle`, `sh` in the last `sample`. `fire` is high in the front's last cycle (`go` itself when F =
    0): the ADCs' start registers load then, so the start lands F cycles after the activation's drive. The
    lengths come from the timing registers (`timing`, `front_layout`), so they may change at run time
    between vectors. With `guard` G cycles the wordline begins at `wl_begin` = P + G and the settle lasts
    max(S, G) (`MacroTiming.front`).

    Attributes
    ----------
    go : In(1)
        An activation issued: its front begins the cycle after.
    timing : In(front_layout)
        The front's phase boundaries.
    pch, wl_en, sh : Out(1)
        The phases, registers.
    fire : Out(1)
        The front's last cycle (or `go` with F = 0).
    active : Out(1)
        A front is running.
    """

    def __init__(self):
        super().__init__({"go": In(1), "timing": In(front_layout()), "pch": Out(1), "wl_en": Out(1), "sh": Out(1),
                          "fire": Out(1), "active": Out(1)})

    def elaborate(self, platform):
        m = Module()
        tm = self.timing
        # Position 0..F-1 from the cycle after `go`; the outputs are registered from the position the
        # counter takes next. Each output's compares are made for both next positions (0 after `go`, pos + 1
        # while running) from registers only, and `go` (late in the cycle: the issue) only selects between
        # them, so no compare's carry chain follows it.
        # `inc` = pos + 1 is a register of its own (so the compares against the next position start at
        # flip-flops, not at an adder).
        pos, inc = Signal.like(tm.last, name="front_pos"), Signal(len(tm.last) + 1, name="front_inc", init=1)
        begin, cont = Signal(name="front_begin"), Signal(name="front_continue")
        # `pos == last` as a register, compared for the position the counter takes next (so neither the
        # continue nor `fire` waits for an equality compare).
        at_last = Signal(name="front_at_last")
        m.d.comb += [begin.eq(self.go & ~tm.none), cont.eq(self.active & ~at_last)]
        m.d.sync += at_last.eq(Mux(begin, tm.last == 0, cont & (inc == tm.last)))

        def phases(at):
            return (at < tm.pch_end, (at >= tm.wl_begin) & (at < tm.wl_end), at >= tm.sh_begin)

        first, running = phases(0), phases(inc)
        m.d.sync += [pos.eq(Mux(begin, 0, Mux(cont, inc, 0))), inc.eq(Mux(begin, 1, Mux(cont, inc + 1, 1))),
                     self.active.eq(begin | cont)]
        outs = (self.pch, self.wl_en, self.sh)
        m.d.sync += [out.eq(Mux(begin, a, cont & b)) for out, a, b in zip(outs, first, running)]
        m.d.comb += self.fire.eq(Mux(tm.none, self.go, self.active & at_last))
        return m
