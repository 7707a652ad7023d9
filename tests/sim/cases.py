"""One shared list of layers and inputs: the golden model and the RTL are fed the same cases."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mapper.config import ArrayConfig
from mapper.sectioning import LayerMap, map_layer
from mapper.plan import LayerPlan, build_layer_plan
from mapper.sources import QuantLayer
from mapper.prepare import prune


@dataclass
class Case:
    name: str
    cfg: ArrayConfig
    w: np.ndarray
    x: np.ndarray
    lm: LayerMap = field(init=False)
    lp: LayerPlan = field(init=False)

    def __post_init__(self):
        self.lm = map_layer(QuantLayer(self.name, self.w), self.cfg)
        self.lp = build_layer_plan(self.lm)

    @property
    def lossless(self) -> bool:
        return self.lm.capped_columns == 0


def weights(k, n, sparsity, seed, *, magnitude=127):
    rng = np.random.default_rng(seed)
    w = np.clip(np.rint(rng.laplace(0, magnitude / 4, (k, n))), -magnitude, magnitude).astype(np.int64)
    return prune(w, sparsity)


def inputs(cfg: ArrayConfig, k: int, seed: int, random_vectors: int = 1) -> np.ndarray:
    """The input range's two ends as whole vectors, an alternating vector, and random ones."""
    lo, hi = cfg.hw.input_min, cfg.hw.input_max
    rng = np.random.default_rng(seed)
    edge = [np.full(k, lo), np.full(k, hi), np.where(np.arange(k) % 2 == 0, lo, hi)]
    return np.stack(edge + [rng.integers(lo, hi + 1, k) for _ in range(random_vectors)]).astype(np.int64)


def _case(name, k, n, sparsity, seed, **cfg_kw):
    cfg = ArrayConfig(**{"cols": 128, **cfg_kw})
    return Case(name, cfg, weights(k, n, sparsity, seed, magnitude=cfg.hw.weight_max), inputs(cfg, k, seed))


def rtl_cases() -> list[Case]:
    """Small enough that all of them simulate in seconds; each stresses one thing."""
    single = np.zeros((13, 2), np.int64)
    single[7, 1] = -127
    full = np.where(np.random.default_rng(5).random((12, 2)) < 0.5, 127, -127)
    cfg8 = ArrayConfig(rows=8, cols=28, n_adc=3)
    cases = [
        _case("r8_k_not_multiple", 21, 3, 0.5, 1, rows=8, n_adc=3),
        _case("r16_k_below_r", 10, 2, 0.3, 2, rows=16, n_adc=1),
        _case("r32_natural_section", 50, 2, 0.6, 3, rows=32, n_adc=16, ordering="natural", policy="section"),
        _case("r64_full_n1", 70, 1, 0.5, 4, rows=64, n_adc=16, policy="full"),
        _case("r128_sparse", 150, 1, 0.9, 5, rows=128, n_adc=16),
        _case("dense_reference", 40, 2, 0.7, 6, rows=16, n_adc=3, ordering="natural", policy="dense"),
        _case("group2_partial", 30, 3, 0.5, 7, rows=16, cols=28, n_adc=3, group=2),
        _case("natural_column", 40, 2, 0.8, 8, rows=8, n_adc=16, ordering="natural"),
        _case("sparsity_095", 60, 2, 0.95, 9, rows=16, n_adc=3),
        _case("dense_weights", 24, 2, 0.0, 10, rows=8, n_adc=16),
        _case("a4_signed", 20, 2, 0.4, 11, rows=8, n_adc=3, input_bits=4),
        _case("a4_unsigned", 20, 2, 0.4, 12, rows=8, n_adc=3, input_bits=4, input_signed=False),
        _case("a1_unsigned_natural", 64, 2, 0.9, 18, rows=8, n_adc=16, input_bits=1, input_signed=False,
              ordering="natural"),
        _case("capped_lossy", 40, 2, 0.2, 13, rows=16, n_adc=3, cap=2),
        Case("single_weight", cfg8, single, inputs(cfg8, 13, 14)),
        Case("weights_pm127", cfg8.replace(n_adc=16), full, inputs(cfg8, 12, 15)),
        Case("all_zero_sorted", cfg8, np.zeros((12, 2), np.int64), inputs(cfg8, 12, 16)),
        Case("all_zero_natural", cfg8.replace(ordering="natural"), np.zeros((12, 2), np.int64), inputs(cfg8, 12, 17)),
    ]
    return cases


#: The hardware options beside the default (two's complement, weight-only): (name suffix, fields).
ENCODINGS = (("signmag", {"input_encoding": "signmag"}),
             ("twos_aware", {"input_aware": True}),
             ("signmag_aware", {"input_encoding": "signmag", "input_aware": True}))


def mux_cases() -> list[Case]:
    """ADC groups of M = adc_mux columns (n_adc = ceil(slot columns / M)): M = 1, a power of two, one that
    is not (so that a last group is shorter and the port's column is not a bit slice), both placements,
    and with G = 2, sign-magnitude and input-aware hardware."""
    specs = [
        ("mux1_fixed", 21, 3, 0.5, 1, dict(rows=8, adc_mux=1, n_adc=14)),
        ("mux2_balanced", 21, 3, 0.4, 2, dict(rows=8, adc_mux=2, n_adc=7, placement="balanced")),
        ("mux4_fixed", 40, 2, 0.6, 3, dict(rows=16, adc_mux=4, n_adc=4)),
        ("mux4_balanced", 40, 2, 0.6, 3, dict(rows=16, adc_mux=4, n_adc=4, placement="balanced")),
        ("mux3_balanced", 30, 2, 0.5, 4, dict(rows=16, adc_mux=3, n_adc=5, placement="balanced")),
        ("mux8_balanced_group2", 30, 3, 0.5, 7, dict(rows=16, cols=28, group=2, adc_mux=8, n_adc=4,
                                                     placement="balanced")),
        ("mux5_balanced_signmag_aware", 40, 2, 0.6, 8, dict(rows=16, adc_mux=5, n_adc=3, placement="balanced",
                                                            input_encoding="signmag", input_aware=True)),
        ("mux14_balanced_natural", 40, 2, 0.8, 9, dict(rows=8, adc_mux=14, n_adc=1, ordering="natural",
                                                       placement="balanced")),
    ]
    out = []
    for name, k, n, sp, seed, kw in specs:
        case = _case(name, k, n, sp, seed, **kw)
        if case.cfg.hw.input_aware:
            case = Case(name, case.cfg, case.w, np.concatenate([case.x, sparse_inputs(case.cfg, k, seed)]))
        out.append(case)
    return out


def sparse_inputs(cfg: ArrayConfig, k: int, seed: int) -> np.ndarray:
    """Vectors whose drive leaves steps and sections empty: all zero, one small input, and mostly zero
    small inputs (as real activations are), so that input-aware hardware skips steps and lowers resolutions."""
    rng = np.random.default_rng(seed + 1000)
    one = np.zeros(k, np.int64)
    one[k // 2] = -1 if cfg.hw.input_signed else 1
    lo = max(cfg.hw.input_min, -3)
    small = np.where(rng.random(k) < 0.7, 0, rng.integers(lo, 4, k))
    return np.stack([np.zeros(k, np.int64), one, small])


def encoding_cases() -> list[Case]:
    """Signed cases of `rtl_cases` under each other input encoding and resolution mode, with their edge and
    random inputs and `sparse_inputs`."""
    picks = ("r8_k_not_multiple", "r32_natural_section", "r128_sparse", "dense_reference", "group2_partial",
             "a4_signed", "capped_lossy", "single_weight", "all_zero_sorted", "sparsity_095")
    return _drive_variants(picks, ENCODINGS, 0)


def _drive_variants(picks: tuple, drives, seed0: int) -> list[Case]:
    """Each case of `rtl_cases` named in `picks` under each (suffix, fields) of `drives`, with edge, random
    and sparse inputs drawn from seed `seed0` + its index."""
    out = []
    for case in rtl_cases():
        if case.name not in picks:
            continue
        for suffix, fields in drives:
            cfg = case.cfg.replace(**fields)
            k = case.w.shape[0]
            seed = seed0 + len(out)
            x = np.concatenate([inputs(cfg, k, seed), sparse_inputs(cfg, k, seed)])
            out.append(Case(f"{case.name}_{suffix}", cfg, case.w, x))
    return out


#: The bipolar drive (rows driven +1, 0 or -1, signed codes one bit wider), weight-only and input-aware.
BIPOLAR = (("bipolar", {"input_encoding": "bipolar"}),
           ("bipolar_aware", {"input_encoding": "bipolar", "input_aware": True}))


def bipolar_cases() -> list[Case]:
    """Signed cases of `rtl_cases` on bipolar drive hardware (K not a multiple of R, K below R, G = 2, A = 4,
    a capped plan whose codes saturate at both ends, one weight, all zero, very sparse, natural order with
    per-section resolution, R = 128), with their edge and random inputs and `sparse_inputs`; and an ADC-group
    case."""
    picks = ("r8_k_not_multiple", "r16_k_below_r", "group2_partial", "a4_signed", "capped_lossy", "single_weight",
             "all_zero_sorted", "sparsity_095", "r32_natural_section", "r128_sparse")
    out = _drive_variants(picks, BIPOLAR, 500)
    mux = _case("mux5_balanced_bipolar_aware", 40, 2, 0.6, 8, rows=16, adc_mux=5, n_adc=3, placement="balanced",
                input_encoding="bipolar", input_aware=True)
    out.append(Case(mux.name, mux.cfg, mux.w, np.concatenate([mux.x, sparse_inputs(mux.cfg, 40, 8)])))
    return out


def check(case: Case, run, want):
    if case.lossless:
        assert np.array_equal(run.outputs, case.x @ case.w)
    assert np.array_equal(run.outputs, want.outputs)
    assert run.counters == want.counters()
    assert run.cycles_per_vector == want.vector_cycles
