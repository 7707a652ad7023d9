"""Long measurement for docs/results/analog.md (run by hand: python benchmarks/analog_layer_table.py).

Layer-level output error of a 384 x 1536 Laplace layer under each preset and remedy, SWS and dense plans,
through `sws map --analog` (its report's analog block)."""
import json, os, subprocess, sys
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
env = dict(os.environ, OPENBLAS_NUM_THREADS="1", PYTHONPATH=ROOT)
for preset in ("pcm", "reram", "sram"):
    for plan in ([], ["--policy", "dense"]):
        for rem in ([], ["--leak-correction"], ["--fine-bits", "3", "--leak-correction"], ["--fine-bits", "7", "--leak-correction"]):
            cmd = [sys.executable, "-m", "sws", "map", "synthetic:laplace:384x1536", "--analog", preset, *plan, *rem,
                   "--json", "-o", os.path.join(ROOT, "build", "study", "map_tmp")]
            r = json.loads(subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT).stdout)
            l = r["layers"][0]
            a = l["analog"]["random"]
            print(f"| {preset} | {'dense' if plan else 'sws'} | {' '.join(rem) or 'none'} | {a['rms_error_relative']:.4f} +- "
                  f"{a['rms_error_relative_std']:.4f} | {l['energy_pj'] / 1000:.1f} | {l['analog']['remedy_energy_pj'] / 1000:.1f} |",
                  flush=True)
