"""Loss functions: how far predictions are from targets, as a differentiable scalar.

The course's two squared errors come first: the sum of squares J(w) = Σ(z − wx)² of the
gradient-descent example and E = ½Σ(T − a)² of the backpropagation example. Arguments follow
torch's order, ``loss(prediction, target)``, and ``reduction`` is 'mean', 'sum' or 'none' as in
torch. Each loss is one graph node whose backward is the loss's own derivative (for
cross-entropy the fused softmax − target).

Empty inputs follow torch: the 'mean' of no elements is nan (0/0), the 'sum' is 0.
``steepest.nn.functional`` exposes these under torch's names (``mse_loss``, ...).
"""

from __future__ import annotations

import numbers

import numpy as np

from steepest.activations import _stable_sigmoid, log_softmax, sigmoid, softmax
from steepest.ops import _math, _operand, _record, _reduce_to, _where, as_tensor
from steepest.tensor import Tensor

__all__ = ["sse", "half_sse", "mse", "l1", "cross_entropy", "nll", "binary_cross_entropy",
           "binary_cross_entropy_with_logits"]

_REDUCTIONS = ("mean", "sum", "none")
_BCE_EPSILON = float(np.float32(1e-12))  # torch clamps p(1 − p) at a float32 1e-12


def _check_reduction(loss: str, reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{loss}: reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _check_label_smoothing(loss: str, label_smoothing) -> float:
    if (isinstance(label_smoothing, bool) or not isinstance(label_smoothing, numbers.Real)
            or not 0.0 <= label_smoothing <= 1.0):
        raise ValueError(f"{loss}: label_smoothing must be a number in [0, 1], got "
                         f"{label_smoothing!r}")
    return float(label_smoothing)


def _check_same_shape(loss: str, prediction: Tensor, target: Tensor) -> None:
    if prediction.shape != target.shape:
        raise ValueError(f"{loss}: prediction has shape {prediction.shape} but target has "
                         f"shape {target.shape}; they must be equal")


def _target_like(target, prediction: Tensor) -> Tensor:
    """A float target in the prediction's dtype (so float32 runs stay float32)."""
    target = as_tensor(target)
    if target.dtype != prediction.dtype and not target.requires_grad:
        target = Tensor._wrap(target._data.astype(prediction.dtype))
    return target


def _reduce(loss: np.ndarray, reduction: str):
    """Apply the reduction; return the value and the factor that scales the backward."""
    if reduction == "none":
        return loss, None
    total = loss.sum()
    if reduction == "sum":
        return np.asarray(total), 1.0
    if loss.size == 0:   # torch: the mean of nothing is nan; no gradient reaches any element
        return np.asarray(np.nan, dtype=loss.dtype), 0.0
    return np.asarray(total / loss.size, dtype=loss.dtype), 1.0 / loss.size


def _expand_upstream(g: np.ndarray, scale):
    """The upstream gradient per element: g itself for 'none', else the scalar g · scale."""
    return g if scale is None else g * scale


def _squared_error(name: str, prediction, target, factor: float, reduction: str) -> Tensor:
    """factor · (prediction − target)² reduced; backward 2·factor·(prediction − target)."""
    prediction = as_tensor(prediction)
    target = _target_like(target, prediction)
    _check_same_shape(name, prediction, target)
    _check_reduction(name, reduction)
    diff = prediction._data - target._data
    value, scale = _reduce(factor * (diff * diff), reduction)

    def backward(g):
        difference = _operand(prediction, g) - _operand(target, g) if isinstance(g, Tensor) \
            else diff
        grad = (2.0 * factor) * difference * _expand_upstream(g, scale)
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


def l1(prediction, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error (1/n) Σ |prediction − target|, as torch.nn.functional.l1_loss.

    Backward sign(prediction − target) (0 where they are equal, as in torch).
    """
    prediction = as_tensor(prediction)
    target = _target_like(target, prediction)
    _check_same_shape("l1", prediction, target)
    _check_reduction("l1", reduction)
    diff = prediction._data - target._data
    value, scale = _reduce(np.abs(diff), reduction)

    def backward(g):
        grad = np.sign(diff) * _expand_upstream(g, scale)
        return (_reduce_to(grad, prediction) if prediction.requires_grad else None,
                _reduce_to(-grad, target) if target.requires_grad else None)
    return _record(value, (prediction, target), backward, "L1")


def _scores_as_rows(loss: str, scores: Tensor) -> np.ndarray:
    """(N, C) or (C,) scores as an (N, C) array; at least two classes."""
    if scores.ndim not in (1, 2):
        raise ValueError(f"{loss}: input must have shape (N, C) or (C,), got {scores.shape}")
    if scores.shape[-1] < 2:
        raise ValueError(f"{loss}: input has shape {scores.shape}, i.e. {scores.shape[-1]} "
                         f"output per sample, but it needs one output per class (C >= 2); for "
                         f"a single output use binary_cross_entropy_with_logits")
    return scores._data if scores.ndim == 2 else scores._data[None, :]


def _class_labels(loss: str, scores: Tensor, target_data: np.ndarray) -> np.ndarray:
    """Integer class labels of shape scores.shape[:-1], checked, as a flat (N,) array."""
    if target_data.dtype.kind not in "iu":
        if target_data.shape == scores.shape[:-1]:
            raise ValueError(f"{loss}: class labels must be integers, got a "
                             f"{target_data.dtype} target of shape {target_data.shape}; "
                             f"convert them with y.long() (or y.astype(np.int64))")
        either = f" or probabilities of shape {scores.shape}" if loss == "cross_entropy" else ""
        raise ValueError(f"{loss}: input has shape {scores.shape}, so the target must be "
                         f"integer labels of shape {scores.shape[:-1]}{either}, got a "
                         f"{target_data.dtype} target of shape {target_data.shape}")
    if target_data.shape != scores.shape[:-1]:
        raise ValueError(f"{loss}: input has shape {scores.shape}, so integer labels must have "
                         f"shape {scores.shape[:-1]}, got {target_data.shape}")
    labels = target_data.reshape(-1)
    classes = scores.shape[-1]
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(f"{loss}: class labels must lie in [0, {classes - 1}] for {classes} "
                         f"classes, got values from {labels.min()} to {labels.max()}")
    return labels


def _row_upstream(g: np.ndarray, scale) -> np.ndarray:
    """The upstream gradient as a column, one entry per row (or one scalar for all rows)."""
    upstream = _expand_upstream(g, scale)
    return upstream.reshape(-1, 1) if np.ndim(upstream) else upstream


def cross_entropy(logits, target, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(logits) against class labels or class probabilities.

    logits : (N, C) or (C,) raw scores, C >= 2. target : integer labels (N,) / scalar in
    [0, C), or probabilities of the logits' shape. loss_n = −Σ_c t_nc · log softmax(z_n)_c,
    computed with log-sum-exp so large logits do not overflow. ``label_smoothing`` ε mixes the
    target with the uniform distribution, t ← (1 − ε)·t + ε/C, as torch does.
    Backward (fused): softmax(z) · Σ_c t − t to the logits; −(1 − ε)·log softmax(z) to
    probability targets that require grad.
    """
    logits = as_tensor(logits)
    _check_reduction("cross_entropy", reduction)
    label_smoothing = _check_label_smoothing("cross_entropy", label_smoothing)
    target_data = target._data if isinstance(target, Tensor) else np.asarray(target)
    z = _scores_as_rows("cross_entropy", logits)
    n, classes = z.shape
    with np.errstate(over="ignore"):   # max − (−1e308) is −inf: exp gives the exact 0
        shifted = z - z.max(axis=1, keepdims=True)
    exp_shifted = np.exp(shifted)
    sum_exp = exp_shifted.sum(axis=1, keepdims=True)
    probability_target = None  # the target tensor when it holds probabilities (differentiable)
    if target_data.dtype.kind in "iu" or target_data.shape != logits.shape:
        labels = _class_labels("cross_entropy", logits, target_data)
        rows = np.arange(n)
        if label_smoothing:
            target_rows = np.zeros_like(z)
            target_rows[rows, labels] = 1.0
        else:
            per_sample = np.log(sum_exp[:, 0]) - shifted[rows, labels]
            target_rows = None
    else:
        target_rows = target_data.reshape(z.shape).astype(z.dtype, copy=False)
        probability_target = target if isinstance(target, Tensor) else None
    if target_rows is not None:
        if label_smoothing:
            target_rows = (1.0 - label_smoothing) * target_rows + label_smoothing / classes
        log_probs = shifted - np.log(sum_exp)
        per_sample = -(target_rows * log_probs).sum(axis=1)
    if logits.ndim == 1:
        per_sample = per_sample.reshape(())
    value, scale = _reduce(per_sample, reduction)

    def smoothed_target(g):
        """The target rows: the array, or under create_graph the target tensor's own (so that
        the logits' gradient is differentiated with respect to the target too)."""
        if not isinstance(g, Tensor) or probability_target is None:
            return target_rows
        rows_of_target = probability_target.reshape(z.shape)
        if label_smoothing:
            return (1.0 - label_smoothing) * rows_of_target + label_smoothing / classes
        return rows_of_target

    def backward(g):
        upstream = _row_upstream(g, scale)
        graph = isinstance(g, Tensor)
        rows_of_logits = logits.reshape(z.shape) if graph else None
        if not logits.requires_grad:
            grad = None
        elif graph:
            probs = softmax(rows_of_logits, 1)
            t = smoothed_target(g)
            if t is None:
                grad = probs - _one_hot(z.shape, rows, labels, z.dtype)
            else:
                grad = probs * t.sum(axis=1, keepdims=True) - t
            grad = (grad * upstream).reshape(logits.shape)
        else:
            grad = exp_shifted / sum_exp
            if target_rows is None:
                grad[rows, labels] -= 1.0
            else:
                grad = grad * target_rows.sum(axis=1, keepdims=True) - target_rows
            grad *= upstream
            grad = grad.reshape(logits.shape)
        if probability_target is None:
            return (grad,)
        if not probability_target.requires_grad:
            return grad, None
        log_p = log_softmax(rows_of_logits, 1) if graph else log_probs
        grad_target = (-(1.0 - label_smoothing) * log_p * upstream).reshape(target.shape)
        return grad, _reduce_to(grad_target, probability_target)
    parents = (logits,) if probability_target is None else (logits, probability_target)
    return _record(value.astype(z.dtype, copy=False), parents, backward, "CrossEntropy")


def _one_hot(shape: tuple, rows: np.ndarray, labels: np.ndarray, dtype=bool) -> np.ndarray:
    """An (N, C) array of zeros with a 1 at each row's label."""
    one_hot = np.zeros(shape, dtype=dtype)
    one_hot[rows, labels] = 1.0
    return one_hot


def nll(log_probabilities, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood −log_probabilities[n, target_n], as torch's nll_loss.

    log_probabilities : (N, C) or (C,), usually from log_softmax. target : integer labels.
    Backward: −g at each row's labelled class, exactly 0 elsewhere (even for a nan or inf g).
    """
    scores = as_tensor(log_probabilities)
    _check_reduction("nll", reduction)
    target_data = target._data if isinstance(target, Tensor) else np.asarray(target)
    rows_data = _scores_as_rows("nll", scores)
    labels = _class_labels("nll", scores, target_data)
    rows = np.arange(rows_data.shape[0])
    per_sample = -rows_data[rows, labels]
    if scores.ndim == 1:
        per_sample = per_sample.reshape(())
    value, scale = _reduce(per_sample, reduction)

    def backward(g):
        upstream = _row_upstream(g, scale)
        if isinstance(g, Tensor):
            grad = _where(_one_hot(rows_data.shape, rows, labels), -upstream, 0)
        else:
            grad = np.zeros_like(rows_data)
            grad[rows, labels] = -(upstream.reshape(-1) if np.ndim(upstream) else upstream)
        return (grad.reshape(scores.shape),)
    return _record(value, (scores,), backward, "NLL")


def _check_probability_targets(loss: str, target: Tensor) -> None:
    t = target._data
    if t.size and not ((t >= 0) & (t <= 1)).all():
        raise ValueError(f"{loss}: targets must lie in [0, 1], got values from {t.min()} to "
                         f"{t.max()}")


def binary_cross_entropy(probabilities, target, reduction: str = "mean") -> Tensor:
    """−[t·log p + (1 − t)·log(1 − p)] on probabilities p ∈ [0, 1].

    As in torch, each log is clamped at −100 so p = 0 or 1 gives a finite loss; backward
    (p − t) / max(p(1 − p), ε) with torch's ε, the float32 number nearest 1e-12, and
    −logit(p) = log((1 − p)/p) to the target.
    """
    p = as_tensor(probabilities)
    target = _target_like(target, p)
    _check_same_shape("binary_cross_entropy", p, target)
    _check_reduction("binary_cross_entropy", reduction)
    _check_probability_targets("binary_cross_entropy", target)
    if p._data.size and (p._data.min() < 0 or p._data.max() > 1):
        raise ValueError(f"binary_cross_entropy: probabilities must lie in [0, 1], got values "
                         f"from {p._data.min()} to {p._data.max()}; use "
                         f"binary_cross_entropy_with_logits for raw scores")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p._data), -100.0)
        log_1mp = np.maximum(np.log1p(-p._data), -100.0)
    t = target._data
    value, scale = _reduce(-(t * log_p + (1.0 - t) * log_1mp), reduction)

    def backward(g):
        upstream = _expand_upstream(g, scale)
        probability, t = _operand(p, g), _operand(target, g)
        grad_p = grad_t = None
        if p.requires_grad:
            grad_p = (probability - t) / _math(g).maximum(probability * (1.0 - probability),
                                                          _BCE_EPSILON) * upstream
        if target.requires_grad:
            with np.errstate(divide="ignore"):  # p = 0 or 1: ±inf, as torch
                grad_t = -_math(g).log(probability / (1.0 - probability)) * upstream
        return grad_p, grad_t
    return _record(value, (p, target), backward, "BinaryCrossEntropy")


def binary_cross_entropy_with_logits(logits, target, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of σ(z) against t, from logits z, stably.

    loss = max(z, 0) − z·t + log(1 + e^(−|z|)); backward σ(z) − t to the logits, −z to the
    target.
    """
    z = as_tensor(logits)
    target = _target_like(target, z)
    _check_same_shape("binary_cross_entropy_with_logits", z, target)
    _check_reduction("binary_cross_entropy_with_logits", reduction)
    _check_probability_targets("binary_cross_entropy_with_logits", target)
    t = target._data
    loss = np.maximum(z._data, 0) - z._data * t + np.log1p(np.exp(-np.abs(z._data)))
    value, scale = _reduce(loss, reduction)

    def backward(g):
        upstream = _expand_upstream(g, scale)
        graph = isinstance(g, Tensor)
        grad_z = grad_t = None
        if z.requires_grad:
            probability = sigmoid(z) if graph else _stable_sigmoid(z._data)
            grad_z = (probability - _operand(target, g)) * upstream
        if target.requires_grad:
            grad_t = -_operand(z, g) * upstream
        return grad_z, grad_t
    return _record(value, (z, target), backward, "BCEWithLogits")
