"""The planned ADC energy per MiniLM token (36 layers, ISAAC law) of each plan, plain and with the 1 x remedy
(sign-magnitude drive, input-aware hardware, two more ADC bits on every converted column, leak correction: as
`sws fidelity --analog pcm --input-encoding signmag --input-aware --fine-bits 7 --fine-extra 2 --leak-correction`
prices it, weight-only), at 0%, 30% and 50% SparseGPT sparsity; no analog run (docs/results/analog.md, "The
side-by-side study").

    OPENBLAS_NUM_THREADS=1 python benchmarks/analog_remedy_energy.py
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import numpy as np

from mapper import ArrayConfig, QuantLayer, map_layer
from mapper.analog import fine_energy_pj
from sws.experiments.analog import plan_config
from sws.experiments.fidelity import model_energy
from sws.experiments.pruning import CALIBRATION_PATH, initializers, layer_weights, prune_model
from sws.experiments.runtime import load_token_sequences, minilm_model, token_feeds


def main():
    model, linears = minilm_model()
    calib = token_feeds(load_token_sequences(CALIBRATION_PATH))
    remedy = ArrayConfig(input_encoding="signmag", input_aware=True)
    print("| sparsity | plan | plain nJ/token | with the 1 x remedy nJ/token (of it the 2 more bits) |")
    print("|---:|---|---:|---:|", flush=True)
    for s in (0.0, 0.3, 0.5):
        pm = model if s == 0 else prune_model(model, linears, s, "sparsegpt", calibration=calib)
        inits = initializers(pm)
        for plan in ("dense", "natural", "sws"):
            plain = model_energy(pm, linears, plan_config(ArrayConfig(), plan))["energy_pj"]
            cfg = plan_config(remedy, plan)
            fine = sum(fine_energy_pj(map_layer(QuantLayer(l.name, layer_weights(inits, l)[0].astype(np.int64)), cfg),
                                      7, 2) for l in linears)
            rem = model_energy(pm, linears, cfg)["energy_pj"] + fine
            print(f"| {s:g} | {plan} | {plain / 1000:.0f} | {rem / 1000:.0f} ({fine / 1000:.0f}) |", flush=True)


if __name__ == "__main__":
    main()
