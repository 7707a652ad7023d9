"""Fixed column-to-ADC multiplexing: M = 1, 4, 8 columns per ADC, fixed against balanced placement, on the
`sws flow` default layer (and MiniLM with --minilm), against today's full switch matrix (README table):

    PYTHONPATH=. python benchmarks/bench_adc_mux.py [--minilm] [--synth] [--json OUT.json]

Per configuration: cycles per vector (the exact cycle model, sim.golden.cycle_model on the plan's ROM
images: the one cycle model, mapper.schedule, which the report uses too), the ADC bound, the bank's busy window
(batch cycles: a batch issued until the last one of the vector is done), ADC busy time (SAR cycles: the
sum of all conversions' resolutions, the same for every M and placement), ADC utilization = SAR cycles /
(n_adc x cycles), ADC energy per vector (isaac) and the ADC bank area (n_adc ADCs, isaac area model).
Seconds on one core.
"""

from __future__ import annotations

import argparse
import json
import sys

CONFIGS = [(0, "fixed"), (1, "fixed"), (1, "balanced"), (4, "fixed"), (4, "balanced"), (8, "fixed"),
           (8, "balanced")]
FLOW = ("synthetic:laplace:384x64:1", 0.8)


def measure(spec: str, sparsity: float, mux: int, placement: str, exact: bool = True) -> dict:
    from mapper.config import ArrayConfig
    from mapper.plan import build_layer_plan
    from mapper.cost import map_source, report_dict
    from mapper.schedule import cycle_model
    cfg = ArrayConfig()
    if mux:
        cfg = cfg.replace(adc_mux=mux, n_adc=cfg.hw.mux_adcs(mux), placement=placement)
    results = map_source(spec, cfg, sparsity)
    rep = report_dict(results, cfg, source=spec, sparsity=sparsity)
    t = rep["total"]
    row = {"M": mux, "placement": placement, "n_adc": cfg.hw.n_adc, "cycles": t["cycles_per_vector"],
           "adc_bound": t["adc_bound_cycles"], "sar_cycles": t["sar_cycles"], "energy_pj": t["energy_pj"],
           "adc_bank_um2": t["area_breakdown_um2"]["adc_bank"]}
    if exact:
        models = [cycle_model(build_layer_plan(r.map)) for r in results]
        golden = sum(m["cycles"] for m in models)
        if golden != row["cycles"]:
            raise SystemExit(f"cycle model {golden} differs from the report's {row['cycles']} for M {mux} {placement}")
        row["batch_cycles"] = sum(m["batch_cycles"] for m in models)
    row["utilization"] = row["sar_cycles"] / (row["n_adc"] * row["cycles"])
    return row


def synth_point(mux: int) -> dict:
    """The generic controller (bench_synth.py's limits, R = 128, 128 columns) with M = `mux` columns per ADC
    (0: 16 ADCs, full switch matrix), synthesized for ECP5, placed and routed out of context, its netlist
    simulated against the golden model first (sim/netlist.py)."""
    import time
    from hwgen.bram import platform_for
    from hwgen.params import TileParams
    from mapper.schedule import default_lanes
    from hwgen.synth import synthesize
    from hwgen.verilog import emit_rtlil, module_name
    from mapper.config import ArrayConfig
    from sim.netlist import netlist_check
    cfg = ArrayConfig()
    if mux:
        cfg = cfg.replace(adc_mux=mux, n_adc=cfg.hw.mux_adcs(mux))
    params = TileParams(cfg.hw, 512, 512, 512, 8192, 4096, default_lanes(cfg.hw.rows))
    start = time.perf_counter()
    # Elaborated for ECP5 as `sws synth --target ecp5` does: block RAM reads through the DP16KD's own
    # output register (hwgen/bram.py).
    design = emit_rtlil(None, params, controller_only=True, platform=platform_for("ecp5"))
    r = synthesize(design, module_name(True), "ecp5", pnr=True,
                   fmt="rtlil", say=lambda m: None, check=netlist_check(params, None, say=lambda m: None)(True))
    return {"M": mux, "n_adc": cfg.hw.n_adc, "luts": r.luts, "carries": r.carries, "flip_flops": r.flip_flops,
            "block_rams": r.block_rams, "fmax_mhz": r.fmax_mhz, "netlist_checked": r.netlist_checked,
            "mapper": [w for w in r.warnings if not w.startswith("Warning:")],
            "seconds": round(time.perf_counter() - start)}


def table(rows: list[dict], title: str) -> str:
    base = {r["M"]: r for r in rows if r["placement"] == "fixed"}
    lines = [f"### {title}", "",
             "| M | ADCs | placement | cycles / vector | vs fixed | bank busy (batch cycles) | ADC bound | "
             "ADC busy (SAR cycles) | ADC utilization | ADC pJ / vector | ADC bank mm2 |",
             "|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        save = 1 - r["cycles"] / base[r["M"]]["cycles"]
        lines.append(f"| {r['M'] or 'full'} | {r['n_adc']} | {r['placement']} | {r['cycles']} | "
                     f"{'-' if r['placement'] == 'fixed' else f'{-100 * save:+.1f}%'} | {r.get('batch_cycles', '-')} | "
                     f"{r['adc_bound']} | {r['sar_cycles']} | {100 * r['utilization']:.1f}% | {r['energy_pj']:.1f} | "
                     f"{r['adc_bank_um2'] / 1e6:.4f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--minilm", action="store_true", help="also MiniLM (all layers, sparsity 0.8; needs the extra)")
    ap.add_argument("--json", default=None, help="write the rows as JSON here")
    ap.add_argument("--synth", action="store_true",
                    help="also the generic controller's area and Fmax on ECP5 per M (minutes each; yowasp tools)")
    args = ap.parse_args(argv)
    out = {"flow": [measure(*FLOW, m, p) for m, p in CONFIGS]}
    print(table(out["flow"], f"`sws flow` default layer ({FLOW[0]}, sparsity {FLOW[1]}, R = 128)"))
    if args.minilm:
        out["minilm"] = [measure("minilm", 0.8, m, p, exact=False) for m, p in CONFIGS]
        print(table(out["minilm"], "MiniLM, all 36 layers one after another, sparsity 0.8, R = 128"))
    if args.synth:
        out["synth"] = []
        print("| M | ADCs | LUT4 | CCU2C | flip-flops | DP16KD | Fmax MHz | netlist checked | notes |\n"
              "|---:|---:|---:|---:|---:|---:|---:|---|---|", flush=True)
        for mux in (0, 1, 4, 8):
            r = synth_point(mux)
            out["synth"].append(r)
            print(f"| {mux or 'full'} | {r['n_adc']} | {r['luts']} | {r['carries']} | {r['flip_flops']} | "
                  f"{r['block_rams']} | {r['fmax_mhz']:.1f} | {'yes' if r['netlist_checked'] else 'no'} | "
                  f"{'; '.join(r['mapper'])} |", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
