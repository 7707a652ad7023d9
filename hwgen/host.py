"""What the host writes into a controller: a generic netlist's tables and layer register (`prog`) and every
controller's timing registers (`timing`), each value range-checked, and whether the netlist is configured
(docs/design.md section 6, "Errors and reset")."""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.schedule import PHASE_MAX, WATCHDOG_MAX
from mapper.schedule.latency import SECTION_DECODE, gather_ready

from .handshake import MODE_LAYOUT, mode_of
from .interface import (PROG_SELECT, ProgSignature, TimingSignature, cell_address_width, front_layout, front_values,
                        layer_word_layout)
from .params import TileParams

__all__ = ["HostConfig", "FRONT_STAGES", "FRONT_READ_MIN"]

#: The registered stages between a timing write and the front's registers (HostConfig._front): the front
#: takes a write FRONT_STAGES + 1 cycles after it.
FRONT_STAGES = 3
#: The fewest cycles from a host write (while idle) to a vector's first read of the front (its first issue):
#: the vector's last beat taken in the write's cycle starts its walk then; the section table's read and
#: decode (SECTION_DECODE), a gather of at least one cycle and its pipeline (gather_ready) come before the
#: section is in `next`, which the scheduler takes in WAIT and issues from a cycle later.
FRONT_READ_MIN = SECTION_DECODE + 1 + gather_ready(1) + 1
assert FRONT_STAGES + 1 < FRONT_READ_MIN, "the front must be loaded before a vector can read it"


class HostConfig(wiring.Component):
    """The layer register (generic netlist), the timing registers and the checks on every host write.

    Writes are taken only while no vector is in progress (`idle`) and, with program-and-verify cells
    (`MacroTiming.write_ack`), no cell write is (`write_busy`): a write at another time is refused and
    raises `host_protocol`. A write with a value out of range is refused and raises `out_of_range`: a
    layer word with K or N of 0 or above the netlist's limits, or more sections than its section table
    holds; a table write at an address past its table, a section word of more than R rows or slot_cols
    active columns, a column word with a resolution of 0 or above full resolution or a slot column past
    the slot; an unknown `sel`; a timing word with a phase above `PHASE_MAX` cycles, `sync` 3 or a
    watchdog of 0.

    A generic netlist is configured once a valid layer word is written (program_writes writes it last);
    a reset, a table write or a refused layer word makes it unconfigured, and an unconfigured netlist
    takes no input. A baked netlist is always configured. The timing registers reset to the `MacroTiming`
    the netlist was generated with; the word's `guard` (3 bits, any value in range) places the wordline
    and the settle as `MacroTiming.front` does.

    Attributes
    ----------
    prog : In(ProgSignature)
        Generic netlist only: the host's table, cell and layer writes.
    timing : In(TimingSignature)
        The host's timing writes.
    idle : In(1)
        No vector in progress.
    front, mode, watchdog : Out
        The timing registers (the front's phases as `front_layout`, loaded FRONT_STAGES + 1 cycles after
        the write; the done mode `sync` one-hot as `hwgen.handshake.MODE_LAYOUT`, decoded when written, and
        the watchdog, each the cycle after the write).
    n_sec, k_len, k_stop, n_out, k_tail : Out
        The layer's sections, input beats, input beats - 2 (modulo the counter's width), outputs, and its
        inputs in the last beat (((K - 1) mod W) + 1).
    layer_we, k_one : Out(1)
        A layer word is taken this cycle, and its K is one beat.
    front_loading : Out(1)
        A timing word is taken this cycle or the front's registers have not yet taken it (`_front`).
    configured : Out(1)
    table : Out(ProgSignature)
        Generic netlist only: the writes taken, for the tables (`we` only for those), registered: a
        table takes a write the cycle after the host's.
    wr_en, wr_addr, wr_data : Out
        Generic netlist only: cell writes taken, registered, for the array interface (with
        `MacroTiming.write_ack`: the requests of `hwgen.cell_write.CellWriter`).
    write_busy : In(1)
        With `MacroTiming.write_ack` only: a cell write is in progress.
    host_protocol, out_of_range : Out(1)
        A write refused this cycle, and why.
    """

    def __init__(self, params: TileParams, generic: bool, k_width: int):
        self.params, self.generic = params, generic
        layer, tm = layer_word_layout(params), params.timing
        # The registers' reset values: the generation-time timing, the limits (unconfigured).
        members = {"timing": In(TimingSignature()), "idle": In(1),
                   "front": Out(front_layout(), init=front_values(tm)), "mode": Out(MODE_LAYOUT, init=mode_of(tm.sync)),
                   "watchdog": Out(range(WATCHDOG_MAX + 1), init=tm.watchdog),
                   "n_sec": Out(layer["sections"].shape), "k_len": Out(range(params.k_words + 1), init=params.k_words),
                   "k_stop": Out(k_width, init=(params.k_words - 2) % (1 << k_width)),
                   "n_out": Out(range(params.n + 1), init=params.n), "layer_we": Out(1), "k_one": Out(1),
                   "k_tail": Out(range(params.beat + 1), init=(params.k - 1) % params.beat + 1),
                   "configured": Out(1), "host_protocol": Out(1), "out_of_range": Out(1), "front_loading": Out(1)}
        if generic:
            members.update({"prog": In(ProgSignature(params)), "table": Out(ProgSignature(params)),
                            "wr_en": Out(1), "wr_addr": Out(cell_address_width(params)), "wr_data": Out(params.hw.rows)})
            if tm.write_ack:
                members["write_busy"] = In(1)
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        p = self.params
        kw = len(self.k_stop)
        timing_bad, timing_busy = self._timing(m)
        if not self.generic:
            m.d.comb += [self.n_sec.eq(p.section_depth), self.k_len.eq(p.k_words), self.n_out.eq(p.n),
                         self.k_stop.eq(Const((p.k_words - 2) % (1 << kw), kw)), self.configured.eq(1),
                         self.k_tail.eq((p.k - 1) % p.beat + 1)]
            return m
        prog, table = self.prog, self.table
        sel = prog.sel
        ok, known = self._table_checks(m, prog)
        layer = layer_word_layout(p)(prog.data[:layer_word_layout(p).size])
        layer_ok = ((layer.k >= 1) & (layer.k <= p.k) & (layer.n >= 1) & (layer.n <= p.n)
                    & (layer.sections <= p.section_depth))
        lb = p.beat.bit_length() - 1
        beats = (layer.k + p.beat - 1) >> lb
        is_layer = sel == PROG_SELECT["layer"]
        good = Mux(is_layer, layer_ok, ok)
        # Program-and-verify cells: no programming write while a cell write is in progress.
        free = self.idle & ~self.write_busy if p.timing.write_ack else self.idle
        take = prog.we & free & good
        # The tables' writes registered (they land the cycle after the host's write), so the accept (`idle`,
        # the checks) does not run into the tables' block RAM address selects.
        m.d.sync += [table.sel.eq(sel), table.addr.eq(prog.addr), table.data.eq(prog.data),
                     table.we.eq(take & ~is_layer & known)]
        m.d.comb += [self.layer_we.eq(take & is_layer), self.k_one.eq(beats == 1),
                     self.out_of_range.eq(prog.we & ~good | timing_bad),
                     self.host_protocol.eq(prog.we & ~free | timing_busy)]
        m.d.sync += [self.wr_en.eq(take & (sel == PROG_SELECT["cells"])), self.wr_addr.eq(prog.addr),
                     self.wr_data.eq(prog.data)]
        with m.If(self.layer_we):
            m.d.sync += [self.n_sec.eq(layer.sections), self.k_len.eq(beats), self.n_out.eq(layer.n),
                         self.k_stop.eq(beats - 2), self.configured.eq(1),
                         self.k_tail.eq(((layer.k - 1) & (p.beat - 1)) + 1)]
        with m.Elif(take | prog.we & is_layer):      # a table changed, or a layer word refused
            m.d.sync += self.configured.eq(0)
        return m

    def _table_checks(self, m, prog):
        """(the write is in range, it goes to a table or the cells) for a table or cell write."""
        p, hw = self.params, self.params.hw
        sec, col = p.section_layout(prog.data[:p.section_layout.size]), p.column_layout(prog.data[:p.column_layout.size])
        ok = Signal(name="prog_in_range")
        known = Signal(name="prog_table")
        with m.Switch(prog.sel):
            with m.Case(PROG_SELECT["sections"]):
                m.d.comb += [known.eq(1), ok.eq((prog.addr < max(1, p.section_depth)) & (sec["rows"] <= hw.rows)
                                                & (sec["n_active"] <= hw.slot_cols))]
            with m.Case(PROG_SELECT["rows"]):
                m.d.comb += [known.eq(1), ok.eq(prog.addr < max(1, p.row_depth))]
            with m.Case(PROG_SELECT["columns"]):
                m.d.comb += [known.eq(1), ok.eq((prog.addr < max(1, p.column_depth)) & (col["res"] >= 1)
                                                & (col["res"] <= hw.full_resolution) & (col["slot_col"] < hw.slot_cols))]
            with m.Case(PROG_SELECT["cells"]):
                m.d.comb += [known.eq(1), ok.eq(prog.addr < max(1, p.section_depth) * p.slot_pad)]
            with m.Case(PROG_SELECT["layer"]):
                m.d.comb += ok.eq(1)
        return ok, known

    def _front(self, m, take):
        """The front's phase boundaries (`front_layout`), derived from the written timing word in
        `FRONT_STAGES` registered stages, at most one adder or compare a stage, and loaded into `front`
        `FRONT_STAGES` + 1 cycles after the write (the word's fields, then P + G and the settle, then the
        wordline's end and the settle plus the sample, then the boundaries): no chain of adders from the
        host's write into the front registers (the SoC tile's critical path, docs/results/controller.md).
        Every stage takes the one before it each cycle, a write's values travel with its valid bit, so
        writes in consecutive cycles give the last one's front. The front is read only at a vector's first
        issue, at least `FRONT_READ_MIN` cycles after any write the host makes while idle (a vector taken in
        the write's cycle: its walk starts then at the earliest, and its first section is decoded and
        gathered before it issues), so every vector runs with the timing written before it."""
        word, fr = self.timing.data, self.front
        w = len(fr.pch_end)
        # The guarded front (MacroTiming.front): the wordline G cycles after the precharge, the settle at
        # least G cycles after a wordline. With G = 0 the same boundaries as P, P + W, P + W + S.
        names = ("precharge", "guard", "wordline", "settle", "sample")
        s1 = {n: Signal(w, name=f"front_word_{n}") for n in names}
        s2 = {n: Signal(w, name=f"front_sum_{n}") for n in ("pch", "wl_begin", "wordline", "settle", "sample",
                                                             "sample_less")}
        s3 = {n: Signal(w, name=f"front_end_{n}") for n in ("pch", "wl_begin", "wl_end", "settle", "tail",
                                                            "tail_less")}
        valid = [Signal(name=f"front_valid{k}") for k in range(1, FRONT_STAGES + 1)]
        hold = [Signal(name=f"front_hold{k}") for k in range(2, FRONT_STAGES + 1)]
        m.d.sync += [valid[0].eq(take), *[valid[k].eq(valid[k - 1]) for k in range(1, FRONT_STAGES)],
                     *[s1[n].eq(getattr(word, n)) for n in names]]
        m.d.sync += [s2["pch"].eq(s1["precharge"]), s2["wl_begin"].eq(s1["precharge"] + s1["guard"]),
                     s2["wordline"].eq(s1["wordline"]),
                     s2["settle"].eq(Mux((s1["wordline"] != 0) & (s1["guard"] > s1["settle"]), s1["guard"], s1["settle"])),
                     s2["sample"].eq(s1["sample"]), s2["sample_less"].eq(s1["sample"] - 1), hold[0].eq(s1["sample"] != 0)]
        m.d.sync += [s3["pch"].eq(s2["pch"]), s3["wl_begin"].eq(s2["wl_begin"]),
                     s3["wl_end"].eq(s2["wl_begin"] + s2["wordline"]), s3["settle"].eq(s2["settle"]),
                     s3["tail"].eq(s2["settle"] + s2["sample"]), s3["tail_less"].eq(s2["settle"] + s2["sample_less"]),
                     hold[1].eq(hold[0])]
        # From the write's cycle until the front has taken it (the raw-code test port waits meanwhile).
        m.d.comb += self.front_loading.eq(take | Cat(valid).any())
        with m.If(valid[-1]):
            m.d.sync += [fr.pch_end.eq(s3["pch"]), fr.wl_begin.eq(s3["wl_begin"]), fr.wl_end.eq(s3["wl_end"]),
                         fr.sh_begin.eq(s3["wl_end"] + s3["settle"]), fr.front.eq(s3["wl_end"] + s3["tail"]),
                         fr.last.eq(s3["wl_end"] + s3["tail_less"]),
                         fr.none.eq((s3["wl_end"] == 0) & (s3["tail"] == 0)), fr.hold.eq(hold[1])]

    def _timing(self, m):
        """The timing registers, their checks and the front's phase boundaries derived when written.
        Returns (a timing write out of range, a timing write while busy)."""
        word = self.timing.data
        bad = Signal(name="timing_bad")
        m.d.comb += bad.eq(self.timing.we & ((word.precharge > PHASE_MAX) | (word.wordline > PHASE_MAX)
                                             | (word.settle > PHASE_MAX) | (word.sample > PHASE_MAX)
                                             | (word.sync > 2) | (word.watchdog == 0)))
        busy = Signal(name="timing_busy")
        m.d.comb += busy.eq(self.timing.we & ~self.idle)
        with m.If(self.timing.we & ~bad & self.idle):
            m.d.sync += [self.mode.counted.eq(word.sync == 0), self.mode.one.eq(word.sync == 1),
                         self.mode.two.eq(word.sync == 2), self.watchdog.eq(word.watchdog)]
        self._front(m, self.timing.we & ~bad & self.idle)
        if not self.generic:
            m.d.comb += [self.out_of_range.eq(bad), self.host_protocol.eq(busy)]
        return bad, busy
