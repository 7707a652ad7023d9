"""The ADC bank's start and done as the scheduler sees them: the start registers, each ADC's done taken
(counted, or a four-phase handshake through synchronizer flip-flops) and checked, and when the bank is
free for the next batch (docs/design.md section 6, `MacroTiming`)."""

from __future__ import annotations

from amaranth import Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

from mapper.schedule import WATCHDOG_MAX

from .params import TileParams

__all__ = ["MODE_LAYOUT", "PERIOD_WIDTH", "PROTOCOL_GROUP", "AdcHandshake", "mode_of"]

#: Bits of a counted period: the bank's wait counter (`AdcHandshake.wait`), its `period` input and the
#: registers that make it (`hwgen.batches.period_parts`).
PERIOD_WIDTH = 10

#: ADCs a group for the out-of-protocol done check (`AdcHandshake.protocol`): a register per group holds
#: the OR of its ADCs' condition, so `done_protocol` is an OR of ceil(n_adc / 4) flip-flops, not of the
#: ADCs' logic (docs/results/controller.md, thirteenth round).
PROTOCOL_GROUP = 4

#: The timing register's done mode one-hot, decoded when the timing word is written (hwgen.host), so that
#: every select of the done as taken is a LUT of flip-flops (docs/results/controller.md): `counted` (sync
#: 0), `one` (1, one flip-flop), `two` (2, the two-flop synchronizer).
MODE_LAYOUT = data.StructLayout({"counted": 1, "one": 1, "two": 1})


def mode_of(sync: int) -> dict:
    """The `MODE_LAYOUT` fields of the timing word's `sync` (0, 1 or 2)."""
    return {"counted": int(sync == 0), "one": int(sync == 1), "two": int(sync == 2)}


class AdcHandshake(wiring.Component):
    """The n_adc ADCs' start, res and ref registers, loaded on `fire`, and their done, in the mode of the
    timing register `sync`.

    Counted (`sync` 0): every start is a one-cycle pulse; the bank is free `period` cycles after an issue
    (a down-counter loaded with the issued batch's period, `MacroTiming.period`), never looking at done
    for it. Each done must come exactly `res` cycles after its start: when the batch's longest conversion
    is due and one of its ADCs has not been done, `missing` (a late or missing done); a done of an ADC
    with no conversion running, `unexpected` the cycle after (`protocol`).

    Handshake (`sync` 1 or 2, four-phase): done is taken through one flip-flop (1) or a two-flop
    `amaranth.lib.cdc.FFSynchronizer` (2); each start is held high until its done is seen, then falls; the
    batch is complete when every ADC's done has been seen, and the bank is free the cycle after every done
    is seen low again (`free` is a register, `mapper.schedule.FREE_DELAY`; so done may be a pulse or a
    level held until start falls). A wait for done to rise, or to fall,
    longer than `watchdog` cycles raises `missing` or `unexpected` (a done stuck high); a done taken of an
    ADC outside the batch while it is outstanding raises `unexpected` the cycle after (`protocol`).

    `complete` is high in the cycle the batch's last ADC's done is seen, when its codes are there (an ADC
    holds its code until its next start).

    Attributes
    ----------
    fire : In(1)
        Load the start registers: the ADCs of `starts` start, at `res` bits; `longest` is the batch's
        longest conversion.
    starts, starts_any, res, longest : In
        (`starts_any`: `starts` has a lane, computed by the issuer.)
    done : In(n_adc)
        The ADCs' done.
    issue, period, short : In
        A batch issued this cycle, (counted) the cycles until the bank takes the next, and whether that
        period is 1 or less (`period <= 1`, computed by the issuer side by side with the period).
    mode, watchdog : In
        The timing registers' done mode (`MODE_LAYOUT`, one-hot) and watchdog.
    start, res_out : Out
        The start and res (= ref) registers, to the array interface.
    started, inflight, complete, free : Out(1)
        Some ADC started (a register, the cycle the starts are on the bus); a batch started and not yet
        complete; the batch completes this cycle; the bank takes the next issue this cycle.
    free_next : Out(1)
        `free` in the next cycle (from this cycle's `issue`, `short` and state; the mode does not change
        while a section is issued), so the issuer can register its issue a cycle ahead.
    missing, unexpected : Out(1)
        A done did not come in time; a done came when none was due, or stuck high.
    protocol : Out(ceil(n_adc / PROTOCOL_GROUP))
        Per group of `PROTOCOL_GROUP` ADCs, a register: in the cycle before, some ADC of the group had a
        done out of protocol (counted: a done with no conversion pending; handshake, while a batch is
        outstanding and its dones not returning: a done taken outside the batch). `unexpected` is their
        OR (with the watchdog's stuck done), one cycle after the done that raises it.
    pending, returning, outstanding, waited, waited_inc, seen, hand_complete, seen_any, batch, late,
    due_zero, check, wait, wait_zero : Out
        The ADCs started whose done is not yet seen; (handshake) the batch is complete and its dones
        are to fall; a batch is issued and its handshake not over; the watchdog's count and the count plus
        one (a register); the dones as
        taken; (handshake, registers) every ADC pending has its done taken, some done is taken high;
        (handshake) the batch's ADCs; the watchdog's count at
        its limit (`waited >= watchdog`, a register); (counted) the batch's longest conversion is due, and
        the ADCs whose done is due now (`pending` then, a register); (counted) the bank's wait counter (the
        cycles it stays busy, plus one) and `wait <= 1` from registers (the state the formal proof's
        invariants name, tests/hwgen/formal.py).
    """

    def __init__(self, params: TileParams):
        self.params = params
        NA, rw, FR = params.hw.n_adc, params.res_width, params.conv_bits
        super().__init__({
            "fire": In(1), "starts": In(NA), "starts_any": In(1), "res": In(data.ArrayLayout(rw, NA)),
            "longest": In(range(FR + 1)),
            "done": In(NA), "issue": In(1), "period": In(PERIOD_WIDTH), "short": In(1), "mode": In(MODE_LAYOUT),
            "watchdog": In(range(WATCHDOG_MAX + 1)),
            "start": Out(NA), "res_out": Out(data.ArrayLayout(rw, NA)),
            "started": Out(1), "inflight": Out(1), "complete": Out(1), "free": Out(1), "free_next": Out(1),
            "missing": Out(1), "unexpected": Out(1),
            "pending": Out(NA), "returning": Out(1), "outstanding": Out(1), "waited": Out(range(WATCHDOG_MAX + 1)),
            "waited_inc": Out(range(WATCHDOG_MAX + 2), init=1),
            "seen": Out(NA), "hand_complete": Out(1, init=1), "seen_any": Out(1),
            "protocol": Out(-(-NA // PROTOCOL_GROUP)),
            "batch": Out(NA), "late": Out(1), "due_zero": Out(1), "check": Out(NA), "wait_zero": Out(1),
            "wait": Out(PERIOD_WIDTH, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        NA, mode = self.params.hw.n_adc, self.mode
        hand = Signal()
        m.d.comb += hand.eq(~mode.counted)
        # Done as taken: counted mode the done itself; handshake through one flip-flop or a synchronizer.
        # Like the synchronizer's flip-flops, the registered done keeps through a reset (it is the ADC's).
        done1, done2, seen = Signal(NA, name="done_reg", reset_less=True), Signal(NA, name="done_sync"), self.seen
        m.d.sync += done1.eq(self.done)
        m.submodules.done_sync = FFSynchronizer(self.done, done2, stages=2)
        taken = Signal(NA, name="done_taken")      # handshake: the done through its flip-flop(s)
        m.d.comb += [taken.eq(Mux(mode.one, done1, done2)), seen.eq(Mux(mode.counted, self.done, taken))]

        # The starts: pulses (counted), or held until their done is seen (handshake).
        m.d.sync += [self.start.eq(Mux(self.fire, self.starts, Mux(hand, self.start & ~seen, 0))),
                     self.started.eq(self.fire & self.starts_any)]
        with m.If(self.fire):
            m.d.sync += self.res_out.eq(self.res)
        pending = self.pending        # started, done not yet seen: all zero when nothing is in flight
        # Every ADC started has been seen. Counted: the AND over the ADCs of the pending register and the
        # done. Handshake: the same AND of the done as taken, a register computed the cycle before from
        # the pending bits and the done as taken next (`taken_next`: the done itself through one
        # flip-flop; through the synchronizer, its first flip-flop, which `done_reg` equals), the same
        # cycles; so the mode selects at the end and no select or AND over the ADCs' flip-flops is in
        # front of everything the batch's completion drives (docs/results/controller.md).
        hand_complete = self.hand_complete

        def taken_next(f):
            # f(the done as taken next), each mode's case from its own done side by side and the mode
            # selecting at the end, not in front of the ORs and ANDs over the ADCs.
            return Mux(mode.one, f(self.done), f(done1))
        pending_next = Mux(self.started, self.start, pending & ~taken)      # handshake: seen is taken
        m.d.sync += hand_complete.eq(taken_next(lambda t: (~pending_next | t).all()))
        m.d.comb += self.complete.eq(self.inflight & Mux(mode.counted, (~pending | self.done).all(), hand_complete))
        with m.If(self.started):
            m.d.sync += [self.inflight.eq(1), pending.eq(self.start)]
        with m.Else():
            with m.If(self.complete):
                m.d.sync += self.inflight.eq(0)
            m.d.sync += pending.eq(pending & ~seen)
        counted_missing = self._counted(m, pending)
        hand_missing, hand_stuck = self._handshake(m, hand, taken_next)
        self._protocol(m, taken)
        m.d.comb += [self.missing.eq(Mux(hand, hand_missing, counted_missing)),
                     self.unexpected.eq((hand & hand_stuck) | self.protocol.any())]
        return m

    def _protocol(self, m, taken):
        """A done out of protocol, per group of `PROTOCOL_GROUP` ADCs into a register (`protocol`): counted,
        a done of an ADC with no conversion pending; handshake, while a batch is outstanding and its dones
        not returning, a done taken of an ADC outside the batch. Each group's OR over its ADCs, and the
        mode's select, end in the group's register, so `done_protocol` (into `halt` and its copies) is the
        OR of a few flip-flops, not of the ADCs' logic spread over the device: the error comes one cycle
        later (docs/design.md, "Errors and reset"; docs/results/controller.md, thirteenth round). The mode
        is the one of the done's cycle (a done before a mode write is judged by the mode it came in)."""
        counted = self.done & ~self.pending
        stray = taken & ~self.batch
        listening = self.outstanding & ~self.returning
        for g in range(len(self.protocol)):
            lanes = slice(g * PROTOCOL_GROUP, min(self.params.hw.n_adc, (g + 1) * PROTOCOL_GROUP))
            m.d.sync += self.protocol[g].eq(Mux(self.mode.counted, counted[lanes].any(),
                                                listening & stray[lanes].any()))

    def _counted(self, m, pending):
        """Counted mode: the bank's busy cycles, and whether every done comes by its cycle. Returns
        missing (a done of no conversion is `_protocol`'s)."""
        # The cycles the bank stays busy, plus one (loaded with the period, not period - 1: no subtraction
        # after the period's select), free at 1 or below.
        wait = self.wait
        with m.If(self.issue):
            m.d.sync += wait.eq(self.period)
        with m.Elif(wait > 1):
            m.d.sync += wait.eq(wait - 1)
        # The batch's longest conversion is due `longest` cycles after its start: a down-counter loaded
        # when the starts are on the bus (`started`).
        longest, due = Signal.like(self.longest, name="fired_longest"), Signal.like(self.longest, name="due_left")
        with m.If(self.fire):
            m.d.sync += longest.eq(self.longest)
        due_zero = Signal(name="due_zero", init=1)        # `due == 0` as a register (its next value)
        due_zero_next = Signal(name="due_zero_next")
        m.d.comb += due_zero_next.eq(due_zero)
        with m.If(self.started):
            m.d.sync += due.eq(longest - 1)
            m.d.comb += due_zero_next.eq(longest == 1)
        with m.Elif(due != 0):
            m.d.sync += due.eq(due - 1)
            m.d.comb += due_zero_next.eq(due == 1)
        m.d.sync += due_zero.eq(due_zero_next)
        # The ADCs whose done is due now (pending while the batch's longest conversion is due; counted mode
        # only), a register loaded with its next value: `missing` is then an OR over the ADCs of this
        # register and the done, with no AND of the batch's state after it. The same value as
        # `inflight & due_zero & ~complete`: pending is all zero when no batch is in flight.
        check = self.check
        m.d.sync += check.eq(Mux(self.mode.counted & due_zero_next,
                                 Mux(self.started, self.start, pending & ~self.done), 0))
        # `wait <= 1` from registers (its next value's two cases side by side, the issue selecting after
        # them): `short` (the issued batch's `period <= 1`) and `wait <= 2` each into a register, and
        # whether a batch was issued (`bank_issued`). The same cycles (free `period` cycles after an
        # issue; `period` >= 1), with neither the period's compares nor the wait counter's between the
        # issue and the next free (the issue path into the registers' select, docs/results/controller.md).
        issued, short, counting = (Signal(name="bank_issued"), Signal(name="bank_short"),
                                   Signal(name="bank_wait_low", init=1))
        m.d.sync += [issued.eq(self.issue), short.eq(self.short), counting.eq(wait <= 2)]
        m.d.comb += self.wait_zero.eq(Mux(issued, short, counting))
        with m.If(self.mode.counted):
            m.d.comb += [self.free.eq(self.wait_zero), self.free_next.eq(Mux(self.issue, self.short, wait <= 2))]
        m.d.comb += self.due_zero.eq(due_zero)
        return (check & ~self.done).any()

    def _handshake(self, m, hand, taken_next):
        """Handshake mode: the bank free once the batch's dones are low again, and the watchdog. Returns
        (missing, stuck); a done of an ADC outside the batch is `_protocol`'s.

        Only the handshake modes read this state (free, missing and unexpected are selected by the mode,
        and the mode changes only while idle), so it takes the done as the handshake takes it (`taken`;
        `seen` in these modes), and its OR over the ADCs (any done taken high) is a register computed the
        cycle before from `taken_next`, like `hand_complete`: the same cycles, with no OR over the ADCs in
        front of the state and the watchdog. `seen_any` keeps through a reset, as the done's flip-flops do."""
        outstanding, returning, batch = self.outstanding, self.returning, self.batch
        seen_any = Signal(name="seen_any", reset_less=True)
        m.d.comb += self.seen_any.eq(seen_any)
        complete = self.inflight & self.hand_complete         # `complete` in the handshake modes
        returned = returning & ~seen_any
        m.d.sync += seen_any.eq(taken_next(lambda t: t.any()))
        with m.If(self.issue):
            m.d.sync += [outstanding.eq(1), returning.eq(0)]
        with m.Elif(complete):
            m.d.sync += returning.eq(1)
        with m.Elif(returned):
            m.d.sync += [outstanding.eq(0), returning.eq(0)]
        with m.If(self.started):
            m.d.sync += batch.eq(self.start)
        with m.Elif(returned):
            m.d.sync += batch.eq(0)
        # Free, registered (FREE_DELAY, mapper.schedule): every done seen low and no batch outstanding or
        # its dones returned, one cycle ago, and no issue since. The done select, its OR over the ADCs and
        # the handshake's state end here, off the issue path (docs/results/controller.md). Low out of reset.
        free = Signal(name="bank_free")
        free_next = ~self.issue & ~seen_any & (~outstanding | returning)
        m.d.sync += free.eq(free_next)
        with m.If(hand):
            m.d.comb += [self.free.eq(free), self.free_next.eq(free_next)]
        # Waiting for the batch's dones to rise, or for every done to fall before the next start.
        rising, falling = self.inflight & ~complete, seen_any & (returning | ~outstanding)
        dog, late, wd = self.waited, self.late, self.watchdog
        # `late` (the count at the watchdog's limit) a register, its compare made for the count it loads
        # (each case's compare from registers side by side, selected at the end): the same cycles, with no
        # carry chain between the count and the error pulses into `halt` (docs/results/controller.md). The
        # limit is a register the host writes only while the controller is idle; the compare takes the
        # limit of its cycle, so a new limit counts from the cycle after the write.
        # The count plus one is a register too (`waited_inc`, always `waited` + 1): the compare and the count's
        # next value wait for no adder (`sws_soc_controller`'s path, docs/results/controller.md, ninth round).
        inc = self.waited_inc
        with m.If(hand & (rising | falling) & (dog != WATCHDOG_MAX)):
            m.d.sync += [dog.eq(inc), inc.eq(inc + 1), late.eq(inc >= wd)]
        with m.Elif(~(rising | falling)):
            m.d.sync += [dog.eq(0), inc.eq(1), late.eq(wd == 0)]
        with m.Else():
            m.d.sync += late.eq(dog >= wd)
        return rising & late, falling & late
