"""The tile: the controller with the array emulator on its array interface, for simulation and FPGA emulation."""

from __future__ import annotations

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from .controller import Controller
from .emulator import VIOLATIONS, array_emulator
from .interface import RawCodeSignature, bank_buses, connect_array, host_members
from .params import TileParams

__all__ = ["Tile"]


class Tile(wiring.Component):
    """Controller + ArrayEmulator, for simulation and FPGA emulation. Latency and throughput as the
    controller's.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        Baked ROMs and cells from the plan, or (None) a generic tile programmed through `prog`.
    extra_latency : int
        Test only: the emulated ADCs' done comes this many cycles late (`ArrayEmulator`).
    done_mode : str
        Handshake timing: the emulated ADCs' done a "level" (default) or a "pulse" (`ArrayEmulator`).
    test_port : bool
        Add the controller's raw-code test port `test` (`RawCodeSignature`).
    write_latency, write_random : int
        With program-and-verify writes (`MacroTiming.write_ack`): the emulated macro's write loop takes
        write_latency cycles plus a pseudo-random 0 .. 2**write_random - 1 more (`ArrayEmulator`).

    Attributes
    ----------
    i, o, counters, status, timing, power
        As the controller's (`power` with `MacroTiming.power` only).
    prog : In(ProgSignature)
        Generic tile only: programs the controller's ROMs, and the emulator's cells through the array
        interface's cell-write port.
    violation : Out(len(hwgen.emulator.VIOLATIONS))
        The emulator's sticky protocol violations (zero in a correct run).
    controller : Controller
        The controller (its array interface `controller.bus` for a monitor in simulation).
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None, *, extra_latency: int = 0,
                 test_port: bool = False, done_mode: str = "level", write_latency: int = 1, write_random: int = 0):
        if plan is not None:
            params.fits(plan)
        self.params = params
        self.plan = plan
        self.extra_latency = extra_latency
        self.done_mode = done_mode
        self.write_options = {"write_latency": write_latency, "write_random": write_random}
        self.controller = Controller(params, plan, test_port=test_port)
        self.test_port = test_port
        super().__init__({**host_members(params, plan is None), "violation": Out(len(VIOLATIONS)),
                          **({"test": In(RawCodeSignature(params))} if test_port else {})})

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = ctrl = self.controller
        if self.test_port:
            wiring.connect(m, wiring.flipped(self.test), ctrl.test)
        m.submodules.array = emu = array_emulator(self.params, self.plan, extra_latency=self.extra_latency,
                                                  done_mode=self.done_mode, **self.write_options)
        for c, a in zip(bank_buses(ctrl.bus, self.params), bank_buses(emu.bus, self.params), strict=True):
            connect_array(m, c, a)
        m.d.comb += self.violation.eq(emu.violation)
        wiring.connect(m, wiring.flipped(self.i), ctrl.i)
        for name in ("o", "counters", "status"):
            wiring.connect(m, getattr(ctrl, name), wiring.flipped(getattr(self, name)))
        wiring.connect(m, wiring.flipped(self.timing), ctrl.timing)
        if self.params.timing.power:
            wiring.connect(m, wiring.flipped(self.power), ctrl.power)
        if self.plan is None:
            # The cells are written through the controller, over the array interface's write port.
            wiring.connect(m, wiring.flipped(self.prog), ctrl.prog)
        return m
