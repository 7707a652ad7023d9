"""A design under test with its reset driven by the bench: the reset tests' one wrapper."""

from __future__ import annotations

from amaranth.hdl import ClockDomain, Elaboratable, Module, ResetSignal, Signal

__all__ = ["WithReset"]


class WithReset(Elaboratable):
    """`dut` in a `sync` domain whose reset is the signal `rst`, which the bench sets (`ctx.set(top.rst, 1)`)."""

    def __init__(self, dut: Elaboratable, name: str = "dut"):
        self.dut, self.name, self.rst = dut, name, Signal(name="rst")

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = ClockDomain()
        m.submodules[self.name] = self.dut
        m.d.comb += ResetSignal().eq(self.rst)
        return m
