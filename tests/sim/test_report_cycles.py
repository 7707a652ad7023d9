"""The report's cycles and energy are the hardware's: `sws map`'s cycles per vector (the steady state) and
latency equal what the tile measures in simulation, with banks, stream beats and double buffering; and
its macro energy per vector equals the energy of the events the simulation's counters give (those the RTL
counts) and the golden model predicts (the others), for weight-only hardware whose events do not depend on
the inputs; with ADC groups (4 columns an ADC) too."""

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.cost import map_layers, price_events, report_dict
from mapper.prepare import prepare_layer
from mapper.schedule import Events
from mapper.sources import Layer
from sim.golden import HARDWARE_COUNTERS, predict

from .cases import inputs


@pytest.mark.parametrize("fields", [dict(banks=2, beat=2, double_buffer=True), dict(banks=3, beat=1),
                                    dict(beat=4, double_buffer=True), dict(),
                                    dict(adc_mux=4, n_adc=4, banks=2, beat=2, double_buffer=True)])
def test_the_reported_cycles_are_those_the_tile_takes(fields):
    from sim.amaranth_sim import run_tile
    from mapper.plan import build_layer_plan

    cfg = ArrayConfig(rows=8, cols=28, **{"n_adc": 3, **fields})
    rng = np.random.default_rng(4)
    layer = prepare_layer(Layer("w", rng.laplace(0, 1, (21, 5))), cfg, 0.5)
    result = map_layers([layer], cfg)[0]
    row = report_dict([result], cfg, source="t", sparsity=0.5)["layers"][0]
    x = inputs(cfg, 21, 3)
    lp = build_layer_plan(result.map)
    run = run_tile(lp, x)
    assert (run.outputs == x @ layer.weights).all()
    # The first vector's cycles are its latency; the later ones are the steady state.
    assert run.cycles_per_vector[0] == row["latency_cycles"]
    assert set(run.cycles_per_vector[1:]) == {row["cycles_per_vector"]}
    # The macro energy per vector: the events the counters give (the hardware's where it counts them, the
    # golden model's otherwise) priced once, per vector.
    counted = predict(lp, x).events.as_dict()
    counted.update({name: run.counters[c] for name, c in HARDWARE_COUNTERS.items()})
    ev = Events(len(x), **counted)
    energy = price_events(ev, cfg, lp.widths())
    assert {k: v / len(x) for k, v in energy.items()} == pytest.approx(row["macro_breakdown_pj"])
