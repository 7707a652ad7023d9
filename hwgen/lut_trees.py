"""The generic netlist's LUTs written as multiplexer trees, one expression a LUT.

Yosys's `write_verilog` prints a mapped `$lut` cell as one shift, `assign y = 16'h6996 >> { d, c, b, a };`
(the LUT's truth table shifted by its inputs, most significant first). In a four-state simulator an `x` on
any input makes that shift all `x`, even on an input the function ignores, so a flip-flop that has not yet
been written spreads `x` that the hardware never has. Yosys's `lut2mux` writes each LUT as a tree of
`$_MUX_` cells instead, as the vendors' LUT models are, but as one `assign` a multiplexer: about 8 a LUT,
42374 for the small test controller's 4994 LUTs, and Icarus Verilog 11's compiler is quadratic in the
continuous assignments of a module (20.8 s for that netlist, 5.0 s in this form; Verilator 8.6 -> 4.6 s).

`lut_trees` rewrites each such shift as the same tree in one expression: the truth table split on its most
significant input first, `(d ? T1 : T0)`, down to constants; a subtree whose leaves are all equal is that
constant, a multiplexer of two equal subtrees is that subtree, and `(s ? 1'h1 : 1'h0)` is `s` (`~s` the
other way round). For inputs of 0 and 1 that is the truth table. With `x` inputs a multiplexer whose select
is `x` gives the bits its two inputs agree on and `x` elsewhere (IEEE 1364-2005 5.1.13), so the tree gives
the value every completion of the `x` inputs agrees on, or `x` if they differ: what the lut2mux tree gives,
whatever the order of its selects, and the dropped subtrees change none of it (tests/hwgen/test_lut_trees.py
checks both by brute force). The netlist is Yosys's of one flattened module: a name has one width.
"""

from __future__ import annotations

import re

from mapper.common import SwsError

__all__ = ["lut_tree", "lut_trees"]

_NAME = r"(?:\\\S+|[A-Za-z_][\w$]*)"
#: A declaration: `wire [7:0] name;`, `reg [2:0] \name  = 3'h0;`, `input name;` (its bit range, MSB first).
_DECL = re.compile(rf"^\s*(?:wire|reg|input|output|inout)\s+(?:signed\s+)?(?:\[(\d+):(\d+)\]\s+)?({_NAME})"
                   r"\s*(?:=[^;]*)?;", re.MULTILINE)
#: A LUT as write_verilog prints it: `  assign <lhs> = <N>'h<table> >> <inputs>;`.
_LUT = re.compile(r"^(  assign [^\n=]+ = )(\d+)'h([0-9a-fA-F]+) >> ([^;\n]+);$", re.MULTILINE)
#: One piece of a signal: a constant, or a name with an optional bit or range (`\name [3]`, `name[3:0]`).
_PIECE = re.compile(rf"\s*(?:(\d+)'([hb])([0-9a-fA-F]+)|({_NAME})(?:\s?\[(\d+)(?::(\d+))?\])?)\s*")


def _bits(spec: str, ranges: dict) -> list[str]:
    """The bits of a signal as write_verilog prints it (one piece or `{ piece, ... }`), most significant
    first, each a 1-bit Verilog operand."""
    spec = spec.strip()
    if spec.startswith("{") and spec.endswith("}"):
        spec = spec[1:-1]
    out, at = [], 0
    while True:
        m = _PIECE.match(spec, at)
        if m is None or m.end() == at:
            raise SwsError(f"internal: cannot read the LUT inputs {spec!r} of the netlist")
        width, base, digits, name, hi, lo = m.groups()
        if width is not None:
            value = int(digits, 16 if base == "h" else 2)
            out += [f"1'h{(value >> i) & 1}" for i in reversed(range(int(width)))]
        else:
            gap = " " if name.startswith("\\") else ""       # an escaped name ends at white space
            if hi is None and ranges.get(name) is None:      # a 1-bit wire
                out.append(name + gap)
            else:                                            # a bit, a range, or a whole wire's range
                top, bottom = ranges[name] if hi is None else (int(hi), int(lo or hi))
                step = -1 if top >= bottom else 1
                out += [f"{name}{gap}[{i}]" for i in range(top, bottom + step, step)]
        at = m.end()
        if at == len(spec):
            return out
        if spec[at] != ",":
            raise SwsError(f"internal: cannot read the LUT inputs {spec!r} of the netlist")
        at += 1


def lut_tree(table: int, inputs: list[str]) -> str:
    """The LUT of truth table `table` (bit i the output for inputs whose value is i) on `inputs` (input 0
    first) as one Verilog expression of multiplexers, most significant input at the root."""
    def tree(low: int, n: int) -> str:
        size = 1 << n
        leaves = (table >> low) & ((1 << size) - 1)
        if leaves in (0, (1 << size) - 1):
            return f"1'h{leaves & 1}"
        one, zero, s = tree(low + size // 2, n - 1), tree(low, n - 1), inputs[n - 1]
        if one == zero:
            return one
        if (one, zero) == ("1'h1", "1'h0"):
            return s
        if (one, zero) == ("1'h0", "1'h1"):
            return f"~{s}"
        return f"({s} ? {one} : {zero})"
    return tree(0, len(inputs))


def lut_trees(verilog: str) -> tuple[str, int]:
    """The netlist with each LUT shift written as its multiplexer tree (`lut_tree`), and how many were."""
    ranges = {m.group(3): (int(m.group(1)), int(m.group(2))) if m.group(1) else None
              for m in _DECL.finditer(verilog)}

    def one(m) -> str:
        inputs = list(reversed(_bits(m.group(4), ranges)))
        if int(m.group(2)) != 1 << len(inputs):
            raise SwsError(f"internal: a {m.group(2)}-bit LUT table with {len(inputs)} inputs: {m.group(0)}")
        return f"{m.group(1)}{lut_tree(int(m.group(3), 16), inputs)};"

    return _LUT.subn(one, verilog)
