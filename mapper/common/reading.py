"""Every file the product reads, read the one way: only what was asked for, only as much as it may hold.

- `open_input` opens a regular file only: a FIFO, a device, a socket or a folder is refused before a byte is
  read (opened with O_NONBLOCK, so a FIFO without a writer cannot hang the run, then checked with fstat on
  the open descriptor). A file of a folder (`folder=`: a plan's manifest and ROM images) must resolve
  inside that folder, and is opened component by component below it with O_NOFOLLOW (openat), so a
  symbolic link out of the folder is refused, not followed, whenever it appears.
- Its size is known before reading (fstat) and bounded by the caller's `limit`; reads stop one byte past
  the limit, so a file that grows while it is read is refused too.
- `parse_json` and `parse_yaml` bound what the parser builds: nesting depth, integer digits (before
  Python's own int_max_str_digits), non-finite numbers, duplicate or non-string keys, and YAML aliases
  (their expansion is counted from the event stream before any object is built: the "billion laughs").
- Every failure is one SwsError naming the file, the line or field, and the rule. No message echoes the
  file's text: a line number and the rule, never the line.
- Within `recording_inputs()` (the `sws` command wraps each run in it) every file opened here is
  recorded by device and inode, so that an output can refuse to replace any input of the run, whatever
  name reaches it (mapper.common.outputs).
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat

from .errors import SwsError
from .identity import note_input

__all__ = ["open_input", "read_bytes", "read_text", "read_json", "parse_json", "parse_yaml", "file_kind", "size_text",
           "MAX_JSON_DEPTH", "MAX_INT_DIGITS", "MAX_TEXT_BYTES", "MAX_YAML_VALUES", "MAX_SCALAR_CHARS"]

#: Deepest nesting of objects and lists a JSON or YAML input may have (plans and specs need 5).
MAX_JSON_DEPTH = 64
#: Most digits of an integer in a JSON or YAML input (the largest plan field, 2**31, has 10).
MAX_INT_DIGITS = 30
#: Largest text input (a spec, a macro or calibration file) in bytes.
MAX_TEXT_BYTES = 16 * 2 ** 20
#: Most values a YAML document may hold once its aliases are expanded.
MAX_YAML_VALUES = 100_000
#: Longest YAML scalar, in characters.
MAX_SCALAR_CHARS = 4096


def file_kind(mode: int) -> str:
    """What a file of this st_mode is, for messages: "a regular file", "a FIFO (named pipe)", ..."""
    for test, name in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                       (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def size_text(n: int) -> str:
    """A byte count for messages: 1.5 GB, 16 MB, 300 bytes."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY


def _open_beneath(path: str, folder: str, what: str) -> int:
    """A descriptor of `path`, which must resolve inside `folder`, opened below it without following links."""
    real_folder = os.path.realpath(folder)
    real = os.path.realpath(path)
    if not _inside(real, real_folder) or real == real_folder:
        how = "a symbolic link out of" if real != os.path.abspath(path) else "outside"
        raise SwsError(f"{path}: the {what} is {how} {folder} (to {real}): a {what} must be a file of {folder} "
                       f"itself")
    parts = os.path.relpath(real, real_folder).split(os.sep)
    dfd = os.open(real_folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for part in parts[:-1]:
            nfd = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dfd)
            os.close(dfd)
            dfd = nfd
        return os.open(parts[-1], _FLAGS | os.O_NOFOLLOW, dir_fd=dfd)
    finally:
        os.close(dfd)


def open_input(path: str, *, what: str, limit: int | None, folder: str | None = None):
    """The open binary file `path`, checked to be a regular file of at most `limit` bytes.

    Parameters
    ----------
    path : str
        The file, as the user (or the manifest naming it) gave it.
    what : str
        What the file is, for the messages ("weights", "plan manifest", "ROM image").
    limit : int or None
        Largest size in bytes (None: no bound, for callers that bound the content themselves).
    folder : str, optional
        The folder the file belongs to: it must resolve inside it and is opened without following links.

    Raises
    ------
    SwsError
        For a missing or unreadable file, anything that is not a regular file, a link out of `folder`,
        or a file larger than `limit`.
    """
    try:
        fd = _open_beneath(path, folder, what) if folder is not None else os.open(path, _FLAGS)
    except SwsError:
        raise
    except OSError as e:
        if e.errno == errno.ENXIO:
            raise SwsError(f"{path}: the {what} is a socket, not a regular file") from None
        if e.errno in (errno.ELOOP, errno.ENOTDIR) and folder is not None:   # a link appeared after realpath
            raise SwsError(f"{path}: the {what} cannot be opened inside {folder} without following a symbolic "
                           f"link") from None
        raise SwsError(f"{path}: cannot read the {what} ({e.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise SwsError(f"{path}: the {what} is {file_kind(st.st_mode)}, not a regular file")
        if limit is not None and st.st_size > limit:
            raise SwsError(f"{path}: the {what} is {size_text(st.st_size)}, more than the {size_text(limit)} "
                           f"a {what} may have")
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    note_input(path, st)
    return os.fdopen(fd, "rb")


def read_bytes(path: str, *, what: str, limit: int, folder: str | None = None) -> bytes:
    """The whole content of a regular file of at most `limit` bytes (see `open_input`)."""
    with open_input(path, what=what, limit=limit, folder=folder) as f:
        try:
            data = f.read(limit + 1)
        except OSError as e:
            raise SwsError(f"{path}: cannot read the {what} ({e.strerror})") from None
    if len(data) > limit:
        raise SwsError(f"{path}: the {what} grew past the {size_text(limit)} a {what} may have while it was read")
    return data


def _line_of(text, pos: int) -> int:
    return text[:pos].count("\n" if isinstance(text, str) else b"\n") + 1


def read_text(path: str, *, what: str, limit: int = MAX_TEXT_BYTES, folder: str | None = None) -> str:
    """A UTF-8 text file (see `read_bytes`); a byte that is not UTF-8 is refused naming its line."""
    data = read_bytes(path, what=what, limit=limit, folder=folder)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SwsError(f"{path}, line {_line_of(data, e.start)}: not UTF-8 text: a {what} is text") from None


class _Refused(Exception):
    def __init__(self, token: str, rule: str):
        super().__init__(rule)
        self.token, self.rule = token, rule


def _int(s: str) -> int:
    if len(s.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(s, f"an integer of {len(s.lstrip('-'))} digits: a number may have at most "
                          f"{MAX_INT_DIGITS}")
    return int(s)


def _float(s: str) -> float:
    v = float(s)
    if not math.isfinite(v):
        raise _Refused(s, "a number beyond the range of a float (about 1.8e308): not a finite number")
    return v


def _constant(s: str):
    raise _Refused(s, f"{s} is not a standard JSON number")


def _object(pairs):
    out = {}
    for k, v in pairs:
        if k in out:
            raise _Refused(json.dumps(k), f"the key {k[:40]!r} appears twice in one object")
        out[k] = v
    return out


def _depth(obj) -> int:
    deepest, stack = 0, [(obj, 1)]
    while stack:
        o, d = stack.pop()
        if isinstance(o, dict):
            o = list(o.values())
        if isinstance(o, list):
            deepest = max(deepest, d)
            if d <= MAX_JSON_DEPTH:
                stack.extend((x, d + 1) for x in o)
    return deepest


def parse_json(text: str, where: str):
    """The value of a JSON text, or an SwsError naming `where`, the line and the rule: JSON only (no NaN or
    Infinity, no number beyond a float), at most MAX_JSON_DEPTH levels, integers of at most MAX_INT_DIGITS
    digits, no key twice in one object."""
    try:
        obj = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant,
                         object_pairs_hook=_object)
    except json.JSONDecodeError as e:
        raise SwsError(f"{where}, line {e.lineno}: not valid JSON ({e.msg}, column {e.colno})") from None
    except _Refused as e:
        at = text.find(e.token)
        line = f", line {_line_of(text, at)}" if at >= 0 else ""
        raise SwsError(f"{where}{line}: {e.rule}") from None
    except RecursionError:
        raise SwsError(f"{where}: nested deeper than the {MAX_JSON_DEPTH} levels a JSON input may have") from None
    if _depth(obj) > MAX_JSON_DEPTH:
        raise SwsError(f"{where}: nested deeper than the {MAX_JSON_DEPTH} levels a JSON input may have")
    return obj


def read_json(path: str, *, what: str, limit: int = MAX_TEXT_BYTES, folder: str | None = None):
    """`parse_json` of a UTF-8 file read by `read_text`."""
    return parse_json(read_text(path, what=what, limit=limit, folder=folder), path)


_NUMBER = re.compile(r"[-+]?[0-9_]+")


def _yaml_problem(e) -> str:
    # A problem names a rule; a quoted piece of the input is left out, as is the snippet YAML shows.
    text = getattr(e, "problem", None) or getattr(e, "context", None) or str(e) or type(e).__name__
    return re.sub(r"'[^']*'", "...", " ".join(str(text).split()))[:120]


def _yaml_events(yaml, text: str, where: str) -> None:
    """Walk the event stream, refusing deep nesting, long scalars, long integers and alias expansion past
    MAX_YAML_VALUES before the composer builds anything."""
    stack: list[list] = [[None, 0]]
    anchors: dict[str, int] = {}

    def fail(event, rule):
        raise SwsError(f"{where}, line {event.start_mark.line + 1}: {rule}")

    def add(event, size):
        stack[-1][1] += size
        if stack[-1][1] > MAX_YAML_VALUES or sum(s for _, s in stack) > MAX_YAML_VALUES:
            fail(event, f"the document expands to more than {MAX_YAML_VALUES} values (aliases of aliases "
                        f"repeat their anchors)")

    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            if len(stack) > MAX_JSON_DEPTH:
                fail(event, f"nested deeper than the {MAX_JSON_DEPTH} levels an input may have")
            stack.append([event.anchor, 1])
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            anchor, size = stack.pop()
            if anchor is not None:
                anchors[anchor] = size
            add(event, size)
        elif isinstance(event, yaml.ScalarEvent):
            digits = len(event.value.lstrip("+-").replace("_", ""))
            if event.style is None and _NUMBER.fullmatch(event.value) and digits > MAX_INT_DIGITS:
                fail(event, f"an integer of {digits} digits: a number may have at most {MAX_INT_DIGITS}")
            if len(event.value) > MAX_SCALAR_CHARS:
                fail(event, f"a value of {len(event.value)} characters: a value may have at most "
                            f"{MAX_SCALAR_CHARS}")
            if event.anchor is not None:
                anchors[event.anchor] = 1
            add(event, 1)
        elif isinstance(event, yaml.AliasEvent):
            if any(anchor == event.anchor for anchor, _ in stack):
                fail(event, "an alias inside the value it names (a structure that contains itself)")
            add(event, anchors.get(event.anchor, 1))


def _check_values(obj, where: str) -> None:
    stack = [(obj, "")]
    while stack:
        o, at = stack.pop()
        if isinstance(o, dict):
            for k, v in o.items():
                if not isinstance(k, str):
                    raise SwsError(f"{where}: {at or 'the document'} has a key that is {type(k).__name__}, not a "
                                   f"string: every key is a name")
                stack.append((v, f"{at}.{k}" if at else k))
        elif isinstance(o, list):
            stack.extend((v, f"{at}[{i}]") for i, v in enumerate(o))
        elif isinstance(o, float) and not math.isfinite(o):
            raise SwsError(f"{where}: {at or 'the document'} = {o}: not a finite number")


def parse_yaml(text: str, where: str):
    """The value of a YAML text (PyYAML's safe loader; the caller imports yaml first to name its extra),
    within the bounds of `_yaml_events`; keys must be strings and numbers finite. SwsError naming `where`,
    the line and the rule."""
    import yaml
    try:
        _yaml_events(yaml, text, where)
        obj = yaml.load(text, Loader=yaml.SafeLoader)
    except SwsError:
        raise
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f", line {mark.line + 1}" if mark is not None else ""
        raise SwsError(f"{where}{line}: not valid YAML ({_yaml_problem(e)})") from None
    except yaml.YAMLError as e:
        raise SwsError(f"{where}: not valid YAML ({_yaml_problem(e)})") from None
    except (ValueError, OverflowError, TypeError) as e:    # a timestamp or number the constructors refuse
        raise SwsError(f"{where}: a YAML value cannot be read ({type(e).__name__}: {_yaml_problem(e)})") from None
    except RecursionError:
        raise SwsError(f"{where}: nested deeper than the {MAX_JSON_DEPTH} levels an input may have") from None
    _check_values(obj, where)
    return obj
