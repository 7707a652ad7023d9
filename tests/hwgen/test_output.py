"""The output streamer alone, on a testbench accumulator memory: outputs in order, G to a word, with and
without backpressure, each word read once and cleared as it is read, 1 + N cycles without stalls."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.output import OutputStreamer
from hwgen.params import TileParams
from mapper.config import ArrayConfig


def _run(group, n, ready_p, seed):
    hw = ArrayConfig(rows=8, cols=14 * group, n_adc=2, group=group).hw
    params = TileParams(hw, k=8, n=n, section_depth=2, row_depth=8, column_depth=8, lanes=1)
    w = params.acc_width
    rng = np.random.default_rng(seed)
    values = rng.integers(-(1 << (w - 1)), 1 << (w - 1), (params.n_groups, group))
    mem = [sum((int(v) & ((1 << w) - 1)) << (j * w) for j, v in enumerate(row)) for row in values]
    dut = OutputStreamer(params)
    log = {"out": [], "clears": [], "done": [], "held": True}

    async def bench(ctx):
        ctx.set(dut.n_out, n)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        data, last = 0, None
        for cycle in range(1, 200):
            ctx.set(dut.read.data, data)
            ready = int(rng.random() < ready_p)
            ctx.set(dut.o.ready, ready)
            if ctx.get(dut.o.valid):
                payload = ctx.get(dut.o.payload)
                if last is not None and last[0] == cycle - 1 and not last[2] and last[1] != payload:
                    log["held"] = False
                if ready:
                    log["out"].append(payload)
                last = (cycle, payload, ready)
            if ctx.get(dut.read.clear):
                assert ctx.get(dut.read.en), "a clear without a read"
                log["clears"].append((len(log["out"]), ctx.get(dut.read.addr)))
            if ctx.get(dut.done):
                log["done"].append(cycle)
            data = mem[ctx.get(dut.read.addr) % len(mem)] if ctx.get(dut.read.en) else data
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return log, values.reshape(-1)[:n].tolist()


@pytest.mark.parametrize("group, n", [(1, 3), (2, 5), (3, 6)])
def test_outputs_stream_in_order_and_each_word_is_cleared_after_its_last_output(group, n):
    log, want = _run(group, n, 1.0, seed=group)
    assert log["out"] == want
    # Every word is read once and cleared as it is read: group 0 before the first output, group g + 1
    # as group g's last output is taken.
    assert log["clears"] == [(g * group, g) for g in range(-(-n // group))]
    assert log["done"] == [1 + n]          # FETCH at cycle 1, outputs at cycles 2 .. 1 + n


@pytest.mark.parametrize("group, n", [(1, 4), (2, 5)])
def test_backpressure_holds_the_payload_and_loses_nothing(group, n):
    log, want = _run(group, n, 0.4, seed=10 + group)
    assert log["out"] == want and log["held"]
    assert len(log["done"]) == 1


def _run_merge(banks, beat, group, n, ready_p, seed):
    """MergeStreamer on B testbench accumulator memories: (beats taken as lists of W, done cycles, held,
    expected outputs: the sum over the banks, computed here with numpy)."""
    from amaranth import Value

    from hwgen.output import MergeStreamer
    hw = ArrayConfig(rows=8, cols=14 * group, n_adc=2, group=group, banks=banks, beat=beat).hw
    params = TileParams(hw, k=8, n=n, section_depth=2, row_depth=8, column_depth=8, lanes=1)
    w, lanes = params.acc_width, beat * group
    rng = np.random.default_rng(seed)
    # Partial sums small enough that their sum fits the accumulator width.
    values = rng.integers(-(1 << (w - 5)), 1 << (w - 5), (banks, params.n_words, lanes))
    mems = [[sum((int(v) & ((1 << w) - 1)) << (j * w) for j, v in enumerate(row)) for row in bank] for bank in values]
    want = values.sum(axis=0).reshape(-1)
    # Output o sits in word o // (W * G) at position o % (W * G): the words in order are the outputs.
    dut = MergeStreamer(params)
    log = {"out": [], "done": [], "held": True}
    payload_v = Value.cast(dut.o.payload)

    async def bench(ctx):
        ctx.set(dut.n_out, n)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        datas, last = [0] * banks, None
        for cycle in range(1, 300):
            for b in range(banks):
                ctx.set(dut.read[b].data, datas[b])
            ready = int(rng.random() < ready_p)
            ctx.set(dut.o.ready, ready)
            if ctx.get(dut.o.valid):
                raw = ctx.get(payload_v)
                beat_vals = [((raw >> (e * w)) & ((1 << w) - 1)) for e in range(beat)]
                beat_vals = [v - (1 << w) if v >> (w - 1) else v for v in beat_vals]
                if last is not None and last[0] == cycle - 1 and not last[2] and last[1] != beat_vals:
                    log["held"] = False
                if ready:
                    log["out"].append(beat_vals)
                last = (cycle, beat_vals, ready)
            if ctx.get(dut.done):
                log["done"].append(cycle)
            for b in range(banks):
                if ctx.get(dut.read[b].en):
                    assert ctx.get(dut.read[b].clear)
                    datas[b] = mems[b][ctx.get(dut.read[b].addr) % len(mems[b])]
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return log, want[:n].tolist()


@pytest.mark.parametrize("banks, beat, group, n", [(2, 1, 1, 3), (2, 2, 1, 5), (4, 4, 2, 11), (3, 2, 1, 6), (8, 8, 1, 20)])
def test_merge_streamer_adds_the_banks_words_in_beats_of_w(banks, beat, group, n):
    from mapper.schedule import merge_depth
    log, want = _run_merge(banks, beat, group, n, 1.0, seed=banks)
    flat = [v for b in log["out"] for v in b]
    assert len(flat) == -(-n // beat) * beat and flat[:n] == want
    # start at cycle 0, first read at 1, the first beat 1 + merge_depth(B) cycles later, then one a cycle:
    # done with the last of ceil(n / W) beats at cycle 1 + merge_depth(B) + ceil(n / W).
    assert merge_depth(1) == 0 and merge_depth(2) == 2 and merge_depth(4) == 3 and merge_depth(8) == 4
    assert log["done"] == [1 + merge_depth(banks) + -(-n // beat)]


@pytest.mark.parametrize("banks, beat, group, n", [(2, 2, 1, 5), (4, 2, 2, 9)])
def test_merge_streamer_backpressure_holds_the_beat_and_loses_nothing(banks, beat, group, n):
    log, want = _run_merge(banks, beat, group, n, 0.4, seed=20 + banks)
    flat = [v for b in log["out"] for v in b]
    assert flat[:n] == want and log["held"] and len(log["done"]) == 1


def test_beats_pack_and_unpack_elements_by_hand():
    """hwgen.interface's beat layout: element e of a beat in bits [e * width, (e + 1) * width)."""
    from hwgen.interface import pack_beats, unpack_beat
    # 1 = 0b0001, -1 = 0b1111 (4 bits): beat 0 is 0xF1; the last beat holds 3 and a zero pad.
    assert pack_beats([1, -1, 3], 2, 4) == [0xF1, 0x03]
    assert unpack_beat(0xF1, 2, 4) == [1, -1] and unpack_beat(0x03, 2, 4) == [3, 0]
    assert pack_beats([-128, 127], 1, 8) == [0x80, 0x7F]
    # A one-element beat sampled from a signed port comes as a signed integer.
    assert unpack_beat(-3, 1, 8) == [-3] and unpack_beat(0x80, 1, 8) == [-128]
