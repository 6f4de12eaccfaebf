"""steepest.io: atomic writes and the JSON-plus-arrays encoding that checkpoints, st.save,
sweeps and the CLI share."""

import json
import os

import numpy as np
import pytest

import steepest as st
from steepest.io import ArrayEncoder, atomic_write, write_json, write_text


def test_write_json_and_text_replace_the_file_whole(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"x": [1, 2.5, None]}, indent=1)
    assert json.loads(path.read_text()) == {"x": [1, 2.5, None]}
    write_text(path, "é\n")
    assert path.read_text(encoding="utf-8") == "é\n"
    assert os.listdir(tmp_path) == ["a.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    write_text(path, "old")

    def fail(fh):
        fh.write(b"half")
        raise RuntimeError("disk gone")
    with pytest.raises(RuntimeError, match="disk gone"):
        atomic_write(path, fail)
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["a.txt"]


def test_a_temporary_left_by_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    orphan = tmp_path / ".a.txt.abc123.tmp"
    orphan.write_bytes(b"partial")
    other = tmp_path / ".b.txt.abc123.tmp"  # another file's temporary is not ours to delete
    other.write_bytes(b"partial")
    write_text(tmp_path / "a.txt", "new")
    assert sorted(os.listdir(tmp_path)) == [".b.txt.abc123.tmp", "a.txt"]


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory .*nowhere does not exist"):
        write_text(tmp_path / "nowhere" / "a.txt", "x")


def test_array_encoder_round_trips_nested_values_through_json():
    value = {"a": (1, 2.5, "x"), 3: [np.float32(1.5), None, True],
             "t": np.arange(6.0).reshape(2, 3), "__dunder": {"k": np.int64(7)}}
    arrays = {}
    structure = json.loads(json.dumps(ArrayEncoder(arrays).encode(value)))
    back = ArrayEncoder(arrays).decode(structure)
    assert back.keys() == value.keys()
    assert back["a"] == (1, 2.5, "x") and isinstance(back["a"], tuple)
    assert back[3][0] == np.float32(1.5) and type(back[3][0]) is np.float32
    np.testing.assert_array_equal(back["t"], value["t"])
    assert back["__dunder"]["k"] == 7 and type(back["__dunder"]["k"]) is np.int64


def test_array_encoder_stores_tensors_as_their_arrays_and_names_its_owner():
    arrays = {}
    ref = ArrayEncoder(arrays).encode(st.tensor([1.0, 2.0], dtype=st.float64))
    np.testing.assert_array_equal(arrays[ref["__array__"]], [1.0, 2.0])
    with pytest.raises(TypeError, match=r"^save: cannot store a value of type object"):
        ArrayEncoder({}, owner="save").encode(object())
    with pytest.raises(TypeError, match=r"^save_checkpoint: cannot store an array of dtype object"):
        ArrayEncoder({}).encode(np.array([object()]))
