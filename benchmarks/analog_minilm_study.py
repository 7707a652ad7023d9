"""Long measurement for docs/results/analog.md: MiniLM at 30% SparseGPT sparsity through the PCM preset (read at
one hour, global drift compensation), SWS against dense, at noise scales 0.1, 0.3 and 1, the remedies at 0.3, and
the remedy at 1 (sign-magnitude drive, input-aware conversions, two more ADC bits, leak correction, two cells a bit).

    OPENBLAS_NUM_THREADS=1 python benchmarks/analog_minilm_study.py [--out build/study]

Runs the six `sws fidelity --analog` commands below (about 130 min on a loaded 2-core machine; a result
already in --out is reused), then prints the table of docs/results/analog.md and writes
docs/results/analog.json and docs/results/analog_noise.png.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

BASE = ["--analog", "pcm", "--sparsities", "0.3", "--prune", "sparsegpt", "--seeds", "2", "--no-retrieval"]
RUNS = {
    "s30_plain": ["--plans", "sws,dense"],
    "s30_scales": ["--plans", "sws,dense", "--noise-scales", "0.1,0.3"],
    "s30_rows64": ["--plans", "sws", "--rows", "64", "--noise-scales", "0.3"],
    "s30_fine7": ["--plans", "sws,dense", "--noise-scales", "0.3", "--fine-bits", "7", "--leak-correction"],
    "s30_1x_signmag_aware_fine7x2_k2": ["--plans", "sws,dense", "--input-encoding", "signmag", "--input-aware",
                                        "--fine-bits", "7", "--fine-extra", "2", "--leak-correction", "--redundancy", "2"],
    "s30_1x_signmag_aware_fine7x2_k1": ["--plans", "sws", "--input-encoding", "signmag", "--input-aware",
                                        "--fine-bits", "7", "--fine-extra", "2", "--leak-correction"],
}


def table(results: list[dict]) -> str:
    from sws.experiments.analog import remedy_label
    lines = ["| noise scale | plan | remedy | ADC energy nJ/token (of it the remedy's) | ideal crossbars | analog cosine "
             "(2 chips) | per chip |", "|---:|---|---|---:|---:|---:|---|"]
    rows = [(r["noise_scale"], remedy_label(res), r["plan"], r) for res in results for r in res["rows"]]
    for scale, rem, plan, r in sorted(rows, key=lambda t: t[:3]):
        e = f"{r['energy_pj'] / 1000:.0f}" + (f" ({r['remedy_energy_pj'] / 1000:.0f})" if r.get("remedy_energy_pj") else "")
        lines.append(f"| {scale:g} | {plan} | {rem} | {e} | {r['cosine_digital']:.4f} | {r['cosine']['mean']:.4f} +- "
                     f"{r['cosine']['std']:.4f} | {', '.join(f'{c:.4f}' for c in r['cosine']['per_seed'])} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=os.path.join(ROOT, "build", "study"))
    args = p.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    env = dict(os.environ, PYTHONPATH=ROOT)
    results = []
    for name, extra in RUNS.items():
        path = os.path.join(args.out, f"{name}.json")
        if not (os.path.exists(path) and os.path.getsize(path)):
            cmd = [sys.executable, "-m", "sws", "fidelity", *BASE, *extra, "-o", os.path.join(args.out, name), "--json"]
            print(" ".join(cmd[2:]), file=sys.stderr, flush=True)
            with open(path, "w") as f:
                subprocess.run(cmd, env=env, stdout=f, check=True, cwd=ROOT)
        with open(path) as f:
            results.append(json.load(f))
    print(table(results))
    from sws.experiments.analog import plot_studies
    with open(os.path.join(ROOT, "docs", "results", "analog.json"), "w") as f:
        json.dump({"commands": {k: ["sws", "fidelity", *BASE, *v] for k, v in RUNS.items()}, "results": results}, f,
                  indent=1)
    plot_studies(results, os.path.join(ROOT, "docs", "results", "analog_noise.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
