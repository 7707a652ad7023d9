"""The crossbar controller: runs a plan's sections through the array interface and accumulates the outputs.

Per input vector: LOAD takes K inputs from the stream; RUN walks the sections; OUT streams N outputs.
In RUN the prefetch (`hwgen.prefetch`) gathers section s+1 into its `next` buffer while the scheduler
(`hwgen.scheduler`) converts section s, batch by batch and plane by plane, and the accumulator
(`hwgen.accumulate`) adds the finished batches into the output words, which the output streamer
(`hwgen.output`) then streams. The schedule depends on the plan only, never on the input values, except on
input-aware hardware (the scheduler skips the steps that drive no row and shortens conversions, from the
step popcounts the prefetch counts): `sim.golden.cycle_model` predicts it.
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, Value
from amaranth.hdl import ResetInserter
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from mapper.common import SwsError
from mapper.plan import LayerPlan, bank_plans

from .accumulate import Accumulate
from .cell_write import CellWriter
from .counters import EventCounters
from .host import HostConfig
from .interface import ERRORS, RawCodeSignature, bank_buses, bus_member, event_layout, host_members
from .output import MergeStreamer, OutputStreamer
from .params import TileParams
from .phases import VectorPhases
from .power import PowerControl
from .prefetch import Prefetch
from .scheduler import Scheduler

__all__ = ["Controller"]


class Controller(wiring.Component):
    """The controller's top: the vector's phases (`hwgen.phases.VectorPhases`), the host's writes
    (`hwgen.host.HostConfig`: the layer register of a generic netlist, the timing registers), the error
    state, the counters (`hwgen.counters.EventCounters`) and the banks wired together.

    Latency: after reset, n_words cycles clearing the accumulators; then per vector ceil(K / W) beats to
    load, the RUN time of `mapper.schedule.cycle_model`, and 1 + merge_depth(B) + ceil(N / W) cycles to
    stream the outputs (with a stall-free input and output stream). One vector at a time, or with
    `double_buffer` the next vector loading while the current one runs (`mapper.schedule.vector_ends`).

    With B = `banks` > 1 (a baked plan only) each bank is a Prefetch, Scheduler and Accumulate of its own
    on its sections (`mapper.plan.banks`), with its own array interface `bus[b]`; the inputs go to every bank,
    RUN ends when every bank is done, and a `MergeStreamer` adds the banks' sums.

    Errors (docs/design.md section 6, "Errors and reset"): a done missing or out of its protocol (a bank's
    `AdcHandshake`), a host write while a vector is in progress, or a host value out of range sets its
    sticky bit of `status.errors` (`ERRORS`); while any is set the datapath (banks, streamer, phases) is
    held in reset, so the controller takes no input and offers no output, and its array interface is
    idle, until the host's `status.clear`. The configuration, the timing registers and the counters keep.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        With a plan, the ROMs are initialized from it and the netlist is specific to it; without, the
        ROMs are empty and written through `prog`, and one netlist serves any plan that fits `params`.

    Attributes
    ----------
    i : In(stream.Signature(beat_shape(signed(A), W)))
        Input stream, W inputs per beat, ceil(K / W) beats per vector.
    o : Out(OutputStreamSignature(beat_shape(signed(acc_width), W)))
        Output stream, W outputs per beat, ceil(N / W) beats per vector, in output order; `last` marks a
        vector's last beat.
    bus : Out(ArraySignature), or Out(ArraySignature).array(B) with B > 1 banks
        The array interface (docs/design.md section 6), every output a register: section, row drive,
        the front phases (pch, wl_en, sh), the cell-write port (wr_en, wr_addr, wr_data: a generic
        netlist's `prog` cell writes, one cycle later) and the ADCs `adc[i]` (start/res/ref/col/done/code).
    counters : Out(CounterSignature)
        Running totals since reset or `clear`, read through `snapshot`.
    status : Out(StatusSignature)
        Errors, configured, busy; `clear`.
    timing : In(TimingSignature)
        Writes of the timing registers (reset values: `params.timing`).
    prog : In(ProgSignature)
        Generic netlist only: ROM and layer-register writes.
    test : In(RawCodeSignature)
        With `test_port` only: the raw-code test mode (one conversion, its code returned unaccumulated;
        counted in `conversions`, not in `planes`).
    power : In(PowerSignature)
        With `MacroTiming.power` only: the macro's enable and sleep (`hwgen.power.PowerControl`): the bus's
        `en` and `sleep`, and the first walk after a wake held `MacroTiming.wake` cycles.
    """

    def __init__(self, params: TileParams, plan: LayerPlan | None = None, *, test_port: bool = False):
        if plan is not None:
            params.fits(plan)
        if params.hw.banks > 1 and plan is None:
            self._MustUse__silence = True      # refused, never elaborated: no "created but never used"
            raise SwsError(f"banks {params.hw.banks}: a generic netlist has one bank (the section-to-bank "
                           "assignment is baked from a plan); use banks 1 or a plan")
        self.params = params
        self.plan = plan
        self.test_port = test_port
        super().__init__({**host_members(params, plan is None), "bus": bus_member(params),
                          **({"test": In(RawCodeSignature(params))} if test_port else {})})

    def _halt_copy(self, name):
        """A copy of `halt` for one part of the datapath (`_errors` loads it as `halt`), its reset."""
        copy = Signal(name=f"halt_{name}")
        self._halts[name] = copy
        return copy

    def _banks(self, m, host):
        """Each bank's (prefetch, scheduler, accumulate), wired together and to its array interface, each
        held in reset while its copy of `halt`."""
        p, plan, B = self.params, self.plan, self.params.hw.banks
        parts = [(p, plan)] if B == 1 else [(p.bank(blp), blp) for blp in bank_plans(plan)]
        buses = bank_buses(self.bus, p)
        banks = []
        for b, ((pb, blp), bus) in enumerate(zip(parts, buses)):
            sfx = "" if B == 1 else f"_{b}"
            pre, acc = Prefetch(pb, blp), Accumulate(pb)
            # The raw-code test port reaches bank 0's scheduler.
            sch = Scheduler(pb, test_port=self.test_port and b == 0)
            for name, part in (("prefetch", pre), ("scheduler", sch), ("accumulate", acc)):
                m.submodules[name + sfx] = ResetInserter(self._halt_copy(name + sfx))(part)
            if self.test_port and b == 0:
                wiring.connect(m, wiring.flipped(self.test), sch.test)
                m.d.comb += sch.test_hold.eq(host.front_loading)
            wiring.connect(m, pre.next, sch.next)
            wiring.connect(m, sch.batch, acc.batch)
            m.d.comb += [sch.timing.eq(host.front), sch.mode.eq(host.mode), sch.watchdog.eq(host.watchdog)]
            m.d.comb += [getattr(bus, name).eq(getattr(sch.bus, name))
                         for name in ("section", "drive", "pch", "wl_en", "sh") + (("drive_neg",) if p.bipolar else ())]
            m.d.comb += sch.bus.cell_reads.eq(bus.cell_reads)
            for s, o in zip(sch.bus.adc, bus.adc):     # (wiring.connect takes no array of interfaces)
                wiring.connect(m, s, wiring.flipped(o))
            banks.append((pre, sch, acc))
        return banks

    def elaborate(self, platform):
        m = Module()
        p, generic, B = self.params, self.plan is None, self.params.hw.banks
        # `halt` (some error bit set) is a register of its own, loaded with the OR of the error bits' next
        # value (`_errors`): the same cycles as `errors.any()`, without an OR and the long routes of a
        # reset that reaches every bank's register behind it (docs/results/controller.md). Each part of
        # the datapath (the phases, each bank's prefetch, scheduler and accumulator, the streamer) is
        # reset by a copy of its own (`halt_<part>`, loaded as `halt` is, from its own value, so that
        # synthesis keeps the copies apart): shorter reset nets, each placed near its part.
        errors, halt = Signal(len(ERRORS), name="errors"), Signal(name="halt")
        self._halt, self._halts = halt, {}
        phases = VectorPhases(p)
        m.submodules.phases = ResetInserter(self._halt_copy("phases"))(phases)
        m.submodules.host = host = HostConfig(p, generic, len(phases.k))
        banks = self._banks(m, host)
        walk, power = self._power(m, phases, halt, banks)
        out = OutputStreamer(p) if B == 1 and p.beat == 1 else MergeStreamer(p)
        m.submodules.output = ResetInserter(self._halt_copy("output"))(out)
        reads = [out.read] if B == 1 and p.beat == 1 else list(out.read)
        for rd, (_, _, acc) in zip(reads, banks, strict=True):
            wiring.connect(m, rd, acc.read)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        wiring.connect(m, wiring.flipped(self.timing), host.timing)
        if generic:
            wiring.connect(m, wiring.flipped(self.prog), host.prog)
            wiring.connect(m, host.table, banks[0][0].prog)
            self._cell_writes(m, host)
        m.d.comb += [host.idle.eq(phases.idle), out.n_out.eq(host.n_out), out.start.eq(phases.out_start),
                     phases.i_valid.eq(self.i.valid), self.i.ready.eq(phases.i_ready),
                     phases.acc_ready.eq(_all(acc.ready for _, _, acc in banks)), phases.configured.eq(host.configured),
                     phases.out_done.eq(out.done), phases.k_len.eq(host.k_len), phases.k_stop.eq(host.k_stop),
                     phases.layer_we.eq(host.layer_we), phases.k_one.eq(host.k_one),
                     phases.run_done.eq(self._run_done(m, banks, walk) & ~power.holding if power
                                        else self._run_done(m, banks, walk))]
        # The inputs go to every bank's input buffer.
        for pre, _, _ in banks:
            m.d.comb += [pre.load_addr.eq(phases.k), pre.load_data.eq(Value.cast(self.i.payload)),
                         pre.load_en.eq(phases.load_en), pre.start.eq(walk),
                         pre.n_sec.eq(host.n_sec if B == 1 else pre.params.section_depth)]
            if p.hw.double_buffer:
                m.d.comb += [pre.load_sel.eq(phases.lsel), pre.run_sel.eq(phases.rsel)]
            else:
                m.d.comb += pre.loading.eq(phases.loading)
        self._idle = phases.idle
        self._errors(m, errors, host, banks, power)
        self._counters(m, banks, phases, host)
        return m

    def _cell_writes(self, m, host):
        """The cell writes to the array interface: as the host config registers them (one cycle of wr_en),
        or with program-and-verify cells (`MacroTiming.write_ack`) through `hwgen.cell_write.CellWriter`'s
        four-phase handshake, its busy reported (`status.write_busy`) and refusing programming writes."""
        bus = self.bus
        if not self.params.timing.write_ack:
            m.d.comb += [bus.wr_en.eq(host.wr_en), bus.wr_addr.eq(host.wr_addr), bus.wr_data.eq(host.wr_data)]
            return
        m.submodules.cell_write = cw = CellWriter(len(bus.wr_addr), len(bus.wr_data))
        m.d.comb += [cw.req.eq(host.wr_en), cw.addr.eq(host.wr_addr), cw.data.eq(host.wr_data),
                     cw.wr_ack.eq(bus.wr_ack), cw.wr_busy.eq(bus.wr_busy), bus.wr_en.eq(cw.wr_en),
                     bus.wr_addr.eq(cw.wr_addr), bus.wr_data.eq(cw.wr_data), host.write_busy.eq(cw.busy),
                     self.status.write_busy.eq(cw.busy)]

    def _power(self, m, phases, halt, banks):
        """With power control (`MacroTiming.power`): `en` and `sleep` to every bank's macro and the wake-up
        gate on the walk (`hwgen.power.PowerControl`). Returns (the walk's start, the PowerControl or None)."""
        if not self.params.timing.power:
            return phases.start, None
        m.submodules.power = pwr = PowerControl(self.params.timing.wake)
        wiring.connect(m, wiring.flipped(self.power), pwr.power)
        m.d.comb += [pwr.idle.eq(phases.idle), pwr.start.eq(phases.start), pwr.halt.eq(halt)]
        for bus in bank_buses(self.bus, self.params):
            m.d.comb += [bus.en.eq(pwr.en), bus.sleep.eq(pwr.sleep)]
        return pwr.start_out, pwr

    def _run_done(self, m, banks, start):
        """RUN is over: every bank's prefetch idle and its scheduler and accumulator not busy. With B > 1
        banks each bank's flag is a register (cleared at `start`), so the AND of B flags spread over the
        device starts at flip-flops (`mapper.schedule.run_end_latency`: one cycle later)."""
        flags = [pre.idle & ~sch.busy & ~acc.busy for pre, sch, acc in banks]
        if len(banks) == 1:
            return flags[0]
        done = [Signal(name=f"bank_done{b}") for b in range(len(banks))]
        m.d.sync += [d.eq(f & ~start) for d, f in zip(done, flags)]
        return _all(done)

    def _errors(self, m, errors, host, banks, power):
        """The sticky error bits (`ERRORS`), set by the banks' and the host writes' checks, cleared by the
        host; the status port."""
        st = self.status
        pulses = {"done_missing": [sch.missing for _, sch, _ in banks],
                  "done_protocol": [sch.unexpected for _, sch, _ in banks],
                  "host_protocol": [host.host_protocol] + ([power.refused] if power else []),
                  "out_of_range": [host.out_of_range, banks[0][1].bad_request]}
        now = Cat(Cat(pulses[name]).any() for name in ERRORS)
        after = Mux(st.clear, now, errors | now)
        # after.any() = now.any() | (~clear & errors.any()), and errors.any() is `halt` itself.
        # The copies of `halt` likewise, each from itself: equal to `halt` in every cycle.
        m.d.sync += [errors.eq(after), *[h.eq(now.any() | (~st.clear & h))
                                         for h in (self._halt, *self._halts.values())]]
        m.d.comb += [st.errors.eq(errors), st.error.eq(errors.any()), st.configured.eq(host.configured),
                     st.busy.eq(~self._idle)]

    def _counters(self, m, banks, phases, host):
        """The event counters: each bank's events (its scheduler's, prefetch's and accumulator's) and the
        streams' elements."""
        B = self.params.hw.banks
        m.submodules.counters = ctr = EventCounters(self.params, B + 1)
        for b, (pre, sch, acc) in enumerate(banks):
            ev = Signal(event_layout(self.params), name=f"bank_events{b}")
            m.d.comb += [ev.eq(Value.cast(sch.events) | Value.cast(pre.events)), ev.flushes.eq(acc.flushes),
                         ctr.inc[b].eq(ev)]
        m.d.comb += ctr.cycle.eq(phases.count)
        W = self.params.beat
        if W == 1:
            m.d.comb += [ctr.inc[B].inputs.eq(self.i.valid & self.i.ready),
                         ctr.inc[B].outputs.eq(self.o.valid & self.o.ready)]
        else:
            # The streams' elements, a register behind the beats: W a beat, on a vector's last beat only its
            # elements ((K - 1) mod W + 1, (N - 1) mod W + 1, registers; phases' k_last and o.last are too).
            ins = Signal.like(ctr.inc[B].inputs, name="input_elements")
            outs = Signal.like(ctr.inc[B].outputs, name="output_elements")
            n_tail = Signal(range(W + 1), name="n_tail")
            m.d.sync += [n_tail.eq((host.n_out - 1)[:W.bit_length() - 1] + 1),
                         ins.eq(Mux(self.i.valid & self.i.ready, Mux(phases.k_last, host.k_tail, W), 0)),
                         outs.eq(Mux(self.o.valid & self.o.ready, Mux(self.o.last, n_tail, W), 0))]
            m.d.comb += [ctr.inc[B].inputs.eq(ins), ctr.inc[B].outputs.eq(outs)]
        wiring.connect(m, ctr.counters, wiring.flipped(self.counters))


def _all(values):
    """The AND of one-bit values."""
    out = Const(1)
    for v in values:
        out = out & v
    return out
