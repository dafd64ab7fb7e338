"""Deeper is not automatically better: 1 to 10 hidden layers of the same width, sigmoid against
ReLU, each with its matching initialisation (Glorot for sigmoid, He for ReLU), trained the same way.

The delta recursion delta^(k) = sigma'(z^(k)) * (W^(k+1))^T delta^(k+1) multiplies one factor
sigma'(z) <= 1/4 per sigmoid layer, so the gradient |dC/dW^(k)| of the early layers shrinks
geometrically with depth (vanishing gradients); ReLU's sigma' is 0 or 1 and He's variance 2/n_in
keeps |delta| about constant. We measure |dC/dW^(k)|_F of every layer on a fixed batch at
initialisation and after training, the test error and the training time; the depth to use is the
one with the lowest validation error.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np

from ..init import default_initializer
from ..network import Network, mlp
from ..training import DivergedError, accuracy, fit
from .common import MNIST_SCALING, Result, mnist_splits, plain_log_axis, progress, single_threaded

ACTIVATIONS = ("sigmoid", "relu")


def layer_gradient_norms(net: Network, X: np.ndarray, y: np.ndarray) -> list[float]:
    """|dC/dW^(k)|_F for each Dense layer k = 1..L (C the mean cross-entropy over the batch)."""
    _, grads = net.loss_and_gradient(X, y)
    return [float(np.linalg.norm(dW)) for dW, _ in grads]


def train_one(activation: str, depth: int, splits, width: int, epochs: int, seed: int) -> tuple[dict, list, list]:
    """Train one network; return its table row and its per-layer gradient norms before and after."""
    net = mlp([784] + [width] * depth + [10], hidden=activation, output="softmax", loss="cross_entropy",
              dtype=np.float32, seed=seed, input_scaling=MNIST_SCALING)
    Xg, yg = splits.train[0][:1000], splits.train[1][:1000]
    before = layer_gradient_norms(net, Xg, yg)
    t0 = time.perf_counter()
    try:
        fit(net, *splits.train, epochs=epochs, batch_size=64, optimizer="momentum", lr=0.05, momentum=0.9,
            seed=seed, progress=False)
        val_error, test_error = 1 - accuracy(net, *splits.val), 1 - accuracy(net, *splits.test)
        after = layer_gradient_norms(net, Xg, yg)
    except DivergedError:
        val_error = test_error = math.nan
        after = [math.nan] * len(before)
    row = {
        "activation": activation, "init": default_initializer(activation), "hidden_layers": depth,
        "train_seconds": round(time.perf_counter() - t0, 2), "val_error": val_error, "test_error": test_error,
        "grad_first_init": before[0], "grad_last_init": before[-1],
        "grad_first_trained": after[0], "grad_last_trained": after[-1],
        "grad_per_layer_init": _layers_text(before), "grad_per_layer_trained": _layers_text(after),
    }
    return row, before, after


def _layers_text(norms: list[float]) -> str:
    """Per-layer norms as one CSV cell, layer 1 first: "2.41 3.07 ... 0.91" (3 significant digits)."""
    return " ".join(f"{norm:.3g}" for norm in norms)


@single_threaded
def run(out: Path, quick: bool, seed: int, data: Path | None = None) -> Result:
    if quick:
        splits, depths, width, epochs = mnist_splits(2000, 500, 1000, data=data), [1, 2, 4], 32, 1
    else:
        splits, depths, width, epochs = mnist_splits(data=data), list(range(1, 11)), 100, 3
    rows, norms = [], {}
    for activation in ACTIVATIONS:
        for depth in depths:
            progress("depth", len(rows) + 1, len(ACTIVATIONS) * len(depths), f"{activation}, {depth} hidden layer(s)")
            row, before, after = train_one(activation, depth, splits, width, epochs, seed)
            rows.append(row)
            norms[activation, depth] = (before, after)
    summary = []
    for activation in ACTIVATIONS:
        mine = [r for r in rows if r["activation"] == activation and not math.isnan(r["val_error"])]
        if mine:
            best = min(mine, key=lambda r: r["val_error"])
            deepest = max(depths)
            before = norms[activation, deepest][0]
            summary.append(
                f"{activation}: validation picks {best['hidden_layers']} hidden layer(s) (validation error "
                f"{best['val_error']:.2%}, test error {best['test_error']:.2%}); at {deepest} layers the first "
                f"layer's gradient is {before[0] / before[-1]:.2g} times the output layer's at initialisation")
    return Result("depth", rows, lambda fig: _plot(fig, rows, norms, max(depths), width, epochs), summary)


def _plot(fig, rows: list[dict], norms: dict, deepest: int, width: int, epochs: int) -> None:
    error_ax, time_ax, grad_ax = fig.subplots(1, 3)
    colors = {"sigmoid": "tab:blue", "relu": "tab:red"}
    for activation in ACTIVATIONS:
        mine = [r for r in rows if r["activation"] == activation]
        depths = [r["hidden_layers"] for r in mine]
        grad_ax.set_xticks(range(1, deepest + 2))
        label = f"{activation} ({mine[0]['init']})"
        color = colors[activation]
        error_ax.plot(depths, [100 * r["test_error"] for r in mine], "o-", color=color, label=f"{label}, test")
        error_ax.plot(depths, [100 * r["val_error"] for r in mine], "x--", color=color, alpha=0.6,
                      label=f"{label}, validation")
        time_ax.plot(depths, [r["train_seconds"] for r in mine], "o-", color=colors[activation], label=label)
        before, after = norms[activation, deepest]
        layers = range(1, len(before) + 1)
        grad_ax.semilogy(layers, before, "o-", color=colors[activation], label=f"{activation}, at initialisation")
        grad_ax.semilogy(layers, after, "s--", color=colors[activation], alpha=0.7,
                         label=f"{activation}, after training")
    plain_log_axis(error_ax)
    error_ax.set(xlabel="hidden layers", ylabel="error (%, log scale)",
                 title=f"Error ({width} units/layer, {epochs} epoch(s))")
    time_ax.set(xlabel="hidden layers", ylabel="seconds", title="Training time")
    grad_ax.set(xlabel=f"layer k ({deepest + 1} = output layer)", ylabel="|dC/dW^(k)| (Frobenius)",
                title=f"Gradient per layer ({deepest} hidden)")
    for ax in (error_ax, time_ax, grad_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Depth: sigmoid (Glorot) against ReLU (He) on MNIST")
