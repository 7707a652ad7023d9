"""The configuration (docs/design.md section 0): the hardware, the mapping choices and the energy model,
with the ADC models and input encodings they name, and the energy of one conversion."""

from .adc_models import (AdcModel, MODELS, compare_models, PUBLISHED, RELATIVE, NEUROSIM_NODES, DEFAULT_E8_PJ,
                         DEFAULT_NODE_NM, DEFAULT_SAMPLE_RATE_HZ, LOW_BITS_RULE)
from .array import ArrayConfig
from .choices import ORDERINGS, POLICIES, SECTIONINGS, PLACEMENTS, MappingConfig
from .drive import ENCODINGS, BUILT, step_count, step_weights, drive_steps, input_range, sign_bits
from .energy import conversion_energy, energy_table, adc_area
from .energy_model import LAWS, EnergyConfig
from .hardware import clog2, HardwareConfig

__all__ = ["AdcModel", "MODELS", "compare_models", "PUBLISHED", "RELATIVE", "NEUROSIM_NODES", "DEFAULT_E8_PJ",
           "DEFAULT_NODE_NM", "DEFAULT_SAMPLE_RATE_HZ", "LOW_BITS_RULE", "ArrayConfig", "ORDERINGS", "POLICIES",
           "SECTIONINGS", "PLACEMENTS", "MappingConfig", "ENCODINGS", "BUILT", "sign_bits", "step_count",
           "step_weights", "drive_steps",
           "input_range", "conversion_energy", "energy_table", "adc_area", "LAWS", "EnergyConfig", "clog2",
           "HardwareConfig"]
