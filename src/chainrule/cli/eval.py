"""``chainrule eval [MODEL]``: test error, per-class accuracy and the confusion matrix of a digit
model (default: the bundled one), printed and saved as PNG with a grid of its most confident mistakes."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from . import check_output_folder

DATASETS = {"mnist": "mnist", "fashion": "fashion-mnist"}
MAX_MISTAKES = 200  # 25 rows of 8; matplotlib takes superlinear time in the panels (400: over 30 s)


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="measure a model on the test set: error, per-class accuracy, confusion matrix",
                       description="Evaluate a model on the MNIST (or Fashion-MNIST) test set; writes "
                       "NAME-confusion.png and NAME-mistakes.png. Example: chainrule eval model.npz")
    p.add_argument("model", nargs="?", type=Path, default=None, help="model file (default: the bundled model)")
    p.add_argument("--model", dest="model_option", type=Path, default=None, metavar="PATH",
                   help="the same, as an option")
    p.add_argument("--dataset", choices=sorted(DATASETS), default=None,
                   help="test set to use (default: the one the model was trained on, else mnist)")
    p.add_argument("--data", type=Path, default=None, metavar="DIR", help="folder holding the four IDX files")
    p.add_argument("--out", type=Path, default=Path("."), metavar="DIR", help="folder for the PNGs (default: .)")
    p.add_argument("--mistakes", type=int, default=32, metavar="N",
                   help=f"how many mistakes to show, at most {MAX_MISTAKES} (default 32)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import matplotlib  # noqa: F401 (the figures need it: without it, fail before the evaluation, not after)

    from ..datasets import load_dataset
    from ..digits import class_accuracies, class_names, confident_mistakes, confusion_matrix, load_digit_model
    from ..plots import draw_confusion, draw_image_grid, save_figure

    if args.model is not None and args.model_option is not None:
        raise ValueError("give the model either as MODEL or as --model, not both")
    if not 0 <= args.mistakes <= MAX_MISTAKES:
        raise ValueError(f"--mistakes must lie in [0, {MAX_MISTAKES}], got {args.mistakes}")
    path = args.model or args.model_option
    net = load_digit_model(path)
    check_output_folder(args.out, f"--out {args.out}")
    dataset = args.dataset or net.metadata.get("dataset", "mnist")
    if not isinstance(dataset, str) or dataset not in DATASETS:  # metadata is the file's: any JSON value
        raise ValueError(f"the model names an unknown dataset {str(dataset)[:60]!r}; pass --dataset mnist or fashion")
    data = load_dataset(DATASETS[dataset], args.data)
    X, Y = data.test_images, data.test_labels.astype(np.intp)
    if net.n_outputs != int(Y.max()) + 1:
        raise ValueError(f"the model has {net.n_outputs} outputs but {dataset} has {int(Y.max()) + 1} classes")
    probabilities = np.concatenate([net.predict_proba(X[i:i + 2000]) for i in range(0, len(X), 2000)])
    predicted = probabilities.argmax(axis=1)
    classes = class_names(net)
    matrix = confusion_matrix(Y, predicted, net.n_outputs)
    error = float(np.mean(predicted != Y))
    name = path.name.removesuffix(".npz") if path else "default"
    print(f"{name} on the {dataset} test set ({len(Y)} images): error {100 * error:.2f}% "
          f"({int(np.sum(predicted != Y))} mistakes), accuracy {100 * (1 - error):.2f}%")
    width = max(6, *map(len, classes))
    print("per-class accuracy: " + "  ".join(f"{c} {100 * share:.1f}%"
                                             for c, share in zip(classes, class_accuracies(matrix))))
    print("confusion matrix (rows: true class, columns: predicted):")
    print(" " * width + "".join(f"{c[:width]:>{width + 1}}" for c in classes))
    for c, row in zip(classes, matrix):
        print(f"{c[:width]:>{width}}" + "".join(f"{n:>{width + 1}}" for n in row))
    confusion_png, mistakes_png = args.out / f"{name}-confusion.png", args.out / f"{name}-mistakes.png"
    title = f"{name} on {dataset}: test error {100 * error:.2f}%"
    save_figure(lambda fig: draw_confusion(fig, matrix, classes, title), confusion_png, (7, 6))
    worst = confident_mistakes(probabilities, Y, args.mistakes)
    titles = [f"{classes[Y[i]][:8]} -> {classes[predicted[i]][:8]} {probabilities[i, predicted[i]]:.2f}" for i in worst]
    columns = 8
    rows = max(1, -(-len(worst) // columns))
    save_figure(lambda fig: draw_image_grid(fig, X[worst], titles, columns,
                                            "most confident mistakes: true -> predicted (probability)"),
                mistakes_png, (columns * 1.3, rows * 1.5 + 0.6))
    print(f"wrote {confusion_png} and {mistakes_png}")
    return 0
