"""`sws flow`: the main job on a built-in default: map, Verilog, cycle simulation and synthesis."""

from __future__ import annotations

import os

from hwgen.synth import TARGETS
from sws.flow import DEFAULT_SPARSITY, DEFAULT_WEIGHTS, run_flow

from ..progress import Progress
from .common import add_config_args, config_from_args


def add_parser(sub):
    p = sub.add_parser("flow", help="the whole flow on a built-in default layer",
                       description=f"Map {DEFAULT_WEIGHTS} at sparsity {DEFAULT_SPARSITY} and report its energy; "
                                   f"Verilog, cycle simulation and synthesis of its tile.")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS, help="weight source (default %(default)s)")
    p.add_argument("--sparsity", type=float, default=DEFAULT_SPARSITY, help="pruning (default %(default)s)")
    p.add_argument("-o", "--output", default=os.path.join("build", "flow"), help="folder (default %(default)s)")
    p.add_argument("--synth-target", choices=TARGETS, default="ecp5",
                   help="synthesis of the controller at the end (default %(default)s, placed and routed for "
                        "Fmax; generic: area only)")
    p.add_argument("--no-synth", action="store_true", help="skip the synthesis step")
    add_config_args(p)
    return p


def run(args):
    with Progress(args.quiet, "map") as progress:
        return run_flow(args.weights, config_from_args(args), args.sparsity, args.output,
                        synth_target=None if args.no_synth else args.synth_target, progress=progress,
                        quiet=args.quiet)
