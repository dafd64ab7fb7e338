"""The "look inside" views' data: the forward and backward pass of a lab copy of the model on the
user's drawing, as JSON-ready dicts, and the confidence threshold's coverage on MNIST. No
mathematics here: every number comes from ``chainrule.inspection``, the network or an optimiser.

Each browser session gets its own lab copy (``Labs``); switching units off, scaling their weights
and gradient steps change only that copy, never the model the drawing pad uses. A lab copies the
model only once it is changed, and the labs together hold at most LAB_BYTES of weights."""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict

import numpy as np

from .. import inspection
from ..arguments import is_real
from ..datasets import load_mnist
from ..jacobians import dense_activations
from ..network import Network
from ..optimizers import SGD
from ..training import flatten

FIRST_LAYER_IMAGES = 6
MAX_SESSIONS = 16
LAB_BYTES = 200_000_000  # of weights held by the labs: two edited labs of the largest live-trained model (41 MB)
COVERAGE_MODELS = 4  # coverage results kept: the loaded model and the last few adapted or trained ones


class Lab:
    """A model that one session may edit: units switched off, weights scaled, gradient steps.
    ``base`` is the model with the steps taken so far (the drawing pad's model itself until the
    first step: it is never changed in place, so it need not be copied) and ``net`` is ``base`` with
    the edits, rebuilt from a fresh copy of ``base`` so that edits can be undone one by one. An edit
    or step is checked whole before any of it is kept, and refused if it would make a weight NaN or
    infinite."""

    def __init__(self, net: Network) -> None:
        self.source = net
        self.base = net
        self.off: set[tuple[int, int]] = set()
        self.scale: dict[tuple[int, int], float] = {}
        self.net = net
        self.version = 0
        self.steps = 0  # gradient steps taken: the page says so, since they change every answer of the lab
        # edits and steps read the lab's state and replace it: two at once would lose one of them
        self._changing = threading.Lock()

    def edit(self, layer: int, unit: int, off: bool | None = None, scale: float | None = None) -> None:
        with self._changing:
            self._edit(layer, unit, off, scale)

    def _edit(self, layer: int, unit: int, off: bool | None, scale: float | None) -> None:
        inspection.check_unit(self.base, layer, unit, hidden=off is not None)  # a unit switched off must be hidden
        if scale is not None and (type(scale) not in (int, float) or not -10 <= scale <= 10):
            raise ValueError(f"scale must be a number in [-10, 10], got {scale!r}")
        switched_off, scales = set(self.off), dict(self.scale)
        if off is not None:
            (switched_off.add if off else switched_off.discard)((layer, unit))
        if scale is not None:
            scales[(layer, unit)] = float(scale)
        net = self.base.copy() if switched_off or scales else self.base
        with np.errstate(over="ignore"):  # an overflow is refused just below
            for layer_unit in switched_off:
                inspection.silence_unit(net, *layer_unit)
            for layer_unit, factor in scales.items():
                inspection.scale_unit(net, *layer_unit, factor)
        _check_finite(net)
        self.net, self.off, self.scale = net, switched_off, scales
        self.version += 1

    def step(self, image: np.ndarray, label: int, eta: float) -> None:
        """One gradient step theta <- theta - eta dC/dtheta on the lab model as it is (edits
        included, which then become part of it), taken on a copy that replaces it if all is finite."""
        with self._changing:
            self._step(image, label, eta)

    def _step(self, image: np.ndarray, label: int, eta: float) -> None:
        _, grads = self.net.loss_and_gradient(image[None], np.array([label]))
        net = self.net.copy()
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
            SGD(eta).step(net.params(), flatten(grads))
        _check_finite(net)
        self.base = self.net = net
        self.off, self.scale = set(), {}
        self.version += 1
        self.steps += 1

    def nbytes(self) -> int:
        """The bytes of the weights this lab holds beyond the drawing pad's model."""
        own = {id(net): net for net in (self.base, self.net) if net is not self.source}
        return sum(p.nbytes for net in own.values() for p in net.params())

    def edits(self) -> dict:
        return {"off": sorted([k, j] for k, j in self.off),
                "scale": [[k, j, f] for (k, j), f in sorted(self.scale.items())], "version": self.version,
                "steps": self.steps}


def _check_finite(net: Network) -> None:
    if not all(np.isfinite(p).all() for p in net.params()):
        raise ValueError("the lab model's weights would become non-finite (too large): this was not applied; "
                         "reset the lab or use smaller scales and steps")


class Labs:
    """The labs by session id, the least recently used dropped beyond MAX_SESSIONS or LAB_BYTES.
    Every lab starts afresh when the drawing pad's model changes (adaptation, a live-trained model),
    so that none keeps an old model alive."""

    def __init__(self, model) -> None:
        self.model = model  # a callable giving the model the drawing pad uses now
        self._labs: OrderedDict[str, Lab] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session) -> Lab:
        if not (isinstance(session, str) and 0 < len(session) <= 64):
            raise ValueError(f"session must be a string of 1 to 64 characters, got {session!r}")
        with self._lock:
            model = self.model()
            for stale in [key for key, lab in self._labs.items() if lab.source is not model]:
                del self._labs[stale]
            lab = self._labs.pop(session, None) or Lab(model)
            self._labs[session] = lab
            while len(self._labs) > 1 and (len(self._labs) > MAX_SESSIONS or self.nbytes() > LAB_BYTES):
                self._labs.popitem(last=False)
            return lab

    def reset(self, session) -> Lab:
        self.get(session)
        with self._lock:
            self._labs[session] = Lab(self.model())
            return self._labs[session]

    def nbytes(self) -> int:
        return sum(lab.nbytes() for lab in self._labs.values())


def forward(lab: Lab, image: np.ndarray) -> dict:
    """Each layer's z, a and b for one (28, 28) image, the prediction, and the lab's edits."""
    result = inspection.trace(lab.net, image[None])
    layers = [{"z": _list(t.z[0]), "a": _list(t.a[0]), "b": _list(t.b), "activation": name}
              for t, name in zip(result.layers, dense_activations(lab.net))]
    probabilities = result.output[0]
    return {"layers": layers, "probabilities": _list(probabilities), "digit": int(probabilities.argmax()),
            "edits": lab.edits(), "formulas": {"z": inspection.FORMULAS["z"], "a": inspection.FORMULAS["a"]}}


def backward(lab: Lab, image: np.ndarray, label: int) -> dict:
    """The loss for ``label``, every delta^(k), dW^(k) (all of it beyond the first layer; for the
    first layer the rows of the most affected units, as 28x28 images) and db^(k), and dC/dx.
    Values are the library's float numbers unrounded, so they equal ``net.loss_and_gradient``."""
    net = lab.net
    result = inspection.trace(net, image[None], np.array([label]))
    loss_name = net.loss.name
    layers = []
    for k, (t, name) in enumerate(zip(result.layers, dense_activations(net))):
        entry = {"delta": _list(t.delta[0]), "db": _list(t.db), "activation": name}
        if k == 0:
            units = inspection.most_affected_units(t.dW, FIRST_LAYER_IMAGES)
            entry["dW_units"] = units.tolist()
            entry["dW_rows"] = [_list(t.dW[j]) for j in units]
        else:
            entry["dW"] = [_list(row) for row in t.dW]
        layers.append(entry)
    fused = "fused" if net.loss.takes_logits else "other"
    formulas = {key: inspection.FORMULAS[key] for key in ("delta", "dW", "db", "input_gradient")}
    formulas["loss"] = inspection.FORMULAS["loss"].get(loss_name, loss_name)
    formulas["delta_output"] = inspection.FORMULAS["delta_output"][fused]
    probabilities = result.output[0]
    return {"label": label, "loss": float(result.loss), "loss_name": loss_name, "layers": layers,
            "input_gradient": _list(result.input_gradient[0].ravel()), "probabilities": _list(probabilities),
            "digit": int(probabilities.argmax()), "formulas": formulas}


def unit(lab: Lab, layer: int, unit_index: int) -> dict:
    """Unit ``unit_index`` of Dense layer ``layer``: its bias, whether it is switched off, its weight
    scale, and for the first layer its incoming weights as a 28x28 image."""
    net = lab.net
    inspection.check_unit(net, layer, unit_index)
    answer = {"layer": layer, "unit": unit_index, "bias": float(net.dense[layer].b[unit_index]),
              "off": (layer, unit_index) in lab.off, "scale": lab.scale.get((layer, unit_index), 1.0)}
    if layer == 0:
        answer["weights"] = _list(net.dense[0].W[unit_index])
    return answer


def step(lab: Lab, image: np.ndarray, label: int, eta: float) -> dict:
    """Loss and prediction before and after one gradient step of length ``eta`` on the lab copy."""
    if not (is_real(eta) and 0 < eta <= 100):
        raise ValueError(f"step length eta must be a number in (0, 100], got {eta!r}")
    before = _scored(lab.net, image, label)
    lab.step(image, label, float(eta))
    return {"eta": eta, "label": label, "before": before, "after": _scored(lab.net, image, label),
            "edits": lab.edits()}


class Coverage:
    """The share of MNIST test digits answered at each confidence threshold and their accuracy,
    computed once per model and cached."""

    THRESHOLDS = np.round(np.linspace(0, 0.99, 100), 2)

    def __init__(self) -> None:
        # id(net) -> (a weak reference to net, its result): a model the pad has left is not kept alive here
        self._cache: OrderedDict[int, tuple[weakref.ref, dict]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, net: Network) -> dict:
        with self._lock:
            known = self._cache.get(id(net))
            if known is None or known[0]() is not net:  # an id is reused once its model is gone
                known = self._cache[id(net)] = (weakref.ref(net), self._compute(net))
            self._cache.move_to_end(id(net))
            while len(self._cache) > COVERAGE_MODELS:
                self._cache.popitem(last=False)
            return known[1]

    def _compute(self, net: Network) -> dict:
        try:
            mnist = load_mnist(download=False)
        except (FileNotFoundError, OSError, ValueError) as err:
            return {"available": False,
                    "message": f"MNIST is not available here, so coverage cannot be measured ({err})"}
        probabilities = net.predict_proba(mnist.test_images)
        answered, accuracy = inspection.coverage(probabilities, mnist.test_labels, self.THRESHOLDS)
        return {"available": True, "samples": len(mnist.test_labels), "thresholds": self.THRESHOLDS.tolist(),
                "answered": answered.tolist(), "accuracy": [None if np.isnan(v) else float(v) for v in accuracy]}


def _scored(net: Network, image: np.ndarray, label: int) -> dict:
    loss = net.loss_value(image[None], np.array([label]))
    probabilities = net.predict_proba(image[None])[0]
    return {"loss": float(loss), "digit": int(probabilities.argmax()), "probabilities": _list(probabilities)}


def _list(array: np.ndarray) -> list[float]:
    """The values as Python floats: exact for float32 and float64 (JSON keeps every digit)."""
    return np.asarray(array, dtype=np.float64).tolist()
