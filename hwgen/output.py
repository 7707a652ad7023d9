"""The output streamer: reads the accumulator memory group by group and streams its outputs in order,
clearing each word as it reads it."""

from __future__ import annotations

from amaranth import Module, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from mapper.schedule import merge_depth   # the cycle model's definition, re-exported here

from .interface import AccReadSignature, OutputStreamSignature, beat_shape
from .params import TileParams

__all__ = ["OutputStreamer", "MergeStreamer", "merge_depth"]


class OutputStreamer(wiring.Component):
    """Streams outputs 0..n_out-1 from the accumulator memory (G outputs a word).

    `start` (in IDLE) goes to FETCH, which reads group 0; then STREAM offers one output a cycle, and when a
    group's last output is taken, reads the next group (its data is there the cycle after, so the stream
    has no bubble; the read enable in STREAM is a register and `o.ready`). Every read also clears the word
    it reads (the accumulator's read before write), so the memory is zero for the next vector. After the last output is taken (`done`, combinational
    from `o.ready`) it is IDLE again. Latency: 1 + n_out cycles with a ready sink; `o.payload` holds while
    `o.valid` waits for `o.ready`.

    Parameters
    ----------
    params : TileParams
        Hardware (G, accumulator width) and the number of outputs.

    Attributes
    ----------
    start : In(1)
        Begin streaming (IDLE only).
    n_out : In
        Outputs of the layer.
    read : Out(AccReadSignature)
        Reads and clears of the accumulator memory.
    o : Out(OutputStreamSignature(signed(acc_width)))
        The outputs, in order; `last` with the vector's last.
    done : Out(1)
        The last output is taken this cycle.
    """

    def __init__(self, params: TileParams):
        self.params = params
        super().__init__({"start": In(1), "n_out": In(range(params.n + 1)), "read": Out(AccReadSignature(params)),
                          "o": Out(OutputStreamSignature(signed(params.acc_width))), "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        G, W = p.hw.group, p.acc_width
        og = Signal(range(p.n_groups + 1))
        og_next = Signal(range(p.n_groups + 2))   # og + 1, a register: the read address has no adder
        oj = Signal(range(max(2, G)))
        o_left = Signal(range(p.n + 1))  # outputs after the current one
        o_last = Signal()                # the current output is the layer's last (o_left == 0), registered
        o_jlast = Signal()               # the current output is its group's last (oj == G - 1), registered
        rd = self.read
        # STREAM and the current output its group's last but not the layer's (`o_jlast & ~o_last`): taking it
        # reads the next group. A register loaded with its next value (the same cycles), so the read enable
        # is `turn & o.ready`, not the state decode, `o.valid` and the flags in front of the block RAM.
        turn = Signal(name="output_turn")
        # The read address, a register: og in FETCH, og_next in STREAM (the accumulator's block RAM is far).
        rd_at = Signal(range(p.n_groups + 2))
        m.d.comb += rd.addr.eq(rd_at)
        with m.FSM(name="output"):
            with m.State("IDLE"):
                # Loaded every IDLE cycle, not on `start` (nothing reads them in IDLE; the read port is not
                # enabled): `start`, the end of RUN, then enables only the state register.
                m.d.sync += [og.eq(0), og_next.eq(1), oj.eq(0), o_left.eq(self.n_out - 1), o_last.eq(self.n_out == 1),
                             o_jlast.eq(G == 1), rd_at.eq(0)]
                with m.If(self.start):
                    m.next = "FETCH"
            with m.State("FETCH"):
                m.d.comb += [rd.en.eq(1), rd.clear.eq(1)]
                m.d.sync += [rd_at.eq(og_next), turn.eq(o_jlast & ~o_last)]
                m.next = "STREAM"
            with m.State("STREAM"):
                # The next group's address whether or not it is read: only `en` waits for `o.ready`.
                m.d.comb += [self.o.valid.eq(1), self.o.last.eq(o_last)]
                with m.Switch(oj):
                    for j in range(G):
                        with m.Case(j):
                            m.d.comb += self.o.payload.eq(rd.data[j * W:(j + 1) * W].as_signed())
                # The next group's read: `turn` (a register) and the sink's ready, one LUT in front of the
                # accumulator's block RAM enable.
                m.d.comb += [rd.en.eq(turn & self.o.ready), rd.clear.eq(turn & self.o.ready)]
                with m.If(self.o.ready):
                    m.d.sync += [o_left.eq(o_left - 1), o_last.eq(o_left == 1)]
                    with m.If(o_last):
                        m.d.comb += self.done.eq(1)
                        m.d.sync += turn.eq(0)
                        m.next = "IDLE"
                    with m.Elif(o_jlast):
                        m.d.sync += [oj.eq(0), og.eq(og_next), og_next.eq(og_next + 1), o_jlast.eq(G == 1),
                                     rd_at.eq(og_next + 1), turn.eq((G == 1) & (o_left != 1))]
                    with m.Else():
                        m.d.sync += [oj.eq(oj + 1), o_jlast.eq(oj == G - 2), turn.eq((oj == G - 2) & (o_left != 1))]
        return m


class MergeStreamer(wiring.Component):
    """Streams outputs 0..n_out-1 in beats of W, adding the B banks' accumulator words (B >= 1, W >= 1).

    An accumulator word holds W output groups, W * G outputs, so G beats: beat i of a word is its outputs
    i * W .. i * W + W - 1 (outputs past n_out in the last beat are zero). A read (and clear) of word w goes
    to every bank at once; the B words then pass `merge_depth(B)` registered stages (the read data
    registered, then a pairwise adder tree of registered levels) and the last stage offers its G beats.
    The stages are a pipeline that advances together when the last stage is empty or its last beat is
    taken, and holds otherwise (the block RAMs hold their read data while not read), so the stream has no
    bubble. Latency: `start` in cycle T, the first read in T + 1, the first beat valid in T + 2 +
    merge_depth(B), then a beat a cycle with a ready sink: 1 + merge_depth(B) + ceil(n_out / W) cycles.

    Parameters
    ----------
    params : TileParams
        Hardware (G, W, B, accumulator width) and the number of outputs.

    Attributes
    ----------
    start : In(1)
        Begin streaming (IDLE only).
    n_out : In
        Outputs of the layer.
    read : Out(AccReadSignature).array(B)
        Reads and clears of each bank's accumulator memory (all at the same address).
    o : Out(OutputStreamSignature(beat_shape(signed(acc_width), W)))
        The outputs in order, W a beat; `last` with the vector's last beat.
    done : Out(1)
        The last beat is taken this cycle.
    """

    def __init__(self, params: TileParams):
        self.params = params
        super().__init__({"start": In(1), "n_out": In(range(params.n + 1)),
                          "read": Out(AccReadSignature(params)).array(params.hw.banks),
                          "o": Out(OutputStreamSignature(beat_shape(signed(params.acc_width), params.beat))),
                          "done": Out(1)})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        G, W, BT, B = p.hw.group, p.acc_width, p.beat, p.hw.banks
        lb = BT.bit_length() - 1
        lanes = BT * G
        d = merge_depth(B)
        adv = Signal()                                # the pipeline advances this cycle
        valid = [Signal(name=f"merge{i}_valid") for i in range(d + 1)]
        w_next = Signal(range(p.n_words + 1))         # the next word to read
        b_left = Signal(range(p.n + 1))                # beats after the current one
        bi = Signal(range(max(2, G)))                 # the current beat within the last stage's word
        bi_last = Signal()                            # bi == G - 1, registered
        streaming = Signal()
        reading = Signal()
        m.d.comb += reading.eq(streaming & adv & (w_next != p.n_words))
        for rd in self.read:
            m.d.comb += [rd.addr.eq(w_next), rd.en.eq(reading), rd.clear.eq(1)]
        with m.If(reading):
            m.d.sync += w_next.eq(w_next + 1)
        # Stage 0: the banks' read data (block RAM outputs); then registered stages on `adv`.
        level = [[rd.data[i * W:(i + 1) * W].as_signed() for i in range(lanes)] for rd in self.read]
        if B > 1:
            regs = [[Signal(signed(W), name=f"merge_b{b}_{i}") for i in range(lanes)] for b in range(B)]
            with m.If(adv):
                m.d.sync += [r.eq(v) for rb, lb_ in zip(regs, level) for r, v in zip(rb, lb_)]
            level = regs
            depth = 1
            while len(level) > 1:
                nxt = []
                for q in range(0, len(level), 2):
                    pair = level[q:q + 2]
                    regs = [Signal(signed(W), name=f"merge{depth}_{q // 2}_{i}") for i in range(lanes)]
                    with m.If(adv):
                        m.d.sync += [r.eq(sum(x[i] for x in pair)[:W].as_signed() if len(pair) > 1 else pair[0][i])
                                     for i, r in enumerate(regs)]
                    nxt.append(regs)
                level = nxt
                depth += 1
        last = level[0]
        m.d.comb += adv.eq(~valid[d] | (self.o.ready & bi_last))
        with m.If(adv):
            m.d.sync += [valid[0].eq(reading), *[valid[i].eq(valid[i - 1]) for i in range(1, d + 1)]]
        payload = self.o.payload if BT > 1 else [self.o.payload]
        with m.Switch(bi):
            for j in range(G):
                with m.Case(j):
                    m.d.comb += [payload[e].eq(last[j * BT + e]) for e in range(BT)]
        last_beat = Signal(name="last_beat")           # b_left == 0, registered
        m.d.comb += [self.o.valid.eq(valid[d]), self.o.last.eq(last_beat)]
        with m.FSM(name="output"):
            with m.State("IDLE"):
                with m.If(self.start):
                    beats = (self.n_out + BT - 1) >> lb
                    m.d.sync += [w_next.eq(0), bi.eq(0), bi_last.eq(G == 1), streaming.eq(1),
                                 b_left.eq(beats - 1), last_beat.eq(beats == 1), *[v.eq(0) for v in valid]]
                    m.next = "STREAM"
            with m.State("STREAM"):
                with m.If(self.o.valid & self.o.ready):
                    m.d.sync += [b_left.eq(b_left - 1), last_beat.eq(b_left == 1)]
                    with m.If(b_left == 0):
                        m.d.comb += self.done.eq(1)
                        m.d.sync += [streaming.eq(0), *[v.eq(0) for v in valid]]
                        m.next = "IDLE"
                    with m.Elif(bi_last):
                        m.d.sync += [bi.eq(0), bi_last.eq(G == 1)]
                    with m.Else():
                        m.d.sync += [bi.eq(bi + 1), bi_last.eq(bi == G - 2)]
        return m
