"""Every ADC model side by side (`sws laws`): energy and area per resolution, as a table and a plot."""

from __future__ import annotations

import math

from mapper.config import DEFAULT_E8_PJ, compare_models
from mapper.config import EnergyConfig
from mapper.common import SwsError
from mapper.common import atomic_path

__all__ = ["laws_report", "laws_markdown"]


def laws_report(max_bits: int = 10, plot: str | None = None, *, node_nm: float | None = None,
                sample_rate_hz: float | None = None, e8_pj: float | None = None, law_table=None) -> dict:
    """mapper.config.adc_models.compare_models with its parameters checked as EnergyConfig checks them; with `plot`,
    also a PNG of energy and area against resolution (needs the plots extra), written whole or not at all."""
    if isinstance(max_bits, bool) or not isinstance(max_bits, int) or not 1 <= max_bits <= 16:
        raise SwsError(f"max_bits must be an integer in 1..16, not {max_bits!r}")
    EnergyConfig(law="neurosim", node_nm=node_nm)          # a node every model that takes one can use
    EnergyConfig(law="murmann", sample_rate_hz=sample_rate_hz)
    e8 = EnergyConfig(law="walden", e8_pj=DEFAULT_E8_PJ if e8_pj is None else e8_pj).e8_pj
    if law_table is not None:
        law_table = EnergyConfig(law="table", law_table=law_table, e8_pj=e8).law_table
    result = compare_models(max_bits, node_nm=node_nm, sample_rate_hz=sample_rate_hz, e8_pj=e8, law_table=law_table)
    for name, model in result["models"].items():
        for key in ("energy_pj", "area_um2"):
            bad = [v for v in model.get(key) or () if not math.isfinite(v)]
            if bad:
                raise SwsError(f"law {name}: {key} = {bad[0]} at these parameters: an input (--node, --sample-rate, "
                               f"--e8, --law-table) is out of any meaningful range")
    if plot:
        from .plots import plot_laws
        with atomic_path(plot) as tmp:
            plot_laws(result, tmp)
        result["plot"] = plot
    return result


def laws_markdown(result: dict) -> str:
    models = result["models"]
    head = ["bits"] + [f"{n} pJ" for n in models] + [f"{n} um^2" for n in models if not models[n]["relative"]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---:|" * len(head)]
    for i, b in enumerate(result["bits"]):
        cells = [str(b)]
        for m in models.values():
            cells.append(f"{m['energy_pj'][i]:.4g}" if i < len(m["energy_pj"]) else "-")
        for m in models.values():
            if not m["relative"]:
                cells.append(f"{m['area_um2'][i]:.4g}" if i < len(m["area_um2"]) else "-")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Node {result['node_nm']:g} nm (neurosim, murmann), sample rate {result['sample_rate_hz']:g} S/s "
                 f"(murmann), E8 = {result['e8_pj']} pJ (relative laws; their area is isaac's).")
    for name, m in models.items():
        lines.append(f"- `{name}`: {m['formula']}. Source: {m['source']}.")
    return "\n".join(lines) + "\n"
