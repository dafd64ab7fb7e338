"""Why backpropagation goes from the left: the gradient of f = |F(x) - y|^2 for the MAT1110
network (r square sigmoid layers of width n, P = r (n^2 + n) parameters) evaluated three ways.

With the stage matrices B_k (chainrule.jacobians) the gradient is 2 (x_r - y)^T B_r ... B_1 E.

    right to left   J = B_r (... (B_1 E)): matrix-matrix products, each B_k (rows_k x cols_k)
                    times a cols_k x P matrix: 2 rows_k cols_k P flops, then 2 n P for the
                    final vector-matrix product; about 2 r P^3 / 2 ~ r^4 n^6 flops.
    left to right   v = (2 (x_r - y)^T B_r) B_(r-1) ...: vector-matrix products,
                    2 rows_k cols_k flops each; about r P^2 ~ r^3 n^4 flops.
    backpropagation the same left-to-right order without the zero and identity blocks of B_k
                    (Network.loss_and_gradient): per layer the forward W x (2 n^2), the
                    weight gradient delta x^T (n^2) and delta^T W for the layer below (2 n^2),
                    about 5 r n^2 flops: linear in the number of parameters.

Flops are counted from the matrix shapes (a multiply-add is two flops); times are measured on
the same B_k for both explicit orders, so building them is not part of either.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..jacobians import flatten, stage_matrices
from ..network import mlp
from .common import Result, best_time, progress, single_threaded

METHODS = ("right_to_left", "left_to_right", "backprop")


def stage_shapes(n: int, r: int) -> list[tuple[int, int]]:
    """The shapes (rows, cols) of B_1, ..., B_r for r layers n -> n: stage k maps
    (theta_k, theta_(k+1..r), x) of length p + later + n to (theta_(k+1..r), F_k(x))."""
    p = n * n + n
    return [(p * (r - k) + n, p * (r - k + 1) + n) for k in range(1, r + 1)]


def flops(n: int, r: int) -> dict[str, int]:
    """The multiply-add flops of each method for r square layers of width n (see the module doc)."""
    shapes = stage_shapes(n, r)
    P = r * (n * n + n)
    right = sum(2 * rows * cols * P for rows, cols in shapes) + 2 * n * P
    left = sum(2 * rows * cols for rows, cols in shapes)
    backprop = r * 2 * n * n + r * n * n + (r - 1) * 2 * n * n
    return {"right_to_left": right, "left_to_right": left, "backprop": backprop}


def measure(n: int, r: int, seed: int, min_seconds: float) -> dict:
    """Time the three ways for one (n, r), check they agree, and return a table row."""
    rng = np.random.default_rng(seed)
    net = mlp([n] * (r + 1), hidden="sigmoid", output="sigmoid", loss="squared_error", seed=seed, init="uniform01")
    x, y = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    Bs, out = stage_matrices(net, x)
    P = Bs[0].shape[1] - n
    v0 = 2 * (out - y)

    def right_to_left() -> np.ndarray:
        J = np.vstack([np.eye(P), np.zeros((n, P))])  # E = [I; 0]
        for B in Bs:
            J = B @ J
        return v0 @ J

    def left_to_right() -> np.ndarray:
        v = v0
        for B in reversed(Bs):
            v = v @ B
        return v[:P]

    X, Y = net.check_inputs(x[None]), net.check_targets(y[None], 1)

    def backprop() -> list:
        return net.loss_and_gradient(X, Y, check=False)[1]  # inputs checked once above: time the arithmetic

    reference = flatten(backprop())
    for name, fn in (("right_to_left", right_to_left), ("left_to_right", left_to_right)):
        if not np.allclose(fn(), reference, rtol=1e-8, atol=1e-12):
            raise AssertionError(f"{name} disagrees with backpropagation at n={n}, r={r}")
    counts = flops(n, r)
    row = {"n": n, "r": r, "parameters": P}
    for name, fn in (("right_to_left", right_to_left), ("left_to_right", left_to_right), ("backprop", backprop)):
        row[f"{name}_seconds"] = best_time(fn, min_seconds)
        row[f"{name}_flops"] = counts[name]
    return row


@single_threaded
def run(out: Path, quick: bool, seed: int) -> Result:
    """Sweep the width n at fixed depth r, and the depth r at fixed width n."""
    if quick:
        widths, fixed_r, depths, fixed_n, min_seconds = [2, 4, 8], 3, [1, 2, 4], 4, 0.01
    else:
        widths, fixed_r, min_seconds = [2, 3, 4, 6, 8, 11, 16, 23, 32], 3, 0.3
        depths, fixed_n = [1, 2, 3, 4, 6, 8, 12, 16, 24], 8
    sizes = [("width", n, fixed_r) for n in widths] + [("depth", fixed_n, r) for r in depths]
    rows = []
    for sweep, n, r in sizes:
        progress("accumulation", len(rows) + 1, len(sizes), f"n={n}, r={r}")
        rows.append({"sweep": sweep, **measure(n, r, seed, min_seconds)})
    big = rows[len(widths) - 1]
    summary = [
        f"at n={big['n']}, r={big['r']} (P={big['parameters']} parameters): right to left "
        f"{big['right_to_left_seconds'] * 1e3:.3g} ms ({big['right_to_left_flops']:.3g} flops), left to right "
        f"{big['left_to_right_seconds'] * 1e3:.3g} ms ({big['left_to_right_flops']:.3g} flops), backpropagation "
        f"{big['backprop_seconds'] * 1e3:.3g} ms ({big['backprop_flops']:.3g} flops)",
        "all three give the same gradient (checked to 1e-8 relative error at every size)",
    ]
    return Result("accumulation", rows, lambda fig: _plot(fig, rows, fixed_r, fixed_n), summary)


def _plot(fig, rows: list[dict], fixed_r: int, fixed_n: int) -> None:
    labels = {"right_to_left": "right to left (Jacobian matrices)", "left_to_right": "left to right (vector x B_k)",
              "backprop": "backpropagation (loss_and_gradient)"}
    axes = fig.subplots(2, 2)
    for col, (sweep, key, title) in enumerate((("width", "n", f"width n (r = {fixed_r} layers)"),
                                                ("depth", "r", f"layers r (width n = {fixed_n})"))):
        part = [row for row in rows if row["sweep"] == sweep]
        xs = [row[key] for row in part]
        for row_i, (suffix, ylabel) in enumerate((("seconds", "measured time (s)"), ("flops", "flops (counted)"))):
            ax = axes[row_i, col]
            for method in METHODS:
                ax.loglog(xs, [row[f"{method}_{suffix}"] for row in part], "o-", label=labels[method])
            ax.set_xticks(xs, [str(x) for x in xs], minor=False)
            ax.set_xticks([], minor=True)
            ax.set_xlabel(title)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.set_title(f"{ylabel.split(' (')[0]} against {key}")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Gradient of |F(x) - y|^2 for r square sigmoid layers: the order of the chain-rule products")
