"""`sws sim`: the cycle simulation of a plan's tile on input vectors, checked against the golden model."""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from hwgen.params import TileParams
from mapper.errors import SwsError
from mapper.plan import load_plan
from sim.amaranth_sim import run_tile
from sim.verilog_sim import HDL_BACKENDS, available_backends, run_verilog
from sim.golden import check_inputs, energy_of, predict

from .rtl_common import add_layer_args, pick_layer, write_atomic


def add_parser(sub):
    p = sub.add_parser("sim", help="cycle simulation of a plan's tile, checked against the golden model",
                       description="Run the Amaranth simulation of the tile (controller + array emulator) on "
                                   "input vectors and compare its outputs, counters and cycle count with the "
                                   "golden model. Exit code 1 on any mismatch, 2 on bad input.")
    p.add_argument("plan", metavar="PLAN_DIR", help="a plan folder made by `sws map`")
    p.add_argument("--inputs", required=True, metavar="X.npy",
                   help="integer inputs, shape (V, K) or (K,), in the input range")
    p.add_argument("-o", "--output", metavar="Y.npy", help="write the outputs (V, N) as int64")
    p.add_argument("--backend", choices=("amaranth",) + HDL_BACKENDS, default=None,
                   help="simulator: Amaranth's, or the emitted Verilog in Verilator or Icarus "
                        "(default: the fastest installed, Verilator first; with --vcd, amaranth)")
    p.add_argument("--vcd", metavar="FILE", help="write a waveform of the simulation (Amaranth backend)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
    p.add_argument("--generic", action="store_true",
                   help="simulate the generic tile, programmed through its prog port first")
    add_layer_args(p)
    return p


def load_inputs(path: str):
    if not os.path.isfile(path):
        raise SwsError(f"{path}: no such inputs file (expected a .npy integer array)")
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise SwsError(f"{path}: not a readable .npy array ({e})") from None


def compare(pred, run) -> list[str]:
    """Where the simulation differs from the golden model, one line each (empty: bit-exact)."""
    out = []
    diff = np.argwhere(pred.outputs != run.outputs)
    if len(diff):
        v, n = diff[0]
        out.append(f"output [{v}, {n}]: simulation {run.outputs[v, n]}, golden model {pred.outputs[v, n]} "
                   f"({len(diff)} outputs differ)")
    for v, c in enumerate(run.cycles_per_vector):
        if c != pred.cycles_per_vector:
            out.append(f"cycles of vector {v}: simulation {c}, golden model {pred.cycles_per_vector}")
            break
    for name, want in pred.counters().items():
        got = run.counters[name]
        if got != want:
            out.append(f"counter {name}: simulation {got}, golden model {want}")
    return out


def default_backend() -> str:
    """The fastest simulator installed: Verilator, then Icarus Verilog, then Amaranth's own."""
    return (available_backends() + ["amaranth"])[0]


def simulate(plan_dir: str, x, *, layer: str | None = None, vcd: str | None = None, generic: bool = False,
             lanes: int | None = None, where: str = "inputs", backend: str | None = None) -> dict:
    """Simulate and compare; the result holds the outputs, counters, energy and the mismatches."""
    backend = backend or ("amaranth" if vcd else default_backend())
    if vcd and backend != "amaranth":
        raise SwsError(f"--vcd writes the Amaranth simulation's waveform: use it with --backend amaranth, "
                       f"not {backend}")
    lp = pick_layer(load_plan(plan_dir), layer)
    x = check_inputs(lp, x, where)
    params = TileParams.from_plan(lp, lanes)
    pred = predict(lp, x, params)
    if backend == "amaranth":
        run = run_tile(lp, x, vcd=vcd, generic=params if generic else None, params=params)
    else:
        run = run_verilog(lp, x, backend, params=params, generic=params if generic else None)
    problems = compare(pred, run)
    conv = run.counters["conversions"]
    return {"layer": lp.name, "backend": backend, "outputs": run.outputs, "cycles": run.counters["cycles"],
            "cycles_per_vector": run.cycles_per_vector, "adc_bound_per_vector": pred.bound_per_vector,
            "conversions": int(sum(conv)), "conversions_by_bits": conv, "planes": run.counters["planes"],
            "sections": run.counters["sections"], "energy_pj": energy_of(lp.cfg, conv), "match": not problems, "problems": problems,
            "sim_seconds": run.seconds}


def run(args):
    x = load_inputs(args.inputs)
    r = simulate(args.plan, x, layer=args.layer, vcd=args.vcd, generic=args.generic, lanes=args.lanes,
                 where=args.inputs, backend=args.backend)
    if r["match"] and args.output:
        write_atomic(args.output, lambda f: np.save(f, r["outputs"].astype(np.int64)), binary=True)
    if args.json:
        keys = ("layer", "backend", "outputs", "cycles", "cycles_per_vector", "adc_bound_per_vector", "conversions",
                "conversions_by_bits", "planes", "sections", "energy_pj", "match", "problems")
        print(json.dumps({k: (r[k].tolist() if k == "outputs" else r[k]) for k in keys}))
    else:
        y = r["outputs"]
        print(f"layer {r['layer']}: {y.shape[0]} vectors of {y.shape[1]} outputs, simulated with {r['backend']}")
        with np.printoptions(threshold=64, linewidth=120):
            print(f"outputs\n{y}")
        per = r["cycles_per_vector"][0]
        print(f"cycles {r['cycles']} ({per} per vector; ADC bound {r['adc_bound_per_vector']}, "
              f"{per / max(1, r['adc_bound_per_vector']):.3f}x)")
        hist = ", ".join(f"{c} at {b} bits" for b, c in enumerate(r["conversions_by_bits"]) if c)
        print(f"conversions {r['conversions']} ({hist or 'none'}); planes {r['planes']}, sections {r['sections']}")
        print(f"energy {r['energy_pj']:.3f} pJ from the counters ({r['energy_pj'] / y.shape[0]:.3f} pJ per vector)")
        if r["match"]:
            print("outputs, counters and cycles match the golden model bit for bit")
            if args.output:
                print(f"outputs in {args.output}")
    if not r["match"]:
        for line in r["problems"]:
            print(f"sws: mismatch: {line}", file=sys.stderr)
        return 1
    return 0
