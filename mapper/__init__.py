"""The SWS mapper: quantize, prune, sort and section a layer's weights, plan ADC resolutions, cost, emit ROMs.

Its subpackages, each importing only those before it: `common` (shared by every layer of the project),
`config`, `sources`, `sectioning`, `plan`, `prepare`, `cost`; `mapper.job` writes a plan folder.
"""

from .common import SwsError
from .config import ArrayConfig
from .cost import map_layers, map_source, report_dict
from .plan import Plan, build_layer_plan, load_plan, rebuild_weights, write_plan
from .prepare import prepare_layer
from .sectioning import LayerMap, map_layer
from .sources import Layer, QuantLayer, load_weights

__all__ = ["ArrayConfig", "SwsError", "LayerMap", "map_layer", "Plan", "build_layer_plan", "load_plan",
           "rebuild_weights", "write_plan", "QuantLayer", "prepare_layer", "map_layers", "map_source",
           "report_dict", "Layer", "load_weights"]
