"""How robust is a digit network to damaged images, and does training on damaged images help?

Four corruptions of the 0-255 test images, each at growing levels:

    gaussian         x + N(0, (s 255)^2) per pixel, clipped to [0, 255]         level s
    salt_and_pepper  each pixel set to 0 or 255 with probability p              level p
    blur             convolution with a Gaussian of width sigma pixels          level sigma
    shift            a random shift of up to d pixels along each axis           level d

One network is trained on clean images; for each corruption another is trained with that corruption
as augmentation (every minibatch corrupted at a level drawn uniformly from [0, largest level]).
Both are tested on the same corrupted test images.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..augment import affine, gaussian_smooth
from ..network import Network, mlp
from ..training import accuracy, fit
from .common import MNIST_SCALING, Result, mnist_splits, plain_log_axis, progress, single_threaded

LEVELS = {
    "gaussian": [0.0, 0.1, 0.2, 0.3, 0.45, 0.6],
    "salt_and_pepper": [0.0, 0.05, 0.1, 0.2, 0.3, 0.4],
    "blur": [0.0, 0.5, 1.0, 1.5, 2.0, 2.5],
    "shift": [0.0, 1.0, 2.0, 3.0, 4.0, 5.0],
}
UNITS = {"gaussian": "noise std / 255", "salt_and_pepper": "share of pixels", "blur": "Gaussian sigma (pixels)",
         "shift": "largest shift (pixels)"}


def corrupt(kind: str, images: np.ndarray, level: float, rng: np.random.Generator) -> np.ndarray:
    """The images (m, 28, 28) damaged by ``kind`` at ``level`` (see the module doc), float32 0-255."""
    x = images.astype(np.float32)
    if level == 0:
        return x
    if kind == "gaussian":
        return np.clip(x + rng.normal(0, 255 * level, x.shape).astype(np.float32), 0, 255)
    if kind == "salt_and_pepper":
        hit = rng.random(x.shape) < level
        x[hit] = 255 * (rng.random(int(hit.sum())) < 0.5)
        return x
    if kind == "blur":
        return gaussian_smooth(x, level).astype(np.float32)
    if kind == "shift":
        return affine(x, rng, rotation=0.0, scale=0.0, shift=level)
    raise ValueError(f"unknown corruption {kind!r}; choose one of {', '.join(LEVELS)}")


def augmentation(kind: str, largest: float):
    """A ``fit(augment=...)`` transform: the batch corrupted at a level uniform in [0, largest]."""
    return lambda batch, rng: corrupt(kind, batch, rng.uniform(0, largest), rng)


def train(splits, width: int, epochs: int, seed: int, augment=None) -> Network:
    net = mlp([784, width, 10], hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32,
              seed=seed, input_scaling=MNIST_SCALING)
    fit(net, *splits.train, epochs=epochs, batch_size=64, optimizer="momentum", lr=0.05, momentum=0.9,
        schedule="cosine", augment=augment, seed=seed, progress=False)
    return net


@single_threaded
def run(out: Path, quick: bool, seed: int, data: Path | None = None) -> Result:
    if quick:
        splits, width, epochs = mnist_splits(2000, 10, 1000, data=data), 64, 2
        levels = {kind: values[::2] for kind, values in LEVELS.items()}
    else:
        splits, width, epochs, levels = mnist_splits(data=data), 256, 5, LEVELS
    progress("noise", 1, len(levels) + 1, "training on clean images")
    clean = train(splits, width, epochs, seed)
    rows = []
    for k, (kind, values) in enumerate(levels.items()):
        progress("noise", k + 2, len(levels) + 1, f"training with {kind.replace('_', ' ')}, testing both")
        augmented = train(splits, width, epochs, seed, augmentation(kind, values[-1]))
        for level in values:
            X = corrupt(kind, splits.test[0], level, np.random.default_rng([seed, k, int(level * 1000)]))
            rows.append({"corruption": kind, "level": level, "unit": UNITS[kind],
                         "clean_model_error": 1 - accuracy(clean, X, splits.test[1]),
                         "augmented_model_error": 1 - accuracy(augmented, X, splits.test[1])})
    summary = []
    for kind in levels:
        first, last = [r for r in rows if r["corruption"] == kind][::len(levels[kind]) - 1]
        summary.append(
            f"{kind}: at level {last['level']:g} the test error is {last['clean_model_error']:.2%} trained clean, "
            f"{last['augmented_model_error']:.2%} trained with it (clean test images: "
            f"{first['clean_model_error']:.2%} and {first['augmented_model_error']:.2%})")
    return Result("noise", rows, lambda fig: _plot(fig, rows, splits.test[0], seed), summary)


def _plot(fig, rows: list[dict], images: np.ndarray, seed: int) -> None:
    kinds = list(dict.fromkeys(r["corruption"] for r in rows))
    grid = fig.subfigures(1, 2, width_ratios=[3, 1])
    axes = grid[0].subplots(2, 2).ravel()
    for ax, kind in zip(axes, kinds):
        mine = [r for r in rows if r["corruption"] == kind]
        levels = [r["level"] for r in mine]
        ax.plot(levels, [100 * r["clean_model_error"] for r in mine], "o-", label="trained on clean images")
        ax.plot(levels, [100 * r["augmented_model_error"] for r in mine], "s-",
                label=f"trained with {kind.replace('_', ' ')}")
        plain_log_axis(ax)
        ax.set(xlabel=UNITS[kind], ylabel="test error (%, log scale)", title=kind.replace("_", " "))
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    examples = grid[1].subplots(len(kinds), 1)
    rng = np.random.default_rng(seed)
    for ax, kind in zip(examples, kinds):
        largest = max(r["level"] for r in rows if r["corruption"] == kind)
        strip = [corrupt(kind, images[i:i + 1], level, rng)[0]
                 for i, level in enumerate(np.linspace(0, largest, 4))]
        ax.imshow(np.hstack(strip), cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(f"{kind.replace('_', ' ')}: 0 to {largest:g}", fontsize=9)
        ax.axis("off")
    fig.suptitle("Test error on damaged MNIST images: a network trained on clean images against one trained "
                 "with the damage")
