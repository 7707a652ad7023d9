"""The vector's phases (hwgen/phases.py): `idle`, a register loaded with its next value, equals in every cycle
what docs/design.md calls idle (no vector in progress) as a reference model of the phases computes it from
their state, under random inputs, beats, run and output ends, layer writes and resets; one vector at a time
and double-buffered."""

import random

import pytest
from amaranth import Module, Signal
from amaranth.hdl import ResetInserter
from amaranth.sim import Simulator

from hwgen.params import TileParams
from hwgen.phases import VectorPhases
from mapper import ArrayConfig

K_WORDS = 3


class PhasesModel:
    """The phases as hwgen/phases.py's docstring states them, one cycle at a time: `idle` of the state
    (one vector: LOAD and no beat taken, k == 0; double-buffered: the runner IDLE, both buffers empty, k == 0)."""

    def __init__(self, double):
        self.double = double
        self.reset()

    def reset(self):
        self.state = "IDLE" if self.double else "LOAD"
        self.k, self.k_last, self.full, self.lsel, self.rsel = 0, K_WORDS == 1, [0, 0], 0, 0

    def idle(self):
        if self.double:
            return self.state == "IDLE" and not any(self.full) and self.k == 0
        return self.state == "LOAD" and self.k == 0

    def ready(self, acc_ready, configured):
        ok = acc_ready and configured
        if self.double:
            return ok and not self.full[self.lsel]
        return ok and self.state == "LOAD"

    def step(self, i_valid, acc_ready, configured, run_done, out_done, layer_we, k_one, k_len):
        take = i_valid and self.ready(acc_ready, configured)
        loaded = take and self.k_last
        k_last = self.k_last
        if layer_we:
            self.k_last = k_one
        elif take:
            self.k, self.k_last = (0, k_len == 1) if k_last else (self.k + 1, self.k == k_len - 2)
        if self.double:         # every update from the state before the clock edge
            full, rsel = list(self.full), self.rsel
            if loaded:
                self.full[self.lsel], self.lsel = 1, 1 - self.lsel
            if self.state == "IDLE" and full[rsel]:
                self.state = "RUN"
            elif self.state == "RUN" and run_done:
                self.full[rsel], self.rsel, self.state = 0, 1 - rsel, "OUT"
            elif self.state == "OUT" and out_done:
                self.state = "IDLE"
        else:
            if self.state == "LOAD" and loaded:
                self.state = "RUN"
            elif self.state == "RUN" and run_done:
                self.state = "OUT"
            elif self.state == "OUT" and out_done:
                self.state = "LOAD"


@pytest.mark.parametrize("double", [False, True])
def test_idle_a_register_is_the_phases_idle_in_every_cycle(double):
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, double_buffer=double)
    params = TileParams(cfg.hw, K_WORDS, 2, 4, 8, 8, 1)
    dut = VectorPhases(params)
    halt = Signal()
    m = Module()
    m.submodules.phases = ResetInserter(halt)(dut)
    rng = random.Random(1)
    model = PhasesModel(double)
    seen = {"busy": 0, "idle": 0, "reset": 0}

    async def bench(ctx):
        for cycle in range(1500):
            busy_spell = (cycle // 150) % 2        # spells of a busy input stream and of a quiet one
            i_valid, acc_ready, configured = rng.random() < (0.6 if busy_spell else 0.03), rng.random() < 0.9, rng.random() < 0.9
            run_done, out_done = rng.random() < 0.2, rng.random() < 0.3
            # A layer word is taken only while idle (the host checks it), K of 1 to K_WORDS beats.
            layer_we = model.idle() and rng.random() < 0.05
            k_len = rng.randint(1, K_WORDS) if layer_we else K_WORDS
            reset = rng.random() < 0.01
            for sig, v in ((dut.i_valid, i_valid), (dut.acc_ready, acc_ready), (dut.configured, configured),
                           (dut.run_done, run_done), (dut.out_done, out_done), (dut.layer_we, layer_we),
                           (dut.k_one, k_len == 1), (dut.k_len, K_WORDS), (dut.k_stop, K_WORDS - 2), (halt, reset)):
                ctx.set(sig, int(v))
            assert ctx.get(dut.idle) == model.idle(), f"cycle {cycle}"
            assert ctx.get(dut.i_ready) == model.ready(acc_ready, configured), f"cycle {cycle}"
            seen["idle" if model.idle() else "busy"] += 1
            await ctx.tick()
            if reset:
                seen["reset"] += 1
                model.reset()
            else:
                model.step(i_valid, acc_ready, configured, run_done, out_done, layer_we, k_len == 1, K_WORDS)

    sim = Simulator(m)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen["idle"] > 100 and seen["busy"] > 500 and seen["reset"] > 5
