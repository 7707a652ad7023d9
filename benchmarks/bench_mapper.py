"""Mapper speed and memory: `sws map minilm --sparsity 0.9` end to end, and a BERT-large-sized synthetic model
mapped layer by layer.

    python benchmarks/bench_mapper.py [--minilm-runs 3] [--sparsity 0.9] [--blocks 24] [--json FILE]

- minilm: the command as a user runs it (36 layers; plan, ROM images, report written to a fresh folder),
  wall time of each run and the median (needs the minilm extra);
- synthetic-bert-large: 24 encoder blocks of 4 x (1024 x 1024) and 1024 x 4096 + 4096 x 1024 Laplace layers
  (302 M weights), each generated, pruned, quantized and mapped with its references and bound, then dropped;
  run in a child process, whose peak resident memory is reported (ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BERT_LARGE_BLOCK = [(1024, 1024)] * 4 + [(1024, 4096), (4096, 1024)]


def stream_bert_large(blocks: int, sparsity: float) -> dict:
    """Map the synthetic model one layer at a time; only the running totals stay in memory."""
    sys.path.insert(0, ROOT)   # this checkout's mapper, not an installed one
    import numpy as np

    from mapper.config import ArrayConfig
    from mapper.sources import Layer
    from mapper.prepare import prepare_layer
    from mapper.cost import map_layers

    cfg = ArrayConfig()
    totals = {"weights": 0, "energy_pj": 0.0, "natural_energy_pj": 0.0, "dense_energy_pj": 0.0, "sections": 0}
    stages = {"generate": 0.0, "prune+quantize": 0.0, "map+references+bound": 0.0}
    start = time.perf_counter()
    for b in range(blocks):
        for i, shape in enumerate(BERT_LARGE_BLOCK):
            t0 = time.perf_counter()
            w = np.random.default_rng(b * 16 + i).laplace(0.0, 1.0, shape).astype(np.float32)
            t1 = time.perf_counter()
            q = prepare_layer(Layer(f"B{b}.{i}", w), cfg, sparsity)
            t2 = time.perf_counter()
            [r] = map_layers([q], cfg)
            t3 = time.perf_counter()
            stages["generate"] += t1 - t0
            stages["prune+quantize"] += t2 - t1
            stages["map+references+bound"] += t3 - t2
            totals["weights"] += w.size
            totals["energy_pj"] += r.cost.energy_pj
            totals["natural_energy_pj"] += r.natural.energy_pj
            totals["dense_energy_pj"] += r.dense.energy_pj
            totals["sections"] += r.cost.sections
        print(f"[{b + 1}/{blocks}] {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)
    return {**totals, "seconds": round(time.perf_counter() - start, 2), "cpu_seconds": round(time.process_time(), 2),
            "stages_s": {k: round(v, 2) for k, v in stages.items()}}


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def minilm_runs(n: int, sparsity: float) -> dict:
    """Wall and CPU seconds (user + system) of each run: on a shared machine the CPU time is the steadier one."""
    times, cpu = [], []
    for _ in range(n):
        with tempfile.TemporaryDirectory() as tmp:
            t, c = time.perf_counter(), _child_cpu()
            subprocess.run([sys.executable, "-m", "sws.cli", "map", "minilm", "--sparsity", str(sparsity),
                            "-o", os.path.join(tmp, "out")], cwd=ROOT, check=True, capture_output=True)
            times.append(round(time.perf_counter() - t, 2))
            cpu.append(round(_child_cpu() - c, 2))
    return {"runs_s": times, "median_s": statistics.median(times), "cpu_s": cpu, "median_cpu_s": statistics.median(cpu)}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--minilm-runs", type=int, default=3, help="0 skips MiniLM")
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--blocks", type=int, default=24, help="encoder blocks of the synthetic model (0 skips it)")
    p.add_argument("--json", help="write the results here")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(stream_bert_large(args.blocks, args.sparsity)))
        return
    out = {}
    if args.minilm_runs:
        out["minilm"] = minilm_runs(args.minilm_runs, args.sparsity)
        print(f"minilm: {out['minilm']}", file=sys.stderr, flush=True)
    if args.blocks:
        child = subprocess.run([sys.executable, __file__, "--child", "--blocks", str(args.blocks),
                                "--sparsity", str(args.sparsity)], cwd=ROOT, check=True, stdout=subprocess.PIPE,
                               text=True)
        res = json.loads(child.stdout)
        res["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        out["synthetic-bert-large"] = res
        print(f"synthetic-bert-large: {res}", file=sys.stderr, flush=True)
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
