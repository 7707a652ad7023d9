"""Progress as the command line shows it: one bar on a terminal, nothing otherwise or with --quiet."""

from __future__ import annotations

import io
import fcntl
import os
import pty
import struct
import termios
import subprocess
import sys

import numpy as np

from sws.cli import main
from sws.progress import Progress

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def _work(progress, n):
    with progress:
        for i in range(n):
            progress(i, n, f"layer {i}")
        progress(n, n, "done")


def test_a_terminal_gets_one_bar_redrawn_in_place_with_the_count():
    term = _Terminal()
    _work(Progress(desc="map", stream=term), 907)
    text = term.getvalue()
    assert "map" in text and "/907" in text
    assert "\n" not in text                      # one line, redrawn with carriage returns, then cleared
    assert text.count("\r") >= 2


def test_nothing_is_drawn_off_a_terminal_with_quiet_or_for_one_item():
    for progress in (Progress(stream=io.StringIO()), Progress(quiet=True, stream=_Terminal())):
        _work(progress, 5)
        assert progress.stream.getvalue() == ""
    single = Progress(stream=_Terminal())
    _work(single, 1)
    assert single.stream.getvalue() == ""


def _npz(tmp_path, layers: int) -> str:
    rng = np.random.default_rng(0)
    path = tmp_path / "many.npz"
    np.savez(path, **{f"w{i:03d}": rng.integers(-9, 10, (8, 4)) for i in range(layers)})
    return str(path)


def test_map_of_many_layers_prints_no_progress_lines_when_stderr_is_not_a_terminal(tmp_path, capsys):
    assert main(["map", _npz(tmp_path, 40), "--rows", "8", "--cols", "28", "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert err == ""


def test_quiet_is_accepted_by_every_command():
    from sws.cli import COMMANDS, build_parser
    for name in COMMANDS:
        parser = build_parser([name])
        action = {a.dest for sub in parser._subparsers._group_actions for p in sub.choices.values()
                  for a in p._actions}
        assert "quiet" in action, name


def test_map_on_a_terminal_draws_one_bar_not_a_line_per_layer(tmp_path):
    # A pseudo-terminal as stderr: the bar is redrawn with carriage returns, so 40 layers give no 40 lines.
    weights = _npz(tmp_path, 40)
    main_fd, child_fd = pty.openpty()
    fcntl.ioctl(child_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))   # a 100-column terminal
    env = {**os.environ, "PYTHONPATH": ROOT}
    proc = subprocess.run([sys.executable, "-m", "sws", "map", weights, "--rows", "8", "--cols", "28",
                           "-o", str(tmp_path / "out")], stdout=subprocess.PIPE, stderr=child_fd, env=env,
                          timeout=120)
    os.close(child_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(main_fd)
    err = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 0
    assert "map" in err and "/40" in err
    assert err.count("\n") <= 1 and "[1/40]" not in err
