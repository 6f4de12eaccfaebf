"""st.save / st.load: exact round trips, no pickle, atomic writes at exactly the given path."""

from __future__ import annotations

import io
import os
import zipfile
from collections import OrderedDict

import numpy as np
import pytest

import steepest as st
from steepest.training.checkpoint import load_checkpoint, save_checkpoint


def _same(a, b):
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, st.Tensor):
        assert a.requires_grad == b.requires_grad
        a, b = a.data, b.data
    if isinstance(a, (np.ndarray, np.generic)):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            _same(a[key], b[key])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b


def test_state_dict_round_trip_restores_the_model(tmp_path):
    model = st.nn.mlp([3, 5, 2])
    path = tmp_path / "model.pth"
    st.save(model.state_dict(), path)
    assert os.listdir(tmp_path) == ["model.pth"]   # exactly that name: no ".npz" appended
    loaded = st.load(path)
    _same(model.state_dict(), loaded)
    other = st.nn.mlp([3, 5, 2])
    other.load_state_dict(loaded)
    x = st.tensor(np.ones((2, 3)))
    np.testing.assert_array_equal(other(x).data, model(x).data)


def test_nested_values_round_trip_exactly(tmp_path):
    obj = {"epoch": 3, "lr": 0.1, "nan": float("nan"), "name": "run", "done": False, "none": None,
           "tensor": st.tensor([1.5, -2.0], requires_grad=True),
           "int_tensor": st.tensor(np.arange(3)),
           "scalar_tensor": st.tensor(2.0),
           "float32": np.arange(4, dtype=np.float32).reshape(2, 2),
           "zero_d": np.array(3.25), "np_scalar": np.float32(0.5), "np_int": np.int64(7),
           "parameter": st.nn.Parameter(np.ones(2)),
           "nested": OrderedDict(a=[1, (2, 3)], b={0: np.zeros(1), 1: "x"}),
           "__dunder__": 1, "tuple": (np.ones((0, 2)), 1e-300)}
    st.save(obj, tmp_path / "obj")
    _same(obj, st.load(tmp_path / "obj"))


def test_a_zero_d_parameter_survives_save_and_checkpoint(tmp_path):
    """A model with scalar parameters (the tutorials' polynomial) round-trips both ways."""
    class Polynomial(st.nn.Module):
        def __init__(self):
            super().__init__()
            self.a = st.nn.Parameter(np.array(0.25))
    model = Polynomial()
    st.save(model.state_dict(), tmp_path / "p")
    assert st.load(tmp_path / "p")["a"].shape == ()
    save_checkpoint(tmp_path / "c.npz", model)
    model.a.data[...] = 9.0
    load_checkpoint(tmp_path / "c.npz", model)
    assert model.a.data.shape == () and model.a.item() == 0.25


def test_file_objects_work_too():
    buffer = io.BytesIO()
    st.save({"w": np.ones(3)}, buffer)
    buffer.seek(0)
    np.testing.assert_array_equal(st.load(buffer)["w"], np.ones(3))


def test_the_file_is_plain_npz_without_pickle(tmp_path):
    st.save({"w": np.ones(3), "t": st.tensor([1.0])}, tmp_path / "f")
    with zipfile.ZipFile(tmp_path / "f") as archive:
        assert "__meta__.npy" in archive.namelist()
    with np.load(tmp_path / "f", allow_pickle=False) as archive:
        assert all(archive[key].dtype != object for key in archive.files)


def test_a_pickled_npz_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    np.savez(path, __meta__=np.array([{"format": "steepest-save"}], dtype=object))
    with pytest.raises(ValueError, match="not a file written by st.save"):
        st.load(path)


def test_other_files_are_refused_with_the_path(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(2))
    with pytest.raises(ValueError, match=r"plain\.npz is not a file written by st\.save"):
        st.load(tmp_path / "plain.npz")
    (tmp_path / "text").write_text("hello")
    with pytest.raises(ValueError, match=r"text is not a file written by st\.save"):
        st.load(tmp_path / "text")
    with pytest.raises(FileNotFoundError):
        st.load(tmp_path / "missing")


def test_unsupported_objects_are_refused_naming_save(tmp_path):
    with pytest.raises(TypeError, match=r"^save: cannot store a value of type Sequential"):
        st.save(st.nn.mlp([2, 1]), tmp_path / "model")
    with pytest.raises(TypeError, match="object"):
        st.save({"x": np.array([object()])}, tmp_path / "x")
    assert os.listdir(tmp_path) == []


def test_a_failed_write_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "w.pth"
    st.save({"w": np.zeros(2)}, path)

    def broken(*args, **kwargs):
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        st.save({"w": np.ones(2)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["w.pth"]
    np.testing.assert_array_equal(st.load(path)["w"], np.zeros(2))


def test_torchs_load_arguments_are_accepted_and_devices_refused(tmp_path):
    st.save({"w": np.ones(2)}, tmp_path / "w")
    for location in (None, "cpu"):
        loaded = st.load(tmp_path / "w", map_location=location, weights_only=True)
        np.testing.assert_array_equal(loaded["w"], np.ones(2))
    with pytest.raises(ValueError, match="map_location 'cuda:0' is not available.*CPU only"):
        st.load(tmp_path / "w", map_location="cuda:0")
