"""BackwardView: the backward pass on a drawing, like the drawing page's Backward view: every
delta^(k), dC/dW^(k), and one gradient step's effect on the loss. The numbers are
``chainrule.inspection.trace``'s; the step is the SGD optimiser's, on a copy of the network."""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from .. import inspection
from ..network import Network
from ..optimizers import SGD
from ..training import train_step

FIRST_LAYER_IMAGES = 6


class BackwardView(widgets.VBox):
    """The backward pass of ``net`` on one 28x28 image for a target label.

    ``show(image, label)`` draws it (label None: the network's own answer); ``follow(pad)`` redraws
    it whenever a DrawPad's drawing changes. ``trace`` holds the last ``inspection.Trace``;
    ``step()`` takes one gradient step of length ``eta`` on ``lab``, a copy of ``net`` (the
    original is never changed), and reports the loss before and after."""

    def __init__(self, net: Network, eta: float = 0.01) -> None:
        if not isinstance(net, Network):
            raise TypeError(f"net must be a chainrule Network, got {type(net).__name__}")
        self.net, self.lab = net, net.copy()
        self.image: np.ndarray | None = None
        self.trace: inspection.Trace | None = None
        choices = [("its own answer", -1)] + [(str(k), k) for k in range(net.n_outputs)]
        self.label_choice = widgets.Dropdown(options=choices, value=-1, description="target")
        self.eta = widgets.FloatLogSlider(value=eta, base=10, min=-4, max=1, description="step eta")
        self.step_button = widgets.Button(description="gradient step")
        self.reset_button = widgets.Button(description="reset copy")
        self.report = widgets.HTML()
        self.plots = widgets.Output()
        self.label_choice.observe(lambda _: self.redraw(), "value")
        self.step_button.on_click(lambda _: self.step())
        self.reset_button.on_click(lambda _: self.reset())
        super().__init__([widgets.HBox([self.label_choice, self.eta, self.step_button, self.reset_button]),
                          self.report, self.plots])

    @property
    def label(self) -> int | None:
        return None if self.label_choice.value < 0 else int(self.label_choice.value)

    def follow(self, pad) -> "BackwardView":
        """Redraw whenever ``pad`` (a DrawPad) has a new drawing."""
        pad.observe(lambda _: self.show(pad.image), "prediction")
        self.show(pad.image)
        return self

    def show(self, image: np.ndarray, label: int | None = None) -> None:
        image = np.asarray(image)
        if image.shape != tuple(self.net.input_shape):
            raise ValueError(f"image must have shape {tuple(self.net.input_shape)}, got {image.shape}")
        self.image = image
        if label is not None:
            self.label_choice.value = int(label)
        self.redraw()

    def target(self) -> int:
        """The label the backward pass aims at: the chosen one, or the lab network's answer."""
        return int(self.lab.predict(self.image[None])[0]) if self.label is None else self.label

    def redraw(self) -> None:
        self.plots.clear_output(wait=True)
        if self.image is None or not self.image.any():
            self.trace = None
            self.report.value = "draw a digit"
            return
        label = self.target()
        self.trace = inspection.trace(self.lab, self.image[None], np.array([label]))
        p = self.trace.output[0]
        self.report.value = (f"target {label}: loss C = {self.trace.loss:.4g}, answer {int(p.argmax())} "
                             f"({100 * p.max():.1f}%). {inspection.FORMULAS['delta']}; {inspection.FORMULAS['dW']}")
        with self.plots:
            _plot_trace(self.trace)

    def step(self) -> tuple[float, float]:
        """One step theta <- theta - eta dC/dtheta on the copy; returns (C before, C after)."""
        if self.image is None or not self.image.any():
            raise ValueError("draw a digit (or call show(image)) before taking a step")
        X = self.lab.check_inputs(self.image[None])
        Y = self.lab.check_targets(np.array([self.target()]), 1)
        before, _ = train_step(self.lab, SGD(self.eta.value), X, Y)
        after = self.lab.loss_value(X, Y, check=False)
        self.redraw()
        self.report.value += f"<br>gradient step eta = {self.eta.value:.3g}: C {before:.4g} -> {after:.4g}"
        return float(before), float(after)

    def reset(self) -> None:
        self.lab = self.net.copy()
        self.redraw()


def _plot_trace(trace: inspection.Trace) -> None:
    """delta^(k) of every layer, the first layer's most affected units' dW rows as 28x28 images,
    and dW^(k) of the later layers as heat maps."""
    import matplotlib.pyplot as plt

    layers = trace.layers
    fig = plt.figure(figsize=(12, 5.5), layout="constrained")
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[1, 1.1, 1.2])
    axes = top.subplots(1, len(layers), squeeze=False)[0]
    for k, (ax, t) in enumerate(zip(axes, layers)):
        ax.bar(np.arange(t.delta.shape[1]), t.delta[0], color="#2563eb")
        ax.set_title(f"delta^({k + 1}) = dC/dz^({k + 1})", fontsize=9)
    units = inspection.most_affected_units(layers[0].dW, FIRST_LAYER_IMAGES)
    for ax, j in zip(middle.subplots(1, FIRST_LAYER_IMAGES), units):
        row = layers[0].dW[j].reshape(28, 28)
        bound = float(np.abs(row).max()) or 1.0
        ax.imshow(row, cmap="RdBu_r", vmin=-bound, vmax=bound)
        ax.set_title(f"dC/dW^(1) row {j}", fontsize=9)
        ax.axis("off")
    later = layers[1:]
    for ax, (k, t) in zip(bottom.subplots(1, max(1, len(later)), squeeze=False)[0], enumerate(later, start=2)):
        bound = float(np.abs(t.dW).max()) or 1.0
        ax.imshow(t.dW, cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto")
        ax.set_title(f"dC/dW^({k})", fontsize=9)
    plt.show()
    plt.close(fig)  # shown once; a view redrawn while drawing must not pile up figures
