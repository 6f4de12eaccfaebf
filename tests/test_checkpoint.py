"""Checkpoints: exact round trips, atomic writes, and resuming == never stopping."""

from __future__ import annotations

import os

import numpy as np
import pytest

import steepest as st
from steepest.data import load_digits
from steepest.training.callbacks import ModelCheckpoint
from steepest.training.checkpoint import checkpoint_info, load_checkpoint, save_checkpoint

CE = st.losses.cross_entropy


@pytest.fixture(scope="module")
def data():
    X, y = load_digits()
    return X[:400], y[:400], X[400:500], y[400:500]


def _setup(seed=0):
    """Adam + Dropout (global generator) + StepLR: everything a resume must restore."""
    st.manual_seed(seed)
    model = st.nn.Sequential(st.nn.Linear(64, 32), st.nn.ReLU(), st.nn.Dropout(0.2),
                             st.nn.Linear(32, 10))
    optimizer = st.optim.Adam(model.parameters(), lr=3e-3, betas=(0.8, 0.99))
    scheduler = st.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


def _weights(model):
    return [p.numpy().copy() for p in model.parameters()]


def test_round_trip_of_model_optimizer_history_and_extra(tmp_path, data):
    X, y, X_val, y_val = data
    model, optimizer, _ = _setup()
    history = st.fit(model, CE, optimizer, X, y, epochs=2, validation_data=(X_val, y_val),
                     verbose=0)
    extra = {"config": {"hidden": [32], "betas": (0.8, 0.99), "name": "run", "none": None},
             "mean": np.arange(3.0), "count": np.int64(7), 3: "int key"}
    path = tmp_path / "ckpt.npz"
    save_checkpoint(path, model, optimizer, epoch=2, history=history, extra=extra)

    with np.load(path, allow_pickle=False) as archive:  # plain arrays only, no pickles
        assert "model/0.weight" in archive.files and "__meta__" in archive.files

    fresh, fresh_optimizer, _ = _setup(seed=1)
    info = load_checkpoint(path, fresh, fresh_optimizer)
    for a, b in zip(model.parameters(), fresh.parameters()):
        assert np.array_equal(a.numpy(), b.numpy()) and a.numpy().dtype == b.numpy().dtype
    saved, loaded = optimizer.state_dict(), fresh_optimizer.state_dict()
    assert loaded["param_groups"] == saved["param_groups"]
    assert isinstance(loaded["param_groups"][0]["betas"], tuple)
    for index, state in saved["state"].items():
        for key, value in state.items():
            assert np.array_equal(loaded["state"][index][key], value), key
            assert type(loaded["state"][index][key]) is type(value), key
    assert info["epoch"] == 2
    assert info["history"].history == history.history
    assert info["history"].epoch == [0, 1]
    assert info["extra"]["config"] == extra["config"]
    assert np.array_equal(info["extra"]["mean"], extra["mean"])
    assert info["extra"]["count"] == 7 and info["extra"][3] == "int key"


def test_a_crash_mid_write_keeps_the_previous_checkpoint(tmp_path, monkeypatch, data):
    X, y, _, _ = data
    model, optimizer, _ = _setup()
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, model, optimizer, epoch=1)
    good = _weights(model)
    st.fit(model, CE, optimizer, X, y, epochs=1, verbose=0)  # the weights change

    real_savez = np.savez

    def crash_halfway(file, **arrays):
        real_savez(file, **dict(list(arrays.items())[:2]))  # some bytes hit the disk ...
        raise OSError("disk full")                          # ... then the write dies

    monkeypatch.setattr(np, "savez", crash_halfway)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, model, optimizer, epoch=2)
    monkeypatch.undo()

    assert os.listdir(tmp_path) == ["checkpoint.npz"]  # no temporary file left behind
    restored, restored_optimizer, _ = _setup(seed=3)
    assert load_checkpoint(path, restored, restored_optimizer)["epoch"] == 1
    for a, b in zip(good, restored.parameters()):
        assert np.array_equal(a, b.numpy())


def test_a_failing_fsync_also_leaves_the_old_file(tmp_path, monkeypatch):
    model, _, _ = _setup()
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, model, epoch=1)
    before = path.read_bytes()

    def broken_fsync(fd):
        raise OSError("I/O error")
    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="I/O error"):
        save_checkpoint(path, model, epoch=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_resuming_gives_exactly_the_uninterrupted_weights(tmp_path, data):
    X, y, X_val, y_val = data
    kwargs = dict(batch_size=32, validation_data=(X_val, y_val), seed=5, verbose=0)

    model, optimizer, scheduler = _setup()
    uninterrupted = st.fit(model, CE, optimizer, X, y, epochs=6, scheduler=scheduler, **kwargs)

    path = tmp_path / "checkpoint.npz"
    first, first_optimizer, first_scheduler = _setup()
    st.fit(first, CE, first_optimizer, X, y, epochs=3, scheduler=first_scheduler,
           callbacks=[ModelCheckpoint(path, scheduler=first_scheduler)], **kwargs)
    st.randn(10)  # the process that resumes has used the global generator differently

    resumed, resumed_optimizer, resumed_scheduler = _setup(seed=99)
    info = load_checkpoint(path, resumed, resumed_optimizer, scheduler=resumed_scheduler)
    assert info["epoch"] == 3
    history = st.fit(resumed, CE, resumed_optimizer, X, y, epochs=6,
                     initial_epoch=info["epoch"], history=info["history"],
                     scheduler=resumed_scheduler, **kwargs)

    for a, b in zip(model.parameters(), resumed.parameters()):
        assert np.array_equal(a.numpy(), b.numpy())
    assert history.history == uninterrupted.history
    assert history.epoch == uninterrupted.epoch


def test_resuming_without_the_optimizer_state_differs(tmp_path, data):
    """The previous test can fail: dropping Adam's moments changes the weights."""
    X, y, _, _ = data
    model, optimizer, _ = _setup()
    st.fit(model, CE, optimizer, X, y, epochs=2, verbose=0)
    path = tmp_path / "c.npz"
    save_checkpoint(path, model, optimizer, epoch=1)
    st.fit(model, CE, optimizer, X, y, epochs=2, initial_epoch=1, verbose=0)

    resumed, resumed_optimizer, _ = _setup()
    load_checkpoint(path, resumed)  # weights only: Adam starts from zero moments
    st.fit(resumed, CE, resumed_optimizer, X, y, epochs=2, initial_epoch=1, verbose=0)
    assert not np.array_equal(model[0].weight.numpy(), resumed[0].weight.numpy())


def test_load_errors_are_clear(tmp_path):
    model, optimizer, _ = _setup()
    path = tmp_path / "c.npz"
    save_checkpoint(path, model, optimizer, epoch=1)
    st.manual_seed(0)
    other = st.nn.mlp([64, 16, 10])
    with pytest.raises(ValueError, match=r"does not fit this model.*shape mismatch for 0.weight"):
        load_checkpoint(path, other)
    with pytest.raises(ValueError, match="holds Adam state, but the optimizer is SGD"):
        load_checkpoint(path, model, st.optim.SGD(model.parameters(), lr=0.1))
    not_a_checkpoint = tmp_path / "notes.npz"
    not_a_checkpoint.write_text("hello")
    with pytest.raises(ValueError, match="not a readable steepest checkpoint"):
        load_checkpoint(not_a_checkpoint, model)
    plain = tmp_path / "plain.npz"
    np.savez(plain, a=np.zeros(2))
    with pytest.raises(ValueError, match="not a steepest checkpoint"):
        load_checkpoint(plain, model)
    with pytest.raises(FileNotFoundError):
        load_checkpoint(tmp_path / "missing.npz", model)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_checkpoint(tmp_path / "no" / "dir.npz", model)
    with pytest.raises(TypeError, match="cannot store a value of type object"):
        save_checkpoint(tmp_path / "x.npz", model, extra={"bad": object()})


def test_checkpoint_info_reads_without_a_model(tmp_path):
    model, optimizer, scheduler = _setup()
    path = tmp_path / "c.npz"
    save_checkpoint(path, model, optimizer, epoch=4, extra={"a": 1}, scheduler=scheduler)
    info = checkpoint_info(path)
    assert info["epoch"] == 4 and info["extra"] == {"a": 1}
    assert info["model_shapes"] == {"0.weight": (32, 64), "0.bias": (32,),
                                    "3.weight": (10, 32), "3.bias": (10,)}
    assert info["optimizer_class"] == "Adam" and info["scheduler_class"] == "StepLR"
    assert info["history"] is None


def test_the_write_is_fsynced_then_renamed_then_the_directory_fsynced(tmp_path, monkeypatch):
    """The rename is only durable once the directory is fsync-ed, after os.replace."""
    import stat

    model, _, _ = _setup()
    path = tmp_path / "checkpoint.npz"
    save_checkpoint(path, model, epoch=1)
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    save_checkpoint(path, model, epoch=2)
    monkeypatch.undo()
    assert events == ["fsync file", "replace", "fsync dir"]
    assert checkpoint_info(path)["epoch"] == 2
    assert os.listdir(tmp_path) == ["checkpoint.npz"]


def test_a_refused_load_leaves_the_model_untouched(tmp_path):
    model, optimizer, _ = _setup()
    path = tmp_path / "c.npz"
    save_checkpoint(path, model, optimizer, epoch=1)
    other, _, scheduler = _setup(seed=1)
    before = _weights(other)
    with pytest.raises(ValueError, match="holds Adam state, but the optimizer is SGD"):
        load_checkpoint(path, other, st.optim.SGD(other.parameters(), lr=0.1))
    with pytest.raises(ValueError, match="holds no scheduler state, but the scheduler is StepLR"):
        load_checkpoint(path, other, scheduler=scheduler)
    for a, b in zip(before, other.parameters()):
        assert np.array_equal(a, b.numpy())


# --------------------------------------------------------------------------- damaged files

def _rewrite(path, change):
    """Rewrite a checkpoint with ``change(meta, arrays)`` applied to its metadata/arrays."""
    import json

    with np.load(path, allow_pickle=False) as archive:
        arrays = {key: archive[key] for key in archive.files}
    meta = json.loads(str(arrays.pop("__meta__")[()]))
    meta = change(meta, arrays)
    arrays["__meta__"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def _drop_first_optimizer_array(meta, arrays):
    key = json_first_array(meta["optimizer"])
    del arrays[key]
    return meta


def json_first_array(node):
    if isinstance(node, dict):
        if "__array__" in node:
            return node["__array__"]
        node = list(node.values())
    if isinstance(node, list):
        for item in node:
            found = json_first_array(item)
            if found:
                return found
    return None


def _set(key, value):
    def change(meta, arrays):
        meta[key] = value
        return meta
    return change


def _drop(key):
    def change(meta, arrays):
        del arrays[key]
        return meta
    return change


DAMAGE = {
    "optimizer buffer missing": (_drop_first_optimizer_array, "refers to an array"),
    "weights missing": (_drop("model/3.bias"), "arrays of 3.bias are missing"),
    "rng_state garbage": (_set("rng_state", {"bit_generator": "PCG64", "state": "garbage"}),
                          "rng_state entry is malformed"),
    "rng_state a list": (_set("rng_state", [1, 2]), "rng_state entry is malformed"),
    "history columns too short": (_set("history", {"history": {"loss": [1.0]},
                                                   "epoch": [0, 1]}),
                                  "history entry is malformed.*1 values for 2 epochs"),
    "history a list": (_set("history", [1, 2]), "history entry is malformed"),
    "history of text": (_set("history", {"history": {"loss": ["a", "b"]}, "epoch": [0, 1]}),
                        "history entry is malformed"),
    "metadata a JSON list": (lambda meta, arrays: [meta], "metadata is a JSON list"),
    "version garbage": (_set("version", "abc"), "malformed checkpoint version 'abc'"),
    "version negative": (_set("version", -1), "malformed checkpoint version -1"),
    "optimizer name garbage": (_set("optimizer_class", ["Adam"]), "malformed optimizer_class"),
    "epoch garbage": (_set("epoch", "five"), "malformed epoch 'five'"),
    "optimizer state for other parameters": (_set("optimizer", {"state": {},
                                                                "param_groups": []}),
                                             "does not fit this optimizer"),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_checkpoint_is_refused_and_changes_nothing(tmp_path, case):
    """Issue 12 §3: check and convert everything first, then write (or put everything back)."""
    change, message = DAMAGE[case]
    model, optimizer, scheduler = _setup()
    X, y = load_digits()
    st.fit(model, CE, optimizer, X[:64], y[:64], epochs=1, verbose=0)
    path = tmp_path / "c.npz"
    save_checkpoint(path, model, optimizer, epoch=2, history={"loss": [1.0, 0.5]},
                    scheduler=scheduler)
    _rewrite(path, change)

    other, other_optimizer, other_scheduler = _setup(seed=1)
    st.fit(other, CE, other_optimizer, X[64:128], y[64:128], epochs=1, verbose=0)
    weights = _weights(other)
    optimizer_state = other_optimizer.state_dict()
    rng_state = st.get_rng_state().numpy().copy()
    with pytest.raises(ValueError, match=message):
        load_checkpoint(path, other, other_optimizer, scheduler=other_scheduler)
    for a, b in zip(weights, other.parameters()):
        assert np.array_equal(a, b.numpy())
    after = other_optimizer.state_dict()
    assert after["param_groups"] == optimizer_state["param_groups"]
    for index, state in optimizer_state["state"].items():
        for key, value in state.items():
            assert np.array_equal(after["state"][index][key], value)
    np.testing.assert_array_equal(st.get_rng_state().numpy(), rng_state)


def test_a_killed_write_leaves_a_temporary_file_that_the_next_save_removes(tmp_path):
    """Orphans of killed writes go; a write in progress (its file locked) and other names stay."""
    fcntl = pytest.importorskip("fcntl")
    model, _, _ = _setup()
    orphan = tmp_path / ".c.npz.k1ll3d.tmp"
    orphan.write_bytes(b"half a checkpoint")
    other_name = tmp_path / ".d.npz.k1ll3d.tmp"
    other_name.write_bytes(b"not ours")
    live = tmp_path / ".c.npz.wr1t1ng.tmp"
    with open(live, "wb") as writer:
        fcntl.flock(writer.fileno(), fcntl.LOCK_EX)  # as a concurrent atomic_write holds it
        save_checkpoint(tmp_path / "c.npz", model, epoch=1)
        assert sorted(os.listdir(tmp_path)) == [".c.npz.wr1t1ng.tmp", ".d.npz.k1ll3d.tmp",
                                                "c.npz"]
    assert checkpoint_info(tmp_path / "c.npz")["epoch"] == 1


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_the_checkpoint_file_respects_the_umask(tmp_path, umask, mode):
    if os.name != "posix":
        pytest.skip("POSIX permissions")
    model, _, _ = _setup()
    old = os.umask(umask)
    try:
        save_checkpoint(tmp_path / "c.npz", model, epoch=1)
    finally:
        os.umask(old)
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == mode
