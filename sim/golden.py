"""The numpy golden model of a tile: outputs, counters and cycle count, predicted from a plan's ROM images.

Outputs are computed from the LayerPlan arrays alone (section table, row-index table, column table and
cells), independently of the mapper's LayerMap, with the ADC saturation min(count, 2**res - 1).

The cycle model mirrors the controller's schedule (hwgen/controller.py); it depends on the plan only.
Per vector: K load cycles + RUN cycles + 1 + N output cycles. In RUN (cycle 0 = the cycle after the
last input), for the sections in table order, with L = lanes:
  prefetch  a_0 = 0; a section's table word is read at a (S0), registered at a + 1 (S1) and decoded
            at a + 2 (S2). Empty section (no active column): a' = a + 3.
            otherwise it starts gathering at q = max(a + 2, c_prev + 1) (c_prev: the cycle the previous
            non-empty section left the `next` buffer), gathers for n = ceil(max(rows, n_active) / L)
            cycles, a' = q + n + 1, and is ready in `next` from r = q + n + 5 (table words registered,
            columns decoded and row indices registered, inputs read, inputs registered, written).
  issue     it is copied to `current` at c = max(r, l_prev + 1) (l_prev: the cycle the previous section
            issued its last batch) and issues its first batch at e = max(c + 1, f_prev) (f_prev: the
            cycle the previous section's last batch is done). Its batches, A planes of
            ceil(n_active / n_adc) batches each (sign plane first), follow back to back: a batch of longest resolution b
            issued at cycle T is done at T + b, when the next one issues; the last one is done at f.
  end       RUN ends with cycle max(f_last + D + 4, a_end + 1) (a_end: the S0 that finds no more sections;
            D = hwgen.shift_add.pipeline_depth(n_adc) = 4 + ceil(log2(n_adc)), the accumulator pipeline
            from the last batch's done to its section's sums; 4 = flush read, registered read data,
            registered sum, write and end test).
The ADC bound of a vector: for each section and plane, the fewest cycles any schedule of that plane's
active-column resolutions on n_adc ADCs can take, max(ceil(sum res / n_adc), max res), summed over the
planes and sections. The batch schedule reaches it whenever a section has at most n_adc active columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwgen.params import TileParams
from hwgen.shift_add import pipeline_depth
from mapper.energy import energy_table
from mapper.errors import SwsError
from mapper.bits import input_planes
from mapper.plan import LayerPlan

__all__ = ["Prediction", "predict", "golden_outputs", "cycle_model", "check_inputs", "energy_of"]


@dataclass
class Prediction:
    """What the tile must produce for V input vectors (counters are totals over the V vectors)."""

    outputs: np.ndarray                 # (V, N) int64
    cycles_per_vector: int
    cycles: int
    conversions: list[int]              # index = resolution in bits (0 stays 0)
    planes: int
    sections: int
    energy_pj: float
    bound_per_vector: int

    def counters(self) -> dict:
        return {"cycles": self.cycles, "conversions": list(self.conversions), "planes": self.planes,
                "sections": self.sections}


def check_inputs(lp: LayerPlan, x, where: str = "inputs") -> np.ndarray:
    """X as an int64 (V, K) array, or SwsError naming the shape, the value and the rule."""
    cfg, (k, _) = lp.cfg, lp.shape
    x = np.asarray(x)
    if x.dtype == np.bool_ or not np.issubdtype(x.dtype, np.integer):
        raise SwsError(f"{where}: inputs must be integers, not {x.dtype}")
    if x.ndim == 1:
        x = x[None, :]
    if x.ndim != 2 or x.shape[1] != k:
        raise SwsError(f"{where}: inputs must have shape (V, {k}) or ({k},) for layer {lp.name}, not {x.shape}")
    if x.shape[0] == 0:
        raise SwsError(f"{where}: there must be at least one input vector, not shape {x.shape}")
    bad = (x < cfg.input_min) | (x > cfg.input_max)
    if bad.any():
        v, kk = np.argwhere(bad)[0]
        raise SwsError(f"{where}: input [{v}, {kk}] = {int(x[v, kk])} is outside {cfg.input_min}..{cfg.input_max} "
                       f"({cfg.input_bits}-bit {'signed' if cfg.input_signed else 'unsigned'} inputs)")
    return x.astype(np.int64)


def golden_outputs(lp: LayerPlan, x: np.ndarray) -> np.ndarray:
    """y (V, N): every active column's count per plane, saturated at its resolution, shift-added."""
    cfg, (_, n) = lp.cfg, lp.shape
    x = np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    planes = input_planes(x, cfg.input_bits)                                            # (V, A, K)
    plane_w = np.asarray(cfg.plane_weights(), np.int64)
    y = np.zeros((len(x), n), np.int64)
    sec, col = lp.sections, lp.columns
    for s in range(lp.n_sections):
        rows, nact = int(sec["rows"][s]), int(sec["n_active"][s])
        if nact == 0:
            continue
        idx = lp.row_index[sec["row_base"][s]:sec["row_base"][s] + rows]
        cs = slice(int(sec["col_base"][s]), int(sec["col_base"][s]) + nact)
        slot, res = col["slot_col"][cs], col["res"][cs]
        cells = lp.cells[s, :rows][:, slot].astype(np.int64)                 # (rows, nact)
        counts = planes[:, :, idx] @ cells                                   # (V, A, nact)
        codes = np.minimum(counts, (1 << res) - 1)
        weight = (1 - 2 * col["sign"][cs]) << col["bit"][cs]                 # (nact,)
        contrib = np.einsum("vac,a,c->vc", codes, plane_w, weight)
        np.add.at(y, (slice(None), col["out"][cs]), contrib)
    return y


def _batches(res: np.ndarray, n_adc: int) -> list[int]:
    return [int(res[i:i + n_adc].max()) for i in range(0, len(res), n_adc)]


def cycle_model(lp: LayerPlan, params: TileParams | None = None) -> dict:
    """Cycles of one vector (see the module docstring), and the ADC bound, for the plan's schedule."""
    params = params or TileParams.from_plan(lp)
    cfg, (k, n) = lp.cfg, lp.shape
    lanes, a_bits, n_adc = params.lanes, cfg.input_bits, cfg.n_adc
    sec, res_all = lp.sections, lp.columns["res"]
    a = 0
    c_prev = l_prev = f_prev = None
    f_last = None
    bound = batch_cycles = 0
    for s in range(lp.n_sections):
        rows, nact, cb = int(sec["rows"][s]), int(sec["n_active"][s]), int(sec["col_base"][s])
        if nact == 0:
            a += 3
            continue
        res = res_all[cb:cb + nact]
        q = a + 2 if c_prev is None else max(a + 2, c_prev + 1)
        steps = -(-max(rows, nact) // lanes)
        a = q + steps + 1
        r = q + steps + 5
        c = r if l_prev is None else max(r, l_prev + 1)
        e = c + 1 if f_prev is None else max(c + 1, f_prev)
        plane = _batches(res, n_adc)
        total = a_bits * sum(plane)
        l_prev = e + total - plane[-1]
        f_prev = f_last = e + total
        c_prev = c
        batch_cycles += total
        bound += a_bits * max(-(-int(res.sum()) // n_adc), int(res.max()))
    run_end = a + 1 if f_last is None else max(f_last + pipeline_depth(n_adc) + 4, a + 1)
    run = run_end + 1
    return {"load": k, "run": run, "out": 1 + n, "cycles": k + run + 1 + n, "adc_bound": bound,
            "batch_cycles": batch_cycles}


def energy_of(cfg, conversions) -> float:
    e = energy_table(cfg)
    return float(sum(c * e[b] for b, c in enumerate(conversions) if b > 0))


def predict(lp: LayerPlan, x, params: TileParams | None = None) -> Prediction:
    """Outputs, counters and cycles the tile must produce for the input vectors x (V, K) or (K,)."""
    x = check_inputs(lp, x)
    cfg, v = lp.cfg, len(x)
    sched = cycle_model(lp, params)
    res = lp.columns["res"]
    conv = np.bincount(res, minlength=cfg.full_resolution + 1)[:cfg.full_resolution + 1] * cfg.input_bits * v
    conv[0] = 0
    conversions = [int(c) for c in conv]
    planes = int(np.count_nonzero(lp.sections["n_active"])) * cfg.input_bits * v
    return Prediction(golden_outputs(lp, x), sched["cycles"], sched["cycles"] * v, conversions, planes,
                      lp.n_sections * v, energy_of(cfg, conversions), sched["adc_bound"])
