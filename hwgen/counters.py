"""Event counters of the controller (docs/design.md section 6, "Counters")."""

from __future__ import annotations

from amaranth import Cat, Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .interface import COUNTER_WIDTH
from .shift_add import tree_sum

__all__ = ["ConversionTally"]

#: The conversion count's pipeline, each stage fitting a 150 MHz cycle: the issued batch's lanes one-hot by
#: resolution, sums of four lanes, the batch's sum, the counter's add.
TALLY_STAGES = ("onehot", "quads", "batch", "add")


class ConversionTally(wiring.Component):
    """Conversions at each resolution, from the registered batch (`issued`, with its lanes' valid bits and
    resolutions), `len(TALLY_STAGES)` cycles behind the issue.

    Attributes
    ----------
    issued, valid, res : In
        A batch issued in the cycle before, its lanes and their resolutions (registers).
    conversions : Out(ArrayLayout(COUNTER_WIDTH, full_resolution + 1))
        Conversions at each resolution since reset (index 0 stays 0).
    busy : Out(1)
        A batch in the pipeline.
    """

    def __init__(self, n_adc: int, full_resolution: int, res_width: int):
        self.n_adc, self.full_resolution = n_adc, full_resolution
        super().__init__({"issued": In(1), "valid": In(n_adc), "res": In(data.ArrayLayout(res_width, n_adc)),
                          "conversions": Out(data.ArrayLayout(unsigned(COUNTER_WIDTH), full_resolution + 1)),
                          "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        NA, FR = self.n_adc, self.full_resolution
        stage = {name: Signal(name=f"tally_{name}") for name in TALLY_STAGES}
        m.d.comb += stage["onehot"].eq(self.issued)
        m.d.sync += [stage[b].eq(stage[a]) for a, b in zip(TALLY_STAGES, TALLY_STAGES[1:])]
        for res in range(1, FR + 1):
            hot = Signal(NA, name=f"hot{res}")
            quads = [Signal(range(5), name=f"quad{res}_{q}") for q in range(-(-NA // 4))]
            batch = Signal(range(NA + 1), name=f"batch_conversions{res}")
            with m.If(stage["onehot"]):
                m.d.sync += hot.eq(Cat(self.valid[i] & (self.res[i] == res) for i in range(NA)))
            with m.If(stage["quads"]):
                m.d.sync += [quads[q].eq(tree_sum(hot[i] for i in range(4 * q, min(NA, 4 * q + 4))))
                             for q in range(len(quads))]
            with m.If(stage["batch"]):
                m.d.sync += batch.eq(tree_sum(quads))
            with m.If(stage["add"]):
                m.d.sync += self.conversions[res].eq(self.conversions[res] + batch)
        m.d.comb += self.busy.eq(Cat(stage.values()).any())
        return m
