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

from amaranth import Const, Module, Mux, Signal, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import bank_plans
from mapper.common import SwsError
from mapper.plan import LayerPlan

from .accumulate import Accumulate
from .interface import PROG_SELECT, RawCodeSignature, bank_buses, bus_member, host_members, layer_word_layout
from .output import MergeStreamer, OutputStreamer
from .params import TileParams
from .prefetch import Prefetch
from .scheduler import Scheduler

__all__ = ["Controller"]


class Controller(wiring.Component):
    """The controller's top: the phase of the vector (LOAD, RUN, OUT), the cycle counter, the layer register
    of a generic netlist, and its four components wired together.

    Latency: after reset, n_words cycles clearing the accumulators; then per vector ceil(K / W) beats to
    load, the RUN time of `sim.golden.cycle_model`, and 1 + merge_depth(B) + ceil(N / W) cycles to stream
    the outputs (with a stall-free input and output stream). One vector at a time, or with `double_buffer`
    the next vector loading while the current one runs (`sim.golden.vector_ends`).

    With B = `banks` > 1 (a baked plan only) each bank is a Prefetch, Scheduler and Accumulate of its own
    on its sections (`mapper.plan.banks`), with its own array interface `bus[b]`; the inputs go to every bank,
    RUN ends when every bank is done, and a `MergeStreamer` adds the banks' sums.

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
    o : Out(stream.Signature(beat_shape(signed(acc_width), W)))
        Output stream, W outputs per beat, ceil(N / W) beats per vector, in output order.
    bus : Out(ArraySignature), or Out(ArraySignature).array(B) with B > 1 banks
        The array interface (docs/design.md section 4), every output a register: section, row drive,
        the front phases (pch, wl_en, sh), the cell-write port (wr_en, wr_addr, wr_data: a generic
        netlist's `prog` cell writes, one cycle later) and the ADCs `adc[i]` (start/res/ref/col/done/code).
    counters : Out(CounterSignature)
        Running totals since reset.
    prog : In(ProgSignature)
        Generic netlist only: ROM and layer-register writes.
    test : In(RawCodeSignature)
        With `test_port` only: the raw-code test mode (one conversion, its code returned unaccumulated;
        counted in `conversions`, not in `planes`).
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

    def _banks(self, m):
        """Each bank's (prefetch, scheduler, accumulate), wired together and to its array interface."""
        p, plan, B = self.params, self.plan, self.params.hw.banks
        parts = [(p, plan)] if B == 1 else [(p.bank(blp), blp) for blp in bank_plans(plan)]
        buses = bank_buses(self.bus, p)
        banks = []
        for b, ((pb, blp), bus) in enumerate(zip(parts, buses)):
            sfx = "" if B == 1 else f"_{b}"
            pre = m.submodules[f"prefetch{sfx}"] = Prefetch(pb, blp)
            # The raw-code test port reaches bank 0's scheduler.
            sch = m.submodules[f"scheduler{sfx}"] = Scheduler(pb, test_port=self.test_port and b == 0)
            if self.test_port and b == 0:
                wiring.connect(m, wiring.flipped(self.test), sch.test)
            acc = m.submodules[f"accumulate{sfx}"] = Accumulate(pb)
            wiring.connect(m, pre.next, sch.next)
            wiring.connect(m, sch.batch, acc.batch)
            m.d.comb += [getattr(bus, name).eq(getattr(sch.bus, name)) for name in ("section", "drive", "pch", "wl_en", "sh")]
            for s, o in zip(sch.bus.adc, bus.adc):     # (wiring.connect takes no array of interfaces)
                wiring.connect(m, s, wiring.flipped(o))
            banks.append((pre, sch, acc))
        return banks

    def elaborate(self, platform):
        m = Module()
        p, plan = self.params, self.plan
        banks = self._banks(m)
        pre, sch, acc = banks[0]
        if p.hw.banks == 1 and p.beat == 1:
            m.submodules.output = out = OutputStreamer(p)
            wiring.connect(m, out.read, acc.read)
        else:
            m.submodules.output = out = MergeStreamer(p)
            for rd, (_, _, acc_b) in zip(out.read, banks):
                wiring.connect(m, rd, acc_b.read)
        wiring.connect(m, out.o, wiring.flipped(self.o))
        cnt = self.counters
        if len(banks) == 1:
            m.d.comb += [cnt.sections.eq(pre.sections), cnt.planes.eq(sch.planes), cnt.conversions.eq(sch.conversions)]
        else:
            # The banks' counters added into registers (one cycle behind the banks'): no adder tree on the
            # output ports. A vector's last count is in long before its last output.
            m.d.sync += [cnt.sections.eq(sum(b[0].sections for b in banks)), cnt.planes.eq(sum(b[1].planes for b in banks)),
                         *[cnt.conversions[r].eq(sum(b[1].conversions[r] for b in banks))
                           for r in range(p.hw.full_resolution + 1)]]

        # k counts the vector's input beats (W inputs each).
        lb = p.beat.bit_length() - 1
        k = Signal(range(p.k_words + 1))
        k_last = Signal(init=p.k_words == 1)       # k is the vector's last beat (k == k_len - 1), registered
        if plan is None:
            layer = layer_word_layout(p)
            n_sec, k_len, n_out = Signal(layer["sections"].shape), Signal(range(p.k_words + 1), init=p.k_words), \
                Signal(range(p.n + 1), init=p.n)
            # k_len - 2 (modulo 2**len(k)), a register: k_last's next value is one comparison, no adder.
            k_stop = Signal(len(k), init=(p.k_words - 2) % (1 << len(k)))
            prog = self.prog
            for name in ("we", "sel", "addr", "data"):
                m.d.comb += getattr(pre.prog, name).eq(getattr(prog, name))
            # Cell writes go on to the macro's weight-programming port, registered (one cycle later).
            m.d.sync += [self.bus.wr_en.eq(prog.we & (prog.sel == PROG_SELECT["cells"])),
                         self.bus.wr_addr.eq(prog.addr), self.bus.wr_data.eq(prog.data)]
            with m.If(prog.we & (prog.sel == PROG_SELECT["layer"])):
                word = layer(prog.data[:layer.size])
                beats = (word.k + p.beat - 1) >> lb
                m.d.sync += [n_sec.eq(word.sections), k_len.eq(beats), n_out.eq(word.n), k_last.eq(beats == 1),
                             k_stop.eq(beats - 2)]
        else:
            n_sec, k_len, n_out = Const(p.section_depth), Const(p.k_words), Const(p.n)
            k_stop = Const((p.k_words - 2) % (1 << len(k)), len(k))
        m.d.comb += out.n_out.eq(n_out)
        if len(banks) == 1:
            m.d.comb += pre.n_sec.eq(n_sec)
        else:
            for pre_b, _, _ in banks:
                m.d.comb += pre_b.n_sec.eq(pre_b.params.section_depth)

        # The inputs go to every bank's input buffer.
        load_en, start = Signal(), Signal()
        for pre_b, _, _ in banks:
            m.d.comb += [pre_b.load_addr.eq(k), pre_b.load_data.eq(Value.cast(self.i.payload)),
                         pre_b.load_en.eq(load_en), pre_b.start.eq(start)]
        run_done = Signal()
        m.d.comb += run_done.eq(_all(pre_b.idle & ~sch_b.busy & ~acc_b.busy for pre_b, sch_b, acc_b in banks))
        acc_ready = Signal()
        m.d.comb += acc_ready.eq(_all(acc_b.ready for _, _, acc_b in banks))
        if p.hw.double_buffer:
            count = self._double_buffered(m, banks, out, k, k_last, k_len, k_stop, load_en, start, run_done, acc_ready)
        else:
            count = self._one_vector(m, banks, out, k, k_last, k_len, k_stop, load_en, start, run_done, acc_ready)
        with m.If(count):
            m.d.sync += cnt.cycles.eq(cnt.cycles + 1)
        return m

    def _one_vector(self, m, banks, out, k, k_last, k_len, k_stop, load_en, start, run_done, acc_ready):
        """LOAD, RUN, OUT, one vector at a time. Returns the cycle counter's enable."""
        # Cycles count from a vector's first input to its last output; not while the accumulators clear.
        count = Signal()
        m.d.comb += count.eq(1)
        # `loading` mirrors the LOAD state in a flip-flop of its own: it selects the input buffers' address.
        loading = Signal(init=1)
        for pre_b, _, _ in banks:
            m.d.comb += pre_b.loading.eq(loading)
        with m.FSM(name="phase"):
            with m.State("LOAD"):
                m.d.comb += [self.i.ready.eq(acc_ready), count.eq(acc_ready & ((k != 0) | self.i.valid))]
                with m.If(self.i.valid & acc_ready):
                    m.d.comb += load_en.eq(1)
                    with m.If(k_last):
                        m.d.comb += start.eq(1)
                        m.d.sync += [k.eq(0), k_last.eq(k_len == 1), loading.eq(0)]
                        m.next = "RUN"
                    with m.Else():
                        m.d.sync += [k.eq(k + 1), k_last.eq(k == k_stop)]
            with m.State("RUN"):
                with m.If(run_done):
                    m.d.comb += out.start.eq(1)
                    m.next = "OUT"
            with m.State("OUT"):
                with m.If(out.done):
                    m.d.sync += loading.eq(1)
                    m.next = "LOAD"
        return count

    def _double_buffered(self, m, banks, out, k, k_last, k_len, k_stop, load_en, start, run_done, acc_ready):
        """The loader fills input buffer `lsel` while the runner runs (IDLE, RUN, OUT) the vector in buffer
        `rsel`: `full[b]` is set after a vector's last beat into buffer b and cleared when its RUN ends
        (its inputs are then read). The loader waits while its buffer is full; the runner starts a vector
        from IDLE, the cycle after its buffer is full (and after the previous vector's last output).
        Returns the cycle counter's enable: from a vector's first input to its last output."""
        lsel, rsel = Signal(name="lsel"), Signal(name="rsel")
        full = [Signal(name=f"full{b}") for b in range(2)]
        for pre_b, _, _ in banks:
            m.d.comb += [pre_b.load_sel.eq(lsel), pre_b.run_sel.eq(rsel)]
        free = Signal()
        m.d.comb += free.eq(Mux(lsel, ~full[1], ~full[0]))
        m.d.comb += self.i.ready.eq(acc_ready & free)
        with m.If(self.i.valid & self.i.ready):
            m.d.comb += load_en.eq(1)
            with m.If(k_last):
                m.d.sync += [k.eq(0), k_last.eq(k_len == 1), lsel.eq(~lsel)]
                with m.If(lsel):
                    m.d.sync += full[1].eq(1)
                with m.Else():
                    m.d.sync += full[0].eq(1)
            with m.Else():
                m.d.sync += [k.eq(k + 1), k_last.eq(k == k_stop)]
        running = Signal()
        with m.FSM(name="phase"):
            with m.State("IDLE"):
                with m.If(Mux(rsel, full[1], full[0])):
                    m.d.comb += start.eq(1)
                    m.next = "RUN"
            with m.State("RUN"):
                m.d.comb += running.eq(1)
                with m.If(run_done):
                    m.d.comb += out.start.eq(1)
                    m.d.sync += rsel.eq(~rsel)
                    with m.If(rsel):
                        m.d.sync += full[1].eq(0)
                    with m.Else():
                        m.d.sync += full[0].eq(0)
                    m.next = "OUT"
            with m.State("OUT"):
                m.d.comb += running.eq(1)
                with m.If(out.done):
                    m.next = "IDLE"
        count = Signal()
        m.d.comb += count.eq(running | full[0] | full[1] | (acc_ready & ((k != 0) | self.i.valid)))
        return count


def _all(values):
    """The AND of one-bit values."""
    out = Const(1)
    for v in values:
        out = out & v
    return out
