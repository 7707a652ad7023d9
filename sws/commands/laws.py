"""`sws laws`: every ADC model's energy and area per resolution, side by side, and a plot of them."""

from __future__ import annotations

from mapper.common import SwsError, check_output_file, dumps_json
from mapper.cost import load_macro
from sws.experiments.laws import laws_markdown, laws_report

from .common import _float_list, add_energy_args


def add_parser(sub):
    p = sub.add_parser("laws", help="every ADC model's energy and area per resolution, and their sources",
                       description="Print the energy per conversion and the area per ADC of every model "
                                   "(isaac, neurosim, murmann, mnsim and the relative laws walden, thermal and, "
                                   "with --law-table, table) at 1..MAX bits, with each model's formula and "
                                   "source, and draw them (needs the plots extra).")
    p.add_argument("--max-bits", type=int, default=10, help="largest resolution listed (default %(default)s)")
    p.add_argument("--plot", default="build/laws.png", help="PNG file of the plot (default %(default)s)")
    p.add_argument("--no-plot", action="store_true", help="print the table only")
    p.add_argument("--json", action="store_true", help="print the comparison as JSON on stdout and nothing else")
    p.add_argument("--law-table", type=_float_list, default=None,
                   help="relative energies of 1, 2, ... bit conversions: also list the table law")
    add_energy_args(p, law=False)
    return p


def run(args):
    if args.macro is not None:
        load_macro(args.macro)    # checked, and an input of the run: the plot may not replace it
    if not args.no_plot:
        check_output_file(args.plot, [args.macro] if args.macro else [], "plot")
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise SwsError("the plot needs matplotlib: pip install -e '.[plots]' (or use --no-plot)") from None
    result = laws_report(args.max_bits, None if args.no_plot else args.plot, node_nm=args.node,
                         sample_rate_hz=args.sample_rate, e8_pj=args.e8, law_table=args.law_table)
    if args.json:
        print(dumps_json(result))
        return 0
    print(laws_markdown(result), end="")
    if "plot" in result:
        print(f"plot in {result['plot']}")
    return 0
