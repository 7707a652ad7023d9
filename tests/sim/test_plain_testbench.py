"""What `sws rtl` writes, run as is by a user's own plain Verilog testbench that knows only the documented
ports (docs/design.md section 6) and the valid/ready stream protocol: no harness of ours, no rewrite.
The testbench gaps `i.valid` and drops `o.ready` at random, and checks that `o`'s payload holds while it
is valid and not taken."""

import subprocess

import numpy as np
import pytest

from tests.sim.cases import rtl_cases
from tests.support import need_tools

TESTBENCH = """
module user_tb;
  reg clk = 0, rst = 1;
  always #5 clk = ~clk;
  reg [{a1}:0] xs [0:{nx1}];
  reg [{w1}:0] ys [0:{ny1}];
  reg i_valid = 0;
  reg [{a1}:0] i_payload = 0;
  reg o_ready = 0;
  wire i_ready, o_valid;
  wire [{w1}:0] o_payload;
  integer given = 0, taken = 0, errors = 0, cycles = 0;
  reg [15:0] lfsr = {seed};
  reg held = 0;
  reg [{w1}:0] last_payload;
  // The host-side controls a user without a host ties low (docs/guide/rtl.md: every input driven).
  sws_tile dut(.clk(clk), .rst(rst), .i__valid(i_valid), .i__ready(i_ready), .i__payload(i_payload),
               .o__valid(o_valid), .o__ready(o_ready), .o__payload(o_payload),
               .counters__snapshot(1'b0), .counters__clear(1'b0), .status__clear(1'b0),
               .timing__we(1'b0), .timing__data({{{tw}{{1'b0}}}}));
  initial begin
    $readmemh("x.hex", xs);
    $readmemh("y.hex", ys);
    repeat (2) @(posedge clk);
    rst <= 0;
  end
  always @(posedge clk) if (!rst) begin
    cycles <= cycles + 1;
    lfsr <= {{lfsr[14:0], lfsr[15] ^ lfsr[13] ^ lfsr[12] ^ lfsr[10]}};
    if (cycles > {limit}) begin $display("TIMEOUT after %0d outputs", taken); $finish; end
    // Inputs: a beat stays offered until taken; a new one comes after a random gap.
    if (i_valid && i_ready) begin
      given = given + 1;
      i_valid <= 0;
    end
    if ((!i_valid || i_ready) && given < {nx} && lfsr[1:0] != 0) begin
      i_valid <= 1;
      i_payload <= xs[given];
    end
    // Outputs: payload must hold while valid and not taken.
    if (held && (!o_valid || o_payload !== last_payload)) begin
      $display("UNSTABLE output %0d", taken);
      errors = errors + 1;
    end
    held <= o_valid && !o_ready;
    last_payload <= o_payload;
    if (o_valid && o_ready) begin
      if (o_payload !== ys[taken]) begin
        $display("MISMATCH output %0d: %0d, expected %0d", taken, $signed(o_payload), $signed(ys[taken]));
        errors = errors + 1;
      end
      taken = taken + 1;
      if (taken == {ny}) begin
        $display("DONE %0d errors", errors);
        $finish;
      end
    end
    o_ready <= lfsr[5:4] != 0;
  end
endmodule
"""


@pytest.mark.parametrize("simulator, name", [("icarus", "r8_k_not_multiple"), ("icarus", "group2_partial"),
                                             ("icarus", "a4_unsigned"), ("verilator", "group2_partial")])
def test_sws_rtl_output_runs_in_a_plain_testbench_with_bubbles_and_backpressure(tmp_path, simulator, name):
    from hwgen.interface import timing_layout
    from hwgen.params import TileParams
    from hwgen.verilog import emit_verilog
    need_tools(*(["iverilog", "vvp"] if simulator == "icarus" else ["verilator"]),
               why=f"the plain testbench runs the emitted Verilog in {simulator}")
    case = next(c for c in rtl_cases() if c.name == name)
    params = TileParams.from_plan(case.lp)
    a, w = case.cfg.hw.input_bits, params.acc_width
    x, y = case.x, case.x @ case.w if case.lossless else None
    assert y is not None
    (tmp_path / "tile.v").write_text(emit_verilog(case.lp, params))
    (tmp_path / "x.hex").write_text("".join(f"{int(v) & ((1 << a) - 1):x}\n" for v in x.reshape(-1)))
    (tmp_path / "y.hex").write_text("".join(f"{int(v) & ((1 << w) - 1):x}\n" for v in y.reshape(-1)))
    (tmp_path / "tb.v").write_text(TESTBENCH.format(a1=a - 1, w1=w - 1, nx=x.size, nx1=x.size - 1, ny=y.size,
                                                    ny1=y.size - 1, seed=7, limit=100000,
                                                    tw=timing_layout().size))
    if simulator == "icarus":
        subprocess.run(["iverilog", "-g2012", "-o", "sim.vvp", "-s", "user_tb", "tb.v", "tile.v"], cwd=tmp_path,
                       check=True, capture_output=True)
        out = subprocess.run(["vvp", "-n", "sim.vvp"], cwd=tmp_path, capture_output=True, text=True).stdout
    else:
        # (one unoptimized C++ file compiles fastest for a short run: sim.verilog_sim.OPT_MAKEFLAGS)
        quick = [a for v in ("VM_PARALLEL_BUILDS=0", "OPT_FAST=-O0", "OPT_SLOW=-O0", "OPT_GLOBAL=-O0")
                 for a in ("-MAKEFLAGS", v)]
        subprocess.run(["verilator", "--binary", "-j", "2", "--top-module", "user_tb", "-Wno-fatal", "-Wno-lint",
                        "-Wno-style", *quick, "-o", "sim", "tb.v", "tile.v"], cwd=tmp_path, check=True,
                       capture_output=True)
        out = subprocess.run([str(tmp_path / "obj_dir" / "sim")], cwd=tmp_path, capture_output=True,
                             text=True).stdout
    assert "DONE 0 errors" in out, out[-2000:]
