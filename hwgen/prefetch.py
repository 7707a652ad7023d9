"""Prefetch and gather: walks the section table and gathers each section's row inputs and active columns
into the `next` buffer, which the scheduler takes."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from .bram import flush_and_stream_ram, registered_read
from .interface import COUNTER_WIDTH, PROG_SELECT, ProgSignature, next_section_layout
from .params import TileParams
from .shift_add import tree_sum
from .steps import step_drive

__all__ = ["Prefetch", "table_shape", "DP16KD_SHAPES"]


#: The ECP5 DP16KD block RAM's true dual-port shapes (depth, width): 18 kbit, or 16 kbit below width 9.
#: (512 x 36 is pseudo dual-port only, its read and write on two ports: see `_table_read`.)
DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))


def table_shape(width: int, depth: int) -> tuple[int, int]:
    """(bank depth, slice width) of a table of `depth` words of `width` bits cut into banks and slices of
    one DP16KD each: the fewest banks, then the fewest block RAMs. Each piece then maps to one block RAM
    whose read data goes straight into a register (on ECP5 its own output register); a table of several
    banks has a bank multiplexer behind those registers, which in the row-index table's path (registered
    word, multiplexer, the input buffer's address) costs about 1.5 ns at 150 MHz: one bank of 8192 2-bit
    slices (5 block RAMs) beats four banks of 2048 9-bit words (4)."""
    def cost(shape):
        d, w = shape
        return -(-depth // d), -(-depth // d) * -(-width // w)
    d, w = min(DP16KD_SHAPES, key=cost)
    return min(d, 1 << max(0, depth - 1).bit_length()), min(w, width)


def _table_read(m, name, width, depth, words, addr, qname, prog=None, platform=None):
    """One read of a table (a copy of it for each read), in banks and slices of one block RAM each
    (`table_shape`), with 2 cycles of latency: `addr` in cycle T, the word (returned) in T + 2 from
    registers: each bank's read data is registered (`hwgen.bram.registered_read`: on ECP5 the DP16KD's own
    output register), then the bank is chosen by the address's registered high bits, so the multiplexer
    sits behind the registers.

    A generic table's write (`prog`) and the read share one address (the write's while it writes): each
    block RAM then has one read-write port, whose read-during-write behaviour it has natively; a write and
    a read on two ports would make Yosys emulate the read's collision behaviour with a multiplexer behind
    the block RAM's output, where no logic fits."""
    depth = max(1, depth)
    bank, piece = table_shape(width, depth)
    bits = (bank - 1).bit_length()
    writing = None if prog is None else prog.we & (prog.sel == PROG_SELECT[name])
    at = Signal(len(addr), name=f"{qname}_addr")
    m.d.comb += at.eq(addr if prog is None else Mux(writing, prog.addr, addr))
    qs = []
    for b in range(-(-depth // bank)):
        size = min(bank, depth - b * bank)
        datas = []
        for lo in range(0, width, piece):
            w = min(piece, width - lo)
            init = [] if words is None else [(v >> lo) & ((1 << w) - 1) for v in words[b * bank:][:size]]
            write = None if prog is None else (writing & (at[bits:] == b), prog.data[lo:lo + w])
            datas.append(registered_read(m, f"{qname}_b{b}_s{lo // piece}", width=w, depth=size, addr=at[:bits],
                                         init=init, write=write, platform=platform))
        q = Signal(width, name=f"{qname}_bank{b}")
        m.d.comb += q.eq(Cat(datas))
        qs.append(q)
    out = Signal(width, name=qname)
    if len(qs) == 1:
        m.d.comb += out.eq(qs[0])
        return out
    sel1, sel2 = Signal(range(len(qs)), name=f"{qname}_sel1"), Signal(range(len(qs)), name=f"{qname}_sel2")
    m.d.sync += [sel1.eq(at[bits:]), sel2.eq(sel1)]
    with m.Switch(sel2):
        for b, q in enumerate(qs):
            with m.Case(b):
                m.d.comb += out.eq(q)
    return out


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
    sections : Out(COUNTER_WIDTH)
        Sections walked since reset.
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

        prog = self.prog if generic else None
        # What the input buffer holds: the input as it came (two's complement), or its magnitude (bits
        # 0..A-2) and sign (bit A-1) on sign-magnitude hardware.
        # W = `beat` inputs a word, input e of the word in bits [e * A, (e + 1) * A).
        BT = p.beat
        lb = BT.bit_length() - 1
        load_word = Signal(A * BT, name="load_word")
        m.d.comb += load_word.eq(self.load_data)
        if cfg.input_encoding == "signmag":
            for e in range(BT):
                x = self.load_data[e * A:(e + 1) * A]
                neg = x[A - 1]
                m.d.comb += load_word[e * A:(e + 1) * A].eq(Cat(Mux(neg, -x.as_signed(), x)[:A - 1], neg))

        # The section word, registered.
        p_sec = Signal(range(p.section_depth + 1))
        p_sec1 = Signal(range(p.section_depth + 2))     # p_sec + 1, a register: the table address has no adder
        # The section word is read a cycle ahead: the address of the next section (0 in IDLE, p_sec + 1
        # otherwise, which is the next section in the cycle before SECTION), so that the block RAM's
        # register has no other load and sits beside it, and the word the FSM decodes is a second
        # register, loaded in READ.
        sec_addr = Signal(range(p.section_depth + 2))
        sec_pre = _table_read(m, "sections", p.section_layout.size, p.section_depth,
                              None if generic else p.section_words(plan), sec_addr, "sec_pre", prog, platform)
        sec_q = Signal(p.section_layout.size)
        sec = p.section_layout(sec_q)
        # The section has no active column (n_active == 0): compared in READ into a register, so that
        # WORD's clock enables (the gather's addresses and counters) follow flip-flops only.
        sec_empty = Signal(name="sec_empty")

        g_pos = Signal(range(max(R, SC) + P + 1))
        # max(rows, n_active) - 2 * lanes, a register: the next step is the last when g_pos reaches it (one
        # comparison, no adder in front of it).
        g_thr = Signal(range(-2 * P, max(R, SC) + 1), name="g_threshold")
        g_last = Signal()                          # the current step is the section's last (g_pos + P >= max(rows, n_active))
        # Lane l's row (column) at position pos belongs to the section when pos < rows - l (n_active - l):
        # the limits per lane, stored at WORD (0 when the section has no more than l rows), unsigned, so
        # that the comparison is one carry chain with no adder in front.
        g_rows = [Signal(range(R + 1), name=f"g_rows{l}") for l in range(P)]
        g_nact = [Signal(range(SC + 1), name=f"g_nact{l}") for l in range(P)]
        # The lanes' table addresses, registers: row_base + pos + l and col_base + pos + l.
        row_addr = [Signal(len(sec["row_base"]) + 1, name=f"row_addr{l}") for l in range(P)]
        col_addr = [Signal(len(sec["col_base"]) + 1, name=f"col_addr{l}") for l in range(P)]
        g_out_base = Signal(len(sec["out_base"]))
        nxt = self.next.payload
        nxt_full = Signal()        # a section is being gathered into `next`, or waits there
        group_of = sec["out_base"] if G == 1 else (
            sec["out_base"] >> (G.bit_length() - 1) if G & (G - 1) == 0 else sec["out_base"] // G)

        lp2 = P.bit_length() - 1
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
                m.d.sync += [sec_q.eq(sec_pre), sec_empty.eq(p.section_layout(sec_pre)["n_active"] == 0)]
                m.next = "WORD"
            with m.State("WORD"):
                with m.If(sec_empty):
                    m.d.sync += [p_sec.eq(p_sec1), p_sec1.eq(p_sec1 + 1), self.sections.eq(self.sections + 1)]
                    m.next = "SECTION"
                with m.Elif(~nxt_full):
                    m.d.sync += [
                        g_pos.eq(0),
                        g_thr.eq(Mux(sec["rows"] > sec["n_active"], sec["rows"] - 2 * P, sec["n_active"] - 2 * P)),
                        g_last.eq((sec["rows"] <= P) & (sec["n_active"] <= P)),
                        *[g_rows[l].eq(Mux(sec["rows"] > l, sec["rows"] - l, 0)) for l in range(P)],
                        *[g_nact[l].eq(Mux(sec["n_active"] > l, sec["n_active"] - l, 0)) for l in range(P)],
                        g_out_base.eq(sec["out_base"]),
                        *[row_addr[l].eq(sec["row_base"] + l) for l in range(P)],
                        *[col_addr[l].eq(sec["col_base"] + l) for l in range(P)],
                        nxt.sec.eq(p_sec), nxt.n_active.eq(sec["n_active"]), nxt.group.eq(group_of),
                        nxt_full.eq(1), self.sections.eq(self.sections + 1)]
                    if cfg.input_aware:
                        m.d.sync += nxt.counts.eq(0)
                    m.next = "GATHER"
            with m.State("GATHER"):
                m.d.sync += g_pos.eq(g_pos + P)
                m.d.sync += [row_addr[l].eq(row_addr[l] + P) for l in range(P)]
                m.d.sync += [col_addr[l].eq(col_addr[l] + P) for l in range(P)]
                m.d.sync += g_last.eq(g_pos >= g_thr)      # g_pos + 2 * lanes >= max(rows, n_active)
                with m.If(g_last):
                    m.d.sync += [p_sec.eq(p_sec1), p_sec1.eq(p_sec1 + 1)]
                    m.next = "SECTION"
        m.d.comb += [self.idle.eq(fsm.ongoing("IDLE") & ~nxt_full),
                     sec_addr.eq(Mux(fsm.ongoing("IDLE"), 0, p_sec1))]

        # Stage 1: table words arrive and are registered. Stage 2: columns land in `next`, the registered
        # row indices address the input buffer. Stage 3: inputs arrive and are registered. Stage 4: they
        # land in `next`'s planes.
        row_q = [_table_read(m, "rows", p.widths["rows"]["index"], p.row_depth, None if generic else p.row_words(plan),
                             row_addr[l], f"row_q{l}", prog, platform) for l in range(P)]
        col_q = [_table_read(m, "columns", p.column_layout.size, p.column_depth,
                             None if generic else p.column_words(plan), col_addr[l], f"col_q{l}", prog, platform) for l in range(P)]
        # The input buffer, a copy per lane, written in LOAD and read in RUN through one address. With W
        # inputs a word, row r reads word r // W and takes element r % W of the registered word.
        in_q = [Signal(A, name=f"in_q{l}") for l in range(P)]
        # Double-buffered, the buffer holds two vectors (the address's top bit picks one): the loader writes
        # `load_sel`'s while the walk reads `run_sel`'s, on two ports of the accumulator's kind of memory
        # (`hwgen.bram.flush_and_stream_ram`: on ECP5 DP16KDs whose output register holds the read word).
        kb = max(1, (p.k_words - 1).bit_length())
        for l in range(P):
            if cfg.double_buffer:
                # The gather reads on port A (through the DP16KD's output register on ECP5), the loader
                # writes on port B (its read data unused).
                word, _ = flush_and_stream_ram(
                    m, f"inputs{l}_", width=A * BT, depth=2 << kb,
                    a_addr=Cat((row_q[l] >> lb)[:kb], self.run_sel), a_en=1,
                    b_addr=Cat(self.load_addr[:kb], self.load_sel), b_en=self.load_en, b_we=self.load_en,
                    b_data=load_word, platform=platform)
            else:
                at = Signal(range(p.k_words), name=f"inputs{l}_addr")
                m.d.comb += at.eq(Mux(self.loading, self.load_addr, row_q[l] >> lb))
                word = registered_read(m, f"inputs{l}", width=A * BT, depth=p.k_words, addr=at,
                                       write=(self.load_en, load_word), platform=platform)
            if BT == 1:
                m.d.comb += in_q[l].eq(word)
            else:
                # The element index follows the word: registered with the read, then with the word.
                elem_d, elem_q = Signal(lb, name=f"in_elem_d{l}"), Signal(lb, name=f"in_elem{l}")
                m.d.sync += [elem_d.eq(row_q[l][:lb]), elem_q.eq(elem_d)]
                with m.Switch(elem_q):
                    for e in range(BT):
                        with m.Case(e):
                            m.d.comb += in_q[l].eq(word[e * A:(e + 1) * A])
        sv = [Signal(name=f"g{i}_valid") for i in range(5)]
        sl = [Signal(name=f"g{i}_last") for i in range(5)]
        spos = [Signal.like(g_pos, name=f"g{i}_pos") for i in range(5)]
        m.d.comb += [sv[0].eq(fsm.ongoing("GATHER")), spos[0].eq(g_pos), sl[0].eq(g_last)]
        for i in range(1, 5):
            m.d.sync += [sv[i].eq(sv[i - 1]), spos[i].eq(spos[i - 1]), sl[i].eq(sl[i - 1])]
        # Which of `next`'s columns (stage 2) and rows (stage 4) land: a register per column and per row,
        # decoded a stage ahead from the position and whether lane l's column or row belongs to the section
        # (pos < n_active - l, pos < rows - l: compared another stage ahead into registers), so that each of
        # `next`'s clock enables comes straight from a flip-flop and no add or compare precedes the decode.
        NQC, NQR = -(-SC // P), -(-R // P)
        col_ok = [Signal(name=f"g1_col{l}") for l in range(P)]
        row_ok = [Signal(name=f"g3_row{l}") for l in range(P)]
        m.d.sync += [col_ok[l].eq(spos[0] < g_nact[l]) for l in range(P)]
        m.d.sync += [row_ok[l].eq(spos[2] < g_rows[l]) for l in range(P)]
        land_col = Signal(NQC * P, name="g2_land")
        land_row = Signal(NQR * P, name="g4_land")
        m.d.sync += land_col.eq(Cat(sv[1] & (spos[1][lp2:] == q) & col_ok[l] for q in range(NQC) for l in range(P)))
        m.d.sync += land_row.eq(Cat(sv[3] & (spos[3][lp2:] == q) & row_ok[l] for q in range(NQR) for l in range(P)))
        for c in range(SC):
            f = p.column_layout(col_q[c % P])
            with m.If(land_col[c]):
                m.d.sync += [nxt.cols[c].col.eq(f["slot_col"]), nxt.cols[c].sign.eq(f["sign"]),
                             nxt.cols[c].bit.eq(f["bit"]), nxt.cols[c].res.eq(f["res"]),
                             nxt.cols[c].j.eq(f["out"] - g_out_base)]
        for r in range(R):
            with m.If(land_row[r]):
                m.d.sync += [nxt.planes[tt][r].eq(in_q[r % P][tt]) for tt in range(A)]
        ok = [Signal(name=f"g4_row{l}") for l in range(P)]        # lane l's row belongs to the section
        m.d.sync += [ok[l].eq(row_ok[l]) for l in range(P)]           # spos[3] < g_rows[l], a stage later
        with m.If(sv[4] & sl[4]):
            m.d.sync += self.next.valid.eq(1)
        # Each batch's longest resolution, in two register stages that run while `next` is not valid (its
        # payload holds while valid): which resolutions batch b's active columns have (`has`, from `act`,
        # the columns below n_active, registered since WORD), then the highest of them. The last columns
        # land at stage 2 (cycle X), `has` sees them at X + 1, `longest` at X + 2, the cycle stage 4 raises
        # valid: the scheduler's take copies `longest` without a comparison in front of it.
        FR, NA = cfg.full_resolution, cfg.n_adc
        act = Signal(SC, name="next_active")
        m.d.sync += act.eq(Cat(c < nxt.n_active for c in range(SC)))
        has = [Signal(FR + 1, name=f"next_has{bb}") for bb in range(p.batches)]
        for bb in range(p.batches):
            lanes = [c for c in range(bb * NA, min(SC, bb * NA + NA))]
            m.d.sync += has[bb].eq(Cat(0, *(Cat(act[c] & (nxt.cols[c].res == r) for c in lanes).any()
                                            for r in range(1, FR + 1))))
            with m.If(~self.next.valid):
                m.d.sync += nxt.longest[bb].eq(0)
                for r in range(1, FR + 1):
                    with m.If(has[bb][r]):
                        m.d.sync += nxt.longest[bb].eq(r)
        if cfg.adc_mux:
            # ADC groups: each group's first entry (a popcount of the active entries below its first slot
            # column) and whether every group has at most one active column, in the same two register
            # stages, so that the scheduler's take copies registers.
            M = cfg.adc_mux
            below = [Signal(SC, name=f"next_below{i}") for i in range(NA)]
            m.d.sync += [below[i].eq(Cat(act[c] & (nxt.cols[c].col < i * M) for c in range(SC))) for i in range(NA)]
            shared = Signal(max(1, SC - 1), name="next_shared")     # entries c and c + 1 active, one group
            m.d.sync += shared.eq(Cat(act[c + 1] & (nxt.cols[c].col // M == nxt.cols[c + 1].col // M)
                                      for c in range(SC - 1)))
            with m.If(~self.next.valid):
                m.d.sync += [*[nxt.starts[i].eq(tree_sum(below[i][c] for c in range(SC))) for i in range(NA)],
                             nxt.one.eq(~shared.any())]
        if cfg.input_aware:
            # Each step's driven rows: a popcount of the `lanes` rows landing, added in the same cycle;
            # lane l holds a row of the section when ok[l].
            with m.If(sv[4]):
                for i in range(cfg.steps):
                    m.d.sync += nxt.counts[i].eq(
                        nxt.counts[i] + tree_sum(step_drive(p, in_q[l], i) & ok[l] for l in range(P)))
        with m.If(self.next.valid & self.next.ready):
            m.d.sync += [self.next.valid.eq(0), nxt_full.eq(0)]
        return m
