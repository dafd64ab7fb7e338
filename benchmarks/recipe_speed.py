"""Epoch time of the bundled recipe (README's command for the bundled model) against the same recipe
in PyTorch eager, measured in the same run.

The recipe: 784-800-10, ReLU, softmax cross-entropy, float32, raw uint8 images standardised by a
first layer (mean and standard deviation of the training pixels), batch 128, Nesterov momentum 0.9
at learning rate 0.1 with weight decay 1e-4 and a cosine schedule, each batch warped by
``augment.Augmenter()`` (rotation, zoom, shift). The epoch is timed whole: shuffling, augmentation
and the training steps. PyTorch (2 threads) gets the same batches warped by the same NumPy
augmenter, standardises them with the same two numbers and steps with
torch.optim.SGD(nesterov=True), weight decay on the weights alone as chainrule's, and a cosine
LambdaLR; the epochs alternate, so that a change of the machine's load hits both alike. The last
line is ``ratio recipe R``, R = chainrule's epoch time / PyTorch's (the median of the paired ratios).

    flock /tmp/chainrule-cpu.lock python -u benchmarks/recipe_speed.py [--epochs 5]
"""

from __future__ import annotations

import math
import statistics
import sys
import time

import numpy as np

import chainrule
from chainrule.augment import Augmenter
from chainrule.cli import Parser, positive_int, run_reporting_errors
from chainrule.datasets import load_mnist
from chainrule.layers import standard_scaling

PROG = "benchmarks/recipe_speed.py"  # how errors name this script

SIZES = (784, 800, 10)
BATCH = 128
LR = 0.1
MOMENTUM = 0.9
WEIGHT_DECAY = 1e-4  # on the weight matrices, not the biases, on both sides


def chainrule_trainer(images: np.ndarray, labels: np.ndarray, epochs: int):
    """A function that runs one more epoch of chainrule.fit with the recipe and returns its seconds."""
    net = chainrule.mlp(SIZES, hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32, seed=0,
                        input_scaling=standard_scaling(images))
    optimizer = chainrule.make_optimizer("nesterov", LR, MOMENTUM, weight_decay=WEIGHT_DECAY)
    history = chainrule.History()
    augment = Augmenter()

    def epoch() -> float:
        k = len(history.epoch)
        t0 = time.perf_counter()
        chainrule.fit(net, images, labels, epochs=epochs, start_epoch=k, history=history, batch_size=BATCH,
                      optimizer=optimizer, schedule="cosine", augment=augment, progress=False, seed=k,
                      callback=lambda *_: True)  # one epoch per call, on the schedule of the whole run
        return time.perf_counter() - t0

    return epoch


def torch_trainer(images: np.ndarray, labels: np.ndarray, epochs: int):
    """A function that runs one more epoch of the same recipe in PyTorch eager on 2 CPU threads and
    returns its seconds."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(SIZES[0], SIZES[1]), nn.ReLU(), nn.Linear(SIZES[1], SIZES[2]))
    weights = [p for p in model.parameters() if p.ndim == 2]
    biases = [p for p in model.parameters() if p.ndim == 1]
    optimizer = torch.optim.SGD([{"params": weights, "weight_decay": WEIGHT_DECAY}, {"params": biases}], lr=LR,
                                momentum=MOMENTUM, nesterov=True)
    steps = epochs * math.ceil(len(images) / BATCH)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda t: 0.5 * (1 + math.cos(math.pi * min(t / steps, 1))))
    offset, scale, _ = standard_scaling(images)
    targets = torch.from_numpy(labels.astype(np.int64))
    augment = Augmenter()
    rng = np.random.default_rng(0)

    def epoch() -> float:
        t0 = time.perf_counter()
        order = rng.permutation(len(images))
        for start in range(0, len(images), BATCH):
            idx = order[start:start + BATCH]
            x = torch.from_numpy(augment(images[idx], rng))
            x = (x - offset) * scale
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(x), targets[torch.from_numpy(idx)])
            loss.backward()
            optimizer.step()
            schedule.step()
        return time.perf_counter() - t0

    return epoch


def main() -> None:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=positive_int, default=5, help="epochs per framework (default 5)")
    args = parser.parse_args()
    data = load_mnist()
    images, labels = data.train_images, data.train_labels
    ours, theirs = chainrule_trainer(images, labels, args.epochs), torch_trainer(images, labels, args.epochs)
    seconds, torch_seconds = [], []
    for _ in range(args.epochs):
        seconds.append(ours())
        torch_seconds.append(theirs())
    print(f"chainrule epochs (s) {', '.join(f'{t:.2f}' for t in seconds)}")
    print(f"torch epochs (s)     {', '.join(f'{t:.2f}' for t in torch_seconds)}")
    augment, batch = Augmenter(), images[:BATCH]
    rng = np.random.default_rng(0)
    per_batch = min(_timed(lambda: augment(batch, rng)) for _ in range(50))
    print(f"of which the affine augmentation, best of 50 batches: {per_batch * math.ceil(len(images) / BATCH):.2f} s "
          "per epoch (both sides)")
    paired = statistics.median(a / b for a, b in zip(seconds, torch_seconds))
    print(f"best epochs: chainrule {min(seconds):.3f} s, torch {min(torch_seconds):.3f} s, "
          f"ratio {min(seconds) / min(torch_seconds):.2f}")
    print(f"ratio recipe {paired:.2f}")


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    sys.exit(run_reporting_errors(PROG, main))
