"""The damped Newton optimizer against a dense Newton step computed with torch's Hessian."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import steepest as st
from steepest import optim
from steepest.nn import Parameter


def _array(t) -> np.ndarray:
    return t.detach().numpy()


def _closure(opt, loss_fn):
    """An LBFGS-style closure; the graph must survive backward for the Hessian."""
    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward(retain_graph=True)
        return loss
    return closure


class TorchNewton(torch.optim.Optimizer):
    """The damped Newton step from torch's own Hessian: the closure's backward keeps the graph
    (create_graph=True), each row of H is the gradient of one entry of the gradient."""

    def __init__(self, params, lr=1.0, damping=0.0):
        super().__init__(params, {"lr": lr, "damping": damping})

    def step(self, closure):
        with warnings.catch_warnings():  # create_graph's reference cycle, broken below
            warnings.filterwarnings("ignore", "Using backward\\(\\) with create_graph=True")
            loss = closure()
        for group in self.param_groups:
            (p,) = group["params"]
            grad = p.grad.reshape(-1)
            rows = [torch.autograd.grad(grad[i], p, retain_graph=True)[0].reshape(-1)
                    for i in range(grad.numel())]
            hessian = torch.stack(rows) + group["damping"] * torch.eye(grad.numel(),
                                                                       dtype=p.dtype)
            with torch.no_grad():
                p -= group["lr"] * torch.linalg.solve(hessian, grad.detach()).reshape(p.shape)
            p.grad = None
        return loss


def torch_newton(f, w0: np.ndarray, steps: int, lr: float, damping: float) -> np.ndarray:
    """Dense Newton in torch: w ← w − lr·solve(H + damping·I, ∇f)."""
    w = torch.tensor(w0, dtype=torch.float64)
    for _ in range(steps):
        x = w.clone().requires_grad_(True)
        (g,) = torch.autograd.grad(f(x), x)
        h = torch.autograd.functional.hessian(f, w)
        w = w - lr * torch.linalg.solve(h + damping * torch.eye(len(w), dtype=torch.float64), g)
    return w.numpy()


def unflatten(flat, shapes) -> list:
    """The pieces of a flat parameter vector (a torch tensor), one per shape, in order."""
    pieces, at = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        pieces.append(flat[at:at + size].reshape(shape))
        at += size
    return pieces


def test_one_step_lands_on_the_minimum_of_a_quadratic():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((4, 4))
    q, b = a @ a.T + 4 * np.eye(4), rng.standard_normal(4)   # ½wᵀQw − bᵀw, minimum Q⁻¹b
    w = Parameter(np.zeros(4))
    opt = optim.Newton([w])
    qt, bt = st.tensor(q, dtype=st.float64), st.tensor(b, dtype=st.float64)
    loss = opt.step(_closure(opt, lambda: 0.5 * (w * (qt @ w)).sum() - (bt * w).sum()))
    assert float(loss) == 0.0
    np.testing.assert_allclose(_array(w), np.linalg.solve(q, b), rtol=1e-12)


def rosenbrock(v):
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


@pytest.mark.parametrize("lr, damping", [(1.0, 0.0), (0.5, 10.0)])
def test_rosenbrock_steps_equal_a_dense_torch_newton_step(lr, damping):
    w = Parameter(np.array([-1.2, 1.0]))
    opt = optim.Newton([w], lr=lr, damping=damping)
    for _ in range(5):
        opt.step(_closure(opt, lambda: rosenbrock(w)))
    expected = torch_newton(rosenbrock, np.array([-1.2, 1.0]), 5, lr, damping)
    np.testing.assert_allclose(_array(w), expected, rtol=1e-10)
    assert opt.state[w]["step"] == 5


def test_mlp_step_equals_torch_with_the_hessian_across_layers():
    """A 3-4-2 tanh MLP (26 parameters in 4 tensors): the Hessian's off-diagonal blocks
    (weight × bias, layer × layer) must be in the right places."""
    net = st.nn.mlp([3, 4, 2], activation="tanh", dtype=np.float64,
                    generator=np.random.default_rng(1))
    params = list(net.parameters())
    shapes = [p.shape for p in params]
    w0 = np.concatenate([_array(p).reshape(-1) for p in params])
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((8, 3)), rng.integers(0, 2, 8)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)

    def f(flat):
        pieces = unflatten(flat, shapes)
        hidden = torch.tanh(xt @ pieces[0].T + pieces[1])
        return torch.nn.functional.cross_entropy(hidden @ pieces[2].T + pieces[3], yt)

    opt = optim.Newton(params, damping=0.1)
    for _ in range(2):
        opt.step(_closure(opt, lambda: st.losses.cross_entropy(net(st.tensor(x)), y)))
    got = np.concatenate([_array(p).reshape(-1) for p in params])
    np.testing.assert_allclose(got, torch_newton(f, w0, 2, 1.0, 0.1), rtol=1e-9, atol=1e-12)


def test_newton_needs_a_closure_and_names_a_singular_hessian():
    w = Parameter(np.array([1.0, 2.0]))
    opt = optim.Newton([w])
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    with pytest.raises(np.linalg.LinAlgError, match="damping > 0"):
        opt.step(lambda: (w[0] ** 2) * 1.0)  # no curvature along w[1]
    with pytest.raises(ValueError, match="damping"):
        optim.Newton([w], damping=-1.0)
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        opt.step(lambda: _freed((w ** 2).sum()))
    optim.Newton([w], damping=1e-3).step(lambda: (w[0] ** 2) * 1.0)
    assert np.isclose(_array(w)[0], 1.0 - 2.0 / (2.0 + 1e-3))


def _freed(loss):
    loss.backward()
    return loss
