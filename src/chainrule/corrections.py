"""Drawings a user corrected ("wrong, it was a 7"), kept as a small local dataset, and the
fine-tuning that adapts a copy of a model to them.

Each sample is one file ``<time>-<label>-<random>.npz`` holding the 28x28 image, the label and the
raw pen strokes (as JSON). Files are added, each written atomically, so the folder never holds a
half-written sample and two programs can add to it at once; the drawing server removes only a file it
saved itself (the page's undo of a mis-click). A person's handwriting is theirs:
the folder is made private (0700) and each file 0600. A file in it that is not a sample is skipped
with a warning."""

from __future__ import annotations

import json
import os
import time
import uuid
import warnings
from pathlib import Path

import numpy as np

from .io import atomic_write, load_arrays, remove_stale_temporaries
from .network import Network


def default_directory() -> Path:
    """``$XDG_DATA_HOME/chainrule/corrections`` (by default ``~/.local/share/chainrule/corrections``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "chainrule" / "corrections"


def save_sample(directory: str | os.PathLike, image: np.ndarray, label: int, strokes: list | None = None) -> Path:
    """Add one corrected drawing (``image`` (28, 28) uint8, ``label`` 0..9, the pen ``strokes`` as
    the page sent them) to ``directory`` as a new file, and return its path."""
    image = np.asarray(image)
    if image.shape != (28, 28) or image.dtype != np.uint8:
        raise ValueError(f"image must be a (28, 28) uint8 array, got {image.shape} {image.dtype}")
    if not (isinstance(label, (int, np.integer)) and 0 <= label <= 9):
        raise ValueError(f"label must be a digit 0..9, got {label!r}")
    path = private_folder(directory) / f"{time.time_ns()}-{int(label)}-{uuid.uuid4().hex[:8]}.npz"
    meta = np.array(json.dumps({"strokes": strokes or []}))
    atomic_write(path, lambda f: np.savez_compressed(f, image=image, label=np.int64(label), meta=meta), mode=0o600)
    return path


def private_folder(directory: str | os.PathLike) -> Path:
    """``directory``, created if need be, readable by its owner only (0700; a folder made by an
    earlier version with 0755 is tightened)."""
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    if directory.stat().st_mode & 0o077:
        directory.chmod(0o700)
    return directory


def tidy(directory: str | os.PathLike) -> None:
    """At a program's start: remove the temporary files of writes killed more than ten minutes ago."""
    if Path(directory).is_dir():
        remove_stale_temporaries(directory, older_than=600.0)


def load_samples(directory: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """All samples in ``directory``, oldest first: (images uint8 (m, 28, 28), labels int64 (m,)).
    Files that are not samples are skipped with a warning naming them."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"no corrections folder at {directory}")
    images, labels = [], []
    for path in sorted(directory.glob("*.npz")):
        try:
            image, label = _read(path)
        except ValueError as err:
            warnings.warn(f"skipping {err}", stacklevel=2)
            continue
        images.append(image)
        labels.append(label)
    if not images:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.int64)
    return np.stack(images), np.array(labels, np.int64)


def _read(path: Path) -> tuple[np.ndarray, int]:
    arrays = load_arrays(path, "a saved drawing")
    if "image" not in arrays or "label" not in arrays:
        raise ValueError(f"{path} is not a saved drawing (it holds {sorted(arrays)}, not image and label)")
    image, label = arrays["image"], arrays["label"]
    # the label is one integer (save_sample writes an int64): 3.7 is not a digit, nor "7" or [1, 2]
    if (image.shape != (28, 28) or image.dtype != np.uint8 or label.shape != () or label.dtype.kind not in "iu"
            or not 0 <= label <= 9):
        raise ValueError(f"{path} is not a saved drawing (image {image.shape} {image.dtype}, "
                         f"label {label.dtype} {repr(label.item()) if label.ndim == 0 else label.shape})")
    return image, int(label)


def adapt(net: Network, images: np.ndarray, labels: np.ndarray, mnist_images: np.ndarray,
          mnist_labels: np.ndarray, steps: int = 300, batch_size: int = 64, share: float = 0.25,
          lr: float = 0.01, seed: int = 0) -> Network:
    """A copy of ``net`` fine-tuned for ``steps`` minibatch steps on the corrections mixed with
    MNIST so that it does not forget: a ``share`` of the samples are corrections (each shown many
    times), the rest MNIST digits, shuffled together and all given small random shifts, rotations
    and zooms. The
    step ``lr`` decays to zero along a cosine, as in the model's own training, so that the copy comes
    to rest near a minimum instead of wandering at a constant step, which forgets more MNIST
    (+0.16 instead of +0.13 points of test error after 5 corrections per class of a new writer:
    ``chainrule experiment adapt``, docs/experiments.md). ``net`` itself is left unchanged."""
    from .augment import Augmenter
    from .training import fit

    if len(images) == 0:
        raise ValueError("there are no corrections to adapt to: correct a few drawings first")
    if not (isinstance(steps, int) and steps >= 1) or not 0 < share < 1:
        raise ValueError(f"steps must be a positive integer and share in (0, 1), got {steps!r} and {share!r}")
    rng = np.random.default_rng(seed)
    total = steps * batch_size
    n_extra = int(round(total * share))
    extra = rng.integers(0, len(images), n_extra)
    base = rng.choice(len(mnist_images), total - n_extra, replace=total - n_extra > len(mnist_images))
    X = np.concatenate([np.asarray(mnist_images)[base], np.asarray(images)[extra]])
    Y = np.concatenate([np.asarray(mnist_labels)[base], np.asarray(labels)[extra]]).astype(np.intp)
    copy = net.copy()
    fit(copy, X, Y, epochs=1, batch_size=batch_size, optimizer="momentum", lr=lr, momentum=0.9, schedule="cosine",
        augment=Augmenter(rotation=8.0, scale=0.08, shift=1.5), seed=seed, progress=False)
    copy.metadata = {**net.metadata, "adapted": {"corrections": int(len(images)), "steps": steps}}
    return copy
