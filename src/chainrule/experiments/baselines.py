"""chainrule's networks against classical classifiers from scikit-learn (the optional extra
``pip install 'chainrule[sklearn]'``), all on the same MNIST split: test error, training time and
prediction time per image.

    k-nearest neighbours   the majority label of the k = 3 closest training images (Euclidean)
    logistic regression    softmax(W x + b) fitted by L-BFGS: a network with no hidden layer
    linear SVM             one-vs-rest hyperplanes with the squared hinge loss (liblinear)
    RBF SVM                kernel exp(-gamma |x - x'|^2), on a subset (its cost grows like m^2)
    random forest          100 decision trees on bootstrap samples, majority vote

The classical models see pixels scaled to [0, 1]; chainrule's networks take the raw images through
their own Standardize layer. No hyperparameter is tuned here: the settings are common defaults.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

from ..network import mlp
from ..training import accuracy, fit
from .common import MNIST_SCALING, Result, mnist_splits, plain_log_axis, progress, single_threaded


def sklearn_models(seed: int, rbf_subset: int) -> dict[str, tuple[object, int | None]]:
    """name -> (unfitted scikit-learn estimator, number of training images or None for all)."""
    try:
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.svm import SVC, LinearSVC
    except ImportError:
        raise ValueError("the baselines experiment needs scikit-learn: pip install 'chainrule[sklearn]'") from None
    return {
        "k-nearest neighbours (k=3)": (KNeighborsClassifier(n_neighbors=3), None),
        "logistic regression": (LogisticRegression(max_iter=100, C=1.0), None),
        "linear SVM": (LinearSVC(C=0.1, dual=False, random_state=seed), None),
        "RBF SVM": (SVC(kernel="rbf", C=10.0, gamma="scale", random_state=seed), rbf_subset),
        "random forest (100 trees)": (RandomForestClassifier(n_estimators=100, random_state=seed), None),
    }


def _timed(fn: Callable[[], object]) -> tuple[object, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - t0


def _pixels(images: np.ndarray) -> np.ndarray:
    """Images (m, 28, 28) as rows of 784 values in [0, 1], the classical models' input."""
    return images.reshape(len(images), -1).astype(np.float32) / 255


def evaluate_sklearn(name: str, model, subset: int | None, splits) -> dict:
    """Fit a scikit-learn model on the training split (or its first ``subset`` images); time it."""
    X, y = _pixels(splits.train[0][:subset]), splits.train[1][:subset]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs/liblinear stopping at max_iter is the setting, not a fault
        _, train_seconds = _timed(lambda: model.fit(X, y))
    test_pixels = _pixels(splits.test[0])
    predicted, predict_seconds = _timed(lambda: model.predict(test_pixels))
    return _row(name, "scikit-learn", len(X), float(np.mean(predicted != splits.test[1])), train_seconds,
                predict_seconds / len(splits.test[0]))


def evaluate_chainrule(hidden: list[int], epochs: int, splits, seed: int) -> dict:
    """Train a ReLU network of the given hidden sizes on the raw images; time it."""
    net = mlp([784, *hidden, 10], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32,
              seed=seed, input_scaling=MNIST_SCALING)
    _, train_seconds = _timed(lambda: fit(net, *splits.train, epochs=epochs, batch_size=64, optimizer="momentum",
                                          lr=0.05, momentum=0.9, schedule="cosine", seed=seed, progress=False))
    error, predict_seconds = _timed(lambda: 1 - accuracy(net, *splits.test))
    name = f"chainrule 784-{'-'.join(map(str, hidden))}-10 ReLU ({epochs} epochs)"
    return _row(name, "chainrule", len(splits.train[0]), error, train_seconds, predict_seconds / len(splits.test[0]))


def _row(model: str, library: str, train_size: int, error: float, train_seconds: float, per_image: float) -> dict:
    return {"model": model, "library": library, "train_images": train_size, "test_error": error,
            "train_seconds": round(train_seconds, 2), "predict_us_per_image": round(per_image * 1e6, 2)}


@single_threaded
def run(out: Path, quick: bool, seed: int, data: Path | None = None) -> Result:
    if quick:
        splits, rbf_subset, networks = mnist_splits(2000, 10, 1000, data=data), 1000, [([32], 2)]
    else:
        splits, rbf_subset, networks = mnist_splits(data=data), 10000, [([100], 10), ([800], 10)]
    models = sklearn_models(seed, rbf_subset)
    rows, steps = [], len(models) + len(networks)
    for name, (model, subset) in models.items():
        progress("baselines", len(rows) + 1, steps, name)
        rows.append(evaluate_sklearn(name, model, subset, splits))
    for hidden, epochs in networks:
        progress("baselines", len(rows) + 1, steps, f"chainrule 784-{'-'.join(map(str, hidden))}-10")
        rows.append(evaluate_chainrule(hidden, epochs, splits, seed))
    best = min(rows, key=lambda r: r["test_error"])
    summary = [f"lowest test error: {best['model']} at {best['test_error']:.2%} "
               f"(trained in {best['train_seconds']:.3g} s, {best['predict_us_per_image']:.3g} us per image)"]
    summary += [f"{r['model']}: {r['test_error']:.2%} test error, {r['train_seconds']:.3g} s training, "
                f"{r['predict_us_per_image']:.3g} us per image" for r in rows if r is not best]
    return Result("baselines", rows, lambda fig: _plot(fig, rows), summary)


def _plot(fig, rows: list[dict]) -> None:
    error_ax, time_ax = fig.subplots(1, 2)
    colors = ["tab:red" if r["library"] == "chainrule" else "tab:gray" for r in rows]
    most = max(r["train_images"] for r in rows)
    names = [r["model"].replace(" (", "\n(") + (f"\n({r['train_images']:,} images)" if r["train_images"] < most else "")
             for r in rows]
    y = np.arange(len(rows))
    error_ax.barh(y, [100 * r["test_error"] for r in rows], color=colors)
    error_ax.set_yticks(y, names, fontsize=8)
    error_ax.invert_yaxis()
    error_ax.set(xlabel="test error (%)", title="Test error (red: chainrule)")
    error_ax.margins(x=0.15)
    for r, yi in zip(rows, y):
        error_ax.annotate(f"{100 * r['test_error']:.2f}%", (100 * r["test_error"], yi), xytext=(3, 0),
                          textcoords="offset points", va="center", fontsize=8)
    for r, name, color in zip(rows, names, colors):
        time_ax.scatter(r["train_seconds"], r["predict_us_per_image"], s=60, color=color)
        time_ax.annotate(name.replace("\n", " "), (r["train_seconds"], r["predict_us_per_image"]),
                         xytext=(4, -10 if "linear" in name else 4), textcoords="offset points", fontsize=7)
    plain_log_axis(time_ax, "x")
    plain_log_axis(time_ax, "y")
    time_ax.margins(x=0.1, y=0.1)
    time_ax.set_xlim(right=time_ax.get_xlim()[1] * 30)  # room for the labels
    time_ax.set(xlabel="training time (s, log scale)",
                ylabel="prediction time per image (microseconds, log scale)", title="Cost: training against prediction")
    time_ax.grid(True, which="both", alpha=0.3)
    error_ax.grid(True, which="both", axis="x", alpha=0.3)
    fig.suptitle("MNIST: chainrule's networks against scikit-learn's classical classifiers")
