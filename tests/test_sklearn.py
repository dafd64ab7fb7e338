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
from sklearn.preprocessing import StandardScaler, scale  # noqa: E402
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


@parametrize_with_checks([MLPClassifier(), MLPRegressor(), MLPClassifier(max_iter=50), MLPRegressor(max_iter=50)])
def test_sklearn_estimator_checks(estimator, check):
    """At the default max_iter = 200 and at 50, where scikit-learn's own MLPRegressor still passes
    check_regressors_train (R^2 > 0.5 after 50 epochs)."""
    if check.func.__name__ == "check_array_api_input" and os.environ.get("SCIPY_ARRAY_API") != "1":
        _run_with_scipy_array_api(estimator, check.keywords)
    else:
        check(estimator)


def _run_with_scipy_array_api(estimator, keywords: dict) -> None:
    name = type(estimator).__name__
    code = (
        "from sklearn.utils.estimator_checks import check_array_api_input\n"
        f"from chainrule.sklearn import {name}\n"
        f"check_array_api_input({name!r}, {estimator!r}, **{keywords!r})\n"
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
        X, y = make_classification(n_samples=60, n_features=5, n_informative=4, n_redundant=0, n_classes=3,
                                   random_state=0)
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


@pytest.mark.parametrize("activation", ["relu", "logistic", "tanh"])
def test_regressor_starts_from_sklearns_parameters_for_the_same_random_state(activation):
    """The regressor draws W, b as scikit-learn does: one SGD epoch with a vanishing step (1e-300 g is
    below half an ulp of every weight) leaves both at their initial parameters, which agree exactly."""
    X, y = make_regression(n_samples=30, n_features=4, random_state=0)
    common = dict(hidden_layer_sizes=(6, 3), activation=activation, solver="sgd", momentum=0.0,
                  learning_rate_init=1e-300, max_iter=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(random_state=7, **common).fit(X, y)
        theirs = SklearnRegressor(random_state=7, **common).fit(X, y)
    for layer, coefs, intercepts in zip(ours.net_.dense, theirs.coefs_, theirs.intercepts_, strict=True):
        np.testing.assert_array_equal(layer.W, coefs.T)
        np.testing.assert_array_equal(layer.b, intercepts)


def test_mean_squared_error_keeps_alpha_a_mean_over_rows():
    """Eq. (22)'s C = 1/m sum_x |a(x) - y(x)|^2 is twice scikit-learn's 1/(2m) sum_x |a(x) - y(x)|^2 and,
    like it, a mean over the rows, so alpha keeps its meaning: with loss="mean_squared_error", alpha
    doubled and half the learning rate, SGD with momentum takes scikit-learn's steps, on two outputs
    (a loss divided by m n_L would take steps half as long)."""
    X, Y = make_regression(n_samples=60, n_features=5, n_targets=2, random_state=0)
    common = dict(hidden_layer_sizes=(7,), activation="tanh", solver="sgd", batch_size=60, max_iter=5, tol=0.0,
                  random_state=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = MLPRegressor(loss="mean_squared_error", alpha=1.0, learning_rate_init=0.005,
                            **common).fit(X, Y / Y.std(axis=0))
        theirs = SklearnRegressor(alpha=0.5, learning_rate_init=0.01, **common).fit(X, Y / Y.std(axis=0))
    for layer, coefs, intercepts in zip(ours.net_.dense, theirs.coefs_, theirs.intercepts_, strict=True):
        np.testing.assert_allclose(layer.W, coefs.T, rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(layer.b, intercepts, rtol=1e-9, atol=1e-12)


def check_regressors_train_data():
    """The data of scikit-learn's check_regressors_train: 200 rows, 10 standardised features, one
    informative, noise 20; y standardised."""
    X, y = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20, random_state=42)
    return StandardScaler().fit_transform(X), scale(y)


def thousand_rows():
    """1000 rows, five informative features of ten: five minibatches of 200 an epoch."""
    X, y = make_regression(n_samples=1000, n_features=10, n_informative=5, noise=10, random_state=0)
    return X, scale(y)


@pytest.mark.parametrize("data", [check_regressors_train_data, thousand_rows])
def test_regressor_after_50_epochs_matches_sklearn_over_five_seeds(data):
    """Default arguments, max_iter = 50, tol = 0, random_state 0..4 for both: the mean final training
    loss is within 10% of scikit-learn's and the mean training R^2 within 0.02. (With chainrule's He
    initialisation and zero biases the mean losses were 2.2 and 5.4 times scikit-learn's.)"""
    X, y = data()
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(5):
            for results, estimator in ((ours, MLPRegressor), (theirs, SklearnRegressor)):
                fitted = estimator(max_iter=50, tol=0.0, random_state=seed).fit(X, y)
                assert fitted.n_iter_ == 50
                results.append((fitted.loss_curve_[-1], fitted.score(X, y)))
    (our_loss, our_r2), (their_loss, their_r2) = np.mean(ours, axis=0), np.mean(theirs, axis=0)
    assert abs(our_loss - their_loss) <= 0.1 * their_loss, (ours, theirs)
    assert abs(our_r2 - their_r2) <= 0.02, (ours, theirs)


def test_grid_search_over_two_hidden_sizes(digits):
    X_train, X_test, y_train, y_test = digits
    grid = {"hidden_layer_sizes": [(8,), (32,)]}
    search = GridSearchCV(MLPClassifier(max_iter=40, learning_rate_init=0.01, random_state=0), grid, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(X_train[:600], y_train[:600])
    assert len(search.cv_results_["params"]) == 2
    assert np.all(search.cv_results_["mean_test_score"] > 0.8)
    assert search.best_params_ == {"hidden_layer_sizes": (32,)}  # the wider layer fits digits better
    assert isinstance(search.best_estimator_.net_, Network)
    assert search.score(X_test, y_test) > 0.9


def test_accuracy_within_half_a_point_of_sklearn(digits):
    """Same architecture, solver (adam), max_iter, batch size, learning rate and alpha: the mean test
    accuracy over 5 seeds is within 0.5 points of scikit-learn's MLPClassifier."""
    X_train, X_test, y_train, y_test = digits
    shared = dict(hidden_layer_sizes=(32,), solver="adam", max_iter=60, batch_size=64, learning_rate_init=0.005,
                  alpha=1e-4, n_iter_no_change=60)
    ours, theirs = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for seed in range(5):
            ours.append(MLPClassifier(random_state=seed, **shared).fit(X_train, y_train).score(X_test, y_test))
            theirs.append(SklearnClassifier(random_state=seed, **shared).fit(X_train, y_train).score(X_test, y_test))
    assert abs(np.mean(ours) - np.mean(theirs)) <= 0.005, (ours, theirs)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("loss", ["auto", "binary_cross_entropy", "squared_error", "half_squared_error",
                                  "mean_squared_error"])
def test_classifier_losses_learn_and_give_probabilities(loss):
    X, y = make_classification(n_samples=150, n_features=6, n_informative=4, n_classes=3, random_state=1)
    labels = np.array(["cat", "dog", "eel"])[y]
    clf = MLPClassifier((16,), loss=loss, learning_rate_init=0.01, max_iter=300, random_state=0).fit(X, labels)
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    assert np.all(proba >= 0)
    assert list(clf.classes_) == ["cat", "dog", "eel"]
    assert np.array_equal(clf.predict(X), clf.classes_[proba.argmax(axis=1)])
    assert clf.score(X, labels) > 0.8
    assert clf.loss_curve_[-1] < clf.loss_curve_[0]


def test_gd_linesearch_never_increases_the_objective():
    X, y = make_regression(n_samples=80, n_features=4, noise=1.0, random_state=0)
    reg = MLPRegressor((8,), activation="tanh", solver="gd-linesearch", alpha=1e-3, max_iter=60, tol=0.0,
                       n_iter_no_change=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, y / y.std())
    assert np.all(np.diff(reg.loss_curve_) <= 0)
    assert reg.loss_curve_[-1] < 0.5 * reg.loss_curve_[0]


def test_early_stopping_keeps_the_best_validation_score(digits):
    X_train, _, y_train, _ = digits
    clf = MLPClassifier((16,), early_stopping=True, n_iter_no_change=3, learning_rate_init=0.01, max_iter=100,
                        random_state=0).fit(X_train, y_train)
    assert len(clf.validation_scores_) == clf.n_iter_ == len(clf.loss_curve_)
    assert clf.n_iter_ < 100
    X_fit, X_val, y_fit, y_val = train_test_split(X_train, y_train, test_size=0.1, random_state=clf._seed,
                                                  stratify=y_train)
    assert clf.score(X_val, y_val) == pytest.approx(max(clf.validation_scores_))


def test_partial_fit_continues_and_checks_its_labels():
    X, y = make_classification(n_samples=100, n_features=4, n_informative=3, n_redundant=0, n_classes=3, random_state=2)
    clf = MLPClassifier((8,), random_state=0)
    with pytest.raises(ValueError, match="classes"):
        clf.partial_fit(X, y)
    for _ in range(3):
        clf.partial_fit(X, y, classes=[0, 1, 2, 3])
    assert clf.n_iter_ == 3 and clf.net_.n_outputs == 4
    with pytest.raises(ValueError, match="not in classes_"):
        clf.partial_fit(X, y + 5)
    with pytest.raises(ValueError, match=r"classes=\[0, 1, 2\] differs from the first call's \[0, 1, 2, 3\]"):
        clf.partial_fit(X, y, classes=[0, 1, 2])  # was ignored without a word
    with pytest.raises(ValueError, match=r"Y must be numbers, got dtype <U"):
        MLPRegressor(max_iter=2).fit(X, y.astype(str))  # was "... with NaN or infinite values"


def test_regressor_multi_output_and_float32():
    X, Y = make_regression(n_samples=120, n_features=5, n_targets=2, noise=0.1, random_state=0)
    reg = MLPRegressor((32,), learning_rate_init=0.01, max_iter=300, dtype="float32", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        reg.fit(X, Y / Y.std(axis=0))
    assert reg.net_.dtype == np.float32 and reg.n_outputs_ == 2
    prediction = reg.predict(X)
    assert prediction.shape == (120, 2) and prediction.dtype == np.float64
    assert reg.score(X, Y / Y.std(axis=0)) > 0.9


@pytest.mark.parametrize(
    ("argument", "value"),
    [("hidden_layer_sizes", (10, 0)), ("hidden_layer_sizes", True), ("hidden_layer_sizes", (10, True)),
     ("activation", "softplus"), ("solver", "lbfgs"), ("alpha", -1.0),
     ("learning_rate_init", 0.0), ("max_iter", 0), ("batch_size", 0), ("validation_fraction", 1.0),
     ("momentum", 1.0), ("epsilon", 0.0), ("loss", "hinge"), ("output", "identity"), ("dtype", "int8")],
)
def test_bad_arguments_give_one_line_errors_naming_them(argument, value):
    X, y = make_classification(n_samples=20, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match=argument) as error:
        MLPClassifier(**{argument: value}).fit(X, y)
    assert "\n" not in str(error.value)


def test_fused_loss_with_the_wrong_output_is_refused():
    X, y = make_classification(n_samples=20, n_features=3, n_informative=2, n_redundant=0, random_state=0)
    with pytest.raises(ValueError, match="output must be 'softmax' for loss 'cross_entropy'"):
        MLPClassifier(loss="cross_entropy", output="sigmoid").fit(X, y)
