"""Outputs whole or not at all, and never at the cost of a file the tool did not write."""

import errno
import json
import os
import subprocess
import sys
import tempfile

import pytest

from mapper.common import SwsError
from mapper.common import MARKER, atomic_dir, atomic_path, dumps_json, write_atomic


def _write_into(path, name="a.txt", text="new"):
    with atomic_dir(str(path)) as tmp:
        with open(os.path.join(tmp, name), "w") as f:
            f.write(text)


def _hidden(folder):
    return sorted(p for p in os.listdir(folder) if p.startswith("."))


def test_a_new_output_folder_is_marked_and_an_ordinary_folder(tmp_path):
    _write_into(tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == sorted([MARKER, "a.txt"])
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o777 & ~umask
    assert _hidden(tmp_path) == []


def test_a_marked_folder_is_replaced_whole(tmp_path):
    _write_into(tmp_path / "out", "old.txt")
    _write_into(tmp_path / "out", "new.txt")
    assert sorted(os.listdir(tmp_path / "out")) == sorted([MARKER, "new.txt"])
    assert _hidden(tmp_path) == []


def test_an_empty_folder_is_used(tmp_path):
    (tmp_path / "out").mkdir()
    _write_into(tmp_path / "out")
    assert (tmp_path / "out" / "a.txt").read_text() == "new"


def test_a_folder_of_the_users_files_is_refused_and_kept(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "thesis.tex").write_text("mine")
    with pytest.raises(SwsError, match=r"out: the output folder already exists and holds files sws did not write"):
        _write_into(tmp_path / "out")
    assert os.listdir(tmp_path / "out") == ["thesis.tex"]
    assert _hidden(tmp_path) == []


def test_an_input_inside_the_output_is_refused_even_in_a_marked_folder(tmp_path):
    _write_into(tmp_path / "out", "w.npy")
    with pytest.raises(SwsError, match="holds the input"):
        with atomic_dir(str(tmp_path / "out"), inputs=[str(tmp_path / "out" / "w.npy")]):
            pass
    assert (tmp_path / "out" / "w.npy").read_text() == "new"


def test_a_failure_keeps_the_earlier_output_and_leaves_no_temporary(tmp_path):
    _write_into(tmp_path / "out", text="old")
    with pytest.raises(RuntimeError):
        with atomic_dir(str(tmp_path / "out")) as tmp:
            with open(os.path.join(tmp, "a.txt"), "w") as f:
                f.write("half")
            raise RuntimeError("stop")
    assert (tmp_path / "out" / "a.txt").read_text() == "old"
    assert _hidden(tmp_path) == []


def test_a_full_disk_is_one_clear_error_and_no_debris(tmp_path):
    _write_into(tmp_path / "out", text="old")
    with pytest.raises(SwsError, match=r"No space left on device \(free some space"):
        with atomic_dir(str(tmp_path / "out")) as tmp:
            with open(os.path.join(tmp, "a.txt"), "w") as f:
                f.write("half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.path.join(tmp, "a.txt"))
    assert (tmp_path / "out" / "a.txt").read_text() == "old"
    assert _hidden(tmp_path) == []


def test_a_full_disk_while_writing_a_file_keeps_the_old_file(tmp_path):
    (tmp_path / "y.txt").write_text("old")

    def half_then_full(f):
        f.write("half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    with pytest.raises(SwsError, match="writing the output file .*y.txt failed: No space left on device"):
        write_atomic(str(tmp_path / "y.txt"), half_then_full)
    assert (tmp_path / "y.txt").read_text() == "old"
    assert _hidden(tmp_path) == []


def test_a_folder_that_cannot_be_made_is_one_clear_error(tmp_path, monkeypatch):
    def refuse(*a, **k):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(tmp_path))

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    with pytest.raises(SwsError, match="making the output folder .* failed: Permission denied"):
        _write_into(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_file_output_is_never_an_input(tmp_path):
    (tmp_path / "x.npy").write_text("inputs")
    with pytest.raises(SwsError, match="is the input"):
        write_atomic(str(tmp_path / "x.npy"), "outputs", inputs=[str(tmp_path / "x.npy")])
    assert (tmp_path / "x.npy").read_text() == "inputs"


def test_a_file_output_through_a_link_writes_the_links_target(tmp_path):
    (tmp_path / "real.v").write_text("old")
    os.symlink(tmp_path / "real.v", tmp_path / "link.v")
    write_atomic(str(tmp_path / "link.v"), "new")
    assert os.path.islink(tmp_path / "link.v") and (tmp_path / "real.v").read_text() == "new"


def test_temporaries_of_a_killed_run_are_removed_and_a_live_runs_kept(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".out.sws-tmp-{dead}-abc"
    live = tmp_path / f".out.sws-tmp-{os.getppid()}-abc"
    stale.mkdir()
    live.mkdir()
    _write_into(tmp_path / "out")
    assert not stale.exists() and live.exists()


def test_json_is_standard_or_refused_naming_the_value():
    assert json.loads(dumps_json({"a": [1.5]})) == {"a": [1.5]}
    with pytest.raises(SwsError, match=r"\$.layers\[1\].energy_pj = inf"):
        dumps_json({"layers": [{"energy_pj": 1.0}, {"energy_pj": float("inf")}]})
    with pytest.raises(SwsError, match=r"\$.x = nan"):
        dumps_json({"x": float("nan")})


def test_atomic_path_removes_its_temporary_on_failure(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(str(tmp_path / "w.vcd")) as tmp:
            open(tmp, "w").write("half")
            raise ValueError("stop")
    assert os.listdir(tmp_path) == []


def test_a_claimed_folder_is_marked_and_can_be_claimed_again_but_not_a_foreign_one(tmp_path):
    from mapper.common import MARKER, claim_dir
    claim_dir(str(tmp_path / "o"))
    assert (tmp_path / "o" / MARKER).is_file()
    (tmp_path / "o" / "part.json").write_text("{}")
    claim_dir(str(tmp_path / "o"))                 # ours: resumed, nothing removed
    assert (tmp_path / "o" / "part.json").exists()
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(SwsError, match="holds files sws did not write"):
        claim_dir(str(tmp_path / "mine"))
    assert not (tmp_path / "mine" / MARKER).exists()


def test_signals_held_wait_for_the_end_of_the_body():
    """A SIGINT sent during a held section raises KeyboardInterrupt only after the body has finished,
    also when it is sent from another thread (the kernel may hand it to any thread)."""
    import signal
    import threading

    from mapper.common.outputs import _signals_held

    # The state this test starts from, whatever the test process inherited or an earlier test left: Python's
    # default SIGINT handler, SIGINT not blocked in this thread (pytest started from a background shell
    # inherits SIGINT ignored, and then saw no KeyboardInterrupt; the state found is kept for the message).
    found = (signal.getsignal(signal.SIGINT), signal.pthread_sigmask(signal.SIG_BLOCK, []))
    old_handler = signal.signal(signal.SIGINT, signal.default_int_handler)
    old_mask = signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    steps = []
    try:
        raised = False
        try:
            with _signals_held():
                t = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
                t.start()
                t.join()
                for _ in range(1000):       # give the interpreter many chances to run a pending handler
                    steps.append(1)
                steps.append("done")
        except KeyboardInterrupt:
            raised = True
        assert raised, f"no KeyboardInterrupt (SIGINT's handler and this thread's mask at the start: {found})"
        assert steps[-1] == "done" and len(steps) == 1001, found
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler, found
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old_mask)
        signal.signal(signal.SIGINT, old_handler)
