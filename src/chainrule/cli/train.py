"""``chainrule train``: train a digit (or clothing) classifier on MNIST or Fashion-MNIST, and on pen
trajectories (``--pen``) rendered as the drawing page renders them.

The last ``--val-size`` training images are held out for validation; the output file always holds
the model of the epoch with the lowest validation error so far. With ``--pen`` and a validation split,
the writers of ``datasets.HELD_OUT_WRITERS`` are kept out of training too, and after training the
model is measured on their digits (per collection, class and writer: printed and written to
OUT-heldout.csv); with ``--val-size 0`` every writer trains. The test set is never looked at:
``chainrule eval`` measures it. After each epoch the latest state is kept in memory; Ctrl-C writes it
to ``OUT.ckpt.npz`` and ``--resume`` continues from there (the momentum buffers restart at zero)."""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from ..activations import ACTIVATIONS
from ..init import INITIALIZERS
from ..losses import LOSSES
from . import check_output_folder, seed

DATASET_NAMES = {"mnist": "mnist", "fashion": "fashion-mnist"}
PEN_COLLECTIONS = ("pendigits", "ujipen")
# UJI has a ninth as many digits as pendigits; 2 and 8 were chosen on the held-out writers (README)
PEN_COPIES = {"pendigits": 2, "ujipen": 8}
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                   "Ankle boot"]
# the outputs that read as class probabilities: eval, predict and draw load only such models
CLASSIFIER_OUTPUTS = ["sigmoid", "softmax"]
# [lowest, highest] of each number option. Beyond these, training reads garbage or fails deep inside: a
# weight decay of 1e300 turns the weights into inf and NaN, a shift of 1e300 moves every digit out of frame.
RANGES = {"lr": (0, math.inf), "momentum": (0, 1), "weight_decay": (0, 1), "dropout": (0, 0.9), "rotation": (0, 180),
          "scale": (0, 0.5), "shift": (0, 14), "elastic_alpha": (0, 100), "elastic_sigma": (0.1, 14), "stroke": (0, 1)}


def add_parser(sub) -> None:
    p = sub.add_parser("train", help="train a digit classifier on MNIST or Fashion-MNIST",
                       description="Train an MLP on MNIST (or Fashion-MNIST) and save the model with the "
                       "best validation error. Example: chainrule train --hidden 800 --epochs 20 --out mnist800.npz")
    data = p.add_argument_group("data")
    data.add_argument("--dataset", choices=sorted(DATASET_NAMES), default="mnist", help="default: mnist")
    data.add_argument("--data", type=Path, default=None, metavar="DIR",
                      help="folder holding the four IDX files (default: $CHAINRULE_DATA/<dataset>, the cache, ...)")
    data.add_argument("--val-size", type=int, default=5000, metavar="N",
                      help="hold out the last N training images for validation (default 5000; 0 = none)")
    data.add_argument("--train-size", type=int, default=None, metavar="N",
                      help="train on the first N images only, for quick trials (default: all but the validation split)")
    data.add_argument("--extra-data", type=Path, default=None, metavar="DIR",
                      help="also train on the corrected drawings the drawing program saved in DIR (MNIST only)")
    pen = p.add_argument_group(
        "pen trajectories", "digits written with a pen (pendigits: 30 writers, UJI: 40 writers in Spain), augmented "
        "in trajectory space (rotation, slant, aspect, 60 Hz / 10 Hz resampling, jitter, pen width) and rendered "
        "once by the drawing page's digit_from_strokes. Held-out writers: with --val-size > 0 the writers of "
        f"chainrule.datasets.HELD_OUT_WRITERS ({_held_out_text()}) are left out of training and "
        "measured after it (OUT-heldout.csv); with --val-size 0 every writer trains")
    pen.add_argument("--pen", type=_collections, default=[], metavar="NAME[,NAME]",
                     help="also train on these pen collections: pendigits, ujipen (MNIST only)")
    pen.add_argument("--pen-copies", type=_copies, default=None, metavar="N[,N]",
                     help="augmented copies of each pen digit, one number or one per --pen collection "
                     f"(default {', '.join(f'{v} for {k}' for k, v in PEN_COPIES.items())})")
    pen.add_argument("--pen-data", type=Path, default=None, metavar="DIR",
                     help="folder holding pendigits/ and ujipen/ (default: $CHAINRULE_DATA, the cache)")
    arch = p.add_argument_group("network")
    arch.add_argument("--hidden", type=_sizes, default=[800], metavar="N[,N...]",
                      help="hidden layer sizes (default 800)")
    arch.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                      help="hidden activation (default relu)")
    arch.add_argument("--output", choices=CLASSIFIER_OUTPUTS, default="softmax",
                      help="output activation, read as class probabilities (default softmax)")
    arch.add_argument("--loss", choices=sorted(LOSSES), default="cross_entropy",
                      help="default: cross_entropy (needs --output softmax; binary_cross_entropy needs sigmoid); "
                           "squared_error and half_squared_error sum over the batch: divide --lr by its size")
    arch.add_argument("--init", choices=sorted(INITIALIZERS), default=None,
                      help="weight initialiser (default: he_normal for relu, glorot_uniform otherwise)")
    arch.add_argument("--dropout", type=float, default=0.0, help="dropout rate after each hidden layer (default 0)")
    arch.add_argument("--input-scale", choices=["standard", "unit"], default="standard",
                      help="standard: (x - mean) / std of the training images; unit: x / 255 (default standard)")
    arch.add_argument("--dtype", choices=["float32", "float64"], default="float32",
                      help="default float32 (half the bytes of float64 to move, and ample for 8-bit pixels)")
    opt = p.add_argument_group("optimisation")
    opt.add_argument("--optimizer", choices=["sgd", "momentum", "nesterov", "adam"], default="nesterov",
                     help="default nesterov")
    opt.add_argument("--lr", type=float, default=0.1, help="learning rate (default 0.1)")
    opt.add_argument("--momentum", type=float, default=0.9, help="momentum for momentum/nesterov (default 0.9)")
    opt.add_argument("--schedule", choices=["constant", "step", "cosine"], default="cosine", help="default cosine")
    opt.add_argument("--batch-size", type=int, default=128, help="default 128")
    opt.add_argument("--epochs", type=int, default=20, help="maximum number of epochs (default 20)")
    opt.add_argument("--time-budget", type=_duration, default=None, metavar="T",
                     help="stop after T (e.g. 600, 10m, 1h); the schedule then runs over T")
    opt.add_argument("--weight-decay", type=float, default=0.0, help="L2 weight decay lambda (default 0)")
    opt.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    aug = p.add_argument_group("augmentation (fresh random transforms of every batch)")
    aug.add_argument("--augment", choices=["none", "affine", "elastic"], default="none",
                     help="affine: rotation, scaling, shift; elastic: affine then Simard's elastic distortion")
    aug.add_argument("--rotation", type=float, default=10.0, help="max rotation in degrees (default 10)")
    aug.add_argument("--scale", type=float, default=0.1, help="max relative zoom (default 0.1)")
    aug.add_argument("--shift", type=float, default=2.0, help="max shift in pixels (default 2)")
    aug.add_argument("--elastic-alpha", type=float, default=34.0, help="elastic displacement scale (default 34)")
    aug.add_argument("--elastic-sigma", type=float, default=4.0, help="elastic smoothing width (default 4)")
    aug.add_argument("--stroke", type=float, default=0.0,
                     help="share of images whose strokes are thickened or thinned (default 0)")
    out = p.add_argument_group("output")
    out.add_argument("--out", type=Path, default=Path("model.npz"), help="model file to write (default model.npz)")
    out.add_argument("--resume", action="store_true", help="continue from OUT.ckpt.npz written by an interrupted run")
    out.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 800 or 300,100, got {text!r}") from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"hidden sizes must be positive integers, got {text!r}")
    return sizes


def _held_out_text() -> str:
    from ..datasets import HELD_OUT_WRITERS

    return ", ".join(f"{name} {min(w)}-{max(w)}" for name, w in HELD_OUT_WRITERS.items())


def _copies(text: str) -> list[int]:
    try:
        copies = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        copies = []
    if not copies or min(copies) < 1:
        raise argparse.ArgumentTypeError(f"expected positive numbers of copies like 3 or 3,12, got {text!r}")
    return copies


def _collections(text: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in PEN_COLLECTIONS]
    if not names or unknown or len(set(names)) < len(names):
        raise argparse.ArgumentTypeError(f"expected pen collections among {', '.join(PEN_COLLECTIONS)}, "
                                         f"each at most once, got {text!r}")
    return names


def _duration(text: str) -> float:
    match = re.fullmatch(r"\s*([0-9]+\.?[0-9]*|\.[0-9]+)\s*(s|m|min|h)?\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration such as 600, 90s, 14m or 1.5h, got {text!r}")
    seconds = float(match.group(1)) * {None: 1, "s": 1, "m": 60, "min": 60, "h": 3600}[match.group(2)]
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"the time budget must be positive, got {text!r}")
    return seconds


def checkpoint_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".npz") + ".ckpt.npz")


def _check_writable(out: Path) -> None:
    """Fail now, not after the first epoch, when --out cannot be written (naming the user's path)."""
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder: give a file name, such as {out / 'model.npz'}")
    from ..io import save_target

    target = save_target(out)
    if target.exists() and not target.is_file():
        raise ValueError(f"--out {out} names {target}, which is not an ordinary file: give a file name")
    check_output_folder(target.parent, f"--out {out}")


# what --resume may change: where the data lies, the time allowed, how progress is shown, how --out is spelt
RESUME_MAY_CHANGE = {"resume", "no_progress", "time_budget", "data", "pen_data", "extra_data", "out"}


def _options(args: argparse.Namespace) -> dict:
    """The command's options as the model file records them (JSON values)."""
    options = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k not in ("run", "verb")}
    return json.loads(json.dumps(options))


def _check_same_run(saved: dict | None, options: dict) -> None:
    """A ValueError naming each option that differs from the interrupted run's (a checkpoint
    without them, from an older version, is taken as it is): the network, the data and the
    schedule are the checkpoint's, so other values would be recorded in the model but not used."""
    if not isinstance(saved, dict):
        return
    changed = [f"--{k.replace('_', '-')} {options[k]!r} (the run had {saved.get(k)!r})"
               for k in sorted(options) if k not in RESUME_MAY_CHANGE and saved.get(k) != options[k]]
    if changed:
        raise ValueError(f"--resume continues the interrupted run with its own options; these differ: "
                         f"{'; '.join(changed)}. Use the same command plus --resume, or start afresh")


def run(args: argparse.Namespace) -> int:
    from .. import fit, load, mlp
    from ..augment import Augmenter
    from ..datasets import load_dataset
    from ..layers import standard_scaling
    from ..optimizers import make_optimizer

    _check_options(args)
    _check_writable(args.out)
    data = load_dataset(DATASET_NAMES[args.dataset], args.data)
    X, Y = data.train_images, data.train_labels.astype(np.intp)
    if not 0 <= args.val_size < len(X):
        raise ValueError(f"--val-size must lie in [0, {len(X)}), got {args.val_size}")
    split = len(X) - args.val_size
    if args.train_size is not None and not 0 < args.train_size <= split:
        raise ValueError(f"--train-size must lie in [1, {split}] (the images before the validation split), "
                         f"got {args.train_size}")
    Xtrain, Ytrain = X[:args.train_size or split], Y[:args.train_size or split]
    validation = (X[split:], Y[split:]) if args.val_size else None
    if args.extra_data is not None:
        if args.dataset != "mnist":
            raise ValueError("--extra-data holds drawn digits: use it with --dataset mnist")
        Xtrain, Ytrain = _with_extra_data(Xtrain, Ytrain, args.extra_data)
    held_out = {}
    if args.pen:
        Xpen, Ypen, held_out = _pen_digits(args)
        Xtrain, Ytrain = np.concatenate([Xtrain, Xpen]), np.concatenate([Ytrain, Ypen])
    if args.input_scale == "standard":
        scaling = standard_scaling(Xtrain)
    else:
        scaling = (0.0, 1.0 / 255.0, (28, 28))
    sizes = [784, *args.hidden, 10]
    ckpt = checkpoint_path(args.out)
    if args.resume:
        net = load(ckpt)
        state = net.metadata.get("checkpoint")
        if state is None or [d.n_out for d in net.dense] != sizes[1:]:
            raise ValueError(f"{ckpt} is not a checkpoint of a {'-'.join(map(str, sizes))} network; "
                             "resume with the same --hidden as the interrupted run")
        _check_same_run(net.metadata.get("options"), _options(args))
    else:
        net = mlp(sizes, hidden=args.activation, output=args.output, loss=args.loss, dtype=args.dtype,
                  seed=args.seed, init=args.init, dropout=args.dropout, input_scaling=scaling)
        state = {"epoch": 0, "elapsed": 0.0, "best_val_error": None, "best_epoch": None}
    augment = None
    if args.augment != "none" or args.stroke:
        affine = args.augment != "none"
        augment = Augmenter(rotation=args.rotation if affine else 0, scale=args.scale if affine else 0,
                            shift=args.shift if affine else 0,
                            elastic_alpha=args.elastic_alpha if args.augment == "elastic" else 0,
                            elastic_sigma=args.elastic_sigma, stroke=args.stroke)
    optimizer = make_optimizer(args.optimizer, args.lr, args.momentum if args.optimizer != "sgd" else 0.0,
                               args.weight_decay)
    budget = None
    if args.time_budget is not None:
        budget = args.time_budget - state["elapsed"]
        if budget <= 0:
            raise ValueError(f"the checkpoint has already used the whole time budget ({args.time_budget:g} s)")
    metadata = {
        "dataset": args.dataset,
        "classes": FASHION_CLASSES if args.dataset == "fashion" else [str(k) for k in range(10)],
        "options": _options(args),
        "train_size": len(Xtrain),
        "val_size": args.val_size,
        "pen": args.pen,
        "pen_held_out_writers": {name: sorted(set(map(int, digits.writers))) for name, digits in held_out.items()},
    }
    tracker = _Tracker(args.out, ckpt, state, metadata, time.perf_counter())
    try:
        # a run that diverges overflows before its loss does: fit's check then says so on one line,
        # where NumPy would first print a warning and its source line for each operation
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            history = fit(net, Xtrain, Ytrain, epochs=args.epochs, batch_size=args.batch_size, optimizer=optimizer,
                          schedule=args.schedule, validation_data=validation, time_budget=budget, augment=augment,
                          seed=args.seed + state["epoch"], progress=not args.no_progress, callback=tracker,
                          start_epoch=state["epoch"])
    except KeyboardInterrupt:
        if tracker.snapshot is None:
            print("chainrule train: interrupted before the first epoch ended; nothing saved", file=sys.stderr)
            return 130
        tracker.snapshot.save(ckpt, {**metadata, "checkpoint": tracker.state})
        print(f"chainrule train: interrupted after epoch {tracker.state['epoch']}; checkpoint saved to {ckpt}. "
              f"Continue with the same command plus --resume", file=sys.stderr)
        return 130
    if validation is None:
        net.save(args.out, {**metadata, "epochs": history.epoch[-1], "seconds": round(tracker.elapsed(), 1)})
    if ckpt.exists():
        ckpt.unlink()
    best = tracker.state["best_val_error"]
    report = (f"validation error {100 * best:.2f}% (best epoch {tracker.state['best_epoch']})" if best is not None
              else "no validation split")
    print(f"trained {tracker.state['epoch']} epochs in {tracker.elapsed():.0f} s; {report}; saved {args.out}")
    if held_out:
        _report_held_out(load(args.out), held_out, heldout_path(args.out))
    print(f"measure it on the test set with: chainrule eval {args.out}")
    return 0


def heldout_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".npz") + "-heldout.csv")


def _pen_digits(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, dict]:
    """The augmented renders of the training writers' pen digits, and the held-out writers' digits
    rendered as drawn (none when --val-size is 0: then every writer trains)."""
    from .. import datasets
    from ..pen import render_pen_digits, select_writers

    copies = args.pen_copies or [PEN_COPIES[name] for name in args.pen]
    if len(copies) == 1:
        copies = copies * len(args.pen)
    rng = np.random.default_rng(args.seed)
    images, labels, held_out = [], [], {}
    started = time.perf_counter()
    for name, k in zip(args.pen, copies):
        pen = getattr(datasets, f"load_{name}")(args.pen_data / name if args.pen_data else None)
        if args.val_size:
            writers = datasets.HELD_OUT_WRITERS[name]
            held_out[name] = render_pen_digits(select_writers(pen, writers), workers=2)
            pen = select_writers(pen, writers, keep=False)
            for digits, role in ((held_out[name].labels, "held out"), (pen.labels, "training")):
                if len(digits) == 0:  # another file than the collection's: the split would be silently empty
                    raise ValueError(f"the {name} file has no digits of its {role} writers (held out: "
                                     f"{', '.join(map(str, writers))}); give the whole collection, or --val-size 0")
        rendered = render_pen_digits(pen, k, rng, workers=2)
        images.append(rendered.images)
        labels.append(rendered.labels.astype(np.intp))
    measured = ", ".join(f"{n} writers {min(h.writers)}-{max(h.writers)} ({len(h.labels)} digits)"
                         for n, h in held_out.items())
    kept = f"; held out for measuring: {measured}" if held_out else "; every writer trains"
    mix = ", ".join(f"{n} x{k}" for n, k in zip(args.pen, copies))
    seconds = time.perf_counter() - started
    print(f"rendered {sum(map(len, labels))} augmented pen digits ({mix}) in {seconds:.0f} s{kept}")
    return np.concatenate(images), np.concatenate(labels), held_out


def _report_held_out(net, held_out: dict, path: Path) -> None:
    """Print the held-out writers' accuracy per collection, per class (also over all collections
    together) and per writer, and write every row to ``path`` (CSV)."""
    from ..io import atomic_write
    from ..pen import accuracy_rows

    rows, predicted = [], {}
    for name, digits in held_out.items():
        predicted[name] = net.predict(digits.images)
        rows += accuracy_rows(name, predicted[name], digits.labels, digits.writers)
    if len(held_out) > 1:
        together = [r for r in accuracy_rows("all", np.concatenate(list(predicted.values())),
                                              np.concatenate([d.labels for d in held_out.values()]),
                                              np.zeros(sum(len(d.labels) for d in held_out.values()), np.int64))
                    if r["by"] != "writer"]
        rows += together
    print("held-out writers, read by the saved model (digit_from_strokes as drawn):")
    for collection in [*held_out, *(["all"] if len(held_out) > 1 else [])]:
        mine = [r for r in rows if r["collection"] == collection]
        overall = mine[0]
        print(f"  {collection}: {100 * overall['accuracy']:.2f}% of {overall['digits']} digits")
        for by in ("class", "writer"):
            cells = [f"{r['key']}:{100 * r['accuracy']:.1f}" for r in mine if r["by"] == by]
            if cells:
                print(f"    per {by}: {' '.join(cells)}")
    header = "collection,by,key,digits,correct,accuracy\n"
    body = "".join(f"{r['collection']},{r['by']},{r['key']},{r['digits']},{r['correct']},{r['accuracy']:.6f}\n"
                   for r in rows)
    atomic_write(path, lambda f: f.write((header + body).encode()))
    print(f"wrote {path}")


class _Tracker:
    """fit's per-epoch callback: saves the model whenever the validation error improves and keeps a
    copy of the latest state for a checkpoint."""

    def __init__(self, out: Path, ckpt: Path, state: dict, metadata: dict, started: float) -> None:
        self.out, self.ckpt, self.state, self.metadata = out, ckpt, state, metadata
        self.started, self.before = started, state["elapsed"]
        self.snapshot = None

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.started

    def __call__(self, epoch: int, history, net) -> bool:
        self.state = {**self.state, "epoch": epoch, "elapsed": self.elapsed()}
        if history.val_accuracy:
            error = 1.0 - history.val_accuracy[-1]
            if self.state["best_val_error"] is None or error <= self.state["best_val_error"]:
                self.state.update(best_val_error=error, best_epoch=epoch)
                net.save(self.out, {**self.metadata, "epochs": epoch, "val_error": error,
                                    "seconds": round(self.elapsed(), 1)})
        self.snapshot = net.copy()
        return False


def _with_extra_data(X: np.ndarray, Y: np.ndarray, folder: Path) -> tuple[np.ndarray, np.ndarray]:
    from ..corrections import load_samples

    with warnings.catch_warnings():  # shown one line each by run_reporting_errors
        warnings.simplefilter("always")  # every skipped file, also one whose message was seen before
        images, labels = load_samples(folder)
    if len(images) == 0:
        raise ValueError(f"--extra-data {folder} holds no saved drawings")
    print(f"adding {len(images)} corrected drawings from {folder}")
    return np.concatenate([X, images]), np.concatenate([Y, np.asarray(labels, np.intp)])


def _check_options(args: argparse.Namespace) -> None:
    for name, (low, high) in RANGES.items():
        value = getattr(args, name)
        if not (math.isfinite(value) and low <= value <= high):
            bounds = f">= {low:g}" if high == math.inf else f"from {low:g} to {high:g}"
            raise ValueError(f"--{name.replace('_', '-')} must be a finite number {bounds}, got {value:g}")
    if args.lr == 0:
        raise ValueError("--lr must be positive, got 0")
    needs = LOSSES[args.loss].output_activation
    if needs is not None and needs != args.output:
        raise ValueError(f"--loss {args.loss} needs --output {needs}, got --output {args.output}")
    if args.pen and args.dataset != "mnist":
        raise ValueError("--pen adds pen-written digits: use it with --dataset mnist")
    if args.pen_copies is not None:
        if not args.pen:
            raise ValueError("--pen-copies needs --pen (the pen collections to copy)")
        if len(args.pen_copies) not in (1, len(args.pen)):
            raise ValueError(f"--pen-copies takes one number or one per --pen collection ({len(args.pen)}), "
                             f"got {len(args.pen_copies)}")
    if args.epochs < 1 or args.batch_size < 1:
        raise ValueError(f"--epochs and --batch-size must be positive, got {args.epochs} and {args.batch_size}")
    if not LOSSES[args.loss].mean and args.lr * args.batch_size > 1:
        # the course texts' C sums over the samples: its steps grow with the batch where a mean's do not
        print(f"chainrule train: warning: --loss {args.loss} sums over the {args.batch_size} samples of a batch, so "
              f"--lr {args.lr:g} takes steps {args.batch_size} times a mean loss's and such runs stall or diverge; "
              f"try --lr {0.1 / args.batch_size:.2g} or --loss mean_squared_error", file=sys.stderr)
