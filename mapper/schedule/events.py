"""The events the energy model prices (docs/design.md section 4, "Events"), counted from a plan's tables and the
controller's schedule: the one count that the report prices (mapper.cost.macro), the golden model predicts
the hardware counters from (sim/golden.py) and the RTL's counters must equal (docs/design.md section 6).

Per input vector, on the controller of docs/design.md section 6 (sections walked in table order, each live
section gathered once, each of its issued drive steps one wordline activation under which every active
column is sampled and converted, in batches):

  cycles           busy cycles of the vectors streamed one after the other (the `cycles` counter)
  conversions      per resolution b = 0..full (index b; 0 stays 0): the ADC conversions at b bits
  sample_holds     columns sampled (one sample-and-hold per conversion)
  shift_adds       codes shifted and added into the output sums (one per conversion)
  planes           (section, drive step) pairs issued: every step of a live section, weight-only; the
                   steps with q > 0 on input-aware hardware
  wordline_pulses  wordline activations: one per issued (section, step), whatever the number of batches
  precharges       bitline precharges: one per wordline activation
  row_drives       rows driven, summed over the activations: the section's rows (rows past them are not
                   driven)
  cell_reads       cells holding a 1 on a driven row, summed over the activations (the cells that conduct
                   when their row's bit is 1)
  inputs, outputs  the vector's K inputs written into the input buffer and N outputs streamed out
  gathered_rows    rows gathered into the drive register: one row-index word and one input-buffer read each,
                   for every live section (on input-aware hardware also for a section whose steps all
                   have q = 0: its popcounts are known only once it is gathered)
  column_words     column-table words read (the active columns of the live sections)
  sections         section-table words read (every section, empty ones included)

Weight-only hardware: every count but `cycles` is the same for every vector. Input-aware hardware: the
conversions at min(res, bitlen(q)), the planes, activations, row drives and cell reads depend on each
vector's step popcounts q.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..plan import LayerPlan
from .cycles import Schedule, schedule

__all__ = ["EVENTS", "Events", "count_events", "events_of_schedule"]

#: Every event, in the order of docs/design.md section 4; `conversions` is a list by resolution.
EVENTS = ("cycles", "conversions", "sample_holds", "shift_adds", "planes", "wordline_pulses", "precharges",
          "row_drives", "cell_reads", "inputs", "outputs", "gathered_rows", "column_words", "sections")


@dataclass
class Events:
    """Event counts of `vectors` input vectors (totals over them; `per_vector` divides)."""

    vectors: int = 1
    cycles: int = 0
    conversions: list[int] = field(default_factory=list)
    sample_holds: int = 0
    shift_adds: int = 0
    planes: int = 0
    wordline_pulses: int = 0
    precharges: int = 0
    row_drives: int = 0
    cell_reads: int = 0
    inputs: int = 0
    outputs: int = 0
    gathered_rows: int = 0
    column_words: int = 0
    sections: int = 0

    def as_dict(self) -> dict:
        return {name: (list(getattr(self, name)) if name == "conversions" else int(getattr(self, name)))
                for name in EVENTS}

    @property
    def conversion_count(self) -> int:
        return int(sum(self.conversions))

    def per_vector(self) -> dict:
        """Each count divided by the vectors (floats; `conversions` a list)."""
        v = self.vectors
        return {name: ([c / v for c in getattr(self, name)] if name == "conversions" else getattr(self, name) / v)
                for name in EVENTS}

    def __add__(self, other: "Events") -> "Events":
        """Two layers' counts for the same vectors (conversions added by resolution)."""
        n = max(len(self.conversions), len(other.conversions))
        conv = [(self.conversions[b] if b < len(self.conversions) else 0)
                + (other.conversions[b] if b < len(other.conversions) else 0) for b in range(n)]
        return Events(self.vectors, **{name: conv if name == "conversions" else
                                       getattr(self, name) + getattr(other, name) for name in EVENTS})


def events_of_schedule(lp: LayerPlan, sch: Schedule, vectors: int = 1) -> Events:
    """The events of the plan under its schedule `sch` (mapper.schedule.schedule), for `vectors` vectors:
    the schedule's own when it was made for inputs (one bound set per vector), or the weight-only schedule's
    counts times `vectors`."""
    tables, bounds = sch.tables, sch.bounds
    full = tables.full
    per = vectors if bounds.shape[0] == 1 else 1
    if bounds.shape[0] not in (1, vectors):
        raise ValueError(f"a schedule of {bounds.shape[0]} vectors cannot count {vectors}")
    s_count = tables.n_sections
    # How often each section issued a step at each bound t, over the vectors and steps.
    key = np.arange(s_count)[None, :, None] * (full + 1) + bounds
    seen = np.bincount(key.reshape(-1), minlength=s_count * (full + 1)).reshape(s_count, full + 1) * per
    seen[:, 0] = 0
    issued = seen.sum(axis=1)                                                     # (S,) activations
    conv = np.einsum("st,stb->b", seen, tables.conversions)
    conv[0] = 0
    k, n = lp.shape
    live = tables.live
    ends = sch.ends() if bounds.shape[0] > 1 else sch.ends(vectors)
    total_conv = int(conv.sum())
    planes = int(issued.sum())
    return Events(
        vectors=vectors, cycles=int(ends[-1] + 1) if ends else 0, conversions=[int(c) for c in conv],
        sample_holds=total_conv, shift_adds=total_conv, planes=planes, wordline_pulses=planes, precharges=planes,
        row_drives=int((tables.rows * issued).sum()), cell_reads=int((tables.ones * issued).sum()),
        inputs=k * vectors, outputs=n * vectors, gathered_rows=int(tables.rows[live].sum()) * vectors,
        column_words=int(tables.n_active[live].sum()) * vectors, sections=s_count * vectors)


def count_events(lp: LayerPlan, params=None, x=None, *, ones: np.ndarray | None = None) -> Events:
    """The events of input vectors x (V, K) on the plan, or (x None) of one vector on its weight-only schedule
    (on input-aware hardware the most any vector can cause). `ones`: each section's 1-cells, for a plan built
    without cells. `params`: anything mapper.schedule.ScheduleParams.of takes (default: the plan's own
    hardware, default lanes and timing)."""
    x = None if x is None else np.asarray(x, np.int64).reshape(-1, lp.shape[0])
    sch = schedule(lp, params, x, ones=ones)
    return events_of_schedule(lp, sch, 1 if x is None else len(x))
