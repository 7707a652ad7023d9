"""A testbench model of the analog macro for the error and handshake tests: the plan's cells and an ADC per
lane whose done is a pulse or a level, late by a random number of cycles, or missing or stuck; and a
driver that runs a controller against it to the end: its outputs, or the errors its status port names,
or a hang (no outputs and no error within a budget).

The model is Python (`ctx.tick().sample`), independent of hwgen.emulator: it reads the array interface
as docs/design.md section 6 describes it and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from amaranth import Value
from amaranth.sim import Simulator

from hwgen.interface import pack_beats, unpack_beat
from mapper.plan import LayerPlan

__all__ = ["AdcModel", "MODES", "Hang", "Outcome", "run_against"]

#: counted: a one-cycle done `res + delay` cycles after a one-cycle start; level: four-phase, done held
#: until the start is seen low; pulse: four-phase, a one-cycle done; next_start: done held until the
#: next start (the old contract, which no four-phase controller can tell from a stuck done).
MODES = ("counted", "level", "pulse", "next_start")


class Hang(AssertionError):
    """Neither the outputs nor an error within the budget."""


@dataclass
class AdcModel:
    """The macro: cells (S, R, slot_cols) of the plan, ADCs of `mode`, each conversion `delay` cycles late
    (drawn from `delays` with `seed`); `missing`: the ordinal of the conversion whose done never comes;
    `stuck_from`: the cycle from which ADC 0's done is stuck high."""

    plan: LayerPlan
    mode: str = "counted"
    delays: tuple = (0, 0)
    seed: int = 0
    missing: int | None = None
    stuck_from: int | None = None
    conversions: int = 0
    log: list = field(default_factory=list)

    def bench(self, bus, n_adc: int, sample: bool = False):
        rng = np.random.default_rng(self.seed)
        cells = self.plan.cells.astype(np.int64)
        rows, mux = cells.shape[1], self.plan.cfg.hw.adc_mux
        probes = [bus.section, bus.drive, bus.sh] + [s for a in bus.adc for s in (a.start, a.res, a.ref, a.col)]

        async def run(ctx):
            due, high, need_low, code = [None] * n_adc, [False] * n_adc, [False] * n_adc, [0] * n_adc
            was_start = [False] * n_adc
            held = (0, 0)
            cycle = 0
            async for _, _, section, drive, sh, *lanes in ctx.tick().sample(*probes):
                # The values of cycle `cycle`; the ADCs' outputs for the next are set below.
                if sh:
                    held = (section, drive)
                done_next = [False] * n_adc
                for i in range(n_adc):
                    start, res, ref, col = lanes[4 * i:4 * i + 4]
                    if self.mode in ("level", "pulse"):
                        begins = start and due[i] is None and not high[i] and not need_low[i]
                        if not start:
                            need_low[i] = False
                            if self.mode == "level":
                                high[i] = False
                    elif self.mode == "next_start":       # a conversion per rising start; done until the next
                        begins = start and not was_start[i]
                        if begins:
                            high[i] = False
                    else:
                        begins = start
                    was_start[i] = start
                    if begins:
                        sec, drv = held if sample else (section, drive)
                        c = i * mux + col if mux else col
                        count = sum(int(cells[sec, r, c]) for r in range(rows) if drv >> r & 1)
                        code[i] = min(count, (1 << ref) - 1)
                        lo, hi = self.delays
                        late = int(rng.integers(lo, hi + 1))
                        self.conversions += 1
                        due[i] = None if self.conversions - 1 == self.missing else cycle + res + late
                        need_low[i] = True
                        self.log.append((cycle, i, res, col))
                    if due[i] is not None and due[i] == cycle + 1:
                        due[i] = None
                        done_next[i] = True
                        if self.mode in ("level", "next_start"):
                            high[i] = True
                    ctx.set(bus.adc[i].done, done_next[i] or high[i] or
                            (i == 0 and self.stuck_from is not None and cycle + 1 >= self.stuck_from))
                    ctx.set(bus.adc[i].code, code[i])
                cycle += 1
        return run


@dataclass
class Outcome:
    outputs: np.ndarray | None          # (V, N), or None when the controller stopped with errors
    errors: list[str]                   # the status port's error names (hwgen.interface.ERRORS)
    cycles: int


def run_against(ctrl, plan: LayerPlan, x: np.ndarray, model: AdcModel, *, budget: int, vectors_after_clear=None,
                before=None) -> Outcome:
    """Run controller `ctrl` (baked, one bank) on the vectors x with `model` on its array interface until
    every output came, or its status port reports errors, or `budget` cycles passed (Hang). `before`, an
    async function of ctx, runs first (programming writes, a timing write)."""
    from hwgen.interface import ERRORS
    params = ctrl.params
    x = np.asarray(x, np.int64).reshape(-1, plan.shape[0])
    beat, n = params.beat, plan.shape[1]
    status = getattr(ctrl, "status", None)       # (the controllers before issue 24 had no status port)
    result = {}

    async def host(ctx):
        if before is not None:
            await before(ctx)
        ctx.set(ctrl.o.ready, 1)
        ys, cycle = [], 0
        words = [w for xv in x for w in pack_beats(xv, beat, plan.cfg.hw.input_bits)]
        k = 0
        while len(ys) < len(x) * -(-n // beat) * beat and cycle < budget:
            ctx.set(ctrl.i.valid, k < len(words))
            if k < len(words):
                ctx.set(Value.cast(ctrl.i.payload), words[k])
            _, _, ready, valid, payload = await ctx.tick().sample(ctrl.i.ready, ctrl.o.valid, Value.cast(ctrl.o.payload))
            k += bool(ready and k < len(words))
            if valid:
                ys += unpack_beat(payload, beat, params.acc_width)
            cycle += 1
            if status is not None and ctx.get(status.error):
                bits = ctx.get(status.errors)
                result["errors"] = [name for b, name in enumerate(ERRORS) if bits >> b & 1]
                break
        result["cycles"] = cycle
        if "errors" not in result and len(ys) >= len(x) * -(-n // beat) * beat:
            result["outputs"] = np.array(ys, np.int64).reshape(len(x), -1)[:, :n]

    sim = Simulator(ctrl)
    sim.add_clock(1e-8)
    sim.add_testbench(model.bench(ctrl.bus, params.hw.n_adc, params.timing.sample > 0), background=True)
    sim.add_testbench(host)
    sim.run()
    if "errors" not in result and "outputs" not in result:
        raise Hang(f"no outputs and no error after {budget} cycles ({model.conversions} conversions started)")
    return Outcome(result.get("outputs"), result.get("errors", []), result["cycles"])
