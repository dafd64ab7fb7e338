"""The IDX reader and writer, the loader's search order and checksum, and the facts MANIFEST.md states
about the real MNIST and Fashion-MNIST files."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from chainrule import datasets
from chainrule.datasets import FILES, find_dataset, load_dataset, parse_idx, read_idx, write_idx

IDX_DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@settings(max_examples=40, deadline=None)
@given(dtype=st.sampled_from(IDX_DTYPES), shape=hnp.array_shapes(min_dims=1, max_dims=4, max_side=5),
       compressed=st.booleans(), data=st.data())
def test_idx_round_trip(tmp_path_factory, dtype, shape, compressed, data):
    array = data.draw(hnp.arrays(dtype, shape, elements={"allow_nan": False} if np.dtype(dtype).kind == "f" else None))
    path = tmp_path_factory.mktemp("idx") / ("a.idx.gz" if compressed else "a.idx")
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == compressed


def test_idx_header_is_big_endian_as_the_format_says(tmp_path):
    write_idx(tmp_path / "x", np.arange(6, dtype=np.int32).reshape(2, 3))
    raw = (tmp_path / "x").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x0C, 2])
    assert raw[4:12] == (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    assert raw[12:16] == (0).to_bytes(4, "big") and raw[16:20] == (1).to_bytes(4, "big")


GOOD = bytes([0, 0, 8, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big") + bytes(range(6))


@pytest.mark.parametrize("raw, words", [
    (GOOD[:3], "truncated"),
    (b"\x01" + GOOD[1:], "magic number"),
    (GOOD[:2] + b"\x07" + GOOD[3:], "magic number"),
    (GOOD[:3] + b"\x00" + GOOD[4:], "header"),
    (GOOD[:9], "header"),
    (GOOD[:-1], "truncated"),
    (GOOD + b"\x00", "trailing bytes"),
    (GOOD[:4] + b"\xff" * 8, r"truncated: .*\(18446744065119617037 bytes"),  # 2^32 x 2^32 overflows int64
])
def test_each_corruption_is_named(raw, words):
    assert parse_idx(GOOD).shape == (2, 3)
    with pytest.raises(ValueError, match=words):
        parse_idx(raw, "x.idx")


def test_truncated_gzip_is_named(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(GOOD)[:-10])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(path)


@pytest.mark.parametrize("point", ["1 9999999999999999999999", "1 " + "9" * 400, "1 \u00b23", "1 --1"])
def test_a_bad_unipen_point_names_the_file_and_line(tmp_path, point):
    """Huge, non-ASCII or doubly signed coordinates: a one-line ValueError, not OverflowError or int()'s."""
    path = tmp_path / "p.tra"
    path.write_text(f'.SEGMENT DIGIT 1 ? "7"\n.COMMENT 7 3 1\n.PEN_DOWN\n{point}\n.PEN_UP\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"p\.tra, line 4: expected a point") as err:
        datasets.load_pendigits(path)
    assert "\n" not in str(err.value)


def test_writer_rejects_what_idx_cannot_hold(tmp_path):
    with pytest.raises(ValueError, match="dtype"):
        write_idx(tmp_path / "x", np.zeros(3, np.uint16))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.float32(1.0))


def _fake_dataset(folder: Path, files=FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for stem in files:
        write_idx(folder / f"{stem}.gz", np.zeros((2, 28, 28) if "images" in stem else 2, np.uint8))
    return folder


@pytest.fixture
def places(tmp_path, monkeypatch):
    """Empty explicit, $CHAINRULE_DATA, cache and system folders, wired into the loader."""
    root = {name: tmp_path / name for name in ("explicit", "env", "xdg", "system")}
    monkeypatch.setenv("CHAINRULE_DATA", str(root["env"]))
    monkeypatch.setenv("XDG_CACHE_HOME", str(root["xdg"]))
    monkeypatch.setattr(datasets, "SYSTEM_DIR", root["system"])
    return root


def test_search_order(places):
    for name in ("system", "xdg", "env"):
        _fake_dataset(places[name] / ("chainrule/mnist" if name == "xdg" else "mnist"))
    _fake_dataset(places["explicit"])
    assert find_dataset("mnist", places["explicit"], download=False) == places["explicit"]
    assert find_dataset("mnist", download=False) == places["env"] / "mnist"
    shutil.rmtree(places["env"])
    assert find_dataset("mnist", download=False) == places["xdg"] / "chainrule" / "mnist"
    shutil.rmtree(places["xdg"])
    assert find_dataset("mnist", download=False) == places["system"] / "mnist"
    assert find_dataset("fashion-mnist", places["system"] / "mnist", download=False) == places["system"] / "mnist"


def test_missing_dataset_says_how_to_point_at_a_copy(places):
    with pytest.raises(FileNotFoundError, match="CHAINRULE_DATA") as err:
        datasets.load_fashion_mnist(download=False)
    assert "\n" not in str(err.value) and str(places["system"] / "fashion-mnist") in str(err.value)
    with pytest.raises(FileNotFoundError, match="explicit"):
        datasets.load_mnist(places["explicit"])


def test_partial_folder_names_the_missing_file(places):
    _fake_dataset(places["env"] / "mnist", FILES[:3])
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        datasets.load_mnist(download=False)


def test_content_checksum_rejects_other_data(places):
    _fake_dataset(places["env"] / "mnist")
    with pytest.raises(ValueError, match="md5"):
        datasets.load_mnist(download=False)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset"):
        load_dataset("cifar")


def test_uncompressed_copy_is_accepted(mnist, tmp_path):
    source = datasets.find_dataset("mnist", download=False)
    for stem in FILES[:2]:
        (tmp_path / f"{stem}.gz").symlink_to((source / f"{stem}.gz").resolve())
    for stem in FILES[2:]:
        (tmp_path / stem).write_bytes(gzip.decompress((source / f"{stem}.gz").read_bytes()))
    copy = datasets.load_mnist(tmp_path)
    np.testing.assert_array_equal(copy.test_images, mnist.test_images)


def test_mnist_manifest_facts(mnist):
    assert mnist.train_images.shape == (60000, 28, 28) and mnist.train_images.dtype == np.uint8
    assert mnist.test_images.shape == (10000, 28, 28) and mnist.test_labels.shape == (10000,)
    assert mnist.train_labels[0] == 5
    assert np.bincount(mnist.train_labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    pixels = mnist.train_images.astype(np.float64) / 255
    assert pixels.mean() == pytest.approx(0.1306604762738429, abs=1e-12)
    assert pixels.std() == pytest.approx(0.3081078, abs=1e-7)
    assert not mnist.train_images.flags.writeable  # shared by every caller in this process


def test_fashion_mnist_manifest_facts(fashion_mnist):
    assert fashion_mnist.train_images.shape == (60000, 28, 28)
    assert fashion_mnist.test_images.shape == (10000, 28, 28)
    assert np.bincount(fashion_mnist.train_labels).tolist() == [6000] * 10
    assert np.bincount(fashion_mnist.test_labels).tolist() == [1000] * 10
    pixels = fashion_mnist.train_images.astype(np.float64) / 255
    assert pixels.mean() == pytest.approx(0.2860, abs=5e-5)
    assert pixels.std() == pytest.approx(0.3530, abs=5e-5)
