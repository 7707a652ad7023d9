"""Signatures shared by the controller, the array emulator and the tile: the array interface, the
counters and the programming port of the generic netlist."""

from __future__ import annotations

from amaranth import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from mapper.config import clog2
from mapper.schedule import GUARD_MAX, PHASE_MAX, WATCHDOG_MAX

from .params import TileParams

__all__ = ["host_members", "beat_shape", "pack_beats", "unpack_beat", "bus_member", "bank_buses", "AdcSignature",
           "ArraySignature", "ARRAY_WIDE", "array_wide", "array_back", "connect_array", "cell_address_width",
           "CounterSignature",
           "RawCodeSignature", "ProgSignature", "PROG_SELECT", "COUNTER_WIDTH", "CYCLE_WIDTH", "EVENTS",
           "event_layout", "layer_word_layout", "column_entry_layout", "next_section_layout", "BatchSignature",
           "AccReadSignature", "ERRORS", "StatusSignature", "PowerSignature", "timing_layout", "TimingSignature",
           "timing_word",
           "front_layout", "front_values",
           "OutputStreamSignature"]

#: Widths of the counters (conversions, planes, sections, the events) and of the cycle counter: the one
#: definition that the RTL and the Verilog simulation harness (sim.verilog_sim) share. 48 bits: 2**48
#: conversions of 16 ADCs at 1 GHz take more than four hours.
COUNTER_WIDTH = 48
CYCLE_WIDTH = 48

#: The counters besides `cycles` and `conversions` (docs/design.md section 6, "Counters"), in the order
#: of the counter port: the events the energy model prices, counted where the hardware makes them.
EVENTS = ("planes", "sections", "precharges", "wordlines", "sample_holds", "rows_high", "code_sum", "shift_adds",
          "row_reads", "column_reads", "flushes", "inputs", "outputs", "row_drives", "cell_reads")

#: The sticky error bits of the status port, by bit (docs/design.md section 6, "Errors and reset").
ERRORS = ("done_missing", "done_protocol", "host_protocol", "out_of_range")

#: What a programming write goes to (the generic netlist's `prog.sel`).
PROG_SELECT = {"sections": 0, "rows": 1, "columns": 2, "layer": 3, "cells": 4}


class AdcSignature(wiring.Signature):
    """One variable-resolution SAR ADC of the bank, seen from the controller (every output a flip-flop):

    start -- counted mode (`MacroTiming.sync` 0): a one-cycle pulse; handshake (sync 1 or 2): a level,
             the request of a four-phase handshake, held high until the controller sees done, then low
             until the ADC's done is low again. The ADC takes its column (`col`, from the held samples
             with sample-and-hold, else from the bitline) at the start's first cycle
    res   -- resolution in bits (1..full resolution; with the bipolar drive 2..full resolution + 1, the
             sign bit included), held while start is high
    ref   -- reference (range) select, held with res: the full-scale code range is 2**ref - 1 unit
             cell currents (an LSB of one cell current; bipolar: -(2**(ref-1) - 1) .. 2**(ref-1) - 1);
             this controller sets ref = res
    col   -- slot column of the current section (with ADC groups of M = adc_mux columns the column within
             ADC i's group, slot column i * M + col, log2(M) bits), held from the batch's first cycle to the
             next batch's
    done  -- counted mode: high for exactly one cycle, `res` cycles after start (a new start may come in
             that cycle); handshake: the acknowledge, a pulse of at least one clock cycle or a level held
             until start falls, after which it must fall before the next start (asynchronous with sync 2:
             a level is the safe choice, as a short pulse can slip past the two-flop synchronizer)
    code  -- min(count, 2**res - 1), valid from done until the ADC's next start (an output register); with
             the bipolar drive the signed count (rows driven +1 minus rows driven -1 on the column's
             1-cells) saturated at -(2**(res-1) - 1) and 2**(res-1) - 1, two's complement in
             `TileParams.code_width` = full resolution + 1 bits
    """

    def __init__(self, p: TileParams):
        super().__init__({
            "start": Out(1),
            "res": Out(p.res_width),
            "ref": Out(p.res_width),
            "col": Out(p.col_width),
            "done": In(1),
            "code": In(p.code_width),
        })


def cell_address_width(p: TileParams) -> int:
    """Bits of a cell column word's address {section, slot column} (`TileParams.cell_words`)."""
    return max(1, (max(1, p.section_depth) * p.slot_pad - 1).bit_length())


class ArraySignature(wiring.Signature):
    """The array interface (the macro contract, docs/design.md section 6), seen from the controller: the
    section (slot) being computed, its R row drive bits (with the bipolar drive also `drive_neg`, the rows of
    `drive` driven -1), the front phases `pch` (precharge), `wl_en`
    (wordline pulse) and `sh` (sample-and-hold strobe), the cell-write port (`wr_en`, `wr_addr` {section,
    slot column}, `wr_data` the R-bit column word; with `MacroTiming.write_ack` also the macro's `wr_ack` and
    `wr_busy`, a four-phase handshake), with `MacroTiming.power` the enable `en` and the retention `sleep`,
    and the n_adc ADCs (`adc[i]`, an AdcSignature each; in
    Verilog `bus__adc__<i>__start` etc.). The controller drives every output from a flip-flop. From the
    array also `cell_reads`: the cells read by the conversions begun a few cycles before (the 1-cells of
    their columns, on the section's rows), for the counter of that name; the array emulator counts them
    from its cells (from registers), a macro without such a count ties it to 0 (docs/design.md section 6,
    "Counters").

    With `array_side` the same members seen from the array (every flow reversed). Amaranth 0.5.10 neither
    flips nor `wiring.connect`s an array of sub-interfaces (`flipped()` refuses the list, and `connect`
    indexes the array after the member's name), so the array's side is built flipped member by member
    and `connect_array` joins the two.
    """

    def __init__(self, p: TileParams, *, array_side: bool = False):
        to_array, to_ctrl = (In, Out) if array_side else (Out, In)
        super().__init__({
            "section": to_array(range(max(2, p.section_depth))),
            "drive": to_array(p.hw.rows),
            **({"drive_neg": to_array(p.hw.rows)} if p.bipolar else {}),
            "pch": to_array(1), "wl_en": to_array(1), "sh": to_array(1),
            "wr_en": to_array(1), "wr_addr": to_array(cell_address_width(p)), "wr_data": to_array(p.hw.rows),
            # Program-and-verify writes (MacroTiming.write_ack): the macro's acknowledge and busy.
            **({"wr_ack": to_ctrl(1), "wr_busy": to_ctrl(1)} if p.timing.write_ack else {}),
            # Power control (MacroTiming.power): enable and retention sleep.
            **({"en": to_array(1), "sleep": to_array(1)} if p.timing.power else {}),
            "adc": to_array(AdcSignature(p)).array(p.hw.n_adc),
            "cell_reads": to_ctrl(range(p.hw.n_adc * p.hw.rows + 1)),
        })


#: The array interface's members other than the ADCs and `cell_reads`, from the controller to the array
#: (with the bipolar drive also `drive_neg`: `array_wide`).
ARRAY_WIDE = ("section", "drive", "pch", "wl_en", "sh", "wr_en", "wr_addr", "wr_data")


def array_wide(bus) -> tuple[str, ...]:
    """The members of an array interface other than the ADCs and `cell_reads`, from the controller to the
    array: `ARRAY_WIDE`, `drive_neg` with the bipolar drive, `en` and `sleep` with power control."""
    return ARRAY_WIDE + tuple(n for n in ("drive_neg", "en", "sleep") if n in bus.signature.members)


def array_back(bus) -> tuple[str, ...]:
    """The members of an array interface other than the ADCs and `cell_reads`, from the array to the
    controller: `wr_ack` and `wr_busy` with program-and-verify writes."""
    return tuple(n for n in ("wr_ack", "wr_busy") if n in bus.signature.members)


def connect_array(m, ctrl_bus, array_bus) -> None:
    """Join a controller's array interface (ArraySignature) to an array's (ArraySignature(array_side=True))."""
    m.d.comb += [getattr(array_bus, name).eq(getattr(ctrl_bus, name)) for name in array_wide(ctrl_bus)]
    m.d.comb += ctrl_bus.cell_reads.eq(array_bus.cell_reads)
    m.d.comb += [getattr(ctrl_bus, name).eq(getattr(array_bus, name)) for name in array_back(ctrl_bus)]
    for c, a in zip(ctrl_bus.adc, array_bus.adc, strict=True):
        m.d.comb += [a.start.eq(c.start), a.res.eq(c.res), a.ref.eq(c.ref), a.col.eq(c.col), c.done.eq(a.done),
                     c.code.eq(a.code)]


class RawCodeSignature(wiring.Signature):
    """The raw-code test port, seen from the host (a controller has it as `In(RawCodeSignature)`): one
    conversion of column `col` of `section` under the row `drive` (with the bipolar drive also `drive_neg`,
    the rows of `drive` driven -1) at `res` bits on ADC `adc`, whose code comes back unaccumulated.
    `en` is held high until `valid` (a one-cycle pulse with `code`); the next
    request needs `en` low for a cycle first. Taken only while the controller has no section to convert
    (before a vector's last input, or between vectors)."""

    def __init__(self, p: TileParams):
        super().__init__({
            "en": Out(1),
            "section": Out(range(max(2, p.section_depth))),
            "drive": Out(p.hw.rows),
            **({"drive_neg": Out(p.hw.rows)} if p.bipolar else {}),
            "col": Out(max(1, (p.hw.slot_cols - 1).bit_length())),
            "res": Out(p.res_width),
            "adc": Out(range(max(2, p.hw.n_adc))),
            "valid": In(1),
            "code": In(p.code_width),
        })


def event_layout(p: TileParams) -> data.StructLayout:
    """The counted events of one cycle, as a component reports them to the counters (each field an
    increment: how many of that event happened this cycle). `conversions` by resolution."""
    hw = p.hw
    most = {"planes": 1, "sections": 1, "precharges": 1, "wordlines": 1, "sample_holds": hw.slot_cols,
            "rows_high": hw.rows, "code_sum": hw.n_adc * (2 ** hw.full_resolution - 1), "shift_adds": hw.n_adc,
            "row_reads": p.lanes, "column_reads": p.lanes, "flushes": 1, "inputs": p.beat, "outputs": p.beat,
            "row_drives": hw.rows, "cell_reads": hw.n_adc * hw.rows}
    return data.StructLayout({"conversions": data.ArrayLayout(range(hw.n_adc + 1), p.conv_bits + 1),
                              **{name: range(most[name] + 1) for name in EVENTS}})


class CounterSignature(wiring.Signature):
    """The counters, seen from the controller: running totals since reset (or `clear`) of the busy cycles,
    the conversions at each resolution (index = bits) and the `EVENTS`, all `COUNTER_WIDTH` bits. The
    outputs are a snapshot: `snapshot` copies every running total into them at once (so a host reads a
    consistent set over a narrow bus); `clear` zeroes the running totals (with `snapshot` in the same
    cycle, the snapshot takes the totals before the clear)."""

    def __init__(self, p: TileParams):
        super().__init__({
            "cycles": Out(CYCLE_WIDTH),
            "conversions": Out(data.ArrayLayout(unsigned(COUNTER_WIDTH), p.conv_bits + 1)),
            **{name: Out(COUNTER_WIDTH) for name in EVENTS},
            "snapshot": In(1), "clear": In(1),
        })


class StatusSignature(wiring.Signature):
    """The controller's status, seen from the controller: `errors` the sticky error bits (`ERRORS`), `error`
    their OR (the controller then holds its datapath in reset, i.ready and o.valid low, until `clear`),
    `configured` (a generic netlist: a valid layer word written since reset and no table written since;
    always 1 baked), `busy` (a vector is loading, running or streaming out). `clear` (in) zeroes the error
    bits and leaves the error state. With program-and-verify writes (`MacroTiming.write_ack`) also
    `write_busy`: a cell write is in progress (the controller's handshake or the macro's `wr_busy`); a
    programming write is then refused."""

    def __init__(self, p: TileParams):
        super().__init__({"errors": Out(len(ERRORS)), "error": Out(1), "configured": Out(1), "busy": Out(1),
                          **({"write_busy": Out(1)} if p.timing.write_ack else {}), "clear": In(1)})


class PowerSignature(wiring.Signature):
    """The macro's power control, seen from the host (`MacroTiming.power`): `we` writes `en` (enable) and
    `sleep` (retention) into the controller's power registers; a write that turns the macro off (en low or
    sleep high) is taken only while no vector is in progress, else refused (`host_protocol`)."""

    def __init__(self):
        super().__init__({"we": Out(1), "en": Out(1), "sleep": Out(1)})


def timing_layout() -> data.StructLayout:
    """The timing register word (`TimingSignature`): the `MacroTiming` fields, LSB first."""
    phase = (2 * PHASE_MAX - 1).bit_length()            # room for an out-of-range value, refused
    return data.StructLayout({"precharge": phase, "wordline": phase, "settle": phase, "sample": phase, "sync": 2,
                              "watchdog": WATCHDOG_MAX.bit_length(), "guard": GUARD_MAX.bit_length()})


def front_layout() -> data.StructLayout:
    """The front phases as the scheduler counts them, derived from the timing registers when they are
    written (so that no adder lies in the front's path): position p of the front (0 .. F-1, from the cycle
    after an activation's issue) has `pch` while p < pch_end, `wl_en` while wl_begin <= p < wl_end, `sh`
    from sh_begin; `last` = F - 1, `none` = (F == 0), `front` = F; `hold` = sample-and-hold (sample > 0).
    Without guard cycles wl_begin = pch_end; with G, wl_begin = pch_end + G (`MacroTiming.wordline_begin`).
    """
    width = (4 * PHASE_MAX + 2 * GUARD_MAX).bit_length()
    return data.StructLayout({"pch_end": width, "wl_begin": width, "wl_end": width, "sh_begin": width, "last": width,
                              "front": width, "none": 1, "hold": 1})


def front_values(timing) -> dict:
    """The `front_layout` fields of a `MacroTiming` (the timing registers' reset values)."""
    f, wl = timing.front, timing.wordline_begin
    return {"pch_end": timing.precharge, "wl_begin": wl, "wl_end": wl + timing.wordline,
            "sh_begin": wl + timing.wordline + timing.settle_cycles, "last": max(f - 1, 0), "front": f,
            "none": int(f == 0), "hold": int(timing.sample > 0)}


def timing_word(timing) -> int:
    """The timing register word of a `MacroTiming`, as an integer."""
    word = 0
    for name, field in timing_layout():
        word |= getattr(timing, name) << field.offset
    return word


class TimingSignature(wiring.Signature):
    """The controller's timing registers' write port, seen from the host: `we` writes `data` (a
    `timing_layout` word) into them, taken only while no vector is in progress; they reset to the
    `MacroTiming` the controller was generated with."""

    def __init__(self):
        super().__init__({"we": Out(1), "data": Out(timing_layout())})


def layer_word_layout(p: TileParams) -> data.StructLayout:
    """The `layer` register of a generic tile: sections | K | N, least significant first."""
    return data.StructLayout({"sections": clog2(p.section_depth + 1), "k": clog2(p.k + 1), "n": clog2(p.n + 1)})


class ProgSignature(wiring.Signature):
    """Writes into the ROMs of a generic tile: `sel` (PROG_SELECT) picks the table, `addr` the word."""

    def __init__(self, p: TileParams):
        w = p.widths
        data_width = max(sum(w["sections"].values()), w["rows"]["index"], sum(w["columns"].values()),
                         layer_word_layout(p).size, p.hw.rows)
        depth = max(p.section_depth, p.row_depth, p.column_depth, p.section_depth * p.slot_pad, 2)
        super().__init__({
            "we": Out(1),
            "sel": Out(3),
            "addr": Out(range(depth)),
            "data": Out(data_width),
        })


def beat_shape(shape, beat: int):
    """A stream beat's payload: one element (`shape`) for W = 1, else an array of W elements, element e
    in bits [e * width, (e + 1) * width) (the vector's element beat * W + e)."""
    return shape if beat == 1 else data.ArrayLayout(shape, beat)


def pack_beats(values, beat: int, width: int) -> list[int]:
    """A vector's elements as the raw integers of its ceil(len / W) beats (`beat_shape`: element e of a beat
    in bits [e * width, (e + 1) * width), two's complement; zeros past the last element)."""
    mask = (1 << width) - 1
    return [sum((int(values[j]) & mask) << ((j - b) * width) for j in range(b, min(len(values), b + beat)))
            for b in range(0, len(values), beat)]


def unpack_beat(raw: int, beat: int, width: int) -> list[int]:
    """The W signed elements of a beat's raw integer (the inverse of `pack_beats`, padding included)."""
    mask, top = (1 << width) - 1, 1 << (width - 1)
    return [((raw >> (e * width) & mask) ^ top) - top for e in range(beat)]


def bus_member(params: TileParams):
    """The controller's array interface: one ArraySignature, or with B > 1 banks an array of B
    (`bus[b]`, in Verilog `bus__<b>__adc__<i>__start` etc.), each bank's own section, drive and ADCs."""
    bus = Out(ArraySignature(params))
    return bus if params.hw.banks == 1 else bus.array(params.hw.banks)


def bank_buses(bus, params: TileParams) -> list:
    """The array interfaces of a `bus_member` bus (a controller's or an array's), one a bank: [bus] with
    B = 1, else bus[0..B-1]."""
    return [bus] if params.hw.banks == 1 else [bus[b] for b in range(params.hw.banks)]


class OutputStreamSignature(wiring.Signature):
    """The output stream: `amaranth.lib.stream`'s payload, valid and ready, and `last`, high with a vector's
    last beat (the end-of-vector marker; AXI4-Stream's TLAST)."""

    def __init__(self, shape):
        super().__init__({"payload": Out(shape), "valid": Out(1), "ready": In(1), "last": Out(1)})


def host_members(params: TileParams, generic: bool) -> dict:
    """The ports a controller and a tile both show their host: the input and output streams (W elements
    a beat, `beat_shape`; the output with `last`), the counters, the status and the timing registers'
    write port, and for a generic netlist the programming port."""
    from amaranth import signed
    from amaranth.lib import stream
    members = {
        "i": In(stream.Signature(beat_shape(signed(params.hw.input_bits), params.beat))),
        "o": Out(OutputStreamSignature(beat_shape(signed(params.acc_width), params.beat))),
        "counters": Out(CounterSignature(params)),
        "status": Out(StatusSignature(params)),
        "timing": In(TimingSignature()),
        **({"power": In(PowerSignature())} if params.timing.power else {}),
    }
    if generic:
        members["prog"] = In(ProgSignature(params))
    return members


# Inside the controller: what its components pass each other -----------------------------------------

def column_entry_layout(p: TileParams) -> data.StructLayout:
    """An active column as the scheduler keeps it: slot column, weight sign, bit, resolution and the
    local output j (its output minus the section's first output)."""
    return data.StructLayout({"col": range(max(2, p.hw.slot_cols)), "sign": 1, "bit": range(max(2, p.hw.weight_bits)),
                              "res": p.res_width, "j": range(max(2, p.hw.group))})


def next_section_layout(p: TileParams) -> data.StructLayout:
    """A gathered section, from the prefetch to the scheduler: its index, rows, active columns, output group,
    the drive of each input plane (`planes[t]`, R bits) and the active columns' entries; on input-aware
    hardware also `counts`, the section's rows driven in each drive step (in issue order). `longest[b]`
    is the highest resolution among batch b's active columns (columns b * n_adc .. b * n_adc + n_adc - 1;
    0 if none), found by the prefetch before it raises valid, so that the scheduler's take only copies it.
    With ADC groups (adc_mux M) also `starts[i]`, the position among the active columns' entries (in group
    order) of group i's first column (the active entries whose slot column is below i * M), and `one`:
    every group holds at most one active column (one batch a plane), found the same way."""
    fields = {
        "sec": range(p.section_depth + 1),
        "rows": range(p.hw.rows + 1),
        "n_active": range(p.hw.slot_cols + 1),
        "group": range(max(2, p.n_groups)),
        "planes": data.ArrayLayout(unsigned(p.hw.rows), p.hw.input_bits),
        "cols": data.ArrayLayout(column_entry_layout(p), p.hw.slot_cols),
        "longest": data.ArrayLayout(range(p.conv_bits + 1), p.batches),
    }
    if p.hw.adc_mux:
        fields["starts"] = data.ArrayLayout(range(p.hw.slot_cols + 1), p.hw.n_adc)
        fields["one"] = unsigned(1)
    if p.hw.input_aware:      # rows driven in each drive step, by issue index (bipolar: driven +1)
        fields["counts"] = data.ArrayLayout(range(p.hw.rows + 1), p.hw.steps)
        if p.bipolar:         # the rows driven -1
            fields["counts_neg"] = data.ArrayLayout(range(p.hw.rows + 1), p.hw.steps)
    return data.StructLayout(fields)


class BatchSignature(wiring.Signature):
    """A finished batch of conversions, from the scheduler to the accumulator (`hwgen.shift_add.ShiftAdd`'s
    inputs): `capture` the cycle the batch's last ADC is done; `first` its section's first batch,
    `new_plane` a plane's first batch, `last` the section's last, `negate` a batch of the sign plane (of a
    negative step); the section's output `group`; per lane its valid bit, code, weight sign, bit and local
    output j; on hardware that walks the steps (`TileParams.walks_steps`) the step's exponent `shift`."""

    def __init__(self, p: TileParams):
        n = p.hw.n_adc
        super().__init__({
            **({"shift": Out(range(max(2, p.hw.input_bits)))} if p.walks_steps else {}),
            "capture": Out(1), "first": Out(1), "new_plane": Out(1), "last": Out(1), "negate": Out(1),
            "group": Out(range(max(2, p.n_groups))),
            "lane_valid": Out(n),
            "code": Out(data.ArrayLayout(unsigned(p.code_width), n)),
            "sign": Out(n),
            "bit": Out(data.ArrayLayout(range(max(2, p.hw.weight_bits)), n)),
            "j": Out(data.ArrayLayout(range(max(2, p.hw.group)), n)),
        })


class AccReadSignature(wiring.Signature):
    """The output streamer's access to the accumulator memory: a synchronous read (`en`, `addr`; `data`
    the cycle after, held until the next read) that with `clear` also zeroes the word it reads. A word
    holds W = `beat` output groups."""

    def __init__(self, p: TileParams):
        super().__init__({
            "en": Out(1), "addr": Out(range(max(2, p.n_words))), "data": In(p.beat * p.hw.group * p.acc_width),
            "clear": Out(1),
        })
