"""The output streamer alone, on a testbench accumulator memory: outputs in order, G to a word, with and
without backpressure, each word cleared once its last output is taken, 1 + N cycles without stalls."""

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
                log["clears"].append((len(log["out"]), ctx.get(dut.read.clear_addr)))
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
    # A word is cleared as its last output (or the layer's last) is taken.
    assert log["clears"] == [(min((g + 1) * group, n), g) for g in range(-(-n // group))]
    assert log["done"] == [1 + n]          # FETCH at cycle 1, outputs at cycles 2 .. 1 + n


@pytest.mark.parametrize("group, n", [(1, 4), (2, 5)])
def test_backpressure_holds_the_payload_and_loses_nothing(group, n):
    log, want = _run(group, n, 0.4, seed=10 + group)
    assert log["out"] == want and log["held"]
    assert len(log["done"]) == 1
