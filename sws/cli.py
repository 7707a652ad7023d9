"""The `sws` command: one subcommand per job, each a thin layer over a library call.

The error contract (README "Errors and exit codes"): exit 0 on success; 1 only when a simulation differs
from the golden model; 2 for any bad input, option, file or environment (one line on stderr, no traceback,
no half-written output); 130 on SIGINT and 143 on SIGTERM, after the outputs in progress are cleaned up.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import warnings

from mapper.common import SwsError
from mapper.common import os_error

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


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    previous = None
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:          # not the main thread (a library caller's worker): leave signals alone
        pass
    try:
        with warnings.catch_warnings():
            # numpy's overflow warnings would break the one-line contract; a result that overflowed is
            # refused where it is written (mapper.common.outputs.dumps_json) or checked (the golden model).
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
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
