"""The reading layer (mapper.common.reading), the inputs a run records (mapper.common.identity) and the output
rules that use them (mapper.common.outputs): each rule with an input that breaks it, and its one-line answer."""

from __future__ import annotations

import json
import os
import re
import stat

import pytest

from mapper.common import (MAX_INT_DIGITS, MAX_JSON_DEPTH, MAX_YAML_VALUES, SwsError, check_output_dir,
                           check_output_file, claim_dir, inputs_read, parse_json, parse_yaml, read_bytes,
                           read_json, read_text, recording_inputs, write_atomic, write_text)


def test_a_regular_file_is_read_whole(tmp_path):
    (tmp_path / "a.json").write_text('{"a": [1, 2.5, "x", null, true]}')
    assert read_json(str(tmp_path / "a.json"), what="spec") == {"a": [1, 2.5, "x", None, True]}


@pytest.mark.parametrize("make, kind", [
    (lambda p: os.mkfifo(p), "a FIFO (named pipe)"),
    (lambda p: os.mkdir(p), "a folder"),
    (lambda p: os.symlink("/dev/zero", p), "a character device"),
])
def test_anything_but_a_regular_file_is_refused_unread(tmp_path, make, kind):
    make(tmp_path / "f")
    with pytest.raises(SwsError, match=re.escape(f"f: the spec is {kind}, not a regular file")):
        read_bytes(str(tmp_path / "f"), what="spec", limit=10)       # a FIFO without a writer: no hang


def test_the_size_is_bounded_before_reading(tmp_path):
    (tmp_path / "f").write_bytes(b"x" * 101)
    with pytest.raises(SwsError, match="the ROM image is 101 bytes, more than the 100 bytes"):
        read_bytes(str(tmp_path / "f"), what="ROM image", limit=100)
    assert read_bytes(str(tmp_path / "f"), what="ROM image", limit=101) == b"x" * 101


def test_a_file_of_a_folder_never_follows_a_link_out_of_it(tmp_path):
    plan = tmp_path / "plan"
    (plan / "L0").mkdir(parents=True)
    (plan / "L0" / "rows.hex").write_text("00\n")
    (tmp_path / "secret").write_text("s3cr3t\n")
    os.symlink(tmp_path / "secret", plan / "L0" / "cells.hex")
    os.symlink("rows.hex", plan / "L0" / "same.hex")                   # a link inside the folder is fine
    os.symlink(tmp_path, plan / "up")
    assert read_bytes(str(plan / "L0" / "same.hex"), what="ROM image", limit=10, folder=str(plan)) == b"00\n"
    for path, how in ((plan / "L0" / "cells.hex", "a symbolic link out of"), (plan / "up" / "secret", "a symbolic "
                      "link out of"), (plan / ".." / "secret", "outside")):
        with pytest.raises(SwsError, match=f"is {how}") as e:
            read_bytes(str(path), what="ROM image", limit=10, folder=str(plan))
        assert "s3cr3t" not in str(e.value)


def test_text_that_is_not_utf8_names_its_line(tmp_path):
    (tmp_path / "f").write_bytes(b"a\nb\n\xff\n")
    with pytest.raises(SwsError, match=r"f, line 3: not UTF-8 text"):
        read_text(str(tmp_path / "f"), what="spec")


@pytest.mark.parametrize("text, message", [
    ("[" * 100000 + "]" * 100000, f"nested deeper than the {MAX_JSON_DEPTH} levels"),
    ("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1), f"nested deeper than the {MAX_JSON_DEPTH} levels"),
    ('{"a":\n' + "9" * 5001 + "}", f"w, line 2: an integer of 5001 digits: a number may have at most {MAX_INT_DIGITS}"),
    ('{"a": -' + "1" * (MAX_INT_DIGITS + 1) + "}", f"an integer of {MAX_INT_DIGITS + 1} digits"),
    ('{"a":\n\n 1e400}', "w, line 3: a number beyond the range of a float"),
    ('{"a": -Infinity}', "-Infinity is not a standard JSON number"),
    ('{"a": NaN}', "NaN is not a standard JSON number"),
    ('{"a": 1,\n "a": 2}', "the key 'a' appears twice in one object"),
    ('{1: 2}', "w, line 1: not valid JSON (Expecting property name enclosed in double quotes, column 2)"),
])
def test_json_is_parsed_within_its_bounds(text, message):
    with pytest.raises(SwsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_json(text, "w")


def test_json_at_the_bounds_is_read():
    deep = "[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH
    assert parse_json(deep, "w") is not None
    assert parse_json("9" * MAX_INT_DIGITS, "w") == int("9" * MAX_INT_DIGITS)
    assert parse_json("1.7e308", "w") == 1.7e308


def _laughs(levels: int) -> str:
    text = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n"
    for p, q in zip("abcdefghij", "bcdefghijk"[:levels]):
        text += f"{q}: &{q} [" + ", ".join(["*" + p] * 9) + "]\n"
    return text


def test_yaml_aliases_are_counted_before_anything_is_built():
    # 9 ** 5 = 59049 values: within the bound; 9 ** 6 = 531441: refused from the event stream.
    assert len(parse_yaml(_laughs(4), "s.yaml")["e"]) == 9
    with pytest.raises(SwsError, match=f"s.yaml, line 6: the document expands to more than {MAX_YAML_VALUES} values"):
        parse_yaml(_laughs(5), "s.yaml")


@pytest.mark.parametrize("text, message", [
    ("a: " + "[" * 100 + "]" * 100, "nested deeper than the 64 levels"),
    ("a:\n  b: " + "9" * 5001, "s.yaml, line 2: an integer of 5001 digits"),
    ("{1: 2}", "the document has a key that is int, not a string"),
    ("a: {[1]: 2}", "not valid YAML"),                      # an unhashable key
    ("a: .inf", "a = inf: not a finite number"),
    ("a: !!python/object/apply:os.system [echo]", "s.yaml, line 1: not valid YAML (could not determine a constructor"),
    ("a: 2020-13-45", "a YAML value cannot be read (ValueError: month must be in 1..12)"),
    ("a: [1, 2\nb: 3", "s.yaml, line 2: not valid YAML"),
    ("a: 1\n---\nb: 2", "not valid YAML"),
    ("a: " + "x" * 5000, "a value of 5000 characters"),
    ("a: &a [1, *a]", "s.yaml, line 1: an alias inside the value it names"),      # found by review: a hang
    ("a: &a {b: [*a]}", "an alias inside the value it names"),
])
def test_yaml_is_parsed_within_its_bounds(text, message):
    with pytest.raises(SwsError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_yaml(text, "s.yaml")


def test_yaml_booleans_and_numbers_keep_their_types():
    assert parse_yaml("a: no\nb: 'no'\nc: 3\nd: 2.5", "s.yaml") == {"a": False, "b": "no", "c": 3, "d": 2.5}


def test_inputs_are_recorded_by_device_and_inode_only_within_a_run(tmp_path):
    (tmp_path / "a").write_text("{}")
    read_json(str(tmp_path / "a"), what="spec")
    assert inputs_read() == {}                                     # outside a run: nothing kept
    with recording_inputs():
        read_json(str(tmp_path / "a"), what="spec")
        st = os.stat(tmp_path / "a")
        assert inputs_read() == {(st.st_dev, st.st_ino): str(tmp_path / "a")}
    assert inputs_read() == {}


def test_an_output_never_replaces_an_input_by_another_name(tmp_path):
    (tmp_path / "m.json").write_text("{}")
    os.link(tmp_path / "m.json", tmp_path / "hard.json")
    os.symlink(tmp_path / "m.json", tmp_path / "soft.json")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / ".sws-output").write_text("")
    os.link(tmp_path / "m.json", tmp_path / "out" / "kept.json")
    with recording_inputs():
        read_json(str(tmp_path / "m.json"), what="macro file")
        for name in ("hard.json", "soft.json"):
            with pytest.raises(SwsError, match="is the input"):
                check_output_file(str(tmp_path / name))
        with pytest.raises(SwsError, match=r"out: the output folder is or holds the input .*m.json"):
            check_output_dir(str(tmp_path / "out"))
        claim_dir(str(tmp_path / "out"))          # filled in place: nothing is deleted, so it may hold it
        with pytest.raises(SwsError, match="is the input"):
            write_atomic(str(tmp_path / "out" / "kept.json"), "x", within=str(tmp_path / "out"))
    assert (tmp_path / "m.json").read_text() == "{}"


@pytest.mark.parametrize("make, kind", [(os.mkfifo, "a FIFO"), (lambda p: os.mknod(p, stat.S_IFSOCK), "a socket")])
def test_an_output_never_replaces_a_special_file(tmp_path, make, kind):
    make(tmp_path / "o")
    with pytest.raises(SwsError, match=f"o: the output file is {kind}.*which sws never replaces"):
        write_atomic(str(tmp_path / "o"), "x")
    assert not stat.S_ISREG(os.lstat(tmp_path / "o").st_mode)
    assert sorted(os.listdir(tmp_path)) == ["o"]


def test_an_output_inside_a_folder_is_never_written_through_a_link(tmp_path):
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (elsewhere / "results.csv").write_text("mine")
    os.symlink(elsewhere / "results.csv", out / "results.csv")
    os.symlink(elsewhere, out / "cache")
    for path in (out / "results.csv", out / "cache" / "k.json"):
        with pytest.raises(SwsError, match="a symbolic link inside the output folder"):
            write_atomic(str(path), "new", within=str(out))
    with pytest.raises(SwsError, match="is not inside the output folder"):
        write_atomic(str(tmp_path / "x"), "new", within=str(out))
    assert (elsewhere / "results.csv").read_text() == "mine" and os.listdir(elsewhere) == ["results.csv"]


def test_text_outputs_write_names_that_are_not_utf8_as_escapes(tmp_path):
    name = os.fsdecode(b"w\xff.npy")
    write_text(str(tmp_path / "r.md"), f"source {name}\n")
    write_atomic(str(tmp_path / "r2.md"), f"source {name} \u00e9\n")
    assert (tmp_path / "r.md").read_bytes() == b"source w\\xff.npy\n"
    assert (tmp_path / "r2.md").read_text(encoding="utf-8") == "source w\\xff.npy \u00e9\n"
    assert json.loads(json.dumps(name)) == name          # JSON itself keeps such a name exactly
