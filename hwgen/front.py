"""The front phases of a batch on the array interface: precharge, wordline pulse, settle and the
sample-and-hold strobe, then the ADCs' start (docs/design.md section 6, `MacroTiming`)."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.schedule import MacroTiming

__all__ = ["FrontPhases"]


class FrontPhases(wiring.Component):
    """Counts a batch's front, F = precharge + wordline + settle + sample cycles from the cycle after
    `go`, and drives `pch`, `wl_en` and `sh` from registers: `pch` in its first `precharge` cycles,
    `wl_en` in the next `wordline`, both low for `settle`, `sh` in the last `sample`. `fire` is high in
    the front's last cycle (`go` itself when F = 0): the ADCs' start registers load then, so the start
    lands F cycles after the batch's drive.

    Parameters
    ----------
    timing : MacroTiming
        The phase lengths.

    Attributes
    ----------
    go : In(1)
        A batch issued: its front begins the cycle after.
    pch, wl_en, sh : Out(1)
        The phases, registers.
    fire : Out(1)
        Load the ADCs' start registers this cycle.
    active : Out(1)
        A front is running.
    """

    def __init__(self, timing: MacroTiming):
        self.timing = timing
        super().__init__({"go": In(1), "pch": Out(1), "wl_en": Out(1), "sh": Out(1), "fire": Out(1),
                          "active": Out(1)})

    def elaborate(self, platform):
        m = Module()
        tm = self.timing
        F = tm.front
        if not F:
            m.d.comb += self.fire.eq(self.go)
            return m
        # Position 0..F-1 from the cycle after `go`; the outputs are registered from the position the
        # counter takes next.
        pos, pos_next, active_next = Signal(range(F), name="front_pos"), Signal(range(F)), Signal()
        with m.If(self.go):
            m.d.comb += [pos_next.eq(0), active_next.eq(1)]
        with m.Elif(self.active & (pos != F - 1)):
            m.d.comb += [pos_next.eq(pos + 1), active_next.eq(1)]
        m.d.sync += [pos.eq(pos_next), self.active.eq(active_next)]
        P, W, S = tm.precharge, tm.wordline, tm.settle
        m.d.sync += [self.pch.eq(active_next & (pos_next < P)),
                     self.wl_en.eq(active_next & (pos_next >= P) & (pos_next < P + W)),
                     self.sh.eq(active_next & (pos_next >= P + W + S))]
        m.d.comb += self.fire.eq(self.active & (pos == F - 1))
        return m
