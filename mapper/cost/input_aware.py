"""Input-aware ADC resolution (docs/design.md section 4): the count a column can reach in a drive step is
bounded by its ones and by the step's driven rows, so it can be converted at fewer bits, still losslessly.

In step p of section s, let q be the number of the section's rows whose drive bit is 1 (a popcount of
the row drive the controller already holds). A column with m ones counts c <= min(m, q), so it is
converted at `min(res, bitlen(min(m, q)))` bits instead of its planned `res`, and the whole step is
skipped when q = 0. Outputs are unchanged: the code min(c, 2**b - 1) is c whenever b >= bitlen(c), and
a capped column keeps its cap.

With the `bipolar` drive (one pass of A-1 magnitude steps, rows driven +1/0/-1 by the input's sign) the
column sum lies in -min(m, q-)..min(m, q+), so a step needs bitlen(min(m, max(q+, q-))) + 1 bits (a sign
bit more), and weight-only planning bitlen(m) + 1.

Everything here is per input vector and computed from a LayerMap and the actual inputs; the ADC cycles
are the batch schedule's (n_adc columns a batch in column-table order, or with adc_mux the lockstep
batches of the placed columns, each batch as long as its widest conversion), a lower estimate of the controller's cycles that leaves out gather and pipeline overheads.
"""

from __future__ import annotations

import numpy as np

from ..sectioning import lossless_bits
from ..config import drive_steps, step_count
from ..config import energy_table
from ..sectioning import LayerMap
from ..sectioning import placements

__all__ = ["ANALYSIS_ENCODINGS", "section_membership", "step_popcounts", "step_bits", "step_bounds", "bounded_cost",
           "input_aware_cost", "weight_only_cost", "macro_energy", "load_layer_inputs", "input_aware_report"]

#: The encodings the analysis compares (mapper.config.drive.ENCODINGS, and the bipolar drive).
ANALYSIS_ENCODINGS = ("twos", "signmag", "bipolar")


def section_membership(lm: LayerMap) -> np.ndarray:
    """(K, S) float32: 1 where input row k is one of section s's rows."""
    sec = lm.sec
    k = lm.layer.shape[0]
    m = np.zeros((k, sec.n_sections), np.float32)
    for s in range(sec.n_sections):
        m[sec.section_rows(s), s] = 1.0
    return m


def step_popcounts(lm: LayerMap, drive: np.ndarray, membership: np.ndarray | None = None) -> np.ndarray:
    """(V, P, S) int64: driven rows of each section in each step, for the drives (V, P, K)."""
    m = section_membership(lm) if membership is None else membership
    v, p, k = drive.shape
    out = drive.reshape(v * p, k).astype(np.float32) @ m          # exact: counts <= R < 2**24
    return np.rint(out).astype(np.int64).reshape(v, p, -1)


def _placed(lm: LayerMap):
    """(res, m, group) of each section's slot columns (S, SC) at their slot columns (mapper.sectioning.placement), and
    each column's ADC group (slot // adc_mux; 0 for all with a full switch matrix)."""
    s_count = lm.sec.n_sections
    sc = lm.cfg.hw.slot_cols                      # (not -1: a layer with no sections has S = 0)
    res = lm.res.reshape(s_count, sc)
    ones = lm.sec.counts.reshape(s_count, sc).astype(np.int64)
    slot = np.broadcast_to(np.arange(res.shape[1]), res.shape)
    mux = lm.cfg.hw.adc_mux
    if not mux:
        return res, ones, np.zeros_like(slot), slot
    logical = np.argsort(placements(res, lm.cfg), axis=1)       # the logical column at each slot column
    return (np.take_along_axis(res, logical, axis=1), np.take_along_axis(ones, logical, axis=1), slot // mux,
            slot)


def _columns(lm: LayerMap, with_batch: bool = False):
    """(res, m) of each section's slot columns (S, SC), in column-table order (ADC group with adc_mux, then
    widest res first, then slot); with `with_batch` also the batch of each (S, SC): position // n_adc with a
    full switch matrix, the rank within its ADC group with adc_mux."""
    res, ones, group, slot = _placed(lm)
    order = np.lexsort((slot, -res, group), axis=1)
    out = np.take_along_axis(res, order, axis=1), np.take_along_axis(ones, order, axis=1)
    if not with_batch:
        return out
    pos = np.broadcast_to(np.arange(res.shape[1]), res.shape)
    if not lm.cfg.hw.adc_mux:
        return (*out, pos // lm.cfg.hw.n_adc)
    g = np.take_along_axis(group, order, axis=1)
    first = np.array([np.searchsorted(row, row) for row in g], np.int64).reshape(g.shape)
    return (*out, pos - first)


def _batch_cycles(lm: LayerMap, bits: np.ndarray) -> np.ndarray:
    """(S, ...) cycles of one step: the sum over batches of each batch's widest conversion, for the bits of
    each section's columns in column-table order (S, SC, ...)."""
    batch = _columns(lm, with_batch=True)[2]
    return sum(np.where((batch == k).reshape(batch.shape + (1,) * (bits.ndim - 2)), bits, 0).max(axis=1)
               for k in range(int(batch.max(initial=0)) + 1))


def step_bits(lm: LayerMap, bipolar: bool = False) -> np.ndarray:
    """(S, SC, R + 1): the bits of each section's columns (column-table order) for a step bound q = 0..R."""
    res, ones = _columns(lm)                                            # (S, SC)
    q = np.arange(lm.cfg.hw.rows + 1)
    r = np.minimum(res[:, :, None], lossless_bits(np.minimum(ones[:, :, None], q[None, None, :])))
    return np.where(r > 0, r + int(bipolar), 0)


def _tables(lm: LayerMap, e: np.ndarray, extra_bit: bool, bits: np.ndarray | None = None):
    """Per section and bound q = 0..R: energy, conversions, SAR bits and batch cycles of one step."""
    bits = step_bits(lm, extra_bit) if bits is None else bits
    rows = lm.cfg.hw.rows
    energy = e[bits].sum(axis=1)
    conv = np.count_nonzero(bits, axis=1)
    sar = bits.sum(axis=1)
    n_adc = lm.cfg.hw.n_adc
    if lm.cfg.hw.adc_mux:
        return energy, conv, sar, _batch_cycles(lm, bits)
    sc = bits.shape[1]
    pad = -sc % n_adc
    batched = np.concatenate([bits, np.zeros((bits.shape[0], pad, rows + 1), bits.dtype)], axis=1)
    cycles = batched.reshape(bits.shape[0], batched.shape[1] // n_adc, n_adc, rows + 1).max(axis=2).sum(axis=1)
    return energy, conv, sar, cycles


def _full(lm: LayerMap, e: np.ndarray, extra_bit: bool):
    """Per section, one step with every planned column converted at its planned resolution (weight-only)."""
    res, _ = _columns(lm)
    bits = np.where(res > 0, res + int(extra_bit), 0)
    n_adc = lm.cfg.hw.n_adc
    if lm.cfg.hw.adc_mux:
        cycles = _batch_cycles(lm, bits)
    else:
        batched = np.concatenate([bits, np.zeros((bits.shape[0], -bits.shape[1] % n_adc), bits.dtype)], axis=1)
        cycles = batched.reshape(bits.shape[0], batched.shape[1] // n_adc, n_adc).max(axis=2).sum(axis=1)
    return e[bits].sum(axis=1), np.count_nonzero(bits, axis=1), bits.sum(axis=1), cycles


def _steps(lm: LayerMap, encoding: str) -> int:
    cfg = lm.cfg
    if encoding == "bipolar":
        return cfg.hw.input_bits - 1
    return step_count(cfg.hw.input_bits, cfg.hw.input_signed, encoding)


def weight_only_cost(lm: LayerMap, encoding: str = "twos", e: np.ndarray | None = None) -> dict:
    """Per input vector, every planned column converted in every step of the encoding (energy table `e`,
    default the layer's own energy model)."""
    e = energy_table(lm.cfg, lm.cfg.hw.full_resolution + 1) if e is None else e
    energy, conv, sar, cycles = _full(lm, e, encoding == "bipolar")
    p = _steps(lm, encoding)
    rows, ones = _section_rows_and_ones(lm)
    return {"encoding": encoding, "steps": p, "energy_pj": float(p * energy.sum()),
            "conversions": float(p * conv.sum()), "sar_cycles": float(p * sar.sum()),
            "adc_cycles": float(p * cycles.sum()), "row_steps": float(p * rows.sum()),
            "cell_steps": float(p * ones.sum())}


def _section_rows_and_ones(lm: LayerMap) -> tuple[np.ndarray, np.ndarray]:
    """Per section: the rows it drives and the cells holding a 1 (0 for a section with no converted column,
    which is never driven)."""
    s_count = lm.sec.n_sections
    sc = lm.cfg.hw.slot_cols                      # (not -1: a layer with no sections has S = 0)
    active = (lm.res.reshape(s_count, sc) > 0).any(axis=1)
    return lm.sec.sec_len * active, lm.sec.counts.reshape(s_count, sc).sum(axis=1) * active


def macro_energy(fixed_pj: float, cost: dict, m, wordline_columns: int | None = None) -> float:
    """Whole-macro energy per vector (mapper.cost.macro's components) of a weight-only or input-aware cost:
    the ADCs, one sample-and-hold and one shift-add per conversion, one DAC drive per driven row per step
    (over a wordline of `wordline_columns` columns, default the macro's full span) and one cell read per
    1-cell on a driven row per step, plus `fixed_pj` (buffers, input register and tables, which the drive
    does not change)."""
    span = 1.0 if wordline_columns is None else wordline_columns / m["dac_columns"]
    return (cost["energy_pj"] + cost["conversions"] * (m["sample_hold_pj"] + m["shift_add_pj"])
            + cost["row_steps"] * m["dac_pj_per_row_plane"] * span + cost["cell_steps"] * m["cell_read_pj"]
            + fixed_pj)


def step_bounds(lm: LayerMap, x, encoding: str = "twos", *, membership: np.ndarray | None = None) -> np.ndarray:
    """(V, P, S): the bound q of each section in each drive step of each input vector x (V, K)."""
    cfg = lm.cfg
    x = np.asarray(x, np.int64).reshape(-1, lm.layer.shape[0])
    if encoding != "bipolar":
        return step_popcounts(lm, drive_steps(x, cfg.hw.input_bits, cfg.hw.input_signed, encoding), membership)
    m = section_membership(lm) if membership is None else membership
    pos = drive_steps(np.maximum(x, 0), cfg.hw.input_bits, True, "signmag")[:, :cfg.hw.input_bits - 1]
    neg = drive_steps(np.maximum(-x, 0), cfg.hw.input_bits, True, "signmag")[:, :cfg.hw.input_bits - 1]
    return np.maximum(step_popcounts(lm, pos, m), step_popcounts(lm, neg, m))


def bounded_cost(lm: LayerMap, q: np.ndarray, e: np.ndarray, *, bipolar: bool = False,
                 bits: np.ndarray | None = None) -> dict:
    """Per input vector, for the step bounds q (V, P, S) and the energy table e (E[b], b = 0..R's bits + 1).

    Returns energy_pj, conversions, sar_cycles, adc_cycles; `skip_only_energy_pj` (steps with no driven
    row skipped, planned resolutions kept: the part of the saving that skipping alone buys);
    `section_steps` and `skipped_steps` (per vector); `popcount_histogram` (per step index, how many
    section-steps drove 0, 1, ... R rows, over all vectors). `bits`: `step_bits(lm, bipolar)`, when the
    caller prices one layer under several energy tables.
    """
    v = q.shape[0]
    energy, conv, sar, cycles = _tables(lm, e, bipolar, bits)
    rows, ones = _section_rows_and_ones(lm)
    driven = q > 0
    s_idx = np.arange(lm.sec.n_sections)
    pick = lambda table: float(table[s_idx, q].sum()) / v  # noqa: E731
    hist = np.zeros((q.shape[1], lm.cfg.hw.rows + 1), np.int64)
    for p in range(q.shape[1]):
        hist[p] = np.bincount(q[:, p, :].reshape(-1), minlength=lm.cfg.hw.rows + 1)
    return {"steps": q.shape[1], "vectors": v,
            "energy_pj": pick(energy), "conversions": pick(conv), "sar_cycles": pick(sar),
            "adc_cycles": pick(cycles),
            "skip_only_energy_pj": float((_full(lm, e, bipolar)[0][None, None, :] * (q > 0)).sum()) / v,
            "section_steps": q.shape[1] * lm.sec.n_sections, "skipped_steps": float(np.count_nonzero(q == 0)) / v,
            "row_steps": float((driven * rows).sum()) / v, "cell_steps": float((driven * ones).sum()) / v,
            "popcount_histogram": hist}


def input_aware_cost(lm: LayerMap, x, encoding: str = "twos", *, membership: np.ndarray | None = None) -> dict:
    """Per input vector (the mean over the V vectors x (V, K)), with input-aware resolutions under the
    layer's own energy model (see `bounded_cost` for the keys)."""
    cfg = lm.cfg
    q = step_bounds(lm, x, encoding, membership=membership)
    out = bounded_cost(lm, q, energy_table(cfg, cfg.hw.full_resolution + 1), bipolar=encoding == "bipolar")
    return {"encoding": encoding, **out}


def load_layer_inputs(path: str, layers) -> dict:
    """Integer input vectors per layer name: a .npy (V, K) array for a one-layer source, or a .npz with
    one such array per layer, named as the layer. Checked against each layer's K and input range."""
    import os

    from ..common import SwsError
    from ..sources import read_npy, read_npz
    if not os.path.lexists(path) or os.path.isdir(path):
        raise SwsError(f"{path}: no such inputs file (a .npy array for one layer, or a .npz of one per layer)")
    # Read through mapper.sources (and so mapper.common.reading): a regular file, its arrays bounded by their
    # headers before they are read, dates and durations refused; .npy and .npz told apart by the extension,
    # and the first bytes must agree.
    if not path.lower().endswith(".npz"):
        if len(layers) != 1:
            raise SwsError(f"{path}: a .npy file gives the inputs of one layer, but the source has {len(layers)}: "
                           f"give a .npz with one array per layer name")
        arrays = {layers[0].layer.name: read_npy(path, bytes_per_value=128, what="to simulate")}
    else:
        arrays = read_npz(path, bytes_per_value=128, what="to simulate")
        unknown = sorted(set(arrays) - {l.layer.name for l in layers})
        if unknown:
            raise SwsError(f"{path}: no layer is named {unknown[0]!r} (the layers: "
                           f"{', '.join(l.layer.name for l in layers[:6])}{' ...' if len(layers) > 6 else ''})")
    out = {}
    by_name = {l.layer.name: l for l in layers}
    for name, x in arrays.items():
        layer, where = by_name[name], f"{path}[{name}]"
        cfg = layer.cfg
        if x.dtype.kind not in "iu":     # by kind: numpy counts timedelta64 as an integer type
            raise SwsError(f"{where}: inputs must be integers, not {x.dtype}")
        x = x.reshape(1, -1) if x.ndim == 1 else x
        k = layer.layer.shape[0]
        if x.ndim != 2 or x.shape[1] != k or x.shape[0] == 0:
            raise SwsError(f"{where}: inputs must have shape (V, {k}) with V >= 1, not {x.shape}")
        lo, hi = cfg.hw.input_min, cfg.hw.input_max
        bad = (x < lo) | (x > hi)
        if bad.any():
            v, kk = np.argwhere(bad)[0]
            raise SwsError(f"{where}: input [{v}, {kk}] = {int(x[v, kk])} is outside {lo}..{hi}")
        out[name] = x.astype(np.int64)
    return out


def input_aware_report(lm: LayerMap, x, dense_energy_pj: float) -> dict:
    """The report block of a layer given its actual inputs: per encoding (sign-magnitude and bipolar only when
    every input fits their symmetric range), weight-only and input-aware cost per vector and the reductions."""
    x = np.asarray(x, np.int64)
    top = 2 ** (lm.cfg.hw.input_bits - 1) - 1
    symmetric = lm.cfg.hw.input_signed and x.min(initial=0) >= -top
    encodings = ["twos"] + (["signmag", "bipolar"] if symmetric else [])
    base = weight_only_cost(lm, "twos")["energy_pj"]
    out = {"vectors": int(len(x))}
    member = section_membership(lm)
    for enc in encodings:
        wo = weight_only_cost(lm, enc)
        ia = input_aware_cost(lm, x, enc, membership=member)
        out[enc] = {
            "weight_only_energy_pj": wo["energy_pj"], "energy_pj": ia["energy_pj"],
            "conversions": ia["conversions"], "sar_cycles": ia["sar_cycles"], "adc_cycles": ia["adc_cycles"],
            "weight_only_adc_cycles": wo["adc_cycles"], "skipped_steps": ia["skipped_steps"],
            "section_steps": ia["section_steps"],
            "reduction_vs_dense": 1 - ia["energy_pj"] / dense_energy_pj if dense_energy_pj else 0.0,
            "reduction_vs_weight_only": 1 - ia["energy_pj"] / base if base else 0.0}
    return out
