"""Run the cocotb testbench of this folder with cocotb's own runner (written by `sws rtl --testbench`).

    python run.py --sim verilator      # or --sim icarus
Needs cocotb 1.9 (its runner, `cocotb.runner`; cocotb 2.x needs Verilator 5.036 or newer) and cocotbext-axi.
Exits 0 when every test passes.
"""

import argparse
import os
import sys
import xml.etree.ElementTree as ElementTree

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sim", choices=("verilator", "icarus"), default="verilator")
    ap.add_argument("--build-dir", default=None, help="default sim_build/<sim> in this folder")
    ap.add_argument("--waves", action="store_true", help="write a waveform (FST for Verilator, VCD for Icarus)")
    args = ap.parse_args(argv)
    try:
        from cocotb.runner import get_runner          # cocotb 1.8 / 1.9
    except ImportError:
        from cocotb_tools.runner import get_runner    # cocotb 2.x
    build_dir = args.build_dir or os.path.join(HERE, "sim_build", args.sim)
    runner = get_runner(args.sim)
    build_args = []
    if args.sim == "verilator":
        build_args = ["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast", "--x-initial", "fast",
                      "-CFLAGS", "-O1"]
        if args.waves:
            build_args += ["--trace-fst"]
    runner.build(verilog_sources=[os.path.join(HERE, "sws_soc.v")], hdl_toplevel="sws_soc", build_dir=build_dir,
                 build_args=build_args, always=False, timescale=("1ns", "1ps"), waves=args.waves)
    results = runner.test(hdl_toplevel="sws_soc", test_module="test_sws_soc", test_dir=HERE, build_dir=build_dir,
                          waves=args.waves, timescale=("1ns", "1ps"))
    tree = ElementTree.parse(results)
    cases = list(tree.iter("testcase"))
    failed = [c.get("name") for c in cases if c.find("failure") is not None or c.find("error") is not None]
    print(f"{args.sim}: {len(cases) - len(failed)} passed, {len(failed)} failed")
    return 1 if failed or not cases else 0


if __name__ == "__main__":
    sys.exit(main())
