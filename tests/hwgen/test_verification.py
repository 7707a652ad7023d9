"""Verification of the tile beyond the stall-free runs of test_tile.py: random backpressure on `o` and
bubbles on `i`, ADCs whose done comes late, and protocol checkers (tests/hwgen/checker.py) on the array
interface and the output stream, shown to fire on injected faults, and a bounded proof of the same
protocol properties (tests/hwgen/formal.py). The checkers also watch every bank of a tile of B banks with
W-element beats. (A reset in the middle of a vector is tested in test_tile.py.)"""

import gc
import warnings

import numpy as np
import pytest
from amaranth.hdl import UnusedElaboratable
from amaranth.sim import Simulator

from hwgen.emulator import ArrayEmulator
from mapper.schedule import MacroTiming
from hwgen.params import TileParams
from sim.amaranth_sim import ControllerError, run_tile
from mapper.config import ArrayConfig
from mapper.schedule import cycle_model
from sim.golden import predict
from tests.hwgen.checker import ProtocolError, run_checked
from tests.sim.cases import Case, bipolar_cases, encoding_cases, inputs, rtl_cases, weights

CASES = rtl_cases()


def _case(name):
    return next(c for c in CASES + bipolar_cases() if c.name == name)


def _exact_but_cycles(case, outputs, counters, want):
    if case.lossless:
        assert np.array_equal(outputs, case.x @ case.w)
    assert np.array_equal(outputs, want.outputs)
    assert counters["conversions"] == want.conversions
    assert counters["planes"] == want.planes
    assert counters["sections"] == want.sections


@pytest.mark.parametrize("case", CASES + [c for c in encoding_cases() if c.cfg.hw.input_aware][::3]
                         + [c for c in bipolar_cases() if c.name in ("r8_k_not_multiple_bipolar_aware",
                                                                      "capped_lossy_bipolar")], ids=lambda c: c.name)
def test_random_backpressure_and_bubbles_change_no_output_and_no_counter_but_the_stalled_cycles(case):
    """Every shared case, with both protocol checkers watching every cycle: outputs and conversion,
    plane and section counters exact; none lost or duplicated; `cycles` counts the busy span from a
    vector's first input beat to its last output beat (design.md section 6), so it is the golden count
    plus exactly the input bubbles inside a vector and the cycles `o` waited for ready."""
    run = run_checked(case.lp, case.x, seed=sum(map(ord, case.name)), p_bubble=0.3, p_stall=0.5)
    want = predict(case.lp, case.x)
    _exact_but_cycles(case, run.outputs, run.counters, want)
    assert run.extra_valid == 0
    assert run.seen.bubbles > 0 and run.seen.stalls > 0          # the run did exercise both
    assert run.seen.starts == sum(want.conversions)               # the checker saw every conversion
    assert run.counters["cycles"] == want.cycles + run.seen.bubbles + run.seen.stalls


def test_the_checked_harness_without_stalls_is_the_tile_cycle_for_cycle():
    case = _case("group2_partial")
    run = run_checked(case.lp, case.x)
    want = predict(case.lp, case.x)
    _exact_but_cycles(case, run.outputs, run.counters, want)
    assert run.seen.bubbles == run.seen.stalls == 0
    assert run.counters["cycles"] == want.cycles


@pytest.mark.parametrize("extra", [0, 1, 3])
def test_the_emulated_adc_is_done_res_plus_extra_latency_cycles_after_its_start(extra):
    """The emulator alone: ADC 0 started at cycle 0 with 3 bits is done at cycle 3 + extra (hand count
    from the interface's rule), and the code is min(count, 7) of the column under the drive."""
    case = _case("r8_k_not_multiple")
    params = TileParams.from_plan(case.lp)
    emu = ArrayEmulator(params, case.lp, extra_latency=extra)
    adc = emu.bus.adc[0]
    slot = int(case.lp.columns["slot_col"][0])
    column = case.lp.cells[0, :, slot].astype(np.int64)
    got = {}

    async def bench(ctx):
        ctx.set(emu.bus.section, 0)
        ctx.set(emu.bus.drive, (1 << params.hw.rows) - 1)
        ctx.set(adc.col, slot)
        ctx.set(adc.res, 3)
        ctx.set(adc.ref, 3)
        ctx.set(adc.start, 1)
        await ctx.tick()
        ctx.set(adc.start, 0)
        for cycle in range(1, 20):
            if ctx.get(adc.done):
                got["done"], got["code"] = cycle, ctx.get(adc.code)
                break
            await ctx.tick()

    sim = Simulator(emu)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert got == {"done": 3 + extra, "code": min(int(column.sum()), 7)}


def test_the_emulator_refuses_a_negative_extra_latency():
    case = _case("r8_k_not_multiple")
    # The refused object is never elaborated: collect it here, where its warning is expected.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnusedElaboratable)
        with pytest.raises(ValueError, match="extra_latency must be a non-negative integer, not -1") as refused:
            ArrayEmulator(TileParams.from_plan(case.lp), case.lp, extra_latency=-1)
        del refused
        gc.collect()


@pytest.mark.parametrize("name", ["r16_k_below_r", "group2_partial", "r64_full_n1", "weights_pm127",
                                  "a4_unsigned", "group2_partial_bipolar_aware"])
@pytest.mark.parametrize("extra", [1, 3])
def test_a_late_adc_done_is_waited_for_outputs_and_conversions_stay_exact(name, extra):
    """With the handshake (a two-flop synchronized done) the controller waits for a late ADC."""
    case = _case(name)
    params = TileParams.from_plan(case.lp, timing=MacroTiming(sync=2))
    run = run_tile(case.lp, case.x, extra_latency=extra, params=params)
    want = predict(case.lp, case.x)
    _exact_but_cycles(case, run.outputs, run.counters, want)
    # Every batch waits `extra` cycles more than the golden schedule of the handshake, the last one included.
    assert run.counters["cycles"] > predict(case.lp, case.x, params).cycles > want.cycles


def test_a_late_adc_done_in_counted_mode_is_a_named_error_not_a_lost_batch():
    """Counted mode (the default) issues on its own count and checks every done: an ADC one cycle late
    is caught as a missing done (the controller stops in its error state), never a silently lost batch."""
    case = _case("group2_partial")
    with pytest.raises(ControllerError, match="the controller stopped with errors: done_missing"):
        run_tile(case.lp, case.x, extra_latency=1)


def test_late_done_with_stalls_keeps_the_array_protocol_and_the_outputs():
    case = _case("group2_partial")
    run = run_checked(case.lp, case.x, seed=3, p_bubble=0.2, p_stall=0.5, extra_latency=2,
                      params=TileParams.from_plan(case.lp, timing=MacroTiming(sync=1)))
    want = predict(case.lp, case.x)
    _exact_but_cycles(case, run.outputs, run.counters, want)
    assert run.seen.starts == sum(want.conversions)
    assert run.counters["cycles"] > want.cycles + run.seen.bubbles + run.seen.stalls


@pytest.mark.parametrize("fault, message", [
    ("double_start", r"ADC 0 started while busy \(started at cycle \d+, not yet done\)"),
    ("res_zero", r"ADC 0 started with adc_res 0, outside 1\.\.4"),
    ("res_too_high", r"ADC 0 started with adc_res 5, outside 1\.\.4"),
    ("col_past_slot", r"ADC 0 started with adc_col 14, outside the slot's columns 0\.\.13"),
    ("payload_glitch", r"o\.payload changed from -?\d+ to -?\d+ while o\.valid and not o\.ready"),
    ("valid_drop", r"o\.valid dropped before the beat was taken"),
])
def test_the_checkers_fail_the_simulation_on_an_injected_violation(fault, message):
    case = _case("r8_k_not_multiple")
    assert (case.cfg.hw.full_resolution, case.cfg.hw.slot_cols) == (4, 14)
    with pytest.raises(ProtocolError, match=message):
        run_checked(case.lp, case.x, seed=1, p_bubble=0.3, p_stall=0.5, fault=fault)



def test_an_adc_started_outside_its_group_fails_the_simulation():
    """M = 3, 14 slot columns: ADC 4 serves columns 12..13; the fault sends it to column 2 of its group
    (slot column 14). With the checkers on, whichever of the checker and the emulator's own assertion sees
    the start first names the rule (both see the same clock edge); without the checkers the emulator fails."""
    from tests.sim.cases import mux_cases
    case = next(c for c in mux_cases() if c.name == "mux3_balanced")
    assert (case.cfg.hw.adc_mux, case.cfg.hw.n_adc, case.cfg.hw.slot_cols) == (3, 5, 14)
    with pytest.raises(AssertionError, match=r"ADC 4 started (with adc_col 2, outside its group of slot columns "
                                             r"12\.\.13|on a column outside its group of 2)"):
        run_checked(case.lp, case.x, fault="col_outside_group")
    with pytest.raises(AssertionError, match="ADC 4 started on a column outside its group of 2"):
        run_checked(case.lp, case.x, fault="col_outside_group", monitors=False)


def _formal_case():
    """Small enough for a bounded proof over a whole vector in seconds: R = 8, 2 ADCs, 2-bit inputs,
    4-bit weights (the controller's protocol is that of 7, the vector shorter), K = 6, N = 1, one section
    with 1- and 2-bit columns."""
    cfg = ArrayConfig(rows=8, cols=8, n_adc=2, input_bits=2, weight_bits=4)
    case = Case("formal", cfg, weights(6, 1, 0.0, 3, magnitude=cfg.hw.weight_max), inputs(cfg, 6, 3))
    params = TileParams.from_plan(case.lp)
    assert set(case.lp.columns["res"]) == {1, 2}
    # Reset, clearing the accumulators, then one whole stall-free vector and two more cycles.
    return case, params, 1 + params.n_groups + cycle_model(case.lp, params)["cycles"] + 2


def _formal_banked_case():
    """Two banks with 2-element beats: K = 6 on R = 4 (two sections, one a bank), N = 1, 2 ADCs a bank, each
    serving 4 of the slot's 8 columns. Weights of 4 bits (not 7): the banks' protocol is the same, the vector
    8 cycles shorter and the solver's work a quarter (201 -> 56 CPU s)."""
    cfg = ArrayConfig(rows=4, cols=8, n_adc=2, input_bits=2, banks=2, beat=2, weight_bits=4)
    case = Case("formal_banked", cfg, weights(6, 1, 0.0, 3, magnitude=cfg.hw.weight_max), inputs(cfg, 6, 3))
    params = TileParams.from_plan(case.lp)
    assert (params.hw.banks, params.beat, case.lp.n_sections) == (2, 2, 2)
    return case, params, 1 + params.n_groups + cycle_model(case.lp, params)["cycles"] + 2


@pytest.mark.slow
@pytest.mark.parametrize("fault", [None, "double_start", "payload_glitch"])
def test_bounded_proof_no_adc_start_while_busy_and_o_held_while_stalled(fault, tmp_path):
    """A bounded proof (ABC's bmc3) over every input, ready, reset and ADC-code sequence up to one whole
    vector: the controller's properties hold; with a fault injected, the solver finds the counterexample."""
    from tests.hwgen.formal import ProtocolBench, need_prover, prove
    need_prover()
    case, params, depth = _formal_case()
    proved, log = prove(ProtocolBench(params, case.lp, fault), depth, str(tmp_path))
    assert proved == (fault is None), log[-3000:]


def _banked_case(banks, beat, double_buffer):
    """21 inputs, 5 outputs at sparsity 0.5 on 8-row crossbars with 3 ADCs a bank (tests/sim/test_banks.py's
    layer): B banks, W elements a beat."""
    from mapper.sectioning import map_layer
    from mapper.plan import build_layer_plan
    from mapper.sources import QuantLayer
    hw = dict(rows=8, cols=28, n_adc=3, banks=banks, beat=beat, double_buffer=double_buffer)
    cfg = ArrayConfig(**hw)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = build_layer_plan(map_layer(QuantLayer("banked", w), cfg))
    return lp, w, inputs(cfg, 21, 4, 7)


@pytest.mark.parametrize("banks,beat,double_buffer", [(2, 4, False), (4, 1, False), (3, 2, True), (8, 8, True)])
def test_banks_and_wide_beats_under_bubbles_and_backpressure_keep_outputs_counters_and_protocol(banks, beat,
                                                                                                 double_buffer):
    """A checker on every bank's array interface and one on `o` (W elements a beat) every cycle, with
    random input bubbles and output backpressure: outputs are x @ W and the counters the golden model's.
    One vector at a time, `cycles` is the golden count plus exactly the bubbles inside a vector and the
    cycles `o` waited (as for one bank); double-buffered, a bubble or stall may hide behind the other
    vector's work, so it is at least the golden count."""
    lp, w, x = _banked_case(banks, beat, double_buffer)
    params = TileParams.from_plan(lp)
    assert (params.hw.banks, params.beat) == (banks, beat)
    run = run_checked(lp, x, seed=banks * 10 + beat, p_bubble=0.3, p_stall=0.5)
    want = predict(lp, x)
    assert np.array_equal(run.outputs, x @ w)
    assert run.counters["conversions"] == want.conversions
    assert (run.counters["planes"], run.counters["sections"]) == (want.planes, want.sections)
    assert run.extra_valid == 0
    assert run.seen.stalls > 0 and run.seen.bubbles > 0 and run.seen.starts == sum(want.conversions)
    if double_buffer:
        assert run.counters["cycles"] >= want.cycles
    else:
        assert run.counters["cycles"] == want.cycles + run.seen.bubbles + run.seen.stalls


def test_a_start_while_busy_on_a_bank_of_several_is_caught_and_named():
    lp, _, x = _banked_case(2, 4, False)
    with pytest.raises(ProtocolError, match=r"bank 0 ADC 0 started while busy \(started at cycle \d+, not yet done\)"):
        run_checked(lp, x, seed=1, p_bubble=0.3, p_stall=0.5, fault="double_start")


@pytest.mark.slow
@pytest.mark.parametrize("fault", [None, "double_start"])
def test_bounded_proof_holds_on_every_bank_of_two_with_wide_beats(fault, tmp_path):
    """The same proof with an environment ADC on each of both banks' interfaces and 2-element beats."""
    from tests.hwgen.formal import ProtocolBench, need_prover, prove
    need_prover()
    case, params, depth = _formal_banked_case()
    proved, log = prove(ProtocolBench(params, case.lp, fault), depth, str(tmp_path))
    assert proved == (fault is None), log[-3000:]
