"""Loss functions C(a, y), each beside its gradient dC/da.

Samples are rows: the network output a and the target y have shape (m, n_L).

    squared_error        C = sum_x |a(x) - y(x)|^2                 dC/da = 2 (a - y)
    half_squared_error   C = 1/2 sum_x |a(x) - y(x)|^2             dC/da = a - y
    mean_squared_error   C = 1/m sum_x |a(x) - y(x)|^2             dC/da = 2 (a - y) / m

Two losses are fused with the output activation, because together their gradient with respect to
the output layer's weighted input z is simple and numerically safe (no log of 0, no 0/0):

    cross_entropy          a = softmax(z),  C = -1/m sum_x sum_i y_i log a_i,   dC/dz = (a - y) / m
    binary_cross_entropy   a = sigmoid(z),  C = -1/m sum_x sum_i [y_i log a_i + (1 - y_i) log(1 - a_i)],
                                            dC/dz = (a - y) / m

For those, ``value`` and ``gradient`` take z, not a (``takes_logits`` is True), and
``output_activation`` names the activation they absorb. A loss with ``mean`` True is a mean over the
samples (its value per sample is C itself), one without a sum (C / m). Cross-entropy takes integer
labels as they are (``takes_labels``); every other loss takes one-hot rows in their place.

Every method refuses (ValueError) an output and a target of different shapes: NumPy would broadcast
an (m, 1) output against (m,) targets into an (m, m) difference and return a wrong loss. On the
training path that costs a comparison of shapes, and for integer labels one min and max over the m.
"""

from __future__ import annotations

import numpy as np

from .activations import Sigmoid


class Loss:
    """Base class: ``value(output, y)`` is the scalar C; ``gradient(output, y)`` is dC/d output."""

    name = "loss"
    takes_logits = False
    takes_labels = False
    mean = False
    output_activation: str | None = None

    def value(self, output: np.ndarray, y: np.ndarray) -> float:
        raise NotImplementedError

    def gradient(self, output: np.ndarray, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def value_and_gradient(self, output: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(C, dC/d output) at once, as a training step needs them; a loss may share work."""
        return self.value(output, y), self.gradient(output, y)

    def check_targets(self, y: np.ndarray) -> None:
        """Raise ValueError if the target rows ``y`` (m, n_L) are outside the loss's domain; any
        finite y suits a squared error."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class SquaredError(Loss):
    """C = sum over samples of |a - y|^2 (MAT1110, 000_ecdaadd94c7ab0cb.txt eq. (6)); dC/da = 2 (a - y)."""

    name = "squared_error"

    def value(self, output: np.ndarray, y: np.ndarray) -> float:
        output, y = _same_shape(output, y)
        d = output - y
        return float(np.vdot(d, d))

    def gradient(self, output: np.ndarray, y: np.ndarray) -> np.ndarray:
        output, y = _same_shape(output, y)
        return 2 * (output - y)


class HalfSquaredError(Loss):
    """C = 1/2 sum over samples of |a - y|^2 (the FYS-STK notes, 003_2b65d33d36faff62.txt); dC/da = a - y."""

    name = "half_squared_error"

    def value(self, output: np.ndarray, y: np.ndarray) -> float:
        output, y = _same_shape(output, y)
        d = output - y
        return 0.5 * float(np.vdot(d, d))

    def gradient(self, output: np.ndarray, y: np.ndarray) -> np.ndarray:
        output, y = _same_shape(output, y)
        return output - y


class MeanSquaredError(Loss):
    """C = 1/N sum_{i=1..N} sum_{j=1..n_L} (a_ij - y_ij)^2 with N = m, the number of samples: the mean
    over the samples of the squared error summed over the outputs (the Danish report,
    002_d52e423183c3ce2c.txt eq. (22)); dC/da = 2 (a - y) / m.

    PyTorch's ``MSELoss()`` and Keras's ``mean_squared_error`` also divide by the n_L outputs: their
    value is this one / n_L (the same when there is one output)."""

    name = "mean_squared_error"
    mean = True

    def value(self, output: np.ndarray, y: np.ndarray) -> float:
        output, y = _same_shape(output, y)
        d = output - y
        return float(np.vdot(d, d)) / len(d)

    def gradient(self, output: np.ndarray, y: np.ndarray) -> np.ndarray:
        output, y = _same_shape(output, y)
        return (2.0 / len(output)) * (output - y)


class CrossEntropy(Loss):
    """Softmax fused with cross-entropy, mean over samples. With a = softmax(z),
    C = -1/m sum y_i log a_i where log a_i = z_i - max z - log sum_j e^{z_j - max z};
    dC/dz = (a - y) / m. ``y`` is one-hot (m, n) or integer labels (m,)."""

    name = "cross_entropy"
    takes_logits = True
    takes_labels = True
    mean = True
    output_activation = "softmax"

    def value(self, output: np.ndarray, y: np.ndarray) -> float:
        return self.value_and_gradient(output, y)[0]

    def gradient(self, output: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.value_and_gradient(output, y)[1]

    def check_targets(self, y: np.ndarray) -> None:
        """dC/dz = a - y (per sample) needs sum_i y_i = 1: in general dC/dz = a sum_i y_i - y. So the
        rows must be probability distributions (one-hot or soft labels)."""
        _check_probabilities(y)
        if not np.allclose(y.sum(axis=1), 1, rtol=0, atol=1e-4):
            raise ValueError("cross-entropy targets must be probability rows that sum to 1 (one-hot or soft labels)")

    def value_and_gradient(self, output: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """One exponential serves both: with s = sum_j e^{z_j - max z}, log a = z - max z - log s
        and a = e^{z - max z} / s; ``value`` and ``gradient`` each take their half of it."""
        output, y = _logits_and_targets(output, y)
        shifted = output - output.max(axis=1, keepdims=True)
        a = np.exp(shifted)
        s = a.sum(axis=1, keepdims=True)
        a /= s
        m = output.shape[0]
        if y.ndim == 1:
            rows = np.arange(m)
            value = -float((shifted[rows, y] - np.log(s)[:, 0]).sum()) / m
            a[rows, y] -= 1
        else:
            value = -float(np.vdot(y, shifted - np.log(s))) / m
            a -= y
        a /= m
        return value, a


class BinaryCrossEntropy(Loss):
    """Sigmoid fused with binary cross-entropy, mean over samples. With a = sigmoid(z),
    -[y log a + (1 - y) log(1 - a)] = softplus(z) - y z, where softplus(z) = log(1 + e^z)
    = max(z, 0) + log(1 + e^{-|z|}) never overflows; dC/dz = (a - y) / m."""

    name = "binary_cross_entropy"
    takes_logits = True
    mean = True
    output_activation = "sigmoid"

    def value(self, output: np.ndarray, y: np.ndarray) -> float:
        output, y = _same_shape(output, y)
        softplus = np.maximum(output, 0) + np.log1p(np.exp(-np.abs(output)))
        return float(np.sum(softplus - y * output)) / output.shape[0]

    def gradient(self, output: np.ndarray, y: np.ndarray) -> np.ndarray:
        output, y = _same_shape(output, y)
        return (Sigmoid().forward(output) - y) / output.shape[0]

    def check_targets(self, y: np.ndarray) -> None:
        """Each y_i is the probability of class i: outside [0, 1] the value could fall below 0."""
        _check_probabilities(y)


def _same_shape(output: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``output`` and ``y`` as arrays, or a ValueError naming both shapes if they differ."""
    output, y = np.asarray(output), np.asarray(y)
    if output.shape != y.shape:
        raise ValueError(f"output and target y must have the same shape (m, n_L), got output {output.shape} "
                         f"and y {y.shape}")
    return output, y


def _logits_and_targets(z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z (m, n) and y as arrays, y rows of z's shape or integer labels (m,) in [0, n); a ValueError
    otherwise (a label -1 would silently index the last class)."""
    z, y = np.asarray(z), np.asarray(y)
    if z.ndim != 2:
        raise ValueError(f"cross-entropy takes logits z of shape (m, n), got {z.shape}")
    m, n = z.shape
    if y.shape == z.shape:
        return z, y
    if y.shape != (m,):
        raise ValueError(f"cross-entropy targets y must be integer labels of shape ({m},) or rows of the shape "
                         f"of z {z.shape}, got y {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"labels y must be integers, got dtype {y.dtype}")
    if m and (y.min() < 0 or y.max() >= n):
        raise ValueError(f"labels y must lie in [0, {n}), got values from {y.min()} to {y.max()}")
    return z, y


def _check_probabilities(y: np.ndarray) -> None:
    if y.size and (y.min() < 0 or y.max() > 1):
        raise ValueError(f"targets of a cross-entropy loss must lie in [0, 1], got values from {y.min()} to {y.max()}")


LOSSES: dict[str, type[Loss]] = {
    cls.name: cls
    for cls in (SquaredError, HalfSquaredError, MeanSquaredError, CrossEntropy, BinaryCrossEntropy)
}


def get_loss(name: str | Loss) -> Loss:
    """The loss called ``name`` (one of LOSSES), or ``name`` itself if it is one."""
    if isinstance(name, Loss):
        return name
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; choose one of {', '.join(LOSSES)}")
    return LOSSES[name]()
