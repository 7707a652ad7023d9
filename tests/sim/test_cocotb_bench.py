"""The cocotb testbench that `sws rtl --testbench` ships, run as a verification engineer would (its own
run.py, in a fresh process, nothing of the project on its path), in Verilator and Icarus, on random plans:
a baked tile with B = 1 and with B = 4 banks (W = 4 elements a beat, partial last beats), a generic
tile programmed over Wishbone, and a baked tile on input-aware bipolar hardware. A tampered golden value must make it fail."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from sws.cli import main
from tests.support import need_module, need_tools, once_per_run

SIMS = ("icarus", "verilator")


def _bench(tmp_path, name, map_args, rtl_args):
    plan = tmp_path / f"plan-{name}"
    assert main(["map", *map_args, "-o", str(plan)]) == 0
    folder = tmp_path / f"tb-{name}"
    assert main(["rtl", str(plan), "--testbench", str(folder), *rtl_args]) == 0
    return folder


def _shared_bench(tmp_path_factory, tmp_path, name):
    """A copy of CASES[name]'s bench, mapped and written once a run for both simulators' tests (each runs in
    its own copy: run.py builds in its folder)."""
    made = once_per_run(tmp_path_factory, f"cocotb-bench-{name}",
                        lambda folder: str(_bench(folder, name, *CASES[name])))
    return shutil.copytree(made, tmp_path / f"tb-{name}")


def _run(folder, sim):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    return subprocess.run([sys.executable, "run.py", "--sim", sim], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=1800)


def _needs(sim):
    need_module("cocotb", "cocotb")
    need_module("cocotbext.axi", "cocotb")
    need_tools(*(("iverilog", "vvp") if sim == "icarus" else ("verilator",)), why=f"the cocotb bench in {sim}")


CASES = {
    # name: (sws map arguments, sws rtl arguments)
    "baked-b1": (["synthetic:laplace:40x3:5", "--sparsity", "0.6", "--rows", "16", "--cols", "42", "--n-adc", "3"],
                 ["--vectors", "3", "--seed", "5"]),
    "baked-b4": (["synthetic:laplace:36x6:7", "--sparsity", "0.5", "--rows", "16", "--cols", "42", "--n-adc", "3",
                  "--banks", "4", "--beat", "4"], ["--vectors", "3", "--seed", "7"]),
    "generic-wishbone": (["synthetic:laplace:24x4:9", "--sparsity", "0.5", "--rows", "16", "--cols", "42",
                          "--n-adc", "2"], ["--generic", "--bus", "wishbone", "--vectors", "2", "--seed", "9"]),
    "baked-pipelined": (["synthetic:laplace:20x3:11", "--sparsity", "0.4", "--rows", "16", "--cols", "42",
                         "--n-adc", "3"], ["--bus", "wishbone-pipelined", "--vectors", "2", "--seed", "11"]),
    # The bipolar drive: drive_neg and signed codes one bit wider, conversion counters up to 6 bits (R = 16).
    "baked-bipolar": (["synthetic:laplace:40x3:13", "--sparsity", "0.6", "--rows", "16", "--cols", "42", "--n-adc",
                       "3", "--input-encoding", "bipolar", "--input-aware"], ["--vectors", "3", "--seed", "13"]),
}
#: Each case in both simulators, but the pipelined Wishbone variant in Icarus only (the bus adapter differs).
RUNS = [(c, s) for c in CASES for s in SIMS if c != "baked-pipelined" or s == "icarus"]


@pytest.mark.slow
@pytest.mark.parametrize("case, sim", RUNS)
def test_shipped_cocotb_bench_passes_on_random_plans(tmp_path_factory, tmp_path, case, sim):
    _needs(sim)
    folder = _shared_bench(tmp_path_factory, tmp_path, case)
    r = _run(folder, sim)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    assert f"{sim}: 5 passed, 0 failed" in r.stdout


@pytest.mark.slow
def test_shipped_bench_fails_on_a_wrong_golden_value(tmp_path):
    _needs("icarus")
    folder = _bench(tmp_path, "tampered", *CASES["baked-b1"])
    bench = json.loads((folder / "bench.json").read_text())
    bench["runs"]["stall_free"]["outputs"][0][0] += 1
    bench["runs"]["stall_free"]["counters"]["cycles"] += 1
    (folder / "bench.json").write_text(json.dumps(bench))
    r = _run(folder, "icarus")
    assert r.returncode != 0
    # The stall-free, TLAST and error-and-clear tests use those values; the bubbles and timing tests do not.
    assert "icarus: 2 passed, 3 failed" in r.stdout, r.stdout[-2000:] + r.stderr[-2000:]


def test_testbench_folder_has_everything_to_run_without_the_project(tmp_path):
    folder = _bench(tmp_path, "files", *CASES["baked-b1"])
    names = set(os.listdir(folder))
    assert {"sws_soc.v", "regmap.json", "bench.json", "test_sws_soc.py", "run.py", "sws_soc.sdc",
            "sws_soc.regs.h", "sws_soc.regs.md"} <= names
    for script in ("test_sws_soc.py", "run.py"):
        text = (folder / script).read_text()
        assert "import mapper" not in text and "from sim" not in text and "import hwgen" not in text
    bench = json.loads((folder / "bench.json").read_text())
    # The golden outputs are x @ W of the plan's weights.
    from mapper.plan import load_plan, rebuild_weights
    import numpy as np
    lp = load_plan(str(tmp_path / "plan-files")).layers[0]
    x = np.array(bench["runs"]["stall_free"]["inputs"])
    assert bench["runs"]["stall_free"]["outputs"] == (x @ rebuild_weights(lp)).tolist()
    assert bench["runs"]["stall_free"]["counters"]["vectors"] == 3


def test_testbench_refuses_bad_arguments_in_one_line(tmp_path, capsys):
    plan = tmp_path / "p"
    assert main(["map", *CASES["baked-b1"][0], "-o", str(plan)]) == 0
    code = main(["rtl", str(plan), "--testbench", str(tmp_path / "tb"), "--vectors", "0"])
    assert code == 2 and "--vectors must be an integer from 1 to 256, not 0" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    code = main(["rtl", str(plan), "--testbench", str(tmp_path / "file")])
    assert code == 2 and "exists and is not a folder" in capsys.readouterr().err


def test_rtl_bus_writes_the_wrapper_its_register_map_and_constraints(tmp_path, capsys):
    plan = tmp_path / "p"
    assert main(["map", *CASES["baked-b1"][0], "-o", str(plan)]) == 0
    out = tmp_path / "chip.v"
    assert main(["rtl", str(plan), "--bus", "wishbone", "--controller-only", "--clock", "200", "-o", str(out)]) == 0
    text = out.read_text()
    assert "module sws_soc_controller(" in text
    for port in ("wb_cyc", "wb_ack", "s_axis_tlast", "m_axis_tkeep", "irq", "bus__adc__0__start", "bus__wl_en"):
        assert f" {port};" in text, port
    sdc = (tmp_path / "chip.sdc").read_text()
    assert "create_clock -name clk -period 5.000 [get_ports clk]" in sdc and "bus__*adc__*__start" in sdc
    regs = json.loads((tmp_path / "chip.regs.json").read_text())
    assert regs["bus"] == "wishbone" and "#define SWS_SOC_ID_OFFSET 0x000u" in (tmp_path / "chip.regs.h").read_text()
    # Every register field has a port behind it (guard, write busy, power): none is marked unwired.
    regs_md = (tmp_path / "chip.regs.md").read_text()
    assert "NOT WIRED YET" not in regs_md and "| TIMING_GUARD |" in regs_md
