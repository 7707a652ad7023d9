"""`sws fidelity`: what pruning costs MiniLM (and its crossbars): cosine, paraphrase retrieval and SWS energy."""

from __future__ import annotations

import os

from mapper.common import SwsError
from mapper.common import dumps_json
from mapper.prepare import PRUNE_METHODS
from sws.experiments.fidelity import fidelity_markdown, fidelity_to_folder
from sws.experiments.pruning import CALIBRATION_PATH

from ..progress import Progress
from .common import add_config_args, config_from_args, number_list

DEFAULT_SPARSITIES = "0,0.1,0.3,0.5,0.7,0.8,0.9,0.95"


def add_parser(sub):
    p = sub.add_parser("fidelity", help="MiniLM under pruning: cosine, paraphrase retrieval and energy vs int8",
                       description="Run the MiniLM ONNX model with onnxruntime on the shipped evaluation sentences, "
                                   "its int8 weights pruned one-shot, and report the cosine similarity of "
                                   "last_hidden_state (tokens and mean-pooled sentences) against the unpruned "
                                   "model, paraphrase retrieval on the shipped pairs, and the SWS ADC energy of "
                                   "the pruned layers under the array options. --crossbar also computes every "
                                   "weight MatMul as the mapped crossbars do (A-bit inputs, ADCs saturating at a "
                                   "--cap). Needs the minilm extra.")
    p.add_argument("--sparsities", default=DEFAULT_SPARSITIES, help="comma-separated (default %(default)s)")
    p.add_argument("--prune", default="magnitude",
                   help=f"comma-separated pruning methods, of {', '.join(PRUNE_METHODS)} (default %(default)s); "
                        f"wanda and sparsegpt calibrate layer by layer on the calibration text")
    p.add_argument("--adc-trade", type=float, default=None,
                   help="also run each method ADC-aware: among weights within this fraction of equal saliency, "
                        "prefer those whose removal saves ADC energy, in [0, 1] (e.g. 0.3)")
    p.add_argument("--calibration", default=CALIBRATION_PATH,
                   help="token file of the calibration text (default: the shipped one, sws/data/"
                        "minilm_calibration.json; never the evaluation sentences)")
    p.add_argument("--model", default=None,
                   help="the model to prune and measure: minilm (default), minilm:sparseNN (made by `sws prune`) "
                        "or an .onnx file in MiniLM's int8 form; always against the shipped unpruned model "
                        "(e.g. --model minilm:sparse70 --sparsities 0)")
    p.add_argument("--crossbar", action="store_true",
                   help="also run every weight MatMul through the mapped crossbars (slower: ~20 s a sparsity)")
    p.add_argument("-o", "--output", default=os.path.join("build", "fidelity", "minilm"),
                   help="output folder (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print fidelity.json on stdout and nothing else")
    add_config_args(p)
    return p


def run(args):
    sparsities = number_list(args.sparsities, "--sparsities")
    methods = tuple(m.strip() for m in args.prune.split(",") if m.strip())
    bad = [m for m in methods if m not in PRUNE_METHODS]
    if bad or not methods:
        raise SwsError(f"--prune: expected comma-separated methods of {', '.join(PRUNE_METHODS)}, "
                       f"not {args.prune!r}")
    cfg = config_from_args(args)
    if not args.crossbar and args.cap is not None:
        raise SwsError("--cap only acts through the crossbars: add --crossbar")
    if args.calibration != CALIBRATION_PATH and not os.path.isfile(args.calibration):
        raise SwsError(f"--calibration: {args.calibration} is not a file")
    with Progress(args.quiet, "fidelity") as progress:
        result = fidelity_to_folder(sparsities, args.output, methods=methods, adc_trade=args.adc_trade,
                                    crossbar=cfg if args.crossbar else None, energy=cfg,
                                    calibration_path=args.calibration, model_spec=args.model, progress=progress)
    if args.json:
        print(dumps_json(result))
    else:
        print(fidelity_markdown(result))
        print(f"in {args.output}/")
    return 0
