"""DrawPad: draw a digit in a notebook cell and see the network's answer live."""

from __future__ import annotations

from pathlib import Path

import anywidget
import numpy as np
import traitlets

from ..network import Network
from ..preprocessing import digit_from_strokes

_HERE = Path(__file__).resolve().parent
# One module for the browser: the page's pad (static/pad.js), then this widget's view.
_ESM = (_HERE.parent / "app" / "static" / "pad.js").read_text() + "\n" + (_HERE / "widget.js").read_text()


class DrawPad(anywidget.AnyWidget):
    """A drawing pad for mouse, pen or finger, showing ``model``'s prediction while you draw.

    ``strokes``: the drawing, a list of strokes, each a list of [x, y] in pad units (0..1000 across),
    updated as you draw; assign to it to draw from Python. ``image``: what the network sees,
    ``digit_from_strokes(strokes)`` (28x28 uint8). ``probabilities`` and ``digit``: the prediction."""

    _esm = _ESM
    strokes = traitlets.List().tag(sync=True)
    prediction = traitlets.Dict().tag(sync=True)
    image_data = traitlets.List().tag(sync=True)

    def __init__(self, model: Network, **kwargs) -> None:
        if not isinstance(model, Network):
            raise TypeError(f"model must be a chainrule Network, got {type(model).__name__}")
        if int(np.prod(model.input_shape)) != 784:
            raise ValueError(f"model must take 28x28 digits (784 inputs), got input shape {model.input_shape}")
        self.model = model
        self._image = np.zeros((28, 28), np.uint8)
        self._probabilities: np.ndarray | None = None
        super().__init__(**kwargs)
        self._predict({"new": self.strokes})

    @property
    def image(self) -> np.ndarray:
        """The 28x28 input the network sees for the current strokes."""
        return self._image.copy()

    @property
    def probabilities(self) -> np.ndarray | None:
        """The network's output for the current drawing, or None when nothing is drawn."""
        return None if self._probabilities is None else self._probabilities.copy()

    @property
    def digit(self) -> int | None:
        return None if self._probabilities is None else int(self._probabilities.argmax())

    def clear(self) -> None:
        self.strokes = []

    @traitlets.observe("strokes")
    def _predict(self, change) -> None:
        try:
            image = digit_from_strokes(change["new"])
        except ValueError as err:  # strokes assigned from Python may be malformed
            self._image, self._probabilities = np.zeros((28, 28), np.uint8), None
            self.prediction, self.image_data = {"error": str(err)}, []
            return
        self._image = image
        if not image.any():
            self._probabilities = None
            self.prediction, self.image_data = {}, []
            return
        self._probabilities = self.model.predict_proba(image[None])[0]
        digit = int(self._probabilities.argmax())
        self.image_data = image.ravel().tolist()
        self.prediction = {"digit": digit, "confidence": float(self._probabilities[digit]),
                           "probabilities": self._probabilities.tolist()}
