"""scikit-learn estimators over chainrule networks: MLPClassifier and MLPRegressor.

    from chainrule.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), random_state=0).fit(X, y)
    clf.score(X_test, y_test), clf.net_        # the chainrule Network underneath

The arguments mean what they mean in sklearn.neural_network.MLPClassifier and MLPRegressor, and each
minibatch B of n_B rows is a step on the same objective as there:

    J_B = C_B + alpha / (2 n_B) sum_k |W^(k)|^2,      dJ_B/dW^(k) = dC_B/dW^(k) + (alpha / n_B) W^(k)

where C_B is the loss as a mean over the rows of B: chainrule's mean losses (cross_entropy,
binary_cross_entropy, mean_squared_error) as they are, its summed losses (squared_error,
half_squared_error) divided by n_B. So alpha is chainrule's weight decay lambda = alpha / n_B (biases
are not penalised), and the same alpha, learning_rate_init and batch_size train the same way here as
in scikit-learn. The default losses are scikit-learn's: softmax cross-entropy (log-loss) for the
classifier, 1/(2 n_B) sum_x |a(x) - y(x)|^2 (half_squared_error / n_B) for the regressor (scikit-learn
also divides its reported loss, not its gradient, by the number of outputs).

The regressor also starts where scikit-learn's does: W and b uniform on [-r, r], r = sqrt(6 / (n_in +
n_out)) (sqrt(2 / ...) for "logistic"), drawn from random_state in scikit-learn's order, so the same
integer random_state gives the same initial parameters (only the minibatch order is drawn differently).
With few epochs the start decides the result: chainrule's own initialisation (He-normal W for ReLU,
zero b) spreads the initial outputs of a 100-unit ReLU layer about 3.7 times as widely, and after 50
epochs of Adam at 1e-3 on scikit-learn's check_regressors_train data the loss was still 2.2 times
scikit-learn's. The classifier keeps chainrule's initialisation.

Solvers: "adam" and "sgd" (momentum, Nesterov by default, as in scikit-learn) run epochs of shuffled
minibatches through chainrule.optimizers (whose Adam adds epsilon to sqrt(s_hat), as Kingma & Ba and
PyTorch do, where scikit-learn adds it to sqrt(s): the two differ only while |g| is near epsilon);
"gd-linesearch" takes one full-batch gradient step per iteration, its length chosen by Armijo
backtracking (chainrule.optimizers.armijo_step, first trying twice the last accepted length), so
learning_rate_init and batch_size do not apply to it. Each fit builds a new network, unless
warm_start is set and one exists, and a fresh optimiser. Training
stops after max_iter iterations or, as in scikit-learn, once the training loss (with early_stopping:
the validation score) has not improved by tol for more than n_iter_no_change iterations in a row.

scikit-learn is an optional dependency (pip install 'chainrule[sklearn]'); ``import chainrule``
never imports this module.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
except ImportError:  # pragma: no cover - depends on the environment
    raise ImportError("chainrule.sklearn needs scikit-learn: pip install 'chainrule[sklearn]'") from None
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .arguments import is_integer, is_real
from .losses import get_loss
from .network import Network, mlp
from .optimizers import SGD, Adam, Optimizer, armijo_step
from .training import BestParameters, check_finite, flatten, minibatches, train_step

ACTIVATIONS = {"identity": "identity", "logistic": "sigmoid", "sigmoid": "sigmoid", "tanh": "tanh",
               "relu": "relu", "leaky_relu": "leaky_relu"}
SOLVERS = ("adam", "sgd", "gd-linesearch")
FLOATS = (np.float64, np.float32)


class _MLP(BaseEstimator):
    """What the classifier and the regressor share: arguments, network, training loop."""

    _losses: tuple[str, ...] = ()
    _outputs: tuple[str, ...] = ()

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=1e-4,
        batch_size="auto",
        learning_rate_init=1e-3,
        max_iter=200,
        random_state=None,
        tol=1e-4,
        verbose=False,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        loss="auto",
        output="auto",
        dtype="float64",
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.loss = loss
        self.output = output
        self.dtype = dtype

    # ---- the public verbs (fit, partial_fit and predict live in the subclasses) ---------------
    def _fit(self, X, y, incremental: bool, classes=None):
        hidden = self._check_params()
        first = not ((incremental or self.warm_start) and hasattr(self, "net_"))
        X, y = validate_data(self, X, y, reset=first, dtype=FLOATS, **self._y_checks)
        Y = self._encode_targets(y, first, classes)
        if first:
            self._start(X.shape[1], hidden, Y)
        if first or not incremental:
            self._optimizer, self._step_length = self._new_optimizer(), 1.0
        X = X.astype(self.net_.dtype, copy=False)
        Y = self.net_.check_targets(Y, len(X))
        if incremental:
            self._record(self._iteration(X, Y))
            return self
        if self.early_stopping:
            X, Xv, Y, Yv = train_test_split(X, Y, test_size=self.validation_fraction, random_state=self._seed,
                                            stratify=Y if self._stratify else None)
            self.validation_scores_ = []
        self._train(X, Y, (Xv, Yv) if self.early_stopping else None)
        return self

    def _start(self, n_features: int, hidden: tuple[int, ...], Y: np.ndarray) -> None:
        """Build the network and the random streams; start the records."""
        random_state = check_random_state(self.random_state)
        sizes = [n_features, *hidden, self._n_outputs(Y)]
        initial = self._initial_parameters(sizes, random_state)
        self._seed = int(random_state.randint(np.iinfo(np.int32).max))
        loss, output = self._loss_and_output()
        self.net_: Network = mlp(sizes, ACTIVATIONS[self.activation], output, loss, self.dtype, self._seed)
        for layer, (W, b) in zip(self.net_.dense, initial):
            layer.W[...], layer.b[...] = W, b
        self._rng = np.random.default_rng(self._seed)
        self.loss_curve_: list[float] = []
        self.validation_scores_: list[float] | None = None
        self.n_iter_ = 0

    def _new_optimizer(self) -> Optimizer:
        """A fresh optimiser (no moments yet): each fit starts one, partial_fit keeps it."""
        if self.solver == "adam":
            return Adam(self.learning_rate_init, self.beta_1, self.beta_2, self.epsilon)
        return SGD(self.learning_rate_init, self.momentum, self.nesterovs_momentum and self.momentum > 0)

    def _train(self, X, Y, validation) -> None:
        """Iterate until max_iter or until no improvement by tol for more than n_iter_no_change
        iterations; with validation data, keep the parameters of the best validation score."""
        best, stale = -math.inf, 0
        kept = BestParameters(self.net_.params())
        for _ in range(self.max_iter):
            loss = self._iteration(X, Y)
            self._record(loss)
            if validation is not None:
                score = self._validation_score(*validation)
                self.validation_scores_.append(score)
                stale = stale + 1 if score < best + self.tol else 0
                best = max(best, score)
                kept.offer(-score)
            else:
                stale = stale + 1 if -loss < best + self.tol else 0
                best = max(best, -loss)
            if stale > self.n_iter_no_change:
                self._say(f"{'Validation score' if validation else 'Training loss'} did not improve by "
                          f"tol={self.tol} for {self.n_iter_no_change} consecutive iterations. Stopping.")
                break
            if self._step_length == 0:
                self._say("No step length along the negative gradient decreases the loss. Stopping.")
                break
        else:
            warnings.warn(f"{type(self).__name__}: the maximum of {self.max_iter} iterations was reached "
                          "before convergence; raise max_iter", ConvergenceWarning)
        kept.restore()

    def _record(self, loss: float) -> None:
        self.loss_curve_.append(loss)
        self.n_iter_ += 1
        self._say(f"Iteration {self.n_iter_}, loss = {loss:.8f}")

    def _say(self, line: str) -> None:
        if self.verbose:
            print(line)

    # ---- one iteration: an epoch of minibatches, or one line-search step -----------------------
    def _iteration(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One pass of the solver; returns the mean objective over the rows it saw."""
        if self.solver == "gd-linesearch":
            return self._line_search_step(X, Y)
        m = len(X)
        size = min(200, m) if self.batch_size == "auto" else min(self.batch_size, m)
        total = 0.0
        for rows in minibatches(m, size, self._rng):
            loss, _ = train_step(self.net_, self._optimizer, X[rows], Y[rows], where=self._where(),
                                 objective=self._objective)
            total += loss * len(rows)
        return total / m

    def _line_search_step(self, X: np.ndarray, Y: np.ndarray) -> float:
        """One Armijo step on all of X; self._step_length keeps the step it took (0: none helped)."""
        def objective() -> float:
            return self.net_.loss_value(X, Y, check=False) * self._loss_scale(len(X)) + self._penalty(len(X))

        self._step_length, _, after = armijo_step(
            lambda: self._objective_and_gradient(X, Y), objective, self.net_.params(),
            alpha0=2 * self._step_length or 1.0
        )
        return after

    def _objective_and_gradient(self, X: np.ndarray, Y: np.ndarray) -> tuple[float, list[np.ndarray]]:
        """J_B and [dJ/dW^(1), dJ/db^(1), ...] on the rows X, Y (see the module docstring)."""
        loss, grads = self._objective(*self.net_.loss_and_gradient(X, Y, check=False), len(X))
        check_finite(loss, self.learning_rate_init, self._where())
        return loss, flatten(grads)

    def _objective(self, loss: float, grads: list, m: int) -> tuple[float, list]:
        """J_B and its gradient from C_B and its gradient, on m rows."""
        scale = self._loss_scale(m)
        for (dW, db), layer in zip(grads, self.net_.dense):
            dW *= scale  # in place: the backward pass allocated these arrays for us alone
            dW += (self.alpha / m) * layer.W
            db *= scale
        return loss * scale + self._penalty(m), grads

    def _where(self) -> str:
        return f"in iteration {self.n_iter_ + 1}"

    def _loss_scale(self, m: int) -> float:
        """1 for a loss that is already a mean over the rows, 1/m for one that sums over them."""
        return 1.0 if self.net_.loss.mean else 1.0 / m

    def _penalty(self, m: int) -> float:
        return self.alpha / (2 * m) * sum(float(np.vdot(layer.W, layer.W)) for layer in self.net_.dense)

    # ---- argument checks, once per fit ---------------------------------------------------------
    def _check_params(self) -> tuple[int, ...]:
        """The hidden layer sizes as a tuple; a one-line ValueError for any bad argument."""
        sizes = self.hidden_layer_sizes
        hidden = (sizes,) if is_integer(sizes) else tuple(np.ravel(np.asarray(sizes, dtype=object)))
        if not all(is_integer(n) and n >= 1 for n in hidden):
            raise ValueError(f"hidden_layer_sizes must be positive integers, got {sizes!r}")
        _choice("activation", self.activation, tuple(ACTIVATIONS))
        _choice("solver", self.solver, SOLVERS)
        _choice("loss", self.loss, ("auto", *self._losses))
        _choice("output", self.output, ("auto", *self._outputs))
        _choice("dtype", _dtype_name(self.dtype), ("float64", "float32"))
        _number("alpha", self.alpha, 0, math.inf)
        _number("learning_rate_init", self.learning_rate_init, 0, math.inf, low_open=True)
        _number("tol", self.tol, 0, math.inf)
        _number("momentum", self.momentum, 0, 1, high_open=True)
        _number("beta_1", self.beta_1, 0, 1, high_open=True)
        _number("beta_2", self.beta_2, 0, 1, high_open=True)
        _number("epsilon", self.epsilon, 0, math.inf, low_open=True)
        _number("validation_fraction", self.validation_fraction, 0, 1, low_open=True, high_open=True)
        _integer("max_iter", self.max_iter, 1)
        _integer("n_iter_no_change", self.n_iter_no_change, 1)
        if self.batch_size != "auto":
            _integer("batch_size", self.batch_size, 1)
        return tuple(int(n) for n in hidden)

    def _initial_parameters(self, sizes: list[int],
                            random_state: np.random.RandomState) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W, b) per layer to start from; none: keep chainrule.mlp's (He for ReLU, else Glorot; b = 0)."""
        return []

    def _loss_and_output(self) -> tuple[str, str]:
        raise NotImplementedError

    def _n_outputs(self, Y: np.ndarray) -> int:
        raise NotImplementedError

    def _encode_targets(self, y: np.ndarray, first: bool, classes) -> np.ndarray:
        raise NotImplementedError

    def _validation_score(self, X: np.ndarray, Y: np.ndarray) -> float:
        raise NotImplementedError

    def _outputs_of(self, X) -> np.ndarray:
        """a^(L) for the rows of X, after checking X against what fit saw."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOATS)
        return self.net_.forward(X.astype(self.net_.dtype, copy=False), check=False)


class MLPClassifier(ClassifierMixin, _MLP):
    """A feed-forward network classifier trained by backpropagation (chainrule's hand-derived
    gradients), with scikit-learn's MLPClassifier arguments plus chainrule's own:

    loss: "auto" (= "cross_entropy", softmax outputs, scikit-learn's log-loss), "binary_cross_entropy"
      (one sigmoid unit per class), or "squared_error" / "half_squared_error" / "mean_squared_error"
      against one-hot targets (Nielsen's and the MAT1110 set-up).
    output: the output activation, "softmax" or "sigmoid" ("auto": the one the loss needs; sigmoid for
      the squared losses). predict_proba normalises sigmoid outputs a to a_k / sum_j a_j.
    dtype: "float64" or "float32" (faster) for the network's parameters and arithmetic.

    Attributes after fit: classes_, net_ (the chainrule Network, n_classes outputs), loss_curve_,
    n_iter_, validation_scores_ (with early_stopping), n_features_in_."""

    _losses = ("cross_entropy", "binary_cross_entropy", "squared_error", "half_squared_error", "mean_squared_error")
    _outputs = ("softmax", "sigmoid")
    _y_checks: dict = {}
    _stratify = True

    def fit(self, X, y) -> "MLPClassifier":
        """Train a new network on the rows of X (n_samples, n_features) and the labels y."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y, classes=None) -> "MLPClassifier":
        """One more iteration of the solver on X, y; the first call needs ``classes``, every label
        that will ever appear, and builds the network."""
        if classes is None and not hasattr(self, "net_"):
            raise ValueError("classes must be passed on the first call to partial_fit")
        return self._fit(X, y, incremental=True, classes=classes)

    def predict(self, X) -> np.ndarray:
        """The class whose output is largest, for each row of X."""
        out = self._outputs_of(X)
        return self.classes_[out.argmax(axis=1)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities (n_samples, n_classes), columns in the order of classes_."""
        out = self._outputs_of(X)
        if self.net_.output_activation == "softmax":
            return out
        return out / np.maximum(out.sum(axis=1, keepdims=True), np.finfo(out.dtype).tiny)

    def predict_log_proba(self, X) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def _loss_and_output(self) -> tuple[str, str]:
        loss = "cross_entropy" if self.loss == "auto" else self.loss
        needs = get_loss(loss).output_activation  # the activation a loss fused with it absorbs
        output = (needs or "sigmoid") if self.output == "auto" else self.output
        if needs and output != needs:
            raise ValueError(f"output must be {needs!r} for loss {loss!r}, got {output!r}")
        return loss, output

    def _n_outputs(self, Y: np.ndarray) -> int:
        return len(self.classes_)

    def _encode_targets(self, y, first, classes) -> np.ndarray:
        """The labels as indices into classes_ (set here on the first call)."""
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y if classes is None else classes)
            if len(self.classes_) < 2:
                raise ValueError("y must hold at least two classes to train a classifier, "
                                 f"got one class: {self.classes_[0]!r}")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            # the network's outputs are the first call's classes: others cannot be added later
            raise ValueError(f"classes={np.unique(classes).tolist()} differs from the first call's "
                             f"{self.classes_.tolist()}, which the network was built for")
        known = np.isin(y, self.classes_)
        if not known.all():
            raise ValueError(f"y contains labels not in classes_ {self.classes_.tolist()}: "
                             f"{np.unique(y[~known]).tolist()}")
        return np.searchsorted(self.classes_, y)

    def _validation_score(self, X, Y) -> float:
        out = self.net_.forward(X, check=False)
        return float(np.mean(out.argmax(axis=1) == Y))


class MLPRegressor(RegressorMixin, _MLP):
    """A feed-forward network regressor trained by backpropagation (chainrule's hand-derived
    gradients), with scikit-learn's MLPRegressor arguments plus chainrule's own:

    loss: "auto" (= "half_squared_error", divided by the batch size: scikit-learn's squared loss),
      "squared_error" or "mean_squared_error".
    output: the output activation, "identity" ("auto"), "sigmoid", "tanh" or "relu".
    dtype: "float64" or "float32" (faster) for the network's parameters and arithmetic.

    It starts from scikit-learn's initial parameters for the same integer random_state (see the module
    docstring).

    Attributes after fit: net_ (the chainrule Network), n_outputs_, loss_curve_, n_iter_,
    validation_scores_ (R^2, with early_stopping), n_features_in_."""

    _losses = ("half_squared_error", "squared_error", "mean_squared_error")
    _outputs = ("identity", "sigmoid", "tanh", "relu")
    _y_checks = {"multi_output": True, "y_numeric": True}
    _stratify = False

    def fit(self, X, y) -> "MLPRegressor":
        """Train a new network on the rows of X (n_samples, n_features) and targets y (n_samples,)
        or (n_samples, n_outputs)."""
        return self._fit(X, y, incremental=False)

    def partial_fit(self, X, y) -> "MLPRegressor":
        """One more iteration of the solver on X, y (the first call builds the network)."""
        return self._fit(X, y, incremental=True)

    def predict(self, X) -> np.ndarray:
        """The network's output for each row of X: shape (n_samples,) when fit saw one target."""
        out = self._outputs_of(X).astype(np.float64, copy=False)
        return out[:, 0] if self._one_target else out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _initial_parameters(self, sizes, random_state) -> list[tuple[np.ndarray, np.ndarray]]:
        """scikit-learn's initialisation, drawn as its MLPRegressor draws it: layer by layer from
        ``random_state``, its (n_in, n_out) coefs (our W^T), then its intercepts, all uniform on
        [-r, r] with r = sqrt(6 / (n_in + n_out)) (sqrt(2 / ...) for the logistic activation). So the
        same integer random_state starts from scikit-learn's parameters."""
        factor = 2.0 if ACTIVATIONS[self.activation] == "sigmoid" else 6.0
        initial = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            bound = math.sqrt(factor / (n_in + n_out))
            coefs = random_state.uniform(-bound, bound, (n_in, n_out))
            initial.append((coefs.T, random_state.uniform(-bound, bound, n_out)))
        return initial

    def _loss_and_output(self) -> tuple[str, str]:
        loss = "half_squared_error" if self.loss == "auto" else self.loss
        return loss, "identity" if self.output == "auto" else self.output

    def _n_outputs(self, Y: np.ndarray) -> int:
        return Y.shape[1]

    def _encode_targets(self, y, first, classes) -> np.ndarray:
        Y = y.reshape(len(y), -1)
        if first:
            self._one_target = y.ndim == 1
            self.n_outputs_ = Y.shape[1]
        return Y

    def _validation_score(self, X, Y) -> float:
        out = self.net_.forward(X, check=False)
        residual = float(np.sum((Y - out) ** 2))
        total = float(np.sum((Y - Y.mean(axis=0)) ** 2))
        return 1.0 - residual / total if total > 0 else 0.0


def _choice(name: str, value, choices: tuple[str, ...]) -> None:
    if not (isinstance(value, str) and value in choices):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")


def _number(name: str, value, low: float, high: float, low_open: bool = False, high_open: bool = False) -> None:
    ok = is_real(value) and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
        raise ValueError(f"{name} must be a number in {interval}, got {value!r}")


def _integer(name: str, value, low: int) -> None:
    if not (is_integer(value) and value >= low):
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def _dtype_name(value):
    """The NumPy name of a dtype-like value ("float32" for np.float32), or the value itself."""
    try:
        return np.dtype(value).name if value is not None else value
    except TypeError:
        return value
