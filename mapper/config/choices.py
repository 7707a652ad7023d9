"""The mapping choices of a plan (docs/design.md section 0): ordering, sectioning, resolution policy, cap, placement."""

from __future__ import annotations

from dataclasses import dataclass

from ..common import finite, one_of, positive_int
from ..common import SwsError

__all__ = ["ORDERINGS", "POLICIES", "SECTIONINGS", "PLACEMENTS", "MappingConfig"]


ORDERINGS = ("sorted", "natural", "signed", "gray")
POLICIES = ("column", "section", "full", "dense")
SECTIONINGS = ("plain", "optimal", "refined")
PLACEMENTS = ("fixed", "balanced")
#: Largest resolution cap in bits: no ADC of a crossbar column converts more.
MAX_CAP = 32


@dataclass(frozen=True)
class MappingConfig:
    """How a layer is placed on the hardware.

    Parameters
    ----------
    ordering : str
        "sorted" (SWS), "natural" (input order, no row dropped), or the sorted variants "signed" and
        "gray" of mapper.sectioning.orderings.
    sectioning : str
        "plain": full sections of R rows, the last one partial; "optimal": the cuts of each group's order
        that minimize its energy plus `section_cost_pj` per section; "refined": optimal, then rows moved
        and swapped between sections, then cut again.
    section_cost_pj : float
        With sectioning "optimal" or "refined": energy (pJ per input vector) charged for each section, to
        trade energy against sections and crossbars; not part of the reported energy.
    policy : str
        ADC resolution policy: "column", "section", "full" or the "dense" reference.
    cap : int or None
        Resolution cap in bits (lossy when a column needs more).
    placement : str
        Where a section's active columns sit in its slot (on hardware with adc_mux M >= 1, where it
        decides which ADC converts them): "fixed", the natural slot order (j * 2 + sign) * Bm + bit;
        "balanced", SWS-aware (mapper.sectioning.placement): the columns sorted by resolution and dealt over the
        ADC groups so that each lockstep batch holds similar resolutions.
    """

    ordering: str = "sorted"
    sectioning: str = "plain"
    section_cost_pj: float = 0.0
    policy: str = "column"
    cap: int | None = None
    placement: str = "fixed"

    def __post_init__(self):
        one_of("ordering", self.ordering, ORDERINGS)
        one_of("placement", self.placement, PLACEMENTS)
        one_of("sectioning", self.sectioning, SECTIONINGS)
        one_of("policy", self.policy, POLICIES)
        finite("section_cost_pj", self.section_cost_pj, positive=False)
        if self.section_cost_pj and self.sectioning == "plain":
            raise SwsError("section_cost_pj is only used with sectioning 'optimal' or 'refined', not with "
                           "sectioning 'plain'")
        if self.sectioning == "refined" and self.policy != "column":
            raise SwsError(f"sectioning 'refined' prices moves per column: it needs policy 'column', "
                           f"not {self.policy!r}")
        if self.policy == "dense" and self.ordering != "natural":
            raise SwsError("policy 'dense' is the natural-order reference: it needs ordering 'natural', "
                           f"not {self.ordering!r}")
        if self.policy == "dense" and self.sectioning != "plain":
            raise SwsError("policy 'dense' is the plain-sectioned reference: it needs sectioning 'plain'")
        if self.cap is not None:
            positive_int("cap", self.cap)
            if self.cap > MAX_CAP:
                raise SwsError(f"cap must be at most {MAX_CAP} bits (the full resolution of the largest array is "
                               f"17), not {self.cap}")
