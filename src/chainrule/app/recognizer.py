"""What the page asks of the model: a prediction with everything the views show, corrections, and
adaptation in a worker thread. No mathematics here: only calls into preprocessing, the network and
corrections."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np

from .. import corrections
from ..datasets import load_mnist
from ..digits import check_digit_model, probabilities_and_saliency
from ..network import Network
from ..preprocessing import digit_from_strokes


_BLAS = None
MAX_CORRECTIONS = 5_000  # drawings kept: a user corrects dozens; adapting reads them all (5,000: about 6 s)


def _one_blas_thread():
    """One BLAS thread for the products of a single image: a product of one row is too small to
    share out, so extra threads only wait for each other (and, on a busy machine, for a free core)."""
    global _BLAS
    if _BLAS is None:
        from threadpoolctl import ThreadpoolController

        _BLAS = ThreadpoolController()
    return _BLAS.limit(limits=1, user_api="blas")


class Recognizer:
    """Holds the current network (the loaded one, or an adapted copy after ``start_adapt``)."""

    def __init__(self, net: Network, data_dir: Path, adapt_steps: int = 300) -> None:
        self.original = check_digit_model(net)
        self.net = net
        self.data_dir = Path(data_dir)
        corrections.tidy(self.data_dir)
        # counted once here and then on each save: listing the folder on every /api/info, which the
        # page polls, blocked the event loop for 0.2 s at 50,000 files
        self._count_lock = threading.Lock()
        self._corrections = self._listed_corrections()
        self._saved_here: set[str] = set()  # file names this process saved: the only ones ``uncorrect`` removes
        self.adapt_steps = adapt_steps
        self._adapt_lock = threading.Lock()
        self.adapt_status = {"state": "idle", "message": "", "adapted": False}

    def info(self) -> dict:
        return {
            "layers": [self.net.dense[0].n_in, *(d.n_out for d in self.net.dense)],
            "corrections": self._corrections,
            "adapt": self.adapt_status,
        }

    def predict_strokes(self, strokes) -> dict:
        """The prediction for pen paths (see ``preprocessing.digit_from_strokes``)."""
        return self.predict_image(digit_from_strokes(strokes))

    def predict_image(self, image: np.ndarray) -> dict:
        """Probabilities, the top digit and its confidence, the 28x28 input and the saliency
        d a_k / dx of the top class k (scaled to [-1, 1]) for one (28, 28) uint8 image."""
        started = time.perf_counter()
        if not image.any():
            return {"empty": True, "digit": None, "confidence": 0.0, "probabilities": [0.0] * 10,
                    "image": image.ravel().tolist(), "saliency": [0.0] * 784, "ms": 0.0}
        net = self.net
        batch = image[None]
        with _one_blas_thread():
            probabilities, scaled = (values[0] for values in probabilities_and_saliency(net, batch))
        digit = int(probabilities.argmax())
        return {
            "empty": False,
            "digit": digit,
            "confidence": float(probabilities[digit]),
            "probabilities": [round(float(p), 5) for p in probabilities],
            "image": image.ravel().tolist(),
            "saliency": np.round(scaled.ravel(), 3).tolist(),
            "ms": round(1000 * (time.perf_counter() - started), 3),
        }

    def correct(self, strokes, label: int) -> dict:
        """Save a drawing with its true label to the corrections folder."""
        image = digit_from_strokes(strokes)  # outside the lock: only the count and the write need it
        if not image.any():  # any point drawn leaves ink
            raise ValueError("nothing is drawn: draw a digit before correcting it")
        with self._count_lock:
            if self._corrections >= MAX_CORRECTIONS:
                raise ValueError(f"the corrections folder {self.data_dir} holds {self._corrections} drawings, the most "
                                 "kept: adapt to them, or move some out of it")
            path = corrections.save_sample(self.data_dir, image, label, strokes)
            self._corrections += 1
            self._saved_here.add(path.name)
        return {"saved": path.name, "corrections": self._corrections}

    def uncorrect(self, name: str) -> dict:
        """Remove the correction ``name`` (as ``correct`` returned it) from the folder: a LookupError
        unless this process saved it and has not removed it yet. Only names from that set are ever
        joined to the folder's path, so no name from outside can reach another file."""
        with self._count_lock:  # a save or removal meanwhile would leave the count off by one
            if name not in self._saved_here:
                raise LookupError(f"no correction {name[:80]!r} saved by this server to remove: only a drawing "
                                  "saved since the server started can be removed, and only once")
            try:
                (self.data_dir / name).unlink()  # any failure but a missing file keeps the name for another try
            except FileNotFoundError:
                self._saved_here.remove(name)
                self._corrections = self._listed_corrections()  # the folder was changed by hand: count it again
                raise LookupError(f"the correction {name!r} is no longer in {self.data_dir}: it was moved or "
                                  "removed meanwhile") from None
            self._saved_here.remove(name)
            self._corrections -= 1
        return {"removed": name, "corrections": self._corrections}

    def _listed_corrections(self) -> int:
        return sum(1 for _ in self.data_dir.glob("*.npz")) if self.data_dir.is_dir() else 0

    def start_adapt(self) -> dict:
        """Fine-tune a copy of the original model on the corrections (mixed with MNIST) in a
        worker thread; predictions switch to the copy when it is done. The model file is never written."""
        if not self._adapt_lock.acquire(blocking=False):
            return self.adapt_status
        with self._count_lock:
            self._corrections = self._listed_corrections()  # files the user moved in or out meanwhile
        if self._corrections == 0:
            self._adapt_lock.release()
            raise ValueError("there are no corrections yet: use 'wrong, it was ...' on a few drawings first")
        self.adapt_status = {**self.adapt_status, "state": "running", "message": "fine-tuning a copy of the model..."}
        threading.Thread(target=self._adapt, daemon=True, name="chainrule-adapt").start()
        return self.adapt_status

    def _adapt(self) -> None:
        try:
            listed = self._listed_corrections()
            images, labels = corrections.load_samples(self.data_dir)
            mnist = load_mnist(download=False)
            started = time.perf_counter()
            self.net = corrections.adapt(self.original, images, labels, mnist.train_images, mnist.train_labels,
                                         steps=self.adapt_steps)
            seconds = time.perf_counter() - started
            message = f"adapted to {_count(len(images), 'correction')} in {seconds:.0f} s"
            skipped = listed - len(images)  # load_samples warned of each in the server's log
            if skipped > 0:
                message += f"; {_count(skipped, 'file')} in the folder skipped: not a saved drawing"
            self.adapt_status = {"state": "done", "adapted": True, "message": message}
        except (ValueError, FileNotFoundError, OSError, FloatingPointError) as err:
            self.adapt_status = {**self.adapt_status, "state": "error", "message": str(err)}
        finally:
            self._adapt_lock.release()

    def reset(self) -> dict:
        """Go back to the model as loaded."""
        return self._switch(self.original, {"state": "idle", "message": "back to the original model", "adapted": False})

    def use(self, net: Network, message: str) -> dict:
        """Draw with ``net`` (the live-trained model) instead, until a reset."""
        return self._switch(check_digit_model(net), {"state": "done", "adapted": True, "message": message})

    def _switch(self, net: Network, status: dict) -> dict:
        # an adaptation under way would replace the model the user has just chosen when it ends
        if not self._adapt_lock.acquire(blocking=False):
            raise ValueError("adaptation is still running: wait for it to finish")
        try:
            self.net, self.adapt_status = net, status
        finally:
            self._adapt_lock.release()
        return status


def _count(n: int, noun: str) -> str:
    """'1 correction', '2 corrections'."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
