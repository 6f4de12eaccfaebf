"""torch.nn.functional's names over steepest's ops: ``import steepest.nn.functional as F``.

Each function is a thin alias with torch's name, argument order, defaults and ``dim=`` /
``reduction=`` keywords; the computation (forward and backward) lives once, in
``steepest.activations``, ``steepest.losses`` and ``steepest.ops``. What torch offers and
steepest does not (class ``weight``, ``ignore_index`` filtering, ``pos_weight``, in-place
activations) is refused with a message rather than silently ignored.
"""

from __future__ import annotations

import numbers

import warnings

import numpy as np

from steepest import activations, losses
from steepest.ops import _record, as_tensor, astype
from steepest.ops import linear as _linear
from steepest import random as _random
from steepest.tensor import Tensor

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear",
           "dropout", "mse_loss", "l1_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits"]


def _unsupported(function: str, argument: str, value, default=None) -> None:
    """Refuse a torch argument that steepest does not implement (rather than ignore it)."""
    if value is default or (default is not None and value == default):
        return
    raise NotImplementedError(f"{function}: {argument}={value!r} is not supported by steepest "
                              f"(only {argument}={default!r})")


def relu(input, inplace: bool = False) -> Tensor:
    """max(0, x), see ``steepest.activations.relu``."""
    _unsupported("relu", "inplace", inplace, False)
    return activations.relu(input)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x if x > 0 else negative_slope·x."""
    _unsupported("leaky_relu", "inplace", inplace, False)
    return activations.leaky_relu(input, negative_slope)


def sigmoid(input) -> Tensor:
    """1 / (1 + e^(−x))."""
    return activations.sigmoid(input)


def tanh(input) -> Tensor:
    """tanh(x)."""
    return activations.tanh(input)


def _softmax_dim(dim, ndim: int) -> int:
    """torch's choice when ``dim`` is None: 0 for 0-, 1- and 3-D input, else 1. Where that is
    not the last axis (3-D and 4-D+ input) it warns, as torch does, since it is rarely meant."""
    if dim is not None:
        return dim
    chosen = 0 if ndim in (0, 1, 3) else 1
    if ndim > 2:
        warnings.warn(f"softmax: no dim given for a {ndim}-D input, so it normalises over "
                      f"dim {chosen} (torch's implicit, deprecated rule), not the last one; "
                      f"pass dim= explicitly", UserWarning, stacklevel=3)
    return chosen


def _in_dtype(input, dtype) -> Tensor:
    input = as_tensor(input)
    return input if dtype is None or np.dtype(dtype) == input.dtype else astype(input, dtype)


def softmax(input, dim=None, dtype=None) -> Tensor:
    """e^(x_i) / Σ_j e^(x_j) along ``dim`` (cast to ``dtype`` first if given)."""
    input = _in_dtype(input, dtype)
    return activations.softmax(input, _softmax_dim(dim, input.ndim))


def log_softmax(input, dim=None, dtype=None) -> Tensor:
    """x_i − log Σ_j e^(x_j) along ``dim`` (cast to ``dtype`` first if given)."""
    input = _in_dtype(input, dtype)
    return activations.log_softmax(input, _softmax_dim(dim, input.ndim))


def linear(input, weight, bias=None) -> Tensor:
    """input @ weightᵀ + bias, with weight of shape (out_features, in_features)."""
    return _linear(input, weight, bias)


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False, *,
            generator=None) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1 − p) (if training).

    The mask is torch's for the same seed: ``bernoulli_(1 − p)`` on the tensor's shape, drawn
    from ``generator`` (a ``st.Generator``) or steepest's global one (a
    ``numpy.random.Generator`` also works, with NumPy's draws). Backward: the same mask times
    the upstream gradient.
    """
    if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be a probability, a number in [0, 1], got {p!r}")
    _unsupported("dropout", "inplace", inplace, False)
    input = as_tensor(input)
    if not training or p == 0.0:
        return input
    if isinstance(generator, np.random.Generator):
        keep = generator.random(input.shape) >= p
    else:
        keep = _random.bernoulli(input.detach(), 1.0 - p, generator=generator)._data != 0
    mask = np.zeros(input.shape, input.dtype) if p == 1.0 else keep.astype(input.dtype) / (1.0 - p)
    return _record(input._data * mask, (input,), lambda g: (g * mask,), "Dropout")


# ----------------------------------------------------------------------------- losses
def mse_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """(1/n) Σ (input − target)², see ``steepest.losses.mse``."""
    return losses.mse(input, target, reduction=reduction)


def l1_loss(input, target, *, reduction: str = "mean") -> Tensor:
    """(1/n) Σ |input − target|, see ``steepest.losses.l1``."""
    return losses.l1(input, target, reduction=reduction)


def cross_entropy(input, target, weight=None, *, ignore_index: int = -100,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of softmax(input) against labels or probabilities.

    input (N, C) logits; see ``steepest.losses.cross_entropy``.
    """
    _unsupported("cross_entropy", "weight", weight)
    _check_ignore_index("cross_entropy", ignore_index, target)
    return losses.cross_entropy(input, target, reduction=reduction,
                                label_smoothing=label_smoothing)


def nll_loss(input, target, weight=None, *, ignore_index: int = -100,
             reduction: str = "mean") -> Tensor:
    """−input[n, target_n] on log-probabilities, see ``steepest.losses.nll``."""
    _unsupported("nll_loss", "weight", weight)
    _check_ignore_index("nll_loss", ignore_index, target)
    return losses.nll(input, target, reduction=reduction)


def binary_cross_entropy(input, target, weight=None, *, reduction: str = "mean") -> Tensor:
    """−[t·log p + (1 − t)·log(1 − p)] on probabilities."""
    _unsupported("binary_cross_entropy", "weight", weight)
    return losses.binary_cross_entropy(input, target, reduction=reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Binary cross-entropy of σ(input) against target, computed stably from logits."""
    _unsupported("binary_cross_entropy_with_logits", "weight", weight)
    _unsupported("binary_cross_entropy_with_logits", "pos_weight", pos_weight)
    return losses.binary_cross_entropy_with_logits(input, target, reduction=reduction)


def _check_ignore_index(function: str, ignore_index, target) -> None:
    """steepest does not skip labelled rows: a label equal to ignore_index is refused."""
    labels = target._data if isinstance(target, Tensor) else np.asarray(target)
    if labels.dtype.kind in "iu" and (labels == ignore_index).any():
        raise NotImplementedError(f"{function}: labels equal to ignore_index={ignore_index} "
                                  f"would be skipped by torch; steepest does not skip rows, "
                                  f"drop them from the batch instead")
