"""The conversion scheduler: starts the ADC bank on a section's active columns, batch by batch and plane by
plane, and hands each finished batch to the accumulator (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .batches import BatchCursor, BatchSelect
from .counters import ConversionTally
from .front import FrontPhases
from .handshake import AdcHandshake
from .interface import (COUNTER_WIDTH, ArraySignature, BatchSignature, RawCodeSignature, column_entry_layout,
                        next_section_layout)
from .params import TileParams

__all__ = ["Scheduler", "BatchSelect"]


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
    raw-code conversion. Its parts: `hwgen.batches.BatchCursor` (the current section and its next batch),
    `hwgen.front.FrontPhases` (pch, wl_en, sh), `hwgen.handshake.AdcHandshake` (start, done and when the
    bank is free) and `hwgen.counters.ConversionTally`.

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

    def _flight(self) -> data.StructLayout:
        """A batch's description, registered at its issue (`snapshot`), at its start and for its capture."""
        cfg = self.params.hw
        return data.StructLayout({"valid": cfg.n_adc, "cols": data.ArrayLayout(column_entry_layout(self.params), cfg.n_adc),
                                  "first": 1, "new_plane": 1, "negate": 1, "last": 1,
                                  "group": next_section_layout(self.params)["group"].shape, "test": 1,
                                  **({"shift": range(max(2, cfg.input_bits))} if self.params.walks_steps else {})})

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        NA, tp = cfg.n_adc, self.test_port
        m.submodules.cursor = cur = BatchCursor(p)
        m.submodules.front = front = FrontPhases(p.timing)
        m.submodules.handshake = hs = AdcHandshake(p)
        m.submodules.tally = tally = ConversionTally(NA, cfg.full_resolution, p.res_width)
        bus, adc = self.bus, self.bus.adc
        issue, testing = Signal(), Signal()
        m.d.comb += [cur.section.eq(self.next.payload), cur.advance.eq(issue & ~testing)]
        if tp:
            tst = self.test
            req = Signal(data.StructLayout({name: getattr(tst, name).shape()
                                            for name in ("section", "drive", "col", "res", "adc")}), name="test_request")
            served, load_req = Signal(name="test_served"), Signal()

        with m.FSM(name="scheduler") as fsm:
            with m.State("WAIT"):
                m.d.comb += self.next.ready.eq(1)
                with m.If(self.next.valid):
                    m.d.comb += cur.take.eq(1)
                    with m.If(cur.live):      # input-aware: a section that drives no row is dropped
                        m.next = "ISSUE"
                if tp:
                    with m.Elif(tst.en & ~served):
                        m.d.comb += load_req.eq(1)
                        m.next = "TEST"
            if tp:
                with m.State("TEST"):
                    m.d.comb += [testing.eq(1), issue.eq(hs.free)]
                    with m.If(hs.free):
                        m.next = "WAIT"
            with m.State("ISSUE"):
                m.d.comb += issue.eq(hs.free)
                with m.If(issue & cur.end):
                    m.next = "WAIT"

        # At issue (cycle T) the batch's section, row drive and columns go on the bus (from T + 1, held until
        # the next batch's) and its description into `snapshot`; the front phases follow, and the ADCs'
        # start, res and ref load from a second register stage when the front ends, so that they land F
        # cycles after the drive (T + 1 + F) even when the next batch's drive is already on.
        snap, kept = Signal(self._flight(), name="snapshot"), Signal(self._flight(), name="flight")
        lane_valid, res, longest = cur.lane_valid, [cur.lanes[i].res for i in range(NA)], cur.longest
        with m.If(issue):
            m.d.sync += [bus.section.eq(cur.sec), bus.drive.eq(cur.drive),
                         *[adc[i].col.eq(cur.lanes[i].col - i * cfg.adc_mux if cfg.adc_mux else cur.lanes[i].col)
                           for i in range(NA)],
                         snap.valid.eq(cur.lane_valid), snap.cols.eq(cur.lanes), snap.first.eq(cur.first),
                         snap.new_plane.eq(cur.new_plane), snap.negate.eq(cur.negate), snap.last.eq(cur.end),
                         snap.group.eq(cur.group), snap.test.eq(0)]
            if p.walks_steps:
                m.d.sync += snap.shift.eq(cur.shift)
        if tp:      # after the batch's assignments, so that these take precedence
            lane_valid, res, longest = self._test_request(m, (req, served, load_req), issue, testing, snap,
                                                          lane_valid, res, longest)
        issued = Signal()
        m.d.sync += issued.eq(issue)
        with m.If(issued):
            m.d.sync += self.planes.eq(self.planes + snap.new_plane)
        m.d.comb += [tally.issued.eq(issued), tally.valid.eq(snap.valid),
                     *[tally.res[i].eq(snap.cols[i].res) for i in range(NA)]]
        m.d.comb += self.conversions.eq(tally.conversions)

        m.d.comb += [front.go.eq(issue), bus.pch.eq(front.pch), bus.wl_en.eq(front.wl_en), bus.sh.eq(front.sh)]
        if p.timing.front:
            conv = Signal(self._flight(), name="converting")
            with m.If(front.fire):
                m.d.sync += conv.eq(snap)
            starts, conv_res = snap.valid, [snap.cols[i].res for i in range(NA)]
        else:
            conv, starts, conv_res = snap, lane_valid, res
        m.d.comb += [hs.fire.eq(front.fire), hs.starts.eq(starts), *[hs.res[i].eq(conv_res[i]) for i in range(NA)],
                     hs.done.eq(Cat(adc[i].done for i in range(NA))), hs.issue.eq(issue), hs.longest.eq(longest)]
        m.d.comb += [*[adc[i].start.eq(hs.start[i]) for i in range(NA)],
                     *[adc[i].res.eq(hs.res_out[i]) for i in range(NA)], *[adc[i].ref.eq(hs.res_out[i]) for i in range(NA)]]
        with m.If(hs.started):
            m.d.sync += kept.eq(conv)

        self._capture(m, hs.complete, kept, req if tp else None)
        m.d.comb += self.busy.eq(fsm.ongoing("ISSUE") | testing | hs.inflight | hs.started | front.active | tally.busy)
        return m

    def _capture(self, m, complete, kept, req):
        """The finished batch to the accumulator (`batch`), or a test conversion's code to `test`: an ADC
        holds its code until its next start, so when the batch's last ADC is done, every code is there."""
        bt, adc = self.batch, self.bus.adc
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

    def _test_request(self, m, request, issue, testing, snap, lane_valid, res, longest):
        """The raw-code test port: the request registered when WAIT takes it, issued as a one-conversion
        batch of its own (its section, drive and column on the bus, one ADC), never accumulated. Returns
        the lanes' valid bits, resolutions and the longest conversion with the request's in TEST."""
        tst, NA = self.test, self.params.hw.n_adc
        req, served, load_req = request
        with m.If(~tst.en):
            m.d.sync += served.eq(0)
        with m.If(load_req):
            m.d.sync += [req.section.eq(tst.section), req.drive.eq(tst.drive), req.col.eq(tst.col),
                         req.res.eq(tst.res), req.adc.eq(tst.adc), served.eq(1)]
        onehot = Cat(req.adc == i for i in range(NA))
        lane_valid = Mux(testing, onehot, lane_valid)
        with m.If(issue & testing):
            m.d.sync += [self.bus.section.eq(req.section), self.bus.drive.eq(req.drive),
                         *[self.bus.adc[i].col.eq(req.col) for i in range(NA)], snap.valid.eq(lane_valid),
                         *[snap.cols[i].res.eq(req.res) for i in range(NA)], snap.new_plane.eq(0),
                         snap.first.eq(0), snap.last.eq(0), snap.test.eq(1)]
        return lane_valid, [Mux(testing, req.res, r) for r in res], Mux(testing, req.res, longest)
