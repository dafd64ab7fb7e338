"""The ``chainrule`` command: one subcommand per verb, each in a module of this package that
defines ``add_parser(subparsers)`` and ``run(args) -> int``.

Errors a user can fix (a wrong argument, a missing or corrupt file, a diverging run) end with a
one-line message and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from .. import __version__

VERBS = ["example", "experiment", "train", "eval", "predict", "draw"]


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: what was wrong and where to read more, without the usage
    block (20 lines for ``train``) that would bury it. The verbs' subparsers are of this class too."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="chainrule",
        description="Neural networks from the chain rule up: train and evaluate digit recognisers, "
        "draw digits and watch the network think, run the seed examples and the experiments.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for verb in VERBS:
        importlib.import_module(f".{verb}", __name__).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.verb is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except BrokenPipeError:  # the reader went away (e.g. `chainrule eval | head`): not an error
        sys.stderr.close()
        return 0
    except (ValueError, FileNotFoundError, FloatingPointError, OSError) as err:
        print(f"chainrule {args.verb}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"chainrule {args.verb}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
