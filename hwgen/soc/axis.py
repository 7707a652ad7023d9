"""AXI4-Stream data ports (AMBA AXI4-Stream, ARM IHI 0051) for the tile's input and output streams, named as
Vivado, LiteX and cocotbext-axi expect: `s_axis_tvalid/tready/tdata/tkeep/tlast` in, `m_axis_*` out.

TDATA carries a beat's W elements, each in a whole number of bytes (element e at bits [e * E, e * E + E),
E = 8 * ceil(width / 8); inputs taken from the low A bits, outputs sign-extended), so that TKEEP has one bit
a byte as the standard wants. A vector is ceil(K / W) input beats and ceil(N / W) output beats; TLAST marks
each vector's last beat, and TKEEP the elements of a partial last beat (output elements past N have their
TKEEP bytes low; an input element whose TKEEP bytes are not all high is taken as 0).
"""

from __future__ import annotations

from amaranth import Cat, Const, Module, Mux, Signal, Value
from amaranth.hdl import Assert
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["AxisToStream", "RegisterSlice", "StreamToAxis", "axis_members", "element_bytes"]


def element_bytes(width: int) -> int:
    """Bytes an element of `width` bits takes in TDATA."""
    return -(-width // 8)


def axis_members(prefix: str, direction, beat: int, width: int) -> dict:
    """An AXI4-Stream port's members (`direction` In for a subordinate, Out for a manager)."""
    flip = Out if direction is In else In
    n_bytes = beat * element_bytes(width)
    return {f"{prefix}_tvalid": direction(1), f"{prefix}_tready": flip(1), f"{prefix}_tdata": direction(8 * n_bytes),
            f"{prefix}_tkeep": direction(n_bytes), f"{prefix}_tlast": direction(1)}


class RegisterSlice(wiring.Component):
    """A register slice for a valid/ready stream (a two-entry skid buffer, as AXI register slices are built):
    `o.valid`, `o.payload` and `i.ready` are flip-flops, so neither side's logic reaches the other's in a
    cycle. A beat taken on `i` is offered on `o` the next cycle; with `o.ready` high a beat a cycle passes
    (full throughput); when `o` stalls, the beat taken in that cycle waits in the skid register and `i.ready`
    falls the cycle after, until the skid register empties. Order is kept; no beat is lost or repeated.
    `flush` (a level) drops the beats held (`o.valid` low from the next cycle) and keeps `i.ready` low from
    the next cycle while it stays high: a beat taken in its first cycle is dropped too.

    Parameters
    ----------
    width : int
        Payload bits.
    """

    def __init__(self, width: int):
        super().__init__({"i": In(stream.Signature(width)), "o": Out(stream.Signature(width)), "flush": In(1)})

    def elaborate(self, platform):
        m = Module()
        skid, skid_valid = Signal.like(self.i.payload, name="skid"), Signal()
        # Ready after reset (nothing is held); a register, loaded with "the skid entry will be empty".
        ready = Signal(init=1)
        take = Signal()
        free = Signal()              # the output register is empty or its beat is taken in this cycle
        m.d.comb += [self.i.ready.eq(ready), take.eq(self.i.valid & ready), free.eq(~self.o.valid | self.o.ready)]
        with m.If(self.flush):
            m.d.sync += [self.o.valid.eq(0), skid_valid.eq(0), ready.eq(0)]
        with m.Else():
            with m.If(free):
                with m.If(skid_valid):
                    m.d.sync += [self.o.payload.eq(skid), self.o.valid.eq(1), skid_valid.eq(0)]
                with m.Else():
                    m.d.sync += self.o.valid.eq(take)
                    with m.If(take):
                        m.d.sync += self.o.payload.eq(self.i.payload)
            with m.Elif(take):
                m.d.sync += [skid.eq(self.i.payload), skid_valid.eq(1)]
            m.d.sync += ready.eq(~(~free & (take | skid_valid)))
        # The invariant the design rests on, checked at every clock edge (simulation; an `assert` in the
        # Verilog): never ready with the skid entry full, so no beat is taken into a full skid register.
        m.d.sync += Assert(~(ready & skid_valid), "register slice: ready while the skid entry is full")
        return m


class _Framer:
    """A vector's beat counter, all registers: `is_last` (the next beat is the vector's last) and `keep`
    (the TKEEP of the next beat), reloaded from a length of `length` elements on `reload`; `last_keep` the
    TKEEP of a vector's last beat. With `counting` False only `last_keep` (the beats are counted elsewhere)."""

    def __init__(self, m, beat: int, e_bytes: int, length, reload, init_length: int, limit: int,
                 counting: bool = True):
        self.m, self.beat, self.e_bytes = m, beat, e_bytes
        lb = beat.bit_length() - 1
        beats = -(-init_length // beat)
        if not counting:
            self.last_keep = Signal(beat * e_bytes, init=self._keep_const(init_length))
            if reload is not None:
                with m.If(reload):
                    m.d.sync += self.last_keep.eq(self._keep(length))
            return
        width = max(1, (-(-limit // beat) + 1).bit_length())
        self.count = Signal(width)
        self.stop = Signal(width, init=(beats - 2) % (1 << width))      # beats - 2: is_last's next compare
        self.beats_one = Signal(init=beats == 1)
        self.is_last = Signal(init=beats == 1)
        self.last_keep = Signal(beat * e_bytes, init=self._keep_const(init_length))
        self.keep = Signal(beat * e_bytes, init=self._keep_const(init_length) if beats == 1 else (1 << beat * e_bytes) - 1)
        if reload is not None:
            with m.If(reload):
                n_beats = (length + beat - 1) >> lb
                m.d.sync += [self.count.eq(0), self.stop.eq(n_beats - 2), self.beats_one.eq(n_beats == 1),
                             self.is_last.eq(n_beats == 1), self.last_keep.eq(self._keep(length))]
                m.d.sync += self.keep.eq(Value.cast(n_beats == 1).replicate(beat * e_bytes) & self._keep(length) |
                                         (~Value.cast(n_beats == 1)).replicate(beat * e_bytes))

    def _keep_const(self, length: int) -> int:
        elems = (length - 1) % self.beat + 1
        return (1 << elems * self.e_bytes) - 1

    def _keep(self, length):
        """TKEEP of a last beat of a `length`-element vector (a Value)."""
        if self.beat == 1:
            return Const((1 << self.e_bytes) - 1, self.e_bytes)
        lb = self.beat.bit_length() - 1
        elems = length[:lb] - 1        # (length - 1) % W, element index of the last element
        return Cat(*[(elems >= e).replicate(self.e_bytes) for e in range(self.beat)])

    def restart(self):
        """Statements that make the next beat a vector's first."""
        full = (1 << self.beat * self.e_bytes) - 1
        self.m.d.sync += [self.count.eq(0), self.is_last.eq(self.beats_one),
                          self.keep.eq(Mux(self.beats_one, self.last_keep, full))]

    def advance(self):
        """Statements for a taken beat."""
        full = (1 << self.beat * self.e_bytes) - 1
        m = self.m
        with m.If(self.is_last):
            self.restart()
        with m.Else():
            m.d.sync += [self.count.eq(self.count + 1), self.is_last.eq(self.count == self.stop)]
            m.d.sync += self.keep.eq(Mux(self.count == self.stop, self.last_keep, full))


class AxisToStream(wiring.Component):
    """s_axis (AXI4-Stream subordinate) to the tile's input stream `o`: TVALID and TREADY pass through
    (the tile's ready does not depend on its valid, so there is no combinational loop), TDATA's elements
    are narrowed to A bits. TLAST is checked, not obeyed (the tile counts K itself): `tlast_early` and
    `tlast_missing` pulse (registered, the cycle after the beat) on a TLAST before the vector's last beat or
    a last beat without it; `first` pulses on a vector's first beat taken. While `abandon` is high (the
    tile's error state, in which the controller abandons the vector in progress) the count starts again:
    the next beat taken is a vector's first.

    Parameters
    ----------
    beat, width : int
        Elements a beat W and input bits A.
    k, k_limit : int
        The vector's inputs at reset, and the most it can be (for the counter's width).
    reload : bool
        A `length`/`reload` input pair: the generic tile's LAYER write sets K.
    """

    def __init__(self, *, beat: int, width: int, k: int, k_limit: int, reload: bool):
        from amaranth import signed
        from ..interface import beat_shape
        self.beat, self.width, self.k, self.k_limit, self.reload = beat, width, k, k_limit, reload
        members = {**axis_members("s_axis", In, beat, width),
                   "o": Out(stream.Signature(beat_shape(signed(width), beat))),
                   "tlast_early": Out(1), "tlast_missing": Out(1), "first": Out(1), "abandon": In(1)}
        if reload:
            members |= {"length": In(range(k_limit + 1)), "load": In(1)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        eb = element_bytes(self.width)
        fr = _Framer(m, self.beat, eb, getattr(self, "length", None), getattr(self, "load", None),
                     self.k, self.k_limit)
        data, keep = self.s_axis_tdata, self.s_axis_tkeep
        elems = [Cat(data[e * 8 * eb:e * 8 * eb + self.width]) & keep[e * eb:(e + 1) * eb].all().replicate(self.width)
                 for e in range(self.beat)]
        m.d.comb += [self.o.valid.eq(self.s_axis_tvalid), self.s_axis_tready.eq(self.o.ready),
                     Value.cast(self.o.payload).eq(Cat(*elems))]
        take = Signal()
        m.d.comb += take.eq(self.s_axis_tvalid & self.o.ready)
        m.d.sync += [self.tlast_early.eq(take & self.s_axis_tlast & ~fr.is_last),
                     self.tlast_missing.eq(take & ~self.s_axis_tlast & fr.is_last),
                     self.first.eq(take & (fr.count == 0))]
        reloading = self.load if self.reload else Const(0, 1)
        with m.If(self.abandon & ~reloading):           # a LAYER write's reload (above) restarts it too
            fr.restart()
        with m.Elif(take):
            fr.advance()
        return m


class StreamToAxis(wiring.Component):
    """The tile's output stream `i` (with the controller's end-of-vector `last`) to m_axis (AXI4-Stream
    manager): TVALID and TREADY pass through, TDATA's elements sign-extended to whole bytes, TLAST is `last`,
    and TKEEP is all ones but on a last beat, where it keeps the vector's N mod W elements of a partial
    beat (a register, from N). (`sws_soc` counts a vector done when its last beat leaves the register slice
    after this adapter, hwgen/soc/top.py.)

    Parameters
    ----------
    beat, width : int
        Elements a beat W and output bits (acc_width).
    n, n_limit : int
        The vector's outputs at reset, and the most it can be.
    reload : bool
        A `length`/`load` input pair: the generic tile's LAYER write sets N.
    """

    def __init__(self, *, beat: int, width: int, n: int, n_limit: int, reload: bool):
        from amaranth import signed
        from ..interface import OutputStreamSignature, beat_shape
        self.beat, self.width, self.n, self.n_limit, self.reload = beat, width, n, n_limit, reload
        members = {"i": In(OutputStreamSignature(beat_shape(signed(width), beat))),
                   **axis_members("m_axis", Out, beat, width)}
        if reload:
            members |= {"length": In(range(n_limit + 1)), "load": In(1)}
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        eb = element_bytes(self.width)
        fr = _Framer(m, self.beat, eb, getattr(self, "length", None), getattr(self, "load", None),
                     self.n, self.n_limit, counting=False)
        raw = Value.cast(self.i.payload)
        for e in range(self.beat):
            m.d.comb += self.m_axis_tdata[e * 8 * eb:(e + 1) * 8 * eb].eq(
                raw[e * self.width:(e + 1) * self.width].as_signed())
        full = (1 << self.beat * eb) - 1
        m.d.comb += [self.m_axis_tvalid.eq(self.i.valid), self.i.ready.eq(self.m_axis_tready),
                     self.m_axis_tlast.eq(self.i.last), self.m_axis_tkeep.eq(Mux(self.i.last, fr.last_keep, full))]
        return m
