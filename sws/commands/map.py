"""`sws map`: map a weight source onto crossbars, write the plan, ROMs and report."""

from __future__ import annotations

import os

from mapper.common import SwsError
from mapper.common import dumps_json
from mapper.job import map_to_folder
from mapper.prepare import PRUNE_METHODS
from mapper.cost import format_table
from mapper.sources import source_name
from sws.experiments.pruning import map_pruned_to_folder

from ..progress import Progress
from .common import add_analog_args, add_config_args, add_weight_args, analog_from_args, config_from_args, \
    fixed_fields

OBJECTIVES = ("adc", "macro", "latency", "edp", "none")


def add_parser(sub):
    p = sub.add_parser("map", help="map weights onto crossbars: plan, ROM images and energy report",
                       description="Quantize, prune, sort and section the weights; plan each column's ADC "
                                   "resolution; write plan.json, ROM images, report.md and report.json.")
    p.add_argument("weights", help=".npy, .npz, .onnx, synthetic:laplace|gauss:KxN[:SEED] or a built-in model")
    p.add_argument("-o", "--output", help="output folder (default build/<name>/)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout and nothing else")
    p.add_argument("--inputs", metavar="X.npy|X.npz",
                   help="actual input vectors (one layer: .npy (V, K); else .npz, one array per layer name): "
                        "the report adds the input-aware ADC energy, conversions and cycles of those layers, for "
                        "two's-complement, sign-magnitude and bipolar drives")
    add_config_args(p)
    add_weight_args(p)
    add_analog_args(p)
    p.add_argument("--objective", choices=OBJECTIVES, default="macro",
                   help="choose each layer's design, among G (1 up to a crossbar's slots), the ordering (sorted, "
                        "natural, signed, gray), plain sections, the input encoding and input-aware resolution "
                        "(with --inputs: twos, signmag or bipolar) and segmented wordlines (one wordline a crossbar or a "
                        "slot), for the lowest ADC energy, whole-macro energy, cycles or "
                        "energy-delay product per vector (default %(default)s); the fields given on the command "
                        "line stay fixed; none: map every layer under the given configuration")
    p.add_argument("--search", metavar="FIELD=V1,V2;...",
                   help="the objective's search space over its default, e.g. 'group=1,2,4;sectioning=plain,optimal;"
                        "ordering=sorted,gray' (fields: group, ordering, sectioning, input_encoding, input_aware, "
                        "wordline_slots)")
    p.add_argument("--prune", choices=PRUNE_METHODS, default="magnitude",
                   help="how --sparsity prunes (default %(default)s); wanda and sparsegpt need a model and its "
                        "calibration inputs: the built-in minilm only")
    return p


def run(args):
    out = args.output or os.path.join("build", source_name(args.weights))
    analog = analog_from_args(args)
    objective = None if args.objective == "none" else args.objective
    if args.search and objective is None:
        raise SwsError("--search is the objective's search space: give an --objective other than none")
    choose = {"objective": objective, "search": args.search, "fixed": fixed_fields(args)}
    with Progress(args.quiet, "map") as progress:
        if args.prune == "magnitude":
            report = map_to_folder(args.weights, config_from_args(args), args.sparsity, out,
                                   per_channel=args.per_channel, progress=progress, inputs=args.inputs,
                                   analog=analog, analog_seeds=args.seeds, **choose)
        else:
            if analog is not None:
                raise SwsError("--analog goes with magnitude pruning only (--prune magnitude)")
            if args.inputs:
                raise SwsError("--inputs goes with magnitude pruning only (--prune magnitude)")
            report = map_pruned_to_folder(args.weights, config_from_args(args), args.sparsity, out, args.prune,
                                          progress=progress, **choose)
    if args.json:
        print(dumps_json(report))
    else:
        print(format_table(report))
        t = report["total"]
        print(f"\n{100 * t['reduction_vs_dense']:.1f}% less ADC energy than dense, "
              f"{100 * t['reduction_vs_natural']:.1f}% less than natural order with the same policy "
              f"(ADC model {report['config']['energy']['law']}).")
        print(f"Whole macro ({report['models']['macro']}): {t['macro_energy_pj'] / 1000:.1f} nJ per input vector, "
              f"{100 * t['macro_reduction_vs_dense']:.1f}% less than dense, "
              f"{100 * t['macro_reduction_vs_natural']:.1f}% less than natural order; area "
              f"{t['area_um2'] / 1e6:.3f} mm^2; {t['cycles_per_vector']} cycles per vector "
              f"({t['time_per_vector_ns'] / 1000:.2f} us at {report['models']['clock_hz'] / 1e9:g} GHz).")
        for row in report["layers"]:
            for enc in ("twos", "signmag", "bipolar"):
                ia = row.get("input_aware", {}).get(enc)
                if ia:
                    print(f"{row['name']}: input-aware ({enc} drive, {row['input_aware']['vectors']} vectors): "
                          f"{ia['energy_pj']:.1f} pJ per vector, {100 * ia['reduction_vs_dense']:.1f}% less than "
                          f"dense, {100 * ia['reduction_vs_weight_only']:.1f}% less than weight-only planning")
        for row in report["layers"]:
            a = row.get("analog")
            if a:
                r = a["random"]
                line = (f"{row['name']}: analog {report['analog']['device']['name']}: output error "
                        f"{r['rms_error_relative']:.4f} +- {r['rms_error_relative_std']:.4f} (random inputs)")
                if "inputs" in a:
                    line += f", {a['inputs']['rms_error_relative']:.4f} +- {a['inputs']['rms_error_relative_std']:.4f} (captured)"
                print(line)
        if objective:
            print(f"objective {objective}: each layer's design (group, ordering, sectioning, drive, wordline "
                  f"segments) and its runner-up are in report.md and report.json")
        print(f"plan, ROM images and report in {out}/")
    return 0
