"""The model file: one .npz file holding the arrays W0, b0, W1, b1, ... and the architecture as a
JSON string under ``meta``; read with ``allow_pickle=False``, written atomically (to a temporary file
in the same folder, then renamed over the target). ``Network.save`` and ``network.load`` call
``save`` and ``read`` here; this module knows layers, not networks, so it sits below ``network``."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .activations import get_activation
from .layers import ActivationLayer, Dense, Dropout, Layer, Standardize
from .models import default_model_path

FORMAT = "chainrule-network"
TEMPORARY_SUFFIX = ".tmp"
VERSION = 1
MAX_UNPACKED = 1 << 30  # bytes of arrays in one file: 250 M float32 weights, six times the largest model made here


def atomic_write(path: str | os.PathLike, write, mode: int | None = None) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``: readers
    see either the old file or the complete new one, never a partial write. The file gets ``mode``
    (0o600 for private data, say), by default the permissions of an ordinary write (0o666 & ~umask)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)  # the folder asked for, not a link's target's
    given, path = Path(path), save_target(path)
    if path.exists() and not path.is_file():
        raise ValueError(f"{path} exists and is not an ordinary file: refusing to replace it")
    if not path.parent.is_dir():
        raise ValueError(f"{given} is a link to {path}, whose folder does not exist: refusing to create it")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=TEMPORARY_SUFFIX)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK if mode is None else mode)  # mkstemp makes 0600
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_target(path: str | os.PathLike) -> Path:
    """The file ``atomic_write(path, ...)`` replaces: through a symbolic link, the file it names, not
    the link."""
    return Path(os.path.realpath(path))


# atomic_write's temporaries: "." + the target's name + "." + mkstemp's 8 random characters + ".tmp"
_TEMPORARY_NAME = re.compile(r"\..+\.[a-z0-9_]{8}" + re.escape(TEMPORARY_SUFFIX))


def remove_stale_temporaries(directory: str | os.PathLike, older_than: float = 600.0) -> list[Path]:
    """Delete the temporary files that ``atomic_write`` left in ``directory`` when its process was
    killed mid-write, if older than ``older_than`` seconds (a younger one may belong to a process
    writing right now). Returns the paths removed."""
    removed = []
    now = time.time()
    for tmp in Path(directory).glob(f".*{TEMPORARY_SUFFIX}"):
        if not _TEMPORARY_NAME.fullmatch(tmp.name):  # a hidden .tmp file of someone else's
            continue
        try:
            if tmp.is_file() and now - tmp.stat().st_mtime > older_than:
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:  # another process finished or removed it meanwhile
            continue
    return removed


def _read_umask() -> int:
    """The process's umask. POSIX can only read it by setting it, so this runs once, at import:
    per write, another thread creating a file in between would get the temporary umask 0."""
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def save(net, path: str | os.PathLike, metadata: dict | None = None) -> None:
    """Write the Network ``net`` (and optional JSON-ready ``metadata``) to ``path``."""
    meta = {"format": FORMAT, "version": VERSION, **net.config(), "metadata": metadata or net.metadata}
    # what read() would refuse is refused here, before the write replaces a good file with it
    if not isinstance(meta["metadata"], dict):
        raise ValueError(f"metadata must be a dict (a JSON object), got {type(meta['metadata']).__name__}")
    arrays = {}
    for k, layer in enumerate(net.dense):
        if not (np.isfinite(layer.W).all() and np.isfinite(layer.b).all()):
            raise ValueError(f"not saving {path}: dense layer {k} holds NaN or infinite weights")
        arrays[f"W{k}"] = layer.W
        arrays[f"b{k}"] = layer.b
    atomic_write(path, lambda f: np.savez(f, meta=np.array(json.dumps(meta)), **arrays))


def read(path: str | os.PathLike | None = None) -> tuple[list[Layer], str, dict]:
    """(layers, loss name, metadata) of a network saved by ``save``; with no path, those of the
    bundled default digit model."""
    if path is None:
        path = default_model_path()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    arrays = load_arrays(path, "a chainrule model file")
    try:
        meta = json.loads(str(arrays.pop("meta")))
    except (KeyError, json.JSONDecodeError, RecursionError) as err:  # RecursionError: JSON nested too deep
        raise ValueError(f"{path} is not a chainrule model file ({type(err).__name__}: {err})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a chainrule model file (no {FORMAT!r} header)")
    metadata = meta.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ValueError(f"{path} is not a chainrule model file (metadata is not a JSON object)")
    try:
        return _layers(meta, arrays, path), meta["loss"], metadata
    except (KeyError, TypeError) as err:
        raise ValueError(f"{path} is not a chainrule model file (missing or malformed field {err})") from None


def load_arrays(path: str | os.PathLike, what: str) -> dict[str, np.ndarray]:
    """Every array of the .npz archive at ``path``, read without unpickling anything; for anything
    else (a .npy, a pickle, text, a damaged archive) a ValueError "{path} is not {what} (why)"."""
    try:
        with open(path, "rb") as f:
            if f.read(4) != b"PK\x03\x04":  # np.load would also take a .npy, a pickle or text
                raise ValueError("not an .npz archive")
        _check_sizes(path)
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except (OSError, EOFError, ValueError, RecursionError, zipfile.BadZipFile, zlib.error) as err:
        # NumPy's words for object arrays and pickles point at allow_pickle: say instead that they are refused
        why = "it holds Python objects, which are never unpickled" if "pickle" in str(err) else \
            f"{type(err).__name__}: {err}"
        raise ValueError(f"{path} is not {what} ({why})") from None


def _check_sizes(path: str | os.PathLike) -> None:
    """A ValueError unless the archive's arrays unpack to at most MAX_UNPACKED bytes in all and each
    member holds the data its .npy header declares: a few compressed megabytes can unpack to
    gigabytes of zeros, and a header can claim a shape whose allocation alone fails."""
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        total = sum(member.file_size for member in members)
        if total > MAX_UNPACKED:
            raise ValueError(f"its arrays would take {total / 2**20:,.0f} MiB unpacked, more than the "
                             f"{MAX_UNPACKED / 2**20:,.0f} MiB a file here may hold")
        for member in members:
            with archive.open(member) as f:
                version = np.lib.format.read_magic(f)
                if version not in ((1, 0), (2, 0)):
                    raise ValueError(f"{member.filename} is a .npy file of version {version}, not 1.0 or 2.0")
                header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                    np.lib.format.read_array_header_2_0
                shape, _, dtype = header(f)
            claimed = int(np.prod(shape, dtype=object)) * dtype.itemsize
            if claimed > member.file_size:
                raise ValueError(f"{member.filename} declares {claimed} bytes of data, the archive holds "
                                 f"{member.file_size}")


def _layers(meta: dict, arrays: dict, path: Path) -> list[Layer]:
    dtype = np.dtype(meta["dtype"])
    layers: list[Layer] = []
    k = 0
    for i, cfg in enumerate(meta["layers"]):
        try:
            layers.append(_layer(cfg, arrays, k, dtype))
        except ValueError as err:
            raise ValueError(f"{path}: layer {i}: {err}") from None
        k += isinstance(layers[-1], Dense)
    return layers


def _layer(cfg: dict, arrays: dict, k: int, dtype: np.dtype) -> Layer:
    """The layer ``cfg`` describes; a Dense layer takes the arrays W{k} and b{k}."""
    kind = cfg["type"]
    if kind == "dense":
        W, b = arrays.get(f"W{k}"), arrays.get(f"b{k}")
        expected = (cfg["n_out"], cfg["n_in"])
        if W is None or b is None or W.shape != expected or b.shape != (cfg["n_out"],):
            raise ValueError(f"arrays of dense layer {k} do not match its architecture {expected}")
        return Dense(W.astype(dtype, copy=False), b.astype(dtype, copy=False))
    if kind == "activation":
        arguments = {key: value for key, value in cfg.items() if key not in ("type", "name")}
        return ActivationLayer(get_activation(cfg["name"], **arguments))
    if kind == "dropout":
        return Dropout(cfg["rate"])
    if kind == "standardize":
        return Standardize(cfg["offset"], cfg["scale"], cfg["input_shape"], dtype)
    raise ValueError(f"unknown layer type {kind!r}")
