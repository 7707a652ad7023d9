"""The array emulator's own Fmax on ECP5 (issue 25: the FPGA emulation's clock), in seconds instead of the
SoC tile's 14 minutes: the emulator of a plan with every array-interface input and output through a
register (as in the tile, where the controller drives the bus from flip-flops and takes the ADCs' done and
code into its own), synthesized by Yosys and placed and routed by nextpnr out of context (LFE5U-85F, seed 1,
`--freq 100`). No netlist check: a speed probe for the emulator's paths, not a result of the tile.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/bench_emulator_speed.py PLAN [--baked] [--out DIR]

`--baked`: the cell-write port tied off, as a baked tile's controller keeps `wr_en` low, so Yosys makes the
cells a ROM (the SoC tile's case); without it the cells are LUT RAM written through the port (a generic
tile's). Prints the Fmax and nextpnr's critical path; DIR keeps the logs and the report.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

from amaranth import Module
from amaranth.back import rtlil
from amaranth.lib import wiring
from amaranth.lib.wiring import Out

from hwgen.emulator import VIOLATIONS, ArrayEmulator
from hwgen.interface import ArraySignature, array_wide
from hwgen.params import TileParams
from hwgen.synth import synthesize
from mapper.plan import load_plan


class RegisteredEmulator(wiring.Component):
    """An ArrayEmulator with a register on every bus input and output; `baked`: no cell-write port."""

    def __init__(self, params: TileParams, lp, baked: bool):
        self.params, self.lp, self.baked = params, lp, baked
        super().__init__({"bus": Out(ArraySignature(params, array_side=True)), "violation": Out(len(VIOLATIONS))})

    def elaborate(self, platform):
        m = Module()
        m.submodules.emu = emu = ArrayEmulator(self.params, self.lp)
        for name in array_wide(self.bus):
            if not (self.baked and name.startswith("wr_")):
                m.d.sync += getattr(emu.bus, name).eq(getattr(self.bus, name))
        m.d.sync += [self.bus.cell_reads.eq(emu.bus.cell_reads), self.violation.eq(emu.violation)]
        for outer, inner in zip(self.bus.adc, emu.bus.adc):
            m.d.sync += [inner.start.eq(outer.start), inner.res.eq(outer.res), inner.ref.eq(outer.ref),
                         inner.col.eq(outer.col), outer.done.eq(inner.done), outer.code.eq(inner.code)]
        return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plan")
    ap.add_argument("--baked", action="store_true")
    ap.add_argument("--out", default="build/bench_emulator_speed")
    args = ap.parse_args(argv)
    lp = load_plan(args.plan).layers[0]
    top = RegisteredEmulator(TileParams.from_plan(lp), lp, args.baked)
    result = synthesize(rtlil.convert(top, name="emulator_bench"), "emulator_bench", "ecp5", pnr=True, fmt="rtlil",
                        workdir=args.out)
    with open(f"{args.out}/nextpnr.log") as f:
        log = f.read()
    path = log[log.rfind("Critical path report"):]
    hops = re.findall(r"Info:\s+(?:clk-to-q|logic|routing|setup)\s+[\d.]+\s+[\d.]+\s+(?:Source|Net) (\S+)", path)
    summary = re.search(r"Info: ([\d.]+) ns logic, ([\d.]+) ns routing", path)
    print(json.dumps({"fmax_mhz": result.fmax_mhz, "luts": result.luts, "carries": result.carries,
                      "flip_flops": result.flip_flops, "lut_rams": result.lut_rams, "baked": args.baked,
                      "critical_path": {"from": hops[0] if hops else None, "to": hops[-1] if hops else None,
                                        "logic_ns": float(summary[1]) if summary else None,
                                        "routing_ns": float(summary[2]) if summary else None}}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
