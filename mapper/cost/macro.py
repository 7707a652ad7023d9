"""The whole macro around the ADCs (docs/design.md section 4): the events of a plan priced by component, its
area, and its cycles.

The events are counted by the one event model, mapper.schedule.events, on the controller's schedule
(mapper.schedule: the cycles with banks, stream beats and double buffering); nothing is counted here. Per-
operation constants come from one named macro file (mapper/data/isaac_macro.json: the ISAAC tile's
published component figures as Accelergy's ISAAC tables give them, and labelled assumptions where none
does), replaceable by a user file (`EnergyConfig.macro`, `--macro FILE`). Each event is priced once:

- adc            conversions at b bits times E(b), the configuration's ADC model (mapper.config.energy);
- sample_hold    sample_holds (one per conversion);
- row_drivers    row_drives (a section's rows, per wordline activation) times the DAC's energy per row and
                 plane, scaled by the columns the wordline spans over ISAAC's 128 (segmented wordlines,
                 hardware wordline_slots: an assumption); wordline pulses and precharges are not priced on
                 their own (ISAAC's DAC figure is the row's drive; no published precharge figure);
- crossbar       cell_reads (1-cells on a driven row, per activation);
- shift_add      shift_adds (one 16-bit shift-and-add per conversion);
- input_buffer   inputs: A bits each read from the eDRAM buffer and moved over the bus;
- input_register gathered_rows: A bits each read from the input register into the row drivers;
- output_buffer  outputs: 16 bits each moved over the bus and written to the buffer;
- tables         the section, row-index and column words read (sections, gathered_rows, column_words) at
                 their widths (docs/design.md section 5); the dense reference is the classic fixed design
                 and reads none.

Area: the ADC banks (banks x n_adc ADCs of the largest resolution the plan converts at, the law's area
model), crossbar cells, row drivers (one per row, and one per row and extra wordline segment) and
sample-and-holds per crossbar, one shift-add unit per ADC, the tables, and the input register (two vectors
when double-buffered). Time = cycles / clock_hz.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from ..config import ArrayConfig, adc_area, energy_table
from ..common import SwsError, note_input, read_json
from ..plan import LayerPlan, build_layer_plan
from ..schedule import Events, ScheduleParams, default_lanes, events_of_schedule, schedule
from ..sectioning import LayerMap

__all__ = ["redundant_macro_cost", "Macro", "MacroCost", "MACRO_KEYS", "ENERGY_PARTS", "AREA_PARTS", "DEFAULT_MACRO", "load_macro",
           "macro_of", "macro_cost", "plan_cost", "price_events", "macro_area", "section_ones"]

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


def price_events(events: Events, cfg: ArrayConfig, widths: dict | None = None) -> dict:
    """The energy (pJ) of the events by component (ENERGY_PARTS), totals over their vectors. `widths`:
    the plan's ROM field widths (mapper.plan.rom_widths), None for a design that reads no tables."""
    m = macro_of(cfg)
    hw = cfg.hw
    e = energy_table(cfg, len(events.conversions) - 1)
    io = m["buffer_pj_per_bit"] + m["bus_pj_per_bit"]
    table_bits = 0
    if widths is not None:
        table_bits = (events.sections * sum(widths["sections"].values()) + events.gathered_rows
                      * widths["rows"]["index"] + events.column_words * sum(widths["columns"].values()))
    return {
        "adc": float(np.dot(events.conversions, e)),
        "sample_hold": events.sample_holds * m["sample_hold_pj"],
        "row_drivers": events.row_drives * m["dac_pj_per_row_plane"] * hw.wordline_columns / m["dac_columns"],
        "crossbar": events.cell_reads * m["cell_read_pj"],
        "shift_add": events.shift_adds * m["shift_add_pj"],
        "input_buffer": events.inputs * hw.input_bits * io,
        "input_register": events.gathered_rows * hw.input_bits * m["register_pj_per_bit"],
        "output_buffer": events.outputs * m["output_bits"] * io,
        "tables": table_bits * m["register_pj_per_bit"],
    }


def macro_area(cfg: ArrayConfig, n_sections: int, top_bits: int, stored_bits: int, k: int) -> dict:
    """Area (um^2) by component (AREA_PARTS) of a layer of `n_sections` sections whose widest conversion is
    `top_bits`, with `stored_bits` table bits and K inputs."""
    m = macro_of(cfg)
    hw = cfg.hw
    crossbars = -(-n_sections // hw.slots_per_crossbar)
    adcs = hw.banks * hw.n_adc
    return {
        "adc_bank": adcs * float(adc_area(cfg, top_bits)) if top_bits else 0.0,
        "crossbar_cells": crossbars * hw.rows * hw.cols * m["cell_area_um2"],
        "row_drivers": crossbars * hw.rows * (m["dac_area_um2_per_row"]
                                              * (m["bipolar_driver_area_factor"] if hw.sign_bits else 1)
                                              + (hw.wordline_segments - 1) * m["segment_driver_area_um2_per_row"]),
        "sample_hold": crossbars * hw.cols * m["sample_hold_area_um2_per_column"],
        "shift_add": adcs * m["shift_add_area_um2"],
        "tables": stored_bits * m["table_area_um2_per_bit"],
        "input_register": (2 if hw.double_buffer else 1) * k * hw.input_bits * m["register_area_um2_per_bit"],
    }


@dataclass
class MacroCost:
    """What one input vector costs on a mapped layer, as a whole macro (pJ, um^2, cycles), and the events
    behind it (per vector)."""

    energy: dict = field(default_factory=dict)     # ENERGY_PARTS -> pJ
    area: dict = field(default_factory=dict)       # AREA_PARTS -> um^2
    cycles: int = 0                                 # steady-state cycles per vector (throughput)
    adc_bound_cycles: int = 0
    latency: int = 0                                # one vector alone: first input to last output
    events: dict = field(default_factory=dict)      # mapper.schedule.EVENTS -> count per vector

    @property
    def energy_pj(self) -> float:
        return float(sum(self.energy.values()))

    @property
    def area_um2(self) -> float:
        return float(sum(self.area.values()))

    @property
    def row_drives(self) -> float:
        return self.events.get("row_drives", 0)

    def __add__(self, other: "MacroCost") -> "MacroCost":
        ev = {}
        for key in set(self.events) | set(other.events):
            a, b = self.events.get(key, 0), other.events.get(key, 0)
            if isinstance(a, list) or isinstance(b, list):
                a, b = list(a or []), list(b or [])
                n = max(len(a), len(b))
                ev[key] = [(a[i] if i < len(a) else 0) + (b[i] if i < len(b) else 0) for i in range(n)]
            else:
                ev[key] = a + b
        return MacroCost({k: self.energy.get(k, 0.0) + other.energy.get(k, 0.0) for k in ENERGY_PARTS},
                         {k: self.area.get(k, 0.0) + other.area.get(k, 0.0) for k in AREA_PARTS},
                         self.cycles + other.cycles, self.adc_bound_cycles + other.adc_bound_cycles,
                         self.latency + other.latency, ev)


def section_ones(lm: LayerMap) -> np.ndarray:
    """(S,) the 1-cells of each section of a mapped layer (all in its rows and active columns)."""
    if not lm.sec.n_sections:             # a layer with nothing to convert (no reshape of an empty array to (0, -1))
        return np.zeros(0, np.int64)
    return lm.sec.counts.reshape(lm.sec.n_sections, -1).sum(axis=1, dtype=np.int64)


def plan_cost(lp: LayerPlan, *, ones: np.ndarray | None = None, tables: bool = True, x=None, params=None,
              cycles: bool = True) -> MacroCost:
    """The macro cost per input vector of a plan (or a plan's tables, with `ones` each section's 1-cells):
    its events (mapper.schedule.events) priced, its area and cycles.

    Parameters
    ----------
    lp : LayerPlan
        The plan layer (cells optional).
    ones : array, optional
        Each section's 1-cells, for a plan without cells.
    tables : bool
        The design reads section, row-index and column tables (False for the dense reference design).
    x : array (V, K), optional
        Input vectors: the mean cost over them (input-aware hardware: their own conversions, steps and
        cycles; weight-only hardware: the same as without them).
    params : optional
        Lanes and macro timing (mapper.schedule.ScheduleParams.of; default the plan's hardware, default lanes,
        no phases).
    cycles : bool
        Run the cycle model's recursion (events other than cycles do not need it).
    """
    cfg = lp.cfg
    params = params or ScheduleParams(cfg.hw, default_lanes(cfg.hw.rows))
    xs = None if x is None else np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    sch = schedule(lp, params, xs, ones=ones, run=cycles)
    v = 1 if xs is None else len(xs)
    ev = events_of_schedule(lp, sch, v)
    widths = lp.widths() if tables else None
    energy = {key: value / v for key, value in price_events(ev, cfg, widths).items()}
    res = lp.columns["res"]
    stored = sum(lp.rom_bits().values()) if tables else 0
    area = macro_area(cfg, lp.n_sections, int(res.max(initial=0)) + cfg.hw.sign_bits if len(res) else 0, stored,
                      lp.shape[0])
    per = ev.per_vector()
    if cycles:
        runs = [int(r) for r in sch.run]
        through = sch.throughput() if len(runs) == 1 else int(round(float(np.mean(np.diff(sch.ends())))))
        latency = int(np.mean([sch.latency(i) for i in range(len(runs))]))
        per["cycles"] = through
    else:
        through = latency = 0
    return MacroCost(energy, area, through, int(np.mean(sch.adc_bound)), latency, per)


def macro_cost(lm: LayerMap, *, tables: bool = True, cycles: bool = True, x=None) -> MacroCost:
    """The macro cost per input vector of a mapped layer (`plan_cost` of its tables, built without cells)."""
    return plan_cost(build_layer_plan(lm, cells=False), ones=section_ones(lm), tables=tables, x=x, cycles=cycles)


def redundant_macro_cost(lm: LayerMap, redundancy: int):
    """The ISAAC macro's cost per input vector (`macro_cost`; mapper.analog models the K cells) of the layer with `redundancy` K cells per
    weight bit: each crossbar has K R physical rows, so its cells, their reads and its row drivers (one per
    physical row, each driven with its weight row) are K times the plan's; ADCs, sample-and-holds, shift-add,
    tables and registers are the plan's (the same conversions, at the same resolutions)."""
    mc = macro_cost(lm)
    k = redundancy
    for part in ("crossbar", "row_drivers"):
        mc.energy[part] *= k
    for part in ("crossbar_cells", "row_drivers"):
        mc.area[part] *= k
    return mc
