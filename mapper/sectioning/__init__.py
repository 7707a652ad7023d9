"""Sorted weight sectioning (docs/design.md sections 2-4): bit slicing, row orders, cuts (plain, optimal,
refined), ADC resolutions, column placement, and the mapped layer with its cost and outputs."""

from .bits import weight_bits_of, grouped, group_bit_cumsum, block_bit_counts, lossless_bits, input_planes
from .cuts import Sectioning, Cuts, group_keys, row_orders, plain_cuts, section_layer
from .mapping import (LayerMap, Cost, map_layer, with_policy, cost_of, saturating_matvec, cap_error,
                      CUT_STRATEGIES)
from .optimal import (level_energies, section_energies, optimal_cuts, refine_sections, optimal_strategy,
                      refined_strategy, CUBE_BYTES)
from .orderings import ORDERING_KEYS, order_rows
from .placement import lockstep_batches, mux_bound, place_section, placements
from .resolution import plan_resolutions

__all__ = ["weight_bits_of", "grouped", "group_bit_cumsum", "block_bit_counts", "lossless_bits", "input_planes",
           "Sectioning", "Cuts", "group_keys", "row_orders", "plain_cuts", "section_layer", "LayerMap", "Cost",
           "map_layer", "with_policy", "cost_of", "saturating_matvec", "cap_error", "CUT_STRATEGIES",
           "level_energies", "section_energies", "optimal_cuts", "refine_sections", "optimal_strategy",
           "refined_strategy", "CUBE_BYTES", "ORDERING_KEYS", "order_rows", "lockstep_batches", "mux_bound",
           "place_section", "placements", "plan_resolutions"]
