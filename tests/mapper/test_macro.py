"""The whole macro: energy by component, area and cycles of small layers worked out by hand; the cycle
estimate against the golden model's; user macro files."""

import json

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.cost import ENERGY_PARTS, load_macro, macro_cost, row_activations
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
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
    m = macro_cost(lm.sec, lm.res, lm.cost().energy_pj)
    # Table bits read: section word rows 3 | row_base 3 | col_base 3 | n_active 3 | out_base 1 = 13;
    # 4 row indices of clog2(6) = 3 bits; 4 column words slot_col 3 | out 1 | sign 1 | bit 2 | res 2 = 9 bits.
    table_bits = 13 + 4 * 3 + 4 * 9
    want = {"adc": 20.0, "sample_hold": 8 * SH, "row_drivers": 4 * 2 * DAC, "crossbar": 6 * 2 * CELL,
            "shift_add": 8 * SA, "input_buffer": 6 * 2 * IO, "input_register": 4 * 2 * REG,
            "output_buffer": 1 * 16 * IO, "tables": table_bits * REG}
    assert m.energy == pytest.approx(want)
    assert m.energy_pj == pytest.approx(sum(want.values()))
    assert (m.row_activations, m.cell_reads) == (4, 12)
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
    assert (m.cycles, m.adc_bound_cycles) == (39, 4)


def test_natural_order_shares_a_drive_between_the_slots_of_a_crossbar():
    # Two outputs, K = 5, R = 4: blocks rows 0..3 and row 4. Output 0 has ones in both blocks, output 1 only
    # in the first. 2 slots per crossbar: block 0's two sections share one drive of 4 rows; block 1 has one
    # active section of 1 row: 5 rows per plane. The dense design drives every section: 4 + 1 = 5 as well.
    w = np.array([[1, 1], [0, 0], [0, 0], [0, 0], [2, 0]])
    cfg = ArrayConfig(rows=4, cols=12, weight_bits=3, input_bits=2, ordering="natural")
    lm = map_layer(QuantLayer("w", w), cfg)
    active = (lm.res.reshape(len(lm.res), -1) > 0).any(axis=1)
    assert row_activations(lm.sec, active) == 5
    dense = map_layer(QuantLayer("w", w), cfg.replace(policy="dense"))
    assert row_activations(dense.sec, np.ones(dense.sec.n_sections, bool)) == 5
    # One slot per crossbar (C = 6): nothing to share: 4 + 4 + 1 = 9.
    narrow = map_layer(QuantLayer("w", w), cfg.replace(cols=6))
    active = (narrow.res.reshape(len(narrow.res), -1) > 0).any(axis=1)
    assert row_activations(narrow.sec, active) == 9
    # Sorted G = 1: each output drives its own rows: output 0 rows 4, 0 and output 1 row 0: 3.
    srt = map_layer(QuantLayer("w", w), cfg.replace(ordering="sorted"))
    assert row_activations(srt.sec, np.ones(srt.sec.n_sections, bool)) == 3


@pytest.mark.parametrize("spec, sparsity, fields", [
    ((300, 40), 0.9, {}),
    ((200, 50), 0.5, {"rows": 64, "n_adc": 4, "group": 2}),
    ((100, 30), 0.0, {"rows": 16, "n_adc": 3, "ordering": "natural"}),
    ((130, 20), 0.7, {"rows": 32, "n_adc": 1, "ordering": "gray", "sectioning": "optimal", "policy": "section"}),
    ((90, 12), 0.3, {"rows": 8, "cols": 28, "n_adc": 5, "policy": "full"}),
    ((150, 20), 0.5, {"rows": 32, "n_adc": 3, "input_encoding": "signmag"}),
    ((150, 20), 0.5, {"rows": 32, "n_adc": 3, "input_encoding": "signmag", "input_aware": True}),
    ((300, 40), 0.8, {"adc_mux": 4, "n_adc": 4}),
    ((300, 40), 0.8, {"adc_mux": 4, "n_adc": 4, "placement": "balanced"}),
    ((200, 30), 0.5, {"rows": 64, "group": 2, "adc_mux": 8, "n_adc": 4, "placement": "balanced"}),
    ((150, 20), 0.6, {"rows": 32, "adc_mux": 3, "n_adc": 5, "placement": "balanced", "input_aware": True}),
])
def test_cycle_estimate_is_the_golden_cycle_model(spec, sparsity, fields):
    from mapper.plan import build_layer_plan
    from mapper.prepare import prepare_layer
    from mapper.sources import Layer
    from mapper.schedule import cycle_model
    rng = np.random.default_rng(sum(spec))
    cfg = ArrayConfig(**fields)
    layer = prepare_layer(Layer("w", rng.laplace(0, 1, spec)), cfg, sparsity)
    lm = map_layer(layer, cfg)
    m = macro_cost(lm.sec, lm.res, 0.0)
    golden = cycle_model(build_layer_plan(lm))     # input-aware hardware, no inputs: the weight-only schedule
    assert (m.cycles, m.adc_bound_cycles) == (golden["cycles"], golden["adc_bound"])


def test_a_user_macro_file_replaces_constants(tmp_path):
    path = tmp_path / "my.json"
    path.write_text(json.dumps({"name": "mine", "constants": {"dac_pj_per_row_plane": 1.0,
                                                               "clock_hz": {"value": 2e9, "source": "me"}}}))
    mine = load_macro(str(path))
    assert mine.name == "mine" and mine["dac_pj_per_row_plane"] == 1.0 and mine["clock_hz"] == 2e9
    assert mine["shift_add_pj"] == pytest.approx(SA)        # a missing key keeps the built-in value
    lm = map_layer(QuantLayer("w1", W1), CFG.replace(macro=str(path)))
    assert macro_cost(lm.sec, lm.res, 20.0).energy["row_drivers"] == pytest.approx(4 * 2 * 1.0)
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
