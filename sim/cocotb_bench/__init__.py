"""The cocotb testbench shipped with the RTL (`sws rtl PLAN --testbench DIR`): the `sws_soc` Verilog, its register
map, constraints, the golden values the plan implies (sim.golden, written as data) and a cocotb test with its
runner, in one folder that runs without this project (cocotb 1.9 and cocotbext-axi only)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys

import numpy as np

from hwgen.interface import PROG_SELECT
from hwgen.params import MacroTiming, TileParams
from hwgen.program import program_writes
from hwgen.soc.axis import element_bytes
from hwgen.soc.regmap import counter_names
from hwgen.verilog import write_rtl
from mapper.common import SwsError
from mapper.plan import load_plan

from ..golden import predict

__all__ = ["write_testbench", "bench_data", "check_soc_netlist", "soc_netlist_check", "TEMPLATES", "ALT_TIMING"]

#: The files copied as they are into the bench folder.
TEMPLATES = ("test_sws_soc.py", "run.py")
#: The phases the run-time timing test writes over the bus (TIMING, TIMING_GUARD), whose golden counters it
#: checks: a guard cycle between precharge, wordline and sample too.
ALT_TIMING = MacroTiming(precharge=1, wordline=2, settle=1, sample=1, guard=1)


def _inputs(lp, vectors: int, seed: int) -> np.ndarray:
    cfg = lp.cfg
    rng = np.random.default_rng(seed)
    k = lp.shape[0]
    x = rng.integers(cfg.hw.input_min, cfg.hw.input_max + 1, (vectors, k))
    x[0] = cfg.hw.input_max                     # the range's ends as whole vectors
    if vectors > 1:
        x[1] = cfg.hw.input_min
    return x.astype(np.int64)


def _run(lp, params, x) -> dict:
    pred = predict(lp, x, params)
    counters = pred.counters()
    counters["vectors"] = len(x)
    return {"inputs": x.tolist(), "outputs": pred.outputs.tolist(), "counters": counters}


def write_testbench(plan_dir: str, folder: str, *, layer: str | None = None, generic: bool = False,
                    bus: str = "axil", vectors: int = 4, seed: int = 1, lanes: int | None = None,
                    hardware: dict | None = None, timing: MacroTiming | None = None, clock_mhz: float = 150.0) -> dict:
    """Write the bench folder: sws_soc.v (+ .regs.*, .sdc), regmap.json, bench.json, test_sws_soc.py, run.py.

    Parameters
    ----------
    plan_dir, layer, lanes, hardware, timing
        As `hwgen.verilog.write_rtl`.
    folder : str
        The bench folder (made if missing; the files named above are replaced).
    generic : bool
        The generic tile, programmed by the test over the bus (the plan's programming writes in bench.json).
    bus : str
        axil, wishbone or wishbone-pipelined.
    vectors, seed : int
        Random input vectors of each run (the first two: every input at the range's top, then its bottom).

    Returns
    -------
    dict
        folder, verilog and the other files written.
    """
    if isinstance(vectors, bool) or not isinstance(vectors, int) or not 1 <= vectors <= 256:
        raise SwsError(f"--vectors must be an integer from 1 to 256, not {vectors!r}")
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise SwsError(f"{folder}: the testbench folder exists and is not a folder")
    if timing is not None and (timing.write_ack or timing.power):
        raise SwsError("--testbench: the cocotb testbench drives neither the program-and-verify handshake "
                       "nor the power register; generate the Verilog without --write-ack and --power for it")
    os.makedirs(folder, exist_ok=True)
    verilog = os.path.join(folder, "sws_soc.v")
    written = write_rtl(plan_dir, verilog, layer=layer, generic=generic, lanes=lanes, hardware=hardware,
                        timing=timing, bus=bus, clock_mhz=clock_mhz)
    lp = load_plan(plan_dir).layer(layer).on_hardware(**(hardware or {}))
    params = TileParams.from_plan(lp, lanes, timing)
    shutil.copy(written["regmap"], os.path.join(folder, "regmap.json"))
    bench = bench_data(lp, params, generic=generic, bus=bus, vectors=vectors, seed=seed)
    bench["plan"] = os.path.abspath(plan_dir)
    _write_bench(folder, bench)
    return {**written, "folder": folder, "bench": os.path.join(folder, "bench.json")}


def _write_bench(folder: str, bench: dict) -> None:
    with open(os.path.join(folder, "bench.json"), "w") as f:
        json.dump(bench, f, indent=0)
        f.write("\n")
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "templates")
    for name in TEMPLATES:
        shutil.copy(os.path.join(here, name), os.path.join(folder, name))


def bench_data(lp, params: TileParams, *, generic: bool, bus: str, vectors: int = 4, seed: int = 1) -> dict:
    """What bench.json holds: the sizes, the programming writes (generic) and, for each of the bench's runs,
    the input vectors with the golden outputs and counters (sim.golden.predict)."""
    x1 = _inputs(lp, vectors, seed)
    x2 = _inputs(lp, vectors, seed + 1)
    alt = dataclasses.replace(params, timing=dataclasses.replace(
        params.timing, **{name: getattr(ALT_TIMING, name) for name in ("precharge", "wordline", "settle", "sample")}))
    prog = None
    layer_word = None
    if generic:
        prog = [list(w) for w in program_writes(params, lp)]
        layer_word = prog[-1][2]
    return {
        "top": "sws_soc", "bus": bus, "plan": None, "layer": lp.name, "seed": seed,
        "beat": params.beat, "k": lp.shape[0], "n": lp.shape[1], "input_bits": params.hw.input_bits,
        "acc_width": params.acc_width, "in_bytes": element_bytes(params.hw.input_bits),
        "out_bytes": element_bytes(params.acc_width), "full_resolution": params.hw.full_resolution, "conv_bits": params.conv_bits,
        "banks": params.hw.banks, "generic": generic, "prog": prog, "layer_word": layer_word,
        "layer_select": PROG_SELECT["layer"], "timing": dataclasses.asdict(params.timing),
        "counter_registers": [list(c) for c in counter_names(params)],
        "runs": {"stall_free": _run(lp, params, x1), "bubbles": _run(lp, params, x2),
                 "timing": {**_run(lp, alt, x1), "timing": dataclasses.asdict(alt.timing)}},
    }


def chip_wrapper(params: TileParams, plan, bus: str) -> str:
    """A `sws_soc` made of a `sws_soc_controller` (the netlist under test) and a `sws_array` (the RTL array
    emulator) on its array interface, with `sws_soc`'s ports: the chip's wrapper under the bench."""
    from hwgen.soc.top import SocTile

    from ..netlist import _ports
    soc = SocTile(params, plan, bus=bus, controller_only=True)
    soc._MustUse__silence = True                # only its signature is read
    ports = _ports(soc.signature.create())
    host = [pt for pt in ports if not pt[0].startswith("bus__")]
    array = [pt for pt in ports if pt[0].startswith("bus__")]
    decl = lambda w: f"[{w - 1}:0] " if w > 1 else ""  # noqa: E731
    lines = ["module sws_soc(input clk, input rst" + "".join(f", {d} {decl(w)}{n}" for n, w, d in host) + ");"]
    lines += [f"  wire {decl(w)}{n};" for n, w, _ in array]
    lines.append("  sws_soc_controller chip(.clk(clk), .rst(rst), " +
                 ", ".join(f".{n}({n})" for n, _, _ in host + array) + ");")
    lines.append("  sws_array array(.clk(clk), .rst(rst), " + ", ".join(f".{n}({n})" for n, _, _ in array) +
                 ", .violation());")
    return "\n".join(lines + ["endmodule\n"])


def check_soc_netlist(netlist: str, target: str, params: TileParams, plan, *, bus: str, vectors: int = 2,
                      seed: int = 0, controller_only: bool = False,
                      say=lambda m: print(m, file=sys.stderr, flush=True)) -> str:
    """The SoC wrapper's gate-level check (the `soc_check` hook of hwgen.synth.synthesize_tile): the cocotb
    bench run in Icarus Verilog on the mapped netlist with the target's cell models (a generic netlist on a
    random plan that fits it, programmed over the bus). With `controller_only` the netlist is the chip's
    `sws_soc_controller`, run with the RTL array emulator on its array interface (`chip_wrapper`). Returns
    what was simulated; SwsError on a failure."""
    import subprocess
    import tempfile

    from hwgen.soc.regmap import register_map

    from ..netlist import _sim_models, random_plan
    generic = plan is None
    lp = random_plan(params, seed) if generic else plan
    with tempfile.TemporaryDirectory(prefix="sws-soc-netlist-") as folder:
        shutil.copy(netlist, os.path.join(folder, "sws_soc.v"))
        if controller_only:
            from amaranth.back import verilog

            from hwgen.emulator import array_emulator
            from hwgen.verilog import fast_memory_init
            with fast_memory_init():
                emulator = verilog.convert(array_emulator(params, None if generic else lp), name="sws_array",
                                           emit_src=False)
            with open(os.path.join(folder, "sws_soc.v"), "a") as f:
                f.write("\n" + emulator + "\n" + chip_wrapper(params, plan, bus))
        models, flags = _sim_models(target, folder)
        with open(os.path.join(folder, "regmap.json"), "w") as f:
            f.write(register_map(params, generic=generic, bus=bus).to_json())
        _write_bench(folder, bench_data(lp, params, generic=generic, bus=bus, vectors=vectors, seed=seed + 1))
        argv = [sys.executable, "run.py", "--sim", "icarus", "--sources", "sws_soc.v",
                *[os.path.relpath(m, folder) for m in models]]
        for flag in flags:
            argv += ["--include", os.path.relpath(flag[2:], folder)] if flag.startswith("-I") else ["--define", flag[2:]]
        name = "sws_soc_controller (with the RTL array emulator)" if controller_only else "sws_soc"
        say(f"simulating the {target} netlist of {name} with its cocotb bench in Icarus Verilog ...")
        r = subprocess.run(argv, cwd=folder, capture_output=True, text=True)
        summary = [ln for ln in r.stdout.splitlines() if ln.startswith("icarus: ")]
        if r.returncode != 0 or not summary:
            failed = [ln.strip() for ln in (r.stdout + r.stderr).splitlines() if "FAIL" in ln or "Error" in ln]
            raise SwsError(f"the {target} netlist of sws_soc fails its cocotb bench: "
                           f"{summary[0] if summary else 'no result'}; {' | '.join(failed[:3])}")
    what = "its plan" if not generic else f"a random {lp.shape[0]} x {lp.shape[1]} plan programmed over the bus"
    emu = " and the RTL array emulator on its array interface" if controller_only else ""
    return (f"passed: the cocotb bench ({summary[0][len('icarus: '):]}) in Icarus Verilog on the {target} "
            f"netlist with its cell models{emu}, {vectors} vectors a run of {what}")


def soc_netlist_check(params: TileParams, plan, bus: str | None, **kw):
    """The `soc_check` of sim.netlist.synthesize_checked: check(controller_only) -> check(netlist, target), or
    None without a bus."""
    if bus is None:
        return None
    return lambda controller_only: (lambda path, target: check_soc_netlist(
        path, target, params, plan, bus=bus, controller_only=controller_only, **kw))
