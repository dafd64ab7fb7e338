"""MNIST and Fashion-MNIST: the IDX file format and a loader that finds (or fetches) the data.

An IDX file is a big-endian header, then the values in C order:

    bytes 0-1  zero            byte 2  type code (0x08 = uint8, ...)     byte 3  number of dims d
    d x 4 bytes                the size of each dimension (uint32), then prod(sizes) values

``load_mnist()`` and ``load_fashion_mnist()`` look for the four files in this order: an explicit
``path``, ``$CHAINRULE_DATA/<name>/``, the user cache ``~/.cache/chainrule/<name>/``, the system copy
``/usr/share/datasets/<name>/`` (Debian's dataset-fashion-mnist), and finally download them from the
public mirrors into the user cache. Each file's *uncompressed* content is checked against its md5, so
a faithful recompressed copy is accepted. Decoded arrays are cached in-process and read-only.

``load_pendigits()`` and ``load_ujipen()`` read pen trajectories (UCI Pen-Based Recognition of
Handwritten Digits, UJI Pen Characters v2) from an explicit ``path``, ``$CHAINRULE_DATA/<name>/`` or
the user cache, and never download: other writers of both collections are kept back for measuring.
Their strokes come in one orientation, the screen's: x grows to the right and y downwards.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
import math
import os
import re
import urllib.request
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .io import atomic_write

IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32, 0x0E: np.float64}
IDX_CODES = {np.dtype(t): code for code, t in IDX_TYPES.items()}

FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

DATASETS = {
    "mnist": {
        "title": "MNIST",
        "mirrors": ("https://ossci-datasets.s3.amazonaws.com/mnist/",
                    "https://storage.googleapis.com/cvdf-datasets/mnist/"),
        "md5": ("6bbc9ace898e44ae57da46a324031adb", "a25bea736e30d166cdddb491f175f624",
                "2646ac647ad5339dbf082846283269ea", "27ae3e4e09519cfbb04c329615203637"),
    },
    "fashion-mnist": {
        "title": "Fashion-MNIST",
        "mirrors": ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
        "md5": ("f4a8712d7a061bf5bd6d2ca38dc4d50a", "9018921c3c673c538a1fc5bad174d6f9",
                "8181f5470baa50b63fa0f6fddb340f0a", "15d484375f8d13e6eb1aabb0c3f46965"),
    },
}
SYSTEM_DIR = Path("/usr/share/datasets")


class Dataset(NamedTuple):
    """Images uint8 (m, 28, 28) with 0 = background, labels uint8 (m,)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray


# ---- the IDX format ------------------------------------------------------------------------------
def parse_idx(raw: bytes, name: str = "IDX data") -> np.ndarray:
    """Decode the bytes of an IDX file; a ValueError says what is wrong with a corrupt or truncated one."""
    if len(raw) < 4:
        raise ValueError(f"{name}: truncated IDX file ({len(raw)} bytes, the header alone needs 4)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{name}: not an IDX file (magic number 0x{raw[:4].hex()}, expected 0x0000TTDD "
                         f"with type TT in {', '.join(f'{c:02x}' for c in IDX_TYPES)})")
    dtype, ndim = np.dtype(IDX_TYPES[raw[2]]).newbyteorder(">"), raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{name}: truncated or corrupt IDX header ({ndim} dimensions, {len(raw)} bytes)")
    shape = tuple(int(n) for n in np.frombuffer(raw, ">u4", ndim, 4))
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: 2^32 x 2^32 overflows int64
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "has trailing bytes"
        raise ValueError(f"{name}: {problem}: header says {' x '.join(map(str, shape))} {dtype.name} values "
                         f"({expected} bytes in all) but the file holds {len(raw)} bytes")
    return np.frombuffer(raw, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file, gzip-compressed (``.gz``) or raw."""
    return parse_idx(_read_bytes(Path(path)), str(path))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``), atomically."""
    array = np.asarray(array)
    if array.dtype not in IDX_CODES:
        raise ValueError(f"IDX cannot hold dtype {array.dtype}; use one of {', '.join(d.name for d in IDX_CODES)}")
    if array.ndim == 0 or array.ndim > 255:
        raise ValueError(f"IDX holds arrays of 1 to 255 dimensions, got shape {array.shape}")
    raw = (bytes([0, 0, IDX_CODES[array.dtype], array.ndim]) + np.asarray(array.shape, ">u4").tobytes()
           + array.astype(array.dtype.newbyteorder(">")).tobytes())
    path = Path(path)
    atomic_write(path, lambda f: f.write(gzip.compress(raw, mtime=0) if path.suffix == ".gz" else raw))


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise FileNotFoundError(f"no IDX file at {path}")
    data = path.read_bytes()
    if data[:2] != b"\x1f\x8b":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError) as err:
        raise ValueError(f"{path}: corrupt or truncated gzip file ({err})") from None


# ---- finding the data ----------------------------------------------------------------------------
def load_mnist(path: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """MNIST (60,000 training and 10,000 test digits); see the module docstring for where it looks."""
    return load_dataset("mnist", path, download)


def load_fashion_mnist(path: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """Fashion-MNIST (Zalando's clothing images, same format and sizes as MNIST)."""
    return load_dataset("fashion-mnist", path, download)


def load_dataset(name: str, path: str | os.PathLike | None = None, download: bool = True) -> Dataset:
    """The dataset ``name`` ("mnist" or "fashion-mnist") from the first folder that holds it."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    folder = find_dataset(name, path, download)
    files = tuple(_file_in(folder, stem) for stem in FILES)
    return _decode(name, files, tuple(os.stat(f).st_mtime_ns for f in files))


def cache_dir() -> Path:
    """The user cache, ``$XDG_CACHE_HOME/chainrule`` (by default ``~/.cache/chainrule``)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "chainrule"


def candidate_dirs(name: str, path: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for dataset ``name``, in order."""
    if path is not None:
        return [Path(path)]
    dirs = []
    if os.environ.get("CHAINRULE_DATA"):
        dirs.append(Path(os.environ["CHAINRULE_DATA"]) / name)
    return dirs + [cache_dir() / name, SYSTEM_DIR / name]


def find_dataset(name: str, path: str | os.PathLike | None = None, download: bool = True) -> Path:
    """The first candidate folder holding all four files, downloading into the cache as a last resort."""
    dirs = candidate_dirs(name, path)
    for folder in dirs:
        present = [stem for stem in FILES if _file_in(folder, stem) is not None]
        if len(present) == len(FILES):
            return folder
        if present:
            missing = ", ".join(stem for stem in FILES if stem not in present)
            raise FileNotFoundError(f"{folder} holds part of {DATASETS[name]['title']} but lacks {missing}(.gz)")
    title = DATASETS[name]["title"]
    hint = (f"{title} not found in {', '.join(map(str, dirs))}: set CHAINRULE_DATA to a folder holding "
            f"{name}/ with the four IDX files (train-images-idx3-ubyte.gz, ...), or give the folder itself "
            "(path= in Python, --data for chainrule train, eval and experiment)")
    if path is not None or not download:
        raise FileNotFoundError(hint)
    return _download(name, hint)


def _file_in(folder: Path, stem: str) -> Path | None:
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _download(name: str, hint: str) -> Path:
    """Fetch the four .gz files into the cache, each checked and then written atomically."""
    folder = cache_dir() / name
    info = DATASETS[name]
    for stem, md5 in zip(FILES, info["md5"]):
        target = folder / f"{stem}.gz"
        if target.is_file():
            continue
        errors = []
        for mirror in info["mirrors"]:
            try:
                with urllib.request.urlopen(mirror + target.name, timeout=30) as response:
                    data = response.read()
                _check_md5(gzip.decompress(data), md5, mirror + target.name)
                atomic_write(target, lambda f: f.write(data))
                break
            except (OSError, ValueError, EOFError) as err:
                errors.append(f"{mirror}: {err}")
        else:
            raise FileNotFoundError(f"{hint}; the download failed ({'; '.join(errors)})")
    return folder


def _check_md5(raw: bytes, expected: str, name: str) -> None:
    got = hashlib.md5(raw).hexdigest()
    if got != expected:
        raise ValueError(f"{name}: content md5 {got} differs from the published {expected}: "
                         "the file is corrupt or not the official one")


@functools.lru_cache(maxsize=4)
def _decode(name: str, files: tuple[Path, ...], mtimes: tuple[int, ...]) -> Dataset:
    """Read, verify and decode the four files once per process (keyed on paths and mtimes)."""
    arrays = []
    for path, md5 in zip(files, DATASETS[name]["md5"]):
        raw = _read_bytes(path)
        _check_md5(raw, md5, str(path))
        array = parse_idx(raw, str(path))
        array.setflags(write=False)
        arrays.append(array)
    for images, labels, part in ((arrays[0], arrays[1], "training"), (arrays[2], arrays[3], "test")):
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(f"{name} {part} images {images.shape} and labels {labels.shape} do not match")
    return Dataset(*arrays)


# ---- pen trajectories ----------------------------------------------------------------------------
PEN_FILES = {"pendigits": "pendigits-orig.tra", "ujipen": "ujipenchars2-digits-w01-w40.json"}
# Writers kept out of training to measure how a model reads people it has never seen; fixed before any
# result was looked at: the last 6 of pendigits' 30 and the last 8 of UJI's 40.
HELD_OUT_WRITERS = {"pendigits": tuple(range(25, 31)), "ujipen": tuple(range(33, 41))}


class PenDigits(NamedTuple):
    """Digits as pen trajectories: ``strokes[i]`` is a list of (n, 2) float64 arrays of (x, y) points
    with y growing downwards, ``labels`` uint8 (m,), ``writers`` int (m,) numbered from 1."""

    strokes: list[list[np.ndarray]]
    labels: np.ndarray
    writers: np.ndarray


def load_pendigits(path: str | os.PathLike | None = None) -> PenDigits:
    """UCI pendigits, original trajectories (UNIPEN text): 7,494 digits by 30 writers, a point every
    100 ms. The file's y grows upwards; it is flipped here."""
    return _load_pen("pendigits", path, _parse_unipen)


def load_ujipen(path: str | os.PathLike | None = None) -> PenDigits:
    """The digits of UJI Pen Characters v2 (writers in Spain): ``rawData[d][i]`` is sample i of digit
    d, written by writer i // 2 + 1; y already grows downwards."""
    return _load_pen("ujipen", path, _parse_ujipen)


def find_pen_file(name: str, path: str | os.PathLike | None = None) -> Path:
    """The pen data file of collection ``name``: ``path`` (the file or its folder), else
    ``$CHAINRULE_DATA/<name>/``, else the user cache. Never downloads."""
    filename = PEN_FILES[name]
    if path is not None:
        dirs = [Path(path)] if not Path(path).is_dir() else [Path(path) / filename]
    else:
        env = [Path(os.environ["CHAINRULE_DATA"]) / name] if os.environ.get("CHAINRULE_DATA") else []
        dirs = [folder / filename for folder in env + [cache_dir() / name]]
    for candidate in dirs:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{name} not found at {', '.join(map(str, dirs))}: set CHAINRULE_DATA to a folder "
                            f"holding {name}/{filename}, or give its place (path= in Python, --pen-data DIR holding "
                            f"{name}/ on the command line; it is never downloaded)")


def _load_pen(name: str, path, parse) -> PenDigits:
    file = find_pen_file(name, path)
    return _decode_pen(name, file, os.stat(file).st_mtime_ns, parse)


@functools.lru_cache(maxsize=4)
def _decode_pen(name: str, file: Path, mtime: int, parse) -> PenDigits:
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"{file}: not a {name} text file ({err.reason} at byte {err.start})") from None
    strokes, labels, writers = parse(text, str(file))
    if not strokes:
        raise ValueError(f"{file}: holds no digits")
    return PenDigits(strokes, np.array(labels, np.uint8), np.array(writers, np.int64))


def _parse_unipen(text: str, name: str) -> tuple[list, list, list]:
    """UNIPEN text: per digit ``.SEGMENT DIGIT k ? "d"`` (k its stroke numbers, "6" or "6-7"),
    ``.COMMENT d writer sample``, then strokes of ``.PEN_DOWN``, lines of ``x y`` and ``.PEN_UP``;
    the header before the first segment is skipped."""
    digits, labels, writers = [], [], []
    stroke = None
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words:
            continue
        where = f"{name}, line {number}"
        if words[0].startswith(".") and words[0] != ".PEN_UP" and stroke is not None:
            raise ValueError(f"{where}: {words[0]} inside a stroke (.PEN_UP missing)")
        if words[0] == ".SEGMENT":
            match = re.fullmatch(r'\.SEGMENT DIGIT +\d+(?:-\d+)? \? "(\d)"', line.strip())
            if not match:
                raise ValueError(f"{where}: malformed segment header {line.strip()!r}")
            digits.append([])
            labels.append(int(match[1]))
            writers.append(0)
        elif words[0] == ".COMMENT" and digits:
            if len(words) != 4 or not all(w.isdigit() for w in words[1:]) or int(words[1]) != labels[-1]:
                raise ValueError(f"{where}: expected '.COMMENT {labels[-1]} <writer> <sample>', got {line.strip()!r}")
            writers[-1] = int(words[2])
        elif words[0] == ".PEN_DOWN":
            if not digits:
                raise ValueError(f"{where}: .PEN_DOWN before the first .SEGMENT")
            stroke = []
        elif words[0] == ".PEN_UP":
            if not stroke:
                raise ValueError(f"{where}: .PEN_UP without a .PEN_DOWN and points before it")
            points = np.array(stroke, np.float64)
            points[:, 1] *= -1
            digits[-1].append(points)
            stroke = None
        elif stroke is not None:
            # ASCII digits only (str.isdigit takes "²"), and few enough that float64 holds them exactly
            if len(words) != 2 or not all(re.fullmatch(r"-?[0-9]{1,15}", w) for w in words):
                raise ValueError(f"{where}: expected a point 'x y' of two integers of at most 15 digits, "
                                 f"got {line.strip()!r}")
            stroke.append((int(words[0]), int(words[1])))
    if stroke is not None:
        raise ValueError(f"{name}: truncated: the file ends inside a stroke")
    for i, (strokes, writer) in enumerate(zip(digits, writers)):
        if not strokes or not writer:
            raise ValueError(f"{name}: truncated or corrupt: digit {i} has no {'strokes' if writer else 'writer'}")
    return digits, labels, writers


def _parse_ujipen(text: str, name: str) -> tuple[list, list, list]:
    try:
        raw = json.loads(text)["rawData"]
        keys = sorted(raw)
    except (json.JSONDecodeError, KeyError, TypeError) as err:
        raise ValueError(f"{name}: not a UJI pen JSON file with rawData ({err})") from None
    if not set(keys) <= set("0123456789") or not all(isinstance(raw[k], list) for k in keys):
        raise ValueError(f"{name}: rawData must map the digits '0'..'9' to lists of samples, got keys {keys[:12]}")
    digits, labels, writers = [], [], []
    for digit in keys:
        for i, sample in enumerate(raw[digit]):
            strokes = []
            try:
                for stroke in sample:
                    points = np.array(stroke, np.float64)
                    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
                        raise ValueError
                    strokes.append(points)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: sample {i} of digit {digit} is not a list of strokes of [x, y] "
                                 "points") from None
            if not strokes:
                raise ValueError(f"{name}: sample {i} of digit {digit} has no strokes")
            digits.append(strokes)
            labels.append(int(digit))
            writers.append(i // 2 + 1)
    return digits, labels, writers
