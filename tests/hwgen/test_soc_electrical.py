"""The electrical view of the phase timing (hwgen/soc/electrical.py): windows in cycles from the timing,
the same-edge hazards of today's schedule, the guard cycles that remove them, widths in ns."""

import pytest

from hwgen.params import MacroTiming
from hwgen.soc.electrical import cycles_for, implemented, phase_windows, same_edge, widths_ns
from mapper.common import SwsError


def test_windows_follow_the_macro_contract_and_start_lands_at_the_front():
    t = MacroTiming(precharge=2, wordline=3, settle=1, sample=2)
    w = phase_windows(t)
    # By hand from docs/design.md: pch u..u+P-1, wl_en u+P..u+P+W-1, settle, sh the H cycles before start.
    assert (w.pch, w.wl_en, w.settle, w.sh, w.start) == ((0, 1), (2, 4), (5, 5), (6, 7), 8)
    assert w.start == t.front


def test_todays_schedule_switches_precharge_and_wordline_on_one_edge():
    hazards = same_edge(phase_windows(MacroTiming(precharge=1, wordline=1, settle=1, sample=1)))
    assert hazards == ["cycle 1: wl_en rises with pch falls"]
    # No precharge: the drive changes on the edge the wordline rises; no settle: sh rises as wl_en falls.
    assert same_edge(phase_windows(MacroTiming(wordline=2, sample=1))) == [
        "cycle 0: wl_en rises with drive changes", "cycle 2: wl_en falls with sh rises"]


@pytest.mark.parametrize("p, w, s, h", [(1, 1, 0, 1), (2, 3, 1, 0), (1, 1, 1, 1), (3, 2, 0, 2)])
def test_one_guard_cycle_leaves_no_wordline_edge_shared(p, w, s, h):
    t = MacroTiming(precharge=p, wordline=w, settle=s, sample=h)
    g = phase_windows(t, guard=1)
    assert same_edge(g) == []
    assert g.wl_en[0] - g.pch[1] == 2                        # one all-low cycle between them
    assert g.start == p + 1 + w + max(s, 1) + h              # F_G of docs/design.md
    assert not implemented(1) and implemented(0)


def test_widths_in_ns_and_the_cycles_a_minimum_needs():
    t = MacroTiming(precharge=2, wordline=3, settle=1, sample=1)
    ns = widths_ns(t, 150.0)
    assert ns["period"] == pytest.approx(6.6667, abs=1e-4)
    assert ns["precharge"] == pytest.approx(13.333, abs=1e-3) and ns["wordline"] == pytest.approx(20.0)
    assert cycles_for(10, 150) == 2 and cycles_for(20, 150) == 3 and cycles_for(6.6, 150) == 1
    assert cycles_for(0, 150) == 0
    with pytest.raises(SwsError, match="guard must be an integer from 0 to 7"):
        phase_windows(t, guard=8)
