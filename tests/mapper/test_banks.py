"""The section-to-bank assignment (longest processing time first) and each bank's own plan."""

import numpy as np

from mapper.plan import assign_banks, bank_plan, section_cost
from mapper.config import ArrayConfig
from mapper.sectioning import map_layer
from mapper.plan import build_layer_plan, rebuild_weights
from mapper.sources import QuantLayer


def _plan():
    w = np.zeros((8, 3), np.int64)
    w[:3, 0], w[:3, 1], w[:5, 2] = 1, 3, 127
    return build_layer_plan(map_layer(QuantLayer("b", w), ArrayConfig(rows=8, cols=42, n_adc=2, banks=2)))


def test_section_cost_by_hand_and_lpt_puts_the_longest_first():
    lp = _plan()
    # Per section: 3 + 8 steps * the sum of its batches' largest resolutions (2 ADCs a batch).
    res = lp.columns["res"]
    want = []
    for s in range(lp.n_sections):
        cb, n = int(lp.sections["col_base"][s]), int(lp.sections["n_active"][s])
        r = [int(v) for v in res[cb:cb + n]]
        want.append(3 + 8 * sum(max(r[i:i + 2]) for i in range(0, n, 2)))
    assert section_cost(lp).tolist() == want
    banks = assign_banks(lp)
    # The costliest section alone on bank 0, the two others on bank 1 (both less than it here).
    top = int(np.argmax(want))
    assert want[top] > sum(want) - want[top] - min(want) and banks[0] == [top]
    assert sorted(banks[1]) == sorted(set(range(lp.n_sections)) - {top})


def test_bank_plans_partition_the_weights():
    lp = _plan()
    parts = [bank_plan(lp, s) for s in assign_banks(lp)]
    assert np.array_equal(sum(rebuild_weights(p) for p in parts), rebuild_weights(lp))
    assert sum(p.n_sections for p in parts) == lp.n_sections
