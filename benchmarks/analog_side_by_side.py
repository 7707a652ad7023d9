"""Long measurement for docs/results/analog.md, "The side-by-side study" (issue 26 item 3): MiniLM through the PCM
preset (read at one hour, global drift compensation) at 0%, 30% and 50% SparseGPT sparsity, with the dense, natural
order, SWS and objective plans, at noise x0.3 (where the plans differ), 2 chip instances a point.

    OPENBLAS_NUM_THREADS=1 nice -n 10 python benchmarks/analog_side_by_side.py [--out build/study3] [--only N]
        [--plot-only]

Runs one `sws fidelity --analog` command per sparsity and plan (in the priority order of RUNS; a result already in
--out is reused, so an interrupted study resumes), adds the 30% points measured earlier with the same commands
(docs/results/analog.json, benchmarks/analog_minilm_study.py), prints the table and writes
docs/results/analog_side_by_side.json and docs/results/analog_side_by_side.png. One run: ~8 min a chip instance
on the loaded shared 2-core machine (3 min of CPU).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BASE = ["--analog", "pcm", "--prune", "sparsegpt", "--seeds", "2", "--no-retrieval", "--noise-scales", "0.3"]
#: (name, sparsity, plan) in the order they run: the three plans at 50% and 0%, natural at 30% (SWS and dense at 30%
#: come from docs/results/analog.json), then the objective's choice where it was measured (0% and 30%), then 50%.
RUNS = [(f"s{int(100 * s)}_{p}", s, p) for s, p in
        [(0.5, "sws"), (0.5, "dense"), (0.5, "natural"), (0.0, "sws"), (0.0, "dense"), (0.0, "natural"),
         (0.3, "natural"), (0.3, "objective"), (0.0, "objective"), (0.5, "objective")]]
#: The earlier runs at 30% reused (docs/results/analog.json), by their name there.
EARLIER = ("s30_plain", "s30_scales")


def command(sparsity: float, plan: str) -> list[str]:
    return ["sws", "fidelity", *BASE, "--sparsities", f"{sparsity:g}", "--plans", plan]


def run_all(out: str, only: int | None) -> None:
    env = dict(os.environ, PYTHONPATH=ROOT, OPENBLAS_NUM_THREADS="1")
    for k, (name, s, plan) in enumerate(RUNS[:only]):
        path = os.path.join(out, f"{name}.json")
        if os.path.exists(path) and os.path.getsize(path):
            continue
        cmd = [sys.executable, "-m", *command(s, plan)[:1], *command(s, plan)[1:], "-o", os.path.join(out, name),
               "--json"]
        print(f"[{k + 1}/{len(RUNS)}] {' '.join(command(s, plan))}", file=sys.stderr, flush=True)
        t = time.time()
        with open(path + ".part", "w") as f:
            subprocess.run(cmd, env=env, stdout=f, check=True, cwd=ROOT)
        os.replace(path + ".part", path)
        print(f"    {time.time() - t:.0f} s", file=sys.stderr, flush=True)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "build", "study3"))
    p.add_argument("--only", type=int, default=None, help="run only the first N of RUNS")
    p.add_argument("--plot-only", action="store_true", help="run nothing: table and plot of the results in --out")
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if not args.plot_only:
        run_all(args.out, args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
