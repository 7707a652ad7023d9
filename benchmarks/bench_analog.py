"""Speed of a layer's Monte Carlo output error through the analog model (mapper.analog.analog_error), the figure
`sws map --analog` adds to each layer of its report. Goal: under 5 s for a 384 x 1536 layer (issue 26).

    python benchmarks/bench_analog.py [--preset pcm] [--seeds 3] [--vectors 16] [--runs 3] [--json FILE]

A 384 x 1536 Laplace layer (MiniLM's FFN-in shape; int8, seed 0), mapped under the default configuration
(sorted, plain, policy column, 128 x 128) and as the dense reference; each run is `analog_error` with its
default 16 random vectors and 3 chip instances; wall time of each run and the median, and the process's CPU
time (all threads). The machine is shared: the load average at the start is printed beside the times. Run it
with OPENBLAS_NUM_THREADS=1 on a loaded machine (the model's many small products thrash a threaded BLAS).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from mapper import ArrayConfig, QuantLayer, map_layer  # noqa: E402
from mapper.analog import AnalogRun, analog_error, load_device  # noqa: E402


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--preset", default="pcm")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--vectors", type=int, default=16)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    w = np.clip(np.rint(rng.laplace(0, 20, (384, 1536))), -127, 127).astype(np.int64)
    run = AnalogRun(load_device(args.preset), 3600.0)
    out = {"preset": args.preset, "seeds": args.seeds, "vectors": args.vectors, "load_average": os.getloadavg()[0],
           "plans": {}}
    for plan, fields in (("sws", {}), ("dense", {"ordering": "natural", "policy": "dense"})):
        lm = map_layer(QuantLayer("ffn", w), ArrayConfig(**fields))
        times, cpu, err = [], [], None
        for _ in range(args.runs):
            t, c = time.perf_counter(), time.process_time()
            err = analog_error(lm, run, seeds=args.seeds, vectors=args.vectors)
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        out["plans"][plan] = {"seconds": times, "median_s": statistics.median(times), "cpu_seconds": cpu,
                              "rms_error_relative": err["rms_error_relative"],
                              "rms_error_relative_std": err["rms_error_relative_std"]}
        print(f"{plan}: {statistics.median(times):.2f} s median of {args.runs} "
              f"({', '.join(f'{x:.2f}' for x in times)}), CPU {statistics.median(cpu):.2f} s; error {err['rms_error_relative']:.4f} +- "
              f"{err['rms_error_relative_std']:.4f}; load average {out['load_average']:.1f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
