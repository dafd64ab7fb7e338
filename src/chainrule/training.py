"""Training: the minibatch loop, learning-rate schedules and the history of a run.

One epoch shuffles the training rows, cuts them into minibatches and, for each, computes the loss
and gradient by backpropagation and lets the optimiser update the parameters. The learning rate at
step t of T is eta_t = eta_0 * schedule(t / T):

    constant   1
    step       gamma^floor(epoch / every)           (gamma = 0.1, every = a third of the epochs)
    cosine     (1 + cos(pi t / T)) / 2              (decays smoothly to 0 at the end)
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .network import Network
from .optimizers import Optimizer, make_optimizer


MEAN_LOSSES = ("cross_entropy", "binary_cross_entropy", "mean_squared_error")


class DivergedError(FloatingPointError):
    """The loss became NaN or infinite during training."""


@dataclass
class History:
    """Per-epoch records of a run: loss and accuracy on the training batches and on validation."""

    epoch: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: str | None = None

    def as_rows(self) -> list[dict]:
        keys = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"]
        n = len(self.epoch)
        return [{k: (getattr(self, k)[i] if i < len(getattr(self, k)) else None) for k in keys} for i in range(n)]


def schedule_factor(name: str, progress: float, epochs: int, epoch: int) -> float:
    """The factor eta_t / eta_0 of schedule ``name`` at ``progress`` = t / T in [0, 1]."""
    if name == "constant":
        return 1.0
    if name == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))
    if name == "step":
        every = max(1, math.ceil(epochs / 3))
        return 0.1 ** (epoch // every)
    raise ValueError(f"unknown schedule {name!r}; choose one of constant, step, cosine")


def fit(
    net: Network,
    X: np.ndarray,
    Y: np.ndarray,
    *,
    epochs: int = 10,
    batch_size: int = 32,
    optimizer: Optimizer | str = "sgd",
    lr: float = 0.1,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    schedule: str = "constant",
    validation_data: tuple[np.ndarray, np.ndarray] | None = None,
    time_budget: float | None = None,
    augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    keep_best: bool = False,
    seed: int | None = 0,
    progress: bool = True,
    callback: Callable[[int, History, Network], bool | None] | None = None,
    start_epoch: int = 0,
    history: History | None = None,
) -> History:
    """Train ``net`` in place by minibatch gradient descent and return its History.

    ``optimizer`` is an Optimizer or one of "sgd", "momentum", "nesterov", "adam" (built with ``lr``,
    ``momentum``, ``weight_decay``). ``augment(batch, rng)`` transforms each training batch.
    ``time_budget`` (seconds) sets the schedule's length and stops training when spent.
    ``keep_best`` restores the parameters of the epoch with the best validation loss at the end.
    ``callback(epoch, history, net)`` runs after each epoch; returning True stops training.
    Raises DivergedError (with a hint to lower the learning rate) when the loss becomes NaN or inf."""
    X = net.check_inputs(X)
    Y = net.check_targets(Y, len(X))
    if validation_data is not None:
        Xv = net.check_inputs(validation_data[0])
        Yv = net.check_targets(validation_data[1], len(Xv))
    if not (isinstance(epochs, int) and epochs >= 1):
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer, lr, momentum, weight_decay)
    schedule_factor(schedule, 0.0, epochs, 0)  # reject an unknown name before any work
    history = history or History()
    rng = np.random.default_rng(seed)
    m = len(X)
    batch_size = min(batch_size, m)
    steps_per_epoch = math.ceil(m / batch_size)
    total_steps = epochs * steps_per_epoch
    params = net.params()
    mean_loss = net.loss.name in MEAN_LOSSES  # loss per batch = mean over its rows
    classifier, threshold = net.is_classifier, 0.0 if net.loss.takes_logits else 0.5
    best = (math.inf, None)
    started = time.perf_counter()
    bar = _progress_bar(epochs, start_epoch, progress)
    step = start_epoch * steps_per_epoch
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            order = rng.permutation(m)
            loss_sum = correct = 0.0
            elapsed_fraction = 0.0
            for start in range(0, m, batch_size):
                idx = order[start:start + batch_size]
                xb, yb = X[idx], Y[idx]
                if augment is not None:
                    xb = augment(xb, rng)
                if time_budget:
                    elapsed_fraction = (time.perf_counter() - started) / time_budget
                progress_t = max(step / total_steps, elapsed_fraction)
                lr_t = optimizer.lr * schedule_factor(schedule, progress_t, epochs, epoch)
                # an SGD step needs only eta dC/dtheta, which backprop gets by scaling the output's
                # delta, and applies each eta dC/dW = (eta delta)^T X without forming it; the
                # passes' temporaries are fit's own, so layers may write over them
                linear = optimizer.linear
                loss, grads, out = net._loss_and_gradient(xb, yb, training=True, rng=rng, scale=lr_t if linear else 1.0,
                                                          factored=linear, overwrite=True)
                if not math.isfinite(loss):
                    raise DivergedError(
                        f"the loss became {loss} at epoch {epoch + 1}, step {step + 1} with learning rate "
                        f"{lr_t:g}: lower the learning rate (for example to {lr_t / 10:g})"
                    )
                flat = [g for pair in grads for g in pair]
                if linear:
                    optimizer.step_scaled(params, flat, lr_t)
                else:
                    optimizer.step(params, flat, lr_t)
                loss_sum += loss * len(idx) if mean_loss else loss
                if classifier:
                    correct += _hits(out, yb, threshold)
                step += 1
                if time_budget and elapsed_fraction >= 1:
                    break
            seen = min(m, start + batch_size)
            history.epoch.append(epoch + 1)
            history.loss.append(loss_sum / seen)  # the mean loss per training sample this epoch
            history.lr.append(lr_t)
            history.seconds.append(time.perf_counter() - t0)
            if classifier:
                history.accuracy.append(correct / seen)  # on the training batches as they were seen
            if validation_data is not None:
                out = net._forward(Xv, net._loss_layers)[0]  # one pass serves the loss and the accuracy
                history.val_loss.append(net.loss.value(out, net._dense_targets(Yv)))
                if classifier:
                    history.val_accuracy.append(_hits(out, Yv, threshold) / len(Xv))
                if keep_best and history.val_loss[-1] < best[0]:
                    best = (history.val_loss[-1], [p.copy() for p in params])
                    history.best_epoch = epoch + 1
            bar.update(1)
            bar.set_postfix(_postfix(history))
            if callback is not None and callback(epoch + 1, history, net):
                history.stopped_early = "callback"
                break
            if time_budget and elapsed_fraction >= 1:
                history.stopped_early = "time budget"
                break
    finally:
        bar.close()
    if keep_best and best[1] is not None:
        for p, saved in zip(params, best[1]):
            p[...] = saved
    return history


def accuracy(net: Network, X: np.ndarray, Y: np.ndarray, batch_size: int = 4096) -> float:
    """The share of rows whose predicted class equals the label (Y as labels or one-hot rows)."""
    hits = 0
    for start in range(0, len(X), batch_size):
        out = net._forward(X[start:start + batch_size], net.layers)[0]
        hits += _hits(out, Y[start:start + batch_size])
    return hits / max(1, len(X))


def _hits(out: np.ndarray, Y: np.ndarray, threshold: float = 0.5) -> int:
    """How many rows of the output pick the labelled class: the largest output, or for one unit,
    output >= threshold (0.5 for a probability, 0 for a logit)."""
    if out.shape[1] == 1:
        return int(np.count_nonzero((out[:, 0] >= threshold) == (Y.reshape(len(Y), -1)[:, 0] >= 0.5)))
    labels = Y if Y.ndim == 1 else Y.argmax(axis=1)
    return int(np.count_nonzero(out.argmax(axis=1) == labels))


def _postfix(history: History) -> dict:
    post = {"loss": f"{history.loss[-1]:.4f}", "s/epoch": f"{history.seconds[-1]:.1f}"}
    if history.accuracy:
        post["acc"] = f"{history.accuracy[-1]:.4f}"
    if history.val_accuracy:
        post["val_acc"] = f"{history.val_accuracy[-1]:.4f}"
    elif history.val_loss:
        post["val_loss"] = f"{history.val_loss[-1]:.4f}"
    return post


def _progress_bar(epochs: int, initial: int, enabled: bool):
    """A tqdm bar over epochs; tqdm is an optional dependency, so without it training runs silently."""
    if not enabled:
        return _NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        warnings.warn("install tqdm (pip install tqdm) to see a progress bar", stacklevel=3)
        return _NoBar()
    return tqdm(total=epochs, initial=initial, unit="epoch", dynamic_ncols=True)


class _NoBar:
    """What fit talks to when no progress bar is shown."""

    def update(self, n: int = 1) -> None:
        pass

    def set_postfix(self, postfix: dict) -> None:
        pass

    def close(self) -> None:
        pass
