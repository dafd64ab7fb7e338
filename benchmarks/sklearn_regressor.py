"""chainrule.sklearn.MLPRegressor against scikit-learn's own MLPRegressor after a fixed number of epochs.

Both get default arguments except max_iter (50 by default) and tol = 0, so both run exactly max_iter
epochs, and random_state = seed for seeds 0..4. Two data sets: the one of scikit-learn's
check_regressors_train (200 rows of make_regression, random_state 42, one informative feature of ten,
noise 20, X and y standardised: one full batch an epoch) and 1000 rows of make_regression
(random_state 0, five informative features of ten, noise 10, y standardised: five minibatches of 200
an epoch). For each it prints, per seed and as the mean over the seeds, the final training loss
(loss_curve_[-1]) and the training R^2 of both, and the ratio of the mean losses.

    python benchmarks/sklearn_regressor.py [--max-iter 50] [--seeds 5]
"""

from __future__ import annotations

import statistics
import sys
import warnings

from sklearn.datasets import make_regression
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor as SklearnMLP
from sklearn.preprocessing import StandardScaler, scale

from chainrule.cli import Parser, fit_stopping_on_interrupt, positive_int, run_reporting_errors
from chainrule.sklearn import MLPRegressor

PROG = "benchmarks/sklearn_regressor.py"  # how errors name this script


def data_sets() -> dict:
    X, y = make_regression(n_samples=200, n_features=10, n_informative=1, bias=5.0, noise=20, random_state=42)
    X2, y2 = make_regression(n_samples=1000, n_features=10, n_informative=5, noise=10, random_state=0)
    return {"check_regressors_train, 200 rows": (StandardScaler().fit_transform(X), scale(y)),
            "make_regression, 1000 rows": (X2, scale(y2))}


def main() -> None:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=positive_int, default=50, help="epochs of each fit (default 50)")
    parser.add_argument("--seeds", type=positive_int, default=5,
                        help="fit each estimator with random_state 0, ..., N-1 (default 5)")
    args = parser.parse_args()
    for name, (X, y) in data_sets().items():
        print(f"{name}: max_iter {args.max_iter}, tol 0, defaults otherwise")
        print(f"{'seed':>6}{'loss ours':>14}{'loss sklearn':>14}{'R^2 ours':>10}{'R^2 sklearn':>13}")
        rows = []
        for seed in range(args.seeds):
            row = []
            for estimator in (MLPRegressor, SklearnMLP):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    unfitted = estimator(max_iter=args.max_iter, tol=0.0, random_state=seed)
                    fitted = fit_stopping_on_interrupt(unfitted, X, y)
                row.append((fitted.loss_curve_[-1], fitted.score(X, y)))
            (ours_loss, ours_r2), (their_loss, their_r2) = row
            rows.append((ours_loss, their_loss, ours_r2, their_r2))
            print(f"{seed:>6}{ours_loss:>14.6f}{their_loss:>14.6f}{ours_r2:>10.4f}{their_r2:>13.4f}")
        means = [statistics.mean(column) for column in zip(*rows)]
        print(f"{'mean':>6}{means[0]:>14.6f}{means[1]:>14.6f}{means[2]:>10.4f}{means[3]:>13.4f}")
        print(f"loss ratio ours / scikit-learn {means[0] / means[1]:.4f}, R^2 difference {means[2] - means[3]:+.4f}\n")


if __name__ == "__main__":
    sys.exit(run_reporting_errors(PROG, main))
