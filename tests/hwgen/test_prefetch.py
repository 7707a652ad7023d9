"""The prefetch and gather alone: every non-empty section lands in `next` with the plan's rows, inputs and
columns, in table order, held while the taker stalls; empty sections are walked and skipped."""

import numpy as np
import pytest
from amaranth.sim import Simulator

from hwgen.params import TileParams
from hwgen.prefetch import Prefetch
from sim.amaranth_sim import program
from tests.sim.cases import rtl_cases

CASES = {c.name: c for c in rtl_cases()}


def _expected(lp, x):
    """What `next` must hold for each non-empty section, from the plan's tables and x alone."""
    cfg, sec, cols = lp.cfg, lp.sections, lp.columns
    a = cfg.hw.input_bits
    want = []
    for s in range(lp.n_sections):
        nact, rows, rb, cb = (int(sec[f][s]) for f in ("n_active", "rows", "row_base", "col_base"))
        if nact == 0:
            continue
        xs = [int(x[int(lp.row_index[rb + r])]) & ((1 << a) - 1) for r in range(rows)]   # two's complement
        planes = [[(v >> t) & 1 for v in xs] for t in range(a)]
        out_base = int(sec["out_base"][s])
        entries = [(int(cols["slot_col"][cb + c]), int(cols["sign"][cb + c]), int(cols["bit"][cb + c]),
                    int(cols["res"][cb + c]), int(cols["out"][cb + c]) - out_base) for c in range(nact)]
        # Each batch's longest resolution: the largest res among each n_adc entries (0 past the last).
        longest = [max((e[3] for e in entries[b0:b0 + cfg.hw.n_adc]), default=0)
                   for b0 in range(0, -(-cfg.hw.slot_cols // cfg.hw.n_adc) * cfg.hw.n_adc, cfg.hw.n_adc)]
        want.append({"sec": s, "n_active": nact, "group": out_base // cfg.hw.group, "rows": rows,
                     "planes": planes, "cols": entries, "longest": longest})
    return want


def _run(lp, x, stall_seed):
    params = TileParams.from_plan(lp)
    dut = Prefetch(params, lp)
    cfg = lp.cfg
    rng = np.random.default_rng(stall_seed)
    got, first_valid = [], {}

    async def bench(ctx):
        ctx.set(dut.n_sec, lp.n_sections)
        for kk, v in enumerate(x):                 # the input buffer, one input a cycle
            ctx.set(dut.load_en, 1)
            ctx.set(dut.loading, 1)
            ctx.set(dut.load_addr, kk)
            ctx.set(dut.load_data, int(v) & ((1 << cfg.hw.input_bits) - 1))
            if kk == len(x) - 1:
                ctx.set(dut.start, 1)
            await ctx.tick()
        ctx.set(dut.load_en, 0)
        ctx.set(dut.loading, 0)
        ctx.set(dut.start, 0)
        cycle = 0                                  # the cycle after the last input, as the cycle model counts
        walked = 0
        while True:
            walked += ctx.get(dut.events.sections)
            if ctx.get(dut.next.valid):
                first_valid.setdefault("cycle", cycle)
                p = ctx.get(dut.next.payload)
                seen = {"sec": p.sec, "n_active": p.n_active, "group": p.group,
                        "planes": [[(int(p.planes[t]) >> r) & 1 for r in range(cfg.hw.rows)]
                                   for t in range(cfg.hw.input_bits)],
                        "cols": [(c.col, c.sign, c.bit, c.res, c.j) for c in list(p.cols)[:p.n_active]],
                        "longest": [int(v) for v in p.longest]}
                if cfg.hw.input_aware:
                    seen["counts"] = [int(q) for q in p.counts]
                    if cfg.hw.input_encoding == "bipolar":
                        seen["counts_neg"] = [int(q) for q in p.counts_neg]
                take = rng.random() < 0.3
                ctx.set(dut.next.ready, take)
                if got and got[-1][1] is False:
                    assert seen == got[-1][0], f"cycle {cycle}: `next` changed while waiting"
                    got[-1] = (seen, take)
                else:
                    got.append((seen, take))
            else:
                ctx.set(dut.next.ready, 0)
                if ctx.get(dut.idle):
                    break
            await ctx.tick()
            cycle += 1
            assert cycle < 20000
        got.append(walked)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return got[:-1], got[-1], first_valid.get("cycle")


@pytest.mark.parametrize("name", ["r8_k_not_multiple", "group2_partial", "a4_signed", "natural_column", "a1_unsigned_natural"])
def test_next_holds_each_nonempty_sections_rows_inputs_and_columns_in_order(name):
    case = CASES[name]
    lp, x = case.lp, case.x[3]
    got, sections, _ = _run(lp, x, stall_seed=1)
    want = _expected(lp, x)
    assert len(got) == len(want) > 1
    for (seen, _), w in zip(got, want):
        rows = w.pop("rows")
        # No stale row: the rows past the section's own drive nothing.
        assert all(not any(plane[rows:]) for plane in seen["planes"]), "a row past the section's rows is driven"
        seen["planes"] = [plane[:rows] for plane in seen["planes"]]
        assert seen == w
    assert sections == lp.n_sections


def test_the_first_section_is_in_next_gather_steps_plus_7_cycles_after_the_last_input():
    """Hand count (docs/design.md section 6): SECTION at cycle 0, READ 1, WORD 2, gather from 2 for
    ceil(max(rows, n_active) / lanes) steps, the last step's inputs written 5 cycles after it."""
    case = CASES["r8_k_not_multiple"]
    lp = case.lp
    assert int(lp.sections["n_active"][0]) > 0
    lanes = TileParams.from_plan(lp).lanes
    steps = -(-max(int(lp.sections["rows"][0]), int(lp.sections["n_active"][0])) // lanes)
    _, _, first = _run(lp, case.x[0], stall_seed=2)
    assert first == 2 + steps + 5


@pytest.mark.parametrize("encoding", ["twos", "signmag", "bipolar"])
def test_input_aware_next_holds_each_steps_driven_rows(encoding):
    """The popcount of each drive step over the section's rows, by hand from the inputs: two's complement
    steps A-1 down to 0 (bit t set); sign-magnitude the positive inputs' magnitude bits A-2 down to 0, then
    the negative inputs'; bipolar the rows driven +1 (positive inputs' magnitude bits A-2 down to 0) and,
    apart, those driven -1 (the negative inputs')."""
    base = CASES["r8_k_not_multiple"]
    cfg = base.cfg.replace(input_encoding=encoding, input_aware=True)
    lp = base.lp.on_hardware(input_encoding=encoding, input_aware=True)
    x = np.array([3, -1, 0, 5, -7, 0, 0, 127, -127, 2, 0, 1, -2, 0, 0, 64, -64, 0, 9, 0, -3])
    got, _, _ = _run(lp, x, stall_seed=4)
    sec, a = lp.sections, cfg.hw.input_bits
    want = []
    for s in range(lp.n_sections):
        if int(sec["n_active"][s]) == 0:
            continue
        rb, rows = int(sec["row_base"][s]), int(sec["rows"][s])
        xs = [int(x[int(lp.row_index[rb + r])]) for r in range(rows)]
        if encoding == "twos":
            counts = [sum((v & ((1 << a) - 1)) >> t & 1 for v in xs) for t in range(a - 1, -1, -1)]
        elif encoding == "bipolar":
            counts = ([sum(v > 0 and v >> t & 1 for v in xs) for t in range(a - 2, -1, -1)],
                      [sum(v < 0 and -v >> t & 1 for v in xs) for t in range(a - 2, -1, -1)])
        else:
            counts = [sum(v > 0 and v >> t & 1 for v in xs) for t in range(a - 2, -1, -1)] + \
                     [sum(v < 0 and -v >> t & 1 for v in xs) for t in range(a - 2, -1, -1)]
        want.append(counts)
    if encoding == "bipolar":
        assert [(seen["counts"], seen["counts_neg"]) for seen, _ in got] == want
        assert any(max(c) > 1 for c, _ in want) and any(max(c) > 1 for _, c in want)
    else:
        assert [seen["counts"] for seen, _ in got] == want and any(max(c) > 1 for c in want)


def test_a_plan_of_empty_sections_walks_them_all_and_fills_nothing():
    lp = CASES["all_zero_natural"].lp
    got, sections, first = _run(lp, CASES["all_zero_natural"].x[0], stall_seed=3)
    assert got == [] and first is None and sections == lp.n_sections == 4


def test_a_generic_prefetch_gathers_rows_that_straddle_two_banks_of_its_row_table():
    """A row-index table of 9-bit words 32768 deep (K limit 512) is two banks of 16384 words (nine 1-bit
    DP16KD slices each); the plan's row indices are written from address 16376 on, so that its sections'
    rows cross from bank 0 into bank 1. `next` must hold what it holds with the baked tables."""
    from hwgen.interface import PROG_SELECT
    from hwgen.params import pack_words
    from hwgen.prefetch import table_shape
    from mapper.plan import SECTION_FIELDS

    case = CASES["group2_partial"]
    lp, x = case.lp, case.x[3]
    params = TileParams(lp.cfg.hw, 512, lp.shape[1], lp.n_sections, 32768, 4096, TileParams.from_plan(lp).lanes)
    assert table_shape(params.widths["rows"]["index"], 32768) == (16384, 1)
    offset = 16376
    assert len(lp.row_index) > 16384 - offset
    fields = {f: lp.sections[f] for f in SECTION_FIELDS}
    fields["row_base"] = lp.sections["row_base"] + offset
    writes = [(PROG_SELECT["sections"], a, w) for a, w in enumerate(pack_words(params.section_layout, fields))]
    writes += [(PROG_SELECT["rows"], offset + a, w) for a, w in enumerate(params.row_words(lp))]
    writes += [(PROG_SELECT["columns"], a, w) for a, w in enumerate(params.column_words(lp))]
    dut = Prefetch(params)
    cfg = lp.cfg
    got = []

    async def bench(ctx):
        await program(ctx, dut.prog, writes)
        ctx.set(dut.n_sec, lp.n_sections)
        for kk, v in enumerate(x):
            ctx.set(dut.load_en, 1)
            ctx.set(dut.loading, 1)
            ctx.set(dut.load_addr, kk)
            ctx.set(dut.load_data, int(v) & ((1 << cfg.hw.input_bits) - 1))
            ctx.set(dut.start, kk == len(x) - 1)
            await ctx.tick()
        ctx.set(dut.load_en, 0)
        ctx.set(dut.loading, 0)
        ctx.set(dut.start, 0)
        ctx.set(dut.next.ready, 1)
        for _ in range(2000):
            if ctx.get(dut.next.valid):
                p = ctx.get(dut.next.payload)
                got.append({"sec": p.sec, "n_active": p.n_active, "group": p.group,
                            "planes": [[(int(p.planes[t]) >> r) & 1 for r in range(cfg.hw.rows)]
                                       for t in range(cfg.hw.input_bits)],
                            "cols": [(c.col, c.sign, c.bit, c.res, c.j) for c in list(p.cols)[:p.n_active]],
                            "longest": [int(v) for v in p.longest]})
            elif ctx.get(dut.idle):
                break
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    want = _expected(lp, x)
    assert len(got) == len(want)
    for seen, w in zip(got, want):
        rows = w.pop("rows")
        seen["planes"] = [plane[:rows] for plane in seen["planes"]]
        assert seen == w


def test_a_table_takes_the_fewest_banks_then_the_fewest_block_rams():
    from hwgen.prefetch import table_shape
    # 8192 9-bit row indices: one bank of 16384 x 1 (9 DP16KD) or 8192 x 2 (5); four banks of 2048 x 9 (4)
    # would need a bank multiplexer.
    assert table_shape(9, 8192) == (8192, 2)
    # 4096 21-bit column entries: one bank of 4096 x 4 (6 DP16KD) rather than 8192 x 2 (11).
    assert table_shape(21, 4096) == (4096, 4)
    # 512 48-bit section words: 18-bit slices (3), the bank cut to the table's depth.
    assert table_shape(48, 512) == (512, 18)
