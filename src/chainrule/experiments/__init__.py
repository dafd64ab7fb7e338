"""Experiments that answer the course material's questions with measurements.

Each experiment is a module of this package with ``run(out: Path, quick: bool, seed: int) ->
Result``; ``chainrule experiment NAME`` runs it, writes ``NAME.csv`` and ``NAME.png`` to the output
folder and prints its table."""

EXPERIMENTS = {
    "noise": "test error against Gaussian noise, salt-and-pepper, blur and shifts, with and without augmentation",
    "depth": "1 to 10 hidden layers, sigmoid versus ReLU: error, time and gradient norms per layer",
    "hyperparams": "random search over learning rate, batch size, width and weight decay",
    "baselines": "kNN, logistic regression, SVMs and a random forest against chainrule's networks",
    "accumulation": "backprop's left-to-right products against right-to-left Jacobian products",
    "language": "the same network in plain Python, NumPy per sample, NumPy minibatches and PyTorch",
    "adapt": "the page's adapt procedure on k corrections per class of held-out pen writers: their error and MNIST's",
}
