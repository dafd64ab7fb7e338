"""Experiments that answer the course material's questions with measurements.

Each experiment is a module of this package with ``run(out: Path, quick: bool, seed: int) ->
Result``, and the keyword parameters ``data`` (the MNIST folder) and ``pen_data`` (the folder of the pen
collections) if it reads them, ``model`` if it starts from a trained model; ``chainrule experiment NAME``
runs it, writes ``NAME.csv`` and ``NAME.png`` to the output folder and prints its table."""

EXPERIMENTS = {  # name -> what it measures, and how long its full run took for docs/experiments.md
    "noise": "test error against Gaussian noise, salt-and-pepper, blur and shifts, with and without augmentation "
             "(full run: about 3 minutes)",
    "depth": "1 to 10 hidden layers, sigmoid versus ReLU: error, time and gradient norms per layer "
             "(full run: about 1 minute)",
    "hyperparams": "random search over learning rate, batch size, width and weight decay (full run: about 2 minutes)",
    "baselines": "kNN, logistic regression, SVMs and a random forest against chainrule's networks "
                 "(full run: about 4 minutes)",
    "accumulation": "backprop's left-to-right products against right-to-left Jacobian products "
                    "(full run: about 1 minute)",
    "language": "the same network in plain Python, NumPy per sample, NumPy minibatches and PyTorch "
                "(full run: about 5 minutes)",
    "adapt": "the page's adapt procedure on k corrections per class of held-out pen writers: their error and MNIST's "
             "(full run: 4-33 minutes, by how busy the cores are)",
}
