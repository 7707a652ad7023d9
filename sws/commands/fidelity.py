"""`sws fidelity`: the accuracy cost of pruning MiniLM (and of its crossbars): cosine against the int8 model."""

from __future__ import annotations

import os
import sys

from mapper.errors import SwsError
from mapper.files import dumps_json
from sws.experiments.fidelity import fidelity_markdown, fidelity_to_folder

from .common import add_config_args, config_from_args

DEFAULT_SPARSITIES = "0,0.1,0.3,0.5,0.7,0.8,0.9,0.95"


def add_parser(sub):
    p = sub.add_parser("fidelity", help="MiniLM accuracy under pruning: cosine of last_hidden_state vs int8",
                       description="Run the MiniLM ONNX model with onnxruntime on the shipped token sequences, "
                                   "its int8 weights pruned, and report the cosine similarity of last_hidden_state "
                                   "against the unpruned model. --crossbar also computes every weight MatMul as "
                                   "the mapped crossbars do (A-bit inputs, ADCs saturating at a --cap). "
                                   "Needs the minilm extra.")
    p.add_argument("--sparsities", default=DEFAULT_SPARSITIES, help="comma-separated (default %(default)s)")
    p.add_argument("--crossbar", action="store_true",
                   help="also run every weight MatMul through the mapped crossbars (slower: ~20 s a sparsity)")
    p.add_argument("-o", "--output", default=os.path.join("build", "fidelity", "minilm"),
                   help="output folder (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print fidelity.json on stdout and nothing else")
    add_config_args(p)
    return p


def run(args):
    try:
        sparsities = tuple(float(x) for x in args.sparsities.split(",") if x.strip())
    except ValueError:
        raise SwsError(f"--sparsities: expected comma-separated numbers, not {args.sparsities!r}") from None
    cfg = config_from_args(args)
    if not args.crossbar and args.cap is not None:
        raise SwsError("--cap only acts through the crossbars: add --crossbar")
    result = fidelity_to_folder(sparsities, args.output, crossbar=cfg if args.crossbar else None,
                                progress=lambda i, n, t: print(f"[{i + 1}/{n}] {t}", file=sys.stderr, flush=True))
    if args.json:
        print(dumps_json(result))
    else:
        print(fidelity_markdown(result))
        print(f"in {args.output}/")
    return 0
