"""`sws explore`: a 24-point grid run on a local pool and on a two-worker Dask LocalCluster gives the same rows,
each equal to the report of that point mapped directly; points are cached and a run resumes."""

import json
import os

import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.cost import map_source, report_dict
from sws.cli import main
from sws.experiments.explore import explore, grid_points, load_spec, pareto_front
from tests.support import need_module

SPEC = {"weights": ["synthetic:laplace:96x64", "synthetic:gauss:64x40:1"],
        "grid": {"rows": [32, 64], "law": ["walden", "thermal"], "sparsity": [0.5, 0.8, 0.9]},
        "config": {"n_adc": 8}}


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(SPEC))
    return load_spec(str(path))


def test_the_grid_is_the_product_of_sources_and_axes(spec):
    points = grid_points(spec)
    assert len(points) == 24
    assert points[0] == {"weights": "synthetic:laplace:96x64", "layers": None, "sparsity": 0.5, "per_channel": False,
                         "config": {"n_adc": 8, "rows": 32, "law": "walden"}}
    assert points[-1]["weights"] == "synthetic:gauss:64x40:1" and points[-1]["sparsity"] == 0.9


def test_local_pool_rows_are_the_reports_of_each_point(spec, tmp_path):
    rows = explore(spec, str(tmp_path / "out"), workers=2, plots=False, progress=None)
    assert len(rows) == 24
    for row, p in zip(rows, grid_points(spec)):
        cfg = ArrayConfig(**p["config"])
        total = report_dict(map_source(p["weights"], cfg, p["sparsity"]), cfg, source=p["weights"],
                            sparsity=p["sparsity"])["total"]
        assert (row["source"], row["rows"], row["law"], row["sparsity"]) == \
            (p["weights"], p["config"]["rows"], p["config"]["law"], p["sparsity"])
        assert row["energy_pj"] == total["energy_pj"] and row["crossbars"] == total["crossbars"]
        assert row["rom_bits"] == total["rom_bits"] and row["weights"] == total["weights"]
    lines = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(lines) == 25 and lines[0].startswith("source,layers,sparsity,n_adc,rows,law,achieved_sparsity,")


def test_a_run_resumes_from_the_cache(spec, tmp_path):
    out = tmp_path / "out"
    first = explore(spec, str(out), workers=1, plots=False, progress=None)
    cache = sorted((out / "cache").iterdir())
    assert len(cache) == 24
    os.unlink(cache[3])
    seen = []
    again = explore(spec, str(out), workers=1, plots=False, progress=lambda d, n, c: seen.append((d, n, c)))
    assert again == first
    assert seen[0] == (23, 24, "23 cached") and seen[-1] == (24, 24, "23 cached")


def test_a_two_worker_dask_cluster_gives_the_same_rows(spec, tmp_path):
    distributed = need_module("distributed", "explore")
    local = explore(spec, str(tmp_path / "local"), workers=2, plots=False, progress=None)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        remote = explore(spec, str(tmp_path / "dask"), scheduler=cluster.scheduler_address, plots=False, progress=None)
    assert remote == local
    assert (tmp_path / "dask" / "results.csv").read_text() == (tmp_path / "local" / "results.csv").read_text()


def test_pareto_front_keeps_the_points_nothing_beats_on_both_axes():
    xs = [1, 2, 3, 4, 2, 5]
    ys = [9, 5, 6, 1, 7, 1]
    assert pareto_front(xs, ys) == [0, 1, 3]


@pytest.mark.parametrize("bad, message", [
    ({"weights": "synthetic:laplace:8x8", "grid": {"rows": [0]}}, r"the point .*rows=0: rows must be"),
    ({"weights": "synthetic:laplace:8x8", "grid": {"sparsity": [1.5]}}, r"sparsity must be a number in \[0, 1\)"),
    ({"weights": "synthetic:laplace:8x8", "grid": {"bogus": [1]}}, "unknown configuration keys: bogus"),
    ({"weights": [], "grid": {}}, r"weights = \[\]: must be a weight source"),
    ({"weights": "synthetic:laplace:8x8", "gird": {}}, r"gird = \{\}: unknown key"),
])
def test_a_bad_spec_is_refused_naming_the_file_and_the_rule(tmp_path, capsys, bad, message):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(SwsError, match=message):
        load_spec(str(path))
    assert main(["explore", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sws: error: ") and "bad.json" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_the_command_writes_the_table_and_plots(tmp_path, capsys):
    need_module("matplotlib", "plots")
    need_module("yaml", "explore")
    path = tmp_path / "s.yaml"
    path.write_text("weights: synthetic:laplace:64x32\ngrid:\n  rows: [32, 64]\n  sparsity: [0.5, 0.9]\n")
    assert main(["explore", str(path), "--workers", "1", "-o", str(tmp_path / "o")]) == 0
    assert "4 points" in capsys.readouterr().out
    assert {"results.csv", "pareto_area_um2.png", "pareto_cycles_per_vector.png"} <= set(os.listdir(tmp_path / "o"))


def test_local_workers_are_not_forked_from_the_calling_process(tmp_path, capsys, monkeypatch):
    """A fork of a multithreaded process (JAX, onnxruntime, BLAS threads) can deadlock the child: the local
    workers come from a fork server, so the calling process itself never forks (os.fork made to fail here)."""
    need_module("yaml", "explore")

    def no_fork():
        raise AssertionError("the calling process forked")

    path = tmp_path / "s.yaml"
    path.write_text("weights: synthetic:laplace:32x16\ngrid:\n  rows: [16, 32]\n")
    monkeypatch.setattr(os, "fork", no_fork)
    assert main(["explore", str(path), "--workers", "2", "--no-plots", "-o", str(tmp_path / "o")]) == 0
    assert "2 points" in capsys.readouterr().out
