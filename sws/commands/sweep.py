"""`sws sweep`: the pruning sweep of a model, as sweep.md, sweep.json and plots."""

from __future__ import annotations

import os

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.common import dumps_json
from mapper.sources import source_name
from sws.experiments.sweep import summary_markdown, sweep_to_folder

from ..progress import Progress
from .common import DEFAULT, number_list

DEFAULT_WEIGHTS = "minilm"


def add_parser(sub):
    p = sub.add_parser("sweep", help="energy over sparsity x ordering x policy x ADC model: table and plots",
                       description="Prune, section and cost every layer at each sparsity, for natural order and "
                                   "sorted order (per group), under the full, section and column policies and "
                                   "every ADC model (isaac, neurosim, murmann, mnsim, walden, thermal), the ADC "
                                   "energy alone and the whole macro; write sweep.md, sweep.json and PNG plots.")
    p.add_argument("weights", nargs="?", default=DEFAULT_WEIGHTS,
                   help="weight source, as for `sws map` (default %(default)s: needs the minilm extra)")
    p.add_argument("-o", "--output", help="output folder (default build/sweep/<name>/)")
    p.add_argument("--sparsities", default="0,0.5,0.7,0.8,0.9,0.95", help="comma-separated (default %(default)s)")
    p.add_argument("--groups", default="1,2,4,9",
                   help="groups G of the sorted orderings (default %(default)s; 9 = the slots of a 128-column "
                        "crossbar at G = 1)")
    p.add_argument("--plot-sparsity", type=float, default=None,
                   help="sparsity of the per-layer energy and resolution histogram plots (default 0.9 if swept, "
                        "else the largest swept)")
    p.add_argument("--no-plots", action="store_true", help="write the table only (plots need the plots extra)")
    p.add_argument("--json", action="store_true", help="print sweep.json on stdout and nothing else")
    g = p.add_argument_group("array")
    g.add_argument("--rows", type=int, default=DEFAULT.hw.rows, help="crossbar rows R (default %(default)s)")
    g.add_argument("--cols", type=int, default=DEFAULT.hw.cols, help="crossbar columns C (default %(default)s)")
    g.add_argument("--weight-bits", type=int, default=DEFAULT.hw.weight_bits, help="Bm (default %(default)s)")
    g.add_argument("--input-bits", type=int, default=DEFAULT.hw.input_bits, help="A (default %(default)s)")
    g.add_argument("--n-adc", type=int, default=DEFAULT.hw.n_adc, help="ADCs per controller (default %(default)s)")
    g.add_argument("--e8", type=float, default=DEFAULT.energy.e8_pj,
                   help="pJ per 8-bit conversion of the relative laws walden and thermal (default %(default)s)")
    g.add_argument("--macro", default=None, help="JSON file of macro constants (default: the built-in ISAAC macro)")
    return p


def run(args):
    cfg = ArrayConfig(rows=args.rows, cols=args.cols, weight_bits=args.weight_bits, input_bits=args.input_bits,
                      n_adc=args.n_adc, law="walden", e8_pj=args.e8, macro=args.macro)
    out = args.output or os.path.join("build", "sweep", source_name(args.weights))
    plots = not args.no_plots
    if plots:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SwsError("the plots need matplotlib: pip install -e '.[plots]' (or use --no-plots)") from None
    with Progress(args.quiet, "sweep") as progress:
        result = sweep_to_folder(args.weights, cfg, out, sparsities=number_list(args.sparsities, "--sparsities"),
                                 groups=number_list(args.groups, "--groups", int), plot_sparsity=args.plot_sparsity,
                                 plots=plots, progress=progress)
    if args.json:
        print(dumps_json(result))
        return 0
    print(summary_markdown(result))
    print(f"table, JSON{' and plots' if plots else ''} in {out}/")
    return 0
