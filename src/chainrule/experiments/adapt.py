"""Does the network recognise digits "adaptively"? The Danish study project
(002_d52e423183c3ce2c.txt, section 1) asks: "Diskuter og vurder hvorvidt neutrale netværk er den mest
effektive tilgang til at genkende håndskrevne tal på en adaptiv og robust måde" (discuss whether
neural networks are the most effective way to recognise handwritten digits adaptively and robustly).

For each writer kept out of training (``datasets.HELD_OUT_WRITERS``: pendigits writers 25-30, UJI
writers 33-40), the drawing page's adapt procedure (``corrections.adapt``, what its "Adapt" button
runs) is given k of that writer's digits per class as corrections, rendered by ``digit_from_strokes``
as the page saves them, and the adapted copy is measured on the writer's other digits and on the
MNIST test set:

    writer error(k)       share of the writer's test digits the adapted copy misreads
    MNIST change(k)       MNIST test error of the adapted copy - that of the model as given

Per writer and seed the digits of each class are put in a random order; the first k_max are the
corrections on offer (k of them are given), the rest are the writer's test digits, the same for
every k. k_max is 5 for pendigits (about 25 digits per class and writer) and 1 for UJI, which has
only two samples per digit and writer: k = 2 would leave nothing of that writer to measure, so UJI
rows stop at k = 1. k = 0 is the model as given. Means over writers and seeds.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .. import corrections
from ..datasets import HELD_OUT_WRITERS, load_mnist, load_pendigits, load_ujipen
from ..digits import check_digit_model
from ..network import load
from ..preprocessing import digit_from_strokes
from ..training import accuracy
from .common import Result, progress, single_threaded

KS = (0, 1, 2, 5)
SEEDS = 3
COLLECTIONS = {"pendigits": load_pendigits, "ujipen": load_ujipen}
MEASURED = ("writer_error", "mnist_test_error", "mnist_change_points", "adapt_seconds")


def split_writer(labels: np.ndarray, k_max: int, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Indices into ``labels`` (one writer's digits): ``offered[k]`` holds the first k digits of each
    class in a random order (k = 0..k_max), and ``test`` the digits after the first k_max of each class."""
    orders = [rng.permutation(np.flatnonzero(labels == c)) for c in range(10)]
    offered = [np.concatenate([order[:k] for order in orders]).astype(np.intp) for k in range(k_max + 1)]
    return offered, np.sort(np.concatenate([order[k_max:] for order in orders]))


@single_threaded
def run(out: Path, quick: bool, seed: int, model: str | Path | None = None, data: Path | None = None,
        pen_data: Path | None = None) -> Result:
    """``model`` is a model file (default: the bundled model), ``data`` MNIST's folder and ``pen_data``
    the folder holding pendigits/ and ujipen/ (defaults: where the loaders of ``datasets`` look)."""
    net = check_digit_model(load(model))
    mnist = load_mnist(data)
    pens = {name: loader(pen_data / name if pen_data else None) for name, loader in COLLECTIONS.items()}
    test_images, test_labels = mnist.test_images, mnist.test_labels
    writers, seeds, steps = HELD_OUT_WRITERS, range(SEEDS), None
    if quick:  # one writer of each collection, one seed, a short adaptation, part of MNIST's test set
        writers, seeds, steps = {name: ids[:1] for name, ids in writers.items()}, range(1), 20
        test_images, test_labels = test_images[:2000], test_labels[:2000]
    base_mnist_error = 1 - accuracy(net, test_images, test_labels)
    held_out = [(name, writer) for name in COLLECTIONS for writer in writers[name]]
    rows = []
    for step, (name, writer) in enumerate(held_out, 1):
        pen = pens[name]
        mine = np.flatnonzero(pen.writers == writer)
        images = np.array([digit_from_strokes(pen.strokes[i]) for i in mine])
        labels = pen.labels[mine].astype(np.intp)
        k_max = min(max(KS), int(np.bincount(labels, minlength=10).min()) - 1)
        ks = [k for k in KS if k <= k_max] if not quick else [0, 1]
        progress("adapt", step, len(held_out), f"{name} writer {writer}, k = {', '.join(map(str, ks))}")
        results = {k: [] for k in ks}
        for s in seeds:
            offered, test = split_writer(labels, k_max, np.random.default_rng([seed, s, writer]))
            for k in ks:
                adapted, seconds = net, 0.0
                if k > 0:
                    started = time.perf_counter()
                    adapted = corrections.adapt(net, images[offered[k]], labels[offered[k]], mnist.train_images,
                                                mnist.train_labels, seed=seed * SEEDS + s,
                                                **({"steps": steps} if steps else {}))
                    seconds = time.perf_counter() - started
                results[k].append((1 - accuracy(adapted, images[test], labels[test]),
                                   1 - accuracy(adapted, test_images, test_labels) - base_mnist_error,
                                   seconds, len(test)))
        for k, measured in results.items():
            writer_error, mnist_change, seconds, tested = np.mean(measured, axis=0)
            rows.append({"collection": name, "writer": writer, "k": k, "corrections": 10 * k,
                         "seeds": len(measured), "test_digits": int(tested), "writer_error": writer_error,
                         "mnist_test_error": base_mnist_error + mnist_change,
                         "mnist_change_points": 100 * mnist_change, "adapt_seconds": seconds})
    rows += _means(rows)
    return Result("adapt", rows, lambda fig: _plot(fig, rows), _summary(rows, base_mnist_error, len(test_labels)))


def _means(rows: list[dict]) -> list[dict]:
    """One row per collection and k: the means over its writers (and seeds)."""
    means = []
    for name in dict.fromkeys(r["collection"] for r in rows):
        for k in dict.fromkeys(r["k"] for r in rows if r["collection"] == name):
            group = [r for r in rows if r["collection"] == name and r["k"] == k]
            mean = {key: float(np.mean([r[key] for r in group])) for key in MEASURED}
            means.append({**group[0], "writer": "all", "test_digits": sum(r["test_digits"] for r in group), **mean})
    return means


def _summary(rows: list[dict], base_mnist_error: float, mnist_tested: int) -> list[str]:
    lines = [f"the model as given: MNIST test error {base_mnist_error:.2%} (here and below: on MNIST's first "
             f"{mnist_tested:,} test images)"]
    for r in (r for r in rows if r["writer"] == "all"):
        lines.append(f"{r['collection']}, k = {r['k']} per class: held-out writers' error {r['writer_error']:.2%}, "
                     f"MNIST test error {r['mnist_test_error']:.2%} ({r['mnist_change_points']:+.2f} points)")
    return lines


def _plot(fig, rows: list[dict]) -> None:
    left, right = fig.subplots(1, 2)
    for name, colour in (("pendigits", "C0"), ("ujipen", "C1")):
        for writer in dict.fromkeys(r["writer"] for r in rows if r["collection"] == name):
            mine = [r for r in rows if r["collection"] == name and r["writer"] == writer]
            style = dict(color=colour, lw=2.5, marker="o", label=f"{name}, mean") if writer == "all" \
                else dict(color=colour, lw=0.8, alpha=0.35)
            left.plot([r["k"] for r in mine], [100 * r["writer_error"] for r in mine], **style)
            right.plot([r["k"] for r in mine], [r["mnist_change_points"] for r in mine], **style)
    right.axhline(0.2, color="k", ls="--", lw=1, label="the bound: +0.2 points")
    right.axhline(0.0, color="k", lw=0.5)
    left.set(xlabel="corrections given per class (k)", ylabel="error on the writer's other digits (%)",
             title="The writer's own digits")
    left.set_ylim(bottom=0)  # errors of 0 would otherwise sit mid-axis, above a negative range
    right.set(xlabel="corrections given per class (k)", ylabel="MNIST test error change (points)",
              title="MNIST after adapting (does it forget?)")
    for ax in (left, right):
        ax.set_xticks(KS)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Adapting a copy of the model to a new writer's corrections (thin lines: one writer each)")
