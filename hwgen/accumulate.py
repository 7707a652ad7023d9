"""The accumulator: shift-adds each finished batch into its section's sums and adds every finished section
into the output accumulator memory (one word of G outputs per output group)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from .interface import AccReadSignature, BatchSignature
from .params import TileParams
from .shift_add import ShiftAdd

__all__ = ["Accumulate"]


class _SlicedMemory:
    """A memory as side-by-side memories at most 18 bits wide, with one write and one read port: an ECP5
    DP16KD port is at most 18 bits wide as a true dual-port block RAM, and only a true dual-port block
    RAM gives a read and a write at one address one port (a wider memory maps to the 36-bit pseudo
    dual-port PDPW16KD, whose read and write are on two ports)."""

    def __init__(self, m, name, width, depth):
        self.mems = []
        for k, lo in enumerate(range(0, width, 18)):
            mem = Memory(shape=unsigned(min(18, width - lo)), depth=depth, init=[])
            m.submodules[f"{name}{k}"] = mem
            self.mems.append(mem)
        self.m, self.width = m, width

    def write_port(self):
        ports = [mem.write_port() for mem in self.mems]
        return _Ports(self.m, ports, self.width, write=True)

    def read_port(self):
        return _Ports(self.m, [mem.read_port() for mem in self.mems], self.width, write=False)


class _Ports:
    """The ports of a sliced memory driven as one: `addr`, `en`, `data` (written or read)."""

    def __init__(self, m, ports, width, write):
        self.addr = Signal.like(ports[0].addr)
        self.en = Signal(init=1)
        self.data = Signal(width)
        lo = 0
        for port in ports:
            w = len(port.data)
            m.d.comb += [port.addr.eq(self.addr), port.en.eq(self.en)]
            m.d.comb += port.data.eq(self.data[lo:lo + w]) if write else self.data[lo:lo + w].eq(port.data)
            lo += w


class _Flush:
    """What the memory ports see of ShiftAdd's flush: its valid bit and its word address."""

    def __init__(self, flush_valid, flush_group):
        self.flush_valid, self.flush_group = flush_valid, flush_group


class Accumulate(wiring.Component):
    """ShiftAdd, then a read-modify-write of the section's output group in the accumulator memory.

    A memory word holds W = `beat` output groups (group g in slot g % W of word g // W), so the output
    streamer reads W * G outputs at once; with W = 1 a word is one group.

    After reset (state CLEAR) the memory is zeroed, one word a cycle, n_words cycles; then READY: a reset
    in the middle of a vector must not leak its partial sums into the next one. A section's sums
    (`ShiftAdd.flush`) are added to their group's word in 4 cycles: read (the block RAM's output registered
    before the add, whose carry chain would not fit behind its clock-to-output time), add, and the write,
    whose address, data and enable come from registers. The memory has a single port: flushes of
    non-empty sections are at least 3 cycles apart (the prefetch takes SECTION, READ and WORD for each),
    so a write meeting the next flush's read waits one cycle, and that read, if of the same group, takes
    the waiting write's sum (forwarded) instead of the memory's word. The streamer reads a word and
    clears it in the same cycle (read before write).
    On hardware whose flushes can come 1 or 2 cycles apart (sign-magnitude or input-aware drive, or fewer
    than 3 drive steps) the memory instead has a write port beside the read port: writes never wait, and
    a flush's add takes its group's sum from the newest of the last three writes when it is that group's
    (the read does not see a write of the same or the two cycles before: see `_two_ports`).

    Parameters
    ----------
    params : TileParams
        Hardware and the number of output groups.

    Attributes
    ----------
    batch : In(BatchSignature)
        Finished batches, from the scheduler.
    read : In(AccReadSignature)
        The output streamer's reads, each clearing the word it reads when `clear` (not while `busy`).
    ready : Out(1)
        The memory is cleared (high from n_words cycles after reset).
    busy : Out(1)
        A batch or a flush is in the pipeline, or a write pending.
    """

    def __init__(self, params: TileParams):
        self.params = params
        super().__init__({"batch": In(BatchSignature(params)), "read": In(AccReadSignature(params)),
                          "ready": Out(1), "busy": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        G, W, NA = cfg.group, p.acc_width, cfg.n_adc
        # A word holds `beat` output groups (W of the output stream's beat), so that the streamer reads
        # W * G outputs a cycle: group g is slot g % beat of word g // beat.
        BT = p.beat
        lb = BT.bit_length() - 1
        acc_mem = _SlicedMemory(m, "acc", BT * G * W, p.n_words)
        walk = p.walks_steps
        m.submodules.shift_add = sa = ShiftAdd(cfg, code_width=p.code_width, acc_width=W,
                                               group_width=len(self.batch.group), step_shift=walk)
        bt = self.batch
        m.d.comb += [sa.capture.eq(bt.capture), sa.first.eq(bt.first), sa.new_plane.eq(bt.new_plane),
                     sa.last.eq(bt.last), sa.negate.eq(bt.negate), sa.group.eq(bt.group),
                     sa.lane_valid.eq(bt.lane_valid), sa.code.eq(bt.code), sa.sign.eq(bt.sign)]
        if walk:
            m.d.comb += sa.shift.eq(bt.shift)
        for i in range(NA):
            m.d.comb += [sa.bit[i].eq(bt.bit[i]), sa.j[i].eq(bt.j[i])]

        acc_wp, acc_rp = acc_mem.write_port(), acc_mem.read_port()
        word_addr = range(max(2, p.n_words))
        flush_word = Signal(word_addr, name="flush_word")        # the flush's word address
        m.d.comb += flush_word.eq(sa.flush_group >> lb)
        sa_flush = _Flush(sa.flush_valid, flush_word)
        wr_en, wr_addr, wr_data = Signal(), Signal(word_addr), Signal(BT * G * W)     # the write (registers)
        # The flush pipeline: read (T), read data registered (T + 1), add (T + 2) into the write registers.
        f2_valid, f3_valid = Signal(), Signal()
        f2_group, f3_group = Signal(word_addr), Signal(word_addr)
        f2_slot, f3_slot = Signal(max(1, lb)), Signal(max(1, lb))
        f2_val = [Signal(signed(W), name=f"flush2_{j}") for j in range(G)]
        f3_val = [Signal(signed(W), name=f"flush3_{j}") for j in range(G)]
        f3_old = Signal(BT * G * W)
        if lb:
            m.d.sync += [f2_slot.eq(sa.flush_group[:lb]), f3_slot.eq(f2_slot)]
        m.d.sync += [f2_valid.eq(sa.flush_valid), f2_group.eq(flush_word),
                     *[f2_val[j].eq(sa.flush[j]) for j in range(G)],
                     f3_valid.eq(f2_valid), f3_group.eq(f2_group), *[f3_val[j].eq(f2_val[j]) for j in range(G)]]
        with m.If(f2_valid):
            m.d.sync += f3_old.eq(acc_rp.data)
        if walk or cfg.steps < 3:
            old, clear_addr = self._two_ports(m, sa_flush, acc_rp, acc_wp, (wr_en, wr_addr, wr_data), f3_group, f3_old)
        else:
            old, clear_addr = self._one_port(m, sa_flush, acc_rp, acc_wp, (wr_en, wr_addr, wr_data), f3_old)
        with m.If(f3_valid):
            m.d.sync += [wr_en.eq(1), wr_addr.eq(f3_group),
                         wr_data.eq(Cat((old[(t * G + j) * W:(t * G + j + 1) * W].as_signed()
                                         + (f3_val[j] if BT == 1 else Mux(f3_slot == t, f3_val[j], 0)))[:W]
                                        for t in range(BT) for j in range(G)))]

        clear = Signal(word_addr)
        with m.FSM(name="accumulate"):
            with m.State("CLEAR"):
                m.d.comb += [clear_addr.eq(clear), acc_wp.en.eq(1), acc_wp.data.eq(0)]
                m.d.sync += clear.eq(clear + 1)
                with m.If(clear == p.n_words - 1):
                    m.next = "READY"
            with m.State("READY"):
                m.d.comb += self.ready.eq(1)
        m.d.comb += self.busy.eq(sa.busy | sa.flush_valid | f2_valid | f3_valid | wr_en)
        return m

    def _one_port(self, m, sa, acc_rp, acc_wp, write, f3_old):
        """One address for the read and the write: the block RAM then has one read-write port, and the
        streamer's read-and-clear is its native read-before-write. (A write and a read on two ports would
        make Yosys emulate the read's collision behaviour with a multiplexer behind the block RAM's output,
        where no logic fits.) A flush's read takes the port first; a write that meets a read waits a cycle
        (flushes are at least 3 cycles apart, so it never waits longer), and a flush reading the group of
        a waiting write takes that write's data instead (forwarding). Returns the add's previous sum and
        the address the clear after reset drives."""
        wr_en, wr_addr, wr_data = write
        rd = self.read
        reading = sa.flush_valid | rd.en
        at = Signal.like(wr_addr, name="acc_addr")
        with m.If(sa.flush_valid):
            m.d.comb += at.eq(sa.flush_group)
        with m.Elif(rd.en):
            m.d.comb += at.eq(rd.addr)
        with m.Else():
            m.d.comb += at.eq(wr_addr)
        clearing = rd.en & rd.clear
        # The read is enabled with every write too (a port's clock enable covers both), so that Yosys
        # merges the two into one port; outside RUN no write but the streamer's read-and-clear happens, so
        # the streamer's word holds until its next read.
        m.d.comb += [acc_rp.addr.eq(at), rd.data.eq(acc_rp.data),
                     acc_wp.addr.eq(at), acc_wp.en.eq(clearing | (wr_en & ~reading)),
                     acc_wp.data.eq(Mux(clearing, 0, wr_data)), acc_rp.en.eq(reading | acc_wp.en)]
        with m.If(wr_en & ~reading):
            m.d.sync += wr_en.eq(0)
        f2_fwd, f3_fwd = Signal(), Signal()
        f2_fwd_data, f3_fwd_data = Signal.like(wr_data), Signal.like(wr_data)
        m.d.sync += [f2_fwd.eq(sa.flush_valid & wr_en & (wr_addr == sa.flush_group)), f2_fwd_data.eq(wr_data),
                     f3_fwd.eq(f2_fwd), f3_fwd_data.eq(f2_fwd_data)]
        old = Signal.like(wr_data)
        m.d.comb += old.eq(Mux(f3_fwd, f3_fwd_data, f3_old))
        return old, at

    def _two_ports(self, m, sa, acc_rp, acc_wp, write, f3_group, f3_old):
        """The read-modify-write with a read port and a write port (non-transparent: a read sees the
        memory before that cycle's write). Flush P read in cycle T is written in T + 3; a flush C of the
        same group read in T + d (d = 1, 2, 3) reads the word before P's write, so its add (in T + d + 2)
        takes P's sum from the write registers of that cycle (d = 1), of one cycle before (d = 2) or of two
        cycles before (d = 3), the newest first; from d = 4 on the memory has it. The streamer's read and
        clear of a word share a cycle: the read sees the word, the write zeroes it. Returns the add's
        previous sum and the address the clear after reset drives."""
        wr_en, wr_addr, wr_data = write
        rd = self.read
        m.d.comb += [acc_rp.addr.eq(Mux(sa.flush_valid, sa.flush_group, rd.addr)),
                     acc_rp.en.eq(sa.flush_valid | rd.en), rd.data.eq(acc_rp.data)]
        # The write registers (written in the cycle they hold) and the two writes before them.
        wr = [write] + [(Signal(name=f"wr{i}_en"), Signal.like(wr_addr, name=f"wr{i}_addr"),
                         Signal.like(wr_data, name=f"wr{i}_data")) for i in (1, 2)]
        m.d.sync += wr_en.eq(0)
        for (en0, addr0, data0), (en1, addr1, data1) in zip(wr, wr[1:]):
            m.d.sync += [en1.eq(en0), addr1.eq(addr0), data1.eq(data0)]
        old = f3_old
        for en, addr, data_ in reversed(wr):        # the newest matching write wins
            old = Mux(en & (addr == f3_group), data_, old)
        clearing = rd.en & rd.clear
        m.d.comb += [acc_wp.addr.eq(Mux(clearing, rd.addr, wr_addr)), acc_wp.data.eq(Mux(clearing, 0, wr_data)),
                     acc_wp.en.eq(clearing | wr_en)]
        return old, acc_wp.addr
