"""The plan and its ROM images: written, read back, and W rebuilt from them alone."""

import json
import os

import numpy as np
import pytest

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the property tests need it

from hypothesis import HealthCheck, given, settings

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.sectioning import map_layer
from mapper.plan import COLUMN_FIELDS, build_layer_plan, load_plan, manifest_digest, rebuild_weights, write_plan
from mapper.sources import QuantLayer
from mapper.sectioning import lossless_bits

from .strategies import layers_and_configs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=layers_and_configs(policies=("column", "section", "full", "dense"), caps=(None, 2)))
def test_rebuilding_w_from_a_loaded_plan_gives_w(tmp_path_factory, case):
    w, cfg = case
    folder = tmp_path_factory.mktemp("plan")
    lp = build_layer_plan(map_layer(QuantLayer("layer", w), cfg))
    write_plan(str(folder), [lp], {"source": "test"})
    plan = load_plan(str(folder))
    assert plan.config == cfg
    loaded = plan.layer("layer")
    np.testing.assert_array_equal(rebuild_weights(loaded), w)
    for f in COLUMN_FIELDS:
        np.testing.assert_array_equal(loaded.columns[f], lp.columns[f])
    np.testing.assert_array_equal(loaded.row_index, lp.row_index)


def test_column_table_lists_each_active_column_widest_first_with_its_fields():
    # One section (R = 4) of rows 0 (5), 3 (3), 2 (-1), 5 (1): +b0 m = 3 (2 bits), +b1, +b2, -b0 (1 bit each).
    w = np.array([[5], [0], [-1], [3], [0], [1]])
    cfg = ArrayConfig(rows=4, cols=6, weight_bits=3, input_bits=2)
    lp = build_layer_plan(map_layer(QuantLayer("w", w), cfg))
    assert lp.row_index.tolist() == [0, 3, 2, 5]
    assert {f: lp.sections[f].tolist() for f in lp.sections} == \
        {"rows": [4], "row_base": [0], "col_base": [0], "n_active": [4], "out_base": [0]}
    # slot column = (j * 2 + sign) * Bm + bit: +b0 = 0, +b1 = 1, +b2 = 2, -b0 = 3
    assert lp.columns["slot_col"].tolist() == [0, 1, 2, 3]
    assert lp.columns["res"].tolist() == [2, 1, 1, 1]
    assert lp.columns["sign"].tolist() == [0, 0, 0, 1]
    assert lp.columns["bit"].tolist() == [0, 1, 2, 0]
    # Cells, row r: bit c is cell (r, c). Row 0 holds +5 = +b0, +b2 -> 0b000101.
    assert lp.cells[0, :, :].tolist()[0] == [1, 0, 1, 0, 0, 0]
    assert lp.cells[0, 2].tolist() == [0, 0, 0, 1, 0, 0]    # -1: -b0


def test_hex_images_hold_one_word_per_line(tmp_path):
    w = np.array([[5], [0], [-1], [3], [0], [1]])
    cfg = ArrayConfig(rows=4, cols=6, weight_bits=3, input_bits=2)
    write_plan(str(tmp_path), [build_layer_plan(map_layer(QuantLayer("w", w), cfg))], {})
    manifest = json.loads((tmp_path / "plan.json").read_text())
    folder = tmp_path / manifest["layers"][0]["folder"]
    # 6 cells per row -> 2 hex digits; 4 rows of the one section. Row 0: 0b000101 = 05.
    assert (folder / "cells.hex").read_text().split() == ["05", "03", "08", "01"]
    assert (folder / "rows.hex").read_text().split() == ["0", "3", "2", "5"]


def test_a_plan_of_another_version_is_refused(tmp_path):
    w = np.ones((2, 2), dtype=np.int64)
    write_plan(str(tmp_path), [build_layer_plan(map_layer(QuantLayer("w", w), ArrayConfig()))], {})
    manifest = json.loads((tmp_path / "plan.json").read_text())
    manifest["version"] = 99
    (tmp_path / "plan.json").write_text(json.dumps(manifest))
    with pytest.raises(SwsError, match="version 99 is not 'sws-plan' version 2 or 3"):
        load_plan(str(tmp_path))


def test_each_layer_keeps_its_own_hardware_and_mapping(tmp_path):
    # An objective may choose G, the ordering, the drive and the wordline segments per layer: plan.json
    # (version 3) records each layer's configuration, and the layer reads back under it.
    rng = np.random.default_rng(2)
    w1, w2 = rng.integers(-127, 128, (20, 5)), rng.integers(-127, 128, (30, 3))
    base = ArrayConfig(rows=8, cols=56, n_adc=3)
    c1 = base.replace(group=4, ordering="natural", wordline_slots=0)
    c2 = base.replace(group=1, input_encoding="signmag", input_aware=True, wordline_slots=1)
    plans = [build_layer_plan(map_layer(QuantLayer("a", w1), c1)), build_layer_plan(map_layer(QuantLayer("b", w2), c2))]
    write_plan(str(tmp_path), plans, {}, config=base)
    plan = load_plan(str(tmp_path))
    assert plan.config == base and [lp.cfg for lp in plan.layers] == [c1, c2]
    assert np.array_equal(rebuild_weights(plan.layers[0]), w1) and np.array_equal(rebuild_weights(plan.layers[1]), w2)


def test_a_version_2_plan_is_read_with_its_one_configuration(tmp_path):
    w = np.arange(12).reshape(6, 2) - 5
    cfg = ArrayConfig(rows=4, cols=28, weight_bits=7)
    write_plan(str(tmp_path), [build_layer_plan(map_layer(QuantLayer("w", w), cfg))], {})
    manifest = json.loads((tmp_path / "plan.json").read_text())
    # What version 2 wrote: no configuration per layer.
    manifest["version"] = 2
    del manifest["layers"][0]["config"]
    del manifest["manifest_sha256"]
    manifest["manifest_sha256"] = manifest_digest(manifest)
    (tmp_path / "plan.json").write_text(json.dumps(manifest))
    plan = load_plan(str(tmp_path))
    assert plan.layers[0].cfg == cfg and np.array_equal(rebuild_weights(plan.layers[0]), w)


def test_a_folder_without_a_plan_is_refused(tmp_path):
    with pytest.raises(SwsError, match="not a plan folder"):
        load_plan(str(tmp_path))


def test_a_damaged_rom_image_is_refused(tmp_path):
    w = np.ones((2, 2), dtype=np.int64)
    write_plan(str(tmp_path), [build_layer_plan(map_layer(QuantLayer("w", w), ArrayConfig()))], {})
    with open(os.path.join(tmp_path, "w", "rows.hex"), "a") as f:
        f.write("zz\n")
    with pytest.raises(SwsError, match="rows.hex: the ROM image does not match its sha256"):
        load_plan(str(tmp_path))


def test_lossless_bits_is_the_bit_length():
    m = np.arange(0, 300)
    assert lossless_bits(m).tolist() == [int(v).bit_length() for v in m]
