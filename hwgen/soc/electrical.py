"""The electrical view of the macro's phase timing (docs/design.md section 6, "Electrical interface"): each
phase's window in cycles and its width in ns at a clock, which signals switch on the same clock edge, and
the guard-cycle option that separates them.

`phase_windows` is the timing description of a batch, from its first cycle on the bus (u = 0): the cycles
each of `drive`, `pch`, `wl_en`, `sh` and the ADC `start` are high (drive: from when it is set). With
guard G > 0 (`MacroTiming.guard`, or the `guard` argument) it is the guarded schedule (docs/design.md:
G cycles with all of pch, wl_en and sh low between precharge and wordline and at least G between wordline
and the sample strobe, the drive set G cycles before the wordline rises), which the controller's front
(hwgen.front.FrontPhases, from the timing registers) generates for every G of 0..7 and the tests compare
with the RTL's own waveform. `same_edge` lists the pairs of phase transitions that fall on one clock edge
(the overlap hazards), `widths_ns` and `cycles_for` the widths in ns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from mapper.common import SwsError

from mapper.schedule import GUARD_MAX, MacroTiming

__all__ = ["PhaseWindows", "phase_windows", "same_edge", "widths_ns", "cycles_for", "implemented"]


@dataclass(frozen=True)
class PhaseWindows:
    """[first, last] cycle (inclusive, u = 0 the batch's first cycle on the bus) of each phase that is on;
    `start` is the ADC start pulse's cycle (the sampling edge: the sample is taken at its rising clock
    edge, which is the edge `sh` falls on with sample-and-hold)."""
    drive: tuple[int, int]
    pch: tuple[int, int] | None
    gap_pw: tuple[int, int] | None
    wl_en: tuple[int, int] | None
    settle: tuple[int, int] | None
    sh: tuple[int, int] | None
    start: int
    guard: int


def _window(first: int, cycles: int):
    return (first, first + cycles - 1) if cycles > 0 else None


def phase_windows(t: MacroTiming, guard: int | None = None) -> PhaseWindows:
    """The phases of one batch under timing `t` with `guard` cycles (None: `t.guard`; 0: no guard)."""
    if guard is None:
        guard = t.guard
    if isinstance(guard, bool) or not isinstance(guard, int) or not 0 <= guard <= GUARD_MAX:
        raise SwsError(f"guard must be an integer from 0 to {GUARD_MAX} cycles, not {guard!r}")
    c = 0
    pch = _window(c, t.precharge)
    c += t.precharge
    gap = _window(c, guard if t.precharge else 0)
    c += guard                               # without precharge: the drive is set G cycles before the wordline
    wl = _window(c, t.wordline)
    c += t.wordline
    settle = _window(c, max(t.settle, guard) if t.wordline else t.settle)
    c += max(t.settle, guard) if t.wordline else t.settle
    sh = _window(c, t.sample)
    c += t.sample
    return PhaseWindows(drive=(0, c), pch=pch, gap_pw=gap, wl_en=wl, settle=settle, sh=sh, start=c, guard=guard)


def implemented(guard: int) -> bool:
    """Whether the controller generates this guard: every G of 0..GUARD_MAX (the front's timing registers)."""
    return 0 <= guard <= GUARD_MAX


def same_edge(w: PhaseWindows) -> list[str]:
    """The pairs of transitions on one clock edge (rise at a window's first cycle, fall after its last)."""
    edges = {}

    def add(name, win):
        if win is not None:
            edges.setdefault(win[0], []).append(f"{name} rises")
            edges.setdefault(win[1] + 1, []).append(f"{name} falls")
    add("pch", w.pch)
    add("wl_en", w.wl_en)
    add("sh", w.sh)
    edges.setdefault(0, []).append("drive changes")
    edges.setdefault(w.start, []).append("start (sample)")
    hazards = []
    for cycle, what in sorted(edges.items()):
        wl = [e for e in what if e.startswith("wl_en")]
        others = [e for e in what if not e.startswith("wl_en")]
        hazards += [f"cycle {cycle}: {a} with {b}" for a in wl for b in others]
    return hazards


def cycles_for(ns: float, clock_mhz: float) -> int:
    """Fewest whole cycles at `clock_mhz` that last at least `ns`."""
    if clock_mhz <= 0 or ns < 0:
        raise SwsError(f"need a positive clock and a width >= 0 ns, not {clock_mhz} MHz, {ns} ns")
    return math.ceil(ns * clock_mhz / 1000 - 1e-9)


def widths_ns(t: MacroTiming, clock_mhz: float, guard: int | None = None) -> dict[str, float]:
    """Each phase's width (and the guard gap) in ns at `clock_mhz` (guard None: `t.guard`)."""
    guard = t.guard if guard is None else guard
    period = 1000.0 / clock_mhz
    return {"precharge": t.precharge * period, "wordline": t.wordline * period,
            "settle": max(t.settle, guard) * period if t.wordline else t.settle * period,
            "sample": t.sample * period, "guard": guard * period, "period": period}
