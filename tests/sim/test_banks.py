"""Banks (B sequencer-plus-ADC-bank units) and wide stream beats (W elements a beat): the golden cycle model
against hand calculation, and every simulator against x @ W and the golden model for B = 1, 2, 4, 8."""

from __future__ import annotations

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan
from mapper.sources import QuantLayer
from sim.check import compare
from mapper.schedule import cycle_model
from sim.golden import predict
from tests.sim.cases import inputs, weights
from tests.support import need_tools


def _plan(w, **hw):
    return build_layer_plan(map_layer(QuantLayer("banks", np.asarray(w, np.int64)), ArrayConfig(**hw)))


def _two_sections(**hw):
    """Two sections of 3 rows (lanes 1): output 0 one active column, output 1 two, all at 2 bits."""
    w = np.zeros((8, 2), np.int64)
    w[:3, 0], w[:3, 1] = 1, 3
    return w, _plan(w, rows=8, cols=28, n_adc=2, **hw)


def test_two_banks_cycles_by_hand():
    # Each section alone on a bank (LPT: equal costs 3 + 8 steps * 2 bits, section 0 to bank 0): the
    # section word at a = 0, gathers at g = 2 for 3 cycles, is in `next` at r = 2 + 3 + 5 = 10, copied at
    # c = 10, first batch at e = 11, 8 steps of one 2-bit batch: the last issued at 11 + 14 = 25 and
    # captured through the registered macro boundary at f = 25 + 1 + 2 = 28; RUN ends at f + D + 5 = 28 +
    # 5 + 5 = 38 (D = pipeline_depth(2) = 4 + 1), each bank's RUN 39 cycles; with two banks each bank's
    # done flag is a register, so RUN ends one cycle after the last bank's: RUN = 40 cycles. Load 8 beats,
    # output 1 + merge_depth(2) + 2 = 1 + 2 + 2 = 5: 53 cycles.
    w, lp = _two_sections(banks=2)
    assert [int(r) for r in lp.sections["rows"]] == [3, 3] and [int(a) for a in lp.sections["n_active"]] == [1, 2]
    assert [int(r) for r in lp.columns["res"]] == [2, 2, 2]
    c = cycle_model(lp)
    assert c["bank_runs"] == [39, 39] and (c["load"], c["run"], c["out"], c["cycles"]) == (8, 40, 5, 53)
    # One bank: section 1 gathers at max(6 + 2, 10 + 1) = 11, is ready at 19, copied at max(19, 25 + 1) =
    # 26 (section 0's last batch issued at 25), first batch at max(27, 27) = 27 (the bank free 16 cycles
    # after 11), the last issued at 41 and captured at 44; RUN ends at 44 + 5 + 5 = 54: 55 cycles; output
    # 1 + 2 = 3: 66 cycles.
    assert cycle_model(lp.on_hardware(banks=1))["cycles"] == 8 + 55 + 3
    # W = 2: load 4 beats, output 1 + 2 + 1 beat; the gather's input element is a register (W > 1), so
    # each section is in `next` one cycle later and RUN is 41.
    assert cycle_model(lp.on_hardware(beat=2))["cycles"] == 4 + 41 + 4


def test_banks_split_the_sections_and_keep_the_counters():
    from mapper.plan import assign_banks, bank_plans
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, banks=3)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, rows=8, cols=28, n_adc=3, banks=3)
    banks = assign_banks(lp)
    assert sorted(s for b in banks for s in b) == list(range(lp.n_sections))
    x = inputs(cfg, 21, 3)
    one = predict(lp.on_hardware(banks=1), x)
    parts = [predict(blp.on_hardware(banks=1), x) for blp in bank_plans(lp)]
    # The banks' partial sums add up to x @ W; conversions and sections are the one bank's, split.
    assert (sum(p.outputs for p in parts) == x @ w).all()
    assert [sum(c) for c in zip(*(p.conversions for p in parts))] == one.conversions
    assert sum(p.sections for p in parts) == one.sections


@pytest.mark.parametrize("banks,beat", [(1, 1), (2, 1), (4, 2), (8, 1), (8, 8), (3, 4)])
def test_amaranth_tile_of_b_banks_and_w_beats_computes_x_at_w_in_the_golden_cycles(banks, beat):
    from sim.amaranth_sim import run_tile
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, banks=banks, beat=beat)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, rows=8, cols=28, n_adc=3, banks=banks, beat=beat)
    x = inputs(cfg, 21, 3)
    run = run_tile(lp, x)
    assert (run.outputs == x @ w).all()
    assert compare(predict(lp, x), run) == []


def test_two_bank_tile_runs_in_the_hand_computed_cycles():
    from sim.amaranth_sim import run_tile
    w, lp = _two_sections(banks=2)
    x = np.array([[1, -2, 3, 4, -5, 6, 7, -8]] * 3)
    run = run_tile(lp, x)
    assert (run.outputs == x @ w).all()
    assert run.cycles_per_vector == [53, 53, 53]


def test_group_of_two_outputs_in_wide_beats():
    from sim.amaranth_sim import run_tile
    cfg = ArrayConfig(rows=8, cols=56, n_adc=3, group=2, banks=2, beat=4)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, rows=8, cols=56, n_adc=3, group=2, banks=2, beat=4)
    x = inputs(cfg, 21, 3)
    run = run_tile(lp, x)
    assert (run.outputs == x @ w).all() and compare(predict(lp, x), run) == []


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
@pytest.mark.parametrize("banks,beat", [(2, 4), (8, 2)])
def test_verilog_tile_of_banks_and_beats_equals_the_golden_model(backend, banks, beat):
    from sim.verilog_sim import run_verilog
    need_tools(*(("verilator",) if backend == "verilator" else ("iverilog", "vvp")), why=f"the {backend} simulation")
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, banks=banks, beat=beat)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, rows=8, cols=28, n_adc=3, banks=banks, beat=beat)
    x = inputs(cfg, 21, 3)
    run = run_verilog(lp, x, backend)
    assert (run.outputs == x @ w).all()
    assert compare(predict(lp, x), run) == []


def test_bad_banks_and_beats_are_refused_with_the_rule():
    from mapper.common import SwsError
    with pytest.raises(SwsError, match="banks must be an integer >= 1, not 0"):
        ArrayConfig(banks=0)
    with pytest.raises(SwsError, match="beat must be a power of two, not 3"):
        ArrayConfig(beat=3)


def test_double_buffered_vectors_overlap_by_hand():
    # Two banks, load 8 beats, RUN 40, output 5 (test_two_banks_cycles_by_hand). Vector 0: loads in cycles
    # 0..7, its buffer is full from 8, the runner starts it at 8, RUN ends at 8 + 40 = 48, last output at
    # 53: latency 54 cycles. Vector 1 loads in 8..15 into the other buffer; starts at max(16, 53 + 1) =
    # 54, last output at 54 + 40 + 5 = 99: 46 cycles later. Vector 2 waits for buffer 0, free after 48:
    # loads 49..56, starts at max(57, 100) = 100, last output at 145: 46 later again.
    from sim.amaranth_sim import run_tile
    w, lp = _two_sections(banks=2, double_buffer=True)
    c = cycle_model(lp)
    assert (c["cycles"], c["throughput"]) == (54, 46)
    x = np.array([[1, -2, 3, 4, -5, 6, 7, -8], [-8, 7, 6, -5, 4, 3, -2, 1], [5] * 8])
    assert predict(lp, x).vector_cycles == [54, 46, 46]
    run = run_tile(lp, x)
    assert (run.outputs == x @ w).all()
    assert run.cycles_per_vector == [54, 46, 46] and run.counters["cycles"] == 146


def test_double_buffered_loads_wait_for_the_buffer_when_loading_is_the_bottleneck():
    # One active column per output, K = 40 inputs a beat each: loading (40 cycles) takes longer than
    # RUN + output, so in the steady state a vector every 40 cycles on two banks.
    from sim.amaranth_sim import run_tile
    w = np.zeros((40, 2), np.int64)
    w[3, 0], w[17, 1] = 5, -9
    lp = _plan(w, rows=8, cols=28, n_adc=2, banks=2, double_buffer=True)
    c = cycle_model(lp)
    assert c["load"] == 40 and c["run"] + c["out"] + 1 < 40 and c["throughput"] == 40
    x = np.random.default_rng(0).integers(-128, 128, (4, 40))
    run = run_tile(lp, x)
    assert (run.outputs == x @ w).all() and compare(predict(lp, x), run) == []
    assert run.cycles_per_vector[1:] == [40, 40, 40]


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_verilog_double_buffered_tile_equals_the_golden_model(backend):
    from sim.verilog_sim import run_verilog
    need_tools(*(("verilator",) if backend == "verilator" else ("iverilog", "vvp")), why=f"the {backend} simulation")
    cfg = ArrayConfig(rows=8, cols=28, n_adc=3, banks=4, beat=2, double_buffer=True)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, rows=8, cols=28, n_adc=3, banks=4, beat=2, double_buffer=True)
    x = inputs(cfg, 21, 3, 2)
    run = run_verilog(lp, x, backend)
    assert (run.outputs == x @ w).all()
    assert compare(predict(lp, x), run) == []
    assert run.cycles_per_vector[1] < run.cycles_per_vector[0]


@pytest.mark.parametrize("encoding,aware", [("signmag", True), ("twos", True), ("signmag", False)])
def test_banks_on_other_drive_hardware_follow_each_vectors_schedule(encoding, aware):
    # Input-aware RUN differs from vector to vector: each bank's schedule is its own sections' for that
    # vector, and the double-buffered overlap follows the vectors' RUN times.
    _two_double_buffered_banks_are_bit_exact(beat=2, input_encoding=encoding, input_aware=aware)


def _two_double_buffered_banks_are_bit_exact(**hardware):
    """tests/sim/test_banks.py's 21 x 5 layer on two double-buffered banks of `hardware` (beat, drive),
    three vectors in Amaranth: outputs x @ W, counters and per-vector cycles the golden model's."""
    from sim.amaranth_sim import run_tile
    hw = dict(rows=8, cols=28, n_adc=3, banks=2, double_buffer=True, **hardware)
    cfg = ArrayConfig(**hw)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, **hw)
    x = inputs(cfg, 21, 3, 2)
    run = run_tile(lp, x)
    assert (run.outputs == x @ w).all() and compare(predict(lp, x), run) == []


@pytest.mark.parametrize("aware", [False, True], ids=["weight_only", "aware"])
def test_bipolar_banks_with_wide_double_buffered_beats_are_bit_exact(aware):
    # B = 2 banks, W = 4 elements a beat, double-buffered, on the bipolar drive: outputs x @ W, and the
    # golden model's counters and per-vector cycles.
    _two_double_buffered_banks_are_bit_exact(beat=4, input_encoding="bipolar", input_aware=aware)


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_verilog_bipolar_banks_with_wide_double_buffered_beats_equal_the_golden_model(backend):
    from sim.verilog_sim import run_verilog
    need_tools(*(("verilator",) if backend == "verilator" else ("iverilog", "vvp")), why=f"the {backend} simulation")
    hw = dict(rows=8, cols=28, n_adc=3, banks=2, beat=4, double_buffer=True, input_encoding="bipolar", input_aware=True)
    cfg = ArrayConfig(**hw)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, **hw)
    x = inputs(cfg, 21, 3, 2)
    run = run_verilog(lp, x, backend)
    assert (run.outputs == x @ w).all()
    assert compare(predict(lp, x), run) == []


def test_generic_tile_with_wide_double_buffered_beats_takes_a_smaller_layer():
    # A generic netlist (K limit 32, one bank) programmed with a 21-input layer: ceil(21 / 4) = 6 beats a
    # vector from the layer word's K, not the limit's 8.
    from hwgen.params import TileParams
    from sim.amaranth_sim import run_tile
    hw = dict(rows=8, cols=28, n_adc=3, beat=4, double_buffer=True)
    cfg = ArrayConfig(**hw)
    w = weights(21, 5, 0.5, 1, magnitude=cfg.hw.weight_max)
    lp = _plan(w, **hw)
    x = inputs(cfg, 21, 3, 2)
    limits = TileParams(cfg.hw, 32, 8, 16, 128, 128, 1)
    run = run_tile(lp, x, generic=limits)
    assert (run.outputs == x @ w).all() and compare(predict(lp, x, limits), run) == []
    assert cycle_model(lp, limits)["load"] == 6


def test_a_generic_netlist_of_several_banks_is_refused():
    from hwgen.controller import Controller
    from hwgen.params import TileParams
    from mapper.common import SwsError
    with pytest.raises(SwsError, match="banks 2: a generic netlist has one bank"):
        Controller(TileParams(ArrayConfig(rows=8, cols=28, n_adc=3, banks=2).hw, 32, 8, 16, 128, 128, 1))
