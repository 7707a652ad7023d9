"""The controller's speed targets of issue 24 (item 6) and the SoC tile's of issue 25, measured by hand on
checked netlists: each point is `sws synth ... --target ecp5 --pnr --controller-only --json` (Yosys, the
netlist simulated gate-level against the golden model, nextpnr out of context on the LFE5U-85F, seed 1), run
one after the other; with `--seeds N`, nextpnr again on each kept, checked netlist at seeds 2 .. N
(`hwgen.synth.fmax_at_seed`), and the table gives the median over the seeds beside each seed's figure:

    PYTHONPATH=$PWD nice -n 10 python benchmarks/bench_controller_speed.py [--points b2,m4,r256,r128,b8,soc]
        [--seeds 3] [--out build/bench_controller_speed]

Points (targets from issue 24):
- b2:   the flow layer's plan, B = 2, W = 8, double-buffered (no target; shows the banks' fix)
- b8:   the same with B = 8 (target >= 140 MHz; 60-80 min of place and route on a loaded machine)
- m4:   the generic controller, R = 128, ADC groups of M = 4 columns (4 ADCs) (target >= 140 MHz)
- r256: the generic controller, R = 256, 16 ADCs (target >= 150 MHz)
- r128: the generic controller, R = 128, 16 ADCs (target >= 157 MHz)
- soc:  the SoC tile `sws_soc` (the tile behind AXI4-Lite and the streams, issue 25: target >= 150 MHz) and
        its controller's wrapper `sws_soc_controller`, baked with a small plan (`sws synth PLAN --bus axil`;
        this also places the controller and the tile: about 15 minutes)
The flow layer's plan is `sws map synthetic:laplace:384x64:1 --sparsity 0.8`, the SoC's `sws map
synthetic:laplace:40x3:2 --sparsity 0.6 --rows 16 --cols 42 --n-adc 3` (each made once under --out).
Each point's JSON is appended to OUT/speed.jsonl as it finishes (with its command and seconds); the table
is printed at the end; each point's Yosys and nextpnr logs and nextpnr's report (critical paths) are kept in
OUT/<point>/.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from hwgen.synth import fmax_at_seed
from hwgen.verilog import module_name

FLOW = ["synthetic:laplace:384x64:1", "--sparsity", "0.8"]
SOC_PLAN = ["synthetic:laplace:40x3:2", "--sparsity", "0.6", "--rows", "16", "--cols", "42", "--n-adc", "3"]
SYNTH = ["--target", "ecp5", "--pnr", "--controller-only", "--json", "-q"]
TARGETS = {"b2": None, "b8": 140.0, "m4": 140.0, "r256": 150.0, "r128": 157.0, "soc": 150.0}
TITLES = {"b2": "flow layer, B = 2, W = 8, double-buffered", "b8": "flow layer, B = 8, W = 8, double-buffered",
          "m4": "generic, R = 128, M = 4 (4 ADCs)", "r256": "generic, R = 256, 16 ADCs",
          "r128": "generic, R = 128, 16 ADCs", "soc": "SoC tile sws_soc (AXI4-Lite), small plan"}
#: The parts of `sws synth --json` each point reports (a row each): the controller, or the two SoC wrappers.
PARTS = {"soc": ("soc", "soc_controller")}
TOPS = {"controller": module_name(True), "soc": module_name(False, "axil"),
        "soc_controller": module_name(True, "axil")}


def command(point: str, plan: str, soc_plan: str) -> list[str]:
    if point == "soc":
        return ["synth", soc_plan, "--target", "ecp5", "--pnr", "--bus", "axil", "--json", "-q"]
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
    ap.add_argument("--seeds", type=int, default=1, help="nextpnr seeds 1 .. N on each checked netlist (default 1)")
    args = ap.parse_args(argv)
    if not 1 <= args.seeds <= 20:
        ap.error(f"--seeds must be an integer from 1 to 20, not {args.seeds}")
    os.makedirs(args.out, exist_ok=True)
    plan, soc_plan = os.path.join(args.out, "plan"), os.path.join(args.out, "soc_plan")
    points = args.points.split(",")
    for p in points:
        command(p, plan, soc_plan)
    for wanted, folder, source in ((any(p.startswith("b") for p in points), plan, FLOW),
                                   ("soc" in points, soc_plan, SOC_PLAN)):
        if wanted and not os.path.exists(os.path.join(folder, "manifest.json")):
            subprocess.run([sys.executable, "-m", "sws", "map", *source, "-o", folder, "-q"], check=True)
    rows = []
    for p in points:
        cmd = command(p, plan, soc_plan)
        print(f"[{time.strftime('%H:%M:%S')}] {p}: sws {' '.join(cmd)}", file=sys.stderr, flush=True)
        start = time.perf_counter()
        keep = os.path.abspath(os.path.join(args.out, p))      # Yosys's and nextpnr's logs and reports
        proc = subprocess.run([sys.executable, "-m", "sws", *cmd], capture_output=True, text=True,
                              env={**os.environ, "SWS_SYNTH_WORKDIR": keep}, check=False)
        seconds = round(time.perf_counter() - start)
        for part in PARTS.get(p, ("controller",)):
            if proc.returncode != 0:
                row = {"point": p, "part": part, "error": proc.stderr[-2000:], "seconds": seconds}
            else:
                r = json.loads(proc.stdout)[part]
                row = {"point": p, "part": part, **{k: r.get(k) for k in (
                    "luts", "carries", "flip_flops", "block_rams", "fmax_mhz", "netlist_checked")}, "seconds": seconds}
                row["fmax_by_seed"] = {1: round(r["fmax_mhz"], 2)}
                for seed in range(2, args.seeds + 1):
                    print(f"[{time.strftime('%H:%M:%S')}] {p} {part}: nextpnr seed {seed}", file=sys.stderr, flush=True)
                    row["fmax_by_seed"][seed] = round(fmax_at_seed(os.path.join(keep, TOPS[part]), "ecp5", seed), 2)
                row["fmax_median"] = statistics.median(row["fmax_by_seed"].values())
            row["command"] = "sws " + " ".join(cmd)
            print(f"[{time.strftime('%H:%M:%S')}] {json.dumps(row)}", file=sys.stderr, flush=True)
            with open(os.path.join(args.out, "speed.jsonl"), "a") as f:
                f.write(json.dumps(row) + "\n")
            rows.append(row)
    print("| point | part | target MHz | Fmax MHz (median) | by seed | netlist checked | LUT4 | flip-flops | DP16KD "
          "| command |")
    print("|---|---|---:|---:|---|---|---:|---:|---:|---|")
    for r in rows:
        t = TARGETS[r["point"]]
        seeds = " / ".join(f"{v}" for v in r.get("fmax_by_seed", {}).values())
        print(f"| {TITLES[r['point']]} | {TOPS[r['part']]} | {'-' if t is None else f'>= {t:.0f}'} | "
              f"{r.get('fmax_median', 'failed')} | {seeds} | {r.get('netlist_checked')} | {r.get('luts')} | "
              f"{r.get('flip_flops')} | {r.get('block_rams')} | `{r['command']}` |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
