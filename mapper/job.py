"""The mapping job: map a weight source and write its plan folder (manifest, ROM images, reports)."""

from __future__ import annotations

import os

from .analog import analog_error, fine_energy_pj
from .config import RELATIVE
from .config import ArrayConfig
from .common import atomic_dir, check_output_dir, dumps_json, write_text
from .cost import input_aware_report, load_layer_inputs
from .plan import build_layer_plan, write_plan
from .cost import format_table, map_layers, report_dict
from .prepare import prepare_layers
from .sources import load_weights

__all__ = ["map_to_folder", "report_markdown", "check_output_folder", "analog_report"]


def analog_report(lm, run, x=None, seeds: int = 3) -> dict:
    """A layer's output error through the analog model: on random inputs, and on the captured `x` if given."""
    out = {"random": analog_error(lm, run, seeds=seeds),
           "remedy_energy_pj": fine_energy_pj(lm, run.fine_bits, run.fine_extra) if run.fine_bits else 0.0}
    if x is not None:
        out["inputs"] = analog_error(lm, run, x=x[:64], seeds=seeds)
    return out


def check_output_folder(path: str, what: str = "output folder", inputs=()) -> None:
    """An SwsError unless `path` can become a folder that this run may replace (mapper.common.outputs.check_output_dir)."""
    check_output_dir(path, inputs, what)


def report_markdown(report: dict) -> str:
    """report.md: the configuration in a sentence, the table, the notes and any cap's measured error."""
    cfg = report["config"]
    hw, mp, en = cfg["hardware"], cfg["mapping"], cfg["energy"]
    models = report["models"]
    law = f"law {en['law']}" + (f" (E8 = {en['e8_pj']} pJ)" if en["law"] in RELATIVE else "")
    t = report["total"]
    drive = {"signmag": "sign-magnitude", "bipolar": "bipolar (rows driven +1/0/-1)"}.get(hw.get("input_encoding"),
                                                                                          "two's complement")
    if hw.get("input_aware"):
        drive += "; input-aware hardware, whose figures here are weight-only: their upper bound"
    lines = [f"# SWS mapping report: {report['source']}", "",
             f"Array {hw['rows']} x {hw['cols']}, weights {hw['weight_bits']} magnitude bits, "
             f"inputs {hw['input_bits']} bits ({'signed' if hw['input_signed'] else 'unsigned'}, {drive}), "
             f"group {hw['group']}, {hw['n_adc']} ADCs, ordering {mp['ordering']}, sectioning {mp['sectioning']}, "
             f"policy {mp['policy']}, cap {mp['cap']}, {law}, sparsity requested {report['sparsity_requested']}.",
             "",
             "Energy is per input vector. `dense` is the classic design (natural order, every column at "
             "full resolution); `natural` is the same policy without sorting. `energy` is the ADC energy "
             f"alone; `macro` is the whole macro ({models['macro']}: {models['macro_file']}). "
             f"ADC model: {models['adc']}. Cycles: {models['cycles']}; time at "
             f"{models['clock_hz'] / 1e9:g} GHz. `x bound`: against the per-column split bound.", "",
             format_table(report), "",
             "Whole-macro energy per input vector, by component (pJ):", "",
             "| component | plan | share |", "|---|---:|---:|"]
    for k, v in t["macro_breakdown_pj"].items():
        lines.append(f"| {k} | {v:.1f} | {100 * v / t['macro_energy_pj']:.1f}% |" if t["macro_energy_pj"] else
                     f"| {k} | {v:.1f} | |")
    lines += ["", f"Area {t['area_um2'] / 1e6:.4f} mm^2 (dense design {t['dense_area_um2'] / 1e6:.4f} mm^2): "
              + ", ".join(f"{k} {v / 1e6:.4f}" for k, v in t["area_breakdown_um2"].items()) + ".",
              f"Cycles per vector {t['cycles_per_vector']} (ADC bound {t['adc_bound_cycles']}; dense design on "
              f"the same controller {t['dense_cycles_per_vector']}): {t['time_per_vector_ns'] / 1000:.2f} us.", ""]
    lines += [f"- {n}" for n in report["notes"]]
    if "analog" in report:
        a = report["analog"]
        lines += ["", f"Analog model `{a['device']['name']}` read {a['drift_time_s']:g} s after programming, "
                  f"{'with' if a['compensation'] else 'without'} global drift compensation: output error (relative "
                  f"RMS against x @ W, mean +- std over {a['seeds']} chip instances):"]
        for row in report["layers"]:
            e = row["analog"]
            line = (f"- {row['name']}: random inputs ({e['random']['vectors']} vectors) "
                    f"{e['random']['rms_error_relative']:.4f} +- {e['random']['rms_error_relative_std']:.4f}")
            if "inputs" in e:
                line += (f"; captured inputs ({e['inputs']['vectors']} vectors) {e['inputs']['rms_error_relative']:.4f}"
                         f" +- {e['inputs']['rms_error_relative_std']:.4f}")
            lines.append(line)
    if mp["cap"] is not None:
        lines.append("")
        lines.append(f"Resolution cap {mp['cap']} bits (lossy): error on random inputs per layer:")
        for row in report["layers"]:
            e = row["cap_error"]
            lines.append(f"- {row['name']}: {e['capped_columns']} capped columns, max |error| "
                         f"{e['max_abs_error']}, relative RMS error {e['rms_error_relative']:.3g} "
                         f"over {e['vectors']} vectors")
    return "\n".join(lines) + "\n"


class _Named:
    """What load_layer_inputs reads of a layer: its name, shape and hardware (layer.name, layer.shape, cfg)."""

    def __init__(self, layer, cfg):
        self.layer, self.cfg = layer, cfg


def map_to_folder(spec: str, cfg: ArrayConfig, sparsity: float, out: str, *, per_channel: bool = False,
                  progress=None, inputs: str | None = None, layers=None, analog=None, analog_seeds: int = 3,
                  objective: str | None = None, search: str | None = None, fixed: dict | None = None) -> dict:
    """Map the weight source `spec` and write plan.json, the ROM images, report.json and report.md.

    Parameters
    ----------
    spec : str
        A weight source (mapper.sources.weights.load_weights).
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
    inputs : str, optional
        Actual input vectors (.npy for one layer, .npz by layer name): each such layer's report row gets
        an `input_aware` block (mapper.cost.input_aware.input_aware_report) beside its weight-only figures.
    layers : list of QuantLayer, optional
        The source's layers already pruned and quantized (by a calibrated method): mapped as they are.
    analog : mapper.analog.AnalogRun, optional
        Each layer's report row gets an `analog` block: its output error through the analog model
        (mapper.analog.analog_error) on 16 random input vectors and, where `inputs` gives them, on the
        first 64 captured ones, over `analog_seeds` chip instances.
    objective, search, fixed
        Choose each layer's design (mapper.cost.report.map_layers): "adc", "macro", "latency" or "edp", the
        search space over the default, the fields it keeps; objective None maps every layer under cfg.

    Returns
    -------
    dict
        The report (mapper.cost.report.report_dict).

    Raises
    ------
    SwsError
        For a bad source, configuration or output path.
    """
    sources = [spec] + ([inputs] if inputs else [])
    check_output_folder(out, inputs=sources)
    if layers is None:
        layers = prepare_layers(load_weights(spec), cfg, sparsity, per_channel=per_channel)
    xs = load_layer_inputs(inputs, [_Named(l, cfg) for l in layers]) if inputs else {}
    results = map_layers(layers, cfg, progress, xs, objective=objective, search=search, fixed=fixed)
    report = report_dict(results, cfg, source=spec, sparsity=sparsity, per_channel=per_channel)
    for i, (r, row) in enumerate(zip(results, report["layers"])):
        if row["name"] in xs:
            row["input_aware"] = input_aware_report(r.map, xs[row["name"]], row["dense_energy_pj"])
        if analog is not None:
            if progress:
                progress(i, len(results), f"{row['name']}: analog Monte Carlo")
            row["analog"] = analog_report(r.map, analog, xs.get(row["name"]), analog_seeds)
    if analog is not None:
        report["analog"] = {"device": analog.device.to_dict(), "drift_time_s": analog.drift_time_s,
                            "compensation": analog.compensation, "seeds": analog_seeds,
                            "model": "mapper.analog (docs/design.md section 4, analog non-idealities)"}
    report_text = dumps_json(report, what="the report", indent=1) + "\n"
    with atomic_dir(out, inputs=sources) as tmp:
        write_plan(tmp, [build_layer_plan(r.map) for r in results],
                   {"source": spec, "sparsity_requested": sparsity, "per_channel": per_channel}, config=cfg)
        write_text(os.path.join(tmp, "report.json"), report_text)
        write_text(os.path.join(tmp, "report.md"), report_markdown(report))
    return report
