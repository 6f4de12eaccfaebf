"""The seven activation functions of the course, differentiable, plus their derivatives as NumPy.

Each activation ``f`` has two faces:

* ``f(x)`` on a Tensor: a differentiable op (forward and backward side by side);
* ``f_derivative(z)`` on an ndarray: f'(z) as plain NumPy, for lessons, plots and checks.

``ACTIVATIONS`` describes each one (formula, range, characterisation) the way the course
notes do, so lessons and reports print the same words the docstrings give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from steepest.ops import _axis_args, _masked, _record, _saved, _zeros_like, as_tensor
from steepest.tensor import Tensor

__all__ = [
    "sigmoid", "tanh", "relu", "leaky_relu", "softmax", "log_softmax", "binary_step",
    "identity", "sigmoid_derivative", "tanh_derivative", "relu_derivative",
    "leaky_relu_derivative", "softmax_jacobian", "binary_step_derivative", "identity_derivative",
    "ACTIVATIONS", "Activation",
]


def _stable_sigmoid(z: np.ndarray) -> np.ndarray:
    """σ(z) without overflow: e = exp(−|z|) ≤ 1, then σ = 1/(1+e) for z ≥ 0 and e/(1+e) below."""
    e = np.exp(-np.abs(z))
    denominator = 1.0 + e
    return np.where(z >= 0, 1.0, e) / denominator


def sigmoid(x: Tensor) -> Tensor:
    """σ(z) = 1 / (1 + e^(−z)), range (0, 1).

    Squashes any input into a probability-like output; its derivative σ(1−σ) is at most 0.25
    and vanishes for large |z|, which is the vanishing-gradient problem of deep sigmoid nets.
    Stable for any z (no overflow warning at |z| = 1e4).
    """
    x = as_tensor(x)
    out = _stable_sigmoid(x._data)

    def backward(g):
        s = _saved(out, g, sigmoid, x)
        return (g * s * (1.0 - s),)
    return _record(out, (x,), backward, "Sigmoid", saves_output=True)


def tanh(x: Tensor) -> Tensor:
    """tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z)), range (−1, 1).

    Like the sigmoid but centred on zero; derivative 1 − tanh² ≤ 1 still vanishes for large |z|.
    """
    x = as_tensor(x)
    out = np.tanh(x._data)

    def backward(g):
        t = _saved(out, g, tanh, x)
        return (g * (1.0 - t * t),)
    return _record(out, (x,), backward, "Tanh", saves_output=True)


def relu(x: Tensor) -> Tensor:
    """ReLU(z) = max(0, z), range [0, ∞).

    Passes positive inputs unchanged (derivative 1), blocks negative ones (derivative 0): the
    gradient does not shrink layer by layer, so deep nets keep learning. Units stuck below zero
    for every input are "dead" and stop learning.

    Backward as torch's ``threshold_backward``: 0 where z ≤ 0 (an upstream nan or inf there
    too), the gradient elsewhere, a nan input included.
    """
    x = as_tensor(x)
    out = np.maximum(x._data, 0)
    # out != 0 where z > 0 or z is nan (max keeps a nan): the entries torch passes through
    return _record(out, (x,), lambda g: (_masked(g, out != 0),), "ReLU", saves_output=True)


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    """LeakyReLU(z) = z for z > 0, else negative_slope · z; range (−∞, ∞).

    A ReLU with a small slope for negative inputs, so no unit's gradient is exactly zero.
    """
    x = as_tensor(x)
    slope = np.where(x._data > 0, 1.0, negative_slope).astype(x.dtype, copy=False)
    return _record(x._data * slope, (x,), lambda g: (g * slope,), "LeakyReLU")


def _class_axis(op: str, axis, dim) -> int:
    axis, _ = _axis_args(op, axis, None, dim, None)
    return -1 if axis is None else axis


def softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """softmax(z)_i = e^(z_i) / Σ_j e^(z_j) along ``axis`` (default: the last), range (0, 1),
    summing to 1.

    Turns scores into class probabilities (output layers of classifiers). Computed from
    z − max(z), so large scores do not overflow. Backward: s ⊙ (g − Σ g⊙s). ``dim`` is
    torch's name for ``axis``.
    """
    x = as_tensor(x)
    axis = _class_axis("softmax", axis, dim)
    with np.errstate(over="ignore"):   # max − (−1e308) is −inf: exp gives the exact 0
        shifted = x._data - x._data.max(axis=axis, keepdims=True)
    e = np.exp(shifted)
    out = e / e.sum(axis=axis, keepdims=True)

    def backward(g):
        s = _saved(out, g, softmax, x, axis)
        return (s * (g - (g * s).sum(axis=axis, keepdims=True)),)
    return _record(out, (x,), backward, "Softmax", saves_output=True)


def log_softmax(x: Tensor, axis: int | None = None, *, dim: int | None = None) -> Tensor:
    """log softmax(z)_i = z_i − log Σ_j e^(z_j) along ``axis`` (default: the last), range
    (−∞, 0].

    Log-probabilities of the classes, computed stably (log-sum-exp, from z − max(z)); what
    cross-entropy needs, without the underflow of log(softmax(z)). Backward: g − softmax(z) · Σ g.
    """
    x = as_tensor(x)
    axis = _class_axis("log_softmax", axis, dim)
    with np.errstate(over="ignore"):   # max − (−1e308) is −inf, the exact log-probability
        shifted = x._data - x._data.max(axis=axis, keepdims=True)
    out = shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))

    def backward(g):
        probabilities = softmax(x, axis) if isinstance(g, Tensor) else np.exp(out)
        return (g - probabilities * g.sum(axis=axis, keepdims=True),)
    return _record(out, (x,), backward, "LogSoftmax", saves_output=True)


def binary_step(x: Tensor) -> Tensor:
    """step(z) = 1 for z ≥ 0, else 0; range {0, 1}.

    The perceptron's threshold. Its derivative is 0 everywhere except at z = 0, where it is
    undefined, so backpropagation passes a zero gradient: a network of binary steps cannot
    learn by gradient descent. Provided for the lessons, with exactly that (zero) gradient.
    """
    x = as_tensor(x)
    out = (x._data >= 0).astype(x.dtype)
    return _record(out, (x,), lambda g: (_zeros_like(g),), "BinaryStep")


def identity(x: Tensor) -> Tensor:
    """identity(z) = z, the course's "linear" activation, range (−∞, ∞).

    No non-linearity: stacked linear layers collapse into one linear map. Used on regression
    outputs. Derivative 1, so the gradient passes unchanged. (``st.linear`` is the affine map
    x @ W.T + b of :mod:`steepest.ops`, torch's ``F.linear``.)
    """
    return as_tensor(x)


# ---------------------------------------------------------------------------- derivatives
def sigmoid_derivative(z) -> np.ndarray:
    """σ'(z) = σ(z)(1 − σ(z)), at most 0.25 (at z = 0)."""
    s = _stable_sigmoid(np.asarray(z, dtype=float))
    return s * (1.0 - s)


def tanh_derivative(z) -> np.ndarray:
    """tanh'(z) = 1 − tanh²(z), at most 1 (at z = 0)."""
    t = np.tanh(np.asarray(z, dtype=float))
    return 1.0 - t * t


def relu_derivative(z) -> np.ndarray:
    """ReLU'(z) = 1 for z > 0, else 0 (0 at z = 0, as in torch)."""
    return (np.asarray(z) > 0).astype(float)


def leaky_relu_derivative(z, negative_slope: float = 0.01) -> np.ndarray:
    """LeakyReLU'(z) = 1 for z > 0, else negative_slope."""
    return np.where(np.asarray(z) > 0, 1.0, negative_slope)


def binary_step_derivative(z) -> np.ndarray:
    """step'(z) = 0 (everywhere it is defined): no gradient flows through a step."""
    return np.zeros(np.shape(z))


def identity_derivative(z) -> np.ndarray:
    """identity'(z) = 1."""
    return np.ones(np.shape(z))


def softmax_jacobian(z) -> np.ndarray:
    """∂softmax_i/∂z_j = s_i(δ_ij − s_j) for a 1-D score vector z: the (n, n) Jacobian."""
    z = np.asarray(z, dtype=float)
    if z.ndim != 1:
        raise ValueError(f"softmax_jacobian: expected a 1-D vector of scores, got shape {z.shape}")
    e = np.exp(z - z.max())
    s = e / e.sum()
    return np.diag(s) - np.outer(s, s)


@dataclass(frozen=True)
class Activation:
    """An activation as the course describes it: function, derivative, formula, range, notes."""

    name: str
    function: Callable
    derivative: Callable
    formula: str
    range: str
    characteristic: str


ACTIVATIONS = {
    a.name: a for a in [
        Activation("sigmoid", sigmoid, sigmoid_derivative, "σ(z) = 1 / (1 + e^(−z))", "(0, 1)",
                   "squashes to (0, 1); derivative ≤ 0.25 vanishes for large |z|"),
        Activation("tanh", tanh, tanh_derivative, "tanh(z) = (e^z − e^(−z)) / (e^z + e^(−z))",
                   "(−1, 1)", "zero-centred sigmoid; still saturates for large |z|"),
        Activation("relu", relu, relu_derivative, "ReLU(z) = max(0, z)", "[0, ∞)",
                   "gradient 1 for z > 0: does not vanish with depth; sparse activations"),
        Activation("softmax", softmax, softmax_jacobian, "softmax(z)_i = e^(z_i) / Σ_j e^(z_j)",
                   "(0, 1), sums to 1", "turns output scores into class probabilities"),
        Activation("binary_step", binary_step, binary_step_derivative,
                   "step(z) = 1 if z ≥ 0 else 0", "{0, 1}",
                   "threshold unit; zero gradient, so it cannot learn by gradient descent"),
        Activation("linear", identity, identity_derivative, "linear(z) = z", "(−∞, ∞)",
                   "no non-linearity; stacked linear layers collapse into one"),
        Activation("leaky_relu", leaky_relu, leaky_relu_derivative,
                   "LeakyReLU(z) = z if z > 0 else 0.01·z", "(−∞, ∞)",
                   "ReLU with a small negative slope, so no unit dies completely"),
    ]
}
