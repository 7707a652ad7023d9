"""Cycles per input vector against the ADC bound, and Amaranth simulation speed. Run by hand:

    python benchmarks/bench_rtl.py [--quick]

On a shared machine the wall-clock speed depends on the load; the CPU-time speed much less.
Cycle counts come from the golden model's cycle model, which the simulation reproduces exactly (each
simulated run here is checked against it). The ADC bound of a vector is, for each section and plane,
max(ceil(sum of the active columns' resolutions / n_adc), largest resolution), summed.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from hwgen.params import TileParams
from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan
from mapper.prepare import prepare_layer
from mapper.sources import load_weights
from sim.amaranth_sim import run_tile
from mapper.schedule import cycle_model
from sim.golden import predict


def plan_of(spec, sparsity, **cfg):
    cfg = ArrayConfig(**cfg)
    layer = prepare_layer(load_weights(spec)[0], cfg, sparsity)
    return build_layer_plan(map_layer(layer, cfg))


def cycle_table(spec: str):
    print(f"## Cycles per vector against the ADC bound: {spec}, 128 columns, n_adc 16, policy column, sorted\n")
    print("| R | sparsity | sections | cycles/vector | RUN cycles | ADC bound | cycles/bound | RUN/bound |")
    print("|---|---|---|---|---|---|---|---|")
    for rows in (64, 128):
        for sparsity in (0.5, 0.7, 0.9):
            lp = plan_of(spec, sparsity, rows=rows, cols=128, n_adc=16)
            s = cycle_model(lp)
            print(f"| {rows} | {sparsity} | {lp.n_sections} | {s['cycles']} | {s['run']} | {s['adc_bound']} | "
                  f"{s['cycles'] / s['adc_bound']:.3f} | {s['run'] / s['adc_bound']:.3f} |")
    print()


def sim_speed(spec: str, repeats: int):
    print(f"## Amaranth simulation speed: {spec} at sparsity 0.9, n_adc 16, one vector, median of {repeats}\n")
    print("| R | cycles | elaborate+run s | simulate s (wall) | simulate s (CPU) | cycles/s (wall) | cycles/s (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for rows in (64, 128):
        lp = plan_of(spec, 0.9, rows=rows, cols=128, n_adc=16)
        x = np.random.default_rng(0).integers(-128, 128, (1, lp.shape[0]))
        want = predict(lp, x)
        totals, sims, cpus = [], [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            run = run_tile(lp, x, params=TileParams.from_plan(lp))
            totals.append(time.perf_counter() - t0)
            sims.append(run.seconds)
            cpus.append(run.cpu_seconds)
            assert np.array_equal(run.outputs, want.outputs) and run.counters == want.counters()
        cycles = run.counters["cycles"]
        wall, cpu = statistics.median(sims), statistics.median(cpus)
        print(f"| {rows} | {cycles} | {statistics.median(totals):.2f} | {wall:.2f} | {cpu:.2f} | "
              f"{cycles / wall:.0f} | {cycles / cpu:.0f} |")
    print()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a smaller layer for the simulation speed, one run")
    args = ap.parse_args()
    cycle_table("synthetic:laplace:384x384")
    sim_speed("synthetic:laplace:384x64" if args.quick else "synthetic:laplace:384x384", 1 if args.quick else 3)


if __name__ == "__main__":
    main()
