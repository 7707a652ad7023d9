"""Speed-up of `sws explore` with two local worker processes over one, on the same 24-point grid (fresh caches).

    python benchmarks/bench_explore.py [--json FILE]

The grid: synthetic:laplace:384x1536 x rows {64, 128} x law {walden, thermal} x sparsity {0.5, 0.8, 0.9}
x ordering {sorted, natural}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

SPEC = {"weights": ["synthetic:laplace:384x1536"],
        "grid": {"rows": [64, 128], "law": ["walden", "thermal"], "sparsity": [0.5, 0.8, 0.9],
                 "ordering": ["sorted", "natural"]}}


def main():
    from sws.experiments.explore import explore, load_spec

    p = argparse.ArgumentParser()
    p.add_argument("--json", help="write the timings here")
    args = p.parse_args()
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.json")
        with open(path, "w") as f:
            json.dump(SPEC, f)
        spec = load_spec(path)
        rows = {}
        for workers in (1, 2):
            t = time.perf_counter()
            rows[workers] = explore(spec, os.path.join(tmp, f"w{workers}"), workers=workers, plots=False, progress=None)
            out[f"workers_{workers}_s"] = round(time.perf_counter() - t, 2)
            print(f"{workers} worker(s): {out[f'workers_{workers}_s']} s", file=sys.stderr, flush=True)
        assert rows[1] == rows[2]
    out["points"] = len(rows[1])
    out["speedup"] = round(out["workers_1_s"] / out["workers_2_s"], 2)
    out["load_average"] = os.getloadavg()
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
