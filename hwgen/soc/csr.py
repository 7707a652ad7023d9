"""The register block of a `RegisterMap` on a minimal internal bus (`CsrSignature`), which the Wishbone and
AXI4-Lite bridges (hwgen.soc.bus) drive. Written on Amaranth's `lib.wiring`: amaranth-soc, which has such
register blocks, is not released on PyPI (only as a git dependency), so the project does not depend on it.
"""

from __future__ import annotations

import functools
import operator

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .regmap import RegisterMap

__all__ = ["READ_GROUP", "CsrSignature", "RegisterFile"]

#: Registers a read's first stage ANDs and ORs into one register (two 4-input LUT levels a bit).
READ_GROUP = 8


class CsrSignature(wiring.Signature):
    """The internal register bus, seen from the bridge (the register file has it as `In(...)`):

    addr   -- word address (byte offset / 4)
    w_stb  -- write `w_data` (bytes enabled by `w_sel`) to `addr` in this cycle
    r_stb  -- read `addr`; `r_data` holds the word from three cycles later until the next read's
    """

    def __init__(self, addr_width: int):
        super().__init__({"addr": Out(addr_width), "w_stb": Out(1), "w_data": Out(32), "w_sel": Out(4),
                          "r_stb": Out(1), "r_data": In(32)})


class RegisterFile(wiring.Component):
    """The registers of `regmap` (one read or write a cycle, pipelined).

    The hardware side is plain signals, one per field, named `<REGISTER>_<FIELD>` in `fields`:
    - ro: an input the parent drives if the field is in `driven`, else the constant of its reset value;
    - rw: the stored value (an output); a field in `loadable` also takes `load_value[key]` when
      `load[key]` is high (a bus write in the same cycle wins);
    - pulse: the written value for one cycle after a write (0 otherwise);
    - w1c: the sticky bits (an output); the parent raises `set[<REGISTER>_<FIELD>]` (an input of the same
      width) to set bits; a set and a clear in the same cycle leave the bit set.
    `written[<REGISTER>]` is high for one cycle after any write of the register (with its new values).

    The bus is registered on entry (address, strobes, data: no decoder between the bridge and a flip-flop),
    so a write reaches its fields two cycles after `w_stb`. A read is an AND-OR of the words selected by
    the address decoded one-hot into the entry register, in two register stages: each group of
    `READ_GROUP` registers' AND-OR into a register, then the OR of the groups into `r_data`, which holds the
    word three cycles after `r_stb` (the read multiplexer over some fifty registers in one cycle held the
    SoC's clock: docs/results/soc.md).
    """

    def __init__(self, regmap: RegisterMap, *, driven: set[str] = frozenset(), loadable: set[str] = frozenset()):
        self.regmap = regmap
        self.addr_width = max(1, (regmap.size // 4 - 1).bit_length())
        self.fields, self.set, self.load, self.load_value = {}, {}, {}, {}
        self.written = {r.name: Signal(name=f"written_{r.name.lower()}") for r in regmap.registers}
        self.constants = set()
        for r in regmap.registers:
            for f in r.fields:
                key = f"{r.name}_{f.name}"
                if f.access == "ro" and key not in driven:
                    self.constants.add(key)
                    continue
                self.fields[key] = Signal(f.width, name=key.lower(), init=f.reset if f.access in ("rw", "w1c") else 0)
                if f.access == "w1c":
                    self.set[key] = Signal(f.width, name=f"set_{key.lower()}")
                if key in loadable:
                    self.load[key] = Signal(name=f"load_{key.lower()}")
                    self.load_value[key] = Signal(f.width, name=f"load_value_{key.lower()}")
        unknown = (set(driven) | set(loadable)) - set(self.fields)
        if unknown:
            raise ValueError(f"no such fields: {sorted(unknown)}")
        super().__init__({"csr": In(CsrSignature(self.addr_width))})

    def elaborate(self, platform):
        m = Module()
        bus = self.csr
        # The bus registered on entry; everything below works on the registered copy `csr`.
        csr = CsrSignature(self.addr_width).flip().create(path=("q",))
        m.d.sync += [csr.addr.eq(bus.addr), csr.w_stb.eq(bus.w_stb), csr.w_data.eq(bus.w_data),
                     csr.w_sel.eq(bus.w_sel), csr.r_stb.eq(bus.r_stb)]
        m.d.comb += bus.r_data.eq(csr.r_data)
        # The address decoded into the entry register too (one flip-flop a register): the read is an
        # AND-OR of the words, the write enables come straight from flip-flops.
        regs = self.regmap.registers
        hit = Signal(len(regs))
        m.d.sync += hit.eq(Cat(*[bus.addr == r.offset // 4 for r in regs]))
        mask = Signal(32)
        m.d.comb += mask.eq(Cat(*[s.replicate(8) for s in csr.w_sel]))
        # Pulses last one cycle; sticky bits take their sets every cycle.
        for r in self.regmap.registers:
            for f in r.fields:
                key = f"{r.name}_{f.name}"
                if f.access == "pulse":
                    m.d.sync += self.fields[key].eq(0)
                elif f.access == "w1c":
                    m.d.sync += self.fields[key].eq(self.fields[key] | self.set[key])
                if key in self.load:
                    with m.If(self.load[key]):
                        m.d.sync += self.fields[key].eq(self.load_value[key])
        for strobe in self.written.values():
            m.d.sync += strobe.eq(0)
        for i, r in enumerate(regs):
            with m.If(csr.w_stb & hit[i]):
                m.d.sync += self.written[r.name].eq(1)
                for f in r.fields:
                    key = f"{r.name}_{f.name}"
                    bits = (csr.w_data & mask)[f.lsb:f.lsb + f.width]
                    old = self.fields.get(key)
                    if f.access == "ro":
                        continue
                    if f.access == "rw":
                        keep = ~mask[f.lsb:f.lsb + f.width]
                        m.d.sync += old.eq((old & keep) | bits)
                    elif f.access == "pulse":
                        m.d.sync += old.eq(bits)
                    elif f.access == "w1c":
                        m.d.sync += old.eq((old & ~bits) | self.set[key])
        words = []
        for i, r in enumerate(regs):
            word = Const(0, 32)
            for f in r.fields:
                key = f"{r.name}_{f.name}"
                if f.access == "pulse":
                    continue
                value = Const(f.reset, f.width) if key in self.constants else self.fields[key]
                word = word | (value.as_unsigned() << f.lsb)
            words.append(Mux(hit[i], word, 0))
        # The read in two stages: the groups' AND-ORs into registers, then their OR into r_data.
        groups = [words[k:k + READ_GROUP] for k in range(0, len(words), READ_GROUP)]
        partial = Signal(32 * len(groups), name="read_groups")
        r_stb2 = Signal(name="read_stage2")
        m.d.sync += r_stb2.eq(csr.r_stb)
        with m.If(csr.r_stb):
            m.d.sync += partial.eq(Cat(functools.reduce(operator.or_, g)[:32] for g in groups))
        with m.If(r_stb2):
            m.d.sync += csr.r_data.eq(functools.reduce(operator.or_, (partial[32 * k:32 * k + 32]
                                                                      for k in range(len(groups)))))
        return m
