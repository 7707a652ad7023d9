"""The objective that chooses each layer's design (mapper.cost.objective): the design it names is the cheapest of
its space by a brute-force walk over the space (each design mapped and costed on its own through the report's
path), the runner-up the next; the fields given stay; input-aware designs are costed on the inputs only; a
plan of layers with different designs runs in the tile, each layer on its own hardware."""

import itertools

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from mapper.cost import cost_layer, map_layers, report_dict
from mapper.cost.objective import candidate_configs, parse_space
from mapper.prepare import prepare_layer
from mapper.sources import Layer

BASE = ArrayConfig(rows=16, cols=56, n_adc=3)       # 4 slots of 14 columns at G = 1


def _layer(seed, sparsity, k=60, n=6, name="w"):
    rng = np.random.default_rng(seed)
    return prepare_layer(Layer(name, rng.laplace(0, 1, (k, n))), BASE, sparsity)


def _brute(layer, objective, x=None):
    """Every design of the default space, each costed by cost_layer (the report's path), best first."""
    out = []
    for g, order, wl in itertools.product((1, 2, 3, 4), ("sorted", "natural", "signed", "gray"), (0, 1)):
        drives = [("twos", False)] + ([("twos", True), ("signmag", True), ("bipolar", False), ("bipolar", True)]
                                      if x is not None else [])
        for enc, aware in drives:
            cfg = BASE.replace(group=g, ordering=order, wordline_slots=wl, input_encoding=enc, input_aware=aware)
            if wl and cfg.hw.wordline_segments == 1:
                continue                          # one slot a crossbar: the same array as wl 0
            r = cost_layer(layer, cfg, x)
            m = r.macro
            score = {"adc": m.energy["adc"], "macro": m.energy_pj, "latency": m.cycles,
                     "edp": m.energy_pj * m.cycles}[objective]
            out.append((score, m.energy_pj, m.area_um2, cfg))
    return sorted(out, key=lambda t: t[:3])


@pytest.mark.parametrize("objective", ["adc", "macro", "latency", "edp"])
@pytest.mark.parametrize("seed, sparsity", [(0, 0.0), (1, 0.8)])
def test_the_chosen_design_is_the_cheapest_of_the_space_by_brute_force(objective, seed, sparsity):
    layer = _layer(seed, sparsity)
    [r] = map_layers([layer], BASE, objective=objective)
    want = _brute(layer, objective)
    best = want[0]
    got = r.ranking[0]
    assert got.score == pytest.approx(best[0])
    assert r.map.cfg.hw.group == got.cfg.hw.group and r.map.cfg == got.cfg
    # The report's own costing of the chosen design gives the score the ranking gave it.
    score = {"adc": r.macro.energy["adc"], "macro": r.macro.energy_pj, "latency": r.macro.cycles,
             "edp": r.macro.energy_pj * r.macro.cycles}[objective]
    assert score == pytest.approx(got.score)
    assert r.ranking[1].score == pytest.approx(want[1][0])
    assert len(r.ranking) == len(want)
    row = report_dict([r], BASE, source="t", sparsity=sparsity)["layers"][0]
    assert row["choice"]["group"] == got.cfg.hw.group and row["choice"]["objective"] == objective
    assert row["runner_up"]["score"] == pytest.approx(want[1][0])


def test_input_aware_designs_are_offered_with_inputs_only_and_costed_on_them(monkeypatch):
    import mapper.cost.objective as objective
    monkeypatch.setattr(objective, "SHORTLIST", None)     # every map's input-aware designs, as the brute force
    layer = _layer(2, 0.5)
    rng = np.random.default_rng(3)
    x = rng.integers(-127, 128, (10, 60)) // 16          # small activations: many steps drive no row
    [plain] = map_layers([layer], BASE, objective="macro")
    assert not any(c.cfg.hw.input_aware for c in plain.ranking)
    [aware] = map_layers([layer], BASE, objective="macro", inputs={"w": x})
    assert any(c.cfg.hw.input_aware for c in aware.ranking)
    # Every drive the RTL builds (mapper.config.BUILT) is in the space with inputs, the bipolar drive too.
    assert {(c.cfg.hw.input_encoding, c.cfg.hw.input_aware) for c in aware.ranking} == {
        ("twos", False), ("twos", True), ("signmag", True), ("bipolar", False), ("bipolar", True)}
    assert {c.cfg.hw.input_encoding for c in plain.ranking} == {"twos"}
    assert aware.ranking[0].score == pytest.approx(_brute(layer, "macro", x)[0][0])
    assert aware.ranking[0].score <= plain.ranking[0].score
    if aware.map.cfg.hw.input_aware:
        assert aware.inputs == 10          # the report's figures are the mean over the given vectors
    # The shortlist costs input-aware designs on the maps whose weight-only designs score best only.
    monkeypatch.setattr(objective, "SHORTLIST", 2)
    [short] = map_layers([layer], BASE, objective="macro", inputs={"w": x})
    maps = {(c.cfg.hw.group, c.cfg.mapping.ordering) for c in short.ranking if c.cfg.hw.input_aware}
    assert len(maps) == 2 and len(short.ranking) < len(aware.ranking)
    assert short.ranking[0].score >= aware.ranking[0].score


def test_a_drive_that_cannot_take_the_inputs_is_no_candidate():
    # One input of -128: sign-magnitude and bipolar (inputs -127..127) cannot drive it, whatever it saves.
    layer = _layer(2, 0.5)
    x = np.random.default_rng(3).integers(-127, 128, (10, 60)) // 16
    [r] = map_layers([layer], BASE, objective="macro", inputs={"w": x})
    assert r.map.cfg.hw.input_encoding != "twos"        # these inputs alone: a symmetric drive wins
    x[4, 7] = -128
    [r] = map_layers([layer], BASE, objective="macro", inputs={"w": x})
    assert {c.cfg.hw.input_encoding for c in r.ranking} == {"twos"}


def test_the_fields_given_stay_and_the_search_space_is_checked():
    layer = _layer(4, 0.5)
    [r] = map_layers([layer], BASE, objective="macro", fixed={"group": 2, "ordering": "natural"})
    assert all(c.cfg.hw.group == 2 and c.cfg.mapping.ordering == "natural" for c in r.ranking)
    space = parse_space("group=1,3;sectioning=plain,optimal", BASE, False)
    assert space["group"] == (1, 3) and space["sectioning"] == ("plain", "optimal")
    configs = candidate_configs(BASE, space)
    assert {(c.hw.group, c.mapping.sectioning) for c in configs} == {(1, "plain"), (1, "optimal"), (3, "plain"),
                                                                     (3, "optimal")}
    for text, message in (("colour=1", "unknown field 'colour'"), ("group=x", "group values are integers"),
                          ("ordering=random", "ordering must be one of"),
                          ("input_aware=true", "input_aware=true needs the layers' inputs")):
        with pytest.raises(SwsError, match=message):
            parse_space(text, BASE, False)


@pytest.mark.slow
def test_a_plan_of_layers_with_different_designs_runs_each_on_its_own_hardware(tmp_path):
    from mapper.job import map_to_folder
    from mapper.plan import load_plan, rebuild_weights
    from sim.check import simulate_plan
    from hwgen.verilog import write_rtl

    rng = np.random.default_rng(5)
    # Two layers; the inputs of one are given (small activations: input-aware sign-magnitude drive saves most of
    # its conversions), and without segmented wordlines the dense one shares its drives in wide groups.
    dense = rng.laplace(0, 1, (40, 8))
    sparse = rng.laplace(0, 1, (40, 8)) * (rng.random((40, 8)) < 0.3)
    np.savez(tmp_path / "w.npz", dense=dense, sparse=sparse)
    x_sparse = rng.integers(-127, 128, (6, 40)) // 32
    np.savez(tmp_path / "x.npz", sparse=x_sparse)
    out = tmp_path / "plan"
    cfg = ArrayConfig(rows=8, cols=56, n_adc=3)
    report = map_to_folder(str(tmp_path / "w.npz"), cfg, 0.0, str(out), objective="macro", search="wordline_slots=0",
                           inputs=str(tmp_path / "x.npz"))
    plan = load_plan(str(out))
    hw = {lp.name: lp.cfg.hw for lp in plan.layers}
    assert hw["sparse"].input_aware and not hw["dense"].input_aware, hw
    assert hw["dense"].group > 1, hw
    for lp, row in zip(plan.layers, report["layers"]):
        assert lp.cfg.hw.group == row["choice"]["group"]
        # The input-aware layer on the inputs it was costed on (its energy depends on them), the other on any.
        x = x_sparse if lp.cfg.hw.input_aware else rng.integers(-128, 128, (2, 40))
        r = simulate_plan(str(out), x, layer=lp.name, backend="amaranth")
        assert r["match"], r["problems"]
        assert np.array_equal(r["outputs"], x @ rebuild_weights(lp))
        assert r["macro_energy_pj"] == pytest.approx(row["macro_energy_pj"])
        w = write_rtl(str(out), str(tmp_path / f"{lp.name}.v"), layer=lp.name)
        assert w["layer"] == lp.name
