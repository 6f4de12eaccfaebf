"""st.save / st.load: exact round trips, no pickle, atomic writes at exactly the given path."""

from __future__ import annotations

import sys
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
        a, b = a.numpy(), b.numpy()
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
    np.testing.assert_array_equal(other(x).numpy(), model(x).numpy())


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
    model.a.numpy()[...] = 9.0
    load_checkpoint(tmp_path / "c.npz", model)
    assert model.a.numpy().shape == () and model.a.item() == 0.25


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


def test_save_writes_through_a_symbolic_link_as_torch_does(tmp_path):
    torch = pytest.importorskip("torch")
    for save, load, name in ((st.save, st.load, "st"), (torch.save, torch.load, "torch")):
        target = tmp_path / f"{name}-target.pth"
        link = tmp_path / f"{name}-link.pth"
        save({"w": np.zeros(2)} if name == "st" else {"w": torch.zeros(2)}, target)
        link.symlink_to(target.name)
        save({"w": np.ones(2)} if name == "st" else {"w": torch.ones(2)}, link)
        assert link.is_symlink() and os.readlink(link) == target.name
        np.testing.assert_array_equal(np.asarray(load(target)["w"]), np.ones(2))
    dangling = tmp_path / "dangling.pth"
    dangling.symlink_to("created.pth")
    st.save({"w": np.ones(1)}, dangling)
    assert dangling.is_symlink() and (tmp_path / "created.pth").is_file()


def _npz(meta, **arrays):
    """An .npz whose __meta__ is ``meta`` (JSON text, or any array), as bytes."""
    buffer = io.BytesIO()
    np.savez(buffer, __meta__=np.array(meta) if isinstance(meta, str) else meta, **arrays)
    return buffer.getvalue()


def _header(obj, **overrides):
    import json
    return json.dumps({"format": "steepest-save", "version": 1, "object": obj, **overrides})


def _zip(**members):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _saved():
    buffer = io.BytesIO()
    st.save({"w": st.tensor(np.arange(64, dtype=np.float64)), "step": 3}, buffer)
    return buffer.getvalue()


def _flip_in_data(data: bytes) -> bytes:
    at = data.index(np.arange(64, dtype=np.float64).tobytes()) + 100
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1:]


def _lying_npy() -> bytes:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10 ** 12,)})
    return header.getvalue() + b"\0" * 8


_GOOD = _saved()
_DAMAGED = {
    "empty": (lambda: b"", "is empty"),
    "truncated to half": (lambda: _GOOD[:len(_GOOD) // 2], "not a zip archive"),
    "truncated to 10 bytes": (lambda: _GOOD[:10], "not a zip archive"),
    "one byte short": (lambda: _GOOD[:-1], "not a zip archive"),
    "random bytes": (lambda: np.random.default_rng(0).bytes(500), "not a zip archive"),
    "text": (lambda: b"hello world\n", "not a zip archive"),
    "flipped data byte": (lambda: _flip_in_data(_GOOD), "CRC"),
    "a text member": (lambda: _zip(**{"readme.txt": "hi"}), "'readme.txt', which is not"),
    "an empty zip": (lambda: _zip(), "no __meta__"),
    "npy member of garbage": (lambda: _zip(**{"__meta__.npy": b"garbage"}), "magic"),
    "npy header claims 8 TB": (lambda: _zip(**{"data/0.npy": _lying_npy()}), "should hold"),
    "pickled meta": (lambda: _npz(np.array([{"a": 1}], dtype=object)), "Python objects"),
    "no meta": (lambda: _zip_of_plain(), "no __meta__"),
    "meta not JSON": (lambda: _npz("{not json"), "not valid JSON"),
    "meta is null": (lambda: _npz("null"), "not a steepest-save header"),
    "meta is a list": (lambda: _npz("[1, 2]"), "not a steepest-save header"),
    "meta of numbers": (lambda: _npz(np.arange(3)), "not one JSON string"),
    "meta of two strings": (lambda: _npz(np.array(["a", "b"])), "not one JSON string"),
    "no object": (lambda: _npz('{"format": "steepest-save", "version": 1}'), "no 'object'"),
    "version text": (lambda: _npz(_header(1, version="x")), "format version 'x'"),
    "version from the future": (lambda: _npz(_header(1, version=99)), "newer steepest"),
    "missing array": (lambda: _npz(_header({"__array__": "data/7"})), "data/7"),
    "array key not text": (lambda: _npz(_header({"__array__": [1]})), "[1]"),
    "tuple of a number": (lambda: _npz(_header({"__tuple__": 5})), "TypeError"),
    "items not pairs": (lambda: _npz(_header({"__items__": [[1, 2, 3]]})), "ValueError"),
    "items with a list key": (lambda: _npz(_header({"__items__": [[[1], 2]]})), "unhashable"),
    "ordered of a number": (lambda: _npz(_header({"__ordered__": 3})), "TypeError"),
    "deeply nested JSON": (lambda: _npz("[" * 100_000 + "]" * 100_000), "not valid JSON"),
    "deeply nested structure": (lambda: _npz(_header(_deep(700))), "nested too deeply"),
}


def _zip_of_plain():
    buffer = io.BytesIO()
    np.savez(buffer, w=np.ones(2))
    return buffer.getvalue()


def _deep(depth):
    value = 1
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("case", list(_DAMAGED))
def test_a_damaged_file_raises_one_value_error_naming_it(tmp_path, case):
    build, what = _DAMAGED[case]
    path = tmp_path / "damaged.pth"
    path.write_bytes(build())
    with pytest.raises(Exception) as caught:
        st.load(path)
    message = str(caught.value)
    assert type(caught.value) is ValueError, f"{type(caught.value).__name__}: {message}"
    assert message.startswith(f"load: {path} is not a file written by st.save, or it is "
                              f"damaged: ") and "\n" not in message
    assert what in message
    with pytest.raises(ValueError, match="the file object .*damaged"):
        st.load(io.BytesIO(path.read_bytes()))


def test_the_damaged_file_table_is_large_and_the_good_file_loads():
    assert len(_DAMAGED) >= 24
    np.testing.assert_array_equal(st.load(io.BytesIO(_GOOD))["w"].numpy(), np.arange(64))


def test_nesting_is_bounded_by_a_fixed_depth_not_the_recursion_limit(tmp_path):
    """Save refuses what load would not rebuild, and both hold whatever the recursion limit."""
    from steepest.serialization import MAX_NESTING

    path = tmp_path / "nested.pth"
    st.save(_deep(MAX_NESTING - 2), path)  # (the header wraps the object once more)
    assert st.load(path) == _deep(MAX_NESTING - 2)
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(100_000)
        with pytest.raises(ValueError, match="more than 100 levels deep"):
            st.save(_deep(MAX_NESTING + 5), path)
        path.write_bytes(_npz(_header(_deep(MAX_NESTING + 5))))
        with pytest.raises(ValueError, match="nested too deeply"):
            st.load(path)
    finally:
        sys.setrecursionlimit(limit)
