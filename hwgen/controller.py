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

from amaranth import Const, Module, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.plan import LayerPlan

from .accumulate import Accumulate
from .interface import PROG_SELECT, ArraySignature, RawCodeSignature, host_members, layer_word_layout
from .output import OutputStreamer
from .params import TileParams
from .prefetch import Prefetch
from .scheduler import Scheduler

__all__ = ["Controller"]


class Controller(wiring.Component):
    """The controller's top: the phase of the vector (LOAD, RUN, OUT), the cycle counter, the layer register
    of a generic netlist, and its four components wired together.

    Latency: after reset, n_groups cycles clearing the accumulators; then per vector K cycles to load, the
    RUN time of `sim.golden.cycle_model`, and 1 + N cycles to stream the outputs (with a stall-free input
    and output stream). One vector at a time.

    Parameters
    ----------
    params : TileParams
        Hardware and table depths.
    plan : LayerPlan or None
        With a plan, the ROMs are initialized from it and the netlist is specific to it; without, the
        ROMs are empty and written through `prog`, and one netlist serves any plan that fits `params`.

    Attributes
    ----------
    i : In(stream.Signature(signed(A)))
        Input stream, one input per beat, K beats per vector.
    o : Out(stream.Signature(signed(acc_width)))
        Output stream, N beats per vector, in output order.
    bus : Out(ArraySignature)
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
        self.params = params
        self.plan = plan
        self.test_port = test_port
        super().__init__({**host_members(params, plan is None), "bus": Out(ArraySignature(params)),
                          **({"test": In(RawCodeSignature(params))} if test_port else {})})

    def elaborate(self, platform):
        m = Module()
        p, plan = self.params, self.plan
        m.submodules.prefetch = pre = Prefetch(p, plan)
        m.submodules.scheduler = sch = Scheduler(p, test_port=self.test_port)
        if self.test_port:
            wiring.connect(m, wiring.flipped(self.test), sch.test)
        m.submodules.accumulate = acc = Accumulate(p)
        m.submodules.output = out = OutputStreamer(p)
        wiring.connect(m, pre.next, sch.next)
        wiring.connect(m, sch.batch, acc.batch)
        wiring.connect(m, out.read, acc.read)
        m.d.comb += [getattr(self.bus, name).eq(getattr(sch.bus, name)) for name in ("section", "drive", "pch", "wl_en", "sh")]
        for s, o in zip(sch.bus.adc, self.bus.adc):     # (wiring.connect takes no array of interfaces)
            wiring.connect(m, s, wiring.flipped(o))
        wiring.connect(m, out.o, wiring.flipped(self.o))
        cnt = self.counters
        m.d.comb += [cnt.sections.eq(pre.sections), cnt.planes.eq(sch.planes), cnt.conversions.eq(sch.conversions)]

        k = Signal(range(p.k + 1))
        k_last = Signal(init=p.k == 1)       # k is the vector's last input (k == k_len - 1), registered
        if plan is None:
            layer = layer_word_layout(p)
            n_sec, k_len, n_out = Signal(layer["sections"].shape), Signal(range(p.k + 1), init=p.k), \
                Signal(range(p.n + 1), init=p.n)
            # k_len - 2 (modulo 2**len(k)), a register: k_last's next value is one comparison, no adder.
            k_stop = Signal(len(k), init=(p.k - 2) % (1 << len(k)))
            prog = self.prog
            for name in ("we", "sel", "addr", "data"):
                m.d.comb += getattr(pre.prog, name).eq(getattr(prog, name))
            # Cell writes go on to the macro's weight-programming port, registered (one cycle later).
            m.d.sync += [self.bus.wr_en.eq(prog.we & (prog.sel == PROG_SELECT["cells"])),
                         self.bus.wr_addr.eq(prog.addr), self.bus.wr_data.eq(prog.data)]
            with m.If(prog.we & (prog.sel == PROG_SELECT["layer"])):
                word = layer(prog.data[:layer.size])
                m.d.sync += [n_sec.eq(word.sections), k_len.eq(word.k), n_out.eq(word.n), k_last.eq(word.k == 1),
                             k_stop.eq(word.k - 2)]
        else:
            n_sec, k_len, n_out = Const(p.section_depth), Const(p.k), Const(p.n)
            k_stop = Const((p.k - 2) % (1 << len(k)), len(k))
        m.d.comb += [pre.n_sec.eq(n_sec), out.n_out.eq(n_out)]

        m.d.comb += [pre.load_addr.eq(k), pre.load_data.eq(self.i.payload)]
        run_done = pre.idle & ~sch.busy & ~acc.busy
        # Cycles count from a vector's first input to its last output; not while the accumulators clear.
        count = Signal()
        m.d.comb += count.eq(1)
        with m.FSM(name="phase"):
            with m.State("LOAD"):
                m.d.comb += [self.i.ready.eq(acc.ready), count.eq(acc.ready & ((k != 0) | self.i.valid))]
                with m.If(self.i.valid & acc.ready):
                    m.d.comb += pre.load_en.eq(1)
                    with m.If(k_last):
                        m.d.comb += pre.start.eq(1)
                        m.d.sync += [k.eq(0), k_last.eq(k_len == 1)]
                        m.next = "RUN"
                    with m.Else():
                        m.d.sync += [k.eq(k + 1), k_last.eq(k == k_stop)]
            with m.State("RUN"):
                with m.If(run_done):
                    m.d.comb += out.start.eq(1)
                    m.next = "OUT"
            with m.State("OUT"):
                with m.If(out.done):
                    m.next = "LOAD"
        with m.If(count):
            m.d.sync += cnt.cycles.eq(cnt.cycles + 1)
        return m
