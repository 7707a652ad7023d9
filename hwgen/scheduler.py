"""The conversion scheduler: starts the ADC bank on a section's active columns, batch by batch and plane by
plane, and hands each finished batch to the accumulator (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from mapper.schedule import WATCHDOG_MAX

from .batches import BatchCursor, BatchSelect, period_parts
from .counters import ConversionTally, pipelined_sum
from .front import FrontPhases
from .handshake import MODE_LAYOUT, PERIOD_WIDTH, AdcHandshake
from .interface import (ArraySignature, BatchSignature, RawCodeSignature, column_entry_layout, event_layout,
                        front_layout, next_section_layout)
from .params import TileParams

__all__ = ["Scheduler", "BatchSelect"]


class Scheduler(wiring.Component):
    """Issues a section's conversions: for each plane t (sign plane first) one activation of the array (its
    section and drive on the bus, its front phases), then each batch of up to n_adc active columns, its
    columns on the bus and its ADCs started so that each start lands in the cycle the previous batch's
    last ADC is done (counted mode) or after the previous batch's four-phase handshake (`MacroTiming`);
    with the default timing a plane takes exactly its batches' longest resolutions, back to back.

    Every output to the macro is a register (docs/design.md section 6): a batch issued in cycle T has its
    columns (and, opening an activation, its section and drive) on the bus from T + 1, its front phases
    from `FrontPhases` and its ADCs' start, res and ref at T + 1 + f (f = F for a plane's first batch,
    else 0). The phase lengths and the mode come from the timing registers (`timing`, `mode`). With ADC
    groups of M = adc_mux columns the batches are lockstep (`BatchSelect`: batch k = the k-th column of
    each group, as many as the fullest group has), and ADC i's `col` is the column within its group.

    States: WAIT (no current section) takes `next` when it is valid (the cycle after, the first batch may
    issue); ISSUE issues while the bank is free and returns to WAIT the cycle after the section's last batch
    issues, so the next section's copy never waits on an ADC's done; TEST (with `test_port`) runs one
    raw-code conversion, an activation of its own. Its parts: `hwgen.batches.BatchCursor` (the current
    section and its next batch), `hwgen.front.FrontPhases` (pch, wl_en, sh), `hwgen.handshake.AdcHandshake`
    (start, done, their checks, and when the bank is free) and `hwgen.counters.ConversionTally`.

    On sign-magnitude, bipolar or input-aware hardware (`TileParams.walks_steps`) the steps come from a
    `StepWalker` in issue order instead of the plane counter: input-aware, a step whose popcount q is 0 is
    skipped, every conversion starts at min(res, bitlen(q)) bits, and a section that drives no row is
    taken in WAIT and dropped. Each batch carries its step's exponent and sign to the accumulator. With the
    bipolar drive an activation also puts `drive_neg` (the rows of `drive` driven -1) on the bus, and every
    resolution is a conversion's bits, the sign bit included (`TileParams.conv_bits`).

    A started batch is `capture`d on `batch` in the cycle its last ADC's done is seen, with the codes the
    ADCs hold.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    test_port : bool
        Add the raw-code test port `test`.

    Attributes
    ----------
    test : In(RawCodeSignature)
        With `test_port` only: the raw-code test request and its code.
    test_hold : In(1)
        With `test_port` only: take no test request (the timing registers are being loaded,
        `hwgen.host.HostConfig.front_loading`).
    next : In(stream.Signature(next_section_layout))
        The gathered section; taken (ready) in WAIT.
    timing, mode, watchdog : In
        The timing registers: the front's phases (`front_layout`), the done mode (one-hot,
        `hwgen.handshake.MODE_LAYOUT`), the watchdog.
    bus : Out(ArraySignature)
        The array interface.
    batch : Out(BatchSignature)
        The finished batch, for the accumulator.
    busy : Out(1)
        A section current, a batch in flight or its counting unfinished.
    events : Out(event_layout)
        This cycle's planes issued, conversions by resolution (a few cycles behind), pch and wl_en
        pulses begun, an activation's rows driven high, section rows and sampled columns, the cells the
        array reports read, the captured codes' sum and the lanes shift-added (a cycle after the capture).
    missing, unexpected, bad_request : Out(1)
        Pulses: a done did not come in time; a done came when none was due, or stuck high; a test request
        out of range (refused).
    """

    def __init__(self, params: TileParams, *, test_port: bool = False):
        self.params = params
        self.test_port = test_port
        super().__init__({
            **({"test": In(RawCodeSignature(params)), "test_hold": In(1)} if test_port else {}),
            "next": In(stream.Signature(next_section_layout(params))),
            "timing": In(front_layout()), "mode": In(MODE_LAYOUT), "watchdog": In(range(WATCHDOG_MAX + 1)),
            "bus": Out(ArraySignature(params)),
            "batch": Out(BatchSignature(params)),
            "busy": Out(1),
            "events": Out(event_layout(params)),
            "missing": Out(1), "unexpected": Out(1), "bad_request": Out(1),
        })

    def _flight(self) -> data.StructLayout:
        """A batch's description, registered at its issue (`snapshot`), at its start and for its capture."""
        cfg = self.params.hw
        return data.StructLayout({"valid": cfg.n_adc, "cols": data.ArrayLayout(column_entry_layout(self.params), cfg.n_adc),
                                  "longest": range(self.params.conv_bits + 1), "first": 1, "new_plane": 1, "negate": 1,
                                  "last": 1, "group": next_section_layout(self.params)["group"].shape, "test": 1,
                                  **({"shift": range(max(2, cfg.input_bits))} if self.params.walks_steps else {})})

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        NA, tp = cfg.n_adc, self.test_port
        m.submodules.cursor = cur = BatchCursor(p)
        m.submodules.front = front = FrontPhases()
        m.submodules.handshake = hs = AdcHandshake(p)
        bus, adc = self.bus, self.bus.adc
        # The issue (a batch issued this cycle) is a register, computed the cycle before from the next
        # cycle's bank free, cursor ready and FSM state (`issue_next`; the same cycles): it enables the
        # cursor, the snapshot, the bus, the front and the counters, so its fan-out starts at a flip-flop
        # and no free, ready or state logic lies in front of it (docs/results/controller.md, eighth round).
        issue, issue_next, testing, opens = Signal(name="issue"), Signal(name="issue_next"), Signal(), Signal()
        m.d.sync += issue.eq(issue_next)
        m.d.comb += [cur.section.eq(self.next.payload), cur.advance.eq(issue & ~testing), cur.timing.eq(self.timing)]
        self._cur, self._testing = cur, testing
        if tp:
            req = Signal(data.StructLayout({name: getattr(self.test, name).shape()
                                            for name in ("section", "drive", "col", "res", "adc")
                                            + (("drive_neg",) if p.bipolar else ())}), name="test_request")
            served, load_req = Signal(name="test_served"), Signal()

        to_issue, to_test = Signal(name="to_issue"), Signal(name="to_test")     # the FSM's next state
        with m.FSM(name="scheduler") as fsm:
            with m.State("WAIT"):
                m.d.comb += [self.next.ready.eq(1), cur.waiting.eq(1)]
                with m.If(self.next.valid):
                    m.d.comb += cur.take.eq(1)
                    with m.If(cur.live):      # input-aware: a section that drives no row is dropped
                        m.next = "ISSUE"
                        m.d.comb += to_issue.eq(1)
                if tp:
                    with m.Elif(self.test.en & ~served & ~self.test_hold):
                        m.d.comb += load_req.eq(1)
                        with m.If(~self.bad_request):
                            m.next = "TEST"
                            m.d.comb += to_test.eq(1)
            if tp:
                with m.State("TEST"):      # the issue: the bank free
                    m.d.comb += [testing.eq(1), to_test.eq(~issue)]
                    with m.If(issue):
                        m.next = "WAIT"
            with m.State("ISSUE"):         # the issue: the bank free and the cursor ready
                m.d.comb += to_issue.eq(~(issue & cur.end))
                with m.If(issue & cur.end):
                    m.next = "WAIT"
        m.d.comb += issue_next.eq(hs.free_next & ((to_issue & cur.ready_next) | to_test))

        # At issue (cycle T) the batch's description goes into `snapshot` and its columns on the bus (from
        # T + 1, held until the next batch's); a plane's first batch (or a test conversion) opens an
        # activation: its section and drive too, and the front phases. The ADCs' start, res and ref load
        # when the front ends (`fire`: at issue without a front), from a second register stage, so that
        # they land F cycles after the drive even when the next batch is already issued.
        # The batch's description in `snapshot`, `converting` and `flight` is data, reset-less (off the error
        # reset `halt`'s net): each is loaded by a step of the batch that reads it (the issue; the fire
        # that follows the issue; the start that follows the fire) and read only when the next step comes
        # (the fire, the start, the capture, and the tally's `issued`), which after a reset or a halt only
        # a batch issued since can bring: the FSM, the front and the handshake that make those steps are
        # reset.
        desc, snap = Signal(self._flight(), name="batch_now"), Signal(self._flight(), name="snapshot", reset_less=True)
        m.d.comb += [desc.valid.eq(cur.lane_valid), desc.cols.eq(cur.lanes), desc.longest.eq(cur.longest),
                     desc.first.eq(cur.first), desc.new_plane.eq(cur.new_plane), desc.negate.eq(cur.negate),
                     desc.last.eq(cur.end), desc.group.eq(cur.group), opens.eq(cur.new_plane)]
        if p.walks_steps:
            m.d.comb += desc.shift.eq(cur.shift)
        with m.If(issue):
            m.d.sync += [snap.eq(desc), *[adc[i].col.eq(cur.lanes[i].col - i * cfg.adc_mux if cfg.adc_mux
                                                        else cur.lanes[i].col) for i in range(NA)]]
            with m.If(opens):
                m.d.sync += [bus.section.eq(cur.sec), bus.drive.eq(cur.drive)]
                if p.bipolar:
                    m.d.sync += bus.drive_neg.eq(cur.drive_neg)
        if tp:      # after the batch's assignments, so that these take precedence
            self._test_request(m, (req, served, load_req), issue, testing, desc, opens)
        next_opens = Signal(name="next_opens")      # the batch after this one opens an activation
        m.d.comb += next_opens.eq(cur.plane_last | testing)
        self._start(m, front, hs, issue, opens, desc, snap, next_opens)
        self._capture(m, hs.complete, req if tp else None)
        # The current section's rows and active columns, for the counters (loaded as BatchCursor loads its
        # copy, reset-less, in every cycle of WAIT: the same flip-flops, which synthesis merges; read only at
        # an activation's issue).
        section = Signal(data.StructLayout({"rows": self.next.payload.rows.shape(),
                                            "n_active": self.next.payload.n_active.shape()}), name="counted_section",
                         reset_less=True)
        with m.If(cur.waiting):
            m.d.sync += [section.rows.eq(self.next.payload.rows), section.n_active.eq(self.next.payload.n_active)]
        self._events(m, issue, opens, snap, hs.complete, section, testing)
        m.d.comb += [self.missing.eq(hs.missing), self.unexpected.eq(hs.unexpected)]
        m.d.comb += self.busy.eq(fsm.ongoing("ISSUE") | testing | hs.inflight | hs.started | front.active |
                                 self._tally.busy)
        return m

    def _start(self, m, front, hs, issue, opens, desc, snap, next_opens):
        """The front and the start: the batch's description registered again when it fires (`converting`)
        and when its starts are on the bus (`flight`, for its capture); counted mode's period."""
        NA, tm = self.params.hw.n_adc, self.timing
        conv = Signal(self._flight(), name="converting", reset_less=True)
        self._kept = Signal(self._flight(), name="flight", reset_less=True)
        fired = Signal(self._flight(), name="firing")
        m.d.comb += [front.go.eq(issue & opens), front.timing.eq(tm), fired.eq(Mux(issue, desc, snap)),
                     self.bus.pch.eq(front.pch), self.bus.wl_en.eq(front.wl_en), self.bus.sh.eq(front.sh)]
        with m.If(front.fire | (issue & ~opens)):
            m.d.sync += conv.eq(fired)
        # Whether the firing batch has a lane, from the issued batch's OR (a register, `snapshot_any`) or the
        # batch issuing now: the issue selects at the end, not in front of a 16-wide OR.
        any_now, snap_any = Signal(name="batch_any"), Signal(name="snapshot_any")
        m.d.comb += any_now.eq(desc.valid.any())
        with m.If(issue):
            m.d.sync += snap_any.eq(any_now)
        with m.If(hs.started):
            m.d.sync += self._kept.eq(conv)
        # Counted: the cycles to the next issue (MacroTiming.period) and whether they are at most 1, the
        # cursor's (registers on a full switch matrix, `BatchCursor.period`) or a test request's (registers
        # made when it is taken): no compare or sum lies in front of the issue's next value or the bank's
        # wait counter. `period_probe`: the values and what they stand for, for the tests.
        period, short = Signal(PERIOD_WIDTH, name="issue_period"), Signal(name="issue_short")
        m.d.comb += [period.eq(self._cur.period), short.eq(self._cur.short)]
        if self.test_port:
            with m.If(self._testing):
                m.d.comb += [period.eq(self._req_period), short.eq(self._req_short)]
        self.period_probe = {"issue": issue, "period": period, "short": short, "longest": desc.longest,
                             "opens": opens, "next_opens": next_opens}
        m.d.comb += [hs.fire.eq(front.fire | (issue & ~opens)), hs.starts.eq(fired.valid),
                     hs.starts_any.eq(Mux(issue, any_now, snap_any)),
                     *[hs.res[i].eq(fired.cols[i].res) for i in range(NA)], hs.longest.eq(fired.longest),
                     hs.done.eq(Cat(a.done for a in self.bus.adc)), hs.issue.eq(issue),
                     hs.period.eq(period), hs.short.eq(short), hs.mode.eq(self.mode),
                     hs.watchdog.eq(self.watchdog)]
        for i, a in enumerate(self.bus.adc):
            m.d.comb += [a.start.eq(hs.start[i]), a.res.eq(hs.res_out[i]), a.ref.eq(hs.res_out[i])]

    def _capture(self, m, complete, req):
        """The finished batch to the accumulator (`batch`), or a test conversion's code to `test`: an ADC
        holds its code until its next start, so when the batch's last ADC is done, every code is there."""
        bt, adc, kept = self.batch, self.bus.adc, self._kept
        m.d.comb += [bt.capture.eq(complete & ~kept.test), bt.first.eq(kept.first), bt.new_plane.eq(kept.new_plane),
                     bt.last.eq(kept.last), bt.negate.eq(kept.negate), bt.group.eq(kept.group),
                     bt.lane_valid.eq(kept.valid)]
        if self.params.walks_steps:
            m.d.comb += bt.shift.eq(kept.shift)
        for i in range(self.params.hw.n_adc):
            m.d.comb += [bt.code[i].eq(adc[i].code), bt.sign[i].eq(kept.cols[i].sign), bt.bit[i].eq(kept.cols[i].bit),
                         bt.j[i].eq(kept.cols[i].j)]
        if req is not None:
            m.d.sync += self.test.valid.eq(complete & kept.test)
            with m.If(complete & kept.test):
                with m.Switch(req.adc):
                    for i in range(self.params.hw.n_adc):
                        with m.Case(i):
                            m.d.sync += self.test.code.eq(adc[i].code)

    def _events(self, m, issue, opens, snap, complete, section, testing):
        """This cycle's events (`events`), each from registers: planes and conversions of the batch issued
        the cycle before (`ConversionTally`), the front phases' pulses begun, an activation's rows driven
        high (a popcount of the drive on the bus), its section's rows (`row_drives`) and the columns it
        samples (`sample_holds`: the section's active columns, a test conversion's one), the cells the
        array reports read (`cell_reads`), and at a capture the codes' sum and the lanes shift-added."""
        p, cfg, ev, bus, kept = self.params, self.params.hw, self.events, self.bus, self._kept
        NA = cfg.n_adc
        m.submodules.tally = self._tally = tally = ConversionTally(NA, p.conv_bits, p.res_width)
        issued, activated = Signal(name="issued"), Signal(name="activated")
        m.d.sync += [issued.eq(issue), activated.eq(issue & opens)]
        m.d.comb += [tally.issued.eq(issued), tally.valid.eq(snap.valid),
                     *[tally.res[i].eq(snap.cols[i].res) for i in range(NA)],
                     ev.conversions.eq(tally.conversions), ev.planes.eq(issued & snap.new_plane)]
        was = {n: Signal(name=f"{n}_was") for n in ("pch", "wl_en")}
        m.d.sync += [r.eq(getattr(bus, n)) for n, r in was.items()]
        m.d.comb += [ev.precharges.eq(bus.pch & ~was["pch"]), ev.wordlines.eq(bus.wl_en & ~was["wl_en"])]
        # At an activation's issue the section's rows and active columns go into registers (the next cycle's
        # increments): on every timing, whether or not the controller pulses the phases.
        driven = Signal.like(ev.row_drives, name="activation_rows")
        sampled = Signal.like(ev.sample_holds, name="activation_samples")
        reads = Signal.like(ev.cell_reads, name="array_cell_reads")
        m.d.sync += [driven.eq(Mux(issue & opens & ~testing, section.rows, 0)),
                     sampled.eq(Mux(issue & opens, Mux(testing, 1, section.n_active), 0)), reads.eq(bus.cell_reads)]
        m.d.comb += [ev.row_drives.eq(driven), ev.sample_holds.eq(sampled), ev.cell_reads.eq(reads)]
        rows, _ = pipelined_sum(m, "drive_count", [bus.drive[r] & activated for r in range(cfg.rows)])
        # At a capture (T) the batch's lanes, whether it was a capture and the codes go into registers as they
        # are (`captured_lanes`, `captured`, `captured_raw`; the lanes and codes every cycle), masked in
        # T + 1 (`captured_code`): the batch's completion ends at one flip-flop's data input, not at the
        # reset inputs of every lane's (r256's critical path, docs/results/controller.md, fifth round).
        # The lanes, the test flag and the raw codes are loaded every cycle and read only through `took`
        # (reset): reset-less, off `halt`'s net.
        lanes_kept, took = Signal(NA, name="captured_lanes", reset_less=True), Signal(name="captured")
        tested = Signal(name="captured_test", reset_less=True)
        raw = [Signal(p.code_width, name=f"captured_raw{i}", reset_less=True) for i in range(NA)]
        codes = [Signal(cfg.full_resolution, name=f"captured_code{i}") for i in range(NA)]
        # The codes' magnitudes (a bipolar drive's codes are signed: their sum counts |code|).
        size = [abs(raw[i].as_signed())[:cfg.full_resolution] if p.bipolar else raw[i] for i in range(NA)]
        take = [lanes_kept[i] & took for i in range(NA)]
        m.d.sync += [lanes_kept.eq(kept.valid), took.eq(complete), tested.eq(kept.test),
                     *[raw[i].eq(bus.adc[i].code) for i in range(NA)],
                     *[codes[i].eq(Mux(take[i], size[i], 0)) for i in range(NA)]]
        cells, _ = pipelined_sum(m, "code_sum", codes)
        lanes, _ = pipelined_sum(m, "shift_adds", [take[i] & ~tested for i in range(NA)])
        m.d.comb += [ev.rows_high.eq(rows), ev.code_sum.eq(cells), ev.shift_adds.eq(lanes)]

    def _test_request(self, m, request, issue, testing, desc, opens):
        """The raw-code test port: the request registered when WAIT takes it (refused, `bad_request`, when
        its ADC, resolution, column or section is out of range), issued as a one-conversion batch of its
        own (an activation: its section, drive and column on the bus, one ADC), never accumulated."""
        p, tst, NA = self.params, self.test, self.params.hw.n_adc
        req, served, load_req = request
        with m.If(~tst.en):
            m.d.sync += served.eq(0)
        # The request's counted period (an activation of its own, the next batch opening one too) made
        # when it is taken, a register.
        self._req_period, self._req_short = Signal(PERIOD_WIDTH, name="test_period"), Signal(name="test_short")
        tm = self.timing
        per, sh = period_parts(tst.res, tm.front, 1, tm.hold, tm.none)
        with m.If(load_req):
            m.d.sync += [req.section.eq(tst.section), req.drive.eq(tst.drive), req.col.eq(tst.col),
                         req.res.eq(tst.res), req.adc.eq(tst.adc), served.eq(1), self._req_period.eq(per),
                         self._req_short.eq(sh)]
            if p.bipolar:
                m.d.sync += req.drive_neg.eq(tst.drive_neg)
        # The column: a slot column, or with ADC groups the column within the ADC's group.
        cols = Mux(tst.adc == NA - 1, p.hw.slot_cols - (NA - 1) * p.hw.adc_mux, p.hw.adc_mux) if p.hw.adc_mux \
            else p.hw.slot_cols
        m.d.comb += self.bad_request.eq(load_req & ((tst.adc >= NA) | (tst.res == 0) | (tst.res > p.conv_bits)
                                                    | (tst.col >= cols) | (tst.section >= max(1, p.section_depth))))
        with m.If(testing):
            m.d.comb += [desc.valid.eq(Cat(req.adc == i for i in range(NA))), desc.longest.eq(req.res),
                         *[desc.cols[i].res.eq(req.res) for i in range(NA)], desc.new_plane.eq(0),
                         desc.first.eq(0), desc.last.eq(0), desc.test.eq(1), opens.eq(1)]
        with m.If(issue & testing):
            m.d.sync += [self.bus.section.eq(req.section), self.bus.drive.eq(req.drive),
                         *[self.bus.adc[i].col.eq(req.col) for i in range(NA)]]
            if p.bipolar:
                m.d.sync += self.bus.drive_neg.eq(req.drive_neg)
