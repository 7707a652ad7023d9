"""The main job on a weight source: map, Verilog of the first layer's tile, its cycle simulation against
the golden model, and synthesis of its controller. The library call behind `sws flow`."""

from __future__ import annotations

import os

import numpy as np

from hwgen.params import TileParams
from hwgen.verilog import write_rtl
from mapper.config import ArrayConfig
from mapper.common import check_output_dir, claim_dir, dumps_json, write_atomic
from mapper.job import map_to_folder
from mapper.plan import load_plan
from mapper.prepare import check_sparsity
from mapper.cost import format_table
from mapper.sources import check_source
from sim.check import simulate_plan
from sim.netlist import synthesize_checked

__all__ = ["run_flow", "DEFAULT_WEIGHTS", "DEFAULT_SPARSITY", "FLOW_VECTORS"]

FLOW_VECTORS = 2
DEFAULT_WEIGHTS = "synthetic:laplace:384x64:1"
DEFAULT_SPARSITY = 0.8


def run_flow(weights: str, cfg: ArrayConfig, sparsity: float, out: str, *, synth_target: str | None = "ecp5",
             say=print, progress=None, quiet: bool = False) -> int:
    """Map `weights` into out/plan, then Verilog, simulation and (unless `synth_target` is None) synthesis
    of the first layer. Returns the exit code: 0, or 1 when the simulation differs from the golden model.
    `quiet`: the simulators' status lines (compiling ...) are not shown."""
    plan_dir = os.path.join(out, "plan")
    # The flow fills `out` piece by piece (plan, rtl, sim, synth): it must be sws's own folder (or new), and
    # it is made only once the weight source and the sparsity are known to be good.
    check_output_dir(out, [weights], "flow output folder", replaced=False)
    check_source(weights)
    check_sparsity(sparsity)
    claim_dir(out, [weights], "flow output folder")
    say(f"== map {weights} at sparsity {sparsity} onto {cfg.hw.rows} x {cfg.hw.cols} crossbars")
    report = map_to_folder(weights, cfg, sparsity, plan_dir, progress=progress)
    say(format_table(report))
    t = report["total"]
    say(f"ADC energy {t['energy_pj']:.1f} pJ per input vector ({cfg.energy.law} law): "
        f"{100 * t['reduction_vs_dense']:.1f}% less than dense, "
        f"{100 * t['reduction_vs_natural']:.1f}% less than natural order with the same policy")
    say(f"plan in {plan_dir}/")
    code, sim = _rtl_and_sim(plan_dir, out, report, say, quiet)
    if code or synth_target is None:
        return code
    return _synth(plan_dir, out, report, sim, synth_target, say)


def _rtl_and_sim(plan_dir: str, out: str, report: dict, say, quiet: bool = False) -> tuple[int, dict]:
    """Verilog of the plan's first layer, and its cycle simulation on random vectors against the golden model."""
    layer = report["layers"][0]
    if len(report["layers"]) > 1:
        say(f"(RTL and simulation of the first layer, {layer['name']}, of {len(report['layers'])})")
    verilog = os.path.join(out, "rtl", "sws_tile.v")
    say(f"== rtl: Verilog of the tile for {layer['name']}")
    w = write_rtl(plan_dir, verilog, layer=layer["name"])
    say(f"module {w['module']} (ROMs baked in) in {verilog}")
    hw = ArrayConfig.from_dict(report["config"]).hw
    x = np.random.default_rng(0).integers(hw.input_min, hw.input_max + 1, (FLOW_VECTORS, layer["shape"][0]))
    say(f"== sim: {FLOW_VECTORS} random input vectors, cycle by cycle, against the golden model")
    r = simulate_plan(plan_dir, x, layer=layer["name"], say=(lambda m: None) if quiet else None)
    sim_dir = os.path.join(out, "sim")
    write_atomic(os.path.join(sim_dir, "inputs.npy"), lambda f: np.save(f, x), binary=True)
    per = r["cycles_per_vector"][0]
    say(f"{per} cycles per vector ({per / max(1, r['adc_bound_per_vector']):.3f}x the ADC bound of "
        f"{r['adc_bound_per_vector']}); {r['conversions'] // FLOW_VECTORS} conversions and "
        f"{r['energy_pj'] / FLOW_VECTORS:.1f} pJ per vector from the counters "
        f"(the mapper's report: {layer['energy_pj']:.1f} pJ)")
    if hw.double_buffer and len(r["cycles_per_vector"]) > 1:
        say(f"double-buffered: {per} cycles from the first input to the last output of a vector (latency); "
            f"the next vector's last output {r['cycles_per_vector'][1]} cycles later (throughput)")
    if not r["match"]:
        for line in r["problems"]:
            say(f"sws: mismatch: {line}")
        return 1, r
    write_atomic(os.path.join(sim_dir, "outputs.npy"), lambda f: np.save(f, r["outputs"]), binary=True)
    say(f"outputs, counters and cycles match the golden model bit for bit; inputs and outputs in {sim_dir}/")
    return 0, r


def _synth(plan_dir: str, out: str, report: dict, sim: dict, target: str, say) -> int:
    """Area (and on an FPGA target, Fmax) of the controller of the plan's first layer."""
    layer = report["layers"][0]
    pnr = target != "generic"
    say(f"== synth: the controller for {layer['name']} with Yosys for {target}"
        f"{' and nextpnr for Fmax' if pnr else ''} (the first run of the yowasp tools compiles them: ~90 s)")
    lp = load_plan(plan_dir).layer(layer["name"])
    r = synthesize_checked(TileParams.from_plan(lp), lp, target, pnr=pnr, tile=False)["controller"]
    write_atomic(os.path.join(out, "synth", f"controller-{target}.json"), dumps_json(r.to_dict(), indent=1) + "\n")
    fmax = f", Fmax {r.fmax_mhz:.1f} MHz" if r.fmax_mhz else ""
    say(f"controller: {r.luts} LUTs, {r.carries} carry cells, {r.flip_flops} flip-flops, {r.block_rams} block "
        f"RAMs, {r.lut_rams} LUT RAMs{fmax}; netlist simulated against the golden model: "
        f"{'yes' if r.netlist_checked else 'no'}")
    for note in (w for w in r.warnings if not w.startswith("Warning:")):
        say(f"note: {note}")
    t = report["total"]
    per = sim["cycles_per_vector"][0]
    say(f"== summary: {t['energy_pj']:.1f} pJ of ADC energy per vector ({100 * t['reduction_vs_dense']:.1f}% "
        f"below dense), {per} cycles per vector ({per / max(1, sim['adc_bound_per_vector']):.3f}x the ADC "
        f"bound), controller {r.luts} LUTs and {r.flip_flops} flip-flops{fmax}")
    return 0
