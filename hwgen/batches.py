"""The scheduler's cursor over a section's batches: which columns, drive and resolutions the next batch
has, plane by plane (or drive step by drive step) and batch by batch (docs/design.md section 6)."""

from __future__ import annotations

import operator
from functools import reduce

from amaranth import Cat, Module, Mux, Signal, Value
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .handshake import PERIOD_WIDTH
from .interface import column_entry_layout, front_layout, next_section_layout
from .params import TileParams
from .steps import StepWalker, step_drive, step_drive_neg, step_tables

__all__ = ["BatchCursor", "BatchSelect", "entry_layout", "period_parts"]


def period_parts(longest, front, opens, held, none):
    """Counted mode's period of a batch (`MacroTiming.period`) and whether it is at most 1 (the bank free
    the cycle after the issue), as expressions: `longest` its longest conversion L, `front` the front F,
    `opens` the batch opens an activation, `held` sample-and-hold and the next batch opens one, `none`
    F == 0. The period is F + L (opening) or L, with `held` F + max(1, L - F); each case's sum and compare
    side by side, then selected. L - F is needed only when L > F, so it and the compare take L's width
    (F's upper bits zero, a compare of few bits), not F's."""
    lw = len(longest)
    small = front[lw:] == 0 if len(front) > lw else 1
    later = small & (longest > front[:lw])
    less = (longest - front[:lw])[:lw]         # L - F, when L > F
    one = longest <= 1
    period = Mux(held, Mux(opens, Mux(later, longest, front + 1), Mux(later, less, 1)),
                 Mux(opens, front + longest, longest))
    short = Mux(held, Mux(opens, Mux(later, one, none), Mux(later, less == 1, 1)),
                Mux(opens, Mux(none, one, (longest == 0) & (front == 1)), one))
    return period, short


def entry_layout(p: TileParams) -> data.ArrayLayout:
    """With ADC groups: a column-entry index per ADC (a group's start plus the batch, up to slot_cols + M)."""
    return data.ArrayLayout(range(p.hw.slot_cols + p.batches + 1), p.hw.n_adc)


class BatchSelect(wiring.Component):
    """The lanes of batch `b` (columns b * n_adc .. b * n_adc + n_adc - 1 of the current section, valid
    below `n_active`; with ADC groups of M = adc_mux columns, lane i the column entry `entries[i]`, valid
    below `ends[i]`) and, on hardware that walks the steps, the drive of issue step `t`
    (`hwgen.steps.step_drive`; otherwise the cursor's planes rotate so that the current plane's drive is a
    register, `BatchCursor`). Combinational; a component of its own because it changes
    once a batch: simulation then re-evaluates these wide multiplexers only when their inputs change.

    Attributes
    ----------
    b, t, n_active, planes, cols : In
        Batch and (walking the steps) step index, and the current section.
    entries, ends, hot : In
        With ADC groups only: per ADC its current column entry, its group's end and the entry one-hot
        (registers of the cursor).
    lanes, lane_valid, drive : Out
        The batch's column entries and their valid bits, and (walking the steps) the step's row drive.
    drive_neg : Out
        Bipolar drive only: the rows of `drive` driven -1.
    """

    def __init__(self, params: TileParams):
        self.params = params
        cfg, layout = params.hw, next_section_layout(params)
        walk = params.walks_steps
        super().__init__({
            "b": In(range(params.batches)), "n_active": In(layout["n_active"].shape), "cols": In(layout["cols"].shape),
            "lanes": Out(data.ArrayLayout(column_entry_layout(params), cfg.n_adc)), "lane_valid": Out(cfg.n_adc),
            **({"t": In(range(cfg.steps)), "planes": In(layout["planes"].shape), "drive": Out(cfg.rows)} if walk else {}),
            **({"drive_neg": Out(cfg.rows)} if params.bipolar else {}),
            **({"entries": In(entry_layout(params)), "ends": In(entry_layout(params)),
                "hot": In(data.ArrayLayout(cfg.slot_cols, cfg.n_adc))} if cfg.adc_mux else {}),
        })

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        NA, SC = cfg.n_adc, cfg.slot_cols
        if cfg.adc_mux:
            # Lane i takes entry `entries[i]` (group i's first entry plus the batch), valid below `ends[i]`:
            # an AND-OR of the columns by the entry's one-hot (`hot[i]`, none at or beyond the slot's
            # columns: the lane is then zero), not a multiplexer decoding the index.
            for i in range(NA):
                m.d.comb += self.lane_valid[i].eq(self.entries[i] < self.ends[i])
                terms = [Mux(self.hot[i][c], Value.cast(self.cols[c]), 0) for c in range(SC)]
                m.d.comb += self.lanes[i].eq(reduce(operator.or_, terms))
        else:
            with m.Switch(self.b):
                for bb in range(p.batches):
                    with m.Case(bb):
                        for i in range(NA):
                            c = bb * NA + i
                            if c < SC:
                                m.d.comb += [self.lanes[i].eq(self.cols[c]),
                                             self.lane_valid[i].eq(c < self.n_active)]
        if p.walks_steps:
            with m.Switch(self.t):
                for tt in range(cfg.steps):
                    with m.Case(tt):
                        m.d.comb += self.drive.eq(step_drive(p, self.planes, tt))
                        if p.bipolar:
                            m.d.comb += self.drive_neg.eq(step_drive_neg(p, self.planes, tt))
        return m


class BatchCursor(wiring.Component):
    """The current section (`take` copies `section` into it) and the batch the scheduler issues next.

    Planes run sign plane first (Horner's rule in ShiftAdd): t from A - 1 down to 0, each plane's batches
    b = 0, 1, ...; on sign-magnitude, bipolar or input-aware hardware (`TileParams.walks_steps`) the steps
    come from a `StepWalker` in issue order instead, and input-aware, every conversion of a step is bounded
    by bitlen(q) (bipolar: bitlen(max(q+, q-)) + 1). With ADC groups of M = adc_mux columns the batches
    are lockstep: each ADC keeps a registered
    column-entry index (its group's first entry plus the batch), so no count or adder lies between the
    registers and the lanes. Whether the batch is its plane's last and the plane the section's last are
    registers, compared the cycle before. `advance` (the batch issued) moves to the next batch.

    Attributes
    ----------
    section : In(next_section_layout)
        The section `take` copies.
    take, advance : In(1)
        Copy `section` (its first batch next); the current batch issued.
    waiting : In(1)
        The scheduler waits for a section (its WAIT, every `take` among its cycles): the section's data
        (`cur`) copies `section` in every such cycle, so the take (the gather's `valid` through the
        scheduler's state) is not the clock enable of those flip-flops. Nothing reads them between a
        section's last issue and the next take.
    live : Out(1)
        Combinational, of `section`: it drives some step (always 1 but on input-aware hardware).
    lanes, lane_valid, drive : Out
        The current batch's column entries (their `res` bounded on input-aware hardware), valid bits
        and row drive (bipolar: also `drive_neg`, its rows driven -1).
    longest : Out
        The batch's longest conversion.
    first, new_plane, plane_last, negate, end : Out(1)
        The batch is its section's first, its plane's first, its plane's last, of a negative step, the
        section's last.
    shift : Out
        On hardware that walks the steps: the step's exponent.
    sec, group : Out
        The current section's index and output group.
    ready : Out(1)
        The current batch may issue (with ADC groups low in the two cycles after `take`, while the first
        batch's lanes are selected and its widest lane found).
    ready_next : Out(1)
        `ready` in the next cycle (from this cycle's `take` and `advance`), for an issue registered a cycle
        ahead (`hwgen.scheduler.Scheduler`).
    timing : In(front_layout)
        The front (its `front`, `hold`, `none`), for the period; constant from a `take` to the section's
        last issue (the host writes the timing only while idle, `hwgen.host.FRONT_READ_MIN`).
    period, short : Out
        Counted mode's period of the current batch and whether it is at most 1 (`period_parts`). On a full
        switch matrix without input-aware bounds registers: every batch's made at `take`, and the current
        one's loaded as the cursor moves, so no compare or sum lies between the cursor and the issue.
    """

    def __init__(self, params: TileParams):
        self.params = params
        cfg, layout = params.hw, next_section_layout(params)
        super().__init__({
            "section": In(layout), "take": In(1), "advance": In(1), "waiting": In(1), "live": Out(1),
            "lanes": Out(data.ArrayLayout(column_entry_layout(params), cfg.n_adc)), "lane_valid": Out(cfg.n_adc),
            "drive": Out(cfg.rows), **({"drive_neg": Out(cfg.rows)} if params.bipolar else {}),
            "longest": Out(range(params.conv_bits + 1)),
            "first": Out(1), "new_plane": Out(1), "plane_last": Out(1), "negate": Out(1), "end": Out(1),
            **({"shift": Out(range(max(2, cfg.input_bits)))} if params.walks_steps else {}),
            "sec": Out(layout["sec"].shape), "group": Out(layout["group"].shape), "ready": Out(1),
            "ready_next": Out(1), "timing": In(front_layout()), "period": Out(PERIOD_WIDTH), "short": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        A, NA = cfg.input_bits, cfg.n_adc
        walk, aware = p.walks_steps, cfg.input_aware
        nxt = self.section
        # The section taken: data, reset-less (off the error reset `halt`'s net). Every take loads all of it,
        # and it is read only through the outputs the scheduler uses at an issue (or the `advance` that is
        # one), which after a reset or a halt only a section taken since can bring (the scheduler's FSM is
        # reset to WAIT, which takes before it issues). It loads in every cycle the scheduler waits
        # (`waiting`, the take's cycle among them): the same value at every take, and in the other waiting
        # cycles (after a section's last issue, or an input-aware section dropped at its take) one nothing
        # reads. So its clock enable is the scheduler's state, not the take: the take's AND with the
        # gather's `valid` into those many flip-flops was R = 128's critical path at seeds 1 and 2 with them
        # reset-less (docs/results/controller.md, eleventh round).
        cur = Signal.like(nxt, name="cur", reset_less=True)
        b = Signal(range(p.batches))
        # The end of the batch after the current one, (b + 2) * NA (`b_end_after`): the plane's-last flag of
        # the next batch is one compare of registers, not an adder and a compare (`sws_soc`'s critical path at
        # seeds 1 and 2, docs/results/controller.md, tenth round).
        b_after = Signal(range(p.batches * NA + 2 * NA + 1), init=2 * NA, name="b_end_after")
        # Registered flags (the comparisons run the cycle before): b is the plane's last batch, t the last plane.
        last_batch, one_batch = Signal(), Signal()       # one_batch: the section has a single batch a plane
        m.submodules.select = sel = BatchSelect(p)
        if walk:
            m.submodules.steps = walker = StepWalker(p)
            t, last_plane = walker.step, walker.last
            m.d.comb += [walker.load.eq(self.take), walker.advance.eq(self.advance & last_batch),
                         self.live.eq(walker.live)]
            if aware:       # bipolar: q+ | q-, as live and of the same bitlen as max(q+, q-)
                m.d.comb += walker.counts.eq(nxt.counts if not p.bipolar else
                                             Cat(nxt.counts[i] | nxt.counts_neg[i] for i in range(cfg.steps)))
        else:
            t, last_plane = Signal(range(A), init=A - 1), Signal()
            m.d.comb += self.live.eq(1)
        if cfg.adc_mux:
            one_next, then_last, lanes, lane_valid, longest = self._groups(m, sel)
        else:
            one_next, then_last = nxt.n_active <= NA, b_after >= cur.n_active
            lanes, lane_valid, longest = sel.lanes, sel.lane_valid, self._longest(m, b, last_batch)
            m.d.comb += [self.ready.eq(1), self.ready_next.eq(1)]
            if not aware:
                self._periods(m, b, last_batch, one_next)
        if p.bipolar:
            m.d.comb += self.drive_neg.eq(sel.drive_neg)
        if walk:
            m.d.comb += [sel.t.eq(t), sel.planes.eq(cur.planes), self.drive.eq(sel.drive)]
        else:
            self._rotate(m, cur, last_batch)
        m.d.comb += [sel.b.eq(b), sel.n_active.eq(cur.n_active),
                     sel.cols.eq(cur.cols), self.lanes.eq(lanes), self.lane_valid.eq(lane_valid),
                     self.sec.eq(cur.sec), self.group.eq(cur.group),
                     self.new_plane.eq(b == 0), self.plane_last.eq(last_batch), self.end.eq(last_batch & last_plane)]
        with m.If(self.waiting):
            m.d.sync += cur.eq(nxt)
        with m.If(self.take):
            m.d.sync += [b.eq(0), b_after.eq(2 * NA), one_batch.eq(one_next), last_batch.eq(one_next)]
            if not walk:
                m.d.sync += [t.eq(A - 1), last_plane.eq(A == 1)]
        with m.Elif(self.advance):
            with m.If(last_batch):
                m.d.sync += [b.eq(0), b_after.eq(2 * NA), last_batch.eq(one_batch)]
                if not walk:
                    m.d.sync += [t.eq(Mux(last_plane, A - 1, t - 1)), last_plane.eq(Mux(last_plane, A == 1, t == 1))]
            with m.Else():
                m.d.sync += [b.eq(b + 1), b_after.eq(b_after + NA), last_batch.eq(then_last)]
        if walk:
            cur_first = Signal()      # the section's first batch is next
            with m.If(self.take):
                m.d.sync += cur_first.eq(1)
            with m.Elif(self.advance):
                m.d.sync += cur_first.eq(0)
            shifts, negates = step_tables(p)
            m.d.comb += self.first.eq(cur_first)
            with m.Switch(t):
                for tt in range(cfg.steps):
                    with m.Case(tt):
                        m.d.comb += [self.shift.eq(shifts[tt]), self.negate.eq(negates[tt])]
        else:
            m.d.comb += [self.first.eq((t == A - 1) & (b == 0)), self.negate.eq((t == A - 1) & cfg.input_signed)]
        if aware:       # min(res, bitlen(q)): the step's bound
            m.d.comb += [self.lanes[i].res.eq(Mux(lanes[i].res > walker.bound, walker.bound, lanes[i].res))
                         for i in range(NA)]
            longest = Mux(longest > walker.bound, walker.bound, longest)
        m.d.comb += self.longest.eq(longest)
        if cfg.adc_mux or aware:     # from the (registered) widest lane or the step's bound, as it is issued
            tm = self.timing
            period, short = period_parts(self.longest, tm.front, self.new_plane, tm.hold & self.plane_last, tm.none)
            m.d.comb += [self.period.eq(period), self.short.eq(short)]
        return m

    def _rotate(self, m, cur, last_batch):
        """Planes in order (not walking the steps): the current plane's drive from registers, with no
        select by the plane index `t` (fanned out over every row, the critical path at R = 256,
        docs/results/controller.md). The section's planes rotate by one plane the cycle after each plane
        advance (`plane_turn`, a register), so the current plane is `planes[A - 1]` (before the rotation,
        in the cycle `plane_turn` is high, `planes[A - 2]`); A rotations give the section's planes back
        (t wraps to A - 1 with them); a `take` loads the section's planes in order instead (and so does every
        cycle the scheduler waits, `waiting`: nothing reads them then)."""
        A = self.params.hw.input_bits
        if A == 1:
            m.d.comb += self.drive.eq(cur.planes[0])
            return
        turn = Signal(name="plane_turn")
        m.d.sync += turn.eq(~self.take & self.advance & last_batch)
        with m.If(~self.waiting & turn):
            m.d.sync += cur.planes.eq(Cat(cur.planes[A - 1], *(cur.planes[k] for k in range(A - 1))))
        m.d.comb += self.drive.eq(Mux(turn, cur.planes[A - 2], cur.planes[A - 1]))

    def _longest(self, m, b, last_batch):
        """A full switch matrix's batch's longest conversion: `next.longest` (found by the prefetch for every
        batch, copied at `take`), as a register loaded with the batch the cursor moves to (the section's
        first at `take` or after its plane's last batch, else batch b + 1): no select by b lies between the
        cursor's registers and the counted period's compares and sums (the SoC plan's critical path,
        docs/results/controller.md, fifth round)."""
        p, FR = self.params, self.params.conv_bits
        batch_long = Signal(data.ArrayLayout(range(FR + 1), p.batches), name="batch_longest")
        longest = Signal(range(FR + 1), name="longest")
        with m.If(self.take):
            m.d.sync += [batch_long.eq(self.section.longest), longest.eq(self.section.longest[0])]
        with m.Elif(self.advance):
            with m.If(last_batch):
                m.d.sync += longest.eq(batch_long[0])
            with m.Else():
                with m.Switch(b):
                    for bb in range(p.batches - 1):
                        with m.Case(bb):
                            m.d.sync += longest.eq(batch_long[bb + 1])
        return longest

    def _periods(self, m, b, last_batch, one_next):
        """A full switch matrix's counted period and `short` as registers (`period_parts`): at `take` made
        for every batch of the section (batch bb opens an activation if bb = 0, and is its plane's last if
        (bb + 1) * n_adc >= n_active) and the first batch's loaded; at every advance the batch the cursor
        moves to (as `_longest` loads its longest conversion). A plane's later batches have periods of at
        most L (L's width). So the issue's next value (`hwgen.scheduler.Scheduler`) and the bank's wait
        counter see flip-flops only, not the compares and sums of L against F (docs/results/controller.md,
        ninth round)."""
        p, NA, nxt, tm = self.params, self.params.hw.n_adc, self.section, self.timing
        lw = len(self.longest)
        parts = []
        for bb in range(p.batches):
            last = one_next if bb == 0 else (bb + 1) * NA >= nxt.n_active
            per, sh = period_parts(nxt.longest[bb], tm.front, bb == 0, tm.hold & last, tm.none)
            parts.append((Signal(PERIOD_WIDTH if bb == 0 else lw, name=f"batch_period{bb}"),
                          Signal(name=f"batch_short{bb}"), per, sh))
        with m.If(self.take):
            m.d.sync += [*[r.eq(v) for r, _, v, _ in parts], *[r.eq(v) for _, r, _, v in parts],
                         self.period.eq(parts[0][2]), self.short.eq(parts[0][3])]
        with m.Elif(self.advance):
            with m.If(last_batch):
                m.d.sync += [self.period.eq(parts[0][0]), self.short.eq(parts[0][1])]
            with m.Else(), m.Switch(b):
                for bb in range(p.batches - 1):
                    with m.Case(bb):
                        m.d.sync += [self.period.eq(parts[bb + 1][0]), self.short.eq(parts[bb + 1][1])]

    def _groups(self, m, sel):
        """ADC groups, the batch's lanes selected two batches ahead: each ADC keeps the registered
        column-entry index of the batch after the *next* (`entry_next`: its group's first entry plus the
        batches, wrapped to the group's first at a plane's end; each group's first counted by the
        prefetch, `next.starts`), which selects its lane (`BatchSelect`) into the next batch's registers
        (`lane_next`, its valid bits and whether it is its plane's last); the current batch's registers
        (`lane`, its valid bits and its longest conversion, the widest valid lane, found from the next
        batch's registers) load from them when the batch before issues, or in the second cycle after
        `take` (the first batch: `ready` is low in the two cycles after it, while the first batch's lanes
        are selected and then its widest found, `mapper.schedule.group_prime`). So the issue sees registers
        only, and neither the lane select nor the widest lane lies between the entries and a register
        (docs/results/controller.md). Returns (the section taken has one batch a plane, the batch after the
        current one is the plane's last: no group has a column beyond it; the current batch's lanes, valid
        bits and longest conversion)."""
        p, NA, FR, nxt = self.params, self.params.hw.n_adc, self.params.conv_bits, self.section
        found = [nxt.starts[i] for i in range(NA)] + [nxt.n_active]
        layout = entry_layout(p)
        starts, ahead, ends = Signal(layout, name="group_start"), Signal(layout, name="entry_next"), Signal(layout, name="group_end")
        lanes, valid = Signal.like(sel.lanes, name="lane"), Signal.like(sel.lane_valid, name="lane_valid")
        nlanes, nvalid = Signal.like(sel.lanes, name="lane_next"), Signal.like(sel.lane_valid, name="lane_valid_next")
        next_last = Signal(name="next_last")          # the batch in `lane_next` is its plane's last
        longest = Signal(range(FR + 1), name="longest_lane")
        priming, primed = Signal(name="priming"), Signal(name="primed")    # the first and second cycle after take
        # `entry_next` also one-hot (`entry_hot`, its group's first `group_start_hot`), for the lane select.
        SC = p.hw.slot_cols
        hot_layout = data.ArrayLayout(SC, NA)
        hot, starts_hot = Signal(hot_layout, name="entry_hot"), Signal(hot_layout, name="group_start_hot")
        m.d.comb += [sel.entries.eq(ahead), sel.ends.eq(ends), sel.hot.eq(hot)]
        # The batch at `ahead` is its plane's last (no group has an entry beyond it), a register made for the
        # entries it loads: a section's first batch (`single`: one batch a plane) or the one after.
        ahead_last, single = Signal(name="entry_next_last"), Signal(name="group_single")
        # Each group's `ahead + 2 >= end` (the batch after the one at `ahead` is past the group's last column)
        # as a register made for the entry `ahead` takes (`group_near`; at the group's first entry
        # `group_near_start`), so that `entry_next_last`'s next value is an AND of flip-flops, with no compare
        # (carry chain) after the entries (m4's critical path, docs/results/controller.md, fifth round).
        near, near_start = Signal(NA, name="group_near"), Signal(NA, name="group_near_start")
        m.d.sync += [priming.eq(self.take), primed.eq(priming & ~self.take)]
        fill = Signal()       # `lane_next` loads the batch at `ahead`, which moves on
        m.d.comb += self.ready_next.eq(~self.take & (primed | self.advance | self.ready))
        with m.If(self.take):
            m.d.sync += [*[starts[i].eq(found[i]) for i in range(NA)], *[ahead[i].eq(found[i]) for i in range(NA)],
                         *[ends[i].eq(found[i + 1]) for i in range(NA)], self.ready.eq(0)]
            for i in range(NA):
                one = Cat(found[i] == c for c in range(SC))
                m.d.sync += [hot[i].eq(one), starts_hot[i].eq(one)]
            # The first batch is its plane's last when every group holds at most one active column:
            # `next.one`, which the prefetch found (the same as every `found[i] + 1 >= found[i + 1]`, with no
            # compare after the group starts at the copy: m4's critical path, docs/results/controller.md).
            m.d.sync += [ahead_last.eq(nxt.one), single.eq(nxt.one)]
            first_near = Cat(found[i] + 2 >= found[i + 1] for i in range(NA))
            m.d.sync += [near.eq(first_near), near_start.eq(first_near)]
        with m.Else():
            m.d.comb += fill.eq(priming | primed | self.advance)
            with m.If(primed | self.advance):
                widest = Signal(range(FR + 1), name="widest_lane")
                for r in range(1, FR + 1):
                    with m.If(Cat(nvalid[i] & (nlanes[i].res == r) for i in range(NA)).any()):
                        m.d.comb += widest.eq(r)
                m.d.sync += [lanes.eq(nlanes), valid.eq(nvalid), longest.eq(widest), self.ready.eq(1)]
        with m.If(fill):
            m.d.sync += [nlanes.eq(sel.lanes), nvalid.eq(sel.lane_valid), next_last.eq(ahead_last)]
            m.d.sync += ahead_last.eq(Mux(ahead_last, single, near.all()))
            with m.If(ahead_last):
                m.d.sync += [ahead.eq(starts), hot.eq(starts_hot), near.eq(near_start)]
            with m.Else():
                m.d.sync += [*[ahead[i].eq(ahead[i] + 1) for i in range(NA)], *[hot[i].eq(hot[i] << 1) for i in range(NA)],
                             near.eq(Cat(ahead[i] + 3 >= ends[i] for i in range(NA)))]
        return nxt.one, next_last, lanes, valid, longest
