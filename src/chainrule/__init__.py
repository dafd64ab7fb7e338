"""chainrule: feed-forward neural networks whose every gradient is derived by hand with the chain rule.

    import chainrule
    net = chainrule.mlp([2, 3, 1], hidden="tanh", output="identity", loss="half_squared_error")
    loss, grads = net.loss_and_gradient(X, Y)      # grads[k] == (dC/dW, dC/db) for net.dense[k]
    history = chainrule.fit(net, X, Y, epochs=10)

NumPy is the only dependency of this core. ``chainrule.fit`` is ``training.fit`` taking each step
through ``chainrule.fused`` (the same steps, fewer passes over memory).
"""

from .activations import ACTIVATIONS, get_activation
from .gradcheck import gradcheck
from .io import save
from .layers import ActivationLayer, Dense, Dropout, Standardize
from .losses import LOSSES, get_loss
from .network import Network, load, mlp
from .optimizers import SGD, Adam, armijo_step, make_optimizer
from .fused import fit
from .training import DivergedError, History, accuracy

__version__ = "0.1.0"

__all__ = [
    "ACTIVATIONS", "LOSSES", "Adam", "ActivationLayer", "Dense", "DivergedError", "Dropout", "History",
    "Network", "SGD", "Standardize", "accuracy", "armijo_step", "fit", "get_activation", "get_loss",
    "gradcheck", "load", "make_optimizer", "mlp", "save",
]
