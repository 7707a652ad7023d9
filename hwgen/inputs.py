"""The input buffer: a vector's inputs as the loader writes them (W a word) and the gather reads them, one
copy per gather lane (docs/design.md section 6)."""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .bram import flush_and_stream_ram, registered_read
from .params import TileParams

__all__ = ["InputBuffer"]


class InputBuffer(wiring.Component):
    """A copy of the vector's inputs per gather lane, written by the loader and read by the gather through
    one address (single buffer) or on two ports (double-buffered: the loader writes buffer `load_sel`
    while the gather reads buffer `run_sel`, on the accumulator's kind of memory,
    `hwgen.bram.flush_and_stream_ram`).

    Sign-magnitude and bipolar hardware hold each input as its magnitude (bits 0..A-2) and sign (bit A-1),
    converted as it is written. With W = `beat` inputs a word, row r reads word r // W and takes element
    r % W of the registered word (the element index registered alongside the read) into a register of its
    own.
    Latency: `row[l]` in cycle T, its input on `value[l]` in T + 2 (the block RAM's registered read), with
    W > 1 in T + 3 (the element register: `mapper.schedule.gather_stages`).

    Attributes
    ----------
    load_en, load_addr, load_data : In
        A write: word `load_addr` of the vector, W inputs (input e of the word in bits [e * A, (e + 1) * A)).
    loading : In(1)
        Single buffer only: the buffer's one address is `load_addr` (else the gather's).
    load_sel, run_sel : In(1)
        Double-buffered only: the buffer the loader writes and the one the gather reads.
    row : In(ArrayLayout(., lanes))
        Lane l's input index (a row-index table word).
    value : Out(ArrayLayout(A, lanes))
        Lane l's input, as the buffer holds it.
    """

    def __init__(self, params: TileParams, row_width: int):
        self.params = params
        A, P = params.hw.input_bits, params.lanes
        super().__init__({
            "load_en": In(1), "load_addr": In(range(params.k_words)), "load_data": In(A * params.beat),
            **({"load_sel": In(1), "run_sel": In(1)} if params.hw.double_buffer else {"loading": In(1)}),
            "row": In(data.ArrayLayout(row_width, P)),
            "value": Out(data.ArrayLayout(A, P)),
        })

    def elaborate(self, platform):
        m = Module()
        p, cfg = self.params, self.params.hw
        A, BT = cfg.input_bits, p.beat
        lb = BT.bit_length() - 1
        word_in = Signal(A * BT, name="load_word")
        m.d.comb += word_in.eq(self.load_data)
        if cfg.input_encoding in ("signmag", "bipolar"):
            for e in range(BT):
                x = self.load_data[e * A:(e + 1) * A]
                m.d.comb += word_in[e * A:(e + 1) * A].eq(Cat(Mux(x[A - 1], -x.as_signed(), x)[:A - 1], x[A - 1]))
        kb = max(1, (p.k_words - 1).bit_length())
        for l in range(p.lanes):
            row = self.row[l]
            if cfg.double_buffer:
                # The gather reads on port A (through the DP16KD's output register on ECP5), the loader
                # writes on port B (its read data unused).
                word, _ = flush_and_stream_ram(
                    m, f"inputs{l}_", width=A * BT, depth=2 << kb,
                    a_addr=Cat((row >> lb)[:kb], self.run_sel), a_en=1,
                    b_addr=Cat(self.load_addr[:kb], self.load_sel), b_en=self.load_en, b_we=self.load_en,
                    b_data=word_in, platform=platform)
            else:
                at = Signal(range(p.k_words), name=f"inputs{l}_addr")
                m.d.comb += at.eq(Mux(self.loading, self.load_addr, row >> lb))
                word = registered_read(m, f"inputs{l}", width=A * BT, depth=p.k_words, addr=at,
                                       write=(self.load_en, word_in), platform=platform)
            if BT == 1:
                m.d.comb += self.value[l].eq(word)
                continue
            # The element index follows the word: registered with the read, then with the word; the element
            # selected into a register, so that the block RAM's word drives one multiplexer (at B > 1 banks
            # the word crosses the device) and `next`'s planes load from a flip-flop.
            elem_d, elem_q = Signal(lb, name=f"in_elem_d{l}"), Signal(lb, name=f"in_elem{l}")
            m.d.sync += [elem_d.eq(row[:lb]), elem_q.eq(elem_d)]
            with m.Switch(elem_q):
                for e in range(BT):
                    with m.Case(e):
                        m.d.sync += self.value[l].eq(word[e * A:(e + 1) * A])
        return m
