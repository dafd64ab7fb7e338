"""``chainrule example NAME``: run one of the seed examples."""

from __future__ import annotations

import argparse
import importlib
from pathlib import Path

from ..examples import EXAMPLES
from . import check_output_folder, seed


def add_parser(sub) -> None:
    p = sub.add_parser("example", help="run a seed example (mat1110, higham, franke)",
                       description="Run one of the seed examples of the derivation.")
    p.add_argument("name", choices=sorted(EXAMPLES), help="; ".join(f"{k}: {v}" for k, v in EXAMPLES.items()))
    p.add_argument("--out", type=Path, default=Path("."),
                   help="folder for plots and the fixed MAT1110 script (default: the current folder)")
    p.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    check_output_folder(args.out, f"--out {args.out}")
    module = importlib.import_module(f"chainrule.examples.{args.name}")
    module.main(out=args.out, seed=args.seed)
    return 0
