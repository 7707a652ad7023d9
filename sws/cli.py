"""The `sws` command: one subcommand per job, each a thin layer over a library call."""

from __future__ import annotations

import argparse
import importlib
import sys

from mapper.errors import SwsError

#: Subcommand modules under sws.commands, in the order `sws --help` lists them.
COMMANDS = ("flow", "map", "rtl", "sim", "synth", "sweep", "fidelity", "input-aware")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sws", description="Sorted weight sectioning crossbar generator.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"sws.commands.{name.replace('-', '_')}")
        p = module.add_parser(sub)
        p.set_defaults(run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args) or 0
    except SwsError as e:
        print(f"sws: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sws: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
