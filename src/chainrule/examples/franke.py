"""Regression: a network fits the Franke function on the unit square (the test surface of the
FYS-STK course notes),

    f(x, y) = 3/4 exp(-(9x - 2)^2/4 - (9y - 2)^2/4) + 3/4 exp(-(9x + 1)^2/49 - (9y + 1)/10)
            + 1/2 exp(-(9x - 7)^2/4 - (9y - 3)^2/4) - 1/5 exp(-(9x - 4)^2 - (9y - 7)^2).

A 2-40-40-1 network with tanh hidden layers and an identity output is trained on noisy samples
z = f(x, y) + eps, eps ~ N(0, noise^2), with the mean squared error C = 1/N sum (a - z)^2 and Adam,
and judged on a clean 50 x 50 grid by its mean squared error and R^2 = 1 - SS_res / SS_tot.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..io import atomic_write
from ..network import Network, mlp
from ..training import History, fit


def franke(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The Franke function f(x, y) (formula above), componentwise."""
    return (0.75 * np.exp(-(9 * x - 2) ** 2 / 4 - (9 * y - 2) ** 2 / 4)
            + 0.75 * np.exp(-(9 * x + 1) ** 2 / 49 - (9 * y + 1) / 10)
            + 0.5 * np.exp(-(9 * x - 7) ** 2 / 4 - (9 * y - 3) ** 2 / 4)
            - 0.2 * np.exp(-(9 * x - 4) ** 2 - (9 * y - 7) ** 2))


def samples(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n points drawn uniformly from the unit square (rows of X) and z = f + N(0, noise^2), shape (n, 1)."""
    X = rng.uniform(0, 1, (n, 2))
    z = franke(X[:, 0], X[:, 1]) + noise * rng.standard_normal(n)
    return X, z[:, None]


def grid(points: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A points x points grid on the unit square: the meshgrid arrays and the rows (x, y) in order."""
    g = np.linspace(0, 1, points)
    gx, gy = np.meshgrid(g, g)
    return gx, gy, np.column_stack([gx.ravel(), gy.ravel()])


def train(seed: int = 0, n: int = 1000, noise: float = 0.05, epochs: int = 300) -> tuple[Network, History]:
    """The 2-40-40-1 tanh network trained with Adam on n noisy samples."""
    rng = np.random.default_rng(seed)
    X, z = samples(n, noise, rng)
    net = mlp([2, 40, 40, 1], hidden="tanh", output="identity", loss="mean_squared_error", seed=seed)
    history = fit(net, X, z, epochs=epochs, batch_size=32, optimizer="adam", lr=0.01, schedule="cosine",
                  seed=seed, progress=False)
    return net, history


def r2_score(truth: np.ndarray, prediction: np.ndarray) -> float:
    """R^2 = 1 - sum (t - p)^2 / sum (t - mean t)^2."""
    return 1.0 - float(np.sum((truth - prediction) ** 2) / np.sum((truth - truth.mean()) ** 2))


def main(out: str | Path = ".", seed: int = 0, epochs: int = 300) -> None:
    """Train, print the grid error, and write franke.png (truth, fit, loss curve) into ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    Path(out).mkdir(parents=True, exist_ok=True)  # fail before training, not after, if out is unusable
    net, history = train(seed, epochs=epochs)
    gx, gy, rows = grid()
    truth = franke(gx, gy)
    fitted = net.forward(rows).reshape(gx.shape)
    mse = float(np.mean((truth - fitted) ** 2))
    print(f"Franke function, 2-40-40-1 tanh network, Adam, {epochs} epochs on 1000 noisy samples, seed {seed}")
    print(f"on a clean 50 x 50 grid: mean squared error {mse:.2e}, R^2 = {r2_score(truth, fitted):.4f}")

    fig = Figure(figsize=(13, 4.2), dpi=100, layout="constrained")
    left, middle, right = fig.subplots(1, 3)
    levels = np.linspace(min(truth.min(), fitted.min()), max(truth.max(), fitted.max()), 21)
    for ax, values, title in ((left, truth, "Franke function"), (middle, fitted, "network")):
        filled = ax.contourf(gx, gy, values, levels=levels, cmap="viridis")
        ax.set(title=title, xlabel="x", ylabel="y", aspect="equal")
    fig.colorbar(filled, ax=[left, middle], shrink=0.9)
    right.semilogy(history.epoch, history.loss)
    right.set(xlabel="epoch", ylabel="training loss (mean squared error)",
              title=f"grid R^2 = {r2_score(truth, fitted):.4f}")
    path = Path(out) / "franke.png"
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
    print(f"wrote {path}")
