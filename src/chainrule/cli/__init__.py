"""The ``chainrule`` command: one subcommand per verb, each in a module of this package that
defines ``add_parser(subparsers)`` and ``run(args) -> int``.

Errors a user can fix (a wrong argument, a missing or corrupt file, a diverging run) end with a
one-line message and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Callable, NoReturn

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
    return run_reporting_errors(f"chainrule {args.verb}", lambda: args.run(args))


def run_reporting_errors(prog: str, run: Callable[[], int | None]) -> int:
    """``run()``'s exit status, or 2 with the one-line message ``prog: error: ...`` for an error a user
    can fix (a wrong value, a missing or corrupt file, a diverging run); 130 on Ctrl-C. The
    benchmark scripts end through it too."""
    try:
        return int(run() or 0)
    except BrokenPipeError:  # the reader went away (e.g. `chainrule eval | head`): not an error
        sys.stderr.close()
        return 0
    except (ValueError, FileNotFoundError, FloatingPointError, OSError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


if __name__ == "__main__":
    sys.exit(main())
