"""save/load: a round trip keeps every layer, array, dtype and the metadata; damaged or foreign
files give a one-line error; writes are atomic."""

import json
import os

import numpy as np
import pytest

import chainrule
from chainrule.io import atomic_write

rng = np.random.default_rng(0)


@pytest.mark.parametrize("net", [
    chainrule.mlp([4, 6, 3], hidden="tanh", output="softmax", loss="cross_entropy", dtype=np.float32),
    chainrule.mlp([4, 5, 5, 1], hidden="leaky_relu", output="identity", loss="half_squared_error", dropout=0.2),
    chainrule.mlp([4, 3, 2], output="sigmoid", loss="binary_cross_entropy", input_scaling=(127.5, 1 / 127.5, (2, 2))),
], ids=["float32-softmax", "leaky-dropout", "standardize"])
def test_round_trip_keeps_architecture_arrays_dtype_and_metadata(tmp_path, net):
    for dense in net.dense:
        dense.b[:] = rng.standard_normal(dense.b.shape)
    path = tmp_path / "model.npz"
    net.save(path, metadata={"note": "test", "accuracy": 0.5})
    loaded = chainrule.load(path)
    assert repr(loaded) == repr(net)
    assert loaded.config() == net.config() and loaded.dtype == net.dtype
    assert loaded.metadata == {"note": "test", "accuracy": 0.5}
    for a, b in zip(loaded.params(), net.params()):
        np.testing.assert_array_equal(a, b)
        assert a.dtype == b.dtype
    X = rng.integers(0, 256, (5, *net.input_shape)).astype(np.uint8)
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))


def test_leaky_relu_slope_survives_the_round_trip(tmp_path):
    net = chainrule.Network([chainrule.Dense(np.eye(2), np.zeros(2)),
                             chainrule.ActivationLayer(chainrule.activations.LeakyReLU(0.3))])
    chainrule.save(net, tmp_path / "m.npz")
    assert chainrule.load(tmp_path / "m.npz").layers[1].activation.slope == 0.3


def test_the_file_is_an_npz_readable_without_pickle(tmp_path):
    chainrule.mlp([3, 2]).save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as data:
        assert sorted(data.files) == ["W0", "b0", "meta"]
        meta = json.loads(str(data["meta"]))
    assert meta["format"] == "chainrule-network" and meta["loss"] == "squared_error"


def test_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file at"):
        chainrule.load(tmp_path / "absent.npz")


@pytest.mark.parametrize("content", [b"not a zip file at all", b"PK\x03\x04truncated"])
def test_corrupt_file_is_a_value_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=r"bad.npz is not a chainrule model file"):
        chainrule.load(path)


def test_truncated_model_is_a_value_error(tmp_path):
    path = tmp_path / "m.npz"
    chainrule.mlp([30, 20, 10]).save(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(ValueError, match="is not a chainrule model file"):
        chainrule.load(path)


def test_foreign_npz_and_pickled_arrays_are_refused(tmp_path):
    np.savez(tmp_path / "plain.npz", x=np.zeros(3))
    with pytest.raises(ValueError, match="is not a chainrule model file"):
        chainrule.load(tmp_path / "plain.npz")
    np.savez(tmp_path / "pickled.npz", meta=np.array([{"format": "chainrule-network"}], dtype=object))
    with pytest.raises(ValueError, match="is not a chainrule model file"):
        chainrule.load(tmp_path / "pickled.npz")


def test_arrays_that_do_not_match_the_architecture_are_a_value_error(tmp_path):
    path = tmp_path / "m.npz"
    chainrule.mlp([3, 4, 2]).save(path)
    with np.load(path) as data:
        arrays = dict(data)
    arrays["W1"] = np.zeros((2, 5))
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=r"arrays of dense layer 1 do not match its architecture \(2, 4\)"):
        chainrule.load(path)


def test_a_model_file_missing_architecture_fields_is_a_value_error(tmp_path):
    path = tmp_path / "m.npz"
    np.savez(path, meta=np.array(json.dumps({"format": "chainrule-network", "version": 1})), W0=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="is not a chainrule model file"):
        chainrule.load(path)


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "m.npz"
    chainrule.mlp([3, 2]).save(path)
    before = path.read_bytes()

    def failing(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(path, failing)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]  # no temporary file left behind


def test_save_creates_missing_folders(tmp_path):
    chainrule.save(chainrule.mlp([2, 2]), tmp_path / "a" / "b" / "m.npz")
    assert chainrule.load(tmp_path / "a" / "b" / "m.npz").n_outputs == 2


def test_atomic_write_gives_the_file_the_permissions_of_an_ordinary_write(tmp_path):
    """mkstemp's temporary file is 0600; the file it becomes must be as open(path, "w") makes it."""
    ordinary = tmp_path / "ordinary.txt"
    ordinary.write_text("x")
    written = tmp_path / "atomic.txt"
    atomic_write(written, lambda f: f.write(b"x"))
    assert os.stat(written).st_mode & 0o777 == os.stat(ordinary).st_mode & 0o777


def test_atomic_write_gives_the_mode_asked_for(tmp_path):
    private = tmp_path / "private.bin"
    atomic_write(private, lambda f: f.write(b"x"), mode=0o600)
    assert os.stat(private).st_mode & 0o777 == 0o600 and private.read_bytes() == b"x"


def test_files_np_load_reads_but_are_no_model_are_a_value_error(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "list.npz", meta=np.array(json.dumps(["chainrule-network"])))
    for name in ("empty.npz", "array.npy", "list.npz"):
        with pytest.raises(ValueError, match=f"{name} is not a chainrule model file"):
            chainrule.load(tmp_path / name)


@pytest.mark.parametrize("change, message", [
    (lambda meta, arrays: arrays.update(W0=np.full_like(arrays["W0"], np.nan)),
     "layer 0: Dense weights must be finite"),
    (lambda meta, arrays: meta.update(dtype="int64"), "layer 0: Dense needs float32 or float64 weights"),
    (lambda meta, arrays: meta["layers"][-1].update(name="softmax"),
     "does not describe a valid network: softmax over one"),
], ids=["nan-weights", "integer-dtype", "one-softmax-output"])
def test_a_model_file_whose_network_cannot_compute_is_a_value_error(tmp_path, change, message):
    path = tmp_path / "m.npz"
    chainrule.mlp([3, 4, 1]).save(path)
    with np.load(path) as data:
        arrays = dict(data)
    meta = json.loads(str(arrays.pop("meta")))
    change(meta, arrays)
    np.savez(path, meta=np.array(json.dumps(meta)), **arrays)
    with pytest.raises(ValueError, match=message):
        chainrule.load(path)


def test_atomic_write_writes_through_a_link_and_refuses_what_is_not_a_file(tmp_path):
    target = tmp_path / "models" / "real.npz"
    target.parent.mkdir()
    link = tmp_path / "link.npz"
    link.symlink_to(target)
    chainrule.mlp([3, 2]).save(link)
    assert link.is_symlink() and chainrule.load(target).dense[0].W.shape == (2, 3)
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="fifo.npz exists and is not an ordinary file"):
        chainrule.mlp([3, 2]).save(fifo)
    assert fifo.is_fifo()


@pytest.mark.parametrize("damage, message", [
    ("metadata-list", "metadata is not a JSON object"),
    ("deflate-garbage", "error: Error -3"),
    ("png", "not an .npz archive"),
    ("object-array", "it holds Python objects, which are never unpickled"),
])
def test_model_files_damaged_in_other_ways_name_the_file_and_never_suggest_pickling(tmp_path, damage, message):
    path = tmp_path / "m.npz"
    net = chainrule.mlp([3, 2])
    if damage == "metadata-list":
        np.savez(path, meta=np.array(json.dumps({"format": "chainrule-network", **net.config(), "metadata": [1]})),
                 W0=net.dense[0].W, b0=net.dense[0].b)
    elif damage == "deflate-garbage":
        np.savez_compressed(path, meta=np.array(json.dumps({"format": "chainrule-network", **net.config()})),
                            W0=np.zeros((200, 300)), b0=net.dense[0].b)
        data = bytearray(path.read_bytes())
        start = data.index(b"W0.npy") + 40
        data[start:start + 64] = bytes(range(64))
        path.write_bytes(bytes(data))
    elif damage == "object-array":
        np.savez(path, meta=np.array([{"format": "chainrule-network"}], dtype=object))
    else:
        path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match=f"m.npz is not a chainrule model file.*{message}") as caught:
        chainrule.load(path)
    assert "allow_pickle" not in str(caught.value)  # never the advice to load it unsafely


def test_model_files_built_to_exhaust_the_reader_are_refused_before_it_tries(tmp_path, monkeypatch):
    """JSON nested 200,000 deep (a RecursionError traceback), an archive whose arrays unpack to more
    than a file may hold (a 4 MB file unpacked 3 GiB of zeros), a header claiming 8 TB (an attempt
    to allocate it)."""
    import io
    import zipfile

    from chainrule import io as model_io

    net, paths = chainrule.mlp([3, 2]), {}
    paths["deep"] = tmp_path / "deep.npz"
    nested = "[" * 200_000 + "]" * 200_000
    np.savez(paths["deep"], meta=np.array('{"format": "chainrule-network", "x": ' + nested + "}"))
    for name, shape in (("zeros", (1024, 1024)), ("claim", (10**6, 10**6))):
        paths[name] = tmp_path / f"{name}.npz"
        net.save(paths[name])
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": shape})
        data = bytes(8 * 1024 * 1024) if name == "zeros" else bytes(1000)
        with zipfile.ZipFile(paths[name], "a", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("junk.npy", header.getvalue() + data)
    monkeypatch.setattr(model_io, "MAX_UNPACKED", 4 * 1024 * 1024)  # the zeros' 8 MB stand for gigabytes
    for name, message in (("deep", r"RecursionError"),
                          ("zeros", r"arrays would take 8 MiB unpacked, more than the 4 MiB"),
                          ("claim", r"junk.npy declares 8000000000000 bytes of data, the archive holds 1128")):
        with pytest.raises(ValueError, match=rf"{name}.npz is not a chainrule model file \(.*{message}"):
            chainrule.load(paths[name])
    monkeypatch.undo()
    assert chainrule.load(paths["zeros"]).dense[0].W.shape == (2, 3)  # within the real limit: the model loads


@pytest.mark.parametrize("spoil, message", [
    (lambda net: setattr(net, "metadata", "epoch 5"), "metadata must be a dict"),
    (lambda net: setattr(net, "metadata", [1, 2]), "metadata must be a dict"),
    (lambda net: net.dense[1].W.__setitem__((0, 0), np.nan), "dense layer 1 holds NaN or infinite weights"),
    (lambda net: net.dense[0].b.__setitem__(0, np.inf), "dense layer 0 holds NaN or infinite weights"),
], ids=["metadata-str", "metadata-list", "nan-weight", "inf-bias"])
def test_save_refuses_what_load_would_refuse_and_keeps_the_good_file(tmp_path, spoil, message):
    """A save that load would reject replaced a good model file with an unreadable one."""
    net = chainrule.mlp([3, 4, 2])
    path = tmp_path / "m.npz"
    net.save(path)
    before = path.read_bytes()
    spoil(net)
    with pytest.raises(ValueError, match=message):
        net.save(path)
    assert path.read_bytes() == before and chainrule.load(path).n_outputs == 2
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_refuses_metadata_that_is_not_a_dict(tmp_path):
    with pytest.raises(ValueError, match="metadata must be a dict"):
        chainrule.mlp([3, 2]).save(tmp_path / "m.npz", metadata="epoch 5")
    assert not (tmp_path / "m.npz").exists()


def test_atomic_write_through_a_dangling_link_creates_no_folder_outside(tmp_path):
    """A link to a path whose folder is missing made the write create that folder, anywhere."""
    link = tmp_path / "out" / "result.csv"
    link.parent.mkdir()
    elsewhere = tmp_path / "elsewhere" / "deeper" / "file.csv"
    link.symlink_to(elsewhere)
    with pytest.raises(ValueError, match="result.csv is a link to .*file.csv, whose folder does not exist"):
        atomic_write(link, lambda f: f.write(b"x"))
    assert not (tmp_path / "elsewhere").exists() and link.is_symlink()
    atomic_write(tmp_path / "new" / "folder" / "plain.csv", lambda f: f.write(b"x"))  # the folder asked for is made
    assert (tmp_path / "new" / "folder" / "plain.csv").read_bytes() == b"x"


def test_save_without_metadata_keeps_the_networks_own(tmp_path):
    """net.save(path) writes net.metadata (what fit and the CLI record), and load gives it back."""
    net = chainrule.mlp([3, 2])
    net.metadata = {"dataset": "blobs", "epochs": 3}
    net.save(tmp_path / "m.npz")
    assert chainrule.load(tmp_path / "m.npz").metadata == {"dataset": "blobs", "epochs": 3}


def test_a_float32_digit_model_computes_in_float32_after_the_round_trip(tmp_path):
    """The Standardize layer is rebuilt in the file's dtype: a float32 model read back must not turn
    raw uint8 images into float64 (and so every product after it)."""
    net = chainrule.mlp([4, 3, 2], output="softmax", loss="cross_entropy", dtype=np.float32,
                        input_scaling=(127.5, 1 / 127.5, (2, 2)))
    net.save(tmp_path / "m.npz")
    loaded = chainrule.load(tmp_path / "m.npz")
    X = rng.integers(0, 256, (5, 2, 2)).astype(np.uint8)
    assert loaded.layers[0].dtype == np.float32
    assert loaded.forward(X).dtype == np.float32
    np.testing.assert_array_equal(loaded.forward(X), net.forward(X))
