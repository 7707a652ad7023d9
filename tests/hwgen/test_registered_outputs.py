"""The outputs' drivers, read from Amaranth's netlist: docs/design.md section 6's "every output to the macro comes
from a flip-flop of the controller (no combinational path from any input, `done` included, to any of them)",
every output of `sws_soc` a flip-flop (hwgen/soc/top.py), and for every output of the controller no path from
any input through logic alone.

The checker (tests/hwgen/netlist_paths.py) is first tried on a hand-made design whose answers are known."""

import pytest
from amaranth import Cat, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from hwgen.controller import Controller
from hwgen.params import TileParams
from hwgen.soc.regmap import BUSES
from hwgen.soc.top import SocTile
from mapper.schedule import MacroTiming
from tests.hwgen.netlist_paths import combinational_inputs, drivers, netlist
from tests.sim.cases import bipolar_cases, mux_cases, rtl_cases

REGISTER = {"FlipFlop", "const"}


class _Known(wiring.Component):
    """Outputs with known drivers: `q` a flip-flop of `a`; `logic` the AND of `a` and that flip-flop; `thru`
    `b` itself; `decode` the AND of two flip-flops (logic, but of registers only); `read` a synchronous memory
    read at address `b`; `peek` an asynchronous one (logic from `b`); `zero` a constant."""

    def __init__(self):
        super().__init__({"a": In(1), "b": In(2), "q": Out(1), "logic": Out(1), "thru": Out(2), "decode": Out(1),
                          "read": Out(4), "peek": Out(4), "zero": Out(1)})

    def elaborate(self, platform):
        m = Module()
        r1, r2 = Signal(), Signal()
        m.submodules.mem = mem = Memory(shape=4, depth=4, init=[1, 2, 3, 4])
        sync, comb = mem.read_port(), mem.read_port(domain="comb")
        m.d.sync += [r1.eq(self.a), r2.eq(~self.a)]
        m.d.comb += [self.q.eq(r1), self.logic.eq(self.a & r1), self.thru.eq(Cat(self.b[0], self.b[1])),
                     self.decode.eq(r1 & r2), sync.addr.eq(self.b), self.read.eq(sync.data),
                     comb.addr.eq(self.b), self.peek.eq(comb.data), self.zero.eq(0)]
        return m


def test_the_checker_gives_a_hand_made_designs_drivers_and_paths():
    known = netlist(_Known())
    got = drivers(known)
    assert got["q"] == {"FlipFlop"} and got["read"] == {"SyncReadPort"} and got["zero"] == {"const"}
    assert got["thru"] == {"input"}
    assert "FlipFlop" not in got["logic"] and "FlipFlop" not in got["decode"] and "input" not in got["logic"]
    assert combinational_inputs(known) == {"logic": {"a"}, "thru": {"b"}, "peek": {"b"}}


def _controllers():
    cases = {c.name: c for c in rtl_cases() + mux_cases() + bipolar_cases()}
    small = cases["r8_k_not_multiple"]
    out = [(name, TileParams.from_plan(cases[name].lp), cases[name].lp, {})
           for name in ("r8_k_not_multiple", "group2_partial", "a4_signed", "mux2_balanced",
                        "r8_k_not_multiple_bipolar_aware")]
    out += [("generic", TileParams.from_plan(small.lp), None, {}),
            ("test_port", TileParams.from_plan(small.lp), small.lp, {"test_port": True}),
            ("power_and_write_ack", TileParams.from_plan(small.lp, timing=MacroTiming(power=True, write_ack=True)),
             None, {})]
    from tests.hwgen.test_verification import _banked_case
    for banks, beat, double in ((2, 4, False), (3, 2, True)):
        lp = _banked_case(banks, beat, double)[0]
        out.append((f"banks{banks}_beat{beat}{'_double' if double else ''}", TileParams.from_plan(lp), lp, {}))
    return [pytest.param(*c, id=c[0]) for c in out]


#: The outputs that docs/design.md section 6 allows to be logic of registers (a state's decode, the
#: accumulator's read through the group's select): the host stream's handshakes and data and the status
#: summaries. Every other output of the controller is a flip-flop.
HOST_DECODES = {"i__ready", "o__valid", "o__last", "o__payload", "status__error", "status__busy",
                "status__write_busy"}


@pytest.mark.parametrize("name, params, plan, options", _controllers())
def test_every_output_to_the_macro_is_a_flip_flop_and_no_output_has_a_path_from_an_input(name, params, plan,
                                                                                          options):
    built = netlist(Controller(params, plan, **options))
    got = drivers(built)
    to_macro = {port: kinds for port, kinds in got.items() if port.startswith("bus__")}
    assert len(to_macro) >= 8                       # section, drive, pch, wl_en, sh and an ADC's four at least
    assert {port: kinds for port, kinds in to_macro.items() if kinds - REGISTER} == {}
    assert {port for port, kinds in got.items() if kinds - REGISTER} <= HOST_DECODES
    assert combinational_inputs(built) == {}


@pytest.mark.parametrize("controller_only", [False, True], ids=["tile", "controller_only"])
@pytest.mark.parametrize("bus", BUSES)
def test_every_output_of_the_soc_wrapper_is_a_flip_flop(bus, controller_only):
    """The bus's outputs, the array's (the chip's wrapper) and the AXI4-Stream ports' (their register
    slices): all flip-flops, so no path from an input either."""
    case = rtl_cases()[0]
    params = TileParams.from_plan(case.lp)
    built = netlist(SocTile(params, case.lp, bus=bus, controller_only=controller_only))
    got = drivers(built)
    memory_mapped = {port for port in got if port.startswith(("s_axi_", "wb_"))}
    assert memory_mapped and (not controller_only or any(port.startswith("bus__") for port in got))
    assert any(port.startswith("m_axis_") for port in got) and any(port.startswith("s_axis_") for port in got)
    assert {port: kinds for port, kinds in got.items() if kinds - REGISTER} == {}
    assert combinational_inputs(built) == {}
