"""Design-space exploration: a grid of weight sources x configuration fields x sparsity, mapped point by point
on a local process pool or a Dask cluster, every point cached by the hash of its inputs, results as a tidy table
and Pareto plots.

The spec (YAML or JSON; docs/guide/explore.md):

    weights: minilm                                  # one source or a list (models)
    layers: [L0.ffn.in, L0.ffn.out]                  # optional: only these layers (every source has them)
    grid:                                            # each value a list (or one value): the axes
      rows: [64, 128]
      n_adc: [8, 16]
      law: [walden, thermal]
      sparsity: [0.5, 0.9]
      ordering: [sorted, natural]
    config: {input_bits: 8}                          # optional: fields fixed for every point
    per_channel: false

Grid and config keys are `sparsity` and the fields of `ArrayConfig` (docs/design.md section 0). A point's
result is the `total` row of its report (mapper.cost.report.report_dict), so fields added to the report
(area, latency) appear as columns without a change here.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import hashlib
import io
import itertools
import json
import math
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.common import atomic_path, claim_dir, parse_json, parse_yaml, read_text, write_atomic
from mapper.prepare import check_sparsity, prepare_layers
from mapper.cost import map_layers, report_dict
from mapper.sources import check_source, load_weights

__all__ = ["load_spec", "grid_points", "point_key", "run_point", "explore", "pareto_front", "plot_pareto",
           "EXPLORE_VERSION"]

#: Part of every point's hash: bump it when a change to the mapper changes results, so caches are not reused.
EXPLORE_VERSION = 1
_SPEC_KEYS = {"weights", "layers", "grid", "config", "per_channel", "synthesis"}


#: Most points a grid may have: counted from the axes before anything is expanded (each point maps at least
#: one layer, some seconds each, so 100000 points are already days of work).
MAX_POINTS = 100_000
#: The keys a grid or config may name: the configuration's fields, and sparsity (grid only).
_CONFIG_KEYS = frozenset(f.name for part in (ArrayConfig().hw, ArrayConfig().mapping, ArrayConfig().energy)
                         for f in dataclasses.fields(part))


def _fail(path: str, key: str, value, rule: str):
    raise SwsError(f"{path}: {key} = {value!r:.80}: {rule}")


def _read(path: str):
    """The spec's value, read through mapper.common.reading: a regular file of at most MAX_TEXT_BYTES, JSON
    or YAML within the depth, size and alias-expansion bounds."""
    text = read_text(path, what="spec")
    if path.endswith(".json"):
        return parse_json(text, path)
    try:
        import yaml  # noqa: F401
    except ImportError:
        raise SwsError(f"{path}: a YAML spec needs PyYAML (the 'explore' extra: pip install -e '.[explore]'), "
                       f"or write the spec as .json") from None
    return parse_yaml(text, path)


def load_spec(path: str) -> dict:
    """Read and check a YAML or JSON spec; SwsError naming the file, key, value and rule.

    Every value is checked against its type before use (per_channel is true or false, not a string that
    looks like one), the grid is counted before it is expanded (at most MAX_POINTS), every point's
    configuration is checked, and every weight source is opened and checked (mapper.sources.check_source),
    so that a bad spec is refused before the output folder exists."""
    spec = _read(path)
    if not isinstance(spec, dict):
        _fail(path, "spec", spec, "must be a mapping with 'weights' and 'grid'")
    unknown = sorted(set(spec) - _SPEC_KEYS)
    if unknown:
        _fail(path, unknown[0], spec[unknown[0]], f"unknown key (known: {', '.join(sorted(_SPEC_KEYS))})")
    weights = spec.get("weights")
    weights = [weights] if isinstance(weights, str) else weights
    if not isinstance(weights, list) or not weights or not all(isinstance(w, str) and w for w in weights):
        _fail(path, "weights", spec.get("weights"), "must be a weight source or a non-empty list of them")
    grid = spec.get("grid") or {}
    if not isinstance(grid, dict):
        _fail(path, "grid", grid, "must be a mapping of axis -> list of values")
    grid = {k: (list(v) if isinstance(v, (list, tuple)) else [v]) for k, v in grid.items()}
    for k, v in grid.items():
        if not v:
            _fail(path, f"grid.{k}", v, "an axis needs at least one value")
    config = spec.get("config") or {}
    if not isinstance(config, dict):
        _fail(path, "config", config, "must be a mapping of configuration fields")
    for where, keys, allowed in (("grid", grid, _CONFIG_KEYS | {"sparsity"}), ("config", config, _CONFIG_KEYS)):
        bad = sorted(set(keys) - allowed)
        if bad:
            _fail(path, f"{where}.{bad[0]}", keys[bad[0]], f"unknown configuration keys: {', '.join(bad)}")
    layers = spec.get("layers")
    if layers is not None and (not isinstance(layers, list) or not layers or
                               not all(isinstance(x, str) for x in layers)):
        _fail(path, "layers", layers, "must be a non-empty list of layer names")
    per_channel = spec.get("per_channel", False)
    if not isinstance(per_channel, bool):
        _fail(path, "per_channel", per_channel, "must be true or false")
    if spec.get("synthesis"):
        _fail(path, "synthesis", spec["synthesis"], "synthesis per point is not supported yet (run `sws synth` "
                                                    "on the points of interest)")
    count = len(weights) * math.prod(len(v) for v in grid.values())
    if count > MAX_POINTS:
        raise SwsError(f"{path}: the grid has {count} points ({len(weights)} sources x "
                       f"{' x '.join(f'{len(v)} {k}' for k, v in grid.items())}), more than the {MAX_POINTS} "
                       f"a run may have: split it into smaller grids")
    out = {"weights": list(weights), "layers": layers, "grid": grid, "config": config,
           "per_channel": per_channel, "path": path}
    for p in grid_points(out):   # every configuration is checked before anything runs
        try:
            ArrayConfig(**p["config"])
            check_sparsity(p["sparsity"])
        except SwsError as e:
            raise SwsError(f"{path}: the point {_label(p)}: {e}") from None
    for source in dict.fromkeys(weights):
        try:
            check_source(source)
            if layers is not None:      # the names exist in every source (read once, as a point reads it)
                _layers(source, tuple(layers))
        except SwsError as e:
            raise SwsError(f"{path}: weights: {e}") from None
    return out


def grid_points(spec: dict) -> list[dict]:
    """The cartesian product of the sources and the grid's axes, in spec order (the last axis fastest)."""
    axes = list(spec["grid"].items())
    points = []
    for weights in spec["weights"]:
        for values in itertools.product(*(v for _, v in axes)):
            fields = dict(spec["config"])
            fields.update(zip((k for k, _ in axes), values))
            sparsity = fields.pop("sparsity", 0.0)
            points.append({"weights": weights, "layers": spec.get("layers"), "sparsity": sparsity,
                           "per_channel": spec.get("per_channel", False), "config": fields})
    return points


def _label(p: dict) -> str:
    return ", ".join([p["weights"], f"sparsity={p['sparsity']!r:.40}"] +
                     [f"{k}={v!r:.40}" for k, v in p["config"].items()])


@functools.lru_cache(maxsize=64)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def point_key(p: dict) -> str:
    """The hash of everything a point's result depends on: source (a file by its contents), layers, the full
    configuration (defaults included), sparsity, per-channel and EXPLORE_VERSION."""
    source = p["weights"]
    if os.path.isfile(source):
        st = os.stat(source)
        source = {"file": os.path.basename(source), "sha256": _file_digest(os.path.abspath(source), st.st_mtime_ns,
                                                                             st.st_size)}
    inputs = {"version": EXPLORE_VERSION, "source": source, "layers": p["layers"], "sparsity": float(p["sparsity"]),
              "per_channel": bool(p["per_channel"]), "config": ArrayConfig(**p["config"]).to_dict()}
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:32]


@functools.lru_cache(maxsize=4)
def _layers(source: str, names: tuple | None):
    layers = load_weights(source)
    if names is None:
        return layers
    have = {l.name: l for l in layers}
    missing = [n for n in names if n not in have]
    if missing:
        raise SwsError(f"{source}: no layer {missing[0]!r} (it has {', '.join(list(have)[:6])}"
                       f"{', ...' if len(have) > 6 else ''})")
    return [have[n] for n in names]


def run_point(p: dict) -> dict:
    """Map one point; its row: the inputs (`source`, `layers` mapped, `sparsity`, the grid's fields), then the
    scalar fields of the report's total (its `sparsity` as `achieved_sparsity`)."""
    cfg = ArrayConfig(**p["config"])
    layers = _layers(p["weights"], None if p["layers"] is None else tuple(p["layers"]))
    quant = prepare_layers(layers, cfg, p["sparsity"], per_channel=p["per_channel"])
    report = report_dict(map_layers(quant, cfg), cfg, source=p["weights"], sparsity=p["sparsity"],
                         per_channel=p["per_channel"])
    row = {"source": p["weights"], "layers": len(layers), "sparsity": p["sparsity"], **p["config"]}
    for k, v in report["total"].items():
        if k in ("name", "shape"):
            continue
        if isinstance(v, (bool, int, float, str)) or v is None:
            row["achieved_sparsity" if k == "sparsity" else k] = v
    return row


def _cached(out: str, cache: str, key: str) -> dict | None:
    """A point's row from the cache, read as a file of the output folder (never through a link out of it);
    anything but a row of scalars (a damaged or planted file) is a miss, and the point runs again."""
    path = os.path.join(cache, key + ".json")
    if not os.path.lexists(path):
        return None
    try:
        row = parse_json(read_text(path, what="cached point", limit=1 << 20, folder=out), path)
    except SwsError:
        return None
    ok = isinstance(row, dict) and all(isinstance(v, (str, int, float, bool)) or v is None for v in row.values())
    return row if ok else None


def _run_local(todo: list, workers: int):
    # Workers forked from a fork server, not from this process: a fork of a multithreaded process (JAX,
    # onnxruntime or BLAS threads, as in a test run or a notebook that used them) can deadlock the child.
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("forkserver")) as pool:
        futures = {pool.submit(run_point, p): i for i, p in todo}
        for fut in as_completed(futures):
            yield futures[fut], fut.result()


def _run_dask(todo: list, scheduler: str, keys: dict):
    try:
        from distributed import Client, as_completed as dask_completed
    except ImportError:
        raise SwsError("--scheduler needs Dask's distributed (the 'explore' extra: pip install -e '.[explore]')") \
            from None
    try:
        client = Client(scheduler, timeout=30)
    except (OSError, TimeoutError) as e:
        raise SwsError(f"--scheduler {scheduler}: cannot connect to the Dask scheduler ({e})") from None
    try:
        futures = {client.submit(run_point, p, key=f"sws-explore-{keys[i]}", pure=False): i for i, p in todo}
        for fut in dask_completed(futures):
            yield futures[fut], fut.result()
    finally:
        client.close()


def explore(spec: dict, out: str, *, workers: int | None = None, scheduler: str | None = None,
            plots: bool = True, progress=None) -> list[dict]:
    """Run every point of the spec not already in `out`/cache; write results.csv (and .parquet, and plots).

    Parameters
    ----------
    spec : dict
        From `load_spec`.
    out : str
        Output folder; its `cache/` keeps one JSON per point, named by `point_key`, so a run resumes.
    workers : int, optional
        Local worker processes (default: the CPU count). Ignored with `scheduler`.
    scheduler : str, optional
        Address of a running Dask scheduler (`tcp://host:8786`): the points run on its workers.
    plots : bool
        Draw the Pareto plots (needs matplotlib).
    progress : callable or None
        progress(done, total, text): points done of all, and how many came from the cache.

    Returns
    -------
    list of dict
        One row per point, in grid order, the same whichever way they ran.
    """
    points = grid_points(spec)
    keys = {i: point_key(p) for i, p in enumerate(points)}
    claim_dir(out)   # filled point by point, and resumed: marked as sws's from the start
    cache = os.path.join(out, "cache")
    if os.path.islink(cache) or (os.path.lexists(cache) and not os.path.isdir(cache)):
        raise SwsError(f"{cache}: the cache of the output folder must be a folder, not a link or a file")
    os.makedirs(cache, exist_ok=True)
    rows: dict[int, dict] = {}
    for i in range(len(points)):
        hit = _cached(out, cache, keys[i])
        if hit is not None:
            rows[i] = hit
    todo = [(i, p) for i, p in enumerate(points) if i not in rows]
    n_cached = len(rows)
    if progress:
        progress(len(rows), len(points), f"{n_cached} cached")
    if todo:
        runner = _run_dask(todo, scheduler, keys) if scheduler else _run_local(todo, workers or os.cpu_count() or 1)
        for i, row in runner:
            write_atomic(os.path.join(cache, keys[i] + ".json"), json.dumps(row), within=out)
            rows[i] = row
            if progress:
                progress(len(rows), len(points), f"{n_cached} cached")
    ordered = [rows[i] for i in range(len(points))]
    _write_tables(ordered, out)
    if plots:
        plot_pareto(ordered, out)
    return ordered


def _columns(rows: list[dict]) -> list[str]:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    return cols


def _write_tables(rows: list[dict], out: str) -> None:
    cols = _columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_atomic(os.path.join(out, "results.csv"), buf.getvalue(), within=out)
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        return
    table = pa.table({c: [r.get(c) for r in rows] for c in cols})
    with atomic_path(os.path.join(out, "results.parquet"), within=out) as tmp:
        pq.write_table(table, tmp)


def pareto_front(xs, ys) -> list[int]:
    """Indices of the points no other point beats on both (smaller x and y), by ascending x."""
    order = sorted(range(len(xs)), key=lambda i: (xs[i], ys[i]))
    front, best = [], float("inf")
    for i in order:
        if ys[i] < best:
            front.append(i)
            best = ys[i]
    return front


#: The report's area and latency fields (mapper.cost.macro), the cost axes of the Pareto plots.
AREA_LATENCY = ("area_um2", "cycles_per_vector")


def _cost_axes(rows: list[dict]) -> list[str]:
    """Area and latency fields when the report has them, else the crossbars and ROM bits it always has."""
    cols = _columns(rows)
    found = [c for c in AREA_LATENCY if c in cols]
    return found or ["crossbars", "rom_bits"]


def plot_pareto(rows: list[dict], out: str) -> list[str]:
    """pareto_<x>.png: energy per vector against each cost axis, every point by source, the front drawn."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    written = []
    for x in _cost_axes(rows):
        pts = [r for r in rows if isinstance(r.get(x), (int, float)) and isinstance(r.get("energy_pj"), (int, float))]
        if not pts:
            continue
        fig, ax = plt.subplots(figsize=(6, 4.2))
        for source in dict.fromkeys(r["source"] for r in pts):
            mine = [r for r in pts if r["source"] == source]
            ax.scatter([r[x] for r in mine], [r["energy_pj"] for r in mine], s=14, alpha=0.7, label=source)
        front = pareto_front([r[x] for r in pts], [r["energy_pj"] for r in pts])
        ax.plot([pts[i][x] for i in front], [pts[i]["energy_pj"] for i in front], "ko-", mfc="none", ms=9, lw=1, label="Pareto front")
        if min(r["energy_pj"] for r in pts) > 0:
            ax.set_yscale("log")   # a grid's energies span decades (sparsity, law)
        ax.set_xlabel(x)
        ax.set_ylabel("ADC energy per input vector (pJ)")
        ax.set_title(f"energy against {x}")
        ax.legend(fontsize=7)
        fig.tight_layout()
        path = os.path.join(out, f"pareto_{x}.png")
        try:
            with atomic_path(path, within=out) as tmp:    # an interrupt while drawing leaves no temporary
                fig.savefig(tmp, dpi=120, format="png")
        finally:
            plt.close(fig)
        written.append(path)
    return written
