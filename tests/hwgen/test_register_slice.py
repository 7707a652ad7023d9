"""hwgen.soc.axis.RegisterSlice, the register slice at `sws_soc`'s stream ports: order kept, nothing lost or
repeated under any valid/ready pattern, a beat a cycle with a ready sink, one cycle of latency, `i.ready`
falling only while a beat waits in the skid register (cycles counted by hand), a flush dropping what is held;
and the same as a bounded proof over every input sequence of 20 cycles (slow)."""

import itertools
import random

import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.hdl import Assert
from amaranth.sim import Simulator

from hwgen.soc.axis import RegisterSlice


def _run(valid_at, ready_at, payloads, cycles, flush_at=lambda c: False):
    """Drive `i` (the next payload offered while `valid_at(cycle)`), `o.ready = ready_at(cycle)` and
    `flush = flush_at(cycle)`; a log per cycle of (i.valid, i.ready, o.valid, o.ready, o.payload) as sampled
    before the clock edge."""
    dut = RegisterSlice(16)
    log, taken_in, taken_out = [], [], []

    async def bench(ctx):
        k = 0
        for cycle in range(cycles):
            offer = k < len(payloads) and valid_at(cycle)
            ctx.set(dut.i.valid, offer)
            ctx.set(dut.i.payload, payloads[k] if offer else 0)
            ctx.set(dut.o.ready, ready_at(cycle))
            ctx.set(dut.flush, flush_at(cycle))
            _, _, iv, ir, ov, orr, op = await ctx.tick().sample(dut.i.valid, dut.i.ready, dut.o.valid,
                                                              dut.o.ready, dut.o.payload)
            log.append((iv, ir, ov, orr, op))
            if iv and ir:
                taken_in.append(payloads[k])
                k += 1
            if ov and orr:
                taken_out.append(op)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return log, taken_in, taken_out


def test_a_ready_sink_gets_a_beat_a_cycle_one_cycle_after_it_was_taken():
    payloads = list(range(100, 110))
    log, taken_in, taken_out = _run(lambda c: True, lambda c: True, payloads, 14)
    assert taken_in == taken_out == payloads
    # Taken in cycles 0..9, offered in cycles 1..10: o.valid low in cycle 0 and from cycle 11.
    assert [ov for _, _, ov, _, _ in log] == [0] + [1] * 10 + [0] * 3
    assert [op for _, _, ov, _, op in log if ov] == payloads
    assert all(ir for _, ir, _, _, _ in log)                   # never backpressures a ready sink


def test_a_stalled_sink_fills_the_skid_register_and_ready_falls_the_cycle_after():
    # The sink is not ready in cycles 3, 4 and 5. By hand: beats 0, 1, 2 taken in cycles 0, 1, 2; beat 2 is
    # in the output register in cycle 3, not taken; beat 3 taken in cycle 3 goes to the skid register, so
    # i.ready is low in cycles 4 and 5; in cycle 6 the sink takes beat 2, the skid's beat 3 moves up, and
    # i.ready is high again in cycle 7, when beat 4 is taken.
    payloads = list(range(8))
    log, taken_in, taken_out = _run(lambda c: True, lambda c: c not in (3, 4, 5), payloads, 16)
    assert taken_in == taken_out == payloads
    assert [ir for _, ir, _, _, _ in log[:9]] == [1, 1, 1, 1, 0, 0, 0, 1, 1]
    assert [op for _, _, ov, orr, op in log if ov and orr][:3] == [0, 1, 2]
    assert [c for c, (iv, ir, _, _, _) in enumerate(log) if iv and ir][:6] == [0, 1, 2, 3, 7, 8]


def test_a_flush_drops_the_beats_held_and_keeps_ready_low_while_it_lasts():
    # The sink is never ready; flush in cycles 4 and 5. By hand: beats 0 and 1 taken in cycles 0 and 1 (0 in
    # the output register, 1 in the skid register), i.ready low from cycle 2; the flush clears both at the
    # edge of cycle 4, so o.valid is low from cycle 5 and i.ready stays low through cycle 6 (loaded 0 in
    # cycles 4 and 5), high again in cycle 7 (the sink is ready from cycle 8), when beat 2 is taken and
    # offered in cycle 8: beats 0 and 1 never come out.
    payloads = [10, 11, 12, 13]
    log, taken_in, taken_out = _run(lambda c: True, lambda c: c >= 8, payloads, 14, flush_at=lambda c: c in (4, 5))
    assert taken_in == payloads
    assert taken_out == [12, 13]
    assert [ir for _, ir, _, _, _ in log[:9]] == [1, 1, 0, 0, 0, 0, 0, 1, 1]
    assert [ov for _, _, ov, _, _ in log[:10]] == [0, 1, 1, 1, 1, 0, 0, 0, 1, 1]


@pytest.mark.parametrize("seed", range(6))
def test_random_valid_and_ready_keep_every_beat_in_order(seed):
    rng = random.Random(seed)
    p_valid, p_ready = rng.choice([0.3, 0.7, 1.0]), rng.choice([0.2, 0.5, 0.9])
    pattern_v = [rng.random() < p_valid for _ in range(400)]
    pattern_r = [rng.random() < p_ready for _ in range(400)]
    payloads = [rng.randrange(1 << 16) for _ in range(120)]
    log, taken_in, taken_out = _run(lambda c: pattern_v[c], lambda c: pattern_r[c], payloads, 400)
    assert taken_out == taken_in[:len(taken_out)] and len(taken_in) - len(taken_out) <= 2
    assert len(taken_out) > 20                                   # the run moved beats
    # o.valid stays up (and its payload held) until the sink takes the beat.
    for (_, _, ov, orr, op), (_, _, ov2, _, op2) in itertools.pairwise(log):
        if ov and not orr:
            assert ov2 and op2 == op


class _SliceBench(Elaboratable):
    """A 4-bit slice whose input payload is the count of beats taken (mod 16), its `i.valid`, `o.ready`,
    `flush` and reset free in every cycle. `expect` counts the beats the sink took, and on a flush jumps to
    the count taken (those held and one taken in that cycle are dropped). Asserted in every cycle: the beat
    offered is the next expected one (order, nothing lost or repeated); at most `most` beats held, none while
    `o.valid` is low; `i.ready` low only with two held or in the cycle after a flush (no needless stall)."""

    def __init__(self, most: int = 2):
        self.slice = RegisterSlice(4)
        self.most = most
        self.ports = [self.slice.i.valid, self.slice.o.ready, self.slice.flush]

    def elaborate(self, platform):
        m = Module()
        m.submodules.slice = s = self.slice
        sent, expect, flushed = Signal(4), Signal(4), Signal()
        held = Signal(4)
        m.d.comb += [s.i.payload.eq(sent), held.eq(sent - expect)]
        take = s.i.valid & s.i.ready
        m.d.sync += [sent.eq(sent + take), flushed.eq(s.flush)]
        with m.If(s.flush):
            m.d.sync += expect.eq(sent + take)
        with m.Elif(s.o.valid & s.o.ready):
            m.d.sync += expect.eq(expect + 1)
        m.d.comb += [Assert(~s.o.valid | (s.o.payload == expect), "a beat out of order"),
                     Assert(held <= self.most, "more beats held than the slice has registers"),
                     Assert(s.o.valid | (held == 0), "a beat held with o.valid low"),
                     Assert(s.i.ready | (held == 2) | flushed, "i.ready low with room and no flush")]
        return m


@pytest.mark.slow
def test_the_slice_keeps_order_and_stalls_only_when_full_over_every_sequence_of_20_cycles(tmp_path):
    """Bounded proof (ABC's bmc3, tests/hwgen/formal.py): every sequence of valid, ready, flush and reset for
    20 cycles from reset. The same bench with at most one beat held must break, and first at depth 3 (by
    hand: a beat taken in cycle 0 is offered in cycle 1; the sink stalls and a second is taken, so two are
    held in cycle 2)."""
    from tests.hwgen.formal import need_prover, prove
    need_prover()
    (tmp_path / "slice").mkdir()
    proved, log = prove(_SliceBench(), 20, str(tmp_path / "slice"))
    assert proved, log[-3000:]
    for depth, holds in ((2, True), (3, False)):
        (tmp_path / f"one{depth}").mkdir()
        assert prove(_SliceBench(most=1), depth, str(tmp_path / f"one{depth}"))[0] is holds, depth
