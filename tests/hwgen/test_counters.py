"""The counter port (hwgen.counters, docs/design.md section 6 "Counters"): every event the energy model
prices, counted by the RTL, against counts derived without it: by hand on a one-section layer, and by brute
force over the array interface and the streams of a simulated tile (a monitor that sees only the ports);
the golden model's prediction against both; the snapshot and the clear; 48 bits."""

import dataclasses

import numpy as np
import pytest
from amaranth import Value
from amaranth.sim import Simulator

from hwgen.interface import COUNTER_WIDTH, CYCLE_WIDTH, EVENTS, CounterSignature, bank_buses, pack_beats
from hwgen.params import TileParams
from hwgen.tile import Tile
from mapper.plan import bank_plans
from mapper.schedule import MacroTiming
from sim.amaranth_sim import read_counters
from sim.golden import predict
from tests.sim.cases import bipolar_cases, encoding_cases, mux_cases, rtl_cases

CASES = {c.name: c for c in rtl_cases() + encoding_cases() + mux_cases() + bipolar_cases()}
#: Every phase visible on the bus: an activation is a pch pulse, then wl_en, settle, sh.
PHASES = MacroTiming(precharge=1, wordline=1, settle=1, sample=1)


def _run(case, params, x, *, clear_after=None):
    """Simulate the tile on x with a monitor on each bank's array interface and on the streams; return
    (the counters read through the snapshot at the end, the monitor's counts). `clear_after`: clear the
    counters after that many vectors (and the monitor's counts with them).

    The monitor sees the ports and the plan alone: an activation (a pch pulse) drives its section's rows
    (the plan's section table at the section on the bus: row_drives); each start samples one column
    (sample_holds) and reads that column's 1-cells (the plan's cells at the section and slot column:
    cell_reads); the streams carry K and N elements a vector."""
    dut = Tile(params, case.lp)
    fr = params.hw.adc_bits              # the widest conversion (the bipolar drive's sign bit included)
    bipolar = params.hw.input_encoding == "bipolar"
    cw = params.code_width
    seen = {"conversions": [0] * (fr + 1), "precharges": 0, "wordlines": 0, "rows_high": 0, "code_sum": 0,
            "shift_adds": 0, "sample_holds": 0, "row_drives": 0, "cell_reads": 0, "inputs": 0, "outputs": 0}
    got = {}
    plans = [case.lp] if params.hw.banks == 1 else bank_plans(case.lp)

    def monitor(bus, lp):
        probes = ([bus.pch, bus.wl_en, bus.sh, bus.drive, bus.section]
                  + [s for a in bus.adc for s in (a.start, a.res, a.done, a.code, a.col)])

        # Four-phase handshake: a conversion is a rising start, its code there at the rising done.
        hand = params.timing.sync != 0
        lane_was = [[0, 0] for _ in range(params.hw.n_adc)]
        mux = params.hw.adc_mux

        async def watch(ctx):
            was, section = [0, 0, 0], None
            async for _, _, pch, wl, sh, drive, sec, *lanes in ctx.tick().sample(*probes):
                if pch and not was[0]:            # an activation: its drive is on the bus from its first cycle
                    seen["precharges"] += 1
                    seen["rows_high"] += bin(drive).count("1")
                    seen["row_drives"] += int(lp.sections["rows"][sec])
                    section = sec
                seen["wordlines"] += bool(wl and not was[1])
                was = [pch, wl, sh]
                for i in range(params.hw.n_adc):
                    start, res, done, code, col = lanes[5 * i:5 * i + 5]
                    if start and not (hand and lane_was[i][0]):
                        seen["conversions"][res] += 1
                        seen["shift_adds"] += 1
                        seen["sample_holds"] += 1
                        seen["cell_reads"] += int(lp.cells[section, :, i * mux + col if mux else col].sum())
                    if done and not (hand and lane_was[i][1]):
                        # a bipolar code is two's complement: the counter adds up its magnitude
                        seen["code_sum"] += abs(code - (code >> (cw - 1) << cw)) if bipolar else code
                    lane_was[i] = [start, done]
        return watch

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        beats, n_beats = params.beat, -(-case.lp.shape[1] // params.beat)
        for v, xv in enumerate(x):
            for word in pack_beats(xv, beats, params.hw.input_bits):
                ctx.set(dut.i.valid, 1)
                ctx.set(Value.cast(dut.i.payload), word)
                await ctx.tick().until(dut.i.ready)
            seen["inputs"] += len(xv)
            ctx.set(dut.i.valid, 0)
            taken = 0
            while taken < n_beats:
                _, _, valid = await ctx.tick().sample(dut.o.valid)
                taken += valid
            seen["outputs"] += case.lp.shape[1]
            if clear_after == v + 1:
                await ctx.tick().repeat(4)
                ctx.set(dut.counters.clear, 1)
                await ctx.tick()
                ctx.set(dut.counters.clear, 0)
                got["cleared"] = await read_counters(ctx, dut.counters, fr)
                for key in seen:
                    seen[key] = [0] * (fr + 1) if key == "conversions" else 0
        await ctx.tick().repeat(4)
        got["end"] = await read_counters(ctx, dut.counters, fr)

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    for bus, lp in zip(bank_buses(dut.controller.bus, params), plans, strict=True):
        sim.add_testbench(monitor(bus, lp), background=True)
    sim.add_testbench(bench)
    sim.run()
    return got, seen


def test_the_counters_of_a_one_section_layer_are_the_hand_count():
    """single_weight: one section of one row (input 7) and seven active columns of 1 bit (the weight -127:
    magnitude bits 0..6 all 1, so each column holds a 1 on that row), 3 ADCs, 8-bit inputs. Per vector:
    1 section walked, 8 planes, each one activation (pch, wl_en, sh) of ceil(7 / 3) = 3 batches; 7
    conversions of 1 bit a plane (56), as many shift-adds and columns sampled; a plane's drive is bit t of
    x[7]: the rows driven high are popcount(x[7] mod 256), and each of the 7 columns conducts 1 cell when
    it is driven: codes' sum 7 * popcount; the section's one row driven by each of the 8 activations, and
    its 7 1-cells read by each (56); 1 row-index and input read, 7 column words read, 1 flush; 13 inputs,
    2 outputs."""
    case = CASES["single_weight"]
    x = case.x
    params = TileParams.from_plan(case.lp, timing=PHASES)
    got, _ = _run(case, params, x)
    ones = sum(bin(int(v[7]) & 0xFF).count("1") for v in x)
    v = len(x)
    want = {"sections": v, "planes": 8 * v, "precharges": 8 * v, "wordlines": 8 * v, "sample_holds": 56 * v,
            "rows_high": ones, "code_sum": 7 * ones, "shift_adds": 56 * v, "row_reads": v, "column_reads": 7 * v,
            "flushes": v, "inputs": 13 * v, "outputs": 2 * v, "row_drives": 8 * v, "cell_reads": 56 * v}
    assert {k: got["end"][k] for k in want} == want
    assert got["end"]["conversions"][:2] == [0, 56 * v] and sum(got["end"]["conversions"]) == 56 * v
    assert ones > 0


def test_the_bipolar_counters_of_a_one_section_layer_are_the_hand_count():
    """single_weight on bipolar hardware: one row (input 7), seven 1-bit columns holding a 1 on it (weight
    -127), 3 ADCs, 8-bit inputs: A - 1 = 7 steps, step t driving the row +1 or -1 when bit t of |x[7]| is
    set. Per vector: 7 planes of 3 batches; 7 conversions a plane at 1 + 1 = 2 bits (the sign bit): 49,
    as many columns sampled; the rows driven are popcount(|x[7]|), each a code of +-1 in each of the 7
    columns: code_sum (of the codes' magnitudes) 7 * popcount; the one row driven by each of the 7
    activations, its 7 1-cells read by each (49); outputs -127 * x[7]."""
    base = CASES["single_weight_bipolar"]
    params = TileParams.from_plan(base.lp, timing=PHASES)
    got, _ = _run(base, params, base.x)
    ones = sum(bin(abs(int(v[7]))).count("1") for v in base.x)
    v = len(base.x)
    want = {"sections": v, "planes": 7 * v, "precharges": 7 * v, "wordlines": 7 * v, "sample_holds": 49 * v,
            "rows_high": ones, "code_sum": 7 * ones, "shift_adds": 49 * v, "row_reads": v, "column_reads": 7 * v,
            "flushes": v, "inputs": 13 * v, "outputs": 2 * v, "row_drives": 7 * v, "cell_reads": 49 * v}
    assert {k: got["end"][k] for k in want} == want
    assert got["end"]["conversions"] == [0, 0, 49 * v, 0, 0, 0] and ones > 0
    assert params.hw.full_resolution == 4 and params.hw.adc_bits == 5


@pytest.mark.parametrize("name, timing", [
    ("r8_k_not_multiple", PHASES), ("group2_partial", MacroTiming(precharge=2, wordline=1, settle=1)),
    ("r8_k_not_multiple_signmag_aware", PHASES), ("mux4_balanced", PHASES),
    ("a4_signed", dataclasses.replace(PHASES, sync=2)), ("capped_lossy", PHASES),
    ("r8_k_not_multiple_bipolar_aware", PHASES), ("capped_lossy_bipolar", PHASES),
    ("group2_partial_bipolar", dataclasses.replace(PHASES, sync=1)),
])
def test_the_counters_equal_a_brute_force_count_over_the_bus_and_the_golden_model(name, timing):
    """A monitor on the array interface counts the activations (pch pulses) and the rows each drives, the
    wl_en and sh pulses, the starts by resolution (the shift-adds: each start is accumulated) and the
    codes at each done (the cells conducting in the converted columns, saturated); the stream beats. The
    RTL's counters equal it, and the golden model predicts all of them."""
    case = CASES[name]
    params = TileParams.from_plan(case.lp, timing=timing)
    got, seen = _run(case, params, case.x)
    for key, value in seen.items():
        assert got["end"][key] == value, key
    want = predict(case.lp, case.x, params).counters()
    assert {k: got["end"][k] for k in ("conversions", *EVENTS)} == {k: want[k] for k in ("conversions", *EVENTS)}
    assert seen["precharges"] > 0 and seen["code_sum"] > 0


def test_banks_and_beats_count_every_bank():
    _banks_count_every_bank(CASES["group2_partial"], banks=2, beat=2)


def _banks_count_every_bank(case, **hardware):
    """The case on banked hardware (`hardware`: banks, beat, double_buffer) with macro phases: every
    counter's total equals the bus monitor's count over all banks and the golden model's."""
    lp = case.lp.on_hardware(**hardware)
    params = TileParams.from_plan(lp, timing=PHASES)
    got, seen = _run(_Case(lp, case), params, case.x)
    for key, value in seen.items():
        assert got["end"][key] == value, key
    want = predict(lp, case.x, params).counters()
    assert {k: got["end"][k] for k in ("conversions", *EVENTS)} == {k: want[k] for k in ("conversions", *EVENTS)}


@dataclasses.dataclass
class _Case:
    lp: object
    base: object

    @property
    def x(self):
        return self.base.x


def test_bipolar_banks_and_beats_count_every_bank():
    _banks_count_every_bank(CASES["group2_partial_bipolar_aware"], banks=2, beat=4, double_buffer=True)


def test_clear_zeroes_the_totals_and_snapshot_reads_them_at_once():
    """After the first vector the counters are cleared: a snapshot then reads zeros, and at the end the
    totals are the second vector's alone (the monitor's counts restarted with them)."""
    case = CASES["a4_signed"]
    params = TileParams.from_plan(case.lp, timing=PHASES)
    got, seen = _run(case, params, case.x[:2], clear_after=1)
    assert all(v == 0 for k, v in got["cleared"].items() if k not in ("conversions", "cycles"))
    assert got["cleared"]["conversions"] == [0] * (params.hw.full_resolution + 1)
    for key, value in seen.items():
        assert got["end"][key] == value, key
    one = predict(case.lp, case.x[1:2], params).counters()
    assert got["end"]["conversions"] == one["conversions"] and got["end"]["planes"] == one["planes"]


def test_every_counter_is_48_bits():
    params = TileParams.from_plan(CASES["a4_signed"].lp)
    port = CounterSignature(params).create()
    assert COUNTER_WIDTH == CYCLE_WIDTH == 48
    assert all(len(getattr(port, name)) == 48 for name in ("cycles", *EVENTS))
    assert all(len(port.conversions[b]) == 48 for b in range(params.hw.full_resolution + 1))


@pytest.mark.parametrize("name, hardware, timing, generic", [
    ("r8_k_not_multiple", {}, MacroTiming(), False),
    ("r8_k_not_multiple", dict(beat=2), MacroTiming(), True),
    ("group2_partial", dict(banks=2, beat=4, double_buffer=True), MacroTiming(), False),
    ("r8_k_not_multiple_signmag_aware", dict(beat=2), MacroTiming(precharge=1, settle=1), False),
    ("mux4_balanced", {}, MacroTiming(wordline=1, sample=1), False),
    ("group2_partial_bipolar_aware", dict(banks=2, beat=2), PHASES, False),
    ("dense_reference", {}, MacroTiming(sync=1), False),
], ids=lambda v: v if isinstance(v, str) else None)
def test_every_event_the_energy_model_prices_is_the_rtl_counter_of_a_brute_force_walk(name, hardware, timing,
                                                                                      generic):
    """Every event of docs/design.md section 4 but the cycles, read from the RTL counter that counts it
    (`sim.golden.hardware_counters`: on a timing without a precharge or wordline phase, the activations
    `planes`), equals a brute-force walk of the plan's sections, drive steps, columns and cells written in
    tests/mapper/test_events.py from the design alone (no event model, no golden model), and the golden
    model's prediction of every counter. Banks, stream beats wider than one element, double buffering, ADC
    groups, input-aware and bipolar drive, timings with and without phases; a generic tile, its cells
    written through the programming port."""
    from sim.amaranth_sim import run_tile
    from sim.golden import hardware_counters
    from tests.mapper.test_events import brute_events
    case = CASES[name]
    lp = case.lp.on_hardware(**hardware)
    params = TileParams.from_plan(lp, timing=timing)
    run = run_tile(lp, case.x, params=params, generic=params if generic else None)
    by = hardware_counters(params)
    want = brute_events(lp, case.x)
    got = {event: run.counters[by[event]] for event in want}
    assert got == want
    assert want["row_drives"] > want["planes"] and want["cell_reads"] > 0 and want["sample_holds"] > 0
    assert run.counters == predict(lp, case.x, params).counters()
    if timing.precharge == 0:
        assert by["precharges"] == "planes" and run.counters["precharges"] == 0


def test_the_stream_counters_count_elements_not_beats():
    """K = 21 inputs in beats of 4 (six beats, the last holding one input) and N = 3 outputs in one beat
    of 4: the counters take 21 and 3 elements a vector, the beats' padding not."""
    case = CASES["r8_k_not_multiple"]
    lp = case.lp.on_hardware(beat=4)
    from sim.amaranth_sim import run_tile
    run = run_tile(lp, case.x, params=TileParams.from_plan(lp))
    assert lp.shape == (21, 3)
    assert (run.counters["inputs"], run.counters["outputs"]) == (21 * len(case.x), 3 * len(case.x))


@pytest.mark.slow
@pytest.mark.parametrize("name, hardware, generic", [
    ("group2_partial_bipolar_aware", dict(banks=2, beat=4, double_buffer=True), False),
    ("mux4_balanced", dict(beat=2, input_encoding="signmag", input_aware=True), True),
])
def test_the_emitted_verilog_counts_every_event_of_a_brute_force_walk_in_verilator(name, hardware, generic):
    """The same check on the Verilog `sws rtl` writes, in Verilator: banks, four-element double-buffered
    beats and the bipolar input-aware drive, baked; ADC groups on sign-magnitude input-aware hardware with
    two-element beats, generic (cells written through `prog`); macro phases on both."""
    import shutil
    from sim.golden import hardware_counters
    from sim.verilog_sim import run_verilog
    from tests.mapper.test_events import brute_events
    from tests.support import unavailable
    if shutil.which("verilator") is None:
        unavailable("verilator", "this test simulates the emitted Verilog with it")
    case = CASES[name]
    lp = case.lp.on_hardware(**hardware)
    x = np.clip(case.x, lp.cfg.hw.input_min, lp.cfg.hw.input_max)       # sign-magnitude: no -2**(A-1)
    params = TileParams.from_plan(lp, timing=PHASES)
    run = run_verilog(lp, x, "verilator", params=params, generic=params if generic else None, say=lambda m: None)
    by = hardware_counters(params)
    want = brute_events(lp, x)
    assert {event: run.counters[by[event]] for event in want} == want
    assert run.counters == predict(lp, x, params).counters()
