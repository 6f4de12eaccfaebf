"""Loss functions: how far predictions are from targets, as a differentiable scalar.

The course's two squared errors come first: the sum of squares J(w) = Σ(z − wx)² of the
gradient-descent example and E = ½Σ(T − a)² of the backpropagation example. Arguments follow
torch's order, ``loss(prediction, target)``, and ``reduction`` is 'mean', 'sum' or 'none' as in
torch. Each loss is one graph node whose backward is the loss's own derivative (for
cross-entropy the fused softmax − target).
"""

from __future__ import annotations

import numpy as np

from steepest.activations import _stable_sigmoid
from steepest.ops import _record, _reduce_to, as_tensor
from steepest.tensor import Tensor

__all__ = ["sse", "half_sse", "mse", "cross_entropy", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(loss: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{loss}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_same_shape(loss: str, prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape:
        raise ValueError(f"{loss}: prediction has shape {prediction.shape} but target has "
                         f"shape {target.shape}; they must be equal")


def _target_like(target, prediction: Tensor) -> Tensor:
    """A float target in the prediction's dtype (so float32 runs stay float32)."""
    target = as_tensor(target)
    if target.dtype != prediction.dtype and not target.requires_grad:
        target = Tensor._wrap(target.data.astype(prediction.dtype))
    return target


def _reduce(loss: np.ndarray, reduction: str):
    """Apply the reduction; return the value and the factor that scales the backward."""
    if reduction == "none":
        return loss, None
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total), 1.0
    return np.asarray(total / max(loss.size, 1), dtype=loss.dtype), 1.0 / max(loss.size, 1)


def _expand_upstream(g: np.ndarray, scale):
    """The upstream gradient per element: g itself for 'none', else the scalar g · scale."""
    return g if scale is None else g * scale


def _squared_error(name: str, prediction, target, factor: float, reduction: str) -> Tensor:
    """factor · (prediction − target)² reduced; backward 2·factor·(prediction − target)."""
    prediction = as_tensor(prediction)
    target = _target_like(target, prediction)
    _check_same_shape(name, prediction, target)
    _check_reduction(name, reduction)
    diff = prediction.data - target.data
    value, scale = _reduce(factor * (diff * diff), reduction)

    def backward(g):
        grad = (2.0 * factor) * diff * _expand_upstream(g, scale)
        return (_reduce_to(grad, prediction) if prediction.requires_grad else None,
                _reduce_to(-grad, target) if target.requires_grad else None)
    return _record(value, (prediction, target), backward, name.upper())


def sse(prediction, target, reduction: str = "sum") -> Tensor:
    """Sum of squared errors J = Σ (target − prediction)².

    The cost of the course's line fit J(w) = Σ(z_i − w·x_i)²; ∂J/∂prediction = 2(prediction − target).
    """
    return _squared_error("sse", prediction, target, 1.0, reduction)


def half_sse(prediction, target, reduction: str = "sum") -> Tensor:
    """Half the sum of squared errors E = ½ Σ (T − a)².

    The error of the course's backpropagation example; the ½ cancels the 2 of the derivative:
    ∂E/∂a = −(T − a).
    """
    return _squared_error("half_sse", prediction, target, 0.5, reduction)


def mse(prediction, target, reduction: str = "mean") -> Tensor:
    """Mean squared error (1/n) Σ (prediction − target)², as torch.nn.functional.mse_loss."""
    return _squared_error("mse", prediction, target, 1.0, reduction)


def cross_entropy(logits, target, reduction: str = "mean") -> Tensor:
    """Cross-entropy of softmax(logits) against class labels or class probabilities.

    logits : (N, C) or (C,) raw scores. target : integer labels (N,) / scalar in [0, C), or
    probabilities of the logits' shape. loss_n = −Σ_c t_nc · log softmax(z_n)_c, computed with
    log-sum-exp so large logits do not overflow. Backward (fused): softmax(z) · Σ_c t − t.
    """
    logits = as_tensor(logits)
    _check_reduction("cross_entropy", reduction)
    target_data = target.data if isinstance(target, Tensor) else np.asarray(target)
    if logits.ndim not in (1, 2):
        raise ValueError(f"cross_entropy: logits must have shape (N, C) or (C,), got "
                         f"{logits.shape}")
    z = logits.data if logits.ndim == 2 else logits.data[None, :]
    n, classes = z.shape
    shifted = z - z.max(axis=1, keepdims=True)
    exp_shifted = np.exp(shifted)
    sum_exp = exp_shifted.sum(axis=1, keepdims=True)
    if target_data.dtype.kind in "iu":
        labels = target_data.reshape(-1)
        if labels.shape[0] != n or target_data.ndim != logits.ndim - 1:
            raise ValueError(f"cross_entropy: logits have shape {logits.shape}, so integer "
                             f"labels must have shape {logits.shape[:-1]}, got "
                             f"{target_data.shape}")
        if n and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(f"cross_entropy: class labels must lie in [0, {classes - 1}] "
                             f"for {classes} classes, got values from {labels.min()} to "
                             f"{labels.max()}")
        rows = np.arange(n)
        per_sample = np.log(sum_exp[:, 0]) - shifted[rows, labels]
        target_rows = None
    else:
        if target_data.shape != logits.shape:
            raise ValueError(f"cross_entropy: probability targets must have the logits' shape "
                             f"{logits.shape}, got {target_data.shape}")
        target_rows = target_data.reshape(z.shape).astype(z.dtype, copy=False)
        log_probs = shifted - np.log(sum_exp)
        per_sample = -(target_rows * log_probs).sum(axis=1)
    if logits.ndim == 1:
        per_sample = per_sample.reshape(())
    value, scale = _reduce(per_sample, reduction)

    def backward(g):
        grad = exp_shifted / sum_exp
        if target_rows is None:
            grad[rows, labels] -= 1.0
        else:
            grad = grad * target_rows.sum(axis=1, keepdims=True) - target_rows
        upstream = _expand_upstream(g, scale)
        grad *= upstream.reshape(-1, 1) if np.ndim(upstream) else upstream
        return (grad.reshape(logits.shape),)
    return _record(value.astype(z.dtype, copy=False), (logits,), backward, "CrossEntropy")


def binary_cross_entropy(probabilities, target, reduction: str = "mean") -> Tensor:
    """−[t·log p + (1 − t)·log(1 − p)] on probabilities p ∈ [0, 1].

    As in torch, each log is clamped at −100 so p = 0 or 1 gives a finite loss; backward
    (p − t) / max(p(1 − p), 1e-12).
    """
    p = as_tensor(probabilities)
    target = _target_like(target, p)
    _check_same_shape("binary_cross_entropy", p, target)
    _check_reduction("binary_cross_entropy", reduction)
    if p.data.size and (p.data.min() < 0 or p.data.max() > 1):
        raise ValueError(f"binary_cross_entropy: probabilities must lie in [0, 1], got values "
                         f"from {p.data.min()} to {p.data.max()}; use "
                         f"binary_cross_entropy_with_logits for raw scores")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p.data), -100.0)
        log_1mp = np.maximum(np.log1p(-p.data), -100.0)
    t = target.data
    value, scale = _reduce(-(t * log_p + (1.0 - t) * log_1mp), reduction)

    def backward(g):
        grad = (p.data - t) / np.maximum(p.data * (1.0 - p.data), 1e-12)
        return (grad * _expand_upstream(g, scale), None)
    return _record(value, (p, target), backward, "BinaryCrossEntropy")


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of σ(z) against t, from logits z, stably.

    loss = max(z, 0) − z·t + log(1 + e^(−|z|)); backward σ(z) − t.
    """
    z = as_tensor(logits)
    target = _target_like(target, z)
    _check_same_shape("binary_cross_entropy_with_logits", z, target)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    t = target.data
    loss = np.maximum(z.data, 0) - z.data * t + np.log1p(np.exp(-np.abs(z.data)))
    value, scale = _reduce(loss, reduction)

    def backward(g):
        return ((_stable_sigmoid(z.data) - t) * _expand_upstream(g, scale), None)
    return _record(value, (z, target), backward, "BCEWithLogits")
