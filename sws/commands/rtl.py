"""`sws rtl`: Verilog of a plan's tile (controller + array emulator) or of its controller alone."""

from __future__ import annotations

from hwgen.soc.regmap import BUSES
from hwgen.verilog import write_rtl
from sim.cocotb_bench import write_testbench

from .common import add_drive_args, add_layer_args, add_timing_args, drive_fields, timing_from_args


def add_parser(sub):
    p = sub.add_parser("rtl", help="Verilog of a plan's tile or controller",
                       description="Generate the Verilog of the tile (controller + array emulator) for one layer "
                                   "of a plan, its ROM images baked into the memories' initial contents. "
                                   "With --generic: the netlist sized by the plan whose ROMs are written through "
                                   "the prog port instead, and a .prog file of those writes beside it.")
    p.add_argument("plan", metavar="PLAN_DIR", help="a plan folder made by `sws map`")
    p.add_argument("-o", "--output", help="Verilog file (default build/rtl/<layer>.v)")
    p.add_argument("--controller-only", action="store_true",
                   help="the controller alone: its array interface becomes the module's ports")
    p.add_argument("--generic", action="store_true",
                   help="ROMs written through the prog port (one netlist for any plan that fits)")
    p.add_argument("--bus", choices=BUSES, default=None,
                   help="the SoC wrapper sws_soc: the tile behind a register block on this host bus (axil: "
                        "AXI4-Lite, wishbone: Wishbone B4 classic, wishbone-pipelined), with AXI4-Stream data "
                        "ports; its register map (.regs.md, .regs.h, .regs.json) and constraints (.sdc) beside it")
    p.add_argument("--clock", type=float, default=150.0, metavar="MHZ",
                   help="with --bus: the clock of the constraints (default %(default)s MHz)")
    p.add_argument("--testbench", metavar="DIR", default=None,
                   help="write a cocotb testbench of sws_soc into DIR (the Verilog, register map, golden data, "
                        "test_sws_soc.py and run.py: `python DIR/run.py --sim verilator|icarus`); implies --bus axil "
                        "unless --bus is given")
    p.add_argument("--vectors", type=int, default=4, help="with --testbench: input vectors per run (default %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="with --testbench: seed of the random vectors (default %(default)s)")
    add_layer_args(p)
    add_drive_args(p)
    add_timing_args(p, macro=True)
    return p


def run(args):
    if args.testbench is not None:
        w = write_testbench(args.plan, args.testbench, layer=args.layer, generic=args.generic, bus=args.bus or "axil",
                            vectors=args.vectors, seed=args.seed, lanes=args.lanes, hardware=drive_fields(args),
                            timing=timing_from_args(args), clock_mhz=args.clock)
        print(f"module {w['module']} for layer {w['layer']} (ROMs {w['roms']}) and its cocotb testbench in "
              f"{w['folder']}: python {w['folder']}/run.py --sim verilator (or icarus)")
        return 0
    w = write_rtl(args.plan, args.output, layer=args.layer, controller_only=args.controller_only,
                  generic=args.generic, lanes=args.lanes, hardware=drive_fields(args),
                  timing=timing_from_args(args), bus=args.bus, clock_mhz=args.clock)
    print(f"module {w['module']} for layer {w['layer']} (ROMs {w['roms']}) in {w['verilog']}")
    if "prog" in w:
        print(f"ROM writes (sel addr data, hex) in {w['prog']}")
    if "regmap" in w:
        print(f"register map in {w['regmap_md']}, {w['regmap_h']}, {w['regmap']}; constraints in {w['sdc']}")
    return 0
