"""Every latency of the controller, in one place (docs/design.md section 6): the macro's phase timing and
ADC handshake, the gather's and the flush's pipeline stages, the accumulator and output-merge depths, the
gather width and the order of the drive steps. The RTL (hwgen) is built from these numbers, and the cycle
model (mapper.schedule.cycles), hence the golden model and the report, predicts from them: a latency
changed here changes all of them together."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import SwsError, positive_int
from ..config import HardwareConfig

__all__ = ["MacroTiming", "default_lanes", "pipeline_depth", "merge_depth", "step_order", "SECTION_DECODE",
           "EMPTY_SECTION", "GATHER_STAGES", "GATHER_NEXT_READ", "GATHER_READY", "FLUSH"]

#: The gather's pipeline stages, by the cycle (after a gather step's table addresses) each one's work is
#: in (hwgen.gather): the addresses presented; the tables' block RAMs read; the column entries land in `next`
#: while the row indices address the input buffer; its block RAM read; the inputs land in `next`'s planes.
GATHER_STAGES = ("address", "table", "columns", "input", "rows")
#: Cycles from a section's table read (S0) to its decoded word (S2): read, registered, decoded.
SECTION_DECODE = 2
#: Cycles the prefetch spends on a section with no active column before the next table read.
EMPTY_SECTION = 3
#: After a gather of n cycles starting at g, the next section's table is read at g + n + GATHER_NEXT_READ.
GATHER_NEXT_READ = 1
#: ... and the gathered section is ready in `next` at g + n + GATHER_READY: the cycle after its last step's
#: inputs land (`GATHER_STAGES`).
GATHER_READY = len(GATHER_STAGES)
#: Cycles from a section's sums in `flush` (pipeline_depth after the last capture) to the end of RUN: the
#: flush read, the block RAM's read register, the bypass register, the registered sum, write and end test.
FLUSH = 5


def default_lanes(rows: int) -> int:
    """The controller's default gather width, rows gathered per cycle: the smallest power of two with
    R <= 32 * lanes, so that a full section's gather (R / lanes cycles, 32 at most) hides behind the
    conversions of the section before it, which take at least A * 4 cycles."""
    lanes = 1
    while rows > 32 * lanes:
        lanes *= 2
    return lanes


def pipeline_depth(n_adc: int) -> int:
    """Cycles from a batch's `capture` to the cycle its section's sums are in `flush` (hwgen.shift_add):
    the capture register, the signed terms, one adder level per stage (ceil(log2(n_adc)) of them), the
    plane sign and the Horner accumulation."""
    return 4 + max(0, (n_adc - 1).bit_length())


def merge_depth(banks: int) -> int:
    """Pipeline stages of the bank merge (hwgen.output.MergeStreamer): none for one bank; otherwise the
    banks' read data registered, then ceil(log2 B) levels of registered pairwise adds."""
    return 0 if banks == 1 else 1 + (banks - 1).bit_length()


def step_order(hw: HardwareConfig) -> list[int]:
    """The drive steps (mapper.config.drive step indices) in the order the controller issues them: two's
    complement the sign step first, A-1 down to 0; sign-magnitude the positive pass A-2 down to 0, then
    the negative pass (steps 2A-3 down to A-1)."""
    if hw.input_encoding == "signmag":
        half = hw.input_bits - 1
        return list(range(half - 1, -1, -1)) + list(range(2 * half - 1, half - 1, -1))
    return list(range(hw.input_bits - 1, -1, -1))


@dataclass(frozen=True)
class MacroTiming:
    """The analog macro's phase timing in clock cycles and how its ADC done reaches the controller
    (docs/design.md section 4: the macro contract). The defaults are the macro of the first tiles: no
    precharge, wordline or settle phase, the ADC samples at its start, and the controller counts each
    conversion's cycles itself.

    A batch of conversions runs, from the first cycle its drive, section and columns are on the bus:
    `precharge` cycles of `pch`, `wordline` cycles of `wl_en`, `settle` cycles with both low, `sample`
    cycles of the sample-and-hold strobe `sh`, then the ADCs' `start` (front F = the sum of the four),
    and res cycles of conversion.

    Parameters
    ----------
    precharge, wordline, settle : int
        Cycles of each front phase (>= 0).
    sample : int
        Cycles of the sample-and-hold strobe (>= 0). 0: no sample-and-hold, the ADC samples the column
        at its start and the column must hold until done, so the next batch's front waits for the done
        (a batch period F + res). >= 1: the column is sampled at the strobe's last cycle, and the next
        batch's front overlaps the current conversion (a period max(F, res)).
    sync : int
        0: the controller counts each conversion's cycles and issues the next so that its start lands
        in the done cycle; done only ends the batch (capture) and a late done is a protocol violation.
        1 or 2: handshake, for an ADC whose done is late or asynchronous: the controller waits for done
        through `sync` flip-flops (2: a two-flop synchronizer) before the next batch's front (a period
        1 + F + res + sync), and captures the codes then.
    """

    precharge: int = 0
    wordline: int = 0
    settle: int = 0
    sample: int = 0
    sync: int = 0

    def __post_init__(self):
        for name in ("precharge", "wordline", "settle", "sample"):
            positive_int(name, getattr(self, name), minimum=0)
            if getattr(self, name) > 64:
                raise SwsError(f"{name} must be at most 64 cycles, not {getattr(self, name)}")
        if isinstance(self.sync, bool) or self.sync not in (0, 1, 2):
            raise SwsError(f"sync must be 0 (counted), 1 (registered done) or 2 (two-flop synchronizer), "
                           f"not {self.sync!r}")

    @property
    def front(self) -> int:
        """F: cycles from a batch's drive on the bus to its start."""
        return self.precharge + self.wordline + self.settle + self.sample

    def period(self, res: int) -> int:
        """Cycles from one batch's issue to the next's, for a batch whose longest conversion is `res`."""
        if self.sync:
            return 1 + self.front + res + self.sync
        return max(self.front, res) if self.sample else self.front + res

    def capture(self, res: int) -> int:
        """Cycles from a batch's issue to the cycle its codes are captured (its done, synchronized)."""
        return 1 + self.front + res + self.sync
