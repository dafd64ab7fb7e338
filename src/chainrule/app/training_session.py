"""Live training in the drawing program: one small network at a time trained on MNIST or
Fashion-MNIST in a worker thread, by a plain loop of optimiser steps, reporting every few hundred
steps the training and validation loss and accuracy, the first layer's weights and each layer's
gradient norm |dC/dW^(k)|. Pause, resume and stop act between steps; the drawing clients keep
being served because the thread uses one BLAS thread and yields between steps. A run is refused if
it would take more than MAX_SECONDS, and stopped once no page has asked for its status for
IDLE_SECONDS (the page asks every 0.4 s while it is open)."""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass

import numpy as np

from .. import inspection
from ..arguments import is_integer, is_real
from ..layers import standard_scaling
from ..network import Network, mlp
from ..optimizers import SGD
from ..training import DivergedError, accuracy, check_finite, count_correct, minibatches, train_step

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu")
DATASETS = ("mnist", "fashion-mnist")
VALIDATION_SIZE = 2000
WEIGHT_IMAGES = 16
MAX_SECONDS = 900  # of estimated work for one run: the largest network the page offers, at its 3,000 steps, fits
MAX_REPORTS = 10_000  # a run's reports (a few numbers each), all kept for the page's curves
IDLE_SECONDS = 120  # twice the minute to which a browser may slow a hidden tab's timers
# the cost of a run, measured on a 2-core x86 server with one BLAS thread (a faster one finishes early):
STEP_SECONDS = 1e-4  # per step, whatever its size
PARAMETER_SECONDS = 1.2e-10  # per sample and parameter in a forward pass; a training step makes three passes
AUGMENT_SECONDS = 2.5e-5  # per augmented sample
REPORT_SECONDS = 2e-3  # per report, beyond its forward pass of the validation images


@dataclass
class TrainingConfig:
    """What the user sets before a run."""

    dataset: str = "mnist"
    lr: float = 0.01
    momentum: float = 0.9
    width: int = 64
    depth: int = 1
    activation: str = "relu"
    augment: bool = False
    batch_size: int = 32
    steps: int = 3000
    report_every: int = 200
    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict) -> "TrainingConfig":
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown training settings {sorted(unknown)}; known: {sorted(cls.__dataclass_fields__)}")
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, got {self.dataset!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        numbers = {"lr": (1e-6, 10.0), "momentum": (0.0, 0.999)}
        for name, (low, high) in numbers.items():
            value = getattr(self, name)
            if not (is_real(value) and low <= value <= high):
                raise ValueError(f"{name} must be a number in [{low:g}, {high:g}], got {value!r}")
        counts = {"width": (1, 1024), "depth": (1, 10), "batch_size": (1, 1024), "steps": (1, 200_000),
                  "report_every": (1, 10_000), "seed": (0, 2**31)}
        for name, (low, high) in counts.items():
            value = getattr(self, name)
            if not (is_integer(value) and low <= value <= high):
                raise ValueError(f"{name} must be an integer in [{low}, {high}], got {value!r}")
        if not isinstance(self.augment, bool):
            raise ValueError(f"augment must be true or false, got {self.augment!r}")
        if self.steps // self.report_every > MAX_REPORTS:
            raise ValueError(f"at most {MAX_REPORTS} reports a run: report_every must be at least "
                             f"steps / {MAX_REPORTS} = {-(-self.steps // MAX_REPORTS)}, got {self.report_every}")
        if (seconds := self.estimated_seconds()) > MAX_SECONDS:
            raise ValueError(f"this run is too large: about {seconds / 60:.0f} min of work here (steps x batch_size "
                             f"x parameters), at most {MAX_SECONDS / 60:.0f} min: use fewer steps, a smaller batch "
                             "or a smaller network")

    @property
    def sizes(self) -> list[int]:
        return [784, *[self.width] * self.depth, 10]

    def estimated_seconds(self) -> float:
        """The run's cost at the measured rates: each step a forward and backward pass of its batch
        through every parameter, each report a forward pass of the validation images."""
        parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(self.sizes, self.sizes[1:]))
        per_sample = 3 * parameters * PARAMETER_SECONDS + (AUGMENT_SECONDS if self.augment else 0.0)
        per_report = REPORT_SECONDS + VALIDATION_SIZE * parameters * PARAMETER_SECONDS
        reports = self.steps // self.report_every + 1
        return self.steps * (STEP_SECONDS + self.batch_size * per_sample) + reports * per_report


class TrainingSession:
    """At most one run per server. ``status()`` is what the page polls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._running = threading.Event()  # cleared while paused
        self._stop = threading.Event()
        self.net: Network | None = None
        self.config: TrainingConfig | None = None
        self.state = "idle"
        self.message = "set the options and start a run"
        self.reports: list[dict] = []
        self.weights: list[list[float]] = []
        self.step = 0
        self._watched = time.monotonic()  # when a page last asked for the status

    def start(self, values: dict) -> dict:
        config = TrainingConfig.from_dict(values)
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                raise ValueError("a training run is already going: stop it first")
            self.config, self.reports, self.weights, self.step, self.net = config, [], [], 0, None
            self.state, self.message = "loading", f"loading {config.dataset}..."
            self._stop.clear()
            self._running.set()
            self._watched = time.monotonic()
            self._thread = threading.Thread(target=self._run, args=(config,), daemon=True, name="chainrule-train")
            self._thread.start()
        return self.status()

    def pause(self) -> dict:
        if self.state == "running":
            self._running.clear()
            self.state, self.message = "paused", f"paused at step {self.step}"
        return self.status()

    def resume(self) -> dict:
        if self.state == "paused":
            self.state, self.message = "running", f"resumed at step {self.step}"
            self._running.set()
        return self.status()

    def stop(self, wait: float = 5.0) -> dict:
        self._stop.set()
        self._running.set()
        if self._thread is not None:
            self._thread.join(wait)
        return self.status()

    def trained_model(self) -> Network:
        """A copy of the network as trained so far, for the drawing pad."""
        if self.net is None or not self.reports:
            raise ValueError("there is no trained model yet: start a run and wait for its first report")
        if self.state == "error":
            raise ValueError(f"this run ended in an error ({self.message}): start a new one")
        if self.config.dataset != "mnist":
            raise ValueError("only a model trained on MNIST digits can be used for drawing digits")
        return self.net.copy()

    def status(self, since: int = 0) -> dict:
        self._watched = time.monotonic()
        return {"state": self.state, "message": self.message, "step": self.step,
                "config": asdict(self.config) if self.config else None,
                "reports": self.reports[since:], "weights": self.weights,
                "total": self.config.steps if self.config else 0}

    # ---- the worker thread ------------------------------------------------------------------
    def _run(self, config: TrainingConfig) -> None:
        from threadpoolctl import threadpool_limits

        try:
            with threadpool_limits(limits=1, user_api="blas"):
                self._train(config)
        except (ValueError, FileNotFoundError, OSError, DivergedError) as err:
            self.state, self.message = "error", str(err)

    def _train(self, config: TrainingConfig) -> None:
        from ..augment import Augmenter
        from ..datasets import load_dataset

        data = load_dataset(config.dataset, download=False)
        X, Y = data.train_images, data.train_labels.astype(np.intp)
        Xv, Yv = data.test_images[:VALIDATION_SIZE], data.test_labels[:VALIDATION_SIZE].astype(np.intp)
        sizes = config.sizes
        net = mlp(sizes, hidden=config.activation, output="softmax", loss="cross_entropy", dtype=np.float32,
                  seed=config.seed, input_scaling=standard_scaling(X[:10000]))
        net.metadata = {"dataset": config.dataset, "trained_in": "chainrule draw, live training", **asdict(config)}
        self.net = net
        optimizer = SGD(config.lr, momentum=config.momentum)
        augment = Augmenter() if config.augment else None
        rng = np.random.default_rng(config.seed)
        window = {"loss": 0.0, "correct": 0, "seen": 0, "steps": 0, "norms": np.zeros(len(net.dense))}
        self.state = "running"
        self.message = f"training {'-'.join(map(str, sizes))} {config.activation} on {config.dataset}"
        started = time.perf_counter()

        def record_norms(loss: float, grads: list, m: int) -> tuple[float, list]:
            window["norms"] += inspection.gradient_norms(grads)  # looks at the gradients, changes nothing
            return loss, grads

        while self.step < config.steps and not self._stop.is_set():
            for idx in minibatches(len(X), config.batch_size, rng):
                while not self._running.wait(1.0) and not self._unwatched():
                    pass  # paused
                if self._unwatched():
                    self._stop.set()
                if self.step >= config.steps or self._stop.is_set():
                    break
                xb = X[idx] if augment is None else augment(X[idx], rng)
                loss, out = train_step(net, optimizer, xb, Y[idx], rng=rng, where=f"at step {self.step + 1}",
                                       objective=record_norms)
                self.step += 1
                window["loss"] += loss * len(idx)
                window["correct"] += count_correct(out, Y[idx])
                window["seen"] += len(idx)
                window["steps"] += 1
                if self.step % config.report_every == 0 or self.step == config.steps:
                    self._report(net, Xv, Yv, window, time.perf_counter() - started, config.lr)
                    window = {"loss": 0.0, "correct": 0, "seen": 0, "steps": 0, "norms": np.zeros(len(net.dense))}
                time.sleep(0)  # let the server's thread take the interpreter
        if window["seen"]:
            self._report(net, Xv, Yv, window, time.perf_counter() - started, config.lr)
        stopped = self._stop.is_set()
        self.state = "stopped" if stopped else "done"
        self.message = f"{'stopped' if stopped else 'finished'} after {self.step} steps"
        if stopped and self._unwatched():
            self.message += f": no page has followed this run for {IDLE_SECONDS} s"

    def _unwatched(self) -> bool:
        return time.monotonic() - self._watched > IDLE_SECONDS

    def _report(self, net: Network, Xv: np.ndarray, Yv: np.ndarray, window: dict, seconds: float, lr: float) -> None:
        """Append the report of the steps since the last; DivergedError if the network has gone past
        float range on the validation digits while the training batches' loss stayed finite."""
        with np.errstate(over="ignore", invalid="ignore"):  # the overflow is named below, not warned of
            val_loss, val_accuracy = float(net.loss_value(Xv, Yv)), accuracy(net, Xv, Yv)
        norms = window["norms"] / window["steps"]  # the mean over the steps since the last report
        check_finite(val_loss, lr, f"on the validation digits at step {self.step}")
        check_finite(float(norms.sum()), lr, f"by step {self.step}", what="the gradients' norm")
        self.reports.append({
            "step": self.step,
            "seconds": round(seconds, 2),
            "loss": window["loss"] / window["seen"],
            "accuracy": window["correct"] / window["seen"],
            "val_loss": val_loss,
            "val_accuracy": val_accuracy,
            "grad_norms": norms.tolist(),
        })
        W = net.dense[0].W[:WEIGHT_IMAGES]
        self.weights = np.asarray(W, dtype=np.float64).round(4).tolist()
