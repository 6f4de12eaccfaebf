"""The losses against torch (every reduction, both dtypes), at extreme inputs, and their errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import steepest as st

REDUCTIONS = ["mean", "sum", "none"]


def _torch_reduce(loss, reduction):
    return {"mean": loss.mean(), "sum": loss.sum(), "none": loss}[reduction]


# ------------------------------------------------------------------------- squared errors
def test_sse(helper_test_op, float_dtype):
    """sse = Σ (prediction − target)², gradients for both prediction and target."""
    helper_test_op(st.losses.sse, lambda p, t: ((p - t) ** 2).sum(), shapes=[(4, 3), (4, 3)],
                   dtype=float_dtype)


def test_half_sse(helper_test_op, float_dtype):
    helper_test_op(st.losses.half_sse, lambda p, t: 0.5 * ((p - t) ** 2).sum(),
                   shapes=[(4, 3), (4, 3)], dtype=float_dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name, factor", [("sse", 1.0), ("half_sse", 0.5)])
def test_sse_reductions(helper_test_op, float_dtype, name, factor, reduction):
    helper_test_op(lambda p, t: getattr(st.losses, name)(p, t, reduction=reduction),
                   lambda p, t: _torch_reduce(factor * (p - t) ** 2, reduction),
                   shapes=[(5,), (5,)], dtype=float_dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse(helper_test_op, float_dtype, reduction):
    helper_test_op(lambda p, t: st.losses.mse(p, t, reduction=reduction),
                   lambda p, t: F.mse_loss(p, t, reduction=reduction),
                   shapes=[(4, 3), (4, 3)], dtype=float_dtype)


def test_mse_default_is_mean(helper_test_op):
    helper_test_op(st.losses.mse, F.mse_loss, shapes=[(6,), (6,)])


def test_squared_error_with_constant_target(helper_test_op, float_dtype):
    """A target given as a list or float64 array is used in the prediction's dtype."""
    target = [0.5, -1.0, 2.0]
    out, _ = helper_test_op(lambda p: st.losses.mse(p, target),
                            lambda p: F.mse_loss(p, torch.tensor(target, dtype=p.dtype)),
                            shapes=[(3,)], dtype=float_dtype)
    assert out.dtype == float_dtype


# ------------------------------------------------------------------------- cross-entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_labels(helper_test_op, float_dtype, reduction):
    labels = np.array([0, 3, 1, 3, 2])
    helper_test_op(lambda z, y: st.losses.cross_entropy(z, y, reduction=reduction),
                   lambda z, y: F.cross_entropy(z, y, reduction=reduction),
                   inputs=[np.random.default_rng(0).normal(size=(5, 4)) * 2, labels],
                   dtype=float_dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_with_probabilities(helper_test_op, float_dtype, reduction):
    rng = np.random.default_rng(1)
    target = rng.random((5, 4))
    target /= target.sum(axis=1, keepdims=True)
    helper_test_op(lambda z, t: st.losses.cross_entropy(z, t, reduction=reduction),
                   lambda z, t: F.cross_entropy(z, t, reduction=reduction),
                   inputs=[rng.normal(size=(5, 4)), target], requires_grad=[True, False],
                   dtype=float_dtype)


def test_cross_entropy_with_unnormalised_soft_targets(helper_test_op):
    """Targets that do not sum to 1 (torch allows them): backward softmax·Σt − t."""
    rng = np.random.default_rng(2)
    helper_test_op(st.losses.cross_entropy, F.cross_entropy,
                   inputs=[rng.normal(size=(3, 4)), rng.random((3, 4)) * 2],
                   requires_grad=[True, False])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_of_a_single_sample(helper_test_op, float_dtype, reduction):
    logits = np.array([0.2, -1.0, 1.5])
    helper_test_op(lambda z, y: st.losses.cross_entropy(z, y, reduction=reduction),
                   lambda z, y: F.cross_entropy(z, y, reduction=reduction),
                   inputs=[logits, np.array(2)], dtype=float_dtype)
    helper_test_op(lambda z, t: st.losses.cross_entropy(z, t, reduction=reduction),
                   lambda z, t: F.cross_entropy(z, t, reduction=reduction),
                   inputs=[logits, [0.25, 0.25, 0.5]], requires_grad=[True, False],
                   dtype=float_dtype)


def test_cross_entropy_equals_nll_of_log_softmax(helper_test_op):
    """Cross-check against the unfused graph built from steepest's own ops."""
    labels = np.array([1, 0, 2])
    z = np.random.default_rng(4).normal(size=(3, 3))
    a, b = st.tensor(z, requires_grad=True), st.tensor(z, requires_grad=True)
    fused = st.losses.cross_entropy(a, labels)
    unfused = -st.log_softmax(b)[np.arange(3), labels].mean()
    np.testing.assert_allclose(fused.numpy(), unfused.numpy(), rtol=1e-12)
    fused.backward()
    unfused.backward()
    np.testing.assert_allclose(a.grad, b.grad, rtol=1e-12, atol=1e-15)


# ------------------------------------------------------------------------- binary cross-entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy(helper_test_op, float_dtype, reduction):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, size=(4, 3))
    t = np.concatenate([rng.random((2, 3)), rng.integers(0, 2, (2, 3)).astype(float)])
    helper_test_op(lambda p, t: st.losses.binary_cross_entropy(p, t, reduction=reduction),
                   lambda p, t: F.binary_cross_entropy(p, t, reduction=reduction),
                   inputs=[p, t], requires_grad=[True, False], dtype=float_dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropy_with_logits(helper_test_op, float_dtype, reduction):
    rng = np.random.default_rng(6)
    z = rng.normal(size=(4, 3)) * 3
    t = rng.random((4, 3))
    helper_test_op(
        lambda z, t: st.losses.binary_cross_entropy_with_logits(z, t, reduction=reduction),
        lambda z, t: F.binary_cross_entropy_with_logits(z, t, reduction=reduction),
        inputs=[z, t], requires_grad=[True, False], dtype=float_dtype)


def test_bce_with_logits_equals_bce_of_sigmoid(helper_test_op):
    z = np.random.default_rng(7).normal(size=6)
    t = (np.arange(6) % 2).astype(float)
    a = helper_test_op(st.losses.binary_cross_entropy_with_logits,
                       F.binary_cross_entropy_with_logits, inputs=[z, t],
                       requires_grad=[True, False])[0]
    b = helper_test_op(lambda z, t: st.losses.binary_cross_entropy(st.sigmoid(z), t),
                       lambda z, t: F.binary_cross_entropy(torch.sigmoid(z), t), inputs=[z, t],
                       requires_grad=[True, False])[0]
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


# ------------------------------------------------------------------------- extremes
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_with_huge_logits(helper_test_op, dtype, no_float_warnings):
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 1e4 - 3.0], [5.0, -1e4, 1e4]])
    with no_float_warnings():
        out, (z, _) = helper_test_op(st.losses.cross_entropy, F.cross_entropy,
                                     inputs=[logits, np.array([0, 2, 1])], dtype=dtype)
    assert np.isfinite(out.numpy()).all() and np.isfinite(z.grad).all()
    assert out.item() > 1e3   # the wrong classes are 1e4 below the right ones


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_bce_with_logits_with_huge_logits(helper_test_op, dtype, no_float_warnings):
    z = np.array([1e4, -1e4, 1e4, -1e4, 0.0])
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5])
    with no_float_warnings():
        out, (zt, _) = helper_test_op(st.losses.binary_cross_entropy_with_logits,
                                      F.binary_cross_entropy_with_logits, inputs=[z, t],
                                      requires_grad=[True, False], dtype=dtype)
    assert np.isfinite(out.numpy()).all() and np.isfinite(zt.grad).all()


def test_binary_cross_entropy_clamps_log_like_torch(helper_test_op, no_float_warnings):
    """p exactly 0 or 1: each log is clamped at −100, so the loss stays finite (torch)."""
    p = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    t = np.array([0.0, 1.0, 1.0, 0.0, 1.0])
    with no_float_warnings():
        out, (pt, _) = helper_test_op(lambda p, t: st.losses.binary_cross_entropy(
            p, t, reduction="none"), lambda p, t: F.binary_cross_entropy(p, t, reduction="none"),
            inputs=[p, t], requires_grad=[True, False],
            rtol=1e-7)  # gradient ±1e12·g there: torch rounds its 1e-12 clamp differently
    np.testing.assert_array_equal(out.numpy(), [0.0, 0.0, 100.0, 100.0, np.log(2.0)])
    assert np.isfinite(pt.grad).all()


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", ["sse", "half_sse", "mse", "binary_cross_entropy",
                                  "binary_cross_entropy_with_logits"])
def test_mismatched_shapes_name_the_loss_and_shapes(name):
    p = st.tensor(np.full((4, 1), 0.5), requires_grad=True)
    t = st.tensor(np.full((4,), 0.5))
    with pytest.raises(ValueError, match=rf"{name}.*\(4, 1\).*\(4,\)"):
        getattr(st.losses, name)(p, t)


@pytest.mark.parametrize("name", ["sse", "half_sse", "mse", "cross_entropy",
                                  "binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_bad_reduction_is_rejected(name):
    p = st.tensor(np.full((3, 2), 0.5), requires_grad=True)
    t = np.zeros(3, dtype=np.int64) if name == "cross_entropy" else np.full((3, 2), 0.5)
    with pytest.raises(ValueError, match=rf"{name}.*reduction.*'avg'"):
        getattr(st.losses, name)(p, t, reduction="avg")


@pytest.mark.parametrize("labels", [[0, 3, 1], [0, -1, 1]])
def test_cross_entropy_labels_out_of_range(labels):
    logits = st.tensor(np.zeros((3, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"cross_entropy.*\[0, 2\]"):
        st.losses.cross_entropy(logits, np.array(labels))


def test_cross_entropy_shape_errors():
    logits = st.tensor(np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3, 4\).*\(2,\)"):
        st.losses.cross_entropy(logits, np.array([0, 1]))
    with pytest.raises(ValueError, match=r"cross_entropy.*\(3, 4\).*\(3, 3\)"):
        st.losses.cross_entropy(logits, np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match=r"cross_entropy.*\(2, 3, 4\)"):
        st.losses.cross_entropy(st.tensor(np.zeros((2, 3, 4))), np.zeros((2, 3), np.int64))


def test_binary_cross_entropy_rejects_non_probabilities():
    with pytest.raises(ValueError, match=r"binary_cross_entropy.*\[0, 1\].*with_logits"):
        st.losses.binary_cross_entropy(st.tensor([0.5, 1.5]), st.tensor([0.0, 1.0]))


# --------------------------------------------- issue 22: targets get gradients, torch's epsilon
def _loss_grads(fn, prediction, target, reduction):
    ours = [st.tensor(v, dtype=st.float64, requires_grad=True) for v in (prediction, target)]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True)
              for v in (prediction, target)]
    out_st, out_torch = fn(st.nn.functional, *ours, reduction), fn(F, *theirs, reduction)
    seed = np.linspace(0.5, 1.5, out_st.numel()).reshape(out_st.shape)
    out_st.backward(seed)
    out_torch.backward(torch.tensor(seed))
    return ours, theirs


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name, fn, prediction, target", [
    ("cross_entropy", lambda f, z, p, r: f.cross_entropy(z, p, reduction=r),
     [[1.0, 2.0], [0.5, -1.0]], [[0.3, 0.7], [0.9, 0.1]]),
    ("cross_entropy_smoothed",
     lambda f, z, p, r: f.cross_entropy(z, p, reduction=r, label_smoothing=0.2),
     [[1.0, 2.0, -1.0]], [[0.3, 0.5, 0.2]]),
    ("binary_cross_entropy", lambda f, p, t, r: f.binary_cross_entropy(p, t, reduction=r),
     [0.2, 0.9, 1e-13, 0.5], [0.3, 1.0, 0.0, 0.5]),
    ("binary_cross_entropy_with_logits",
     lambda f, z, t, r: f.binary_cross_entropy_with_logits(z, t, reduction=r),
     [0.5, -2.0, 30.0], [0.3, 1.0, 0.0]),
])
def test_loss_targets_receive_torchs_gradients(name, fn, prediction, target, reduction):
    ours, theirs = _loss_grads(fn, prediction, target, reduction)
    for position, (mine, torchs) in enumerate(zip(ours, theirs)):
        assert mine.grad is not None, f"{name}: input {position} got no gradient"
        np.testing.assert_allclose(np.asarray(mine.grad), torchs.grad.numpy(), rtol=1e-10,
                                   err_msg=f"{name}: gradient of input {position}")


def test_cross_entropy_target_gradient_of_the_reproducer():
    z = st.tensor([[1.0, 2.0]], dtype=st.float64, requires_grad=True)
    p = st.tensor([[0.3, 0.7]], dtype=st.float64, requires_grad=True)
    st.nn.functional.cross_entropy(z, p).backward()
    np.testing.assert_allclose(np.asarray(p.grad), [[1.3132616875, 0.3132616875]], rtol=1e-9)


@pytest.mark.parametrize("p", [1e-12, 1 - 1e-12, 9.9999999e-13, 1e-13, 2e-12, 0.0, 1.0])
def test_binary_cross_entropy_clamps_where_torch_does(p):
    """torch clamps p(1 − p) at its float32 epsilon 1e-12 (9.99999996e-13), not at the float64
    1e-12: at p = 1e-12 the product 1e-12 − 1e-24 lies between the two."""
    ours, theirs = _loss_grads(lambda f, q, t, r: f.binary_cross_entropy(q, t, reduction=r),
                               [p], [0.3], "sum")
    np.testing.assert_allclose(np.asarray(ours[0].grad), theirs[0].grad.numpy(), rtol=1e-14)
