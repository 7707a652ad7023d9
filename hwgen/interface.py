"""Signatures shared by the controller, the array emulator and the tile: the array interface, the
counters and the programming port of the generic netlist."""

from __future__ import annotations

from amaranth import unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from mapper.config import clog2

from .params import TileParams

__all__ = ["host_members", "adc_lanes", "ArraySignature", "CounterSignature", "ProgSignature", "PROG_SELECT",
           "COUNTER_WIDTH", "CYCLE_WIDTH", "layer_word_layout"]

#: Widths of the counters (conversions, planes, sections) and of the cycle counter: the one definition
#: that the RTL and the Verilog simulation harness (sim.verilog_sim) share.
COUNTER_WIDTH = 32
CYCLE_WIDTH = 48

#: What a programming write goes to (the generic netlist's `prog.sel`).
PROG_SELECT = {"sections": 0, "rows": 1, "columns": 2, "layer": 3, "cells": 4}


def adc_lanes(bus, n_adc: int) -> list:
    """Per-ADC views of the bus's ADC vectors: lane i has start, res, col, done, code."""
    from types import SimpleNamespace
    return [SimpleNamespace(start=bus.adc_start[i], res=bus.adc_res[i], col=bus.adc_col[i], done=bus.adc_done[i],
                            code=bus.adc_code[i]) for i in range(n_adc)]


class ArraySignature(wiring.Signature):
    """The array interface, seen from the controller: the section (slot) being computed, its R row drive
    bits, and for each of the n_adc variable-resolution SAR ADCs (element i of each vector):

    adc_start -- pulse: sample column `adc_col` under the row drive and convert it at `adc_res` bits
    adc_res   -- resolution in bits (1..full resolution), sampled with start
    adc_col   -- slot column of the current section, sampled with start
    adc_done  -- high for one cycle, `res` cycles after start; a new start may come in that same cycle
    adc_code  -- min(count, 2**res - 1), valid from done until the ADC's next start (an output register)
    """

    def __init__(self, p: TileParams):
        n = p.hw.n_adc
        super().__init__({
            "section": Out(range(max(2, p.section_depth))),
            "drive": Out(p.hw.rows),
            "adc_start": Out(n),
            "adc_res": Out(data.ArrayLayout(unsigned(p.res_width), n)),
            "adc_col": Out(data.ArrayLayout(unsigned(max(1, (p.hw.slot_cols - 1).bit_length())), n)),
            "adc_done": In(n),
            "adc_code": In(data.ArrayLayout(unsigned(p.code_width), n)),
        })


class CounterSignature(wiring.Signature):
    """Running totals since reset: busy cycles, conversions at each resolution (index = bits), bit-planes
    driven and sections walked."""

    def __init__(self, p: TileParams):
        super().__init__({
            "cycles": Out(CYCLE_WIDTH),
            "conversions": Out(data.ArrayLayout(unsigned(COUNTER_WIDTH), p.hw.full_resolution + 1)),
            "planes": Out(COUNTER_WIDTH),
            "sections": Out(COUNTER_WIDTH),
        })


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


def host_members(params: TileParams, generic: bool) -> dict:
    """The ports a controller and a tile both show their host: the input and output streams, the
    counters, and for a generic netlist the programming port."""
    from amaranth import signed
    from amaranth.lib import stream
    members = {
        "i": In(stream.Signature(signed(params.hw.input_bits))),
        "o": Out(stream.Signature(signed(params.acc_width))),
        "counters": Out(CounterSignature(params)),
    }
    if generic:
        members["prog"] = In(ProgSignature(params))
    return members
