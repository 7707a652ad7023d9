"""`sws rtl`: Verilog of a plan's tile (controller + array emulator) or of its controller alone."""

from __future__ import annotations

from hwgen.verilog import write_rtl

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
    add_layer_args(p)
    add_drive_args(p)
    add_timing_args(p)
    return p


def run(args):
    w = write_rtl(args.plan, args.output, layer=args.layer, controller_only=args.controller_only,
                  generic=args.generic, lanes=args.lanes, hardware=drive_fields(args),
                  timing=timing_from_args(args))
    print(f"module {w['module']} for layer {w['layer']} (ROMs {w['roms']}) in {w['verilog']}")
    if "prog" in w:
        print(f"ROM writes (sel addr data, hex) in {w['prog']}")
    return 0
