"""The timing diagram's trace: what it records must be what the RTL does (checked against the golden
model's counts and the documented ADC timing), and the WaveDrom text must encode exactly the trace."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.common import SwsError
from sim.golden import predict
from sim.waveform import trace_interface, wavedrom_json, write_diagram
from tests.sim.cases import Case, inputs, weights
from tests.support import need_module


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def case():
    cfg = ArrayConfig(rows=8, cols=32, n_adc=3)
    return Case("wave", cfg, weights(20, 4, 0.5, 3), inputs(cfg, 20, 3)[-1])


def test_the_trace_holds_every_conversion_of_the_vector(case):
    """Over the whole vector, the starts the trace shows, by resolution, are the golden model's
    conversions, and each ADC is done exactly `res` cycles after its start (docs/design.md)."""
    pred = predict(case.lp, case.x)
    n_adc = case.cfg.hw.n_adc
    tr = trace_interface(case.lp, case.x, first=0, cycles=pred.cycles_per_vector + 5, adcs=n_adc)
    seen = np.zeros(case.cfg.hw.full_resolution + 1, np.int64)
    for a in range(n_adc):
        start, res, done = (np.array(tr.rows[f"adc[{a}].{s}"]) for s in ("start", "res", "done"))
        for t in np.flatnonzero(start):
            seen[res[t]] += 1
            assert done[t + res[t]] == 1 and not done[t + 1:t + res[t]].any()
        assert done.sum() == start.sum()
    assert seen.tolist() == pred.conversions
    # The vector's outputs leave on o: as many valid-and-ready cycles as outputs.
    assert sum(v & r for v, r in zip(tr.rows["o.valid"], tr.rows["o.ready"])) == case.lp.shape[1]


def _decode(row: dict, n: int) -> list:
    """WaveDrom's wave language, read back: a digit is a level, '=' a new value from `data`, '.' repeats."""
    out, data = [], iter(row.get("data", []))
    for ch in row["wave"]:
        if ch == ".":
            out.append(out[-1])
        elif ch == "=":
            out.append(next(data))
        else:
            out.append(ch)
    assert len(out) == n
    return out


def test_wavedrom_text_encodes_the_trace(case):
    tr = trace_interface(case.lp, case.x, cycles=24)
    assert tr.first > 0 and any(tr.rows["adc[0].start"][:4])   # the default window opens at the first start
    desc = wavedrom_json(tr, "t")
    assert desc["signal"][0] == {"name": "clk", "wave": "p" + "." * 23}
    flat = {}
    for entry in desc["signal"][1:]:
        if isinstance(entry, list):
            flat.update({f"{entry[0]}.{r['name']}": r for r in entry[1:]})
        else:
            flat[entry["name"]] = entry
    assert set(flat) == set(tr.rows)
    for name, values in tr.rows.items():
        width = tr.bits[name]
        want = [str(v) if width == 1 or width <= 8 else f"{v:0{-(-width // 4)}x}" for v in values]
        assert _decode(flat[name], 24) == want, name


def test_diagram_files(case, tmp_path):
    tr = trace_interface(case.lp, case.x, cycles=8)
    paths = write_diagram(tr, str(tmp_path / "t.json"))
    assert json.loads((tmp_path / "t.json").read_text())["signal"][0]["name"] == "clk" and len(paths) == 1
    with pytest.raises(SwsError, match=r"\.svg or \.json"):
        write_diagram(tr, str(tmp_path / "t.png"))
    assert not (tmp_path / "t.png").exists()
    with pytest.raises(SwsError, match="one input vector"):
        trace_interface(case.lp, case.x[:3])


def test_diagram_svg(case, tmp_path):
    need_module("wavedrom", "plots")
    tr = trace_interface(case.lp, case.x, cycles=8)
    write_diagram(tr, str(tmp_path / "t.svg"), "title")
    svg = (tmp_path / "t.svg").read_text()
    assert svg.startswith("<svg") and "WaveDrom" in svg and (tmp_path / "t.json").exists()


def test_the_traced_front_phases_follow_the_macro_timing_and_break_no_rule(case):
    """With DIAGRAM_TIMING (precharge 1, wordline 1, settle 1, sample 1: F = 4), over the first vector: one
    activation per plane (docs/design.md section 6): each pch pulse at p opens one, wl_en at p + 1, all
    three low at p + 2 (settle), sh at p + 3 and the plane's first start at p + 4; the plane's other batches
    start from the held columns without a front; every done at s + res; as many pch pulses as the golden
    model's planes; the emulator flags nothing."""
    from hwgen.params import TileParams
    from sim.waveform import DIAGRAM_TIMING
    params = TileParams.from_plan(case.lp, timing=DIAGRAM_TIMING)
    pred = predict(case.lp, case.x, params)
    n_adc = case.cfg.hw.n_adc
    tr = trace_interface(case.lp, case.x, first=0, cycles=pred.cycles_per_vector + 5, adcs=n_adc,
                         timing=DIAGRAM_TIMING)
    pch, wl, sh = (np.array(tr.rows[s]) for s in ("pch", "wl_en", "sh"))
    any_start = np.zeros(len(pch), bool)
    for a in range(n_adc):
        start, res, done = (np.array(tr.rows[f"adc[{a}].{s}"]) for s in ("start", "res", "done"))
        any_start |= start.astype(bool)
        for s in np.flatnonzero(start):
            assert done[s + res[s]] == 1
    rising = np.flatnonzero(np.diff(np.concatenate([[0], pch])) == 1)
    assert pch.sum() == len(rising)                              # one-cycle pulses
    for p in rising:
        assert (wl[p + 1], sh[p + 3], any_start[p + 4]) == (1, 1, True)
        assert pch[p + 2] == wl[p + 2] == sh[p + 2] == 0
    assert len(rising) == predict(case.lp, np.reshape(case.x, (-1, case.lp.shape[0]))[:1], params).planes
    assert not any(tr.rows["violation"])
    # The vector's outputs all leave within the golden model's cycles for this timing.
    assert sum(v & r for v, r in zip(tr.rows["o.valid"], tr.rows["o.ready"])) == case.lp.shape[1]


def test_the_diagram_in_docs_is_what_the_generator_draws(tmp_path):
    """docs/macro_timing.json is the output of `python3 -m sim.waveform docs/macro_timing.svg` (rerun it
    after changing the RTL)."""
    from sim.waveform import macro_timing_diagram
    import os
    macro_timing_diagram(str(tmp_path / "m.json"))
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "macro_timing.json")) as f:
        assert json.load(f) == json.loads((tmp_path / "m.json").read_text())


def test_the_guard_diagram_in_docs_is_the_rtls_guarded_schedule(tmp_path):
    """docs/macro_guard.json is `python3 -m sim.waveform docs/macro_guard.svg guard`: drawn from the RTL's
    simulation with one guard cycle (guard_diagram checks its first activation against phase_windows), and
    on it pch falls, then one all-low cycle, then wl_en rises; wl_en falls, one cycle, then sh rises."""
    from sim.waveform import guard_diagram
    import os
    guard_diagram(str(tmp_path / "g.json"))
    drawn = json.loads((tmp_path / "g.json").read_text())
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "docs", "macro_guard.json")) as f:
        assert json.load(f) == drawn
    waves = {s["name"]: s["wave"] for s in drawn["signal"] if isinstance(s, dict) and "wave" in s}
    pch, wl, sh = (waves[n].index(tr) for n, tr in (("pch", "10"), ("wl_en", "10"), ("sh", "10")))
    assert (wl - pch, sh - wl) == (2, 2)          # 1-cycle pulses, 1 guard cycle between: rise 2 cycles later
    assert "drawn from the RTL" in drawn["head"]["text"]
