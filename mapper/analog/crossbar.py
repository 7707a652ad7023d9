"""A mapped layer computed as its analog crossbars compute it (docs/design.md section 4, analog non-idealities).

For each chip instance (a seed), every cell of every section gets a conductance (programming noise, drift to
the read time, accumulated 1/f noise: mapper.analog.devices), the ADC bank gets its static errors
(mapper.analog.adc), and then for each input vector and drive step each converted column's analog sum

    a = alpha * (sum over driven rows of g / g_on  -  IR drop)

is converted by its ADC at its planned resolution with the per-read noise of its driven cells and the ADC's
own noise; the codes are weighted by sign, bit and step weight and added per output, as the digital side
of the macro does. alpha is the global drift compensation (aihwkit GlobalDriftCompensation): the ratio of
the summed conductance of all cells read just after programming to that at the read time, applied to the
ADC reference (so it scales the analog sum before rounding). Everything is drawn from numpy generators
seeded by (seed, layer), so a seed reproduces its outputs exactly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..common import SwsError
from ..config import drive_steps
from ..sectioning import LayerMap, grouped, lossless_bits, weight_bits_of
from .adc import AdcBank
from .devices import CellState, DeviceModel

__all__ = ["AnalogRun", "Chip", "program_chip", "section_cells", "analog_matvec", "analog_error", "ir_weights",
           "fine_columns", "fine_energy_pj"]


@dataclass(frozen=True)
class AnalogRun:
    """What is simulated: a device model, the read time after programming and whether drift is compensated."""

    device: DeviceModel
    drift_time_s: float = 3600.0
    compensation: bool = True
    fine_bits: int = 0
    leak_correction: bool = False
    redundancy: int = 1
    fine_extra: int = 1

    def __post_init__(self):
        t = self.drift_time_s
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t) or t < 0:
            raise SwsError(f"--drift-time must be a finite number of seconds >= 0, not {t!r}")
        f = self.fine_bits
        if isinstance(f, bool) or not isinstance(f, int) or f < 0:
            raise SwsError(f"--fine-bits must be an integer >= 0, not {f!r}")
        m = self.fine_extra
        if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 3:
            raise SwsError(f"--fine-extra must be an integer in 1..3, not {m!r}")
        k = self.redundancy
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= 64:
            raise SwsError(f"--redundancy must be an integer in 1..64, not {k!r}")

    def describe(self) -> str:
        comp = "with" if self.compensation else "without"
        text = f"{self.device.name}, read {self.drift_time_s:g} s after programming, {comp} global drift compensation"
        if self.fine_bits:
            m = self.fine_extra
            more = "one more ADC bit (half-count LSB)" if m == 1 else f"{m} more ADC bits (1/{1 << m}-count LSB)"
            text += f", {more} on the columns of the top {self.fine_bits} weight bits"
        if self.leak_correction:
            text += ", 0-cell leak subtracted per driven row"
        if self.redundancy > 1:
            text += f", {self.redundancy} cells per bit on parallel rows (ADC LSB {self.redundancy} on-cells)"
        return text


def section_cells(lm: LayerMap) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, valid, bits): each section's input rows (S, R) in crossbar row order (row 0 nearest the ADCs),
    which of them hold a row of the section (S, R), and its cells (S, R, C) uint8, C = G * 2 * Bm columns in
    slot order (output j, sign, bit)."""
    cfg, sec = lm.cfg, lm.sec
    r = cfg.hw.rows
    pos = sec.sec_start[:, None] + np.arange(r)[None, :]
    valid = np.arange(r)[None, :] < sec.sec_len[:, None]
    k = sec.order.shape[1]
    rows = np.where(valid, sec.order[sec.sec_group[:, None], np.minimum(pos, k - 1)], 0)
    wg = grouped(lm.layer.weights, cfg.hw.group, np.int32)                       # (n_groups, K, G)
    wc = np.where(valid[:, :, None], wg[sec.sec_group[:, None], rows], 0)        # (S, R, G)
    bits = weight_bits_of(wc, cfg.hw.weight_bits).reshape(len(rows), r, -1)
    return rows, valid, np.ascontiguousarray(bits)


def _draw_state(state: CellState, n: int, run: AnalogRun, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(g just after programming, g at the read time) of n cells of one state, in uS (aihwkit PCMLikeNoiseModel's
    order: programming noise, drift, accumulated 1/f noise; no drift or 1/f noise at t = 0)."""
    dev = run.device
    f32 = np.float32
    normal = lambda: rng.standard_normal(n, dtype=f32)   # n: the cells drawn for, at the call
    g_prog = np.maximum(f32(state.g_us) + f32(state.prog_sigma_us) * normal(), f32(0)) if state.prog_sigma_us \
        else np.full(n, state.g_us, f32)
    t = run.drift_time_s
    if t <= 0:
        return g_prog, g_prog
    t_abs = t + dev.t0_s
    # A cell programmed to 0 uS stays at 0 (drift and 1/f noise scale with g): draw only for the others.
    live = np.flatnonzero(g_prog) if state.prog_sigma_us and not state.g_us else None
    g = g_prog.copy() if live is None else g_prog[live]
    n = len(g)
    if state.nu_mean or state.nu_std:
        nu = np.abs(f32(state.nu_mean) + f32(state.nu_std) * normal())
        g = g * np.exp(-nu * f32(math.log(t_abs / dev.t0_s)))
    law = dev.read_1f_law
    if state.read_1f or (law and law["q0"]):
        scale = math.sqrt(math.log((t_abs + dev.t_read_s) / (2 * dev.t_read_s)))
        if law:   # aihwkit: q_s from each cell's programmed conductance
            gp = g_prog if live is None else g_prog[live]
            x = np.maximum((np.abs(gp) / f32(law["g_max_us"])) ** f32(law["exponent"]), f32(law["floor"]))
            sig = np.minimum(f32(law["q0"]) / x, f32(law["cap"])) * f32(scale)
        else:
            sig = f32(state.read_1f * scale)
        g = np.maximum(g + np.abs(g) * sig * normal(), f32(0))
    if live is not None:
        out = np.zeros_like(g_prog)
        out[live] = g
        g = out
    return g_prog, g


@dataclass
class Chip:
    """One chip instance of a layer: its cells' conductances relative to g_on, its compensation and its ADCs."""

    rows: np.ndarray      # (S, R)
    valid: np.ndarray     # (S, R)
    bits: np.ndarray      # (S, R, C) uint8
    g: np.ndarray         # (S, R, C) float32: conductance / nominal g_on at the read time, 0 off the section
    alpha: float          # global drift compensation applied to the ADC reference (1: none)
    adcs: AdcBank
    adc_of: np.ndarray    # (S, C): the ADC converting each column (converted columns in slot order, dealt over n_adc)
    leak: float = 0.0     # mean conductance of the 0-cells at the read time / g_on (subtracted with leak_correction)


def program_chip(lm: LayerMap, run: AnalogRun, rng: np.random.Generator, cells=None) -> Chip:
    """Program every cell of the layer's sections and draw its ADC bank (one chip instance)."""
    rows, valid, bits = cells if cells is not None else section_cells(lm)
    dev = run.device
    on = bits.astype(bool) & valid[:, :, None]
    off = ~bits.astype(bool) & valid[:, :, None]
    g = np.zeros(bits.shape, np.float32)
    prog_sum = read_sum = leak = 0.0
    k = run.redundancy
    for mask, state in ((on, dev.on), (off, dev.off)):
        n = int(np.count_nonzero(mask))
        if n:
            # k physical cells per bit, on k rows driven together: the column sums them and the ADC's LSB is k
            # on-cells, so each bit reads as the mean of its k independently drawn cells.
            gp, gt = _draw_state(state, n * k, run, rng)
            g[mask] = (gt if k == 1 else gt.reshape(k, n).mean(axis=0, dtype=np.float32)) / dev.on.g_us
            prog_sum += float(gp.sum(dtype=np.float64))
            read_sum += float(gt.sum(dtype=np.float64))
            if state is dev.off:
                leak = float(gt.mean(dtype=np.float64)) / dev.on.g_us
    alpha = prog_sum / read_sum if run.compensation and run.drift_time_s > 0 and read_sum > 0 else 1.0
    cfg = lm.cfg
    adcs = AdcBank(dev.adc, cfg.hw.n_adc, cfg.hw.adc_bits + (run.fine_extra if run.fine_bits else 0), rng)
    conv = lm.res.reshape(len(rows), -1) > 0
    adc_of = np.where(conv, (np.cumsum(conv, axis=1) - 1) % cfg.hw.n_adc, 0)
    return Chip(rows, valid, bits, g, alpha, adcs, adc_of, leak)


def fine_columns(cfg, fine_bits: int) -> np.ndarray:
    """(C,) bool: the slot columns (output j, sign, bit) of the top `fine_bits` weight bits."""
    bm = cfg.hw.weight_bits
    bit = np.tile(np.arange(bm), 2 * cfg.hw.group)
    return bit >= bm - fine_bits


def fine_energy_pj(lm: LayerMap, fine_bits: int, extra: int = 1) -> float:
    """Extra ADC energy per input vector of converting the top `fine_bits` weight bits' columns `extra` bits finer:
    steps x sum over those converted columns of E(res + extra) - E(res), under the configuration's law."""
    from ..config import energy_table
    cfg = lm.cfg
    res = lm.res.reshape(lm.res.shape[0], -1)
    fine = fine_columns(cfg, fine_bits)[None, :] & (res > 0)
    sign = cfg.hw.sign_bits   # the bipolar drive converts at res + 1 bits, its fine columns at res + 1 + extra
    try:
        table = energy_table(cfg, cfg.hw.adc_bits + extra)
    except IndexError:
        raise SwsError(f"--fine-extra {extra}: {cfg.hw.adc_bits + extra}-bit conversions are beyond the "
                       f"{cfg.energy.law} energy law's table") from None
    return float(cfg.hw.steps * (table[res[fine] + sign + extra] - table[res[fine] + sign]).sum())


def ir_weights(rows: int) -> np.ndarray:
    """h(r) = (r + 1)(R - r/2) / R for crossbar rows r = 0 (nearest the ADC) .. R-1: the first-order IR drop of a
    column of uniform current density lowers its sum by eps * a * sum_r x_r g_r h(r), eps = r_wire g_on."""
    r = np.arange(rows, dtype=np.float64)
    return ((r + 1) * (rows - r / 2) / rows).astype(np.float32)


def analog_matvec(lm: LayerMap, x: np.ndarray, run: AnalogRun, seed: int = 0, *, chip: Chip | None = None,
                  cells=None) -> np.ndarray:
    """What the analog crossbars output for integer inputs x (V, K), as float64 in the units of x @ W.

    Parameters
    ----------
    lm : LayerMap
        The mapped layer (sections, resolutions).
    x : (V, K) integer array
        Inputs within the configuration's input range.
    run : AnalogRun
    seed : int
        Seeds the chip instance (if `chip` is not given) and the per-conversion noise.
    chip : Chip, optional
        A chip already programmed (program_chip), to read it again with new conversion noise.
    """
    cfg = lm.cfg
    hw = cfg.hw
    dev = run.device
    bipolar = hw.input_encoding == "bipolar"
    if bipolar and dev.r_wire_ohm:
        raise SwsError(f"{dev.name}: the IR drop (r_wire_ohm {dev.r_wire_ohm:g}) is modelled for 0/1 row drives only, "
                       "not for input_encoding 'bipolar' (rows driven -1/0/+1); use 'twos' or 'signmag'")
    x = np.asarray(x, dtype=np.int64)
    ss = np.random.SeedSequence([int(seed), 0x5157])
    rng_chip, rng_read = (np.random.default_rng(s) for s in ss.spawn(2))
    if chip is None:
        chip = program_chip(lm, run, rng_chip, cells)
    planes = drive_steps(x, hw.input_bits, hw.input_signed, hw.input_encoding)          # (V, P, K)
    v, p = planes.shape[:2]
    vp = v * p
    planes_t = np.ascontiguousarray(planes.reshape(vp, -1).T.astype(np.float32))         # (K, V * P), bipolar -1/0/+1
    s_total, r, c = chip.bits.shape
    g_out, bm = hw.group, hw.weight_bits
    n_out = lm.layer.shape[1]
    plane_w32 = np.asarray(cfg.hw.plane_weights(), dtype=np.float32)
    col_w = ((1 - 2 * np.arange(2))[:, None] * (1 << np.arange(bm))[None, :]).reshape(-1).astype(np.float64)
    res = lm.res.reshape(s_total, -1)
    read_on, read_off = dev.on.read_sigma_us / dev.on.g_us, dev.off.read_sigma_us / dev.on.g_us
    read = bool(read_on or read_off)
    k = run.redundancy
    if k > 1:   # the read noise of k cells summed, in an LSB of k on-cells
        read_on, read_off = read_on / math.sqrt(k), read_off / math.sqrt(k)
    eps = dev.r_wire_ohm * dev.on.g_us * 1e-6
    h = None
    if eps:
        # k copies of each row on adjacent physical rows k r .. k r + k - 1 of a k R-row bit line: in units of the
        # LSB (k on-cells) the drop is k eps a sum_r x_r g_r h_k(r), h_k(r) the mean of h over the row's copies.
        h = ir_weights(r * k).reshape(r, k).mean(axis=1, dtype=np.float32)
        eps *= k
    y = np.zeros((n_out, v), np.float64)
    fine = fine_columns(cfg, run.fine_bits)[None, :, None] if run.fine_bits else None
    ones_col = chip.bits.sum(axis=1, dtype=np.int64) if hw.input_aware else None                     # (S, C)
    chunk = max(1, min((1 << 23) // (r * vp), (1 << 22) // (c * vp)))
    for lo in range(0, s_total, chunk):
        hi = min(lo + chunk, s_total)
        xs = planes_t[chip.rows[lo:hi]]                # (n, R, VP); rows off the section hold no cell (g = 0)
        gt = np.ascontiguousarray(chip.g[lo:hi].transpose(0, 2, 1))                        # (n, C, R)
        # Bipolar: a row driven -1 sinks its cells' current, so the column's sum is signed (+1 rows minus -1 rows).
        a = np.matmul(gt, xs)                                                              # (n, C, VP)
        if eps:
            a -= np.float32(eps) * a * np.matmul(gt * h[None, None, :], xs)
        xa = np.abs(xs) if bipolar else xs             # rows driven at all, whatever the polarity
        valid = chip.valid[lo:hi, None, :].astype(np.float32)
        driven = (np.matmul(valid, xa) if read or run.leak_correction or hw.input_aware else None)   # (n, 1, VP)
        if run.leak_correction and chip.leak:
            # The controller knows each step's driven rows (the input-aware popcount): a reference of that many
            # mean 0-cells is subtracted (a 1-cell is counted as a 0-cell too: c * leak too much, c * 0.003 LSB).
            # Bipolar: the leak of the +1 rows less that of the -1 rows, q+ - q-.
            a -= np.float32(chip.leak) * (np.matmul(valid, xs) if bipolar else driven)
        if chip.alpha != 1.0:
            a *= np.float32(chip.alpha)
        extra = None
        if read:
            ones = np.matmul(np.ascontiguousarray(chip.bits[lo:hi].transpose(0, 2, 1), dtype=np.float32), xa)
            extra = np.sqrt(np.float32(read_on ** 2) * ones + np.float32(read_off ** 2) * (driven - ones))
        col_res = res[lo:hi, :, None]
        if hw.input_aware:
            # Input-aware hardware (mapper/cost/input_aware.py) converts a column with m ones in a step of q driven
            # rows at min(res, bitlen(min(m, q))) bits and skips the step when q = 0: its SAR then cannot return a
            # code above that range, and a skipped conversion is an exact 0.
            # Bipolar: a signed sum in -min(m, q-)..min(m, q+), magnitude bits bitlen(min(m, max(q+, q-))) (+ 1 sign bit).
            q = driven if not bipolar else np.maximum(np.matmul(valid, np.maximum(xs, 0)),
                                                      np.matmul(valid, np.maximum(-xs, 0)))
            col_res = np.minimum(col_res, lossless_bits(np.minimum(ones_col[lo:hi, :, None],
                                                                   np.rint(q).astype(np.int64))))
        if fine is not None:
            # An ADC of 1/2**m the LSB, its thresholds shifted by 2**(m-1) - 1/2 of its LSB: code = ceil(2**m a +
            # 2**(m-1) - 1), count = code // 2**m (boundaries at c + 1/2 as before; m = 1: ceil(2a)); its noise
            # and offset, in its own LSB, are 1/2**m of a count.
            mult = 1 << run.fine_extra
            a = np.where(fine, mult * a + np.float32(mult / 2 - 0.5), a)
            if extra is not None:
                extra = np.where(fine, mult * extra, extra)
            planned = col_res
            col_res = np.where(fine & (col_res > 0), col_res + run.fine_extra, col_res)
        convert = chip.adcs.convert_signed if bipolar else chip.adcs.convert
        codes = convert(a, chip.adc_of[lo:hi, :, None], col_res, rng_read, extra)
        if fine is not None:
            # Floor division keeps the count boundaries at c + 1/2 for negative counts too; a bipolar count then
            # saturates at -(2**res - 1) as the planned conversion's does.
            codes = np.where(fine, codes // mult, codes)
            if bipolar:
                codes = np.maximum(codes, 1 - (1 << planned))
        n = hi - lo
        # float32 is exact here: sum over steps of code * |weight| <= (2**10 - 1) * (2**16 - 1) < 2**24 would
        # need 10-bit codes and 16 steps; the configuration allows at most that.
        per_col = (codes.reshape(n, c, v, p).astype(np.float32) @ plane_w32).astype(np.float64)  # (n, C, V)
        per_out = np.einsum("njkv,k->njv", per_col.reshape(n, g_out, 2 * bm, v), col_w)  # (n, G, V)
        outs = lm.sec.sec_group[lo:hi, None] * g_out + np.arange(g_out)[None, :]
        real = outs < n_out
        np.add.at(y, outs[real], per_out[real])
    return y.T


def _rel_rms(err: np.ndarray, exact: np.ndarray) -> float:
    scale = float(np.sqrt(np.mean(exact.astype(np.float64) ** 2))) or 1.0
    return float(np.sqrt(np.mean(err.astype(np.float64) ** 2)) / scale)


def analog_error(lm: LayerMap, run: AnalogRun, *, x: np.ndarray | None = None, seeds: int = 3, vectors: int = 16,
                 seed: int = 0) -> dict:
    """Monte Carlo output error of a mapped layer: relative RMS of (analog output - x @ W) over the outputs and
    vectors, per chip instance (seeds 0..seeds-1), with its mean and sample std over the seeds.

    x: the inputs (V, K) to use (captured ones); default `vectors` uniformly random inputs over the input range
    (generator seeded by `seed`, as `cap_error`).
    """
    cfg = lm.cfg
    if x is None:
        x = np.random.default_rng(seed).integers(cfg.hw.input_min, cfg.hw.input_max + 1, (vectors, lm.layer.shape[0]))
    x = np.asarray(x, dtype=np.int64)
    exact = x @ lm.layer.weights
    cells = section_cells(lm)
    errs = [_rel_rms(analog_matvec(lm, x, run, s, cells=cells) - exact, exact) for s in range(seeds)]
    return {"vectors": int(len(x)), "seeds": seeds, "rms_error_relative": float(np.mean(errs)),
            "rms_error_relative_std": float(np.std(errs, ddof=1)) if seeds > 1 else 0.0,
            "per_seed": errs}
