"""The accumulator: shift-adds each finished batch into its section's sums and adds every finished section
into the output accumulator memory (one word of G outputs per output group)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .bram import flush_and_stream_ram
from .interface import AccReadSignature, BatchSignature
from .params import TileParams
from .shift_add import ShiftAdd

__all__ = ["Accumulate"]


class Accumulate(wiring.Component):
    """ShiftAdd, then a read-modify-write of the section's output group in the accumulator memory.

    After reset (state CLEAR) the memory is zeroed, one word a cycle, n_words cycles; then READY: a reset
    in the middle of a vector must not leak its partial sums into the next one. The memory has two ports
    (`hwgen.bram.flush_and_stream_ram`): a section's sums (`ShiftAdd.flush`) read their group's word on
    port A in T, the word comes from the read register (on ECP5 the DP16KD's output register) in T + 2,
    goes through the bypass into a register in T + 3, is added in T + 3 and written on port B in T + 4
    from registers (address, data and enable). A flush of the same group 1 to 4 cycles earlier is not in
    the memory yet: its sum comes from the write registers instead (`_bypass`). The streamer reads a word
    on port B and clears it in the same cycle (read before write; the word the cycle after); it reads
    only while not `busy`, so its address and the write's never meet, and the data written is the write
    register, zero while no write is pending.

    A memory word holds `beat` output groups (group g in slot g % beat of word g // beat), so the output
    streamer reads beat * G outputs at once; with beat 1 a word is one group. The flush pipeline and its
    bypass work on words: a flush adds its sums into its slot and writes the whole word back.

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
    flushes : Out(1)
        A section's sums are added into the memory this cycle (its read-modify-write written).
    """

    def __init__(self, params: TileParams):
        self.params = params
        super().__init__({"batch": In(BatchSignature(params)), "read": In(AccReadSignature(params)),
                          "ready": Out(1), "busy": Out(1), "flushes": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        G, W, NA = cfg.group, p.acc_width, cfg.n_adc
        # A word holds `beat` output groups (W of the output stream's beat), so that the streamer reads
        # W * G outputs a cycle: group g is slot g % beat of word g // beat.
        BT = p.beat
        lb = BT.bit_length() - 1
        walk = p.walks_steps
        m.submodules.shift_add = sa = ShiftAdd(cfg, code_width=p.code_width, acc_width=W,
                                               group_width=len(self.batch.group), step_shift=walk,
                                               signed_codes=p.bipolar)
        bt = self.batch
        m.d.comb += [sa.capture.eq(bt.capture), sa.first.eq(bt.first), sa.new_plane.eq(bt.new_plane),
                     sa.last.eq(bt.last), sa.negate.eq(bt.negate), sa.group.eq(bt.group),
                     sa.lane_valid.eq(bt.lane_valid), sa.code.eq(bt.code), sa.sign.eq(bt.sign)]
        if walk:
            m.d.comb += sa.shift.eq(bt.shift)
        for i in range(NA):
            m.d.comb += [sa.bit[i].eq(bt.bit[i]), sa.j[i].eq(bt.j[i])]

        rd = self.read
        word_addr = range(max(2, p.n_words))
        flush_word = Signal(word_addr, name="flush_word")        # the flush's word address
        m.d.comb += flush_word.eq(sa.flush_group >> lb)
        wr_en, wr_addr, wr_data = Signal(), Signal(word_addr), Signal(BT * G * W)     # the write (registers)
        # The flush pipeline: read on port A (T), its word from the read register (T + 2) through the
        # bypass into a register (T + 3), added into the write registers, written on port B (T + 4). The
        # streamer reads and clears on port B.
        f2_valid, f3_valid, f4_valid = Signal(), Signal(), Signal()
        f2_group, f3_group, f4_group = Signal(word_addr), Signal(word_addr), Signal(word_addr)
        f2_slot, f3_slot, f4_slot = Signal(max(1, lb)), Signal(max(1, lb)), Signal(max(1, lb))
        # The flushed sums in the stages are data, loaded every cycle and read only at `f4_valid` (reset):
        # reset-less, off the error reset `halt`'s net. (`wr_data` is reset: the clears after reset write it.)
        f2_val = [Signal(signed(W), name=f"flush2_{j}", reset_less=True) for j in range(G)]
        f3_val = [Signal(signed(W), name=f"flush3_{j}", reset_less=True) for j in range(G)]
        f4_val = [Signal(signed(W), name=f"flush4_{j}", reset_less=True) for j in range(G)]
        if lb:
            m.d.sync += [f2_slot.eq(sa.flush_group[:lb]), f3_slot.eq(f2_slot), f4_slot.eq(f3_slot)]
        m.d.sync += [f2_valid.eq(sa.flush_valid), f2_group.eq(flush_word),
                     *[f2_val[j].eq(sa.flush[j]) for j in range(G)],
                     f3_valid.eq(f2_valid), f3_group.eq(f2_group), *[f3_val[j].eq(f2_val[j]) for j in range(G)],
                     f4_valid.eq(f3_valid), f4_group.eq(f3_group), *[f4_val[j].eq(f3_val[j]) for j in range(G)]]
        clear = Signal(word_addr)
        clearing = Signal()         # CLEAR after reset
        b_addr = Signal.like(wr_addr, name="acc_b_addr")
        b_we = Signal(name="acc_b_we")
        # Streamer reads come only while not `busy` (no write pending) and after CLEAR: the address is a
        # choice between registers (and the streamer's address), and the written data is the write
        # register, zero unless a write is pending, so the clears (after reset, and the streamer's read
        # and clear) write it as it is.
        m.d.comb += [b_addr.eq(Mux(wr_en, wr_addr, Mux(clearing, clear, rd.addr))),
                     b_we.eq(wr_en | clearing | (rd.en & rd.clear))]
        f3_old, rd_data = flush_and_stream_ram(
            m, "acc", width=BT * G * W, depth=p.n_words, a_addr=flush_word, a_en=sa.flush_valid,
            b_addr=b_addr, b_en=b_we | rd.en, b_we=b_we, b_data=wr_data, platform=platform)
        m.d.comb += rd.data.eq(rd_data)
        old = self._bypass(m, (wr_en, wr_addr, wr_data), (f2_group, f3_group, f4_valid, f4_group), f3_old)
        m.d.sync += [wr_en.eq(0), wr_data.eq(0)]
        m.d.comb += self.flushes.eq(wr_en)
        with m.If(f4_valid):
            m.d.sync += [wr_en.eq(1), wr_addr.eq(f4_group),
                         wr_data.eq(Cat((old[(t * G + j) * W:(t * G + j + 1) * W].as_signed()
                                         + (f4_val[j] if BT == 1 else Mux(f4_slot == t, f4_val[j], 0)))[:W]
                                        for t in range(BT) for j in range(G)))]

        ready = Signal(name="acc_ready")
        with m.FSM(name="accumulate"):
            with m.State("CLEAR"):
                m.d.comb += clearing.eq(1)
                m.d.sync += clear.eq(clear + 1)
                with m.If(clear == p.n_words - 1):
                    m.d.sync += ready.eq(1)
                    m.next = "READY"
            with m.State("READY"):
                pass
        # `ready` is a register set on entering READY (the accumulator leaves it only on reset): the input
        # handshake it gates starts at a flip-flop with no state decode in front.
        m.d.comb += self.ready.eq(ready)
        m.d.comb += self.busy.eq(sa.busy | sa.flush_valid | f2_valid | f3_valid | f4_valid | wr_en)
        return m

    def _bypass(self, m, write, stages, f3_old):
        """The previous sum of flush C, read on port A in cycle T (its word in `f3_old` in T + 2), for the
        add in T + 3. A flush P of the same group read in T - d is written on port B in T - d + 4, so C's
        read misses it for d = 1..4 (d = 4: the write and the read share a cycle): its sum comes instead
        from the write registers of T + 2 (d = 2), of one cycle before (d = 3) or two (d = 4), chosen in
        T + 2 into a register, or (d = 1: P's add is in T + 2) from the write registers of T + 3, chosen
        in front of the add; the newest wins. From d = 5 on the memory has it. Every choice is made a
        cycle ahead from registers, so the multiplexers have registered selects and the block RAM's word
        has one level of logic before a register."""
        wr_en, wr_addr, wr_data = write
        f2_group, f3_group, f4_valid, f4_group = stages
        # The copies' data and `acc_old` are loaded every cycle and read only through a hit of a reset
        # `wr{i}_en` or at `f4_valid`: reset-less, off the error reset `halt`'s net.
        wr = [write] + [(Signal(name=f"wr{i}_en"), Signal.like(wr_addr, name=f"wr{i}_addr"),
                         Signal.like(wr_data, name=f"wr{i}_data", reset_less=True)) for i in (1, 2)]
        for (en0, addr0, data0), (en1, addr1, data1) in zip(wr, wr[1:]):
            m.d.sync += [en1.eq(en0), addr1.eq(addr0), data1.eq(data0)]
        # In T + 1 (C in stage 2), the writes the write registers will hold in T + 2: the flush in stage 4
        # now (d = 2), the write registers (d = 3) and their first copy (d = 4).
        ahead = [(f4_valid, f4_group), (wr_en, wr_addr), (wr[1][0], wr[1][1])]
        hit = [Signal(name=f"acc_bypass{d}") for d in (2, 3, 4)]
        m.d.sync += [h.eq(en & (addr == f2_group)) for h, (en, addr) in zip(hit, ahead)]
        old3 = f3_old
        for h, (_, _, data_) in reversed(list(zip(hit, wr))):        # the newest matching write wins
            old3 = Mux(h, data_, old3)
        old4 = Signal.like(wr_data, name="acc_old", reset_less=True)
        m.d.sync += old4.eq(old3)
        # In T + 2 (C in stage 3): P in stage 4 now is in the write registers in T + 3 (d = 1).
        hit1 = Signal(name="acc_bypass1")
        m.d.sync += hit1.eq(f4_valid & (f4_group == f3_group))
        return Mux(hit1, wr_data, old4)
