"""fit: it learns, shuffles, follows its schedule, is reproducible from the seed, keeps float32,
and stops with a clear DivergedError when the loss blows up."""

import math

import numpy as np
import pytest

import chainrule
from chainrule.training import DivergedError, schedule_factor


def blobs(m=120, seed=0):
    """Three Gaussian blobs in the plane, labels 0, 1, 2."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    y = rng.integers(0, 3, m)
    return centres[y] + 0.5 * rng.standard_normal((m, 2)), y


def classifier(dtype=np.float64, seed=0):
    return chainrule.mlp([2, 8, 3], hidden="tanh", output="softmax", loss="cross_entropy", dtype=dtype, seed=seed)


def test_fit_learns_and_records_one_row_per_epoch():
    X, y = blobs()
    Xv, yv = blobs(60, seed=1)
    net = classifier()
    history = chainrule.fit(net, X, y, epochs=15, batch_size=16, lr=0.5, validation_data=(Xv, yv), progress=False)
    assert history.epoch == list(range(1, 16))
    assert len(history.loss) == len(history.accuracy) == len(history.val_loss) == len(history.val_accuracy) == 15
    assert history.loss[-1] < 0.5 * history.loss[0]
    assert history.val_accuracy[-1] > 0.9
    assert chainrule.accuracy(net, Xv, yv) == history.val_accuracy[-1]
    assert history.val_loss[-1] == pytest.approx(net.loss_value(Xv, yv))


def test_each_epoch_visits_every_row_once_in_a_new_order():
    X = np.arange(10.0)[:, None]
    seen = []

    def record(batch, rng):
        seen.append(batch[:, 0].copy())
        return batch

    net = chainrule.mlp([1, 1], output="identity", loss="half_squared_error")
    chainrule.fit(net, X, X, epochs=2, batch_size=3, lr=0.01, augment=record, progress=False)
    assert [len(b) for b in seen] == [3, 3, 3, 1, 3, 3, 3, 1]
    first, second = np.concatenate(seen[:4]), np.concatenate(seen[4:])
    np.testing.assert_array_equal(np.sort(first), X[:, 0])
    np.testing.assert_array_equal(np.sort(second), X[:, 0])
    assert not np.array_equal(first, second) and not np.array_equal(first, X[:, 0])


def test_fit_is_reproducible_from_the_seed():
    X, y = blobs()

    def run(seed):
        net = classifier()
        history = chainrule.fit(net, X, y, epochs=3, batch_size=10, optimizer="adam", lr=0.01, seed=seed,
                                progress=False)
        return history.loss, [p.copy() for p in net.params()]

    (loss_a, params_a), (loss_b, params_b), (loss_c, params_c) = run(5), run(5), run(6)
    assert loss_a == loss_b
    for a, b in zip(params_a, params_b):
        np.testing.assert_array_equal(a, b)
    assert loss_a != loss_c


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam"])
def test_float32_stays_float32(optimizer):
    X, y = blobs()
    net = classifier(np.float32)
    chainrule.fit(net, X.astype(np.float32), y, epochs=2, batch_size=16, optimizer=optimizer, lr=0.01,
                  weight_decay=1e-4, progress=False)
    assert all(p.dtype == np.float32 for p in net.params())
    assert net.forward(X).dtype == np.float32


def test_a_diverging_run_raises_diverged_error_with_a_hint():
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((32, 4)) * 10, rng.standard_normal((32, 1)) * 10
    net = chainrule.mlp([4, 16, 16, 1], hidden="relu", output="identity", loss="squared_error")
    hint = (r"the loss became (nan|inf) at epoch \d+, step \d+ with learning rate 1e\+06: "
            r"lower the learning rate \(for example to 100000\)")
    with np.errstate(all="ignore"), pytest.raises(DivergedError, match=hint):
        chainrule.fit(net, X, Y, epochs=50, batch_size=32, lr=1e6, progress=False)


def test_schedule_factors():
    assert schedule_factor("constant", 0.7, 10, 7) == 1
    assert schedule_factor("cosine", 0.0, 10, 0) == 1
    assert schedule_factor("cosine", 0.5, 10, 5) == pytest.approx(0.5)
    assert schedule_factor("cosine", 1.0, 10, 9) == pytest.approx(0.0)
    assert ([schedule_factor("step", 0, 9, e) for e in range(9)]
            == pytest.approx([1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01]))
    with pytest.raises(ValueError, match="unknown schedule 'linear'"):
        schedule_factor("linear", 0, 1, 0)


def test_history_records_the_cosine_learning_rate():
    X, y = blobs(40)
    history = chainrule.fit(classifier(), X, y, epochs=4, batch_size=40, lr=0.2, schedule="cosine", progress=False)
    # one step per epoch: epoch e uses eta_0 (1 + cos(pi e / 4)) / 2
    assert history.lr == pytest.approx([0.2 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(4)])


def test_keep_best_restores_the_epoch_with_the_lowest_validation_loss():
    X, y = blobs()
    Xv, yv = blobs(60, seed=1)
    snapshots = {}

    def remember(epoch, history, net):
        snapshots[epoch] = [p.copy() for p in net.params()]

    net = classifier()
    history = chainrule.fit(net, X, y, epochs=6, batch_size=8, lr=2.0, validation_data=(Xv, yv), keep_best=True,
                            callback=remember, progress=False)
    best = int(np.argmin(history.val_loss)) + 1
    assert history.best_epoch == best
    for p, saved in zip(net.params(), snapshots[best]):
        np.testing.assert_array_equal(p, saved)


def test_a_callback_returning_true_stops_training():
    X, y = blobs(40)
    history = chainrule.fit(classifier(), X, y, epochs=10, lr=0.1, callback=lambda e, h, n: e == 3, progress=False)
    assert history.epoch == [1, 2, 3] and history.stopped_early == "callback"


def test_progress_bar_can_be_turned_off(capsys):
    X, y = blobs(40)
    chainrule.fit(classifier(), X, y, epochs=2, progress=False)
    assert capsys.readouterr() == ("", "")
    chainrule.fit(classifier(), X, y, epochs=2, progress=True)
    assert "epoch" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, match", [
    ({"epochs": 0}, "epochs must be a positive integer, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a positive integer, got 2.5"),
    ({"lr": -1.0}, "learning rate must be a positive finite number"),
    ({"optimizer": "lbfgs"}, "unknown optimizer 'lbfgs'"),
    ({"schedule": "linear"}, "unknown schedule 'linear'"),
    ({"validation_data": (np.zeros((3, 5)), np.zeros(3, int))}, r"X must have shape \(m, 2\), got \(3, 5\)"),
])
def test_fit_rejects_bad_arguments(kwargs, match):
    X, y = blobs(20)
    with pytest.raises(ValueError, match=match):
        chainrule.fit(classifier(), X, y, progress=False, **kwargs)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"optimizer": chainrule.SGD(0.1), "lr": 0.5}, ValueError, "lr would be ignored: the optimizer SGD given holds"),
    ({"optimizer": chainrule.Adam(), "weight_decay": 0.1, "momentum": 0.9}, ValueError,
     "momentum, weight_decay would be ignored"),
    ({"optimizer": "adam", "momentum": 0.9}, ValueError, "momentum=0.9 is for sgd, momentum and nesterov"),
    ({"optimizer": chainrule.Adam}, TypeError, "got the class Adam"),
    ({"validation_data": (np.zeros((3, 2)),)}, ValueError, r"validation_data must be a pair \(X_val, Y_val\)"),
    ({"callback": 5}, TypeError, "callback must be a function"),
    ({"augment": "affine"}, TypeError, "augment must be a function"),
    ({"keep_best": True}, ValueError, "keep_best needs validation_data"),
    ({"augment": lambda batch, rng: batch[:1]}, ValueError, r"augment must return a batch of the shape it is given"),
], ids=["lr-with-object", "two-with-object", "adam-momentum", "class", "validation-single", "callback", "augment",
        "keep-best-alone", "augment-rows"])
def test_fit_refuses_arguments_it_would_ignore_or_misuse(kwargs, error, match):
    """Each was accepted: ignored without a word (lr with an optimizer object, momentum with Adam,
    keep_best without validation), paired images with the wrong labels (an augment dropping rows),
    or failed late with an AttributeError or IndexError."""
    X, y = blobs(20)
    net = classifier()
    before = [p.copy() for p in net.params()]
    with pytest.raises(error, match=match):
        chainrule.fit(net, X, y, epochs=2, batch_size=8, progress=False, **kwargs)
    if "augment" not in kwargs:  # refused before any step
        assert all(np.array_equal(p, q) for p, q in zip(net.params(), before))


def test_keep_best_restores_the_best_epoch_when_a_later_one_diverges():
    """The divergence propagated past the restore: the run's best parameters were lost."""
    X, y = blobs()
    Xv, yv = blobs(60, seed=1)
    net = chainrule.mlp([2, 8, 3], hidden="relu", output="softmax", loss="cross_entropy", seed=0)
    optimizer = chainrule.SGD(0.5)
    snapshots = {}

    def blow_up_after_three(epoch, history, net):
        snapshots[epoch] = [p.copy() for p in net.params()]
        if epoch == 3:
            optimizer.lr = 1e200

    with np.errstate(all="ignore"), pytest.raises(DivergedError, match=r"the parameters of epoch [123], the best on"):
        chainrule.fit(net, X, y, epochs=10, batch_size=8, optimizer=optimizer, validation_data=(Xv, yv),
                      keep_best=True, callback=blow_up_after_three, progress=False)
    assert all(np.isfinite(p).all() for p in net.params())
    assert any(all(np.array_equal(p, q) for p, q in zip(net.params(), snapshots[e])) for e in (1, 2, 3))


@pytest.mark.parametrize("optimizer", [
    dict(optimizer="sgd"), dict(optimizer="momentum", momentum=0.9),
    dict(optimizer="nesterov", momentum=0.9, weight_decay=1e-2), dict(optimizer="adam"),
])
def test_fit_takes_the_same_steps_as_a_hand_written_loop(optimizer):
    """chainrule.fit takes its steps through chainrule.fused (eta dC/dtheta from a scaled delta); the
    steps must equal those of optimizer.step on the plain gradients, batch by batch in fit's order."""
    X, y = blobs(50)
    net, ref = classifier(), classifier()
    lr, batch, epochs = 0.3, 16, 2
    chainrule.fit(net, X, y, epochs=epochs, batch_size=batch, lr=lr, schedule="cosine", seed=3, progress=False,
                  **optimizer)
    opt = chainrule.optimizers.make_optimizer(optimizer["optimizer"], lr, optimizer.get("momentum", 0.0),
                                              optimizer.get("weight_decay", 0.0))
    rng = np.random.default_rng(3)
    steps = epochs * math.ceil(len(X) / batch)
    step = 0
    for epoch in range(epochs):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch):
            idx = order[start:start + batch]
            _, grads = ref.loss_and_gradient(X[idx], y[idx])
            opt.step(ref.params(), [g for pair in grads for g in pair],
                     lr * schedule_factor("cosine", step / steps, epochs, epoch))
            step += 1
    for p, q in zip(net.params(), ref.params()):
        np.testing.assert_allclose(p, q, rtol=1e-10, atol=1e-12)


def test_fit_takes_numpy_integers_and_refuses_booleans_and_bad_budgets():
    X, y = blobs(40)
    net = chainrule.mlp([2, 8, 3], hidden="tanh", output="softmax", loss="cross_entropy")
    history = chainrule.fit(net, X, y, epochs=np.int64(2), batch_size=np.int32(8), lr=np.float32(0.1), progress=False)
    assert history.epoch == [1, 2]
    for kwargs, message in (({"epochs": True}, "epochs must be a positive integer"),
                            ({"batch_size": 2.0}, "batch_size must be a positive integer"),
                            ({"time_budget": -1}, "time_budget must be a positive number"),
                            ({"time_budget": float("nan")}, "time_budget"),
                            ({"time_budget": True}, "time_budget must be a positive number"),
                            ({"start_epoch": 5, "epochs": 2}, "start_epoch must be an integer in \\[0, epochs = 2\\]")):
        with pytest.raises(ValueError, match=message):
            chainrule.fit(net, X, y, progress=False, **kwargs)


def test_fit_and_accuracy_refuse_empty_and_mismatched_data():
    X, y = blobs(40)
    net = chainrule.mlp([2, 8, 3], hidden="tanh", output="softmax", loss="cross_entropy")
    with pytest.raises(ValueError, match="X has no samples"):
        chainrule.fit(net, X[:0], y[:0], progress=False)
    with pytest.raises(ValueError, match="X has no samples"):
        chainrule.fit(net, X, y, validation_data=(X[:0], y[:0]), progress=False)
    with pytest.raises(ValueError, match="Y has 39 labels but X has 40 rows"):
        chainrule.accuracy(net, X, y[:-1])
    with pytest.raises(ValueError, match="X must have shape \\(m, 2\\)"):
        chainrule.accuracy(net, X[:, :1], y)
    with pytest.raises(ValueError, match="NaN"):
        chainrule.accuracy(net, np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="labels Y must lie in \\[0, 3\\)"):
        chainrule.accuracy(net, X, y + 3)
    with pytest.raises(ValueError, match="batch_size must be a positive integer"):
        chainrule.accuracy(net, X, y, batch_size=0)
    assert chainrule.accuracy(net, X.tolist(), y) == np.mean(net.predict(X) == y)


def test_accuracy_refuses_a_regression_network():
    """An identity output gives no classes: accuracy returned a number (0.5) all the same."""
    X = np.random.default_rng(0).random((50, 6))
    net = chainrule.mlp([6, 4, 1], output="identity")
    with pytest.raises(ValueError, match="this network's identity output gives no classes: measure a regression "
                                         r"with net.loss_value\(X, Y\)"):
        chainrule.accuracy(net, X, X.mean(1))


def per_sample_loss(loss, out, Y):
    """The loss of each row of the output (logits for the fused losses), written out from its formula."""
    if loss == "cross_entropy":
        z = out - out.max(axis=1, keepdims=True)
        return -(z[np.arange(len(Y)), Y] - np.log(np.exp(z).sum(axis=1)))
    if loss == "binary_cross_entropy":
        a = 1 / (1 + np.exp(-out))
        y = Y.reshape(out.shape)
        return -(y * np.log(a) + (1 - y) * np.log(1 - a)).sum(axis=1)
    factor = 0.5 if loss == "half_squared_error" else 1.0
    return factor * ((out - Y) ** 2).sum(axis=1)


@pytest.mark.parametrize("output, loss, n_out", [
    ("softmax", "cross_entropy", 3), ("sigmoid", "binary_cross_entropy", 1), ("sigmoid", "binary_cross_entropy", 2),
    ("identity", "squared_error", 2), ("identity", "half_squared_error", 2), ("identity", "mean_squared_error", 2),
])
def test_the_recorded_loss_and_accuracy_are_means_per_sample_whether_the_loss_is_a_sum_or_a_mean(output, loss, n_out):
    """history.loss is the mean over the training rows of each row's loss (a summed loss divided by m,
    a mean one not), and history.accuracy the share right, both on the batch before its step: with
    one batch of all rows, those of the network before fit. A sigmoid output fused with its loss
    gives logits, so a row counts as class 1 at z >= 0 (a >= 1/2), not at z >= 1/2."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((200, 3))
    net = chainrule.mlp([3, 5, n_out], hidden="tanh", output=output, loss=loss, seed=2)
    for dense in net.dense:
        dense.W *= 0.3  # logits near 0, many of them in [0, 1/2)
    before = net.copy()
    if loss == "cross_entropy":
        Y = rng.integers(0, n_out, 200)
    elif loss == "binary_cross_entropy":
        Y = rng.integers(0, 2, (200, n_out)).astype(float)
    else:
        Y = rng.standard_normal((200, n_out))
    history = chainrule.fit(net, X, Y, epochs=1, batch_size=200, lr=0.1, progress=False)
    out = before.forward_pass(X, before.loss_layers)[0]
    assert history.loss == pytest.approx([per_sample_loss(loss, out, Y).mean()], rel=1e-12)
    if net.is_classifier:
        if n_out == 1:
            right = (out[:, 0] >= 0) == (Y[:, 0] == 1)
            assert 0 < np.count_nonzero((out >= 0) & (out < 0.5))
        else:
            right = out.argmax(axis=1) == (Y if Y.ndim == 1 else Y.argmax(axis=1))
        assert history.accuracy == [np.count_nonzero(right) / 200]
        if n_out == 1:
            assert history.accuracy == [chainrule.accuracy(before, X, Y)]


@pytest.mark.parametrize("epochs", range(1, 31))
def test_the_step_schedule_divides_by_ten_at_each_third_and_never_more_than_twice(epochs):
    """step: gamma^floor(epoch / every), every = a third of the epochs rounded up: non-increasing,
    1 at the start and at most three stages 1, 0.1, 0.01 (never 0.001), whatever the number of epochs."""
    factors = [schedule_factor("step", e / epochs, epochs, e) for e in range(epochs)]
    every = math.ceil(epochs / 3)
    assert factors == pytest.approx([0.1 ** (e // every) for e in range(epochs)])
    assert factors[0] == 1 and all(a >= b for a, b in zip(factors, factors[1:]))
    assert min(factors) >= 0.01 - 1e-15
    if epochs == 10:
        assert factors == pytest.approx([1] * 4 + [0.1] * 4 + [0.01] * 2)


def test_a_resumed_run_continues_the_cosine_schedule_where_it_stopped():
    """fit(..., start_epoch=2) takes epochs 3 and 4 at the rates of a run that went through 1 and 2."""
    X, y = blobs(40)
    history = chainrule.fit(classifier(), X, y, epochs=4, start_epoch=2, batch_size=40, lr=0.2, schedule="cosine",
                            progress=False)
    assert history.epoch == [3, 4]
    assert history.lr == pytest.approx([0.2 * (1 + math.cos(math.pi * e / 4)) / 2 for e in (2, 3)])
