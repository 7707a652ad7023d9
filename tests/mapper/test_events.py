"""The event model (mapper.schedule.events) against a brute-force walk of the controller over a plan's sections,
drive steps and columns, written here from docs/design.md sections 4 and 6 and the plan's cells alone (the
drive bits computed here too): the counts the report prices and the golden model predicts."""

import numpy as np
import pytest

from mapper.config import ArrayConfig
from mapper.plan import build_layer_plan
from mapper.prepare import prepare_layer
from mapper.schedule import EVENTS, count_events
from mapper.sectioning import map_layer
from mapper.sources import Layer
from sim.golden import HARDWARE_COUNTERS, predict


def _drive(x: np.ndarray, hw) -> list[tuple[np.ndarray, int]]:
    """Each drive step's row bits (K,) for one input vector, in step-index order (docs/design.md section 1)."""
    a = hw.input_bits
    if hw.input_encoding == "bipolar":          # one pass of magnitude bits, each row driven by its input's sign
        return [(((np.abs(x) >> t) & 1) * np.sign(x), t) for t in range(a - 1)]
    if hw.input_encoding == "signmag":
        pos, neg = np.maximum(x, 0), np.maximum(-x, 0)
        return [((pos >> t) & 1, t) for t in range(a - 1)] + [((neg >> t) & 1, t) for t in range(a - 1)]
    u = x % (1 << a)
    return [((u >> t) & 1, t) for t in range(a)]


def _bitlen(n: int) -> int:
    return int(n).bit_length()


def brute_events(lp, xs: np.ndarray | None) -> dict:
    """Walk the plan's sections one vector at a time: the counts of every event but the cycles."""
    hw = lp.cfg.hw
    k, n = lp.shape
    xs = np.zeros((1, k), np.int64) if xs is None else xs
    out = {name: 0 for name in EVENTS if name not in ("cycles", "conversions")}
    conv = [0] * (hw.full_resolution + 1 + (hw.input_encoding == "bipolar"))
    sec, cols = lp.sections, lp.columns
    for x in xs:
        out["inputs"] += k
        out["outputs"] += n
        steps = _drive(x, hw)
        for s in range(lp.n_sections):
            out["sections"] += 1
            rows, nact, base, cb = (int(sec[f][s]) for f in ("rows", "n_active", "row_base", "col_base"))
            if nact == 0:
                continue                           # never gathered, never driven
            out["gathered_rows"] += rows
            out["column_words"] += nact
            inputs = lp.row_index[base:base + rows]
            for bits, _ in steps:
                # Rows driven; with the bipolar drive the larger of those driven +1 and -1 bounds the count.
                q = max(int((bits[inputs] > 0).sum()), int((bits[inputs] < 0).sum()))
                if hw.input_aware and q == 0:
                    continue                       # a skipped step: no drive, no conversion
                out["planes"] += 1
                out["wordline_pulses"] += 1
                out["precharges"] += 1
                out["row_drives"] += rows
                out["cell_reads"] += int(lp.cells[s, :rows, :].sum())
                for c in range(cb, cb + nact):
                    res = int(cols["res"][c])
                    b = (min(res, _bitlen(q)) if hw.input_aware else res) + (hw.input_encoding == "bipolar")
                    conv[b] += 1
                    out["sample_holds"] += 1
                    out["shift_adds"] += 1
    out["conversions"] = conv
    return out


CONFIGS = [
    dict(rows=8, n_adc=3),
    dict(rows=16, n_adc=2, group=2, cols=56),
    dict(rows=8, n_adc=16, ordering="natural"),
    dict(rows=16, n_adc=3, input_aware=True),
    dict(rows=8, n_adc=3, input_encoding="signmag", input_aware=True),
    dict(rows=8, n_adc=3, input_encoding="signmag"),
    dict(rows=16, adc_mux=4, n_adc=4, placement="balanced", input_aware=True),
    dict(rows=8, n_adc=2, banks=3, beat=2, double_buffer=True),
    dict(rows=8, n_adc=3, policy="dense", ordering="natural"),
    dict(rows=16, n_adc=3, cap=2),
    dict(rows=8, n_adc=3, input_encoding="bipolar"),
    dict(rows=16, n_adc=2, input_encoding="bipolar", input_aware=True),
]


@pytest.mark.parametrize("fields", CONFIGS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items()))
@pytest.mark.parametrize("seed", [0, 1])
def test_the_event_counts_equal_a_brute_force_walk_of_the_plan(fields, seed):
    rng = np.random.default_rng(seed)
    cfg = ArrayConfig(**fields)
    k, n = int(rng.integers(5, 40)), int(rng.integers(1, 5))
    layer = prepare_layer(Layer("w", rng.laplace(0, 1, (k, n))), cfg, float(rng.choice([0.0, 0.5, 0.8])))
    lp = build_layer_plan(map_layer(layer, cfg))
    # Small inputs: many zero bits, so that input-aware hardware skips steps and converts at fewer bits.
    xs = rng.integers(cfg.hw.input_min, cfg.hw.input_max + 1, (4, k)) // int(rng.choice([1, 16]))
    xs = np.clip(xs, cfg.hw.input_min, cfg.hw.input_max)
    got = count_events(lp, x=xs).as_dict()
    want = brute_events(lp, xs)
    if cfg.mapping.cap is None:          # lossless: the golden model's outputs are x @ W, whatever the drive
        assert np.array_equal(predict(lp, xs).outputs, xs @ layer.weights)
    assert {name: got[name] for name in want} == want
    # The golden model's prediction of each RTL counter that counts one of these events by its definition
    # (sim.golden.HARDWARE_COUNTERS) is the brute-force count.
    rtl = predict(lp, xs).counters()
    same = [name for name in HARDWARE_COUNTERS if name in want]
    assert {name: rtl[HARDWARE_COUNTERS[name]] for name in same} == {name: want[name] for name in same}
    # Without inputs: one vector's weight-only counts (on input-aware hardware the most a vector can cause).
    wo = count_events(lp).as_dict()
    assert {name: wo[name] for name in want} == brute_events(lp.on_hardware(input_aware=False), None)


def test_events_of_a_hand_worked_plan():
    # One output, K = 6, Bm = 3, R = 4, A = 2: sorted rows 0, 3, 2, 5 (5, 3, -1, 1) in one section;
    # active columns +b0 (5, 3, 1: 3 ones, 2 bits), +b1 (3: 1 one), +b2 (5: 1), -b0 (-1: 1): 6 ones.
    w = np.array([[5], [0], [-1], [3], [0], [1]])
    cfg = ArrayConfig(rows=4, cols=12, weight_bits=3, input_bits=2, law="walden", e8_pj=256.0)
    from mapper.sources import QuantLayer
    lp = build_layer_plan(map_layer(QuantLayer("w1", w), cfg))
    ev = count_events(lp).as_dict()
    assert ev["conversions"] == [0, 3 * 2, 1 * 2, 0]           # per step: three 1-bit columns, one 2-bit column
    assert (ev["planes"], ev["wordline_pulses"], ev["precharges"]) == (2, 2, 2)
    assert (ev["row_drives"], ev["cell_reads"]) == (4 * 2, 6 * 2)
    assert (ev["sample_holds"], ev["shift_adds"]) == (8, 8)
    assert (ev["inputs"], ev["outputs"], ev["gathered_rows"], ev["column_words"], ev["sections"]) == (6, 1, 4, 4, 1)
    # Input-aware hardware, x = (1, 0, 0, 0, 0, 0) in two's complement: step 0 drives row 0 only (q = 1), step
    # 1 (the sign) none: one step issued, every column at min(res, bitlen(1)) = 1 bit.
    aware = lp.on_hardware(input_aware=True)
    ev = count_events(aware, x=np.array([[1, 0, 0, 0, 0, 0]])).as_dict()
    assert ev["conversions"] == [0, 4, 0, 0] and ev["planes"] == 1
    assert (ev["row_drives"], ev["cell_reads"]) == (4, 6)
