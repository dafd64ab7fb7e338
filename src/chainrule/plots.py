"""Figures for digit models, drawn with matplotlib (imported only when a figure is made) and saved
as PNG atomically: the confusion matrix and a grid of labelled images."""

from __future__ import annotations

import io
import os
from typing import Callable, Sequence

import numpy as np

from .io import atomic_write


def save_figure(draw: Callable[["object"], None], path: str | os.PathLike, size: tuple[float, float] = (8, 6)) -> None:
    """Call ``draw(fig)`` on a new matplotlib Figure and write it to ``path`` as PNG, atomically."""
    png = figure_png(draw, size)
    atomic_write(path, lambda f: f.write(png))


def figure_png(draw: Callable[["object"], None], size: tuple[float, float] = (8, 6)) -> bytes:
    """``draw(fig)`` on a new matplotlib Figure of ``size`` inches, as PNG bytes: drawn in memory, so
    that a write can follow at once (the drawing takes a while)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, dpi=100, layout="constrained")
    draw(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def draw_confusion(fig, matrix: np.ndarray, classes: Sequence[str], title: str = "") -> None:
    """The confusion matrix C[true, predicted] as a heat map with the counts written in, on a log
    colour scale so that the few mistakes stand out beside the large diagonal."""
    from matplotlib.colors import LogNorm

    ax = fig.add_subplot()
    image = ax.imshow(matrix + 1, cmap="Blues", norm=LogNorm())
    n = len(classes)
    for i in range(n):
        for j in range(n):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if i == j else "black")
    ax.set_xticks(range(n), classes, rotation=45 if max(map(len, classes)) > 2 else 0)
    ax.set_yticks(range(n), classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, label="count + 1")


def draw_image_grid(fig, images: np.ndarray, titles: Sequence[str], columns: int = 8, title: str = "") -> None:
    """Images (m, h, w) side by side in rows of ``columns``, dark ink on white, each with its title."""
    rows = max(1, -(-len(images) // columns))
    for k, (image, label) in enumerate(zip(images, titles)):
        ax = fig.add_subplot(rows, columns, k + 1)
        ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
        ax.set_title(label, fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title)
