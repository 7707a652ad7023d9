"""Shift-add of a batch of ADC codes into a section's per-output sums (the accumulator datapath)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from mapper.config import HardwareConfig

__all__ = ["ShiftAdd", "tree_sum"]


def tree_sum(terms):
    """Balanced adder tree (a long chain slows simulation and synthesis alike)."""
    terms = list(terms)
    if not terms:
        return 0
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


class ShiftAdd(wiring.Component):
    """Two stages. On `capture` it registers a finished batch: per lane the code, its column's sign, bit
    weight and local output j, and the batch's plane t. The next cycle it adds
    sum over lanes of (-1)**sign * code * 2**bit, times the plane weight (2**t, or -2**(A-1) for the sign
    plane), into the local sum of each of the G outputs. On the section's last batch (`last`) it hands
    the G sums to `flush` (valid for one cycle, with the section's output `group`) and clears them.

    Its own submodule so that simulation evaluates the adders once per batch, not every cycle.
    Latency: `flush` follows the `capture` of a section's last batch by 2 cycles; one batch a cycle.

    Parameters
    ----------
    cfg : HardwareConfig
        n_adc lanes, G outputs, A planes, Bm bits.
    code_width, acc_width, group_width : int
        Bits of an ADC code, of an output sum, and of an output group index.

    Attributes
    ----------
    capture, last, t, group, lane_valid, code, sign, bit, j : In
        The finished batch, as described above.
    busy : Out(1)
        A captured batch is being added.
    flush_valid, flush_group, flush : Out
        A section's G sums, for one cycle.
    """

    def __init__(self, cfg: HardwareConfig, *, code_width: int, acc_width: int, group_width: int):
        self.cfg = cfg
        n, g = cfg.n_adc, cfg.group
        self.acc_width = acc_width
        super().__init__({
            "capture": In(1),
            "last": In(1),
            "t": In(range(cfg.input_bits)),
            "group": In(group_width),
            "lane_valid": In(n),
            "code": In(data.ArrayLayout(unsigned(code_width), n)),
            "sign": In(n),
            "bit": In(data.ArrayLayout(range(max(2, cfg.weight_bits)), n)),
            "j": In(data.ArrayLayout(range(max(2, g)), n)),
            "busy": Out(1),
            "flush_valid": Out(1),
            "flush_group": Out(group_width),
            "flush": Out(data.ArrayLayout(signed(acc_width), g)),
        })

    def elaborate(self, platform):
        m = Module()
        cfg, W = self.cfg, self.acc_width
        n, g = cfg.n_adc, cfg.group
        a_valid = Signal()
        a = Signal.like(self.code)
        a_lanes, a_sign = Signal(n), Signal(n)
        a_bit, a_j = Signal.like(self.bit), Signal.like(self.j)
        a_t, a_last, a_group = Signal.like(self.t), Signal(), Signal.like(self.group)
        m.d.sync += a_valid.eq(self.capture)
        with m.If(self.capture):
            m.d.sync += [a.eq(self.code), a_lanes.eq(self.lane_valid), a_sign.eq(self.sign), a_bit.eq(self.bit),
                         a_j.eq(self.j), a_t.eq(self.t), a_last.eq(self.last), a_group.eq(self.group)]
        m.d.comb += self.busy.eq(a_valid)
        terms = []
        for i in range(n):
            shifted = Signal(signed(W), name=f"term{i}")
            with m.Switch(a_bit[i]):
                for bit in range(cfg.weight_bits):
                    with m.Case(bit):
                        m.d.comb += shifted.eq(Mux(a_sign[i], -(a[i] << bit), a[i] << bit))
            terms.append(Mux(a_lanes[i], shifted, 0))
        m.d.sync += self.flush_valid.eq(a_valid & a_last)
        with m.If(a_valid & a_last):
            m.d.sync += self.flush_group.eq(a_group)
        for j in range(g):
            local = Signal(signed(W), name=f"local{j}")
            s_j = Signal(signed(W), name=f"batch_sum{j}")
            m.d.comb += s_j.eq(tree_sum(terms if g == 1 else [Mux(a_j[i] == j, terms[i], 0) for i in range(n)]))
            scaled = Signal(signed(W), name=f"plane_sum{j}")
            with m.Switch(a_t):
                for tt, weight in enumerate(cfg.plane_weights()):
                    with m.Case(tt):
                        m.d.comb += scaled.eq(-(s_j << tt) if weight < 0 else s_j << tt)
            with m.If(a_valid):
                with m.If(a_last):
                    m.d.sync += [self.flush[j].eq(local + scaled), local.eq(0)]
                with m.Else():
                    m.d.sync += local.eq(local + scaled)
        return m
