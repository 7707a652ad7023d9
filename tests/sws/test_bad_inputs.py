"""Every bad input gets one line on stderr and exit code 2, and nothing is written or lost.

One table of malformed inputs, by kind: weights, plans (manifest and ROM images), inputs, paths and
options. Each case builds its files in a fresh folder, runs the command, and checks the exit code, the
one line naming the thing and the rule, an empty stdout, and that every file of the folder (the
command's inputs, the user's files, an earlier output) is byte for byte as it was, with nothing added.

The plan cases that edit a value within its field's width re-sign the plan (recompute the sha256 values
the manifest records, by the rule docs/design.md section 5 states), so that the range and consistency
checks, not the hashes, must catch them; the cases that do not re-sign show the hashes catching damage.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time

import numpy as np
import numpy.lib.format as npformat
import pytest

from tests.support import need_module

need_module("hypothesis", "test", module_level=True)   # the plan damage test needs it

from hypothesis import HealthCheck, given, settings, strategies as st

from mapper.common import SwsError
from mapper.common import MARKER
from mapper.plan import load_plan, rebuild_weights
from sim.golden import golden_outputs
from sws.cli import main

SPEC = "synthetic:laplace:40x6:1"          # K 40, N 6; with --rows 16: 18 sections, full resolution 5
MAP_ARGS = ["--rows", "16", "--objective", "none"]   # the configuration as given (no design search)
LAYER = "laplace40x6"
SECTION_FIELDS = ("rows", "row_base", "col_base", "n_active", "out_base")   # LSB first (design.md 5)
COLUMN_FIELDS = ("slot_col", "out", "sign", "bit", "res")


@pytest.fixture(scope="session")   # kept for the run: tests run longest first, not by module
def base_plan(tmp_path_factory):
    out = tmp_path_factory.mktemp("base") / "plan"
    assert main(["map", SPEC, *MAP_ARGS, "-o", str(out)]) == 0
    return out


# Plan editing, independent of mapper.plan ---------------------------------------------------------

def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(d) -> dict:
    return json.loads((d / "plan.json").read_text())


def save_manifest(d, m: dict, *, sign: bool = True) -> None:
    """Write plan.json; with `sign`, record the sha256 of each ROM image and of the manifest itself
    (canonical JSON: sorted keys, no spaces, without the manifest_sha256 entry)."""
    if sign:
        for entry in m.get("layers", []) if isinstance(m.get("layers"), list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("folder"), str) and (d / entry["folder"]).is_dir():
                entry["sha256"] = {rom: _sha((d / entry["folder"] / f"{rom}.hex").read_bytes())
                                   for rom in ("sections", "rows", "columns", "cells")
                                   if (d / entry["folder"] / f"{rom}.hex").exists()}
        rest = {k: v for k, v in m.items() if k != "manifest_sha256"}
        m["manifest_sha256"] = _sha(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode())
    (d / "plan.json").write_text(json.dumps(m, indent=1))


def resign(d) -> None:
    save_manifest(d, manifest(d))


def rom_lines(d, rom: str) -> list[str]:
    return (d / LAYER / f"{rom}.hex").read_text().split()


def write_rom(d, rom: str, lines: list[str], *, sign: bool = True) -> None:
    (d / LAYER / f"{rom}.hex").write_text("".join(ln + "\n" for ln in lines))
    if sign:
        resign(d)


def _layout(d, rom: str):
    widths = manifest(d)["layers"][0]["widths"][rom]
    fields = {"sections": SECTION_FIELDS, "columns": COLUMN_FIELDS, "rows": ("index",)}[rom]
    offsets, at = {}, 0
    for f in fields:
        offsets[f] = (at, widths[f])
        at += widths[f]
    return offsets, -(-at // 4)


def get_field(d, rom: str, index: int, field: str) -> int:
    offsets, _ = _layout(d, rom)
    off, width = offsets[field]
    return (int(rom_lines(d, rom)[index], 16) >> off) & ((1 << width) - 1)


def set_field(d, rom: str, index: int, field: str, value: int, *, sign: bool = True) -> None:
    offsets, digits = _layout(d, rom)
    off, width = offsets[field]
    assert 0 <= value < (1 << width), "the test must stay within the field's width"
    lines = rom_lines(d, rom)
    word = (int(lines[index], 16) & ~(((1 << width) - 1) << off)) | (value << off)
    lines[index] = f"{word:0{digits}x}"
    write_rom(d, rom, lines, sign=sign)


def set_cell(d, section: int, row: int, col: int, *, sign: bool = True) -> None:
    lines = rom_lines(d, "cells")
    r = manifest(d)["config"]["hardware"]["rows"]
    i = section * r + row
    lines[i] = f"{int(lines[i], 16) | (1 << col):0{len(lines[i])}x}"
    write_rom(d, "cells", lines, sign=sign)


def _sections(d):
    n = len(rom_lines(d, "sections"))
    return [{f: get_field(d, "sections", s, f) for f in SECTION_FIELDS} for s in range(n)]


def _cells(d):
    r = manifest(d)["config"]["hardware"]["rows"]
    words = [int(x, 16) for x in rom_lines(d, "cells")]
    return [words[s * r:(s + 1) * r] for s in range(len(words) // r)]


def short_section(d) -> tuple[int, int]:
    """A section with fewer rows than the array, and its row count."""
    for s, sec in enumerate(_sections(d)):
        if sec["rows"] < 16:
            return s, sec["rows"]
    raise AssertionError("the base plan has no short section")


def idle_column(d) -> tuple[int, int]:
    """(section, slot column) of a column without ones that the column table does not list."""
    secs, cells = _sections(d), _cells(d)
    for s, sec in enumerate(secs):
        listed = {get_field(d, "columns", sec["col_base"] + i, "slot_col") for i in range(sec["n_active"])}
        for c in range(14):
            if c not in listed and not any(w >> c & 1 for w in cells[s]):
                return s, c
    raise AssertionError("the base plan has no idle column")


def full_column(d) -> tuple[int, int, int]:
    """(section, valid row holding a zero, slot column) of an active column whose ones already fill its
    resolution (ones == 2**res - 1): one more one in it cannot be counted."""
    secs, cells = _sections(d), _cells(d)
    for s, sec in enumerate(secs):
        for i in range(sec["n_active"]):
            c = get_field(d, "columns", sec["col_base"] + i, "slot_col")
            res = get_field(d, "columns", sec["col_base"] + i, "res")
            ones = sum(w >> c & 1 for w in cells[s][:sec["rows"]])
            zero = [r for r in range(sec["rows"]) if not cells[s][r] >> c & 1]
            if ones == 2 ** res - 1 and zero:
                return s, zero[0], c
    raise AssertionError("the base plan has no full column")


def edit_manifest(change, *, sign: bool = True):
    def edit(d):
        m = manifest(d)
        change(m)
        save_manifest(d, m, sign=sign)
    return edit


def _set(path, value):
    def change(m):
        obj = m
        for key in path[:-1]:
            obj = obj[key]
        obj[path[-1]] = value
    return change


def _delete(path):
    def change(m):
        obj = m
        for key in path[:-1]:
            obj = obj[key]
        del obj[path[-1]]
    return change


# The table ---------------------------------------------------------------------------------------
# Each case: (kind, id, setup, argv, expected words of the message). setup(tmp) makes the files;
# argv may name "{plan}" (a copy of the base plan, edited by setup), "{tmp}" and "{x}" (good inputs).

def npy(name, array, **kw):
    return lambda t: np.save(t / name, array, **kw)


def raw(name, data: bytes):
    return lambda t: (t / name).write_bytes(data)


def huge_npy(name, shape):
    def make(t):
        with open(t / name, "wb") as f:
            npformat.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return make


def both(*steps):
    def make(t):
        for s in steps:
            s(t)
    return make


def npz_named(name, **arrays):
    def make(t):
        np.savez(t / "tmp.npz", **arrays)
        os.rename(t / "tmp.npz", t / name)
    return make


def truncated_npy(t):
    np.save(t / "w.npy", np.ones((50, 50)))
    data = (t / "w.npy").read_bytes()
    (t / "w.npy").write_bytes(data[:len(data) // 2])


def user_folder(name, marked=False, extra=()):
    def make(t):
        (t / name).mkdir()
        (t / name / "notes.txt").write_text("mine")
        if marked:
            (t / name / MARKER).write_text("sws")
        for e in extra:
            e(t / name)
    return make


def dangling(name):
    return lambda t: os.symlink(t / "nowhere" / "x", t / name)


def plan_edit(edit):
    """setup for a plan case: the copy of the base plan is made by the runner, then `edit(plan)`."""
    return ("plan", edit)


M = ["map"]
W = "{tmp}/w.npy"
GOOD_W = npy("w.npy", np.ones((4, 3)))
#: Written into files whose content must never appear in a message.
SECRET = "s3cr3t-line"


def fifo(name):
    return lambda t: os.mkfifo(t / name)


def link(name, target):
    return lambda t: os.symlink(target, t / name)


def onnx_file(builder):
    def make(t):
        import onnx
        onnx.save(builder(), str(t / "w.onnx"))
    return make


def text(name, content: str):
    return lambda t: (t / name).write_text(content)


def hard_link_in_marked(folder, source):
    """A marked output folder holding a hard link of `source` under another name."""
    def make(t):
        (t / folder).mkdir()
        (t / folder / MARKER).write_text("sws")
        os.link(t / source, t / folder / "renamed.bin")
    return make


def rom_linked_out(rom, target=None):
    """A ROM image replaced by a link to a file outside the plan (holding SECRET), the plan re-signed, so
    only the link rule can catch it."""
    def edit(d):
        outside = d.parent / "outside.hex"
        if target is None:
            outside.write_text(SECRET + "\n")
        os.unlink(d / LAYER / f"{rom}.hex")
        os.symlink(target or outside, d / LAYER / f"{rom}.hex")
        if target is None:
            resign(d)
    return edit


def layer_folder_linked_out(d):
    """The layer's folder moved outside the plan and linked back: every byte the same, the plan re-signed."""
    os.rename(d / LAYER, d.parent / "elsewhere")
    os.symlink(d.parent / "elsewhere", d / LAYER)


def manifest_text(old, new):
    return lambda d: (d / "plan.json").write_text((d / "plan.json").read_text().replace(old, new, 1))


def _big_rom(d):
    lines = rom_lines(d, "rows")
    write_rom(d, "rows", lines + ["00"] * 200000)


DEEP = "[" * 100000 + "]" * 100000
LONG_INT = "9" * 5001
LAUGHS = ("weights: synthetic:laplace:8x8\nconfig:\n  law_table: &a [1,1,1,1,1,1,1,1,1]\n"
          + "".join(f"  x{q}: &{q} [" + ",".join(["*" + p] * 9) + "]\n" for p, q in zip("abcdefgh", "bcdefghi")))
BIG_GRID = ("weights: synthetic:laplace:8x8\ngrid:\n  rows: [%s]\n  cols: [%s]\n  section_cost_pj: [%s]\n"
            % (",".join(map(str, range(1, 1001))), ",".join(map(str, range(128, 1128))), ",".join(map(str, range(1000)))))
S = ["explore", "{tmp}/s.yaml", "-o", "{tmp}/out"]
SJ = ["explore", "{tmp}/s.json", "-o", "{tmp}/out"]
MJ = M + [SPEC, "--macro", "{tmp}/m.json", "-o", "{tmp}/out"]


def _onnx_cases():
    from tests.sws.malformed_onnx import MALFORMED, constant_of_shape_huge, good
    cases = [("onnx", name, onnx_file(build), M + ["{tmp}/w.onnx"], word) for name, (build, word) in MALFORMED.items()]

    def external(t):
        import onnx
        m = good()
        init = m.graph.initializer[0]
        init.ClearField("float_data")
        init.ClearField("raw_data")
        init.data_location = onnx.TensorProto.EXTERNAL
        init.external_data.add(key="location", value="../../etc/passwd")
        onnx.save(m, str(t / "w.onnx"))
    return cases + [
        ("onnx", "ConstantOfShape 16000 x 16000", onnx_file(constant_of_shape_huge), M + ["{tmp}/w.onnx"],
         "a constant of 256000000 values is larger than any layer"),
        ("onnx", "external data outside the model", external, M + ["{tmp}/w.onnx"], "external data"),
        ("onnx", "not protobuf", raw("w.onnx", SECRET.encode() * 3), M + ["{tmp}/w.onnx"], "not a readable ONNX model"),
    ]


HOSTILE = [
    # -- weights: special files and types ------------------------------------------------------------
    ("weights", "a FIFO", fifo("w.npy"), M + [W], "the weights is a FIFO (named pipe), not a regular file"),
    ("weights", "a link to /dev/zero", link("w.npy", "/dev/zero"), M + [W], "is a character device"),
    ("weights", "an .onnx FIFO", fifo("w.onnx"), M + ["{tmp}/w.onnx"], "is a FIFO"),
    ("weights", "timedelta64", npy("w.npy", np.arange(12).reshape(3, 4).astype("timedelta64[s]")), M + [W],
     "not timedelta64[s] (dates and durations are not numbers)"),
    ("weights", "datetime64 in an .npz", lambda t: np.savez(t / "w.npz", a=np.zeros((2, 2), "datetime64[D]")),
     M + ["{tmp}/w.npz"], "w.npz[a]: the values must be integers or floats, not datetime64[D]"),
    ("weights", "records", npy("w.npy", np.zeros((2, 2), [("a", "<i4")])), M + [W], "not records"),
    ("weights", "a header of 8000 x 8000 and no data", huge_npy("w.npy", (8000, 8000)), M + [W],
     "truncated: its header declares 512000000 bytes of data, the file holds 0"),
    ("weights", "an .npz member of 8000 x 8000 and no data", lambda t: _npz_with_huge_member(t / "w.npz", (8000, 8000)),
     M + ["{tmp}/w.npz"], "w.npz[big]: not a readable .npy array (truncated"),
    ("weights", "a header of text, not echoed", raw("w.npy", b"\x93NUMPY\x01\x00\x20\x00{'" + SECRET.encode()
                                                        + b"': 1}" + b" " * 7 + b"\n"), M + [W],
     "its header is not a valid .npy header"),
    # -- plans ------------------------------------------------------------------------------------------
    ("plan", "1e400 in plan.json", plan_edit(manifest_text('"sparsity_requested": 0.0', '"sparsity_requested": 1e400')),
     ["rtl", "{plan}"], "plan.json, line"),
    ("plan", "plan.json nested 100000 deep", plan_edit(lambda d: (d / "plan.json").write_text(DEEP)),
     ["rtl", "{plan}"], "nested deeper than the 64 levels"),
    ("plan", "a 5001-digit integer in plan.json", plan_edit(manifest_text('"sections": 18', '"sections": ' + LONG_INT)),
     ["rtl", "{plan}"], "an integer of 5001 digits"),
    ("plan", "a key twice in plan.json", plan_edit(manifest_text('"sections": 18', '"sections": 18, "sections": 18')),
     ["rtl", "{plan}"], "appears twice"),
    ("plan", "plan.json a FIFO", plan_edit(lambda d: (os.unlink(d / "plan.json"), os.mkfifo(d / "plan.json"))),
     ["rtl", "{plan}"], "the plan manifest is a FIFO"),
    ("plan", "plan.json a link out of the plan", plan_edit(lambda d: (os.rename(d / "plan.json", d.parent / "m.json"),
                                                                      os.symlink(d.parent / "m.json", d / "plan.json"))),
     ["rtl", "{plan}"], "is a symbolic link out of"),
    ("plan", "a layer folder linked out of the plan, rtl -o into it", plan_edit(layer_folder_linked_out),
     ["rtl", "{plan}", "-o", f"{{plan}}/{LAYER}/t.v"], "is a symbolic link out of"),
    ("plan", "n_adc 2**40 (re-signed)", plan_edit(edit_manifest(_set(["config", "hardware", "n_adc"], 2 ** 40))),
     ["rtl", "{plan}"], "n_adc must be at most 4096"),
    ("plan", "banks 2**40 (re-signed)", plan_edit(edit_manifest(_set(["config", "hardware", "banks"], 2 ** 40))),
     ["sim", "{plan}", "--inputs", "{x}"], "banks must be at most 256"),
    ("plan", "a layer folder named plan.json", plan_edit(edit_manifest(_set(["layers", 0, "folder"], "plan.json"))),
     ["rtl", "{plan}"], "none of plan.json"),
    # -- ROM images ------------------------------------------------------------------------------------
    ("rom", "a link to a file outside the plan (re-signed)", plan_edit(rom_linked_out("cells")), ["rtl", "{plan}"],
     "cells.hex: the ROM image is a symbolic link out of"),
    ("rom", "a link to /dev/zero", plan_edit(rom_linked_out("rows", "/dev/zero")), ["rtl", "{plan}"],
     "rows.hex: the ROM image is a symbolic link out of"),
    ("rom", "a FIFO", plan_edit(lambda d: (os.unlink(d / LAYER / "rows.hex"), os.mkfifo(d / LAYER / "rows.hex"))),
     ["rtl", "{plan}"], "rows.hex: the ROM image is a FIFO"),
    ("rom", "far larger than its words (re-signed)", plan_edit(_big_rom), ["rtl", "{plan}"],
     "more than the"),
    ("rom", "a line of text is not echoed", plan_edit(lambda d: write_rom(d, "rows", [SECRET] + rom_lines(d, "rows")[1:])),
     ["rtl", "{plan}"], "rows.hex, line 1: not a 2-digit hex word"),
    # -- inputs ----------------------------------------------------------------------------------------
    ("inputs", "a FIFO", fifo("f.npy"), ["sim", "{plan}", "--inputs", "{tmp}/f.npy"], "the inputs is a FIFO"),
    ("inputs", "timedelta64", npy("x.npy", np.ones((1, 40), "timedelta64[s]")),
     ["sim", "{plan}", "--inputs", "{tmp}/x.npy"], "not timedelta64[s]"),
    ("inputs", "map --inputs timedelta64", npy("x.npy", np.ones((1, 40), "timedelta64[s]")),
     M + [SPEC, "--inputs", "{tmp}/x.npy", "-o", "{tmp}/out"], "not timedelta64[s]"),
    ("inputs", "map --inputs a FIFO", fifo("f.npy"), M + [SPEC, "--inputs", "{tmp}/f.npy", "-o", "{tmp}/out"],
     "is a FIFO"),
    # -- JSON: macro files ------------------------------------------------------------------------------
    ("json", "macro nested 100000 deep", text("m.json", DEEP), MJ, "nested deeper than the 64 levels"),
    ("json", "macro with a 5001-digit integer", text("m.json", '{"constants": {"cell_read_pj":\n' + LONG_INT + "}}"),
     MJ, "m.json, line 2: an integer of 5001 digits"),
    ("json", "macro 1e400", text("m.json", '{"constants": {"cell_read_pj": 1e400}}'), MJ, "not a finite number"),
    ("json", "macro key twice", text("m.json", '{"constants": {}, "constants": {}}'), MJ, "appears twice"),
    ("json", "macro not JSON, not echoed", text("m.json", SECRET), MJ, "m.json, line 1: not valid JSON"),
    ("json", "macro non-string keys", text("m.json", '{1: 2}'), MJ, "not valid JSON"),
    ("json", "macro a FIFO", fifo("m.json"), MJ, "the macro file is a FIFO"),
    ("json", "macro constant 1e307 (energies overflow)", text("m.json", '{"constants": {"cell_read_pj": 1e307}}'), MJ,
     "too large for JSON"),
    ("json", "calibration a FIFO", fifo("c.json"), ["fidelity", "--calibration", "{tmp}/c.json", "-o", "{tmp}/f"],
     "--calibration"),
    # -- explore specs ----------------------------------------------------------------------------------
    ("spec", "billion laughs", text("s.yaml", LAUGHS), S, "expands to more than 100000 values"),
    ("spec", "a grid of 10**9 points", text("s.yaml", BIG_GRID), S, "the grid has 1000000000 points"),
    ("spec", "per_channel \"no\"", text("s.yaml", 'weights: synthetic:laplace:8x8\nper_channel: "no"\n'), S,
     "per_channel = 'no': must be true or false"),
    ("spec", "YAML nested 100000 deep", text("s.yaml", "weights: " + DEEP), S, "nested deeper than the 64 levels"),
    ("spec", "JSON nested 100000 deep", text("s.json", DEEP), SJ, "nested deeper than the 64 levels"),
    ("spec", "YAML 5001-digit integer", text("s.yaml", "weights: synthetic:laplace:8x8\ngrid: {rows: " + LONG_INT + "}\n"),
     S, "an integer of 5001 digits"),
    ("spec", "JSON 5001-digit integer", text("s.json", '{"weights": "synthetic:laplace:8x8", "grid": {"rows": '
                                             + LONG_INT + "}}"), SJ, "an integer of 5001 digits"),
    ("spec", "non-string keys", text("s.yaml", "weights: synthetic:laplace:8x8\ngrid: {1: [16]}\n"), S,
     "a key that is int, not a string"),
    ("spec", "a Python tag", text("s.yaml", "weights: !!python/object/apply:os.system [echo]\n"), S,
     "not valid YAML"),
    ("spec", "a FIFO", fifo("s.yaml"), S, "the spec is a FIFO"),
    ("spec", "an alias inside its own anchor", text("s.yaml", "weights: synthetic:laplace:8x8\ngrid: &a {rows: [*a]}\n"),
     S, "an alias inside the value it names"),
    ("spec", "layers: []", text("s.yaml", "weights: synthetic:laplace:8x8\nlayers: []\n"), S,
     "must be a non-empty list of layer names"),
    ("spec", "a missing weight file (no output folder made)", text("s.yaml", "weights: [none.npy]\n"), S,
     "none.npy: no such file"),
    ("spec", "a weight file that is a FIFO", both(fifo("w.npy"), text("s.yaml", "weights: [w.npy]\n")), S,
     "is a FIFO"),
    ("spec", "an unknown grid key", text("s.yaml", "weights: synthetic:laplace:8x8\ngrid: {rowz: [1]}\n"), S,
     "unknown configuration keys: rowz"),
    ("spec", "not YAML, not echoed", text("s.yaml", "weights: [" + SECRET), S, "not valid YAML"),
    # -- outputs ----------------------------------------------------------------------------------------
    ("paths", "rtl -o a FIFO", fifo("t.v"), ["rtl", "{plan}", "-o", "{tmp}/t.v"],
     "is a FIFO (named pipe), which sws never replaces"),
    ("paths", "rtl -o a character device", lambda t: _char_device(t / "t.v"), ["rtl", "{plan}", "-o", "{tmp}/t.v"],
     "is a character device, which sws never replaces"),
    ("paths", "laws --plot a FIFO", fifo("p.png"), ["laws", "--plot", "{tmp}/p.png"], "is a FIFO"),
    ("paths", "laws --plot its own --macro", text("m.json", '{"constants": {}}'),
     ["laws", "--macro", "{tmp}/m.json", "--plot", "{tmp}/m.json"], "the plot is the input"),
    ("paths", "map --macro inside the marked output folder", user_folder("out", marked=True, extra=[
        lambda d: (d / "macro.json").write_text('{"constants": {}}')]),
     M + [SPEC, "--macro", "{tmp}/out/macro.json", "-o", "{tmp}/out"], "holds the input"),
    ("paths", "-o a marked folder holding a hard link of the weights", both(GOOD_W, hard_link_in_marked("out", "w.npy")),
     M + [W, "-o", "{tmp}/out"], "is or holds the input"),
    ("paths", "rtl -o a hard link of a ROM image", plan_edit(lambda d: os.link(d / LAYER / "cells.hex", d.parent / "t.v")),
     ["rtl", "{plan}", "-o", "{tmp}/t.v"], "is the input"),
    ("paths", "sim -o a hard link of the inputs", lambda t: os.link(t / "x.npy", t / "y.npy"),
     ["sim", "{plan}", "--inputs", "{x}", "-o", "{tmp}/y.npy"], "is the input"),
    ("paths", "flow -o a folder of the user's files", user_folder("out"), ["flow", "--no-synth", "-o", "{tmp}/out"],
     "holds files sws did not write (no .sws-output marker), so it is not written into"),
    ("paths", "flow with a missing weight file (no output folder made)", None,
     ["flow", "--weights", "{tmp}/none.npy", "--no-synth", "-o", "{tmp}/out"], "none.npy: no such file"),
    ("paths", "flow with a sparsity out of range (no output folder made)", None,
     ["flow", "--sparsity", "3", "--no-synth", "-o", "{tmp}/out"], "sparsity must be a number in [0, 1), not 3.0"),
    ("spec", "an unknown layer (no output folder made)", text("s.yaml", "weights: synthetic:laplace:8x8\n"
                                                                      "layers: [L9]\n"), S, "no layer 'L9'"),
    ("paths", "explore into an output whose cache is a link", both(text("s.yaml", "weights: synthetic:laplace:8x8\n"),
                                                                    user_folder("out", marked=True, extra=[
                                                                        lambda d: os.symlink(d.parent, d / "cache")])),
     S, "must be a folder, not a link"),
    # -- bounds before work -----------------------------------------------------------------------------
    ("bounds", "--cap 10**20", None, M + [SPEC, "--cap", str(10 ** 20)], "cap must be at most 32"),
    ("bounds", "map --n-adc 2**40", None, M + [SPEC, "--n-adc", str(2 ** 40)], "n_adc must be at most 4096"),
    ("bounds", "rtl --banks 2**40", None, ["rtl", "{plan}", "--banks", str(2 ** 40)], "banks must be at most 256"),
    ("bounds", "rtl --beat 2**40", None, ["rtl", "{plan}", "--beat", str(2 ** 40)], "beat must be at most 4096"),
    ("bounds", "map --rows 2**40", None, M + [SPEC, "--rows", str(2 ** 40)], "rows must be at most 65536"),
    ("bounds", "synth --max-columns 2**40", None, ["synth", "--max-columns", str(2 ** 40)],
     "--max-columns must be in 1..1048576"),
    ("bounds", "laws --e8 1e308", None, ["laws", "--e8", "1e308", "--no-plot"], "e8_pj must be at most"),
    ("bounds", "map --e8 1e308 (text output)", None, M + [SPEC, "--law", "walden", "--e8", "1e308"],
     "e8_pj must be at most"),
    ("bounds", "explore --workers 2**40", text("s.yaml", "weights: synthetic:laplace:8x8\n"),
     S + ["--workers", str(2 ** 40)], "--workers must be in 1..256"),
    ("options", "laws --law-table 1,2", None, ["laws", "--law-table", "1,2", "--no-plot"],
     "law_table must give at least 8 entries"),
    ("options", "fidelity --sparsities ,", None, ["fidelity", "--sparsities", ",", "-o", "{tmp}/f"],
     "--sparsities: needs at least one number"),
    ("options", "sweep --groups ,", None, ["sweep", SPEC, "--groups", ",", "-o", "{tmp}/sw"],
     "--groups: needs at least one number"),
] + _onnx_cases()


def _char_device(path):
    """A character device (1, 3: the null device's numbers) as a file of the test folder, or skip."""
    try:
        os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(1, 3))
    except (PermissionError, OSError) as e:
        pytest.skip(f"cannot make a character device here ({e.strerror})")

CASES = [
    # -- weights --------------------------------------------------------------------------------
    ("weights", "missing file", None, M + ["{tmp}/none.npy"], "no such file"),
    ("weights", "a folder", lambda t: (t / "d.npy").mkdir(), M + ["{tmp}/d.npy"], "is a folder"),
    ("weights", "empty .npy", raw("w.npy", b""), M + [W], "the file is empty"),
    ("weights", "empty .npz", raw("w.npz", b""), M + ["{tmp}/w.npz"], "the file is empty"),
    ("weights", ".npz named .npy", npz_named("w.npy", a=np.ones((2, 2))), M + [W], "this is a .npz archive"),
    ("weights", ".npy named .npz", both(npy("a.npy", np.ones((2, 2))), lambda t: os.rename(t / "a.npy", t / "w.npz")),
     M + ["{tmp}/w.npz"], "this is a .npy array"),
    ("weights", "text named .npy", raw("w.npy", b"1,2\n3,4\n"), M + [W], "not a .npy file"),
    ("weights", "zip signature then garbage", raw("w.npz", b"PK\x03\x04" + b"\x00" * 40), M + ["{tmp}/w.npz"],
     "not a readable .npz archive"),
    ("weights", "truncated .npy", truncated_npy, M + [W], "not a readable .npy array"),
    ("weights", "bad .npy header", raw("w.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': 12}   \n"), M + [W],
     "not a readable .npy array"),
    ("weights", "1-D", npy("w.npy", np.ones(5)), M + [W], "must be a 2-D K x N matrix"),
    ("weights", "3-D", npy("w.npy", np.ones((2, 2, 2))), M + [W], "must be a 2-D K x N matrix"),
    ("weights", "0 rows", npy("w.npy", np.ones((0, 3))), M + [W], "at least one row and one column"),
    ("weights", "0-D", npy("w.npy", np.float64(3.0)), M + [W], "must be a 2-D K x N matrix"),
    ("weights", "NaN", npy("w.npy", np.array([[1.0, np.nan]])), M + [W], "weights must be finite"),
    ("weights", "infinity", npy("w.npy", np.array([[-np.inf, 1.0]])), M + [W], "weights must be finite"),
    ("weights", "strings", npy("w.npy", np.array([["a", "b"]])), M + [W], "integers or floats"),
    ("weights", "Python objects", npy("w.npy", np.array([[1, None]], dtype=object), allow_pickle=True), M + [W],
     "not Python objects"),
    ("weights", "complex", npy("w.npy", np.array([[1 + 2j]])), M + [W], "integers or floats"),
    ("weights", "booleans", npy("w.npy", np.array([[True, False]])), M + [W], "integers or floats"),
    ("weights", "int16 out of range", npy("w.npy", np.array([[300]], np.int16)), M + [W],
     "W[0, 0] = 300 is outside -127..127"),
    ("weights", "uint64 2**64 - 1", npy("w.npy", np.array([[1, 2 ** 64 - 1]], np.uint64)), M + [W],
     "W[0, 1] = 18446744073709551615 is outside"),
    ("weights", "int64 -2**63", npy("w.npy", np.array([[-2 ** 63, 0]], np.int64)), M + [W],
     "W[0, 0] = -9223372036854775808 is outside"),
    ("weights", "-128 in int8", npy("w.npy", np.array([[-128, 0]], np.int8)), M + [W], "W[0, 0] = -128 is outside"),
    ("weights", "subnormal floats", npy("w.npy", np.array([[5e-324, 0.0], [0.0, 1e-320]])), M + [W],
     "too small to quantize"),
    ("weights", ".npy too large for memory", huge_npy("w.npy", (2 ** 20, 2 ** 20)), M + [W],
     "1048576 x 1048576 layer needs about"),
    ("weights", "synthetic too large for memory", None, M + ["synthetic:gauss:1000000x1000000"],
     "1000000 x 1000000 layer needs about"),
    ("weights", "synthetic 0 x 5", None, M + ["synthetic:laplace:0x5"], "needs K >= 1 and N >= 1"),
    ("weights", "synthetic bad kind", None, M + ["synthetic:uniform:4x4"], "a synthetic source is"),
    ("weights", "unknown extension", raw("w.csv", b"1,2\n"), M + ["{tmp}/w.csv"], "unknown weight file type"),
    ("weights", ".npz without arrays", lambda t: np.savez(t / "w.npz"), M + ["{tmp}/w.npz"], "holds no arrays"),
    ("weights", ".npz with a 1-D member", lambda t: np.savez(t / "w.npz", a=np.ones((2, 2)), b=np.ones(3)),
     M + ["{tmp}/w.npz"], "w.npz[b]: a layer must be a 2-D"),
    ("weights", ".npz with a huge member", lambda t: _npz_with_huge_member(t / "w.npz"), M + ["{tmp}/w.npz"],
     "w.npz[big]: a 1048576 x 1048576 layer needs about"),

    # -- plans: the manifest ---------------------------------------------------------------------
    ("plan", "no such folder", None, ["rtl", "{tmp}/none"], "not a plan folder"),
    ("plan", "a folder without plan.json", lambda t: (t / "empty").mkdir(), ["rtl", "{tmp}/empty"], "no plan.json"),
    ("plan", "plan.json a list", plan_edit(lambda d: (d / "plan.json").write_text("[1, 2]")), ["rtl", "{plan}"],
     "a plan manifest is a JSON object, not list"),
    ("plan", "plan.json not JSON", plan_edit(lambda d: (d / "plan.json").write_text("{\n\"format\": sws\n}")),
     ["rtl", "{plan}"], "plan.json, line 2: not valid JSON"),
    ("plan", "plan.json binary", plan_edit(lambda d: (d / "plan.json").write_bytes(b'{"a":\n "\xff\xfe"}')),
     ["rtl", "{plan}"], "plan.json, line 2: not UTF-8 text"),
    ("plan", "NaN in plan.json", plan_edit(lambda d: (d / "plan.json").write_text(
        (d / "plan.json").read_text().replace('"sparsity_requested": 0.0', '"sparsity_requested": NaN'))),
     ["rtl", "{plan}"], "NaN is not a standard JSON number"),
    ("plan", "version 1", plan_edit(edit_manifest(_set(["version"], 1))), ["rtl", "{plan}"],
     "version 1 is not 'sws-plan' version 2"),
    ("plan", "another format", plan_edit(edit_manifest(_set(["format"], "other"))), ["rtl", "{plan}"],
     "plan format 'other'"),
    ("plan", "value edited, not re-signed", plan_edit(edit_manifest(_set(["config", "hardware", "input_bits"], 9),
                                                                     sign=False)),
     ["rtl", "{plan}"], "the manifest does not match its recorded sha256"),
    ("plan", "manifest_sha256 missing", plan_edit(edit_manifest(_delete(["manifest_sha256"]), sign=False)),
     ["rtl", "{plan}"], "field manifest_sha256"),
    ("plan", "layers missing", plan_edit(edit_manifest(_delete(["layers"]))), ["rtl", "{plan}"],
     "field layers is missing"),
    ("plan", "layers empty", plan_edit(edit_manifest(_set(["layers"], []))), ["rtl", "{plan}"],
     "a plan needs at least one layer"),
    ("plan", "layer not an object", plan_edit(edit_manifest(_set(["layers"], [3]))), ["rtl", "{plan}"],
     "field layers[0] must be an object"),
    ("plan", "shape of one number", plan_edit(edit_manifest(_set(["layers", 0, "shape"], [40]))),
     ["rtl", "{plan}"], "field layers[0].shape = [40] must be [K, N]"),
    ("plan", "shape of strings", plan_edit(edit_manifest(_set(["layers", 0, "shape"], ["40", 6]))),
     ["rtl", "{plan}"], "field layers[0].shape"),
    ("plan", "shape too large for memory", plan_edit(edit_manifest(_set(["layers", 0, "shape"], [2 ** 30, 2 ** 30]))),
     ["rtl", "{plan}"], "field layers[0].shape: a 1073741824 x 1073741824 layer needs about"),
    ("plan", "sections negative", plan_edit(edit_manifest(_set(["layers", 0, "sections"], -1))),
     ["rtl", "{plan}"], "field layers[0].sections = -1 is outside"),
    ("plan", "sections a string", plan_edit(edit_manifest(_set(["layers", 0, "sections"], "18"))),
     ["rtl", "{plan}"], "field layers[0].sections must be an integer"),
    ("plan", "rows_used beyond K x groups", plan_edit(edit_manifest(_set(["layers", 0, "rows_used"], 10 ** 9))),
     ["rtl", "{plan}"], "field layers[0].rows_used = 1000000000 is outside 0..240"),
    ("plan", "widths edited", plan_edit(edit_manifest(_set(["layers", 0, "widths", "rows", "index"], 7))),
     ["rtl", "{plan}"], "field layers[0].widths"),
    ("plan", "folder escapes the plan", plan_edit(edit_manifest(_set(["layers", 0, "folder"], "../x"))),
     ["rtl", "{plan}"], "field layers[0].folder = '../x' must be a plain folder name"),
    ("plan", "name missing", plan_edit(edit_manifest(_delete(["layers", 0, "name"]))), ["rtl", "{plan}"],
     "field layers[0].name is missing"),
    ("plan", "scale negative", plan_edit(edit_manifest(_set(["layers", 0, "scale"], [-1.0]))), ["rtl", "{plan}"],
     "field layers[0].scale"),
    ("plan", "config rows a string", plan_edit(edit_manifest(_set(["config", "hardware", "rows"], "16")))
     , ["rtl", "{plan}"], "field config: rows must be an integer"),
    ("plan", "config unknown part", plan_edit(edit_manifest(_set(["config", "extra"], {})))
     , ["rtl", "{plan}"], "field config: unknown configuration parts: extra"),
    ("plan", "sha256 of a ROM missing", plan_edit(edit_manifest(_delete(["layers", 0, "sha256", "rows"]),
                                                                  sign=False)),
     ["rtl", "{plan}"], "the manifest does not match its recorded sha256"),

    # -- plans: the ROM images -------------------------------------------------------------------
    ("rom", "cell bit flipped, not re-signed", plan_edit(lambda d: set_cell(d, 0, 0, 13, sign=False)),
     ["rtl", "{plan}"], "cells.hex: the ROM image does not match its sha256"),
    ("rom", "two row indices swapped, not re-signed",
     plan_edit(lambda d: write_rom(d, "rows", [rom_lines(d, "rows")[1], rom_lines(d, "rows")[0]]
                                   + rom_lines(d, "rows")[2:], sign=False)),
     ["sim", "{plan}", "--inputs", "{x}"], "rows.hex: the ROM image does not match its sha256"),
    ("rom", "a ROM image missing", plan_edit(lambda d: os.unlink(d / LAYER / "cells.hex")), ["rtl", "{plan}"],
     "cells.hex: cannot read the ROM image"),
    ("rom", "binary bytes", plan_edit(lambda d: ((d / LAYER / "rows.hex").write_bytes(b"1f\n\xff\xfe\n"),
                                                 resign(d))),
     ["rtl", "{plan}"], "rows.hex, line 2: byte 0xff is not text"),
    ("rom", "not a hex word", plan_edit(lambda d: write_rom(d, "rows", ["1f", "zz"] + rom_lines(d, "rows")[2:])),
     ["rtl", "{plan}"], "rows.hex, line 2: not a 2-digit hex word"),
    ("rom", "a word wider than its field", plan_edit(lambda d: write_rom(d, "rows", ["ff"] + rom_lines(d, "rows")[1:])),
     ["rtl", "{plan}"], "rows.hex, line 1: the word is wider than its 6 bits"),
    ("rom", "a word missing", plan_edit(lambda d: write_rom(d, "columns", rom_lines(d, "columns")[:-1])),
     ["rtl", "{plan}"], "columns.hex: holds 156 words, but plan.json (layers[0]) gives 157"),
    ("rom", "row index >= K", plan_edit(lambda d: set_field(d, "rows", 0, "index", 40)), ["rtl", "{plan}"],
     "rows.hex, line 1: field index = 40 is not below K = 40"),
    ("rom", "row index twice in a section", plan_edit(lambda d: set_field(d, "rows", 1, "index",
                                                                          get_field(d, "rows", 0, "index"))),
     ["rtl", "{plan}"], "rows.hex, line 2: field index"),
    ("rom", "rows > R", plan_edit(lambda d: set_field(d, "sections", 0, "rows", 17)), ["rtl", "{plan}"],
     "sections.hex, line 1: field rows = 17 is more than the array's 16 rows"),
    ("rom", "out_base >= N", plan_edit(lambda d: set_field(d, "sections", 0, "out_base", 6)), ["rtl", "{plan}"],
     "sections.hex, line 1: field out_base = 6 is not below N = 6"),
    ("rom", "row_base not contiguous", plan_edit(lambda d: set_field(d, "sections", 1, "row_base", 0)),
     ["rtl", "{plan}"], "sections.hex, line 2: field row_base = 0 is not the sum"),
    ("rom", "col_base not contiguous", plan_edit(lambda d: set_field(d, "sections", 2, "col_base", 1)),
     ["rtl", "{plan}"], "sections.hex, line 3: field col_base = 1 is not the sum"),
    ("rom", "n_active > slot columns", plan_edit(lambda d: set_field(d, "sections", 0, "n_active", 15)),
     ["rtl", "{plan}"], "sections.hex, line 1: field n_active = 15 is more than the 14 slot columns"),
    ("rom", "resolution above full", plan_edit(lambda d: set_field(d, "columns", 0, "res", 6)), ["rtl", "{plan}"],
     "columns.hex, line 1: field res = 6 is above the full resolution 5"),
    ("rom", "resolution 0", plan_edit(lambda d: set_field(d, "columns", 0, "res", 0)), ["rtl", "{plan}"],
     "columns.hex, line 1: field res = 0 is 0"),
    ("rom", "slot column >= slot columns", plan_edit(lambda d: set_field(d, "columns", 0, "slot_col", 14)),
     ["rtl", "{plan}"], "columns.hex, line 1: field slot_col = 14 is not below the 14 slot columns"),
    ("rom", "bit >= Bm", plan_edit(lambda d: set_field(d, "columns", 0, "bit", 7)), ["rtl", "{plan}"],
     "columns.hex, line 1: field bit = 7 is not below weight_bits = 7"),
    ("rom", "out not the slot's output", plan_edit(lambda d: set_field(d, "columns", 0, "out", 5)),
     ["rtl", "{plan}"], "columns.hex, line 1: field out = 5 is not the section's out_base"),
    ("rom", "sign not the slot's sign", plan_edit(lambda d: set_field(d, "columns", 0, "sign",
                                                                        1 - get_field(d, "columns", 0, "sign"))),
     ["rtl", "{plan}"], "columns.hex, line 1: field sign"),
    ("rom", "columns out of order", plan_edit(lambda d: write_rom(d, "columns", _reorder_first_section(d))),
     ["rtl", "{plan}"], "breaks the order of a section's columns"),
    ("rom", "a one past the section's rows", plan_edit(lambda d: set_cell(d, short_section(d)[0],
                                                                           short_section(d)[1], 0)),
     ["rtl", "{plan}"], "cells.hex, line"),
    ("rom", "a one in an inactive column", plan_edit(lambda d: set_cell(d, idle_column(d)[0], 0, idle_column(d)[1])),
     ["rtl", "{plan}"], "holds ones but is not an active column"),
    ("rom", "a one its column cannot count", plan_edit(lambda d: set_cell(d, *full_column(d))),
     ["sim", "{plan}", "--inputs", "{x}"], "cannot count the"),

    # -- inputs of sws sim -----------------------------------------------------------------------
    ("inputs", "missing", None, ["sim", "{plan}", "--inputs", "{tmp}/none.npy"], "no such inputs file"),
    ("inputs", "empty file", raw("x.npy", b""), ["sim", "{plan}", "--inputs", "{tmp}/x.npy"], "the file is empty"),
    ("inputs", ".npz named .npy", npz_named("x.npy", a=np.ones((1, 40), int)),
     ["sim", "{plan}", "--inputs", "{tmp}/x.npy"], "this is a .npz archive"),
    ("inputs", "floats", npy("x.npy", np.ones((1, 40))), ["sim", "{plan}", "--inputs", "{tmp}/x.npy"],
     "inputs must be integers, not float64"),
    ("inputs", "wrong length", npy("x.npy", np.ones((1, 39), int)), ["sim", "{plan}", "--inputs", "{tmp}/x.npy"],
     "inputs must have shape (V, 40) or (40,)"),
    ("inputs", "3-D", npy("x.npy", np.ones((1, 1, 40), int)), ["sim", "{plan}", "--inputs", "{tmp}/x.npy"],
     "inputs must have shape"),
    ("inputs", "no vectors", npy("x.npy", np.ones((0, 40), int)), ["sim", "{plan}", "--inputs", "{tmp}/x.npy"],
     "at least one input vector"),
    ("inputs", "out of range", npy("x.npy", np.full((1, 40), 128)), ["sim", "{plan}", "--inputs", "{tmp}/x.npy"],
     "input [0, 0] = 128 is outside -128..127"),
    ("inputs", "uint64 2**64 - 1", npy("x.npy", np.full((1, 40), 2 ** 64 - 1, np.uint64)),
     ["sim", "{plan}", "--inputs", "{tmp}/x.npy"], "= 18446744073709551615 is outside"),
    ("inputs", "int64 -2**63", npy("x.npy", np.full((1, 40), -2 ** 63, np.int64)),
     ["sim", "{plan}", "--inputs", "{tmp}/x.npy"], "= -9223372036854775808 is outside"),
    ("inputs", "too large for memory", huge_npy("x.npy", (2 ** 30, 2 ** 20)),
     ["sim", "{plan}", "--inputs", "{tmp}/x.npy"], "needs about"),

    # -- paths -----------------------------------------------------------------------------------
    ("paths", "-o . holding the user's files and the input", both(GOOD_W, raw("mine.txt", b"mine")),
     M + ["w.npy", "-o", "."], "holds the input w.npy"),
    ("paths", "-o the current folder", raw("mine.txt", b"mine"), M + [SPEC, "-o", "."], "the current folder"),
    ("paths", "-o a folder of the user's files", user_folder("out"), M + [SPEC, "-o", "{tmp}/out"],
     "holds files sws did not write"),
    ("paths", "-o a marked folder holding the input", user_folder("out", marked=True, extra=[GOOD_W]),
     M + ["{tmp}/out/w.npy", "-o", "{tmp}/out"], "holds the input"),
    ("paths", "-o a file", raw("out", b"mine"), M + [SPEC, "-o", "{tmp}/out"], "must be a folder, but a file"),
    ("paths", "-o under a file", raw("f", b"mine"), M + [SPEC, "-o", "{tmp}/f/out"], "which is a file"),
    ("paths", "-o a dangling link", dangling("out"), M + [SPEC, "-o", "{tmp}/out"], "does not exist"),
    ("paths", "rtl -o a folder", lambda t: (t / "v").mkdir(), ["rtl", "{plan}", "-o", "{tmp}/v"],
     "must be a file, but a folder is there"),
    ("paths", "rtl -o under a file", raw("f", b"mine"), ["rtl", "{plan}", "-o", "{tmp}/f/t.v"], "which is a file"),
    ("paths", "rtl -o a dangling link", dangling("t.v"), ["rtl", "{plan}", "-o", "{tmp}/t.v"], "does not exist"),
    ("paths", "rtl -o the plan's manifest", None, ["rtl", "{plan}", "-o", "{plan}/plan.json"],
     "is the input"),
    ("paths", "rtl -o a ROM image", None, ["rtl", "{plan}", "-o", f"{{plan}}/{LAYER}/cells.hex"], "is the input"),
    ("paths", "rtl --generic -o X.prog", None, ["rtl", "{plan}", "--generic", "-o", "{tmp}/t.prog"],
     "must not end in .prog"),
    ("paths", "sim -o the inputs", None, ["sim", "{plan}", "--inputs", "{x}", "-o", "{x}"], "is the input"),
    ("paths", "sim -o a folder", lambda t: (t / "y").mkdir(), ["sim", "{plan}", "--inputs", "{x}", "-o", "{tmp}/y"],
     "must be a file"),
    ("paths", "sim --vcd a folder", lambda t: (t / "w").mkdir(),
     ["sim", "{plan}", "--inputs", "{x}", "--backend", "amaranth", "--vcd", "{tmp}/w"], "must be a file"),
    ("paths", "sim --vcd the inputs", None,
     ["sim", "{plan}", "--inputs", "{x}", "--backend", "amaranth", "--vcd", "{x}"], "is the input"),

    # -- options ---------------------------------------------------------------------------------
    ("options", "--rows 0", None, M + [SPEC, "--rows", "0"], "rows must be an integer >= 1, not 0"),
    ("options", "--rows abc", None, M + [SPEC, "--rows", "abc"], "invalid int value: 'abc'"),
    ("options", "--cols -3", None, M + [SPEC, "--cols", "-3"], "cols must be an integer >= 1"),
    ("options", "--sparsity 1", None, M + [SPEC, "--sparsity", "1"], "sparsity must be a number in [0, 1)"),
    ("options", "--sparsity nan", None, M + [SPEC, "--sparsity", "nan"], "sparsity must be a number in [0, 1)"),
    ("options", "--group too wide", None, M + [SPEC, "--group", "10"], "group 10 is wider than a crossbar"),
    ("options", "--weight-bits 16", None, M + [SPEC, "--weight-bits", "16"], "weight_bits must be at most 15"),
    ("options", "--input-bits 1 signed", None, M + [SPEC, "--input-bits", "1"], "input_bits must be an integer >= 2"),
    ("options", "--e8 1e308", None, M + [SPEC, "--law", "walden", "--e8", "1e308", "--json"],
     "e8_pj must be at most"),
    ("options", "--e8 inf", None, M + [SPEC, "--e8", "inf"], "e8"),
    ("options", "--e8 with a published ADC model", None, M + [SPEC, "--e8", "2"],
     "law 'isaac' has its own published energies"),
    ("options", "--law table without a table", None, M + [SPEC, "--law", "table"], "law 'table' needs law_table"),
    ("options", "--law-table of words", None, M + [SPEC, "--law", "table", "--law-table", "a,b"],
     "expected comma-separated numbers"),
    ("options", "--adc-mux -1", None, M + [SPEC, "--adc-mux", "-1"], "adc_mux must be an integer >= 0, not -1"),
    ("options", "--adc-mux wider than the slot", None, M + [SPEC, "--adc-mux", "15"],
     "adc_mux must be at most the slot's 14 columns"),
    ("options", "--adc-mux 4 with --n-adc 16", None, M + [SPEC, "--adc-mux", "4", "--n-adc", "16"],
     "n_adc must be ceil(slot columns 14 / adc_mux 4) = 4 with adc_mux 4"),
    ("options", "--placement balanced without --adc-mux", None, M + [SPEC, "--placement", "balanced"],
     "placement 'balanced' balances the ADC groups of adc_mux >= 1"),
    ("options", "unknown option", None, M + [SPEC, "--fast"], "unrecognized arguments: --fast"),
    ("options", "no command", None, [], "the following arguments are required"),
    ("options", "rtl --lanes 3", None, ["rtl", "{plan}", "--lanes", "3"], "lanes"),
    ("options", "rtl --lanes 1048576", None, ["rtl", "{plan}", "--lanes", "1048576"], "lanes"),
    ("options", "rtl --layer unknown", None, ["rtl", "{plan}", "--layer", "nope"], "layer 'nope' is not in the plan"),
    ("options", "sim --vcd with verilator", None,
     ["sim", "{plan}", "--inputs", "{x}", "--backend", "verilator", "--vcd", "{tmp}/w.vcd"], "--vcd writes"),
    ("options", "synth --pnr generic", None, ["synth", "{plan}", "--pnr"], "--pnr needs --target"),
    ("options", "--input-encoding gray", None, M + [SPEC, "--input-encoding", "gray"],
     "argument --input-encoding: invalid choice: 'gray'"),
    ("options", "signmag unsigned", None, M + [SPEC, "--input-encoding", "signmag", "--unsigned-inputs"],
     "input_encoding 'signmag' is for signed inputs"),
    ("options", "rtl --input-encoding bad", None, ["rtl", "{plan}", "--input-encoding", "ones"],
     "argument --input-encoding: invalid choice: 'ones'"),
    ("options", "sim --input-aware --weight-only", None,
     ["sim", "{plan}", "--inputs", "{x}", "--input-aware", "--weight-only"], "not allowed with argument"),
    ("inputs", "-128 on sign-magnitude hardware", npy("x.npy", np.full((1, 40), -128)),
     ["sim", "{plan}", "--inputs", "{tmp}/x.npy", "--input-encoding", "signmag"],
     "input [0, 0] = -128 is outside -127..127"),
    ("options", "flow signmag unsigned", None,
     ["flow", "--input-encoding", "signmag", "--unsigned-inputs", "-o", "{tmp}/f"],
     "input_encoding 'signmag' is for signed inputs"),
] + HOSTILE


def _npz_with_huge_member(path, shape=(2 ** 20, 2 ** 20)):
    import zipfile
    with zipfile.ZipFile(path, "w") as z:
        with z.open("big.npy", "w") as f:
            npformat.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": shape})


def _reorder_first_section(d):
    """The column table with two neighbouring columns of one section, of different resolutions, swapped."""
    lines = rom_lines(d, "columns")
    for sec in _sections(d):
        for i in range(sec["col_base"], sec["col_base"] + sec["n_active"] - 1):
            if get_field(d, "columns", i, "res") > get_field(d, "columns", i + 1, "res"):
                lines[i], lines[i + 1] = lines[i + 1], lines[i]
                return lines
    raise AssertionError("no section of the base plan has two resolutions")


def snapshot(root) -> dict:
    """Every path under root: a file's sha256, a folder, a link's target, or a special file's kind (never
    opened: a FIFO would block)."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            mode = os.lstat(p).st_mode
            if stat.S_ISLNK(mode):
                out[rel] = "link " + os.readlink(p)
            elif stat.S_ISDIR(mode):
                out[rel] = "dir"
            elif not stat.S_ISREG(mode):
                out[rel] = f"special {stat.S_IFMT(mode):o}"
            else:
                with open(p, "rb") as f:
                    out[rel] = _sha(f.read())
    return out


def _case_id(case):
    return f"{case[0]}: {case[1]}"


def prepare_case(case, base_plan, tmp_path) -> tuple[list[str], dict]:
    """Set a case up in `tmp_path` (a copy of the plan, an inputs file, the case's own damage): its command
    line and the folder's snapshot before it runs."""
    _, _, setup, argv, _ = case
    plan = tmp_path / "plan"
    shutil.copytree(base_plan, plan)
    np.save(tmp_path / "x.npy", np.random.default_rng(0).integers(-128, 128, (2, 40)))
    if isinstance(setup, tuple):
        setup[1](plan)
    elif setup is not None:
        setup(tmp_path)
    return [a.format(tmp=tmp_path, plan=plan, x=tmp_path / "x.npy") for a in argv], snapshot(tmp_path)


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_bad_input_is_answered_in_one_line_with_exit_2_and_nothing_written_or_lost(case, base_plan, tmp_path,
                                                                                     capsys):
    message = case[4]
    args, before = prepare_case(case, base_plan, tmp_path)
    try:
        code = main(args)
    except SystemExit as e:      # argparse's own errors (sws.cli.Parser keeps them to one line)
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2, (code, err)
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("sws"), err
    assert message in err, err
    assert SECRET not in err, "a message echoed a file's content"
    assert snapshot(tmp_path) == before


def test_the_table_covers_every_kind_of_input():
    kinds = {}
    for kind, *_ in CASES:
        kinds[kind] = kinds.get(kind, 0) + 1
    print("malformed inputs by kind:", kinds, "total", len(CASES))
    assert set(kinds) == {"weights", "onnx", "plan", "rom", "inputs", "json", "spec", "paths", "bounds", "options"}
    assert len({_case_id(c) for c in CASES}) == len(CASES)


# Damage to a plan: any changed byte is refused or provably harmless --------------------------------

def _plan_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_changed_byte_of_a_plan_is_refused_or_harmless(base_plan, tmp_path_factory, data):
    """Harmless means: the plan loads to the same configuration and the same ROM contents, so the rebuilt
    W and the golden model's outputs are those of the undamaged plan (checked, not assumed)."""
    name = data.draw(st.sampled_from(_plan_files(base_plan)), label="file")
    size = (base_plan / name).stat().st_size
    at = data.draw(st.integers(0, size - 1), label="offset")
    old = (base_plan / name).read_bytes()
    new = data.draw(st.integers(0, 255).filter(lambda b: b != old[at]), label="byte")
    plan = tmp_path_factory.mktemp("damaged") / "plan"
    shutil.copytree(base_plan, plan)
    (plan / name).write_bytes(old[:at] + bytes([new]) + old[at + 1:])
    try:
        damaged = load_plan(str(plan))
    except SwsError:
        return                                 # refused: sws.cli turns this into exit 2 (the table above)
    good = load_plan(str(base_plan))
    assert damaged.config == good.config
    a, b = damaged.layers[0], good.layers[0]
    np.testing.assert_array_equal(rebuild_weights(a), rebuild_weights(b))
    x = np.random.default_rng(1).integers(-128, 128, (4, 40))
    np.testing.assert_array_equal(golden_outputs(a, x), golden_outputs(b, x))
    assert np.array_equal(golden_outputs(b, x), x @ rebuild_weights(b))   # the reference itself is x @ W


def test_a_damaged_plan_is_exit_2_for_sim_not_a_hardware_mismatch(base_plan, tmp_path, capsys):
    plan = tmp_path / "plan"
    shutil.copytree(base_plan, plan)
    lines = rom_lines(plan, "cells")
    lines[0] = f"{int(lines[0], 16) ^ 1:0{len(lines[0])}x}"      # flip one cell bit
    write_rom(plan, "cells", lines, sign=False)
    np.save(tmp_path / "x.npy", np.zeros((1, 40), int))
    code = main(["sim", str(plan), "--inputs", str(tmp_path / "x.npy"), "--backend", "amaranth"])
    err = capsys.readouterr().err
    assert code == 2 and "cells.hex: the ROM image does not match its sha256" in err and "mismatch" not in err


def get_cell(d, section, row, col):
    return _cells(d)[section][row] >> col & 1


# A full disk and a read-only folder, end to end ---------------------------------------------------

def test_a_full_disk_while_writing_the_plan_is_exit_2_and_leaves_no_debris(tmp_path, capsys, monkeypatch):
    import mapper.plan.files as plan_module
    real_open = open

    def full_disk_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        if "w" in mode and str(path).endswith("cells.hex"):
            f.write(b"00" if "b" in mode else "00")
            f.close()
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return f

    out = tmp_path / "out"
    assert main(["map", SPEC, *MAP_ARGS, "-o", str(out)]) == 0
    capsys.readouterr()
    before = snapshot(tmp_path)
    monkeypatch.setattr(plan_module, "open", full_disk_open, raising=False)
    code = main(["map", SPEC, "--rows", "32", "-o", str(out)])
    out_text, err = capsys.readouterr()
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err and out_text == ""
    assert snapshot(tmp_path) == before          # the earlier output whole, no temporary left


def test_a_read_only_output_folder_is_exit_2(tmp_path, capsys, monkeypatch):
    import mapper.common.outputs as files_module

    def read_only(*a, **k):
        raise PermissionError(errno.EROFS, os.strerror(errno.EROFS), str(tmp_path))

    monkeypatch.setattr(files_module.tempfile, "mkdtemp", read_only)
    code = main(["map", SPEC, "-o", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Read-only file system" in err
    assert os.listdir(tmp_path) == []


# Signals and concurrent writers, in real processes ------------------------------------------------

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The layer the interrupted runs map: a different source from SPEC, so that a run that was not interrupted
#: is told apart by its output.
OTHER = "synthetic:laplace:300x40:4"
#: `sws` as `python -m sws.cli` runs it, but pausing 3 s while its temporary output folder is half written
#: (the plan written, the report not yet): a window the polling below cannot miss on a loaded machine, where
#: the window of a real run is a fraction of a second at the end of it. The signal handling is the product's.
PAUSED_WRITER = """
import signal
# Started as from an interactive shell: SIGINT and SIGTERM at their defaults, whatever the test process has
# (an ignored signal stays ignored in sws, and one clean-clone run's xdist worker passed SIGINT down ignored).
signal.signal(signal.SIGINT, signal.SIG_DFL)
signal.signal(signal.SIGTERM, signal.SIG_DFL)
import runpy, sys, time
import mapper.job as job
markdown = job.report_markdown
def paused(report):
    time.sleep(3)
    return markdown(report)
job.report_markdown = paused
sys.argv[0] = "sws"
runpy.run_module("sws.cli", run_name="__main__")
"""


def _sws(*argv, cwd, paused=False):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    head = ["-c", PAUSED_WRITER] if paused else ["-m", "sws.cli"]
    return subprocess.Popen([sys.executable, *head, *argv], cwd=cwd, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_a_signal_while_writing_leaves_the_old_output_whole_and_no_temporary(tmp_path, sig, code, word):
    out = tmp_path / "out"
    assert main(["map", SPEC, *MAP_ARGS, "-o", str(out)]) == 0
    before = snapshot(tmp_path)
    signalled = 0
    for attempt in range(5):
        proc = _sws("map", OTHER, "-o", str(out), cwd=tmp_path, paused=True)
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if any(p.startswith(".out.sws-tmp-") for p in os.listdir(tmp_path)):
                break                           # it is writing its temporary folder now
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(sig)
            signalled += 1
            _, err = proc.communicate(timeout=60)
            if proc.returncode == 0 or snapshot(tmp_path) != before:
                # The signal came after the new output was committed (the renames hold signals, so it
                # is then whole): a legitimate outcome, but not the one under test. Try again.
                assert proc.returncode in (0, code), err
                assert sorted(os.listdir(tmp_path)) == ["out"]
                assert load_plan(str(out)).meta["source"] == OTHER
                assert main(["map", SPEC, *MAP_ARGS, "-o", str(out)]) == 0
                before = snapshot(tmp_path)
                continue
            assert proc.returncode == code and err.strip().endswith(f"sws: {word}"), err
            return
        proc.communicate()
        assert main(["map", SPEC, *MAP_ARGS, "-o", str(out)]) == 0    # it finished first: put the old one back
        before = snapshot(tmp_path)
    pytest.fail(f"the run was never stopped by the signal: signalled in {signalled} of 5 attempts (each then "
                f"finished with its new output); the others finished before their temporary folder was seen")


def test_concurrent_writers_of_one_output_each_finish_whole(tmp_path):
    out = tmp_path / "out"
    specs = ["synthetic:laplace:300x40:1", "synthetic:laplace:300x40:2", "synthetic:laplace:300x40:3"]
    procs = [_sws("map", s, "-o", str(out), cwd=tmp_path) for s in specs]
    results = [(p.wait(timeout=120), p.communicate()[1]) for p in procs]
    assert [r[0] for r in results] == [0, 0, 0], results
    assert sorted(os.listdir(tmp_path)) == ["out"]           # no temporary folders left
    plan = load_plan(str(out))                                # one run's output, whole and verified
    source = plan.meta["source"]
    assert source in specs
    from mapper.config import ArrayConfig
    from mapper.prepare import prepare_layer
    from mapper.sources import load_weights
    expected = prepare_layer(load_weights(source)[0], ArrayConfig(), 0.0).weights
    np.testing.assert_array_equal(rebuild_weights(plan.layers[0]), expected)
    assert json.loads((out / "report.json").read_text())["source"] == source
