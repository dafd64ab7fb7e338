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
from typing import Callable, Iterator

import numpy as np

from .arguments import check_seed, described, is_integer, is_real, positive_integer
from .network import Gradients, Network
from .optimizers import Optimizer, make_optimizer


Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


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


def minibatches(m: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """The row indices of one epoch: a random permutation of range(m) cut into consecutive
    minibatches of ``batch_size`` rows (the last one may be shorter)."""
    order = rng.permutation(m)
    for start in range(0, m, batch_size):
        yield order[start:start + batch_size]


def train_step(net: Network, optimizer: Optimizer, X: np.ndarray, Y: np.ndarray, lr: float | None = None,
               rng: np.random.Generator | None = None, where: str = "",
               objective: Callable[[float, Gradients, int], tuple[float, Gradients]] | None = None,
               ) -> tuple[float, np.ndarray]:
    """One step of gradient descent on the minibatch (X, Y), checked: backpropagation gives C and
    dC/dtheta (dropout on), ``objective(C, grads, m)`` may turn them into another objective's (a
    penalty, a rescaling), and ``optimizer`` updates the parameters with learning rate ``lr``.
    Returns (C, the output the loss took); raises DivergedError when C is NaN or infinite
    (``where`` names the step in its message)."""
    loss, grads, out = net.backprop(X, Y, training=True, rng=rng)
    if objective is not None:
        loss, grads = objective(loss, grads, len(X))
    check_finite(loss, optimizer.lr if lr is None else lr, where)
    optimizer.step(net.params(), flatten(grads), lr)
    return loss, out


def flatten(grads: Gradients) -> list[np.ndarray]:
    """[dC/dW^(1), dC/db^(1), dC/dW^(2), ...]: the gradients in the order of ``net.params()``."""
    return [g for pair in grads for g in pair]


def check_finite(loss: float, lr: float, where: str = "", what: str = "the loss") -> None:
    """DivergedError, with the hint to lower the learning rate, unless the loss (or ``what`` the
    number ``loss`` is) is finite."""
    if not math.isfinite(loss):
        raise DivergedError(f"{what} became {loss}{' ' + where if where else ''} with learning rate {lr:g}: "
                            f"lower the learning rate (for example to {lr / 10:g})")


class BestParameters:
    """The parameter arrays as they were at the lowest score offered so far; ``restore`` writes
    them back (``keep_best``: the epoch with the lowest validation loss)."""

    def __init__(self, params: list[np.ndarray]) -> None:
        self.params = params
        self.score = math.inf
        self.saved: list[np.ndarray] | None = None

    def offer(self, score: float) -> bool:
        """Keep a copy of the parameters if ``score`` is lower than every score before; whether it was."""
        if not score < self.score:
            return False
        self.score, self.saved = score, [p.copy() for p in self.params]
        return True

    def restore(self) -> None:
        for p, saved in zip(self.params, self.saved or []):
            p[...] = saved

    def restored_after(self, err: DivergedError, epoch: int | None) -> DivergedError:
        """The error to raise when training diverged: with parameters kept (``keep_best``, at ``epoch``)
        they are written back, so that the run's best outlives its divergence, and the message says so."""
        if self.saved is None:
            return err
        self.restore()
        return DivergedError(f"{err}; the parameters of epoch {epoch}, the best on validation, are restored")


Step = Callable[..., tuple[float, np.ndarray]]


def fit(net: Network, X: np.ndarray, Y: np.ndarray, *, epochs: int = 10, batch_size: int = 32,
        optimizer: Optimizer | str = "sgd", lr: float | None = None, momentum: float | None = None,
        weight_decay: float | None = None, schedule: str = "constant",
        validation_data: tuple[np.ndarray, np.ndarray] | None = None, time_budget: float | None = None,
        augment: Augment | None = None, keep_best: bool = False, seed: int | None = 0, progress: bool = True,
        callback: Callable[[int, History, Network], bool | None] | None = None, start_epoch: int = 0,
        history: History | None = None, step: Step = train_step) -> History:
    """Train ``net`` in place by minibatch gradient descent and return its History.

    ``optimizer`` is an Optimizer (holding its own rate) or one of "sgd", "momentum", "nesterov", "adam",
    built with ``lr`` (default 0.1), ``momentum`` (not for Adam) and ``weight_decay``. ``augment(batch, rng)``
    transforms each training batch. ``time_budget`` (seconds) sets the schedule's length and stops training
    when spent. ``keep_best`` restores the parameters of the epoch with the best validation loss at the end,
    or when a later epoch diverges. ``callback(epoch, history, net)`` runs after each epoch; returning True
    stops training. ``step`` takes each step (``train_step``, or ``chainrule.fused.train_step``, the same
    steps). Raises DivergedError (with a hint to lower the learning rate) when the loss becomes NaN or inf."""
    X, Y, validation, optimizer = _checked(net, X, Y, validation_data, epochs, batch_size, optimizer, lr, momentum,
                                           weight_decay, schedule, time_budget, start_epoch, augment, callback,
                                           keep_best, seed)
    history = history or History()
    rng = np.random.default_rng(seed)
    batch_size = min(batch_size, len(X))
    steps_per_epoch = math.ceil(len(X) / batch_size)
    t, total = start_epoch * steps_per_epoch, epochs * steps_per_epoch
    best = BestParameters(net.params())
    started = time.perf_counter()
    spent = 0.0  # the share of the time budget used
    bar = _progress_bar(epochs, start_epoch, progress)
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.perf_counter()
            loss_sum = hits = seen = 0
            for idx in minibatches(len(X), batch_size, rng):
                xb, yb = (X[idx] if augment is None else _augmented(augment, X[idx], rng)), Y[idx]
                if time_budget:
                    spent = (time.perf_counter() - started) / time_budget
                lr_t = optimizer.lr * schedule_factor(schedule, max(t / total, spent), epochs, epoch)
                loss, out = step(net, optimizer, xb, yb, lr_t, rng, f"at epoch {epoch + 1}, step {t + 1}")
                loss_sum += loss * len(yb) if net.loss.mean else loss
                hits += count_correct(out, yb, 0.0 if net.loss.takes_logits else 0.5) if net.is_classifier else 0
                seen, t = seen + len(yb), t + 1
                if spent >= 1:
                    break
            _record(history, net, epoch, loss_sum / seen, hits / seen, lr_t, time.perf_counter() - t0, validation)
            if keep_best and validation and best.offer(history.val_loss[-1]):
                history.best_epoch = epoch + 1
            bar.update(1)
            bar.set_postfix(_postfix(history))
            if callback is not None and callback(epoch + 1, history, net):
                history.stopped_early = "callback"
                break
            if spent >= 1:
                history.stopped_early = "time budget"
                break
    except DivergedError as err:
        raise best.restored_after(err, history.best_epoch) from None
    finally:
        bar.close()
    best.restore()
    return history


def _augmented(augment: Augment, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``augment(batch, rng)``, which must keep the batch's shape: a row lost or added would pair
    images with the wrong labels."""
    out = augment(batch, rng)
    if np.shape(out) != batch.shape:
        raise ValueError(f"augment must return a batch of the shape it is given, {batch.shape}, "
                         f"got {np.shape(out)}")
    return out


def _checked(net, X, Y, validation_data, epochs, batch_size, optimizer, lr, momentum, weight_decay, schedule,
             time_budget, start_epoch, augment, callback, keep_best, seed):
    """fit's arguments checked once at the boundary: X, Y, the validation pair, the optimiser and
    the functions it calls."""
    X = net.check_inputs(X, nonempty=True)
    Y = net.check_targets(Y, len(X))
    validation = None
    if validation_data is not None:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
            raise ValueError(f"validation_data must be a pair (X_val, Y_val), got {described(validation_data)}")
        Xv = net.check_inputs(validation_data[0], nonempty=True)
        validation = (Xv, net.check_targets(validation_data[1], len(Xv)))
    positive_integer("epochs", epochs)
    check_seed(seed)
    positive_integer("batch_size", batch_size)
    if not (is_integer(start_epoch) and 0 <= start_epoch <= epochs):
        raise ValueError(f"start_epoch must be an integer in [0, epochs = {epochs}], got {start_epoch!r}")
    if time_budget is not None and not (is_real(time_budget) and 0 < time_budget < math.inf):
        raise ValueError(f"time_budget must be a positive number of seconds (or None), got {time_budget!r}")
    if isinstance(optimizer, str):
        if optimizer == "adam" and momentum:
            raise ValueError(f"momentum={momentum!r} is for sgd, momentum and nesterov: Adam keeps its own "
                             "running averages (Adam(lr, beta1, beta2))")
        optimizer = make_optimizer(optimizer, 0.1 if lr is None else lr, momentum or 0.0, weight_decay or 0.0)
    elif not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a name (sgd, momentum, nesterov, adam) or an Optimizer such as "
                        f"SGD(0.1), got {described(optimizer)}")
    elif given := [name for name, value in (("lr", lr), ("momentum", momentum), ("weight_decay", weight_decay))
                   if value is not None]:
        raise ValueError(f"{', '.join(given)} would be ignored: the optimizer {type(optimizer).__name__} given "
                         "holds its own; set them when making it")
    schedule_factor(schedule, 0.0, epochs, 0)  # reject an unknown name before any work
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a function (batch, rng) -> batch, got {described(augment)}")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function (epoch, history, net) -> bool, got {described(callback)}")
    if keep_best and validation is None:
        raise ValueError("keep_best needs validation_data: the best epoch is the one with the lowest validation loss")
    return X, Y, validation, optimizer



def _record(history: History, net: Network, epoch: int, loss: float, accuracy: float, lr: float, seconds: float,
            validation: tuple[np.ndarray, np.ndarray] | None) -> None:
    """Append one epoch to the history: the mean loss per training sample and the accuracy on the
    training batches as they were seen, and the loss and accuracy on the validation data."""
    history.epoch.append(epoch + 1)
    history.loss.append(loss)
    history.lr.append(lr)
    history.seconds.append(seconds)
    if net.is_classifier:
        history.accuracy.append(accuracy)
    if validation is not None:
        Xv, Yv = validation
        out = net.forward_pass(Xv, net.loss_layers)[0]  # one pass serves the loss and the accuracy
        history.val_loss.append(net.loss.value(out, net.loss_targets(Yv)))
        if net.is_classifier:
            history.val_accuracy.append(count_correct(out, Yv, 0.0 if net.loss.takes_logits else 0.5) / len(Xv))


def accuracy(net: Network, X: np.ndarray, Y: np.ndarray, batch_size: int = 4096) -> float:
    """The share of rows whose predicted class equals the label (Y as labels or one-hot rows), for a
    classifier (softmax or sigmoid outputs)."""
    if not net.is_classifier:
        raise ValueError(f"accuracy counts predicted classes, and this network's {net.output_activation} output "
                         "gives no classes: measure a regression with net.loss_value(X, Y)")
    X = net.check_inputs(X, nonempty=True)
    Y = net.check_targets(Y, len(X))
    positive_integer("batch_size", batch_size)
    hits = 0
    for start in range(0, len(X), batch_size):
        hits += count_correct(net.forward(X[start:start + batch_size], check=False), Y[start:start + batch_size])
    return hits / len(X)


def count_correct(out: np.ndarray, Y: np.ndarray, threshold: float = 0.5) -> int:
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
        warnings.warn("install tqdm (pip install 'chainrule[progress]') to see a progress bar", stacklevel=3)
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
