import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.cost import input_aware_cost, weight_only_cost
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer


def _walden(b):
    return 1.67 * 2.0 ** (b - 8) if b > 0 else 0.0


def _brute(lm, x, encoding):
    """Every (vector, section, step, active column) by hand: the bound min(m, q), its bits, the energy;
    and the true count, which the chosen bits must hold (lossless)."""
    cfg, w = lm.cfg, lm.layer.weights
    bm, g = cfg.hw.weight_bits, cfg.hw.group
    total = conv = sar = 0
    for xv in x:
        if encoding == "twos":
            u = [int(v) & 0xFF for v in xv]
            steps = [[(v >> t) & 1 for v in u] for t in range(8)]
            signs = [[1] * len(xv)] * 8
        elif encoding == "signmag":
            steps = [[(max(int(v), 0) >> t) & 1 for v in xv] for t in range(7)] + \
                    [[(max(-int(v), 0) >> t) & 1 for v in xv] for t in range(7)]
            signs = [[1] * len(xv)] * 14
        else:  # bipolar
            steps = [[(abs(int(v)) >> t) & 1 for v in xv] for t in range(7)]
            signs = [[1 if v >= 0 else -1 for v in xv]] * 7
        for s in range(lm.sec.n_sections):
            rows = lm.sec.section_rows(s)
            grp = lm.sec.sec_group[s]
            for p, (drive, sign) in enumerate(zip(steps, signs)):
                qp = sum(drive[r] for r in rows if sign[r] > 0)
                qn = sum(drive[r] for r in rows if sign[r] < 0)
                for j in range(g):
                    n = grp * g + j
                    for sg in range(2):
                        for b in range(bm):
                            res = int(lm.res[s, j, sg, b])
                            if res == 0:
                                continue
                            if n >= w.shape[1]:
                                continue
                            cells = [((max(w[r, n], 0) if sg == 0 else max(-w[r, n], 0)) >> b) & 1 for r in rows]
                            m = sum(cells)
                            cp = sum(c * drive[r] for c, r in zip(cells, rows) if sign[r] > 0)
                            cn = sum(c * drive[r] for c, r in zip(cells, rows) if sign[r] < 0)
                            bits = min(res, int(min(m, max(qp, qn))).bit_length())
                            if bits == 0:
                                assert cp == cn == 0
                                continue
                            assert max(cp, cn) <= 2 ** bits - 1          # lossless
                            bits += encoding == "bipolar"
                            total += _walden(bits)
                            conv += 1
                            sar += bits
    v = len(x)
    return total / v, conv / v, sar / v


@pytest.mark.parametrize("encoding", ["twos", "signmag", "bipolar"])
@pytest.mark.parametrize("ordering, group", [("sorted", 1), ("natural", 2)])
def test_input_aware_cost_equals_a_brute_force_count_and_is_lossless(encoding, ordering, group):
    rng = np.random.default_rng(7)
    w = rng.integers(-127, 128, (40, 5))
    w[rng.random(w.shape) < 0.6] = 0
    lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=16, cols=128, group=group, n_adc=4, ordering=ordering, law="walden"))
    # Mostly small activations, as real ones are, and a few large ones.
    x = np.clip(np.rint(rng.laplace(0, 6, (5, 40))), -127, 127).astype(np.int64)
    got = input_aware_cost(lm, x, encoding)
    energy, conv, sar = _brute(lm, x, encoding)
    assert got["energy_pj"] == pytest.approx(energy, rel=1e-12)
    assert got["conversions"] == pytest.approx(conv) and got["sar_cycles"] == pytest.approx(sar)
    assert got["energy_pj"] <= weight_only_cost(lm, encoding)["energy_pj"]


def test_weight_only_cost_of_twos_complement_is_the_mappers_cost():
    rng = np.random.default_rng(3)
    w = rng.integers(-127, 128, (50, 6))
    w[rng.random(w.shape) < 0.5] = 0
    lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=16))
    wo = weight_only_cost(lm, "twos")
    cost = lm.cost()
    assert wo["energy_pj"] == pytest.approx(cost.energy_pj) and wo["conversions"] == cost.conversions
    # Sign-magnitude drives 2 * 7 steps instead of 8: weight-only it costs 14/8 as much.
    assert weight_only_cost(lm, "signmag")["energy_pj"] == pytest.approx(cost.energy_pj * 14 / 8)


def test_all_zero_inputs_skip_every_step():
    rng = np.random.default_rng(4)
    w = rng.integers(-127, 128, (30, 3))
    lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=16))
    got = input_aware_cost(lm, np.zeros((2, 30), np.int64), "signmag")
    assert got["energy_pj"] == 0 and got["conversions"] == 0
    assert got["skipped_steps"] == got["section_steps"] == 14 * lm.sec.n_sections
    assert got["popcount_histogram"][:, 0].sum() == 2 * 14 * lm.sec.n_sections


@pytest.mark.parametrize("policy", ["dense", "full", "section"])
def test_weight_only_cost_converts_at_the_planned_resolution_of_every_policy(policy):
    rng = np.random.default_rng(5)
    w = rng.integers(-127, 128, (50, 6))
    w[rng.random(w.shape) < 0.7] = 0
    ordering = "natural" if policy == "dense" else "sorted"
    lm = map_layer(QuantLayer("l", w), ArrayConfig(rows=16, policy=policy, ordering=ordering, law="walden"))
    assert weight_only_cost(lm, "twos")["energy_pj"] == pytest.approx(lm.cost().energy_pj)
    # Input-aware never exceeds it: with every row driven in every step (q = R), only the columns' own
    # ones bound the count.
    x = np.full((1, 50), -1)          # two's complement -1: every bit set
    ia = input_aware_cost(lm, x, "twos")
    need = np.where(lm.res > 0, np.minimum(lm.res, lm.need), 0)
    assert ia["energy_pj"] == pytest.approx(8 * sum(_walden(int(b)) for b in need.reshape(-1)))
