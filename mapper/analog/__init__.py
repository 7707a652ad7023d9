"""Analog non-idealities of the mapped crossbars: device and ADC models, and a layer computed through them."""

from .adc import AdcBank
from .crossbar import AnalogRun, analog_error, analog_matvec, fine_energy_pj, program_chip, section_cells
from .devices import PRESETS, AdcNoise, CellState, DeviceModel, device_from_dict, load_device, preset

__all__ = ["AdcBank", "AnalogRun", "analog_error", "analog_matvec", "fine_energy_pj", "program_chip", "section_cells", "PRESETS",
           "AdcNoise", "CellState", "DeviceModel", "device_from_dict", "load_device", "preset"]
