"""hwgen.verilog's faster RTLIL emission of memories' initial contents: the same text as Amaranth's own."""

import random

import pytest
from amaranth import Elaboratable, Module, Signal, signed, unsigned
from amaranth.back import rtlil
from amaranth.lib.memory import Memory

from hwgen.emulator import array_emulator
from hwgen.params import TileParams
from hwgen.verilog import fast_memory_init
from hwgen.tile import Tile
from tests.sim.cases import rtl_cases


class _Memories(Elaboratable):
    """Memories of every kind of initial contents: signed words with negative values, wide and 1-bit words,
    all zero, a single word; each read so that it is kept."""

    def __init__(self, seed):
        rng = random.Random(seed)
        self.specs = [
            (signed(7), 13, [rng.randrange(-64, 64) for _ in range(13)]),
            (unsigned(37), 9, [rng.randrange(1 << 37) for _ in range(9)]),
            (unsigned(1), 33, [rng.randrange(2) for _ in range(33)]),
            (unsigned(12), 64, [0] * 64),
            (signed(5), 1, [-16]),
            (unsigned(8), 20, [0] * 19 + [255]),
        ]
        self.outs = [Signal(shape, name=f"o{i}") for i, (shape, _, _) in enumerate(self.specs)]
        self.addr = Signal(8)

    def elaborate(self, platform):
        m = Module()
        for i, (shape, depth, init) in enumerate(self.specs):
            m.submodules[f"mem{i}"] = mem = Memory(shape=shape, depth=depth, init=init)
            port = mem.read_port(domain="comb")
            m.d.comb += [port.addr.eq(self.addr), self.outs[i].eq(port.data)]
        return m


def _both(design, **kwargs):
    own = rtlil.convert(design, **kwargs)
    with fast_memory_init():
        fast = rtlil.convert(design, **kwargs)
    return own, fast


@pytest.mark.parametrize("seed", [1, 2])
def test_memories_of_every_shape_convert_to_the_same_rtlil_as_amaranths_own(seed):
    design = _Memories(seed)
    own, fast = _both(design, ports=[design.addr, *design.outs])
    assert own.count("$meminit_v2") == len(design.specs)
    assert fast == own


def test_a_baked_tile_converts_to_the_same_rtlil_as_amaranths_own():
    """Its tables and cells in its memories' initial contents, its accumulators all zero."""
    lp = rtl_cases()[0].lp
    params = TileParams.from_plan(lp)
    own, fast = _both(Tile(params, lp), emit_src=False)
    assert own.count("$meminit_v2") >= 4
    assert fast == own
    # The array emulator alone (its cells baked in), as the netlist checks convert it beside a controller.
    own, fast = _both(array_emulator(params, lp), emit_src=False)
    assert own.count("$meminit_v2") >= 1 and fast == own


def test_amaranths_own_emitter_is_back_after_the_block_even_when_it_raises():
    own = rtlil.ModuleEmitter
    with pytest.raises(ZeroDivisionError):
        with fast_memory_init():
            assert rtlil.ModuleEmitter is not own
            1 / 0
    assert rtlil.ModuleEmitter is own
