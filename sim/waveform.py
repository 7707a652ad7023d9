"""Timing diagrams of the array interface, drawn from a real simulation trace (WaveDrom).

`trace_interface` runs the controller and the array emulator (hwgen.tile's pair) in the Amaranth
simulator on one input vector and records, cycle by cycle, the host streams and the array interface:
`section`, `drive`, the front phases `pch`, `wl_en`, `sh` and, for the first ADCs, `start`, `res`,
`ref`, `col`, `done` and `code`, and the emulator's `violation`. `macro_timing_diagram` draws the
macro contract's diagram of docs/ (`python3 -m sim.waveform docs/macro_timing.svg`), `guard_diagram` the
guarded one (`python3 -m sim.waveform docs/macro_guard.svg guard`). `wavedrom_json`
turns a trace into a WaveDrom description (https://wavedrom.com/tutorial.html), `write_diagram` writes
it as JSON and, when the `wavedrom` package is installed, as SVG. Nothing is drawn by hand: the diagram
is what the RTL does.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field

import numpy as np
from amaranth import Elaboratable, Module
from amaranth.sim import Simulator

from hwgen.controller import Controller
from hwgen.emulator import ArrayEmulator
from hwgen.interface import connect_array
from mapper.schedule import MacroTiming
from hwgen.params import TileParams
from mapper.common import SwsError
from mapper.common import write_atomic
from hwgen.soc.electrical import phase_windows, widths_ns
from mapper.plan import LayerPlan

__all__ = ["Trace", "trace_interface", "wavedrom_json", "write_diagram", "macro_timing_diagram",
           "guard_diagram", "DIAGRAM_TIMING", "DIAGRAM_CLOCK_MHZ"]


@dataclass
class Trace:
    """Per-cycle values of named signals: `rows[name][c]` is the signal's value in cycle `first + c`
    (cycle 0: the cycle the first input is offered); `bits[name]` its width."""

    first: int
    rows: dict[str, list[int]] = field(default_factory=dict)
    bits: dict[str, int] = field(default_factory=dict)


class _Pair(Elaboratable):
    """The controller with the array emulator on its array interface (a Tile whose bus stays visible)."""

    def __init__(self, params: TileParams, plan: LayerPlan):
        self.params = params
        self.ctrl = Controller(params, plan)
        self.emu = ArrayEmulator(params, plan)

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller, m.submodules.array = self.ctrl, self.emu
        connect_array(m, self.ctrl.bus, self.emu.bus)
        return m


def trace_interface(lp: LayerPlan, x, *, first: int | None = None, cycles: int = 40, adcs: int = 2,
                    limit: int = 1_000_000, timing: MacroTiming | None = None) -> Trace:
    """Simulate one input vector x (K,) and record `cycles` cycles of the interface from cycle `first`
    (default: two cycles before the first ADC start), for the first `adcs` ADCs.

    Cycle 0 is the cycle the first input is offered (after the accumulator clear that follows reset);
    inputs are offered one per cycle, the output stream is always ready. `limit` bounds the cycles
    simulated while looking for the first start. `timing`: the macro's phases (default: none).
    """
    k = lp.shape[0]
    x = np.asarray(x, np.int64).reshape(-1)
    if x.shape != (k,):
        raise SwsError(f"trace: one input vector of {k} values is needed, not shape {x.shape}")
    if not 1 <= cycles <= 100_000:
        raise SwsError(f"trace: cycles must lie in 1..100000, not {cycles}")
    if first is not None and first < 0:
        raise SwsError(f"trace: the first cycle must be at least 0, not {first}")
    params = TileParams.from_plan(lp, timing=timing)
    adcs = max(1, min(adcs, lp.cfg.hw.n_adc))
    dut = _Pair(params, lp)
    c, bus = dut.ctrl, dut.ctrl.bus
    signals = {"i.valid": c.i.valid, "i.ready": c.i.ready, "section": bus.section, "drive": bus.drive,
               "pch": bus.pch, "wl_en": bus.wl_en, "sh": bus.sh}
    for a in range(adcs):
        port = bus.adc[a]
        for name in ("start", "res", "ref", "col", "done", "code"):
            signals[f"adc[{a}].{name}"] = getattr(port, name)
    signals.update({"o.valid": c.o.valid, "o.ready": c.o.ready, "o.payload": c.o.payload,
                    "violation": dut.emu.violation})
    starts = [port.start for port in bus.adc]
    rows: dict[str, list[int]] = {name: [] for name in signals}
    found = {"first": first}

    async def bench(ctx):
        ctx.set(c.o.ready, 1)
        # Wait out the accumulator clear after reset: the first input is offered when the stream is ready.
        while not ctx.get(c.i.ready):
            await ctx.tick()
        cycle, kk = 0, 0
        while True:
            ctx.set(c.i.valid, int(kk < k))
            if kk < k:
                ctx.set(c.i.payload, int(x[kk]))
            if found["first"] is None and any(ctx.get(s) for s in starts):
                found["first"] = max(0, cycle - 2)
            for name, sig in signals.items():
                rows[name].append(int(ctx.get(sig)))
            if found["first"] is not None and cycle + 1 >= found["first"] + cycles:
                return
            if cycle >= limit:
                raise SwsError(f"trace: no ADC started within {limit} cycles")
            if kk < k and ctx.get(c.i.ready):
                kk += 1
            await ctx.tick()
            cycle += 1

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    f = found["first"]
    return Trace(f, {name: v[f:f + cycles] for name, v in rows.items()}, {name: len(s) for name, s in signals.items()})


def _wave(values: list[int], width: int) -> dict:
    if width == 1:
        wave = "".join("." if i and v == values[i - 1] else str(v) for i, v in enumerate(values))
        return {"wave": wave}
    wave, data = [], []
    digits = -(-width // 4)
    for i, v in enumerate(values):
        if i and v == values[i - 1]:
            wave.append(".")
        else:
            wave.append("=")
            data.append(f"{v:0{digits}x}" if width > 8 else str(v))
    return {"wave": "".join(wave), "data": data}


def wavedrom_json(trace: Trace, title: str = "") -> dict:
    """The trace as a WaveDrom description: a clock, then each signal, grouped by host and ADC."""
    n = len(next(iter(trace.rows.values())))
    groups: dict[str, list] = {}
    for name, values in trace.rows.items():
        group = name.split(".")[0]
        label = name.split(".", 1)[1] if "." in name else name
        groups.setdefault(group, []).append({"name": label, **_wave(values, trace.bits[name])})
    signal: list = [{"name": "clk", "wave": "p" + "." * (n - 1)}]
    for group, rows in groups.items():
        signal.append([group, *rows] if len(rows) > 1 else rows[0])
    return {"signal": signal, "head": {"text": title, "tick": trace.first},
            "config": {"hscale": 1}}


def write_diagram(trace: Trace, path: str, title: str = "") -> list[str]:
    """Write `path` (.json: the WaveDrom description; .svg: drawn with the wavedrom package, and the
    description beside it as .json). Returns the paths written."""
    desc = wavedrom_json(trace, title)
    text = json.dumps(desc, indent=1) + "\n"
    if path.endswith(".json"):
        write_atomic(path, text)
        return [path]
    if not path.endswith(".svg"):
        raise SwsError(f"trace: {path}: the diagram's file must end in .svg or .json")
    try:
        import wavedrom
    except ImportError:
        raise SwsError("trace: drawing SVG needs the wavedrom package (pip install 'sws-crossbar[plots]')") from None
    svg = wavedrom.render(json.dumps(desc)).tostring()
    write_atomic(path, svg)
    base = path[:-4] + ".json"
    write_atomic(base, text)
    return [path, base]


#: The phases of the macro contract's diagram: precharge 1, wordline 1, settle 1, sample 1 (F = 4), so
#: that the next batch's front hides behind 5-bit conversions and outlasts shorter ones.
DIAGRAM_TIMING = MacroTiming(precharge=1, wordline=1, settle=1, sample=1)
#: The clock at which the diagrams give each phase's width in ns (the SoC wrapper's constraint default).
DIAGRAM_CLOCK_MHZ = 150.0


def _diagram_layer():
    """The diagrams' layer: R = 32, 2 ADCs of up to 6 bits, 64 inputs, 3 outputs, 30% of the weights
    pruned, seed 3; and its input vector."""
    from mapper.config import ArrayConfig
    from mapper.sectioning import map_layer
    from mapper.plan import build_layer_plan
    from mapper.sources import QuantLayer
    from mapper.prepare import prune

    cfg = ArrayConfig(rows=32, cols=64, n_adc=2)
    rng = np.random.default_rng(3)
    w = np.clip(np.rint(rng.laplace(0, cfg.hw.weight_max / 4, (64, 3))), -cfg.hw.weight_max, cfg.hw.weight_max)
    lp = build_layer_plan(map_layer(QuantLayer("diagram", prune(w.astype(np.int64), 0.3)), cfg))
    return lp, rng.integers(cfg.hw.input_min, cfg.hw.input_max + 1, 64)


def _front_trace(timing: MacroTiming, cycles: int) -> Trace:
    """The diagrams' layer simulated under `timing`, from `timing.front` cycles before its first start."""
    lp, x = _diagram_layer()
    probe = trace_interface(lp, x, cycles=1, timing=timing)
    front = next(c for c in range(probe.first, probe.first + 1000) if c >= 0)
    tr = trace_interface(lp, x, first=max(0, front - timing.front), cycles=cycles, timing=timing)
    if any(tr.rows["violation"]):
        raise SwsError("trace: the emulator flagged a protocol violation in the diagram's run")
    return tr


def macro_timing_diagram(path: str, cycles: int = 48) -> list[str]:
    """Draw the macro interface's timing diagram (docs/macro_timing.svg and .json) from a real simulation:
    a small layer (R = 32, 2 ADCs of up to 6 bits, 64 inputs, 3 outputs, 30% of the weights pruned,
    seed 3) with `DIAGRAM_TIMING`, from two cycles before its first front. Returns the paths written."""
    tr = _front_trace(DIAGRAM_TIMING, cycles)
    t = DIAGRAM_TIMING
    ns = widths_ns(t, DIAGRAM_CLOCK_MHZ)
    title = (f"macro interface: precharge {t.precharge}, wordline {t.wordline}, settle {t.settle}, "
             f"sample {t.sample} cycles ({ns['period']:.2f} ns each at {DIAGRAM_CLOCK_MHZ:g} MHz); the sample "
             f"is taken at the rising edge that starts the start cycle (sh falls); conversion res cycles; "
             f"pch falls as wl_en rises (docs/design.md: electrical interface) (sim.waveform.macro_timing_diagram)")
    return write_diagram(tr, path, title)


def guard_diagram(path: str, guard: int = 1, timing: MacroTiming = DIAGRAM_TIMING, cycles: int = 48) -> list[str]:
    """Draw the guarded phase schedule (docs/macro_guard.svg) from a real simulation of the controller with
    `guard` cycles (the diagram layer of `macro_timing_diagram`), after checking that its first activation's
    pch, wl_en, sh and start are where hwgen.soc.electrical.phase_windows puts them."""
    t = dataclasses.replace(timing, guard=guard)
    tr = _front_trace(t, cycles)
    w = phase_windows(t)
    rows = tr.rows
    u = rows["pch"].index(1) if t.precharge else rows["wl_en"].index(1) - w.wl_en[0]
    got = {name: [c - u for c in range(len(rows[name])) if rows[name][c] and u <= c < u + w.start]
           for name in ("pch", "wl_en", "sh")}
    want = {name: list(range(win[0], win[1] + 1)) if win else [] for name, win in
            (("pch", w.pch), ("wl_en", w.wl_en), ("sh", w.sh))}
    if got != want or not rows["adc[0].start"][u + w.start]:
        raise SwsError(f"guard diagram: the RTL's phases {got} are not phase_windows' {want}")
    ns = widths_ns(t, DIAGRAM_CLOCK_MHZ)
    title = (f"guard {guard} cycle(s) ({ns['guard']:.2f} ns at {DIAGRAM_CLOCK_MHZ:g} MHz) between precharge, "
             f"wordline and sample, drawn from the RTL's simulation (checked against phase_windows); precharge "
             f"{t.precharge}, wordline {t.wordline}, settle {t.settle}, sample {t.sample} cycles: front "
             f"{t.front} (sim.waveform.guard_diagram)")
    return write_diagram(tr, path, title)


if __name__ == "__main__":       # python3 -m sim.waveform docs/macro_timing.svg [guard]
    import sys
    if len(sys.argv) > 2 and sys.argv[2] == "guard":
        print("\n".join(guard_diagram(sys.argv[1])))
    else:
        print("\n".join(macro_timing_diagram(sys.argv[1] if len(sys.argv) > 1 else "docs/macro_timing.svg")))
