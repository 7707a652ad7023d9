"""A synthesizable stand-in for the analog macro: the crossbar cells and a bank of variable-resolution SAR ADCs."""

from __future__ import annotations

import functools
import operator

from amaranth import Cat, Const, Module, Mux, Signal, Value, unsigned
from amaranth.hdl import Assert
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from mapper.plan import bank_plans
from mapper.plan import LayerPlan

from .counters import pipelined_sum
from .interface import ArraySignature, connect_array
from .params import TileParams
from .shift_add import tree_sum

__all__ = ["ArrayEmulator", "BankedArray", "array_emulator", "VIOLATIONS", "DONE_MODES"]


#: The protocol rules the emulator checks, by bit of its sticky `violation` output (docs/design.md section 6).
VIOLATIONS = ("start while busy", "wordline without precharge", "sample before settle",
              "start without a sample", "wordline pulse too short", "start withdrawn before done",
              "precharge during a conversion", "wordline while precharge", "sample while wordline",
              "write request changed before its acknowledge", "write while the macro is busy",
              "array used while disabled or asleep", "precharge before the wake-up",
              "conversion shorter than its code")

#: The bits of the electrical interface's rules (docs/design.md section 6, "Electrical interface").
_WL_PCH, _SAMPLE_WL, _CHANGED_WRITE, _BUSY_WRITE, _OFF, _EARLY, _SHORT = (VIOLATIONS.index(r) for r in (
    "wordline while precharge", "sample while wordline", "write request changed before its acknowledge",
    "write while the macro is busy", "array used while disabled or asleep", "precharge before the wake-up",
    "conversion shorter than its code"))

#: How the emulated ADCs' done behaves in handshake mode (`MacroTiming.sync` 1 or 2): a level held until
#: start falls (the four-phase acknowledge), or a one-cycle pulse.
DONE_MODES = ("level", "pulse")


class ArrayEmulator(wiring.Component):
    """The array side of the array interface (`bus`, ArraySignature(array_side=True)), with the macro
    contract's phases (`TileParams.timing`, a `MacroTiming`) checked.

    The cells are held as column words: address {section, slot column} -> R bits, one per row, read
    asynchronously (one read port per ADC), written through the bus's cell-write port (`wr_en`,
    `wr_addr`, `wr_data`: the column word at {section, slot column}). An ADC converts popcount(column &
    drive), the sum of the column's cell currents: with no sample-and-hold (`sample` 0) of its column under
    the section and drive on the bus at its start; with it, every cycle of the `sh` strobe holds the
    section and drive (all the slot's columns: the last strobe cycle's hold), and a start takes its column
    of the held sample. The code is min(count, 2**ref - 1) (the full-scale range of its reference select),
    held from done until the ADC's next start. With the bipolar drive (`drive_neg`: the rows of `drive`
    driven -1) the count is signed, popcount(column & drive & ~drive_neg) - popcount(column & drive &
    drive_neg), and the code, two's complement, saturates at -(2**(ref-1) - 1) and 2**(ref-1) - 1. The code
    is made in register stages, each stage's code its own register and the output their OR (at most one
    nonzero; `_adc`; docs/design.md section 6, "Tiles"): the column word and a 1-bit code at the start S,
    a code of ref bits in S + min(ref, 4) (bipolar S + min(ref, 2)), so a start with res < min(ref, 4) is a
    violation ("conversion shorter than its code").

    `bus.cell_reads` reports the cells each conversion reads, for the controller's counter: the popcount of
    the column word a conversion takes at its start (its 1-cells on the section's rows, whatever the drive),
    in a register four cycles later, the ADCs' registers summed four a level (`pipelined_sum`).

    Counted mode (`sync` 0): ADC i, started in cycle T with resolution b, asserts done for one cycle in T +
    b and takes a new start in the done cycle. Handshake (`sync` 1 or 2, a four-phase handshake): a start
    seen high while the ADC is idle (and seen low since its last conversion) begins a conversion; done
    rises b cycles later and, as `done_mode` says, stays high until the start is seen low and falls the
    cycle after (`mapper.schedule.DONE_FALL`: "level"), or is high for one cycle ("pulse").

    `violation` is sticky, one bit per rule of `VIOLATIONS`: a start while the ADC converts (counted:
    before its done cycle; handshake: a rising start while it converts or its done is high); a wordline
    rising after fewer than `precharge` cycles of `pch` since the previous wordline; a sample (`sh`, or a
    start without sample-and-hold) fewer than `settle` cycles after the wordline fell, or while it is on;
    a start (with sample-and-hold) without `sample` cycles of `sh` since the last precharge or wordline
    (the activation's own sample); a wordline pulse
    shorter than `wordline` cycles; handshake: a start withdrawn while its ADC converts; without
    sample-and-hold, a precharge while an ADC converts (before its done cycle: the bitlines hold the
    columns until then); a wordline while the precharge is on, or (guard G = `MacroTiming.guard` > 0) fewer
    than G cycles after it fell; with G > 0, a sample (`sh`, or a start without sample-and-hold) while the
    wordline is on, or fewer than G cycles after it fell; a start whose code the emulator makes after its
    done, res < min(ref, 4) (bipolar min(ref, 2); below). The simulators fail a run that ends with a violation. Rules
    about phases of zero cycles never fire.

    With ADC groups of M = adc_mux columns, ADC i converts slot column i * M + col, and a start on a
    column outside its group (col >= M, or past the slot in a last, shorter group) fails the simulation
    (an Amaranth `Assert`; an `assert` in the Verilog).

    `extra_latency` (a test option, default 0) delays every done by that many more cycles, to T + b +
    extra: an ADC slower than the documented timing. With 0 and the default `done_mode` the netlist is the
    documented emulator.

    Program-and-verify writes (`MacroTiming.write_ack`; state machine `cell_write`): a `wr_en` seen high
    (and seen low since the last write) starts the macro's write loop on the `wr_addr`/`wr_data` of that
    cycle, `wr_busy` high while it runs, write_latency cycles plus a pseudo-random 0 .. 2**write_random - 1
    more (a 16-bit LFSR); at its end the column word is written and, if `wr_en` is still high, `wr_ack`
    rises and stays high until `wr_en` is low (a request withdrawn before the end, as by a reset of the
    controller, completes without an acknowledge). Violations: the address or data changed while the
    request is held; a request raised while the loop runs. Without write_ack a cell write is the one
    cycle of `wr_en`.

    Power (`MacroTiming.power`): a phase (`pch`, `wl_en`, `sh`), an ADC start or a cell write while `en` is
    low or `sleep` high is a violation (the macro computes nothing then), and so is a precharge or start
    fewer than `wake` cycles after the macro was turned on (en rose or sleep fell; reset counts as
    turned on).

    Parameters
    ----------
    params : TileParams
        Hardware, table depths and the macro's timing.
    plan : LayerPlan or None
        With a plan the cells are initialized from it; without, they start empty and are written
        through the bus's cell-write port.
    extra_latency : int
        Test only: cycles added to every conversion (done at start + res + extra_latency).
    done_mode : str
        Handshake only: "level" (default) or "pulse" (`DONE_MODES`).
    write_latency, write_random : int
        Program-and-verify writes only: the write loop's cycles (>= 1), and the bits of its random extra.

    Attributes
    ----------
    bus : Out(ArraySignature(array_side=True))
        The array interface, from the array's side.
    violation : Out(len(VIOLATIONS))
        Sticky protocol violations since reset, one bit per rule.
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None, *, extra_latency: int = 0,
                 done_mode: str = "level", write_latency: int = 1, write_random: int = 0):
        if isinstance(extra_latency, bool) or not isinstance(extra_latency, int) or extra_latency < 0:
            raise ValueError(f"extra_latency must be a non-negative integer, not {extra_latency!r}")
        if isinstance(write_latency, bool) or not isinstance(write_latency, int) or not 1 <= write_latency <= 1000:
            raise ValueError(f"write_latency must be an integer from 1 to 1000 cycles, not {write_latency!r}")
        if isinstance(write_random, bool) or not isinstance(write_random, int) or not 0 <= write_random <= 10:
            raise ValueError(f"write_random must be an integer from 0 to 10 bits, not {write_random!r}")
        self.write_latency, self.write_random = write_latency, write_random
        if done_mode not in DONE_MODES:
            raise ValueError(f"done_mode must be one of {', '.join(DONE_MODES)}, not {done_mode!r}")
        if plan is not None:
            params.fits(plan)
        self.params = params
        self.plan = plan
        self.extra_latency = extra_latency
        self.done_mode = done_mode
        super().__init__({"bus": Out(ArraySignature(params, array_side=True)), "violation": Out(len(VIOLATIONS))})

    def elaborate(self, platform):
        m = Module()
        p, cfg, tm = self.params, self.params.hw, self.params.timing
        bus = self.bus
        depth = max(1, p.section_depth) * p.slot_pad
        init = [0] * depth
        if self.plan is not None:
            for addr, word in p.cell_words(self.plan).items():
                init[addr] = word
        m.submodules.cells = cells = Memory(shape=unsigned(cfg.rows), depth=depth, init=init)
        wp = cells.write_port()

        flag = [Signal(name=f"violation_{k}") for k in range(len(VIOLATIONS))]
        for k in range(len(VIOLATIONS)):
            with m.If(flag[k]):
                m.d.sync += self.violation[k].eq(1)
        if tm.write_ack:
            self._write_loop(m, wp, flag)
        else:
            m.d.comb += [wp.addr.eq(bus.wr_addr), wp.data.eq(bus.wr_data), wp.en.eq(bus.wr_en)]
        if tm.power:
            self._power(m, flag)
        settled, sampled = self._phases(m, flag)
        # The sample: with sample-and-hold the section and drive of the strobe's last cycle (every column
        # held), else the bus's.
        bipolar = p.bipolar
        section, drive = bus.section, bus.drive
        neg = bus.drive_neg if bipolar else None
        if tm.sample:
            section, drive = Signal.like(bus.section, name="held_section"), Signal.like(bus.drive, name="held_drive")
            with m.If(bus.sh):
                m.d.sync += [section.eq(bus.section), drive.eq(bus.drive)]
            if bipolar:
                neg = Signal.like(bus.drive_neg, name="held_drive_neg")
                with m.If(bus.sh):
                    m.d.sync += neg.eq(bus.drive_neg)
        col_bits = (p.slot_pad - 1).bit_length()
        busy_start, converting, withdrawals, read, shorts = [], [], [], [], []
        for i, adc in enumerate(bus.adc):
            rp = cells.read_port(domain="comb")
            col = adc.col
            if cfg.adc_mux:     # ADC i serves slot columns i*M .. i*M+M-1 only: its port names the column in the group
                col = Signal(max(1, col_bits), name=f"slot_col{i}")
                m.d.comb += col.eq(i * cfg.adc_mux + adc.col)
                group = min(cfg.adc_mux, cfg.slot_cols - i * cfg.adc_mux)
                with m.If(adc.start):
                    m.d.sync += Assert(adc.col < group, f"ADC {i} started on a column outside its group of {group}")
            m.d.comb += rp.addr.eq(Cat(col[:col_bits], section) if col_bits else section)
            busy, bad_start, withdrawn, ones, short = self._adc(m, i, adc, rp.data, drive, neg)
            read.append(ones)
            shorts.append(short)
            busy_start.append(bad_start)
            converting.append(busy)
            withdrawals.append(withdrawn)
        total, _ = pipelined_sum(m, "cells_read_sum", read)
        m.d.comb += bus.cell_reads.eq(total)
        any_start = Cat(adc.start for adc in bus.adc).any()
        m.d.comb += [flag[0].eq(Cat(busy_start).any()), flag[5].eq(Cat(withdrawals).any()),
                     flag[_SHORT].eq(Cat(shorts).any())]
        if tm.sample:
            m.d.comb += flag[3].eq(any_start & (sampled < tm.sample))
        else:
            m.d.comb += flag[2].eq(any_start & ~settled)
            if tm.precharge:        # the bitlines hold the columns until the conversions are done
                m.d.comb += flag[6].eq(bus.pch & Cat(converting).any())
        return m

    def _phases(self, m, flag):
        """The array's phases: pch cycles since the last wordline, the wordline's length, cycles since it
        fell, sh cycles since the last wordline. Returns (the column may be sampled, sh cycles counted)."""
        tm, bus = self.params.timing, self.bus
        P, W, S, H = tm.precharge, tm.wordline, tm.settle, tm.sample
        wl_prev = Signal()
        m.d.sync += wl_prev.eq(bus.wl_en)
        settled = Signal(init=1)
        if P:
            pch_count = Signal(range(P + 1), name="pch_count")
            with m.If(bus.wl_en & ~wl_prev):
                m.d.comb += flag[1].eq(pch_count < P)
                m.d.sync += pch_count.eq(0)
            with m.Elif(bus.pch & (pch_count < P)):
                m.d.sync += pch_count.eq(pch_count + 1)
        if W or S:
            wl_count = Signal(range(W + 2), name="wl_count")
            since = Signal(range(S + 1), name="settle_count")
            with m.If(bus.wl_en):
                m.d.sync += [since.eq(0), wl_count.eq(Mux(wl_prev, Mux(wl_count > W, wl_count, wl_count + 1), 1))]
            with m.Elif(since < S):
                m.d.sync += since.eq(since + 1)
            with m.If(~bus.wl_en & wl_prev):
                m.d.comb += flag[4].eq(wl_count < W)
            m.d.comb += settled.eq(~bus.wl_en & (since >= S))
        self._guards(m, flag)
        sampled = Signal(range(H + 1) if H else 1, name="sampled")
        if H:
            with m.If(bus.pch | bus.wl_en):      # a new activation: its columns are not sampled yet
                m.d.sync += sampled.eq(0)
            with m.Elif(bus.sh & (sampled < H)):
                m.d.sync += sampled.eq(sampled + 1)
            with m.If(bus.sh & ~settled):
                m.d.comb += flag[2].eq(1)
        return settled, sampled

    def _write_loop(self, m, wp, flag):
        """The macro's program-and-verify write loop and its four-phase handshake (`cell_write`)."""
        bus = self.bus
        addr, data = Signal.like(bus.wr_addr, name="write_addr"), Signal.like(bus.wr_data, name="write_data")
        top = self.write_latency + (1 << self.write_random) - 1
        left = Signal(range(top + 1), name="write_left")
        lfsr = Signal(16, init=0xACE1, name="write_lfsr")     # x^16 + x^14 + x^13 + x^11 + 1
        m.d.sync += lfsr.eq(Cat(lfsr[1:], lfsr[0] ^ lfsr[2] ^ lfsr[3] ^ lfsr[5]))
        extra = lfsr[:self.write_random] if self.write_random else 0
        need_low = Signal(name="write_need_low")            # wr_en not seen low since the last request
        with m.If(~bus.wr_en):
            m.d.sync += need_low.eq(0)
        m.d.comb += [wp.addr.eq(addr), wp.data.eq(data)]
        with m.FSM(name="cell_write"):
            with m.State("IDLE"):
                with m.If(bus.wr_en & ~need_low):
                    m.d.sync += [addr.eq(bus.wr_addr), data.eq(bus.wr_data), need_low.eq(1), bus.wr_busy.eq(1),
                                 left.eq(self.write_latency - 1 + extra)]
                    m.next = "LOOP"
            with m.State("LOOP"):
                changed = (bus.wr_addr != addr) | (bus.wr_data != data)
                m.d.comb += [flag[_BUSY_WRITE].eq(bus.wr_en & ~need_low),     # a new request while the loop runs
                             flag[_CHANGED_WRITE].eq(bus.wr_en & need_low & changed)]
                with m.If(left == 0):
                    m.d.comb += wp.en.eq(1)
                    m.d.sync += bus.wr_busy.eq(0)
                    with m.If(bus.wr_en & need_low):
                        m.d.sync += bus.wr_ack.eq(1)
                        m.next = "ACK"
                    with m.Else():
                        m.next = "IDLE"
                with m.Else():
                    m.d.sync += left.eq(left - 1)
            with m.State("ACK"):
                m.d.comb += flag[_CHANGED_WRITE].eq(bus.wr_en & ((bus.wr_addr != addr) | (bus.wr_data != data)))
                with m.If(~bus.wr_en):
                    m.d.sync += bus.wr_ack.eq(0)
                    m.next = "IDLE"

    def _power(self, m, flag):
        """The power rules: nothing while disabled or asleep, no precharge or start within the wake-up."""
        tm, bus = self.params.timing, self.bus
        on = bus.en & ~bus.sleep
        starts = Cat(a.start for a in bus.adc).any()
        m.d.comb += flag[_OFF].eq(~on & (bus.pch | bus.wl_en | bus.sh | starts | bus.wr_en))
        if tm.wake:
            since = Signal(range(tm.wake + 1), name="awake_cycles")     # reset: just turned on
            with m.If(~on):
                m.d.sync += since.eq(0)
            with m.Elif(since < tm.wake):
                m.d.sync += since.eq(since + 1)
            m.d.comb += flag[_EARLY].eq(on & (since < tm.wake) & (bus.pch | starts))

    def _guards(self, m, flag):
        """The break-before-make rules: the wordline never with the precharge, nor within G cycles after it
        falls; with G > 0 a sample (sh, or a start without sample-and-hold) never with the wordline, nor within
        G cycles after it falls (`MacroTiming.guard`; G = 0: only the wordline rule, in the same cycle)."""
        G, bus = self.params.timing.guard, self.bus
        sample = bus.sh if self.params.timing.sample else Cat(a.start for a in bus.adc).any()
        if not G:        # a sample while the wordline is on is "sample before settle" then
            m.d.comb += flag[_WL_PCH].eq(bus.wl_en & bus.pch)
            return
        # Low cycles of pch (wl_en) right before this one, saturating at G (the reset value: long ago).
        low_pch = Signal(range(G + 1), init=G, name="pch_low_cycles")
        low_wl = Signal(range(G + 1), init=G, name="wl_low_cycles")
        for low, phase in ((low_pch, bus.pch), (low_wl, bus.wl_en)):
            with m.If(phase):
                m.d.sync += low.eq(0)
            with m.Elif(low < G):
                m.d.sync += low.eq(low + 1)
        m.d.comb += [flag[_WL_PCH].eq(bus.wl_en & (bus.pch | (low_pch < G))),
                     flag[_SAMPLE_WL].eq(sample & (bus.wl_en | (low_wl < G)))]

    def _adc(self, m, i, adc, word, drive, neg):
        """ADC i on the column word `word` (the cell read of its column) under `drive` (`neg`: the rows
        driven -1, bipolar; else None). Returns (it converts, it is started while busy, its start is
        withdrawn while it converts, the cells its conversion read: its column's 1-cells, four cycles after
        its start, else 0, a start shorter than its code)."""
        p, cfg, tm = self.params, self.params.hw, self.params.timing
        extra = self.extra_latency
        left = Signal(range(p.conv_bits + extra + 1) if extra else p.res_width, name=f"left{i}")
        busy = Signal(name=f"busy{i}")
        top = Signal(p.code_width, name=f"top{i}")
        begin = Signal(name=f"begin{i}")
        # done is a register (the ADC's output, into the controller's handshake logic), set a cycle ahead:
        # high in the cycle the conversion ends (busy with left == 1) and, handshake with a level done, while
        # the start stays high after it.
        done = Signal(name=f"done{i}")
        hold = adc.start & done if tm.sync and self.done_mode == "level" else 0
        m.d.sync += done.eq(Mux(begin, adc.res + extra == 1, busy & (left == 2)) | hold)
        if tm.sync:
            # Four-phase: a start seen high while idle (done low, start seen low since the last conversion)
            # begins a conversion; done rises `res` cycles later, as counted mode's, and (a level) holds
            # until the start is seen low.
            rearm = Signal(name=f"need_low{i}")
            m.d.comb += begin.eq(adc.start & ~busy & ~done & ~rearm)
            with m.If(begin):
                m.d.sync += rearm.eq(1)
            with m.Elif(~adc.start):
                m.d.sync += rearm.eq(0)
            start_prev = Signal(name=f"start_prev{i}")
            m.d.sync += start_prev.eq(adc.start)
            # A rising start while converting, or while a level done is still held (done outside busy).
            bad_start = adc.start & ~start_prev & (busy | done)
            withdrawn = ~adc.start & busy
        else:
            m.d.comb += begin.eq(adc.start)
            bad_start, withdrawn = adc.start & busy & (left != 1), 0
        with m.If(busy):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += busy.eq(0)
        # The code in register stages, so that no cell read and popcount share a cycle (the tile's Fmax).
        # A: at the start S the column word and its cells under the driven rows go into a register and, for
        # a 1-bit code (unipolar ref 1: min(count, 1), whether any driven row's cell is on; bipolar ref 1:
        # 0), the code itself; B (S + 1): each eight rows' counts into a register and, for ref 2, the code
        # min(count, 3) (a saturating tree of gates); C (S + 2): their sums into a register and, for ref 3,
        # the code min(count, 7); D (S + 3): for ref >= 4 the code min(count, 2**ref - 1). Bipolar, B makes
        # every signed code of ref > 1. So the code changes once a conversion, in S + min(ref, 4)
        # (bipolar S + min(ref, 2)); it is due at done, S + res: a start with res < min(ref, 4) (bipolar
        # min(ref, 2)) is a violation (the controller sets ref = res; a SAR ADC resolves a bit a cycle). The
        # cells read (all the column's 1-cells) are counted the same way, in a register in S + 4.
        # Simulation cost (Amaranth's simulator runs all of a fragment's comb statements whenever one of
        # their inputs changes, its sync statements every cycle, and compiles an expression as a tree):
        # the stages are a few wide registers written under their stage's enable, and the comb logic
        # between them small signals in a fragment of their own.
        R, bipolar = cfg.rows, p.bipolar
        stage = Signal(3, name=f"stage{i}")            # bit k: a conversion began k + 1 cycles ago
        m.d.sync += stage.eq(Cat(begin, stage[:2]))
        on = word & drive & ~neg if bipolar else word & drive
        taken = Signal((3 if bipolar else 2) * R, name=f"taken{i}")    # the word, its cells driven (+1), -1
        with m.If(begin):
            m.d.sync += [left.eq(adc.res + extra if extra else adc.res), busy.eq(1),
                         taken.eq(Cat(word, on, word & drive & neg) if bipolar else Cat(word, on))]
            with m.Switch(adc.ref):     # the full scale; bipolar, the sign bit is one of the ref bits
                for bits in range(1, p.conv_bits + 1):
                    with m.Case(bits):
                        m.d.sync += top.eq(2 ** (bits - cfg.sign_bits) - 1)
        # The comb logic between the stages' registers sits in its own fragment, whose inputs are those
        # registers only: it runs when they change (a few times a conversion), not whenever the bus moves.
        # It works on bit planes: lane j of L (a power of two) holds rows j, j + L, j + 2L and j + 3L, plane
        # k of a count its bit k in every lane, so each step is one wide expression over all lanes.
        m.submodules[f"stages{i}"] = sub = Module()
        L = _lanes(R)
        G = L // 2                      # eight-row groups: lanes j and j + G
        c4_on, c4_read = Signal(3 * L, name=f"on_c4_{i}"), Signal(3 * L, name=f"read_c4_{i}")
        sub.d.comb += [c4_on.eq(count4_planes(taken, R, L, R)), c4_read.eq(count4_planes(taken, 0, L, R))]
        # B: each eight rows' counts (4 planes of G lanes), of the driven cells then of all the word's 1-cells.
        g_on, g_read = Signal(4 * G, name=f"on_c8_{i}"), Signal(4 * G, name=f"read_c8_{i}")
        sub.d.comb += [g_on.eq(add_halves(c4_on, 3, L)), g_read.eq(add_halves(c4_read, 3, L))]
        groups = Signal(8 * G, name=f"row_counts{i}")
        with m.If(stage[0]):
            m.d.sync += groups.eq(Cat(g_on, g_read))
        # C: the sums, and whether the count passes a ref >= 4 code's full scale (for D).
        total, read_total = Signal(range(R + 1), name=f"on_sum{i}"), Signal(range(R + 1), name=f"read_sum{i}")
        sub.d.comb += [total.eq(tree_sum(Cat(groups[k * G + j] for k in range(4)) for j in range(G))),
                       read_total.eq(tree_sum(Cat(groups[(4 + k) * G + j] for k in range(4)) for j in range(G)))]
        sums = Signal(2 * len(total) + 1, name=f"row_sums{i}")
        with m.If(stage[1]):
            m.d.sync += sums.eq(Cat(total, read_total, (total & ~top).any()))
        count, ones, over = sums[:len(total)], sums[len(total):2 * len(total)], sums[-1]
        # B's code: unipolar min(count, 3), a saturating tree of gates; bipolar the signed count saturated
        # at +-top.
        made = Signal(p.code_width, name=f"code_b{i}")
        if bipolar:
            signed = Signal(range(-R, R + 1), name=f"signed_count{i}")
            sub.d.comb += [signed.eq(popcount(taken[R:2 * R]) - popcount(taken[2 * R:])),
                           made.eq(Mux(signed > top, top, Mux(signed < -top, -top, signed)))]
            writes = [(begin & (adc.ref == 1), 0), (stage[0] & (top != 0), made)]
        else:
            sub.d.comb += made.eq(saturated_count3(sub, f"sat3_{i}", c4_on, L))
            writes = [(begin & (adc.ref == 1), on.any()), (stage[0] & (top == 3), made[:2]),
                      (stage[1] & (top == 7), Mux(total[3:].any(), 7, total[:3])),
                      (stage[2] & (top > 7), Mux(over, top, count))]
        # The code is the OR of one register per stage that makes codes (`stage_code_a{i}` .. `_d{i}`): a stage
        # writes its code into its own register and clears the others', so at most one holds a nonzero code,
        # the code of the last conversion whose code was made (it changes once a conversion, as a single
        # register would). No stage's logic ends in a multiplexer of the others' codes (stage A's cell read
        # and OR, stage C's sum: `sws_soc`'s critical paths into one code register, docs/results/controller.md,
        # tenth round); one OR of flip-flops lies between them and the ADC's output. At most one write is
        # enabled in a cycle: the later stages' writes are of one `top`, and a start comes no sooner than its
        # code is made (else "conversion shorter than its code").
        regs = []
        for k, (write, value) in enumerate(writes):
            if bipolar and k == 0:      # a 1-bit signed code is 0: stage B's register alone, cleared then
                continue
            width = p.code_width if bipolar else min(p.code_width, len(Value.cast(value)))
            reg = Signal(width, name=f"stage_code_{'abcd'[k]}{i}")
            others = [w for kk, (w, _) in enumerate(writes) if kk != k]
            with m.If(write):
                m.d.sync += reg.eq(value)
            with m.Elif(functools.reduce(operator.or_, others)):
                m.d.sync += reg.eq(0)
            regs.append(reg)
        code = Signal(p.code_width, name=f"code{i}")
        m.d.comb += code.eq(functools.reduce(operator.or_, regs))
        cells = Signal(range(R + 1), name=f"cells_read{i}")
        m.d.sync += cells.eq(Mux(stage[2], ones, 0))
        last = 2 if bipolar else 4      # the stage that makes the code, the last one
        short = begin & (adc.res + extra < Mux(adc.ref < last, adc.ref, last))
        m.d.comb += [adc.code.eq(code), adc.done.eq(done)]
        return busy & (left != 1), bad_start, withdrawn, cells, short


class BankedArray(wiring.Component):
    """The array side of a B-bank controller's array interfaces (`bus[b]`): an `ArrayEmulator` per bank on
    the cells of that bank's sections (mapper.plan.banks), each with its own section, drive and ADCs.

    Parameters
    ----------
    params : TileParams
        Hardware (B = banks > 1) and the layer's table depths.
    plan : LayerPlan
        The layer; bank b's emulator holds the cells of `mapper.plan.banks.bank_plans(plan)[b]`.
    extra_latency : int
        Test only: as ArrayEmulator's.

    Attributes
    ----------
    bus : Out(ArraySignature(array_side=True)).array(B)
        Bank b's array interface, from the array's side.
    violation : Out(len(VIOLATIONS))
        The banks' sticky protocol violations, ORed (ArrayEmulator's).
    """

    def __init__(self, params: TileParams, plan: LayerPlan, *, extra_latency: int = 0, done_mode: str = "level",
                 write_latency: int = 1, write_random: int = 0):
        params.fits(plan)
        self.params, self.plan, self.extra_latency, self.done_mode = params, plan, extra_latency, done_mode
        self.write_options = {"write_latency": write_latency, "write_random": write_random}
        super().__init__({"bus": Out(ArraySignature(params, array_side=True)).array(params.hw.banks),
                          "violation": Out(len(VIOLATIONS))})

    def elaborate(self, platform):
        m = Module()
        flags = []
        for b, blp in enumerate(bank_plans(self.plan)):
            emu = m.submodules[f"bank{b}"] = ArrayEmulator(self.params.bank(blp), blp, extra_latency=self.extra_latency,
                                                           done_mode=self.done_mode, **self.write_options)
            connect_array(m, self.bus[b], emu.bus)
            flags.append(emu.violation)
        # A rule broken on any bank: the banks' sticky flags, ORed.
        m.d.comb += self.violation.eq(functools.reduce(operator.or_, flags))
        return m


def popcount(value) -> object:
    """The number of 1 bits of `value` (an adder tree)."""
    return tree_sum(value[r] for r in range(len(value)))


def _lanes(rows: int) -> int:
    """The lanes of four rows each of `rows` rows: a power of two, at least 2."""
    lanes = 2
    while 4 * lanes < rows:
        lanes *= 2
    return lanes


def count4_planes(word, start: int, lanes: int, rows: int) -> object:
    """The number of 1 bits of each lane's four rows (lane j: rows j, j + lanes, j + 2 lanes, j + 3 lanes
    of the `rows` bits of `word` from bit `start`), 3 planes of `lanes` bits: gates, each bit one 4-input
    LUT (an adder would be a carry chain)."""
    def plane(k):
        lo, hi = start + k * lanes, start + min((k + 1) * lanes, rows)
        if hi <= lo:
            return Const(0, lanes)
        return word[lo:hi] if hi - lo == lanes else Cat(word[lo:hi], Const(0, lanes - (hi - lo)))
    q = [plane(k) for k in range(4)]
    x, y, u, v = q[0] ^ q[1], q[0] & q[1], q[2] ^ q[3], q[2] & q[3]
    carry = x & u
    return Cat(x ^ u, y ^ v ^ carry, (y & v) | ((y ^ v) & carry))


def add_halves(planes, bits: int, lanes: int) -> object:
    """The lane-wise sum of the lower and the upper half of the lanes of `planes` (`bits` planes of `lanes`
    bits, a number a lane): `bits` + 1 planes of lanes / 2 bits, a ripple of gates over the planes."""
    half = lanes // 2
    a = [planes[k * lanes:k * lanes + half] for k in range(bits)]
    b = [planes[k * lanes + half:(k + 1) * lanes] for k in range(bits)]
    out, carry = [], None
    for k in range(bits):
        if carry is None:
            out.append(a[k] ^ b[k])
            carry = a[k] & b[k]
        else:
            out.append(a[k] ^ b[k] ^ carry)
            carry = (a[k] & b[k]) | ((a[k] ^ b[k]) & carry)
    return Cat(*out, carry)


def saturated_count3(m, name: str, c4, lanes: int) -> Signal:
    """min(popcount, 3), 2 bits, from the four rows' counts `c4` (3 planes of `lanes` lanes, count4_planes):
    each lane's count saturated, then halves added saturating, min(a + b, 3), until one lane is left (each
    bit one 4-input LUT a level). Each level is one signal of its two planes."""
    level = Signal(2 * lanes, name=f"{name}_0")
    c0, c1, c2 = (c4[k * lanes:(k + 1) * lanes] for k in range(3))
    m.d.comb += level.eq(Cat(c0 | c2, c1 | c2))
    depth = 0
    while lanes > 1:
        half, depth = lanes // 2, depth + 1
        a0, b0, a1, b1 = level[:half], level[half:lanes], level[lanes:lanes + half], level[lanes + half:]
        nxt = Signal(2 * half, name=f"{name}_{depth}")
        # a + b >= 2: a1 | b1 | a0 b0; odd or >= 3: (a0 ^ b0) | a1 (b0 | b1) | b1 (a0 | a1).
        m.d.comb += nxt.eq(Cat((a0 ^ b0) | (a1 & (b0 | b1)) | (b1 & (a0 | a1)), a1 | b1 | (a0 & b0)))
        level, lanes = nxt, half
    return level


def array_emulator(params: TileParams, plan: LayerPlan | None, *, extra_latency: int = 0,
                   done_mode: str = "level", write_latency: int = 1, write_random: int = 0) -> wiring.Component:
    """The array side of a controller of these parameters: an ArrayEmulator, or with B > 1 banks a
    BankedArray."""
    kw = {"extra_latency": extra_latency, "done_mode": done_mode, "write_latency": write_latency,
          "write_random": write_random}
    if params.hw.banks == 1:
        return ArrayEmulator(params, plan, **kw)
    return BankedArray(params, plan, **kw)
