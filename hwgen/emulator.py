"""A synthesizable stand-in for the analog macro: the crossbar cells and a bank of variable-resolution SAR ADCs."""

from __future__ import annotations

import functools
import operator

from amaranth import Cat, Module, Mux, Signal, unsigned
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
              "array used while disabled or asleep", "precharge before the wake-up")

#: The bits of the electrical interface's rules (docs/design.md section 6, "Electrical interface").
_WL_PCH, _SAMPLE_WL, _CHANGED_WRITE, _BUSY_WRITE, _OFF, _EARLY = (VIOLATIONS.index(r) for r in (
    "wordline while precharge", "sample while wordline", "write request changed before its acknowledge",
    "write while the macro is busy", "array used while disabled or asleep", "precharge before the wake-up"))

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
    held until the ADC's next start. With the bipolar drive (`drive_neg`: the rows of `drive` driven -1) the
    count is signed, popcount(column & drive & ~drive_neg) - popcount(column & drive & drive_neg), and the
    code, two's complement, saturates at -(2**(ref-1) - 1) and 2**(ref-1) - 1.

    `bus.cell_reads` reports the cells each conversion reads, for the controller's counter: at a
    conversion's start, the popcount of the column word it reads (its 1-cells on the section's rows, whatever
    the drive) goes into a register, and the ADCs' registers are summed four a level (`pipelined_sum`).

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
    wordline is on, or fewer than G cycles after it fell. The simulators fail a run that ends with a violation. Rules
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
        busy_start, converting, withdrawals, read = [], [], [], []
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
            if bipolar:     # the rows driven +1 minus those driven -1, on the column's 1-cells
                live = (tree_sum((rp.data & drive & ~neg)[r] for r in range(cfg.rows))
                        - tree_sum((rp.data & drive & neg)[r] for r in range(cfg.rows)))
            else:
                live = tree_sum((rp.data & drive)[r] for r in range(cfg.rows))
            busy, bad_start, withdrawn, begin = self._adc(m, i, adc, live)
            # The cells a conversion reads: its column's 1-cells on the section's rows (every row, whatever
            # the drive: the energy model's cell reads), into a register as the conversion begins.
            ones = Signal(range(cfg.rows + 1), name=f"cells_read{i}")
            m.d.sync += ones.eq(Mux(begin, tree_sum(rp.data[r] for r in range(cfg.rows)), 0))
            read.append(ones)
            busy_start.append(bad_start)
            converting.append(busy)
            withdrawals.append(withdrawn)
        total, _ = pipelined_sum(m, "cells_read_sum", read)
        m.d.comb += bus.cell_reads.eq(total)
        any_start = Cat(adc.start for adc in bus.adc).any()
        m.d.comb += [flag[0].eq(Cat(busy_start).any()), flag[5].eq(Cat(withdrawals).any())]
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

    def _adc(self, m, i, adc, live):
        """ADC i. Returns (it converts, it is started while busy, its start is withdrawn while it converts,
        a conversion begins)."""
        p, cfg, tm = self.params, self.params.hw, self.params.timing
        extra = self.extra_latency
        left = Signal(range(p.conv_bits + extra + 1) if extra else p.res_width, name=f"left{i}")
        busy = Signal(name=f"busy{i}")
        # The count is computed once per sample instead of being re-evaluated by simulation while it runs.
        count = Signal(range(-cfg.rows, cfg.rows + 1) if p.bipolar else range(cfg.rows + 1), name=f"count{i}")
        top = Signal(p.code_width, name=f"top{i}")
        begin = Signal(name=f"begin{i}")
        if tm.sync:
            # Four-phase: a start seen high while idle (done low, start seen low since the last conversion)
            # begins a conversion; done rises `res` cycles later, as counted mode's, and (a level) holds
            # until the start is seen low.
            held, rearm = Signal(name=f"done_held{i}"), Signal(name=f"need_low{i}")
            done = Signal(name=f"done{i}")
            finishing = busy & (left == 1)
            m.d.comb += [done.eq(finishing | held), begin.eq(adc.start & ~busy & ~done & ~rearm)]
            with m.If(begin):
                m.d.sync += rearm.eq(1)
            with m.Elif(~adc.start):
                m.d.sync += rearm.eq(0)
            if self.done_mode == "level":
                with m.If(finishing & adc.start):
                    m.d.sync += held.eq(1)
                with m.Elif(~adc.start):
                    m.d.sync += held.eq(0)
            start_prev = Signal(name=f"start_prev{i}")
            m.d.sync += start_prev.eq(adc.start)
            bad_start = adc.start & ~start_prev & (busy | held)
            withdrawn = ~adc.start & busy
        else:
            m.d.comb += begin.eq(adc.start)
            done = busy & (left == 1)
            bad_start, withdrawn = adc.start & busy & (left != 1), 0
        with m.If(begin):
            m.d.sync += [left.eq(adc.res + extra if extra else adc.res), busy.eq(1), count.eq(live)]
            with m.Switch(adc.ref):     # the full scale; bipolar, the sign bit is one of the ref bits
                for bits in range(1, p.conv_bits + 1):
                    with m.Case(bits):
                        m.d.sync += top.eq(2 ** (bits - cfg.sign_bits) - 1)
        with m.Elif(busy):
            m.d.sync += left.eq(left - 1)
            with m.If(left == 1):
                m.d.sync += busy.eq(0)
        if p.bipolar:
            m.d.comb += adc.code.eq(Mux(count > top, top, Mux(count < -top, -top, count)))
        else:
            m.d.comb += adc.code.eq(Mux(count > top, top, count))
        m.d.comb += adc.done.eq(done)
        return busy & (left != 1), bad_start, withdrawn, begin


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


def array_emulator(params: TileParams, plan: LayerPlan | None, *, extra_latency: int = 0,
                   done_mode: str = "level", write_latency: int = 1, write_random: int = 0) -> wiring.Component:
    """The array side of a controller of these parameters: an ArrayEmulator, or with B > 1 banks a
    BankedArray."""
    kw = {"extra_latency": extra_latency, "done_mode": done_mode, "write_latency": write_latency,
          "write_random": write_random}
    if params.hw.banks == 1:
        return ArrayEmulator(params, plan, **kw)
    return BankedArray(params, plan, **kw)
