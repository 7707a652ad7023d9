"""Controller area and Fmax against the array size: rows {64, 128, 256} x columns {64, 128, 256} x n_adc
{1, 4, 16}, the generic controller (ROMs written through its port) synthesized for ECP5 with Yosys and
placed and routed out of context with nextpnr. By hand (a few minutes per distinct netlist):

    python benchmarks/bench_synth.py [--quick] [--out build/bench_synth]

Writes bench_synth.json, bench_synth.md and bench_synth.png (LUTs and Fmax against rows, per n_adc).
The generic netlist's layer limits are fixed (K = N = 512, 512 sections, 8192 rows, 4096 active
columns), so the points differ only in the array. The controller walks one slot at a time, so the
column count changes only how many slots share a crossbar, not the controller: the sweep shows it.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import sys
import time

from hwgen.bram import platform_for
from hwgen.params import TileParams
from mapper.schedule import default_lanes
from hwgen.synth import synthesize
from hwgen.verilog import emit_rtlil, module_name
from mapper.config import ArrayConfig
from sim.netlist import netlist_check

LIMITS = dict(k=512, n=512, sections=512, rows=8192, columns=4096)


def point(rows: int, cols: int, n_adc: int, seen: dict) -> dict:
    """One grid point; a netlist already synthesized (same RTLIL, byte for byte) is not synthesized again."""
    cfg = ArrayConfig(rows=rows, cols=cols, n_adc=n_adc)
    params = TileParams(cfg.hw, LIMITS["k"], LIMITS["n"], LIMITS["sections"], LIMITS["rows"], LIMITS["columns"],
                        default_lanes(rows))
    # The block RAMs as DP16KD with their output registers, as `sws synth --target ecp5` builds them.
    design = emit_rtlil(None, params, controller_only=True, platform=platform_for("ecp5"))
    key = hashlib.sha256(design.encode()).hexdigest()
    head = {"rows": rows, "cols": cols, "n_adc": n_adc, "netlist": key[:12]}
    if key in seen:
        return {**seen[key], **head, "seconds": 0.0, "same_netlist_as": seen[key]["cols"]}
    start = time.perf_counter()
    # Every figure is of a netlist simulated against the golden model first (sim/netlist.py).
    r = synthesize(design, module_name(True), "ecp5", pnr=True, fmt="rtlil", say=lambda m: None,
                   check=netlist_check(params, None, say=lambda m: None)(True))
    seen[key] = {**head, "luts": r.luts, "carries": r.carries, "flip_flops": r.flip_flops,
                 "block_rams": r.block_rams, "lut_rams": r.lut_rams, "fmax_mhz": r.fmax_mhz,
                 "netlist_checked": r.netlist_checked,
                 "notes": [w for w in r.warnings if not w.startswith("Warning:")],
                 "seconds": time.perf_counter() - start}
    return seen[key]


def plot(points: list[dict], path: str) -> None:
    """LUTs and Fmax against rows, one line per n_adc (the column count leaves the netlist unchanged)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib missing: no plot; pip install -e '.[plots]')", file=sys.stderr)
        return
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    cols = sorted({p["cols"] for p in points})
    for n_adc in sorted({p["n_adc"] for p in points}):
        pts = sorted((p for p in points if p["n_adc"] == n_adc and p["cols"] == cols[0]), key=lambda p: p["rows"])
        rows = [p["rows"] for p in pts]
        ax1.plot(rows, [p["luts"] + p["carries"] for p in pts], "-o", label=f"n_adc {n_adc}")
        ax2.plot(rows, [p["fmax_mhz"] for p in pts], "-o", label=f"n_adc {n_adc}")
    ticks = sorted({p["rows"] for p in points})
    ax1.set(xlabel="rows R", ylabel="LUT4 + CCU2C cells", title="controller area (ECP5)")
    ax2.set(xlabel="rows R", ylabel="Fmax (MHz)", title="controller Fmax (ECP5, nextpnr out of context)")
    for ax in (ax1, ax2):
        ax.set_xscale("log", base=2)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.minorticks_off()
        ax.grid(alpha=0.3)
    ax1.legend(title=f"same for {', '.join(map(str, cols))} columns", fontsize=8, title_fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="rows {64, 128}, columns {128}, n_adc {1, 16}")
    ap.add_argument("--out", default=os.path.join("build", "bench_synth"))
    ap.add_argument("--replot", action="store_true", help="only redraw the plot from OUT/bench_synth.json")
    args = ap.parse_args()
    if args.replot:
        with open(os.path.join(args.out, "bench_synth.json")) as f:
            plot(json.load(f), os.path.join(args.out, "bench_synth.png"))
        return
    # Columns vary fastest: a column count that leaves the controller's netlist unchanged costs nothing.
    grid = [(r, c, a) for r, a, c in itertools.product((64, 128) if args.quick else (64, 128, 256),
                                                       (1, 16) if args.quick else (1, 4, 16),
                                                       (128,) if args.quick else (64, 128, 256))]
    os.makedirs(args.out, exist_ok=True)
    points, seen = [], {}
    for i, (rows, cols, n_adc) in enumerate(grid):
        print(f"[{i + 1}/{len(grid)}] rows {rows}, cols {cols}, n_adc {n_adc} ...", file=sys.stderr, flush=True)
        points.append(point(rows, cols, n_adc, seen))
        with open(os.path.join(args.out, "bench_synth.json"), "w") as f:
            json.dump(points, f, indent=1)
    lines = ["| rows | cols | n_adc | LUT4 | CCU2C | flip-flops | block RAMs | LUT RAMs | Fmax MHz | checked | netlist |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {p['rows']} | {p['cols']} | {p['n_adc']} | {p['luts']} | {p['carries']} | {p['flip_flops']} | "
              f"{p['block_rams']} | {p['lut_rams']} | {p['fmax_mhz']:.1f} | {'yes' if p['netlist_checked'] else 'no'} | "
              f"{'same as ' + str(p['same_netlist_as']) + ' cols' if 'same_netlist_as' in p else p['netlist']} |"
              for p in points]
    notes = sorted({n for p in points for n in p.get("notes", [])})
    lines += [""] + [f"- {n}" for n in notes]
    table = "\n".join(lines)
    with open(os.path.join(args.out, "bench_synth.md"), "w") as f:
        f.write(table + "\n")
    print(table)
    plot(points, os.path.join(args.out, "bench_synth.png"))

if __name__ == "__main__":
    main()
