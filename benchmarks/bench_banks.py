"""Cycles (latency and throughput) of the `sws flow` default layer on B = 1, 2, 4, 8 banks, simulated and
checked against the golden model, and optionally area and Fmax of each controller on ECP5 (README table).

    python benchmarks/bench_banks.py [--plan build/flow/plan] [--beat 8] [--backend verilator] [--synth]

Without --plan the default flow layer (synthetic:laplace:384x64:1 at sparsity 0.8, R = 128, 16 ADCs) is
mapped into build/bench-banks/plan. Each configuration simulates 3 back-to-back random vectors: latency is
the first vector's cycles (first input to last output), throughput the cycles between the last two
vectors' last outputs. --synth runs `sws synth PLAN --banks B ... --target ecp5 --pnr --controller-only`
(Yosys, nextpnr; the netlist simulated against the golden model) for each B, one at a time: long (B = 8
alone about 80 minutes on 2 cores: nextpnr routes it for most of an hour).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))   # this checkout's packages


def say(text):
    print(text, file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--plan", default=None)
    ap.add_argument("--beat", type=int, default=8)
    ap.add_argument("--banks", default="1,2,4,8")
    ap.add_argument("--backend", default="verilator", choices=("verilator", "icarus", "amaranth"))
    ap.add_argument("--synth", action="store_true")
    ap.add_argument("--out", default=os.path.join("build", "bench-banks"))
    args = ap.parse_args()
    from mapper.config import ArrayConfig
    from mapper.job import map_to_folder
    from mapper.plan import load_plan
    from sim.check import compare
    from mapper.schedule import cycle_model
    from sim.golden import predict
    from sws.flow import DEFAULT_SPARSITY, DEFAULT_WEIGHTS
    plan = args.plan
    if plan is None:
        plan = os.path.join(args.out, "plan")
        if not os.path.exists(os.path.join(plan, "manifest.json")):
            map_to_folder(DEFAULT_WEIGHTS, ArrayConfig(), DEFAULT_SPARSITY, plan)
    base = load_plan(plan).layer(None)
    x = np.random.default_rng(0).integers(base.cfg.hw.input_min, base.cfg.hw.input_max + 1, (3, base.shape[0]))
    configs = [(1, 1, False)] + [(int(b), args.beat, True) for b in args.banks.split(",")]
    rows = []
    for banks, beat, db in configs:
        lp = base.on_hardware(banks=banks, beat=beat, double_buffer=db)
        model = cycle_model(lp)
        pred = predict(lp, x)
        t = time.perf_counter()
        if args.backend == "amaranth":
            from sim.amaranth_sim import run_tile
            run = run_tile(lp, x)
        else:
            from sim.verilog_sim import run_verilog
            run = run_verilog(lp, x, args.backend, say=say)
        problems = compare(pred, run)
        if problems or not (run.outputs == x @ _weights(base)).all():
            raise SystemExit(f"B={banks} W={beat}: simulation differs: {problems}")
        row = {"banks": banks, "beat": beat, "double_buffer": db, "load": model["load"], "run": model["run"],
               "out": model["out"], "latency": run.cycles_per_vector[0], "throughput": run.cycles_per_vector[-1],
               "model_latency": model["cycles"], "model_throughput": model["throughput"],
               "sim_seconds": round(time.perf_counter() - t, 1)}
        if args.synth:
            cmd = [sys.executable, "-m", "sws.cli", "synth", plan, "--banks", str(banks), "--beat", str(beat),
                   "--double-buffer" if db else "--single-buffer", "--target", "ecp5", "--pnr",
                   "--controller-only", "--json"]
            say(" ".join(cmd))
            r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)["controller"]
            row.update({k: r.get(k) for k in ("luts", "flip_flops", "block_rams", "fmax_mhz", "netlist_checked")})
        say(json.dumps(row))
        rows.append(row)
    one = rows[0]["throughput"]
    print("| B | W | double buffer | load | RUN | out | latency | throughput | B=1 W=1 / throughput |")
    print("|---|---|---------------|------|-----|-----|---------|------------|----------------------|")
    for r in rows:
        print(f"| {r['banks']} | {r['beat']} | {'yes' if r['double_buffer'] else 'no'} | {r['load']} | {r['run']} | "
              f"{r['out']} | {r['latency']} | {r['throughput']} | {one / r['throughput']:.2f} |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "banks.json"), "w") as f:
        json.dump(rows, f, indent=1)


def _weights(lp):
    from mapper.plan import rebuild_weights
    return rebuild_weights(lp)


if __name__ == "__main__":
    main()
