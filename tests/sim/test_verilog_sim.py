"""The emitted Verilog in Verilator and Icarus: the RTL issue's cases, bit for bit against numpy and the golden model.

Builds are cached per design under build/hdl/, so a second run of the suite only simulates.
"""

import dataclasses

import numpy as np
import pytest

from hwgen.params import TileParams
from sim.golden import predict
from sim.verilog_sim import run_verilog
from tests.sim.cases import Case, bipolar_cases, check, encoding_cases, inputs, mux_cases, rtl_cases, weights
from tests.support import need_tools

CASES = rtl_cases()
TOOLS = {"verilator": ["verilator"], "icarus": ["iverilog", "vvp"]}


def need(backend):
    need_tools(*TOOLS[backend], why=f"the {backend} backend simulates the emitted Verilog with it")


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_emitted_verilog_is_bit_exact_with_numpy_and_the_golden_model(backend, case):
    need(backend)
    run = run_verilog(case.lp, case.x, backend, say=lambda m: None)
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
@pytest.mark.parametrize("case", [c for c in encoding_cases() if c.cfg.hw.input_aware or c.name.startswith("r8_")],
                         ids=lambda c: c.name)
def test_every_input_encoding_and_resolution_mode_is_bit_exact_in_verilog(backend, case):
    need(backend)
    run = run_verilog(case.lp, case.x, backend, say=lambda m: None)
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
@pytest.mark.parametrize("case", [c for c in mux_cases() if c.name in ("mux2_balanced", "mux3_balanced",
                                                                        "mux5_balanced_signmag_aware")],
                         ids=lambda c: c.name)
def test_adc_groups_of_m_columns_are_bit_exact_in_verilog(backend, case):
    need(backend)
    run = run_verilog(case.lp, case.x, backend, say=lambda m: None)
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
@pytest.mark.parametrize("case", [c for c in bipolar_cases() if c.name in (
    "r8_k_not_multiple_bipolar", "r8_k_not_multiple_bipolar_aware", "capped_lossy_bipolar_aware",
    "mux5_balanced_bipolar_aware")], ids=lambda c: c.name)
def test_the_bipolar_drive_is_bit_exact_in_verilog(backend, case):
    need(backend)
    run = run_verilog(case.lp, case.x, backend, say=lambda m: None)
    check(case, run, predict(case.lp, case.x))


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_one_generic_bipolar_build_serves_two_plans(backend):
    need(backend)
    from mapper.config import ArrayConfig
    cfg = ArrayConfig(rows=16, cols=28, n_adc=3, input_encoding="bipolar", input_aware=True)
    a = Case("plan_a", cfg, weights(30, 3, 0.5, 51), inputs(cfg, 30, 51, random_vectors=2))
    b = Case("plan_b", cfg.replace(ordering="gray"), weights(22, 2, 0.8, 52), inputs(cfg, 22, 52))
    limits = dataclasses.replace(TileParams.from_plan(a.lp), section_depth=8, row_depth=80, column_depth=60, k=32, n=4)
    for case in (a, b):
        run = run_verilog(case.lp, case.x, backend, generic=limits, say=lambda m: None)
        check(case, run, predict(case.lp, case.x, limits))


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_one_generic_build_serves_two_plans(backend):
    need(backend)
    from mapper.config import ArrayConfig
    cfg = ArrayConfig(rows=16, cols=28, n_adc=3)
    a = Case("plan_a", cfg, weights(30, 3, 0.5, 21), inputs(cfg, 30, 21, random_vectors=2))
    b = Case("plan_b", cfg, weights(22, 2, 0.8, 22), inputs(cfg, 22, 22))
    limits = dataclasses.replace(TileParams.from_plan(a.lp), section_depth=8, row_depth=80, column_depth=60, k=32, n=4)
    for case in (a, b):
        run = run_verilog(case.lp, case.x, backend, generic=limits, say=lambda m: None)
        check(case, run, predict(case.lp, case.x, limits))


def test_more_vectors_than_a_harness_run_holds_run_in_chunks(monkeypatch):
    need("icarus")
    import sim.verilog_sim as vs
    monkeypatch.setattr(vs, "CHUNK", 2)      # 5 vectors: runs of 2, 2 and 1, counters added up
    case = next(c for c in CASES if c.name == "r8_k_not_multiple")
    x = np.concatenate([case.x, case.x[:1]])
    run = vs.run_verilog(case.lp, x, "icarus", cache="hdl-chunk-test", say=lambda m: None)
    want = predict(case.lp, x)
    assert np.array_equal(run.outputs, x @ case.w)
    assert run.counters == want.counters()


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_sws_sim_backends_give_the_same_json_as_amaranth(tmp_path, capsys, backend):
    need(backend)
    import json

    from sws.cli import main
    plan = tmp_path / "plan"
    assert main(["map", "synthetic:laplace:30x3:2", "--rows", "8", "--sparsity", "0.5", "-o", str(plan)]) == 0
    np.save(tmp_path / "x.npy", inputs(__import__("mapper").ArrayConfig(), 30, 3))
    capsys.readouterr()
    results = {}
    for b in ("amaranth", backend):
        assert main(["sim", str(plan), "--inputs", str(tmp_path / "x.npy"), "--backend", b, "--json"]) == 0
        results[b] = json.loads(capsys.readouterr().out)
    assert results[backend]["backend"] == backend and results[backend]["match"] is True
    for key in ("outputs", "cycles", "conversions", "energy_pj", "cycles_per_vector"):
        assert results[backend][key] == results["amaranth"][key]


def test_vcd_with_a_verilog_backend_is_refused(tmp_path, capsys):
    from sws.cli import main
    plan = tmp_path / "plan"
    assert main(["map", "synthetic:laplace:10x2", "--rows", "8", "-o", str(plan)]) == 0
    np.save(tmp_path / "x.npy", np.zeros(10, np.int64))
    capsys.readouterr()
    assert main(["sim", str(plan), "--inputs", str(tmp_path / "x.npy"), "--backend", "icarus",
                 "--vcd", str(tmp_path / "w.vcd")]) == 2
    assert "use it with --backend amaranth" in capsys.readouterr().err


def test_memory_contents_move_to_files_read_at_run_time():
    from sim.verilog_sim import split_memory_contents
    verilog = ("module m(clk);\n  reg [7:0] rom [2:0];\n  initial begin\n    rom[0] = 8'h0a;\n    rom[1] = 8'hff;\n"
               "    rom[2] = 8'h00;\n  end\n  reg [3:0] gap [3:0];\n  initial begin\n    gap[1] = 4'h3;\n"
               "    gap[3] = 4'hc;\n  end\n  initial begin\n    x = 1;\n  end\nendmodule\n")
    structure, images = split_memory_contents(verilog)
    assert images == ["0a\nff\n00\n", "@1\n3\n@3\nc\n"]
    assert "8'h" not in structure and "4'h" not in structure and "    x = 1;\n" in structure
    assert '$readmemh({dir, "/rom0.hex"}, rom);' in structure
    assert '$readmemh({dir, "/rom1.hex"}, gap);' in structure



def test_memories_that_start_at_zero_get_one_loop_and_the_others_keep_their_words():
    """A generic tile's tables start at zero: each gets an initial for-loop over its whole depth, no word
    line; a baked tile's tables keep their words (nonzero somewhere), its accumulators (zero) a loop. The
    declarations are counted from the Verilog itself, the depths from their `[D-1:0]`."""
    import re
    from mapper.config import ArrayConfig
    from hwgen.verilog import emit_verilog
    cfg = ArrayConfig(rows=16, cols=42, n_adc=3)
    case = Case("zero_init", cfg, weights(40, 3, 0.6, 5), inputs(cfg, 40, 3))
    params = TileParams.from_plan(case.lp)
    declared = re.compile(r"^  reg \[(\d+):0\] (\w+) \[(\d+):0\];$", re.M)
    generic = emit_verilog(None, params)
    memories = declared.findall(generic)
    assert len(memories) >= 6
    for width, name, top in memories:
        assert (f"  initial begin : sws_zero_{name}\n    integer i;\n    for (i = 0; i < {int(top) + 1}; "
                f"i = i + 1) {name}[i] = {int(width) + 1}'h0;\n  end") in generic
        assert f"    {name}[0] = " not in generic
    baked = emit_verilog(case.lp, params)
    looped = set(re.findall(r"initial begin : sws_zero_(\w+)", baked))
    worded = {name for _, name, _ in declared.findall(baked) if f"    {name}[0] = " in baked}
    assert {"acc0", "acc1"} <= looped and "cells" in worded and not looped & worded
    assert looped | worded == {name for _, name, _ in declared.findall(baked)}
    # By module: a top module's header has no space before its ports, a submodule's escaped name has one.
    from hwgen.verilog import _with_zero_loops
    two = "module top(clk);\n  reg [3:0] m [7:0];\nendmodule\nmodule \\top.sub (clk);\n  reg [3:0] m [7:0];\nendmodule\n"
    out = _with_zero_loops(two, {"top": {"m"}})
    assert out.count("sws_zero_m") == 1 and out.index("sws_zero_m") < out.index("module \\top.sub")

def test_a_design_is_emitted_once_per_plan_and_parameters(monkeypatch, tmp_path):
    """The emitted Verilog is kept in the cache: the same plan and parameters again (another backend,
    another run) read it back; a plan with one cell changed, or other parameters, are emitted anew."""
    import sim.verilog_sim as vs
    case = next(c for c in CASES if c.name == "r8_k_not_multiple")
    calls = []

    def emit(lp, params):
        calls.append((lp, params))
        return f"// design {len(calls)}\n"

    monkeypatch.setattr(vs, "emit_verilog", emit)
    params = TileParams.from_plan(case.lp)
    first = vs.emitted_verilog(case.lp, params, str(tmp_path))
    assert first == "// design 1\n" and len(calls) == 1
    assert vs.emitted_verilog(case.lp, params, str(tmp_path)) == first and len(calls) == 1
    cells = case.lp.cells.copy()
    cells[0, 0, 0] ^= 1
    other = dataclasses.replace(case.lp, cells=cells)
    assert vs.emitted_verilog(other, params, str(tmp_path)) == "// design 2\n"
    assert vs.emitted_verilog(case.lp, dataclasses.replace(params, lanes=params.lanes + 1), str(tmp_path)) \
        == "// design 3\n"
    assert vs.emitted_verilog(None, params, str(tmp_path)) == "// design 4\n"
    assert vs.emitted_verilog(case.lp, params, str(tmp_path)) == first and len(calls) == 4


@pytest.mark.parametrize("clang", [True, False], ids=["clang_installed", "no_clang"])
def test_a_short_run_builds_one_unoptimized_file_and_a_long_or_kept_build_the_optimized_one(monkeypatch, tmp_path,
                                                                                             clang):
    """The make variables each Verilator build gets (compiling stubbed out): a few vectors -O0, with clang++
    where it is installed, as many vectors as make half a million predicted cycles -O1, a generic build kept
    for later layers -O1, both with make's default compiler; one file each (sim.verilog_sim.OPT_MAKEFLAGS: -O0
    pays below about 670,000 cycles; SHORT_RUN_CXX: clang++ compiles -O0 about 3x faster, -O1 slower)."""
    import shutil

    import sim.verilog_sim as vs
    real_which = shutil.which
    monkeypatch.setattr(vs.shutil, "which",
                        lambda name: (f"/usr/bin/{name}" if clang else None) if name == "clang++" else real_which(name))
    from sim.golden import cycle_model
    case = next(c for c in CASES if c.name == "r8_k_not_multiple")
    makes = []

    class Stop(Exception):
        pass

    def compile_(folder, cache, models, flags, make):
        makes.append(make)
        raise Stop

    monkeypatch.delenv("SWS_VERILATOR_MAKEFLAGS", raising=False)
    monkeypatch.setattr(vs, "_verilate_and_compile", compile_)
    per_vector = cycle_model(case.lp, TileParams.from_plan(case.lp))["cycles"]
    long_x = np.zeros((-(-500_000 // per_vector), case.lp.shape[0]), np.int64)     # >= 5e5 cycles, by hand
    for x, kwargs in ((case.x, {}), (long_x, {}),
                      (case.x, {"generic": TileParams.from_plan(case.lp), "reuse": True})):
        with pytest.raises(Stop):
            vs.run_verilog(case.lp, x, "verilator", cache=str(tmp_path), say=lambda m: None, **kwargs)
    assert [m.split() for m in makes] == [
        ["CXX=clang++", "LINK=clang++"] * clang
        + ["VM_PARALLEL_BUILDS=0", "OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"],
        ["VM_PARALLEL_BUILDS=0", "OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"],
        ["VM_PARALLEL_BUILDS=0", "OPT_FAST=-O1", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0"]]
    assert len(case.x) * per_vector < 500_000


@pytest.mark.slow
def test_short_builds_share_a_precompiled_header_and_the_main_object_and_survive_a_bad_header(tmp_path,
                                                                                              monkeypatch):
    """Two short (clang++ -O0) Verilator builds in one cache: the first leaves a precompiled verilated.h and
    the C++ main's object there, the second uses both; a precompiled header that clang refuses (here: not
    one at all) costs a build its speed, not its result."""
    need("verilator")
    need_tools("clang++", why="the short builds' precompiled header is clang++'s")
    import sim.verilog_sim as vs
    first, second = (next(c for c in CASES if c.name == n) for n in ("r8_k_not_multiple", "a4_signed"))
    run = run_verilog(first.lp, first.x, "verilator", cache=str(tmp_path), say=lambda m: None)
    check(first, run, predict(first.lp, first.x))
    [pch] = tmp_path.glob("pch-verilator-*/verilated.h.pch")
    [main] = tmp_path.glob("main-verilator-*/main.o")
    stamp = main.stat().st_mtime_ns
    pch.write_bytes(b"not a precompiled header")
    made = []
    real_run = vs._run

    def spy(argv, cwd, what):
        made.append(" ".join(argv))
        return real_run(argv, cwd, what)
    monkeypatch.setattr(vs, "_run", spy)
    run = run_verilog(second.lp, second.x, "verilator", cache=str(tmp_path), say=lambda m: None)
    check(second, run, predict(second.lp, second.x))
    makes = [m for m in made if m.startswith("make -C obj")]
    # the build with the header (refused), then without it; the main object restored, not remade
    assert len(makes) == 2 and f"USER_CPPFLAGS=-include-pch {pch}" in makes[0] and "-include-pch" not in makes[1]
    assert main.stat().st_mtime_ns == stamp
    # main.o compiled in the first build (its dependency file written), copied into the second (none)
    builds = sorted(tmp_path.glob("verilator-*/obj/main.o"))
    assert len(builds) == 2 and sorted(b.with_suffix(".d").exists() for b in builds) == [False, True]


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_baked_tiles_of_the_same_sizes_share_one_build(backend, tmp_path):
    need(backend)
    from mapper.config import ArrayConfig
    from sim.verilog_sim import emitted_verilog, split_memory_contents
    cfg = ArrayConfig(rows=16, cols=28, n_adc=3)
    w = weights(30, 3, 0.5, 21)
    a, b = Case("plan_a", cfg, w, inputs(cfg, 30, 21)), Case("plan_negated", cfg, -w, inputs(cfg, 30, 21))
    # (emitted into the test's cache, where run_verilog finds them below)
    (sa, ia), (sb, ib) = (split_memory_contents(emitted_verilog(c.lp, TileParams.from_plan(c.lp), str(tmp_path)))
                          for c in (a, b))
    assert sa == sb and ia != ib                      # the same structure, other memory contents
    for case in (a, b):
        run = run_verilog(case.lp, case.x, backend, cache=str(tmp_path), say=lambda m: None)
        check(case, run, predict(case.lp, case.x))
    assert len(list(tmp_path.glob(f"{backend}-*"))) == 1      # plan b's ROMs came from files, not a compile


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_a_cached_generic_build_serves_a_later_layer_of_the_same_hardware(backend, tmp_path):
    need(backend)
    from mapper.config import ArrayConfig
    cfg = ArrayConfig(rows=16, cols=28, n_adc=3)
    a = Case("plan_a", cfg, weights(30, 3, 0.5, 21), inputs(cfg, 30, 21, random_vectors=2))
    b = Case("plan_b", cfg, weights(22, 2, 0.8, 22), inputs(cfg, 22, 22))
    other = Case("plan_other_hw", ArrayConfig(rows=8, cols=28, n_adc=3), weights(22, 2, 0.8, 22), inputs(cfg, 22, 22))
    said = []
    for case, builds in ((a, 1), (b, 1), (other, 2)):
        run = run_verilog(case.lp, case.x, backend, generic=TileParams.from_plan(case.lp), reuse=True,
                          cache=str(tmp_path), say=said.append)
        check(case, run, predict(case.lp, case.x))
        assert len(list(tmp_path.glob(f"{backend}-*"))) == builds
    assert sum("reusing" in m for m in said) == 1                   # plan b only: plan a's limits fit it


@pytest.mark.parametrize("backend", ["verilator", "icarus"])
def test_phase_timing_and_a_synchronized_done_are_bit_exact_in_verilog(backend):
    """The macro contract's options in the emitted Verilog, baked and generic: cycles as the golden model
    predicts for the timing, and the emulator's violation flags read back as zero (a run with one fails)."""
    need(backend)
    from mapper.schedule import MacroTiming
    case = next(c for c in CASES if c.name == "group2_partial")
    for timing in (MacroTiming(precharge=1, wordline=1, settle=1, sample=1), MacroTiming(wordline=2, settle=1, sync=2)):
        params = TileParams.from_plan(case.lp, timing=timing)
        check(case, run_verilog(case.lp, case.x, backend, params=params, say=lambda m: None),
              predict(case.lp, case.x, params))
    generic = dataclasses.replace(params, section_depth=params.section_depth + 3, k=params.k + 5)
    check(case, run_verilog(case.lp, case.x, backend, generic=generic, say=lambda m: None),
          predict(case.lp, case.x, generic))


def test_the_verilog_harness_refuses_power_control_and_program_and_verify_writes_in_one_line():
    """Its testbench drives no power port and writes one programming word a cycle: such tiles are refused
    with a message, before any build."""
    from mapper.common import SwsError
    from mapper.schedule import MacroTiming
    from sim.verilog_sim import simulate_design
    from tests.sim.cases import rtl_cases
    case = rtl_cases()[0]
    for timing, writes in ((MacroTiming(power=True), None), (MacroTiming(write_ack=True), [(0, 0, 0)])):
        params = TileParams.from_plan(case.lp, timing=timing)
        with pytest.raises(SwsError, match="the Verilog harness drives neither the power port nor"):
            simulate_design(case.lp, case.x, "icarus", "", params, writes)
