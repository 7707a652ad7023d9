"""How much longer the objective takes with the bipolar drive in its default space (docs/design.md section 4,
"The objective"): one 384 x 384 Laplace layer at 30% sparsity on the default 128 x 128 array, 64 input vectors
(Laplace, scale 6, clipped to 8 bits), `map_layers` over the default space (five drives) and over the two older
drives only (`search="input_encoding=twos,signmag"`), each timed twice, alternating.

    python benchmarks/bench_objective_space.py
"""

from __future__ import annotations

import time

import numpy as np

from mapper.config import ArrayConfig
from mapper.cost import map_layers
from mapper.prepare import prepare_layer
from mapper.sources import Layer


def main() -> int:
    cfg = ArrayConfig()
    rng = np.random.default_rng(0)
    layer = prepare_layer(Layer("w", rng.laplace(0, 1, (384, 384))), cfg, 0.3)
    x = np.clip(np.rint(rng.laplace(0, 6, (64, 384))), -127, 127).astype(np.int64)
    for search in (None, "input_encoding=twos,signmag") * 2:
        start = time.perf_counter()
        [r] = map_layers([layer], cfg, objective="macro", inputs={"w": x}, search=search)
        hw = r.map.cfg.hw
        print(f"{search or 'default space'}: {time.perf_counter() - start:.1f} s, {len(r.ranking)} candidates, "
              f"chose {hw.input_encoding}{' input-aware' if hw.input_aware else ''}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
