"""The accumulator: shift-adds each finished batch into its section's sums and adds every finished section
into the output accumulator memory (one word of G outputs per output group)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .interface import AccReadSignature, BatchSignature
from .params import TileParams
from .shift_add import ShiftAdd

__all__ = ["Accumulate"]


class Accumulate(wiring.Component):
    """ShiftAdd, then a read-modify-write of the section's output group in the accumulator memory.

    After reset (state CLEAR) the memory is zeroed, one word a cycle, n_groups cycles; then READY: a reset
    in the middle of a vector must not leak its partial sums into the next one. A section's sums
    (`ShiftAdd.flush`) are added to their group's word in 4 cycles: read (the block RAM's output registered
    before the add, whose carry chain would not fit behind its clock-to-output time), add, and the write,
    whose address, data and enable come from registers. With 3 drive steps or more, weight-only, flushes
    are at least 3 cycles apart (a section's batches take at least a cycle a step), so a flush's read sees
    the previous flush of the same group, written in that cycle at the latest, through the read port's
    transparency; otherwise (input-aware or sign-magnitude hardware, or fewer steps) the add takes the
    group's sum from the write in flight, or the one before, when it is the same group's.

    Parameters
    ----------
    params : TileParams
        Hardware and the number of output groups.

    Attributes
    ----------
    batch : In(BatchSignature)
        Finished batches, from the scheduler.
    read : In(AccReadSignature)
        The output streamer's reads and clears (not while `busy`).
    ready : Out(1)
        The memory is cleared (high from n_groups cycles after reset).
    busy : Out(1)
        A batch or a flush is in the pipeline, or a write pending.
    """

    def __init__(self, params: TileParams):
        self.params = params
        super().__init__({"batch": In(BatchSignature(params)), "read": In(AccReadSignature(params)),
                          "ready": Out(1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        G, W, NA = cfg.group, p.acc_width, cfg.n_adc
        m.submodules.acc = acc_mem = Memory(shape=unsigned(G * W), depth=p.n_groups, init=[])
        walk = p.walks_steps
        m.submodules.shift_add = sa = ShiftAdd(cfg, code_width=p.code_width, acc_width=W,
                                               group_width=len(self.batch.group), step_shift=walk)
        bt = self.batch
        m.d.comb += [sa.capture.eq(bt.capture), sa.first.eq(bt.first), sa.new_plane.eq(bt.new_plane),
                     sa.last.eq(bt.last), sa.negate.eq(bt.negate), sa.group.eq(bt.group),
                     sa.lane_valid.eq(bt.lane_valid), sa.code.eq(bt.code), sa.sign.eq(bt.sign)]
        if walk:
            m.d.comb += sa.shift.eq(bt.shift)
        for i in range(NA):
            m.d.comb += [sa.bit[i].eq(bt.bit[i]), sa.j[i].eq(bt.j[i])]

        acc_wp = acc_mem.write_port()
        acc_rp = acc_mem.read_port(transparent_for=(acc_wp,))
        m.d.comb += [acc_rp.en.eq(self.read.en), acc_rp.addr.eq(self.read.addr), self.read.data.eq(acc_rp.data)]
        with m.If(sa.flush_valid):
            m.d.comb += [acc_rp.addr.eq(sa.flush_group), acc_rp.en.eq(1)]
        f2_valid, f3_valid = Signal(), Signal()
        f2_group, f3_group = Signal.like(bt.group), Signal.like(bt.group)
        f2_val = [Signal(signed(W), name=f"flush2_{j}") for j in range(G)]
        f3_val = [Signal(signed(W), name=f"flush3_{j}") for j in range(G)]
        f3_old = Signal(G * W)
        m.d.sync += [f2_valid.eq(sa.flush_valid), f2_group.eq(sa.flush_group),
                     *[f2_val[j].eq(sa.flush[j]) for j in range(G)],
                     f3_valid.eq(f2_valid), f3_group.eq(f2_group), *[f3_val[j].eq(f2_val[j]) for j in range(G)]]
        with m.If(f2_valid):
            m.d.sync += f3_old.eq(acc_rp.data)

        wr_en = Signal()
        wr_addr = Signal.like(bt.group)
        wr_data = Signal(G * W)
        m.d.comb += [acc_wp.addr.eq(wr_addr), acc_wp.data.eq(wr_data), acc_wp.en.eq(wr_en)]
        m.d.sync += [wr_en.eq(0), wr_data.eq(0)]
        old = f3_old
        if walk or cfg.steps < 3:
            # Sections can end 1 or 2 cycles apart (one short step of one batch on input-aware hardware, or
            # fewer than 3 steps), before the previous flush of their group is written: its sum is then
            # taken from the write in flight or the write before.
            wr1_en, wr1_addr, wr1_data = Signal(), Signal.like(wr_addr), Signal.like(wr_data)
            m.d.sync += [wr1_en.eq(wr_en), wr1_addr.eq(wr_addr), wr1_data.eq(wr_data)]
            old = Mux(wr_en & (wr_addr == f3_group), wr_data,
                      Mux(wr1_en & (wr1_addr == f3_group), wr1_data, f3_old))
        with m.If(f3_valid):
            m.d.sync += [wr_en.eq(1), wr_addr.eq(f3_group),
                         wr_data.eq(Cat((old[j * W:(j + 1) * W].as_signed() + f3_val[j])[:W] for j in range(G)))]

        clear = Signal(range(max(2, p.n_groups)))
        with m.FSM(name="accumulate"):
            with m.State("CLEAR"):
                m.d.sync += [wr_addr.eq(clear), wr_en.eq(1), clear.eq(clear + 1)]
                with m.If(clear == p.n_groups - 1):
                    m.next = "READY"
            with m.State("READY"):
                m.d.comb += self.ready.eq(1)
                with m.If(self.read.clear):
                    m.d.sync += [wr_addr.eq(self.read.clear_addr), wr_en.eq(1)]
        m.d.comb += self.busy.eq(sa.busy | sa.flush_valid | f2_valid | f3_valid | wr_en)
        return m
