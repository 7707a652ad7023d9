"""The versioned plan (docs/design.md section 5): configuration ROMs of each layer, saved as $readmemh hex files.

A plan folder holds `plan.json` (the manifest: format version, configuration, and for each layer its
shape, scale and the field layout of its ROM words) and, per layer, four hex files, one word per line:

  sections.hex  rows | row_base | col_base | n_active | out_base      (fields LSB first)
  rows.hex      input index of each crossbar row of each section
  columns.hex   slot_col | out | sign | bit | res                     (active columns, per section)
  cells.hex     R words per section: bit c of word r is the cell at row r, slot column c

Slot column c = (j * 2 + sign) * Bm + bit for the section's local output j (output out_base + j) with
placement "fixed"; with placement "balanced" (mapper.placement) each section's columns are a permutation
of those, named by the column table's out, sign and bit.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import dataclasses
from dataclasses import dataclass

import numpy as np

from .config import ArrayConfig, clog2
from .errors import SwsError
from .layer import check_size
from .mapping import LayerMap
from .bits import grouped, lossless_bits, weight_bits_of
from .placement import placements

__all__ = ["LayerPlan", "Plan", "PLAN_FORMAT", "PLAN_VERSION", "build_layer_plan", "write_plan", "load_plan",
           "rebuild_weights", "check_layer_plan", "plan_files", "manifest_digest", "rom_widths", "rom_bits", "layer_rom_bits", "SECTION_FIELDS", "COLUMN_FIELDS"]

PLAN_FORMAT = "sws-plan"
PLAN_VERSION = 2
ROMS = ("sections", "rows", "columns", "cells")
SECTION_FIELDS = ("rows", "row_base", "col_base", "n_active", "out_base")
COLUMN_FIELDS = ("slot_col", "out", "sign", "bit", "res")
#: Hardware fields a plan can be run under other than its own (`LayerPlan.on_hardware`): the drive, and
#: the banks and stream beat, which change the controller, never the ROM contents.
DRIVE_FIELDS = ("input_encoding", "input_aware", "banks", "beat", "double_buffer")


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

    def on_hardware(self, **fields) -> "LayerPlan":
        """This plan on hardware with the drive fields changed (input_encoding, input_aware, banks, beat,
        double_buffer):
        the ROMs depend on the weights only, so a plan runs on either encoding and either resolution mode,
        on any number of banks and any stream beat.
        None values keep the plan's own."""
        fields = {k: v for k, v in fields.items() if v is not None}
        bad = sorted(set(fields) - set(DRIVE_FIELDS))
        if bad:
            raise SwsError(f"only the fields {', '.join(DRIVE_FIELDS)} can change on a plan, not {bad[0]}")
        if not fields:
            return self
        return dataclasses.replace(self, cfg=self.cfg.replace(**fields))


def rom_widths(cfg: ArrayConfig, shape: tuple[int, int], n_rows: int, n_cols: int) -> dict[str, dict[str, int]]:
    """Bits of each field of each ROM word, derived from the configuration and the layer's size."""
    k, n = shape
    return {
        "sections": {"rows": clog2(cfg.hw.rows + 1), "row_base": clog2(n_rows + 1),
                     "col_base": clog2(n_cols + 1), "n_active": clog2(cfg.hw.slot_cols + 1),
                     "out_base": clog2(n)},
        "rows": {"index": clog2(k)},
        "columns": {"slot_col": clog2(cfg.hw.slot_cols), "out": clog2(n), "sign": 1,
                    "bit": clog2(cfg.hw.weight_bits), "res": clog2(cfg.hw.full_resolution + 1)},
        "cells": {"row": cfg.hw.slot_cols},
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


def _adc_group(slot: np.ndarray, cfg) -> np.ndarray:
    """The ADC that converts each slot column: slot // adc_mux, or 0 for all with a full switch matrix."""
    return slot // cfg.hw.adc_mux if cfg.hw.adc_mux else np.zeros_like(slot)


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
        of each section are listed widest resolution first (with adc_mux M >= 1: by ADC group, then
        widest first), at the slot columns the placement gives them.
    """
    cfg, sec = lm.cfg, lm.sec
    k, n = lm.layer.shape
    s_count, r = sec.n_sections, cfg.hw.rows
    # Cells: gather each section's rows (padded to R with zero rows) from the group-ordered weights.
    pos = sec.sec_start[:, None] + np.arange(r)[None, :]
    valid = np.arange(r)[None, :] < sec.sec_len[:, None]
    rowsel = sec.order[sec.sec_group[:, None], np.minimum(pos, k - 1)]
    vals = grouped(lm.layer.weights, cfg.hw.group)[sec.sec_group[:, None], rowsel] * valid[:, :, None]
    cells = weight_bits_of(vals, cfg.hw.weight_bits).reshape(s_count, r, cfg.hw.slot_cols)
    row_index = rowsel[valid]                       # each section's rows in turn (row-major over (S, R))
    res = lm.res.reshape(s_count, cfg.hw.slot_cols)
    # Placement (mapper.placement): logical column l of section s sits at slot column perm[s, l].
    perm = placements(res, cfg)
    logical = np.argsort(perm, axis=1)              # the logical column at each slot column
    cells = np.take_along_axis(cells, logical[:, None, :], axis=2)
    res = np.take_along_axis(res, logical, axis=1)
    n_active = np.count_nonzero(res, axis=1)
    s_of, slot = np.nonzero(res)
    # Active columns, per section (and ADC group, with adc_mux), the widest first: ADCs that start together
    # then finish close together.
    by = np.lexsort((slot, -res[s_of, slot], _adc_group(slot, cfg), s_of))
    s_of, slot = s_of[by], slot[by]
    j, rem = np.divmod(logical[s_of, slot], 2 * cfg.hw.weight_bits)
    sign, bit = np.divmod(rem, cfg.hw.weight_bits)
    columns = {f: np.asarray(v, np.int64) for f, v in
               zip(COLUMN_FIELDS, (slot, sec.sec_group[s_of] * cfg.hw.group + j, sign, bit, res[s_of, slot]))}
    sections = {
        "rows": sec.sec_len.astype(np.int64),
        "row_base": np.concatenate([[0], np.cumsum(sec.sec_len)[:-1]]).astype(np.int64),
        "col_base": np.concatenate([[0], np.cumsum(n_active)[:-1]]).astype(np.int64),
        "n_active": n_active.astype(np.int64),
        "out_base": (sec.sec_group * cfg.hw.group).astype(np.int64),
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


#: The two hex digits of each byte value, as ASCII codes.
_HEX_PAIRS = np.frombuffer("".join(f"{b:02x}" for b in range(256)).encode(), np.uint8).reshape(256, 2)


def _hex_lines(bits: np.ndarray) -> str:
    """One hex word per row of the bit matrix (bit 0 the least significant), ceil(width / 4) digits."""
    n, width = bits.shape
    digits = -(-width // 4)
    nbytes = -(-width // 8)
    padded = np.zeros((n, nbytes * 8), np.uint8)
    padded[:, :width] = bits
    packed = np.packbits(padded, axis=1, bitorder="little")[:, ::-1]          # most significant byte first
    chars = _HEX_PAIRS[packed].reshape(n, 2 * nbytes)[:, 2 * nbytes - digits:]
    lines = np.concatenate([chars, np.full((n, 1), ord("\n"), np.uint8)], axis=1)
    return lines.tobytes().decode("ascii")


def _read_hex(path: str, width: int, data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """The words of a $readmemh image as a (words, width) bit matrix, and the file line of each word."""
    digits = -(-width // 4)
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise SwsError(f"{path}, line {line}: byte 0x{data[e.start]:02x} is not text: every line must be a "
                       f"{digits}-digit hex word") from None
    words, lines = [], []
    for number, raw in enumerate(text.split("\n"), 1):
        ln = raw.strip()
        if not ln or ln.startswith("//"):
            continue
        if len(ln) != digits or not re.fullmatch(r"[0-9a-fA-F]+", ln):
            raise SwsError(f"{path}, line {number}: {ln[:40]!r} is not a {digits}-digit hex word")
        words.append(ln)
        lines.append(number)
    lines = np.asarray(lines, np.int64)
    if not words:
        return np.zeros((0, width), np.uint8), lines
    raw = np.frombuffer("".join(words).lower().encode(), np.uint8).reshape(len(words), digits)
    nib = np.where(raw >= ord("a"), raw - ord("a") + 10, raw - ord("0"))[:, ::-1]
    bits = ((nib[:, :, None] >> np.arange(4)) & 1).reshape(len(words), digits * 4).astype(np.uint8)
    wide = np.nonzero(bits[:, width:].any(axis=1))[0]
    if len(wide):
        raise SwsError(f"{path}, line {lines[wide[0]]}: the word is wider than its {width} bits")
    return bits[:, :width], lines


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "layer"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_digest(manifest: dict) -> str:
    """The sha256 of the manifest without its own `manifest_sha256` entry, as canonical JSON (sorted keys,
    no spaces), so that any change of a value is caught and whitespace is not."""
    rest = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return _sha256(json.dumps(rest, sort_keys=True, separators=(",", ":"), allow_nan=False).encode())


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
            "cells": lp.cells.reshape(-1, lp.cfg.hw.slot_cols),
        }
        digests = {}
        for rom, bits in images.items():
            data = _hex_lines(bits).encode("ascii")
            with open(os.path.join(path, folder, f"{rom}.hex"), "wb") as f:
                f.write(data)
            digests[rom] = _sha256(data)
        layers.append({"name": lp.name, "folder": folder, "shape": list(lp.shape), "sections": lp.n_sections,
                       "rows_used": int(len(lp.row_index)), "active_columns": int(len(lp.columns["res"])),
                       "widths": w, "scale": lp.scale, "sha256": digests})
    manifest = {"format": PLAN_FORMAT, "version": PLAN_VERSION, "config": cfg.to_dict(), **meta, "layers": layers}
    manifest["manifest_sha256"] = manifest_digest(manifest)
    text = json.dumps(manifest, indent=1, allow_nan=False)
    with open(os.path.join(path, "plan.json"), "w") as f:
        f.write(text + "\n")
    return manifest


def load_plan(path: str) -> Plan:
    """Read a plan folder written by `write_plan` (or `sws map`), verified before use.

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
        Naming the file (and line, or manifest field) and the rule, for: a missing or unreadable
        manifest; an unknown format or version; a manifest value of the wrong type or out of range;
        a manifest or ROM image whose sha256 differs from the recorded one (a damaged or edited plan);
        a ROM word outside its field's range or the layer's shape; tables that are not consistent
        with each other or with the cells (see docs/design.md section 5).
    """
    mpath = os.path.join(path, "plan.json")
    if not os.path.isfile(mpath):
        raise SwsError(f"{path}: not a plan folder (no plan.json; make one with `sws map`)")
    try:
        with open(mpath, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SwsError(f"{mpath}: cannot read the plan manifest ({e.strerror})") from None
    try:
        manifest = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise SwsError(f"{mpath}, line {line}: not UTF-8 text: a plan manifest is JSON") from None
    except json.JSONDecodeError as e:
        raise SwsError(f"{mpath}, line {e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None
    except (ValueError, RecursionError) as e:
        raise SwsError(f"{mpath}: not a plan manifest ({e})") from None
    if not isinstance(manifest, dict):
        raise SwsError(f"{mpath}: a plan manifest is a JSON object, not {type(manifest).__name__}")
    if manifest.get("format") != PLAN_FORMAT or manifest.get("version") != PLAN_VERSION:
        raise SwsError(f"{mpath}: plan format {manifest.get('format')!r} version {manifest.get('version')!r} "
                       f"is not {PLAN_FORMAT!r} version {PLAN_VERSION} (map the weights again with `sws map`)")
    recorded = manifest.get("manifest_sha256")
    if not isinstance(recorded, str) or recorded != manifest_digest(manifest):
        raise SwsError(f"{mpath}: field manifest_sha256: the manifest does not match its recorded sha256: "
                       f"the plan is damaged or was edited (make it again with `sws map`)")
    try:
        cfg = ArrayConfig.from_dict(manifest.get("config"))
    except (SwsError, TypeError, ValueError) as e:
        raise SwsError(f"{mpath}: field config: {e}") from None
    entries = _field(mpath, manifest, "layers", list)
    if not entries:
        raise SwsError(f"{mpath}: field layers: a plan needs at least one layer")
    layers, folders = [], set()
    for i, entry in enumerate(entries):
        lp = _load_layer(path, mpath, cfg, i, entry, folders)
        layers.append(lp)
    meta = {k: v for k, v in manifest.items()
            if k not in ("format", "version", "config", "layers", "manifest_sha256")}
    return Plan(cfg, layers, meta)


def _no_constant(name: str):
    raise ValueError(f"{name} is not a standard JSON number")


def _field(where: str, d: dict, key: str, kind, prefix: str = ""):
    if not isinstance(d, dict) or key not in d:
        raise SwsError(f"{where}: field {prefix}{key} is missing")
    v = d[key]
    if kind is int:
        ok = isinstance(v, int) and not isinstance(v, bool)
    else:
        ok = isinstance(v, kind)
    if not ok:
        raise SwsError(f"{where}: field {prefix}{key} must be {_KIND_NAMES.get(kind, kind)}, "
                       f"not {type(v).__name__} {v!r:.60}")
    return v


_KIND_NAMES = {int: "an integer", str: "a string", list: "a list", dict: "an object"}


def _int_in(where: str, d: dict, key: str, lo: int, hi: int, prefix: str) -> int:
    v = _field(where, d, key, int, prefix)
    if not lo <= v <= hi:
        raise SwsError(f"{where}: field {prefix}{key} = {v} is outside {lo}..{hi}")
    return v


#: Largest K or N a manifest may name: 2**31 rows or outputs (the ROM index fields stay below 32 bits).
MAX_DIM = 2 ** 31


def _load_layer(path: str, mpath: str, cfg: ArrayConfig, i: int, entry, folders: set) -> LayerPlan:
    p = f"layers[{i}]."
    if not isinstance(entry, dict):
        raise SwsError(f"{mpath}: field layers[{i}] must be an object, not {type(entry).__name__}")
    name = _field(mpath, entry, "name", str, p)
    folder_name = _field(mpath, entry, "folder", str, p)
    if folder_name != _safe(folder_name) or folder_name in folders:
        raise SwsError(f"{mpath}: field {p}folder = {folder_name!r} must be a plain folder name of letters, "
                       f"digits, '_', '.' or '-', used by one layer only")
    folders.add(folder_name)
    shape = _field(mpath, entry, "shape", list, p)
    if len(shape) != 2 or not all(isinstance(s, int) and not isinstance(s, bool) and 1 <= s <= MAX_DIM
                                  for s in shape):
        raise SwsError(f"{mpath}: field {p}shape = {shape!r:.60} must be [K, N], integers in 1..{MAX_DIM}")
    k, n = shape
    check_size(f"{mpath}: field {p}shape", k, n, 8, "to rebuild W")   # before anything of that size
    n_groups = -(-n // cfg.hw.group)
    s_count = _int_in(mpath, entry, "sections", 0, MAX_DIM, p)
    rows_used = _int_in(mpath, entry, "rows_used", 0, k * n_groups, p)
    n_cols = _int_in(mpath, entry, "active_columns", 0, s_count * cfg.hw.slot_cols, p)
    w = rom_widths(cfg, (k, n), rows_used, n_cols)
    if entry.get("widths") != w:
        raise SwsError(f"{mpath}: field {p}widths = {entry.get('widths')!r:.200} is not the {w} that the "
                       f"configuration and shape give")
    scale = entry.get("scale")
    if scale is not None and not (isinstance(scale, list) and len(scale) in (1, n) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0 for x in scale)):
        raise SwsError(f"{mpath}: field {p}scale must be null or a list of 1 or {n} positive finite numbers")
    digests = _field(mpath, entry, "sha256", dict, p)
    folder = os.path.join(path, folder_name)
    images = {}
    for rom in ROMS:
        rpath = os.path.join(folder, f"{rom}.hex")
        try:
            with open(rpath, "rb") as f:
                data = f.read()
        except OSError as e:
            raise SwsError(f"{rpath}: cannot read the ROM image ({e.strerror})") from None
        if digests.get(rom) != _sha256(data):
            raise SwsError(f"{rpath}: the ROM image does not match its sha256 in plan.json ({p}sha256.{rom}): "
                           f"the plan is damaged or was edited (make it again with `sws map`)")
        images[rom] = (rpath, data)
    rpath, data = images["sections"]
    bits, sec_lines = _read_hex(rpath, sum(w["sections"].values()), data)
    sec = dict(zip(SECTION_FIELDS, _unpack(bits, [w["sections"][f] for f in SECTION_FIELDS])))
    rpath, data = images["rows"]
    bits, row_lines = _read_hex(rpath, w["rows"]["index"], data)
    rows = _unpack(bits, [w["rows"]["index"]])[0]
    rpath, data = images["columns"]
    bits, col_lines = _read_hex(rpath, sum(w["columns"].values()), data)
    cols = dict(zip(COLUMN_FIELDS, _unpack(bits, [w["columns"][f] for f in COLUMN_FIELDS])))
    rpath, data = images["cells"]
    cells, cell_lines = _read_hex(rpath, cfg.hw.slot_cols, data)
    counts = {"sections": (len(sec["rows"]), s_count), "rows": (len(rows), rows_used),
              "columns": (len(cols["res"]), n_cols), "cells": (len(cells), s_count * cfg.hw.rows)}
    for rom, (got, want) in counts.items():
        if got != want:
            raise SwsError(f"{images[rom][0]}: holds {got} words, but plan.json ({p[:-1]}) gives {want}")
    lp = LayerPlan(name, cfg, (k, n), sec, rows, cols, cells.reshape(s_count, cfg.hw.rows, cfg.hw.slot_cols),
                   None if scale is None else [float(x) for x in scale])
    check_layer_plan(lp, {rom: (images[rom][0], ln) for rom, ln in
                          (("sections", sec_lines), ("rows", row_lines), ("columns", col_lines),
                           ("cells", cell_lines))})
    return lp


def check_layer_plan(lp: LayerPlan, where: dict | None = None) -> None:
    """An SwsError unless every ROM field of `lp` is in its range and the tables agree with each other,
    with the layer's shape and with the cells (docs/design.md section 5).

    `where` maps each ROM ("sections", "rows", "columns", "cells") to (file, line of each word), for the
    messages; without it the messages name the word's index.
    """
    cfg, (k, n) = lp.cfg, lp.shape
    g, bm, r = cfg.hw.group, cfg.hw.weight_bits, cfg.hw.rows
    sec, cols, s_count = lp.sections, lp.columns, lp.n_sections

    def fail(rom, index, field, value, rule):
        if where and rom in where:
            f, lines = where[rom]
            at = f"{f}, line {lines[index]}" if index < len(lines) else f
        else:
            at = f"layer {lp.name}, {rom} word {index}"
        raise SwsError(f"{at}: field {field} = {value} {rule}")

    def first(bad):
        return int(np.argmax(bad))

    def check(rom, field, values, bad, rule):
        if np.any(bad):
            i = first(bad)
            fail(rom, i, field, int(values[i]), rule)

    rows, n_act, out_base = sec["rows"], sec["n_active"], sec["out_base"]
    check("sections", "rows", rows, rows > r, f"is more than the array's {r} rows")
    check("sections", "n_active", n_act, n_act > cfg.hw.slot_cols, f"is more than the {cfg.hw.slot_cols} slot columns")
    check("sections", "out_base", out_base, out_base >= n, f"is not below N = {n}")
    check("sections", "out_base", out_base, out_base % g != 0, f"is not a multiple of the group {g}")
    row_base = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(np.int64)
    col_base = np.concatenate([[0], np.cumsum(n_act)[:-1]]).astype(np.int64)
    check("sections", "row_base", sec["row_base"], sec["row_base"] != row_base,
          "is not the sum of the rows of the sections before it (sections are contiguous)")
    check("sections", "col_base", sec["col_base"], sec["col_base"] != col_base,
          "is not the sum of the active columns of the sections before it (sections are contiguous)")
    if rows.sum() != len(lp.row_index):
        fail("sections", s_count - 1, "rows", int(rows[-1]) if s_count else 0,
             f"makes {int(rows.sum())} rows in all, but the row table holds {len(lp.row_index)}")
    if n_act.sum() != len(cols["res"]):
        fail("sections", s_count - 1, "n_active", int(n_act[-1]) if s_count else 0,
             f"makes {int(n_act.sum())} active columns in all, but the column table holds {len(cols['res'])}")
    idx = lp.row_index
    check("rows", "index", idx, idx >= k, f"is not below K = {k}")
    # Each input meets each output group at most once.
    sec_of_row = np.repeat(np.arange(s_count), rows)
    pair = out_base[sec_of_row] // g * k + idx
    order = np.argsort(pair, kind="stable")
    dup = np.zeros(len(pair), bool)
    dup[order[1:]] = pair[order[1:]] == pair[order[:-1]]
    check("rows", "index", idx, dup, "appears twice for the same outputs")
    slot, out, sign, bit, res = (cols[f] for f in COLUMN_FIELDS)
    sec_of_col = np.repeat(np.arange(s_count), n_act)
    check("columns", "slot_col", slot, slot >= cfg.hw.slot_cols, f"is not below the {cfg.hw.slot_cols} slot columns")
    check("columns", "bit", bit, bit >= bm, f"is not below weight_bits = {bm}")
    check("columns", "res", res, res > cfg.hw.full_resolution, f"is above the full resolution {cfg.hw.full_resolution}")
    check("columns", "res", res, res < 1, "is 0: an active column is converted at 1 bit or more")
    fixed = cfg.mapping.placement == "fixed"
    if fixed:
        j, rem = np.divmod(slot, 2 * bm)
        check("columns", "sign", sign, sign != rem // bm, "does not match the slot column's sign")
        check("columns", "bit", bit, bit != rem % bm, "does not match the slot column's bit")
        check("columns", "out", out, out != out_base[sec_of_col] + j,
              "is not the section's out_base plus the slot column's output")
    else:
        local = out - out_base[sec_of_col]
        check("columns", "out", out, (local < 0) | (local >= g),
              f"is not one of the section's {g} outputs out_base .. out_base + {g - 1}")
        logical = (local * 2 + sign) * bm + bit
        for name, key, what in (("slot_col", slot, "slot column"), ("out", logical, "(out, sign, bit) column")):
            pair = sec_of_col * cfg.hw.slot_cols + key
            order = np.argsort(pair, kind="stable")
            dup = np.zeros(len(pair), bool)
            dup[order[1:]] = pair[order[1:]] == pair[order[:-1]]
            check("columns", name, cols[name], dup, f"repeats a {what} of its section")
    check("columns", "out", out, out >= n, f"is not below N = {n}")
    grp = slot // cfg.hw.adc_mux if cfg.hw.adc_mux else np.zeros_like(slot)
    later = np.zeros(len(slot), bool)
    same = sec_of_col[1:] == sec_of_col[:-1]
    later[1:] = same & ((grp[1:] < grp[:-1]) | ((grp[1:] == grp[:-1]) & (
        (res[1:] > res[:-1]) | ((res[1:] == res[:-1]) & (slot[1:] <= slot[:-1])))))
    rule = ("ADC group (slot column // adc_mux) first, then widest resolution, then ascending slot column"
            if cfg.hw.adc_mux else "widest resolution first, then ascending slot column")
    check("columns", "res", res, later, f"breaks the order of a section's columns: {rule}")
    # Cells: zero outside the section's rows and real outputs; ones only in active columns, and never
    # more of them than the column's resolution counts (unless a cap makes that saturation deliberate).
    cells = lp.cells
    valid_row = np.arange(r)[None, :] < rows[:, None]                                     # (S, R)
    real_col = (out_base[:, None] + np.arange(cfg.hw.slot_cols)[None, :] // (2 * bm)) < n   # (S, slot_cols)
    stray = cells.any(axis=2) & ~valid_row
    if stray.any():
        s, rr = np.argwhere(stray)[0]
        fail("cells", s * r + rr, "row", f"{rr} of section {s}", f"holds ones, but the section has "
             f"{int(rows[s])} rows")
    ones = cells.sum(axis=1, dtype=np.int64)                                              # (S, slot_cols)
    col_res = np.zeros((s_count, cfg.hw.slot_cols), np.int64)
    col_res[sec_of_col, slot] = res
    beyond = (ones > 0) & ~real_col & fixed     # balanced: the inactive-column rule and out < N cover it
    if beyond.any():
        s, c = np.argwhere(beyond)[0]
        fail("cells", s * r, "slot column", f"{c} of section {s}", f"holds ones, but its output "
             f"{int(out_base[s]) + c // (2 * bm)} is not below N = {n}")
    inactive = (ones > 0) & (col_res == 0)
    if inactive.any():
        s, c = np.argwhere(inactive)[0]
        fail("cells", s * r, "slot column", f"{c} of section {s}", "holds ones but is not an active column")
    need = lossless_bits(ones)
    if cfg.mapping.cap is not None:
        need = np.minimum(need, cfg.mapping.cap)
    short = (col_res > 0) & (col_res < need)
    if short.any():
        s, c = np.argwhere(short)[0]
        i = int(np.nonzero((sec_of_col == s) & (slot == c))[0][0])
        fail("columns", i, "res", int(col_res[s, c]), f"cannot count the {int(ones[s, c])} ones of slot column "
             f"{c} of section {s} (it needs {int(need[s, c])} bits)")


def plan_files(path: str) -> list[str]:
    """Every file in the plan folder `path`: the inputs an output of `sws rtl` or `sws sim` must not be."""
    return [os.path.join(d, f) for d, _, files in os.walk(path) for f in files]


def rebuild_weights(lp: LayerPlan) -> np.ndarray:
    """W from the ROM images alone: each cell's bit, placed by the row-index table and the section's outputs."""
    cfg, (k, n) = lp.cfg, lp.shape
    g, bm = cfg.hw.group, cfg.hw.weight_bits
    s_count = lp.n_sections
    cells = lp.cells
    if cfg.mapping.placement != "fixed":     # back to the natural slot order, from the column table
        cols, sec = lp.columns, lp.sections
        sec_of_col = np.repeat(np.arange(s_count), sec["n_active"])
        logical = ((cols["out"] - sec["out_base"][sec_of_col]) * 2 + cols["sign"]) * bm + cols["bit"]
        cells = np.zeros_like(lp.cells)
        cells[sec_of_col, :, logical] = lp.cells[sec_of_col, :, cols["slot_col"]]
    bits = cells.reshape(s_count, cfg.hw.rows, g, 2, bm).astype(np.int64)
    vals = ((bits[:, :, :, 0, :] - bits[:, :, :, 1, :]) << np.arange(bm)).sum(axis=3)   # (S, R, G)
    valid_row = np.arange(cfg.hw.rows)[None, :] < lp.sections["rows"][:, None]
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
