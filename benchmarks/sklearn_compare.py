"""chainrule.sklearn.MLPClassifier against scikit-learn's own MLPClassifier on scikit-learn's digits.

Both get the same data (sklearn.datasets.load_digits, pixels divided by 16, one stratified 75/25
train/test split), the same architecture (hidden sizes, ReLU, softmax log-loss), solver adam, and the
same max_iter, batch_size, learning_rate_init and alpha; n_iter_no_change = max_iter, so both run
exactly max_iter epochs and the fit times compare the same amount of work. For each of the seeds
(random_state of both) it fits each estimator once, alternating which goes first, and prints a table
of test accuracy (mean and standard deviation over the seeds, in percent) and fit time (mean seconds).
The last line is ``accuracy gap G points, fit-time ratio R`` with G = chainrule - scikit-learn and
R = chainrule's mean fit time / scikit-learn's.

    flock /tmp/chainrule-cpu.lock python benchmarks/sklearn_compare.py [--hidden 64] [--max-iter 200]
"""

from __future__ import annotations

import statistics
import sys
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP

from chainrule.cli import Parser, fit_stopping_on_interrupt, positive_int, run_reporting_errors
from chainrule.sklearn import MLPClassifier

PROG = "benchmarks/sklearn_compare.py"  # how errors name this script


def main() -> None:
    parser = Parser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=positive_int, nargs="+", default=[64], help="hidden layer sizes (default 64)")
    parser.add_argument("--max-iter", type=positive_int, default=200, help="epochs of each fit (default 200)")
    parser.add_argument("--batch-size", type=positive_int, default=200, help="minibatch size (default 200)")
    parser.add_argument("--lr", type=float, default=1e-3, help="learning_rate_init (default 0.001)")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty alpha (default 0.0001)")
    parser.add_argument("--seeds", type=positive_int, default=5,
                        help="fit each estimator with random_state 0, ..., N-1 (default 5)")
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, stratify=y, random_state=0)
    shared = dict(hidden_layer_sizes=tuple(args.hidden), activation="relu", solver="adam", alpha=args.alpha,
                  batch_size=args.batch_size, learning_rate_init=args.lr, max_iter=args.max_iter,
                  n_iter_no_change=args.max_iter)
    makers = {
        "scikit-learn": lambda seed: SklearnMLP(random_state=seed, **shared),
        "chainrule float64": lambda seed: MLPClassifier(random_state=seed, **shared),
        "chainrule float32": lambda seed: MLPClassifier(random_state=seed, dtype="float32", **shared),
    }
    results = {name: ([], []) for name in makers}
    for seed in range(args.seeds):
        names = list(makers) if seed % 2 == 0 else list(reversed(makers))
        for name in names:
            estimator = makers[name](seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's overflows: a diverging fit raises
                started = time.perf_counter()
                fit_stopping_on_interrupt(estimator, X_train, y_train)
                seconds = time.perf_counter() - started
            results[name][0].append(100 * estimator.score(X_test, y_test))
            results[name][1].append(seconds)

    print(f"digits: {len(X_train)} train / {len(X_test)} test, hidden {tuple(args.hidden)}, adam, "
          f"max_iter {args.max_iter}, batch {args.batch_size}, lr {args.lr:g}, alpha {args.alpha:g}, "
          f"{args.seeds} seeds")
    print(f"{'estimator':<20}{'accuracy %':>12}{'std':>8}{'fit s':>10}")
    for name, (accuracies, seconds) in results.items():
        print(f"{name:<20}{statistics.mean(accuracies):>12.2f}{statistics.pstdev(accuracies):>8.2f}"
              f"{statistics.mean(seconds):>10.3f}")
    ours, theirs = results["chainrule float64"], results["scikit-learn"]
    gap = statistics.mean(ours[0]) - statistics.mean(theirs[0])
    print(f"accuracy gap {gap:+.2f} points, fit-time ratio {statistics.mean(ours[1]) / statistics.mean(theirs[1]):.2f}")


if __name__ == "__main__":
    sys.exit(run_reporting_errors(PROG, main))
