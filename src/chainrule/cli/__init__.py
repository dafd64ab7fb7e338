"""The ``chainrule`` command: one subcommand per verb, each in a module of this package that
defines ``add_parser(subparsers)`` and ``run(args) -> int``.

Errors a user can fix (a wrong argument, a missing or corrupt file, a diverging run) end with a
one-line message and exit status 2, never a traceback."""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable, NoReturn

from .. import __version__

VERBS = ["example", "experiment", "train", "eval", "predict", "draw"]


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: what was wrong and where to read more, without the usage
    block (20 lines for ``train``) that would bury it. The verbs' subparsers are of this class too."""

    verb_parsers: dict[str, argparse.ArgumentParser]  # set by build_parser on the top-level parser

    def __init__(self, *args, **kwargs) -> None:
        # no abbreviations: draw took --data for its --data-dir (the corrections folder), silently
        super().__init__(*args, **{"allow_abbrev": False, **kwargs})

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> Parser:
    parser = Parser(
        prog="chainrule",
        description="Neural networks from the chain rule up: train and evaluate digit recognisers, "
        "draw digits and watch the network think, run the seed examples and the experiments.",
    )
    parser.add_argument("--version", action="version", version=f"chainrule {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="COMMAND")
    for verb in VERBS:
        importlib.import_module(f".{verb}", __name__).add_parser(sub)
    parser.verb_parsers = sub.choices
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:  # the verb's parser reports them: its --help lists what the verb takes
        parser.verb_parsers.get(args.verb, parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    if args.verb is None:
        parser.print_help()
        return 0
    return run_reporting_errors(f"chainrule {args.verb}", lambda: args.run(args))


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``), raised as Ctrl-C is, so that a write in progress removes its
    temporary file and leaves the old file in place instead of dying mid-write."""


def _raise_terminated(signum: int, frame) -> None:
    raise Terminated


# The optional dependencies (pyproject.toml's extras) by the name they are imported as, and the extra
# that installs each: a command that needs one names the extra instead of showing the ImportError.
EXTRA_OF_MODULE = {"tqdm": "progress", "matplotlib": "plots", "PIL": "plots", "threadpoolctl": "plots",
                   "starlette": "app", "uvicorn": "app", "websockets": "app", "segno": "app", "ifaddr": "app",
                   "sklearn": "sklearn", "anywidget": "notebook", "ipywidgets": "notebook"}


def run_reporting_errors(prog: str, run: Callable[[], int | None]) -> int:
    """``run()``'s exit status, or 2 with the one-line message ``prog: error: ...`` for an error a user
    can fix (a wrong value, a missing or corrupt file, a diverging run); 130 on Ctrl-C, 143 on
    SIGTERM. The benchmark scripts end through it too."""
    in_main = threading.current_thread() is threading.main_thread()  # only there can a handler be set
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if in_main else None
    previous_show = warnings.showwarning
    # one line per warning, as an error's, not Python's file:line header and source line
    warnings.showwarning = lambda message, *_: print(f"{prog}: warning: {message}", file=sys.stderr)
    try:
        return int(run() or 0)
    except BrokenPipeError:  # the reader went away (e.g. `chainrule eval | head`): not an error
        sys.stderr.close()
        return 0
    except (ValueError, FileNotFoundError, FloatingPointError, OSError) as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as err:
        extra = EXTRA_OF_MODULE.get((err.name or "").partition(".")[0])
        if extra is None:  # not an optional dependency: a broken install, which the traceback shows
            raise
        print(f"{prog}: error: this needs {err.name}, which is not installed: pip install 'chainrule[{extra}]'",
              file=sys.stderr)
        return 2
    except MemoryError as err:  # a network or batch too large for this machine, e.g. --hidden 100000000
        print(f"{prog}: error: not enough memory: {err or 'an allocation failed'}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"{prog}: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    finally:
        warnings.showwarning = previous_show
        if in_main:
            signal.signal(signal.SIGTERM, previous)


def fit_stopping_on_interrupt(estimator, X, y):
    """``estimator.fit(X, y)`` for a scikit-learn estimator, stopped by Ctrl-C and SIGTERM: scikit-learn's
    own MLPs read either as "end the training here" and return the half-trained model, which a benchmark
    would then count; here the interrupt goes on to ``run_reporting_errors``."""
    with warnings.catch_warnings():
        warnings.filterwarnings("error", "Training interrupted by user")
        try:
            return estimator.fit(X, y)
        except UserWarning as warning:  # raised inside scikit-learn's handler of the interrupt
            raise warning.__context__ from None


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return _int_within(text, 1, None, "a positive integer")


MAX_SEED = 2**32 - 1  # the largest random_state scikit-learn takes; NumPy takes any integer >= 0


def seed(text: str) -> int:
    """An argparse type for --seed: an integer in [0, MAX_SEED]."""
    return _int_within(text, 0, MAX_SEED, f"a seed from 0 to {MAX_SEED}")


def _int_within(text: str, low: int, high: int | None, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def check_output_folder(folder: Path, what: str) -> None:
    """Create ``folder`` if needed and fail now, not after the work, if no file can be written in it.
    ``what`` names the user's argument in the message (``--out DIR``), not a temporary file inside."""
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"cannot write {what}: {folder} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise ValueError(f"cannot write {what}: {err.strerror or err}") from None


if __name__ == "__main__":
    sys.exit(main())
