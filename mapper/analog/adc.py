"""A bank of SAR ADCs with static and per-conversion errors (docs/design.md section 4, analog non-idealities).

The SAR has N = full_resolution bits and an LSB of one nominal on-cell current; a conversion at b bits
searches bits b-1..0 (higher bits 0), so it returns a code in 0..2**b - 1. Its error model is CrossSim's
SarADC (Spear et al., IEEE JXCDC 2023; sandialabs/cross-sim simulator/circuits/adc/sar_adc.py): a binary
weighted capacitor DAC whose unit capacitors mismatch (INL and DNL), a comparator offset and a gain error,
all drawn once per ADC, plus an input-referred noise drawn per conversion.
"""

from __future__ import annotations

import numpy as np

from .devices import AdcNoise

__all__ = ["AdcBank", "GRID"]

#: With capacitor mismatch, each ADC's transfer at each resolution is tabulated at the centres of cells of
#: 1/GRID LSB: a transition level is then known to within 1/GRID LSB (exact without mismatch).
GRID = 32


class AdcBank:
    """`n_adc` ADCs of `bits` bits drawn from `noise` with `rng` (their static errors).

    Attributes
    ----------
    gain, offset : (n_adc,) float
        Each ADC's input gain (1 + error) and comparator offset in LSB.
    levels : (n_adc, 2**bits) float or None
        The CDAC's output for each code word, in LSB (None: ideal, level(d) = d).
    """

    def __init__(self, noise: AdcNoise, n_adc: int, bits: int, rng: np.random.Generator):
        self.noise, self.n_adc, self.bits = noise, n_adc, bits
        self.gain = 1.0 + noise.gain_sigma * rng.standard_normal(n_adc)
        self.offset = noise.offset_lsb * rng.standard_normal(n_adc)
        self.levels = self.table = None
        if noise.cap_mismatch:
            self.levels = self._levels(rng.standard_normal((n_adc, bits + 1)) * noise.cap_mismatch)
            self.table = self._tabulate()

    def _levels(self, delta: np.ndarray) -> np.ndarray:
        """CDAC levels (CrossSim's non-split CDAC): capacitor i = 2**i + delta_i 2**(i/2), the terminating unit
        1 + delta_N; level(d) = 2**N sum_i d_i C_i / C_total."""
        n = self.bits
        i = np.arange(n)
        caps = 2.0 ** i + delta[:, :n] * 2.0 ** (i / 2)                   # (n_adc, N)
        total = caps.sum(axis=1) + 1.0 + delta[:, n]
        d = np.arange(2 ** n)
        word = (d[:, None] >> i[None, :]) & 1                               # (2**N, N)
        return 2.0 ** n * (word @ caps.T).T / total[:, None]               # (n_adc, 2**N)

    def sar(self, a: np.ndarray, adc: np.ndarray, res: np.ndarray) -> np.ndarray:
        """The binary search itself on (gain- and offset-applied) inputs a: bit i set when a > level(trial) - 1/2."""
        reg = np.zeros(a.shape, np.int64)
        for i in range(self.bits - 1, -1, -1):
            trial = reg + (1 << i)
            level = self.levels[adc, np.minimum(trial, 2 ** self.bits - 1)] if self.levels is not None else trial
            take = (i < res) & (a > level - 0.5)
            reg = np.where(take, trial, reg)
        return reg

    def _tabulate(self) -> np.ndarray:
        """(n_adc, bits + 1, cells) int16: the code at the centre of each 1/GRID-LSB cell from -2 to 2**N + 1."""
        lo, hi = -2.0, 2.0 ** self.bits + 1.0
        self.lo, self.cells = lo, int((hi - lo) * GRID)
        centres = lo + (np.arange(self.cells) + 0.5) / GRID
        out = np.empty((self.n_adc, self.bits + 1, self.cells), np.int16)
        for b in range(self.bits + 1):
            adc = np.repeat(np.arange(self.n_adc)[:, None], self.cells, axis=1)
            out[:, b] = self.sar(np.broadcast_to(centres, adc.shape), adc, np.full(adc.shape, b))
        return out

    def _input(self, a: np.ndarray, adc: np.ndarray, rng: np.random.Generator | None,
               extra_sigma: np.ndarray | None) -> np.ndarray:
        """The input as the ADC's comparator sees it: gain, offset, and one Gaussian draw of the ADC's
        input-referred noise and `extra_sigma` combined (independent: their stds add in quadrature)."""
        x = a * self.gain[adc].astype(a.dtype) + self.offset[adc].astype(a.dtype)
        sigma = self.noise.noise_lsb
        if extra_sigma is not None:
            sigma = np.sqrt(np.float32(sigma) ** 2 + extra_sigma ** 2)
        if rng is not None and np.any(sigma):
            x = x + rng.standard_normal(x.shape, dtype=np.float32) * sigma
        return x

    def convert(self, a: np.ndarray, adc: np.ndarray, res: np.ndarray, rng: np.random.Generator | None,
                extra_sigma: np.ndarray | None = None) -> np.ndarray:
        """Codes of analog inputs `a` (in LSB) on ADCs `adc` at resolutions `res` (broadcast together).

        `extra_sigma` (LSB, broadcast) is noise of the cells read in the conversion, added to the ADC's own
        input-referred noise (independent Gaussians: one draw of the combined std). res 0 gives 0.
        """
        x = self._input(a, adc, rng, extra_sigma)
        top = (1 << res) - 1
        if self.table is None:
            return np.clip(np.ceil(x - 0.5), 0, top).astype(np.int32)
        cell = np.clip(((x - self.lo) * GRID).astype(np.int64), 0, self.cells - 1)
        return self.table[adc, res, cell].astype(np.int32)

    def convert_signed(self, a: np.ndarray, adc: np.ndarray, res: np.ndarray, rng: np.random.Generator | None,
                       extra_sigma: np.ndarray | None = None) -> np.ndarray:
        """Two's-complement codes of signed analog inputs `a` (in LSB) at magnitude resolutions `res`: the bipolar
        drive's conversion of res + 1 bits, saturating at -(2**res - 1) and 2**res - 1 (as the RTL's array model).

        A differential SAR of res + 1 bits whose zero is its mid-scale code 2**res (offset binary): gain, offset
        and noise act on the signed input, then the unipolar search (`convert`'s CDAC levels and rounding) runs
        on a + 2**res, so its largest mismatch, at the MSB transition, sits at a count of 0. res 0 gives 0.
        """
        res = np.asarray(res)
        x = self._input(a, adc, rng, extra_sigma)
        mid = (1 << res).astype(np.float32)
        top = (1 << res) - 1
        bits = np.where(res > 0, res + 1, 0)
        if self.table is None:
            u = np.clip(np.ceil(x + mid - 0.5), 0, 2 * mid - 1)
        else:
            cell = np.clip(((x + mid - self.lo) * GRID).astype(np.int64), 0, self.cells - 1)
            u = self.table[adc, bits, cell]
        return np.where(res > 0, np.clip(u.astype(np.int32) - mid.astype(np.int32), -top, top), 0).astype(np.int32)
