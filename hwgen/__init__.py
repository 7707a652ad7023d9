"""Amaranth RTL of the crossbar controller, the array emulator and the tile that joins them."""

from .controller import Controller
from .emulator import ArrayEmulator
from .params import TileParams, default_lanes
from .tile import Tile

__all__ = ["Controller", "ArrayEmulator", "Tile", "TileParams", "default_lanes"]
