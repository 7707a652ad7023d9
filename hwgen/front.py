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
    between vectors.

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
        # counter takes next.
        pos, pos_next, active_next = Signal.like(tm.last, name="front_pos"), Signal.like(tm.last), Signal()
        with m.If(self.go & ~tm.none):
            m.d.comb += [pos_next.eq(0), active_next.eq(1)]
        with m.Elif(self.active & (pos != tm.last)):
            m.d.comb += [pos_next.eq(pos + 1), active_next.eq(1)]
        m.d.sync += [pos.eq(pos_next), self.active.eq(active_next)]
        m.d.sync += [self.pch.eq(active_next & (pos_next < tm.pch_end)),
                     self.wl_en.eq(active_next & (pos_next >= tm.pch_end) & (pos_next < tm.wl_end)),
                     self.sh.eq(active_next & (pos_next >= tm.sh_begin))]
        m.d.comb += self.fire.eq(Mux(tm.none, self.go, self.active & (pos == tm.last)))
        return m
