"""The course's worked examples, reproduced through steepest's autodiff to 1e-9 relative.

The expected numbers were computed by hand in float64 from the seed texts' formulas and live in
``tests/data/reference_values.json``, a verbatim copy of the project's
``shared/reference/values.json`` (see ``shared/reference/README.md`` for how each was derived),
kept inside ``tests/`` so that the suite runs on a clean clone. Every quantity below comes from
the engine (forward ops, ``backward()``), never from the closed-form formulas.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import steepest as st

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_values.json").read_text())
RTOL = 1e-9
F64 = st.float64  # the worked examples are exact in float64; Python floats default to float32


def close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0.0)


# ------------------------------------------------------------------------- 1. notebook exercise
NOTEBOOK = REFERENCE["notebook_exercise"]


def _notebook_loss(W1):
    """loss = mean((input @ W1 − target)²), the notebook's first cell."""
    prediction = st.tensor(NOTEBOOK["input"], dtype=F64) @ W1
    return prediction, st.losses.mse(prediction, st.tensor(NOTEBOOK["target"], dtype=F64))


def _notebook_W1():
    return st.tensor(np.tile(NOTEBOOK["W1_row"], (4, 1)), requires_grad=True)


def test_notebook_prediction_loss_and_gradient():
    W1 = _notebook_W1()
    prediction, loss = _notebook_loss(W1)
    close(prediction.numpy(), NOTEBOOK["prediction"])
    close(loss.item(), NOTEBOOK["loss"])
    loss.backward()
    close(W1.grad, NOTEBOOK["gradient"])


def _gd_step(W1, lr):
    _, loss = _notebook_loss(W1)
    loss.backward()
    with st.no_grad():
        W1.data -= lr * W1.grad
    W1.zero_grad()
    return loss.item()


@pytest.mark.parametrize("lr", sorted(NOTEBOOK["loss_after_one_step"]))
def test_notebook_loss_after_one_step(lr):
    W1 = _notebook_W1()
    _gd_step(W1, float(lr))
    close(_notebook_loss(W1)[1].item(), NOTEBOOK["loss_after_one_step"][lr])


@pytest.mark.parametrize("lr", sorted(NOTEBOOK["steps_below_1_30"]))
def test_notebook_steps_until_loss_below_1_30(lr):
    W1 = _notebook_W1()
    steps = 0
    while _notebook_loss(W1)[1].item() >= 1.30:
        _gd_step(W1, float(lr))
        steps += 1
        assert steps < 1000
    assert steps == NOTEBOOK["steps_below_1_30"][lr]


def test_notebook_lr_one_fifteenth_is_exact_in_one_step_and_large_lr_diverges():
    W1 = _notebook_W1()
    _gd_step(W1, 1 / 15)
    assert _notebook_loss(W1)[1].item() < 1e-25
    W1 = _notebook_W1()
    assert NOTEBOOK["diverges_above_lr"] < 0.14
    losses = [_gd_step(W1, 0.14) for _ in range(6)]
    assert all(later > earlier for earlier, later in zip(losses, losses[1:]))


# ------------------------------------------------------------------------- 2. linear GD
LINEAR = REFERENCE["linear_gd"]
X = np.array(LINEAR["x"])
Z = 2.0 * X        # the seed's data: z = 2x


def _J(w):
    """J(w) = Σ (z − w·x)² with st.losses.sse."""
    return st.losses.sse(w * st.tensor(X, dtype=F64), st.tensor(Z, dtype=F64))


@pytest.mark.parametrize("i", range(4))
def test_linear_gd_cost_and_derivative_at_tabulated_w(i):
    w = st.tensor(LINEAR["w"][i], requires_grad=True, dtype=F64)
    J = _J(w)
    close(J.item(), LINEAR["J"][i])
    J.backward()
    close(w.grad, LINEAR["dJdw"][i])


def test_linear_gd_iterations():
    w = st.tensor(LINEAR["w0"], requires_grad=True, dtype=F64)
    alpha = LINEAR["alpha"]
    trajectory = [w.item()]
    for _ in range(3):
        _J(w).backward()
        with st.no_grad():
            w.data -= alpha * w.grad
        w.zero_grad()
        trajectory.append(w.item())
    close(trajectory, LINEAR["w"])


# ------------------------------------------------------------------------- 3. two-neuron chain
CHAIN = REFERENCE["two_neuron_chain"]
PARAMS = ("w1", "b1", "w2", "b2")


def _chain_forward(p):
    """z1 = w1·x + b1, a1 = σ(z1), z2 = w2·a1 + b2, a2 = σ(z2), E = ½(T − a2)²."""
    z1 = p["w1"] * CHAIN["x"] + p["b1"]
    a1 = st.sigmoid(z1)
    z2 = p["w2"] * a1 + p["b2"]
    a2 = st.sigmoid(z2)
    E = st.losses.half_sse(a2, st.tensor(CHAIN["T"], dtype=F64))
    return {"z1": z1, "a1": a1, "z2": z2, "a2": a2, "E": E}


def _chain_params():
    return {name: st.tensor(CHAIN[name], requires_grad=True, dtype=F64) for name in PARAMS}


def _chain_step(p):
    E = _chain_forward(p)["E"]
    E.backward()
    with st.no_grad():
        for t in p.values():
            t.data -= CHAIN["lr"] * t.grad
            t.zero_grad()
    return E.item()


def test_two_neuron_chain_forward():
    values = _chain_forward(_chain_params())
    for name in ("z1", "a1", "z2", "a2", "E"):
        close(values[name].item(), CHAIN[name])


def test_two_neuron_chain_gradients():
    p = _chain_params()
    _chain_forward(p)["E"].backward()
    for name in PARAMS:
        close(p[name].grad, CHAIN[f"dE_d{name}"])
    # the vanishing gradient the seed points out: the first layer's gradient is ~56x smaller
    assert 50 < p["w2"].grad / p["w1"].grad < 60


def test_two_neuron_chain_one_update():
    p = _chain_params()
    _chain_step(p)
    for name in PARAMS:
        close(p[name].item(), CHAIN["after_one_step"][name])


def test_two_neuron_chain_error_before_iterations():
    p = _chain_params()
    before = {}
    for iteration in range(1, 101):
        before[iteration] = _chain_step(p)
    for iteration, expected in CHAIN["E_before_iteration"].items():
        close(before[int(iteration)], expected)
