"""The SWS mapper: quantize, prune, sort and section a layer's weights, plan ADC resolutions, cost, emit ROMs."""

from .config import ArrayConfig
from .errors import SwsError
from .mapping import LayerMap, map_layer
from .plan import Plan, build_layer_plan, load_plan, rebuild_weights, write_plan
from .quantize import QuantLayer, prepare_layer
from .report import map_layers, map_source, report_dict
from .layer import Layer
from .weights import load_weights

__all__ = ["ArrayConfig", "SwsError", "LayerMap", "map_layer", "Plan", "build_layer_plan", "load_plan",
           "rebuild_weights", "write_plan", "QuantLayer", "prepare_layer", "map_layers", "map_source",
           "report_dict", "Layer", "load_weights"]
