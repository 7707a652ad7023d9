"""Small layers worked out by hand: every policy and law checked against arithmetic written here."""

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.config import conversion_energy
from mapper.sectioning import map_layer
from mapper.sources import QuantLayer
from mapper.cost import map_layers

# One output, K = 6, Bm = 3 (weights -7..7), R = 4, A = 2 planes, 12 columns = 2 slots of 6.
# E8 = 256 pJ makes walden E(b) = 256 * 2**(b - 8) = 2**b, so the sums below stay integers.
W1 = np.array([[5], [0], [-1], [3], [0], [1]])
BASE = ArrayConfig(rows=4, cols=12, weight_bits=3, input_bits=2, law="walden", e8_pj=256.0)

# Sorted: keys 5, 0, 1, 3, 0, 1 -> rows 0 (5), 3 (3), 2 (1), 5 (1); zero rows 1 and 4 dropped: one section.
#   +b0: 5, 3, 1 -> m = 3 -> 2 bits      +b1: 3 -> m = 1 -> 1 bit     +b2: 5 -> m = 1 -> 1 bit
#   -b0: 1 -> m = 1 -> 1 bit             -b1, -b2: m = 0, never converted
# Natural: section rows 0..3 (5, 0, -1, 3) and rows 4..5 (0, 1).
#   first:  +b0: 5, 3 -> m = 2 -> 2 bits; +b1: 3 -> 1; +b2: 5 -> 1; -b0: -1 -> 1
#   second: +b0: 1 -> m = 1 -> 1 bit
# Full resolution ceil(log2(4 + 1)) = 3 bits.
CASES = [
    # policy, law, table, energy, natural energy, conversions, sar cycles
    # walden column: (4 + 2 + 2 + 2) * 2 planes = 20; natural (4 + 2 + 2 + 2 + 2) * 2 = 24
    ("column", "walden", None, 20.0, 24.0, 8, 10),
    # section: every active column at the section's widest need (2 bits): 4 * 4 * 2 = 32;
    # natural: first section 4 * 4, second 1 * 2 -> (16 + 2) * 2 = 36
    ("section", "walden", None, 32.0, 36.0, 8, 16),
    # full: 4 columns * 8 * 2 = 64; natural 5 columns * 8 * 2 = 80
    ("full", "walden", None, 64.0, 80.0, 8, 24),
    # thermal with E8 = 4**8 gives E(b) = 4**b: column (16 + 4 + 4 + 4) * 2 = 56; natural (16 + 4*4) * 2 = 64
    ("column", "thermal", None, 56.0, 64.0, 8, 10),
    # table 1..8 calibrated so E(8) = E8 = 8: E(b) = b: column (2 + 1 + 1 + 1) * 2 = 10; natural 6 * 2 = 12
    ("column", "table", (1, 2, 3, 4, 5, 6, 7, 8), 10.0, 12.0, 8, 10),
]
E8_FOR = {"walden": 256.0, "thermal": 4.0 ** 8, "table": 8.0}
# Dense: natural order, 2 sections x 6 columns x E(3) x 2 planes: walden 2*6*8*2 = 192,
# thermal 2*6*64*2 = 1536, table 2*6*3*2 = 72.
DENSE_FOR = {"walden": 192.0, "thermal": 1536.0, "table": 72.0}


@pytest.mark.parametrize("policy, law, table, energy, natural, conversions, sar", CASES)
def test_hand_computed_layer_costs(policy, law, table, energy, natural, conversions, sar):
    cfg = BASE.replace(policy=policy, law=law, law_table=table, e8_pj=E8_FOR[law])
    [result] = map_layers([QuantLayer("w1", W1)], cfg)
    assert result.cost.energy_pj == pytest.approx(energy)
    assert result.natural.energy_pj == pytest.approx(natural)
    assert result.dense.energy_pj == pytest.approx(DENSE_FOR[law])
    assert (result.cost.conversions, result.cost.sar_cycles) == (conversions, sar)
    assert (result.cost.sections, result.cost.crossbars) == (1, 1)
    assert (result.natural.sections, result.natural.crossbars) == (2, 1)   # 2 slots per crossbar


def test_dense_policy_converts_every_column_even_without_ones():
    cfg = BASE.replace(ordering="natural", policy="dense")
    cost = map_layer(QuantLayer("w1", W1), cfg).cost()
    assert cost.conversions == 2 * 6 * 2          # 2 sections x 6 columns x 2 planes
    assert cost.energy_pj == pytest.approx(192.0)


def test_cap_lowers_energy_and_counts_the_capped_column():
    # Cap 1 bit: +b0 (m = 3) drops from 2 bits to 1: (2 + 2 + 2 + 2) * 2 = 16 pJ.
    lm = map_layer(QuantLayer("w1", W1), BASE.replace(cap=1))
    assert lm.cost().energy_pj == pytest.approx(16.0)
    assert lm.capped_columns == 1


def test_grouped_outputs_share_one_row_order():
    # G = 2, Bm = 2: keys max(|1|, |0|) = 1, max(0, 2) = 2, 0 -> rows 1, 0 in one section.
    # Out 0 +b0 (row 0) and out 1 +b1 (row 1) hold one one each: 2 columns at 1 bit, 2 planes,
    # E8 = 256: 2 * 2 * 2 = 8 pJ. Dense: 8 columns (2 outputs x 2 signs x 2 bits) at ceil(log2 5) = 3
    # bits: 8 * 8 * 2 = 128 pJ.
    w = np.array([[1, 0], [0, 2], [0, 0]])
    cfg = ArrayConfig(rows=4, cols=8, weight_bits=2, input_bits=2, group=2, law="walden", e8_pj=256.0)
    [r] = map_layers([QuantLayer("g", w)], cfg)
    assert r.map.sec.section_rows(0).tolist() == [1, 0]
    assert r.cost.energy_pj == pytest.approx(8.0)
    assert r.dense.energy_pj == pytest.approx(128.0)


def test_partial_last_group_pays_dense_only_for_real_outputs():
    # N = 3, G = 2: the second group has one real output. Dense, natural, one section each:
    # (2 + 1) outputs x 4 columns x E(3) = 8 x 2 planes = 192 pJ (not 4 outputs' 256).
    w = np.ones((2, 3), dtype=np.int64)
    cfg = ArrayConfig(rows=4, cols=8, weight_bits=2, input_bits=2, group=2, law="walden", e8_pj=256.0,
                      ordering="natural", policy="dense")
    assert map_layer(QuantLayer("p", w), cfg).cost().energy_pj == pytest.approx(192.0)


@pytest.mark.parametrize("law, expected", [
    ("walden", [1.67 / 128, 1.67 / 2, 1.67, 3.34]),
    ("thermal", [1.67 / 4 ** 7, 1.67 / 4, 1.67, 6.68]),
])
def test_laws_are_calibrated_at_8_bits(law, expected):
    cfg = ArrayConfig(law=law)
    assert conversion_energy(cfg, [1, 7, 8, 9]) == pytest.approx(expected)
