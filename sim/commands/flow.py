"""`sws flow`: the main job on a built-in default: map, Verilog, cycle simulation (and, as they land, synthesis)."""

from __future__ import annotations

import os

from mapper.report import format_table

from hwgen.params import TileParams
from hwgen.synth import TARGETS, synthesize_tile
from mapper.plan import load_plan

from .common import add_config_args, config_from_args
from .map import map_to_folder
from .rtl import generate
from .sim import simulate

FLOW_VECTORS = 2

DEFAULT_WEIGHTS = "synthetic:laplace:384x64:1"
DEFAULT_SPARSITY = 0.8


def add_parser(sub):
    p = sub.add_parser("flow", help="the whole flow on a built-in default layer",
                       description=f"Map {DEFAULT_WEIGHTS} at sparsity {DEFAULT_SPARSITY} and report its energy.")
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
    cfg = config_from_args(args)
    plan_dir = os.path.join(args.output, "plan")
    print(f"== map {args.weights} at sparsity {args.sparsity} onto {cfg.rows} x {cfg.cols} crossbars")
    report = map_to_folder(args.weights, cfg, args.sparsity, plan_dir)
    print(format_table(report))
    t = report["total"]
    print(f"ADC energy {t['energy_pj']:.1f} pJ per input vector: {100 * t['reduction_vs_dense']:.1f}% less than "
          f"dense, {100 * t['reduction_vs_natural']:.1f}% less than natural order with the same policy")
    print(f"plan in {plan_dir}/")
    code, sim = rtl_and_sim(plan_dir, args.output, report)
    if code or args.no_synth:
        return code
    return synth_step(plan_dir, args.output, report, sim, args.synth_target)


def synth_step(plan_dir: str, out: str, report: dict, sim: dict, target: str) -> int:
    """Area (and on an FPGA target, Fmax) of the controller of the plan's first layer."""
    import json

    layer = report["layers"][0]
    pnr = target != "generic"
    print(f"== synth: the controller for {layer['name']} with Yosys for {target}"
          f"{' and nextpnr for Fmax' if pnr else ''} (the first run of the yowasp tools compiles them: ~90 s)")
    lp = load_plan(plan_dir).layer(layer["name"])
    params = TileParams.from_plan(lp)
    r = synthesize_tile(params, lp, target, pnr=pnr, tile=False)["controller"]
    os.makedirs(os.path.join(out, "synth"), exist_ok=True)
    with open(os.path.join(out, "synth", f"controller-{target}.json"), "w") as f:
        json.dump(r.to_dict(), f, indent=1)
    fmax = f", Fmax {r.fmax_mhz:.1f} MHz" if r.fmax_mhz else ""
    print(f"controller: {r.luts} LUTs, {r.carries} carry cells, {r.flip_flops} flip-flops, {r.block_rams} block RAMs, "
          f"{r.lut_rams} LUT RAMs{fmax}")
    for note in (w for w in r.warnings if not w.startswith("Warning:")):
        print(f"note: {note}")
    t = report["total"]
    per = sim["cycles_per_vector"][0]
    print(f"== summary: {t['energy_pj']:.1f} pJ of ADC energy per vector ({100 * t['reduction_vs_dense']:.1f}% "
          f"below dense), {per} cycles per vector ({per / max(1, sim['adc_bound_per_vector']):.3f}x the ADC "
          f"bound), controller {r.luts} LUTs and {r.flip_flops} flip-flops{fmax}")
    return 0


def rtl_and_sim(plan_dir: str, out: str, report: dict) -> tuple[int, dict]:
    """Verilog of the plan's first layer, and its cycle simulation on random vectors against the golden model."""
    import numpy as np

    layer = report["layers"][0]
    if len(report["layers"]) > 1:
        print(f"(RTL and simulation of the first layer, {layer['name']}, of {len(report['layers'])})")
    verilog = os.path.join(out, "rtl", "sws_tile.v")
    print(f"== rtl: Verilog of the tile for {layer['name']}")
    w = generate(plan_dir, verilog, layer=layer["name"])
    print(f"module {w['module']} (ROMs baked in) in {verilog}")
    cfg = report["config"]
    lo, hi = (-(2 ** (cfg["input_bits"] - 1)), 2 ** (cfg["input_bits"] - 1) - 1) if cfg["input_signed"] \
        else (0, 2 ** cfg["input_bits"] - 1)
    x = np.random.default_rng(0).integers(lo, hi + 1, (FLOW_VECTORS, layer["shape"][0]))
    print(f"== sim: {FLOW_VECTORS} random input vectors, cycle by cycle, against the golden model")
    r = simulate(plan_dir, x, layer=layer["name"])
    sim_dir = os.path.join(out, "sim")
    os.makedirs(sim_dir, exist_ok=True)
    np.save(os.path.join(sim_dir, "inputs.npy"), x)
    per = r["cycles_per_vector"][0]
    print(f"{per} cycles per vector ({per / max(1, r['adc_bound_per_vector']):.3f}x the ADC bound of "
          f"{r['adc_bound_per_vector']}); {r['conversions'] // FLOW_VECTORS} conversions and "
          f"{r['energy_pj'] / FLOW_VECTORS:.1f} pJ per vector from the counters "
          f"(the mapper's report: {layer['energy_pj']:.1f} pJ)")
    if not r["match"]:
        for line in r["problems"]:
            print(f"sws: mismatch: {line}")
        return 1, r
    np.save(os.path.join(sim_dir, "outputs.npy"), r["outputs"])
    print(f"outputs, counters and cycles match the golden model bit for bit; inputs and outputs in {sim_dir}/")
    return 0, r
