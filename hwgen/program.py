"""The programming writes that load a plan into a generic tile through its `prog` port (docs/design.md
section 6): the ROM words, every cell column word of the plan's sections, then the layer register."""

from __future__ import annotations

from amaranth.lib import data

from mapper.plan import LayerPlan

from .interface import PROG_SELECT, layer_word_layout
from .params import TileParams, pack_words

__all__ = ["program_writes"]


def program_writes(params: TileParams, lp: LayerPlan, *, cells: bool = True) -> list[tuple[int, int, int]]:
    """(sel, addr, data) writes, one a cycle, that load `lp` into a generic tile of `params`.

    Parameters
    ----------
    params : TileParams
        The generic tile's limits; the plan must fit them (`TileParams.fits`).
    lp : LayerPlan
        The plan layer to load.
    cells : bool
        Also write the array emulator's cells (False for a controller alone).

    Raises
    ------
    SwsError
        When the plan does not fit the tile.
    """
    params.fits(lp)
    w = []
    for sel, words in (("sections", params.section_words(lp)), ("rows", params.row_words(lp)),
                       ("columns", params.column_words(lp))):
        w += [(PROG_SELECT[sel], a, d) for a, d in enumerate(words)]
    if cells:
        # Every column word of the plan's sections, zeros included: the generic array may hold an older plan.
        words = params.cell_words(lp)
        w += [(PROG_SELECT["cells"], a, words.get(a, 0)) for a in range(lp.n_sections * params.slot_pad)]
    layer = pack_words(layer_word_layout(params), {"sections": [lp.n_sections], "k": [lp.shape[0]],
                                                   "n": [lp.shape[1]]})[0]
    w.append((PROG_SELECT["layer"], 0, layer))
    return w


def max_writes(params: TileParams) -> int:
    """Most programming writes a plan that fits `params` can need."""
    return params.section_depth + params.row_depth + params.column_depth + params.section_depth * params.slot_pad + 1
