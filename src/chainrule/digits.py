"""Digit models: loading one and checking it takes 28 x 28 images, the saliency map the drawing page
shows, and the counts ``chainrule eval`` reports (the confusion matrix, per-class accuracy and the
most confident mistakes)."""

from __future__ import annotations

import os

import numpy as np

from .arguments import is_integer
from .network import Network, load

IMAGE_SHAPE = (28, 28)


def load_digit_model(path: str | os.PathLike | None = None) -> Network:
    """A classifier of raw uint8 28 x 28 images (the bundled default model when ``path`` is None);
    a ValueError if the file holds a network of another architecture."""
    net = load(path)
    where = path or "the bundled model"
    if net.input_shape != IMAGE_SHAPE:
        raise ValueError(f"{where} takes inputs of shape {net.input_shape}, not raw 28 x 28 images: train digit "
                         "models with mlp(..., input_scaling=(offset, scale, (28, 28))) or chainrule train")
    if not net.is_classifier or net.n_outputs < 2:
        raise ValueError(f"{where} is not a classifier (output {net.output_activation}, {net.n_outputs} outputs)")
    return net


def check_digit_model(net: Network) -> Network:
    """``net`` itself if it classifies (28, 28) images into the 10 digits 0..9, else a ValueError."""
    if net.input_shape != IMAGE_SHAPE or net.n_outputs != 10 or not net.is_classifier:
        raise ValueError(f"the model must classify (28, 28) images into 10 digits; got input {net.input_shape} "
                         f"and {net.n_outputs} outputs")
    return net


def saliency(net: Network, images: np.ndarray) -> np.ndarray:
    """d a_k / dx for each image's top class k, divided by its largest magnitude so that it lies in
    [-1, 1] (the sign says which way a pixel pushes the score; an all-zero gradient stays zero)."""
    return probabilities_and_saliency(net, images)[1]


def probabilities_and_saliency(net: Network, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The output a^(L) (for a digit model, the class probabilities) and ``saliency``, from one
    forward pass (what the drawing page shows for each drawing)."""
    out, gradient = net.output_and_input_gradient(images)
    peak = np.abs(gradient).max(axis=tuple(range(1, gradient.ndim)), keepdims=True)
    return out, gradient / np.maximum(peak, 1e-30)


def class_names(net: Network) -> list[str]:
    """The names of the outputs saved with the model, or "0", "1", ..."""
    names = net.metadata.get("classes")
    if isinstance(names, list) and len(names) == net.n_outputs:
        return [str(n) for n in names]
    return [str(k) for k in range(net.n_outputs)]


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """C[i, j] = the number of samples of class i predicted as class j (rows sum to the class sizes).
    ``labels`` and ``predicted`` are integer classes in [0, n_classes), one of each per sample."""
    labels, predicted = np.asarray(labels), np.asarray(predicted)
    if labels.ndim != 1 or labels.shape != predicted.shape:
        raise ValueError(f"labels and predicted must be 1-D and of the same length, got shapes {labels.shape} "
                         f"and {predicted.shape}")
    for name, classes in (("labels", labels), ("predicted", predicted)):
        if classes.size and (classes.dtype.kind not in "iu" or classes.min() < 0 or classes.max() >= n_classes):
            raise ValueError(f"{name} must be integer classes in [0, {n_classes}), got {classes.dtype} values "
                             f"from {classes.min()} to {classes.max()}")
    matrix = np.zeros((n_classes, n_classes), np.int64)
    np.add.at(matrix, (labels.astype(np.intp), predicted.astype(np.intp)), 1)
    return matrix


def class_accuracies(matrix: np.ndarray) -> np.ndarray:
    """The share of each class predicted right: C[k, k] / sum_j C[k, j] from the confusion matrix C
    (0 for a class without samples)."""
    return np.diagonal(matrix) / np.maximum(1, matrix.sum(axis=1))


def confident_mistakes(probabilities: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """The indices of up to ``count`` misclassified samples, the most confident (highest probability
    of the wrong class) first."""
    probabilities, labels = np.asarray(probabilities), np.asarray(labels)
    if probabilities.ndim != 2 or labels.shape != (len(probabilities),) or labels.dtype.kind not in "iu":
        raise ValueError(f"confident_mistakes takes probabilities (m, classes) and integer labels (m,), got "
                         f"{probabilities.shape} and {labels.shape} {labels.dtype}")
    if not (is_integer(count) and count >= 0):
        raise ValueError(f"count must be a non-negative integer, got {count!r}")
    predicted = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(predicted != labels)
    order = np.argsort(-probabilities[wrong, predicted[wrong]], kind="stable")
    return wrong[order[:count]]
