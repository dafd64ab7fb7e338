"""Why Python and NumPy? The same network trained and queried five ways, timed on MNIST.

Nielsen's 784-30-10 and a 784-100-10 network (sigmoid layers, C = sum_x |a - y|^2, SGD with
minibatches of 10, eta = 0.15, which is Nielsen's eta = 3 for his C / 2n) in

    plain Python          chainrule.pure: lists and loops, every multiply-add interpreted
    NumPy per sample      the loop below, as in Nielsen's network.py: column vectors, one
                          matrix-vector product per layer and sample
    NumPy minibatch       chainrule itself (fit): one matrix-matrix product per layer and
                          minibatch, float64 and float32
    PyTorch               eager mode on the CPU, float32 (when torch is installed)

Each starts from the same weights. One epoch is the 60,000 MNIST training images; a variant that
would take too long is timed on a slice (as many minibatches as fit in a time budget) and
extrapolated linearly, which the table says. One prediction is the best time of repeated calls on
a single image. NumPy's BLAS and PyTorch run on one thread (see ``one_thread``). Lines of code
count the non-blank lines that are not comments or docstrings in the code each variant runs (for
chainrule, its whole core modules involved, validation included).
"""

from __future__ import annotations

import ast
import inspect
import io
import random
import time
import tokenize
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np

from .. import activations, layers, losses, network, optimizers, pure, training
from ..network import mlp
from ..training import fit
from .common import Result, best_time, one_thread, progress

EPOCH = 60_000  # one epoch: the MNIST training set
BATCH = 10  # Nielsen's minibatch size
LR = 0.15  # for minibatches of 10; a minibatch of b samples steps with LR * 10 / b
SWEEP = (1, 100, 1000)  # more minibatch sizes, timed on the larger network
NETWORKS = ([784, 30, 10], [784, 100, 10])
CORE_MODULES = (network, layers, activations, losses, optimizers, training)


# ---- NumPy one sample at a time, as in Nielsen's network.py (column vectors) ---------------------
def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


class PerSampleNetwork:
    """Nielsen's loop: x is a column (n_0, 1); a minibatch's gradient is the sum of one backprop
    per sample, so every product is a matrix times a vector."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.weights = [W.copy() for W in weights]
        self.biases = [b.reshape(-1, 1).copy() for b in biases]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        for W, b in zip(self.weights, self.biases):
            a = sigmoid(W @ a + b)
        return a

    def update_mini_batch(self, batch: list[tuple[np.ndarray, np.ndarray]], lr: float) -> None:
        nabla_W = [np.zeros_like(W) for W in self.weights]
        nabla_b = [np.zeros_like(b) for b in self.biases]
        for x, y in batch:
            for nW, nb, (dW, db) in zip(nabla_W, nabla_b, self.backprop(x, y)):
                nW += dW
                nb += db
        for W, b, nW, nb in zip(self.weights, self.biases, nabla_W, nabla_b):
            W -= lr * nW
            b -= lr * nb

    def backprop(self, x: np.ndarray, y: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        activations = [x]
        for W, b in zip(self.weights, self.biases):
            activations.append(sigmoid(W @ activations[-1] + b))
        a = activations[-1]
        delta = 2 * (a - y) * a * (1 - a)  # dC/dz^L for C = |a - y|^2 and sigmoid outputs
        grads = []
        for l in range(len(self.weights) - 1, -1, -1):
            grads.append((delta @ activations[l].T, delta))
            if l:
                a_prev = activations[l]
                delta = (self.weights[l].T @ delta) * a_prev * (1 - a_prev)
        return grads[::-1]


# ---- PyTorch eager, float32 -------------------------------------------------------------------------
def torch_model(weights: list[np.ndarray], biases: list[np.ndarray]):
    import torch

    stack = []
    for W, b in zip(weights, biases):
        dense = torch.nn.Linear(W.shape[1], W.shape[0])
        with torch.no_grad():
            dense.weight.copy_(torch.from_numpy(W))
            dense.bias.copy_(torch.from_numpy(b))
        stack += [dense, torch.nn.Sigmoid()]
    return torch.nn.Sequential(*stack)


def torch_train(model, X, Y, batch_size: int, lr: float) -> None:
    import torch

    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    order = torch.randperm(len(X))
    for start in range(0, len(X), batch_size):
        idx = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = ((model(X[idx]) - Y[idx]) ** 2).sum()
        loss.backward()
        optimizer.step()


def torch_predict(model, x) -> int:
    import torch

    with torch.no_grad():
        return int(model(x[None]).argmax())


# ---- measuring --------------------------------------------------------------------------------------
def code_lines(source: str) -> int:
    """The lines of ``source`` that hold code: not blank, not only a comment, not a docstring."""
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        first = body[0] if isinstance(body, list) and body else None
        if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
            docstrings.update(range(first.lineno, first.end_lineno + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER}
    lines = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def lines_of_code() -> dict[str, int]:
    per_sample = inspect.getsource(sigmoid) + inspect.getsource(PerSampleNetwork)
    torch_code = "".join(inspect.getsource(f) for f in (torch_model, torch_train, torch_predict))
    return {
        "plain Python": code_lines(inspect.getsource(pure)),
        "NumPy per sample": code_lines(per_sample),
        "NumPy minibatch": sum(code_lines(inspect.getsource(m)) for m in CORE_MODULES),
        "PyTorch": code_lines(torch_code),
    }


def time_epoch(train: Callable[[int, int], None], chunk: int, budget: float) -> tuple[float, int]:
    """Seconds for one epoch of EPOCH samples: ``train(start, stop)`` trains on samples
    [start, stop) in minibatches; call it on chunks of ``chunk`` samples until the epoch is done or
    ``budget`` seconds have passed, then extrapolate linearly. Returns (seconds, samples timed).
    One untimed minibatch first lets lazy initialisation (PyTorch's, above all) happen outside."""
    train(0, BATCH)
    done, t0 = 0, time.perf_counter()
    while done < EPOCH and (done == 0 or time.perf_counter() - t0 < budget):
        train(done, min(done + chunk, EPOCH))
        done = min(done + chunk, EPOCH)
    return (time.perf_counter() - t0) * EPOCH / done, done


class Bench:
    """The measurements on one network; every variant starts from the same weights."""

    def __init__(self, sizes: list[int], X: np.ndarray, y: np.ndarray, quick: bool, seed: int) -> None:
        self.sizes, self.X, self.y, self.seed = sizes, X, y, seed
        base = mlp(sizes, hidden="sigmoid", output="sigmoid", loss="squared_error", seed=seed)
        self.weights, self.biases = [d.W for d in base.dense], [d.b for d in base.dense]
        self.onehot = np.eye(sizes[-1])[y]
        self.slow_budget, self.fast_budget, self.predict_budget = (0.5, 0.25, 0.02) if quick else (30.0, 20.0, 0.5)
        self.chunk = 1000 if quick else 10_000  # samples per call of fit or of the torch loop

    def row(self, variant: str, dtype: str, batch_size: int, epoch: tuple[float, int], predict: float | None,
            note: str) -> dict:
        return {"network": "-".join(map(str, self.sizes)), "variant": variant, "dtype": dtype,
                "batch_size": batch_size, "samples_timed": epoch[1], "extrapolated": epoch[1] < EPOCH,
                "epoch_seconds": epoch[0], "predict_us": None if predict is None else predict * 1e6, "note": note}

    def plain_python(self) -> dict:
        net = pure.PureNetwork([W.tolist() for W in self.weights], [b.tolist() for b in self.biases])

        def train(start: int, stop: int) -> None:  # lists made batch by batch: about 0.1% of the time
            net.sgd_step(self.X[start:stop].tolist(), self.y[start:stop].tolist(), LR)

        x = self.X[0].tolist()
        return self.row("plain Python", "float64", BATCH, time_epoch(train, BATCH, self.slow_budget),
                        best_time(lambda: net.predict(x), self.predict_budget), "chainrule.pure")

    def per_sample(self) -> dict:
        net = PerSampleNetwork(self.weights, self.biases)
        columns = [(x.reshape(-1, 1), t.reshape(-1, 1)) for x, t in zip(self.X, self.onehot)]
        random.Random(self.seed).shuffle(columns)

        def train(start: int, stop: int) -> None:
            net.update_mini_batch(columns[start:stop], LR)

        x = columns[0][0]
        return self.row("NumPy per sample", "float64", BATCH, time_epoch(train, BATCH, self.fast_budget),
                        best_time(lambda: net.feedforward(x).argmax(), self.predict_budget),
                        "Nielsen's network.py loop")

    def chainrule(self, dtype, batch_size: int = BATCH, predict: bool = True) -> dict:
        net = mlp(self.sizes, hidden="sigmoid", output="sigmoid", loss="squared_error", seed=self.seed, dtype=dtype)
        X = self.X.astype(dtype)

        def train(start: int, stop: int) -> None:
            fit(net, X[start:stop], self.y[start:stop], epochs=1, batch_size=batch_size,
                lr=LR * BATCH / batch_size, seed=self.seed, progress=False)

        epoch = time_epoch(train, self.chunk, self.fast_budget)
        seconds = best_time(lambda: net.predict(X[:1]), self.predict_budget) if predict else None
        return self.row("NumPy minibatch", np.dtype(dtype).name, batch_size, epoch, seconds,
                        "chainrule: fit, Network.predict")

    def pytorch(self, batch_size: int = BATCH, predict: bool = True) -> dict:
        import torch

        torch.manual_seed(self.seed)
        model = torch_model([W.astype(np.float32) for W in self.weights], [b.astype(np.float32) for b in self.biases])
        X, Y = torch.from_numpy(self.X.astype(np.float32)), torch.from_numpy(self.onehot.astype(np.float32))

        def train(start: int, stop: int) -> None:
            torch_train(model, X[start:stop], Y[start:stop], batch_size, LR * BATCH / batch_size)

        epoch = time_epoch(train, self.chunk, self.fast_budget)
        seconds = best_time(lambda: torch_predict(model, X[0]), self.predict_budget) if predict else None
        return self.row("PyTorch", "float32", batch_size, epoch, seconds, f"torch {torch.__version__} eager")


def load_images(data: Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """MNIST's training images (from the folder ``data`` if given) as rows x / 255 in float64, with
    their labels."""
    from ..datasets import load_mnist

    mnist = load_mnist(data)
    X = mnist.train_images.reshape(len(mnist.train_images), -1) / 255.0
    return X, mnist.train_labels.astype(np.intp)


def run(out: Path, quick: bool, seed: int, data: Path | None = None) -> Result:
    """Time every variant on both networks, then other minibatch sizes on the larger one;
    speed-ups are against plain Python on the same network."""
    X, y = load_images(data)
    try:
        import torch  # noqa: F401  (imported before one_thread, which pins its threads too)
        has_torch = True
    except ImportError:
        has_torch = False
    loc = lines_of_code()
    work = []  # (what, the measurement making its row)
    for sizes in NETWORKS:
        bench = Bench(sizes, X, y, quick, seed)
        name = "-".join(map(str, sizes))
        skipped = {"network": name, "variant": "PyTorch", "note": "skipped: torch is not installed"}
        # partial, not lambda: a lambda would read bench and skipped when called, and find the last network's
        work += [(f"{name}, plain Python", bench.plain_python), (f"{name}, NumPy per sample", bench.per_sample),
                 (f"{name}, NumPy minibatch float64", partial(bench.chainrule, np.float64)),
                 (f"{name}, NumPy minibatch float32", partial(bench.chainrule, np.float32)),
                 (f"{name}, PyTorch", bench.pytorch if has_torch else partial(dict, skipped))]
    for batch_size in SWEEP:  # on the last (larger) network
        work.append((f"{name}, NumPy minibatch float32, minibatches of {batch_size}",
                     partial(bench.chainrule, np.float32, batch_size, predict=False)))
        if has_torch:
            work.append((f"{name}, PyTorch, minibatches of {batch_size}",
                         partial(bench.pytorch, batch_size, predict=False)))
    rows = []
    with one_thread():
        for step, (what, measure) in enumerate(work, 1):
            progress("language", step, len(work), what)
            rows.append(measure())
    for r in rows:
        reference = next(p for p in rows if p["network"] == r["network"] and p["variant"] == "plain Python")
        r["lines_of_code"] = loc[r["variant"]]
        if r.get("epoch_seconds"):
            r["epoch_speedup"] = reference["epoch_seconds"] / r["epoch_seconds"]
        if r.get("predict_us"):
            r["predict_speedup"] = reference["predict_us"] / r["predict_us"]
    order = ["network", "variant", "dtype", "batch_size", "samples_timed", "extrapolated", "epoch_seconds",
             "epoch_speedup", "predict_us", "predict_speedup", "lines_of_code", "note"]
    rows = [{k: r.get(k) for k in order} for r in rows]
    return Result("language", rows, lambda fig: _plot(fig, rows), _summary(rows))


def _label(r: dict) -> str:
    return f"{r['variant']} {r['dtype']}" if r["variant"] == "NumPy minibatch" else r["variant"]


def _main_rows(rows: list[dict]) -> list[dict]:
    """The measured rows with Nielsen's minibatches of 10."""
    return [r for r in rows if r.get("epoch_seconds") and r["batch_size"] == BATCH]


def _summary(rows: list[dict]) -> list[str]:
    lines = []
    for name in dict.fromkeys(r["network"] for r in rows):
        part = [r for r in _main_rows(rows) if r["network"] == name]
        for key, scale, what in (("epoch_seconds", 1.0, "one epoch"), ("predict_us", 1e-6, "one prediction")):
            speedup = key.split("_")[0] + "_speedup"
            steps = ", ".join(f"{_label(r)} {_seconds(r[key] * scale)} (x{r[speedup]:.3g})" for r in part)
            lines.append(f"{name}, {what}: {steps}")
    lines += [f"skipped: {r['network']} {r['variant']}: {r['note']}" for r in rows if not r.get("epoch_seconds")]
    return lines


def _plot(fig, rows: list[dict]) -> None:
    fig.set_size_inches(15, 6.5)
    main = _main_rows(rows)
    labels = list(dict.fromkeys(_label(r) for r in main))
    networks = list(dict.fromkeys(r["network"] for r in main))
    axes = fig.subplots(1, 3, width_ratios=[1.2, 1.2, 1])
    height = 0.8 / len(networks)
    for ax, key, title in ((axes[0], "epoch_speedup", "training: one epoch of 60,000 images"),
                           (axes[1], "predict_speedup", "prediction: one image")):
        for i, name in enumerate(networks):
            by_label = {_label(r): r for r in main if r["network"] == name}
            ks = [k for k, label in enumerate(labels) if label in by_label]
            bars = ax.barh([k + (i - (len(networks) - 1) / 2) * height for k in ks],
                           [by_label[labels[k]][key] for k in ks], height=height * 0.95, label=name)
            for bar, k in zip(bars, ks):
                r = by_label[labels[k]]
                time_text = _seconds(r["epoch_seconds"] if key == "epoch_speedup" else r["predict_us"] * 1e-6)
                ax.text(bar.get_width() * 1.1, bar.get_y() + bar.get_height() / 2,
                        f"×{bar.get_width():.3g} ({time_text})", va="center", fontsize=8)
        ax.set_xscale("log")
        ax.set_xlim(0.7, max(r[key] for r in main) * 30)
        ax.set_xlabel("speed-up over plain Python (log scale)")
        ax.set_yticks(range(len(labels)), labels if ax is axes[0] else [])
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_title(title)
        ax.grid(True, axis="x", which="major", alpha=0.3)
    axes[0].legend(title="network", loc="upper right")
    _plot_sweep(axes[2], rows, networks[-1])
    fig.suptitle("The same sigmoid network on MNIST, trained by SGD with minibatches of 10 in five ways")


def _seconds(t: float) -> str:
    return f"{t:.3g} s" if t >= 1 else f"{t * 1e3:.3g} ms" if t >= 1e-3 else f"{t * 1e6:.3g} µs"


def _plot_sweep(ax, rows: list[dict], name: str) -> None:
    """Epoch time against minibatch size on one network, the per-sample variants as lines."""
    part = [r for r in rows if r["network"] == name and r.get("epoch_seconds")]
    for label in ("NumPy minibatch float32", "PyTorch"):
        points = sorted((r["batch_size"], r["epoch_seconds"]) for r in part if _label(r) == label)
        if points:
            ax.loglog(*zip(*points), "o-", label=label)
    for r, style in zip([r for r in part if r["variant"] in ("plain Python", "NumPy per sample")], (":", "--")):
        ax.axhline(r["epoch_seconds"], color="gray", linestyle=style, label=f"{r['variant']} (batch {r['batch_size']})")
    ax.set_ylim(top=max(r["epoch_seconds"] for r in part) * 8)
    ax.set_xlabel("minibatch size (log scale)")
    ax.set_ylabel("seconds per epoch (log scale)")
    ax.set_title(f"why minibatches: {name}, one epoch")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper right")
