"""One whole real MiniLM layer on input-aware hardware in Verilator, on its captured activations: outputs
against x @ W, counters and every vector's cycles against the golden model, and the weight-only figures of
the same plan for comparison. By hand (the cold Verilator build of a real-size tile takes minutes):

    python benchmarks/bench_input_aware_rtl.py [--layer L0.ffn.out] [--sparsity 0] [--vectors 4]
        [--encoding signmag|twos|bipolar]

Prints a markdown table; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan
from mapper.sources import QuantLayer
from sim.check import compare
from sim.golden import predict
from sim.verilog_sim import run_verilog
from sws.experiments.minilm_inputs import capture_layers


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--layer", default="L0.ffn.out")
    ap.add_argument("--sparsity", type=float, default=0.0)
    ap.add_argument("--vectors", type=int, default=4, help="real tokens, the first of the first sentence")
    ap.add_argument("--encoding", default="signmag", choices=("twos", "signmag", "bipolar"))
    ap.add_argument("--rows", type=int, default=128)
    args = ap.parse_args(argv)

    layer = next(l for l in capture_layers(args.sparsity, max_sequences=1) if l.layer == args.layer)
    x = layer.x[:args.vectors]
    cfg = ArrayConfig(rows=args.rows, input_encoding=args.encoding, input_aware=True)
    lp = build_layer_plan(map_layer(QuantLayer(layer.layer, layer.w), cfg))
    want = predict(lp, x)
    with tempfile.TemporaryDirectory() as cache:       # a cold build: its time is part of the result
        start = time.perf_counter()
        run = run_verilog(lp, x, "verilator", cache=cache, say=lambda m: print(m, file=sys.stderr))
        total_s = time.perf_counter() - start
    problems = compare(want, run)
    exact = np.array_equal(run.outputs, x @ layer.w)
    others = {name: predict(lp.on_hardware(**fields), x) for name, fields in (
        ("weight-only twos", {"input_encoding": "twos", "input_aware": False}),
        (f"weight-only {args.encoding}", {"input_aware": False}),
        ("input-aware twos", {"input_encoding": "twos"}))}
    k, n = layer.w.shape
    print(f"## {layer.layer} ({k} x {n}, sparsity {args.sparsity}, R = {args.rows}, 16 ADCs), "
          f"{len(x)} real tokens, {lp.n_sections} sections, input-aware {args.encoding} in Verilator\n")
    print(f"outputs equal x @ W: {exact}; counters and cycles equal the golden model's: {not problems}")
    for line in problems:
        print(f"mismatch: {line}")
    print(f"cycles per vector, predicted: {want.vector_cycles}; measured: {run.cycles_per_vector}")
    print(f"Verilator build and run {total_s:.1f} s (simulation {run.seconds:.1f} s)\n")
    print("| hardware | cycles per vector (mean) | conversions per vector | ADC energy pJ per vector (isaac) |")
    print("|---|---:|---:|---:|")
    for name, p in [(f"input-aware {args.encoding} (this run)", want), *others.items()]:
        print(f"| {name} | {np.mean(p.vector_cycles):.0f} | {sum(p.conversions) / len(x):.0f} | "
              f"{p.energy_pj / len(x):.0f} |")
    return 0 if exact and not problems else 1


if __name__ == "__main__":
    sys.exit(main())
