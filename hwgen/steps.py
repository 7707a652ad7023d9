"""The drive steps of a section, in issue order (`TileParams.step_order`): which steps the controller issues
and, on input-aware hardware, the resolution bound of each (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Cat, Module, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .params import TileParams

__all__ = ["StepWalker", "step_tables", "step_drive", "step_drive_neg"]


def step_drive(params: TileParams, planes, i: int):
    """The drive of issue step i from the planes of inputs as the input buffer holds them (two's
    complement; sign-magnitude and bipolar: magnitude bits 0..A-2 and sign A-1): `planes[j]` is plane j,
    one input's bit or the R rows' bits. Bipolar: every row whose magnitude bit is set, of either sign
    (`step_drive_neg` says which of them are driven -1)."""
    hw = params.hw
    p, a = params.step_order[i], hw.input_bits
    if hw.input_encoding != "signmag":
        return planes[p]
    return planes[p % (a - 1)] & (planes[a - 1] if p >= a - 1 else ~planes[a - 1])


def step_drive_neg(params: TileParams, planes, i: int):
    """Bipolar drive: the rows of issue step i's drive that are driven -1 (magnitude bit and sign set)."""
    return planes[params.step_order[i]] & planes[params.hw.input_bits - 1]


def step_tables(params: TileParams) -> tuple[list[int], list[bool]]:
    """Per issue index i: the exponent of the step's weight (its magnitude is 2**shift) and whether the
    step weighs negative (two's complement sign step, sign-magnitude negative pass)."""
    hw = params.hw
    weights = hw.plane_weights()
    order = params.step_order
    shift = [abs(weights[p]).bit_length() - 1 for p in order]
    negate = [weights[p] < 0 for p in order]
    return shift, negate


class StepWalker(wiring.Component):
    """Walks a section's drive steps in issue order, skipping the steps no row drives.

    `load` (the section's copy into `current`) takes the section's per-step counts q (rows driven, by
    issue index): on input-aware hardware the live steps are those with q > 0, each with the resolution
    bound bitlen(q); on weight-only hardware every step is live and the bound is the full resolution.
    With the bipolar drive `counts` is the OR of the rows driven +1 and those driven -1, q+ | q-, whose
    bitlen is bitlen(max(q+, q-)) (the column sum lies in -min(m, q-)..min(m, q+)), and every bound is
    one bit more, the conversion's sign bit (`TileParams.conv_bits`).
    `advance` (the current step's last batch issues) moves to the next live step. All outputs are
    registered: the next step is found (lowest set bit of the steps left) in the cycle of `load` or
    `advance`, so the issue path sees flip-flops only.

    Latency: `step`, `last` and `bound` are valid the cycle after `load` and after each `advance`.

    Parameters
    ----------
    params : TileParams
        The hardware: its steps (`step_order`), rows and full resolution.

    Attributes
    ----------
    load : In(1)
        Take `counts` as a new section's.
    counts : In(ArrayLayout(range(R + 1), steps))
        Rows driven in each step, by issue index (input-aware hardware only; ignored otherwise).
    live : Out(1)
        Combinational, from `counts`: the section drives some step (always 1 on weight-only hardware).
    advance : In(1)
        Move to the next live step.
    step : Out(range(steps))
        The current step's issue index.
    last : Out(1)
        The current step is the section's last live step.
    bound : Out(range(conv_bits + 1))
        bitlen(q) of the current step (the full resolution on weight-only hardware), plus the bipolar
        drive's sign bit.
    """

    def __init__(self, params: TileParams):
        self.params = params
        hw = params.hw
        s = hw.steps
        super().__init__({
            "load": In(1),
            "counts": In(data.ArrayLayout(range(hw.rows + 1), s)),
            "live": Out(1),
            "advance": In(1),
            "step": Out(range(max(2, s))),
            "last": Out(1),
            "bound": Out(range(params.conv_bits + 1)),
        })

    def elaborate(self, platform):
        m = Module()
        hw = self.params.hw
        s, full, extra = hw.steps, self.params.conv_bits, hw.sign_bits
        aware = hw.input_aware
        live = Signal(s)
        bits = [Signal(range(full + 1), name=f"bitlen{i}") for i in range(s)]
        for i in range(s):
            if aware:
                m.d.comb += live[i].eq(self.counts[i] != 0)
                q = self.counts[i]
                for b in range(len(q)):         # bitlen(q): the highest set bit wins (the last statement)
                    with m.If(q[b]):
                        m.d.comb += bits[i].eq(b + 1 + extra)
            else:
                m.d.comb += [live[i].eq(1), bits[i].eq(full)]
        m.d.comb += self.live.eq(live.any())

        left = Signal(s)                      # live steps after the current one
        bound_of = [Signal(range(full + 1), name=f"bound{i}") for i in range(s)]

        def goto(mask, table):
            """Registers for the lowest live step of `mask` (its bound from `table`), and the rest."""
            first = Signal(s, name="first")
            m.d.comb += first.eq(mask & -mask)
            rest = Signal(s, name="rest")
            m.d.comb += rest.eq(mask & ~first)
            m.d.sync += [left.eq(rest), self.last.eq(rest == 0)]
            for i in range(s):
                with m.If(first[i]):
                    m.d.sync += [self.step.eq(i), self.bound.eq(table[i])]

        with m.If(self.load):
            m.d.sync += [bound_of[i].eq(bits[i]) for i in range(s)]
            goto(live, bits)
        with m.Elif(self.advance):
            goto(left, bound_of)
        return m
