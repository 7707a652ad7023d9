"""Verilog of a tile (or of the controller alone), reproducible byte for byte."""

from __future__ import annotations

import contextlib
import os
import re

from amaranth.back import rtlil
from amaranth.hdl import _nir

from mapper.common import SwsError
from mapper.plan import LayerPlan

from .controller import Controller
from .params import TileParams
from .tile import Tile

__all__ = ["emit_verilog", "emit_rtlil", "module_name", "write_rtl", "fast_memory_init"]


def module_name(controller_only: bool, bus: str | None = None) -> str:
    if bus is not None:
        return "sws_soc_controller" if controller_only else "sws_soc"
    return "sws_controller" if controller_only else "sws_tile"


def emit_verilog(lp: LayerPlan | None, params: TileParams, *, controller_only: bool = False,
                 bus: str | None = None) -> str:
    """With a plan, its ROM images (and for a tile its cells) are baked into the memories' initial contents;
    with `lp` None, the generic netlist of `params`'s limits, its ROMs written through the `prog` port.

    The Verilog any simulator runs as is: Amaranth's own `verilog.convert` keeps combinational processes
    as `always @*` blocks that count on a time-0 event from a `reg x = 0` initializer (Icarus 11 does not
    deliver it, and silently computes wrong outputs); here Yosys's full `proc` turns every process into
    multiplexers and flip-flops first, so the output has only `assign`s and clocked `always` blocks.

    Memories that start all zero (every table of a generic tile, and the accumulators) get one `for` loop
    in an `initial` block instead of Yosys's line per word: the generic tile of a whole MiniLM layer has
    about 1200 table memories of 16384 words, 644 MB of `mem[i] = 0;` lines that took minutes to write and
    to read back.
    """
    from amaranth._toolchain.yosys import find_yosys
    text, zeroed = _without_zero_inits(emit_rtlil(lp, params, controller_only=controller_only, bus=bus))
    yosys = find_yosys(lambda version: version >= (0, 40))
    script = f"read_rtlil <<rtlil\n{text}\nrtlil\nproc -norom\nmemory_collect\nwrite_verilog\n"
    out = _with_zero_loops(yosys.run(["-q", "-"], script, ignore_warnings=True), zeroed)
    if "always @*" in out:
        raise SwsError("internal: the emitted Verilog still has a combinational always block")
    return out


#: Amaranth's RTLIL of a memory's initial contents, whole: `$meminit_v2` with the memory's every word.
_MEMINIT = re.compile(r"^  cell \$meminit_v2 \S+\n    parameter \\MEMID \"\\\\([A-Za-z_][A-Za-z0-9_]*)\"\n"
                      r"(?:    (?:parameter|connect) .*\n)*?    connect \\DATA \d+'([01]+)\n"
                      r"(?:    (?:parameter|connect) .*\n)*?  end\n", re.M)
_MODULE = re.compile(r"^module (\S+)", re.M)


def _without_zero_inits(text: str) -> tuple[str, dict[str, set[str]]]:
    """Drop the `$meminit_v2` cells whose data are all zero; return the RTLIL and, per module (its RTLIL
    name without the backslash), the memories whose initial zeros `_with_zero_loops` must restore."""
    zeroed: dict[str, set[str]] = {}
    parts, last = [], 0
    modules = [(m.start(), m.group(1).lstrip("\\")) for m in _MODULE.finditer(text)]
    for m in _MEMINIT.finditer(text):
        if "1" in m.group(2):
            continue
        module = [name for start, name in modules if start < m.start()][-1]
        zeroed.setdefault(module, set()).add(m.group(1))
        parts.append(text[last:m.start()])
        last = m.end()
    parts.append(text[last:])
    return "".join(parts), zeroed


def _with_zero_loops(verilog: str, zeroed: dict[str, set[str]]) -> str:
    """After each zeroed memory's declaration (`reg [W:0] name [D:0];`) in its module, an `initial` loop
    that sets every word to zero: the contents the memory had, in a few lines."""
    if not zeroed:
        return verilog
    out, n = [], 0
    for block in re.split(r"(?m)^(?=module )", verilog):
        head = re.match(r"module (\\?)([^\s(]+)", block)
        names = zeroed.get(head.group(2), set()) if head else set()

        def loop(m, names=names):
            nonlocal n
            if m.group(3) not in names:
                return m.group(0)
            n += 1
            depth = int(m.group(4)) + 1
            return (f"{m.group(0)}\n  initial begin : sws_zero_{m.group(3)}\n    integer i;\n"
                    f"    for (i = 0; i < {depth}; i = i + 1) {m.group(3)}[i] = {int(m.group(2)) + 1}'h0;\n  end")
        out.append(re.sub(r"(?m)^  reg \[((\d+):0)\] ([A-Za-z_][A-Za-z0-9_]*) \[(\d+):0\];$", loop, block))
    restored = sum(len(v) for v in zeroed.values())
    if n != restored:
        raise SwsError(f"internal: {restored} memories start at zero, {n} of them found in the Verilog")
    return "".join(out)


def emit_rtlil(lp: LayerPlan | None, params: TileParams, *, controller_only: bool = False, platform=None,
               bus: str | None = None) -> str:
    """The same design as Yosys's own RTLIL, for synthesis: its names need no Verilog escaping, which keeps
    Yosys's generated `$` names from colliding with Amaranth's. `platform` (hwgen.bram.platform_for of
    the synthesis target) makes the block RAMs the target's own cells where that matters for timing.
    With `bus` (hwgen.soc.regmap.BUSES) the SoC wrapper `sws_soc` around the tile (hwgen.soc.top)."""
    if bus is not None:
        from .soc.top import SocTile
        # (with controller_only: the chip's wrapper, the array interface as ports)
        top = SocTile(params, lp, bus=bus, controller_only=controller_only)
    else:
        top = (Controller if controller_only else Tile)(params, lp)
    with fast_memory_init():
        return rtlil.convert(top, name=module_name(controller_only, bus), platform=platform, emit_src=False)


class _FastMemoryInit(rtlil.ModuleEmitter):
    """Amaranth 0.5's RTLIL emitter with the memories' initial contents written as one constant string.

    Amaranth builds a `$meminit_v2` cell's DATA one bit at a time (a constant net object per bit, then its
    signal-spec grouping): converting the generic tile of MiniLM's L0.ffn.out (R = 128, 16 ADCs, 3421
    sections, 412877 row-table words) took 86 CPU s with Amaranth's emitter, 30 with this one. The same text
    comes here from one `format` per word: MSB first, word `depth - 1` first, each word masked to `width`
    bits (two's complement for signed shapes), as Amaranth's `sigspec` writes an all-constant value. Equal
    byte for byte (tests/hwgen/test_verilog.py converts designs with both emitters)."""

    def emit_memory(self, cell_idx, cell):
        memory_info = self.memories[cell_idx]
        mask = (1 << cell.width) - 1
        if any(cell.init):
            bits = "".join(format(row & mask, f"0{cell.width}b") for row in reversed(cell.init))
        else:
            bits = "0" * (cell.width * cell.depth)
        self.builder.cell("$meminit_v2", ports={
            "ADDR": self.sigspec(),
            "DATA": f"{len(bits)}'{bits}",
            "EN": self.sigspec(_nir.Value.ones(cell.width)),
        }, parameters={
            "MEMID": memory_info.memid,
            "ABITS": 0,
            "WIDTH": cell.width,
            "WORDS": cell.depth,
            "PRIORITY": 0,
        }, src_loc=cell.src_loc)


@contextlib.contextmanager
def fast_memory_init():
    """Within the block, `amaranth.back.rtlil.convert` writes memories' initial contents with
    `_FastMemoryInit` (the same text, faster; Amaranth is pinned to 0.5, whose emitter it mirrors). Amaranth's
    own emitter is put back after."""
    own = rtlil.ModuleEmitter
    rtlil.ModuleEmitter = _FastMemoryInit
    try:
        yield
    finally:
        rtlil.ModuleEmitter = own


def write_rtl(plan_dir: str, output: str | None = None, *, layer: str | None = None,
              controller_only: bool = False, generic: bool = False, lanes: int | None = None,
              hardware: dict | None = None, timing=None, bus: str | None = None, clock_mhz: float = 150.0) -> dict:
    """Write the Verilog of one layer of a plan folder (and with `generic` the .prog writes beside it).

    Parameters
    ----------
    plan_dir : str
        A plan folder made by `sws map`.
    output : str, optional
        The Verilog file (default build/rtl/<layer>.v).
    layer : str, optional
        The plan's layer (default its first).
    controller_only : bool
        The controller alone: its array interface becomes the module's ports.
    generic : bool
        ROMs written through the prog port; a .prog file of those writes (`sel addr data` in hex) is
        written beside the Verilog, never over it.
    lanes : int, optional
        Rows gathered per cycle (default hwgen.params.default_lanes).
    hardware : dict, optional
        Drive fields (input_encoding, input_aware) replacing the plan's (`LayerPlan.on_hardware`).
    timing : MacroTiming, optional
        The macro's phase timing (default: none, counted conversions).
    bus : str, optional
        The SoC wrapper `sws_soc` behind this host bus (axil, wishbone, wishbone-pipelined), with AXI4-Stream
        ports; its register map is written beside the Verilog (.regs.md, .regs.h, .regs.json) with the
        timing constraints (.sdc, hwgen.soc.constraints).
    clock_mhz : float
        With `bus`: the clock the constraints ask for.

    Returns
    -------
    dict
        verilog, module, layer, roms (and prog, regmap, sdc): what was written.
    """
    from mapper.common import check_output_file, write_atomic
    from mapper.plan import load_plan, plan_files

    from .params import TileParams
    from .program import program_writes

    lp = load_plan(plan_dir).layer(layer).on_hardware(**(hardware or {}))
    output = output or os.path.join("build", "rtl", re.sub(r"[^A-Za-z0-9_.-]", "_", lp.name) + ".v")
    params = TileParams.from_plan(lp, lanes, timing)
    prog = os.path.splitext(output)[0] + ".prog" if generic else None
    if prog is not None and os.path.abspath(prog) == os.path.abspath(output):
        raise SwsError(f"{output}: the Verilog output of --generic must not end in .prog: the programming "
                       f"writes go to {prog}")
    inputs = plan_files(plan_dir)
    check_output_file(output, inputs, "Verilog output")
    if prog is not None:
        check_output_file(prog, inputs, "programming writes output")
    base = os.path.splitext(output)[0]
    side = {}
    if bus is not None:
        from .soc.constraints import sdc_text
        from .soc.regmap import register_map
        rm = register_map(params, generic=generic, bus=bus)
        side = {"regmap": (base + ".regs.json", rm.to_json()), "regmap_md": (base + ".regs.md", rm.to_markdown()),
                "regmap_h": (base + ".regs.h", rm.to_c_header()),
                "sdc": (base + ".sdc", sdc_text(params, bus=bus, clock_mhz=clock_mhz,
                                                          controller_only=controller_only))}
        for key, (path, _) in side.items():
            if os.path.abspath(path) == os.path.abspath(output):
                raise SwsError(f"{output}: the Verilog output must not be the {key} file {path}")
            check_output_file(path, inputs, f"{key} output")
    text = emit_verilog(None if generic else lp, params, controller_only=controller_only, bus=bus)
    write_atomic(output, text, inputs=inputs)
    written = {"verilog": output, "module": module_name(controller_only, bus), "layer": lp.name,
               "roms": "written through the prog port" if generic else "baked in"}
    for key, (path, body) in side.items():
        write_atomic(path, body, inputs=inputs)
        written[key] = path
    if prog is not None:
        lines = [f"{sel:x} {addr:x} {data:x}\n" for sel, addr, data in
                 program_writes(params, lp, cells=not controller_only)]
        write_atomic(prog, "".join(lines), inputs=inputs)
        written["prog"] = prog
    return written
