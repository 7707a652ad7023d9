"""Outputs that appear whole or not at all, and never at the cost of a file the tool did not write.

- A folder output is built in a hidden temporary folder beside it and renamed into place. The folders the
  tool writes hold a marker file (MARKER); an existing folder is replaced only if it holds the marker or
  is empty, so `-o .` or `-o ~/project` is refused instead of emptied. An input of the run is never inside
  what is replaced, and the current folder is never replaced.
- A file output is written to a hidden temporary file beside it and renamed over it; it is never an input
  of the run, and never replaces anything but a regular file (a device, a FIFO or a socket is refused).
- "An input of the run" is compared by device and inode, not by name: the files named in `inputs`, and
  every file the run opened through mapper.common.reading (within its `recording_inputs` block, as
  every `sws` command runs), so a hard link, another spelling or a file read on the way (a macro file,
  a plan's ROM image) is caught as well as the named weights.
- A file written inside an output folder that is filled in place (`within`: an explore folder) is never
  written through a symbolic link: a link there, or on the way to it, is refused.
- The renames and the clean-up run with SIGINT and SIGTERM held, so an interrupted run leaves either the
  old output or the new one, and no temporary (sws/cli.py turns SIGTERM into an exception, so these
  context managers clean up). Temporaries of a killed run (SIGKILL, power loss) are named after its
  process id and removed by the next run that writes the same output.
- Two runs writing one output at once each finish whole: the last one to finish wins.
- An OSError (a full disk, a read-only folder) becomes an SwsError naming the path and the cause.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import signal
import stat
import tempfile
import threading

from .errors import SwsError
from .identity import held_input, input_ids
from .reading import file_kind
from .text import ESCAPE

__all__ = ["MARKER", "atomic_dir", "atomic_path", "write_atomic", "check_output_dir", "check_output_file",
           "claim_dir", "os_error"]

#: The file that marks a folder as written by sws, so that a later run may replace it.
MARKER = ".sws-output"
_MARKER_TEXT = ("This folder was written by sws (sws-crossbar). The next run with this folder as its output\n"
                "replaces it whole; a folder without this file is never replaced.\n")
_TMP = "sws-tmp"


def os_error(e: OSError, doing: str) -> SwsError:
    """An SwsError for an OSError met while `doing` something: the path and the system's reason."""
    reason = e.strerror or str(e)
    if e.errno == errno.ENOSPC:
        reason += " (free some space or choose another output)"
    if e.filename is None:
        return SwsError(f"{doing} failed: {reason}")
    return SwsError(f"{e.filename}: {doing} failed: {reason}")


@contextlib.contextmanager
def _signals_held():
    """SIGINT and SIGTERM wait while the body runs (renames and clean-up that must not stop half-way).

    Their Python handlers are swapped for one that only notes the signal, and the first noted signal is
    raised again once the previous handlers are back. (Blocking the signals with pthread_sigmask is not
    enough: it holds them in this thread only, and the kernel hands a signal to any thread that does not
    block it, such as a BLAS worker; Python then runs its handler in the main thread anyway.) Outside the
    main thread Python cannot change handlers, and the body runs unprotected.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def note(signum, frame):
        pending.append(signum)

    old = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            if signal.getsignal(sig) is not None:      # None: a handler not installed from Python
                old[sig] = signal.signal(sig, note)
        yield
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if pending:
            signal.raise_signal(pending[0])


def _inside(path: str, folder: str) -> bool:
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _resolve(path: str, what: str) -> str:
    """The absolute path to write; an existing symbolic link is followed, a dangling one refused."""
    if os.path.islink(path) and not os.path.exists(path):
        raise SwsError(f"{path}: the {what} is a symbolic link to {os.readlink(path)!r}, which does not exist")
    return os.path.realpath(path)


def _check_parent(path: str, what: str) -> None:
    parent = os.path.dirname(path)
    probe = parent
    while not os.path.exists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise SwsError(f"{path}: cannot make the {what} under {probe}, which is a file")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SwsError(f"{path}: cannot write the {what}: {probe} is not writable")


def check_output_dir(path: str, inputs=(), what: str = "output folder", *, replaced: bool = True) -> None:
    """An SwsError unless the folder `path` may be (re)placed by this run.

    It may if it does not exist, or is empty, or holds the MARKER of an earlier run; and it must neither be
    nor hold any input of the run (the named `inputs` and those opened through mapper.common.reading,
    compared by device and inode) and not the current folder. A folder filled in place (`replaced` False,
    claim_dir) deletes nothing, so only the inputs named by path are checked.
    """
    full = _resolve(path, what)
    if os.path.exists(full) and not os.path.isdir(full):
        mode = os.stat(full).st_mode
        raise SwsError(f"{path}: the {what} must be a folder, but {'a file' if stat.S_ISREG(mode) else file_kind(mode)} "
                       f"is there")
    _check_parent(full, what)
    for name in inputs:
        if name and os.path.exists(name) and _inside(name, full):
            raise SwsError(f"{path}: the {what} holds the input {name}, which replacing it would delete: "
                           f"choose another output folder")
    if _inside(os.getcwd(), full):
        raise SwsError(f"{path}: the {what} is (or holds) the current folder: choose a new folder, "
                       f"such as {os.path.join(path, 'out')}")
    if os.path.isdir(full):
        try:
            entries = os.listdir(full)
        except OSError as e:
            raise os_error(e, f"reading the {what}") from None
        if entries and MARKER not in entries:
            raise SwsError(f"{path}: the {what} already exists and holds files sws did not write "
                           f"(no {MARKER} marker), so it is not {'replaced' if replaced else 'written into'}: "
                           f"choose a new or empty folder")
        held = held_input(full, input_ids(inputs)) if replaced else None
        if held:
            raise SwsError(f"{path}: the {what} is or holds the input {held}, which replacing it would delete: "
                           f"choose another output folder")


def claim_dir(path: str, inputs=(), what: str = "output folder") -> None:
    """For a run that fills its output folder piece by piece (and resumes): check it as check_output_dir
    does, then make it (if need be) and mark it as written by sws, so that the next run may use it again."""
    check_output_dir(path, inputs, what, replaced=False)
    try:
        os.makedirs(path, exist_ok=True)
        marker = os.path.join(path, MARKER)
        if not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(_MARKER_TEXT)
    except OSError as e:
        raise os_error(e, f"making the {what}") from None


def check_output_file(path: str, inputs=(), what: str = "output file", *, within: str | None = None) -> None:
    """An SwsError unless `path` can be written as a regular file that is none of the run's inputs.

    An existing `path` must be a regular file (a device, a FIFO, a socket is never replaced) and none of
    `inputs` or of the inputs the run opened, by device and inode. With `within` (an output folder filled
    in place), `path` must lie inside it with no symbolic link on the way or at `path` itself.
    """
    if within is not None:
        _check_within(path, within, what)
        full = os.path.abspath(path)
    else:
        full = _resolve(path, what)
    if os.path.isdir(full):
        raise SwsError(f"{path}: the {what} must be a file, but a folder is there")
    if os.path.lexists(full):
        st = os.stat(full)
        if not stat.S_ISREG(st.st_mode):
            raise SwsError(f"{path}: the {what} is {file_kind(st.st_mode)}, which sws never replaces: "
                           f"an output is a regular file")
        held = input_ids(inputs).get((st.st_dev, st.st_ino))
        if held:
            raise SwsError(f"{path}: the {what} is the input {held}; writing it would destroy it")
    _check_parent(full, what)
    for name in inputs:
        if name and os.path.exists(name) and os.path.realpath(name) == full:
            raise SwsError(f"{path}: the {what} is the input {name}; writing it would destroy it")


def _check_within(path: str, folder: str, what: str) -> None:
    """`path` inside `folder`, reached without a symbolic link (the folder itself may be one)."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(folder))
    if rel == os.curdir or rel.startswith(os.pardir):
        raise SwsError(f"{path}: the {what} is not inside the output folder {folder}")
    at = folder
    for part in rel.split(os.sep):
        at = os.path.join(at, part)
        if os.path.islink(at):
            raise SwsError(f"{at}: a symbolic link inside the output folder {folder}: sws writes its outputs "
                           f"there itself and never through a link (remove it)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _remove_stale(parent: str, base: str) -> None:
    """Remove temporaries beside `base` left by runs that were killed (their process no longer exists)."""
    pattern = re.compile(rf"^\.{re.escape(base)}\.{_TMP}-(\d+)-")
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        m = pattern.match(name)
        if m and int(m.group(1)) != os.getpid() and not _pid_alive(int(m.group(1))):
            full = os.path.join(parent, name)
            if os.path.isdir(full) and not os.path.islink(full):
                shutil.rmtree(full, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(full)


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _prefix(path: str) -> str:
    return f".{os.path.basename(path)}.{_TMP}-{os.getpid()}-"


@contextlib.contextmanager
def atomic_dir(path: str, *, inputs=()):
    """Yield a fresh temporary folder beside `path`; on success it replaces `path`, on failure it vanishes.

    Parameters
    ----------
    path : str
        The output folder. If it exists it must be empty or hold MARKER (check_output_dir).
    inputs : iterable of str
        Files the run reads, which must not be inside `path`.

    Raises
    ------
    SwsError
        For a folder that may not be replaced, or an OSError (full disk, no permission) while writing.
    """
    shown = path
    check_output_dir(path, inputs)
    path = _resolve(path, "output folder")
    parent = os.path.dirname(path)
    tmp = None
    try:
        # Signals wait until `tmp` is known, so an interrupt in the moment the folder appears cleans it up.
        with _signals_held():
            try:
                os.makedirs(parent, exist_ok=True)
                _remove_stale(parent, os.path.basename(path))
                tmp = tempfile.mkdtemp(prefix=_prefix(path), dir=parent)
                os.chmod(tmp, 0o777 & ~_umask())   # mkdtemp makes 0700; the result is an ordinary folder
            except OSError as e:
                raise os_error(e, f"making the output folder {shown}") from None
        try:
            with open(os.path.join(tmp, MARKER), "w") as f:
                f.write(_MARKER_TEXT)
            yield tmp
        except OSError as e:
            raise os_error(e, f"writing the output folder {shown}") from None
        with _signals_held():
            _commit_dir(tmp, path, shown)
    except BaseException:
        if tmp is not None:
            with _signals_held():
                shutil.rmtree(tmp, ignore_errors=True)
        raise


def _commit_dir(tmp: str, path: str, shown: str) -> None:
    """Rename `tmp` to `path`, moving a marked (or empty) folder there aside first, and delete that one.

    A concurrent writer may put its own result at `path` between our two renames: then we move that one
    aside too and try again, so each writer's rename is whole and the last one wins."""
    parent = os.path.dirname(path)
    old = None
    try:
        for _ in range(100):
            try:
                os.rename(tmp, path)    # succeeds if `path` is absent or an empty folder
                return
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    raise os_error(e, f"renaming the output into {shown}") from None
            check_output_dir(path, what="output folder")   # another writer's result: marked, or refused
            if old is None:
                old = tempfile.mkdtemp(prefix=_prefix(path), dir=parent)
            try:
                os.rename(path, os.path.join(old, f"old{len(os.listdir(old))}"))
            except FileNotFoundError:
                pass                    # another writer moved it first
        raise SwsError(f"{shown}: other runs kept replacing this output folder; try again")
    finally:
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def atomic_path(path: str, *, inputs=(), within: str | None = None):
    """Yield a temporary file name beside `path`; on success the file is renamed over `path`, on failure
    it is removed. For writers that take a file name (a waveform, np.save). `inputs` and `within` as in
    `check_output_file`, which is checked again just before the rename (inputs read meanwhile count)."""
    shown = path
    check_output_file(path, inputs, within=within)
    path = os.path.abspath(path) if within is not None else _resolve(path, "output file")
    parent = os.path.dirname(path)
    tmp = None
    try:
        with _signals_held():       # as in atomic_dir: an interrupt waits until `tmp` is known
            try:
                os.makedirs(parent, exist_ok=True)
                _remove_stale(parent, os.path.basename(path))
                fd, tmp = tempfile.mkstemp(prefix=_prefix(path), dir=parent)
                os.close(fd)
                os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; the result is an ordinary file
            except OSError as e:
                raise os_error(e, f"making the output file {shown}") from None
        try:
            yield tmp
        except OSError as e:
            raise os_error(e, f"writing the output file {shown}") from None
        check_output_file(shown, inputs, within=within)
        with _signals_held():
            try:
                os.replace(tmp, path)
            except OSError as e:
                raise os_error(e, f"renaming the output into {shown}") from None
    finally:
        with _signals_held():
            if tmp is not None and os.path.lexists(tmp):
                os.unlink(tmp)


def write_atomic(path: str, content, *, binary: bool = False, inputs=(), within: str | None = None) -> None:
    """Write a file whole or not at all. `content` is text (bytes with `binary`) or a function of the
    open file that writes it; `inputs` are files of the run that `path` must not be; `within` as in
    `check_output_file`. Text is UTF-8; a character it cannot hold (a file name that is not UTF-8) is
    written as a backslash escape."""
    with atomic_path(path, inputs=inputs, within=within) as tmp:
        with (open(tmp, "wb") if binary else open(tmp, "w", encoding="utf-8", errors=ESCAPE)) as f:
            if callable(content):
                content(f)
            else:
                f.write(content)
