"""The explicit Jacobians of the derivation, for teaching and for tests (small networks only).

One sample x is a column vector here, as in the MAT1110 text (000_ecdaadd94c7ab0cb.txt): pass it (and
z, b, y) as an array of shape (n,) or as the column (n, 1); vectors come back of shape (n,). Layer k,
counted from the input, maps
x_k = F_k(x_(k-1); theta_k) = sigma(z),  z = W x_(k-1) + b,  theta_k = (W row by row, then b).
The text counts its r layers from the output end (eqs. (4), (7): F_r acts first), so its layer k is
layer r + 1 - k here.

    d sigma / dz          = diag(sigma'(z))                                   sigma_prime_diag
    d(Wx + b)/d(W, b)     = [ I (x) x^T  |  I ]   (x^T repeated on the diagonal, then I)   affine_jacobian
    U_k = dF_k/dtheta_k   = diag(sigma'(z)) [ I (x) x^T | I ]                  layer_jacobians
    V_k = dF_k/dx         = diag(sigma'(z)) W
(the text's names: U^(r) in the unnumbered display before its eq. (9), U^(k) and V^(k) :=
sigma'(y^(k)) W^(k) before eq. (11); our U_k, V_k are its U^(r+1-k), V^(r+1-k))

The whole network is a chain of stages on s_k = (theta_(k+1), ..., theta_r, x_k):
s_k = Phi_k(s_(k-1)), whose Jacobian is the block matrix (columns theta_k | theta_(k+1..r) | x_(k-1))

    B_k = [[ 0,   I,  0  ],
           [ U_k, 0,  V_k]]                                                       stage_matrix

This is the text's F'_(r+1-k) of eq. (11), F'_k = [[I, O, O], [O, U^(k), V^(k)]], with its first two
column blocks swapped (the text lists the pending parameters before theta_k); for k = 1 it is the
text's eq. (9), F'_r = [[I, O], [O, U^(r)]], so swapped, plus the column block (0; V_1) for x_0 = x,
which E drops. So d x_r / d theta = B_r B_(r-1) ... B_1 E with E = [I; 0] (x_0 does not depend on
theta), and for f = |x_r - y|^2 the gradient is 2 (x_r - y)^T B_r ... B_1 E. Evaluated from the
right that is a chain of matrix-matrix products (``parameter_jacobian``); from the left, a chain of
vector-matrix products (``gradient_left_to_right``), which is what backpropagation does, far more
cheaply.
"""

from __future__ import annotations

import numpy as np

from .activations import get_activation
from .layers import ActivationLayer, Dense
from .network import Network


def sigma_prime_diag(z: np.ndarray, activation: str = "sigmoid") -> np.ndarray:
    """The Jacobian of a componentwise activation at z: the diagonal matrix diag(sigma'(z))."""
    return np.diag(get_activation(activation).derivative(_vector(z, "z")))


def affine_jacobian(x: np.ndarray, n_out: int) -> np.ndarray:
    """The Jacobian of G(W, b) = W x + b with respect to (W row by row, then b): the n_out x
    (n_out n_in + n_out) block matrix [I (x) x^T | I], x^T repeated along the diagonal."""
    x = _vector(x, "x")
    return np.hstack([np.kron(np.eye(n_out), x[None, :]), np.eye(n_out)])


def layer_jacobians(W: np.ndarray, b: np.ndarray, x: np.ndarray,
                    activation: str = "sigmoid") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(U, V, F(x)) of the layer F(x) = sigma(W x + b), named as in 000_ecdaadd94c7ab0cb.txt (eq. (11)):
    U = dF/d(W, b) = diag(sigma'(z)) [I (x) x^T | I] and V = dF/dx = diag(sigma'(z)) W."""
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be a matrix (n_out, n_in), got shape {W.shape}")
    x, b = _vector(x, "x", W.shape[1]), _vector(b, "b", W.shape[0])
    z = W @ x + b
    D = sigma_prime_diag(z, activation)
    return D @ affine_jacobian(x, W.shape[0]), D @ W, get_activation(activation).forward(z)


def stage_matrix(U: np.ndarray, V: np.ndarray, n_later: int) -> np.ndarray:
    """B_k = [[0, I, 0], [U, 0, V]]: the Jacobian of s_(k-1) = (theta_k, later, x) -> s_k = (later, F(x)),
    where ``later`` holds the n_later parameters of the layers after k (U = dF/dtheta_k, V = dF/dx).
    The text's F'_(r+1-k) of eq. (11) with its first two column blocks swapped (layers counted from the input)."""
    n_out, n_in = V.shape
    p = U.shape[1]
    B = np.zeros((n_later + n_out, p + n_later + n_in))
    B[:n_later, p:p + n_later] = np.eye(n_later)
    B[n_later:, :p] = U
    B[n_later:, p + n_later:] = V
    return B


def dense_activations(net: Network) -> list[str]:
    """The name of the activation after each Dense layer of ``net`` ("identity" when none follows)."""
    names = []
    for i, layer in enumerate(net.layers):
        if isinstance(layer, Dense):
            following = net.layers[i + 1] if i + 1 < len(net.layers) else None
            names.append(following.name if isinstance(following, ActivationLayer) else "identity")
    return names


def network_layers(net: Network) -> list[tuple[np.ndarray, np.ndarray, str]]:
    """(W, b, activation name) for each Dense layer of a network built of Dense and activation layers."""
    for layer in net.layers:
        if not isinstance(layer, (Dense, ActivationLayer)):
            raise ValueError(f"the explicit Jacobians take Dense and activation layers only, got {layer!r}")
    names = dense_activations(net)
    if "softmax" in names:
        raise ValueError("the explicit block matrices take componentwise activations, not softmax")
    return [(dense.W.astype(np.float64), dense.b.astype(np.float64), name) for dense, name in zip(net.dense, names)]


def stage_matrices(net: Network, x: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """The block matrices B_1, ..., B_r at input x, and the output x_r."""
    layers = network_layers(net)
    sizes = [W.size + b.size for W, b, _ in layers]
    Bs = []
    for k, (W, b, name) in enumerate(layers):
        U, V, x = layer_jacobians(W, b, x, name)
        Bs.append(stage_matrix(U, V, sum(sizes[k + 1:])))
    return Bs, x


def parameter_jacobian(net: Network, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x_r, d x_r / d theta) for one input x, as the explicit product B_r ... B_1 E evaluated
    from the right (matrix-matrix products)."""
    Bs, out = stage_matrices(net, x)
    n_in = net.dense[0].n_in
    n_params = Bs[0].shape[1] - n_in
    J = np.vstack([np.eye(n_params), np.zeros((n_in, n_params))])  # E = [I; 0]
    for B in Bs:
        J = B @ J
    return out, J


def gradient_left_to_right(net: Network, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The gradient of f = |x_r - y|^2 with respect to all parameters (in ``flatten`` order) as
    2 (x_r - y)^T B_r ... B_1 E, evaluated from the left (vector-matrix products only)."""
    y = _vector(y, "y", net.n_outputs)
    Bs, out = stage_matrices(net, x)
    v = 2 * (out - y)
    for B in reversed(Bs):
        v = v @ B
    return v[: v.size - net.dense[0].n_in]  # v E: drop the components for x_0


def flatten(grads: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """One vector of all parameters (or gradients): W^(1) row by row, b^(1), W^(2), b^(2), ..."""
    return np.concatenate([np.concatenate([dW.reshape(-1), db.reshape(-1)]) for dW, db in grads])


def _vector(v: np.ndarray, name: str, n: int | None = None) -> np.ndarray:
    """``v`` as a float64 vector (n,), given as (n,) or as the column (n, 1) of the text; a ValueError
    naming ``name`` otherwise (NumPy would broadcast a column against b into an (n, n) matrix)."""
    v = np.asarray(v, dtype=np.float64)
    column = v.ndim == 2 and v.shape[1] == 1
    if not (v.ndim == 1 or column) or (n is not None and len(v) != n):
        length = "n" if n is None else n
        raise ValueError(f"{name} must have shape ({length},) or be a column ({length}, 1), got shape {v.shape}")
    return v[:, 0] if column else v
