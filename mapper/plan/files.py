"""A plan folder on disk (docs/design.md section 5): `plan.json` (the signed manifest) and four ROM images a
layer; written whole, read back only after every field and image is verified."""

from __future__ import annotations

import json
import math
import os
import re

from ..common import SwsError, note_input, parse_json, read_bytes, read_text
from ..config import ArrayConfig
from ..sources import check_size
from .hexio import hex_lines, manifest_digest, read_hex, sha256_hex
from .layout import (COLUMN_FIELDS, LayerPlan, PLAN_FORMAT, PLAN_VERSION, Plan, READ_VERSIONS, ROMS, SECTION_FIELDS,
                     pack_fields, rom_widths, unpack_fields)
from .validate import check_layer_plan

__all__ = ["write_plan", "load_plan", "MAX_DIM", "plan_files"]


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip(".") or "layer"


#: Names of the plan folder's own files, which no layer folder may take (a layer named plan.json).
RESERVED = ("plan.json", "report.json", "report.md")
#: Largest plan.json: about 1 kB a layer, so 64 MB is some 60000 layers.
MAX_MANIFEST_BYTES = 64 * 2 ** 20


def write_plan(path: str, plans: list[LayerPlan], meta: dict, config: ArrayConfig | None = None) -> dict:
    """Write the manifest and ROM images into the folder `path` (which must exist); return the manifest.
    `config` is the run's configuration (default the first layer's); each layer records its own."""
    cfg = config or plans[0].cfg
    layers, used = [], set()
    for i, lp in enumerate(plans):
        folder = _safe(lp.name)
        if folder in used or folder in RESERVED:
            folder = f"{i:03d}_{folder}"
        used.add(folder)
        os.makedirs(os.path.join(path, folder))
        w = lp.widths()
        images = {
            "sections": pack_fields([lp.sections[f] for f in SECTION_FIELDS], [w["sections"][f] for f in SECTION_FIELDS]),
            "rows": pack_fields([lp.row_index], [w["rows"]["index"]]),
            "columns": pack_fields([lp.columns[f] for f in COLUMN_FIELDS], [w["columns"][f] for f in COLUMN_FIELDS]),
            "cells": lp.cells.reshape(-1, lp.cfg.hw.slot_cols),
        }
        digests = {}
        for rom, bits in images.items():
            data = hex_lines(bits).encode("ascii")
            with open(os.path.join(path, folder, f"{rom}.hex"), "wb") as f:
                f.write(data)
            digests[rom] = sha256_hex(data)
        layers.append({"name": lp.name, "folder": folder, "config": lp.cfg.to_dict(), "shape": list(lp.shape),
                       "sections": lp.n_sections,
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
    if not os.path.isdir(path) or not os.path.lexists(mpath):
        raise SwsError(f"{path}: not a plan folder (no plan.json; make one with `sws map`)")
    note_input(path)
    manifest = parse_json(read_text(mpath, what="plan manifest", limit=MAX_MANIFEST_BYTES, folder=path), mpath)
    if not isinstance(manifest, dict):
        raise SwsError(f"{mpath}: a plan manifest is a JSON object, not {type(manifest).__name__}")
    version = manifest.get("version")
    if manifest.get("format") != PLAN_FORMAT or isinstance(version, bool) or version not in READ_VERSIONS:
        raise SwsError(f"{mpath}: plan format {manifest.get('format')!r} version {version!r} "
                       f"is not {PLAN_FORMAT!r} version {' or '.join(map(str, READ_VERSIONS))} (map the weights "
                       f"again with `sws map`)")
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
        layer_cfg = cfg
        if version >= 3 and isinstance(entry, dict):    # each layer its own configuration (objective's choice)
            raw = _field(mpath, entry, "config", dict, f"layers[{i}].")
            try:
                layer_cfg = ArrayConfig.from_dict(raw)
            except (SwsError, TypeError, ValueError) as e:
                raise SwsError(f"{mpath}: field layers[{i}].config: {e}") from None
        lp = _load_layer(path, mpath, layer_cfg, i, entry, folders)
        layers.append(lp)
    meta = {k: v for k, v in manifest.items()
            if k not in ("format", "version", "config", "layers", "manifest_sha256")}
    return Plan(cfg, layers, meta)


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
    if folder_name != _safe(folder_name) or folder_name in folders or folder_name in RESERVED:
        raise SwsError(f"{mpath}: field {p}folder = {folder_name!r:.60} must be a plain folder name of letters, "
                       f"digits, '_', '.' or '-', used by one layer only and none of {', '.join(RESERVED)}")
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
    w = rom_widths(cfg.hw, (k, n), rows_used, n_cols)
    if entry.get("widths") != w:
        raise SwsError(f"{mpath}: field {p}widths = {entry.get('widths')!r:.200} is not the {w} that the "
                       f"configuration and shape give")
    scale = entry.get("scale")
    if scale is not None and not (isinstance(scale, list) and len(scale) in (1, n) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) and x > 0 for x in scale)):
        raise SwsError(f"{mpath}: field {p}scale must be null or a list of 1 or {n} positive finite numbers")
    digests = _field(mpath, entry, "sha256", dict, p)
    folder = os.path.join(path, folder_name)
    # Bounds before reading: the cell image's bit matrix fits in memory, and each image is at most twice
    # the size its words take (one hex word and a newline each), so a huge file is refused unread.
    check_size(f"{mpath}: field {p}sections", s_count * cfg.hw.rows, cfg.hw.slot_cols, 32, "to read the cells",
               "cell image")
    words = {"sections": (s_count, sum(w["sections"].values())), "rows": (rows_used, w["rows"]["index"]),
             "columns": (n_cols, sum(w["columns"].values())), "cells": (s_count * cfg.hw.rows, cfg.hw.slot_cols)}
    images = {}
    for rom in ROMS:
        rpath = os.path.join(folder, f"{rom}.hex")
        count, bits = words[rom]
        data = read_bytes(rpath, what="ROM image", limit=2 * count * (-(-bits // 4) + 1) + 4096, folder=path)
        if digests.get(rom) != sha256_hex(data):
            raise SwsError(f"{rpath}: the ROM image does not match its sha256 in plan.json ({p}sha256.{rom}): "
                           f"the plan is damaged or was edited (make it again with `sws map`)")
        images[rom] = (rpath, data)
    rpath, data = images["sections"]
    bits, sec_lines = read_hex(rpath, sum(w["sections"].values()), data)
    sec = dict(zip(SECTION_FIELDS, unpack_fields(bits, [w["sections"][f] for f in SECTION_FIELDS])))
    rpath, data = images["rows"]
    bits, row_lines = read_hex(rpath, w["rows"]["index"], data)
    rows = unpack_fields(bits, [w["rows"]["index"]])[0]
    rpath, data = images["columns"]
    bits, col_lines = read_hex(rpath, sum(w["columns"].values()), data)
    cols = dict(zip(COLUMN_FIELDS, unpack_fields(bits, [w["columns"][f] for f in COLUMN_FIELDS])))
    rpath, data = images["cells"]
    cells, cell_lines = read_hex(rpath, cfg.hw.slot_cols, data)
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


def plan_files(path: str) -> list[str]:
    """Every file in the plan folder `path`: the inputs an output of `sws rtl` or `sws sim` must not be."""
    return [os.path.join(d, f) for d, _, files in os.walk(path) for f in files]
