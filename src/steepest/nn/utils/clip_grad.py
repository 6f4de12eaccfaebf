"""Gradient clipping in place, as torch.nn.utils does (call between backward() and step())."""

from __future__ import annotations

import math
import numbers

import numpy as np

from steepest.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters) -> list:
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p._grad for p in parameters if p._grad is not None]


def _check_number(function: str, name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise ValueError(f"{function}: {name} must be a number, got {value!r}")
    return float(value)


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients together so that their total norm is at most ``max_norm``.

    total = ‖(‖g_1‖, …, ‖g_k‖)‖ (the norm of the per-parameter norms, of order ``norm_type``,
    ``inf`` for the largest |entry|); each gradient is multiplied by
    min(1, max_norm / (total + 1e-6)), torch's formula with its 1e-6. Returns the total norm
    before clipping, as a 0-d Tensor.
    """
    max_norm = _check_number("clip_grad_norm_", "max_norm", max_norm)
    norm_type = _check_number("clip_grad_norm_", "norm_type", norm_type)
    if not norm_type > 0:  # torch also takes 0 (a count of non-zeros) and negative orders
        raise ValueError(f"clip_grad_norm_: norm_type must be > 0 (e.g. 2.0, 1.0 or inf), got "
                         f"{norm_type:g}; orders <= 0 are not norms of a gradient's size")
    grads = _grads(parameters)
    if not grads:
        return Tensor(0.0)
    dtype = np.result_type(*grads)
    if norm_type == math.inf:
        norms = np.array([np.abs(g).max() if g.size else 0.0 for g in grads], dtype=dtype)
        total = norms.max()
    else:
        norms = np.array([np.sum(np.abs(g) ** norm_type) ** (1.0 / norm_type) for g in grads],
                         dtype=dtype)
        total = np.sum(norms ** norm_type) ** (1.0 / norm_type)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the "
                           f"gradients is {total}, so they cannot be clipped; pass "
                           f"error_if_nonfinite=False to clip anyway")
    coefficient = min(max_norm / (total + 1e-6), 1.0)
    for g in grads:
        g *= np.asarray(coefficient, dtype=g.dtype)
    return Tensor(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clamp every gradient entry into [−clip_value, clip_value], in place."""
    clip_value = _check_number("clip_grad_value_", "clip_value", clip_value)
    for g in _grads(parameters):
        np.clip(g, -clip_value, clip_value, out=g)
