"""MAT1110's network and its Matlab script (000_ecdaadd94c7ab0cb.txt, "En Matlabimplementasjon").

The network of eqs. (4)-(6): F = F_1 o F_2 o ... o F_r with F_k(x) = sigma(W^(k) x + b^(k)) on R^n,
r = n = 10, every entry of W^(k), b^(k), x and y drawn uniformly from [0, 1] (the script's ``rand``),
and f = |F(x) - y|^2. One gradient step lowers f.

Numbering. The text and its script number the layers from the output end: F_r acts first, so
``W(:,:,nl)`` (= W^(r)) meets x = ``z(:,nl)`` and ``W(:,:,1)`` (= W^(1)) gives ``z_0`` = F(x).
chainrule numbers from the input end: ``net.dense[i]`` (i = 0 acts first) holds W^(r-i), the script's
``W(:,:,r-i)``; chainrule's layer l = i + 1 is the script's k = r + 1 - l. ``script_layout`` stacks
chainrule's arrays in the script's order.

The printed script's bugs, line by line, with their fixes (``BUGS``):

1. ``    temp = (temp'*W(:,:,k).*sigmader(y(:,k+1)))';``
   ``temp'*W(:,:,k)`` is a 1 x n row and ``sigmader(y(:,k+1))`` an n x 1 column, and ``.*`` of a row
   and a column is an n x n matrix in GNU Octave and Matlab R2016b+ (implicit expansion; older Matlab
   stops with "Matrix dimensions must agree"). The next pass then fails at
   ``    dW(:,:,k) = temp*z(:,k)';`` (Octave: "operator *: nonconformant arguments (op1 is 10x10, op2
   is 1x10)"). Fix: transpose the column, so the row is multiplied componentwise by a row:
   ``    temp = (temp'*W(:,:,k).*sigmader(y(:,k+1))')';``
   which is the delta recursion delta^(k+1) = ((W^(k))^T delta^(k)) .* sigma'(y^(k+1)).
2. ``dW(:,:,nl) = temp*z(:,r)'; db(:,nl) = temp;``
   ``r`` is the text's name for the number of layers; the script calls it ``nl``, and ``r`` is
   undefined (Octave: "'r' undefined"). Fix: ``dW(:,:,nl) = temp*z(:,nl)'; db(:,nl) = temp;``
   (``z(:,nl)`` is the input x, which the first layer ``W(:,:,nl)`` multiplies).

With these two lines changed the script computes f's gradient exactly: run in GNU Octave on
chainrule's W, b, x, y, its f before and after the step and each layer's dW, db agree with chainrule's
to a relative 1e-10 (tests/test_examples.py).

Not bugs of the text, but what GNU Octave needs (dialect): Octave defines a script's functions only
when it reaches them, so ``f_forward``, ``sigma`` and ``sigmader`` must come before the lines that call
them (the text prints ``function y = sigmader(x)`` after the script, and in the script's order Octave
stops at "'f_forward' undefined"); and a script file must not begin with ``function`` (Octave would
take it for a function file), hence the ``1;`` in front. Matlab R2016b+ takes the script lines first
and the three functions at the end of one file instead. That the first listing's closing ``end`` and
``function y=sigma(x)`` sit in a second box is typesetting. ``fixed_script()`` is the printed script
with the two fixes, arranged for Octave.

The step. The script steps by the whole gradient, ``W-dW, b-db`` (step length 1); the text says the
step length is left out ("En ting som er utelatt her er hvor langt vi skal følge gradienten"). Step 1
lowers f in each of 200 seeds we tried, but little: the sigmoids are saturated (for seed 0, W x + b
lies in [1.5, 3.3] in the first layer and in [3.6, 7.9] in the others, where sigma' < 0.03), so
the gradient is small, |dW| falling from 0.16 at the output layer W^(1) to 2e-15 at W^(r). For seed
0, f goes from 3.24288 to 3.20842 (-0.034). Armijo backtracking (chainrule.optimizers.armijo_step:
halve alpha from 10 until f(theta - alpha g) <= f(theta) - 1e-4 alpha |g|^2) accepts alpha = 10 at
once there and lowers f to 2.42002 (-0.82); over the 200 seeds the median decrease is 0.0073 for
step 1 and 0.15 for Armijo's step (which took alpha = 10 in all of them).

The gradient comes from backpropagation (chainrule.Network.loss_and_gradient) and is checked against
the explicit product of the block matrices of the derivation, 2 (z_0 - y)^T V^(1) ... V^(k-1) U^(k),
evaluated from the left (chainrule.jacobians.gradient_left_to_right).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from .. import training
from ..io import atomic_write
from ..jacobians import flatten, gradient_left_to_right
from ..layers import ActivationLayer, Dense
from ..network import Network
from ..optimizers import armijo_step

N = 10  # width of every layer
R = 10  # number of layers
ALPHA0 = 10.0  # Armijo's first trial step

# The two listings exactly as printed (the first one's last lines sit in a second box).
LISTING_FORWARD = """\
function [z,y,z_0,val] = f_forward(W, b, xv, yv)
    nl = size(W,3);
    n = size(b,1);
    z = zeros(n,nl);
    y = zeros(n,nl);
    z(:,nl) = xv;
    y(:,nl) = W(:,:,nl)*z(:,nl) + b(:,nl);
    for k=(nl-1):(-1):1
        z(:,k) = sigma(y(:,k+1));
        y(:,k) = W(:,:,k)*z(:,k) + b(:,k);
    end
    z_0 = sigma(y(:,1));
    val = sum(abs(z_0-yv).^2);

end

function y=sigma(x)
    y = 1./(1+exp(-x));
end
"""
LISTING_STEP = """\
nl = 10;
n = 10;
W = rand(n,n,nl);
b = rand(n, nl);
xv = rand(n,1);
yv = rand(n,1);

dW = zeros(size(W));
db = zeros(size(b));

[z,y,z_0,val0] = f_forward(W, b, xv, yv);
temp = 2*(z_0-yv).*sigmader(y(:,1));
for k=1:(nl-1)
    dW(:,:,k) = temp*z(:,k)';
    db(:,k) = temp;
    temp = (temp'*W(:,:,k).*sigmader(y(:,k+1)))';
end
dW(:,:,nl) = temp*z(:,r)'; db(:,nl) = temp;

[z,y,z_0,val] = f_forward(W-dW, b-db, xv, yv);
val0
val

function y = sigmader(x)
    y = sigma(x).*(1-sigma(x));
end
"""


class Bug(NamedTuple):
    printed: str  # the line as printed
    fixed: str  # the line that replaces it
    why: str


BUGS = (
    Bug("    temp = (temp'*W(:,:,k).*sigmader(y(:,k+1)))';",
        "    temp = (temp'*W(:,:,k).*sigmader(y(:,k+1))')';",
        "a 1 x n row .* an n x 1 column is an n x n matrix (implicit expansion), so the next pass's "
        "temp*z(:,k)' fails: transpose the column; delta^(k+1) = ((W^(k))^T delta^(k)) .* sigma'(y^(k+1))"),
    Bug("dW(:,:,nl) = temp*z(:,r)'; db(:,nl) = temp;",
        "dW(:,:,nl) = temp*z(:,nl)'; db(:,nl) = temp;",
        "r is the text's name for the number of layers, the script's is nl: 'r' is undefined; "
        "z(:,nl) is the input x"),
)
OCTAVE_NOTE = ("GNU Octave only (dialect, not a bug): functions must be defined before the script lines "
               "that call them (sigmader is printed last), and a script file must not begin with "
               "'function', hence a '1;' first; Matlab R2016b+ wants the functions at the end instead.")


def fixed_script(fixes: Sequence[Bug] = BUGS) -> str:
    """The printed script with ``fixes`` (by default all of ``BUGS``), arranged for GNU Octave: ``1;``,
    then the three functions, then the script's lines."""
    script, sigmader = LISTING_STEP.split("\nfunction y = sigmader(x)\n")
    for bug in fixes:
        script = script.replace(bug.printed, bug.fixed)
    header = "1;  % a script file, not a function file (GNU Octave)\n"
    return header + LISTING_FORWARD + "\nfunction y = sigmader(x)\n" + sigmader + "\n" + script


def build(seed: int = 0, n: int = N, r: int = R) -> tuple[Network, np.ndarray, np.ndarray]:
    """The network F = F_1 o ... o F_r, F_k(x) = sigma(W^(k) x + b^(k)), and x, y: all entries drawn
    uniformly from [0, 1]. ``net.dense[0]`` acts first: it holds W^(r), the script's W(:,:,r)."""
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(r):
        layers += [Dense(rng.uniform(0, 1, (n, n)), rng.uniform(0, 1, n)), ActivationLayer("sigmoid")]
    x, y = rng.uniform(0, 1, n), rng.uniform(0, 1, n)
    return Network(layers, "squared_error"), x, y


def script_layout(per_layer: Sequence[np.ndarray]) -> np.ndarray:
    """chainrule's per-layer arrays (input end first) stacked on a last axis in the script's order:
    ``[..., k - 1]`` is the script's k-th, W(:,:,k) or b(:,k), with k = 1 the output layer."""
    return np.stack(per_layer[::-1], axis=-1)


def script_step(net: Network, x: np.ndarray, y: np.ndarray, step: float = 1.0) -> tuple[float, float]:
    """The script's step theta <- theta - step grad f (``W-dW, b-db``: step 1); returns (f before, f after)."""
    X, Y = x[None, :], y[None, :]
    before, grads = net.loss_and_gradient(X, Y)
    for layer, (dW, db) in zip(net.dense, grads):
        layer.W -= step * dW
        layer.b -= step * db
    return before, net.loss_value(X, Y)


def gradient_step(net: Network, x: np.ndarray, y: np.ndarray, alpha0: float = ALPHA0) -> tuple[float, float, float]:
    """One gradient step on f = |F(x) - y|^2 with an Armijo step length; returns (alpha, f before, f after)."""
    X, Y = x[None, :], y[None, :]

    def loss_and_gradient():
        loss, grads = net.loss_and_gradient(X, Y)
        return loss, training.flatten(grads)

    return armijo_step(loss_and_gradient, lambda: net.loss_value(X, Y), net.params(), alpha0=alpha0)


def main(out: str | Path = ".", seed: int = 0) -> None:
    """Name the script's bugs and fixes, write the fixed script to ``out``/mat1110_fixed.m, and print
    f before and after the script's step (length 1) and after an Armijo step."""
    print("The MAT1110 Matlab script (000_ecdaadd94c7ab0cb.txt, 'En Matlabimplementasjon'): its bugs and fixes")
    for number, bug in enumerate(BUGS, 1):
        print(f"{number}. printed: {bug.printed.strip()}\n   fixed:   {bug.fixed.strip()}\n   why: {bug.why}")
    print(OCTAVE_NOTE)
    path = Path(out) / "mat1110_fixed.m"
    atomic_write(path, lambda f: f.write(fixed_script().encode()))
    print(f"wrote {path} (the fixed script; run it with: octave-cli {path})\n")

    net, x, y = build(seed)
    _, grads = net.loss_and_gradient(x[None, :], y[None, :])
    backprop = flatten(grads)
    print(f"MAT1110 network: r = {R} layers of n = {N} sigmoid units, {backprop.size} parameters, seed {seed}; "
          f"net.dense[i] is the script's W(:,:,{R}-i)")
    print(f"|grad f| = {np.linalg.norm(backprop):.6e}; backpropagation vs the explicit block-matrix product: "
          f"max difference {np.max(np.abs(backprop - gradient_left_to_right(net, x, y))):.1e}")
    start = [p.copy() for p in net.params()]
    before, after_script = script_step(net, x, y)
    for p, saved in zip(net.params(), start):
        p[...] = saved
    alpha, _, after = gradient_step(net, x, y)
    print(f"f before the step: {before:.10f}")
    print(f"f after the script's step (length 1): {after_script:.10f}   (decrease {before - after_script:.3e})")
    if alpha == 0:
        print("Armijo: no step length lowered f (the gradient is zero to rounding)")
        return
    print(f"f after the step:  {after:.10f}   (step length alpha = {alpha:g}, Armijo backtracking from "
          f"{ALPHA0:g}; decrease {before - after:.3e})")
