import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError


def test_defaults_describe_an_int8_isaac_like_array():
    cfg = ArrayConfig()
    assert (cfg.hw.rows, cfg.hw.cols, cfg.hw.weight_bits, cfg.hw.input_bits) == (128, 128, 7, 8)
    assert cfg.hw.full_resolution == 8          # ceil(log2(129))
    assert cfg.hw.slot_cols == 14               # 2 signs x 7 bits x 1 output
    assert cfg.hw.slots_per_crossbar == 9       # 128 // 14
    assert (cfg.hw.input_min, cfg.hw.input_max) == (-128, 127)
    assert cfg.hw.plane_weights() == [1, 2, 4, 8, 16, 32, 64, -128]


def test_unsigned_inputs_have_no_negative_plane():
    cfg = ArrayConfig(input_bits=4, input_signed=False)
    assert cfg.hw.plane_weights() == [1, 2, 4, 8]
    assert (cfg.hw.input_min, cfg.hw.input_max) == (0, 15)


def test_sign_magnitude_inputs_take_two_passes_of_magnitude_steps():
    cfg = ArrayConfig(input_bits=4, input_encoding="signmag")
    assert cfg.hw.steps == 6
    assert cfg.hw.plane_weights() == [1, 2, 4, -1, -2, -4]
    assert (cfg.hw.input_min, cfg.hw.input_max) == (-7, 7)
    assert ArrayConfig(input_bits=4).hw.steps == 4
    assert ArrayConfig.from_dict(cfg.replace(input_aware=True).to_dict()) == cfg.replace(input_aware=True)
    assert ArrayConfig.from_dict({"hardware": {"rows": 8}}).hw.input_encoding == "twos"   # older plan files


@pytest.mark.parametrize("changes, message", [
    ({"input_encoding": "gray"}, "input_encoding must be one of twos, signmag, bipolar, not 'gray'"),
    ({"input_encoding": "signmag", "input_signed": False}, "input_encoding 'signmag' is for signed inputs"),
    ({"input_aware": 1}, "input_aware must be true or false, not 1"),
    ({"rows": 0}, "rows must be an integer >= 1, not 0"),
    ({"cols": 0}, "cols must be an integer >= 1, not 0"),
    ({"rows": -3}, "rows must be an integer >= 1, not -3"),
    ({"n_adc": 0}, "n_adc must be an integer >= 1, not 0"),
    ({"weight_bits": 16}, "weight_bits must be at most 15, not 16"),
    ({"group": 10}, "group 10 is wider than a crossbar: a slot needs 2 * weight_bits * group = 140 columns "
                    "but cols is 128"),
    ({"policy": "fast"}, "policy must be one of column, section, full, dense, not 'fast'"),
    ({"ordering": "random"}, "ordering must be one of"),
    ({"policy": "dense"}, "policy 'dense' is the natural-order reference: it needs ordering 'natural'"),
    ({"cap": 0}, "cap must be an integer >= 1, not 0"),
    ({"e8_pj": -1.0}, "e8_pj must be a finite number > 0, not -1.0"),
    ({"e8_pj": 1e309}, "e8_pj must be a finite number > 0, not inf"),
    ({"section_cost_pj": float("nan"), "sectioning": "optimal"}, "section_cost_pj must be a finite number >= 0"),
    ({"frequency": 3}, "unknown configuration keys: frequency"),
    ({"law": "table"}, "law 'table' needs law_table"),
    ({"law": "table", "law_table": (1, 2, 3)}, "law_table must give at least 8 entries"),
    ({"law_table": (1,) * 8}, "law_table is only used with law 'table'"),
])
def test_bad_parameters_are_named_with_value_and_rule(changes, message):
    with pytest.raises(SwsError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        ArrayConfig(**changes)


def test_config_round_trips_through_a_dict():
    cfg = ArrayConfig(rows=16, law="table", law_table=tuple(range(1, 9)), cap=3)
    assert ArrayConfig.from_dict(cfg.to_dict()) == cfg


def test_the_configuration_has_one_part_per_concern():
    cfg = ArrayConfig(rows=64, policy="section", law="thermal")
    assert (cfg.hw.rows, cfg.mapping.policy, cfg.energy.law) == (64, "section", "thermal")
    assert set(cfg.to_dict()) == {"hardware", "mapping", "energy"}
    assert "law" not in cfg.to_dict()["hardware"] and "rows" not in cfg.to_dict()["energy"]
    # Changing the mapping or the energy model leaves the hardware, all a netlist depends on, as it is.
    assert cfg.replace(law="walden", ordering="natural", policy="column").hw == cfg.hw
    assert cfg.replace(n_adc=4).hw != cfg.hw


def test_configuration_dicts_with_unknown_parts_or_keys_are_refused():
    with pytest.raises(SwsError, match="unknown configuration parts: extra"):
        ArrayConfig.from_dict({**ArrayConfig().to_dict(), "extra": {}})
    with pytest.raises(SwsError, match="unknown configuration keys in 'hardware': law"):
        ArrayConfig.from_dict({"hardware": {"law": "walden"}})
    with pytest.raises(SwsError, match="a configuration must be an object"):
        ArrayConfig.from_dict([1, 2])
