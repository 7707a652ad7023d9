"""Timings of the MiniLM work: loading, one `sws map` at 0.9, the full sweep, and the fidelity runs.

    python benchmarks/bench_minilm.py [--json build/bench_minilm.json]

Needs the minilm extra. The sweep is 6 sparsities x 5 orderings (natural, sorted G = 1, 2, 4, 9) x 3 policies x
6 ADC models on 36 layers, with the whole macro.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def timed(name, fn, out):
    t = time.perf_counter()
    fn()
    out[name] = round(time.perf_counter() - t, 2)
    print(f"{name}: {out[name]} s", file=sys.stderr, flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--json", help="write the timings here")
    args = p.parse_args()

    from mapper.config import ArrayConfig
    from mapper.cost import map_source
    from mapper.sources import load_weights
    from sws.experiments.fidelity import minilm_fidelity
    from sws.experiments.sweep import sweep

    out = {}
    timed("load", lambda: load_weights("minilm"), out)
    timed("map at 0.9", lambda: map_source("minilm", ArrayConfig(), 0.9), out)
    layers = load_weights("minilm")
    timed("sweep (full grid)", lambda: sweep(layers, ArrayConfig()), out)
    timed("fidelity, pruned, 8 sparsities",
          lambda: minilm_fidelity((0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95)), out)
    timed("fidelity, crossbar lossless, at 0.9", lambda: minilm_fidelity((0.9,), crossbar=ArrayConfig()), out)
    timed("fidelity, crossbar cap 5, at 0.9", lambda: minilm_fidelity((0.9,), crossbar=ArrayConfig(cap=5)), out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
