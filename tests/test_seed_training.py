"""The course's two training examples, trained with steepest's optimizers (reference values).

1. The notebook exercise: prediction = input @ W1, loss = mse, plain gradient descent until the
   loss is below 1.30; the loss after one step and the number of steps for each lr.
2. The two-neuron sigmoid chain trained with E = ½(T − a)² and GD(lr=0.4): the weights after
   one step and E before iterations 2, 10 and 100.

The numbers come from tests/data/reference_values.json (computed by hand from the formulas).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import steepest as st
from steepest import nn, optim

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_values.json").read_text())
NOTEBOOK = REFERENCE["notebook_exercise"]
CHAIN = REFERENCE["two_neuron_chain"]
RTOL = 1e-9
F64 = st.float64  # the worked examples are exact in float64; Python floats default to float32


# ----------------------------------------------------------------- 1. the notebook exercise
def _notebook(lr):
    x = st.tensor(NOTEBOOK["input"], dtype=F64)
    target = st.tensor(NOTEBOOK["target"], dtype=F64)
    w1 = nn.Parameter(np.tile(NOTEBOOK["W1_row"], (4, 1)))
    return x, target, w1, optim.GD([w1], lr=lr)


def _notebook_step(x, target, w1, opt):
    """One GD step; returns the loss before it."""
    opt.zero_grad()
    loss = st.losses.mse(x @ w1, target)
    loss.backward()
    opt.step()
    return loss.item()


def test_notebook_starting_point():
    x, target, w1, opt = _notebook(0.01)
    loss = st.losses.mse(x @ w1, target)
    np.testing.assert_allclose((x @ w1).numpy(), NOTEBOOK["prediction"], rtol=RTOL)
    assert loss.item() == pytest.approx(NOTEBOOK["loss"], rel=RTOL)
    loss.backward()
    np.testing.assert_allclose(w1.grad, NOTEBOOK["gradient"], rtol=RTOL)


@pytest.mark.parametrize("lr", sorted(NOTEBOOK["loss_after_one_step"], key=float))
def test_notebook_loss_after_one_step(lr):
    x, target, w1, opt = _notebook(float(lr))
    _notebook_step(x, target, w1, opt)
    loss = st.losses.mse(x @ w1, target).item()
    assert loss == pytest.approx(NOTEBOOK["loss_after_one_step"][lr], rel=RTOL)


@pytest.mark.parametrize("lr", sorted(NOTEBOOK["steps_below_1_30"], key=float))
def test_notebook_steps_until_loss_below_1_30(lr):
    x, target, w1, opt = _notebook(float(lr))
    steps = 0
    while st.losses.mse(x @ w1, target).item() >= 1.30:
        _notebook_step(x, target, w1, opt)
        steps += 1
        assert steps < 1000
    assert steps == NOTEBOOK["steps_below_1_30"][lr]


def test_notebook_lr_one_fifteenth_is_exact_in_one_step():
    x, target, w1, opt = _notebook(1 / 15)
    _notebook_step(x, target, w1, opt)
    assert st.losses.mse(x @ w1, target).item() < 1e-20


def test_notebook_lr_0_14_diverges():
    assert 0.14 > NOTEBOOK["diverges_above_lr"]
    x, target, w1, opt = _notebook(0.14)
    losses = [_notebook_step(x, target, w1, opt) for _ in range(30)]
    losses.append(st.losses.mse(x @ w1, target).item())
    assert losses[1] == pytest.approx(NOTEBOOK["loss_after_one_step"]["0.14"], rel=RTOL)
    assert all(later > earlier for earlier, later in zip(losses, losses[1:]))
    # every step multiplies the error by (1 − 15·lr) = −1.1, so the loss by 1.21
    np.testing.assert_allclose(np.array(losses[1:]) / losses[:-1], (1 - 15 * 0.14) ** 2,
                               rtol=1e-9)


# ----------------------------------------------------------------- 2. the two-neuron chain
def _chain():
    model = nn.Sequential(nn.Linear(1, 1, dtype=F64), nn.Sigmoid(), nn.Linear(1, 1, dtype=F64),
                          nn.Sigmoid())
    model[0].weight.numpy()[...] = CHAIN["w1"]
    model[0].bias.numpy()[...] = CHAIN["b1"]
    model[2].weight.numpy()[...] = CHAIN["w2"]
    model[2].bias.numpy()[...] = CHAIN["b2"]
    return model, optim.GD(model.parameters(), lr=CHAIN["lr"])


def _chain_step(model, opt):
    """One GD step on E = ½(T − a₂)²; returns E before it."""
    x, target = st.tensor([[CHAIN["x"]]], dtype=F64), st.tensor([[CHAIN["T"]]], dtype=F64)
    opt.zero_grad()
    error = st.losses.half_sse(model(x), target)
    error.backward()
    opt.step()
    return error.item()


def test_chain_forward_and_gradients():
    model, _ = _chain()
    x = st.tensor([[CHAIN["x"]]], dtype=F64)
    error = st.losses.half_sse(model(x), st.tensor([[CHAIN["T"]]], dtype=F64))
    assert model(x).item() == pytest.approx(CHAIN["a2"], rel=RTOL)
    assert error.item() == pytest.approx(CHAIN["E"], rel=RTOL)
    error.backward()
    grads = {"dE_dw1": model[0].weight.grad, "dE_db1": model[0].bias.grad,
             "dE_dw2": model[2].weight.grad, "dE_db2": model[2].bias.grad}
    for key, grad in grads.items():
        assert grad.item() == pytest.approx(CHAIN[key], rel=RTOL), key


def test_chain_weights_after_one_step():
    model, opt = _chain()
    _chain_step(model, opt)
    after = CHAIN["after_one_step"]
    assert model[0].weight.item() == pytest.approx(after["w1"], rel=RTOL)
    assert model[0].bias.item() == pytest.approx(after["b1"], rel=RTOL)
    assert model[2].weight.item() == pytest.approx(after["w2"], rel=RTOL)
    assert model[2].bias.item() == pytest.approx(after["b2"], rel=RTOL)


def test_chain_error_before_iterations():
    model, opt = _chain()
    errors = [_chain_step(model, opt) for _ in range(100)]  # errors[i]: E before iteration i+1
    for iteration, expected in CHAIN["E_before_iteration"].items():
        assert errors[int(iteration) - 1] == pytest.approx(expected, rel=RTOL), iteration


def test_chain_with_sgd_defaults_equals_gd():
    model_gd, gd = _chain()
    model_sgd, _ = _chain()
    sgd = optim.SGD(model_sgd.parameters(), lr=CHAIN["lr"])
    for _ in range(10):
        _chain_step(model_gd, gd)
        _chain_step(model_sgd, sgd)
    for p, q in zip(model_gd.parameters(), model_sgd.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
