"""The conversion scheduler alone, against a testbench ADC bank: batches of n_adc columns, plane by plane
(sign plane first), each started the cycle the previous batch's last ADC is done, with the plane's drive;
every finished batch handed on with its codes and flags; the plane and conversion counters."""

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from mapper.schedule import MacroTiming
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
    dut = Scheduler(dataclasses.replace(PARAMS, timing=MacroTiming(sync=sync, **phases)))
    na = HW.n_adc
    log = {"starts": [], "captures": [], "takes": [], "pch": [], "wl_en": [], "sh": []}

    async def bench(ctx):
        due = [None] * na          # the cycle ADC i is done
        codes = [0] * na
        queue = list(SECTIONS)
        for cycle in range(140):
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
                ctx.set(dut.bus.adc[i].done, due[i] == cycle and not done_never)
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
            for i in range(na):
                adc = dut.bus.adc[i]
                if ctx.get(adc.start):
                    assert ctx.get(adc.ref) == ctx.get(adc.res)
                    res, col = ctx.get(adc.res), ctx.get(adc.col)
                    assert due[i] is None or due[i] == cycle, f"cycle {cycle}: ADC {i} started while busy"
                    log["starts"].append((cycle, i, res, col, ctx.get(dut.bus.drive), ctx.get(dut.bus.section)))
                    due[i] = cycle + res + extra
                    codes[i] = _code(col, cycle, res)
                elif due[i] == cycle:
                    due[i] = None
            await ctx.tick()
        log["planes"] = ctx.get(dut.planes)
        log["conversions"] = [ctx.get(dut.conversions[b]) for b in range(HW.full_resolution + 1)]
        log["busy"] = ctx.get(dut.busy)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return log


def _hand_schedule(extra, sync=0):
    """Starts (cycle, ADC, res, col, drive, section) by the interface rule: section 0 taken at cycle 0,
    its first batch issued at 1 and on the (registered) bus at 2; counted (sync 0), each batch when the
    previous one's longest conversion (res) is done; handshake, `sync` cycles after that done (res +
    extra) reached the scheduler through its flip-flops, plus the output register's cycle; section 1
    taken the cycle after section 0's last issue (= its last start), its first batch when section 0's last
    is done."""
    starts, cycle = [], 2
    for n, (sec, _, planes, cols) in enumerate(SECTIONS):
        for t in (1, 0):
            for b in range(0, len(cols), 2):
                batch = cols[b:b + 2]
                for i, (col, _, _, res, _) in enumerate(batch):
                    starts.append((cycle, i, res, col, planes[t], sec))
                cycle += max(c[3] for c in batch) + extra + (sync + 1 if sync else 0)
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


def test_counters_count_planes_and_conversions_by_resolution_and_the_scheduler_ends_idle():
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
    """Starts by the phase rule (docs/design.md section 4), counted mode: the first batch's drive on the bus at
    cycle 2, its start F = pch + wl + settle + sample cycles later; without sample-and-hold the next batch's
    front begins at the done (start + res), with it F cycles before the later of the done and the end of
    this batch's front, i.e. the next start is max(res, F) after this one. Returns the starts and, per
    signal, the cycles it is high: pch the first `pch` cycles of each front, wl_en the next `wl`, sh the
    last `sample`."""
    f = pch + wl + settle + sample
    starts, high, cycle = [], {"pch": [], "wl_en": [], "sh": []}, 2 + f
    for sec, _, planes, cols in SECTIONS:
        for t in (1, 0):
            for b in range(0, len(cols), 2):
                batch = cols[b:b + 2]
                for i, (col, _, _, res, _) in enumerate(batch):
                    starts.append((cycle, i, res, col, planes[t], sec))
                front = cycle - f
                high["pch"] += range(front, front + pch)
                high["wl_en"] += range(front + pch, front + pch + wl)
                high["sh"] += range(cycle - sample, cycle)
                longest = max(c[3] for c in batch)
                cycle += max(longest, f) if sample else f + longest
    return starts, high


@pytest.mark.parametrize("phases", PHASES, ids=lambda p: "pch{}_wl{}_settle{}_sh{}".format(*p))
def test_front_phases_come_from_registers_in_order_and_the_next_start_lands_on_the_done(phases):
    pch, wl, settle, sample = phases
    log = _run(0, precharge=pch, wordline=wl, settle=settle, sample=sample)
    starts, high = _hand_phases(*phases)
    # The column, drive and section are what the ADC samples: at its start without sample-and-hold,
    # at the strobe's last cycle (start - 1) with it, when the next batch's may already be on the bus.
    at = -1 if sample else 0
    sampled = [(c, i, r, log["bus"][c + at][2][i], *log["bus"][c + at][:2]) for c, i, r, *_ in log["starts"]]
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
