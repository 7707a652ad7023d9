"""Verilog of a tile (or of the controller alone), reproducible byte for byte."""

from __future__ import annotations

from amaranth.back import rtlil, verilog

from mapper.plan import LayerPlan

from .controller import Controller
from .params import TileParams
from .tile import Tile

__all__ = ["emit_verilog", "emit_rtlil", "module_name"]


def module_name(controller_only: bool) -> str:
    return "sws_controller" if controller_only else "sws_tile"


def emit_verilog(lp: LayerPlan | None, params: TileParams, *, controller_only: bool = False) -> str:
    """With a plan, its ROM images (and for a tile its cells) are baked into the memories' initial contents;
    with `lp` None, the generic netlist of `params`'s limits, its ROMs written through the `prog` port."""
    top = (Controller if controller_only else Tile)(params, lp)
    return verilog.convert(top, name=module_name(controller_only), emit_src=False)


def emit_rtlil(lp: LayerPlan | None, params: TileParams, *, controller_only: bool = False) -> str:
    """The same design as Yosys's own RTLIL, for synthesis: its names need no Verilog escaping, which keeps
    Yosys's generated `$` names from colliding with Amaranth's."""
    top = (Controller if controller_only else Tile)(params, lp)
    return rtlil.convert(top, name=module_name(controller_only), emit_src=False)
