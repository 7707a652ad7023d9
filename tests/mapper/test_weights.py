import numpy as np
import pytest

from mapper.common import SwsError
from mapper.sources import load_weights, source_name


def test_npy_is_one_layer_named_after_the_file(tmp_path):
    np.save(tmp_path / "fc1.npy", np.ones((3, 2)))
    [layer] = load_weights(str(tmp_path / "fc1.npy"))
    assert layer.name == "fc1" and layer.shape == (3, 2)


def test_npz_gives_one_layer_per_array_in_file_order(tmp_path):
    np.savez(tmp_path / "m.npz", zeta=np.ones((2, 3)), alpha=np.ones((4, 1), dtype=np.int8))
    layers = load_weights(str(tmp_path / "m.npz"))
    assert [(l.name, l.shape) for l in layers] == [("zeta", (2, 3)), ("alpha", (4, 1))]


def test_synthetic_layers_are_reproducible_by_seed():
    a = load_weights("synthetic:laplace:8x4:3")[0].weights
    b = load_weights("synthetic:laplace:8x4:3")[0].weights
    c = load_weights("synthetic:laplace:8x4:4")[0].weights
    assert a.shape == (8, 4) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert load_weights("synthetic:gauss:5x6")[0].shape == (5, 6)
    assert source_name("synthetic:gauss:5x6") == "synthetic-gauss-5x6-0"


@pytest.mark.parametrize("make, message", [
    (lambda p: np.save(p / "a.npy", np.ones(4)), r"a.npy: a layer must be a 2-D K x N matrix, but this array has shape \(4,\)"),
    (lambda p: np.save(p / "a.npy", np.ones((2, 2, 2))), r"a layer must be a 2-D K x N matrix, but this array has shape \(2, 2, 2\)"),
    (lambda p: np.save(p / "a.npy", np.array([[1.0, np.nan]])), r"weights must be finite, but W\[0, 1\] = nan"),
    (lambda p: np.save(p / "a.npy", np.array([[np.inf, 1.0]])), r"weights must be finite, but W\[0, 0\] = inf"),
    (lambda p: np.save(p / "a.npy", np.zeros((0, 3))), r"at least one row and one column, not shape \(0, 3\)"),
    (lambda p: np.save(p / "a.npy", np.array([["x"]])), "weights must be integers or floats"),
    (lambda p: (p / "a.npy").write_text("not numpy"), "a.npy: not a .npy file"),
])
def test_bad_npy_files_are_refused_with_the_rule(tmp_path, make, message):
    make(tmp_path)
    with pytest.raises(SwsError, match=message):
        load_weights(str(tmp_path / "a.npy"))


def test_empty_npz_is_refused(tmp_path):
    np.savez(tmp_path / "e.npz")
    with pytest.raises(SwsError, match="e.npz: the .npz archive holds no arrays"):
        load_weights(str(tmp_path / "e.npz"))


def test_missing_file_and_unknown_kinds_are_refused(tmp_path):
    with pytest.raises(SwsError, match="nothere.npy: no such file"):
        load_weights(str(tmp_path / "nothere.npy"))
    (tmp_path / "w.csv").write_text("1,2")
    with pytest.raises(SwsError, match="unknown weight file type '.csv'"):
        load_weights(str(tmp_path / "w.csv"))
    with pytest.raises(SwsError, match="a synthetic source is"):
        load_weights("synthetic:uniform:3x3")
    with pytest.raises(SwsError, match="needs K >= 1 and N >= 1"):
        load_weights("synthetic:laplace:0x3")


def test_a_safetensors_layer_too_large_to_map_is_refused_naming_it(tmp_path, monkeypatch):
    from tests.support import need_module
    need_module("safetensors", "safetensors")
    from safetensors.numpy import save_file

    save_file({"fc.weight": np.ones((30, 20), np.float32)}, str(tmp_path / "m.safetensors"))
    monkeypatch.setenv("SWS_MEMORY_LIMIT", str(20 * 30 * 256 - 1))   # one byte short of 256 bytes a weight
    with pytest.raises(SwsError, match=r"m\.safetensors\[fc\.weight\]: a 20 x 30 layer needs about"):
        load_weights(str(tmp_path / "m.safetensors"))
    monkeypatch.setenv("SWS_MEMORY_LIMIT", str(20 * 30 * 256))
    assert load_weights(str(tmp_path / "m.safetensors"))[0].shape == (20, 30)
