"""The ``expo`` command line: one subcommand per pipeline step (see ``expo.commands``)."""

from __future__ import annotations

import argparse
import logging
import sys

from expo import __version__
from expo.commands import discover
from expo.errors import ExpoError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="expo",
        description="ExPO pipeline: extrapolate aligned LLMs and evaluate them.",
    )
    parser.add_argument("--version", action="version", version=f"expo {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in discover().items():
        sp = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(sp)
        sp.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        rc = args._run(args)
    except ExpoError as exc:
        # One line, naming the culprit; no traceback for user errors.
        print(f"expo {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"expo {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(rc or 0)


if __name__ == "__main__":
    sys.exit(main())
