"""Long measurement for docs/results/analog.md (run by hand):

    OPENBLAS_NUM_THREADS=1 python benchmarks/analog_redundancy.py [captured|laplace] [SPEC ...]

Layer output error under the PCM preset (read at 1 h, global drift compensation) for combinations of the mapping
remedies: section rows, K cells per weight bit (--redundancy), one more ADC bit on the top bits (--fine-bits),
leak correction; with the ADC energy and the whole ISAAC macro's energy and area per input vector of each.
`captured`: MiniLM's L0.attn.query, magnitude-pruned 30%, on 96 captured tokens, 2 chips (as
benchmarks/analog_captured.py); `laplace`: the 384 x 1536 Laplace layer of `sws map synthetic:laplace:384x1536`
on 16 random vectors, 3 chips. A SPEC is scale:plan:rows:k:fine:leak[:encoding[:aware]] (aware 1: input-aware hardware; fine K or KxM: M more ADC bits on the top K bits), e.g. 1:sws:32:4:7:1 (plan sws|natural|dense); the scale multiplies every noise
std of the preset, or as CELLS/ADC those of the cells and of the ADC apart (0.3/1: cells at 0.3 x, ADC at 1 x).
"""
import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np

from mapper import ArrayConfig, QuantLayer, map_layer
from mapper.analog import PRESETS, AnalogRun, analog_error
from mapper.analog import fine_energy_pj
from mapper.cost import bounded_cost, redundant_macro_cost, step_bounds

PLANS = {"sws": {}, "natural": dict(ordering="natural"), "dense": dict(ordering="natural", policy="dense"),
         "gray": dict(ordering="gray")}   # gray: the objective's order (with the drive bipolar:1, its choice on MiniLM)
DEFAULT = ["0.3:sws:128:1:0:0", "0.3:dense:128:1:0:0", "0.3:sws:64:1:0:0", "0.3:sws:128:1:7:1",
           "1:sws:128:1:7:1", "1:sws:32:1:7:1", "1:sws:16:1:7:1",
           "1:sws:128:4:7:1", "1:sws:32:4:7:1", "1:sws:128:16:7:1", "1:sws:32:16:7:1", "1:sws:16:8:7:1"]


def main(argv):
    which = argv[0] if argv else "captured"
    specs = argv[1:] or DEFAULT
    if which == "captured":
        from sws.experiments.minilm_inputs import capture_layers
        layer = {l.layer: l for l in capture_layers(0.3)}["L0.attn.query"]
        name, w, x, seeds = "L0.attn.query", layer.w, layer.x[:96], 2
    else:
        from mapper.sources import load_weights
        from mapper.prepare import prepare_layers
        q = prepare_layers(load_weights("synthetic:laplace:384x1536"), ArrayConfig())[0]
        name, w, x, seeds = "laplace 384x1536", q.weights, None, 3
    print("| layer | noise scale | plan | input drive | rows | cells per bit | fine bits | leak | output error | ADC nJ/vector "
          "(of it fine bits) | input-aware ADC nJ/vector on these inputs | macro nJ/vector | macro area mm^2 |")
    print("|---|---:|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|", flush=True)
    for spec in specs:
        scale, plan, rows, k, fine, leak, *rest = spec.split(":")
        enc = rest[0] if rest else "twos"
        fine, _, fx = fine.partition("x")
        fx = int(fx or 1)
        aware = len(rest) > 1 and rest[1] == "1"
        lm = map_layer(QuantLayer(name, np.asarray(w, np.int64)),
                       ArrayConfig(rows=int(rows), input_encoding=enc, input_aware=aware, **PLANS[plan]))
        cells, _, adc = scale.partition("/")
        dev = PRESETS["pcm"].scaled(float(cells))
        if adc:
            dev = dataclasses.replace(dev, name=f"pcm cells x{cells} adc x{adc}", adc=PRESETS["pcm"].scaled(float(adc)).adc)
        run = AnalogRun(dev, 3600.0, fine_bits=int(fine), leak_correction=leak == "1",
                        redundancy=int(k), fine_extra=fx)
        e = analog_error(lm, run, x=x, seeds=seeds)
        extra = fine_energy_pj(lm, int(fine), fx) if int(fine) else 0.0
        mc = redundant_macro_cost(lm, int(k))
        aware_nj = "-"
        if aware:
            # Input-aware: each step's conversions at their input-aware bits b (0: skipped) on these inputs; the
            # fine columns at b + M (priced by shifting the energy table: exact when the fine bits cover every
            # weight bit, as in every row measured here).
            from mapper.config import energy_table
            xa = x if x is not None else np.random.default_rng(0).integers(lm.cfg.hw.input_min, lm.cfg.hw.input_max + 1,
                                                                           (16, lm.layer.shape[0]))
            full = lm.cfg.hw.full_resolution
            tab = energy_table(lm.cfg, full + 1)   # b = 0 .. full + 1 (the last for the bipolar drive only)
            if int(fine) >= lm.cfg.hw.weight_bits:
                up = energy_table(lm.cfg, full + fx)
                tab = np.concatenate([[0.0], up[1 + fx:full + 1 + fx], [up[-1]]])
            aware_nj = f"{bounded_cost(lm, step_bounds(lm, xa, enc), tab)['energy_pj'] / 1000:.1f}"
        print(f"| {name} | {scale} | {plan} | {enc}{' input-aware' if aware else ''} | {rows} | {k} | {fine}{f' (+{fx} bits)' if fx > 1 else ''} | {'yes' if leak == '1' else 'no'} | "
              f"{e['rms_error_relative']:.4f} +- {e['rms_error_relative_std']:.4f} | "
              f"{(lm.cost().energy_pj + extra) / 1000:.1f} ({extra / 1000:.1f}) | {aware_nj} | {(mc.energy_pj + extra) / 1000:.1f} | "
              f"{mc.area_um2 / 1e6:.3f} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
