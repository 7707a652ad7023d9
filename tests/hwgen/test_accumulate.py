"""The accumulator alone: batches of codes in, each section's signed, bit- and plane-weighted sum added into
its output group's word; words read and cleared through the streamer's port; zeroed after a reset."""

import numpy as np
from amaranth.hdl import ClockDomain, Elaboratable, Module, ResetSignal, Signal
from amaranth.sim import Simulator

from hwgen.accumulate import Accumulate
from hwgen.params import TileParams
from mapper.config import ArrayConfig

HW = ArrayConfig(rows=8, cols=28, n_adc=2, input_bits=2, group=2).hw      # signed 2-bit inputs
PARAMS = TileParams(HW, k=64, n=4, section_depth=4, row_depth=64, column_depth=64, lanes=1)
G, W = HW.group, PARAMS.acc_width


def _sections(seed):
    """Random sections: (group, batches), a batch = (plane t, lanes [(code, sign, bit, j)]); two planes,
    sign plane first, two batches a plane."""
    rng = np.random.default_rng(seed)
    out = []
    for group in (1, 1, 0):
        batches = []
        for t in (1, 0):
            for _ in range(2):
                lanes = [(int(rng.integers(0, 16)), int(rng.integers(0, 2)), int(rng.integers(0, 7)),
                          int(rng.integers(0, G))) if rng.random() < 0.8 else None for _ in range(HW.n_adc)]
                batches.append((t, lanes))
        out.append((group, batches))
    return out


def _expected(sections):
    """sum over batches of plane weight * (-1)**sign * code * 2**bit, per output; the sign plane weighs
    -2**(A-1) (two's complement inputs). Straight from the definition, not by Horner's rule."""
    words = np.zeros((PARAMS.n_groups, G), np.int64)
    for group, batches in sections:
        for t, lanes in batches:
            weight = -(1 << t) if t == HW.input_bits - 1 else 1 << t
            for lane in lanes:
                if lane is not None:
                    code, sign, bit, j = lane
                    words[group, j] += weight * (-1) ** sign * code * 2 ** bit
    return words


async def _feed(ctx, bt, sections):
    for group, batches in sections:
        for k, (t, lanes) in enumerate(batches):
            ctx.set(bt.capture, 1)
            ctx.set(bt.first, k == 0)
            ctx.set(bt.new_plane, k % 2 == 0)
            ctx.set(bt.last, k == len(batches) - 1)
            ctx.set(bt.negate, t == HW.input_bits - 1)
            ctx.set(bt.group, group)
            ctx.set(bt.lane_valid, sum(1 << i for i, lane in enumerate(lanes) if lane is not None))
            for i, lane in enumerate(lanes):
                code, sign, bit, j = lane or (0, 0, 0, 0)
                ctx.set(bt.code[i], code)
                ctx.set(bt.sign[i], sign)
                ctx.set(bt.bit[i], bit)
                ctx.set(bt.j[i], j)
            await ctx.tick()
        ctx.set(bt.capture, 0)
        await ctx.tick().repeat(3)        # flushes of two sections are at least 3 cycles apart


async def _read_words(ctx, dut):
    words = []
    for g in range(PARAMS.n_groups):
        ctx.set(dut.read.en, 1)
        ctx.set(dut.read.addr, g)
        await ctx.tick()
        ctx.set(dut.read.en, 0)
        word = ctx.get(dut.read.data)
        words.append([((word >> (j * W)) & ((1 << W) - 1)) - ((word >> (j * W + W - 1)) & 1) * (1 << W)
                      for j in range(G)])
    return np.array(words, np.int64)


class _WithReset(Elaboratable):
    def __init__(self, dut):
        self.dut, self.rst = dut, Signal()

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.submodules.dut = self.dut
        m.d.comb += ResetSignal().eq(self.rst)
        return m


def _simulate(bench_body):
    dut = Accumulate(PARAMS)
    top = _WithReset(dut)
    got = {}

    async def bench(ctx):
        await bench_body(ctx, dut, top.rst, got)

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got


def _ready_cycles(ctx, dut):
    async def count():
        n = 0
        while not ctx.get(dut.ready):
            await ctx.tick()
            n += 1
        return n
    return count()


def test_each_sections_weighted_sum_lands_in_its_groups_word():
    sections = _sections(1)

    async def body(ctx, dut, rst, got):
        got["clear"] = await _ready_cycles(ctx, dut)
        await _feed(ctx, dut.batch, sections)
        while ctx.get(dut.busy):
            await ctx.tick()
        got["words"] = await _read_words(ctx, dut)

    got = _simulate(body)
    assert got["clear"] == PARAMS.n_groups
    want = _expected(sections)
    assert want[1].any() and want[0].any()
    assert np.array_equal(got["words"], want)


def test_a_cleared_word_reads_zero_and_the_other_keeps_its_sum():
    sections = _sections(2)

    async def body(ctx, dut, rst, got):
        await _ready_cycles(ctx, dut)
        await _feed(ctx, dut.batch, sections)
        while ctx.get(dut.busy):
            await ctx.tick()
        ctx.set(dut.read.clear, 1)
        ctx.set(dut.read.clear_addr, 1)
        await ctx.tick()
        ctx.set(dut.read.clear, 0)
        await ctx.tick()
        got["words"] = await _read_words(ctx, dut)

    want = _expected(sections)
    want[1] = 0
    assert np.array_equal(_simulate(body)["words"], want)


def test_after_a_reset_mid_section_every_word_is_zero_before_ready():
    sections = _sections(3)

    async def body(ctx, dut, rst, got):
        await _ready_cycles(ctx, dut)
        await _feed(ctx, dut.batch, sections[:2])
        await _feed(ctx, dut.batch, [(sections[2][0], sections[2][1][:3])])   # a section cut short
        ctx.set(rst, 1)
        await ctx.tick()
        ctx.set(rst, 0)
        got["clear"] = await _ready_cycles(ctx, dut)
        got["words"] = await _read_words(ctx, dut)

    got = _simulate(body)
    assert got["clear"] == PARAMS.n_groups
    assert _expected(sections[:1])[1].any()        # group 1 held a sum before the reset
    assert not got["words"].any()
