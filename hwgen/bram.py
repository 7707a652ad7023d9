"""Block RAM whose read data is registered: a `Memory` read port and a register on any target, or, when
elaborated for ECP5 (`ECP5`), a DP16KD whose output register (REGMODE OUTREG) is that register.

Yosys's ECP5 memory mapping never sets REGMODE=OUTREG, so the register behind a mapped DP16KD is a fabric
flip-flop: nextpnr-ecp5 0.11.1 times the block RAM's read data then with its clock-to-output time without
the register (5.61 ns, speed grade 6) plus the routing to the slice (at least 1.06 ns: 149.9 MHz for a
DP16KD and one flip-flop alone), against 0.97 ns with the output register.
"""

from __future__ import annotations

from amaranth import ClockSignal, Const, Signal, unsigned
from amaranth.hdl import Instance
from amaranth.lib.memory import Memory

__all__ = ["ECP5", "Ecp5Platform", "registered_read", "flush_and_stream_ram", "dp16kd_width", "dp16kd_initvals", "platform_for"]

#: DP16KD data widths as a true dual-port block RAM, and the depth of each.
_WIDTHS = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024))


class Ecp5Platform:
    """The `platform` an ECP5 synthesis elaborates with: block RAMs become DP16KD instances with their
    output registers (`registered_read`). Nothing else of Amaranth's platform interface is needed."""

    family = "ecp5"

    def __repr__(self):
        return "Ecp5Platform()"


ECP5 = Ecp5Platform()


def platform_for(target: str):
    """The elaboration platform of a synthesis target: `ECP5` for ecp5, None (generic memories) otherwise."""
    return ECP5 if target == "ecp5" else None


def dp16kd_width(width: int, depth: int) -> int:
    """The narrowest DP16KD data width (1, 2, 4, 9, 18) that holds `depth` words of `width` bits."""
    for w, d in _WIDTHS:
        if w >= width and d >= depth:
            return w
    raise ValueError(f"a DP16KD cannot hold {depth} words of {width} bits")


def dp16kd_initvals(words, width: int, data_width: int) -> dict[str, int]:
    """INITVAL_00..3F of a DP16KD holding `words` (each `width` bits) at data width `data_width`: 1024 rows
    of 18 bits, 16 rows to a parameter at 20 bits each; below width 9 the 9th bit of each byte is unused
    (sim.netlist.dp16kd_model reads them the same way). Only the nonzero parameters."""
    bits = [0] * 18432
    for i, v in enumerate(words):
        for b in range(width):
            if data_width >= 9:
                pos = i * data_width + b
            else:
                per_byte = 8 // data_width
                pos = (i // per_byte) * 9 + (i % per_byte) * data_width + b
            bits[pos] = (int(v) >> b) & 1
    out = {}
    for p in range(64):
        value = 0
        for r in range(16):
            row = sum(bits[(p * 16 + r) * 18 + b] << b for b in range(18))
            value |= row << (r * 20)
        if value:
            out[f"INITVAL_{p:02X}"] = value
    return out


def _fits(width: int, depth: int) -> bool:
    return any(w >= width and d >= depth for w, d in _WIDTHS)


def registered_read(m, name: str, *, width: int, depth: int, addr, init=(), write=None, en=None,
                    transparent: bool = True, write_addr=None, platform=None) -> Signal:
    """A memory of `depth` words of `width` bits with one read-write port (or, with `write_addr`, a read
    port and a write port): the word at `addr` in cycle T is returned in T + 2, from a register (no logic
    between the block RAM and it).

    Parameters
    ----------
    m : Module
        Where the memory goes (as submodule `name`).
    addr : Value
        The address, of the read and of the write alike.
    init : sequence of int
        Initial contents.
    write : (Value, Value) or None
        (enable, data) of a write at `addr`.
    en : Value or None
        Read enable (default always): without it the read word holds.
    transparent : bool
        A read at the address being written returns the new word (otherwise the old one).
    write_addr : Value or None
        The write's own address, on a port of its own (DP16KD port B): no multiplexer between the read
        and the write address in front of the block RAM. A read of the word written in the same cycle then
        returns either word (`transparent` does not apply); use it where no read is used while writing.
    platform : Ecp5Platform or None
        `ECP5`: a DP16KD instance whose output register is the register, when one DP16KD holds the
        memory; otherwise (or for a larger memory) a `Memory` and a register.
    """
    if getattr(platform, "family", None) == "ecp5" and width <= 18 and _fits(width, depth):
        return _dp16kd(m, name, width, depth, addr, init, write, en, transparent, write_addr)
    mem = Memory(shape=unsigned(width), depth=depth, init=list(init))
    m.submodules[name] = mem
    if write is not None:
        wp = mem.write_port()
        m.d.comb += [wp.addr.eq(addr if write_addr is None else write_addr), wp.en.eq(write[0]), wp.data.eq(write[1])]
        rp = mem.read_port(transparent_for=(wp,) if transparent and write_addr is None else ())
    else:
        rp = mem.read_port()
    m.d.comb += rp.addr.eq(addr)
    if en is not None:
        m.d.comb += rp.en.eq(en)
    # No reset, as the DP16KD's output register here has none: the word is read again before it is used.
    q = Signal(width, name=f"{name}_q", reset_less=True)
    m.d.sync += q.eq(rp.data)
    return q


def _dp16kd(m, name, width, depth, addr, init, write, en, transparent, write_addr=None):
    dw = dp16kd_width(width, depth)
    abits = {1: 0, 2: 1, 4: 2, 9: 3, 18: 4}[dw]

    def address(value, suffix):
        ad = Signal(14, name=f"{name}_{suffix}")
        # The word address sits above the low address bits; at width 18, ADx1..0 are the byte write enables.
        m.d.comb += ad[abits:abits + max(1, (depth - 1).bit_length())].eq(value)
        if dw == 18:
            m.d.comb += ad[:2].eq(0b11)
        return ad
    ad = address(addr, "ad")
    di = Signal(18, name=f"{name}_di")
    do = Signal(18, name=f"{name}_do")
    we = Const(0, 1)
    if write is not None:
        m.d.comb += di[:width].eq(write[1])
        if write_addr is None:
            we = write[0]
    params = {"DATA_WIDTH_A": dw, "DATA_WIDTH_B": dw, "REGMODE_A": "OUTREG", "REGMODE_B": "NOREG",
              "RESETMODE": "SYNC", "ASYNC_RESET_RELEASE": "SYNC", "CSDECODE_A": "0b000", "CSDECODE_B": "0b000",
              "WRITEMODE_A": "WRITETHROUGH" if transparent else "READBEFOREWRITE", "WRITEMODE_B": "NORMAL",
              "CLKAMUX": "CLKA", "CLKBMUX": "CLKB", "GSR": "DISABLED"}
    params.update({k: Const(v, 320) for k, v in dp16kd_initvals(init, width, dw).items()})
    ports = {"i_CLKA": ClockSignal(), "i_CEA": 1 if en is None else en, "i_OCEA": 1, "i_WEA": we,
             "i_RSTA": 0, "i_CSA0": 0, "i_CSA1": 0, "i_CSA2": 0,
             "i_CLKB": 0, "i_CEB": 0, "i_OCEB": 0, "i_WEB": 0, "i_RSTB": 0, "i_CSB0": 0, "i_CSB1": 0, "i_CSB2": 0}
    adb, dib = Const(0, 14), Const(0, 18)
    if write is not None and write_addr is not None:      # the write on port B, port A reads only
        adb, dib = address(write_addr, "adb"), di
        ports.update({"i_CLKB": ClockSignal(), "i_CEB": 1, "i_WEB": write[0]})
    for i in range(14):
        ports[f"i_ADA{i}"], ports[f"i_ADB{i}"] = ad[i], adb[i]
    for i in range(18):
        ports[f"i_DIA{i}"], ports[f"i_DIB{i}"], ports[f"o_DOA{i}"] = (0 if write_addr is not None else di[i]), dib[i], do[i]
    m.submodules[name] = Instance("DP16KD", **{f"p_{k}": v for k, v in params.items()}, **ports)
    q = Signal(width, name=f"{name}_q")
    m.d.comb += q.eq(do[:width])
    return q


#: The deepest accumulator memory kept out of block RAM (`flush_and_stream_ram`): one LUT RAM's 16 words.
SHALLOW = 16


def flush_and_stream_ram(m, name: str, *, width: int, depth: int, a_addr, a_en, b_addr, b_en, b_we, b_data,
                         platform=None):
    """The accumulator's memory (and the double-buffered input buffer's: the gather reads on A, the
    loader writes on B): port A reads (the word at `a_addr` in T, returned in T + 2 from a
    register: on ECP5 the DP16KD's output register), port B reads and writes at one address (the word
    at `b_addr` in T, returned in T + 1 and held until B's next enabled cycle; a write in the same cycle
    reads the word before it). A read on A of a word B writes in the same cycle returns either word: the
    user bypasses it. In slices of at most 18 bits (one DP16KD each on ECP5). Returns (A's word, B's word).

    A memory of at most `SHALLOW` words is a `Memory` on every platform (on ECP5 Yosys maps it to LUT RAM
    or flip-flops): with W outputs a word the accumulator is N / W words deep, and a DP16KD per 18 bits of
    an 8-word memory would spend the FPGA's block RAMs (208 on the largest ECP5) on almost nothing."""
    qa, qb = Signal(width, name=f"{name}_qa"), Signal(width, name=f"{name}_qb")
    for k, lo in enumerate(range(0, width, 18)):
        w = min(18, width - lo)
        sl = f"{name}{k}"
        if getattr(platform, "family", None) == "ecp5" and depth > SHALLOW and _fits(w, depth):
            dw = dp16kd_width(w, depth)
            abits = {1: 0, 2: 1, 4: 2, 9: 3, 18: 4}[dw]
            n = max(1, (depth - 1).bit_length())
            ada, adb = Signal(14, name=f"{sl}_ada"), Signal(14, name=f"{sl}_adb")
            m.d.comb += [ada[abits:abits + n].eq(a_addr), adb[abits:abits + n].eq(b_addr)]
            if dw == 18:
                m.d.comb += [ada[:2].eq(0b11), adb[:2].eq(0b11)]
            dib, doa, dob = Signal(18, name=f"{sl}_dib"), Signal(18, name=f"{sl}_doa"), Signal(18, name=f"{sl}_dob")
            m.d.comb += dib[:w].eq(b_data[lo:lo + w])
            params = {"DATA_WIDTH_A": dw, "DATA_WIDTH_B": dw, "REGMODE_A": "OUTREG", "REGMODE_B": "NOREG",
                      "RESETMODE": "SYNC", "ASYNC_RESET_RELEASE": "SYNC", "CSDECODE_A": "0b000",
                      "CSDECODE_B": "0b000", "WRITEMODE_A": "NORMAL", "WRITEMODE_B": "READBEFOREWRITE",
                      "CLKAMUX": "CLKA", "CLKBMUX": "CLKB", "GSR": "DISABLED"}
            ports = {"i_CLKA": ClockSignal(), "i_CEA": a_en, "i_OCEA": 1, "i_WEA": 0, "i_RSTA": 0,
                     "i_CSA0": 0, "i_CSA1": 0, "i_CSA2": 0,
                     "i_CLKB": ClockSignal(), "i_CEB": b_en, "i_OCEB": 1, "i_WEB": b_we, "i_RSTB": 0,
                     "i_CSB0": 0, "i_CSB1": 0, "i_CSB2": 0}
            for i in range(14):
                ports[f"i_ADA{i}"], ports[f"i_ADB{i}"] = ada[i], adb[i]
            for i in range(18):
                ports[f"i_DIA{i}"], ports[f"i_DIB{i}"] = 0, dib[i]
                ports[f"o_DOA{i}"], ports[f"o_DOB{i}"] = doa[i], dob[i]
            m.submodules[sl] = Instance("DP16KD", **{f"p_{k}": v for k, v in params.items()}, **ports)
            m.d.comb += [qa[lo:lo + w].eq(doa[:w]), qb[lo:lo + w].eq(dob[:w])]
            continue
        mem = Memory(shape=unsigned(w), depth=depth, init=[])
        m.submodules[sl] = mem
        wp, rb, ra = mem.write_port(), mem.read_port(), mem.read_port()
        reg = Signal(w, name=f"{sl}_qa", reset_less=True)
        m.d.comb += [ra.addr.eq(a_addr), ra.en.eq(a_en), rb.addr.eq(b_addr), rb.en.eq(b_en),
                     wp.addr.eq(b_addr), wp.en.eq(b_we), wp.data.eq(b_data[lo:lo + w]),
                     qa[lo:lo + w].eq(reg), qb[lo:lo + w].eq(rb.data)]
        m.d.sync += reg.eq(ra.data)
    return qa, qb
