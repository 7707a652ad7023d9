"""Simulation throughput of the Amaranth, Verilator and Icarus backends on the same plan and inputs, in one
run, and the time to simulate one real-size layer through Verilator including its compilation. By hand:

    python benchmarks/bench_verilog.py [--quick]

Every run is checked bit for bit against the golden model. Builds go to a fresh temporary cache so
compile times are real; wall and CPU seconds (user + system, this process and its children) are both
given, with the 1-minute load average before and after (CPU time varies less on a shared machine).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

# This checkout's packages, not an installed copy's: the numbers are of the code beside this script.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from hwgen.params import TileParams
from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan
from mapper.prepare import prepare_layer
from mapper.sources import load_weights
from sim.amaranth_sim import run_tile
from sim.golden import predict
from sim.verilog_sim import run_verilog


def plan_of(spec, sparsity, **cfg):
    cfg = ArrayConfig(**cfg)
    layer = prepare_layer(load_weights(spec)[0], cfg, sparsity)
    return build_layer_plan(map_layer(layer, cfg))


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return sum(x.ru_utime + x.ru_stime for x in r)


def check(lp, x, run):
    want = predict(lp, x)
    assert np.array_equal(run.outputs, want.outputs) and run.counters == want.counters(), "mismatch"


def throughput(spec: str, sparsity: float, rows: int, vectors: dict[str, int], repeats: int, cache: str):
    lp = plan_of(spec, sparsity, rows=rows)
    rng = np.random.default_rng(0)
    print(f"## Throughput: {spec} at sparsity {sparsity}, R = {rows}, n_adc 16 "
          f"({predict(lp, rng.integers(-128, 128, lp.shape[0])).cycles_per_vector} cycles per vector); "
          f"median of {repeats} runs, compilation excluded\n")
    print("| backend | vectors | cycles | simulate s (wall) | cycles/s (wall) | ratio to Amaranth |")
    print("|---|---|---|---|---|---|")
    speed = {}
    for backend, v in vectors.items():
        x = rng.integers(-128, 128, (v, lp.shape[0]))
        if backend != "amaranth":
            run_verilog(lp, x[:1], backend, cache=cache, say=lambda m: None)        # build once, untimed
        times = []
        for _ in range(repeats):
            run = run_tile(lp, x) if backend == "amaranth" else \
                run_verilog(lp, x, backend, cache=cache, say=lambda m: None)
            check(lp, x, run)
            times.append(run.seconds)
        cycles = run.counters["cycles"]
        speed[backend] = cycles / statistics.median(times)
        print(f"| {backend} | {v} | {cycles} | {statistics.median(times):.3f} | {speed[backend]:,.0f} | "
              f"{speed[backend] / speed['amaranth']:.1f}x |")
    print()


def real_layer(cache: str, vectors: int):
    """The baked tile (ROM images in the Verilog's initial contents) and the generic tile (ROMs written
    through its port), each from a cold cache; then a second layer of the same hardware on the generic
    build, which it reuses. The simulators compile the structure alone (memory contents are read at run
    time), so a cold build is emission + verilation + C++ compilation of the netlist."""
    spec, sparsity = "synthetic:laplace:384x1536:7", 0.9
    print(f"## One real-size layer through Verilator: {spec} at sparsity {sparsity}, R = 128, {vectors} vectors\n")
    for variant, layer in (("baked", spec), ("generic", spec), ("generic, second layer", spec[:-1] + "8")):
        load = os.getloadavg()[0]
        start_wall, start_cpu = time.perf_counter(), cpu_seconds()
        lp = plan_of(layer, sparsity, rows=128)
        x = np.random.default_rng(1).integers(-128, 128, (vectors, lp.shape[0]))
        mapped = time.perf_counter()
        generic = TileParams.from_plan(lp) if variant.startswith("generic") else None
        run = run_verilog(lp, x, "verilator", generic=generic, reuse=True,
                          cache=os.path.join(cache, variant.split(",")[0]), say=lambda m: None)
        done_wall, done_cpu = time.perf_counter(), cpu_seconds()
        check(lp, x, run)
        print(f"- {variant} tile ({layer}): {lp.n_sections} sections, {run.counters['cycles']} cycles simulated, "
              f"bit-exact with the golden model; map {mapped - start_wall:.1f} s, emit + compile + simulate "
              f"{done_wall - mapped:.1f} s (simulation alone {run.seconds:.2f} s); total "
              f"{done_wall - start_wall:.1f} s wall, {done_cpu - start_cpu:.1f} s CPU; "
              f"load {load:.2f} -> {os.getloadavg()[0]:.2f}")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer vectors and repeats")
    ap.add_argument("--real-layer-only", action="store_true", help="only the real-size layer")
    args = ap.parse_args()
    repeats = 1 if args.quick else 3
    with tempfile.TemporaryDirectory(prefix="sws-bench-") as cache:
        if not args.real_layer_only:
            throughput("synthetic:laplace:384x384:3", 0.9, 128,
                       {"amaranth": 1, "icarus": 2 if args.quick else 4, "verilator": 32 if args.quick else 256},
                       repeats, cache)
        real_layer(cache, 4 if args.quick else 16)


if __name__ == "__main__":
    main()
