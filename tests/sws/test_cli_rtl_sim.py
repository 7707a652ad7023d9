"""`sws rtl` and `sws sim` end to end: reproducible Verilog, outputs and counters, exit codes 0, 1 and 2."""

import json
import shutil
import subprocess

import numpy as np
import pytest

import sim.check as sim_command
from mapper.plan import load_plan, rebuild_weights
from mapper.schedule import EVENTS
from sim.golden import HARDWARE_COUNTERS, predict
from sws.cli import main
from tests.support import unavailable


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def plan_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("plan") / "p"
    assert main(["map", "synthetic:laplace:40x3:2", "--sparsity", "0.6", "--rows", "16", "--cols", "42",
                 "--n-adc", "3", "-o", str(out)]) == 0
    return out


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def x_file(plan_dir, tmp_path_factory):
    path = tmp_path_factory.mktemp("x") / "x.npy"
    np.save(path, np.random.default_rng(3).integers(-128, 128, (2, 40)))
    return path


def test_sim_writes_int64_outputs_equal_to_x_at_w(plan_dir, x_file, tmp_path, capsys):
    y = tmp_path / "y.npy"
    code, out, _ = run(capsys, "sim", plan_dir, "--inputs", x_file, "-o", y)
    assert code == 0
    assert "match the golden model bit for bit" in out and "cycles" in out and "energy" in out
    got = np.load(y)
    w = rebuild_weights(load_plan(str(plan_dir)).layers[0])
    assert got.dtype == np.int64 and np.array_equal(got, np.load(x_file) @ w)


def test_sim_json_has_outputs_cycles_conversions_energy_and_match(plan_dir, x_file, capsys):
    code, out, _ = run(capsys, "sim", plan_dir, "--inputs", x_file, "--json")
    assert code == 0
    r = json.loads(out)
    lp = load_plan(str(plan_dir)).layers[0]
    want = predict(lp, np.load(x_file))
    assert r["match"] is True
    assert r["outputs"] == want.outputs.tolist()
    assert r["cycles"] == want.cycles and r["conversions"] == sum(want.conversions)
    assert r["energy_pj"] == pytest.approx(want.energy_pj)


def test_sim_prints_the_macro_energy_of_the_counters_and_fails_where_the_report_differs(plan_dir, x_file, tmp_path,
                                                                                       capsys):
    code, out, _ = run(capsys, "sim", plan_dir, "--inputs", x_file, "--json", "--backend", "amaranth")
    r = json.loads(out)
    report = json.loads((plan_dir / "report.json").read_text())["layers"][0]
    assert code == 0 and r["match"] is True
    assert r["macro_energy_pj"] == pytest.approx(report["macro_energy_pj"], rel=1e-12)
    assert r["macro_breakdown_pj"] == pytest.approx(report["macro_breakdown_pj"], rel=1e-12)
    # Every event priced from the hardware's counters, none from the golden model.
    assert set(r["counted_by_hardware"]) == set(EVENTS)
    assert r["counted_by_hardware_as"]["cell_reads"] == "cell_reads" and "predicted_by_golden_model" not in r
    # A report whose macro energy is not the hardware's: exit 1, naming both figures.
    other = tmp_path / "p"
    shutil.copytree(plan_dir, other)
    edited = json.loads((other / "report.json").read_text())
    edited["layers"][0]["macro_energy_pj"] *= 1.01
    (other / "report.json").write_text(json.dumps(edited))
    code, out, err = run(capsys, "sim", other, "--inputs", x_file, "--backend", "amaranth")
    assert code == 1 and "macro energy from the counters" in err and "report.json" in err


def test_sim_runs_a_plan_on_input_aware_sign_magnitude_hardware(plan_dir, tmp_path, capsys):
    x = np.zeros((3, 40), np.int64)
    x[1, :5] = [3, -1, 0, 2, -7]
    x[2] = np.random.default_rng(4).integers(-127, 128, 40)
    np.save(tmp_path / "x.npy", x)
    code, out, _ = run(capsys, "sim", plan_dir, "--inputs", tmp_path / "x.npy", "--backend", "amaranth", "--json",
                       "--input-encoding", "signmag", "--input-aware")
    assert code == 0
    r = json.loads(out)
    lp = load_plan(str(plan_dir)).layers[0]
    assert r["match"] is True and r["outputs"] == (x @ rebuild_weights(lp)).tolist()
    aware = predict(lp.on_hardware(input_encoding="signmag", input_aware=True), x)
    assert r["cycles_per_vector"] == aware.vector_cycles and len(set(r["cycles_per_vector"])) == 3
    assert r["conversions"] == sum(aware.conversions) < sum(predict(lp, x).conversions)
    assert load_plan(str(plan_dir)).layers[0].cfg.hw.input_aware is False      # the plan is unchanged


def test_rtl_of_a_plan_on_other_drive_hardware_differs_and_is_reproducible(plan_dir, tmp_path, capsys):
    paths = [tmp_path / f"{i}.v" for i in range(3)]
    for path, extra in zip(paths, ([], ["--input-aware"], ["--input-aware"])):
        assert run(capsys, "rtl", plan_dir, "-o", path, *extra)[0] == 0
    assert paths[1].read_text() == paths[2].read_text() != paths[0].read_text()
    assert "steps" in paths[1].read_text() and "steps" not in paths[0].read_text()


def test_sim_one_vector_of_shape_k(plan_dir, tmp_path, capsys):
    x = tmp_path / "x1.npy"
    np.save(x, np.arange(40) - 20)
    code, out, _ = run(capsys, "sim", plan_dir, "--inputs", x, "--json")
    assert code == 0 and len(json.loads(out)["outputs"]) == 1


@pytest.mark.parametrize("x, message", [
    (np.zeros((2, 39), np.int64), "must have shape (V, 40) or (40,)"),
    (np.full((1, 40), 128), "= 128 is outside -128..127"),
    (np.zeros((1, 40), np.float32), "must be integers, not float32"),
])
def test_sim_bad_inputs_exit_2_and_write_nothing(plan_dir, tmp_path, capsys, x, message):
    xf, y = tmp_path / "bad.npy", tmp_path / "y.npy"
    np.save(xf, x)
    code, out, err = run(capsys, "sim", plan_dir, "--inputs", xf, "-o", y)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not y.exists()


def test_sim_mismatch_says_where_and_exits_1(plan_dir, x_file, tmp_path, capsys, monkeypatch):
    real = sim_command.run_tile

    def broken(*args, **kwargs):
        r = real(*args, **kwargs)
        r.outputs[1, 2] += 1
        return r

    monkeypatch.setattr(sim_command, "run_tile", broken)
    y = tmp_path / "y.npy"
    code, _, err = run(capsys, "sim", plan_dir, "--inputs", x_file, "-o", y, "--backend", "amaranth")
    assert code == 1 and "output [1, 2]" in err
    assert not y.exists()


def test_rtl_is_the_same_bytes_every_run(plan_dir, tmp_path, capsys):
    a, b = tmp_path / "a.v", tmp_path / "b.v"
    assert run(capsys, "rtl", plan_dir, "-o", a)[0] == 0
    assert run(capsys, "rtl", plan_dir, "-o", b)[0] == 0
    text = a.read_text()
    assert a.read_bytes() == b.read_bytes()
    assert "module sws_tile(" in text and "module sws_controller" not in text


def test_rtl_controller_only_exposes_the_array_interface(plan_dir, tmp_path, capsys):
    v = tmp_path / "c.v"
    assert run(capsys, "rtl", plan_dir, "-o", v, "--controller-only")[0] == 0
    text = v.read_text()
    assert "module sws_controller(" in text
    for port in ("bus__drive", "bus__adc__0__start", "bus__adc__0__res", "bus__adc__0__done", "bus__adc__0__code",
                 "bus__adc__0__col", "bus__section", "bus__adc__0__ref", "bus__pch", "bus__wl_en", "bus__sh",
                 "bus__wr_en", "bus__wr_addr", "bus__wr_data"):
        assert port in text


def test_rtl_generic_writes_the_rom_writes_beside_it(plan_dir, tmp_path, capsys):
    v = tmp_path / "g.v"
    code, out, _ = run(capsys, "rtl", plan_dir, "-o", v, "--generic")
    assert code == 0 and "prog" in out
    lines = (tmp_path / "g.prog").read_text().splitlines()
    lp = load_plan(str(plan_dir)).layers[0]
    assert sum(1 for ln in lines if ln.startswith("0 ")) == lp.n_sections
    assert "prog__we" in v.read_text()


def test_rtl_bad_plan_dir_exits_2(tmp_path, capsys):
    code, _, err = run(capsys, "rtl", tmp_path / "nothing")
    assert code == 2 and "not a plan folder" in err


@pytest.mark.parametrize("tool, argv", [("iverilog", ["iverilog", "-g2012", "-o", "/dev/null"]),
                                        ("verilator", ["verilator", "--lint-only", "-Wno-fatal"])])
def test_emitted_verilog_compiles(plan_dir, tmp_path, capsys, tool, argv):
    if shutil.which(tool) is None:
        unavailable(tool, "to compile the emitted Verilog")
    v = tmp_path / "t.v"
    assert run(capsys, "rtl", plan_dir, "-o", v)[0] == 0
    done = subprocess.run(argv + [str(v)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_sim_vcd_only_when_asked(plan_dir, x_file, tmp_path, capsys):
    vcd = tmp_path / "w" / "tile.vcd"
    assert run(capsys, "sim", plan_dir, "--inputs", x_file, "--vcd", vcd)[0] == 0
    assert vcd.stat().st_size > 0 and "bus__drive" in vcd.read_text()


def test_sim_runs_a_plan_on_banks_with_wide_double_buffered_beats(plan_dir, x_file, capsys):
    # The plan's sections on 2 banks, 4 elements a beat, double-buffered: the same outputs (x @ W), and
    # the golden model's cycles for that hardware.
    code, out, _ = run(capsys, "sim", plan_dir, "--inputs", x_file, "--json", "--banks", "2", "--beat", "4",
                       "--double-buffer", "--backend", "amaranth")
    assert code == 0
    r = json.loads(out)
    lp = load_plan(str(plan_dir)).layers[0]
    x = np.load(x_file)
    assert r["match"] is True and r["outputs"] == (x @ rebuild_weights(lp)).tolist()
    assert r["cycles"] == predict(lp.on_hardware(banks=2, beat=4, double_buffer=True), x).cycles


@pytest.mark.parametrize("option,value,rule", [("--banks", "0", "banks must be an integer >= 1, not 0"),
                                                ("--beat", "6", "beat must be a power of two, not 6")])
def test_bad_banks_or_beat_is_one_line_and_exit_2(plan_dir, x_file, capsys, option, value, rule):
    code, out, err = run(capsys, "sim", plan_dir, "--inputs", x_file, option, value)
    assert code == 2 and rule in err and len(err.strip().splitlines()) == 1


def test_sim_and_rtl_take_the_macro_phase_timing(plan_dir, x_file, tmp_path, capsys):
    # --precharge 1 --wordline 2 --settle 1 --sample 1 --guard 2 (front F = 1 + 2 + 2 + 2 + 1 = 8,
    # sample-and-hold) and a registered done: outputs x @ W, the golden model's cycles for that timing, more
    # than without phases; and `sws rtl` writes other Verilog for it.
    from mapper.schedule import MacroTiming
    from hwgen.params import TileParams
    phases = ["--precharge", "1", "--wordline", "2", "--settle", "1", "--sample", "1", "--adc-sync", "1",
              "--guard", "2"]
    code, out, _ = run(capsys, "sim", plan_dir, "--inputs", x_file, "--json", "--backend", "amaranth", *phases)
    assert code == 0
    r = json.loads(out)
    lp = load_plan(str(plan_dir)).layers[0]
    x = np.load(x_file)
    assert r["match"] is True and r["outputs"] == (x @ rebuild_weights(lp)).tolist()
    timed = TileParams.from_plan(lp, None, MacroTiming(precharge=1, wordline=2, settle=1, sample=1, sync=1, guard=2))
    assert timed.timing.front == 8
    assert r["cycles"] == predict(lp, x, timed).cycles > predict(lp, x).cycles
    plain, phased = tmp_path / "plain.v", tmp_path / "phased.v"
    assert run(capsys, "rtl", plan_dir, "-o", plain)[0] == 0
    assert run(capsys, "rtl", plan_dir, "-o", phased, *phases)[0] == 0
    assert plain.read_text() != phased.read_text()


@pytest.mark.parametrize("option,value,rule", [("--precharge", "-1", "--precharge must be an integer >= 0, not -1"),
                                                ("--wordline", "65", "--wordline must be at most 64 cycles, not 65"),
                                                ("--guard", "8", "--guard must be at most 7 cycles, not 8")])
def test_bad_phase_timing_is_one_line_and_exit_2(plan_dir, x_file, capsys, option, value, rule):
    code, out, err = run(capsys, "sim", plan_dir, "--inputs", x_file, option, value)
    assert code == 2 and rule in err and len(err.strip().splitlines()) == 1


def test_sim_fails_where_the_reported_cycles_are_not_the_tiles(tmp_path, capsys):
    # A plan mapped on 2 banks, 2-element beats, double-buffered: the simulation's first vector takes the
    # report's latency_cycles and every later one its cycles_per_vector (the steady state); a report.json whose
    # steady state is one cycle off fails with exit 1. With macro phases the report's cycles are not the
    # simulation's (it assumes none): not compared, while the macro energy still is (phases add no event).
    plan = tmp_path / "p"
    assert main(["map", "synthetic:laplace:40x3:2", "--sparsity", "0.6", "--rows", "16", "--cols", "42",
                 "--n-adc", "3", "--banks", "2", "--beat", "2", "--double-buffer", "--objective", "none",
                 "-o", str(plan), "-q"]) == 0
    capsys.readouterr()
    np.save(tmp_path / "x.npy", np.random.default_rng(5).integers(-128, 128, (3, 40)))
    report = json.loads((plan / "report.json").read_text())["layers"][0]
    code, out, _ = run(capsys, "sim", plan, "--inputs", tmp_path / "x.npy", "--json", "--backend", "amaranth")
    r = json.loads(out)
    assert code == 0 and r["match"] is True
    assert r["report_cycles"] == [report["latency_cycles"], report["cycles_per_vector"]]
    assert r["cycles_per_vector"] == [report["latency_cycles"]] + [report["cycles_per_vector"]] * 2
    assert report["latency_cycles"] > report["cycles_per_vector"]          # double buffering overlaps the loads
    edited = json.loads((plan / "report.json").read_text())
    edited["layers"][0]["cycles_per_vector"] += 1
    (plan / "report.json").write_text(json.dumps(edited))
    code, _, err = run(capsys, "sim", plan, "--inputs", tmp_path / "x.npy", "--backend", "amaranth")
    assert code == 1 and "cycles per vector in the steady state" in err and "report.json" in err
    code, out, _ = run(capsys, "sim", plan, "--inputs", tmp_path / "x.npy", "--json", "--backend", "amaranth",
                       "--precharge", "1", "--wordline", "1", "--settle", "1", "--sample", "1")
    r = json.loads(out)
    assert code == 0 and r["report_cycles"] is None
    assert r["macro_energy_pj"] == pytest.approx(report["macro_energy_pj"], rel=1e-12)
    # With a precharge and a wordline phase the `pch` and `wl_en` pulses are the model's precharges and
    # wordline pulses (one per activation); with two elements a beat the inputs and outputs are still
    # counted by the element. Every event from the hardware's counters.
    assert r["counted_by_hardware_as"] == {**HARDWARE_COUNTERS, "precharges": "precharges",
                                           "wordline_pulses": "wordlines"}


def _small_inputs(path, seed=3):
    # Small inputs of both signs, half of them zero (as activations are): the bipolar drive's case.
    rng = np.random.default_rng(seed)
    x = np.where(rng.random((6, 40)) < 0.5, 0, rng.integers(-7, 8, (6, 40)))
    np.save(path, x)
    return x


def test_map_search_picks_the_bipolar_drive_that_rtl_builds_and_sim_runs_bit_exact(tmp_path, capsys):
    """`sws map --inputs X --search 'input_encoding=twos,signmag,bipolar'` picks the input-aware bipolar
    drive for small two-signed inputs; `sws rtl` writes its Verilog (the array interface's drive_neg), and
    `sws sim` runs it: outputs x @ W, the golden model's counters, the counters' macro energy the mapper's
    model of these inputs (exit 0), in Amaranth and in the fastest HDL simulator installed."""
    x = _small_inputs(tmp_path / "x.npy")
    plan = tmp_path / "p"
    code, _, _ = run(capsys, "map", "synthetic:laplace:40x3:2", "--sparsity", "0.6", "--rows", "16", "--cols", "42",
                     "--n-adc", "3", "--inputs", tmp_path / "x.npy", "--search", "input_encoding=twos,signmag,bipolar",
                     "-o", plan, "-q")
    assert code == 0
    lp = load_plan(str(plan)).layers[0]
    assert (lp.cfg.hw.input_encoding, lp.cfg.hw.input_aware) == ("bipolar", True)
    assert run(capsys, "rtl", plan, "-o", tmp_path / "t.v")[0] == 0
    verilog = (tmp_path / "t.v").read_text()
    assert "bus__drive_neg" in verilog
    want = predict(lp, x)
    from sim.verilog_sim import available_backends
    for backend in ["amaranth"] + available_backends()[-1:]:
        code, out, err = run(capsys, "sim", plan, "--inputs", tmp_path / "x.npy", "--json", "--backend", backend)
        r = json.loads(out)
        assert code == 0 and r["match"] is True, (backend, err)
        assert r["outputs"] == (x @ rebuild_weights(lp)).tolist() == want.outputs.tolist()
        assert r["cycles_per_vector"] == want.vector_cycles
        assert r["conversions_by_bits"] == want.conversions and len(want.conversions) == lp.cfg.hw.full_resolution + 2
        assert r["macro_energy_pj"] == pytest.approx(r["model_macro_energy_pj"], rel=1e-12)


def test_a_weight_only_bipolar_plan_simulates_to_its_report(tmp_path, capsys):
    """A weight-only bipolar plan (`--search input_encoding=bipolar`, no inputs): `sws sim` checks the
    counters' macro energy and the cycles against report.json (exit 0), and the ADC energy from the
    counters is the report's."""
    x = _small_inputs(tmp_path / "x.npy", seed=5)
    plan = tmp_path / "p"
    assert run(capsys, "map", "synthetic:laplace:40x3:2", "--sparsity", "0.6", "--rows", "16", "--cols", "42",
               "--n-adc", "3", "--search", "input_encoding=bipolar", "-o", plan, "-q")[0] == 0
    lp = load_plan(str(plan)).layers[0]
    assert (lp.cfg.hw.input_encoding, lp.cfg.hw.input_aware) == ("bipolar", False)
    code, out, err = run(capsys, "sim", plan, "--inputs", tmp_path / "x.npy", "--json", "--backend", "amaranth")
    r = json.loads(out)
    report = json.loads((plan / "report.json").read_text())["layers"][0]
    assert code == 0 and r["match"] is True, err
    assert r["outputs"] == (x @ rebuild_weights(lp)).tolist()
    assert r["report_macro_energy_pj"] == pytest.approx(report["macro_energy_pj"], rel=1e-12)
    assert r["macro_energy_pj"] == pytest.approx(report["macro_energy_pj"], rel=1e-12)
    assert r["energy_pj"] / len(x) == pytest.approx(report["energy_pj"], rel=1e-12)
    assert r["report_cycles"] == [report["latency_cycles"], report["cycles_per_vector"]]


def test_rtl_takes_the_write_handshake_and_power_control_and_refuses_a_wake_without_power(plan_dir, tmp_path, capsys):
    out = tmp_path / "chip.v"
    code, _, _ = run(capsys, "rtl", plan_dir, "--controller-only", "-o", out, "--write-ack", "--power", "--wake", "4",
                     "--guard", "1")
    assert code == 0
    text = out.read_text()
    assert "bus__wr_ack" in text and "bus__sleep" in text
    code, _, err = run(capsys, "rtl", plan_dir, "-o", tmp_path / "x.v", "--wake", "3")
    assert code == 2 and "--wake 3: a wake-up time needs a macro with power control" in err
    assert len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "rtl", plan_dir, "--testbench", tmp_path / "tb", "--power")
    assert code == 2 and "--testbench: the cocotb testbench drives neither" in err
