"""The whole macro around the ADCs (docs/design.md section 4): energy per input vector by component, area and cycles.

Per-operation constants come from one named macro file (mapper/data/isaac_macro.json: the ISAAC tile's
published component figures as Accelergy's ISAAC tables give them, and labelled assumptions where none
does), replaceable by a user file (`EnergyConfig.macro`, `--macro FILE`). Per input vector and layer:

- adc            the conversions, priced by the configuration's ADC model (mapper.config.energy);
- sample_hold    one sample per conversion;
- row_drivers    one 1-bit DAC drive per driven row per plane. A wordline spans its whole crossbar, so the
                 sections that share one row list (natural order: every group's section of a row block) sit
                 side by side in ceil(n / slots_per_crossbar) crossbars and are read under one drive per
                 row; a section with its own row order (sorted, G = 1) drives its rows for itself alone.
                 Only sections with a converted column are driven;
- crossbar       one cell read per cell holding a 1 on a driven row, per plane;
- shift_add      one 16-bit shift-and-add per conversion;
- input_buffer   the vector's K inputs of A bits read from the buffer and moved over the bus, once;
- input_register A bits read per driven row (the gather that feeds the row drivers);
- output_buffer  the N outputs moved over the bus and written to the buffer, once;
- tables         the section, row-index and column table bits the controller reads (docs/design.md
                 section 5); the dense reference is the classic fixed design and reads none.

Area: the ADC bank (n_adc ADCs of the largest resolution the plan converts at, the law's area model),
crossbar cells, row drivers and sample-and-holds per crossbar, one shift-add unit per ADC, the tables and
the input register. Cycles: the controller's exact cycle model (docs/design.md section 6, as
sim/golden.py computes it) at the default lanes, and the ADC bound; time = cycles / clock_hz.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..config import ArrayConfig
from ..config import adc_area
from ..common import SwsError, note_input, read_json
from ..schedule import FLUSH, default_lanes, pipeline_depth
from ..sectioning import lockstep_batches, mux_bound, placements
from ..plan import rom_widths
from ..sectioning import Sectioning

__all__ = ["Macro", "MacroCost", "MACRO_KEYS", "ENERGY_PARTS", "AREA_PARTS", "DEFAULT_MACRO", "load_macro",
           "macro_of", "macro_cost", "row_activations", "cycle_estimate"]

DEFAULT_MACRO = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                             "isaac_macro.json")
ENERGY_PARTS = ("adc", "sample_hold", "row_drivers", "crossbar", "shift_add", "input_buffer", "input_register",
                "output_buffer", "tables")
AREA_PARTS = ("adc_bank", "crossbar_cells", "row_drivers", "sample_hold", "shift_add", "tables", "input_register")


@dataclass(frozen=True)
class Macro:
    """Named per-operation constants: `values[key]` is a number in the unit the macro file states."""

    name: str
    path: str
    values: dict
    sources: dict

    def __getitem__(self, key: str) -> float:
        return self.values[key]


def _read_json(path: str) -> dict:
    return read_json(path, what="macro file")   # a regular file, bounded, JSON within mapper.common.reading's limits


def _constants(d: dict, path: str) -> dict:
    if not isinstance(d, dict) or not isinstance(d.get("constants"), dict):
        raise SwsError(f"{path}: a macro file is a JSON object with a 'constants' object")
    out = {}
    for key, entry in d["constants"].items():
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise SwsError(f"{path}: macro constant {key} must be a finite number >= 0, not {value!r}")
        out[key] = (float(value), entry.get("source", "") if isinstance(entry, dict) else "")
    return out


@lru_cache(maxsize=None)
def _builtin() -> dict:
    return _constants(_read_json(DEFAULT_MACRO), DEFAULT_MACRO)


MACRO_KEYS = tuple(_builtin())


@lru_cache(maxsize=16)
def _load(path: str | None, mtime: float) -> Macro:
    base = _builtin()
    if path is None:
        d = _read_json(DEFAULT_MACRO)
        return Macro(d["name"], DEFAULT_MACRO, {k: v for k, (v, _) in base.items()},
                     {k: s for k, (_, s) in base.items()})
    d = _read_json(path)
    mine = _constants(d, path)
    unknown = sorted(set(mine) - set(base))
    if unknown:
        raise SwsError(f"{path}: unknown macro constants {', '.join(unknown)} (known: {', '.join(base)})")
    if mine.get("clock_hz", (1.0,))[0] <= 0:
        raise SwsError(f"{path}: macro constant clock_hz must be > 0")
    merged = {**base, **mine}
    name = d.get("name") if isinstance(d.get("name"), str) else os.path.basename(path)
    return Macro(name, path, {k: v for k, (v, _) in merged.items()},
                 {k: (s if k not in mine else (s or f"{path}")) for k, (_, s) in merged.items()})


def load_macro(path: str | None = None) -> Macro:
    """The built-in ISAAC macro, or a user file's constants over it (a missing key keeps the built-in value)."""
    if path is None:
        return _load(None, 0.0)
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        raise SwsError(f"{path}: the macro file does not exist") from None
    macro = _load(path, mtime)
    note_input(path)    # an input of the run even when cached: no output may replace it
    return macro


def macro_of(cfg: ArrayConfig) -> Macro:
    return load_macro(cfg.energy.macro)


def row_activations(sec: Sectioning, active: np.ndarray) -> int:
    """Rows driven per plane: sections with one row list share a drive, slots_per_crossbar at a time."""
    cfg = sec.cfg
    idx = np.nonzero(active)[0]
    if not len(idx):
        return 0
    slots = cfg.hw.slots_per_crossbar
    if cfg.mapping.ordering == "natural":   # every group has the same order: a row list is (start, length)
        keys = sec.sec_start[idx].astype(np.int64) * (cfg.hw.rows + 1) + sec.sec_len[idx]
        uniq, counts = np.unique(keys, return_counts=True)
        return int(((-(-counts // slots)) * (uniq % (cfg.hw.rows + 1))).sum())
    shared: dict[bytes, list[int]] = {}
    for s in idx:
        rows = sec.section_rows(int(s))
        entry = shared.setdefault(rows.tobytes(), [len(rows), 0])
        entry[1] += 1
    return int(sum(length * -(-n // slots) for length, n in shared.values()))


def cycle_estimate(sec: Sectioning, res: np.ndarray, lanes: int | None = None) -> dict:
    """Cycles of one vector on the controller, and the ADC bound, from the sectioning and the resolutions.

    The exact cycle model of docs/design.md section 6 (sim.golden.cycle_model computes it from a plan's ROM
    images; tests check that both agree), with the sections in table order and each section's active
    columns widest first (with adc_mux M >= 1: placed by the configuration's placement, and converted in
    lockstep batches, batch k the k-th widest column of each ADC group; the bound is then the busiest
    ADC's sum of resolutions per step, mapper.sectioning.placement). It is the weight-only schedule (every drive step of every section, each column
    at its planned resolution): with `input_aware` hardware the cycles depend on the inputs
    (sim.golden.cycle_model given them), and this is their upper bound, reached when no step is skipped.
    """
    cfg = sec.cfg
    lanes = lanes or default_lanes(cfg.hw.rows)
    k, n = sec.shape
    a_bits, n_adc = cfg.hw.steps, cfg.hw.n_adc
    flat = res.reshape(len(res), int(np.prod(res.shape[1:])))   # (not -1: S may be 0)
    ordered = -np.sort(-flat, axis=1)                               # widest first
    n_active = np.count_nonzero(flat, axis=1)
    batch_sum = ordered[:, ::n_adc].sum(axis=1)                     # a batch lasts its widest column
    last_batch = ordered[np.arange(len(flat)), np.maximum((n_active - 1) // n_adc * n_adc, 0)] \
        if len(flat) else np.zeros(0, np.int64)
    bound = int((a_bits * np.maximum(-(-flat.sum(axis=1) // n_adc), flat.max(axis=1, initial=0))).sum())
    if cfg.hw.adc_mux:     # ADC groups of M columns: lockstep batches of the placed columns (mapper.sectioning.placement)
        m = cfg.hw.adc_mux
        perm = placements(flat, cfg)
        placed = np.zeros_like(flat)
        if len(flat):
            np.put_along_axis(placed, perm, flat, axis=1)
        batches = [lockstep_batches(p, m) for p in placed]
        batch_sum = np.array([sum(b) for b in batches], np.int64)
        last_batch = np.array([b[-1] if b else 0 for b in batches], np.int64)
        bound = int(a_bits * sum(mux_bound(p, m) for p in placed))
    a = 0
    c_prev = l_prev = f_prev = f_last = None
    for s in range(len(flat)):
        nact = int(n_active[s])
        if nact == 0:
            a += 3
            continue
        q = a + 2 if c_prev is None else max(a + 2, c_prev + 1)
        steps = -(-max(int(sec.sec_len[s]), nact) // lanes)
        a = q + steps + 1
        r = q + steps + 5
        c = r if l_prev is None else max(r, l_prev + 1)
        e = c + 1 if f_prev is None else max(c + 1, f_prev)
        total = a_bits * int(batch_sum[s])
        l_prev = e + total - int(last_batch[s])
        f_prev = f_last = e + total
        c_prev = c
    # pipeline_depth and FLUSH: the latencies of mapper.schedule; + 1: the last batch's start leaves the
    # controller through a register (no front phases, counted conversions). tests/mapper/test_macro.py checks
    # that this estimate equals mapper.schedule.cycle_model on the plan's tables.
    depth = pipeline_depth(n_adc)
    run_end = a + 1 if f_last is None else max(f_last + 1 + depth + FLUSH, a + 1)
    return {"cycles": k + run_end + 1 + 1 + n, "adc_bound": bound, "batch_cycles": int(a_bits * batch_sum.sum())}


@dataclass
class MacroCost:
    """What one input vector costs on a mapped layer, as a whole macro (pJ, um^2, cycles)."""

    energy: dict = field(default_factory=dict)     # ENERGY_PARTS -> pJ
    area: dict = field(default_factory=dict)       # AREA_PARTS -> um^2
    cycles: int = 0
    adc_bound_cycles: int = 0
    row_activations: int = 0                        # rows driven per plane
    cell_reads: int = 0                             # per vector, all planes

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy.values()))

    @property
    def area_um2(self) -> float:
        return float(sum(self.area.values()))

    def __add__(self, other: "MacroCost") -> "MacroCost":
        return MacroCost({k: self.energy.get(k, 0.0) + other.energy.get(k, 0.0) for k in ENERGY_PARTS},
                         {k: self.area.get(k, 0.0) + other.area.get(k, 0.0) for k in AREA_PARTS},
                         self.cycles + other.cycles, self.adc_bound_cycles + other.adc_bound_cycles,
                         self.row_activations + other.row_activations, self.cell_reads + other.cell_reads)


def macro_cost(sec: Sectioning, res: np.ndarray, adc_pj: float, *, tables: bool = True,
               cycles: bool = True) -> MacroCost:
    """The macro energy breakdown, area and cycles of one layer's plan (see the module docstring).

    Parameters
    ----------
    sec, res
        The sectioning and its (S, G, 2, Bm) resolutions (0: not converted), as mapper.sectioning.mapping makes them.
    adc_pj : float
        The plan's ADC energy per vector (mapper.sectioning.mapping.Cost.energy_pj), under the configuration's law.
    tables : bool
        The plan reads section, row-index and column tables (False for the dense reference design).
    cycles : bool
        Run the cycle model (a loop over the sections).
    """
    cfg = sec.cfg
    m = macro_of(cfg)
    k, n = sec.shape
    a_bits, steps = cfg.hw.input_bits, cfg.hw.steps
    flat = res.reshape(len(res), int(np.prod(res.shape[1:])))   # (not -1: a layer with no sections has S = 0)
    active = (flat > 0).any(axis=1)
    conversions = int(steps * np.count_nonzero(flat))
    rows = row_activations(sec, active)
    cells = int(steps * sec.counts[active].sum())
    table_bits = 0
    if tables:
        w = rom_widths(cfg.hw, sec.shape, int(sec.sec_len.sum()), int(np.count_nonzero(flat)))
        table_bits = (len(res) * sum(w["sections"].values()) + int(sec.sec_len[active].sum()) * w["rows"]["index"]
                      + int(np.count_nonzero(flat)) * sum(w["columns"].values()))
    io = m["buffer_pj_per_bit"] + m["bus_pj_per_bit"]
    energy = {
        "adc": float(adc_pj),
        "sample_hold": conversions * m["sample_hold_pj"],
        "row_drivers": rows * steps * m["dac_pj_per_row_plane"],
        "crossbar": cells * m["cell_read_pj"],
        "shift_add": conversions * m["shift_add_pj"],
        "input_buffer": k * a_bits * io,
        "input_register": rows * a_bits * m["register_pj_per_bit"],
        "output_buffer": n * m["output_bits"] * io,
        "tables": table_bits * m["register_pj_per_bit"],
    }
    crossbars = -(-len(res) // cfg.hw.slots_per_crossbar)
    top = int(flat.max(initial=0))
    stored = 0
    if tables:
        w = rom_widths(cfg.hw, sec.shape, int(sec.sec_len.sum()), int(np.count_nonzero(flat)))
        stored = (len(res) * sum(w["sections"].values()) + int(sec.sec_len.sum()) * w["rows"]["index"]
                  + int(np.count_nonzero(flat)) * sum(w["columns"].values()))
    area = {
        "adc_bank": cfg.hw.n_adc * float(adc_area(cfg, top)) if top else 0.0,
        "crossbar_cells": crossbars * cfg.hw.rows * cfg.hw.cols * m["cell_area_um2"],
        "row_drivers": crossbars * cfg.hw.rows * m["dac_area_um2_per_row"],
        "sample_hold": crossbars * cfg.hw.cols * m["sample_hold_area_um2_per_column"],
        "shift_add": cfg.hw.n_adc * m["shift_add_area_um2"],
        "tables": stored * m["table_area_um2_per_bit"],
        "input_register": k * a_bits * m["register_area_um2_per_bit"],
    }
    cyc = cycle_estimate(sec, res) if cycles else {"cycles": 0, "adc_bound": 0}
    return MacroCost(energy, area, cyc["cycles"], cyc["adc_bound"], rows, cells)
