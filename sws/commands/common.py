"""Options shared by the subcommands (not a command itself): the configuration, the weights, the layer."""

from __future__ import annotations

import argparse
import math
import sys

from mapper.config import (ENCODINGS as INPUT_ENCODINGS, LAWS, ORDERINGS, PLACEMENTS, POLICIES, SECTIONINGS,
                           ArrayConfig)
from mapper.common import SwsError
from mapper.cost import load_macro

DEFAULT = ArrayConfig()


def _float_list(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, not {text!r}") from None


def number_list(text: str, option: str, kind=float) -> tuple:
    """The comma-separated numbers of an option's value (at least one, each finite), or an SwsError naming
    the option (`--sparsities ,` wrote an empty study)."""
    try:
        values = tuple(kind(x) for x in text.split(",") if x.strip())
    except (ValueError, OverflowError):
        raise SwsError(f"{option}: expected comma-separated numbers, not {text!r:.80}") from None
    if not values:
        raise SwsError(f"{option}: needs at least one number, not {text!r:.80}")
    if not all(math.isfinite(v) for v in values):
        raise SwsError(f"{option}: every number must be finite, not {text!r:.80}")
    return values


def add_config_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("array and mapping")
    g.add_argument("--rows", type=int, default=DEFAULT.hw.rows, help="crossbar rows R (default %(default)s)")
    g.add_argument("--cols", type=int, default=DEFAULT.hw.cols, help="crossbar columns C (default %(default)s)")
    g.add_argument("--weight-bits", type=int, default=DEFAULT.hw.weight_bits,
                   help="weight magnitude bits Bm (default %(default)s: int8 symmetric)")
    g.add_argument("--input-bits", type=int, default=DEFAULT.hw.input_bits, help="input bits A (default %(default)s)")
    g.add_argument("--unsigned-inputs", action="store_true", help="inputs are unsigned (no negative plane)")
    g.add_argument("--group", type=int, default=None,
                   help=f"outputs per row order G (default {DEFAULT.hw.group}; `sws map` with an objective chooses "
                        f"it per layer unless given)")
    g.add_argument("--n-adc", type=int, default=None,
                   help=f"ADCs per controller (default {DEFAULT.hw.n_adc}; with --adc-mux M: ceil(slot columns / M))")
    g.add_argument("--adc-mux", type=int, default=DEFAULT.hw.adc_mux, metavar="M",
                   help="columns per ADC: ADC i converts only slot columns i*M .. i*M+M-1 (default %(default)s: "
                        "a full switch matrix, any ADC any column)")
    g.add_argument("--placement", choices=PLACEMENTS, default=DEFAULT.mapping.placement,
                   help="slot columns of a section's active columns, with --adc-mux: fixed (natural order) or "
                        "balanced (SWS-aware: similar resolutions in each ADC batch) (default %(default)s)")
    add_bank_args(g, "default 1")
    g.add_argument("--wordline-slots", type=int, default=None, metavar="S",
                   help=f"segmented wordlines: S slots per local wordline, each with its own drivers, so a "
                        f"section's row drive charges only its segment's columns (default "
                        f"{DEFAULT.hw.wordline_slots}: one wordline spans the crossbar, as in ISAAC)")
    g.add_argument("--input-encoding", choices=INPUT_ENCODINGS, default=None,
                   help=f"row drive of the inputs: twos (two's complement, A steps), signmag (sign-magnitude, "
                        f"2 (A-1) steps) or bipolar (A-1 steps, rows driven +1/0/-1, conversions one bit wider); "
                        f"signmag and bipolar take inputs in -(2^(A-1)-1)..2^(A-1)-1 (default {DEFAULT.hw.input_encoding})")
    aware = g.add_mutually_exclusive_group()
    aware.add_argument("--input-aware", dest="input_aware", action="store_const", const=True, default=None,
                       help="input-aware ADC resolution: convert each column at min(res, bitlen(q)) bits, q the "
                            "section's driven rows in the step, and skip steps with q = 0")
    aware.add_argument("--weight-only", dest="input_aware", action="store_const", const=False,
                       help="every step at the planned resolutions (the default)")
    g.add_argument("--ordering", choices=ORDERINGS, default=None,
                   help="row ordering (default sorted; natural for policy dense)")
    g.add_argument("--sectioning", choices=SECTIONINGS, default=None,
                   help=f"where the sections are cut (default {DEFAULT.mapping.sectioning})")
    g.add_argument("--section-cost", type=float, default=DEFAULT.mapping.section_cost_pj,
                   help="with --sectioning optimal or refined: pJ per input vector charged for each section, "
                        "to trade ADC energy against sections and crossbars (default %(default)s)")
    g.add_argument("--policy", choices=POLICIES, default=DEFAULT.mapping.policy,
                   help="ADC resolution policy (default %(default)s)")
    g.add_argument("--cap", type=int, default=None, help="cap every ADC resolution at this many bits (lossy)")
    add_energy_args(p)


def add_energy_args(p: argparse.ArgumentParser, *, law: bool = True) -> None:
    g = p.add_argument_group("energy models (`sws laws` lists them)")
    if law:
        g.add_argument("--law", choices=LAWS, default=DEFAULT.energy.law,
                       help="ADC model: published isaac (default), neurosim, murmann, mnsim; or a relative law "
                            "walden, thermal, table calibrated by --e8")
        g.add_argument("--law-table", type=_float_list, default=None,
                       help="with --law table: relative energies of 1, 2, ... bit conversions, comma-separated")
    g.add_argument("--e8", type=float, default=None,
                   help=f"pJ per 8-bit conversion of the relative laws (default {DEFAULT.energy.e8_pj}); "
                        "the published models carry their own")
    g.add_argument("--node", type=float, default=None,
                   help="technology node in nm of neurosim (130, 90, 65, 45, 32, 22) and murmann (default 32)")
    g.add_argument("--sample-rate", type=float, default=None,
                   help="conversions per second per ADC of murmann (default 1e9)")
    g.add_argument("--macro", default=None,
                   help="JSON file of macro constants replacing the built-in ISAAC macro's (mapper/data/isaac_macro.json)")


def energy_fields(args, law: str | None = None) -> dict:
    """EnergyConfig fields from the energy options (for `law`, or the --law given)."""
    law = law or args.law
    return {"law": law, "law_table": getattr(args, "law_table", None),
            "e8_pj": DEFAULT.energy.e8_pj if args.e8 is None else args.e8,
            "node_nm": args.node, "sample_rate_hz": args.sample_rate, "macro": args.macro}


def config_from_args(args) -> ArrayConfig:
    if args.macro is not None:
        load_macro(args.macro)   # a bad macro file fails before any mapping work
    ordering = args.ordering or ("natural" if args.policy == "dense" else "sorted")
    hw, mp = DEFAULT.hw, DEFAULT.mapping
    pick = lambda value, default: default if value is None else value    # noqa: E731
    return ArrayConfig(rows=args.rows, cols=args.cols, weight_bits=args.weight_bits, input_bits=args.input_bits,
                       input_signed=not args.unsigned_inputs, group=pick(args.group, hw.group), n_adc=n_adc_of(args),
                       input_encoding=pick(args.input_encoding, hw.input_encoding),
                       input_aware=pick(args.input_aware, hw.input_aware), adc_mux=args.adc_mux,
                       banks=1 if args.banks is None else args.banks, beat=1 if args.beat is None else args.beat,
                       double_buffer=bool(args.double_buffer),
                       wordline_slots=pick(args.wordline_slots, hw.wordline_slots),
                       ordering=ordering, sectioning=pick(args.sectioning, mp.sectioning), policy=args.policy,
                       cap=args.cap, section_cost_pj=args.section_cost, placement=args.placement,
                       **energy_fields(args))


def fixed_fields(args) -> dict:
    """The fields an objective chooses (mapper.cost.objective.SPACE_FIELDS) that the command line gives: the
    objective keeps them (the policy dense implies natural order)."""
    given = {"group": args.group, "ordering": args.ordering or ("natural" if args.policy == "dense" else None),
             "sectioning": args.sectioning, "input_encoding": args.input_encoding, "input_aware": args.input_aware,
             "wordline_slots": args.wordline_slots}
    return {k: v for k, v in given.items() if v is not None}


def n_adc_of(args) -> int:
    """--n-adc as given; without it the default bank, or with --adc-mux M one ADC per M slot columns."""
    if args.n_adc is not None:
        return args.n_adc
    mux = args.adc_mux
    if isinstance(mux, int) and 1 <= mux:
        slot = 2 * args.weight_bits * (DEFAULT.hw.group if args.group is None else args.group)
        if isinstance(slot, int) and slot >= 1:
            return -(-slot // mux)
    return DEFAULT.hw.n_adc


def add_weight_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("weights")
    g.add_argument("--sparsity", type=float, default=0.0,
                   help="unstructured magnitude pruning per layer, in [0, 1) (default %(default)s)")
    g.add_argument("--per-channel", action="store_true",
                   help="quantize float weights per output channel (default: per tensor)")


def add_drive_args(p) -> None:
    """Run a plan on other drive hardware than its own (`LayerPlan.on_hardware`)."""
    g = p.add_argument_group("drive hardware (default: the plan's)")
    g.add_argument("--input-encoding", choices=INPUT_ENCODINGS, default=None,
                   help="row drive of the inputs: twos, signmag (sign-magnitude) or bipolar (rows driven +1/0/-1)")
    aware = g.add_mutually_exclusive_group()
    aware.add_argument("--input-aware", dest="input_aware", action="store_const", const=True, default=None,
                       help="input-aware ADC resolution and step skipping")
    aware.add_argument("--weight-only", dest="input_aware", action="store_const", const=False,
                       help="every step at the planned resolutions")
    add_bank_args(g, "default: the plan's")


def drive_fields(args) -> dict:
    return {"input_encoding": args.input_encoding, "input_aware": args.input_aware, "banks": args.banks,
            "beat": args.beat, "double_buffer": args.double_buffer}


def add_bank_args(g, default: str) -> None:
    """--banks B and --beat W (docs/design.md, banks and stream beats); None keeps the default or the plan's."""
    g.add_argument("--banks", type=int, default=None,
                   help=f"B sequencer-plus-ADC-bank units working on different sections at once ({default})")
    g.add_argument("--beat", type=int, default=None,
                   help=f"W elements per beat of the input and output streams, a power of two ({default})")
    db = g.add_mutually_exclusive_group()
    db.add_argument("--double-buffer", dest="double_buffer", action="store_const", const=True, default=None,
                    help=f"ping-pong input buffer: the next vector loads while the current one runs ({default}: off)")
    db.add_argument("--single-buffer", dest="double_buffer", action="store_const", const=False,
                    help="one vector at a time")


def add_timing_args(p, macro: bool = False) -> None:
    """The analog macro's phase timing (hwgen.params.MacroTiming, docs/design.md section 6); with `macro`
    also its write handshake and power control (the commands that only generate or synthesize)."""
    g = p.add_argument_group("macro phase timing, in clock cycles (default: no phases, counted conversions)")
    for name, what in (("precharge", "cycles of the bit-line precharge `pch`"),
                       ("wordline", "cycles of the wordline pulse `wl_en`"),
                       ("settle", "cycles for the columns to settle, pch and wl_en low"),
                       ("sample", "cycles of the sample-and-hold strobe `sh`; 0: no sample-and-hold, the ADC "
                                  "samples at its start and the next batch waits for the conversion")):
        g.add_argument(f"--{name}", type=int, default=0, metavar="CYCLES", help=f"{what} (default 0)")
    g.add_argument("--adc-sync", type=int, choices=(0, 1, 2), default=0,
                   help="0: the controller counts each conversion's cycles; 1: it waits for a registered "
                        "done; 2: for done through a two-flop synchronizer (an asynchronous ADC) (default 0)")
    g.add_argument("--guard", type=int, default=0, metavar="CYCLES",
                   help="guard cycles (0..7) with pch, wl_en and sh low between the precharge and the wordline "
                        "and at least as many between the wordline and the sample: no wordline edge shared with "
                        "another phase (default 0)")
    if macro:
        g.add_argument("--write-ack", action="store_true",
                       help="program-and-verify cells: each cell write a four-phase wr_en/wr_ack handshake, the "
                            "macro's wr_busy reported (default: one-cycle writes)")
        g.add_argument("--power", action="store_true",
                       help="the macro's enable and sleep inputs (en, sleep), from the host's power register "
                            "(default: always enabled)")
        g.add_argument("--wake", type=int, default=0, metavar="CYCLES",
                       help="with --power: cycles the first vector after a wake waits before its first "
                            "precharge (default 0)")


def timing_from_args(args):
    """The MacroTiming of --precharge, --wordline, --settle, --sample, --adc-sync and --guard; a bad value
    names its option."""
    from mapper.schedule import MacroTiming
    try:
        return MacroTiming(args.precharge, args.wordline, args.settle, args.sample, args.adc_sync,
                           guard=args.guard, write_ack=getattr(args, "write_ack", False),
                           power=getattr(args, "power", False), wake=getattr(args, "wake", 0))
    except SwsError as e:
        raise SwsError(f"--{e}") from None


def add_layer_args(p) -> None:
    p.add_argument("--layer", help="the layer of the plan (default: its first)")
    p.add_argument("--lanes", type=int, default=None,
                   help="rows gathered per cycle, a power of two, at most R (default: R / 32, at least 1)")


def add_analog_args(p, *, default_seeds: int = 3, noise_scale: bool = True) -> None:
    """--analog PRESET|FILE, --seeds, --drift-time, --no-drift-compensation (mapper.analog)."""
    from mapper.analog import PRESETS
    g = p.add_argument_group("analog non-idealities (mapper.analog; docs/design.md section 4)")
    g.add_argument("--analog", metavar="PRESET|FILE.json", default=None,
                   help=f"compute the layers through an analog device model: a preset ({', '.join(PRESETS)}) or a "
                        "device file (format sws-analog-device)")
    g.add_argument("--seeds", type=int, default=default_seeds,
                   help="Monte Carlo chip instances (default %(default)s)")
    g.add_argument("--drift-time", type=float, default=3600.0, metavar="SECONDS",
                   help="read time after programming, in seconds (default %(default)s: one hour)")
    g.add_argument("--no-drift-compensation", action="store_true",
                   help="no global drift compensation of the ADC reference")
    if noise_scale:
        g.add_argument("--noise-scale", type=float, default=1.0,
                       help="multiply every noise std of the device and ADC by this (default %(default)s)")
    g.add_argument("--fine-bits", type=int, default=0, metavar="K",
                   help="remedy: convert the columns of the top K weight bits one bit finer (an ADC of half the "
                        "LSB; costs E(res + 1) - E(res) a conversion) (default %(default)s)")
    g.add_argument("--leak-correction", action="store_true",
                   help="remedy: subtract the 0-cells' mean leak times the driven rows from each conversion")
    g.add_argument("--fine-extra", type=int, default=1, metavar="M",
                   help="with --fine-bits: M more ADC bits (an LSB of 1/2**M count; costs E(res + M) - E(res) a "
                        "conversion) (default %(default)s)")
    g.add_argument("--redundancy", type=int, default=1, metavar="K",
                   help="remedy: K cells per weight bit on K rows driven together, the ADC's LSB K on-cells (each "
                        "bit reads as the mean of K cells; K times the cells and their read energy) (default "
                        "%(default)s)")


def analog_from_args(args):
    """The AnalogRun of the analog options, or None without --analog; a bad value names its option."""
    if args.analog is None:
        return None
    from mapper.analog import AnalogRun, load_device
    if isinstance(args.seeds, bool) or args.seeds < 1:
        raise SwsError(f"--seeds must be an integer >= 1, not {args.seeds!r}")
    s = getattr(args, "noise_scale", 1.0)
    if not (s >= 0 and s < float("inf")):
        raise SwsError(f"--noise-scale must be a finite number >= 0, not {s!r}")
    device = load_device(args.analog)
    if s != 1.0:
        device = device.scaled(s)
    return AnalogRun(device, args.drift_time, not args.no_drift_compensation, args.fine_bits, args.leak_correction,
                     args.redundancy, args.fine_extra)
