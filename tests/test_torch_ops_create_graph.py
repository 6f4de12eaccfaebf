"""The backward closures of the surface ops follow the higher-order contract of ops.py: called
with an ndarray they return ndarrays; called with a Tensor (``create_graph=True``) they return
Tensors of the same values, built from steepest's ops so that they can be differentiated again.
Checked here directly on each node, and the second derivative against torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steepest as st

OPS = {
    "var": lambda x: x.var(1), "std": lambda x: x.std(0), "norm2": lambda x: x.norm(dim=1),
    "norm3": lambda x: x.norm(3), "norm1": lambda x: x.norm(1), "norm_inf": lambda x: x.norm(
        float("inf"), dim=0), "logsumexp": lambda x: x.logsumexp(1),
    "cumsum": lambda x: x.cumsum(1), "prod": lambda x: x.prod(1), "log10": lambda x: x.log10(),
    "log2": lambda x: x.log2(), "log1p": lambda x: x.log1p(), "expm1": lambda x: x.expm1(),
    "rsqrt": lambda x: x.rsqrt(), "square": lambda x: x.square(), "sign": lambda x: x.sign(),
    "floor": lambda x: x.floor(), "round": lambda x: x.round(), "flip": lambda x: x.flip(0),
    "masked_fill": lambda x: x.masked_fill(x > 1.0, 0.0), "expand": lambda x: x[:, :1].expand(
        3, 4), "repeat": lambda x: x.repeat(2, 1), "remainder": lambda x: x % 0.7,
    "scatter_add": lambda x: x.scatter_add(0, st.tensor([[0, 1, 2, 0]]), x[:1] * 2),
    "scatter": lambda x: x.scatter(1, st.tensor([[1], [0], [3]]), x[:, :1] * 3),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_backward_with_a_tensor_gives_tensors_of_the_same_values(name):
    x = st.tensor(np.random.default_rng(0).uniform(0.5, 2.0, (3, 4)), dtype=st.float64,
                  requires_grad=True)
    out = OPS[name](x)
    g = np.random.default_rng(1).standard_normal(out.shape)
    as_arrays = out._backward(g.copy())
    as_tensors = out._backward(st.tensor(g))
    for array, tensor in zip(as_arrays, as_tensors):
        if array is None:
            assert tensor is None
            continue
        assert isinstance(array, np.ndarray) and isinstance(tensor, st.Tensor)
        np.testing.assert_allclose(tensor.detach().numpy(), array, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", ["var", "norm2", "norm3", "logsumexp", "log10", "expm1",
                                  "rsqrt", "prod", "cumsum", "square"])
def test_the_tensor_backward_is_differentiable_as_torch_second_derivative(name):
    """d/dx Σ (∂y/∂x · v) through the Tensor-mode backward, against torch's double backward."""
    data = np.random.default_rng(2).uniform(0.5, 2.0, (3, 4))
    x = st.tensor(data, dtype=st.float64, requires_grad=True)
    out = OPS[name](x)
    g = np.random.default_rng(3).standard_normal(out.shape)
    (grad_x,) = [t for t in out._backward(st.tensor(g)) if t is not None]
    v = np.random.default_rng(4).standard_normal(data.shape)
    if grad_x.requires_grad:
        (grad_x * st.tensor(v)).sum().backward()
    else:  # a linear op: its gradient does not depend on x, the second derivative is 0
        x.grad = np.zeros(data.shape)

    torch_ops = {"norm2": lambda t: t.norm(dim=1), "norm3": lambda t: t.norm(3)}
    tx = torch.tensor(data, requires_grad=True)
    tout = torch_ops.get(name, OPS[name])(tx)
    (tgrad,) = torch.autograd.grad(tout, tx, torch.tensor(g), create_graph=True)
    if tgrad.requires_grad:
        (tgrad * torch.tensor(v)).sum().backward()
    second = np.zeros(data.shape) if tx.grad is None else tx.grad.numpy()
    np.testing.assert_allclose(np.asarray(x.grad), second, rtol=1e-9, atol=1e-12)
