"""Prefetch and gather: walks the section table and gathers each section's row inputs and active columns
into the `next` buffer, which the scheduler takes."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from .interface import COUNTER_WIDTH, PROG_SELECT, ProgSignature, next_section_layout
from .params import TileParams
from .shift_add import tree_sum
from .steps import step_drive

__all__ = ["Prefetch"]


class Prefetch(wiring.Component):
    """The section, row-index and column tables, the input buffer, and the gather into `next`.

    After `start` (the cycle after a vector's last input is written) it walks sections 0..n_sec-1. Per
    section: SECTION presents the section's table address, READ waits for the block RAM, WORD has the
    registered word; a section without active columns is skipped (3 cycles), otherwise, once `next` is free,
    GATHER reads `lanes` row indices and column entries a cycle, max(rows, n_active) / lanes cycles. Each
    gather step's columns land in `next` 3 cycles later (table read, register) and its inputs 5 cycles later
    (table read, register, input buffer read, register); `next.valid` rises with the last step's inputs
    and falls the cycle after the scheduler takes it (`next.ready`). The walk overlaps the scheduler's work
    on the previous section: `sim.golden.cycle_model` counts its cycles.

    Sign-magnitude hardware holds each input as its magnitude (bits 0..A-2) and sign (bit A-1), converted
    as it is written. Input-aware hardware also adds up, per drive step, the section's rows it drives
    (`next.payload.counts`), in the cycles its inputs land in `next`: `next.valid` comes no later.

    Every block RAM's read data goes straight into a register: a DP16KD's clock-to-output time (5.8 ns in
    nextpnr-ecp5's speed grade 6 model) leaves no room for logic in the same cycle.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        The tables' contents, or (None) empty tables written through `prog`.

    Attributes
    ----------
    load_en, load_addr, load_data : In
        A write into the input buffer (input `load_addr` of the vector).
    start : In(1)
        Begin the walk at section 0 (only while `idle`).
    n_sec : In
        Sections of the layer.
    next : Out(stream.Signature(next_section_layout))
        The gathered section; its payload holds while valid.
    idle : Out(1)
        The walk is over and `next` is empty.
    sections : Out(COUNTER_WIDTH)
        Sections walked since reset.
    prog : In(ProgSignature)
        Generic netlist only: table writes.
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None):
        self.params, self.plan = params, plan
        members = {
            "load_en": In(1), "load_addr": In(range(params.k)), "load_data": In(params.hw.input_bits),
            "start": In(1), "n_sec": In(range(params.section_depth + 1)),
            "next": Out(stream.Signature(next_section_layout(params))),
            "idle": Out(1), "sections": Out(COUNTER_WIDTH),
        }
        if plan is None:
            members["prog"] = In(ProgSignature(params))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        p, cfg, plan = self.params, self.params.hw, self.plan
        R, A, G, SC, P = cfg.rows, cfg.input_bits, cfg.group, cfg.slot_cols, p.lanes
        generic = plan is None

        def rom(name, width, depth, words):
            mem = Memory(shape=unsigned(width), depth=max(1, depth), init=[] if generic else words)
            m.submodules[name] = mem
            if generic:
                wp = mem.write_port()
                m.d.comb += [wp.addr.eq(self.prog.addr), wp.data.eq(self.prog.data),
                             wp.en.eq(self.prog.we & (self.prog.sel == PROG_SELECT[name]))]
            return mem

        sec_mem = rom("sections", p.section_layout.size, p.section_depth, None if generic else p.section_words(plan))
        row_mem = rom("rows", p.widths["rows"]["index"], p.row_depth, None if generic else p.row_words(plan))
        col_mem = rom("columns", p.column_layout.size, p.column_depth, None if generic else p.column_words(plan))
        m.submodules.inputs = in_mem = Memory(shape=unsigned(A), depth=p.k, init=[])
        in_wp = in_mem.write_port()
        m.d.comb += [in_wp.addr.eq(self.load_addr), in_wp.data.eq(self.load_data), in_wp.en.eq(self.load_en)]
        if cfg.input_encoding == "signmag":
            x, neg = self.load_data, self.load_data[A - 1]
            m.d.comb += in_wp.data.eq(Cat(Mux(neg, -x.as_signed(), x)[:A - 1], neg))

        # The section word, registered.
        p_sec = Signal(range(p.section_depth + 1))
        sec_rp = sec_mem.read_port()
        m.d.comb += sec_rp.addr.eq(p_sec)
        sec_q = Signal(p.section_layout.size)
        m.d.sync += sec_q.eq(sec_rp.data)
        sec = p.section_layout(sec_q)

        g_pos = Signal(range(max(R, SC) + P + 1))
        g_len = Signal(range(max(R, SC) + 1))
        g_rows = Signal(range(R + 1))
        g_nact = Signal(range(SC + 1))
        g_row_base = Signal(len(sec["row_base"]))
        g_col_base = Signal(len(sec["col_base"]))
        g_out_base = Signal(len(sec["out_base"]))
        nxt = self.next.payload
        nxt_full = Signal()        # a section is being gathered into `next`, or waits there
        group_of = sec["out_base"] if G == 1 else (
            sec["out_base"] >> (G.bit_length() - 1) if G & (G - 1) == 0 else sec["out_base"] // G)

        with m.FSM(name="prefetch") as fsm:
            with m.State("IDLE"):
                with m.If(self.start):
                    m.d.sync += p_sec.eq(0)
                    m.next = "SECTION"
            with m.State("SECTION"):
                with m.If(p_sec == self.n_sec):
                    m.next = "IDLE"
                with m.Else():
                    m.next = "READ"
            with m.State("READ"):
                m.next = "WORD"
            with m.State("WORD"):
                with m.If(sec["n_active"] == 0):
                    m.d.sync += [p_sec.eq(p_sec + 1), self.sections.eq(self.sections + 1)]
                    m.next = "SECTION"
                with m.Elif(~nxt_full):
                    m.d.sync += [
                        g_pos.eq(0), g_len.eq(Mux(sec["rows"] > sec["n_active"], sec["rows"], sec["n_active"])),
                        g_rows.eq(sec["rows"]), g_nact.eq(sec["n_active"]), g_row_base.eq(sec["row_base"]),
                        g_col_base.eq(sec["col_base"]), g_out_base.eq(sec["out_base"]),
                        nxt.sec.eq(p_sec), nxt.n_active.eq(sec["n_active"]), nxt.group.eq(group_of),
                        nxt_full.eq(1), self.sections.eq(self.sections + 1)]
                    if cfg.input_aware:
                        m.d.sync += nxt.counts.eq(0)
                    m.next = "GATHER"
            with m.State("GATHER"):
                m.d.sync += g_pos.eq(g_pos + P)
                with m.If(g_pos + P >= g_len):
                    m.d.sync += p_sec.eq(p_sec + 1)
                    m.next = "SECTION"
        m.d.comb += self.idle.eq(fsm.ongoing("IDLE") & ~nxt_full)

        # Stage 1: table words arrive and are registered. Stage 2: columns land in `next`, the registered
        # row indices address the input buffer. Stage 3: inputs arrive and are registered. Stage 4: they
        # land in `next`'s planes.
        row_rp = [row_mem.read_port() for _ in range(P)]
        col_rp = [col_mem.read_port() for _ in range(P)]
        in_rp = [in_mem.read_port() for _ in range(P)]
        row_q = [Signal.like(row_rp[l].data, name=f"row_q{l}") for l in range(P)]
        col_q = [Signal.like(col_rp[l].data, name=f"col_q{l}") for l in range(P)]
        in_q = [Signal.like(in_rp[l].data, name=f"in_q{l}") for l in range(P)]
        for l in range(P):
            m.d.comb += [row_rp[l].addr.eq(g_row_base + g_pos + l), col_rp[l].addr.eq(g_col_base + g_pos + l),
                         in_rp[l].addr.eq(row_q[l])]
            m.d.sync += [row_q[l].eq(row_rp[l].data), col_q[l].eq(col_rp[l].data), in_q[l].eq(in_rp[l].data)]
        sv = [Signal(name=f"g{i}_valid") for i in range(5)]
        sl = [Signal(name=f"g{i}_last") for i in range(5)]
        spos = [Signal.like(g_pos, name=f"g{i}_pos") for i in range(5)]
        m.d.comb += [sv[0].eq(fsm.ongoing("GATHER")), spos[0].eq(g_pos), sl[0].eq(g_pos + P >= g_len)]
        for i in range(1, 5):
            m.d.sync += [sv[i].eq(sv[i - 1]), spos[i].eq(spos[i - 1]), sl[i].eq(sl[i - 1])]
        lp2 = P.bit_length() - 1
        with m.If(sv[2]):
            with m.Switch(spos[2][lp2:]):
                for q in range(-(-SC // P)):
                    with m.Case(q):
                        for l in range(P):
                            c = q * P + l
                            if c >= SC:
                                continue
                            f = p.column_layout(col_q[l])
                            with m.If(c < g_nact):
                                m.d.sync += [nxt.cols[c].col.eq(f["slot_col"]), nxt.cols[c].sign.eq(f["sign"]),
                                             nxt.cols[c].bit.eq(f["bit"]), nxt.cols[c].res.eq(f["res"]),
                                             nxt.cols[c].j.eq(f["out"] - g_out_base)]
        with m.If(sv[4]):
            with m.Switch(spos[4][lp2:]):
                for q in range(-(-R // P)):
                    with m.Case(q):
                        for l in range(P):
                            r = q * P + l
                            if r < R:
                                with m.If(r < g_rows):
                                    m.d.sync += [nxt.planes[tt][r].eq(in_q[l][tt]) for tt in range(A)]
            with m.If(sl[4]):
                m.d.sync += self.next.valid.eq(1)
        if cfg.input_aware:
            # Each step's driven rows: a popcount of the `lanes` rows landing, added in the same cycle;
            # lane l holds a row of the section when ok[l].
            ok = [Signal(name=f"g4_row{l}") for l in range(P)]
            m.d.sync += [ok[l].eq(spos[3] + l < g_rows) for l in range(P)]
            with m.If(sv[4]):
                for i in range(cfg.steps):
                    m.d.sync += nxt.counts[i].eq(
                        nxt.counts[i] + tree_sum(step_drive(p, in_q[l], i) & ok[l] for l in range(P)))
        with m.If(self.next.valid & self.next.ready):
            m.d.sync += [self.next.valid.eq(0), nxt_full.eq(0)]
        return m
