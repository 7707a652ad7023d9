"""The step walker: the live steps of a section in issue order, each with its resolution bound."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.params import TileParams
from hwgen.steps import StepWalker, step_tables
from mapper.config import ArrayConfig


def _params(**fields):
    return TileParams(ArrayConfig(rows=8, cols=14, input_bits=4, **fields).hw, 4, 1, 1, 1, 1, 1)


def _walk(params, sections):
    """Load each section's counts, advance until its last step; the (step, bound) sequence of each."""
    dut = StepWalker(params)
    seen = []

    async def bench(ctx):
        for counts in sections:
            ctx.set(dut.load, 1)
            for i, q in enumerate(counts):
                ctx.set(dut.counts[i], q)
            live = ctx.get(dut.live)
            await ctx.tick()
            ctx.set(dut.load, 0)
            walk = []
            while live:
                walk.append((ctx.get(dut.step), ctx.get(dut.bound)))
                if ctx.get(dut.last):
                    break
                ctx.set(dut.advance, 1)
                await ctx.tick()
                ctx.set(dut.advance, 0)
            seen.append(walk)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return seen


def test_input_aware_walk_skips_undriven_steps_with_bitlen_bounds():
    p = _params(input_encoding="signmag", input_aware=True)           # 6 steps
    sections = [[0, 3, 0, 8, 1, 0], [0, 0, 0, 0, 0, 0], [5, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 2], [1] * 6]
    got = _walk(p, sections)
    # by hand: bitlen(3) = 2, bitlen(8) = 4, bitlen(1) = 1, bitlen(5) = 3, bitlen(2) = 2
    assert got == [[(1, 2), (3, 4), (4, 1)], [], [(0, 3)], [(5, 2)], [(i, 1) for i in range(6)]]


def test_weight_only_walk_issues_every_step_at_full_resolution():
    got = _walk(_params(input_encoding="signmag"), [[0] * 6, [7] * 6])
    assert got == [[(i, 4) for i in range(6)]] * 2


def test_bipolar_walk_bounds_each_step_one_bit_above_bitlen_and_weight_only_at_full_plus_one():
    # R = 8: full resolution 4; the bipolar drive's conversions carry a sign bit. counts = q+ | q-.
    p = _params(input_encoding="bipolar", input_aware=True)           # 3 steps
    got = _walk(p, [[0, 5, 1], [0, 0, 0], [8, 0, 2]])
    # by hand: bitlen(5) + 1 = 4, bitlen(1) + 1 = 2; bitlen(8) + 1 = 5, bitlen(2) + 1 = 3
    assert got == [[(1, 4), (2, 2)], [], [(0, 5), (2, 3)]]
    assert _walk(_params(input_encoding="bipolar"), [[0] * 3]) == [[(i, 5) for i in range(3)]]


@pytest.mark.parametrize("encoding, shifts, negates", [
    ("twos", [3, 2, 1, 0], [True, False, False, False]),
    ("signmag", [2, 1, 0, 2, 1, 0], [False, False, False, True, True, True]),
    ("bipolar", [2, 1, 0], [False, False, False]),
])
def test_step_tables_give_each_issued_steps_weight(encoding, shifts, negates):
    p = _params(input_encoding=encoding)
    assert step_tables(p) == (shifts, negates)
    w = np.asarray(p.hw.plane_weights())[p.step_order]
    assert list(w) == [(-1 if n else 1) * 2 ** s for s, n in zip(shifts, negates)]
