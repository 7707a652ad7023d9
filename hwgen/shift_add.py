"""Shift-add of a batch of ADC codes into a section's per-output sums (the accumulator datapath)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from mapper.config import HardwareConfig
from mapper.schedule import pipeline_depth   # the cycle model's definition, re-exported here

__all__ = ["ShiftAdd", "pipeline_depth", "tree_sum"]


def tree_sum(terms):
    """Balanced adder tree (a long chain slows simulation and synthesis alike)."""
    terms = list(terms)
    if not terms:
        return 0
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
    return terms[0]


class ShiftAdd(wiring.Component):
    """The accumulator datapath, pipelined so that no stage chains more than one carry chain.

    Per captured batch (`capture`, the cycle its last ADC is done): the lane codes with their column's sign,
    bit weight and local output j. Stages: (1) register the batch, each code shifted by its bit weight;
    (2) each lane's signed term (-1)**sign * code * 2**bit, routed to its output j; (3..) a balanced adder tree over the lanes, one level
    a stage; then the plane's sign (negated on the sign plane of signed inputs); then Horner's rule over
    the planes, which arrive sign plane first: local = (first batch of the section ? 0 : first batch of a
    plane ? 2 * local : local) + term. On the section's last batch the G sums go to `flush` (valid one
    cycle, with the section's output `group`).

    With `step_shift` (drive steps issued in any order, some skipped: sign-magnitude, bipolar or input-aware
    hardware), each batch instead comes with its step's exponent `shift`, the lane terms are
    (-1)**sign * code * 2**(bit + shift), the step's sign is applied as before, and the sums simply add
    up: local = (first batch of the section ? 0 : local) + term. The pipeline depth is the same.

    Latency: `flush_valid` follows the `capture` of a section's last batch by `pipeline_depth(n_adc)`
    cycles; one batch a cycle.

    Parameters
    ----------
    cfg : HardwareConfig
        n_adc lanes, G outputs, A planes, Bm bits.
    code_width, acc_width, group_width : int
        Bits of an ADC code, of an output sum, and of an output group index.
    step_shift : bool
        Weigh each batch by 2**shift instead of Horner's rule over the planes.
    signed_codes : bool
        The codes are signed (two's complement, the bipolar drive's): sign-extended before the shift.

    Attributes
    ----------
    capture, first, new_plane, last, negate, shift, group, lane_valid, code, sign, bit, j : In
        The finished batch: `first` its section's first batch, `new_plane` the first batch of a plane,
        `last` the section's last batch, `negate` a batch of a negative step, `shift` its step's
        exponent (with `step_shift` only).
    busy : Out(1)
        A batch is in the pipeline.
    flush_valid, flush_group, flush : Out
        A section's G sums, for one cycle.
    """

    def __init__(self, cfg: HardwareConfig, *, code_width: int, acc_width: int, group_width: int,
                 step_shift: bool = False, signed_codes: bool = False):
        self.cfg = cfg
        n, g = cfg.n_adc, cfg.group
        self.acc_width = acc_width
        self.code_width = code_width
        self.step_shift = step_shift
        self.signed_codes = signed_codes
        super().__init__({
            **({"shift": In(range(max(2, cfg.input_bits)))} if step_shift else {}),
            "capture": In(1),
            "first": In(1),
            "new_plane": In(1),
            "last": In(1),
            "negate": In(1),
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
        # A term is at most (2**code_width - 1) * 2**(Bm - 1) in magnitude (times 2**(A - 1) with step
        # shifts); a batch sum n times that.
        top_shift = max(1, cfg.weight_bits) + (cfg.input_bits - 1 if self.step_shift else 0)
        term_w = self.code_width + top_shift + 1
        ctl = data.StructLayout({"first": 1, "new_plane": 1, "last": 1, "negate": 1,
                                 "group": len(self.group)})

        # Stage 1: the batch, each code shifted by its bit weight (the codes come from the ADCs' output
        # registers; the shift is a multiplexer, so that stage 2 holds only the sign's carry chain).
        # Only the valid flags (`v1`, `v`, ..., `flush_valid`) are reset: every other register of the
        # pipeline is data, loaded in every cycle (or, `local` and `flush`, at a valid stage) and read only
        # in a cycle its stage's valid flag is set, which after a reset or a halt only a batch captured
        # since has set; `local` is read only after a batch of its section has loaded it (the section's
        # first batch adds to 0). Reset-less, they keep off the error reset's net (`halt`: 8500 flip-flops
        # at R = 128, docs/results/controller.md, tenth round).
        v1 = Signal()
        ctl1 = Signal(ctl, reset_less=True)
        # Signed codes (the bipolar drive's): |code| <= 2**(code_width - 1) - 1, sign-extended, shifted.
        a = [Signal(signed(term_w) if self.signed_codes else unsigned(term_w - 1), name=f"shifted{i}",
                    reset_less=True) for i in range(n)]
        code = [self.code[i].as_signed() if self.signed_codes else self.code[i] for i in range(n)]
        a_lanes, a_sign = Signal(n, reset_less=True), Signal(n, reset_less=True)
        a_j = Signal.like(self.j, reset_less=True)
        # Loaded every cycle and used only when `v1`: `capture`, which waits for the ADCs' done, then
        # drives one flip-flop, not the clock enable of every stage-1 register.
        m.d.sync += v1.eq(self.capture)
        m.d.sync += [a_lanes.eq(self.lane_valid), a_sign.eq(self.sign),
                     a_j.eq(self.j), ctl1.first.eq(self.first), ctl1.new_plane.eq(self.new_plane),
                     ctl1.last.eq(self.last), ctl1.negate.eq(self.negate), ctl1.group.eq(self.group)]
        for i in range(n):
            # The lane's shift: its bit, plus the step's exponent with step_shift.
            shift = self.bit[i] + self.shift if self.step_shift else self.bit[i]
            with m.Switch(shift):
                for bit in range(top_shift):
                    with m.Case(bit):
                        m.d.sync += a[i].eq(code[i] << bit)

        # Stage 2: signed, weighted terms, one per lane and output.
        v, c = Signal(), Signal(ctl, reset_less=True)
        m.d.sync += [v.eq(v1), c.eq(ctl1)]
        valids = [v1, v]
        sums = []
        for jj in range(g):
            terms = []
            for i in range(n):
                term = Signal(signed(term_w), name=f"term{jj}_{i}", reset_less=True)
                take = a_lanes[i] if g == 1 else a_lanes[i] & (a_j[i] == jj)
                m.d.sync += term.eq(Mux(take, Mux(a_sign[i], -a[i], a[i]), 0))
                terms.append(term)
            sums.append(terms)

        # Stages 3..: the adder tree, one level a stage.
        while len(sums[0]) > 1:
            nv, nc = Signal(), Signal(ctl, reset_less=True)
            m.d.sync += [nv.eq(v), nc.eq(c)]
            v, c = nv, nc
            valids.append(v)
            nxt = []
            for jj, terms in enumerate(sums):
                level = []
                for k in range(0, len(terms), 2):
                    s = Signal(signed(term_w + (n - 1).bit_length()), name=f"tree{jj}_{len(valids)}_{k // 2}",
                               reset_less=True)
                    m.d.sync += s.eq(terms[k] + terms[k + 1] if k + 1 < len(terms) else terms[k])
                    level.append(s)
                nxt.append(level)
            sums = nxt

        # The plane's sign.
        pv, pc = Signal(), Signal(ctl, reset_less=True)
        m.d.sync += [pv.eq(v), pc.eq(c)]
        valids.append(pv)
        planed = []
        for jj in range(g):
            s = Signal(signed(term_w + (n - 1).bit_length() + 1), name=f"plane_sum{jj}", reset_less=True)
            m.d.sync += s.eq(Mux(c.negate, -sums[jj][0], sums[jj][0]))
            planed.append(s)

        # Horner's rule over the planes, and the flush.
        m.d.comb += self.busy.eq(Cat(*valids).any())
        m.d.sync += self.flush_valid.eq(pv & pc.last)
        with m.If(pv & pc.last):
            m.d.sync += self.flush_group.eq(pc.group)
        for jj in range(g):
            local = Signal(signed(W), name=f"local{jj}", reset_less=True)
            base = Mux(pc.first, 0, local if self.step_shift else Mux(pc.new_plane, local << 1, local))
            total = Signal(signed(W), name=f"horner{jj}")
            m.d.comb += total.eq(base + planed[jj])
            with m.If(pv):
                m.d.sync += local.eq(total)
                with m.If(pc.last):
                    m.d.sync += self.flush[jj].eq(total)
        return m
