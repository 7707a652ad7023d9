"""Long measurement for docs/results/analog.md (run by hand: OPENBLAS_NUM_THREADS=1 python benchmarks/analog_captured.py).

Layer error on captured MiniLM inputs (magnitude-pruned 30%), PCM at noise scales, SWS vs natural vs dense,
plus the 'rows 64' and leak remedies: which layers does SWS lose on, and why."""
import os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np
from mapper import ArrayConfig, map_layer, QuantLayer
from mapper.analog import PRESETS, AnalogRun, analog_error
from sws.experiments.minilm_inputs import capture_layers
layers = {l.layer: l for l in capture_layers(0.3)}
for name in sys.argv[1:] or ("L0.attn.query",):
    l = layers[name]
    x = l.x[:96]
    for scale in (0.3, 1.0):
        dev = PRESETS["pcm"].scaled(scale)
        for plan, f in (("sws", {}), ("natural", dict(ordering="natural")), ("dense", dict(ordering="natural", policy="dense")),
                        ("sws rows64", dict(rows=64))):
            lm = map_layer(QuantLayer(name, l.w), ArrayConfig(**f))
            for rem, kw in (("", {}), ("leak", dict(leak_correction=True))):
                e = analog_error(lm, AnalogRun(dev, 3600.0, **kw), x=x, seeds=2)
                print(f"| {name} | {scale:g} | {plan} | {rem or 'none'} | {e['rms_error_relative']:.4f} +- {e['rms_error_relative_std']:.4f} | {lm.cost().energy_pj/1000:.1f} |", flush=True)
