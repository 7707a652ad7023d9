"""A synthesizable stand-in for the analog macro: the crossbar cells and a bank of variable-resolution SAR ADCs."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from mapper.banks import bank_plans

from .interface import PROG_SELECT, ArraySignature, ProgSignature, connect_array
from .params import TileParams
from .shift_add import tree_sum

__all__ = ["ArrayEmulator", "BankedArray", "array_emulator"]


class ArrayEmulator(wiring.Component):
    """The array side of the array interface (`bus`, ArraySignature(array_side=True)).

    The cells are held as column words: address {section, slot column} -> R bits, one per row, read
    asynchronously (one read port per ADC). ADC i, started in cycle T with resolution b on column c,
    samples the column and the row drive, whose count popcount(column & drive) is the sum of the column's
    cell currents; it asserts done in cycle T + b with the code min(count, 2**b - 1), holds the code
    until its next start, and takes a new start in the done cycle.

    `extra_latency` (a test option, default 0) delays every done by that many more cycles, to T + b +
    extra: an ADC slower than the documented timing, which the controller must wait for. With 0 the
    netlist is the documented emulator, unchanged.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        With a plan the cells are initialized from it; without, they are written through `prog`
        (sel "cells", addr {section, slot column}, data the R-bit column word).
    extra_latency : int
        Test only: cycles added to every conversion (done at start + res + extra_latency).

    Attributes
    ----------
    bus : Out(ArraySignature(array_side=True))
        The array interface, from the array's side.
    prog : In(ProgSignature)
        Generic emulator only: cell writes.
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None, *, extra_latency: int = 0):
        if isinstance(extra_latency, bool) or not isinstance(extra_latency, int) or extra_latency < 0:
            raise ValueError(f"extra_latency must be a non-negative integer, not {extra_latency!r}")
        if plan is not None:
            params.fits(plan)
        self.params = params
        self.plan = plan
        self.extra_latency = extra_latency
        members = {"bus": Out(ArraySignature(params, array_side=True))}
        if plan is None:
            members["prog"] = In(ProgSignature(params))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        depth = max(1, p.section_depth) * p.slot_pad
        init = [] if self.plan is None else [0] * depth
        if self.plan is not None:
            for addr, word in p.cell_words(self.plan).items():
                init[addr] = word
        m.submodules.cells = cells = Memory(shape=unsigned(cfg.rows), depth=depth, init=init)
        if self.plan is None:
            wp = cells.write_port()
            m.d.comb += [wp.addr.eq(self.prog.addr), wp.data.eq(self.prog.data),
                         wp.en.eq(self.prog.we & (self.prog.sel == PROG_SELECT["cells"]))]
        col_bits = (p.slot_pad - 1).bit_length()
        for i, adc in enumerate(self.bus.adc):
            # An asynchronous read: the column is sampled with the start, like the row drive.
            rp = cells.read_port(domain="comb")
            m.d.comb += rp.addr.eq(Cat(adc.col[:col_bits], self.bus.section) if col_bits else self.bus.section)
            extra = self.extra_latency
            left = Signal(range(cfg.full_resolution + extra + 1) if extra else p.res_width, name=f"left{i}")
            busy = Signal(name=f"busy{i}")
            # Sample and convert at the start: the count is computed in the start branch only, once per
            # conversion, instead of being re-evaluated by simulation while the conversion runs.
            count = Signal(range(cfg.rows + 1), name=f"count{i}")
            top = Signal(p.code_width, name=f"top{i}")
            with m.If(adc.start):
                m.d.sync += [left.eq(adc.res + extra if extra else adc.res), busy.eq(1),
                             count.eq(tree_sum((rp.data & self.bus.drive)[r] for r in range(cfg.rows)))]
                with m.Switch(adc.res):
                    for bits in range(1, cfg.full_resolution + 1):
                        with m.Case(bits):
                            m.d.sync += top.eq(2 ** bits - 1)
            with m.Elif(busy):
                m.d.sync += left.eq(left - 1)
                with m.If(left == 1):
                    m.d.sync += busy.eq(0)
            m.d.comb += [adc.done.eq(busy & (left == 1)), adc.code.eq(Mux(count > top, top, count))]
        return m


class BankedArray(wiring.Component):
    """The array side of a B-bank controller's array interfaces (`bus[b]`): an `ArrayEmulator` per bank on
    the cells of that bank's sections (mapper.banks), each with its own section, drive and ADCs.

    Parameters
    ----------
    params : TileParams
        Hardware (B = banks > 1) and the layer's table depths.
    plan : LayerPlan
        The layer; bank b's emulator holds the cells of `mapper.banks.bank_plans(plan)[b]`.
    extra_latency : int
        Test only: as ArrayEmulator's.

    Attributes
    ----------
    bus : Out(ArraySignature(array_side=True)).array(B)
        Bank b's array interface, from the array's side.
    """

    def __init__(self, params: TileParams, plan: LayerPlan, *, extra_latency: int = 0):
        params.fits(plan)
        self.params, self.plan, self.extra_latency = params, plan, extra_latency
        super().__init__({"bus": Out(ArraySignature(params, array_side=True)).array(params.hw.banks)})

    def elaborate(self, platform):
        m = Module()
        for b, blp in enumerate(bank_plans(self.plan)):
            emu = m.submodules[f"bank{b}"] = ArrayEmulator(self.params.bank(blp), blp,
                                                           extra_latency=self.extra_latency)
            connect_array(m, self.bus[b], emu.bus)
        return m


def array_emulator(params: TileParams, plan: LayerPlan | None, *, extra_latency: int = 0) -> wiring.Component:
    """The array side of a controller of these parameters: an ArrayEmulator, or with B > 1 banks a
    BankedArray."""
    if params.hw.banks == 1:
        return ArrayEmulator(params, plan, extra_latency=extra_latency)
    return BankedArray(params, plan, extra_latency=extra_latency)
