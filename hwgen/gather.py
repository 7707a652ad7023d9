"""The gather: a section's rows' inputs and active columns, `lanes` a step, through the pipeline stages of
`mapper.schedule.gather_stages` into the `next` buffer; and the summary of each gathered section that the
scheduler's take copies (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from mapper.schedule import gather_stages

from .interface import next_section_layout
from .params import TileParams
from .shift_add import tree_sum
from .steps import step_drive, step_drive_neg

__all__ = ["Gather", "SectionSummary"]


class Gather(wiring.Component):
    """The gather's pipeline (stages `GATHER_STAGES`, one a cycle) and the `next` buffer it fills.

    `begin` (the section walk's WORD) takes the section's index, active columns and output group and
    marks `next` full. Each gather step (`gathering`, at position `pos`) then goes down the stages: at
    "address" the walk presents the tables' addresses; "table" is their block RAMs' read; at "columns"
    the column entries land (lane l's when pos < cols_left[l], compared a stage ahead) while the row
    indices address the input buffer; "input" is its read (with W > 1 inputs a word, "element" its
    element's register); at "rows" the inputs land in the planes (lane
    l's when pos < rows_left[l]) and, on input-aware hardware, each drive step's driven rows are added up
    (bipolar: those driven +1 into `counts`, those driven -1 into `counts_neg`).
    Which entries land is decoded a stage ahead into a register per column and per row, so each of
    `next`'s clock enables comes straight from a flip-flop. `valid` rises the cycle after the last step's
    rows land and falls the cycle after `ready`.

    Attributes
    ----------
    begin, sec, word : In
        A section starts (`hwgen.sections.SectionWalker`): its index and table word.
    gathering, pos, last, rows_left, cols_left : In
        The walk's gather step (SectionWalker's).
    col_word : In(ArrayLayout(column_layout, lanes))
        The column-table words of the step two cycles before ("columns" stage).
    value : In(ArrayLayout(A, lanes))
        The inputs of the step at "rows" (four cycles before, five with W > 1), from the input buffer.
    section : Out(next_section_layout)
        The gathered section (without `longest`, `starts` and `one`: `SectionSummary`'s).
    valid : Out(1), ready : In(1)
        `next`'s handshake.
    full : Out(1)
        A section is being gathered into `next`, or waits there.
    row_reads, column_reads : Out
        This cycle's row-index (and input buffer) and column-table words read for the section: the lanes
        of a step that belong to it, counted at "input" and "table".
    """

    def __init__(self, params: TileParams):
        self.params = params
        P, A = params.lanes, params.hw.input_bits
        walk = {"begin": In(1), "sec": In(range(params.section_depth + 1)), "word": In(params.section_layout),
                "gathering": In(1), "pos": In(range(max(params.hw.rows, params.hw.slot_cols) + P + 1)),
                "last": In(1), "rows_left": In(data.ArrayLayout(range(params.hw.rows + 1), P)),
                "cols_left": In(data.ArrayLayout(range(params.hw.slot_cols + 1), P))}
        super().__init__({**walk, "col_word": In(data.ArrayLayout(params.column_layout, P)),
                          "value": In(data.ArrayLayout(A, P)), "section": Out(next_section_layout(params)),
                          "valid": Out(1), "ready": In(1), "full": Out(1),
                          "row_reads": Out(range(P + 1)), "column_reads": Out(range(P + 1))})

    def elaborate(self, platform):
        m = Module()
        p, cfg, P = self.params, self.params.hw, self.params.lanes
        R, A, G, SC = cfg.rows, cfg.input_bits, cfg.group, cfg.slot_cols
        nxt, word = self.section, self.word
        out_base = Signal(len(word["out_base"]), name="g_out_base")
        group_of = word["out_base"] if G == 1 else (
            word["out_base"] >> (G.bit_length() - 1) if G & (G - 1) == 0 else word["out_base"] // G)
        # A new section: the planes cleared, so that rows past its `rows` drive nothing.
        with m.If(self.begin):
            m.d.sync += [out_base.eq(word["out_base"]), nxt.sec.eq(self.sec), nxt.n_active.eq(word["n_active"]),
                         nxt.rows.eq(word["rows"]),
                         nxt.group.eq(group_of), self.full.eq(1), nxt.planes.eq(0)]
            if cfg.input_aware:
                m.d.sync += nxt.counts.eq(0)
                if p.bipolar:
                    m.d.sync += nxt.counts_neg.eq(0)

        # The stages: a step's valid, position and last flag, passed down one stage a cycle.
        stages = gather_stages(p.beat)
        stage = {}
        for i, name in enumerate(stages):
            regs = (Signal(name=f"g_{name}_valid"), Signal.like(self.pos, name=f"g_{name}_pos"),
                    Signal(name=f"g_{name}_last"))
            if i == 0:
                m.d.comb += [regs[0].eq(self.gathering), regs[1].eq(self.pos), regs[2].eq(self.last)]
            else:
                m.d.sync += [r.eq(q) for r, q in zip(regs, stage[stages[i - 1]])]
            stage[name] = regs
        lp2 = P.bit_length() - 1

        def landing(at, left, count, what, reads):
            """Registers, one per entry, set in the stage after `at` for the entries of the step at `at`
            that belong to the section (pos < left[l], compared into a register in the stage before);
            `reads` counts them."""
            before = stages[stages.index(at) - 1]
            ok = [Signal(name=f"g_{at}_{what}{l}") for l in range(P)]
            m.d.sync += [ok[l].eq(stage[before][1] < left[l]) for l in range(P)]
            land = Signal(-(-count // P) * P, name=f"g_land_{what}")
            valid, pos, _ = stage[at]
            m.d.sync += land.eq(Cat(valid & (pos[lp2:] == q) & ok[l] for q in range(-(-count // P)) for l in range(P)))
            m.d.comb += reads.eq(tree_sum(valid & ok[l] for l in range(P)))
            return land, ok

        # Columns land at "columns", decoded at "table"; rows at "rows", decoded the stage before.
        land_col, _ = landing("table", self.cols_left, SC, "col", self.column_reads)
        land_row, row_ok = landing(stages[-2], self.rows_left, R, "row", self.row_reads)
        # Each view looked up once: a lookup builds a new View (under cProfile, these loops' views were about
        # 6% of emitting a tile).
        cols, planes = [nxt.cols[c] for c in range(SC)], [nxt.planes[tt] for tt in range(A)]
        col_words = [p.column_layout(self.col_word[l]) for l in range(P)]
        values = [[self.value[l][tt] for tt in range(A)] for l in range(P)]
        for c in range(SC):
            f, e = col_words[c % P], cols[c]
            with m.If(land_col[c]):
                # A resolution in the controller is the conversion's bits: the bipolar drive's sign bit added.
                m.d.sync += [e.col.eq(f["slot_col"]), e.sign.eq(f["sign"]), e.bit.eq(f["bit"]),
                             e.res.eq(f["res"] + cfg.sign_bits), e.j.eq(f["out"] - out_base)]
        for r in range(R):
            with m.If(land_row[r]):
                m.d.sync += [planes[tt][r].eq(values[r % P][tt]) for tt in range(A)]
        rows_valid, _, rows_last = stage["rows"]
        if cfg.input_aware:
            # Each step's driven rows: a popcount of the `lanes` rows landing, added in the same cycle.
            ok = [Signal(name=f"g_rows_row{l}") for l in range(P)]      # lane l's row belongs to the section
            m.d.sync += [ok[l].eq(row_ok[l]) for l in range(P)]
            with m.If(rows_valid):
                for i in range(cfg.steps):
                    if p.bipolar:       # the rows driven +1 and those driven -1, counted apart
                        neg = [step_drive_neg(p, self.value[l], i) for l in range(P)]
                        m.d.sync += [
                            nxt.counts[i].eq(nxt.counts[i] + tree_sum(
                                step_drive(p, self.value[l], i) & ~neg[l] & ok[l] for l in range(P))),
                            nxt.counts_neg[i].eq(nxt.counts_neg[i] + tree_sum(neg[l] & ok[l] for l in range(P)))]
                        continue
                    m.d.sync += nxt.counts[i].eq(
                        nxt.counts[i] + tree_sum(step_drive(p, self.value[l], i) & ok[l] for l in range(P)))
        with m.If(rows_valid & rows_last):
            m.d.sync += self.valid.eq(1)
        with m.If(self.valid & self.ready):
            m.d.sync += [self.valid.eq(0), self.full.eq(0)]
        return m


class SectionSummary(wiring.Component):
    """What the scheduler's take copies from a gathered section besides its entries, found in two register
    stages while `next` is not valid (its payload holds while valid): `longest[b]`, the highest resolution
    among batch b's active columns (columns b * n_adc .. b * n_adc + n_adc - 1 below n_active; 0 if none);
    with ADC groups of M = adc_mux columns also `starts[i]`, the active entries whose slot column is below
    i * M (group i's first entry), and `one`, every group holds at most one active column. The last
    columns land at "columns" (cycle X), the first stage sees them at X + 1, the result is there at X + 2,
    the cycle `valid` rises.

    Attributes
    ----------
    section : In(next_section_layout)
        The section in `next` (Gather's).
    valid : In(1)
        `next` is valid: the results hold.
    longest, starts, one : Out
        As `next_section_layout`'s fields.
    """

    def __init__(self, params: TileParams):
        self.params = params
        layout = next_section_layout(params)
        super().__init__({"section": In(layout), "valid": In(1), "longest": Out(layout["longest"].shape),
                          **({"starts": Out(layout["starts"].shape), "one": Out(1)} if params.hw.adc_mux else {})})

    def elaborate(self, platform):
        m = Module()
        p, cfg, nxt = self.params, self.params.hw, self.section
        FR, NA, SC = p.conv_bits, cfg.n_adc, cfg.slot_cols
        act = Signal(SC, name="next_active")
        n_active, cols = nxt.n_active, [nxt.cols[c] for c in range(SC)]    # each view looked up once
        res, col = [e.res for e in cols], [e.col for e in cols]
        m.d.sync += act.eq(Cat(c < n_active for c in range(SC)))
        has = [Signal(FR + 1, name=f"next_has{bb}") for bb in range(p.batches)]
        for bb in range(p.batches):
            lanes = range(bb * NA, min(SC, bb * NA + NA))
            m.d.sync += has[bb].eq(Cat(0, *(Cat(act[c] & (res[c] == r) for c in lanes).any()
                                            for r in range(1, FR + 1))))
            with m.If(~self.valid):
                m.d.sync += self.longest[bb].eq(0)
                for r in range(1, FR + 1):
                    with m.If(has[bb][r]):
                        m.d.sync += self.longest[bb].eq(r)
        if cfg.adc_mux:
            M = cfg.adc_mux
            below = [Signal(SC, name=f"next_below{i}") for i in range(NA)]
            m.d.sync += [below[i].eq(Cat(act[c] & (col[c] < i * M) for c in range(SC))) for i in range(NA)]
            shared = Signal(max(1, SC - 1), name="next_shared")     # entries c and c + 1 active, one group
            m.d.sync += shared.eq(Cat(act[c + 1] & (col[c] // M == col[c + 1] // M)
                                      for c in range(SC - 1)))
            with m.If(~self.valid):
                m.d.sync += [*[self.starts[i].eq(tree_sum(below[i][c] for c in range(SC))) for i in range(NA)],
                             self.one.eq(~shared.any())]
        return m
