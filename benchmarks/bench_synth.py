"""Controller area and Fmax against the array size: rows {64, 128, 256} x columns {64, 128, 256} x n_adc
{1, 4, 16}, the generic controller (ROMs written through its port) synthesized for ECP5 with Yosys and
placed and routed out of context with nextpnr. By hand (about a minute per point):

    python benchmarks/bench_synth.py [--quick] [--out build/bench_synth]

Writes bench_synth.json, bench_synth.md and bench_synth.png (LUTs and Fmax against rows, per n_adc).
The generic netlist's layer limits are fixed (K = N = 512, 512 sections, 8192 rows, 4096 active
columns), so the points differ only in the array. The controller walks one slot at a time, so the
column count changes only how many slots share a crossbar, not the controller: the sweep shows it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

from hwgen.params import TileParams, default_lanes
from hwgen.synth import synthesize_tile
from mapper.config import ArrayConfig

LIMITS = dict(k=512, n=512, sections=512, rows=8192, columns=4096)


def point(rows: int, cols: int, n_adc: int) -> dict:
    cfg = ArrayConfig(rows=rows, cols=cols, n_adc=n_adc)
    params = TileParams(cfg, LIMITS["k"], LIMITS["n"], LIMITS["sections"], LIMITS["rows"], LIMITS["columns"],
                        default_lanes(rows))
    start = time.perf_counter()
    r = synthesize_tile(params, None, "ecp5", pnr=True, tile=False, say=lambda m: None)["controller"]
    return {"rows": rows, "cols": cols, "n_adc": n_adc, "luts": r.luts, "carries": r.carries,
            "flip_flops": r.flip_flops, "block_rams": r.block_rams, "lut_rams": r.lut_rams,
            "fmax_mhz": r.fmax_mhz, "seconds": time.perf_counter() - start}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="rows {64, 128}, columns {128}, n_adc {1, 16}")
    ap.add_argument("--out", default=os.path.join("build", "bench_synth"))
    args = ap.parse_args()
    grid = list(itertools.product((64, 128) if args.quick else (64, 128, 256), (128,) if args.quick else
                                  (64, 128, 256), (1, 16) if args.quick else (1, 4, 16)))
    os.makedirs(args.out, exist_ok=True)
    points = []
    for i, (rows, cols, n_adc) in enumerate(grid):
        print(f"[{i + 1}/{len(grid)}] rows {rows}, cols {cols}, n_adc {n_adc} ...", file=sys.stderr, flush=True)
        points.append(point(rows, cols, n_adc))
        with open(os.path.join(args.out, "bench_synth.json"), "w") as f:
            json.dump(points, f, indent=1)
    lines = ["| rows | cols | n_adc | LUTs | carries | flip-flops | block RAMs | LUT RAMs | Fmax MHz |",
             "|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {p['rows']} | {p['cols']} | {p['n_adc']} | {p['luts']} | {p['carries']} | {p['flip_flops']} | "
              f"{p['block_rams']} | {p['lut_rams']} | {p['fmax_mhz']:.1f} |" for p in points]
    table = "\n".join(lines)
    with open(os.path.join(args.out, "bench_synth.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot; pip install -e '.[plots]')", file=sys.stderr)
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    for n_adc in sorted({p["n_adc"] for p in points}):
        for cols, style in zip(sorted({p["cols"] for p in points}), ("-o", "--s", ":^")):
            pts = sorted((p for p in points if p["n_adc"] == n_adc and p["cols"] == cols), key=lambda p: p["rows"])
            label = f"n_adc {n_adc}, {cols} cols"
            ax1.plot([p["rows"] for p in pts], [p["luts"] + p["carries"] for p in pts], style, label=label)
            ax2.plot([p["rows"] for p in pts], [p["fmax_mhz"] for p in pts], style, label=label)
    ax1.set(xlabel="rows R", ylabel="LUT4 + CCU2C cells", title="controller area (ECP5)", xscale="log", xticks=[64, 128, 256])
    ax2.set(xlabel="rows R", ylabel="Fmax (MHz)", title="controller Fmax (ECP5, nextpnr OOC)", xscale="log", xticks=[64, 128, 256])
    for ax in (ax1, ax2):
        ax.set_xticklabels(["64", "128", "256"])
        ax.grid(alpha=0.3)
    ax1.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "bench_synth.png"), dpi=110)


if __name__ == "__main__":
    main()
