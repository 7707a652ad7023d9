"""The crossbar controller: runs a plan's sections through the array interface and accumulates the outputs.

Per input vector: LOAD takes K inputs from the stream; RUN walks the sections; OUT streams N outputs.
In RUN two units overlap:
- prefetch: reads section s+1's table word, then gathers its rows' inputs through the row-index table
  and its active columns from the column table, `lanes` rows and columns a cycle, into the `next` buffer;
- issue: for each plane t and each batch of up to n_adc active columns of the current section, starts
  the ADCs with the plane's row drive in the first cycle the bank is free (the cycle the previous batch's
  last ADC is done), so a plane of a section takes exactly its batches' longest resolutions, back to back.
Codes are shift-added with their sign, bit weight and plane weight into G per-section accumulators, and
each finished section is added into the output accumulator memory (one word per output group).
Sign-magnitude inputs and input-aware resolution (docs/design.md section 6): the steps are walked by
hwgen.steps.StepWalker; input-aware, each step's driven rows are counted during the gather, steps that
drive no row are skipped and conversions start at min(res, bitlen(q)) bits.
The schedule depends on the plan only (and, input-aware, on the inputs): `sim.golden.cycle_model` predicts it.
"""

from __future__ import annotations

from amaranth import Cat, Const, Elaboratable, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import Out

from mapper.plan import LayerPlan

from .interface import PROG_SELECT, adc_lanes, ArraySignature, host_members, layer_word_layout
from .params import TileParams
from .shift_add import ShiftAdd, tree_sum
from .steps import StepWalker, step_tables

__all__ = ["Controller"]

LOAD, RUN, OUT, CLEAR = 0, 1, 2, 3
P_IDLE, P_S0, P_S1, P_S2, P_GATHER = 0, 1, 2, 3, 4


class _CombBlock(Elaboratable):
    """Combinational logic split off into its own fragment: the simulator re-evaluates a fragment's
    combinational logic whenever any of its inputs changes, so logic that changes rarely goes here."""

    def __init__(self):
        self.m = Module()

    def elaborate(self, platform):
        return self.m


class Controller(wiring.Component):
    """Sequencer, configuration ROMs, input buffer, gather, row driver, accumulators and counters.

    Latency: K cycles to load, then the RUN time of `sim.golden.cycle_model`, then 1 + N cycles to
    stream the outputs (with a stall-free input and output stream). One vector at a time.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        With a plan, the ROMs are initialized from it and the netlist is specific to it; without, the
        ROMs are empty and written through `prog`, and one netlist serves any plan that fits `params`.

    Attributes
    ----------
    i : In(stream.Signature(signed(A)))
        Input stream, one input per beat, K beats per vector.
    o : Out(stream.Signature(signed(acc_width)))
        Output stream, N beats per vector, in output order.
    bus : Out(ArraySignature)
        The array interface: section, row drive, and per ADC start/res/col/done/code.
    counters : Out(CounterSignature)
        Running totals since reset.
    prog : In(ProgSignature)
        Generic netlist only: ROM and layer-register writes.
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None):
        if plan is not None:
            params.fits(plan)
        self.params = params
        self.plan = plan
        super().__init__({**host_members(params, plan is None), "bus": Out(ArraySignature(params))})

    def elaborate(self, platform):
        m = Module()
        p, cfg, plan = self.params, self.params.hw, self.plan
        R, A, G, SC, NA, P = cfg.rows, cfg.input_bits, cfg.group, cfg.slot_cols, cfg.n_adc, p.lanes
        W, FR = p.acc_width, cfg.full_resolution
        generic = plan is None
        # Drive hardware other than two's complement weight-only walks the steps (hwgen.steps) and weighs
        # each batch by its step's exponent; the default keeps the plane counter and Horner's rule.
        signmag, aware = cfg.input_encoding == "signmag", cfg.input_aware
        walk, S = signmag or aware, cfg.steps

        # Configuration ROMs, input buffer, output accumulators ---------------------------------------
        def rom(name, width, depth, words):
            mem = Memory(shape=unsigned(width), depth=max(1, depth), init=[] if generic else words)
            m.submodules[name] = mem
            return mem

        sec_mem = rom("sections", p.section_layout.size, p.section_depth,
                      None if generic else p.section_words(plan))
        row_mem = rom("rows", p.widths["rows"]["index"], p.row_depth, None if generic else p.row_words(plan))
        col_mem = rom("columns", p.column_layout.size, p.column_depth, None if generic else p.column_words(plan))
        m.submodules.inputs = in_mem = Memory(shape=unsigned(A), depth=p.k, init=[])
        m.submodules.acc = acc_mem = Memory(shape=unsigned(G * W), depth=p.n_groups, init=[])

        if generic:
            n_sec = Signal(range(p.section_depth + 1))
            k_len = Signal(range(p.k + 1), init=p.k)
            n_out = Signal(range(p.n + 1), init=p.n)
            prog = self.prog
            for sel, mem in (("sections", sec_mem), ("rows", row_mem), ("columns", col_mem)):
                wp = mem.write_port()
                m.d.comb += [wp.addr.eq(prog.addr), wp.data.eq(prog.data),
                             wp.en.eq(prog.we & (prog.sel == PROG_SELECT[sel]))]
            with m.If(prog.we & (prog.sel == PROG_SELECT["layer"])):
                word = layer_word_layout(p)(prog.data[:layer_word_layout(p).size])
                m.d.sync += [n_sec.eq(word.sections), k_len.eq(word.k), n_out.eq(word.n)]
        else:
            n_sec, k_len, n_out = Const(p.section_depth), Const(p.k), Const(p.n)

        # After a reset the controller first zeroes the output accumulators (a reset in the middle of a
        # vector must not leak its partial sums into the next one), one word a cycle, then takes inputs.
        phase = Signal(2, init=CLEAR)
        cnt = self.counters

        # LOAD: the input stream fills the input buffer ----------------------------------------------
        k = Signal(range(p.k + 1))
        in_wp = in_mem.write_port()
        m.d.comb += [in_wp.addr.eq(k), in_wp.data.eq(self.i.payload)]
        if signmag:
            # Sign-magnitude inputs are held as magnitude (bits 0..A-2) and sign (bit A-1).
            x_in, x_neg = self.i.payload, self.i.payload[A - 1]
            m.d.comb += in_wp.data.eq(Cat(Mux(x_neg, -x_in, x_in)[:A - 1], x_neg))
        p_state = Signal(3)
        p_sec = Signal(range(p.section_depth + 1))
        with m.If(phase == LOAD):
            m.d.comb += self.i.ready.eq(1)
            with m.If(self.i.valid):
                m.d.comb += in_wp.en.eq(1)
                with m.If(k == k_len - 1):
                    m.d.sync += [k.eq(0), phase.eq(RUN), p_state.eq(P_S0), p_sec.eq(0)]
                with m.Else():
                    m.d.sync += k.eq(k + 1)
        with m.If((phase != CLEAR) & ((phase != LOAD) | (k != 0) | self.i.valid)):
            m.d.sync += cnt.cycles.eq(cnt.cycles + 1)

        # Prefetch: section word, then `lanes` rows and columns a cycle into the `next` buffer -------
        sec_rp = sec_mem.read_port()
        m.d.comb += sec_rp.addr.eq(p_sec)
        # Every block RAM's read data goes straight into a register (a DP16KD's clock-to-output time,
        # 5.8 ns in nextpnr-ecp5's speed grade 6 model, leaves no room for logic in the same cycle).
        sec_q = Signal(p.section_layout.size)
        m.d.sync += sec_q.eq(sec_rp.data)
        sec = p.section_layout(sec_q)
        row_rp = [row_mem.read_port() for _ in range(P)]
        col_rp = [col_mem.read_port() for _ in range(P)]
        in_rp = [in_mem.read_port() for _ in range(P)]

        col_layout = data.StructLayout({"col": range(max(2, SC)), "sign": 1, "bit": range(max(2, cfg.weight_bits)),
                                        "res": p.res_width, "j": range(max(2, G))})
        g_pos = Signal(range(max(R, SC) + P + 1))
        g_len = Signal(range(max(R, SC) + 1))
        g_rows = Signal(range(R + 1))
        g_nact = Signal(range(SC + 1))
        g_row_base = Signal(len(sec["row_base"]))
        g_col_base = Signal(len(sec["col_base"]))
        g_out_base = Signal(len(sec["out_base"]))
        nxt_full, nxt_ready = Signal(), Signal()
        nxt_sec = Signal.like(p_sec)
        nxt_nact = Signal.like(g_nact)
        nxt_group = Signal(range(max(2, p.n_groups)))
        # Wide signals rather than lists of small ones: simulation updates each signal of a domain every cycle.
        nxt_x = Signal(data.ArrayLayout(unsigned(R), A), name="nxt_planes")   # plane-major: the drive of plane t
        nxt_col = Signal(data.ArrayLayout(col_layout, SC), name="nxt_cols")
        nxt_q = Signal(data.ArrayLayout(range(R + 1), S), name="nxt_counts")    # input-aware: rows driven per step

        group_of = sec["out_base"] if G == 1 else (
            sec["out_base"] >> (G.bit_length() - 1) if G & (G - 1) == 0 else sec["out_base"] // G)
        with m.Switch(p_state):
            with m.Case(P_S0):
                m.d.sync += p_state.eq(Mux(p_sec == n_sec, P_IDLE, P_S1))
            with m.Case(P_S1):
                m.d.sync += p_state.eq(P_S2)
            with m.Case(P_S2):
                with m.If(sec["n_active"] == 0):
                    m.d.sync += [p_sec.eq(p_sec + 1), p_state.eq(P_S0), cnt.sections.eq(cnt.sections + 1)]
                with m.Elif(~nxt_full):
                    m.d.sync += [
                        g_pos.eq(0), g_len.eq(Mux(sec["rows"] > sec["n_active"], sec["rows"], sec["n_active"])),
                        g_rows.eq(sec["rows"]), g_nact.eq(sec["n_active"]), g_row_base.eq(sec["row_base"]),
                        g_col_base.eq(sec["col_base"]), g_out_base.eq(sec["out_base"]),
                        nxt_sec.eq(p_sec), nxt_nact.eq(sec["n_active"]), nxt_group.eq(group_of),
                        nxt_full.eq(1), p_state.eq(P_GATHER), cnt.sections.eq(cnt.sections + 1)]
                    if aware:
                        m.d.sync += nxt_q.eq(0)
            with m.Case(P_GATHER):
                m.d.sync += g_pos.eq(g_pos + P)
                with m.If(g_pos + P >= g_len):
                    m.d.sync += [p_sec.eq(p_sec + 1), p_state.eq(P_S0)]
        for l in range(P):
            m.d.comb += [row_rp[l].addr.eq(g_row_base + g_pos + l), col_rp[l].addr.eq(g_col_base + g_pos + l)]

        # Stage 1: table words arrive and are registered. Stage 2: columns land in `next`, the registered
        # row indices address the input buffer. Stage 3: inputs arrive and are registered. Stage 4: they
        # land in `next`'s rows.
        row_q = [Signal.like(row_rp[l].data, name=f"row_q{l}") for l in range(P)]
        col_q = [Signal.like(col_rp[l].data, name=f"col_q{l}") for l in range(P)]
        in_q = [Signal.like(in_rp[l].data, name=f"in_q{l}") for l in range(P)]
        m.d.sync += [row_q[l].eq(row_rp[l].data) for l in range(P)]
        m.d.sync += [col_q[l].eq(col_rp[l].data) for l in range(P)]
        m.d.sync += [in_q[l].eq(in_rp[l].data) for l in range(P)]
        for l in range(P):
            m.d.comb += in_rp[l].addr.eq(row_q[l])
        sv = [Signal(name=f"g{i}_valid") for i in range(5)]
        sl = [Signal(name=f"g{i}_last") for i in range(5)]
        spos = [Signal.like(g_pos, name=f"g{i}_pos") for i in range(5)]
        m.d.comb += [sv[0].eq(p_state == P_GATHER), spos[0].eq(g_pos), sl[0].eq(g_pos + P >= g_len)]
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
                                m.d.sync += [nxt_col[c].col.eq(f["slot_col"]), nxt_col[c].sign.eq(f["sign"]),
                                             nxt_col[c].bit.eq(f["bit"]), nxt_col[c].res.eq(f["res"]),
                                             nxt_col[c].j.eq(f["out"] - g_out_base)]
        with m.If(sv[4]):
            with m.Switch(spos[4][lp2:]):
                for q in range(-(-R // P)):
                    with m.Case(q):
                        for l in range(P):
                            r = q * P + l
                            if r < R:
                                with m.If(r < g_rows):
                                    m.d.sync += [nxt_x[tt][r].eq(in_q[l][tt]) for tt in range(A)]
            with m.If(sl[4]):
                m.d.sync += nxt_ready.eq(1)

        def step_bit(word, i):
            """The drive of issue step i from the planes of inputs as held (two's complement, or magnitude
            bits 0..A-2 and sign A-1): `word[j]` is plane j (one input's bit, or R rows' bits)."""
            pp = p.step_order[i]
            if not signmag:
                return word[pp]
            return word[pp % (A - 1)] & (word[A - 1] if pp >= A - 1 else ~word[A - 1])

        if aware:
            # Rows driven per step, added up as the rows land in `next` (in the same cycle: a popcount of
            # `lanes` bits and an add per step); lane l is a row of the section when ok[l].
            ok = [Signal(name=f"g4_row{l}") for l in range(P)]
            m.d.sync += [ok[l].eq(spos[3] + l < g_rows) for l in range(P)]
            with m.If(sv[4]):
                for i in range(S):
                    m.d.sync += nxt_q[i].eq(nxt_q[i] + tree_sum(step_bit(in_q[l], i) & ok[l] for l in range(P)))

        # Issue: batches of up to n_adc columns, plane by plane, the bank restarted as it frees ------
        cur_valid = Signal()
        cur_sec = Signal.like(p_sec)
        cur_nact = Signal.like(g_nact)
        cur_group = Signal.like(nxt_group)
        cur_x = Signal.like(nxt_x, name="cur_planes")
        cur_col = Signal.like(nxt_col, name="cur_cols")
        t = Signal(range(max(A, S)), init=A - 1)     # planes run sign plane first (Horner's rule in ShiftAdd)
        b = Signal(range(p.batches))
        b_end = Signal(range(p.batches * NA + NA + 1), init=NA)
        inflight = Signal()
        pending = Signal(NA)
        adc = adc_lanes(self.bus, NA)
        done_all = (~pending | self.bus.adc_done).all()
        issue = Signal()
        # `pending` is all zero when nothing is in flight, so done_all covers ~inflight.
        m.d.comb += issue.eq(cur_valid & done_all)
        # Registered flags (the comparisons run the cycle before): b is the plane's last batch, t the last plane.
        last_batch = Signal()
        last_plane = Signal()
        cur_one = Signal()          # the current section has a single batch a plane
        if walk:
            # The steps in issue order, skipped and bounded by their popcounts on input-aware hardware.
            m.submodules.steps = walker = StepWalker(p)
            t, last_plane = walker.step, walker.last
            cur_first = Signal()    # the section's first batch is next
            eff_res = [Signal.like(adc[i].res, name=f"res{i}") for i in range(NA)] if aware else None

        lane = Signal(data.ArrayLayout(col_layout, NA), name="lanes")
        lane_valid = Signal(NA)
        # The batch and plane selection change once per batch: their own submodule keeps simulation
        # from re-evaluating these wide multiplexers every cycle.
        m.submodules.select = sel = _CombBlock()
        with sel.m.Switch(b):
            for bb in range(p.batches):
                with sel.m.Case(bb):
                    for i in range(NA):
                        c = bb * NA + i
                        if c < SC:
                            sel.m.d.comb += [lane[i].eq(cur_col[c]), lane_valid[i].eq(c < cur_nact)]
        with sel.m.Switch(t):
            for tt in range(S if walk else A):
                with sel.m.Case(tt):
                    sel.m.d.comb += self.bus.drive.eq(step_bit(cur_x, tt) if walk else cur_x[tt])
        m.d.comb += self.bus.section.eq(cur_sec)
        m.d.comb += self.bus.adc_start.eq(Mux(issue, lane_valid, 0))
        for i in range(NA):
            if aware:
                # Input-aware: min(res, bitlen(q)).
                sel.m.d.comb += eff_res[i].eq(Mux(lane[i].res > walker.bound, walker.bound, lane[i].res))
            sel.m.d.comb += [adc[i].res.eq(eff_res[i] if aware else lane[i].res), adc[i].col.eq(lane[i].col)]

        # What is in flight, for the accumulator.
        f_valid = Signal(NA)
        f_col = Signal.like(lane, name="flight")
        f_first, f_new_plane, f_negate = Signal(), Signal(), Signal()
        f_shift = Signal(range(max(2, A))) if walk else None
        f_last = Signal()
        f_group = Signal.like(nxt_group)
        complete = inflight & done_all
        with m.If(issue):
            m.d.sync += [inflight.eq(1), pending.eq(lane_valid), f_valid.eq(lane_valid),
                         f_first.eq((t == A - 1) & (b == 0)), f_new_plane.eq(b == 0),
                         f_negate.eq((t == A - 1) if cfg.input_signed else 0),
                         f_last.eq(last_batch & last_plane), f_group.eq(cur_group),
                         f_col.eq(lane),
                         cnt.planes.eq(cnt.planes + (b == 0))]
            if walk:
                shifts, negates = step_tables(p)
                m.d.sync += [f_first.eq(cur_first), cur_first.eq(0)]
                m.d.sync += [f_col[i].res.eq(eff_res[i]) for i in range(NA) if aware]
                with m.Switch(t):
                    for tt in range(S):
                        with m.Case(tt):
                            m.d.sync += [f_shift.eq(shifts[tt]), f_negate.eq(negates[tt])]
            with m.If(last_batch):
                if walk:
                    m.d.sync += [b.eq(0), b_end.eq(NA), last_batch.eq(cur_one)]
                    m.d.comb += walker.advance.eq(1)
                else:
                    m.d.sync += [b.eq(0), b_end.eq(NA), t.eq(Mux(last_plane, A - 1, t - 1)),
                                 last_batch.eq(cur_one), last_plane.eq(Mux(last_plane, A == 1, t == 1))]
                with m.If(last_plane):
                    m.d.sync += cur_valid.eq(0)
            with m.Else():
                m.d.sync += [b.eq(b + 1), b_end.eq(b_end + NA), last_batch.eq(b_end + NA >= cur_nact)]
        with m.Else():
            with m.If(complete):
                m.d.sync += inflight.eq(0)
            m.d.sync += pending.eq(pending & ~self.bus.adc_done)
        # Conversions by resolution, from the registered batch: count it (one stage), then add (another).
        f_fresh = Signal()
        m.d.sync += f_fresh.eq(issue)
        batch_count = [Signal(range(NA + 1), name=f"batch_conversions{res}") for res in range(FR + 1)]
        counted = Signal()
        m.d.sync += counted.eq(f_fresh)
        with m.If(f_fresh):
            for res in range(1, FR + 1):
                m.d.sync += batch_count[res].eq(tree_sum(f_valid[i] & (f_col[i].res == res) for i in range(NA)))
        with m.If(counted):
            for res in range(1, FR + 1):
                m.d.sync += cnt.conversions[res].eq(cnt.conversions[res] + batch_count[res])
        # The next section moves to `current` once the current one has issued its last batch (the cycle
        # after): the copy's enable then comes from registers only, not from the ADCs' done.
        with m.If(nxt_ready & ~cur_valid):
            m.d.sync += [cur_valid.eq(1), cur_sec.eq(nxt_sec), cur_nact.eq(nxt_nact), cur_group.eq(nxt_group),
                         cur_x.eq(nxt_x), cur_col.eq(nxt_col),
                         *([] if walk else [t.eq(A - 1)]), b.eq(0), b_end.eq(NA), nxt_full.eq(0), nxt_ready.eq(0),
                         cur_one.eq(nxt_nact <= NA), last_batch.eq(nxt_nact <= NA),
                         *([] if walk else [last_plane.eq(A == 1)])]
            if walk:
                # A section whose steps drive no row (input-aware) leaves `next` and issues nothing.
                m.d.comb += [walker.load.eq(1), walker.counts.eq(nxt_q)]
                m.d.sync += [cur_valid.eq(walker.live), cur_first.eq(1)]

        # Accumulate: the batch's codes, shift-added into the section's G local sums -----------------
        m.submodules.shift_add = acc = ShiftAdd(cfg, code_width=p.code_width, acc_width=W,
                                                group_width=len(nxt_group), step_shift=walk)
        # An ADC holds its code until its next start, so when the batch's last ADC is done, every code is there.
        m.d.comb += [acc.capture.eq(complete), acc.last.eq(f_last), acc.first.eq(f_first),
                     acc.new_plane.eq(f_new_plane), acc.negate.eq(f_negate), acc.group.eq(f_group),
                     *([acc.shift.eq(f_shift)] if walk else []),
                     acc.lane_valid.eq(f_valid), acc.code.eq(self.bus.adc_code)]
        for i in range(NA):
            m.d.comb += [acc.sign[i].eq(f_col[i].sign), acc.bit[i].eq(f_col[i].bit), acc.j[i].eq(f_col[i].j)]
        a_valid, flush_valid, flush_group = acc.busy, acc.flush_valid, acc.flush_group
        flush_val = [acc.flush[j] for j in range(G)]

        # Flush: read-modify-write of the group's word in the accumulator memory ---------------------
        acc_wp = acc_mem.write_port()
        acc_rp = acc_mem.read_port(transparent_for=(acc_wp,))
        m.d.comb += acc_rp.en.eq(0)
        f2_valid = Signal()
        f2_group = Signal.like(nxt_group)
        f2_val = [Signal(signed(W), name=f"flush2_{j}") for j in range(G)]
        m.d.sync += [f2_valid.eq(flush_valid), f2_group.eq(flush_group), *[f2_val[j].eq(flush_val[j]) for j in range(G)]]
        with m.If(flush_valid):
            m.d.comb += [acc_rp.addr.eq(flush_group), acc_rp.en.eq(1)]
        # The block RAM's output is registered before the add: its clock-to-output time leaves no room for
        # a carry chain in the same cycle.
        f3_valid = Signal()
        f3_group = Signal.like(nxt_group)
        f3_val = [Signal(signed(W), name=f"flush3_{j}") for j in range(G)]
        f3_old = Signal(G * W)
        m.d.sync += [f3_valid.eq(f2_valid), f3_group.eq(f2_group), *[f3_val[j].eq(f2_val[j]) for j in range(G)]]
        with m.If(f2_valid):
            m.d.sync += f3_old.eq(acc_rp.data)
        # The accumulator memory is written from registers only (address, data, enable): the sum, the
        # clear after reset and the clear behind the output stream all land here a cycle before the write.
        # With 3 steps or more, weight-only, flushes are at least 3 cycles apart (a section's batches take
        # at least one cycle a step), so a flush's read (cycle T) sees the previous flush of the same group,
        # written at T at the latest, through the read port's transparency.
        wr_en = Signal()
        wr_addr = Signal.like(nxt_group)
        wr_data = Signal(G * W)
        m.d.comb += [acc_wp.addr.eq(wr_addr), acc_wp.data.eq(wr_data), acc_wp.en.eq(wr_en)]
        m.d.sync += [wr_en.eq(0), wr_data.eq(0)]
        old = f3_old
        if walk or S < 3:
            # Sections can end 1 or 2 cycles apart (one short step, one batch: input-aware hardware, or
            # fewer than 3 steps), before the previous flush of their group is written (3 cycles after its
            # read): its sum is then taken from the write in flight or the write before.
            wr1_en, wr1_addr, wr1_data = Signal(), Signal.like(wr_addr), Signal.like(wr_data)
            m.d.sync += [wr1_en.eq(wr_en), wr1_addr.eq(wr_addr), wr1_data.eq(wr_data)]
            old = Mux(wr_en & (wr_addr == f3_group), wr_data, Mux(wr1_en & (wr1_addr == f3_group), wr1_data, f3_old))
        with m.If(f3_valid):
            m.d.sync += [wr_en.eq(1), wr_addr.eq(f3_group),
                         wr_data.eq(Cat((old[j * W:(j + 1) * W].as_signed() + f3_val[j])[:W] for j in range(G)))]

        run_done = (p_state == P_IDLE) & ~nxt_full & ~cur_valid & ~inflight & ~a_valid & ~flush_valid & ~f2_valid & \
            ~f3_valid & ~wr_en & ~f_fresh & ~counted
        og = Signal(range(p.n_groups + 1))
        oj = Signal(range(max(2, G)))
        oidx = Signal(range(p.n + 1))
        o_fetch = Signal()
        with m.If((phase == RUN) & run_done):
            m.d.sync += [phase.eq(OUT), og.eq(0), oj.eq(0), oidx.eq(0), o_fetch.eq(1)]

        clear = Signal(range(max(2, p.n_groups)))
        with m.If(phase == CLEAR):
            m.d.sync += [wr_addr.eq(clear), wr_en.eq(1), clear.eq(clear + 1)]
            with m.If(clear == p.n_groups - 1):
                m.d.sync += [phase.eq(LOAD), clear.eq(0)]

        # OUT: stream the outputs in order, clearing each accumulator word as it leaves ---------------
        o_left = Signal.like(oidx)       # outputs after the current one
        o_last = Signal()                # the current output is the layer's last (o_left == 0), registered
        o_jlast = Signal()               # the current output is its group's last (oj == G - 1), registered
        with m.If((phase == RUN) & run_done):
            m.d.sync += [o_left.eq(n_out - 1), o_last.eq(n_out == 1), o_jlast.eq(G == 1)]
        with m.If(phase == OUT):
            with m.If(o_fetch):
                m.d.comb += [acc_rp.addr.eq(og), acc_rp.en.eq(1)]
                m.d.sync += o_fetch.eq(0)
            with m.Else():
                m.d.comb += self.o.valid.eq(1)
                with m.Switch(oj):
                    for j in range(G):
                        with m.Case(j):
                            m.d.comb += self.o.payload.eq(acc_rp.data[j * W:(j + 1) * W].as_signed())
                with m.If(self.o.ready):
                    m.d.sync += [oidx.eq(oidx + 1), o_left.eq(o_left - 1), o_last.eq(o_left == 1)]
                    with m.If(o_jlast | o_last):
                        m.d.comb += [acc_rp.addr.eq(og + 1), acc_rp.en.eq(1)]
                        m.d.sync += [wr_addr.eq(og), wr_en.eq(1),
                                     oj.eq(0), og.eq(og + 1), o_jlast.eq(G == 1)]
                        with m.If(o_last):
                            m.d.sync += [phase.eq(LOAD), og.eq(0), oidx.eq(0)]
                    with m.Else():
                        m.d.sync += [oj.eq(oj + 1), o_jlast.eq(oj == G - 2)]
        return m
