"""Long measurement for docs/results/analog.md (run by hand: OPENBLAS_NUM_THREADS=1 python benchmarks/analog_adc_parts.py).

The ADC's share of the 1 x error budget: MiniLM's L0.attn.query (magnitude-pruned 30%, 96 captured tokens,
sign-magnitude drive), cells ideal, each of the PCM preset's ADC errors alone, without and with one more bit."""
import dataclasses, os, sys
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np
from mapper import ArrayConfig, QuantLayer, map_layer
from mapper.analog import PRESETS, AnalogRun, analog_error, AdcNoise
from sws.experiments.minilm_inputs import capture_layers
layer = {l.layer: l for l in capture_layers(0.3)}["L0.attn.query"]
lm = map_layer(QuantLayer("q", np.asarray(layer.w, np.int64)), ArrayConfig(input_encoding="signmag"))
a = PRESETS["pcm"].adc
print(a)
base = PRESETS["pcm"].scaled(0.0)
for name, adc in [("noise", AdcNoise(a.noise_lsb, 0, 0, 0)), ("offset", AdcNoise(0, a.offset_lsb, 0, 0)),
                  ("gain", AdcNoise(0, 0, a.gain_sigma, 0)), ("cap_mismatch", AdcNoise(0, 0, 0, a.cap_mismatch))]:
    for fine in (0, 7):
        dev = dataclasses.replace(base, adc=adc)
        e = analog_error(lm, AnalogRun(dev, 3600.0, fine_bits=fine, leak_correction=True), x=layer.x[:96], seeds=2)
        print(f"| {name} only | {fine} | {e['rms_error_relative']:.4f} +- {e['rms_error_relative_std']:.4f} |", flush=True)
