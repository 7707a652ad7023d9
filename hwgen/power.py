"""The macro's enable and sleep (`MacroTiming.power`): the host's power writes, the `en` and `sleep` outputs
to the macro, and the wake-up wait before the first precharge after the macro is enabled or woken
(docs/design.md section 6, "Electrical interface")."""

from __future__ import annotations

from amaranth import Module, Signal
from amaranth.hdl import Assert
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.schedule import WAKE_MAX

from .interface import PowerSignature

__all__ = ["PowerControl"]


class PowerControl(wiring.Component):
    """The power registers and the walk's wake-up gate.

    `en` and `sleep` are registers (reset: enabled, awake), loaded by a host write (`power.we`). A write that
    turns the macro off (en falling or sleep rising) while a vector is in progress (`idle` low) is refused
    (`refused`, a pulse: the controller's host_protocol error); turning it on is always taken. The macro is
    "on" while en & ~sleep.

    A wake (the macro turned on, or the reset: en resets high) makes the next walk wait: when the vector's
    walk would begin (`start`), the gate (state machine `power`) holds it in WAKE for `wake` cycles, then
    passes it on (`start_out`, `wake` cycles late), so the first precharge comes at least `wake` cycles
    after the wake. A walk begun while the macro is off waits in OFF until it is on (a wake) and then the
    wake-up. Otherwise `start_out` is `start` in the same cycle (no cycle added). `holding` is high while a
    walk waits (the controller's RUN is not over then). The wait is counted from the walk, not from the
    write, so that the first vector's cycles are known (`MacroTiming.first_wake`, the cycle model's): a
    host that wakes the macro early still pays the wake-up once, with its first vector.

    Latency: 0 cycles, or `wake` for the first walk after a wake. `halt` (the controller's error state)
    drops a waiting walk; the registers keep.

    Attributes
    ----------
    power : In(PowerSignature)
        The host's writes.
    idle : In(1)
        No vector in progress (a turn-off is taken only then).
    start : In(1)
        A vector's walk begins (the prefetch's start).
    halt : In(1)
        The controller's error state: a waiting walk is dropped.
    en, sleep : Out(1)
        To the macro, registers.
    start_out : Out(1)
        The walk's start, after the wake-up.
    holding : Out(1)
        A walk waits (OFF or WAKE).
    refused : Out(1)
        A turn-off write refused this cycle.
    """

    def __init__(self, wake: int):
        if isinstance(wake, bool) or not isinstance(wake, int) or not 0 <= wake <= WAKE_MAX:
            raise ValueError(f"wake must be an integer from 0 to {WAKE_MAX} cycles, not {wake!r}")
        self.wake = wake
        super().__init__({"power": In(PowerSignature()), "idle": In(1), "start": In(1), "halt": In(1),
                          "en": Out(1, init=1), "sleep": Out(1), "start_out": Out(1), "holding": Out(1),
                          "refused": Out(1)})

    def elaborate(self, platform):
        m = Module()
        pw, wake = self.power, self.wake
        on = Signal(name="macro_on")
        woken = Signal(init=1, name="wake_pending")      # a wake since the last walk (reset: just enabled)
        m.d.comb += on.eq(self.en & ~self.sleep)
        turns_off = (self.en & ~pw.en) | (~self.sleep & pw.sleep)
        m.d.comb += self.refused.eq(pw.we & turns_off & ~self.idle)
        with m.If(pw.we & ~self.refused):
            m.d.sync += [self.en.eq(pw.en), self.sleep.eq(pw.sleep)]
            with m.If(pw.en & ~pw.sleep & ~on):
                m.d.sync += woken.eq(1)
        left = Signal(range(max(wake, 1) + 1), name="wake_left")

        def begin_walk():                                # the walk goes on to the scheduler; no wake owed
            m.d.comb += self.start_out.eq(1)
            m.d.sync += woken.eq(0)

        with m.FSM(name="power"):
            with m.State("ON"):
                with m.If(self.start & ~self.halt):
                    with m.If(on & (~woken | (wake == 0))):
                        begin_walk()
                    with m.Elif(on):
                        m.d.sync += left.eq(wake - 1)
                        m.next = "WAKE"
                    with m.Else():
                        m.next = "OFF"
            with m.State("OFF"):
                m.d.comb += self.holding.eq(1)
                with m.If(self.halt):
                    m.next = "ON"
                with m.Elif(on):
                    with m.If(wake == 0):
                        begin_walk()
                        m.next = "ON"
                    with m.Else():
                        m.d.sync += left.eq(wake - 1)
                        m.next = "WAKE"
            with m.State("WAKE"):
                m.d.comb += self.holding.eq(1)
                with m.If(self.halt):
                    m.next = "ON"
                with m.Elif(left == 0):
                    begin_walk()
                    m.next = "ON"
                with m.Else():
                    m.d.sync += left.eq(left - 1)
        # A walk begins only on a macro that is on.
        with m.If(self.start_out):
            m.d.sync += Assert(on, "a walk began while the macro is off")
        return m
