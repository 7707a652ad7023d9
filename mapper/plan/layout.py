"""The plan's data (docs/design.md section 5): a layer's ROM contents and field widths, and the bit packing of
ROM words (fields LSB first)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ..common import SwsError
from ..config import ArrayConfig, HardwareConfig, clog2
from ..sectioning import LayerMap

__all__ = ["PLAN_FORMAT", "PLAN_VERSION", "READ_VERSIONS", "ROMS", "SECTION_FIELDS", "COLUMN_FIELDS", "DRIVE_FIELDS", "LayerPlan",
           "rom_widths", "rom_bits", "layer_rom_bits", "Plan", "pack_fields", "unpack_fields"]


PLAN_FORMAT = "sws-plan"
PLAN_VERSION = 3
#: Versions load_plan reads: 2 (one configuration for every layer), 3 (each layer its own).
READ_VERSIONS = (2, 3)
ROMS = ("sections", "rows", "columns", "cells")
SECTION_FIELDS = ("rows", "row_base", "col_base", "n_active", "out_base")
COLUMN_FIELDS = ("slot_col", "out", "sign", "bit", "res")
#: Hardware fields a plan can be run under other than its own (`LayerPlan.on_hardware`): the drive, the
#: banks and stream beat, which change the controller, never the ROM contents, and the array's wordline
#: segments, which change neither.
DRIVE_FIELDS = ("input_encoding", "input_aware", "banks", "beat", "double_buffer", "wordline_slots")


@dataclass
class LayerPlan:
    """The ROM contents of one layer, as integer arrays."""

    name: str
    cfg: ArrayConfig
    shape: tuple[int, int]
    sections: dict[str, np.ndarray]   # SECTION_FIELDS -> (S,)
    row_index: np.ndarray             # (sum of rows,)
    columns: dict[str, np.ndarray]    # COLUMN_FIELDS -> (active columns,)
    cells: np.ndarray | None          # (S, R, slot_cols) uint8; None: the tables alone (build_layer_plan(cells=False))
    scale: list[float] | None = None

    @property
    def n_sections(self) -> int:
        return len(self.sections["rows"])

    def widths(self) -> dict[str, dict[str, int]]:
        return rom_widths(self.cfg.hw, self.shape, len(self.row_index), len(self.columns["res"]))

    def rom_bits(self) -> dict[str, int]:
        return rom_bits(self.cfg.hw, self.shape, self.n_sections, len(self.row_index), len(self.columns["res"]))

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


def rom_widths(hw: HardwareConfig, shape: tuple[int, int], n_rows: int, n_cols: int) -> dict[str, dict[str, int]]:
    """Bits of each field of each ROM word, derived from the hardware and the layer's size."""
    k, n = shape
    return {
        "sections": {"rows": clog2(hw.rows + 1), "row_base": clog2(n_rows + 1),
                     "col_base": clog2(n_cols + 1), "n_active": clog2(hw.slot_cols + 1),
                     "out_base": clog2(n)},
        "rows": {"index": clog2(k)},
        "columns": {"slot_col": clog2(hw.slot_cols), "out": clog2(n), "sign": 1,
                    "bit": clog2(hw.weight_bits), "res": clog2(hw.full_resolution + 1)},
        "cells": {"row": hw.slot_cols},
    }


def rom_bits(hw: HardwareConfig, shape, n_sections: int, n_rows: int, n_cols: int) -> dict[str, int]:
    """Bits of the section, row-index and column tables (the cells are the array itself, not a ROM)."""
    w = rom_widths(hw, shape, n_rows, n_cols)
    return {"sections": n_sections * sum(w["sections"].values()), "rows": n_rows * w["rows"]["index"],
            "columns": n_cols * sum(w["columns"].values())}


def layer_rom_bits(lm: LayerMap) -> int:
    """Total ROM bits of a mapped layer, without building its ROM images."""
    return sum(rom_bits(lm.cfg.hw, lm.layer.shape, lm.sec.n_sections, int(lm.sec.sec_len.sum()),
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


def pack_fields(fields: list[np.ndarray], widths: list[int]) -> np.ndarray:
    """(n, total bits) bit matrix, the first field in the least significant bits."""
    parts = [((np.asarray(v, np.int64)[:, None] >> np.arange(w)) & 1).astype(np.uint8) for v, w in zip(fields, widths)]
    return np.concatenate(parts, axis=1)


def unpack_fields(bits: np.ndarray, widths: list[int]) -> list[np.ndarray]:
    out, at = [], 0
    for w in widths:
        out.append((bits[:, at:at + w].astype(np.int64) << np.arange(w)).sum(axis=1))
        at += w
    return out
