"""`sws sim`: the cycle simulation of a plan's tile on input vectors, checked against the golden model."""

from __future__ import annotations

import os
import sys

import numpy as np

from mapper.common import SwsError
from mapper.common import check_output_file, dumps_json, write_atomic
from mapper.plan import plan_files
from sim.check import BACKENDS, load_inputs, simulate_plan

from .common import add_drive_args, add_layer_args, add_timing_args, drive_fields, timing_from_args


def add_parser(sub):
    p = sub.add_parser("sim", help="cycle simulation of a plan's tile, checked against the golden model",
                       description="Simulate the tile (controller + array emulator) cycle by cycle on input "
                                   "vectors (Verilator, Icarus or Amaranth's simulator) and compare its outputs, "
                                   "counters and cycle count with the golden model. Exit code 1 on any mismatch, "
                                   "2 on bad input.")
    p.add_argument("plan", metavar="PLAN_DIR", help="a plan folder made by `sws map`")
    p.add_argument("--inputs", required=True, metavar="X.npy",
                   help="integer inputs, shape (V, K) or (K,), in the input range")
    p.add_argument("-o", "--output", metavar="Y.npy", help="write the outputs (V, N) as int64")
    p.add_argument("--backend", choices=BACKENDS, default=None,
                   help="simulator: Amaranth's, or the emitted Verilog in Verilator or Icarus "
                        "(default: the fastest installed, Verilator first; with --vcd, amaranth)")
    p.add_argument("--vcd", metavar="FILE", help="write a waveform of the simulation (Amaranth backend)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
    p.add_argument("--generic", action="store_true",
                   help="simulate the generic tile, programmed through its prog port first")
    add_layer_args(p)
    add_drive_args(p)
    add_timing_args(p)
    return p


def run(args):
    # Outputs are checked before the simulation, which can take minutes: never an input, never a folder.
    inputs = [args.inputs] + plan_files(args.plan)
    for path, what in ((args.output, "outputs file"), (args.vcd, "waveform file")):
        if path:
            check_output_file(path, inputs, what)
    if args.output and args.vcd and os.path.realpath(args.output) == os.path.realpath(args.vcd):
        raise SwsError(f"{args.output}: the outputs file and the waveform file must differ")
    x = load_inputs(args.inputs)
    r = simulate_plan(args.plan, x, layer=args.layer, vcd=args.vcd, generic=args.generic, lanes=args.lanes,
                      where=args.inputs, backend=args.backend, hardware=drive_fields(args),
                      timing=timing_from_args(args), say=(lambda m: None) if args.quiet else None)
    if r["match"] and args.output:
        write_atomic(args.output, lambda f: np.save(f, r["outputs"].astype(np.int64)), binary=True,
                     inputs=inputs)
    if args.json:
        keys = ("layer", "backend", "outputs", "cycles", "cycles_per_vector", "adc_bound_per_vector", "conversions",
                "conversions_by_bits", "planes", "sections", "energy_pj", "macro_energy_pj", "macro_breakdown_pj",
                "model_macro_energy_pj", "report_macro_energy_pj", "counted_by_hardware",
                "counted_by_hardware_as", "report_cycles", "match", "problems")
        print(dumps_json({k: (r[k].tolist() if k == "outputs" else r[k]) for k in keys}))
    else:
        y = r["outputs"]
        print(f"layer {r['layer']}: {y.shape[0]} vectors of {y.shape[1]} outputs, simulated with {r['backend']}")
        with np.printoptions(threshold=64, linewidth=120):
            print(f"outputs\n{y}")
        per = r["cycles_per_vector"]
        each = f"{per[0]} per vector" if min(per) == max(per) else f"{min(per)}..{max(per)} per vector"
        print(f"cycles {r['cycles']} ({each}; ADC bound {r['adc_bound']}, {r['cycles'] / max(1, r['adc_bound']):.3f}x)")
        if r["report_cycles"] is not None:
            print(f"the report's cycles: latency {r['report_cycles'][0]} (vector 0), {r['report_cycles'][1]} per vector "
                  f"in the steady state (vectors 1..)")
        hist = ", ".join(f"{c} at {b} bits" for b, c in enumerate(r["conversions_by_bits"]) if c)
        print(f"conversions {r['conversions']} ({hist or 'none'}); planes {r['planes']}, sections {r['sections']}")
        print(f"energy {r['energy_pj']:.3f} pJ from the counters ({r['energy_pj'] / y.shape[0]:.3f} pJ per vector)")
        where = "the report's" if r["report_macro_energy_pj"] is not None else "the mapper's model of these inputs"
        renamed = ", ".join(f"{e} by {c}" for e, c in r["counted_by_hardware_as"].items() if e != c)
        print(f"whole macro {r['macro_energy_pj']:.3f} pJ per vector from the hardware's counters ({where}: "
              f"{r['report_macro_energy_pj'] if r['report_macro_energy_pj'] is not None else r['model_macro_energy_pj']:.3f}); "
              f"every event counted by its counter ({renamed})")
        if r["match"]:
            print("outputs, counters and cycles match the golden model bit for bit")
            if args.output:
                print(f"outputs in {args.output}")
    if not r["match"]:
        for line in r["problems"]:
            print(f"sws: mismatch: {line}", file=sys.stderr)
        return 1
    return 0
