"""The section walk: reads the section table in order and, for each section with an active column, steps
the gather through its rows and columns `lanes` at a time (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from .interface import ProgSignature
from .params import TileParams
from .tables import table_read

__all__ = ["SectionWalker"]


class SectionWalker(wiring.Component):
    """The section table and the walk over it, states IDLE, SECTION, READ, WORD, GATHER.

    After `start` (the cycle after a vector's last input) it walks sections 0..n_sec-1. Per section:
    SECTION presents the section's table address, READ waits for the block RAM, WORD has the registered
    word; a section without active columns is skipped (`mapper.schedule.EMPTY_SECTION` cycles), otherwise,
    once `next` is free (`full` low), `begin` and GATHER: ceil(max(rows, n_active) / lanes) gather steps,
    one a cycle, each presenting `lanes` row-index and column-table addresses. The section word is read a
    cycle ahead (its address is the next section's, p_sec + 1 kept as a register) and registered twice,
    with whether it is empty compared into a register beside it, so that WORD's clock enables follow
    flip-flops only.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        The section table's contents, or (None) an empty table written through `prog`.

    Attributes
    ----------
    start : In(1)
        Begin the walk at section 0 (IDLE only).
    n_sec : In
        Sections of the layer.
    full, freed : In(1)
        `next` holds a section (or is being gathered into): WORD waits; `next` is taken this cycle (its
        valid and ready: `full` falls).
    begin : Out(1)
        WORD takes a non-empty section into the gather this cycle: `sec` and `word` are its index and
        word (registers). A register computed the cycle before (WORD next, the section not empty and
        `next` free next), so that the gather's clock enables over `next` and the walk's addresses
        follow a flip-flop: the same cycles.
    sec : Out
        The current section's index.
    word : Out(section_layout)
        The current section's word (a register).
    gathering, pos, last : Out
        A gather step this cycle (GATHER), its position (rows and columns pos .. pos + lanes - 1), and
        whether it is the section's last.
    row_addr, col_addr : Out(ArrayLayout(., lanes))
        The step's table addresses, lane l at pos + l (registers).
    rows_left, cols_left : Out(ArrayLayout(., lanes))
        Lane l's row (column) at position pos belongs to the section when pos < rows_left[l]
        (cols_left[l]): rows - l and n_active - l clamped at 0, registered at `begin`.
    idle : Out(1)
        IDLE.
    walked : Out(1)
        A section is walked this cycle (its word decoded in WORD; empty ones included).
    prog : In(ProgSignature)
        Generic netlist only: table writes.
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None):
        self.params, self.plan = params, plan
        p, P = params, params.lanes
        R, SC = p.hw.rows, p.hw.slot_cols
        layout = p.section_layout
        members = {
            "start": In(1), "n_sec": In(range(p.section_depth + 1)), "full": In(1), "freed": In(1),
            "begin": Out(1), "sec": Out(range(p.section_depth + 1)), "word": Out(layout),
            "gathering": Out(1), "pos": Out(range(max(R, SC) + P + 1)), "last": Out(1),
            "row_addr": Out(data.ArrayLayout(layout["row_base"].width + 1, P)),
            "col_addr": Out(data.ArrayLayout(layout["col_base"].width + 1, P)),
            "rows_left": Out(data.ArrayLayout(range(R + 1), P)),
            "cols_left": Out(data.ArrayLayout(range(SC + 1), P)),
            "idle": Out(1), "walked": Out(1),
        }
        if plan is None:
            members["prog"] = In(ProgSignature(params))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        p, plan, P = self.params, self.plan, self.params.lanes
        R, SC = p.hw.rows, p.hw.slot_cols
        p_sec = self.sec
        p_sec1 = Signal(range(p.section_depth + 2))     # p_sec + 1, a register: the table address has no adder
        # The section word is read a cycle ahead: the address of the next section (0 in IDLE, p_sec + 1
        # otherwise, which is the next section in the cycle before SECTION), so that the block RAM's
        # register has no other load and sits beside it, and the word the FSM decodes is a second
        # register, loaded in READ.
        sec_addr = Signal(range(p.section_depth + 2))
        sec_pre = table_read(m, "sections", p.section_layout.size, p.section_depth,
                             None if plan is None else p.section_words(plan), sec_addr, "sec_pre",
                             self.prog if plan is None else None, platform)
        sec = self.word
        sec_empty = Signal(name="sec_empty")
        pos = self.pos
        # max(rows, n_active) - 2 * lanes, a register: the next step is the last when pos reaches it (one
        # comparison, no adder in front of it).
        thr = Signal(range(-2 * P, max(R, SC) + 1), name="g_threshold")

        # `begin` = WORD & ~sec_empty & ~full, as a register: WORD follows READ, or WORD waiting on a full
        # `next` (not empty, full), when `next` is taken; `full` next is `full` until `next` is taken.
        begin = Signal(name="walk_begin")
        m.d.comb += self.begin.eq(begin)
        with m.FSM(name="prefetch") as fsm:
            with m.State("IDLE"):
                # Held at the first section in IDLE, not loaded on `start`: `start` (the input handshake)
                # then enables only the state register.
                m.d.sync += [p_sec.eq(0), p_sec1.eq(1)]
                with m.If(self.start):
                    m.next = "SECTION"
            with m.State("SECTION"):
                with m.If(p_sec == self.n_sec):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "READ"
            with m.State("READ"):
                empty_next = p.section_layout(sec_pre)["n_active"] == 0
                m.d.sync += [sec.eq(sec_pre), sec_empty.eq(empty_next),
                             begin.eq(~empty_next & ~(self.full & ~self.freed))]
                m.next = "WORD"
            with m.State("WORD"):
                with m.If(sec_empty):
                    m.d.sync += [p_sec.eq(p_sec1), p_sec1.eq(p_sec1 + 1)]
                    m.d.comb += self.walked.eq(1)
                    m.next = "SECTION"
                with m.Elif(begin):
                    m.d.comb += self.walked.eq(1)
                    m.next = "GATHER"
            with m.State("GATHER"):
                m.d.comb += self.gathering.eq(1)
                m.d.sync += [pos.eq(pos + P), self.last.eq(pos >= thr)]   # pos + 2 * lanes >= max(rows, n_active)
                m.d.sync += [self.row_addr[l].eq(self.row_addr[l] + P) for l in range(P)]
                m.d.sync += [self.col_addr[l].eq(self.col_addr[l] + P) for l in range(P)]
                with m.If(self.last):
                    m.d.sync += [p_sec.eq(p_sec1), p_sec1.eq(p_sec1 + 1)]
                    m.next = "SECTION"
        with m.If(~fsm.ongoing("READ")):
            m.d.sync += begin.eq(fsm.ongoing("WORD") & ~sec_empty & ~begin & self.full & self.freed)
        with m.If(self.begin):
            rows, nact = sec["rows"], sec["n_active"]
            m.d.sync += [
                pos.eq(0), thr.eq(Mux(rows > nact, rows - 2 * P, nact - 2 * P)),
                self.last.eq((rows <= P) & (nact <= P)),
                *[self.rows_left[l].eq(Mux(rows > l, rows - l, 0)) for l in range(P)],
                *[self.cols_left[l].eq(Mux(nact > l, nact - l, 0)) for l in range(P)],
                *[self.row_addr[l].eq(sec["row_base"] + l) for l in range(P)],
                *[self.col_addr[l].eq(sec["col_base"] + l) for l in range(P)]]
        m.d.comb += [self.idle.eq(fsm.ongoing("IDLE")), sec_addr.eq(Mux(fsm.ongoing("IDLE"), 0, p_sec1))]
        return m
