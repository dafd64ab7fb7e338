"""``chainrule experiment NAME``: run an experiment, write NAME.csv and NAME.png, print its table."""

from __future__ import annotations

import argparse
import importlib
import inspect
from pathlib import Path

from ..experiments import EXPERIMENTS
from . import check_output_folder, seed


def add_parser(sub) -> None:
    p = sub.add_parser("experiment", help="run an experiment that writes a CSV and a plot",
                       description="Run one experiment; it writes NAME.csv and NAME.png and prints a table.")
    p.add_argument("name", choices=sorted(EXPERIMENTS), help="; ".join(f"{k}: {v}" for k, v in EXPERIMENTS.items()))
    p.add_argument("--out", type=Path, default=Path("experiments-out"), help="output folder (default: experiments-out)")
    p.add_argument("--quick", action="store_true", help="a small, fast version (what CI runs)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.add_argument("--model", type=Path, default=None,
                   help="the trained model an experiment starts from (adapt only; default: the bundled model)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..experiments.common import format_table, save_result

    module = importlib.import_module(f"chainrule.experiments.{args.name}")
    extra = {}
    if args.model is not None:
        if "model" not in inspect.signature(module.run).parameters:
            raise ValueError(f"--model applies to experiments that start from a trained model (adapt), not {args.name}")
        extra["model"] = args.model
    check_output_folder(args.out, f"--out {args.out}")
    result = module.run(out=args.out, quick=args.quick, seed=args.seed, **extra)
    csv_path, png_path = save_result(result, args.out)
    print(format_table(result.rows))
    for line in result.summary:
        print(line)
    print(f"wrote {csv_path} and {png_path}")
    return 0
