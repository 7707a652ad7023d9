"""The hardware a netlist is built for (docs/design.md section 0): array, ADCs, bits, drive."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..common import one_of, positive_int
from ..common import SwsError
from .drive import ENCODINGS as INPUT_ENCODINGS, input_range, sign_bits, step_count, step_weights

__all__ = ["clog2", "HardwareConfig", "LIMITS"]


#: Upper bounds of the size-like fields: far beyond any published CIM macro (ISAAC's crossbars are 128 x 128,
#: NeuroSim's largest subarrays 1024 x 1024) and small enough that every table, loop and netlist sized by
#: them stays within seconds and memory (`--banks 2**40` was a hang, not an error).
LIMITS = {"rows": 65536, "cols": 65536, "n_adc": 4096, "banks": 256, "beat": 4096}


def clog2(n: int) -> int:
    """Bits needed to hold the values 0..n-1 (at least 1)."""
    return max(1, math.ceil(math.log2(n))) if n > 1 else 1


@dataclass(frozen=True)
class HardwareConfig:
    """What the netlist is built for.

    Parameters
    ----------
    rows, cols : int
        R x C one-bit cells per crossbar.
    weight_bits : int
        Bm magnitude bits of a signed weight (7: int8 symmetric, -127..127).
    input_bits : int
        A bits of an input, applied one bit-plane per step.
    input_signed : bool
        Two's-complement inputs (the top plane weighs -2**(A-1)); False: unsigned.
    group : int
        G consecutive outputs share one row order and one slot of 2 * Bm * G columns.
    n_adc : int
        ADCs of the bank that converts a section's active columns.
    input_encoding : str
        How inputs become row drives, one 1-bit drive step after the other (mapper.config.drive): "twos"
        (two's complement, A steps, the sign step first) or "signmag" (sign-magnitude, signed inputs
        only: A-1 magnitude steps of the positive inputs, then A-1 of the negative ones; the inputs lie
        in -(2**(A-1)-1)..2**(A-1)-1).
    input_aware : bool
        Input-aware ADC resolution (docs/design.md section 4): in each step the controller counts the
        section's driven rows q, converts each column at min(res, bitlen(q)) bits and skips the step
        when q = 0. Lossless; conversions and cycles then depend on the inputs.
    adc_mux : int
        M, slot columns per ADC. 0 (the default): a full switch matrix, any ADC converts any of a
        section's active columns. M >= 1: ADC i serves only the adjacent slot columns i*M .. i*M+M-1,
        so the bank has ceil(slot_cols / M) ADCs and n_adc must be that number (it is not derived, so
        that every n_adc of a configuration is the netlist's; `HardwareConfig.mux_adcs` gives it).
    banks : int
        B sequencer-plus-ADC-bank units working on different sections at once (docs/design.md, banks):
        the sections are assigned to banks statically (mapper.plan.banks), the inputs broadcast to every
        bank, and the output streamer adds the B banks' partial sums. 1: one bank.
    beat : int
        W elements per beat of the input and output streams, a power of two (1: one element a beat).
    double_buffer : bool
        A ping-pong input buffer: the next vector loads while the current one runs and streams out
        (docs/design.md, double buffering). False: one vector at a time.
    wordline_slots : int
        Segmented wordlines (docs/design.md section 4): each row of a crossbar is split into local wordlines of
        this many slots, each with its own driver, and a section's drive charges only its segment's columns.
        0 (the default): the wordline spans the whole crossbar, as in ISAAC. A property of the analog
        array: the controller's netlist does not depend on it (the array decodes `section` into the
        crossbar, slot and segment).
    """

    rows: int = 128
    cols: int = 128
    weight_bits: int = 7
    input_bits: int = 8
    input_signed: bool = True
    group: int = 1
    n_adc: int = 16
    input_encoding: str = "twos"
    input_aware: bool = False
    adc_mux: int = 0
    banks: int = 1
    beat: int = 1
    double_buffer: bool = False
    wordline_slots: int = 0

    def __post_init__(self):
        for name, top in LIMITS.items():
            value = getattr(self, name)
            positive_int(name, value)
            if value > top:
                raise SwsError(f"{name} must be at most {top} (what hardware of this kind can hold), not {value}")
        positive_int("weight_bits", self.weight_bits)
        if self.weight_bits > 15:
            raise SwsError(f"weight_bits must be at most 15, not {self.weight_bits}")
        if not isinstance(self.input_signed, bool):
            raise SwsError(f"input_signed must be true or false, not {self.input_signed!r}")
        positive_int("input_bits", self.input_bits, minimum=2 if self.input_signed else 1)
        if self.input_bits > 16:
            raise SwsError(f"input_bits must be at most 16, not {self.input_bits}")
        positive_int("group", self.group)
        one_of("input_encoding", self.input_encoding, INPUT_ENCODINGS)
        if self.input_encoding in ("signmag", "bipolar") and not self.input_signed:
            raise SwsError(f"input_encoding {self.input_encoding!r} is for signed inputs: unsigned inputs are already "
                           f"magnitudes (use input_encoding 'twos')")
        if not isinstance(self.input_aware, bool):
            raise SwsError(f"input_aware must be true or false, not {self.input_aware!r}")
        if self.beat & (self.beat - 1):
            raise SwsError(f"beat must be a power of two, not {self.beat}")
        if not isinstance(self.double_buffer, bool):
            raise SwsError(f"double_buffer must be true or false, not {self.double_buffer!r}")
        if self.slot_cols > self.cols:
            raise SwsError(
                f"group {self.group} is wider than a crossbar: a slot needs 2 * weight_bits * group = "
                f"{self.slot_cols} columns but cols is {self.cols}")
        positive_int("adc_mux", self.adc_mux, minimum=0)
        if self.adc_mux > self.slot_cols:
            raise SwsError(f"adc_mux must be at most the slot's {self.slot_cols} columns (2 * weight_bits * group), "
                           f"not {self.adc_mux}")
        positive_int("wordline_slots", self.wordline_slots, minimum=0)
        if self.wordline_slots > self.slots_per_crossbar:
            raise SwsError(f"wordline_slots must be at most the {self.slots_per_crossbar} slots of a crossbar "
                           f"(0: one wordline spanning it), not {self.wordline_slots}")
        if self.adc_mux and self.n_adc != self.mux_adcs(self.adc_mux):
            raise SwsError(f"n_adc must be ceil(slot columns {self.slot_cols} / adc_mux {self.adc_mux}) = "
                           f"{self.mux_adcs(self.adc_mux)} with adc_mux {self.adc_mux} (one ADC per group of "
                           f"{self.adc_mux} adjacent columns), not {self.n_adc}")

    @property
    def full_resolution(self) -> int:
        """Bits that hold any count of a full section: ceil(log2(R + 1))."""
        return math.ceil(math.log2(self.rows + 1))

    @property
    def sign_bits(self) -> int:
        """Bits a conversion takes beyond its planned resolution: 1 with the bipolar drive (a signed column
        sum), else 0."""
        return sign_bits(self.input_encoding)

    @property
    def adc_bits(self) -> int:
        """The widest conversion the ADCs make: the full resolution, plus the bipolar drive's sign bit."""
        return self.full_resolution + self.sign_bits

    @property
    def slot_cols(self) -> int:
        """Columns of one slot: a (sign, bit) column pair set for each of the G outputs."""
        return 2 * self.weight_bits * self.group

    def mux_adcs(self, adc_mux: int) -> int:
        """ADCs of a bank whose ADC i serves slot columns i*M .. i*M+M-1: ceil(slot_cols / M)."""
        return -(-self.slot_cols // adc_mux)

    @property
    def slots_per_crossbar(self) -> int:
        return self.cols // self.slot_cols

    @property
    def wordline_columns(self) -> float:
        """Columns one row drive charges: the crossbar's C split evenly over its wordline segments (C with
        one wordline; with segments of S slots about S * slot_cols, the crossbar's unused columns shared)."""
        return self.cols / self.wordline_segments

    @property
    def wordline_segments(self) -> int:
        """Local wordlines (each with its driver) per crossbar row: 1, or ceil(slots / wordline_slots)."""
        return -(-self.slots_per_crossbar // self.wordline_slots) if self.wordline_slots else 1

    @property
    def weight_max(self) -> int:
        return 2 ** self.weight_bits - 1

    @property
    def input_min(self) -> int:
        return input_range(self.input_bits, self.input_signed, self.input_encoding)[0]

    @property
    def input_max(self) -> int:
        return input_range(self.input_bits, self.input_signed, self.input_encoding)[1]

    @property
    def steps(self) -> int:
        """Drive steps per input vector: A (two's complement, unsigned), 2 * (A - 1) (sign-magnitude)."""
        return step_count(self.input_bits, self.input_signed, self.input_encoding)

    def plane_weights(self) -> list[int]:
        """The weight of drive step p (mapper.config.drive.step_weights): two's complement 2**t, and -2**(A-1)
        for the sign step of signed inputs; sign-magnitude 2**t, then -2**t."""
        return [int(w) for w in step_weights(self.input_bits, self.input_signed, self.input_encoding)]
