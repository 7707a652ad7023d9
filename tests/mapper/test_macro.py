"""The whole macro: energy by component, area and cycles of small layers worked out by hand, with banks, beats,
double buffering and segmented wordlines; the dense reference against its closed form whatever the group;
user macro files."""

import json

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.cost import ENERGY_PARTS, load_macro, macro_cost
from mapper.prepare import prepare_layer
from mapper.sectioning import map_layer
from mapper.sources import Layer, QuantLayer
from mapper.cost import map_layers, report_dict

# The ISAAC macro's constants, typed here from their sources (docs/design.md section 4), not read from the file.
DAC, CELL, SH, SA = 0.41667, 2.4e-3 * 100e-9 / (8 * 128 * 128) * 1e12, 10e-6 * 100e-9 / 1024 * 1e12, 0.021
IO = 20.45 / 256 + 0.054          # eDRAM buffer per bit + bus per bit
REG = 0.009

# One output, K = 6, Bm = 3, R = 4, C = 12 (2 slots of 6 columns), A = 2, walden with E(b) = 2**b.
W1 = np.array([[5], [0], [-1], [3], [0], [1]])
CFG = ArrayConfig(rows=4, cols=12, weight_bits=3, input_bits=2, law="walden", e8_pj=256.0)


def test_hand_computed_macro_of_a_sorted_layer():
    # Sorted: one section of rows 0, 3, 2, 5 (5, 3, -1, 1); active columns +b0 (3 ones: 2 bits), +b1, +b2, -b0
    # (1 one each: 1 bit); 6 ones. Conversions 4 x 2 planes = 8; ADC (4 + 2 + 2 + 2) x 2 = 20 pJ.
    lm = map_layer(QuantLayer("w1", W1), CFG)
    m = macro_cost(lm)
    # Table bits read: section word rows 3 | row_base 3 | col_base 3 | n_active 3 | out_base 1 = 13;
    # 4 row indices of clog2(6) = 3 bits; 4 column words slot_col 3 | out 1 | sign 1 | bit 2 | res 2 = 9 bits.
    table_bits = 13 + 4 * 3 + 4 * 9
    # Rows driven: 4 in each of the 2 planes, the wordline spanning the crossbar's 12 columns (ISAAC's DAC
    # figure is for 128: a 12-column wordline costs 12 / 128 of it, the segmented-wordline assumption, here
    # for the whole crossbar).
    want = {"adc": 20.0, "sample_hold": 8 * SH, "row_drivers": 4 * 2 * DAC * 12 / 128, "crossbar": 6 * 2 * CELL,
            "shift_add": 8 * SA, "input_buffer": 6 * 2 * IO, "input_register": 4 * 2 * REG,
            "output_buffer": 1 * 16 * IO, "tables": table_bits * REG}
    assert m.energy == pytest.approx(want)
    assert m.energy_pj == pytest.approx(sum(want.values()))
    assert (m.events["row_drives"], m.events["cell_reads"]) == (8, 12)
    # Area: 1 crossbar of 4 x 12 cells of 1.49 F^2 (F = 32 nm), 4 row drivers, 12 sample-and-holds; 16 ADCs of
    # 2 bits (walden takes isaac's area, 4-bit area scaled by b / 4: 361.04 * 2 / 4 = 180.52 um^2), 16 shift-adds
    # of 60 um^2;
    # 61 table bits at 83000 / (256 * 2048) um^2; 12 input-register bits at 5.98 um^2.
    assert m.area == pytest.approx({
        "adc_bank": 16 * 180.52, "crossbar_cells": 48 * 1.49 * 0.032 ** 2, "row_drivers": 4 * 170 / 1024,
        "sample_hold": 12 * 40 / 1024, "shift_add": 16 * 60.0, "tables": 61 * 83000 / (256 * 2048),
        "input_register": 12 * 5.98})
    # Cycles (docs/design.md section 6, lanes 1): S0 at 0, S1 at 1, S2 at q = 2, gather for 4 cycles (a' = 7),
    # ready at r = q + 4 + 5 = 11, copied at c = 11, first batch issued at e = 12; one batch of 2 bits per
    # plane: the last issued at 14, on the registered bus at 15, done at f = 17; D = 4 + ceil(log2(16)) = 8;
    # RUN ends at max(17 + 8 + 5, 7 + 1) = 30. K 6 + RUN 31 + 1 + N 1 = 39. ADC bound: 2 planes x
    # max(ceil(5 / 16), 2) = 4.
    assert (m.cycles, m.latency, m.adc_bound_cycles) == (39, 39, 4)


def test_the_report_row_of_the_hand_worked_layer():
    # The same layer through the report: its ROM bits (section 13 + rows 4 x 3 + columns 4 x 9 = 61), time at
    # 1 GHz, and the natural-order reference by hand. Natural order, R = 4: sections rows 0..3 (5, 0, -1, 3)
    # and rows 4, 5 (0, 1). Section 0: +b0 2 ones (2 bits), +b1, +b2, -b0 1 one each (1 bit); section 1:
    # +b0 1 one (1 bit). ADC per step 4 + 2 + 2 + 2 + 2 = 12 pJ, 24 in the 2 steps; 5 columns x 2 steps = 10
    # conversions; rows driven (4 + 2) x 2 = 12; 1-cells (5 + 1) x 2 = 12 read; rows gathered 6; table words:
    # 2 section words of rows 3 | row_base 3 | col_base 3 | n_active 3 | out_base 1 = 13 bits, 6 row indices
    # of 3 bits, 5 column words of 9 bits: 26 + 18 + 45 = 89 bits.
    [r] = map_layers([QuantLayer("w1", W1)], CFG)
    row = report_dict([r], CFG, source="t", sparsity=0.0)["layers"][0]
    assert row["rom_bits"] == 61 and row["sections"] == 1 and row["crossbars"] == 1
    assert row["time_per_vector_ns"] == pytest.approx(39.0)
    assert row["natural_energy_pj"] == pytest.approx(24.0)
    want = {"adc": 24.0, "sample_hold": 10 * SH, "row_drivers": 12 * DAC * 12 / 128, "crossbar": 12 * CELL,
            "shift_add": 10 * SA, "input_buffer": 6 * 2 * IO, "input_register": 6 * 2 * REG,
            "output_buffer": 1 * 16 * IO, "tables": 89 * REG}
    assert r.natural_macro.energy == pytest.approx(want)
    assert row["natural_macro_energy_pj"] == pytest.approx(sum(want.values()))
    assert row["macro_reduction_vs_natural"] == pytest.approx(1 - row["macro_energy_pj"] / sum(want.values()))


def test_banks_segments_and_double_buffering_in_the_area_by_hand():
    # The same layer on 2 banks (each 16 ADCs and their shift-adds), wordlines of 1 slot (2 segments of 6
    # columns a crossbar row: one more driver per row), and a double-buffered input register (two vectors).
    cfg = CFG.replace(banks=2, wordline_slots=1, double_buffer=True)
    m = macro_cost(map_layer(QuantLayer("w1", W1), cfg))
    assert m.area["adc_bank"] == pytest.approx(2 * 16 * 180.52)
    assert m.area["shift_add"] == pytest.approx(2 * 16 * 60.0)
    assert m.area["row_drivers"] == pytest.approx(4 * 170 / 1024 + 4 * 170 / 1024)
    assert m.area["input_register"] == pytest.approx(2 * 12 * 5.98)
    # A row drive now charges its 6-column segment: 6 / 128 of ISAAC's figure.
    assert m.energy["row_drivers"] == pytest.approx(4 * 2 * DAC * 6 / 128)
    # Two banks: bank 0 runs the one section (31 cycles, as on one bank), bank 1 none, and RUN ends a cycle
    # after the last bank (each bank's done flag is a register): RUN 32. The output merges the banks' sums
    # in merge_depth(2) = 1 + 1 stages, so out = 1 + 2 + N 1 = 4. One vector alone: load 6, one cycle to
    # start the runner (double-buffered), RUN 32, out 4: 43. In the steady state the next vector loads
    # while this one runs, so last outputs come RUN 32 + out 4 + 1 (the runner starts after the previous
    # vector's last output) = 37 cycles apart.
    assert (m.latency, m.cycles) == (43, 37)


def test_natural_order_drives_every_section_for_itself_and_the_group_shares_a_drive():
    # Two outputs, K = 5, R = 4: blocks rows 0..3 and row 4. Output 0 has ones in both blocks, output 1 only
    # in the first. Natural order, G = 1 (2 slots of 6 columns a crossbar): the controller drives one section
    # at a time, so the sections of block 0 drive their 4 rows each and output 0's block 1 its row: 9 rows a
    # plane, 18 in the 2 planes. G = 2 (one slot of both outputs): 4 + 1 = 5 a plane, 10.
    w = np.array([[1, 1], [0, 0], [0, 0], [0, 0], [2, 0]])
    cfg = ArrayConfig(rows=4, cols=12, weight_bits=3, input_bits=2, ordering="natural")
    assert macro_cost(map_layer(QuantLayer("w", w), cfg)).events["row_drives"] == 18
    assert macro_cost(map_layer(QuantLayer("w", w), cfg.replace(group=2))).events["row_drives"] == 10
    # Sorted, G = 1: output 0 drives rows 4 and 0, output 1 row 0: 3 a plane.
    assert macro_cost(map_layer(QuantLayer("w", w), cfg.replace(ordering="sorted"))).events["row_drives"] == 6
    # The dense reference (C // (2 Bm) = 2 outputs a crossbar) drives 4 + 1 rows a plane, whatever the group.
    for group in (1, 2):
        r = map_layers([QuantLayer("w", w)], cfg.replace(group=group))[0]
        assert r.dense_macro.events["row_drives"] == 10


@pytest.mark.parametrize("fields", [dict(), dict(rows=64, n_adc=4), dict(cols=112, rows=32, weight_bits=4)])
def test_the_dense_reference_is_the_classic_design_by_hand_whatever_the_group(fields):
    rng = np.random.default_rng(7)
    k, n = 300, 40
    w = rng.integers(-15, 16, (k, n)) * (rng.random((k, n)) < 0.6)
    base = ArrayConfig(**fields)
    hw = base.hw
    # The classic design: ceil(K / R) row blocks; C // (2 Bm) outputs side by side in a crossbar; every column
    # of every real output converted at full resolution in each of the A steps; each section's rows driven
    # in each step; every 1-cell read in each step; no tables.
    per_xbar = hw.cols // (2 * hw.weight_bits)
    blocks = -(-k // hw.rows)
    full = int(np.ceil(np.log2(hw.rows + 1)))
    conversions = hw.input_bits * blocks * n * 2 * hw.weight_bits
    row_drives = hw.input_bits * k * -(-n // per_xbar)
    ones = sum(bin(abs(int(v))).count("1") for v in w.reshape(-1))
    from mapper.config import conversion_energy
    e_full = float(conversion_energy(base, full))
    want = {"adc": conversions * e_full, "sample_hold": conversions * SH, "shift_add": conversions * SA,
            "row_drivers": row_drives * DAC * hw.cols / 128, "crossbar": hw.input_bits * ones * CELL,
            "input_buffer": k * hw.input_bits * IO, "input_register": k * -(-n // per_xbar) * hw.input_bits * REG,
            "output_buffer": n * 16 * IO, "tables": 0.0}
    for group in range(1, hw.cols // (2 * hw.weight_bits) + 1):
        for extra in (dict(), dict(ordering="natural"), dict(input_encoding="signmag"), dict(wordline_slots=1)):
            cfg = base.replace(group=group, **extra)
            r = map_layers([QuantLayer("w", w)], cfg)[0]
            assert r.dense_macro.energy == pytest.approx(want), (group, extra)
            assert r.dense.energy_pj == pytest.approx(want["adc"])


def test_the_report_cycles_follow_banks_beats_and_double_buffering():
    # The schedule of the plan's tables (mapper.schedule), not a second model: with 8 banks, 8-element beats
    # and double buffering the report's cycles per vector is the steady state that `sws sim` measures
    # (tests/sim/test_report_cycles.py runs the tile), far below one bank's one-vector-at-a-time count.
    rng = np.random.default_rng(1)
    layer = prepare_layer(Layer("w", rng.laplace(0, 1, (384, 64))), ArrayConfig(), 0.8)
    one = report_dict(map_layers([layer], ArrayConfig()), ArrayConfig(), source="t", sparsity=0.8)["total"]
    cfg = ArrayConfig(banks=8, beat=8, double_buffer=True)
    many = report_dict(map_layers([layer], cfg), cfg, source="t", sparsity=0.8)["total"]
    assert many["cycles_per_vector"] < one["cycles_per_vector"] / 4
    assert many["latency_cycles"] > many["cycles_per_vector"]
    assert one["latency_cycles"] == one["cycles_per_vector"]
    # Only cycles and area change: the same events, the same energy.
    assert many["macro_breakdown_pj"] == pytest.approx(one["macro_breakdown_pj"])


def test_a_user_macro_file_replaces_constants(tmp_path):
    path = tmp_path / "my.json"
    path.write_text(json.dumps({"name": "mine", "constants": {"dac_pj_per_row_plane": 1.0,
                                                               "clock_hz": {"value": 2e9, "source": "me"}}}))
    mine = load_macro(str(path))
    assert mine.name == "mine" and mine["dac_pj_per_row_plane"] == 1.0 and mine["clock_hz"] == 2e9
    assert mine["shift_add_pj"] == pytest.approx(SA)        # a missing key keeps the built-in value
    lm = map_layer(QuantLayer("w1", W1), CFG.replace(macro=str(path)))
    assert macro_cost(lm).energy["row_drivers"] == pytest.approx(4 * 2 * 1.0 * 12 / 128)
    report = report_dict(map_layers([QuantLayer("w1", W1)], CFG.replace(macro=str(path))), CFG.replace(macro=str(path)),
                         source="t", sparsity=0.0)
    assert report["models"]["macro"] == "mine"
    assert report["total"]["time_per_vector_ns"] == pytest.approx(39 / 2e9 * 1e9)      # the 39 cycles of test_hand_computed_macro_of_a_sorted_layer


@pytest.mark.parametrize("content, message", [
    (None, "the macro file does not exist"),
    ("{", "bad.json, line 1: not valid JSON"),
    ('{"constants": {"flux": 1}}', "unknown macro constants flux"),
    ('{"constants": {"cell_read_pj": -1}}', "macro constant cell_read_pj must be a finite number >= 0, not -1"),
    ('{"constants": {"clock_hz": 0}}', "macro constant clock_hz must be > 0"),
    ('[1]', "a macro file is a JSON object with a 'constants' object"),
])
def test_a_bad_macro_file_is_refused_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(SwsError, match=message) as e:
        load_macro(str(path))
    assert str(path) in str(e.value)


def test_the_report_gives_the_macro_area_and_cycles_per_layer_and_in_total():
    rng = np.random.default_rng(3)
    layers = [QuantLayer(f"l{i}", rng.integers(-127, 128, (40, 6)) * (rng.random((40, 6)) < 0.3)) for i in range(2)]
    cfg = ArrayConfig(rows=16)
    report = report_dict(map_layers(layers, cfg), cfg, source="t", sparsity=0.0)
    rows, t = report["layers"], report["total"]
    for row in rows:
        assert set(row["macro_breakdown_pj"]) == set(ENERGY_PARTS)
        assert row["macro_energy_pj"] == pytest.approx(sum(row["macro_breakdown_pj"].values()))
        assert row["macro_breakdown_pj"]["adc"] == pytest.approx(row["energy_pj"])
        assert row["macro_reduction_vs_dense"] == pytest.approx(1 - row["macro_energy_pj"] / row["dense_macro_energy_pj"])
        assert row["area_um2"] == pytest.approx(sum(row["area_breakdown_um2"].values()))
        assert row["time_per_vector_ns"] == pytest.approx(row["cycles_per_vector"])      # 1 GHz
    for key in ("macro_energy_pj", "dense_macro_energy_pj", "natural_macro_energy_pj", "area_um2",
                "cycles_per_vector", "adc_bound_cycles", "dense_cycles_per_vector"):
        assert t[key] == pytest.approx(sum(r[key] for r in rows)), key
    assert t["macro_reduction_vs_natural"] == pytest.approx(
        1 - t["macro_energy_pj"] / t["natural_macro_energy_pj"])
