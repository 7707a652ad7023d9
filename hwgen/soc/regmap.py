"""The control/status register map of the SoC wrapper: one Python description (`register_map`), from which
the register block's RTL (hwgen.soc.csr), its documentation (Markdown), a C header and a machine-readable
JSON file are all generated, so that they cannot disagree.

Every register is 32 bits at a byte offset that is a multiple of 4. A field's access is one of
``ro`` (read only), ``rw`` (read/write), ``w1c`` (sticky, set by the hardware, a 1 written clears it),
``pulse`` (write only: a 1 written makes a one-cycle pulse; reads 0). A field with ``wired=False`` is a
placeholder for a port the controller does not have yet: it is documented as such and behaves exactly as
documented (it holds what is written, or reads 0), and changes nothing else.
"""

from __future__ import annotations

import json

from amaranth import Shape
from dataclasses import asdict, dataclass, field

from mapper.common import SwsError

from ..interface import (COUNTER_WIDTH, CYCLE_WIDTH, ERRORS, EVENTS, PROG_SELECT, ProgSignature, layer_word_layout,
                         timing_layout)
from ..params import TileParams

#: The timing word's fields (hwgen.interface.timing_layout), as TIMING, TIMING_ADC and TIMING_GUARD hold them.
TIMING_FIELDS = ("precharge", "wordline", "settle", "sample", "sync", "watchdog", "guard")

__all__ = ["Field", "Register", "RegisterMap", "register_map", "counter_names", "ID_MAGIC", "ACCESS", "BUSES",
           "NOT_WIRED", "TIMING_FIELDS"]

#: ID register value: "SWS" and the register map's version (2: the controller's status, timing and counters;
#: 3: every event the energy model prices counted, SAMPLE_HOLDS, INPUTS and OUTPUTS by the element,
#: ROW_DRIVES and CELL_READS).
ID_MAGIC = 0x53575303
ACCESS = ("ro", "rw", "w1c", "pulse")
#: The host buses the register block can sit behind (chosen at generation).
BUSES = ("axil", "wishbone", "wishbone-pipelined")
#: What an unwired field's documentation says.
NOT_WIRED = "NOT WIRED YET (the controller has no such port)"


@dataclass(frozen=True)
class Field:
    """`width` bits from bit `lsb` of a register."""
    name: str
    lsb: int
    width: int
    access: str
    doc: str
    reset: int = 0
    wired: bool = True

    def __post_init__(self):
        if self.access not in ACCESS:
            raise SwsError(f"field {self.name}: access must be one of {', '.join(ACCESS)}, not {self.access!r}")
        if not (0 <= self.lsb and self.width >= 1 and self.lsb + self.width <= 32):
            raise SwsError(f"field {self.name}: bits {self.lsb}..{self.lsb + self.width - 1} do not fit 32 bits")
        if not 0 <= self.reset < 1 << self.width:
            raise SwsError(f"field {self.name}: reset value {self.reset} does not fit {self.width} bits")

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb


@dataclass(frozen=True)
class Register:
    name: str
    offset: int
    doc: str
    fields: tuple[Field, ...]

    def __post_init__(self):
        if self.offset % 4:
            raise SwsError(f"register {self.name}: offset {self.offset:#x} is not a multiple of 4")
        used = 0
        for f in self.fields:
            if used & f.mask:
                raise SwsError(f"register {self.name}: field {f.name} overlaps another field")
            used |= f.mask

    @property
    def reset(self) -> int:
        return sum(f.reset << f.lsb for f in self.fields)

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name}.{name}")


@dataclass(frozen=True)
class RegisterMap:
    """The registers of one generated wrapper (they depend on the tile's parameters)."""
    name: str
    bus: str
    registers: tuple[Register, ...]
    info: dict = field(default_factory=dict)

    def __post_init__(self):
        offsets = [r.offset for r in self.registers]
        if len(set(offsets)) != len(offsets):
            raise SwsError(f"register map {self.name}: two registers at one offset")

    def __getitem__(self, name: str) -> Register:
        for r in self.registers:
            if r.name == name:
                return r
        raise KeyError(name)

    def __contains__(self, name: str) -> bool:
        return any(r.name == name for r in self.registers)

    @property
    def size(self) -> int:
        """Bytes of address space (a power of two)."""
        top = max(r.offset for r in self.registers) + 4
        return 1 << (top - 1).bit_length()

    # Emitters ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {"name": self.name, "bus": self.bus, "data_width": 32, "size": self.size,
                "addressing": "byte offsets; Wishbone: word address = offset / 4",
                "info": self.info,
                "registers": [{"name": r.name, "offset": r.offset, "reset": r.reset, "doc": r.doc,
                               "fields": [asdict(f) for f in r.fields]} for r in self.registers]}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=1) + "\n"

    def to_markdown(self) -> str:
        lines = [f"# Register map of `{self.name}`", "",
                 "Generated by `hwgen.soc.regmap` (do not edit). 32-bit registers at byte offsets; behind "
                 "Wishbone the word address is offset / 4. Access: ro read only, rw read/write, w1c sticky "
                 "(write 1 to clear), pulse (write 1: a one-cycle pulse; reads 0).", "",
                 "| offset | register | reset | description |", "| --- | --- | --- | --- |"]
        for r in self.registers:
            lines.append(f"| {r.offset:#05x} | {r.name} | {r.reset:#010x} | {r.doc} |")
        for r in self.registers:
            lines += ["", f"## {r.name} ({r.offset:#05x})", "", r.doc, "",
                      "| bits | field | access | reset | description |", "| --- | --- | --- | --- | --- |"]
            for f in r.fields:
                bits = f"{f.lsb}" if f.width == 1 else f"{f.lsb + f.width - 1}:{f.lsb}"
                doc = f.doc if f.wired else f"**{NOT_WIRED}.** {f.doc}"
                lines.append(f"| {bits} | {f.name} | {f.access} | {f.reset:#x} | {doc} |")
        return "\n".join(lines) + "\n"

    def to_c_header(self) -> str:
        guard = f"{self.name.upper()}_REGS_H"
        p = self.name.upper()
        out = [f"/* Register map of {self.name}: generated by hwgen.soc.regmap (do not edit). */",
               f"#ifndef {guard}", f"#define {guard}", "", "#include <stdint.h>", "",
               f"#define {p}_ID_MAGIC 0x{ID_MAGIC:08x}u", f"#define {p}_SIZE 0x{self.size:x}u", ""]
        for r in self.registers:
            out.append(f"/* {r.doc} */")
            out.append(f"#define {p}_{r.name}_OFFSET 0x{r.offset:03x}u")
            out.append(f"#define {p}_{r.name}_RESET 0x{r.reset:08x}u")
            for f in r.fields:
                note = "" if f.wired else " (not wired yet)"
                out.append(f"#define {p}_{r.name}_{f.name}_SHIFT {f.lsb}u{' ' * 0}  /* {f.access}{note} */")
                out.append(f"#define {p}_{r.name}_{f.name}_MASK 0x{f.mask:08x}u")
            out.append("")
        out += [f"#define {p}_REG(base, name) (*(volatile uint32_t *)((uintptr_t)(base) + {p}_##name##_OFFSET))",
                "", f"#endif /* {guard} */", ""]
        return "\n".join(out)


def counter_names(params: TileParams) -> list[tuple[str, str, int | None]]:
    """(register stem, CounterSignature member, index) of every counter the register map snapshots: the busy
    cycles, the conversions at each resolution 1..full resolution (with the bipolar drive 1..full resolution
    + 1, the sign bit included), and the `EVENTS`, each two registers
    `<stem>_LO` (bits 31..0) and `<stem>_HI` (bits 47..32)."""
    return ([("CYCLES", "cycles", None)] +
            [(f"CONV{b}", "conversions", b) for b in range(1, params.conv_bits + 1)] +
            [(name.upper(), name, None) for name in EVENTS])


_COUNTER_DOCS = {
    "cycles": "busy cycles, from a vector's first input beat to its last output beat (cycles waiting for a "
              "first input are not counted)",
    "planes": "activations issued: (section, drive step) pairs", "sections": "sections walked (empty ones included)",
    "precharges": "precharge pulses (pch)", "wordlines": "wordline pulses (wl_en)",
    "sample_holds": "columns sampled: each activation's active columns (one a conversion)",
    "rows_high": "rows driven high, summed over the activations", "code_sum": "the captured ADC codes' sum (bipolar: of their magnitudes)",
    "shift_adds": "shift-adds (one a conversion)", "row_reads": "row-index words read by the gather",
    "column_reads": "column words read by the gather", "flushes": "accumulator flushes (one a section that issues)",
    "inputs": "input elements taken (a beat's W, the vector's last beat only its own)",
    "outputs": "output elements streamed (a beat's W, the vector's last beat only its own)",
    "row_drives": "rows driven: each activation's section rows",
    "cell_reads": "cells read: the 1-cells of each converted column on its section's rows, as the array reports "
                  "them (the emulator counts them; a macro without the count reads 0)",
}


def _counter_regs(params: TileParams, base: int) -> list[Register]:
    regs = []
    offset = base
    for stem, member, index in counter_names(params):
        width = CYCLE_WIDTH if member == "cycles" else COUNTER_WIDTH
        what = (f"conversions at {index} bits" if member == "conversions" else _COUNTER_DOCS[member])
        name = f"{member}[{index}]" if index is not None else member
        regs.append(Register(f"{stem}_LO", offset, f"Snapshot of counter {name}, bits 31..0: {what}",
                             (Field("VALUE", 0, 32, "ro", f"{name}[31:0]"),)))
        regs.append(Register(f"{stem}_HI", offset + 4, f"Snapshot of counter {name}, bits {width - 1}..32",
                             (Field("VALUE", 0, width - 32, "ro", f"{name}[{width - 1}:32]"),)))
        offset += 8
    regs.append(Register("VECTORS", offset, "Snapshot: vectors whose last output beat left m_axis (the wrapper's "
                         "count, 32 bits, with the same SNAPSHOT and CLEAR)", (Field("VALUE", 0, 32, "ro", "vectors"),)))
    return regs


def prog_data_words(params: TileParams) -> int:
    """32-bit PROG_DATA registers that hold one programming word."""
    return -(-Shape.cast(ProgSignature(params).members["data"].shape).width // 32)


def register_map(params: TileParams, *, generic: bool, bus: str = "axil", name: str = "sws_soc") -> RegisterMap:
    """The register map of the wrapper of a tile of `params` (generic: programmed over the bus)."""
    if bus not in BUSES:
        raise SwsError(f"bus must be one of {', '.join(BUSES)}, not {bus!r}")
    hw, t = params.hw, params.timing
    for what, value, bits in (("k", params.k, 16), ("n", params.n, 16), ("n_adc", hw.n_adc, 8),
                              ("banks", hw.banks, 4), ("full_resolution", hw.full_resolution, 5)):
        if value >= 1 << bits:
            raise SwsError(f"{what} {value}: the register map's INFO/LIMITS field holds at most {(1 << bits) - 1}")
    tl = timing_layout()
    tw = {name: Shape.cast(tl[name].shape).width for name in TIMING_FIELDS}
    timing_doc = ("; a write of TIMING, TIMING_ADC or TIMING_GUARD writes the whole timing word (the three "
                  "registers) into the "
                  "controller's timing registers, which take it only between vectors and in range, else keep "
                  "their value and set STATUS.HOST_PROTOCOL or OUT_OF_RANGE; reads give what was written")
    regs = [
        Register("ID", 0x00, f"Identification: 0x{ID_MAGIC:08x} (\"SWS\", register map version {ID_MAGIC & 0xFF})",
                 (Field("MAGIC", 0, 32, "ro", "identification", ID_MAGIC),)),
        Register("INFO", 0x04, "What was generated", (
            Field("N_ADC", 0, 8, "ro", "ADCs per bank", hw.n_adc),
            Field("FULL_RES", 8, 5, "ro", "full ADC resolution in bits", hw.full_resolution),
            Field("LOG2_BEAT", 13, 3, "ro", "log2 of W, elements per stream beat", params.beat.bit_length() - 1),
            Field("BANKS", 16, 4, "ro", "banks B", hw.banks),
            Field("GENERIC", 20, 1, "ro", "1: tables programmed over the bus (PROG_*); 0: baked from a plan",
                  int(generic)),
            Field("INPUT_BITS", 24, 5, "ro", "input bits A", hw.input_bits))),
        Register("LIMITS", 0x08, "Largest K and N (a baked tile: its layer's)", (
            Field("K", 0, 16, "ro", "inputs K", params.k), Field("N", 16, 16, "ro", "outputs N", params.n))),
        Register("CTRL", 0x0C, "Commands: each takes effect by the write's response (AXI4-Lite BVALID, Wishbone "
                 "ACK; pipelined Wishbone: read the counters 2 or more cycles after a SNAPSHOT write)", (
            Field("SNAPSHOT", 0, 1, "pulse", "copy every running counter into the snapshot registers (CYCLES_LO "
                  "onwards; the controller's counter snapshot)"),
            Field("CLEAR", 1, 1, "pulse", "zero the running counters (the controller's counter clear; with "
                  "SNAPSHOT in the same write the snapshot takes the values before the clear)"),
            Field("ERROR_CLEAR", 2, 1, "pulse", "clear the controller's sticky error bits (STATUS.DONE_MISSING .. "
                  "OUT_OF_RANGE) and leave its error state"))),
        Register("STATUS", 0x10, "State (read only): the controller's status port, and the array emulator's", (
            Field("BUSY", 0, 1, "ro", "a vector is loading, running or streaming out (the controller's busy)"),
            Field("VIOLATION", 1, 1, "ro", "the array emulator saw a macro-contract violation (sticky until reset; "
                  "hwgen.emulator.VIOLATIONS; 0 without the emulator)"),
            Field("CONFIGURED", 2, 1, "ro", "the tile takes vectors: a valid LAYER written since reset and no table "
                  "written since (always 1 on a baked tile)"),
            Field("WRITE_BUSY", 3, 1, "ro", "a cell write is in progress (the controller's four-phase wr_en/"
                  "wr_ack handshake, or the macro's program-and-verify loop, wr_busy): wait for 0 before the next "
                  "PROG_WRITE or LAYER write (one written meanwhile is refused: STATUS.HOST_PROTOCOL)"
                  if t.write_ack else "0: this macro's cell writes take one cycle (generated without the "
                  "program-and-verify handshake, MacroTiming.write_ack)"),
            Field("ERROR", 7, 1, "ro", "the OR of the controller's error bits: while 1 its datapath is held in "
                  "reset (it takes no input, offers no output) until CTRL.ERROR_CLEAR"),
            *[Field(name.upper(), 8 + i, 1, "ro", doc) for i, (name, doc) in enumerate(zip(ERRORS, (
                "sticky: an ADC done missing (counted: late; handshake: the watchdog ran out)",
                "sticky: an ADC done out of its protocol (unexpected, or not low again before the next start)",
                "sticky: a host write (PROG_WRITE, LAYER, TIMING*, POWER turning the macro off) while a vector is "
                "in progress, or a PROG_WRITE or LAYER write while WRITE_BUSY, refused",
                "sticky: a host value out of range (a LAYER with K or N of 0 or above LIMITS, a table word or "
                "address out of range, a TIMING phase above 64 cycles, SYNC 3, WATCHDOG 0), refused"),
                strict=True))])),
        Register("ERROR", 0x14, "The wrapper's sticky error bits (write 1 to clear)", (
            Field("TLAST_EARLY", 0, 1, "w1c", "s_axis TLAST on a beat that is not the vector's last"),
            Field("TLAST_MISSING", 1, 1, "w1c", "a vector's last s_axis beat without TLAST"),
            Field("VIOLATION", 3, 1, "w1c", "STATUS.VIOLATION rose"),
            Field("CTRL_ERROR", 8, 1, "w1c", "STATUS.ERROR rose (the controller entered its error state)"))),
        Register("IRQ_ENABLE", 0x18, "Interrupt enables (irq = OR of IRQ_STATUS & IRQ_ENABLE, registered)", (
            Field("DONE", 0, 1, "rw", "a vector's last output beat"),
            Field("ERROR", 1, 1, "rw", "an ERROR bit set"))),
        Register("IRQ_STATUS", 0x1C, "Interrupt causes (write 1 to clear)", (
            Field("DONE", 0, 1, "w1c", "a vector's last output beat was taken"),
            Field("ERROR", 1, 1, "w1c", "an ERROR bit was set"))),
        Register("TIMING", 0x20, "Macro phase timing in cycles (reset: the generation-time MacroTiming)" + timing_doc, (
            Field("PRECHARGE", 0, tw["precharge"], "rw", "precharge cycles P (0..64)", t.precharge),
            Field("WORDLINE", 8, tw["wordline"], "rw", "wordline cycles W (0..64)", t.wordline),
            Field("SETTLE", 16, tw["settle"], "rw", "settle cycles S (0..64)", t.settle),
            Field("SAMPLE", 24, tw["sample"], "rw", "sample-and-hold cycles H (0..64; 0: no sample-and-hold)",
                  t.sample))),
        Register("TIMING_ADC", 0x24, "The ADC done handshake (reset: the generation-time MacroTiming)" + timing_doc, (
            Field("SYNC", 0, tw["sync"], "rw", "0 counted, 1 registered done, 2 two-flop synchronizer", t.sync),
            Field("WATCHDOG", 8, tw["watchdog"], "rw", "handshake: the most cycles to wait for done to rise or "
                  "fall (1..1023)", t.watchdog))),
        Register("POWER", 0x28, "Macro enable and sleep (docs/design.md section 6, electrical interface)" + (
            ": the controller's power registers, driving the macro's en and sleep; a write that turns the macro "
            "off (ENABLE 0 or SLEEP 1) is taken only while STATUS.BUSY is 0, else refused (STATUS.HOST_PROTOCOL; "
            "the register reads what was written); after the macro is turned on (and after reset) the first "
            f"vector's walk waits the wake-up, {t.wake} cycles, before its first precharge" if t.power else
            ": this macro has no en/sleep inputs (generated without power control, MacroTiming.power): always "
            "enabled"), (
            Field("ENABLE", 0, 1, "rw" if t.power else "ro", "macro enabled (bias and references on)", 1),
            Field("SLEEP", 1, 1, "rw" if t.power else "ro", "macro in retention sleep (cells kept, periphery off)",
                  0))),
        Register("TIMING_GUARD", 0x2C, "Guard cycles between the front phases (reset: the generation-time "
                 "MacroTiming.guard)" + timing_doc, (
            Field("GUARD", 0, tw["guard"], "rw", "guard cycles G (0..7) with pch, wl_en and sh low between the "
                  "precharge and the wordline, and at least G between the wordline and the sample: the front is "
                  "P + G + W + max(S, G) + H (docs/design.md section 6, electrical interface)", t.guard),)),
    ]
    if generic:
        layer = layer_word_layout(params)
        if layer.size > 32:
            raise SwsError(f"the layer word of these limits is {layer.size} bits: the LAYER register holds 32")
        fields, lsb = [], 0
        for fname, fdoc, reset in (("sections", "sections of the layer (0 after reset, as the controller)", 0),
                                   ("k", "inputs K", params.k), ("n", "outputs N", params.n)):
            width = Shape.cast(layer[fname].shape).width
            fields.append(Field(fname.upper(), lsb, width, "rw", fdoc + " (a write of LAYER also writes the "
                                "controller's layer word, PROG select layer; refused out of range: STATUS.OUT_OF_RANGE)", reset))
            lsb += width
        n_data = prog_data_words(params)
        sels = ", ".join(f"{v} {k}" for k, v in PROG_SELECT.items())
        regs += [
            Register("LAYER", 0x30, "Layer settings of a generic tile", tuple(fields)),
            Register("PROG_ADDR", 0x34, "Programming address; +1 after each PROG_WRITE",
                     (Field("ADDR", 0, Shape.cast(ProgSignature(params).members["addr"].shape).width, "rw", "word address"),)),
            Register("PROG_WRITE", 0x38, f"Write a table word: PROG_DATA* to table SEL ({sels}) at PROG_ADDR",
                     (Field("SEL", 0, 3, "pulse", "the table; the write happens in the cycle after this one"),)),
        ]
        data_bits = Shape.cast(ProgSignature(params).members["data"].shape).width
        for i in range(n_data):
            width = min(32, data_bits - 32 * i)
            regs.append(Register(f"PROG_DATA{i}", 0x40 + 4 * i, f"Programming word bits {32 * i + width - 1}..{32 * i}",
                                 (Field("DATA", 0, width, "rw", "data"),)))
    counter_base = 0x40 + 4 * (prog_data_words(params) if generic else 0)
    counter_base = max(0x80, -(-counter_base // 0x40) * 0x40)
    regs += _counter_regs(params, counter_base)
    info = {"beat": params.beat, "input_bits": hw.input_bits, "acc_width": params.acc_width, "k": params.k,
            "n": params.n, "generic": generic, "banks": hw.banks, "full_resolution": hw.full_resolution,
            "timing": asdict(t)}
    return RegisterMap(name, bus, tuple(regs), info)
