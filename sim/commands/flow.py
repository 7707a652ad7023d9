"""`sws flow`: the main job on a built-in default: map, and (as they land) RTL, simulation and synthesis."""

from __future__ import annotations

import os

from mapper.report import format_table

from .common import add_config_args, config_from_args
from .map import map_to_folder

DEFAULT_WEIGHTS = "synthetic:laplace:384x64:1"
DEFAULT_SPARSITY = 0.8


def add_parser(sub):
    p = sub.add_parser("flow", help="the whole flow on a built-in default layer",
                       description=f"Map {DEFAULT_WEIGHTS} at sparsity {DEFAULT_SPARSITY} and report its energy.")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS, help="weight source (default %(default)s)")
    p.add_argument("--sparsity", type=float, default=DEFAULT_SPARSITY, help="pruning (default %(default)s)")
    p.add_argument("-o", "--output", default=os.path.join("build", "flow"), help="folder (default %(default)s)")
    add_config_args(p)
    return p


def run(args):
    cfg = config_from_args(args)
    plan_dir = os.path.join(args.output, "plan")
    print(f"== map {args.weights} at sparsity {args.sparsity} onto {cfg.rows} x {cfg.cols} crossbars")
    report = map_to_folder(args.weights, cfg, args.sparsity, plan_dir)
    print(format_table(report))
    t = report["total"]
    print(f"ADC energy {t['energy_pj']:.1f} pJ per input vector: {100 * t['reduction_vs_dense']:.1f}% less than "
          f"dense, {100 * t['reduction_vs_natural']:.1f}% less than natural order with the same policy")
    print(f"plan in {plan_dir}/")
    return 0
