"""Optimal sectioning against plain SWS and the lower bound: the 36 MiniLM layers, and Laplace layers of their shapes.

    python benchmarks/bench_optimal.py [--source minilm|laplace|both] [--sparsity 0,0.5,0.9] [--repeat 3]

Per sparsity: ADC energy per input vector of plain SWS (sorted order, full sections) and of optimal
cuts on each ordering (and refined cuts on the gray order at --refined sparsities), their ratios to
plain SWS and to the closed-form bound (mapper.cost.bound.lower_bound), the per-column split bound
(mapper.cost.bound.column_bound), sections and crossbars, and the median wall time of mapping all layers
(map_layer over the 36 quantized layers; loading and quantizing excluded; one run for refined) with
the machine's 1-minute load average after it (other jobs inflate timings).
R = 128, walden law, column policy, group 1, section cost 0 unless swept with --section-costs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from mapper.cost import column_bound, lower_bound
from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import map_layer
from mapper.prepare import prepare_layer
from mapper.sources import load_weights

SHAPES = [(384, 384)] * 4 + [(384, 1536), (1536, 384)]
ORDERINGS = ("sorted", "signed", "gray")


def source_layers(source: str) -> list:
    if source == "laplace":
        return [layer for i in range(36)
                for layer in load_weights(f"synthetic:laplace:{SHAPES[i % 6][0]}x{SHAPES[i % 6][1]}:{i}")]
    return load_weights(source)


def timed_costs(layers, cfg, repeat):
    """Costs of every layer, and the median seconds of mapping them all (with the 1-minute load average)."""
    times, costs = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        costs = [map_layer(layer, cfg).cost() for layer in layers]
        times.append(time.perf_counter() - start)
    return costs, statistics.median(times), os.getloadavg()[0]


def total(costs):
    return sum(costs[1:], costs[0])


def bench(source: str, sparsity: float, repeat: int, section_costs: list[float], refined: bool) -> dict:
    cfg = ArrayConfig()
    layers = [prepare_layer(layer, cfg, sparsity) for layer in source_layers(source)]
    bound = sum(lower_bound(q.weights, cfg) for q in layers)
    split = sum(column_bound(q.weights, cfg) for q in layers)
    plain, plain_s, load = timed_costs(layers, cfg, repeat)
    plain = total(plain)
    out = {"source": source, "sparsity": sparsity, "layers": len(layers), "bound_pj": bound, "split_bound_pj": split,
           "plain": {"energy_pj": plain.energy_pj, "sections": plain.sections, "crossbars": plain.crossbars,
                     "seconds": plain_s, "load": load}, "optimal": {}, "section_cost": {}}
    plans = [("optimal", o) for o in ORDERINGS] + ([("refined", "gray")] if refined else [])
    for sectioning, ordering in plans:
        costs, seconds, load = timed_costs(layers, cfg.replace(sectioning=sectioning, ordering=ordering),
                                           1 if sectioning == "refined" else repeat)
        c = total(costs)
        name = ordering if sectioning == "optimal" else f"{ordering}, refined"
        out["optimal"][name] = {"energy_pj": c.energy_pj, "sections": c.sections, "crossbars": c.crossbars,
                                "seconds": seconds, "load": load}
    for pj in section_costs:
        c = total([map_layer(q, cfg.replace(sectioning="optimal", ordering="gray", section_cost_pj=pj)).cost()
                   for q in layers])
        out["section_cost"][pj] = {"energy_pj": c.energy_pj, "sections": c.sections, "crossbars": c.crossbars}
    return out


def table(results: list[dict]) -> str:
    lines = ["| source | sparsity | plan | energy pJ | x plain SWS | x bound | sections | crossbars | map s | load |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        p, b = r["plain"], r["bound_pj"]
        head = f"| {r['source']} | {r['sparsity']}"
        lines.append(f"{head} | plain SWS | {p['energy_pj']:.0f} | 1.000 | {p['energy_pj'] / b:.3f} | "
                     f"{p['sections']} | {p['crossbars']} | {p['seconds']:.1f} | {p['load']:.1f} |")
        for name, o in r["optimal"].items():
            lines.append(f"{head} | optimal, {name} | {o['energy_pj']:.0f} | {o['energy_pj'] / p['energy_pj']:.3f} | "
                         f"{o['energy_pj'] / b:.3f} | {o['sections']} | {o['crossbars']} | {o['seconds']:.1f} | "
                         f"{o['load']:.1f} |")
        lines.append(f"{head} | per-column split bound | {r['split_bound_pj']:.0f} | "
                     f"{r['split_bound_pj'] / p['energy_pj']:.3f} | {r['split_bound_pj'] / b:.3f} | | | | |")
        lines.append(f"{head} | lower bound | {b:.0f} | {b / p['energy_pj']:.3f} | 1.000 | | | | |")
    return "\n".join(lines)


def cost_table(results: list[dict]) -> str:
    lines = ["| source | sparsity | section cost pJ | energy pJ | x plain SWS | x bound | sections | crossbars |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        p, b = r["plain"], r["bound_pj"]
        for pj, c in r["section_cost"].items():
            lines.append(f"| {r['source']} | {r['sparsity']} | {pj:g} | {c['energy_pj']:.0f} | "
                         f"{c['energy_pj'] / p['energy_pj']:.3f} | {c['energy_pj'] / b:.3f} | {c['sections']} | "
                         f"{c['crossbars']} |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", choices=("minilm", "laplace", "both"), default="both")
    ap.add_argument("--sparsity", default="0,0.5,0.9")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per plan; the median is printed")
    ap.add_argument("--section-costs", default="0,0.05,0.2,1", help="section costs (pJ) swept for the gray order")
    ap.add_argument("--refined", default="0.9", help="sparsities at which to run sectioning refined (slow)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    sources = ["minilm", "laplace"] if args.source == "both" else [args.source]
    costs = [float(x) for x in args.section_costs.split(",") if x]
    refined = {float(x) for x in args.refined.split(",") if x}
    results = []
    for source in sources:
        for s in (float(x) for x in args.sparsity.split(",")):
            try:
                results.append(bench(source, s, args.repeat, costs, s in refined))
            except SwsError as e:
                print(f"{source}: skipped ({e})")
                break
            print(table(results[-1:]), flush=True)
    print("\n## All\n")
    print(table(results))
    print("\n## Section cost (gray order)\n")
    print(cost_table(results))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
