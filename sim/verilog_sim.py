"""Simulation of the emitted Verilog in Verilator and Icarus Verilog, through one generated Verilog harness.

The harness `sws_tb` (for a generic tile, after programming its ROMs through `prog`) streams input
vectors from a `$readmemh` file into the tile, records every output and, after each vector's last
output, the cycle counter; at the end it writes the counters. Verilator runs it from a small C++ main
that toggles the clock; Icarus from a Verilog wrapper that does the same.

Memory contents are loaded at run time, not compiled in: every memory's `initial` block of the Verilog
(a ROM image or a RAM's zeros, one assignment per word) becomes a `$readmemh` of a file written for the
run (`split_memory_contents`), so the simulator compiles the netlist's structure alone. Built models are
cached under build/hdl/<backend>-<hash of that structure and the harness>/: a baked tile compiles once per
set of sizes, whatever its ROM contents, and a generic tile's build serves every plan that fits its
limits. $SWS_HDL_CACHE, if set, names another cache folder.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time

import numpy as np
from amaranth import Shape

from hwgen.emulator import VIOLATIONS
from hwgen.interface import COUNTER_WIDTH, CYCLE_WIDTH, ERRORS, EVENTS, ProgSignature, pack_beats, timing_layout
from mapper.schedule import MacroTiming
from hwgen.params import TileParams
from hwgen.program import max_writes, program_writes
from hwgen.verilog import emit_verilog
from mapper.common import SwsError
from mapper.config import HardwareConfig
from mapper.common import atomic_dir, write_atomic
from mapper.plan import LayerPlan

from .amaranth_sim import ControllerError, ProtocolViolation, SimRun, error_names
from .golden import cycle_model

__all__ = ["HDL_BACKENDS", "available_backends", "run_verilog", "simulate_design", "harness",
           "split_memory_contents"]

HDL_BACKENDS = ("verilator", "icarus")
_TOOLS = {"verilator": ("verilator",), "icarus": ("iverilog", "vvp")}
#: Vectors per harness run; longer inputs run in chunks (each from reset) and their counters add up.
CHUNK = 256
#: g++ options of the Verilated model, by the length of the run it is built for. Compiling dominates a short
#: run, so the model is one translation unit (VM_PARALLEL_BUILDS=0: Verilator's headers parsed once, not once
#: for each of its ~13 files) and, for a short run, unoptimized. Measured on tests.sim.cases'
#: r32_natural_section (g++ 12.2, Verilator 5.006, this project's 2-core machine, 2026-12-06; CPU seconds of
#: the C++ build / of a 200-vector run): separate files at -O1 (-O0 for the run-once code) 35.5 / 0.09; one
#: file at -O1 23.7 / 0.09; one file at -O0 18.0 / 0.46. The run is 43,600 cycles (200 vectors of 218), so
#: -O0 saves 5.7 s of compiling and costs 8.5 us a cycle: it pays below about 670,000 cycles.
OPT_MAKEFLAGS = {"short": "VM_PARALLEL_BUILDS=0 OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0",
                 "long": "VM_PARALLEL_BUILDS=0 OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O0"}
#: A run of fewer predicted cycles than this gets the "short" build.
SHORT_RUN_CYCLES = 500_000
#: The C++ compiler of a short run's build where it is installed (else make's default, g++). Unoptimized, it
#: compiles a Verilated model about 3x faster than g++ and its model runs about as fast; optimized it is the slower
#: one, so a long run's build keeps g++. Measured on tests.sim.cases' r128_sparse (Verilator 5.006, g++ 12.2,
#: clang 14 of Debian 12, this project's 2-core machine, 2026-12-07; CPU seconds of the one translation unit):
#: -O0 g++ 9.1, clang++ 3.1; -O1 g++ 19.1, clang++ 21.7. The whole build of that tile (verilating, the
#: runtime, linking) 23.8 -> 12.3 s; a 200-vector run of r32_natural_section 0.35 (g++) and 0.40 s (clang++).
SHORT_RUN_CXX = "clang++"


def _makeflags(speed: str) -> str:
    """The make variables of a Verilator build for a `speed` ("short" or "long") run; $SWS_VERILATOR_MAKEFLAGS,
    if set, for both."""
    flags = os.environ.get("SWS_VERILATOR_MAKEFLAGS")
    if flags:
        return flags
    if speed == "short" and shutil.which(SHORT_RUN_CXX):
        return f"CXX={SHORT_RUN_CXX} LINK={SHORT_RUN_CXX} {OPT_MAKEFLAGS[speed]}"
    return OPT_MAKEFLAGS[speed]


def available_backends() -> list[str]:
    """The HDL simulators installed here, fastest first."""
    return [b for b in HDL_BACKENDS if all(shutil.which(t) for t in _TOOLS[b])]


#: A memory's initial contents as Yosys's write_verilog prints them: one `name[i] = W'hX;` per word.
_MEMORY_INIT = re.compile(r"^  initial begin\n    ([A-Za-z_]\w*)\[\d+\] = \d+'h[0-9a-fA-F]+;\n"
                          r"(?:    \1\[\d+\] = \d+'h[0-9a-fA-F]+;\n)*  end\n", re.M)
_MEMORY_WORD = re.compile(r"\[(\d+)\] = \d+'h([0-9a-fA-F]+);")


def split_memory_contents(verilog: str) -> tuple[str, list[str]]:
    """The Verilog with every memory's initial contents loaded at run time, and those contents.

    Each `initial` block that assigns a memory word by word becomes a `$readmemh` of `rom<i>.hex` in the
    folder named by the `+roms=DIR` plusarg (default the working folder); the i-th returned text is that
    file. The structure alone is what a simulator compiles: C++ compilers are slow on large constant
    initializers (a real-size layer's ROMs are 13 MB of Verilated C++), and one build serves every ROM
    image of the same sizes. Blocks of any other form are left as they are.
    """
    images = []

    def load(match):
        words = _MEMORY_WORD.findall(match.group(0))
        lines, expect = [], 0
        for index, value in words:
            if int(index) != expect:
                lines.append(f"@{int(index):x}\n")
            lines.append(value + "\n")
            expect = int(index) + 1
        i = len(images)
        images.append("".join(lines))
        return (f"  initial begin : sws_contents_{i}\n    reg [1023:0] dir;\n"
                f"    if (!$value$plusargs(\"roms=%s\", dir)) dir = \".\";\n"
                f"    $readmemh({{dir, \"/rom{i}.hex\"}}, {match.group(1)});\n  end\n")

    return _MEMORY_INIT.sub(load, verilog), images


def _prog_widths(params: TileParams) -> tuple[int, int, int]:
    members = ProgSignature(params).members
    return tuple(Shape.cast(members[f].shape).width for f in ("sel", "addr", "data"))


def harness(params: TileParams, generic: bool = False) -> str:
    """The Verilog test harness of a tile of these parameters (plusargs: +vectors=V +k=K +n=N +dir=PATH, and
    for a generic tile +writes=P: it first makes the P programming writes of prog.hex, one a cycle)."""
    cfg = params.hw
    # k and n count beats of W = params.beat elements (hwgen.interface.beat_shape).
    bt = params.beat
    k, n, a, w = params.k_words, -(-params.n // bt), cfg.input_bits * bt, params.acc_width
    y_write = ("      $fwrite(fd, \"y %0d\\n\", o_payload);" if bt == 1 else
               "\n".join(f"      $fwrite(fd, \"y %0d\\n\", $signed(o_payload[{e * w + w - 1}:{e * w}]));"
                         for e in range(bt)))
    conv_w = COUNTER_WIDTH * (cfg.adc_bits + 1)
    prog_decl = prog_ports = prog_init = prog_step = ready_to_stream = ""
    if generic:
        sel_w, addr_w, data_w = _prog_widths(params)
        word = sel_w + addr_w + data_w
        prog_decl = (f"  integer writes, p;\n  reg [{word - 1}:0] prog_words [0:{max_writes(params) - 1}];\n"
                     f"  wire programming = !rst && p < writes;\n  wire [{word - 1}:0] pw = programming ? prog_words[p] : {word}'d0;\n")
        prog_ports = (f"\n               .prog__we(programming), .prog__sel(pw[{sel_w - 1}:0]), "
                      f".prog__addr(pw[{sel_w + addr_w - 1}:{sel_w}]), .prog__data(pw[{word - 1}:{sel_w + addr_w}]),")
        prog_init = ('\n    p = 0;\n    if (!$value$plusargs("writes=%d", writes)) writes = 0;\n'
                     '    $readmemh({dir, "/prog.hex"}, prog_words);')
        prog_step = "\n    if (!rst && p <= writes) p <= p + 1;"
        # One idle cycle after the last write, as the Amaranth driver does, before the inputs stream.
        ready_to_stream = "p > writes && "
    events = "".join(f"  wire [{COUNTER_WIDTH - 1}:0] ev_{name};\n" for name in EVENTS)
    event_ports = "".join(f" .counters__{name}(ev_{name})," for name in EVENTS)
    event_fmt, event_args = " %0d" * len(EVENTS), "".join(f", ev_{name}" for name in EVENTS)
    return f"""// Generated by sws: streams inputs into sws_tile and records outputs, cycles and counters.
module sws_tb(input clk);
  integer vectors, k, n, fd, taken, given, settle, clocks, max_clocks;
  reg [1023:0] dir;
  reg [{a - 1}:0] inputs [0:{k * CHUNK - 1}];
  reg rst, mark, mark2;
  wire i_ready, o_valid;
  wire signed [{w * bt - 1}:0] o_payload;
  wire [{CYCLE_WIDTH - 1}:0] cycles;
  wire [{conv_w - 1}:0] conversions;
{events}  wire [{len(VIOLATIONS) - 1}:0] violation;
  wire [{len(ERRORS) - 1}:0] errors;
  wire error;
  // The counters are read through their snapshot: the cycle after a vector's last output (as the
  // Amaranth driver does), and at the end.
  wire snapshot = mark || (taken == vectors * n && settle == 4);
{prog_decl}  wire i_valid = !rst && {ready_to_stream}given < vectors * k;
  sws_tile dut(.clk(clk), .rst(rst),{prog_ports}
               .i__valid(i_valid), .i__ready(i_ready), .i__payload(i_valid ? inputs[given] : {a}'d0),
               .o__valid(o_valid), .o__ready(1'b1), .o__payload(o_payload), .o__last(),
               .counters__snapshot(snapshot), .counters__clear(1'b0),
               .counters__cycles(cycles), .counters__conversions(conversions),{event_ports}
               .status__clear(1'b0), .status__errors(errors), .status__error(error), .status__configured(),
               .status__busy(), .timing__we(1'b0), .timing__data({timing_layout().size}'d0), .violation(violation));
  initial begin
    if (!$value$plusargs("vectors=%d", vectors)) vectors = 1;
    if (!$value$plusargs("dir=%s", dir)) dir = ".";
    if (!$value$plusargs("max_clocks=%d", max_clocks)) max_clocks = 1000000000;
    if (!$value$plusargs("k=%d", k)) k = {k};
    if (!$value$plusargs("n=%d", n)) n = {n};
    $readmemh({{dir, "/inputs.hex"}}, inputs);
    fd = $fopen({{dir, "/outputs.txt"}}, "w");
    rst = 1; mark = 0; mark2 = 0; taken = 0; given = 0; settle = 0; clocks = 0;{prog_init}
  end
  always @(posedge clk) begin
    rst <= 0;{prog_step}
    clocks <= clocks + 1;
    if (clocks == max_clocks) begin
      $fwrite(fd, "timeout\\n");
      $fclose(fd);
      $finish;
    end
    if (!rst && error) begin
      $fwrite(fd, "error %0d\\n", errors);
      $fclose(fd);
      $finish;
    end
    if (i_valid && i_ready) given <= given + 1;
    if (!rst && o_valid) begin
{y_write}
      taken <= taken + 1;
      mark <= taken % n == n - 1;
    end else
      mark <= 0;
    mark2 <= mark;
    // The cycle counter one edge after a vector's last output, as the Amaranth driver reads it.
    if (mark2) $fwrite(fd, "c %0d\\n", cycles);
    if (taken == vectors * n) begin
      settle <= settle + 1;
      if (settle == 6) begin
        $fwrite(fd, "t %0d %h %0d{event_fmt}\\n", cycles, conversions, violation{event_args});
        $fclose(fd);
        $finish;
      end
    end
  end
endmodule
"""


_ICARUS_TOP = """module sws_tb_clock;
  reg clk = 0;
  sws_tb tb(.clk(clk));
  always #5 clk = ~clk;
endmodule
"""

_VERILATOR_MAIN = r"""// Generated by sws: clocks sws_tb until it calls $finish.
#include "Vsws_tb.h"
#include "verilated.h"
#include <memory>
int main(int argc, char **argv) {
    auto ctx = std::make_unique<VerilatedContext>();
    ctx->commandArgs(argc, argv);
    auto top = std::make_unique<Vsws_tb>(ctx.get());
    top->clk = 0;
    while (!ctx->gotFinish()) {
        top->clk = !top->clk;
        top->eval();
    }
    top->final();
    return 0;
}
"""


def _run(argv, cwd, what):
    try:
        proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True)
    except FileNotFoundError:
        raise SwsError(f"{argv[0]} is not installed: install it (Debian: apt-get install verilator iverilog) "
                       f"or choose --backend amaranth") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise SwsError(f"{what} failed (exit {proc.returncode}): {' / '.join(tail)}")
    return proc


def _build(backend: str, verilog: str, tb: str, cache: str, say, models: tuple = (), flags: tuple = (),
           speed: str = "long") -> str:
    """Compile the tile and harness once per design (and, for Verilator, per run `speed`: OPT_MAKEFLAGS);
    return the executable's path. `models` and `flags`: Verilog files (cell simulation models) to compile
    with them, and compiler flags (-I, -D) for those."""
    make = _makeflags(speed) if backend == "verilator" else ""
    key = hashlib.sha256("\n".join((backend, verilog, tb, *models, *flags, make)).encode()).hexdigest()[:16]
    folder = os.path.abspath(os.path.join(cache, f"{backend}-{key}"))
    exe = os.path.join(folder, "Vsws_tb" if backend == "verilator" else "sim.vvp")
    if os.path.exists(exe):
        return exe
    with atomic_dir(folder) as tmp:   # concurrent builds of one design: the last one to finish wins, whole
        for name, text in (("tile.v", verilog), ("tb.v", tb)):
            with open(os.path.join(tmp, name), "w") as f:
                f.write(text)
        start = time.perf_counter()
        if backend == "verilator":
            say("compiling the design with Verilator (once per design, cached in build/hdl/) ...")
            with open(os.path.join(tmp, "main.cpp"), "w") as f:
                f.write(_VERILATOR_MAIN)
            _verilate_and_compile(tmp, cache, models, flags, make)
        else:
            say("compiling the design with Icarus Verilog ...")
            with open(os.path.join(tmp, "top.v"), "w") as f:
                f.write(_ICARUS_TOP)
            _run(["iverilog", "-g2012", "-o", "sim.vvp", "-s", "sws_tb_clock", *flags,
                  "top.v", "tb.v", "tile.v", *models], tmp, "Icarus Verilog compilation")
        with open(os.path.join(tmp, "build_seconds"), "w") as f:
            f.write(f"{time.perf_counter() - start:.3f}\n")
    return exe


#: The Verilator runtime's objects: the same for every model built by one Verilator with the same flags.
_RUNTIME_OBJECTS = ("verilated.o", "verilated_threads.o")


def _restore(folder: str, obj: str, names) -> bool:
    """Copy cached objects into `obj`; False if any is missing. Copies get fresh times, so make sees them as
    up to date."""
    try:
        for name in names:
            shutil.copy(os.path.join(folder, name), obj)
        return True
    except OSError:
        return False


def _keep(folder: str, obj: str, names) -> None:
    """Cache objects of `obj` in `folder`; a cache that cannot be written (another build's, written in the same
    moment) costs a later build the compilation, nothing else."""
    try:
        with atomic_dir(folder) as tmp:
            for name in names:
                shutil.copy(os.path.join(obj, name), tmp)
    except (SwsError, OSError):
        pass


def _verilate_and_compile(folder: str, cache: str, models: tuple, flags: tuple, make: str) -> None:
    """Verilate the harness and tile in `folder`, then compile the model with `make -j <cores>` and the make
    variables `make`. What is the same for every model of this Verilator and these variables comes from (or
    goes to) cache folders: the runtime's objects, the C++ main's object (it sees the model only through its
    top header, the harness's ports, which is part of the key), and for an unoptimized clang++ build
    (`SHORT_RUN_CXX`) a precompiled verilated.h, which halves the compilation of a small model: 1.4 -> 0.65 CPU
    seconds for r8_k_not_multiple's one translation unit, the object byte for byte the same (clang 14,
    Verilator 5.006, 2026-12-07)."""
    _run(["verilator", "--cc", "--exe", "-O2", "--x-assign", "fast", "--x-initial", "fast",
          "--top-module", "sws_tb", "-Wno-fatal", "-Wno-lint", "-Wno-style", "--Mdir", "obj", "-o", "../Vsws_tb",
          *flags, "tb.v", "tile.v", *models, "main.cpp"], folder, "Verilator")
    obj = os.path.join(folder, "obj")
    version = _run(["verilator", "--version"], folder, "Verilator").stdout.strip()
    key = hashlib.sha256("\n".join((version, make, *flags)).encode()).hexdigest()[:16]
    build = ["make", "-C", "obj", "-f", "Vsws_tb.mk", "-j", str(os.cpu_count() or 2), *shlex.split(make)]
    runtime = os.path.abspath(os.path.join(cache, f"runtime-verilator-{key}"))
    if not _restore(runtime, obj, _RUNTIME_OBJECTS):
        # On their own, without the precompiled header (verilated.cpp defines a macro before its includes).
        _run([*build, *_RUNTIME_OBJECTS], folder, "C++ compilation of the Verilator runtime")
        _keep(runtime, obj, _RUNTIME_OBJECTS)
    with open(os.path.join(obj, "Vsws_tb.h"), "rb") as f:
        top = hashlib.sha256(f.read() + _VERILATOR_MAIN.encode()).hexdigest()[:16]
    main = os.path.abspath(os.path.join(cache, f"main-verilator-{key}-{top}"))
    have_main = _restore(main, obj, ("main.o",))
    pch = _precompiled_header(obj, cache, key, make)
    try:
        _run([*build, *([f"USER_CPPFLAGS=-include-pch {pch}"] if pch else [])], folder,
             "C++ compilation of the Verilated model")
    except SwsError:
        if pch is None:
            raise
        _run(build, folder, "C++ compilation of the Verilated model")    # the same, without the header
    if not have_main:
        _keep(main, obj, ("main.o",))


def _precompiled_header(obj: str, cache: str, key: str, make: str) -> str | None:
    """A precompiled verilated.h for the model's files (cached per Verilator and make variables), when the
    build is clang++'s at one optimization level throughout; None otherwise or if it cannot be made (the
    build then parses the header itself, as it always may)."""
    variables = dict(v.split("=", 1) for v in shlex.split(make) if "=" in v)
    levels = {variables.get(k) for k in ("OPT_FAST", "OPT_SLOW", "OPT_GLOBAL")}
    cxx = variables.get("CXX", "")
    if "clang" not in os.path.basename(cxx) or len(levels) != 1 or None in levels:
        return None
    folder = os.path.abspath(os.path.join(cache, f"pch-verilator-{key}"))
    path = os.path.join(folder, "verilated.h.pch")
    if os.path.exists(path):
        return path
    try:
        said = _run(["make", "-f", "Vsws_tb.mk", "debug-make", *shlex.split(make)], obj, "make").stdout
        cppflags = next(line.split(":", 1)[1] for line in said.splitlines() if line.startswith("CPPFLAGS:"))
        cppflags = [f for f in shlex.split(cppflags) if f not in ("-MMD", "-I.")]
        header = next(os.path.join(f[2:], "verilated.h") for f in cppflags
                      if f.startswith("-I") and os.path.exists(os.path.join(f[2:], "verilated.h")))
        with atomic_dir(folder) as tmp:
            _run([cxx, *cppflags, *levels, "-x", "c++-header", header, "-o", os.path.join(tmp, "verilated.h.pch")],
                 obj, "Precompiling verilated.h")
    except (SwsError, StopIteration):
        return None
    return path


def run_verilog(lp: LayerPlan, x: np.ndarray, backend: str, *, params: TileParams | None = None,
                generic: TileParams | None = None, reuse: bool = False, cache: str | None = None,
                say=lambda m: print(m, file=sys.stderr, flush=True)) -> SimRun:
    """Simulate the emitted Verilog of the plan's tile on the vectors x (V, K) with Verilator or Icarus:
    the plan-initialized tile, or with `generic` limits the generic tile (one build serves every plan
    that fits them), programmed through its prog port first.

    With `reuse` (and `generic`), any cached generic build of the plan's hardware and `generic.lanes`
    whose limits fit the plan serves instead, so a later layer costs neither Verilog emission nor
    compilation; a new build then gets every limit rounded up to a power of two, to fit more layers.
    Outputs, counters and cycles do not depend on the limits (only on the hardware and lanes)."""
    if backend not in _TOOLS:
        raise SwsError(f"backend must be one of {', '.join(HDL_BACKENDS)} here, not {backend!r}")
    x = np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    cache = cache or os.environ.get("SWS_HDL_CACHE") or os.path.join("build", "hdl")
    if generic is not None and reuse:
        found = _cached_generic(lp, generic.lanes, backend, cache, generic.timing)
        if found is not None:
            exe, limits = found
            say(f"reusing the generic {backend} build {os.path.basename(os.path.dirname(exe))} (no compilation)")
            return _simulate(exe, backend, lp, x, limits, program_writes(limits, lp),
                             os.path.join(os.path.dirname(exe), "contents"))
        generic = _roomy(generic)
    if generic is not None:
        params, verilog, writes = generic, emitted_verilog(None, generic, cache), program_writes(generic, lp)
    else:
        params = params or TileParams.from_plan(lp)
        verilog, writes = emitted_verilog(lp, params, cache), None
    return simulate_design(lp, x, backend, verilog, params, writes, cache=cache, say=say,
                           _record=generic is not None and reuse)


def simulate_design(lp: LayerPlan, x: np.ndarray, backend: str, verilog: str, params: TileParams, writes=None, *,
                    cache: str | None = None, models: tuple = (), flags: tuple = (),
                    say=lambda m: print(m, file=sys.stderr, flush=True), _record: bool = False) -> SimRun:
    """Simulate Verilog whose module `sws_tile` has a tile's ports (an emitted tile, or a synthesized
    netlist with its cell `models`) through the harness, on the vectors x; `writes` (programming writes)
    for a generic tile, None for a baked one."""
    if params.timing.power or (params.timing.write_ack and writes is not None):
        raise SwsError("the Verilog harness drives neither the power port nor the program-and-verify write "
                       "handshake (MacroTiming power, write_ack): simulate such a tile with the Amaranth backend")
    x = np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    cache = cache or os.environ.get("SWS_HDL_CACHE") or os.path.join("build", "hdl")
    structure, images = split_memory_contents(verilog)
    per_vector = cycle_model(lp, params)["cycles"]
    # A build that later layers reuse (_record) may serve long runs: it is always the optimized one.
    speed = "long" if _record or len(x) * per_vector + len(writes or ()) >= SHORT_RUN_CYCLES else "short"
    exe = _build(backend, structure, harness(params, writes is not None), cache, say, tuple(models), tuple(flags),
                 speed)
    folder = os.path.dirname(exe)
    if _record and not os.path.exists(os.path.join(folder, _GENERIC_RECORD)):
        _write_contents(os.path.join(folder, "contents"), images)
        write_atomic(os.path.join(folder, _GENERIC_RECORD), json.dumps(
            {"fingerprint": _fingerprint(), "params": dataclasses.asdict(params)}, sort_keys=True))
    roms = os.path.join(folder, f"roms-{os.getpid()}-{time.monotonic_ns()}")
    try:
        _write_contents(roms, images)
        return _simulate(exe, backend, lp, x, params, writes, roms, per_vector)
    finally:
        shutil.rmtree(roms, ignore_errors=True)


#: The file that makes a generic build findable by hardware (`run_verilog(..., reuse=True)`).
_GENERIC_RECORD = "generic.json"


@functools.lru_cache(maxsize=1)
def _fingerprint() -> str:
    """What an emitted Verilog depends on besides the plan and the parameters: the source of the RTL
    generator (hwgen/) and of the mapper it takes widths, layouts and latencies from (mapper/), of this
    harness, and the Amaranth and Yosys versions."""
    from amaranth._toolchain.yosys import find_yosys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sources = []
    for package in ("hwgen", "mapper"):
        for folder, dirs, files in os.walk(os.path.join(root, package)):
            dirs.sort()
            sources += [os.path.join(folder, f) for f in sorted(files) if f.endswith(".py")]
    sources.append(__file__)
    h = hashlib.sha256()
    for path in sources:
        h.update(os.path.relpath(path, root).encode() + b"\0")
        with open(path, "rb") as f:
            h.update(f.read())
    h.update(f"{importlib.metadata.version('amaranth')} {find_yosys(lambda v: v >= (0, 40)).version()}".encode())
    return h.hexdigest()[:16]


def _plan_digest(lp: LayerPlan) -> str:
    """The sha256 of everything a baked tile's Verilog takes from its plan: the configuration, the shape,
    the tables and the cells."""
    h = hashlib.sha256(repr((lp.name, lp.cfg, tuple(lp.shape))).encode())
    arrays = [*(lp.sections[k] for k in sorted(lp.sections)), lp.row_index,
              *(lp.columns[k] for k in sorted(lp.columns)), lp.cells]
    for a in arrays:
        if a is None:
            h.update(b"none")
            continue
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}{a.shape}".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def emitted_verilog(lp: LayerPlan | None, params: TileParams, cache: str) -> str:
    """`hwgen.verilog.emit_verilog(lp, params)`, kept in the cache folder (verilog/<key>.v) under a key of
    the plan's digest, the parameters and the generator's fingerprint: a design simulated again (another
    backend, another run of the same plan) is not emitted again. Emitting a tile takes seconds to a
    minute (Amaranth's netlist and Yosys), as long as compiling it."""
    key = hashlib.sha256("\n".join((_fingerprint(), repr(params), "generic" if lp is None else _plan_digest(lp)))
                         .encode()).hexdigest()[:24]
    path = os.path.join(cache, "verilog", f"{key}.v")
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        pass
    text = emit_verilog(lp, params)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        write_atomic(path, text)
    except OSError:
        pass   # a cache that cannot be written costs the next run the emission, nothing else
    return text


def _roomy(limits: TileParams) -> TileParams:
    """The limits rounded up to powers of two, so that a generic build fits more later layers."""
    up = {f: 1 << max(0, getattr(limits, f) - 1).bit_length()
          for f in ("k", "n", "section_depth", "row_depth", "column_depth")}
    return dataclasses.replace(limits, **up)


def _cached_generic(lp: LayerPlan, lanes: int, backend: str, cache: str, timing: MacroTiming = MacroTiming()):
    """(executable, limits) of the smallest cached generic build of `backend` for the plan's hardware,
    `lanes` and macro `timing` that fits the plan, made by this code; None if there is none."""
    best = None
    try:
        folders = [f for f in os.listdir(cache) if f.startswith(f"{backend}-")]
    except OSError:
        return None
    for name in folders:
        folder = os.path.join(cache, name)
        exe = os.path.join(folder, "Vsws_tb" if backend == "verilator" else "sim.vvp")
        try:
            with open(os.path.join(folder, _GENERIC_RECORD)) as f:
                record = json.load(f)
            fields = record["params"]
            limits = TileParams(**{**fields, "hw": HardwareConfig(**fields["hw"])})
            if record["fingerprint"] != _fingerprint() or limits.lanes != lanes or limits.timing != timing \
                    or not os.path.exists(exe):
                continue
            limits.fits(lp)
        except (OSError, ValueError, KeyError, TypeError, SwsError):
            continue
        size = sum(getattr(limits, f) for f in ("k", "n", "section_depth", "row_depth", "column_depth", "lanes"))
        if best is None or (size, name) < best[0]:
            best = ((size, name), exe, limits)
    return None if best is None else best[1:]


def _write_contents(folder: str, images: list[str]) -> None:
    """The memory contents files of `split_memory_contents`, rom<i>.hex, written whole in `folder`."""
    with atomic_dir(folder) as tmp:
        for i, text in enumerate(images):
            with open(os.path.join(tmp, f"rom{i}.hex"), "w") as f:
                f.write(text)


def _simulate(exe: str, backend: str, lp: LayerPlan, x: np.ndarray, params: TileParams, writes, roms: str,
              per_vector: int | None = None) -> SimRun:
    """Run a built harness on x in chunks of CHUNK vectors, memory contents from the folder `roms`;
    `per_vector`: the cycle model's cycles a vector, if known."""
    per_vector = cycle_model(lp, params)["cycles"] if per_vector is None else per_vector
    runs = [_run_chunk(exe, backend, lp, x[i:i + CHUNK], params, writes, per_vector, roms)
            for i in range(0, len(x), CHUNK)]
    counters = {"cycles": sum(r.counters["cycles"] for r in runs),
                "conversions": [sum(c) for c in zip(*(r.counters["conversions"] for r in runs))],
                **{name: sum(r.counters[name] for r in runs) for name in EVENTS}}
    return SimRun(np.concatenate([r.outputs for r in runs]), [c for r in runs for c in r.cycles_per_vector],
                  counters, counters["cycles"], sum(r.seconds for r in runs))


def _run_chunk(exe: str, backend: str, lp: LayerPlan, x: np.ndarray, params: TileParams, writes,
               cycles_per_vector: int, roms: str) -> SimRun:
    cfg, n = lp.cfg, lp.shape[1]
    run_dir = os.path.join(os.path.dirname(exe), f"run-{os.getpid()}-{time.monotonic_ns()}")
    os.makedirs(run_dir)
    try:
        a, bt = cfg.hw.input_bits, params.beat
        digits = -(-a * bt // 4)
        # One line a beat: W inputs, input e of the beat at bits [e * A, (e + 1) * A), zeros past K.
        # The layer's beats, ceil(K / W): a generic tile's limit K (params.k) may be larger than the layer's.
        k_beats = -(-lp.shape[0] // bt)
        beats = [word for xv in x for word in pack_beats(xv, bt, a)]
        with open(os.path.join(run_dir, "inputs.hex"), "w") as f:
            f.write("".join(f"{v:0{digits}x}\n" for v in beats))
        # A generous limit, so that a tile that hangs ends the run instead of the caller's patience.
        limit = 2 * (len(writes or ()) + len(x) * (cycles_per_vector + 8)) + 100
        n_beats = -(-n // params.beat)
        # Paths relative to the run folder (the simulator's working folder): the harness holds a path in a
        # 1024-bit reg, 128 characters, which a deep temporary folder exceeds (the path was cut, the file
        # not written).
        rel_roms = os.path.relpath(roms, run_dir)
        if len(rel_roms) > 127:
            raise SwsError(f"{roms}: the ROM folder's path from the run folder is longer than the harness's "
                           f"127 characters")
        args = [f"+vectors={len(x)}", f"+k={k_beats}", f"+n={n_beats}", "+dir=.", f"+roms={rel_roms}",
                f"+max_clocks={limit}"]
        if writes is not None:
            sel_w, addr_w, data_w = _prog_widths(params)
            digits = -(-(sel_w + addr_w + data_w) // 4)
            with open(os.path.join(run_dir, "prog.hex"), "w") as f:
                f.write("".join(f"{(d << (sel_w + addr_w)) | (a << sel_w) | sel:0{digits}x}\n"
                                for sel, a, d in writes))
            args.append(f"+writes={len(writes)}")
        argv = [exe, *args] if backend == "verilator" else ["vvp", "-n", exe, *args]
        start = time.perf_counter()
        _run(argv, run_dir, f"{backend} simulation")
        seconds = time.perf_counter() - start
        with open(os.path.join(run_dir, "outputs.txt")) as f:
            lines = f.read().split("\n")
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    ys = [int(ln[2:]) for ln in lines if ln.startswith("y ")]
    stopped = [ln for ln in lines if ln.startswith("error ")]
    if stopped:
        raise ControllerError(error_names(int(stopped[0].split()[1])))
    if "timeout" in lines:
        raise SwsError(f"{backend} simulation: the tile gave {len(ys)} of {len(x) * -(-n // params.beat) * params.beat} "
                       f"outputs in {limit} cycles")
    marks = [int(ln[2:]) for ln in lines if ln.startswith("c ")]
    total = [ln for ln in lines if ln.startswith("t ")]
    per = -(-n // params.beat) * params.beat     # outputs a vector, the last beat's padding included
    if len(ys) != len(x) * per or not total:
        raise SwsError(f"{backend} simulation ended after {len(ys)} of {len(x) * per} outputs")
    cycles, conv_hex, violation, *events = total[0].split()[1:]
    if int(violation):
        broken = [rule for k, rule in enumerate(VIOLATIONS) if int(violation) >> k & 1]
        raise ProtocolViolation(f"{backend} simulation: the array emulator flagged a protocol violation: "
                                f"{', '.join(broken)}")
    conv = int(conv_hex, 16)
    conversions = [(conv >> (COUNTER_WIDTH * b)) & ((1 << COUNTER_WIDTH) - 1) for b in range(cfg.hw.adc_bits + 1)]
    counters = {"cycles": int(cycles), "conversions": conversions,
                **{name: int(value) for name, value in zip(EVENTS, events, strict=True)}}
    return SimRun(np.asarray(ys, np.int64).reshape(len(x), per)[:, :n], [int(c) for c in np.diff([0] + marks)], counters,
                  int(cycles), seconds)
