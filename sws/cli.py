"""The `sws` command: one subcommand per job, each a thin layer over a library call.

The error contract (docs/guide/errors.md): exit 0 on success; 1 only when a simulation differs from the
golden model; 2 for any bad input, option, file or environment (one line on stderr, no traceback, no
half-written output); 130 on SIGINT and 143 on SIGTERM, after the outputs in progress are cleaned up.

A signal during start-up (the imports of numpy, Amaranth and the project, before any output exists) ends
the process at once with the same one line and code: the handlers are installed before those imports when
this module is the program (`sws`, `python -m sws`, `python -m sws.cli`), not when a library imports it.
"""

from __future__ import annotations

import os
import sys

from ._startup import install as _install_start_up_handlers


def _is_the_program() -> bool:
    argv0 = sys.argv[0] if sys.argv else ""
    return __name__ == "__main__" or os.path.basename(argv0) == "sws" or \
        argv0.endswith(os.path.join("sws", "__main__.py"))


if _is_the_program():
    _install_start_up_handlers()

import signal  # noqa: E402

import argparse  # noqa: E402  (after the start-up handlers: an interrupt during the imports is one line)
import importlib  # noqa: E402
import warnings  # noqa: E402

from mapper.common import ESCAPE, SwsError, os_error, recording_inputs  # noqa: E402

#: Subcommand modules under sws.commands, in the order `sws --help` lists them.
COMMANDS = ("flow", "map", "rtl", "sim", "synth", "laws", "sweep", "fidelity", "prune", "explore", "input-aware")


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt, so that outputs in progress clean up."""


def _terminate(signum, frame):
    raise Terminated()


class Parser(argparse.ArgumentParser):
    """argparse, with a bad option answered in one line (and exit 2) like every other bad input."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {_one_line(message)} (see {self.prog} --help)\n")


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The parser of every subcommand, or, when `argv` names one, of that one only: each command module
    imports its own libraries (Amaranth for the RTL commands), so `sws map` need not load them."""
    parser = Parser(prog="sws", description="Sorted weight sectioning crossbar generator.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    names = [argv[0]] if argv and argv[0] in COMMANDS else COMMANDS
    for name in names:
        module = importlib.import_module(f"sws.commands.{name.replace('-', '_')}")
        p = module.add_parser(sub)
        p.add_argument("-q", "--quiet", action="store_true",
                       help="print the result only: no progress bar and no status lines")
        p.set_defaults(run=module.run)
    return parser


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _printable_streams() -> None:
    """A result or message naming a file whose name is not UTF-8 is printed with \\xNN escapes
    (mapper.common.ESCAPE), not refused."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors=ESCAPE)
        except (AttributeError, ValueError, OSError):
            pass


def main(argv: list[str] | None = None) -> int:
    previous = {}
    try:
        for sig, handler in ((signal.SIGTERM, _terminate), (signal.SIGINT, signal.default_int_handler)):
            if signal.getsignal(sig) is not signal.SIG_IGN:     # an ignored signal stays ignored
                previous[sig] = signal.signal(sig, handler)
    except ValueError:          # not the main thread (a library caller's worker): leave signals alone
        pass
    try:
        _printable_streams()
        argv = sys.argv[1:] if argv is None else list(argv)
        args = build_parser(argv).parse_args(argv)
        with warnings.catch_warnings(), recording_inputs():
            # numpy's overflow warnings would break the one-line contract; a result that overflowed is
            # refused where it is written (mapper.common.dumps_json) or checked (the golden model).
            warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero) encountered",
                                    RuntimeWarning)
            return args.run(args) or 0
    except SwsError as e:
        print(f"sws: error: {_one_line(e)}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"sws: error: {_one_line(os_error(e, 'reading or writing a file'))}", file=sys.stderr)
        return 2
    except MemoryError:
        print("sws: error: out of memory: the input is too large for this machine (try a smaller layer or "
              "array)", file=sys.stderr)
        return 2
    except UnicodeError as e:
        print(f"sws: error: {_one_line(f'a file is not text in the expected encoding ({e.reason})')}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sws: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("sws: terminated", file=sys.stderr)
        return 143
    finally:
        for sig, handler in previous.items():
            if handler is not None:
                signal.signal(sig, handler)


if __name__ == "__main__":
    sys.exit(main())
