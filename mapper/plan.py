"""The versioned plan (docs/design.md section 5): configuration ROMs of each layer, saved as $readmemh hex files.

A plan folder holds `plan.json` (the manifest: format version, configuration, and for each layer its
shape, scale and the field layout of its ROM words) and, per layer, four hex files, one word per line:

  sections.hex  rows | row_base | col_base | n_active | out_base      (fields LSB first)
  rows.hex      input index of each crossbar row of each section
  columns.hex   slot_col | out | sign | bit | res                     (active columns, per section)
  cells.hex     R words per section: bit c of word r is the cell at row r, slot column c

Slot column c = (j * 2 + sign) * Bm + bit for the section's local output j (output out_base + j).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import numpy as np

from .config import ArrayConfig, clog2
from .errors import SwsError
from .mapping import LayerMap
from .bits import grouped, weight_bits_of

__all__ = ["LayerPlan", "Plan", "PLAN_FORMAT", "PLAN_VERSION", "build_layer_plan", "write_plan", "load_plan",
           "rebuild_weights", "rom_widths", "rom_bits", "layer_rom_bits", "SECTION_FIELDS", "COLUMN_FIELDS"]

PLAN_FORMAT = "sws-plan"
PLAN_VERSION = 1
SECTION_FIELDS = ("rows", "row_base", "col_base", "n_active", "out_base")
COLUMN_FIELDS = ("slot_col", "out", "sign", "bit", "res")


@dataclass
class LayerPlan:
    """The ROM contents of one layer, as integer arrays."""

    name: str
    cfg: ArrayConfig
    shape: tuple[int, int]
    sections: dict[str, np.ndarray]   # SECTION_FIELDS -> (S,)
    row_index: np.ndarray             # (sum of rows,)
    columns: dict[str, np.ndarray]    # COLUMN_FIELDS -> (active columns,)
    cells: np.ndarray                 # (S, R, slot_cols) uint8
    scale: list[float] | None = None

    @property
    def n_sections(self) -> int:
        return len(self.sections["rows"])

    def widths(self) -> dict[str, dict[str, int]]:
        return rom_widths(self.cfg, self.shape, len(self.row_index), len(self.columns["res"]))

    def rom_bits(self) -> dict[str, int]:
        return rom_bits(self.cfg, self.shape, self.n_sections, len(self.row_index), len(self.columns["res"]))


def rom_widths(cfg: ArrayConfig, shape: tuple[int, int], n_rows: int, n_cols: int) -> dict[str, dict[str, int]]:
    """Bits of each field of each ROM word, derived from the configuration and the layer's size."""
    k, n = shape
    return {
        "sections": {"rows": clog2(cfg.rows + 1), "row_base": clog2(n_rows + 1),
                     "col_base": clog2(n_cols + 1), "n_active": clog2(cfg.slot_cols + 1),
                     "out_base": clog2(n)},
        "rows": {"index": clog2(k)},
        "columns": {"slot_col": clog2(cfg.slot_cols), "out": clog2(n), "sign": 1,
                    "bit": clog2(cfg.weight_bits), "res": clog2(cfg.full_resolution + 1)},
        "cells": {"row": cfg.slot_cols},
    }


def rom_bits(cfg: ArrayConfig, shape, n_sections: int, n_rows: int, n_cols: int) -> dict[str, int]:
    """Bits of the section, row-index and column tables (the cells are the array itself, not a ROM)."""
    w = rom_widths(cfg, shape, n_rows, n_cols)
    return {"sections": n_sections * sum(w["sections"].values()), "rows": n_rows * w["rows"]["index"],
            "columns": n_cols * sum(w["columns"].values())}


def layer_rom_bits(lm: LayerMap) -> int:
    """Total ROM bits of a mapped layer, without building its ROM images."""
    return sum(rom_bits(lm.cfg, lm.layer.shape, lm.sec.n_sections, int(lm.sec.sec_len.sum()),
                        int(np.count_nonzero(lm.res))).values())


@dataclass
class Plan:
    config: ArrayConfig
    layers: list[LayerPlan]
    meta: dict

    def layer(self, name: str | None = None) -> LayerPlan:
        if name is None:
            return self.layers[0]
        for lp in self.layers:
            if lp.name == name:
                return lp
        raise SwsError(f"layer {name!r} is not in the plan (it has {', '.join(l.name for l in self.layers)})")


def build_layer_plan(lm: LayerMap) -> LayerPlan:
    """The ROM contents of a mapped layer (docs/design.md section 5).

    Parameters
    ----------
    lm : LayerMap
        A layer mapped by `mapper.mapping.map_layer`.

    Returns
    -------
    LayerPlan
        Section, row-index and column tables and the cell image, as integer arrays; active columns
        of each section are listed widest resolution first.
    """
    cfg, sec = lm.cfg, lm.sec
    k, n = lm.layer.shape
    s_count, r = sec.n_sections, cfg.rows
    # Cells: gather each section's rows (padded to R with zero rows) from the group-ordered weights.
    pos = sec.sec_start[:, None] + np.arange(r)[None, :]
    valid = np.arange(r)[None, :] < sec.sec_len[:, None]
    rowsel = sec.order[sec.sec_group[:, None], np.minimum(pos, k - 1)]
    vals = grouped(lm.layer.weights, cfg.group)[sec.sec_group[:, None], rowsel] * valid[:, :, None]
    cells = weight_bits_of(vals, cfg.weight_bits).reshape(s_count, r, cfg.slot_cols)
    row_index = np.concatenate([sec.section_rows(s) for s in range(s_count)]) if s_count else np.zeros(0, int)
    # Active columns, per section, the widest first: ADCs that start together then finish close together.
    res = lm.res.reshape(s_count, cfg.slot_cols)
    cols = {f: [] for f in COLUMN_FIELDS}
    n_active = np.count_nonzero(res, axis=1)
    for s in range(s_count):
        slot = np.nonzero(res[s])[0]
        slot = slot[np.lexsort((slot, -res[s, slot]))]
        j, rem = np.divmod(slot, 2 * cfg.weight_bits)
        sign, bit = np.divmod(rem, cfg.weight_bits)
        for f, v in zip(COLUMN_FIELDS, (slot, sec.sec_group[s] * cfg.group + j, sign, bit, res[s, slot])):
            cols[f].append(v)
    columns = {f: np.concatenate(v).astype(np.int64) if v else np.zeros(0, np.int64) for f, v in cols.items()}
    sections = {
        "rows": sec.sec_len.astype(np.int64),
        "row_base": np.concatenate([[0], np.cumsum(sec.sec_len)[:-1]]).astype(np.int64),
        "col_base": np.concatenate([[0], np.cumsum(n_active)[:-1]]).astype(np.int64),
        "n_active": n_active.astype(np.int64),
        "out_base": (sec.sec_group * cfg.group).astype(np.int64),
    }
    if s_count == 0:
        sections = {f: np.zeros(0, np.int64) for f in SECTION_FIELDS}
    scale = None if lm.layer.scale is None else [float(x) for x in lm.layer.scale]
    return LayerPlan(lm.layer.name, cfg, (k, n), sections, row_index.astype(np.int64), columns,
                     cells.astype(np.uint8), scale)


# Hex words ---------------------------------------------------------------------------------------

def _pack(fields: list[np.ndarray], widths: list[int]) -> np.ndarray:
    """(n, total bits) bit matrix, the first field in the least significant bits."""
    parts = [((np.asarray(v, np.int64)[:, None] >> np.arange(w)) & 1).astype(np.uint8) for v, w in zip(fields, widths)]
    return np.concatenate(parts, axis=1)


def _unpack(bits: np.ndarray, widths: list[int]) -> list[np.ndarray]:
    out, at = [], 0
    for w in widths:
        out.append((bits[:, at:at + w].astype(np.int64) << np.arange(w)).sum(axis=1))
        at += w
    return out


def _hex_lines(bits: np.ndarray) -> str:
    n, width = bits.shape
    digits = -(-width // 4)
    padded = np.zeros((n, digits * 4), np.uint8)
    padded[:, :width] = bits
    nibbles = (padded.reshape(n, digits, 4) << np.arange(4)).sum(axis=2)[:, ::-1]
    chars = np.frombuffer(b"0123456789abcdef", np.uint8)[nibbles]
    lines = np.concatenate([chars, np.full((n, 1), ord("\n"), np.uint8)], axis=1)
    return lines.tobytes().decode("ascii")


def _read_hex(path: str, width: int) -> np.ndarray:
    digits = -(-width // 4)
    try:
        with open(path) as f:
            lines = [ln.strip() for ln in f if ln.strip() and not ln.lstrip().startswith("//")]
    except OSError as e:
        raise SwsError(f"{path}: cannot read the ROM image ({e.strerror})") from None
    if any(len(ln) != digits or not re.fullmatch(r"[0-9a-fA-F]+", ln) for ln in lines):
        raise SwsError(f"{path}: every line must be a {digits}-digit hex word")
    if not lines:
        return np.zeros((0, width), np.uint8)
    raw = np.frombuffer("".join(lines).lower().encode(), np.uint8).reshape(len(lines), digits)
    nib = np.where(raw >= ord("a"), raw - ord("a") + 10, raw - ord("0"))[:, ::-1]
    bits = ((nib[:, :, None] >> np.arange(4)) & 1).reshape(len(lines), digits * 4).astype(np.uint8)
    if bits[:, width:].any():
        raise SwsError(f"{path}: a word is wider than its {width} bits")
    return bits[:, :width]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "layer"


def write_plan(path: str, plans: list[LayerPlan], meta: dict) -> dict:
    """Write the manifest and ROM images into the folder `path` (which must exist); return the manifest."""
    cfg = plans[0].cfg
    layers, used = [], set()
    for i, lp in enumerate(plans):
        folder = _safe(lp.name)
        if folder in used:
            folder = f"{i:03d}_{folder}"
        used.add(folder)
        os.makedirs(os.path.join(path, folder))
        w = lp.widths()
        images = {
            "sections": _pack([lp.sections[f] for f in SECTION_FIELDS], [w["sections"][f] for f in SECTION_FIELDS]),
            "rows": _pack([lp.row_index], [w["rows"]["index"]]),
            "columns": _pack([lp.columns[f] for f in COLUMN_FIELDS], [w["columns"][f] for f in COLUMN_FIELDS]),
            "cells": lp.cells.reshape(-1, lp.cfg.slot_cols),
        }
        for rom, bits in images.items():
            with open(os.path.join(path, folder, f"{rom}.hex"), "w") as f:
                f.write(_hex_lines(bits))
        layers.append({"name": lp.name, "folder": folder, "shape": list(lp.shape), "sections": lp.n_sections,
                       "rows_used": int(len(lp.row_index)), "active_columns": int(len(lp.columns["res"])),
                       "widths": w, "scale": lp.scale})
    manifest = {"format": PLAN_FORMAT, "version": PLAN_VERSION, "config": cfg.to_dict(), **meta, "layers": layers}
    with open(os.path.join(path, "plan.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    return manifest


def load_plan(path: str) -> Plan:
    """Read a plan folder written by `write_plan` (or `sws map`).

    Parameters
    ----------
    path : str
        The folder holding plan.json and one folder of ROM images per layer.

    Returns
    -------
    Plan
        The configuration, the layers' ROM contents and the manifest's other entries.

    Raises
    ------
    SwsError
        For a missing or unreadable manifest, an unknown format or version, or ROM images that do not
        match the manifest.
    """
    mpath = os.path.join(path, "plan.json")
    if not os.path.isfile(mpath):
        raise SwsError(f"{path}: not a plan folder (no plan.json; make one with `sws map`)")
    try:
        with open(mpath) as f:
            manifest = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SwsError(f"{mpath}: not a readable plan manifest ({e})") from None
    if manifest.get("format") != PLAN_FORMAT or manifest.get("version") != PLAN_VERSION:
        raise SwsError(f"{mpath}: plan format {manifest.get('format')!r} version {manifest.get('version')!r} "
                       f"is not {PLAN_FORMAT!r} version {PLAN_VERSION}")
    cfg = ArrayConfig.from_dict(manifest["config"])
    layers = []
    for entry in manifest["layers"]:
        folder = os.path.join(path, entry["folder"])
        shape = tuple(entry["shape"])
        w = rom_widths(cfg, shape, entry["rows_used"], entry["active_columns"])
        if w != entry["widths"]:
            raise SwsError(f"{mpath}: layer {entry['name']!r} has ROM word widths {entry['widths']}, "
                           f"but its configuration gives {w}")
        sec = dict(zip(SECTION_FIELDS, _unpack(_read_hex(os.path.join(folder, "sections.hex"),
                                                         sum(w["sections"].values())),
                                               [w["sections"][f] for f in SECTION_FIELDS])))
        rows = _unpack(_read_hex(os.path.join(folder, "rows.hex"), w["rows"]["index"]), [w["rows"]["index"]])[0]
        cols = dict(zip(COLUMN_FIELDS, _unpack(_read_hex(os.path.join(folder, "columns.hex"),
                                                         sum(w["columns"].values())),
                                               [w["columns"][f] for f in COLUMN_FIELDS])))
        cells = _read_hex(os.path.join(folder, "cells.hex"), cfg.slot_cols)
        s_count = entry["sections"]
        if len(sec["rows"]) != s_count or len(rows) != entry["rows_used"] or \
                len(cols["res"]) != entry["active_columns"] or len(cells) != s_count * cfg.rows:
            raise SwsError(f"{folder}: the ROM images do not hold the {s_count} sections, {entry['rows_used']} "
                           f"rows and {entry['active_columns']} columns that plan.json lists")
        layers.append(LayerPlan(entry["name"], cfg, shape, sec, rows, cols,
                                cells.reshape(s_count, cfg.rows, cfg.slot_cols), entry.get("scale")))
    meta = {k: v for k, v in manifest.items() if k not in ("format", "version", "config", "layers")}
    return Plan(cfg, layers, meta)


def rebuild_weights(lp: LayerPlan) -> np.ndarray:
    """W from the ROM images alone: each cell's bit, placed by the row-index table and the section's outputs."""
    cfg, (k, n) = lp.cfg, lp.shape
    g, bm = cfg.group, cfg.weight_bits
    s_count = lp.n_sections
    bits = lp.cells.reshape(s_count, cfg.rows, g, 2, bm).astype(np.int64)
    vals = ((bits[:, :, :, 0, :] - bits[:, :, :, 1, :]) << np.arange(bm)).sum(axis=3)   # (S, R, G)
    valid_row = np.arange(cfg.rows)[None, :] < lp.sections["rows"][:, None]
    out = lp.sections["out_base"][:, None] + np.arange(g)[None, :]                        # (S, G)
    if np.any(vals[~valid_row]) or np.any(vals.transpose(0, 2, 1)[out >= n]):
        raise SwsError(f"layer {lp.name}: the cell image holds ones outside the rows and outputs of its sections")
    w = np.zeros((k, n), np.int64)
    srow, r = np.nonzero(valid_row)
    inputs = lp.row_index[lp.sections["row_base"][srow] + r]
    for j in range(g):
        ok = out[srow, j] < n
        np.add.at(w, (inputs[ok], out[srow[ok], j]), vals[srow[ok], r[ok], j])
    return w
