"""The objective that chooses each layer's design (docs/design.md section 4, "The objective"): among the group
size G, the row ordering, the sectioning, the input encoding, input-aware resolution and segmented wordlines,
the candidate with the lowest ADC energy, whole-macro energy, cycles or energy-delay product per vector.

Every candidate is costed by the one event model (mapper.schedule.events) priced by mapper.cost.macro, as the
report costs the choice: a layer is sectioned once per (G, ordering, sectioning), its tables built once, its
events counted once per drive (encoding, input-aware) and priced once per wordline segmentation. Input-aware
candidates are costed on the layer's actual inputs (the mean over its vectors) and only offered when they
are given; sign-magnitude without input-aware resolution is never offered (twice the drive steps of two's
complement for the same conversions: it cannot win). The cycle model's recursion runs only for the
objectives that need it (latency, edp).
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

import numpy as np

from ..common import SwsError
from ..config import BUILT, ENCODINGS, ORDERINGS, SECTIONINGS, ArrayConfig
from ..plan import build_layer_plan
from ..schedule import (ScheduleParams, default_lanes, events_of_schedule, schedule, section_membership,
                        section_tables)
from ..sectioning import LayerMap, map_layer
from ..sources import QuantLayer
from .macro import macro_area, price_events, section_ones

__all__ = ["OBJECTIVES", "SPACE_FIELDS", "RANK_VECTORS", "SHORTLIST", "Candidate", "default_space", "parse_space",
           "candidate_configs", "rank_layer", "best_map", "choice_of"]

OBJECTIVES = ("adc", "macro", "latency", "edp")
#: The configuration fields an objective chooses among, in the order a choice is named.
SPACE_FIELDS = ("group", "ordering", "sectioning", "input_encoding", "input_aware", "wordline_slots")
_PART = {"group": "hw", "ordering": "mapping", "sectioning": "mapping", "input_encoding": "hw", "input_aware": "hw",
         "wordline_slots": "hw"}


def choice_of(cfg: ArrayConfig) -> dict:
    """The values of the chosen fields in a configuration."""
    return {f: getattr(getattr(cfg, _PART[f]), f) for f in SPACE_FIELDS}


@dataclass
class Candidate:
    """One design of a layer, costed per input vector."""

    cfg: ArrayConfig
    adc_pj: float
    macro_pj: float
    cycles: int | None          # steady-state cycles per vector (None: not computed for this objective)
    area_um2: float
    score: float = 0.0

    @property
    def choice(self) -> dict:
        return choice_of(self.cfg)

    def summary(self) -> dict:
        return {**self.choice, "score": self.score, "energy_pj": self.adc_pj, "macro_energy_pj": self.macro_pj,
                "cycles_per_vector": self.cycles, "area_um2": self.area_um2}


def default_space(cfg: ArrayConfig, with_inputs: bool) -> dict:
    """Every G from 1 up to the slots of a crossbar (C // (2 Bm)), every ordering, plain sections, two's
    complement and (with inputs) the sign-magnitude and bipolar drives (every encoding the RTL builds,
    `mapper.config.BUILT`), input-aware resolution only with inputs, one wordline per crossbar or one per slot.
    The configuration's own value of each field comes first (ties go to it)."""
    slots = cfg.hw.cols // (2 * cfg.hw.weight_bits)
    space = {"group": tuple(range(1, slots + 1)), "ordering": ("sorted", "natural", "signed", "gray"),
             "sectioning": ("plain",),
             "input_encoding": BUILT if with_inputs and cfg.hw.input_signed else ("twos",),
             "input_aware": (False, True) if with_inputs else (False,), "wordline_slots": (0, 1)}
    own = choice_of(cfg)
    return {f: tuple(dict.fromkeys([own[f]] + list(v))) if own[f] in v else v for f, v in space.items()}


_VALUES = {"ordering": ORDERINGS, "sectioning": SECTIONINGS, "input_encoding": ENCODINGS}


def parse_space(text: str | None, cfg: ArrayConfig, with_inputs: bool, fixed: dict | None = None) -> dict:
    """The space of `--search FIELD=V1,V2;FIELD=...` over the default space; `fixed` fields (given on the command
    line) hold their one value. An SwsError names the field, the value and the rule."""
    space = default_space(cfg, with_inputs)
    for part in [p.strip() for p in (text or "").split(";") if p.strip()]:
        field, _, values = part.partition("=")
        field = field.strip().replace("-", "_")
        if field not in SPACE_FIELDS:
            raise SwsError(f"--search: unknown field {field!r} (the fields: {', '.join(SPACE_FIELDS)})")
        items = [v.strip() for v in values.split(",") if v.strip()]
        if not items:
            raise SwsError(f"--search: {field} needs at least one value, as {field}=V1,V2")
        if field in ("group", "wordline_slots"):
            try:
                parsed = tuple(int(v) for v in items)
            except ValueError:
                raise SwsError(f"--search: {field} values are integers, not {values!r}") from None
        elif field == "input_aware":
            bad = [v for v in items if v not in ("true", "false")]
            if bad:
                raise SwsError(f"--search: input_aware values are true or false, not {bad[0]!r}")
            parsed = tuple(v == "true" for v in items)
        else:
            bad = [v for v in items if v not in _VALUES[field]]
            if bad:
                raise SwsError(f"--search: {field} must be one of {', '.join(_VALUES[field])}, not {bad[0]!r}")
            parsed = tuple(items)
        if field == "input_aware" and True in parsed and not with_inputs:
            raise SwsError("--search: input_aware=true needs the layers' inputs (--inputs): an input-aware design "
                           "is costed on them")
        space[field] = tuple(dict.fromkeys(parsed))
    for field, value in (fixed or {}).items():
        space[field] = (value,)
    return space


def candidate_configs(cfg: ArrayConfig, space: dict) -> list[ArrayConfig]:
    """Every valid configuration of the space (cfg's other fields kept; with ADC groups, n_adc follows the
    slot width), in the space's order, without the dominated sign-magnitude weight-only drive and without
    wordline segmentations that give the same segments as another."""
    out, seen = [], set()
    for values in itertools.product(*(space[f] for f in SPACE_FIELDS)):
        fields = dict(zip(SPACE_FIELDS, values))
        if fields["input_encoding"] == "signmag" and not fields["input_aware"]:
            continue
        if fields["ordering"] == "natural" and cfg.mapping.policy == "dense" and fields["sectioning"] != "plain":
            continue
        try:
            c = cfg.replace(**fields)
            if c.hw.adc_mux:
                c = c.replace(n_adc=c.hw.mux_adcs(c.hw.adc_mux))
        except SwsError:
            continue
        key = (c.hw.group, c.mapping.ordering, c.mapping.sectioning, c.hw.input_encoding, c.hw.input_aware,
               c.hw.wordline_segments)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def _score(objective: str, c: Candidate) -> float:
    if objective == "adc":
        return c.adc_pj
    if objective == "macro":
        return c.macro_pj
    if objective == "latency":
        return float(c.cycles)
    return c.macro_pj * c.cycles


#: Input vectors an input-aware candidate is ranked on, at most (evenly spaced over the given ones); the
#: chosen design is then costed on all of them.
RANK_VECTORS = 32
#: Maps (G, ordering, sectioning) whose input-aware drives are costed: those whose weight-only designs score
#: best (None: every map).
SHORTLIST = 6


def rank_layer(layer: QuantLayer, cfg: ArrayConfig, objective: str, space: dict, x=None,
               shortlist: int | None | str = "default") -> tuple[list, dict]:
    """The candidate designs of the layer costed and ranked, best first (ties: lower macro energy, lower area,
    then the space's order), and the layer maps by (group, ordering, sectioning) for the caller to reuse.

    With inputs, a drive whose input range does not hold them (sign-magnitude and bipolar: no -2**(A-1)) is
    left out. Every weight-only design of the space is costed. Input-aware designs (their events depend on the inputs x)
    are costed on the `shortlist` maps whose weight-only designs score best (each map's best; a map with
    none in the space is scored by its weight-only two's-complement design), on at most RANK_VECTORS of the
    inputs (evenly spaced); `shortlist` None costs them on every map ("default": SHORTLIST)."""
    shortlist = SHORTLIST if shortlist == "default" else shortlist
    if objective not in OBJECTIVES:
        raise SwsError(f"objective must be one of {', '.join(OBJECTIVES)}, not {objective!r}")
    configs = candidate_configs(cfg, space)
    if x is not None and np.size(x):
        # A drive that cannot take the layer's inputs is no candidate: sign-magnitude and bipolar have no
        # -2**(A-1) (`HardwareConfig.input_min`).
        lo, hi = int(np.min(x)), int(np.max(x))
        configs = [c for c in configs if c.hw.input_min <= lo and hi <= c.hw.input_max]
    if x is not None and len(x) > RANK_VECTORS:
        x = np.asarray(x)[np.unique(np.linspace(0, len(x) - 1, RANK_VECTORS).round().astype(np.int64))]
    if not configs:
        raise SwsError(f"layer {layer.name}: no valid design in the search space")
    need_cycles = objective in ("latency", "edp")
    maps: dict = {}
    counted: dict = {}

    def key_of(c):
        return c.hw.group, c.mapping.ordering, c.mapping.sectioning

    def cost(c) -> Candidate:
        key = key_of(c)
        if key not in maps:
            lm = map_layer(layer, c)
            lp = build_layer_plan(lm, cells=False)
            maps[key] = (lm, lp, section_ones(lm), section_membership(lp) if x is not None else None, {})
        lm, lp, ones, member, tables = maps[key]
        plan = dataclasses.replace(lp, cfg=c)
        drive = key + (c.hw.input_encoding, c.hw.input_aware)
        if drive not in counted:    # the wordline segments change the prices, not the events
            xs = np.asarray(x, np.int64).reshape(-1, lp.shape[0]) if c.hw.input_aware and x is not None else None
            params = ScheduleParams(c.hw, default_lanes(c.hw.rows))
            if c.hw.sign_bits not in tables:      # the tables depend on the drive only through the sign bit
                tables[c.hw.sign_bits] = section_tables(plan, params.lanes, params.timing, ones)
            sch = schedule(plan, params, xs, run=need_cycles, member=member, tables=tables[c.hw.sign_bits])
            v = 1 if xs is None else len(xs)
            cycles = None
            if need_cycles:
                cycles = sch.throughput() if v == 1 else int(round(float(np.mean(np.diff(sch.ends())))))
            counted[drive] = (events_of_schedule(plan, sch, v), v, cycles)
        ev, v, cycles = counted[drive]
        energy = price_events(ev, c, plan.widths())
        res = plan.columns["res"]
        area = macro_area(c, plan.n_sections, int(res.max()) + c.hw.sign_bits if len(res) else 0,
                          sum(plan.rom_bits().values()), plan.shape[0])
        cand = Candidate(c, energy["adc"] / v, sum(energy.values()) / v, cycles, float(sum(area.values())))
        cand.score = _score(objective, cand)
        return cand

    out: list = []
    weight_only: dict = {}
    for order, c in enumerate(configs):
        if not c.hw.input_aware or x is None:
            cand = cost(c)
            out.append((cand.score, cand.macro_pj, cand.area_um2, order, cand))
            weight_only[key_of(c)] = min(weight_only.get(key_of(c), np.inf), cand.score)
    aware = [(order, c) for order, c in enumerate(configs) if c.hw.input_aware and x is not None]
    if aware and shortlist is not None:
        for _, c in aware:                        # a map with no weight-only design in the space
            if key_of(c) not in weight_only:
                weight_only[key_of(c)] = cost(c.replace(input_aware=False, input_encoding="twos")).score
        keep = set(sorted(weight_only, key=weight_only.get)[:shortlist])
        aware = [(order, c) for order, c in aware if key_of(c) in keep]
    for order, c in aware:
        cand = cost(c)
        out.append((cand.score, cand.macro_pj, cand.area_um2, order, cand))
    out.sort(key=lambda t: t[:4])
    return [t[-1] for t in out], {k: v[0] for k, v in maps.items()}


def best_map(layer: QuantLayer, ranking: list, maps: dict) -> LayerMap:
    """The chosen candidate's map (its sections, under its whole configuration)."""
    c = ranking[0].cfg
    lm = maps[(c.hw.group, c.mapping.ordering, c.mapping.sectioning)]
    return LayerMap(layer, dataclasses.replace(lm.sec, cfg=c), lm.res)
