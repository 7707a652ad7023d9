"""MiniLM pruned one-shot by magnitude, Wanda and SparseGPT, each also ADC-aware: fidelity, retrieval and energy.

    python benchmarks/bench_pruning.py [--sparsities 0.3,0.5,0.7,0.9] [--trade 0.3] [--out docs/results]

Needs the minilm extra (and matplotlib for the plot). Writes minilm-pruning.md, minilm-pruning.json and
pruning_front.png into --out; the same table as `sws fidelity --prune magnitude,wanda,sparsegpt --adc-trade 0.3
--sparsities 0.3,0.5,0.7,0.9`. Takes about half an hour on one core (SparseGPT's layer-by-layer capture and
its layer-by-layer captures dominate); the plain methods and the ADC-aware variants run in two processes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def half(sparsities, methods, trade, adc, t0):
    from sws.experiments.fidelity import minilm_fidelity
    tag = "ADC-aware" if adc else "plain"
    return minilm_fidelity(sparsities, methods=methods, adc_trade=trade if adc else None, plain=not adc,
                           progress=lambda i, n, t: print(f"[{tag} {i + 1}/{n}] {t} ({time.perf_counter() - t0:.0f} s)",
                                                          file=sys.stderr, flush=True))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sparsities", default="0.3,0.5,0.7,0.9")
    p.add_argument("--methods", default="magnitude,wanda,sparsegpt")
    p.add_argument("--trade", type=float, default=0.3, help="the ADC-aware variant's trade (0: none)")
    p.add_argument("--out", default=os.path.join("docs", "results"))
    args = p.parse_args()

    from sws.experiments.fidelity import fidelity_markdown, plot_front

    t0 = time.perf_counter()
    sparsities = tuple(float(s) for s in args.sparsities.split(","))
    methods = tuple(args.methods.split(","))
    with ProcessPoolExecutor(2 if args.trade else 1) as pool:
        jobs = [pool.submit(half, sparsities, methods, args.trade, adc, t0) for adc in ((False, True) if args.trade else (False,))]
        parts = [j.result() for j in jobs]
    result = parts[0]
    for part in parts[1:]:
        result["rows"] += part["rows"]
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "minilm-pruning.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    with open(os.path.join(args.out, "minilm-pruning.md"), "w") as f:
        f.write("# MiniLM: one-shot pruning methods\n\nMade by `python benchmarks/bench_pruning.py` "
                f"({result['wall_seconds']:.0f} s).\n\n" + fidelity_markdown(result).split("\n", 2)[2])
    plot_front(result, os.path.join(args.out, "pruning_front.png"))
    print(fidelity_markdown(result))


if __name__ == "__main__":
    main()
