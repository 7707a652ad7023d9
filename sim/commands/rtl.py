"""`sws rtl`: Verilog of a plan's tile (controller + array emulator) or of its controller alone."""

from __future__ import annotations

import os
import re

from hwgen.params import TileParams
from hwgen.verilog import emit_verilog, module_name
from mapper.errors import SwsError
from mapper.plan import load_plan
from sim.amaranth_sim import program_writes

from .rtl_common import add_layer_args, pick_layer, write_atomic


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
    return p


def generate(plan_dir: str, output: str | None = None, *, layer: str | None = None, controller_only: bool = False,
             generic: bool = False, lanes: int | None = None) -> dict:
    """Write the Verilog (and with `generic` the .prog writes beside it); return what was written."""
    lp = pick_layer(load_plan(plan_dir), layer)
    output = output or os.path.join("build", "rtl", re.sub(r"[^A-Za-z0-9_.-]", "_", lp.name) + ".v")
    params = TileParams.from_plan(lp, lanes)
    text = emit_verilog(None if generic else lp, params, controller_only=controller_only)
    if os.path.isdir(output):
        raise SwsError(f"{output}: the Verilog output must be a file, but a folder is there")
    write_atomic(output, text)
    written = {"verilog": output, "module": module_name(controller_only), "layer": lp.name,
               "roms": "written through the prog port" if generic else "baked in"}
    if generic:
        prog = os.path.splitext(output)[0] + ".prog"
        lines = [f"{sel} {addr:x} {data:x}\n" for sel, addr, data in program_writes(params, lp)
                 if not (controller_only and sel == 4)]
        write_atomic(prog, "".join(lines))
        written["prog"] = prog
    return written


def run(args):
    w = generate(args.plan, args.output, layer=args.layer, controller_only=args.controller_only,
                 generic=args.generic, lanes=args.lanes)
    print(f"module {w['module']} for layer {w['layer']} (ROMs {w['roms']}) in {w['verilog']}")
    if "prog" in w:
        print(f"ROM writes (sel addr data, hex) in {w['prog']}")
    return 0
