"""The activations against torch, at extreme inputs, and their plain-NumPy derivatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import steepest as st
from steepest import activations as act


def away_from_zero(shape, seed=3, margin=0.1):
    values = np.random.default_rng(seed).uniform(-3.0, 3.0, size=shape)
    return np.where(np.abs(values) < margin, np.copysign(margin, values), values)


ELEMENTWISE = {
    "sigmoid": (st.sigmoid, torch.sigmoid),
    "sigmoid method": (lambda x: x.sigmoid(), torch.sigmoid),
    "tanh": (st.tanh, torch.tanh),
    "tanh method": (lambda x: x.tanh(), torch.tanh),
    "relu": (st.relu, torch.relu),
    "relu method": (lambda x: x.relu(), torch.relu),
    "leaky_relu": (st.leaky_relu, F.leaky_relu),
    "leaky_relu 0.2": (lambda x: st.leaky_relu(x, 0.2), lambda x: F.leaky_relu(x, 0.2)),
}


@pytest.mark.parametrize("name", list(ELEMENTWISE))
def test_elementwise_activations(helper_test_op, float_dtype, name):
    st_fn, torch_fn = ELEMENTWISE[name]
    helper_test_op(st_fn, torch_fn, inputs=[away_from_zero((4, 5))], dtype=float_dtype)


def test_relu_and_leaky_relu_at_zero_match_torch(helper_test_op):
    """The kink: derivative 0 at exactly 0 for ReLU, negative_slope for LeakyReLU (torch)."""
    data = np.array([-1.0, 0.0, 2.0])
    helper_test_op(st.relu, torch.relu, inputs=[data])
    helper_test_op(st.leaky_relu, F.leaky_relu, inputs=[data])


@pytest.mark.parametrize("axis", [-1, 0, 1])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_and_log_softmax(helper_test_op, float_dtype, name, axis):
    st_fn = getattr(st, name)
    torch_fn = getattr(torch, name)
    helper_test_op(lambda x: st_fn(x, axis=axis), lambda x: torch_fn(x, dim=axis),
                   shapes=[(3, 4, 5)], dtype=float_dtype)
    helper_test_op(lambda x: getattr(x, name)(axis), lambda x: torch_fn(x, dim=axis),
                   shapes=[(3, 4, 5)], dtype=float_dtype)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_vector(helper_test_op, float_dtype, name):
    helper_test_op(getattr(st, name), lambda x: getattr(torch, name)(x, dim=-1), shapes=[(6,)],
                   dtype=float_dtype)


def test_softmax_rows_sum_to_one():
    s = st.softmax(st.tensor(np.random.default_rng(0).normal(size=(4, 7))))
    np.testing.assert_allclose(s.data.sum(axis=-1), 1.0, rtol=1e-12)
    assert (s.data > 0).all()


# ------------------------------------------------------------------------- extremes
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_at_extremes_is_exact_and_silent(dtype, no_float_warnings):
    x = st.tensor(np.array([-1e4, -800.0, 0.0, 800.0, 1e4], dtype=dtype), requires_grad=True)
    with no_float_warnings():
        y = st.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype and x.grad.dtype == dtype
    assert y.data[0] == 0.0 and y.data[-1] == 1.0 and y.data[2] == 0.5
    assert y.data[1] == 0.0 and y.data[3] == 1.0
    assert not np.isnan(x.grad).any()
    assert x.grad[0] == 0.0 and x.grad[-1] == 0.0 and x.grad[2] == 0.25


@pytest.mark.parametrize("name", ["tanh", "relu", "leaky_relu", "binary_step"])
def test_other_activations_at_extremes_are_finite(name, no_float_warnings):
    x = st.tensor([-1e4, 1e4], requires_grad=True)
    with no_float_warnings():
        y = getattr(st, name)(x)
        y.sum().backward()
    assert np.isfinite(y.data).all() and np.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_with_huge_logits_is_finite_and_equals_torch(helper_test_op, no_float_warnings,
                                                             name, dtype):
    logits = np.array([[1e4, 0.0, -1e4, 1e4 - 1.0], [-1e4, -1e4 + 2.0, -1e4 + 1.0, -1e4]])
    with no_float_warnings():
        out, _ = helper_test_op(getattr(st, name), lambda x: getattr(torch, name)(x, dim=-1),
                                inputs=[logits], dtype=dtype)
    assert np.isfinite(out.data).all()


# ------------------------------------------------------------------------- binary step, linear
def test_binary_step_forward_and_zero_gradient(float_dtype):
    x = st.tensor(np.array([-2.0, -0.1, 0.0, 0.3, 5.0], dtype=float_dtype), requires_grad=True)
    y = st.binary_step(x)
    np.testing.assert_array_equal(y.data, [0.0, 0.0, 1.0, 1.0, 1.0])
    assert y.dtype == float_dtype and y.requires_grad
    (y * st.tensor(np.arange(1.0, 6.0, dtype=float_dtype))).sum().backward()
    assert x.grad.dtype == float_dtype
    np.testing.assert_array_equal(x.grad, np.zeros(5))


def test_linear_activation_is_identity():
    x = st.tensor([1.0, -2.0], requires_grad=True)
    assert st.identity(x) is x and act.identity is st.identity
    assert st.linear is st.ops.linear  # st.linear is the affine map, torch's F.linear
    (act.identity(x) * st.tensor([3.0, 4.0])).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


# ------------------------------------------------------------------------- plain derivatives
Z = np.linspace(-4.0, 4.0, 17) + 0.05   # avoids 0 exactly (the ReLU kink)


@pytest.mark.parametrize("name, torch_fn", [
    ("sigmoid", torch.sigmoid), ("tanh", torch.tanh), ("relu", torch.relu),
    ("leaky_relu", F.leaky_relu),
])
def test_derivative_functions_match_autograd(name, torch_fn):
    z = torch.tensor(Z, requires_grad=True)
    torch_fn(z).sum().backward()
    np.testing.assert_allclose(getattr(act, f"{name}_derivative")(Z), z.grad.numpy(),
                               rtol=1e-12, atol=1e-15)


def test_step_and_linear_derivatives():
    np.testing.assert_array_equal(act.binary_step_derivative(Z), np.zeros_like(Z))
    np.testing.assert_array_equal(act.identity_derivative(Z), np.ones_like(Z))


def test_sigmoid_derivative_peak_and_extremes(no_float_warnings):
    assert act.sigmoid_derivative(0.0) == 0.25
    with no_float_warnings():
        np.testing.assert_array_equal(act.sigmoid_derivative([-1e4, 1e4]), [0.0, 0.0])


def test_softmax_jacobian_matches_torch():
    z = np.array([0.3, -1.2, 2.0, 0.7])
    expected = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), torch.tensor(z))
    np.testing.assert_allclose(act.softmax_jacobian(z), expected.numpy(), rtol=1e-12,
                               atol=1e-15)
    with pytest.raises(ValueError, match=r"softmax_jacobian.*\(2, 2\)"):
        act.softmax_jacobian(np.ones((2, 2)))


def test_activation_table_describes_the_seven():
    assert set(act.ACTIVATIONS) == {"sigmoid", "tanh", "relu", "softmax", "binary_step",
                                    "linear", "leaky_relu"}
    for entry in act.ACTIVATIONS.values():
        assert entry.formula and entry.range and entry.characteristic
        python_name = "identity" if entry.name == "linear" else entry.name  # course's "linear"
        assert entry.function is getattr(act, python_name)
