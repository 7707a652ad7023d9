"""What a mapped layer costs (docs/design.md section 4): the whole macro's energy, area and cycles, lower
bounds, input-aware resolution, and the report against the dense and natural-order references."""

from .bound import column_ones, lower_bound, column_bound, BOUND_FORMULAS, COLUMN_BOUND_FORMULA
from .input_aware import (ANALYSIS_ENCODINGS, section_membership, step_popcounts, step_bits, step_bounds,
                          bounded_cost, input_aware_cost, weight_only_cost, macro_energy, load_layer_inputs,
                          input_aware_report)
from .macro import (Macro, MacroCost, MACRO_KEYS, ENERGY_PARTS, AREA_PARTS, DEFAULT_MACRO, load_macro, macro_of,
                    macro_cost, redundant_macro_cost, plan_cost, price_events, macro_area, section_ones)
from .report import (LayerResult, map_layers, map_source, report_dict, format_table, REPORT_KEYS, cost_layer,
                     dense_config, dense_group, reference_configs, plain_sws_config)

__all__ = ["column_ones", "lower_bound", "column_bound", "BOUND_FORMULAS", "COLUMN_BOUND_FORMULA",
           "ANALYSIS_ENCODINGS", "section_membership", "step_popcounts", "step_bits", "step_bounds",
           "bounded_cost", "input_aware_cost", "weight_only_cost", "macro_energy", "load_layer_inputs",
           "input_aware_report", "Macro", "MacroCost", "MACRO_KEYS", "ENERGY_PARTS", "AREA_PARTS", "DEFAULT_MACRO",
           "load_macro", "macro_of", "macro_cost", "redundant_macro_cost", "plan_cost", "price_events", "macro_area", "section_ones",
           "LayerResult", "map_layers", "map_source", "report_dict", "format_table", "REPORT_KEYS", "cost_layer",
           "dense_config", "dense_group", "reference_configs", "plain_sws_config"]
