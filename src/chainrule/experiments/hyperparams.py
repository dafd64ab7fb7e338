"""Choosing the learning rate, batch size, width and weight decay by random search on the validation
split (Bergstra & Bengio 2012: for a few important parameters among several, random points cover
each axis better than a grid of the same size).

Each trial draws

    learning rate eta   log-uniform in [1e-3, 1]      (SGD with momentum 0.9, cosine schedule)
    batch size          one of 16, 32, 64, 128, 256
    width               log-uniform in [16, 512]       (one ReLU hidden layer, softmax output)
    weight decay        log-uniform in [1e-6, 1e-2]    (the lambda of C + lambda/2 |W|^2)

and trains for a fixed number of epochs. The setting with the lowest validation error wins; only
that one network is ever run on the test set.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..network import mlp
from ..training import DivergedError, accuracy, fit
from .common import MNIST_SCALING, Result, mnist_splits, plain_log_axis, progress, single_threaded

BATCH_SIZES = (16, 32, 64, 128, 256)


def sample_setting(rng: np.random.Generator) -> dict:
    """One random point of the search space (see the module doc)."""
    return {
        "lr": float(10 ** rng.uniform(-3, 0)),
        "batch_size": int(rng.choice(BATCH_SIZES)),
        "width": int(round(2 ** rng.uniform(4, 9))),
        "weight_decay": float(10 ** rng.uniform(-6, -2)),
    }


@single_threaded
def run(out: Path, quick: bool, seed: int, data: Path | None = None) -> Result:
    if quick:
        splits, trials, epochs = mnist_splits(2000, 500, 1000, data=data), 4, 1
    else:
        splits, trials, epochs = mnist_splits(data=data), 20, 3
    rng = np.random.default_rng(seed)
    rows, nets = [], []
    for trial in range(1, trials + 1):
        setting = sample_setting(rng)
        progress("hyperparams", trial, trials, f"learning rate {setting['lr']:.3g}, batch size "
                 f"{setting['batch_size']}, width {setting['width']}, weight decay {setting['weight_decay']:.2g}")
        net = mlp([784, setting["width"], 10], hidden="relu", output="softmax", loss="cross_entropy",
                  dtype=np.float32, seed=seed + trial, input_scaling=MNIST_SCALING)
        t0 = time.perf_counter()
        try:
            fit(net, *splits.train, epochs=epochs, batch_size=setting["batch_size"], optimizer="momentum",
                lr=setting["lr"], momentum=0.9, weight_decay=setting["weight_decay"], schedule="cosine",
                seed=seed + trial, progress=False)
            val_error = 1 - accuracy(net, *splits.val)
        except DivergedError:
            val_error = math.nan
        rows.append({"trial": trial, **setting, "train_seconds": round(time.perf_counter() - t0, 2),
                     "val_error": val_error, "test_error": None})
        nets.append(net)
    finished = [r for r in rows if not math.isnan(r["val_error"])]
    summary = [f"{len(rows) - len(finished)} of {len(rows)} trials diverged (NaN loss)"]
    best = min(finished, key=lambda r: r["val_error"]) if finished else None
    if best is not None:
        best["test_error"] = 1 - accuracy(nets[best["trial"] - 1], *splits.test)
        summary.insert(0, (
            f"best by validation: trial {best['trial']}, learning rate {best['lr']:.3g}, "
            f"batch size {best['batch_size']}, width {best['width']}, weight decay {best['weight_decay']:.2g}: "
            f"validation error {best['val_error']:.2%}, "
            f"test error {best['test_error']:.2%} ({epochs} epoch{'s' if epochs > 1 else ''})"))
    return Result("hyperparams", rows, lambda fig: _plot(fig, rows, best, epochs), summary)


def _plot(fig, rows: list[dict], best: dict | None, epochs: int) -> None:
    axes = fig.subplots(2, 2).ravel()
    labels = {"lr": "learning rate", "batch_size": "batch size", "width": "hidden units",
              "weight_decay": "weight decay lambda"}
    finished = [r for r in rows if not math.isnan(r["val_error"])]
    failed = [r for r in rows if math.isnan(r["val_error"])]
    for ax, key in zip(axes, labels):
        ax.scatter([r[key] for r in finished], [100 * r["val_error"] for r in finished], c="tab:blue", label="trial")
        if failed:
            ax.scatter([r[key] for r in failed], [100.0] * len(failed), marker="x", c="tab:red",
                       label="diverged (shown at 100%)")
        if best is not None:
            ax.scatter([best[key]], [100 * best["val_error"]], marker="*", s=250, c="gold", edgecolors="black",
                       zorder=3, label="best by validation")
        ax.set_xscale("log")
        if key in ("batch_size", "width"):
            ticks = BATCH_SIZES if key == "batch_size" else (16, 32, 64, 128, 256, 512)
            ax.set_xticks(ticks, [str(t) for t in ticks])
            ax.set_xticks([], minor=True)
        plain_log_axis(ax)
        ax.set(xlabel=labels[key], ylabel="validation error (%, log scale)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"Random search on the validation split ({len(rows)} trials, one ReLU hidden layer, "
                 f"{epochs} epoch(s) each)")
