"""``chainrule experiment NAME``: run an experiment, write NAME.csv and NAME.png, print its table."""

from __future__ import annotations

import argparse
import importlib
import inspect
from pathlib import Path
from types import ModuleType

from ..experiments import EXPERIMENTS
from . import check_output_folder, seed

# the options handed on to an experiment's run(): its parameter -> (the option, what the experiments taking it do)
PASSED_ON = {
    "model": ("--model", "start from a trained model"),
    "data": ("--data", "read MNIST"),
    "pen_data": ("--pen-data", "read pen trajectories"),
}


def add_parser(sub) -> None:
    p = sub.add_parser("experiment", help="run an experiment that writes a CSV and a plot",
                       description="Run one experiment; it writes NAME.csv and NAME.png and prints a table, and "
                       "reports its progress on stderr. The times are those of the full runs in docs/experiments.md.")
    p.add_argument("name", choices=sorted(EXPERIMENTS), help="; ".join(f"{k}: {v}" for k, v in EXPERIMENTS.items()))
    p.add_argument("--out", type=Path, default=Path("experiments-out"), help="output folder (default: experiments-out)")
    p.add_argument("--quick", action="store_true",
                   help="a small, fast version: seconds instead of minutes (what CI runs)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--model", type=Path, default=None,
                   help="the trained model an experiment starts from (adapt only; default: the bundled model)")
    p.add_argument("--data", type=Path, default=None, metavar="DIR",
                   help="folder holding MNIST's four IDX files (default: $CHAINRULE_DATA/mnist, the cache, ...)")
    p.add_argument("--pen-data", type=Path, default=None, metavar="DIR",
                   help="folder holding pendigits/ and ujipen/ (adapt only; default: $CHAINRULE_DATA, the cache)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.common import format_table, save_result

    module = _experiment(args.name)
    options = passed_on(module, args)
    check_outputs(args.out, args.name)
    result = module.run(out=args.out, quick=args.quick, seed=args.seed, **options)
    csv_path, png_path = save_result(result, args.out)
    print(format_table(result.rows))
    for line in result.summary:
        print(line)
    print(f"wrote {csv_path} and {png_path}")
    return 0


def _experiment(name: str) -> ModuleType:
    return importlib.import_module(f"chainrule.experiments.{name}")


def passed_on(module: ModuleType, args: argparse.Namespace) -> dict:
    """The options of ``PASSED_ON`` that were given, by ``module.run``'s parameter names; a ValueError
    names an option given to an experiment that does not take it."""
    taken = inspect.signature(module.run).parameters
    options = {}
    for parameter, (option, purpose) in PASSED_ON.items():
        value = getattr(args, parameter)
        if value is None:
            continue
        if parameter not in taken:
            takers = [name for name in sorted(EXPERIMENTS)
                      if parameter in inspect.signature(_experiment(name).run).parameters]
            raise ValueError(f"{option} applies to experiments that {purpose} ({', '.join(takers)}), not {args.name}")
        options[parameter] = value
    return options


def check_outputs(out: Path, name: str) -> None:
    """Fail now, not after the work, if NAME.csv or NAME.png cannot be written into ``out``: a folder
    that takes no file, a folder or device in a file's place, a link into a missing or read-only folder.
    Nothing is created, so a run that fails later leaves no empty folder behind."""
    from ..experiments.common import result_paths
    from ..io import save_target

    folder = next(p for p in (out, *out.parents) if p.exists() or p.is_symlink())  # out, or where out will be made
    check_output_folder(folder, f"--out {out}")  # makes nothing (the folder exists) but tries a temporary file
    if folder != out:  # out is still to be made, so no file in it is in the way
        return
    for path in result_paths(out, name):
        target = save_target(path)  # what the write will replace: through a link, the file it names
        if target.exists() and not target.is_file():
            kind = "a folder" if target.is_dir() else "not an ordinary file"
            raise ValueError(f"cannot write {path}: {target} is {kind}")
        if not target.parent.is_dir():
            raise ValueError(f"cannot write {path}: it is a link to {target}, whose folder does not exist")
        if target.parent != out.resolve():
            check_output_folder(target.parent, str(path))
