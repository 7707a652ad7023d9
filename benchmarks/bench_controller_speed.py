"""The controller's speed targets of issue 24 (item 6), measured by hand on checked netlists: each point is
`sws synth ... --target ecp5 --pnr --controller-only --json` (Yosys, the netlist simulated gate-level
against the golden model, nextpnr out of context on the LFE5U-85F, seed 1), run one after the other:

    PYTHONPATH=$PWD nice -n 10 python benchmarks/bench_controller_speed.py [--points b2,m4,r256,r128,b8]
        [--out build/bench_controller_speed]

Points (targets from issue 24):
- b2:   the flow layer's plan, B = 2, W = 8, double-buffered (no target; shows the banks' fix)
- b8:   the same with B = 8 (target >= 140 MHz; 60-80 min of place and route on a loaded machine)
- m4:   the generic controller, R = 128, ADC groups of M = 4 columns (4 ADCs) (target >= 140 MHz)
- r256: the generic controller, R = 256, 16 ADCs (target >= 150 MHz)
- r128: the generic controller, R = 128, 16 ADCs (target >= 157 MHz)
The flow layer's plan is `sws map synthetic:laplace:384x64:1 --sparsity 0.8` (made once under --out).
Each point's JSON is appended to OUT/speed.jsonl as it finishes (with its command and seconds); the table
is printed at the end; each point's Yosys and nextpnr logs and nextpnr's report (critical paths) are kept in
OUT/<point>/.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

FLOW = ["synthetic:laplace:384x64:1", "--sparsity", "0.8"]
SYNTH = ["--target", "ecp5", "--pnr", "--controller-only", "--json", "-q"]
TARGETS = {"b2": None, "b8": 140.0, "m4": 140.0, "r256": 150.0, "r128": 157.0}
TITLES = {"b2": "flow layer, B = 2, W = 8, double-buffered", "b8": "flow layer, B = 8, W = 8, double-buffered",
          "m4": "generic, R = 128, M = 4 (4 ADCs)", "r256": "generic, R = 256, 16 ADCs",
          "r128": "generic, R = 128, 16 ADCs"}


def command(point: str, plan: str) -> list[str]:
    if point in ("b2", "b8"):
        banks = point[1:]
        return ["synth", plan, "--banks", banks, "--beat", "8", "--double-buffer", *SYNTH]
    if point == "m4":
        return ["synth", "--rows", "128", "--adc-mux", "4", *SYNTH]
    if point == "r256":
        return ["synth", "--rows", "256", "--n-adc", "16", *SYNTH]
    if point == "r128":
        return ["synth", "--rows", "128", "--n-adc", "16", *SYNTH]
    raise SystemExit(f"--points: unknown point {point!r} (one of {', '.join(TARGETS)})")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--points", default="b2,m4,r256,r128")
    ap.add_argument("--out", default="build/bench_controller_speed")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    plan = os.path.join(args.out, "plan")
    points = args.points.split(",")
    for p in points:
        command(p, plan)
    if any(p.startswith("b") for p in points) and not os.path.exists(os.path.join(plan, "manifest.json")):
        subprocess.run([sys.executable, "-m", "sws", "map", *FLOW, "-o", plan, "-q"], check=True)
    rows = []
    for p in points:
        cmd = command(p, plan)
        print(f"[{time.strftime('%H:%M:%S')}] {p}: sws {' '.join(cmd)}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        keep = os.path.abspath(os.path.join(args.out, p))      # Yosys's and nextpnr's logs and reports
        proc = subprocess.run([sys.executable, "-m", "sws", *cmd], capture_output=True, text=True,
                              env={**os.environ, "SWS_SYNTH_WORKDIR": keep}, check=False)
        seconds = round(time.perf_counter() - start)
        if proc.returncode != 0:
            row = {"point": p, "error": proc.stderr[-2000:], "seconds": seconds}
        else:
            r = json.loads(proc.stdout)["controller"]
            row = {"point": p, **{k: r.get(k) for k in ("luts", "carries", "flip_flops", "block_rams",
                                                        "fmax_mhz", "netlist_checked")}, "seconds": seconds}
        row["command"] = "sws " + " ".join(cmd)
        print(f"[{time.strftime('%H:%M:%S')}] {json.dumps(row)}", file=sys.stderr, flush=True)
        with open(os.path.join(args.out, "speed.jsonl"), "a") as f:
            f.write(json.dumps(row) + "\n")
        rows.append(row)
    print("| point | target MHz | Fmax MHz | netlist checked | LUT4 | flip-flops | DP16KD | command |")
    print("|---|---:|---:|---|---:|---:|---:|---|")
    for r in rows:
        t = TARGETS[r["point"]]
        print(f"| {TITLES[r['point']]} | {'-' if t is None else f'>= {t:.0f}'} | {r.get('fmax_mhz', 'failed')} | "
              f"{r.get('netlist_checked')} | {r.get('luts')} | {r.get('flip_flops')} | {r.get('block_rams')} | "
              f"`{r['command']}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
