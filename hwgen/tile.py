"""The tile: the controller with the array emulator on its array interface, for simulation and FPGA emulation."""

from __future__ import annotations

from amaranth import Module, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from .controller import Controller
from .emulator import ArrayEmulator
from .interface import CounterSignature, ProgSignature
from .params import TileParams

__all__ = ["Tile"]


class Tile(wiring.Component):
    """Controller + ArrayEmulator. Ports: `i`, `o`, `counters` as the controller's; `prog` (generic tile
    only) programs the controller's ROMs and the emulator's cells alike."""

    def __init__(self, params: TileParams, plan: LayerPlan | None = None):
        if plan is not None:
            params.fits(plan)
        self.params = params
        self.plan = plan
        members = {
            "i": In(stream.Signature(signed(params.cfg.input_bits))),
            "o": Out(stream.Signature(signed(params.acc_width))),
            "counters": Out(CounterSignature(params)),
        }
        if plan is None:
            members["prog"] = In(ProgSignature(params))
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = ctrl = Controller(self.params, self.plan)
        m.submodules.array = emu = ArrayEmulator(self.params, self.plan)
        wiring.connect(m, ctrl.bus, emu.bus)
        wiring.connect(m, wiring.flipped(self.i), ctrl.i)
        wiring.connect(m, ctrl.o, wiring.flipped(self.o))
        for name in ("cycles", "planes", "sections", "conversions"):
            m.d.comb += getattr(self.counters, name).eq(getattr(ctrl.counters, name))
        if self.plan is None:
            for name in ("we", "sel", "addr", "data"):
                m.d.comb += [getattr(ctrl.prog, name).eq(getattr(self.prog, name)),
                             getattr(emu.prog, name).eq(getattr(self.prog, name))]
        return m
