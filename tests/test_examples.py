"""The seed examples: MAT1110's gradient step lowers f and its fixed Matlab script agrees with
chainrule in GNU Octave, Higham & Higham's network learns its ten points, the Franke fit beats the
mean; each writes its plot (short runs here, full ones by hand)."""

import re
import subprocess

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


def test_mat1110_prints_the_bugs_and_f_before_and_after(tmp_path, capsys):
    mat1110.main(out=tmp_path, seed=0)
    printed = capsys.readouterr().out
    for bug in mat1110.BUGS:
        assert f"printed: {bug.printed.strip()}" in printed and f"fixed:   {bug.fixed.strip()}" in printed
    before = float(re.search(r"f before the step: ([\d.]+)", printed).group(1))
    script = float(re.search(r"f after the script's step \(length 1\): ([\d.]+)", printed).group(1))
    after = float(re.search(r"f after the step: +([\d.]+)", printed).group(1))
    assert after < script < before
    assert re.search(r"step length alpha = [\d.e+-]+", printed)
    assert (tmp_path / "mat1110_fixed.m").read_text() == mat1110.fixed_script()


def test_mat1110_listings_are_quoted_exactly_from_the_text(course_texts):
    """Every line of the two listings, and each bug's printed line, stands in 000_ecdaadd94c7ab0cb.txt
    in this order; each fix changes the one line it names."""
    text = (course_texts / "000_ecdaadd94c7ab0cb.txt").read_text(encoding="utf-8")
    position = text.index("En Matlabimplementasjon")
    for line in (mat1110.LISTING_FORWARD + mat1110.LISTING_STEP).splitlines():
        if line.strip():
            position = text.index("\n" + line + "\n", position) + len(line) + 1
    for bug in mat1110.BUGS:
        assert bug.printed + "\n" in text
        assert mat1110.LISTING_STEP.count(bug.printed) == 1 and bug.fixed not in mat1110.fixed_script(())
        assert bug.fixed in mat1110.fixed_script()


def run_octave(octave, script: str, folder) -> subprocess.CompletedProcess:
    (folder / "script.m").write_text(script)
    return subprocess.run([octave, "--norc", "--quiet", "--no-window-system", "script.m"], cwd=folder,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("fixes", "error"), [
    ((), "operator *: nonconformant arguments (op1 is 10x10, op2 is 1x10)"),
    (mat1110.BUGS[:1], "'r' undefined"),
])
def test_mat1110_printed_script_fails_in_octave_where_the_docstring_says(octave, tmp_path, fixes, error):
    done = run_octave(octave, mat1110.fixed_script(fixes), tmp_path)
    assert done.returncode != 0 and error in done.stderr, done.stderr


def octave_literal(values: np.ndarray) -> str:
    """An Octave column vector holding ``values`` in column-major order, every float64 digit kept."""
    return "[" + ";".join(f"{v:.17g}" for v in values.ravel(order="F")) + "]"


@pytest.mark.parametrize("seed", [0, 1])
def test_mat1110_fixed_script_in_octave_agrees_with_chainrule(octave, tmp_path, seed):
    """The fixed script, run by GNU Octave on chainrule's W, b, x, y (W(:,:,k) = net.dense[r - k].W),
    gives f before and after its step of length 1, and each layer's dW and db, to a relative 1e-10 of
    chainrule's, entry by entry: the layers' gradients span 14 orders of magnitude, so an absolute
    bound would pass on zeros."""
    net, x, y = mat1110.build(seed)
    n, r = mat1110.N, mat1110.R
    _, grads = net.loss_and_gradient(x[None], y[None])
    dW, db = (mat1110.script_layout([pair[j] for pair in grads]) for j in (0, 1))
    W, b = (mat1110.script_layout([getattr(d, name) for d in net.dense]) for name in ("W", "b"))
    before, after = mat1110.script_step(net, x, y)
    script = mat1110.fixed_script()
    for printed, ours in [("W = rand(n,n,nl);", f"W = reshape({octave_literal(W)}, n, n, nl);"),
                          ("b = rand(n, nl);", f"b = reshape({octave_literal(b)}, n, nl);"),
                          ("xv = rand(n,1);", f"xv = {octave_literal(x)};"),
                          ("yv = rand(n,1);", f"yv = {octave_literal(y)};")]:
        assert script.count(printed) == 1
        script = script.replace(printed, ours)
    script += "fid = fopen('result.txt', 'w'); fprintf(fid, '%.17g\\n', val0, val, dW, db); fclose(fid);\n"
    done = run_octave(octave, script, tmp_path)
    assert done.returncode == 0, done.stderr
    result = np.loadtxt(tmp_path / "result.txt")
    assert result.size == 2 + n * n * r + n * r
    f_before, f_after = result[:2]
    octave_dW = result[2:2 + n * n * r].reshape((n, n, r), order="F")
    octave_db = result[2 + n * n * r:].reshape((n, r), order="F")
    assert abs(f_before - before) <= 1e-10 * before and abs(f_after - after) <= 1e-10 * after
    assert after < before
    norms = []
    for k in range(r):  # the script's k + 1: k = 0 is the output layer W^(1)
        np.testing.assert_allclose(octave_dW[..., k], dW[..., k], rtol=1e-10, atol=0, err_msg=f"W({k + 1})")
        np.testing.assert_allclose(octave_db[:, k], db[:, k], rtol=1e-10, atol=0, err_msg=f"b({k + 1})")
        norms.append(np.linalg.norm(dW[..., k]))
    assert norms[0] / norms[-1] > 1e12  # the span that makes an absolute bound meaningless


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
