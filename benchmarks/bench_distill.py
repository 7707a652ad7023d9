"""MiniLM pruned with distillation (`sws prune`) against one-shot SparseGPT: fidelity, retrieval, ADC and macro energy.

    nice -n 10 python benchmarks/bench_distill.py [--time-budget 2h] [--steps N] [--models build/models]
        [--out docs/results] [sws prune options after --, e.g. -- --lr 2e-4 --batch-tokens 1024]

Needs the prune and minilm extras, the Debian package wordnet-base (the training text) and matplotlib.
Runs `sws prune --sparsities 0.5,0.7,0.8,0.9` into --models (resuming a run left there; a finished one is
only measured), then measures the unpruned model, SparseGPT one-shot and the distilled models at each
sparsity (sws.experiments.sparse_front) and writes minilm-distill.json and distill_front.png into --out.
The training is the long part: at most the --time-budget on 2 threads.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--sparsities", default="0.5,0.7,0.8,0.9")
    p.add_argument("--time-budget", default="2h")
    p.add_argument("--steps", default=None)
    p.add_argument("--models", default=os.path.join("build", "models"))
    p.add_argument("--out", default=os.path.join("docs", "results"))
    p.add_argument("--skip-training", action="store_true", help="measure the models already in --models")
    args, extra = p.parse_known_args()
    extra = [x for x in extra if x != "--"]

    from sws.cli import main as sws
    from sws.experiments.distill import MANIFEST, model_file
    from sws.experiments.sparse_front import front_markdown, measure_models, plot_distill_front

    t0 = time.perf_counter()
    if not args.skip_training:
        argv = ["prune", "--sparsities", args.sparsities, "-o", args.models, "--time-budget", args.time_budget,
                *(["--steps", args.steps] if args.steps else []), *extra]
        if sws(argv) != 0:
            sys.exit("sws prune failed")
    with open(os.path.join(args.models, MANIFEST)) as f:
        manifest = json.load(f)
    sparsities = tuple(float(s) for s in args.sparsities.split(","))
    distilled = {s: os.path.join(args.models, model_file(s)) for s in sparsities
                 if os.path.isfile(os.path.join(args.models, model_file(s)))}
    result = measure_models(distilled, sparsities,
                            progress=lambda i, n, t: print(f"[{i + 1}/{n}] {t} ({time.perf_counter() - t0:.0f} s)",
                                                           file=sys.stderr, flush=True))
    result["training"] = {k: manifest[k] for k in ("config", "text", "stages", "seconds", "step", "done", "history")}
    result["training"]["per_layer_target"] = {k: v["per_layer_target"] for k, v in manifest["exported"].items()}
    result["measure_seconds"] = round(time.perf_counter() - t0, 1)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "minilm-distill.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    plot_distill_front(result, os.path.join(args.out, "distill_front.png"))
    print(front_markdown(result))
    print(f"training {manifest['seconds'] / 60:.1f} min ({manifest['step']} of {manifest['config']['steps']} steps)")


if __name__ == "__main__":
    main()
