"""Callbacks: EarlyStopping, ModelCheckpoint, LRSchedulerCallback, loggers, DivergenceGuard."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

import steepest as st
from steepest.training.callbacks import (
    CSVLogger, DivergenceGuard, EarlyStopping, JSONLogger, LRSchedulerCallback, ModelCheckpoint,
)
from steepest.data import load_digits, make_moons
from steepest.training.checkpoint import checkpoint_info
from steepest.training.history import DivergenceError

CE = st.losses.cross_entropy


def _model(sizes, seed=0):
    st.manual_seed(seed)
    return st.nn.mlp(sizes)


@pytest.fixture(scope="module")
def digits():
    return load_digits()


# --------------------------------------------------------------------------- EarlyStopping

def _overfitting_run(digits, restore, patience=3):
    """50 training digits and Adam at 1e-2: val_loss bottoms out after ~12 epochs, then rises."""
    X, y = digits
    model = _model([64, 64, 10])
    stopper = EarlyStopping(patience=patience, restore_best_weights=restore)
    history = st.fit(model, CE, st.optim.Adam(model.parameters(), lr=1e-2), X[:50], y[:50],
                     epochs=100, validation_data=(X[500:800], y[500:800]),
                     callbacks=[stopper], verbose=0)
    return model, stopper, history, (X[500:800], y[500:800])


def test_early_stopping_stops_when_validation_loss_stops_improving(digits):
    model, stopper, history, _ = _overfitting_run(digits, restore=False)
    val_loss = history.history["val_loss"]
    best = int(np.argmin(val_loss))
    assert len(history) < 100
    assert stopper.stopped_epoch == len(history) - 1
    assert stopper.best_epoch == best and stopper.best == val_loss[best]
    assert len(history) == best + 1 + 3  # exactly `patience` epochs without improvement
    assert all(v >= val_loss[best] for v in val_loss[best + 1:])


def test_early_stopping_restore_best_weights(digits):
    model, stopper, history, (X_val, y_val) = _overfitting_run(digits, restore=True)
    best = min(history.history["val_loss"])
    assert history.history["val_loss"][-1] > best
    assert st.evaluate(model, CE, X_val, y_val)["loss"] == best
    model, _, history, _ = _overfitting_run(digits, restore=False)
    assert st.evaluate(model, CE, X_val, y_val)["loss"] == history.history["val_loss"][-1]


def test_early_stopping_does_not_stop_while_the_loss_keeps_improving():
    # full-batch gradient descent with a small step decreases the loss every epoch
    X, y = make_moons(100)
    model = _model([2, 8, 2])
    stopper = EarlyStopping(monitor="val_loss", patience=2)
    history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=0.05), X, y, epochs=20,
                     batch_size=100, validation_data=(X, y), callbacks=[stopper], verbose=0)
    assert len(history) == 20
    assert stopper.stopped_epoch is None
    assert np.all(np.diff(history.history["val_loss"]) < 0)


def _feed(stopper, values):
    stopper.set_context(params={"metrics": ["loss", "val_loss", "val_accuracy"]})
    stopper.on_train_begin()
    for epoch, value in enumerate(values):
        stopper.on_epoch_end(epoch, {stopper.monitor: value})
        if stopper.stop_training:
            return epoch
    return None


def test_early_stopping_min_delta_mode_and_baseline():
    # improvements of 0.005 do not count with min_delta=0.01
    assert _feed(EarlyStopping(patience=2, min_delta=0.01), [1.0, 0.995, 0.99, 0.985]) == 2
    assert _feed(EarlyStopping(patience=2), [1.0, 0.995, 0.99, 0.985]) is None
    # accuracies are maximised in mode 'auto'
    assert _feed(EarlyStopping("val_accuracy", patience=1), [0.5, 0.6, 0.7]) is None
    assert _feed(EarlyStopping("val_accuracy", patience=1), [0.5, 0.6, 0.55]) == 2
    # with a baseline, values that never beat it stop training after `patience` epochs
    assert _feed(EarlyStopping(patience=2, baseline=0.5), [0.9, 0.8, 0.7]) == 1
    # NaN never counts as an improvement
    assert _feed(EarlyStopping(patience=1), [1.0, math.nan]) == 1


def test_early_stopping_rejects_a_monitor_the_run_does_not_record():
    X, y = make_moons(40)
    model = _model([2, 4, 2])
    with pytest.raises(ValueError, match="monitor 'val_loss' is not recorded.*validation_data"):
        st.fit(model, CE, st.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
               callbacks=[EarlyStopping()], verbose=0)
    with pytest.raises(ValueError, match="mode must be"):
        EarlyStopping(mode="lowest")


# --------------------------------------------------------------------------- ModelCheckpoint

def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    X, y = make_moons(100)
    model = _model([2, 8, 2])
    optimizer = st.optim.Adam(model.parameters(), lr=0.05)
    every = ModelCheckpoint(tmp_path / "epoch-{epoch:02d}.npz", extra={"note": "hi"})
    best = ModelCheckpoint(tmp_path / "best.npz", monitor="val_loss", save_best_only=True)
    history = st.fit(model, CE, optimizer, X, y, epochs=4, validation_data=(X[:30], y[:30]),
                     callbacks=[every, best], verbose=0)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["best.npz", "epoch-01.npz", "epoch-02.npz", "epoch-03.npz",
                     "epoch-04.npz"]
    info = checkpoint_info(tmp_path / "epoch-03.npz")
    assert info["epoch"] == 3 and info["extra"] == {"note": "hi"}
    assert info["history"].epoch == [0, 1, 2]
    best_epoch = int(np.argmin(history.history["val_loss"])) + 1
    assert checkpoint_info(tmp_path / "best.npz")["epoch"] == best_epoch


# --------------------------------------------------------------------------- schedulers

def test_lr_scheduler_callback_steps_once_per_epoch():
    X, y = make_moons(64)
    model = _model([2, 4, 2])
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    scheduler = st.optim.lr_scheduler.ExponentialLR(optimizer, gamma=0.5)
    history = st.fit(model, CE, optimizer, X, y, epochs=3, batch_size=16, verbose=0,
                     callbacks=[LRSchedulerCallback(scheduler)])
    assert history.history["lr"] == pytest.approx([0.1, 0.05, 0.025])
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.0125)


def _plateau_run():
    """Moons, a flat loss (lr 1e-6) and a ReduceLROnPlateau whose step() records its metric."""
    X, y = make_moons(64)
    model = _model([2, 4, 2])
    optimizer = st.optim.SGD(model.parameters(), lr=1e-6)  # the loss stays flat
    scheduler = st.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=1)
    seen = []
    original = scheduler.step

    def spy(metrics):
        seen.append(metrics)
        original(metrics)
    scheduler.step = spy
    return X, y, model, optimizer, scheduler, seen


def test_reduce_lr_on_plateau_gets_the_monitored_metric():
    X, y, model, optimizer, scheduler, seen = _plateau_run()
    history = st.fit(model, CE, optimizer, X, y, epochs=6, validation_data=(X, y),
                     scheduler=scheduler, verbose=0)
    assert seen == history.history["val_loss"]
    assert history.history["lr"][0] == 1e-6
    assert history.history["lr"][-1] < 1e-6  # reduced on the plateau


def test_one_cycle_steps_per_batch():
    X, y = make_moons(64)
    model = _model([2, 4, 2])
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    scheduler = st.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.1, total_steps=3 * 4)
    callback = LRSchedulerCallback(scheduler)
    assert callback.interval == "batch"
    st.fit(model, CE, optimizer, X, y, epochs=3, batch_size=16, callbacks=[callback],
           verbose=0)
    assert scheduler.last_epoch == 12


# --------------------------------------------------------------------------- loggers

def test_csv_and_json_loggers(tmp_path):
    X, y = make_moons(64)
    model = _model([2, 4, 2])
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    csv_path, json_path = tmp_path / "log.csv", tmp_path / "log.json"
    history = st.fit(model, CE, optimizer, X, y, epochs=3, validation_data=(X, y), verbose=0,
                     callbacks=[CSVLogger(csv_path), JSONLogger(json_path)])
    rows = list(csv.DictReader(csv_path.open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2]
    assert [float(r["val_loss"]) for r in rows] == history.history["val_loss"]
    assert json.loads(json_path.read_text())["history"]["loss"] == history.history["loss"]
    # append=True continues the file of a resumed run without a second header
    st.fit(model, CE, optimizer, X, y, epochs=5, initial_epoch=3, validation_data=(X, y),
           verbose=0, callbacks=[CSVLogger(csv_path, append=True)])
    rows = list(csv.DictReader(csv_path.open()))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3, 4]
    assert list(tmp_path.iterdir()) and not [p for p in tmp_path.iterdir() if
                                             p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- DivergenceGuard

def test_divergence_guard_stops_a_too_large_learning_rate_with_a_helpful_message(digits):
    X, y = digits
    model = _model([64, 32, 10])
    with pytest.raises(DivergenceError) as info:
        st.fit(model, CE, st.optim.GD(model.parameters(), lr=100.0), X, y, epochs=5,
               verbose=0)
    error = info.value
    assert isinstance(error, RuntimeError)
    message = str(error)
    assert message.startswith("training diverged at epoch 1 of 5, step ")
    assert f"step {error.step + 1} of 57" in message
    assert "with learning rate lr = 100" in message
    assert "more than 1000 times its first value" in message
    assert "Try a smaller learning rate such as lr/10 = 10, or gradient clipping" in message
    assert error.epoch == 0 and error.lr == 100.0 and error.loss > 1000
    assert error.history is not None


def _loss_that_turns_nan_at_call(n: int):
    """Cross-entropy whose n-th call (counting from 1) returns NaN: a divergence on cue."""
    calls = []

    def poisoned(output, target):
        calls.append(1)
        loss = CE(output, target)
        return loss * math.nan if len(calls) == n else loss
    return poisoned


def test_divergence_guard_reports_nan_at_the_exact_step():
    X, y = make_moons(64)
    model = _model([2, 4, 2])
    poisoned = _loss_that_turns_nan_at_call(7)  # step 3 of epoch 2 (4 steps per epoch)

    with pytest.raises(DivergenceError, match=r"epoch 2 of 3, step 3 of 4 with learning rate "
                                              r"lr = 0.1: the loss became nan"):
        st.fit(model, poisoned, st.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=3,
               batch_size=16, verbose=0)


def test_divergence_guard_quiet_on_a_good_learning_rate_and_can_be_turned_off(digits):
    X, y = digits
    model = _model([64, 32, 10])
    history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=0.5), X, y, epochs=3,
                     verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    model = _model([2, 4, 2])
    Xm, ym = make_moons(64)
    with np.errstate(all="ignore"):
        history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=1e6), Xm, ym * 1,
                         epochs=2, verbose=0, divergence_guard=False)
    assert len(history) == 2
    with pytest.raises(ValueError, match="factor must be > 1"):
        DivergenceGuard(factor=0.5)


def test_reduce_lr_on_plateau_falls_back_to_loss_only_for_the_run_without_validation():
    """The fallback to 'loss' belongs to one run: the callback's monitor is not rewritten."""
    X, y, model, optimizer, scheduler, seen = _plateau_run()
    callback = LRSchedulerCallback(scheduler)
    history = st.fit(model, CE, optimizer, X, y, epochs=2, callbacks=[callback], verbose=0)
    assert seen == history.history["loss"]
    assert callback.monitor == "val_loss"
    seen.clear()
    history = st.fit(model, CE, optimizer, X, y, epochs=2, validation_data=(X[:20], y[:20]),
                     callbacks=[callback], verbose=0)
    assert seen == history.history["val_loss"]


@pytest.mark.parametrize("make, match", [
    (lambda: EarlyStopping(patience=True), "EarlyStopping: patience must be an integer >= 0"),
    (lambda: EarlyStopping(patience=-1), "patience must be an integer >= 0, got -1"),
    (lambda: ModelCheckpoint("c.npz", every=0), "ModelCheckpoint: every must be an integer >= 1"),
])
def test_callback_arguments_are_checked(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@pytest.mark.filterwarnings("error::ResourceWarning",
                            "error::pytest.PytestUnraisableExceptionWarning")
def test_csv_logger_leaves_no_open_file_when_training_diverges(tmp_path):
    """An unclosed file would show up as a ResourceWarning when collected (an error here)."""
    import gc

    X, y = make_moons(64)
    model = _model([2, 4, 2])
    poisoned = _loss_that_turns_nan_at_call(6)  # step 2 of epoch 2

    path = tmp_path / "log.csv"
    logger = CSVLogger(path)
    with pytest.raises(DivergenceError) as info:
        st.fit(model, poisoned, st.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=3,
               batch_size=16, verbose=0, callbacks=[logger])
    del logger, info  # the traceback holds fit's frame, and so the callbacks
    gc.collect()
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [0]  # the finished epoch is on disk


def test_model_checkpoint_template_is_checked_at_train_begin(tmp_path):
    """Issue 12 §3: '{val_loss}' without validation data fails before the first epoch."""
    X, y = make_moons(64)
    model = _model([2, 8, 2])
    before = [p.numpy().copy() for p in model.parameters()]
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    template = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.3f}.npz")
    with pytest.raises(ValueError, match=r"uses \{val_loss\}, which this run does not record "
                                         r"\(pass validation_data"):
        st.fit(model, CE, optimizer, X, y, epochs=2, verbose=0,
               callbacks=[ModelCheckpoint(template)])
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, model.parameters()))
    with pytest.raises(ValueError, match="unnamed field"):
        st.fit(model, CE, optimizer, X, y, epochs=1, verbose=0,
               callbacks=[ModelCheckpoint(str(tmp_path / "c-{}.npz"))])
    st.fit(model, CE, optimizer, X, y, epochs=2, verbose=0, validation_data=(X, y),
           callbacks=[ModelCheckpoint(template)])
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 2 and names[0].startswith("ckpt-01-") and names[1].startswith("ckpt-02-")
