"""Where the test run's Python processes spend their time: a py-spy profile summed by library and by test.

    pip install py-spy
    py-spy record --subprocesses -r 20 -f raw -o slow.raw -- python -m pytest -q -m slow
    python benchmarks/profile_tests.py slow.raw [--rate 20] [--tests 40]

py-spy samples every Python process of the run (the pytest-xdist workers and the Python tools they start:
yowasp's Yosys and nextpnr, cocotb's runner) `rate` times a second while a thread is busy. Each sample goes to
the library of its innermost frame that one of `LIBRARIES` names (so Amaranth's netlist code called from the
simulator counts as netlist code), and to the test whose function is on its stack. Samples of a loaded
machine count waiting for a core too: compare shares, not seconds. Native programs (Verilator, its C++
compiler, Icarus, ABC) are not Python: Linux process accounting counts them (docs/results/test-time.md).
"""

from __future__ import annotations

import argparse
import collections
import re

#: (name, substrings of a frame), the first that matches a sample's innermost frame names its library.
LIBRARIES = [
    ("Yosys and nextpnr (yowasp, WebAssembly)", ("yowasp", "wasmtime")),
    ("Amaranth's simulator", ("amaranth/sim/",)),
    ("Amaranth's netlist and RTLIL", ("amaranth/back/rtlil.py", "amaranth/hdl/_nir.py", "amaranth/hdl/_ir.py")),
    ("Amaranth's elaboration (hwgen, Amaranth's language)", ("amaranth/hdl/", "amaranth/lib/", "/hwgen/")),
    ("Sphinx", ("sphinx", "docutils")),
    ("JAX", ("jax", "xla")),
    ("ONNX and ONNX Runtime", ("onnx",)),
    ("torch and aihwkit", ("torch", "aihwkit")),
    ("the mapper", ("/mapper/",)),
    ("the simulation harnesses (sim/)", ("/sim/",)),
    ("the CLI and experiments (sws/)", ("/sws/",)),
    ("imports", ("<frozen importlib", "_bootstrap")),
    ("pytest, xdist, execnet", ("_pytest", "xdist", "execnet", "pluggy")),
]

_TEST = re.compile(r"(test_\w+) \(.*tests/")
_PROCESS = re.compile(r'^process \d+:"(.*)"$')


def library(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, keys in LIBRARIES:
            if any(k in frame for k in keys):
                return name
    return "other"


def summarize(lines, rate: float = 20.0, n_tests: int = 40) -> str:
    """The report of py-spy's raw lines ("frame;frame;... count")."""
    by_library, by_test, by_tool = collections.Counter(), collections.Counter(), collections.Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if not count.isdigit():
            continue
        n, frames = int(count), stack.split(";")
        total += n
        lib = library(frames)
        by_library[lib] += n
        test = next((m.group(1) for f in frames if (m := _TEST.match(f))), "(no test on the stack: a tool's process)")
        by_test[test] += n
        if lib.startswith("Yosys"):
            command = [m.group(1) for f in frames if (m := _PROCESS.match(f))]
            tool = command[-1] if command else "?"
            by_tool[re.sub(r"\S*/bin/", "", re.sub(r"/tmp/\S+", "TMP", tool))[:100]] += n
    if total == 0:
        return "no samples\n"
    out = [f"{total / rate:.0f} sampled seconds", "", "by library (innermost frame):"]
    out += [f"{n / rate:9.1f} s {100 * n / total:5.1f}%  {name}" for name, n in by_library.most_common()]
    out += ["", "the WebAssembly tools by command line:"]
    out += [f"{n / rate:9.1f} s  {name}" for name, n in by_tool.most_common(12)]
    out += ["", f"the {n_tests} tests with the most samples:"]
    out += [f"{n / rate:9.1f} s  {name}" for name, n in by_test.most_common(n_tests)]
    return "\n".join(out) + "\n"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("raw", help="py-spy's raw output (-f raw)")
    ap.add_argument("--rate", type=float, default=20.0, help="py-spy's samples a second (-r), default 20")
    ap.add_argument("--tests", type=int, default=40, help="how many tests to list, default 40")
    args = ap.parse_args(argv)
    with open(args.raw) as f:
        print(summarize(f, args.rate, args.tests), end="")


if __name__ == "__main__":
    main()
