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
           "EMPTY_SECTION", "GATHER_STAGES", "GATHER_NEXT_READ", "GATHER_READY", "FLUSH", "PHASE_MAX",
           "WATCHDOG_MAX", "GUARD_MAX", "WAKE_MAX", "DONE_FALL", "FREE_DELAY", "gather_stages", "gather_ready",
           "run_end_latency",
           "group_prime"]

#: The gather's pipeline stages, by the cycle (after a gather step's table addresses) each one's work is
#: in (hwgen.gather): the addresses presented; the tables' block RAMs read; the column entries land in `next`
#: while the row indices address the input buffer; its block RAM read; the inputs land in `next`'s planes.
GATHER_STAGES = ("address", "table", "columns", "input", "rows")


def gather_stages(beat: int) -> tuple[str, ...]:
    """The gather's stages with W = `beat` inputs a word: with W > 1 the input's element is selected from
    the registered word into a register of its own ("element", a cycle before the rows land)."""
    return GATHER_STAGES if beat == 1 else GATHER_STAGES[:-1] + ("element", "rows")


def gather_ready(beat: int) -> int:
    """GATHER_READY with W = `beat` inputs a word: the cycle after the last step's inputs land."""
    return len(gather_stages(beat))


def run_end_latency(banks: int) -> int:
    """Cycles the end of RUN takes after the last bank is done: with B > 1 banks each bank's done flag is
    a register (hwgen.controller), so one; none with one bank."""
    return 0 if banks == 1 else 1


def group_prime(adc_mux: int) -> int:
    """Cycles between a section's copy into `current` and its first issue beyond the one of the full switch
    matrix: with ADC groups the first batch's lanes are selected into registers (hwgen.batches) in the
    cycle after the copy, and its widest lane found from them into the current batch's registers in the
    next, so two."""
    return 2 if adc_mux else 0
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
    the negative pass (steps 2A-3 down to A-1); bipolar (no RTL yet) its one pass A-2 down to 0."""
    if hw.input_encoding == "signmag":
        half = hw.input_bits - 1
        return list(range(half - 1, -1, -1)) + list(range(2 * half - 1, half - 1, -1))
    return list(range(hw.steps - 1, -1, -1))     # two's complement A-1 down to 0; bipolar A-2 down to 0


#: Longest front phase (precharge, wordline, settle, sample), in cycles: the controller's timing registers
#: (hwgen.interface.timing_layout) hold up to this.
PHASE_MAX = 64
#: Longest done watchdog, in cycles (`MacroTiming.watchdog`).
WATCHDOG_MAX = 1023
#: Most guard cycles between the front phases (`MacroTiming.guard`; the TIMING_GUARD register's 3 bits).
GUARD_MAX = 7
#: Longest macro wake-up, in cycles (`MacroTiming.wake`).
WAKE_MAX = 4095
#: Cycles from the cycle an ADC sees its start low to the cycle its done (a four-phase level) is low again:
#: the documented ADC's (hwgen.emulator), which the handshake's cycle model assumes.
DONE_FALL = 1
#: Handshake mode: cycles from the cycle every done is seen low again to the next issue. The bank's `free`
#: is a register (hwgen.handshake.AdcHandshake), so the done select and the handshake's state stay off the
#: issue path (docs/results/controller.md); counted mode frees the bank in the same cycle as before.
FREE_DELAY = 1


@dataclass(frozen=True)
class MacroTiming:
    """The analog macro's phase timing in clock cycles and how its ADC done reaches the controller
    (docs/design.md section 6: the macro contract). The defaults are the macro of the first tiles: no
    precharge, wordline or settle phase, the ADC samples at its start, and the controller counts each
    conversion's cycles itself. A controller is built with these as its timing registers' reset values;
    the host may write others at run time (`hwgen.interface.TimingSignature`).

    One activation per plane (a drive step of a section): its drive, section and columns go on the bus,
    then `precharge` cycles of `pch`, `wordline` cycles of `wl_en`, `settle` cycles with both low,
    `sample` cycles of the sample-and-hold strobe `sh` (front F = the sum of the four), then the plane's
    first batch starts; the plane's other batches start without a front, from the held columns (with
    sample-and-hold) or the bitlines, which hold their charge until the next precharge. With `guard` G
    cycles (docs/design.md section 6, "Electrical interface") the wordline rises G cycles after the
    precharge falls (after the drive is set, without precharge) and the settle lasts at least G cycles
    after a wordline: F = P + G + W + max(S, G) + H (S instead of max(S, G) with no wordline), the
    schedule of `hwgen.soc.electrical.phase_windows`.

    Parameters
    ----------
    precharge, wordline, settle : int
        Cycles of each front phase (0 .. PHASE_MAX).
    sample : int
        Cycles of the sample-and-hold strobe (0 .. PHASE_MAX). 0: no sample-and-hold, each ADC samples
        its column at its start and the columns must hold until the plane's last done, so the next plane's
        front waits for it. >= 1: every column of the slot is held at the strobe's last cycle, each ADC
        takes its held column at its start, and the next plane's front overlaps the current plane's last
        conversion.
    sync : int
        0: counted: the controller counts each conversion's cycles and starts the next batch in the done
        cycle; each start is a one-cycle pulse, done a one-cycle pulse exactly `res` cycles later (a late,
        missing or unexpected done is an error). 1 or 2: a four-phase handshake, for an ADC whose done is
        late or asynchronous: start is held high until done is seen through `sync` flip-flops (2: a
        two-flop synchronizer), then falls; done (a pulse or a level held until start falls) must be low
        again before that ADC's next start.
    watchdog : int
        Handshake only: the most cycles the controller waits for done to rise (from the start) or to fall
        (from the start's fall) before it reports a missing or stuck done (1 .. WATCHDOG_MAX).
    guard : int
        Guard cycles (0 .. GUARD_MAX) with pch, wl_en and sh all low between the precharge (or the drive)
        and the wordline, and at least as many between the wordline and the sample strobe (or the start):
        no wordline transition on a clock edge where another phase switches. 0: today's schedule, pch falls
        on the edge wl_en rises.
    write_ack : bool
        The macro's cell writes are a four-phase handshake (program-and-verify memories: ReRAM, PCM): the
        controller holds `wr_en` with `wr_addr`/`wr_data` until the macro's `wr_ack`, and reports the
        macro's `wr_busy` (docs/design.md section 6, "Electrical interface"). False (default): one cycle of
        `wr_en` a write, no acknowledge (SRAM, the emulator), and no such ports.
    power : bool
        The macro has `en` (bias and references on) and `sleep` (retention) inputs, driven from the host's
        power register. False (default): always enabled, no such ports.
    wake : int
        With `power`: cycles (0 .. WAKE_MAX) the controller waits after the macro is enabled or woken before
        its first precharge: the first vector after a wake (and after reset) runs `wake` cycles longer.
    """

    precharge: int = 0
    wordline: int = 0
    settle: int = 0
    sample: int = 0
    sync: int = 0
    watchdog: int = 255
    guard: int = 0
    write_ack: bool = False
    power: bool = False
    wake: int = 0

    def __post_init__(self):
        for name in ("precharge", "wordline", "settle", "sample"):
            positive_int(name, getattr(self, name), minimum=0)
            if getattr(self, name) > PHASE_MAX:
                raise SwsError(f"{name} must be at most {PHASE_MAX} cycles, not {getattr(self, name)}")
        if isinstance(self.sync, bool) or self.sync not in (0, 1, 2):
            raise SwsError(f"sync must be 0 (counted), 1 (registered done) or 2 (two-flop synchronizer), "
                           f"not {self.sync!r}")
        positive_int("watchdog", self.watchdog, minimum=1)
        if self.watchdog > WATCHDOG_MAX:
            raise SwsError(f"watchdog must be at most {WATCHDOG_MAX} cycles, not {self.watchdog}")
        positive_int("guard", self.guard, minimum=0)
        if self.guard > GUARD_MAX:
            raise SwsError(f"guard must be at most {GUARD_MAX} cycles, not {self.guard}")
        for name in ("write_ack", "power"):
            if not isinstance(getattr(self, name), bool):
                raise SwsError(f"{name} must be True or False, not {getattr(self, name)!r}")
        positive_int("wake", self.wake, minimum=0)
        if self.wake > WAKE_MAX:
            raise SwsError(f"wake must be at most {WAKE_MAX} cycles, not {self.wake}")
        if self.wake and not self.power:
            raise SwsError(f"wake {self.wake}: a wake-up time needs a macro with power control (power True)")

    @property
    def first_wake(self) -> int:
        """Cycles the first vector after a wake (or after reset) waits before its walk: `wake` with power
        control, else 0."""
        return self.wake if self.power else 0

    @property
    def wordline_begin(self) -> int:
        """Cycles from an activation's drive on the bus to its wordline's first cycle: P + G."""
        return self.precharge + self.guard

    @property
    def settle_cycles(self) -> int:
        """Cycles with wl_en and sh low after the wordline: max(S, G), or S with no wordline."""
        return max(self.settle, self.guard) if self.wordline else self.settle

    @property
    def front(self) -> int:
        """F: cycles from an activation's drive on the bus to its first start (P + W + S + H; with guard
        cycles P + G + W + max(S, G) + H)."""
        return self.wordline_begin + self.wordline + self.settle_cycles + self.sample

    def period(self, res: int, front: bool = True, next_front: bool = True) -> int:
        """Cycles from one batch's issue to the next's, for a batch whose longest conversion is `res`:
        `front` the batch opens an activation (its start F cycles after its issue + 1, else 1), and
        `next_front` the next batch opens one.

        Counted: the next start lands in this batch's done cycle (issue + f + res, f = F or 0), but the
        next activation's front overlaps the conversion with sample-and-hold, its start landing in the done
        cycle too, though no earlier than the cycle after this batch's start (its columns change then):
        f + max(1, res - F). Handshake: done is seen at the capture (1 + f + res + sync), the start is low
        from the cycle after, done falls DONE_FALL cycles after that and is seen `sync` cycles later, and
        the bank's registered free lets the next batch issue FREE_DELAY cycles after that.
        """
        f = self.front if front else 0
        if self.sync:
            return f + 1 + res + self.sync + 1 + DONE_FALL + self.sync + FREE_DELAY
        if self.sample and next_front:
            return f + max(1, res - self.front)
        return f + res

    def capture(self, res: int, front: bool = True) -> int:
        """Cycles from a batch's issue to the cycle its codes are captured (its done, synchronized)."""
        return 1 + (self.front if front else 0) + res + self.sync
