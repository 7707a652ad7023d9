"""`sws explore SPEC`: a grid of design points, mapped on a local process pool or a Dask cluster, cached per point."""

from __future__ import annotations

import os

from mapper.common import SwsError, dumps_json
from sws.experiments.explore import explore, load_spec

from ..progress import Progress

#: Most local worker processes (a process each: more than this is a fork bomb, not a speed-up).
MAX_WORKERS = 256


def add_parser(sub):
    p = sub.add_parser("explore", help="map a grid of design points: table and Pareto plots",
                       description="Map every point of a grid (weight sources x rows x cols x n_adc x law x sparsity "
                                   "x ordering x sectioning x any configuration field) given in a YAML or JSON "
                                   "SPEC; points already computed are taken from the cache, so a run resumes. "
                                   "Writes results.csv (and results.parquet with pyarrow) and Pareto plots.")
    p.add_argument("spec", help="the grid, a .yaml or .json file (format: docs/guide/explore.md)")
    p.add_argument("-o", "--output", help="output folder (default build/explore/<spec name>/)")
    p.add_argument("--workers", type=int, default=None, help="local worker processes (default: the CPU count)")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on an existing Dask cluster (tcp://host:8786) instead of locally")
    p.add_argument("--no-plots", action="store_true", help="write the table only (plots need the plots extra)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON on stdout and nothing else")
    return p


def run(args):
    if args.workers is not None and not 1 <= args.workers <= MAX_WORKERS:
        raise SwsError(f"--workers must be in 1..{MAX_WORKERS}, not {args.workers}")
    spec = load_spec(args.spec)
    out = args.output or os.path.join("build", "explore", os.path.splitext(os.path.basename(args.spec))[0])
    with Progress(args.quiet, "explore") as progress:
        rows = explore(spec, out, workers=args.workers, scheduler=args.scheduler, plots=not args.no_plots,
                       progress=progress)
    if args.json:
        print(dumps_json(rows))
        return 0
    best = min(rows, key=lambda r: r.get("energy_pj", float("inf")))
    print(f"{len(rows)} points; lowest energy {best['energy_pj']:.1f} pJ per vector at "
          + ", ".join(f"{k}={v}" for k, v in best.items() if k in spec["grid"] or k == "source"))
    print(f"results.csv{' and plots' if not args.no_plots else ''} in {out}/")
    return 0
