"""`sws fidelity`: what pruning costs MiniLM (and its crossbars): cosine, paraphrase retrieval and SWS energy."""

from __future__ import annotations

import os

from mapper.common import SwsError
from mapper.common import dumps_json
from mapper.prepare import PRUNE_METHODS
from sws.experiments.fidelity import fidelity_markdown, fidelity_to_folder
from sws.experiments.analog import PLANS, analog_markdown, analog_to_folder
from sws.experiments.pruning import CALIBRATION_PATH

from ..progress import Progress
from .common import add_analog_args, add_config_args, analog_from_args, config_from_args, number_list

DEFAULT_SPARSITIES = "0,0.1,0.3,0.5,0.7,0.8,0.9,0.95"
ANALOG_SPARSITIES = "0,0.3"


def add_parser(sub):
    p = sub.add_parser("fidelity", help="MiniLM under pruning: cosine, paraphrase retrieval and energy vs int8",
                       description="Run the MiniLM ONNX model with onnxruntime on the shipped evaluation sentences, "
                                   "its int8 weights pruned one-shot, and report the cosine similarity of "
                                   "last_hidden_state (tokens and mean-pooled sentences) against the unpruned "
                                   "model, paraphrase retrieval on the shipped pairs, and the SWS ADC energy of "
                                   "the pruned layers under the array options. --crossbar also computes every "
                                   "weight MatMul as the mapped crossbars do (A-bit inputs, ADCs saturating at a "
                                   "--cap). Needs the minilm extra.")
    p.add_argument("--sparsities", default=None,
                   help=f"comma-separated (default {DEFAULT_SPARSITIES}; with --analog {ANALOG_SPARSITIES})")
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
    p.add_argument("-o", "--output", default=None,
                   help="output folder (default build/fidelity/minilm; with --analog build/fidelity/analog)")
    p.add_argument("--json", action="store_true", help="print fidelity.json on stdout and nothing else")
    add_config_args(p)
    add_analog_args(p, noise_scale=False)
    g = p.add_argument_group("analog study (with --analog)")
    g.add_argument("--plans", default="sws,dense",
                   help=f"comma-separated mapping plans of {', '.join(PLANS)} (default %(default)s)")
    g.add_argument("--no-retrieval", action="store_true",
                   help="token cosine only: leave the paraphrase sentences out of the crossbar runs (3x fewer tokens)")
    g.add_argument("--noise-scales", default="1",
                   help="comma-separated factors on every noise std of the device and ADC, one study point each "
                        "(default %(default)s)")
    return p


def run(args):
    analog = analog_from_args(args)
    sparsities = number_list(args.sparsities or (ANALOG_SPARSITIES if analog else DEFAULT_SPARSITIES), "--sparsities")
    methods = tuple(m.strip() for m in args.prune.split(",") if m.strip())
    bad = [m for m in methods if m not in PRUNE_METHODS]
    if bad or not methods:
        raise SwsError(f"--prune: expected comma-separated methods of {', '.join(PRUNE_METHODS)}, "
                       f"not {args.prune!r}")
    cfg = config_from_args(args)
    if analog is not None:
        return _run_analog(args, analog, sparsities, methods, cfg)
    if not args.crossbar and args.cap is not None:
        raise SwsError("--cap only acts through the crossbars: add --crossbar")
    if args.calibration != CALIBRATION_PATH and not os.path.isfile(args.calibration):
        raise SwsError(f"--calibration: {args.calibration} is not a file")
    out = args.output or os.path.join("build", "fidelity", "minilm")
    with Progress(args.quiet, "fidelity") as progress:
        result = fidelity_to_folder(sparsities, out, methods=methods, adc_trade=args.adc_trade,
                                    crossbar=cfg if args.crossbar else None, energy=cfg,
                                    calibration_path=args.calibration, model_spec=args.model, progress=progress)
    if args.json:
        print(dumps_json(result))
    else:
        print(fidelity_markdown(result))
        print(f"in {out}/")
    return 0


def _run_analog(args, analog, sparsities, methods, cfg):
    if len(methods) != 1:
        raise SwsError(f"--prune: the analog study takes one pruning method, not {args.prune!r}")
    if args.adc_trade is not None:
        raise SwsError("--adc-trade does not go with --analog")
    plans = tuple(p.strip() for p in args.plans.split(",") if p.strip())
    bad = [p for p in plans if p not in PLANS]
    if bad or not plans:
        raise SwsError(f"--plans: expected comma-separated plans of {', '.join(PLANS)}, not {args.plans!r}")
    scales = number_list(args.noise_scales, "--noise-scales")
    if not scales or not all(0 <= s < float("inf") for s in scales):
        raise SwsError(f"--noise-scales: expected comma-separated finite numbers >= 0, not {args.noise_scales!r}")
    if args.calibration != CALIBRATION_PATH and not os.path.isfile(args.calibration):
        raise SwsError(f"--calibration: {args.calibration} is not a file")
    out = args.output or os.path.join("build", "fidelity", "analog")
    with Progress(args.quiet, "fidelity") as progress:
        result = analog_to_folder(analog, out, sparsities=sparsities, plans=plans, seeds=args.seeds,
                              noise_scales=scales, method=methods[0], base=cfg, calibration_path=args.calibration,
                              retrieval=not args.no_retrieval, progress=progress)
    if args.json:
        print(dumps_json(result))
    else:
        print(analog_markdown(result))
        print(f"in {out}/")
    return 0
