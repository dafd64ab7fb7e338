"""Training speed of chainrule's own ``fit`` against PyTorch eager, measured in the same run.

For 784-128-10 and 784-800-10 (ReLU, softmax cross-entropy, batch 128, plain SGD, float32, the 60000
MNIST training images) it prints seconds per epoch of ``chainrule.fit`` (progress bar off) and of a
PyTorch eager loop on the CPU with 2 threads (nn.Linear/ReLU/Linear, F.cross_entropy, torch.optim.SGD,
zero_grad(set_to_none=True), the same float32 data, batches indexed by a random permutation as fit
does), their ratio (the epochs alternate between the two, so that a change of the machine's load hits
both alike; printed as the ratio of the best epochs and as the median of the paired ratios, one
per alternation, which a single lucky epoch of either side cannot move), chainrule's achieved
GFLOP/s against NumPy's float32 matrix-multiply peak (the best of 2048 x 2048 products timed before,
between and after the epochs; both the work done and the conventional 6 flops per weight per
sample), the resident memory after each epoch (it must stay flat), and the median time of one
single-image prediction (best of 5 blocks). The last lines are ``ratio 784-128-10 R`` and
``ratio 784-800-10 R`` with R = chainrule's epoch time / PyTorch's (the paired median). ``chainrule.fit``
takes its steps through ``chainrule.fused``.

    flock /tmp/chainrule-cpu.lock python -u benchmarks/train_speed.py [--epochs 11]
"""

from __future__ import annotations

import os
import statistics
import sys
import time

import numpy as np

import chainrule
from chainrule import blas
from chainrule.cli import Parser, positive_int, run_reporting_errors
from chainrule.datasets import load_mnist

PROG = "benchmarks/train_speed.py"  # how errors name this script

NETWORKS = ((784, 128, 10), (784, 800, 10))
BATCH = 128
LR = 0.1


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    """NumPy's float32 matrix-multiply speed in GFLOP/s: the best of ``repeats`` n x n products."""
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.T.copy()
    out = np.empty_like(a)
    np.matmul(a, b, out=out)
    best = min(_timed(lambda: np.matmul(a, b, out=out)) for _ in range(repeats))
    return 2 * n**3 / best / 1e9


def epoch_flops(sizes: tuple[int, ...], m: int) -> tuple[float, float]:
    """Floating-point work of one epoch as (done, conventional). Per Dense layer Z = X W^T takes
    2 m n_in n_out, and as much each for dW = delta^T X and dX = delta W; chainrule does not form
    the first layer's dX, which feeds nothing. The conventional count (6 flops per weight per
    sample, as model-FLOP utilisation is usually reckoned) includes it."""
    pairs = [n_in * n_out for n_in, n_out in zip(sizes, sizes[1:])]
    return 2.0 * m * (3 * sum(pairs) - pairs[0]), 6.0 * m * sum(pairs)


def rss_mb() -> float:
    """The process's resident memory now, in MB (Linux)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def chainrule_trainer(sizes, X, Y):
    """A function that runs one more epoch of chainrule.fit and returns (its seconds, RSS MB after)."""
    net = chainrule.mlp(sizes, hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32, seed=0)
    history = chainrule.History()

    def epoch() -> tuple[float, float]:
        k = len(history.epoch)
        chainrule.fit(net, X, Y, epochs=k + 1, start_epoch=k, history=history, batch_size=BATCH,
                      optimizer="sgd", lr=LR, progress=False, seed=k)
        return history.seconds[-1], rss_mb()

    return epoch


def torch_trainer(sizes, X, Y):
    """A function that runs one more epoch of the same training in PyTorch eager mode on 2 CPU
    threads and returns its seconds."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    torch.set_num_threads(2)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.ReLU(), nn.Linear(sizes[1], sizes[2]))
    optimizer = torch.optim.SGD(model.parameters(), lr=LR)
    Xt, Yt = torch.from_numpy(X), torch.from_numpy(Y.astype(np.int64))
    rng = np.random.default_rng(0)

    def epoch() -> float:
        t0 = time.perf_counter()
        order = torch.from_numpy(rng.permutation(len(X)))
        for start in range(0, len(X), BATCH):
            idx = order[start:start + BATCH]
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(Xt[idx]), Yt[idx])
            loss.backward()
            optimizer.step()
        return time.perf_counter() - t0

    return epoch


def single_image_latency(sizes, image: np.ndarray, blocks: int = 5, repeats: int = 1000) -> list[float]:
    """Median seconds of net.predict on one raw uint8 image (the digit-model path), in each of
    ``blocks`` blocks of ``repeats`` calls, sorted: the first is what the machine can do, the spread
    how much the host's other tenants took (as timeit reports the best of its repeats)."""
    net = chainrule.mlp(sizes, hidden="relu", output="softmax", loss="cross_entropy", dtype=np.float32,
                        input_scaling=(0.0, 1 / 255, (28, 28)))
    x = image[None]
    for _ in range(100):
        net.predict(x)
    return sorted(statistics.median(_timed(lambda: net.predict(x)) for _ in range(repeats)) for _ in range(blocks))


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    parser = Parser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=positive_int, default=11, help="epochs per framework and network (default 11)")
    args = parser.parse_args()
    data = load_mnist()
    X = (data.train_images.reshape(len(data.train_images), -1) / np.float32(255)).astype(np.float32)
    Y = data.train_labels
    load = os.getloadavg()[0]
    peaks = [matmul_peak()]
    rows = []
    for sizes in NETWORKS:
        name = "-".join(map(str, sizes))
        ours, theirs = chainrule_trainer(sizes, X, Y), torch_trainer(sizes, X, Y)
        seconds, memory, torch_seconds = [], [], []
        for _ in range(args.epochs):  # alternate, so that a change of load hits both alike
            t, mb = ours()
            seconds.append(t)
            memory.append(mb)
            torch_seconds.append(theirs())
            peaks.append(matmul_peak())  # the machine's speed drifts: the best of many samples
        print(f"{name}: chainrule epochs (s) {', '.join(f'{t:.2f}' for t in seconds)}; "
              f"torch {', '.join(f'{t:.2f}' for t in torch_seconds)}")
        print(f"{name}: memory after each chainrule epoch (RSS MB) {', '.join(f'{mb:.0f}' for mb in memory)}")
        paired = statistics.median(ours / theirs for ours, theirs in zip(seconds, torch_seconds))
        rows.append((name, sizes, min(seconds), min(torch_seconds), paired))
    time.sleep(1)  # PyTorch's OpenMP workers spin for a while after its last epoch
    for sizes in NETWORKS[1:]:
        latency = single_image_latency(sizes, data.test_images[0])
        others = ", ".join(f"{t * 1e6:.1f}" for t in latency[1:])
        print(f"single-image predict through {'-'.join(map(str, sizes))}: median {latency[0] * 1e6:.1f} us "
              f"(the best of {len(latency)} blocks of 1000 calls; the others {others})")
    peaks.append(matmul_peak())
    peak = max(peaks)
    print(f"\nload average {load:.2f} -> {os.getloadavg()[0]:.2f}; numpy float32 matmul peak {peak:.0f} GFLOP/s "
          f"(the best of {len(peaks)} samples between epochs, the lowest {min(peaks):.0f}); best of {args.epochs} "
          f"alternating epochs")
    print(f"SGD's W <- W - (eta delta)^T X through NumPy's own BLAS gemm (chainrule.blas): "
          f"{'yes' if blas.available() else 'no, matmul and a second pass over W'}")
    print("GFLOP/s and % peak count the work done; 6N counts 6 flops per weight per sample")
    print("ratio: of the best epochs; paired: the median over the alternations of chainrule's epoch / "
          "the next PyTorch epoch")
    print(f"{'network':<12}{'chainrule s':>13}{'torch s':>10}{'ratio':>8}{'paired':>8}{'GFLOP/s':>9}{'% peak':>8}"
          f"{'% peak 6N':>11}")
    for name, sizes, t_ours, t_theirs, paired in rows:
        done, conventional = (flops / t_ours / 1e9 for flops in epoch_flops(sizes, len(X)))
        print(f"{name:<12}{t_ours:>13.3f}{t_theirs:>10.3f}{t_ours / t_theirs:>8.2f}{paired:>8.2f}{done:>9.1f}"
              f"{100 * done / peak:>7.0f}%{100 * conventional / peak:>10.0f}%")
    for name, _, _, _, paired in rows:
        print(f"ratio {name} {paired:.2f}")


if __name__ == "__main__":
    sys.exit(run_reporting_errors(PROG, main))
