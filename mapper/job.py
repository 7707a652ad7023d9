"""The mapping job: map a weight source and write its plan folder (manifest, ROM images, reports)."""

from __future__ import annotations

import json
import os

from .config import ArrayConfig
from .errors import SwsError
from .files import atomic_dir
from .plan import build_layer_plan, write_plan
from .report import format_table, map_layers, map_source, report_dict

__all__ = ["map_to_folder", "report_markdown", "check_output_folder"]


def check_output_folder(path: str, what: str = "output folder") -> None:
    """An SwsError unless `path` can become a folder (it may exist as one)."""
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.exists(path) and not os.path.isdir(path):
        raise SwsError(f"{path}: the {what} must be a folder, but a file is there")
    if os.path.exists(parent) and not os.path.isdir(parent):
        raise SwsError(f"{path}: cannot make the {what} under {parent}, which is a file")


def report_markdown(report: dict) -> str:
    """report.md: the configuration in a sentence, the table, the notes and any cap's measured error."""
    cfg = report["config"]
    hw, mp, en = cfg["hardware"], cfg["mapping"], cfg["energy"]
    lines = [f"# SWS mapping report: {report['source']}", "",
             f"Array {hw['rows']} x {hw['cols']}, weights {hw['weight_bits']} magnitude bits, "
             f"inputs {hw['input_bits']} bits ({'signed' if hw['input_signed'] else 'unsigned'}), "
             f"group {hw['group']}, ordering {mp['ordering']}, policy {mp['policy']}, "
             f"cap {mp['cap']}, law {en['law']} (E8 = {en['e8_pj']} pJ), "
             f"sparsity requested {report['sparsity_requested']}.", "",
             "Energy is per input vector. `dense` is the classic design (natural order, every column at "
             "full resolution); `natural` is the same policy without sorting.", "",
             format_table(report), ""]
    lines += [f"- {n}" for n in report["notes"]]
    if mp["cap"] is not None:
        lines.append("")
        lines.append(f"Resolution cap {mp['cap']} bits (lossy): error on random inputs per layer:")
        for row in report["layers"]:
            e = row["cap_error"]
            lines.append(f"- {row['name']}: {e['capped_columns']} capped columns, max |error| "
                         f"{e['max_abs_error']}, relative RMS error {e['rms_error_relative']:.3g} "
                         f"over {e['vectors']} vectors")
    return "\n".join(lines) + "\n"


def map_to_folder(spec: str, cfg: ArrayConfig, sparsity: float, out: str, *, per_channel: bool = False,
                  progress=None, layers=None) -> dict:
    """Map the weight source `spec` and write plan.json, the ROM images, report.json and report.md.

    Parameters
    ----------
    spec : str
        A weight source (mapper.weights.load_weights).
    cfg : ArrayConfig
        Hardware, mapping choices and energy model.
    sparsity : float
        Unstructured magnitude pruning per layer, in [0, 1).
    out : str
        The plan folder, written whole or not at all.
    per_channel : bool
        Quantize float weights per output channel.
    progress : callable, optional
        progress(i, n, layer name) before each layer.
    layers : list of QuantLayer, optional
        The source's layers already pruned and quantized (by a calibrated method): mapped as they are.

    Returns
    -------
    dict
        The report (mapper.report.report_dict).

    Raises
    ------
    SwsError
        For a bad source, configuration or output path.
    """
    check_output_folder(out)
    results = (map_layers(layers, cfg, progress) if layers is not None
               else map_source(spec, cfg, sparsity, per_channel=per_channel, progress=progress))
    report = report_dict(results, cfg, source=spec, sparsity=sparsity, per_channel=per_channel)
    with atomic_dir(out) as tmp:
        write_plan(tmp, [build_layer_plan(r.map) for r in results],
                   {"source": spec, "sparsity_requested": sparsity, "per_channel": per_channel})
        with open(os.path.join(tmp, "report.json"), "w") as f:
            json.dump(report, f, indent=1)
            f.write("\n")
        with open(os.path.join(tmp, "report.md"), "w") as f:
            f.write(report_markdown(report))
    return report
