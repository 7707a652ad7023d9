"""Prefetch and gather: walks the section table and gathers each section's row inputs and active columns
into the `next` buffer, which the scheduler takes (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from .gather import Gather, SectionSummary
from .inputs import InputBuffer
from .interface import ProgSignature, event_layout, next_section_layout
from .params import TileParams
from .sections import SectionWalker
from .tables import DP16KD_SHAPES, table_read, table_shape

__all__ = ["Prefetch", "table_shape", "DP16KD_SHAPES"]


class Prefetch(wiring.Component):
    """The section, row-index and column tables, the input buffer, and the gather into `next`.

    Its parts: `hwgen.sections.SectionWalker` walks the section table (states IDLE, SECTION, READ, WORD,
    GATHER) from `start` (the cycle after a vector's last input is written); `hwgen.gather.Gather` takes each
    gather step through the stages of `mapper.schedule.GATHER_STAGES` (the row-index and column tables read
    here, `hwgen.inputs.InputBuffer`) into `next`, whose `valid` rises with the last step's inputs and falls
    the cycle after the scheduler takes it; `hwgen.gather.SectionSummary` finds each batch's longest
    resolution meanwhile. The walk overlaps the scheduler's work on the previous section:
    `mapper.schedule.cycle_model` counts its cycles.

    Sign-magnitude hardware holds each input as its magnitude (bits 0..A-2) and sign (bit A-1), converted
    as it is written. Input-aware hardware also adds up, per drive step, the section's rows it drives
    (`next.payload.counts`), in the cycles its inputs land in `next`: `next.valid` comes no later.

    Every block RAM's read data goes straight into a register (`hwgen.bram.registered_read`; on ECP5 the
    DP16KD's own output register): a DP16KD's clock-to-output time without it (5.61 ns in nextpnr-ecp5
    0.11.1's speed grade 6 model) leaves no room for logic, nor for the routing to a fabric register, in
    a 150 MHz cycle.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        The tables' contents, or (None) empty tables written through `prog`.

    Attributes
    ----------
    load_en, load_addr, load_data : In
        A write into the input buffer: word `load_addr` of the vector, W = `beat` inputs (input e of the
        word in bits [e * A, (e + 1) * A)).
    loading : In(1)
        Single buffer only: the buffer is being loaded, so its one address is `load_addr` (else the
        gather's). From a register in the controller, so that the address multiplexer does not wait on the
        input stream's handshake (`load_en`).
    start : In(1)
        Begin the walk at section 0 (only while `idle`).
    n_sec : In
        Sections of the layer.
    next : Out(stream.Signature(next_section_layout))
        The gathered section; its payload holds while valid.
    idle : Out(1)
        The walk is over and `next` is empty.
    events : Out(event_layout)
        This cycle's sections walked and row-index and column words read.
    prog : In(ProgSignature)
        Generic netlist only: table writes.
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None):
        self.params, self.plan = params, plan
        members = {
            "load_en": In(1), "load_addr": In(range(params.k_words)),
            "load_data": In(params.hw.input_bits * params.beat),
            "start": In(1), "n_sec": In(range(params.section_depth + 1)),
            **({"load_sel": In(1), "run_sel": In(1)} if params.hw.double_buffer else {"loading": In(1)}),
            "next": Out(stream.Signature(next_section_layout(params))),
            "idle": Out(1), "events": Out(event_layout(params)),
        }
        if plan is None:
            members["prog"] = In(ProgSignature(params))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        p, cfg, plan, P = self.params, self.params.hw, self.plan, self.params.lanes
        generic = plan is None
        m.submodules.walk = walk = SectionWalker(p, plan)
        m.submodules.inputs = inputs = InputBuffer(p, p.widths["rows"]["index"])
        m.submodules.gather = gather = Gather(p)
        m.submodules.summary = summary = SectionSummary(p)
        prog = self.prog if generic else None
        if generic:
            wiring.connect(m, wiring.flipped(self.prog), walk.prog)
        m.d.comb += [walk.start.eq(self.start), walk.n_sec.eq(self.n_sec), walk.full.eq(gather.full),
                     walk.freed.eq(gather.valid & gather.ready),
                     self.idle.eq(walk.idle & ~gather.full), self.events.sections.eq(walk.walked),
                     self.events.row_reads.eq(gather.row_reads), self.events.column_reads.eq(gather.column_reads)]
        for name in ("begin", "sec", "word", "gathering", "pos", "last", "rows_left", "cols_left"):
            m.d.comb += getattr(gather, name).eq(getattr(walk, name))

        # The row-index and column tables, a read per lane: words in the "columns" stage (two cycles after
        # the addresses). The row indices address the input buffer, whose inputs reach "rows" two later.
        for l in range(P):
            row_q = table_read(m, "rows", p.widths["rows"]["index"], p.row_depth,
                               None if generic else p.row_words(plan), walk.row_addr[l], f"row_q{l}", prog, platform)
            col_q = table_read(m, "columns", p.column_layout.size, p.column_depth,
                               None if generic else p.column_words(plan), walk.col_addr[l], f"col_q{l}", prog,
                               platform)
            m.d.comb += [inputs.row[l].eq(row_q), gather.col_word[l].eq(col_q)]
        m.d.comb += [inputs.load_en.eq(self.load_en), inputs.load_addr.eq(self.load_addr),
                     inputs.load_data.eq(self.load_data), gather.value.eq(inputs.value)]
        if cfg.double_buffer:
            m.d.comb += [inputs.load_sel.eq(self.load_sel), inputs.run_sel.eq(self.run_sel)]
        else:
            m.d.comb += inputs.loading.eq(self.loading)

        # `next`: the gather's registers, and the summary's (found while `next` is not valid).
        nxt = self.next
        m.d.comb += [nxt.payload.eq(gather.section), nxt.valid.eq(gather.valid), gather.ready.eq(nxt.ready),
                     summary.section.eq(gather.section), summary.valid.eq(gather.valid),
                     nxt.payload.longest.eq(summary.longest)]
        if cfg.adc_mux:
            m.d.comb += [nxt.payload.starts.eq(summary.starts), nxt.payload.one.eq(summary.one)]
        return m
