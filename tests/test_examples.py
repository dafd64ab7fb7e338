"""The seed examples: MAT1110's gradient step lowers f, Higham & Higham's network learns its ten
points, the Franke fit beats the mean; each writes its plot (short runs here, full ones by hand)."""

import re

import numpy as np
import pytest

from chainrule.examples import EXAMPLES, franke, higham, mat1110
from chainrule.jacobians import flatten, gradient_left_to_right

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("seed", range(5))
def test_mat1110_one_armijo_step_lowers_f(seed):
    net, x, y = mat1110.build(seed)
    assert [d.W.shape for d in net.dense] == [(10, 10)] * 10
    assert all(0 <= d.W.min() and d.W.max() <= 1 and 0 <= d.b.min() and d.b.max() <= 1 for d in net.dense)
    before = net.loss_value(x[None], y[None])
    assert before == pytest.approx(np.sum((net.forward(x[None])[0] - y) ** 2))  # f = |F(x) - y|^2
    alpha, reported_before, after = mat1110.gradient_step(net, x, y)
    assert alpha > 0 and reported_before == before
    assert after < before and after == net.loss_value(x[None], y[None])


def test_mat1110_gradient_equals_the_explicit_block_matrix_product():
    net, x, y = mat1110.build(0)
    _, grads = net.loss_and_gradient(x[None], y[None])
    np.testing.assert_allclose(flatten(grads), gradient_left_to_right(net, x, y), rtol=1e-10, atol=1e-16)


def test_mat1110_prints_f_before_and_after(capsys):
    mat1110.main(seed=0)
    printed = capsys.readouterr().out
    before = float(re.search(r"f before the step: ([\d.]+)", printed).group(1))
    after = float(re.search(r"f after the step: +([\d.]+)", printed).group(1))
    assert after < before
    assert re.search(r"step length alpha = [\d.e+-]+", printed)


def test_higham_data_are_the_ten_points_of_the_paper():
    X, Y = higham.data()
    assert X.shape == (10, 2) and Y.shape == (10, 2)
    np.testing.assert_array_equal(X[:, 0], [0.1, 0.3, 0.1, 0.6, 0.4, 0.6, 0.5, 0.9, 0.4, 0.7])
    np.testing.assert_array_equal(Y.argmax(axis=1), [0] * 5 + [1] * 5)


def test_higham_sgd_lowers_the_cost_and_writes_the_plot(tmp_path, capsys):
    net, steps, costs = higham.train(seed=0, iterations=4000, record_every=100)
    assert [d.W.shape for d in net.dense] == [(2, 2), (3, 2), (2, 3)]
    assert steps == list(range(0, 4001, 100))
    assert costs[-1] < costs[0]
    X, Y = higham.data()
    assert costs[-1] == pytest.approx(0.5 * np.sum((net.forward(X) - Y) ** 2) / 10)
    higham.main(out=tmp_path, seed=0, iterations=500)
    assert (tmp_path / "higham.png").read_bytes().startswith(PNG)
    assert "points classified correctly" in capsys.readouterr().out


def test_franke_function_values():
    assert franke.franke(np.array(0.0), np.array(0.0)) == pytest.approx(
        0.75 * np.exp(-2) + 0.75 * np.exp(-1 / 49 - 0.1) + 0.5 * np.exp(-49 / 4 - 9 / 4) - 0.2 * np.exp(-16 - 49))
    assert 1.2 < franke.franke(np.array(0.2), np.array(0.2)) < 1.3  # the main peak


def test_franke_fit_explains_most_of_the_variance_and_writes_the_plot(tmp_path, capsys):
    net, history = franke.train(seed=0, epochs=25)
    gx, gy, rows = franke.grid()
    assert franke.r2_score(franke.franke(gx, gy), net.forward(rows).reshape(gx.shape)) > 0.75
    assert history.loss[-1] < history.loss[0]
    franke.main(out=tmp_path, seed=0, epochs=3)
    assert (tmp_path / "franke.png").read_bytes().startswith(PNG)
    assert "R^2" in capsys.readouterr().out


def test_every_registered_example_has_a_main():
    import importlib

    for name in EXAMPLES:
        assert callable(importlib.import_module(f"chainrule.examples.{name}").main)
