"""The digit-model helpers the faces call: the model check, the saliency map, per-class accuracy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule import mlp
from chainrule.digits import (check_digit_model, class_accuracies, confident_mistakes, confusion_matrix,
                             probabilities_and_saliency, saliency)

DIGIT_SCALING = (0.0, 1 / 255, (28, 28))


def test_check_digit_model_passes_a_28x28_ten_digit_classifier_and_refuses_others():
    net = mlp([784, 8, 10], output="softmax", loss="cross_entropy", input_scaling=DIGIT_SCALING)
    assert check_digit_model(net) is net
    others = [mlp([784, 8, 10], output="softmax", loss="cross_entropy"),  # flat inputs
              mlp([784, 8, 5], output="softmax", loss="cross_entropy", input_scaling=DIGIT_SCALING),
              mlp([784, 8, 10], output="identity", loss="half_squared_error", input_scaling=DIGIT_SCALING)]
    for other in others:
        with pytest.raises(ValueError, match=r"must classify \(28, 28\) images into 10 digits"):
            check_digit_model(other)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 4))
def test_saliency_is_the_top_class_input_gradient_scaled_to_at_most_one(seed, n):
    net = mlp([784, 16, 10], hidden="tanh", output="softmax", loss="cross_entropy", seed=seed,
              input_scaling=DIGIT_SCALING)
    images = np.random.default_rng(seed).integers(0, 256, (n, 28, 28), dtype=np.uint8)
    gradient = net.input_gradient(images, output=None)
    scaled = saliency(net, images)
    assert scaled.shape == images.shape
    for g, s in zip(gradient, scaled):
        peak = np.abs(g).max()
        np.testing.assert_allclose(s * peak, g, rtol=1e-12, atol=0)
        assert np.abs(s).max() == pytest.approx(1.0)


def test_probabilities_and_saliency_from_one_pass_are_predict_proba_and_saliency():
    net = mlp([784, 16, 10], hidden="relu", output="softmax", loss="cross_entropy", seed=3, input_scaling=DIGIT_SCALING)
    images = np.random.default_rng(3).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    probabilities, scaled = probabilities_and_saliency(net, images)
    np.testing.assert_array_equal(probabilities, net.predict_proba(images))
    gradient = net.input_gradient(images)  # checked against central differences in test_network.py
    np.testing.assert_allclose(scaled, gradient / np.abs(gradient).max(axis=(1, 2), keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-12)


def test_saliency_of_a_zero_gradient_stays_zero():
    net = mlp([784, 4, 10], hidden="relu", output="softmax", loss="cross_entropy", input_scaling=DIGIT_SCALING)
    for dense in net.dense:
        dense.W[...] = 0
    assert not saliency(net, np.zeros((1, 28, 28), np.uint8)).any()


@given(labels=st.lists(st.integers(0, 3), min_size=1, max_size=40), seed=st.integers(0, 99))
def test_class_accuracies_are_each_class_share_predicted_right(labels, seed):
    labels = np.array(labels)
    predicted = np.random.default_rng(seed).integers(0, 4, len(labels))
    accuracies = class_accuracies(confusion_matrix(labels, predicted, 4))
    for k in range(4):
        mine = labels == k
        assert accuracies[k] == (np.mean(predicted[mine] == k) if mine.any() else 0.0)


@pytest.mark.parametrize("labels, predicted, message", [
    ([0, 1], [1], "same length"), ([[0, 1]], [[0, 1]], "1-D"),
    ([0, 3], [1, 1], r"labels must be integer classes in \[0, 3\)"), ([0, 1], [-1, 0], "predicted must be"),
    ([0, 1], [1.5, 0], "predicted must be"),
])
def test_confusion_matrix_refuses_unpaired_or_out_of_range_classes(labels, predicted, message):
    with pytest.raises(ValueError, match=message):
        confusion_matrix(labels, predicted, 3)


def test_confident_mistakes_are_ordered_and_refuse_labels_of_another_shape():
    P = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([1, 1, 1, 0])
    assert confident_mistakes(P, labels, 5).tolist() == [0, 3, 2]  # wrong with 0.9, 0.7, 0.6
    assert confident_mistakes(P, labels, 1).tolist() == [0]
    with pytest.raises(ValueError, match=r"integer labels \(m,\), got \(4, 2\) and \(4, 1\)"):
        confident_mistakes(P, labels[:, None], 5)  # was an IndexError
    with pytest.raises(ValueError, match="count must be a non-negative integer, got -1"):
        confident_mistakes(P, labels, -1)  # returned every mistake but one
