"""Autograd's public surface against torch: create_graph, autograd.grad/backward(inputs=),
.grad/.data as tensors, grad_fn names, hooks and retain_grad."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steepest as st

RNG = np.random.default_rng(7)
F64 = {"rtol": 1e-10, "atol": 1e-12}


def pair(*shape, requires_grad=True):
    """The same float64 values as a steepest leaf and a torch leaf."""
    values = RNG.standard_normal(shape)
    return (st.tensor(values, requires_grad=requires_grad, dtype=st.float64),
            torch.tensor(values, requires_grad=requires_grad, dtype=torch.float64))


# ----------------------------------------------------------------------- create_graph
def test_create_graph_second_derivative_of_mul_add_sum_matches_torch():
    (x, tx), (w, tw) = pair(3, 4), pair(3, 4)

    def f(m, a, b):
        return ((a * a * b + a * 3.0) * b).sum() + (a * b).sum(1).sum()

    g_x, g_w = st.autograd.grad(f(st, x, w), (x, w), create_graph=True)
    t_x, t_w = torch.autograd.grad(f(torch, tx, tw), (tx, tw), create_graph=True)
    np.testing.assert_allclose(g_x.numpy(), t_x.detach().numpy(), **F64)
    np.testing.assert_allclose(g_w.numpy(), t_w.detach().numpy(), **F64)
    assert g_x.requires_grad and g_x.grad_fn is not None
    # the gradient of a weighted sum of first derivatives: a Hessian-vector product
    v = RNG.standard_normal((3, 4))
    hv = st.autograd.grad((g_x * st.tensor(v)).sum(), (x, w))
    thv = torch.autograd.grad((t_x * torch.tensor(v)).sum(), (tx, tw))
    for mine, theirs in zip(hv, thv):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), **F64)


def test_backward_create_graph_gives_leaves_a_differentiable_grad():
    (x, tx) = pair(5)
    (x * x * x).sum().backward(create_graph=True)
    (tx * tx * tx).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.detach().numpy(), **F64)
    (second,) = st.autograd.grad(x.grad.sum(), x, retain_graph=True)
    (t_second,) = torch.autograd.grad(tx.grad.sum(), tx, retain_graph=True)
    np.testing.assert_allclose(second.numpy(), t_second.numpy(), **F64)  # 6x
    # a second create_graph backward accumulates with a differentiable sum
    (x * x).sum().backward(create_graph=True)
    (tx * tx).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.detach().numpy(), **F64)
    (third,) = st.autograd.grad(x.grad.sum(), x)
    (t_third,) = torch.autograd.grad(tx.grad.sum(), tx)
    np.testing.assert_allclose(third.numpy(), t_third.numpy(), **F64)


def test_create_graph_keeps_the_graph_and_first_order_path_returns_arrays():
    x, _ = pair(4)
    y = (x * x).sum()
    st.autograd.grad(y, x, create_graph=True)
    (again,) = st.autograd.grad(y, x)  # retain_graph defaults to create_graph
    np.testing.assert_allclose(again.numpy(), 2 * x.numpy(), **F64)
    assert not again.requires_grad
    with pytest.raises(RuntimeError, match="second time"):
        st.autograd.grad(y, x)


def test_backward_of_an_op_without_recorded_backward_names_it():
    x, _ = pair(3)

    def step(t):
        return st.ops._record(t._data * 2, (t,), lambda g: (np.asarray(g) * 2,), "Doubled")
    with pytest.raises(NotImplementedError, match="Doubled"):
        st.autograd.grad(step(x).sum(), x, create_graph=True)
