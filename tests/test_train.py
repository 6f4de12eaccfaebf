"""st.fit / evaluate / predict / History: accuracy targets, bookkeeping, validation, memory."""

from __future__ import annotations

import copy
import json
import math
import sys
import tracemalloc

import numpy as np
import pytest
import torch

import steepest as st
from steepest.data import Standardizer, load_digits, make_moons, train_test_split
from steepest.training import DivergenceError, History
from steepest.training.callbacks import Callback
from steepest.training.diagnostics import clip_grad_norm_, gradient_norms

CE = st.losses.cross_entropy


def _moons(n=1000, noise=0.1, seed=0):
    X, y = make_moons(n, noise=noise, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, seed=seed)
    scaler = Standardizer().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_val), y_train, y_val


def _small_model(sizes=(2, 16, 2), seed=0, **kwargs):
    """float64 unless asked: the data are float64 arrays, and equalities below are exact."""
    st.manual_seed(seed)
    return st.nn.mlp(list(sizes), **{"dtype": st.float64, **kwargs})


# --------------------------------------------------------------------------- accuracy targets

def test_digits_mlp_reaches_95_percent_validation_accuracy():
    X, y = load_digits()
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, seed=0,
                                                      stratify=True)
    model = _small_model((64, 128, 10))
    optimizer = st.optim.Adam(model.parameters(), lr=3e-3)
    history = st.fit(model, CE, optimizer, X_train, y_train, epochs=20, batch_size=32,
                     validation_data=(X_val, y_val), verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.95
    assert st.evaluate(model, CE, X_val, y_val)["accuracy"] >= 0.95


def test_moons_mlp_reaches_97_percent_validation_accuracy():
    X_train, X_val, y_train, y_val = _moons()
    model = _small_model((2, 16, 16, 2))
    optimizer = st.optim.Adam(model.parameters(), lr=1e-2)
    history = st.fit(model, CE, optimizer, X_train, y_train, epochs=30,
                     validation_data=(X_val, y_val), verbose=0)
    assert history.history["val_accuracy"][-1] >= 0.97
    assert history.history["loss"][-1] < history.history["loss"][0] / 5


# --------------------------------------------------------------------------- the loop itself

def test_fit_equals_the_hand_written_loop():
    """fit is exactly zero_grad/forward/loss/backward/step over (seed, epoch)-shuffled batches."""
    X_train, _, y_train, _ = _moons(200)
    model = _small_model((2, 8, 2))
    st.fit(model, CE, st.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), X_train,
           y_train, epochs=3, batch_size=16, seed=7, verbose=0)
    reference = _small_model((2, 8, 2))
    optimizer = st.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    n = len(X_train)
    for epoch in range(3):
        order = np.random.default_rng((7, epoch)).permutation(n)
        for lo in range(0, n, 16):
            idx = order[lo:lo + 16]
            optimizer.zero_grad()
            loss = CE(reference(st.tensor(X_train[idx])), y_train[idx])
            loss.backward()
            optimizer.step()
    for a, b in zip(model.parameters(), reference.parameters()):
        assert np.array_equal(a.numpy(), b.numpy())


def test_loss_and_accuracy_are_means_over_samples_not_batches():
    """With lr = 0 the weights stay put: the epoch's loss must equal evaluate's, even though
    the last batch (100 = 3 x 32 + 4) is smaller than the others."""
    X_train, _, y_train, _ = _moons(125)
    X_train, y_train = X_train[:100], y_train[:100]
    model = _small_model()
    history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=0.0), X_train, y_train,
                     epochs=2, batch_size=32, verbose=0)
    expected = st.evaluate(model, CE, X_train, y_train)
    assert history.history["loss"] == pytest.approx([expected["loss"]] * 2, rel=1e-12)
    assert history.history["accuracy"] == pytest.approx([expected["accuracy"]] * 2)


def test_gradient_norms_are_recorded_per_layer_in_depth_order():
    X_train, _, y_train, _ = _moons(64)
    model = _small_model((2, 8, 8, 2))
    history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=0.0), X_train, y_train,
                     epochs=1, batch_size=len(X_train), shuffle=False, verbose=0)
    assert list(history.layer_grad_norms()) == ["0", "2", "4"]
    model.zero_grad()
    CE(model(st.tensor(X_train)), y_train).backward()
    manual = gradient_norms(model)
    for name, norm in manual.items():
        assert history.history[f"grad_norm/{name}"][0] == pytest.approx(norm, rel=1e-12)


def test_history_records_every_quantity_and_serialises(tmp_path):
    X_train, X_val, y_train, y_val = _moons(200)
    model = _small_model((2, 8, 2))
    optimizer = st.optim.Adam(model.parameters(), lr=0.01)
    scheduler = st.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)
    history = st.fit(model, CE, optimizer, X_train, y_train, epochs=3,
                     validation_data=(X_val, y_val), scheduler=scheduler, verbose=0)
    assert isinstance(history, History)
    assert history.epoch == [0, 1, 2]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr", "grad_norm/0",
                "grad_norm/2"):
        assert len(history.history[key]) == 3, key
    assert history.history["lr"] == pytest.approx([0.01, 0.005, 0.0025])
    text = json.dumps(history.to_dict(), allow_nan=False)
    again = History.from_dict(json.loads(text))
    assert again.history == history.history and again.epoch == history.epoch
    path = history.plot(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path == tmp_path / "curves.png"


def test_initial_epoch_continues_the_count_and_the_history():
    X_train, _, y_train, _ = _moons(100)
    model = _small_model()
    optimizer = st.optim.Adam(model.parameters())
    history = st.fit(model, CE, optimizer, X_train, y_train, epochs=2, verbose=0)
    history = st.fit(model, CE, optimizer, X_train, y_train, epochs=5, initial_epoch=2,
                     history=history, verbose=0)
    assert history.epoch == [0, 1, 2, 3, 4]
    assert len(history.history["loss"]) == 5


def test_memory_stays_flat_across_epochs():
    """No graph, batch or buffer survives a step: memory after epoch 2 equals that after 12."""
    X, y = load_digits()
    X, y = X[:640], y[:640]
    model = _small_model((64, 64, 10))
    optimizer = st.optim.Adam(model.parameters(), lr=1e-3)

    class Memory(Callback):
        def __init__(self):
            self.traced = []

        def on_epoch_end(self, epoch, logs=None):
            self.traced.append(tracemalloc.get_traced_memory()[0])

    memory = Memory()
    tracemalloc.start()
    try:
        st.fit(model, CE, optimizer, X, y, epochs=12, batch_size=32, verbose=0,
               callbacks=[memory], validation_data=(X[:128], y[:128]))
    finally:
        tracemalloc.stop()
    growth = memory.traced[-1] - memory.traced[1]
    # one leaked graph per step would be >= 20 steps x 32 x 64 x 8 bytes = 327 kB per epoch
    assert growth < 64 * 1024, f"memory grew by {growth} bytes over 10 epochs"


# --------------------------------------------------------------------------- targets / metrics

def test_single_output_binary_classification_and_threshold():
    X_train, X_val, y_train, y_val = _moons(400)
    model = _small_model((2, 16, 1))
    history = st.fit(model, st.losses.binary_cross_entropy_with_logits,
                     st.optim.Adam(model.parameters(), lr=0.02), X_train, y_train, epochs=30,
                     validation_data=(X_val, y_val), verbose=0)
    logits = st.predict(model, X_val)
    assert logits.shape == (len(X_val), 1)
    expected = np.mean((logits[:, 0] > 0) == y_val)  # logit > 0 <=> probability > 0.5
    assert history.history["val_accuracy"][-1] == pytest.approx(expected)
    assert expected > 0.9


def test_regression_with_mse_and_mae_metrics():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    model = _small_model((3, 1))
    history = st.fit(model, st.losses.mse, st.optim.SGD(model.parameters(), lr=0.05), X, y,
                     epochs=40, metrics=("mse", "mae"), verbose=0)
    assert "accuracy" not in history.history
    assert history.history["mse"][-1] < 1e-3
    scores = st.evaluate(model, st.losses.mse, X, y, metrics=("mse", "mae"))
    assert scores["mse"] == pytest.approx(scores["loss"])
    with pytest.raises(ValueError, match="accuracy.*needs class labels"):
        st.fit(model, st.losses.mse, st.optim.SGD(model.parameters(), lr=0.05), X, y,
               epochs=1, metrics=("accuracy",), verbose=0)


def test_squared_error_on_several_outputs_gets_one_hot_targets():
    X_train, _, y_train, _ = _moons(200)
    model = _small_model((2, 16, 2), output_activation="sigmoid")
    history = st.fit(model, st.losses.mse, st.optim.Adam(model.parameters(), lr=0.02), X_train,
                     y_train, epochs=30, verbose=0)
    assert history.history["accuracy"][-1] > 0.85


def test_predict_and_evaluate_use_eval_mode_and_no_grad():
    X_train, _, y_train, _ = _moons(100)
    st.manual_seed(0)
    model = st.nn.Sequential(st.nn.Linear(2, 32, dtype=st.float64), st.nn.ReLU(),
                             st.nn.Dropout(0.5), st.nn.Linear(32, 2, dtype=st.float64))
    first = st.predict(model, X_train, batch_size=7)
    assert np.array_equal(first, st.predict(model, X_train, batch_size=7))  # no dropout noise
    np.testing.assert_allclose(first, st.predict(model, X_train), rtol=1e-12, atol=1e-15)
    assert isinstance(first, np.ndarray) and first.shape == (80, 2)
    assert model.training  # mode restored
    st.evaluate(model, CE, X_train, y_train)
    assert model.training
    assert all(p.grad is None for p in model.parameters())


# --------------------------------------------------------------------------- bad input

BAD_INPUTS = [
    (lambda X, y: (X, y[:-1]), {}, "different lengths"),
    (lambda X, y: (X[:, :1], y), {}, "wrong number of features: got 1, the model expects 2"),
    (lambda X, y: (X, np.where(y == 1, 5, y)), {}, r"labels outside \[0, 2\)"),
    (lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, np.nan, X), y), {},
     "non-finite values: 2 NaN"),
    (lambda X, y: (np.where(np.arange(len(X))[:, None] == 3, np.inf, X), y), {},
     "non-finite values: 0 NaN and 2 inf"),
    (lambda X, y: (X[:0], y[:0]), {}, "empty data set"),
    (lambda X, y: (X, y), {"batch_size": 0}, "batch_size must be an integer >= 1"),
    (lambda X, y: (X, y), {"metrics": ("precision",)}, "unknown metric 'precision'"),
    (lambda X, y: (X, y), {"epochs": -1}, "epochs must be an integer >= 0"),
    (lambda X, y: (X, y), {"validation_data": (np.zeros((3, 5)), np.zeros(3, int))},
     "validation_data: wrong number of features: got 5"),
    (lambda X, y: (X, y), {"validation_data": [np.zeros((3, 2))]},
     "validation_data must be a pair"),
    (lambda X, y: (X[:, 0], y), {}, "X must be 2-D"),
    (lambda X, y: (X, y), {"validation_batch_size": 0,
                              "validation_data": (np.zeros((3, 2)), np.zeros(3, int))},
     "validation_batch_size must be an integer >= 1, got 0"),
    (lambda X, y: (X, y), {"seed": -1}, "seed must be an integer >= 0, got -1"),
    (lambda X, y: (X, y), {"initial_epoch": True}, "initial_epoch must be an integer >= 0"),
]


@pytest.mark.parametrize("change, kwargs, message", BAD_INPUTS,
                         ids=[m.split(":")[0][:30] for _, _, m in BAD_INPUTS])
def test_bad_input_is_rejected_before_training_with_a_clear_message(change, kwargs, message):
    X, y = make_moons(40)
    model = _small_model()
    before = copy.deepcopy(model.state_dict())  # state_dict aliases the weights, as torch
    X, y = change(X, y)
    with pytest.raises(ValueError, match=message):
        st.fit(model, CE, st.optim.SGD(model.parameters(), lr=0.1), X, y, verbose=0, **kwargs)
    for key, value in model.state_dict().items():
        assert np.array_equal(value, before[key])


def test_tensor_inputs_are_accepted():
    X, y = make_moons(40)
    model = _small_model()
    history = st.fit(model, CE, st.optim.SGD(model.parameters(), lr=0.1), st.tensor(X),
                     st.tensor(y), epochs=1, verbose=0)
    assert len(history) == 1


# --------------------------------------------------------------------------- progress output

def test_verbose_modes_when_output_is_not_a_terminal(capsys):
    X, y = make_moons(64)
    model = _small_model()
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    st.fit(model, CE, optimizer, X, y, epochs=2, verbose="auto")
    st.fit(model, CE, optimizer, X, y, epochs=2, verbose=0)
    assert capsys.readouterr().out == ""
    st.fit(model, CE, optimizer, X, y, epochs=2, verbose=1, validation_data=(X, y))
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2  2/2 ")
    assert "ms/step - loss: " in lines[0] and " - val_accuracy: " in lines[1]
    with pytest.raises(ValueError, match="verbose must be"):
        st.fit(model, CE, optimizer, X, y, epochs=1, verbose="loud")


# --------------------------------------------------------------------------- callbacks protocol

def test_callback_hooks_order_and_context():
    X, y = make_moons(40)
    model = _small_model()
    optimizer = st.optim.SGD(model.parameters(), lr=0.1)
    calls = []

    class Recorder(Callback):
        def on_train_begin(self, logs=None):
            calls.append(("train_begin", self.model is model, self.optimizer is optimizer,
                          self.params["steps"]))

        def on_epoch_begin(self, epoch, logs=None):
            calls.append(("epoch_begin", epoch))

        def on_batch_end(self, batch, logs=None):
            calls.append(("batch_end", batch, logs["size"]))

        def on_epoch_end(self, epoch, logs=None):
            calls.append(("epoch_end", epoch, sorted(logs)[:2]))

        def on_train_end(self, logs=None):
            calls.append(("train_end", len(self.history)))

    st.fit(model, CE, optimizer, X, y, epochs=2, batch_size=16, callbacks=[Recorder()],
           verbose=0)
    assert calls == [("train_begin", True, True, 3),
                     ("epoch_begin", 0), ("batch_end", 0, 16), ("batch_end", 1, 16),
                     ("batch_end", 2, 8), ("epoch_end", 0, ["accuracy", "grad_norm/0"]),
                     ("epoch_begin", 1), ("batch_end", 0, 16), ("batch_end", 1, 16),
                     ("batch_end", 2, 8), ("epoch_end", 1, ["accuracy", "grad_norm/0"]),
                     ("train_end", 2)]


def test_stop_training_from_a_batch_hook_stops_after_that_step():
    X, y = make_moons(64)
    model = _small_model()

    class StopAtThirdStep(Callback):
        def on_batch_end(self, batch, logs=None):
            if batch == 2:
                self.stop_training = True

    history = st.fit(model, CE, st.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=5,
                     batch_size=8, callbacks=[StopAtThirdStep()], verbose=0)
    assert history.epoch == [0]


# --------------------------------------------------------------------------- clipping

@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    rng = np.random.default_rng(1)
    grads = [rng.normal(size=(4, 3)), rng.normal(size=(3,))]
    params = [st.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    torch_params = [torch.zeros(g.shape, dtype=torch.float64, requires_grad=True) for g in grads]
    for p, tp, g in zip(params, torch_params, grads):
        p.grad = g.copy()
        tp.grad = torch.tensor(g)
    total = clip_grad_norm_(params, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, norm_type)
    assert total == pytest.approx(expected.item(), rel=1e-12)
    for p, tp in zip(params, torch_params):
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), rtol=1e-12)


def test_fit_with_clip_grad_norm_survives_a_learning_rate_that_diverges_without_it():
    X, y = load_digits()
    X, y = X[:256], y[:256]
    model = _small_model((64, 32, 10))
    with pytest.raises(DivergenceError):
        st.fit(model, CE, st.optim.GD(model.parameters(), lr=50.0), X, y, epochs=3,
               verbose=0)
    model = _small_model((64, 32, 10))
    history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=50.0), X, y, epochs=3,
                     clip_grad_norm=0.01, verbose=0)
    assert all(math.isfinite(v) for v in history.history["loss"])


# --------------------------------------------------------------------------- issue 12

def test_validation_split_holds_out_a_stratified_random_part():
    """fit(validation_split=f) == fit(validation_data=...) on train_test_split(seed, stratify)."""
    X, y = make_moons(200, noise=0.2, seed=3)
    split = _small_model()
    history = st.fit(split, CE, st.optim.SGD(split.parameters(), lr=0.1), X, y, epochs=3,
                     validation_split=0.25, seed=7, verbose=0)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=7,
                                                      stratify=True)
    by_hand = _small_model()
    expected = st.fit(by_hand, CE, st.optim.SGD(by_hand.parameters(), lr=0.1), X_train,
                      y_train, epochs=3, validation_data=(X_val, y_val), seed=7, verbose=0)
    assert history.params["samples"] == 150
    np.testing.assert_allclose(history["val_loss"], expected["val_loss"], rtol=1e-12)
    for a, b in zip(split.parameters(), by_hand.parameters()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="either validation_data or validation_split"):
        st.fit(split, CE, st.optim.SGD(split.parameters(), lr=0.1), X, y, epochs=1,
               validation_split=0.2, validation_data=(X_val, y_val), verbose=0)
    for bad in (0, 1.0, -0.1, "0.2", True):
        with pytest.raises(ValueError, match="validation_split must be a fraction"):
            st.fit(split, CE, st.optim.SGD(split.parameters(), lr=0.1), X, y, epochs=1,
                   validation_split=bad, verbose=0)


def test_fit_refuses_an_optimizer_that_holds_none_of_the_models_parameters():
    X, y = make_moons(40)
    model, other = _small_model(), _small_model(seed=1)
    before = [p.numpy().copy() for p in model.parameters()]
    with pytest.raises(ValueError, match="optimizer holds none of the model's 4 trainable"):
        st.fit(model, CE, st.optim.SGD(other.parameters(), lr=0.1), X, y, epochs=1, verbose=0)
    assert all(np.array_equal(a, p.numpy()) for a, p in zip(before, model.parameters()))
    # one group over part of the model is a legitimate choice (the rest stays frozen)
    st.fit(model, CE, st.optim.SGD(model[0].parameters(), lr=0.1), X, y, epochs=1, verbose=0)


def test_a_relu_net_killed_by_a_large_learning_rate_is_diagnosed(capsys):
    """Issue 12 §4: GD at lr 5 on moons kills every ReLU; fit must say so and what to try."""
    X_train, X_val, y_train, y_val = _moons(200)
    model = _small_model((2, 16, 16, 2))
    history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=5), X_train, y_train,
                     epochs=30, validation_data=(X_val, y_val), verbose=2)
    dead = st.diagnostics.dead_relu_fraction(model, X_train)
    assert max(dead.values()) == 1.0  # the truth the message reports
    text = " ".join(history.diagnosis)
    assert "chance level" in text and "dead ReLUs" in text and "all of hidden layer" in text
    assert "smaller learning rate" in text and "lr = 5" in text
    out = capsys.readouterr().out
    assert out.count("diagnosis: ") == len(history.diagnosis) >= 2
    assert "problems found, see .diagnosis" in repr(history)


def test_a_deep_sigmoid_net_at_chance_is_diagnosed_with_vanishing_gradients():
    X, y = load_digits()
    X = Standardizer().fit(X).transform(X)
    model = _small_model([64] + [32] * 10 + [10], activation="sigmoid")
    history = st.fit(model, CE, st.optim.GD(model.parameters(), lr=0.1), X[:600], y[:600],
                     epochs=3, verbose=0)
    norms = history.layer_grad_norms()
    first, last = norms["0"][-1], norms["20"][-1]
    assert first < 1e-3 * last  # the truth the message reports
    text = " ".join(history.diagnosis)
    assert "chance level" in text and "vanishing gradients" in text and "sigmoid" in text
    assert f"{last:.1e}" in text


def test_a_healthy_run_has_no_diagnosis(capsys):
    X_train, X_val, y_train, y_val = _moons(400)
    model = _small_model((2, 16, 16, 2))
    history = st.fit(model, CE, st.optim.Adam(model.parameters(), lr=0.01), X_train, y_train,
                     epochs=15, validation_data=(X_val, y_val), verbose=2)
    assert history["val_accuracy"][-1] > 0.9
    assert history.diagnosis == []
    assert "diagnosis" not in capsys.readouterr().out
    assert st.History.from_dict(history.to_dict()).diagnosis == []


def test_chance_accuracy_is_the_majority_class_share():
    assert st.diagnostics.chance_accuracy([0, 1, 1, 2]) == 0.5
    assert st.diagnostics.chance_accuracy(np.zeros(7, dtype=int)) == 1.0


def test_history_plot_without_a_path_returns_a_figure_that_shows_inline():
    IPython = pytest.importorskip("IPython")
    from IPython.core.formatters import DisplayFormatter
    from matplotlib.figure import Figure

    history = st.History()
    history.append(0, {"loss": 1.0, "accuracy": 0.5})
    history.append(1, {"loss": 0.5, "accuracy": 0.7})
    history.diagnosis = ["something looks wrong"]
    figure = history.plot()
    assert isinstance(figure, Figure) and IPython
    data, _ = DisplayFormatter().format(figure)
    assert data["image/png"][:8] == b"\x89PNG\r\n\x1a\n"
    assert any("something looks wrong" in t.get_text() for t in figure.texts)


def test_fit_in_a_notebook_without_ipywidgets_degrades_quietly_to_a_text_bar(monkeypatch, capsys):
    """tqdm.auto would warn 'IProgress not found' there; fit must not."""
    import types
    import warnings

    from steepest.training import loop

    class ZMQInteractiveShell:
        config = {"IPKernelApp": {}}

    monkeypatch.setitem(sys.modules, "IPython",
                        types.SimpleNamespace(get_ipython=ZMQInteractiveShell))
    for name in ("ipykernel", "ipykernel.zmqshell"):  # what tqdm.autonotebook looks for
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # not installed
    for name in ("tqdm.auto", "tqdm.autonotebook"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert loop._in_notebook()
    X, y = make_moons(64)
    model = _small_model()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # ("error" would be swallowed by tqdm's own try)
        st.fit(model, CE, st.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2, verbose=1)
    assert [str(w.message) for w in caught] == []
    out = capsys.readouterr().out
    assert "Epoch 2/2" in out and "loss: " in out


# ----------------------------------------------------------------------------- step(closure)
def _linear_regression(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(40, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.normal(size=(40, 1))
    return X, y


def test_fit_with_lbfgs_steps_as_torchs_closure_loop():
    X, y = _linear_regression()
    model = st.nn.Linear(3, 1, dtype=st.float64)
    reference = torch.nn.Linear(3, 1).double()
    with torch.no_grad():
        reference.weight.copy_(torch.tensor(model.weight.numpy()))
        reference.bias.copy_(torch.tensor(model.bias.numpy()))
    history = st.fit(model, st.losses.mse, st.optim.LBFGS(model.parameters(), max_iter=4), X, y,
                     epochs=3, batch_size=len(X), shuffle=False, verbose=0)
    topt = torch.optim.LBFGS(reference.parameters(), max_iter=4)
    first_losses = []
    for _ in range(3):
        def closure():
            topt.zero_grad()
            loss = torch.nn.functional.mse_loss(reference(torch.tensor(X)), torch.tensor(y))
            loss.backward()
            return loss
        first_losses.append(topt.step(closure).item())
    np.testing.assert_allclose(model.weight.numpy(), reference.weight.detach().numpy(),
                               rtol=1e-10)
    np.testing.assert_allclose(history.history["loss"], first_losses, rtol=1e-10)


def test_fit_with_newton_solves_least_squares_in_one_step():
    X, y = _linear_regression(1)
    model = st.nn.Linear(3, 1, dtype=st.float64)
    st.fit(model, st.losses.mse, st.optim.Newton(model.parameters()), X, y, epochs=1,
           batch_size=len(X), verbose=0)
    solution, *_ = np.linalg.lstsq(np.hstack([X, np.ones((40, 1))]), y, rcond=None)
    np.testing.assert_allclose(model.weight.numpy().ravel(), solution[:3, 0], rtol=1e-10)
    np.testing.assert_allclose(model.bias.numpy(), solution[3], rtol=1e-10)
    with pytest.raises(ValueError, match="clip_grad_norm does not apply to Newton"):
        st.fit(model, st.losses.mse, st.optim.Newton(model.parameters()), X, y, epochs=1,
               clip_grad_norm=1.0, verbose=0)
