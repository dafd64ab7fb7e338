"""Agreement with PyTorch autograd in float64: the hand-derived gradients (and the optimiser
updates) against an independent implementation, to a relative error of 1e-10."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule
from chainrule.activations import ACTIVATIONS
from chainrule.gradcheck import relative_error
from chainrule.losses import LOSSES

TOLERANCE = 1e-10
TORCH_ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z: F.leaky_relu(z, 0.01),
    "identity": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def torch_loss(name, out, Y):
    m = out.shape[0]
    if name == "squared_error":
        return ((out - Y) ** 2).sum()
    if name == "half_squared_error":
        return 0.5 * ((out - Y) ** 2).sum()
    if name == "mean_squared_error":  # eq. (22): a mean over samples; MSELoss's .mean() would also divide by n_L
        return ((out - Y) ** 2).sum() / m
    if name == "cross_entropy":
        return F.cross_entropy(out, Y, reduction="mean")
    return F.binary_cross_entropy_with_logits(out, Y, reduction="sum") / m


def torch_loss_and_gradient(net, X, Y):
    """The loss of ``net`` on (X, Y) and its gradient, computed by torch autograd from the same weights."""
    names = [layer.name for layer in net.layers if isinstance(layer, chainrule.ActivationLayer)]
    params = [(torch.tensor(d.W, requires_grad=True), torch.tensor(d.b, requires_grad=True)) for d in net.dense]
    a = torch.tensor(X)
    for k, ((W, b), name) in enumerate(zip(params, names)):
        z = a @ W.T + b
        fused = k == len(params) - 1 and net.loss.takes_logits
        a = z if fused else TORCH_ACTIVATIONS[name](z)
    loss = torch_loss(net.loss.name, a, torch.tensor(Y))
    loss.backward()
    return loss.item(), [(W.grad.numpy(), b.grad.numpy()) for W, b in params]


def discrepancy(net, X, Y):
    """The largest relative error between chainrule's and torch's loss and gradients."""
    loss, grads = net.loss_and_gradient(X, Y)
    t_loss, t_grads = torch_loss_and_gradient(net, X, Y)
    errors = [abs(loss - t_loss) / max(abs(t_loss), 1e-300)]
    for (dW, db), (tW, tb) in zip(grads, t_grads):
        errors += [relative_error(dW, tW), relative_error(db, tb)]
    return max(errors)


def problem(sizes, hidden, output, loss, m, seed):
    rng = np.random.default_rng(seed)
    net = chainrule.mlp(sizes, hidden=hidden, output=output, loss=loss, seed=seed)
    for dense in net.dense:
        dense.b[:] = rng.normal(0, 0.5, dense.b.shape)
    X = rng.standard_normal((m, sizes[0]))
    Y = rng.integers(0, sizes[-1], m) if loss == "cross_entropy" else rng.uniform(0, 1, (m, sizes[-1]))
    return net, X, Y


def all_pairs():
    for loss, cls in LOSSES.items():
        for activation in ACTIVATIONS:
            hidden = activation if ACTIVATIONS[activation].elementwise else "tanh"
            yield hidden, cls.output_activation or activation, loss


@pytest.mark.parametrize("hidden, output, loss", sorted(set(all_pairs())))
def test_every_activation_and_loss_pair_agrees_with_torch(hidden, output, loss):
    net, X, Y = problem([5, 7, 6, 4], hidden, output, loss, m=9, seed=3)
    assert discrepancy(net, X, Y) < TOLERANCE


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 20), min_size=2, max_size=6), m=st.integers(1, 17),
       hidden=st.sampled_from(list(TORCH_ACTIVATIONS)[:-1]), loss=st.sampled_from(list(LOSSES)),
       seed=st.integers(0, 2**16))
def test_random_architectures_agree_with_torch(sizes, m, hidden, loss, seed):
    if loss == "cross_entropy" and sizes[-1] == 1:
        sizes = [*sizes[:-1], 2]
    net, X, Y = problem(sizes, hidden, LOSSES[loss].output_activation or "sigmoid", loss, m, seed)
    assert discrepancy(net, X, Y) < TOLERANCE


def test_input_gradient_agrees_with_torch():
    net, X, Y = problem([6, 8, 3], "tanh", "softmax", "cross_entropy", m=5, seed=11)
    x = torch.tensor(X, requires_grad=True)
    (W1, b1), (W2, b2) = [(torch.tensor(d.W), torch.tensor(d.b)) for d in net.dense]
    F.cross_entropy(torch.tanh(x @ W1.T + b1) @ W2.T + b2, torch.tensor(Y)).backward()
    assert relative_error(net.input_gradient(X, Y=Y), x.grad.numpy()) < TOLERANCE
    J = torch.autograd.functional.jacobian(lambda v: torch.softmax(torch.tanh(v @ W1.T + b1) @ W2.T + b2, dim=0),
                                           torch.tensor(X[0]))
    assert relative_error(net.jacobian(X[0]), J.numpy()) < TOLERANCE


@pytest.mark.parametrize("name, ours, theirs", [
    ("momentum", lambda: chainrule.SGD(0.1, momentum=0.9, weight_decay=0.01),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    ("nesterov", lambda: chainrule.SGD(0.1, momentum=0.9, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", lambda: chainrule.Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
])
def test_optimizer_steps_agree_with_torch_optim(name, ours, theirs):
    """Five steps on the same gradients: the parameters agree with torch.optim. (Weight decay: ours
    leaves the biases alone, so it is checked on the weight matrix only, as torch applies it to b too.)"""
    rng = np.random.default_rng(0)
    W, b = rng.standard_normal((3, 4)), rng.standard_normal(3)
    tW, tb = torch.tensor(W, requires_grad=True), torch.tensor(b, requires_grad=True)
    optimizer, t_optimizer = ours(), theirs([tW, tb])
    for _ in range(5):
        gW, gb = rng.standard_normal(W.shape), rng.standard_normal(b.shape)
        optimizer.step([W, b], [gW, gb])
        tW.grad, tb.grad = torch.tensor(gW), torch.tensor(gb)
        t_optimizer.step()
    assert relative_error(W, tW.detach().numpy()) < TOLERANCE
    if name != "momentum":
        assert relative_error(b, tb.detach().numpy()) < TOLERANCE
