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
from steepest.ops import (
    _record, as_tensor, astype, matmul, mean, reshape, rsqrt, scatter_add, var,
)
from steepest.ops import linear as _linear
from steepest import random as _random
from steepest.tensor import Tensor, bump_version, no_grad

__all__ = ["relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear",
           "dropout", "mse_loss", "l1_loss", "cross_entropy", "nll_loss",
           "binary_cross_entropy", "binary_cross_entropy_with_logits", "one_hot", "embedding",
           "batch_norm", "layer_norm"]


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
    """input @ weightᵀ + bias, with weight of shape (out_features, in_features). A 1-D weight
    (in_features,) gives input @ weight, one number per sample (as torch, without a bias)."""
    weight = as_tensor(weight)
    if weight.ndim == 1:
        if bias is not None:
            raise ValueError(f"linear: a 1-D weight (shape {weight.shape}) takes no bias, as "
                             f"in torch; give the weight as (1, {weight.shape[0]}) for a "
                             f"layer with one output and a bias")
        return matmul(input, weight)
    if weight.ndim != 2:
        raise ValueError(f"linear: weight must be (out_features, in_features) or 1-D, got "
                         f"shape {weight.shape}")
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


# ----------------------------------------------------------------------------- layers' functions
def one_hot(tensor, num_classes: int = -1) -> Tensor:
    """Class indices as one-hot rows: shape (*, num_classes), int64, as torch (num_classes=-1:
    the largest index + 1)."""
    labels = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer (int64) tensor of class indices, got "
                        f"dtype {labels.dtype}; convert with .long()")
    if num_classes == -1:
        if labels.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; pass it")
        num_classes = int(labels.max()) + 1
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: class values must be in [0, {num_classes}), got values "
                         f"from {labels.min()} to {labels.max()}")
    return Tensor._wrap((labels[..., None] == np.arange(num_classes)).astype(np.int64))


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """The rows of ``weight`` (num_embeddings, embedding_dim) at the integer ``input``: shape
    (*input.shape, embedding_dim). Backward adds g into the rows looked up (repeated indices
    accumulate), except the row ``padding_idx``, which gets none (as torch)."""
    _unsupported("embedding", "max_norm", max_norm)
    _unsupported("embedding", "scale_grad_by_freq", scale_grad_by_freq, False)
    _unsupported("embedding", "sparse", sparse, False)
    indices = input._data if isinstance(input, Tensor) else np.asarray(input)
    if indices.dtype.kind not in "iu":
        raise TypeError(f"embedding: input must hold integer indices (int64), got dtype "
                        f"{indices.dtype}; convert with .long()")
    rows, width = weight.shape
    if indices.size and (indices.min() < 0 or indices.max() >= rows):
        raise IndexError(f"embedding: index out of range: the table has {rows} rows (indices "
                         f"0 to {rows - 1}), got indices from {indices.min()} to "
                         f"{indices.max()}")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx must be within the {rows} rows (-{rows} "
                             f"to {rows - 1}), got {padding_idx}")
        padding_idx %= rows
    flat = indices.reshape(-1)
    keep = None if padding_idx is None else (flat != padding_idx)[:, None]

    def backward(g):
        g2 = g.reshape(-1, width)
        if keep is not None:
            g2 = g2 * keep
        if isinstance(g, Tensor):
            table = Tensor._wrap(np.zeros(weight.shape, weight.dtype))
            return (scatter_add(table, 0, np.broadcast_to(flat[:, None], g2.shape).copy(), g2),)
        grad = np.zeros(weight.shape, weight.dtype)
        np.add.at(grad, flat, g2)
        return (grad,)
    out = weight._data[flat].reshape(indices.shape + (width,))
    return _record(out, (weight,), backward, "Embedding")


def _channel_shape(input: Tensor, size: int) -> tuple:
    """(1, C, 1, ...): a per-channel vector's shape against (N, C, ...) input."""
    return (1, size) + (1,) * (input.ndim - 2)


def batch_norm(input, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) of (N, C) or (N, C, L) input, as torch.

    Training: x̂ = (x − mean) / √(var + eps) with the batch's mean and biased variance, and the
    running statistics (if given) move in place: r ← (1 − momentum)·r + momentum·s, with the
    unbiased variance n/(n−1)·var for ``running_var``. Evaluation: the running statistics
    normalise. Then y = weight·x̂ + bias. Differentiable through mean, var and the arithmetic.
    """
    input = as_tensor(input)
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, L), got "
                         f"{input.shape}")
    channels = input.shape[1]
    shape = _channel_shape(input, channels)
    axes = (0,) + tuple(range(2, input.ndim))
    if training:
        count = input._data.size // channels
        if count <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {input.shape}")
        batch_mean = mean(input, axis=axes, keepdims=True)
        batch_var = var(input, axis=axes, keepdims=True, correction=0)
        if running_mean is not None or running_var is not None:
            with no_grad():
                _blend(running_mean, batch_mean._data, momentum)
                _blend(running_var, batch_var._data * (count / (count - 1)), momentum)
        centre, spread = batch_mean, batch_var
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: evaluation (training=False) needs running_mean and "
                             "running_var")
        centre = reshape(as_tensor(running_mean), shape)
        spread = reshape(as_tensor(running_var), shape)
    out = (input - centre) * rsqrt(spread + eps)
    if weight is not None:
        out = out * reshape(weight, shape)
    if bias is not None:
        out = out + reshape(bias, shape)
    return out


def _blend(running, batch_value: np.ndarray, momentum: float) -> None:
    """running ← (1 − momentum)·running + momentum·batch, in place (a buffer, no graph)."""
    if running is None:
        return
    target = running._data
    target *= 1.0 - momentum
    target += momentum * batch_value.reshape(target.shape).astype(target.dtype, copy=False)
    bump_version(running)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last dims ``normalized_shape`` of each sample:
    y = (x − mean) / √(var + eps) · weight + bias, with the biased variance (as torch)."""
    input = as_tensor(input)
    normalized_shape = (normalized_shape,) if isinstance(normalized_shape, numbers.Integral) \
        else tuple(normalized_shape)
    if input.shape[input.ndim - len(normalized_shape):] != normalized_shape \
            or len(normalized_shape) > input.ndim:
        raise ValueError(f"layer_norm: the input's last dims {input.shape} must be "
                         f"normalized_shape {normalized_shape}")
    axes = tuple(range(input.ndim - len(normalized_shape), input.ndim))
    centred = input - mean(input, axis=axes, keepdims=True)
    out = centred * rsqrt(var(input, axis=axes, keepdims=True, correction=0) + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out
