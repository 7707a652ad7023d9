"""The conversion scheduler alone, against a testbench ADC bank: batches of n_adc columns, plane by plane
(sign plane first), each started the cycle the previous batch's last ADC is done (counted) or after its
four-phase handshake, one activation (front phases, drive) per plane; every finished batch handed on with
its codes and flags; the plane and conversion events."""

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from mapper.schedule import MacroTiming
from hwgen.handshake import MODE_LAYOUT, mode_of
from hwgen.interface import front_values
from hwgen.params import TileParams
from hwgen.scheduler import Scheduler
from mapper.config import ArrayConfig

HW = ArrayConfig(rows=8, cols=14, n_adc=2, input_bits=2).hw
PARAMS = TileParams(HW, k=8, n=2, section_depth=4, row_depth=16, column_depth=28, lanes=1)

#: Two sections: (index, output group, plane drives [plane 0, plane 1], columns (col, sign, bit, res, j)).
SECTIONS = [
    (2, 1, [0b10110101, 0b01100011], [(3, 0, 6, 3, 0), (5, 1, 0, 1, 0), (0, 0, 2, 2, 0), (13, 1, 4, 4, 0),
                                      (7, 0, 1, 2, 0)]),
    (3, 0, [0b11110000, 0b00001111], [(1, 1, 3, 1, 0), (2, 0, 5, 1, 0)]),
]


def _code(col, cycle, res):
    """The testbench ADC's code: any value within res bits, different for every start."""
    return (col * 5 + cycle) % (1 << res)


def _run(extra, sync=0, done_never=False, **phases):
    timing = MacroTiming(sync=sync, **phases)
    dut = Scheduler(dataclasses.replace(PARAMS, timing=timing))
    na = HW.n_adc
    log = {"starts": [], "captures": [], "takes": [], "pch": [], "wl_en": [], "sh": [], "planes": 0,
           "conversions": [0] * (HW.full_resolution + 1)}

    async def bench(ctx):
        ctx.set(dut.timing, front_values(timing))
        ctx.set(dut.mode, MODE_LAYOUT.const(mode_of(sync)))
        ctx.set(dut.watchdog, timing.watchdog)
        due = [None] * na          # the cycle ADC i is done
        high = [False] * na        # handshake: ADC i's done is high, until it sees its start low
        need_low = [False] * na    # handshake: ADC i has not seen its start low since its last conversion
        codes = [0] * na
        queue = list(SECTIONS)
        for cycle in range(200):
            if queue:
                sec, group, planes, cols = queue[0]
                ctx.set(dut.next.valid, 1)
                p = dut.next.payload
                ctx.set(p.sec, sec)
                ctx.set(p.group, group)
                ctx.set(p.n_active, len(cols))
                for t, drive in enumerate(planes):
                    ctx.set(p.planes[t], drive)
                for c, (col, sign, bit, res, j) in enumerate(cols):
                    e = p.cols[c]
                    ctx.set(e.col, col)
                    ctx.set(e.sign, sign)
                    ctx.set(e.bit, bit)
                    ctx.set(e.res, res)
                    ctx.set(e.j, j)
                # The prefetch's per-batch longest resolution: the largest res of each n_adc columns.
                for b0 in range(0, len(cols), na):
                    ctx.set(p.longest[b0 // na], max(r for (_, _, _, r, _) in cols[b0:b0 + na]))
            else:
                ctx.set(dut.next.valid, 0)
            for i in range(na):
                if sync and due[i] == cycle:
                    high[i], due[i] = True, None
                done = (high[i] if sync else due[i] == cycle) and not done_never
                ctx.set(dut.bus.adc[i].done, done)
                ctx.set(dut.bus.adc[i].code, codes[i])
            if queue and ctx.get(dut.next.ready):
                log["takes"].append(cycle)
                queue.pop(0)
            bt = dut.batch
            if ctx.get(bt.capture):
                log["captures"].append((cycle, ctx.get(bt.lane_valid), [ctx.get(bt.code[i]) for i in range(na)],
                                        ctx.get(bt.first), ctx.get(bt.new_plane), ctx.get(bt.last),
                                        ctx.get(bt.negate), ctx.get(bt.group)))
            for name in ("pch", "wl_en", "sh"):
                if ctx.get(getattr(dut.bus, name)):
                    log[name].append(cycle)
            log.setdefault("bus", {})[cycle] = (ctx.get(dut.bus.drive), ctx.get(dut.bus.section),
                                                [ctx.get(dut.bus.adc[i].col) for i in range(na)])
            log["planes"] += ctx.get(dut.events.planes)
            for b in range(HW.full_resolution + 1):
                log["conversions"][b] += ctx.get(dut.events.conversions[b])
            assert not ctx.get(dut.missing) or done_never, f"cycle {cycle}: a done reported missing"
            assert not ctx.get(dut.unexpected), f"cycle {cycle}: a done reported unexpected"
            for i in range(na):
                adc = dut.bus.adc[i]
                start = ctx.get(adc.start)
                if sync:       # four-phase: a start seen high while idle begins a conversion
                    begins = start and due[i] is None and not high[i] and not need_low[i]
                    if not start:
                        high[i] = need_low[i] = False
                else:
                    begins = start
                    assert due[i] is None or due[i] == cycle or not start, f"cycle {cycle}: ADC {i} started while busy"
                    if due[i] == cycle:
                        due[i] = None
                if begins:
                    assert ctx.get(adc.ref) == ctx.get(adc.res)
                    res, col = ctx.get(adc.res), ctx.get(adc.col)
                    log["starts"].append((cycle, i, res, col, ctx.get(dut.bus.drive), ctx.get(dut.bus.section)))
                    due[i], need_low[i] = cycle + res + extra, True
                    codes[i] = _code(col, cycle, res)
            await ctx.tick()
        log["busy"] = ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return log


def _hand_schedule(extra, sync=0):
    """Starts (cycle, ADC, res, col, drive, section) by the interface rule: section 0 taken at cycle 0,
    its first batch issued at 1 and on the (registered) bus at 2; counted (sync 0), each batch when the
    previous one's longest conversion (res) is done; four-phase handshake, when the previous batch's done
    (res + extra) has been seen through `sync` flip-flops (its capture), its start has fallen (the cycle
    after), the testbench ADC's done has fallen (the cycle after that), this was seen through the
    flip-flops and the bank's registered free rose (the cycle after): 2 sync + 4 cycles more; section 1
    taken the cycle after section 0's last issue (= its last start), its first batch when section 0's last is done."""
    starts, cycle = [], 2
    for n, (sec, _, planes, cols) in enumerate(SECTIONS):
        for t in (1, 0):
            for b in range(0, len(cols), 2):
                batch = cols[b:b + 2]
                for i, (col, _, _, res, _) in enumerate(batch):
                    starts.append((cycle, i, res, col, planes[t], sec))
                cycle += max(c[3] for c in batch) + extra + (2 * sync + 4 if sync else 0)
    return starts


#: (extra, sync): counted on time; a late done waited for through one flip-flop, or a two-flop synchronizer.
MODES = [(0, 0), (2, 1), (2, 2), (0, 2)]


@pytest.mark.parametrize("extra, sync", MODES)
def test_batches_start_back_to_back_plane_by_plane_with_the_planes_drive(extra, sync):
    log = _run(extra, sync)
    assert log["starts"] == _hand_schedule(extra, sync)
    last_start_of_first = max(c for c, *_ in _hand_schedule(extra, sync) if _[-1] == SECTIONS[0][0])
    assert log["takes"] == [0, last_start_of_first]


@pytest.mark.parametrize("extra, sync", MODES)
def test_each_batch_is_handed_on_when_its_last_adc_is_done_with_its_codes_and_flags(extra, sync):
    log = _run(extra, sync)
    starts = _hand_schedule(extra, sync)
    want = []
    by_cycle = {}
    for s in starts:
        by_cycle.setdefault(s[0], []).append(s)
    issue_cycles = sorted(by_cycle)
    for n, c in enumerate(issue_cycles):
        batch = by_cycle[c]
        sec = batch[0][5]
        s_issues = [x for x in issue_cycles if by_cycle[x][0][5] == sec]
        k = s_issues.index(c)
        per_plane = len(s_issues) // 2
        done = c + max(r for _, _, r, *_ in batch) + extra + sync
        group = next(g for s, g, _, _ in SECTIONS if s == sec)
        codes = [_code(col, c, r) for _, _, r, col, *_ in batch] + [None] * (2 - len(batch))
        want.append((done, (1 << len(batch)) - 1, codes, int(k == 0), int(k % per_plane == 0),
                     int(k == len(s_issues) - 1), int(k < per_plane), group))
    got = [(cy, lv, [cd if (lv >> i) & 1 else None for i, cd in enumerate(codes)], *rest)
           for cy, lv, codes, *rest in log["captures"]]
    assert got == want


def test_events_count_planes_and_conversions_by_resolution_and_the_scheduler_ends_idle():
    log = _run(0)
    res = [r for _, _, _, cols in SECTIONS for (_, _, _, r, _) in cols]
    assert log["planes"] == 2 * len(SECTIONS)
    assert log["conversions"] == [0] + [2 * res.count(b) for b in range(1, HW.full_resolution + 1)]
    assert log["busy"] == 0
    assert np.sum(log["conversions"]) == len(log["starts"])


#: (precharge, wordline, settle, sample): no sample-and-hold (front then conversion, serially); a
#: sample-and-hold whose front is shorter than some conversions and longer than others (overlap).
PHASES = [(1, 2, 1, 0), (1, 1, 0, 1), (2, 1, 1, 1)]


def _hand_phases(pch, wl, settle, sample):
    """Starts by the phase rule (docs/design.md section 6), counted mode: one activation per plane, the
    plane's first batch issued at cycle T (T = 1 for the first), its drive on the bus at T + 1, its start
    F = pch + wl + settle + sample cycles later; the plane's other batches start the cycle after their
    issue, each issued when the previous batch is done (so its start lands in that done cycle); the next
    plane's first batch issues when the previous batch is done (without sample-and-hold: the columns hold
    until then), or with sample-and-hold F cycles before that, but no earlier than the cycle after the
    previous start (its columns change then); a section's first batch no earlier than two cycles after the
    previous section's last issue (taken the cycle after it). Returns the starts and, per signal, the
    cycles it is high:
    pch the first `pch` cycles of each front, wl_en the next `wl`, sh the last `sample`."""
    f = pch + wl + settle + sample
    starts, high, issue = [], {"pch": [], "wl_en": [], "sh": []}, 1
    batches = [(sec, planes[t], cols[b:b + 2], b == 0) for sec, _, planes, cols in SECTIONS for t in (1, 0)
               for b in range(0, len(cols), 2)]
    for k, (sec, drive, batch, opens) in enumerate(batches):
        start = issue + 1 + (f if opens else 0)
        for i, (col, _, _, res, _) in enumerate(batch):
            starts.append((start, i, res, col, drive, sec))
        if opens:
            high["pch"] += range(issue + 1, issue + 1 + pch)
            high["wl_en"] += range(issue + 1 + pch, issue + 1 + pch + wl)
            high["sh"] += range(start - sample, start)
        done = start + max(c[3] for c in batch)
        next_opens = k + 1 < len(batches) and batches[k + 1][3]
        last_issue, issue = issue, max(done - 1 - f, start) if sample and next_opens else done - 1
        if k + 1 < len(batches) and batches[k + 1][0] != sec:     # taken the cycle after, issued the next
            issue = max(issue, last_issue + 2)
    return starts, high


@pytest.mark.parametrize("phases", PHASES, ids=lambda p: "pch{}_wl{}_settle{}_sh{}".format(*p))
def test_front_phases_come_from_registers_in_order_and_the_next_start_lands_on_the_done(phases):
    pch, wl, settle, sample = phases
    log = _run(0, precharge=pch, wordline=wl, settle=settle, sample=sample)
    starts, high = _hand_phases(*phases)
    # What the ADC converts: its column at its start, under the drive and section on the bus then without
    # sample-and-hold, or held at the strobe's last cycle (start - 1) with it, when the next plane's may
    # already be on the bus.
    at = -1 if sample else 0
    sampled = [(c, i, r, log["bus"][c][2][i], *log["bus"][c + at][:2]) for c, i, r, *_ in log["starts"]]
    assert sampled == starts
    for name in ("pch", "wl_en", "sh"):
        assert log[name] == sorted(high[name]), name
    # The codes are captured in each batch's done cycle (start + longest res).
    assert [c for c, *_ in log["captures"]] == sorted({c + max(r for cc, _, r, *_ in starts if cc == c)
                                                      for c, *_ in starts})


def test_counted_mode_issues_without_looking_at_done():
    """Counted mode: with done never raised, the starts (cycles and values) are the same as with it: the
    macro-facing outputs depend on no done, combinationally or otherwise. Nothing is captured."""
    with_done, without = _run(0), _run(0, done_never=True)
    assert without["starts"] == with_done["starts"] == _hand_schedule(0)
    assert without["captures"] == []


#: (precharge, wordline, settle, sample): no front; a front of 1 (every L > F but L = F + 1 at L = 2); a
#: front below some conversions with sample-and-hold; a front of 1 with sample-and-hold (L = F + 1);
#: a front longer than every conversion, with and without sample-and-hold.
PERIOD_PHASES = [(0, 0, 0, 0), (1, 0, 0, 0), (1, 1, 0, 1), (0, 0, 0, 1), (2, 3, 2, 2), (3, 3, 1, 0)]


@pytest.mark.parametrize("phases", PERIOD_PHASES, ids=lambda p: "pch{}_wl{}_settle{}_sh{}".format(*p))
def test_the_registered_period_is_the_cycle_models_at_every_issue(phases):
    """The counted period and `short` the issue uses are registers (`BatchCursor.period`, a test request's
    made at its load); at every issue they equal `MacroTiming.period` of the batch issued (its longest
    conversion, whether it opens an activation and whether the next batch does) and whether that is at
    most 1: random sections of 1 to 14 active columns (1 to 7 batches a plane), back to back, and a raw-code
    test conversion between them."""
    pch, wl, settle, sample = phases
    timing = MacroTiming(precharge=pch, wordline=wl, settle=settle, sample=sample)
    dut = Scheduler(dataclasses.replace(PARAMS, timing=timing), test_port=True)
    rng = np.random.default_rng(sum(phases) * 7 + sample)
    na, checked = HW.n_adc, []
    sections = [[(int(c), 0, 0, int(rng.integers(1, HW.full_resolution + 1)), 0)
                 for c in rng.permutation(HW.cols)[:rng.integers(1, HW.cols + 1)]] for _ in range(6)]

    async def bench(ctx):
        ctx.set(dut.timing, front_values(timing))
        ctx.set(dut.mode, MODE_LAYOUT.const(mode_of(0)))
        ctx.set(dut.watchdog, timing.watchdog)
        probe = dut.period_probe
        queue, due, test_res, tested = list(sections), [None] * na, 3, False
        for cycle in range(600):
            ctx.set(dut.test.en, len(queue) == 3 and not tested)
            ctx.set(dut.test.res, test_res)
            ctx.set(dut.test.drive, 0xff)
            if queue and not (len(queue) == 3 and not tested):
                cols = queue[0]
                ctx.set(dut.next.valid, 1)
                p = dut.next.payload
                ctx.set(p.n_active, len(cols))
                ctx.set(p.planes[0], 0xff)
                ctx.set(p.planes[1], 0x0f)
                for c, (col, sign, bit, res, j) in enumerate(cols):
                    ctx.set(p.cols[c].col, col)
                    ctx.set(p.cols[c].res, res)
                for b0 in range(0, len(cols), na):
                    ctx.set(p.longest[b0 // na], max(r for (_, _, _, r, _) in cols[b0:b0 + na]))
                if ctx.get(dut.next.ready):
                    queue.pop(0)
            else:
                ctx.set(dut.next.valid, 0)
            if ctx.get(dut.test.valid):
                tested = True
            for i in range(na):
                ctx.set(dut.bus.adc[i].done, due[i] == cycle)
                if ctx.get(dut.bus.adc[i].start):
                    due[i] = cycle + ctx.get(dut.bus.adc[i].res)
            if ctx.get(probe["issue"]):
                want = timing.period(ctx.get(probe["longest"]), bool(ctx.get(probe["opens"])),
                                     bool(ctx.get(probe["next_opens"])))
                got = (ctx.get(probe["period"]), ctx.get(probe["short"]))
                assert got == (want, want <= 1), f"cycle {cycle}: period, short {got}, the cycle model's {want}"
                checked.append(ctx.get(probe["opens"]))
            assert not ctx.get(dut.missing) and not ctx.get(dut.unexpected), f"cycle {cycle}"
            await ctx.tick()
        assert not queue and tested and not ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    # Every batch of every plane issued and checked, and the test conversion (an activation of its own).
    assert len(checked) == sum(2 * -(-len(cols) // na) for cols in sections) + 1
    assert sum(checked) == 2 * len(sections) + 1
