"""CPU seconds of the Verilator builds of small tiles (issue 27: the test suite's time is mostly tools' own),
with the cached C++ main object and the precompiled verilated.h of short builds (sim.verilog_sim) and
without them, in one run, alternating, so that both see the same machine.

    PYTHONPATH=$PWD python benchmarks/bench_verilator_build.py [--cases a,b,...] [--rounds 2]

Each round builds every case (tests.sim.cases.rtl_cases) in a fresh cache folder, the Verilog emitted once
beforehand and copied in, the Verilator runtime's objects too: what is measured is verilating, compiling and
linking (the CPU time of the child processes), and the short run itself. Prints the total of each round and
the median per variant.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from unittest import mock

from sim import verilog_sim as vs
from tests.sim.cases import rtl_cases

DEFAULT = ("r16_k_below_r,r32_natural_section,dense_reference,group2_partial,natural_column,sparsity_095,"
           "a4_unsigned,single_weight")


def builds(cases, cache: str) -> float:
    """Child-process CPU seconds of building and running each case in `cache`."""
    t0 = os.times()
    for case in cases:
        vs.run_verilog(case.lp, case.x, "verilator", cache=cache, say=lambda m: None)
    t1 = os.times()
    return t1.children_user - t0.children_user + t1.children_system - t0.children_system


_restore = vs._restore


def runtime_only(folder: str, obj: str, names) -> bool:
    """`sim.verilog_sim._restore` for the runtime's objects only, as before the main object was cached."""
    return names == vs._RUNTIME_OBJECTS and _restore(folder, obj, names)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", default=DEFAULT)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args(argv)
    names = args.cases.split(",")
    cases = [c for c in rtl_cases() if c.name in names]
    work = tempfile.mkdtemp(prefix="bench_verilator_build_")
    try:
        warm = os.path.join(work, "warm")
        builds(cases, warm)             # the Verilog and the runtime's objects, for every round to copy
        seen = {"shared": [], "plain": []}
        for r in range(args.rounds):
            for variant in ("plain", "shared"):
                cache = os.path.join(work, f"{variant}{r}")
                os.makedirs(cache)
                shutil.copytree(os.path.join(warm, "verilog"), os.path.join(cache, "verilog"))
                for runtime in (f for f in os.listdir(warm) if f.startswith("runtime-")):
                    shutil.copytree(os.path.join(warm, runtime), os.path.join(cache, runtime))
                if variant == "plain":      # as before: no precompiled header, main.cpp compiled in every build
                    with mock.patch.object(vs, "_precompiled_header", lambda *a: None), \
                         mock.patch.object(vs, "_restore", runtime_only):
                        seconds = builds(cases, cache)
                else:
                    seconds = builds(cases, cache)
                seen[variant].append(seconds)
                print(f"round {r} {variant:6s} {seconds:6.1f} CPU s for {len(cases)} builds", flush=True)
        plain, shared = statistics.median(seen["plain"]), statistics.median(seen["shared"])
        print(f"median: plain {plain:.1f}, shared main object and precompiled header {shared:.1f} CPU s "
              f"({shared / plain:.2f}x)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
