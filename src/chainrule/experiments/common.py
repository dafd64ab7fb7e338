"""What every experiment shares: its result table, writing it as CSV, PNG and printed text, and
its progress lines."""

from __future__ import annotations

import contextlib
import csv
import functools
import io
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from ..io import atomic_write
from ..plots import figure_png


@dataclass
class Result:
    """An experiment's outcome: rows of a table (dicts with the same keys), a function that draws
    the plot on a matplotlib Figure, and a few sentences that state the headline figures."""

    name: str
    rows: list[dict]
    plot: Callable[["object"], None]
    summary: list[str] = field(default_factory=list)


def best_time(fn: Callable[[], object], min_seconds: float) -> float:
    """The fastest of repeated calls of fn (at least 3, until min_seconds have passed), in seconds."""
    best, spent, calls = float("inf"), 0.0, 0
    while calls < 3 or spent < min_seconds:
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        best, spent, calls = min(best, dt), spent + dt, calls + 1
    return best


def csv_text(rows: list[dict]) -> str:
    """The rows as CSV with a header line."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else [])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def format_table(rows: list[dict]) -> str:
    """The rows as an aligned plain-text table."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[_cell(row.get(k)) for k in keys] for row in rows]
    widths = [max(len(k), *(len(c[i]) for c in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.rjust(w) for k, w in zip(keys, widths))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def result_paths(out: Path, name: str) -> tuple[Path, Path]:
    """The files an experiment writes: NAME.csv and NAME.png in ``out``."""
    return out / f"{name}.csv", out / f"{name}.png"


def save_result(result: Result, out: Path) -> tuple[Path, Path]:
    """Write NAME.csv and NAME.png into ``out`` (created now, not before the work), each atomically;
    return their paths.

    Both files are made in memory first: drawing the plot takes a while, and a Ctrl-C or a failure
    during it leaves the old pair. Then the two writes follow each other, so a new file can meet an
    old one only if the run stops between them; the PNG goes first, so a PNG that cannot be written
    leaves the CSV alone too."""
    png = figure_png(result.plot, (10, 6))
    table = csv_text(result.rows).encode()
    csv_path, png_path = result_paths(out, result.name)
    atomic_write(png_path, lambda f: f.write(png))
    atomic_write(csv_path, lambda f: f.write(table))
    return csv_path, png_path


def progress(name: str, step: int, steps: int, what: str) -> None:
    """A line on stderr as unit ``step`` of ``steps`` of an experiment's work begins, ``depth: relu, 3
    hidden layer(s) (13 of 20)``: a full run takes minutes, and a silent terminal looks like a hung one."""
    print(f"{name}: {what} ({step} of {steps})", file=sys.stderr, flush=True)


MNIST_SCALING = (33.32, 1 / 78.57, (28, 28))
"""(offset, scale, shape) for ``mlp(input_scaling=...)``: x -> (x - mean) / std of MNIST's pixels."""


@dataclass
class Splits:
    """MNIST for experiments: (images uint8 (m, 28, 28), labels) for training (the first 55,000
    training images), validation (the last 5,000, used for every choice) and test (reported only)."""

    train: tuple
    val: tuple
    test: tuple


def mnist_splits(n_train: int | None = None, n_val: int | None = None, n_test: int | None = None, *,
                 data: Path | None = None) -> Splits:
    """The three splits, each cut to its first n images when n is given (quick runs); MNIST from the
    folder ``data`` if given (``--data``), else where ``load_mnist`` looks."""
    from ..datasets import load_mnist

    mnist = load_mnist(data)
    X, y = mnist.train_images, mnist.train_labels
    return Splits((X[:55000][:n_train], y[:55000][:n_train]), (X[55000:][:n_val], y[55000:][:n_val]),
                  (mnist.test_images[:n_test], mnist.test_labels[:n_test]))


def plain_log_axis(ax, axis: str = "y") -> None:
    """A log-scale axis labelled in plain numbers (1, 2, 5, 10, 20, ...) instead of powers of ten."""
    from matplotlib.ticker import FuncFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    def minor(v: float, _) -> str:  # label 2, 3, 5 between the powers of ten, unless they would crowd
        lo, hi = sorted(target.get_view_interval())
        return f"{v:g}" if f"{v:.0e}"[0] in "235" and hi < 300 * lo else ""

    target.set_minor_formatter(FuncFormatter(minor))


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run NumPy's BLAS (and OpenMP) and, if it is loaded, PyTorch on one thread (threadpoolctl).
    On a shared machine a second thread that waits for a busy core makes small products many times
    slower, and one-core times are comparable from run to run and between the libraries compared."""
    from threadpoolctl import threadpool_limits

    torch = sys.modules.get("torch")
    threads = torch.get_num_threads() if torch else None
    with threadpool_limits(1):
        if torch:
            torch.set_num_threads(1)
        try:
            yield
        finally:
            if torch:
                torch.set_num_threads(threads)


def single_threaded(run: Callable[..., Result]) -> Callable[..., Result]:
    """An experiment's ``run`` under ``one_thread``."""

    @functools.wraps(run)
    def limited(*args, **kwargs) -> Result:
        with one_thread():
            return run(*args, **kwargs)

    return limited
