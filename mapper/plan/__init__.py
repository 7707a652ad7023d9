"""The versioned plan (docs/design.md section 5): a mapped layer's ROM contents, written as signed
`$readmemh` images and read back only after every rule is verified; the banks' share of it."""

from .banks import section_cost, assign_banks, bank_plan, bank_plans
from .build import build_layer_plan, rebuild_weights
from .files import write_plan, load_plan, MAX_DIM, plan_files
from .hexio import hex_lines, read_hex, sha256_hex, manifest_digest
from .layout import (PLAN_FORMAT, PLAN_VERSION, READ_VERSIONS, ROMS, SECTION_FIELDS, COLUMN_FIELDS, DRIVE_FIELDS, LayerPlan,
                     rom_widths, rom_bits, layer_rom_bits, Plan, pack_fields, unpack_fields)
from .validate import check_layer_plan

__all__ = ["section_cost", "assign_banks", "bank_plan", "bank_plans", "build_layer_plan", "rebuild_weights",
           "write_plan", "load_plan", "MAX_DIM", "plan_files", "hex_lines", "read_hex", "sha256_hex",
           "manifest_digest", "PLAN_FORMAT", "PLAN_VERSION", "READ_VERSIONS", "ROMS", "SECTION_FIELDS", "COLUMN_FIELDS",
           "DRIVE_FIELDS", "LayerPlan", "rom_widths", "rom_bits", "layer_rom_bits", "Plan", "pack_fields",
           "unpack_fields", "check_layer_plan"]
