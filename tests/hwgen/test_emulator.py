"""The array emulator's conversions (hwgen/emulator.py) against a brute-force count: random cells written
through the cell-write port, then random starts on every ADC with random sections, drives, columns and
resolutions, the section, drive and columns changing in the start's cycle and in every other cycle. Each
code is checked from its done until the ADC's next start against min(popcount(column & drive), 2**ref - 1)
computed with numpy from the cells (bipolar: the rows of drive_neg count -1), and the cells read against
the converted columns' 1-cells."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.emulator import VIOLATIONS, ArrayEmulator
from hwgen.params import TileParams
from mapper.config import ArrayConfig
from mapper.schedule import MacroTiming

#: 20 rows (two full groups of eight and a partial one), 5-bit ADCs (ref 1 .. 5: every stage of the code).
ROWS, COLS, N_ADC, SECTIONS = 20, 14, 3, 3


def _params(encoding, timing):
    hw = ArrayConfig(rows=ROWS, cols=COLS, n_adc=N_ADC, input_bits=3, input_encoding=encoding).hw
    return TileParams(hw, k=ROWS, n=2, section_depth=SECTIONS, row_depth=32, column_depth=28, lanes=1,
                      timing=timing)


def _expected(cells, addr, drive, neg, ref, bipolar):
    """min(count, 2**ref - 1) by brute force: count = the column's 1-cells on the driven rows (bipolar: the
    rows driven +1 minus those driven -1), saturated at the reference's full scale."""
    bits = np.array([(cells[addr] >> r) & 1 for r in range(ROWS)])
    on = np.array([(drive >> r) & 1 for r in range(ROWS)])
    if not bipolar:
        return int(min(int(bits @ on), 2 ** ref - 1))
    minus = np.array([(neg >> r) & 1 for r in range(ROWS)])
    count = int(bits @ (on * (1 - minus))) - int(bits @ (on * minus))
    top = 2 ** (ref - 1) - 1
    return int(max(-top, min(count, top))) & ((1 << (ROWS.bit_length() + 1)) - 1)


def _bits(rng):
    """ROWS random bits, each set with a probability drawn from 0.05 .. 0.6 (sparse words make codes of
    one or two cells, where a row left out shows; dense ones saturate)."""
    density = rng.choice([0.05, 0.15, 0.3, 0.6])
    return int(sum(1 << r for r in range(ROWS) if rng.random() < density))


def _run(encoding, timing, mode, seed, cycles=160):
    """Drive a bare emulator; returns (conversions [(adc, start, done, expected code)], the code of each
    ADC in every cycle, the cells read summed, the 1-cells of the converted columns, violation)."""
    params = _params(encoding, timing)
    bipolar = params.bipolar
    emu = ArrayEmulator(params)
    rng = np.random.default_rng(seed)
    depth, slot_pad, bits = SECTIONS * params.slot_pad, params.slot_pad, params.conv_bits
    cells = [_bits(rng) for _ in range(depth)]
    handshake = timing.sync > 0
    got = {"conversions": [], "codes": [], "cell_reads": 0, "done": []}

    async def bench(ctx):
        bus = emu.bus
        for addr, word in enumerate(cells):
            ctx.set(bus.wr_en, 1)
            ctx.set(bus.wr_addr, addr)
            ctx.set(bus.wr_data, word)
            await ctx.tick()
        ctx.set(bus.wr_en, 0)
        held = None                  # sample-and-hold: the (section, drive, neg) of the last sh cycle
        free = [0] * N_ADC           # counted: the first cycle ADC i may start again (its done cycle)
        state = ["idle"] * N_ADC     # handshake: idle, converting, seen, dropping (start low until done falls)
        for cycle in range(cycles + 12):
            section, drive = int(rng.integers(SECTIONS)), _bits(rng)
            neg = _bits(rng) if bipolar else 0
            ctx.set(bus.section, section)
            ctx.set(bus.drive, drive)
            if bipolar:
                ctx.set(bus.drive_neg, neg)
            sample = (section, drive, neg) if not timing.sample else held
            sh = bool(timing.sample) and (held is None or rng.random() < 0.3)
            ctx.set(bus.sh, sh)
            for i, adc in enumerate(bus.adc):
                if handshake and state[i] == "converting":
                    if ctx.get(adc.done):       # seen: the start falls the cycle after (a registered done)
                        state[i] = "seen"
                    continue
                if handshake and state[i] == "seen":
                    state[i] = "dropping"
                    ctx.set(adc.start, 0)
                    continue
                if handshake and state[i] == "dropping":
                    if not ctx.get(adc.done):
                        state[i] = "idle"
                    continue
                may = cycle < cycles and sample is not None and (handshake or cycle >= free[i])
                go = may and (mode == "fastest" or rng.random() < 0.5)
                col, res = int(rng.integers(COLS)), int(rng.integers(2 if bipolar else 1, bits + 1))
                ref = int(rng.integers(1, res + 1)) if rng.random() < 0.3 else res
                ctx.set(adc.col, col)
                ctx.set(adc.res, res)
                ctx.set(adc.ref, ref)
                ctx.set(adc.start, go)
                if go:
                    addr = sample[0] * slot_pad + col
                    code = _expected(cells, addr, sample[1], sample[2], ref, bipolar)
                    got["conversions"].append((i, cycle, cycle + res, code, cells[addr].bit_count()))
                    free[i] = cycle + res
                    state[i] = "converting"
            await ctx.tick()
            if sh:
                held = (section, drive, neg)
            got["codes"].append([ctx.get(adc.code) for adc in bus.adc])
            got["done"].append([ctx.get(adc.done) for adc in bus.adc])
            got["cell_reads"] += ctx.get(bus.cell_reads)
        got["violation"] = ctx.get(emu.violation)

    sim = Simulator(emu)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


CASES = [
    ("twos", MacroTiming(), "fastest"),          # counted, no phases, every start in the previous done cycle
    ("twos", MacroTiming(), "spaced"),
    ("twos", MacroTiming(sample=1), "fastest"),  # sample-and-hold: the held sample, the bus changing under it
    ("twos", MacroTiming(sync=1), "fastest"),    # four-phase handshake, done a level
    ("bipolar", MacroTiming(), "fastest"),
    ("bipolar", MacroTiming(sync=1), "spaced"),
]


@pytest.mark.parametrize("encoding, timing, mode", CASES,
                         ids=[f"{e}-{'sync' if t.sync else 'sh' if t.sample else 'counted'}-{m}" for e, t, m in CASES])
@pytest.mark.parametrize("seed", [1, 2])
def test_every_code_is_the_brute_force_count_from_its_done_until_the_next_start(encoding, timing, mode, seed):
    got = _run(encoding, timing, mode, seed)
    conversions = got["conversions"]
    assert len(conversions) > 40       # the run converted on every ADC, at every resolution
    assert {c[2] - c[1] for c in conversions} >= ({2, 3, 4, 5, 6} if encoding == "bipolar" else {1, 2, 3, 4, 5})
    for i in range(N_ADC):
        mine = [c for c in conversions if c[0] == i]
        for k, (_, start, done, code, _) in enumerate(mine):
            # got["codes"][t - 1] and got["done"][t - 1]: what the ADC shows in cycle t.
            until = mine[k + 1][1] if k + 1 < len(mine) else len(got["codes"])
            assert got["done"][done - 1][i] == 1
            seen = [got["codes"][t - 1][i] for t in range(done, until + 1)]
            assert seen == [code] * len(seen), (i, start, done, code, seen)
    assert got["cell_reads"] == sum(c[4] for c in conversions)
    assert got["violation"] == 0


@pytest.mark.parametrize("encoding, res, ref, flagged", [
    ("twos", 1, 2, True), ("twos", 3, 4, True), ("twos", 4, 5, False), ("twos", 2, 2, False),
    ("bipolar", 1, 2, True), ("bipolar", 2, 6, False)])
def test_a_conversion_shorter_than_its_code_is_a_violation(encoding, res, ref, flagged):
    """The code of ref bits is ready min(ref, 4) cycles after the start (bipolar min(ref, 2)): a start with
    fewer cycles (res) than that is the rule "conversion shorter than its code", and nothing else."""
    emu = ArrayEmulator(_params(encoding, MacroTiming()))
    got = {}

    async def bench(ctx):
        ctx.set(emu.bus.adc[1].res, res)
        ctx.set(emu.bus.adc[1].ref, ref)
        ctx.set(emu.bus.adc[1].start, 1)
        await ctx.tick()
        ctx.set(emu.bus.adc[1].start, 0)
        await ctx.tick().repeat(6)
        got["violation"] = ctx.get(emu.violation)

    sim = Simulator(emu)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    rule = 1 << VIOLATIONS.index("conversion shorter than its code")
    assert got["violation"] == (rule if flagged else 0)
