"""`sws map`: map a weight source onto crossbars, write the plan, ROMs and report."""

from __future__ import annotations

import json
import os

from mapper.files import atomic_dir
from mapper.plan import build_layer_plan, write_plan
from mapper.report import format_table, map_source, report_dict
from mapper.weights import source_name

from .common import add_config_args, add_weight_args, check_output_path, config_from_args, progress


def add_parser(sub):
    p = sub.add_parser("map", help="map weights onto crossbars: plan, ROM images and energy report",
                       description="Quantize, prune, sort and section the weights; plan each column's ADC "
                                   "resolution; write plan.json, ROM images, report.md and report.json.")
    p.add_argument("weights", help=".npy, .npz, .onnx, synthetic:laplace|gauss:KxN[:SEED] or a built-in model")
    p.add_argument("-o", "--output", help="output folder (default build/<name>/)")
    p.add_argument("--json", action="store_true", help="print the report as JSON on stdout and nothing else")
    add_config_args(p)
    add_weight_args(p)
    return p


def report_markdown(report: dict) -> str:
    cfg = report["config"]
    lines = [f"# SWS mapping report: {report['source']}", "",
             f"Array {cfg['rows']} x {cfg['cols']}, weights {cfg['weight_bits']} magnitude bits, "
             f"inputs {cfg['input_bits']} bits ({'signed' if cfg['input_signed'] else 'unsigned'}), "
             f"group {cfg['group']}, ordering {cfg['ordering']}, policy {cfg['policy']}, "
             f"cap {cfg['cap']}, law {cfg['law']} (E8 = {cfg['e8_pj']} pJ), "
             f"sparsity requested {report['sparsity_requested']}.", "",
             "Energy is per input vector. `dense` is the classic design (natural order, every column at "
             "full resolution); `natural` is the same policy without sorting.", "",
             format_table(report), ""]
    lines += [f"- {n}" for n in report["notes"]]
    if cfg["cap"] is not None:
        lines.append("")
        lines.append(f"Resolution cap {cfg['cap']} bits (lossy): error on random inputs per layer:")
        for row in report["layers"]:
            e = row["cap_error"]
            lines.append(f"- {row['name']}: {e['capped_columns']} capped columns, max |error| "
                         f"{e['max_abs_error']}, relative RMS error {e['rms_error_relative']:.3g} "
                         f"over {e['vectors']} vectors")
    return "\n".join(lines) + "\n"


def map_to_folder(spec: str, cfg, sparsity: float, out: str, *, per_channel: bool = False, show_progress=True):
    """Map `spec` and write plan, ROMs and reports into `out` (whole or not at all); return the report."""
    check_output_path(out, "output folder")
    results = map_source(spec, cfg, sparsity, per_channel=per_channel, progress=progress if show_progress else None)
    report = report_dict(results, cfg, source=spec, sparsity=sparsity, per_channel=per_channel)
    with atomic_dir(out) as tmp:
        write_plan(tmp, [build_layer_plan(r.map) for r in results],
                   {"source": spec, "sparsity_requested": sparsity, "per_channel": per_channel})
        with open(os.path.join(tmp, "report.json"), "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        with open(os.path.join(tmp, "report.md"), "w") as f:
            f.write(report_markdown(report))
    return report


def run(args):
    cfg = config_from_args(args)
    out = args.output or os.path.join("build", source_name(args.weights))
    report = map_to_folder(args.weights, cfg, args.sparsity, out, per_channel=args.per_channel)
    if args.json:
        print(json.dumps(report))
    else:
        print(format_table(report))
        t = report["total"]
        print(f"\n{100 * t['reduction_vs_dense']:.1f}% less ADC energy than dense, "
              f"{100 * t['reduction_vs_natural']:.1f}% less than natural order with the same policy.")
        print(f"plan, ROM images and report in {out}/")
    return 0
