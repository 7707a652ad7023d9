"""`sws prune`: a sparse MiniLM that still works, by gradual pruning with distillation from the unpruned model."""

from __future__ import annotations

import sys

from mapper.common import SwsError
from mapper.sources import models_dir

from .common import number_list

DEFAULT_TARGETS = "0.5,0.7,0.8,0.9"


def _duration(text: str) -> float:
    """Seconds of '7200', '90m', '2h' or '1.5h'."""
    units = {"s": 1, "m": 60, "h": 3600}
    t = text.strip().lower()
    try:
        return float(t[:-1]) * units[t[-1]] if t and t[-1] in units else float(t)
    except ValueError:
        raise SwsError(f"--time-budget: expected seconds or a number with s, m or h (e.g. 2h), not {text!r}") from None


def add_parser(sub):
    from sws.experiments.training_text import WORDNET_NOTE
    p = sub.add_parser("prune", help="gradual pruning of MiniLM with distillation: sparse int8 ONNX models that work",
                       description="Train sparse copies of all-MiniLM-L6-v2 (int8) that imitate the unpruned model: "
                                   "gradual magnitude pruning to each target in turn, with outlier-weighted per-layer "
                                   "sparsity (OWL) and distillation of every layer's hidden states and attention and "
                                   "of the output (TinyBERT-style losses), on CPU with JAX (the prune extra). Each "
                                   "target's model is written as OUTPUT/minilm-sparseNN.onnx in the shipped int8 "
                                   "form, which `sws map`, `sws fidelity --model` and `sws input-aware --model` read "
                                   "as minilm:sparseNN. Seeded and resumable: run the same command again to go on "
                                   f"from OUTPUT/checkpoint.npz. Training text: {WORDNET_NOTE}, or --text FILE.")
    p.add_argument("--sparsities", default=DEFAULT_TARGETS,
                   help="comma-separated increasing targets, each a stage of the run (default %(default)s)")
    p.add_argument("-o", "--output", default=None,
                   help="folder of the models, checkpoint and prune.json (default $SWS_MODELS or build/models, "
                        "where minilm:sparseNN looks)")
    p.add_argument("--model", default=None, help="the teacher: minilm (default) or an .onnx file in its form")
    p.add_argument("--text", default="wordnet",
                   help="training text: wordnet (default; Debian package wordnet-base) or a UTF-8 file, one "
                        "passage a line; the evaluation sentences and paraphrase pairs are never trained on")
    p.add_argument("--steps", type=int, default=None,
                   help="end-to-end training steps in all, after the block-wise steps of --block-steps (default: a "
                        "checkpoint's, else what fits --time-budget, else 3000)")
    p.add_argument("--time-budget", default=None,
                   help="wall-time budget (e.g. 2h, 90m, 5400): sizes --steps when not given, and stops the run "
                        "(checkpointed) when it runs out")
    p.add_argument("--batch-tokens", type=int, default=2048, help="tokens per batch, padding included (default %(default)s)")
    p.add_argument("--lr", type=float, default=1e-4, help="Adam learning rate (default %(default)s)")
    p.add_argument("--allocation", choices=("owl", "sensitivity"), default="owl",
                   help="how a target's sparsity is shared: owl (per block, by --owl-lambda and --last-block; "
                        "default) or sensitivity (per matrix: each of the 36 matrices pruned alone by magnitude "
                        "to 0.7 and 0.9 on calibration text, the one whose pruning moves the output more keeps "
                        "more weights; the zeros still sum to the target)")
    p.add_argument("--owl-lambda", type=float, default=0.08,
                   help="OWL: per-block sparsities within the target +- this (default %(default)s; 0: uniform; "
                        "unused with --allocation sensitivity)")
    p.add_argument("--pruner", choices=("magnitude", "sparsegpt"), default="magnitude",
                   help="how the masks grow: magnitude (every 25 steps, the smallest |w| still kept; default) or "
                        "sparsegpt (twice a stage, SparseGPT on the student's own inputs with the OBS update of the "
                        "kept weights; about 4 min per pruning on 2 busy cores)")
    p.add_argument("--init", default=None,
                   help="start from this sparse model (an .onnx in MiniLM's form, e.g. one pruned one-shot by "
                        "SparseGPT) instead of the unpruned weights; its zeros are the first mask")
    p.add_argument("--block-steps", type=int, default=0,
                   help="block-wise reconstruction first in each stage: each block in turn pruned to the target "
                        "(by --pruner, on the student's own inputs) and trained alone for this many steps to "
                        "reproduce the teacher's block output from the student's input; then --steps end to end "
                        "(default %(default)s: off)")
    p.add_argument("--block-lr", type=float, default=3e-3, help="Adam learning rate of the block-wise steps "
                   "(default %(default)s)")
    p.add_argument("--block-pool", type=int, default=64,
                   help="batches whose inputs the block-wise steps cache and cycle through (default %(default)s)")
    p.add_argument("--last-block", type=float, default=1.0,
                   help="the last block's sparsity times this (<= 1), the other blocks' raised to keep the target "
                        "(default %(default)s: as OWL gives it)")
    p.add_argument("--seed", type=int, default=0, help="batch order (default %(default)s)")
    p.add_argument("--threads", type=int, default=2, help="CPU threads of XLA (default %(default)s)")
    p.add_argument("--restart", action="store_true", help="ignore (and remove) a checkpoint in the output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def run(args):
    from sws.experiments.distill import prune_minilm
    targets = number_list(args.sparsities, "--sparsities")
    budget = _duration(args.time_budget) if args.time_budget is not None else None
    out = args.output or models_dir()
    meta = prune_minilm(out, steps=args.steps, model=args.model, text=args.text, time_budget=budget,
                        threads=args.threads, restart=args.restart, progress=not args.no_progress,
                        log=lambda m: print(m, file=sys.stderr, flush=True), targets=targets,
                        batch_tokens=args.batch_tokens, lr=args.lr, owl_lambda=args.owl_lambda, seed=args.seed,
                        pruner=args.pruner, init=args.init, block_steps=args.block_steps, block_lr=args.block_lr,
                        block_pool=args.block_pool, last_block=args.last_block,
                        allocation=args.allocation)
    for key, e in meta["exported"].items():
        print(f"sparsity {key}: {out}/{e['file']} ({100 * e['zeros']:.2f}% zeros in the 36 int8 matrices)")
    total = meta.get("total", meta["config"]["steps"])
    if not meta.get("done", meta["step"] >= total):
        print(f"stopped at step {meta['step']} of {total}: run the same command to resume")
    print(f"{meta['seconds'] / 60:.1f} min of training; prune.json in {out}/")
    return 0
