"""Diagnostics: gradient norms, update ratios, dead ReLUs, GradientMonitor, lr_range_test."""

from __future__ import annotations

import copy
import json
import math
import warnings

import numpy as np
import pytest

import steepest as st
from steepest.data import load_digits, make_moons
from steepest.training.diagnostics import (
    GradientMonitor, dead_relu_fraction, gradient_norms, lr_range_test, relative_update_norms,
    update_to_weight_ratios,
)

CE = st.losses.cross_entropy


def _model(sizes, seed=0, **kwargs):
    """float64, as the comparisons below are to 1e-12."""
    st.manual_seed(seed)
    return st.nn.mlp(sizes, **{"dtype": st.float64, **kwargs})


def _backward(model, X, y):
    model.zero_grad()
    CE(model(st.tensor(X)), y).backward()


def test_gradient_norms_per_linear_layer_in_depth_order():
    X, y = make_moons(50)
    model = _model([2, 8, 6, 2])
    assert all(math.isnan(v) for v in gradient_norms(model).values())
    _backward(model, X, y)
    norms = gradient_norms(model)
    assert list(norms) == ["0", "2", "4"]
    for name, layer in zip(norms, (model[0], model[2], model[4])):
        assert norms[name] == pytest.approx(np.linalg.norm(layer.weight.grad), rel=1e-12)


def test_update_to_weight_ratio_is_karpathys_log10_ratio():
    X, y = make_moons(50)
    model = _model([2, 8, 2])
    _backward(model, X, y)
    ratios = update_to_weight_ratios(model, 0.01)
    w, g = model[0].weight.numpy(), model[0].weight.grad.numpy()
    assert ratios["0"] == pytest.approx(math.log10(0.01 * g.std() / w.std()), rel=1e-12)
    optimizer = st.optim.SGD([{"params": model[0].parameters(), "lr": 0.1},
                              {"params": model[2].parameters(), "lr": 0.001}])
    by_group = update_to_weight_ratios(model, optimizer, log10=False)
    assert by_group["0"] == pytest.approx(0.1 * g.std() / w.std())
    g2, w2 = model[2].weight.grad.numpy(), model[2].weight.numpy()
    assert by_group["2"] == pytest.approx(0.001 * g2.std() / w2.std())


def test_relative_update_norms_measure_the_real_step():
    X, y = make_moons(50)
    model = _model([2, 8, 2])
    before = copy.deepcopy(model.state_dict())  # state_dict aliases the weights, as torch
    _backward(model, X, y)
    grads = [model[0].weight.grad.numpy().copy(), model[2].weight.grad.numpy().copy()]
    st.optim.GD(model.parameters(), lr=0.5).step()
    ratios = relative_update_norms(before, model)
    for name, grad in zip(("0", "2"), grads):
        old = before[f"{name}.weight"]
        assert ratios[name] == pytest.approx(np.linalg.norm(0.5 * grad) / np.linalg.norm(old))


def test_dead_relu_fraction_counts_units_silent_on_every_sample():
    X, _ = make_moons(100)
    model = _model([2, 16, 8, 2])
    first = model[0]
    first.weight.numpy()[...] = 0.0
    first.bias.numpy()[:4] = -1.0   # 4 of 16 units never fire
    first.bias.numpy()[4:] = 1.0    # the others always do
    model[2].weight.numpy()[...] = 0.0
    model[2].bias.numpy()[...] = np.where(np.arange(8) < 6, -1.0, 1.0)  # 6 of 8 dead
    fractions = dead_relu_fraction(model, X, batch_size=30)
    assert fractions == {"1": 0.25, "3": 0.75}
    assert model.training and "forward" not in vars(model[1])  # hooks removed, mode kept


def test_gradient_monitor_warns_about_vanishing_gradients_in_a_deep_sigmoid_net():
    X, y = make_moons(100)
    model = _model([2] + [32] * 10 + [2], activation="sigmoid")
    monitor = GradientMonitor(x=X)
    with pytest.warns(RuntimeWarning, match="vanishing gradients at epoch 1: the first "
                                            "layer's gradient norm"):
        st.fit(model, CE, st.optim.SGD(model.parameters(), lr=0.1), X, y, epochs=2,
               verbose=0, callbacks=[monitor])
    assert len(monitor.records["grad_norm/0"]) == 2
    assert len(monitor.messages) == 2  # recorded every epoch, warned once


def test_gradient_monitor_warns_about_exploding_gradients():
    X, y = make_moons(100)
    model = _model([2, 16, 2])
    model[2].weight.data *= 1e5
    with pytest.warns(RuntimeWarning, match="exploding gradients"):
        st.fit(model, CE, st.optim.SGD(model.parameters(), lr=1e-9), X * 100, y, epochs=1,
               verbose=0, callbacks=[GradientMonitor()])


def test_gradient_monitor_is_quiet_on_a_healthy_net():
    X, y = make_moons(200)
    model = _model([2, 16, 16, 2])
    monitor = GradientMonitor(x=X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        st.fit(model, CE, st.optim.Adam(model.parameters(), lr=0.01), X, y, epochs=5,
               verbose=0, callbacks=[monitor])
    assert monitor.messages == []
    assert set(monitor.records) == {"grad_norm/0", "grad_norm/2", "grad_norm/4",
                                    "update_ratio/0", "update_ratio/2", "update_ratio/4",
                                    "dead_relu/1", "dead_relu/3"}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:600], y[:600]


def test_lr_range_test_restores_weights_and_optimizer_state(digits, tmp_path):
    X, y = digits
    model = _model([64, 32, 10])
    optimizer = st.optim.Adam(model.parameters(), lr=1e-3)
    st.fit(model, CE, optimizer, X, y, epochs=1, verbose=0)  # non-empty Adam state
    weights = copy.deepcopy(model.state_dict())
    state = optimizer.state_dict()

    result = lr_range_test(model, CE, optimizer, X, y, start_lr=1e-6, end_lr=10.0,
                           num_steps=120)
    for key, value in model.state_dict().items():
        assert np.array_equal(value, weights[key])
    after = optimizer.state_dict()
    assert after["param_groups"] == state["param_groups"]  # learning rate included
    for index in state["state"]:
        assert np.array_equal(after["state"][index]["exp_avg"], state["state"][index]["exp_avg"])
        assert after["state"][index]["step"] == state["state"][index]["step"]
    assert len(result.lrs) == len(result.losses) == len(result.smoothed) == len(result.centered)
    best = int(np.argmin(result.smoothed))
    assert result.lr_min == pytest.approx(result.lrs[best] / 10)
    assert 1e-4 < result.suggested_lr < 1.0
    result.plot(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    assert set(result.to_dict()) >= {"lrs", "losses", "smoothed", "suggested_lr", "lr_min"}


def test_lr_range_test_sweeps_exponentially_smooths_and_stops_on_divergence():
    # linear least squares: gradient descent provably diverges once lr > 2 / max curvature
    rng = np.random.default_rng(0)
    X = rng.normal(size=(256, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    model = _model([3, 1])
    result = lr_range_test(model, st.losses.mse, st.optim.SGD(model.parameters(), lr=0.1),
                           X, y, start_lr=1e-4, end_lr=100.0, num_steps=100, batch_size=64)
    n = len(result.lrs)
    assert result.stopped_early and 30 < n < 100
    ratios = result.lrs[1:] / result.lrs[:-1]
    np.testing.assert_allclose(ratios, (100.0 / 1e-4) ** (1 / 99), rtol=1e-12)
    avg = 0.0
    for i, loss in enumerate(result.losses):  # fastai's debiased EMA
        avg = 0.98 * avg + 0.02 * loss
        assert result.smoothed[i] == pytest.approx(avg / (1 - 0.98 ** (i + 1)), rel=1e-12)
    assert result.smoothed[-1] > 4 * np.min(result.smoothed[:-1])
    assert np.all(result.smoothed[:-1] <= 4 * np.minimum.accumulate(result.smoothed[:-1]))
    k = 100 // 25
    i = n // 2
    assert result.centered[i] == pytest.approx(result.losses[i - k:i + k + 1].mean())
    assert 1e-3 < result.suggested_lr < 2.0


def test_lr_range_test_suggestion_trains_well():
    X, y = load_digits()
    X_train, y_train, X_val, y_val = X[:900], y[:900], X[900:1200], y[900:1200]
    for make in (lambda params: st.optim.SGD(params, lr=0.1),
                 lambda params: st.optim.Adam(params)):
        model = _model([64, 64, 10])
        result = lr_range_test(model, CE, make, X_train, y_train)  # 1e-7 .. 10, 200 steps
        optimizer = make(model.parameters())
        for group in optimizer.param_groups:
            group["lr"] = result.suggested_lr
        history = st.fit(model, CE, optimizer, X_train, y_train, epochs=5, verbose=0,
                         validation_data=(X_val, y_val))
        assert history.history["val_accuracy"][-1] > 0.9, result.suggested_lr
    with pytest.raises(ValueError, match="start_lr < end_lr"):
        lr_range_test(model, CE, optimizer, X, y, start_lr=1.0, end_lr=0.1)


def test_lr_range_result_to_dict_is_strict_json_without_a_suggestion():
    X, y = make_moons(64)
    model = _model([2, 4, 2])
    result = lr_range_test(model, CE, st.optim.SGD(model.parameters(), lr=0.1), X, y,
                           num_steps=2)  # too few points for a slope: no suggestion
    assert math.isnan(result.suggested_lr)
    payload = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert payload["suggested_lr"] is None and len(payload["lrs"]) == 2


@pytest.mark.parametrize("call, match", [
    (lambda m, X, y: lr_range_test(m, CE, st.optim.SGD(m.parameters(), lr=0.1), X, y,
                                   num_steps=1), "lr_range_test: num_steps must be an integer >= 2"),
    (lambda m, X, y: dead_relu_fraction(m, X, batch_size=0),
     "dead_relu_fraction: batch_size must be an integer >= 1, got 0"),
])
def test_diagnostics_arguments_are_checked(call, match):
    X, y = make_moons(20)
    with pytest.raises(ValueError, match=match):
        call(_model([2, 4, 2]), X, y)
