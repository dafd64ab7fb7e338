"""chainrule.sklearn: scikit-learn's estimator checks, the objective it shares with scikit-learn's own
MLP (alpha mapping included, step for step), GridSearchCV on the digits, and accuracy next to
scikit-learn's MLPClassifier.

Every check of sklearn.utils.estimator_checks runs; none is skipped or expected to fail by us.
``check_array_api_input`` needs SCIPY_ARRAY_API=1 before SciPy is imported, so when the suite does not
set it, that one check runs in a subprocess that does."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.datasets import load_digits, make_classification, make_regression  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier as SklearnClassifier  # noqa: E402
from sklearn.neural_network import MLPRegressor as SklearnRegressor  # noqa: E402
from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from chainrule import Network  # noqa: E402
from chainrule.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's 8x8 digits, pixels scaled to [0, 1], one stratified 75/25 split."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)


@parametrize_with_checks([MLPClassifier(), MLPRegressor()])
def test_sklearn_estimator_checks(estimator, check):
    if check.func.__name__ == "check_array_api_input" and os.environ.get("SCIPY_ARRAY_API") != "1":
        _run_with_scipy_array_api(type(estimator).__name__, check.keywords)
    else:
        check(estimator)


def _run_with_scipy_array_api(estimator_name: str, keywords: dict) -> None:
    code = (
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        f"from chainrule.sklearn import {estimator_name}\n"
        f"check_array_api_input({estimator_name!r}, {estimator_name}(), **{keywords!r})\n"
    )
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def test_import_chainrule_does_not_import_sklearn():
    code = "import sys, chainrule; print('sklearn' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


@pytest.mark.parametrize("solver", ["sgd", "adam"])
@pytest.mark.parametrize("alpha", [0.0, 0.5])
@pytest.mark.parametrize("task", ["classifier", "regressor"])
def test_same_steps_as_sklearn(task, solver, alpha):
    """From the same parameters, with the same alpha and full-batch steps, both take the same steps:
    the objective (mean log-loss or 1/(2m) sum |a - y|^2, + alpha/(2m) sum |W|^2) and the optimisers
    (Adam; SGD with Nesterov momentum) are scikit-learn's."""
    if task == "classifier":
        X, y = make_classification(n_samples=60, n_features=5, n_informative=4, n_redundant=0, n_classes=3, random_state=0)
        ours_type, theirs_type = MLPClassifier, SklearnClassifier
    else:
        X, y = make_regression(n_samples=60, n_features=5, random_state=0)
        y = y / y.std()
        ours_type, theirs_type = MLPRegressor, SklearnRegressor
    common = dict(hidden_layer_sizes=(7, 4), activation="tanh", solver=solver, alpha=alpha, batch_size=60,
                  learning_rate_init=0.02, max_iter=4, tol=0.0, warm_start=True,
                  epsilon=1e-14)  # Adam's epsilon enters sqrt(s_hat) here, sqrt(s) there: make it vanish
    ours, theirs = ours_type(random_state=0, **common), theirs_type(random_state=1, shuffle=False, **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours.fit(X, y)
        theirs.fit(X, y)
        theirs.coefs_ = [layer.W.T.copy() for layer in ours.net_.dense]  # sklearn's coefs_ are our W^T
        theirs.intercepts_ = [layer.b.copy() for layer in ours.net_.dense]
        ours.fit(X, y)  # warm start: both continue from these parameters with a fresh optimiser
        theirs.fit(X, y)
    for layer, W_t, b in zip(ours.net_.dense, theirs.coefs_, theirs.intercepts_):
        np.testing.assert_allclose(layer.W, W_t.T, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(layer.b, b, rtol=1e-7, atol=1e-10)
    if task == "classifier":  # scikit-learn's regression loss curve also divides by the outputs
        np.testing.assert_allclose(ours.loss_curve_[-4:], theirs.loss_curve_[-4:], rtol=1e-7)
