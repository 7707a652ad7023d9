"""The conversion scheduler: starts the ADC bank on a section's active columns, batch by batch and plane by
plane, and hands each finished batch to the accumulator."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .interface import (COUNTER_WIDTH, ArraySignature, BatchSignature, RawCodeSignature, column_entry_layout,
                        next_section_layout)
from .params import TileParams
from .shift_add import tree_sum
from .steps import StepWalker, step_drive, step_tables

__all__ = ["Scheduler", "BatchSelect"]


def entry_layout(p: TileParams) -> data.ArrayLayout:
    """With ADC groups: a column-entry index per ADC (a group's start plus the batch, up to slot_cols + M)."""
    return data.ArrayLayout(range(p.hw.slot_cols + p.batches + 1), p.hw.n_adc)


class BatchSelect(wiring.Component):
    """The lanes of batch `b` (columns b * n_adc .. b * n_adc + n_adc - 1 of the current section, valid
    below `n_active`; with ADC groups of M = adc_mux columns, lane i the column entry `entries[i]`, valid
    below `ends[i]`) and the drive of plane `t` (of issue step `t` on hardware that walks the steps,
    `hwgen.steps.step_drive`). Combinational; a component of its own because it changes
    once a batch: simulation then re-evaluates these wide multiplexers only when their inputs change.

    Attributes
    ----------
    b, t, n_active, planes, cols : In
        Batch and plane index, and the current section.
    entries, ends : In
        With ADC groups only: per ADC its current column entry and its group's end (registers of the
        Scheduler).
    lanes, lane_valid, drive : Out
        The batch's column entries and their valid bits, and the plane's row drive.
    """

    def __init__(self, params: TileParams):
        self.params = params
        cfg, layout = params.hw, next_section_layout(params)
        super().__init__({
            "b": In(range(params.batches)),
            "t": In(range(cfg.steps if params.walks_steps else cfg.input_bits)),
            "n_active": In(layout["n_active"].shape), "planes": In(layout["planes"].shape),
            "cols": In(layout["cols"].shape),
            "lanes": Out(data.ArrayLayout(column_entry_layout(params), cfg.n_adc)),
            "lane_valid": Out(cfg.n_adc), "drive": Out(cfg.rows),
            **({"entries": In(entry_layout(params)), "ends": In(entry_layout(params))} if cfg.adc_mux else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        NA, SC = cfg.n_adc, cfg.slot_cols
        if cfg.adc_mux:
            self._grouped(m)
        else:
            with m.Switch(self.b):
                for bb in range(p.batches):
                    with m.Case(bb):
                        for i in range(NA):
                            c = bb * NA + i
                            if c < SC:
                                m.d.comb += [self.lanes[i].eq(self.cols[c]),
                                             self.lane_valid[i].eq(c < self.n_active)]
        walk = p.walks_steps
        with m.Switch(self.t):
            for tt in range(cfg.steps if walk else cfg.input_bits):
                with m.Case(tt):
                    m.d.comb += self.drive.eq(step_drive(p, self.planes, tt) if walk else self.planes[tt])
        return m

    def _grouped(self, m):
        """ADC groups of M = adc_mux columns: lane i takes entry `entries[i]` (the scheduler's register:
        group i's first entry plus the batch), the b-th column of group i, valid below `ends[i]` (the next
        group's first entry)."""
        for i in range(self.params.hw.n_adc):
            m.d.comb += self.lane_valid[i].eq(self.entries[i] < self.ends[i])
            with m.Switch(self.entries[i]):
                for c in range(self.params.hw.slot_cols):
                    with m.Case(c):
                        m.d.comb += self.lanes[i].eq(self.cols[c])


class Scheduler(wiring.Component):
    """Issues a section's conversions: for each plane t (sign plane first) and each batch of up to n_adc
    active columns, puts the batch on the array interface and starts its ADCs so that each start lands in
    the cycle the previous batch's last ADC is done; with the default `MacroTiming` a plane takes exactly
    its batches' longest resolutions, back to back.

    Every output to the macro is a register (docs/design.md section 6): a batch issued in cycle T has its
    section, drive and columns on the bus from T + 1, its front phases (pch, wl_en, sh) from a counter, and
    its ADCs' start, res and ref at T + 1 + F. Counted mode (`sync` 0): the scheduler counts the bank's
    busy cycles (`MacroTiming.period` of the batch's longest resolution) and issues the next batch when
    they are over, never looking at done for it (done only ends the batch). Handshake (`sync` 1 or 2): it
    issues when the batch's last done arrives through `sync` flip-flops (a rising-edge detect after them). With ADC groups of M = adc_mux columns the batches are
    lockstep (BatchSelect: batch k = the k-th column of each group, as many as the fullest group has), and
    ADC i's `col` is the column within its group.

    States: WAIT (no current section) takes `next` when it is valid (the cycle after, the first batch may
    issue); ISSUE issues while the bank is free and returns to WAIT the cycle after the section's last batch
    issues, so the next section's copy never waits on an ADC's done; TEST (with `test_port`) runs one
    raw-code conversion.

    On sign-magnitude or input-aware hardware (`TileParams.walks_steps`) the steps come from a
    `StepWalker` in issue order instead of the plane counter: input-aware, a step whose popcount q is 0 is
    skipped, every conversion starts at min(res, bitlen(q)) bits, and a section that drives no row is
    taken in WAIT and dropped. Each batch carries its step's exponent and sign to the accumulator.

    A started batch is `capture`d on `batch` in the cycle its last ADC's done is seen (counted mode: the
    done cycle), with the codes the ADCs hold.

    Parameters
    ----------
    params : TileParams
        Hardware, table depths and the macro's timing.
    test_port : bool
        Add the raw-code test port `test`.

    Attributes
    ----------
    test : In(RawCodeSignature)
        With `test_port` only: the raw-code test request and its code.
    next : In(stream.Signature(next_section_layout))
        The gathered section; taken (ready) in WAIT.
    bus : Out(ArraySignature)
        The array interface.
    batch : Out(BatchSignature)
        The finished batch, for the accumulator.
    busy : Out(1)
        A section current, a batch in flight or its counting unfinished.
    planes : Out(COUNTER_WIDTH)
        Planes (drive steps) issued since reset.
    conversions : Out(ArrayLayout(COUNTER_WIDTH, full_resolution + 1))
        Conversions at each resolution since reset, four cycles behind their issue.
    """

    def __init__(self, params: TileParams, *, test_port: bool = False):
        self.params = params
        self.test_port = test_port
        cfg = params.hw
        super().__init__({
            **({"test": In(RawCodeSignature(params))} if test_port else {}),
            "next": In(stream.Signature(next_section_layout(params))),
            "bus": Out(ArraySignature(params)),
            "batch": Out(BatchSignature(params)),
            "busy": Out(1),
            "planes": Out(COUNTER_WIDTH),
            "conversions": Out(data.ArrayLayout(unsigned(COUNTER_WIDTH), cfg.full_resolution + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        A, NA, FR = cfg.input_bits, cfg.n_adc, cfg.full_resolution
        walk, aware, S = p.walks_steps, cfg.input_aware, cfg.steps
        nxt = self.next.payload
        cur = Signal.like(nxt, name="cur")
        t = Signal(range(A), init=A - 1)     # planes run sign plane first (Horner's rule in ShiftAdd)
        b = Signal(range(p.batches))
        b_end = Signal(range(p.batches * NA + NA + 1), init=NA)
        inflight = Signal()
        pending = Signal(NA)
        adc = self.bus.adc
        issue = Signal()
        # Registered flags (the comparisons run the cycle before): b is the plane's last batch, t the last plane.
        last_batch, last_plane = Signal(), Signal()
        one_batch = Signal()          # the current section has a single batch a plane
        if walk:
            m.submodules.steps = walker = StepWalker(p)
            t, last_plane = walker.step, walker.last
            cur_first = Signal()      # the section's first batch is next
            if aware:
                m.d.comb += walker.counts.eq(nxt.counts)

        # The section taken has one batch a plane (`one_next`), and the batch after the current one is the
        # plane's last (`then_last`).
        m.submodules.select = sel = BatchSelect(p)
        take = self.next.valid & self.next.ready
        if cfg.adc_mux:
            # Each group's first entry comes from `next` (counted by the prefetch) and is registered with the
            # copy, and each ADC's entry is a register counting the batches: no count or adder between
            # `current` and the lanes. The batch after this one is the last when no group has a column
            # beyond it.
            found = [nxt.starts[i] for i in range(NA)] + [nxt.n_active]
            starts, entries = Signal(entry_layout(p), name="group_start"), Signal(entry_layout(p), name="entry")
            ends = Signal(entry_layout(p), name="group_end")
            m.d.comb += [sel.entries.eq(entries), sel.ends.eq(ends)]
            one_next = nxt.one
            then_last = Cat(*(entries[i] + 2 >= ends[i] for i in range(NA))).all()
            with m.If(take):
                m.d.sync += [*[starts[i].eq(found[i]) for i in range(NA)],
                             *[entries[i].eq(found[i]) for i in range(NA)],
                             *[ends[i].eq(found[i + 1]) for i in range(NA)]]
            with m.Elif(issue):
                with m.If(last_batch):
                    m.d.sync += entries.eq(starts)
                with m.Else():
                    m.d.sync += [entries[i].eq(entries[i] + 1) for i in range(NA)]
        else:
            one_next, then_last = nxt.n_active <= NA, b_end + NA >= cur.n_active
        m.d.comb += [sel.b.eq(b), sel.t.eq(t), sel.n_active.eq(cur.n_active), sel.planes.eq(cur.planes),
                     sel.cols.eq(cur.cols)]
        res = [sel.lanes[i].res for i in range(NA)]
        if aware:       # min(res, bitlen(q)): the step's bound
            res = [Mux(r > walker.bound, walker.bound, r) for r in res]
        bus, tm = self.bus, p.timing
        F, L = tm.front, tm.sync

        # The batch's longest conversion: the highest resolution among its valid lanes, found for every
        # batch of the section by the prefetch (`next.longest`, registered before valid) and copied into
        # `batch_long` when the section is taken, so that the issue only selects it by b.
        batch_long = Signal(data.ArrayLayout(range(FR + 1), p.batches), name="batch_longest")
        take_long = nxt.longest
        if cfg.adc_mux:
            # Lockstep batches of ADC groups: the batch's lanes are the groups' entries, so its longest
            # conversion is the widest valid lane, found from the lanes themselves (`next.longest` holds
            # the full switch matrix's batches).
            longest = Signal(range(FR + 1), name="longest_lane")
            for r in range(1, FR + 1):
                with m.If(Cat(sel.lane_valid[i] & (sel.lanes[i].res == r) for i in range(NA)).any()):
                    m.d.comb += longest.eq(r)
        else:
            longest = Signal(range(FR + 1), name="longest")
            with m.Switch(b):
                for bb in range(p.batches):
                    with m.Case(bb):
                        m.d.comb += longest.eq(batch_long[bb])
        if aware:
            longest = Mux(longest > walker.bound, walker.bound, longest)
        # Raw-code test mode (`test_port`): a one-conversion batch from the test request, never accumulated.
        tp = self.test_port
        testing = Signal()
        lane_valid = sel.lane_valid
        if tp:
            tst = self.test
            req = Signal(data.StructLayout({"section": tst.section.shape(), "drive": tst.drive.shape(),
                                            "col": tst.col.shape(), "res": tst.res.shape(),
                                            "adc": tst.adc.shape()}), name="test_request")
            served = Signal()
            with m.If(~tst.en):
                m.d.sync += served.eq(0)
            onehot = Cat(req.adc == i for i in range(NA))
            lane_valid = Mux(testing, onehot, sel.lane_valid)
            res = [Mux(testing, req.res, r) for r in res]
            longest = Mux(testing, req.res, longest)

        # Every macro-facing output is a register. At issue (cycle T) the batch's section, row drive and
        # columns go on the bus (from T + 1, held until the next batch's); the front phases follow from a
        # counter (`MacroTiming`), and the ADCs' start, res and ref come from a second register stage so that
        # they land F cycles after the drive (T + 1 + F), even when the next batch's drive is already on.
        flight = data.StructLayout({"valid": NA, "cols": sel.lanes.shape(), "first": 1, "new_plane": 1,
                                    "negate": 1, "last": 1, "group": nxt.group.shape(), "test": 1,
                                    **({"shift": range(max(2, A))} if walk else {})})
        snap, kept = Signal(flight, name="snapshot"), Signal(flight, name="flight")
        issued = Signal()
        m.d.sync += issued.eq(issue)
        with m.If(issue):
            m.d.sync += [bus.section.eq(cur.sec), bus.drive.eq(sel.drive),
                         *[adc[i].col.eq(sel.lanes[i].col - i * cfg.adc_mux if cfg.adc_mux else sel.lanes[i].col)
                           for i in range(NA)],
                         snap.valid.eq(sel.lane_valid), snap.cols.eq(sel.lanes),
                         snap.first.eq((t == A - 1) & (b == 0)), snap.new_plane.eq(b == 0),
                         snap.negate.eq((t == A - 1) if cfg.input_signed else 0),
                         snap.last.eq(last_batch & last_plane), snap.group.eq(cur.group)]
            if walk:
                # Steps in any order, some skipped: each batch carries its step's exponent and sign, and is
                # counted at the resolution it is converted at.
                shifts, negates = step_tables(p)
                m.d.sync += [snap.first.eq(cur_first), *[snap.cols[i].res.eq(res[i]) for i in range(NA)]]
                with m.Switch(t):
                    for tt in range(S):
                        with m.Case(tt):
                            m.d.sync += [snap.shift.eq(shifts[tt]), snap.negate.eq(negates[tt])]
        if tp:      # after the batch's assignments, so that these take precedence
            with m.If(issue & testing):
                m.d.sync += [bus.section.eq(req.section), bus.drive.eq(req.drive),
                             *[adc[i].col.eq(req.col) for i in range(NA)], snap.valid.eq(lane_valid),
                             *[snap.cols[i].res.eq(req.res) for i in range(NA)], snap.new_plane.eq(0),
                             snap.first.eq(0), snap.last.eq(0), snap.test.eq(1)]
            with m.Elif(issue):
                m.d.sync += snap.test.eq(0)
        with m.If(issued):
            m.d.sync += self.planes.eq(self.planes + snap.new_plane)

        front_active = Signal()
        if F:
            # Front phases: position 0..F-1 from the cycle after issue; the outputs are registered from the
            # position the counter takes next.
            pos, pos_next, active_next = Signal(range(F), name="front_pos"), Signal(range(F)), Signal()
            with m.If(issue):
                m.d.comb += [pos_next.eq(0), active_next.eq(1)]
            with m.Elif(front_active & (pos != F - 1)):
                m.d.comb += [pos_next.eq(pos + 1), active_next.eq(1)]
            m.d.sync += [pos.eq(pos_next), front_active.eq(active_next)]
            P, W, Se = tm.precharge, tm.wordline, tm.settle
            m.d.sync += [bus.pch.eq(active_next & (pos_next < P)),
                         bus.wl_en.eq(active_next & (pos_next >= P) & (pos_next < P + W)),
                         bus.sh.eq(active_next & (pos_next >= P + W + Se))]
            conv_load = front_active & (pos == F - 1)
            conv = Signal(flight, name="converting")
            with m.If(conv_load):
                m.d.sync += conv.eq(snap)
            starts, conv_res = snap.valid, [snap.cols[i].res for i in range(NA)]
        else:
            conv_load, conv, starts, conv_res = issue, snap, lane_valid, res
        m.d.sync += [adc[i].start.eq(conv_load & starts[i]) for i in range(NA)]
        # Any ADC started (the OR of the start registers), a register of its own: `busy` and the
        # in-flight bookkeeping read one flip-flop instead of an OR of n_adc.
        started = Signal()
        m.d.sync += started.eq(conv_load & Cat(starts[i] for i in range(NA)).any())
        with m.If(conv_load):
            m.d.sync += [*[adc[i].res.eq(conv_res[i]) for i in range(NA)],
                         *[adc[i].ref.eq(conv_res[i]) for i in range(NA)]]

        # The ADCs' done as the scheduler takes it: counted mode (sync 0) the done itself, only to end the
        # batch; handshake through `sync` flip-flops and a rising-edge detect (a done held high as a level
        # is taken once).
        done = Signal(NA)
        m.d.comb += done.eq(Cat(adc[i].done for i in range(NA)))
        if L:
            flops = [Signal(NA, name=f"done_sync{k}") for k in range(L + 1)]
            m.d.sync += [flops[0].eq(done), *[flops[k].eq(flops[k - 1]) for k in range(1, L + 1)]]
            seen = flops[L - 1] & ~flops[L]
        else:
            seen = done
        # `pending` is all zero when nothing is in flight, so done_all covers ~inflight.
        done_all = (~pending | seen).all()
        complete = inflight & done_all
        with m.If(started):
            m.d.sync += [inflight.eq(1), pending.eq(Cat(adc[i].start for i in range(NA))), kept.eq(conv)]
        with m.Else():
            with m.If(complete):
                m.d.sync += inflight.eq(0)
            m.d.sync += pending.eq(pending & ~seen)

        # When the bank is free for the next issue: counted, `MacroTiming.period` cycles after the last;
        # handshake, when the batch outstanding is captured.
        free = Signal()
        outstanding = Signal()
        if L:
            m.d.comb += free.eq(~outstanding | complete)
            with m.If(issue):
                m.d.sync += outstanding.eq(1)
            with m.Elif(complete):
                m.d.sync += outstanding.eq(0)
        else:
            wait = Signal(range(max(2, tm.period(FR))), name="bank_wait")
            m.d.comb += free.eq(wait == 0)
            if tm.sample:      # sample-and-hold: the next front overlaps this conversion
                period = Mux(longest > F, longest, F)
            else:
                period = longest + F
            with m.If(issue):
                m.d.sync += wait.eq(period - 1)
            with m.Elif(~free):
                m.d.sync += wait.eq(wait - 1)
        fl = kept
        f_valid, f_col = snap.valid, snap.cols

        with m.FSM(name="scheduler") as fsm:
            with m.State("WAIT"):
                m.d.comb += self.next.ready.eq(1)
                with m.If(self.next.valid):
                    m.d.sync += batch_long.eq(take_long)
                    if walk:
                        m.d.comb += walker.load.eq(1)
                        m.d.sync += [cur.eq(nxt), b.eq(0), b_end.eq(NA), one_batch.eq(one_next),
                                     last_batch.eq(one_next), cur_first.eq(1)]
                        with m.If(walker.live):      # input-aware: a section that drives no row is dropped
                            m.next = "ISSUE"
                    else:
                        m.d.sync += [cur.eq(nxt), t.eq(A - 1), b.eq(0), b_end.eq(NA),
                                     one_batch.eq(one_next), last_batch.eq(one_next),
                                     last_plane.eq(A == 1)]
                        m.next = "ISSUE"
                if tp:
                    with m.Elif(tst.en & ~served):
                        m.d.sync += [req.section.eq(tst.section), req.drive.eq(tst.drive), req.col.eq(tst.col),
                                     req.res.eq(tst.res), req.adc.eq(tst.adc), served.eq(1)]
                        m.next = "TEST"
            if tp:
                with m.State("TEST"):
                    m.d.comb += [testing.eq(1), issue.eq(free)]
                    with m.If(free):
                        m.next = "WAIT"
            with m.State("ISSUE"):
                m.d.comb += issue.eq(free)
                with m.If(issue & last_batch & last_plane):
                    m.next = "WAIT"

        with m.If(issue & ~testing):
            if walk:
                m.d.sync += cur_first.eq(0)
            with m.If(last_batch):
                if walk:
                    m.d.sync += [b.eq(0), b_end.eq(NA), last_batch.eq(one_batch)]
                    m.d.comb += walker.advance.eq(1)
                else:
                    m.d.sync += [b.eq(0), b_end.eq(NA), t.eq(Mux(last_plane, A - 1, t - 1)),
                                 last_batch.eq(one_batch), last_plane.eq(Mux(last_plane, A == 1, t == 1))]
            with m.Else():
                m.d.sync += [b.eq(b + 1), b_end.eq(b_end + NA), last_batch.eq(then_last)]

        # Conversions by resolution, from the registered batch, in a pipeline whose every stage fits a
        # 150 MHz cycle: one-hot by resolution, sums of four lanes, the batch's sum, the counter's add.
        stages = [Signal(name=f"count_stage{k}") for k in range(4)]
        m.d.sync += [stages[k].eq(stages[k - 1]) for k in range(1, 4)]
        m.d.comb += stages[0].eq(issued)
        hot = [Signal(NA, name=f"hot{res}") for res in range(FR + 1)]
        quads = [[Signal(range(5), name=f"quad{res}_{q}") for q in range(-(-NA // 4))] for res in range(FR + 1)]
        batch_count = [Signal(range(NA + 1), name=f"batch_conversions{res}") for res in range(FR + 1)]
        for res in range(1, FR + 1):
            with m.If(stages[0]):
                m.d.sync += hot[res].eq(Cat(f_valid[i] & (f_col[i].res == res) for i in range(NA)))
            with m.If(stages[1]):
                m.d.sync += [quads[res][q].eq(tree_sum(hot[res][i] for i in range(4 * q, min(NA, 4 * q + 4))))
                             for q in range(len(quads[res]))]
            with m.If(stages[2]):
                m.d.sync += batch_count[res].eq(tree_sum(quads[res]))
            with m.If(stages[3]):
                m.d.sync += self.conversions[res].eq(self.conversions[res] + batch_count[res])

        # An ADC holds its code until its next start, so when the batch's last ADC is done, every code is there.
        bt = self.batch
        m.d.comb += [bt.capture.eq(complete & ~fl.test), bt.first.eq(fl.first), bt.new_plane.eq(fl.new_plane),
                     bt.last.eq(fl.last), bt.negate.eq(fl.negate), bt.group.eq(fl.group), bt.lane_valid.eq(fl.valid)]
        if walk:
            m.d.comb += bt.shift.eq(fl.shift)
        for i in range(NA):
            m.d.comb += [bt.code[i].eq(adc[i].code), bt.sign[i].eq(fl.cols[i].sign), bt.bit[i].eq(fl.cols[i].bit),
                         bt.j[i].eq(fl.cols[i].j)]
        if tp:
            m.d.sync += tst.valid.eq(complete & fl.test)
            with m.If(complete & fl.test):
                with m.Switch(req.adc):
                    for i in range(NA):
                        with m.Case(i):
                            m.d.sync += tst.code.eq(adc[i].code)
        m.d.comb += self.busy.eq(fsm.ongoing("ISSUE") | testing | inflight | started | front_active | Cat(stages).any())
        return m
