"""Sensitivity of each of MiniLM's 36 int8 matrices (docs/results/minilm-distill.md, per-matrix allocation).

    nice -n 10 python benchmarks/bench_sensitivity.py [--threads 2] [--cache build/models] [-o JSON]

For each matrix alone, pruned by magnitude (the smallest |w|, as `sws prune --allocation sensitivity` prunes
it to measure) with every other matrix dense:
- on the 16 evaluation sentences, at 0.9: token and sentence cosine of the exported int8 ONNX (bert.to_onnx)
  against the shipped unpruned int8 model, with onnxruntime: the measure of the results tables;
- on the calibration text `sws prune` reads (the first 128 training sequences, WordNet), at 0.7 and 0.9:
  1 - token cosine of the JAX forward (distill.matrix_damage), what the allocation uses;
and the allocation at 0.7 and 0.9 (distill.sensitivity_sparsities). The evaluation sentences never enter
the allocation; they only check that the calibration text ranks the matrices as they do.
"""

import argparse
import json
import os
import sys
import time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default=os.path.join("build", "models"), help="token cache folder of the text")
    ap.add_argument("-o", "--output", default=os.path.join("docs", "results", "minilm-sensitivity.json"))
    ap.add_argument("--probe", type=float, default=0.9, help="sparsity of the evaluation-sentence measure")
    args = ap.parse_args(argv)
    os.environ.setdefault("XLA_FLAGS", f"--xla_cpu_multi_thread_eigen=true intra_op_parallelism_threads={args.threads}")
    import numpy as np

    from mapper.common import write_atomic
    from sws.experiments import distill
    from sws.experiments.bert import from_onnx, linear_names, to_onnx
    from sws.experiments.fidelity import masked_cosine, pooled_cosine
    from sws.experiments.runtime import TOKENS_PATH, load_token_sequences, minilm_model, session, token_feeds
    from sws.experiments.training_text import training_sequences

    started = time.monotonic()
    model, _ = minilm_model()
    shape, teacher = from_onnx(model)
    names = linear_names(shape)
    feeds = token_feeds(load_token_sequences(TOKENS_PATH))
    mask = feeds["attention_mask"]
    (reference,) = session(model).run(["last_hidden_state"], feeds)
    evaluation = {}
    for name in names:
        w = np.asarray(teacher[name])
        keep = distill.update_masks({name: w}, {name: np.ones(w.shape, bool)}, {name: args.probe})[name]
        m = to_onnx(shape, {**teacher, name: np.where(keep, w, 0).astype(w.dtype)})
        (y,) = session(m).run(["last_hidden_state"], feeds)
        evaluation[name] = {"tokens": masked_cosine(y, reference, mask), "sentences": pooled_cosine(y, reference, mask)}
        print(f"{name}: tokens {evaluation[name]['tokens']:.4f}", file=sys.stderr, flush=True)
    eval_seconds = time.monotonic() - started

    cfg = distill.DistillConfig(targets=(0.7, 0.9), steps=4, batch_tokens=1024, allocation="sensitivity")
    os.makedirs(args.cache, exist_ok=True)
    seqs, _ = training_sequences("wordnet", max_tokens=cfg.lengths[-1], cache=args.cache)
    d = distill.Distiller(shape, teacher, seqs, cfg, args.cache, progress=False)
    t = time.monotonic()
    plans = d.plan(None)
    cal_seconds = time.monotonic() - t
    sizes = {n: int(np.size(teacher[n])) for n in names}
    rows = [{"matrix": n, "size": sizes[n], "eval_cosine_tokens": evaluation[n]["tokens"],
             "eval_cosine_sentences": evaluation[n]["sentences"],
             "calibration_damage": dict(zip([str(p) for p in distill.SENSITIVITY_PROBES], d.sensitivity[n])),
             "allocation": {str(s): plan[n] for s, plan in zip(cfg.targets, plans)}} for n in names]
    ev = np.array([1 - r["eval_cosine_tokens"] for r in rows])
    cal = np.array([d.sensitivity[n][-1] for n in names])
    rank = lambda x: np.argsort(np.argsort(x))  # noqa: E731
    spearman = float(np.corrcoef(rank(ev), rank(cal))[0, 1])
    out = {"probe": args.probe, "probes": list(distill.SENSITIVITY_PROBES), "tokens": int(mask.sum()),
           "sequences": len(mask), "spearman_eval_vs_calibration_at_0.9": spearman,
           "seconds": {"evaluation_sentences": eval_seconds, "calibration_and_allocation": cal_seconds},
           "counted_sparsity": {str(s): sum(round(plan[n] * sizes[n]) for n in names) / sum(sizes.values())
                                for s, plan in zip(cfg.targets, plans)},
           "rows": rows}
    write_atomic(args.output, json.dumps(out, indent=1) + "\n")
    print(table(out))


def table(out) -> str:
    lines = [f"| matrix | weights | tokens, eval, alone at {out['probe']:g} | 1 - cos, calibration, at "
             + " / ".join(f"{p:g}" for p in out["probes"]) + " | sparsity at 0.7 | sparsity at 0.9 |",
             "|---|---:|---:|---:|---:|---:|"]
    for r in out["rows"]:
        dmg = " / ".join(f"{v:.4f}" for v in r["calibration_damage"].values())
        lines.append(f"| {r['matrix']} | {r['size']} | {r['eval_cosine_tokens']:.4f} | {dmg} | "
                     f"{r['allocation']['0.7']:.3f} | {r['allocation']['0.9']:.3f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
