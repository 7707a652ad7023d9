"""The controller's tables (section, row-index, column) as block RAM: each cut into banks and slices of one
ECP5 DP16KD, read with two cycles of latency from registers (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Cat, Mux, Signal

from .bram import registered_read
from .interface import PROG_SELECT

__all__ = ["DP16KD_SHAPES", "table_shape", "table_read"]


#: The ECP5 DP16KD block RAM's true dual-port shapes (depth, width): 18 kbit, or 16 kbit below width 9.
#: (512 x 36 is pseudo dual-port only, its read and write on two ports: see `table_read`.)
DP16KD_SHAPES = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))


def table_shape(width: int, depth: int) -> tuple[int, int]:
    """(bank depth, slice width) of a table of `depth` words of `width` bits cut into banks and slices of
    one DP16KD each: the fewest banks, then the fewest block RAMs. Each piece then maps to one block RAM
    whose read data goes straight into a register (on ECP5 its own output register); a table of several
    banks has a bank multiplexer behind those registers, which in the row-index table's path (registered
    word, multiplexer, the input buffer's address) costs about 1.5 ns at 150 MHz: one bank of 8192 2-bit
    slices (5 block RAMs) beats four banks of 2048 9-bit words (4)."""
    def cost(shape):
        d, w = shape
        return -(-depth // d), -(-depth // d) * -(-width // w)
    d, w = min(DP16KD_SHAPES, key=cost)
    return min(d, 1 << max(0, depth - 1).bit_length()), min(w, width)


def table_read(m, name, width, depth, words, addr, qname, prog=None, platform=None):
    """One read of a table (a copy of it for each read), in banks and slices of one block RAM each
    (`table_shape`), with 2 cycles of latency: `addr` in cycle T, the word (returned) in T + 2 from
    registers: each bank's read data is registered (`hwgen.bram.registered_read`: on ECP5 the DP16KD's own
    output register), then the bank is chosen by the address's registered high bits, so the multiplexer
    sits behind the registers.

    A generic table's write (`prog`) and the read share one address (the write's while it writes): each
    block RAM then has one read-write port, whose read-during-write behaviour it has natively; a write and
    a read on two ports would make Yosys emulate the read's collision behaviour with a multiplexer behind
    the block RAM's output, where no logic fits. On ECP5 (DP16KD instances, which Yosys does not emulate)
    the write has a port of its own instead (port B, from the host's registers), so no address
    multiplexer, selected by the write, sits in front of the block RAMs (its select fanned out over
    every table's block RAMs was the critical path, docs/results/controller.md): the host writes the
    tables only while the controller is idle, when no read is used."""
    depth = max(1, depth)
    bank, piece = table_shape(width, depth)
    bits = (bank - 1).bit_length()
    writing = None if prog is None else prog.we & (prog.sel == PROG_SELECT[name])
    split = prog is not None and getattr(platform, "family", None) == "ecp5"
    at = Signal(len(addr), name=f"{qname}_addr")
    m.d.comb += at.eq(addr if prog is None or split else Mux(writing, prog.addr, addr))
    to = prog.addr[:len(addr)] if split else at         # the write's address
    qs = []
    for b in range(-(-depth // bank)):
        size = min(bank, depth - b * bank)
        datas = []
        for lo in range(0, width, piece):
            w = min(piece, width - lo)
            init = [] if words is None else [(v >> lo) & ((1 << w) - 1) for v in words[b * bank:][:size]]
            write = None if prog is None else (writing & (to[bits:] == b), prog.data[lo:lo + w])
            datas.append(registered_read(m, f"{qname}_b{b}_s{lo // piece}", width=w, depth=size, addr=at[:bits],
                                         init=init, write=write, write_addr=to[:bits] if split else None,
                                         platform=platform))
        q = Signal(width, name=f"{qname}_bank{b}")
        m.d.comb += q.eq(Cat(datas))
        qs.append(q)
    out = Signal(width, name=qname)
    if len(qs) == 1:
        m.d.comb += out.eq(qs[0])
        return out
    sel1, sel2 = Signal(range(len(qs)), name=f"{qname}_sel1"), Signal(range(len(qs)), name=f"{qname}_sel2")
    m.d.sync += [sel1.eq(at[bits:]), sel2.eq(sel1)]
    with m.Switch(sel2):
        for b, q in enumerate(qs):
            with m.Case(b):
                m.d.comb += out.eq(q)
    return out
