"""The pen-trajectory loaders: the facts MANIFEST.md states about the real files, one orientation for
both collections, where they look (and that they never download), and a one-line error for each kind
of corrupt or truncated file."""

from __future__ import annotations

import json
import shutil
import urllib.request

import numpy as np
import pytest

from chainrule import datasets
from chainrule.datasets import PEN_FILES, find_pen_file, load_pendigits, load_ujipen


def test_pendigits_manifest_facts(pendigits):
    strokes, labels, writers = pendigits
    assert len(strokes) == len(labels) == len(writers) == 7494
    assert np.bincount(labels).tolist() == [780, 779, 780, 719, 780, 720, 720, 778, 719, 719]
    per_writer = np.bincount(writers)[1:]
    assert len(per_writer) == 30 and per_writer.min() >= 247 and per_writer[16] == 247
    assert sum(len(s) for s in strokes) == 9433
    assert np.bincount([len(s) for s in strokes]).tolist() == [0, 5564, 1921, 9]
    points = np.array([sum(len(p) for p in s) for s in strokes])
    assert (points.min(), points.max(), np.median(points)) == (9, 185, 39)
    xy = np.concatenate([p for s in strokes for p in s])
    assert xy.dtype == np.float64 and xy.shape[1] == 2
    # y is flipped from the file's upward 12..449 into the screen's downward convention
    assert (xy[:, 0].min(), xy[:, 0].max(), -xy[:, 1].max(), -xy[:, 1].min()) == (44, 439, 12, 449)


def test_ujipen_manifest_facts(ujipen):
    strokes, labels, writers = ujipen
    assert len(strokes) == 800
    assert np.bincount(labels).tolist() == [80] * 10
    assert np.bincount(writers)[1:].tolist() == [20] * 40
    xy = np.concatenate([p for s in strokes for p in s])
    assert (xy[:, 0].min(), xy[:, 0].max(), xy[:, 1].min(), xy[:, 1].max()) == (1, 1807, 162, 2648)


def test_both_collections_share_the_screen_orientation(pendigits, ujipen):
    """A 7 is a bar at the top and a stem going down: in screen coordinates (y down) the first
    stroke of most 7s starts near the top of the digit's box, in both collections."""
    for strokes, labels, _ in (pendigits, ujipen):
        starts_high = []
        for s, label in zip(strokes, labels):
            if label == 7:
                xy = np.concatenate(s)
                top, bottom = xy[:, 1].min(), xy[:, 1].max()
                starts_high.append(s[0][0, 1] - top < 0.3 * (bottom - top))
        assert np.mean(starts_high) > 0.8


def test_ujipen_writer_numbering(ujipen, tmp_path):
    """Sample i of a digit was written by writer i // 2 + 1: the third sample of '3' is writer 2's."""
    raw = json.loads(find_pen_file("ujipen").read_text())["rawData"]
    i = np.flatnonzero(ujipen.labels == 3)[2]
    assert ujipen.writers[i] == 2
    np.testing.assert_array_equal(ujipen.strokes[i][0], np.array(raw["3"][2][0], float))


def test_search_order_and_no_download(tmp_path, monkeypatch, pendigits):
    source = find_pen_file("pendigits")
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("the pen loaders must not download"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("CHAINRULE_DATA", str(tmp_path / "data"))
    with pytest.raises(FileNotFoundError, match="never downloaded"):
        load_pendigits()
    cached = tmp_path / "cache" / "chainrule" / "pendigits" / PEN_FILES["pendigits"]
    cached.parent.mkdir(parents=True)
    shutil.copy(source, cached)
    assert find_pen_file("pendigits") == cached
    env = tmp_path / "data" / "pendigits" / PEN_FILES["pendigits"]
    env.parent.mkdir(parents=True)
    shutil.copy(source, env)
    assert find_pen_file("pendigits") == env
    assert find_pen_file("pendigits", env.parent) == env and find_pen_file("pendigits", source) == source
    assert len(load_pendigits(env).labels) == 7494


UNIPEN = """.INCLUDE dene.doc
.HIERARCHY DIGIT

.SEGMENT DIGIT    0 ? "7"
.COMMENT 7 3  1
.PEN_DOWN
 10  90
 50  90
 30  10
.PEN_UP
.DT 100

.SEGMENT DIGIT    1-2 ? "1"
.COMMENT 1 4  2
.PEN_DOWN
 20  80
.PEN_UP
.DT 100
.PEN_DOWN
 20  80
 20  10
.PEN_UP
"""


def test_unipen_parse_small_file(tmp_path):
    (tmp_path / "p.tra").write_text(UNIPEN)
    strokes, labels, writers = load_pendigits(tmp_path / "p.tra")
    assert labels.tolist() == [7, 1] and writers.tolist() == [3, 4]
    np.testing.assert_array_equal(strokes[0][0], [[10, -90], [50, -90], [30, -10]])
    assert [len(s) for s in strokes] == [1, 2]


@pytest.mark.parametrize("text, words", [
    (UNIPEN[: UNIPEN.index(" 50  90")], "ends inside a stroke"),
    (UNIPEN.replace(" 50  90", " 50  x"), "line 8: expected a point"),
    (UNIPEN.replace('? "7"', '? "seven"'), "malformed segment header"),
    (UNIPEN.replace(".COMMENT 7 3  1", ".COMMENT 4 3  1"), "expected '.COMMENT 7"),
    (UNIPEN.replace(".COMMENT 7 3  1\n", ""), "digit 0 has no writer"),
    (UNIPEN.replace(".PEN_UP\n.DT 100\n\n.SEGMENT", ".DT 100\n\n.SEGMENT", 1), "inside a stroke"),
    (".HIERARCHY DIGIT\n", "holds no digits"),
])
def test_unipen_corruption_is_one_line(tmp_path, text, words):
    (tmp_path / "p.tra").write_text(text)
    with pytest.raises(ValueError, match=words) as err:
        load_pendigits(tmp_path / "p.tra")
    assert "\n" not in str(err.value)


def test_binary_file_is_one_line(tmp_path):
    (tmp_path / "p.tra").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    with pytest.raises(ValueError, match="not a pendigits text file"):
        load_pendigits(tmp_path / "p.tra")


@pytest.mark.parametrize("content, words", [
    ('{"rawData": {"1": [[[[1, 2], [3, 4]]]]}', "not a UJI pen JSON"),  # truncated
    ('{"raw": {}}', "not a UJI pen JSON"),
    ('{"rawData": {"x": []}}', "must map the digits"),
    ('{"rawData": {"1": [[[[1, 2, 3]]]]}}', "sample 0 of digit 1"),
    ('{"rawData": {"1": [[[[1, "a"]]]]}}', "sample 0 of digit 1"),
    ('{"rawData": {"1": [[]]}}', "has no strokes"),
    ('{"rawData": {}}', "holds no digits"),
])
def test_ujipen_corruption_is_one_line(tmp_path, content, words):
    (tmp_path / "u.json").write_text(content)
    with pytest.raises(ValueError, match=words) as err:
        load_ujipen(tmp_path / "u.json")
    assert "\n" not in str(err.value)


def test_decoded_once_per_process(pendigits):
    assert load_pendigits() is datasets.load_pendigits()
