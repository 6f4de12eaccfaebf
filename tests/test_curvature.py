"""Curvature tools against a dense Hessian from torch, and the Lanczos core against eigh."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import steepest as st
from steepest import curvature
from steepest.curvature import _lanczos


def _mlp_pair(sizes=(3, 4, 2), seed=0, activation="tanh"):
    """The same float64 MLP in steepest and torch (weights copied from steepest)."""
    rng = np.random.default_rng(seed)
    layers_st, layers_torch = [], []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        w = rng.normal(0, 0.8, (fan_out, fan_in))
        b = rng.normal(0, 0.3, fan_out)
        lin = st.nn.Linear(fan_in, fan_out, dtype=st.float64)
        with st.no_grad():
            lin.weight.copy_(st.tensor(w))
            lin.bias.copy_(st.tensor(b))
        ref = torch.nn.Linear(fan_in, fan_out).double()
        with torch.no_grad():
            ref.weight.copy_(torch.tensor(w))
            ref.bias.copy_(torch.tensor(b))
        layers_st.append(lin)
        layers_torch.append(ref)
        if i < len(sizes) - 2:
            layers_st.append(st.nn.Tanh() if activation == "tanh" else st.nn.Sigmoid())
            layers_torch.append(torch.nn.Tanh() if activation == "tanh" else torch.nn.Sigmoid())
    return st.nn.Sequential(*layers_st), torch.nn.Sequential(*layers_torch)


def _data(n=7, d=3, k=2, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, k))


def _torch_dense_hessian(model, X, Y):
    params = list(model.parameters())
    shapes = [p.shape for p in params]
    sizes = [p.numel() for p in params]
    flat0 = torch.cat([p.detach().reshape(-1) for p in params])

    def loss_of(flat):
        chunks, start = [], 0
        for shape, size in zip(shapes, sizes):
            chunks.append(flat[start:start + size].reshape(shape))
            start += size
        out = torch.tensor(X)
        for layer, pieces in zip(model, _pieces(model, chunks)):
            out = pieces(out) if pieces is not None else layer(out)
        return 0.5 * ((out - torch.tensor(Y)) ** 2).sum(1).mean()
    return torch.autograd.functional.hessian(loss_of, flat0).numpy()


def _pieces(model, chunks):
    """For each layer of ``model``: a function applying it with the given flat weights."""
    it = iter(chunks)
    out = []
    for layer in model:
        if isinstance(layer, torch.nn.Linear):
            w, b = next(it), next(it)
            out.append(lambda x, w=w, b=b: x @ w.T + b)
        else:
            out.append(None)
    return out


def _half_squared(out, target):
    return 0.5 * ((out - target) ** 2).sum(axis=1).mean()


def test_dense_hessian_equals_torch():
    model, ref = _mlp_pair()
    X, Y = _data()
    dense = curvature.HessianOperator(model, _half_squared, X, Y).dense()
    expected = _torch_dense_hessian(ref, X, Y)
    np.testing.assert_allclose(dense, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dense, dense.T, rtol=1e-10, atol=1e-12)


def test_top_eigenvalues_equal_eigvalsh_of_torchs_hessian():
    model, ref = _mlp_pair(sizes=(3, 5, 2))
    X, Y = _data()
    expected = np.linalg.eigvalsh(_torch_dense_hessian(ref, X, Y))[::-1]
    values, vectors = curvature.hessian_eigenvalues(model, _half_squared, X, Y, k=3,
                                                    iterations=32)
    np.testing.assert_allclose(values, expected[:3], rtol=1e-8, atol=1e-10)
    dense = curvature.HessianOperator(model, _half_squared, X, Y).dense()
    for i in range(3):  # each vector is a unit eigenvector: H v = λ v
        np.testing.assert_allclose(np.linalg.norm(vectors[:, i]), 1.0, rtol=1e-10)
        np.testing.assert_allclose(dense @ vectors[:, i], values[i] * vectors[:, i], atol=1e-7)


def test_sharpness_and_critical_rate():
    model, ref = _mlp_pair(sizes=(3, 6, 2), seed=3)
    X, Y = _data(n=11, seed=4)
    top = np.linalg.eigvalsh(_torch_dense_hessian(ref, X, Y))[-1]
    value, vector = curvature.sharpness(model, _half_squared, X, Y, iterations=30)
    assert value == pytest.approx(top, rel=1e-8)
    assert vector.shape == (sum(p.numel() for p in model.parameters()),)
    assert curvature.critical_learning_rate(model, _half_squared, X, Y,
                                            iterations=30) == pytest.approx(2 / top, rel=1e-8)


def test_hessian_vector_product_equals_torchs_hvp():
    model, ref = _mlp_pair(sizes=(3, 4, 2), seed=5)
    X, Y = _data(seed=6)
    n = sum(p.numel() for p in model.parameters())
    v = np.random.default_rng(7).normal(size=n)
    expected = _torch_dense_hessian(ref, X, Y) @ v
    np.testing.assert_allclose(curvature.hessian_vector_product(model, _half_squared, X, Y, v),
                               expected, rtol=1e-9, atol=1e-11)


def test_the_course_quadratic_has_its_closed_form_curvature():
    x = st.tensor([0.1, 0.2, 0.3, 0.4, 0.5], dtype=st.float64)
    w = st.tensor(0.2, dtype=st.float64, requires_grad=True)
    operator = curvature.HessianOperator([w], forward=lambda: st.losses.sse(w * x, 2.0 * x))
    assert operator.dense()[0, 0] == pytest.approx(2 * 0.55, rel=1e-12)


def test_lanczos_finds_the_top_of_a_known_spectrum():
    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.normal(size=(40, 40)))
    spectrum = np.concatenate([[9.0, 7.5, 7.0], rng.uniform(-3, 3, 37)])
    matrix = (q * spectrum) @ q.T
    values, vectors = _lanczos(lambda v: matrix @ v, 40, 3, 40, seed=1)
    np.testing.assert_allclose(values, [9.0, 7.5, 7.0], rtol=1e-10)
    np.testing.assert_allclose(np.abs(vectors.T @ q[:, :3]), np.eye(3), atol=1e-8)


def test_a_loss_without_curvature_has_an_infinite_critical_rate():
    w = st.tensor([1.0, 2.0], dtype=st.float64, requires_grad=True)
    operator = curvature.HessianOperator([w], forward=lambda: (w * 3.0).sum())
    np.testing.assert_array_equal(operator.dense(), np.zeros((2, 2)))


def test_misuse_is_named():
    model, _ = _mlp_pair()
    X, Y = _data()
    with pytest.raises(ValueError, match="k must be a whole number >= 1, got 0"):
        curvature.hessian_eigenvalues(model, _half_squared, X, Y, k=0)
    with pytest.raises(ValueError, match="the loss must be a one-element Tensor"):
        curvature.HessianOperator(model, lambda out, y: out - y, X, Y)
    with pytest.raises(ValueError, match=r"vector must have shape \(26,\)"):
        curvature.HessianOperator(model, _half_squared, X, Y).matvec(np.zeros(3))
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter that requires grad"):
        curvature.sharpness(model, _half_squared, X, Y)


def test_sharpness_monitor_records_into_the_history():
    model, ref = _mlp_pair(sizes=(3, 4, 2), seed=8)
    X, Y = _data(n=16, seed=9)
    monitor = st.training.callbacks.SharpnessMonitor(_half_squared, X, Y, every=2,
                                                     iterations=26)
    optimizer = st.optim.SGD(model.parameters(), lr=0.05)
    history = st.fit(model, _half_squared, optimizer, X, Y, epochs=2, batch_size=8,
                     callbacks=[monitor], shuffle=False, verbose=0)
    assert monitor.steps == [0, 2]
    assert len(history.history["sharpness"]) == 2
    assert history.history["sharpness"][-1] == monitor.sharpness[-1]
    assert history.history["critical_lr"][-1] == pytest.approx(2 / monitor.sharpness[-1])
    assert all(math.isfinite(s) and s > 0 for s in monitor.sharpness)


def test_a_warm_start_at_the_eigenvector_needs_two_iterations():
    model, ref = _mlp_pair(sizes=(3, 5, 2), seed=10)
    X, Y = _data(seed=11)
    top, vector = curvature.sharpness(model, _half_squared, X, Y, iterations=32)
    cold, _ = curvature.sharpness(model, _half_squared, X, Y, iterations=2)
    warm, _ = curvature.sharpness(model, _half_squared, X, Y, iterations=2, start=vector)
    assert warm == pytest.approx(top, rel=1e-9)
    assert abs(cold - top) > 1e-6 * abs(top)  # without the warm start two are not enough
    with pytest.raises(ValueError, match=r"start must have shape \(32,\)"):
        curvature.sharpness(model, _half_squared, X, Y, start=np.ones(3))
