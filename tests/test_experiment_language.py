"""``chainrule experiment language --quick``: the five ways of training the same network, timed on
MNIST, and the pieces it is built from (the per-sample loop, the line counter, the epoch timer)."""

from __future__ import annotations

import csv
import importlib.util
import re
import sys
from pathlib import Path

import numpy as np
import pytest

import chainrule
from chainrule.cli import main
from chainrule.experiments import language
from chainrule.experiments.common import save_result


def test_quick_run_writes_its_table_and_plot(mnist, tmp_path, capsys):
    assert main(["experiment", "language", "--quick", "--out", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    printed, steps = captured.out, captured.err.splitlines()
    assert steps[0] == f"language: 784-30-10, plain Python (1 of {len(steps)})"  # a line per measurement
    assert steps[-1].startswith("language: 784-100-10, ") and steps[-1].endswith(f"({len(steps)} of {len(steps)})")
    rows = list(csv.DictReader(open(tmp_path / "language.csv")))
    assert (tmp_path / "language.png").stat().st_size > 10_000
    assert {r["network"] for r in rows} == {"784-30-10", "784-100-10"}
    batch10 = [r for r in rows if r["batch_size"] == "10"]
    variants = {r["variant"] for r in batch10}
    torch_installed = importlib.util.find_spec("torch") is not None  # torch is a test dependency, not a core one
    expected = {"plain Python", "NumPy per sample", "NumPy minibatch"} | ({"PyTorch"} if torch_installed else set())
    assert variants == expected
    for name in ("784-30-10", "784-100-10"):
        by_variant = {(r["variant"], r["dtype"]): r for r in batch10 if r["network"] == name}
        plain = by_variant["plain Python", "float64"]
        assert plain["extrapolated"] == "True" and float(plain["epoch_speedup"]) == 1.0
        # Vectorising is what pays: NumPy over minibatches beats plain Python many times over.
        assert float(by_variant["NumPy minibatch", "float32"]["epoch_speedup"]) > 20
        assert float(by_variant["NumPy per sample", "float64"]["epoch_speedup"]) > 5
        assert all(float(r["predict_us"]) > 0 for r in by_variant.values() if r["predict_us"])
        pytorch = by_variant["PyTorch", "float32"] if torch_installed else None
        if pytorch is not None:
            assert float(pytorch["epoch_seconds"]) > 0
    assert all(int(r["lines_of_code"]) > 0 for r in rows)
    assert "one epoch" in printed and f"wrote {tmp_path / 'language.csv'}" in printed


def test_without_torch_the_pytorch_row_is_skipped_with_a_note(mnist, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    monkeypatch.setattr(language, "NETWORKS", ([784, 4, 10],))
    monkeypatch.setattr(language, "SWEEP", (100,))
    result = language.run(tmp_path, quick=True, seed=0)
    skipped = [r for r in result.rows if r["variant"] == "PyTorch"]
    assert len(skipped) == 1 and skipped[0]["note"] == "skipped: torch is not installed"
    assert skipped[0]["epoch_seconds"] is None
    assert [r["batch_size"] for r in result.rows if r["variant"] == "NumPy minibatch"] == [10, 10, 100]
    assert any("skipped" in line for line in result.summary)
    save_result(result, tmp_path)
    assert (tmp_path / "language.png").exists()


def test_per_sample_loop_computes_the_cores_gradient_and_step():
    """Nielsen's column-vector loop and chainrule's minibatch code take the same SGD step."""
    rng = np.random.default_rng(3)
    net = chainrule.mlp([6, 5, 3], hidden="sigmoid", output="sigmoid", loss="squared_error", seed=3)
    X, y = rng.normal(size=(4, 6)), rng.integers(0, 3, size=4)
    loop = language.PerSampleNetwork([d.W for d in net.dense], [d.b for d in net.dense])
    np.testing.assert_allclose(loop.feedforward(X[0][:, None])[:, 0], net.forward(X[:1])[0], rtol=1e-12)
    onehot = np.eye(3)[y]
    loop.update_mini_batch([(x[:, None], t[:, None]) for x, t in zip(X, onehot)], lr=0.2)
    _, grads = net.loss_and_gradient(X, y)
    chainrule.SGD(0.2).step(net.params(), [g for pair in grads for g in pair])
    for W, b, dense in zip(loop.weights, loop.biases, net.dense):
        np.testing.assert_allclose(W, dense.W, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(b[:, 0], dense.b, rtol=1e-12, atol=1e-14)


def test_torch_snippet_computes_the_cores_gradient():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(4)
    net = chainrule.mlp([5, 4, 3], hidden="sigmoid", output="sigmoid", loss="squared_error", seed=4)
    X, y = rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)
    model = language.torch_model([d.W.astype(np.float32) for d in net.dense],
                                 [d.b.astype(np.float32) for d in net.dense])
    language.torch_train(model, torch.from_numpy(X.astype(np.float32)),
                         torch.from_numpy(np.eye(3, dtype=np.float32)[y]),
                         batch_size=6, lr=0.1)
    _, grads = net.loss_and_gradient(X, y)
    chainrule.SGD(0.1).step(net.params(), [g for pair in grads for g in pair])
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    for linear, dense in zip(linears, net.dense):
        np.testing.assert_allclose(linear.weight.detach().numpy(), dense.W, rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(linear.bias.detach().numpy(), dense.b, rtol=1e-4, atol=1e-5)
    assert language.torch_predict(model, torch.from_numpy(X[0].astype(np.float32))) == net.predict(X[:1])[0]


def test_code_lines_skip_blanks_comments_and_docstrings():
    source = '''"""Module docstring
over two lines."""

import math  # a comment


def f(x):
    """Docstring."""
    # a comment line
    y = (x +
         1)
    return "not a docstring"
'''
    assert language.code_lines(source) == 5  # import, def, y = (..., 1), return


def test_the_docs_table_gives_the_line_counts_of_the_current_source():
    # docs/language.md's first table states each variant's lines; they must follow the code they count
    doc = (Path(__file__).resolve().parents[1] / "docs" / "language.md").read_text(encoding="utf-8")
    stated = {variant: int(count) for variant, count in re.findall(r"^\| ([^|]+?) \|[^|]*\| (\d+) lines\b", doc, re.M)}
    assert stated == language.lines_of_code()


def test_time_epoch_extrapolates_a_slice_to_the_epoch():
    calls = []

    def train(start, stop):
        calls.append((start, stop))

    seconds, done = language.time_epoch(train, chunk=language.EPOCH // 4, budget=1e9)
    assert done == language.EPOCH and calls[-1][1] == language.EPOCH and seconds >= 0
    seconds, done = language.time_epoch(train, chunk=1000, budget=0.0)
    assert done == 1000 and calls[-1] == (0, 1000)
