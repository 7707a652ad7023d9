"""The controller's event counters (docs/design.md section 6, "Counters"): each component reports what it
did in a cycle as increments (`hwgen.interface.event_layout`), and `EventCounters` adds them up in
48-bit running totals with a snapshot and a clear."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .interface import COUNTER_WIDTH, EVENTS, CounterSignature, event_layout
from .params import TileParams
from .shift_add import tree_sum

__all__ = ["ConversionTally", "EventCounters", "pipelined_sum", "TALLY_STAGES"]

#: The conversion tally's pipeline, each stage fitting a 150 MHz cycle: the issued batch's lanes one-hot by
#: resolution, sums of four lanes, the batch's sum (the increment, a register).
TALLY_STAGES = ("onehot", "quads", "batch")


def pipelined_sum(m, name: str, values, group: int = 4):
    """The sum of `values`, a registered level per `group`-to-one reduction (loaded every cycle, so that
    the sum of the values of cycle T is there in T + levels). Returns (the sum, its latency in cycles)."""
    level, depth = list(values), 0
    while len(level) > 1 or depth == 0:
        regs = []
        for k in range(0, len(level), group):
            part = level[k:k + group]
            reg = Signal(range(sum(1 << len(v) for v in part) + 1), name=f"{name}{depth}_{k // group}")
            m.d.sync += reg.eq(tree_sum(part))
            regs.append(reg)
        level, depth = regs, depth + 1
    return level[0], depth


class ConversionTally(wiring.Component):
    """Conversions at each resolution of an issued batch (`issued`, with its lanes' valid bits and
    resolutions, registers), as increments `len(TALLY_STAGES)` cycles behind the issue.

    Attributes
    ----------
    issued, valid, res : In
        A batch issued in the cycle before, its lanes and their resolutions (registers).
    conversions : Out(ArrayLayout(range(n_adc + 1), full_resolution + 1))
        The batch's conversions at each resolution (index 0 stays 0), for one cycle; zero otherwise
        (`full_resolution`: the widest conversion, `TileParams.conv_bits`, the bipolar drive's sign bit
        included).
    busy : Out(1)
        A batch in the pipeline.
    """

    def __init__(self, n_adc: int, full_resolution: int, res_width: int):
        self.n_adc, self.full_resolution = n_adc, full_resolution
        super().__init__({"issued": In(1), "valid": In(n_adc), "res": In(data.ArrayLayout(res_width, n_adc)),
                          "conversions": Out(data.ArrayLayout(range(n_adc + 1), full_resolution + 1)),
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
            m.d.sync += [hot.eq(Mux(stage["onehot"], Cat(self.valid[i] & (self.res[i] == res) for i in range(NA)), 0)),
                         *[quads[q].eq(tree_sum(hot[i] for i in range(4 * q, min(NA, 4 * q + 4))))
                           for q in range(len(quads))],
                         self.conversions[res].eq(tree_sum(quads))]
        m.d.comb += self.busy.eq(Cat(stage.values()).any())
        return m


class EventCounters(wiring.Component):
    """The running totals of the counter port (`CounterSignature`): each bank's increments (`inc[b]`,
    `event_layout`) added up into a register, then into the 48-bit totals, so the totals are two cycles
    behind the events; `cycle` counts the busy cycles (one cycle behind). `snapshot` copies every total into the outputs at
    once; `clear` zeroes the totals (a snapshot in the same cycle takes them before the clear).

    Attributes
    ----------
    inc : In(event_layout).array(B)
        Each bank's (and the controller's) events of the cycle.
    cycle : In(1)
        A busy cycle.
    counters : Out(CounterSignature)
        The snapshot, and the snapshot and clear requests.
    """

    def __init__(self, params: TileParams, sources: int):
        self.params, self.sources = params, sources
        super().__init__({"inc": In(event_layout(params)).array(sources), "cycle": In(1),
                          "counters": Out(CounterSignature(params))})

    def elaborate(self, platform):
        m = Module()
        FR = self.params.conv_bits
        c = self.counters
        names = [(f"conversions{r}", [i.conversions[r] for i in self.inc], c.conversions[r]) for r in range(1, FR + 1)]
        names += [(n, [getattr(i, n) for i in self.inc], getattr(c, n)) for n in EVENTS]
        names.append(("cycles", None, c.cycles))
        for name, parts, out in names:
            total = Signal(unsigned(COUNTER_WIDTH), name=f"total_{name}")
            if parts is None:
                # The busy cycles, counted at once (the cycle counter lags one cycle): the busy bit goes
                # into a register first (`inc_cycles`, zeroed by a clear) and the running total is
                # `total + inc_cycles`, which the snapshot takes; so the 48-bit add starts at
                # flip-flops, not behind the vector phases' busy logic, with the same counts.
                inc = Signal(name="inc_cycles")
                m.d.sync += inc.eq(self.cycle & ~c.clear)
                with m.If(c.snapshot):
                    m.d.sync += out.eq(total + inc)
            else:
                inc = Signal(range(sum(1 << len(v) for v in parts) + 1), name=f"inc_{name}")
                m.d.sync += inc.eq(tree_sum(parts))
                with m.If(c.snapshot):
                    m.d.sync += out.eq(total)
            m.d.sync += total.eq(total + inc)
            with m.If(c.clear):
                m.d.sync += total.eq(0)
        return m
