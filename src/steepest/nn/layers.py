"""Layers: Linear, Sequential, the activation modules, Dropout and Flatten."""

from __future__ import annotations

import math

import numpy as np

from steepest import activations as F
from steepest.nn import init
from steepest.nn.module import Module, Parameter
from steepest.ops import _record, as_tensor, linear
from steepest.tensor import Tensor, default_generator, get_default_dtype

__all__ = ["Linear", "Sequential", "Sigmoid", "Tanh", "ReLU", "LeakyReLU", "Softmax",
           "LogSoftmax", "BinaryStep", "Identity", "Dropout", "Flatten", "ACTIVATION_MODULES"]


class Linear(Module):
    """y = x @ Wᵀ + b, with W of shape (out_features, in_features) as in torch.

    Initialised as torch does: W ~ U(−1/√in, 1/√in) (kaiming_uniform_ with a = √5) and
    b ~ U(−1/√in, 1/√in), drawn from ``generator`` or the global seeded one.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None,
                 generator=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer, got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = dtype or get_default_dtype()
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if bias:
            bound = 1.0 / math.sqrt(in_features)
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
            init.uniform_(self.bias, -bound, bound, generator=generator)
        else:
            self.bias = None

    def forward(self, x) -> Tensor:
        return linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Sequential(Module):
    """Modules applied one after another; indexable and iterable like a list."""

    def __init__(self, *layers: Module):
        super().__init__()
        for layer in layers:
            self.append(layer)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, index):
        layers = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*layers[index])
        return layers[index]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, layer: Module) -> "Sequential":
        """Add ``layer`` at the end; returns self."""
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential: layer {len(self)} is a {type(layer).__name__}, "
                            f"expected a Module")
        setattr(self, str(len(self)), layer)
        return self


class _Elementwise(Module):
    """A module around an activation function without parameters."""

    function = staticmethod(F.identity)

    def forward(self, x):
        return type(self).function(x)


class Sigmoid(_Elementwise):
    """σ(z) = 1 / (1 + e^(−z)), see ``steepest.activations.sigmoid``."""

    function = staticmethod(F.sigmoid)


class Tanh(_Elementwise):
    """tanh(z), see ``steepest.activations.tanh``."""

    function = staticmethod(F.tanh)


class ReLU(_Elementwise):
    """max(0, z), see ``steepest.activations.relu``."""

    function = staticmethod(F.relu)


class BinaryStep(_Elementwise):
    """1 if z ≥ 0 else 0 (zero gradient), see ``steepest.activations.binary_step``."""

    function = staticmethod(F.binary_step)


class Identity(_Elementwise):
    """The linear activation z ↦ z."""


class LeakyReLU(Module):
    """z if z > 0 else negative_slope·z."""

    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softmax(Module):
    """softmax along ``axis`` (default: last)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """log softmax along ``axis`` (default: last)."""

    def forward(self, x):
        return F.log_softmax(x, self.axis)


class Dropout(Module):
    """Zero each element with probability p in training, scale survivors by 1/(1 − p).

    In eval mode it is the identity (inverted dropout, as in torch).
    """

    def __init__(self, p: float = 0.5, generator=None):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1), got {p}")
        self.p = p
        self.generator = generator

    def forward(self, x):
        x = as_tensor(x)
        if not self.training or self.p == 0.0:
            return x
        rng = self.generator or default_generator()
        mask = (rng.random(x.shape) >= self.p).astype(x.dtype) / (1.0 - self.p)
        return _record(x.data * mask, (x,), lambda g: (g * mask,), "Dropout")

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Flatten every axis after the first (batch) one: (N, ...) → (N, features)."""

    def forward(self, x):
        return as_tensor(x).flatten(1)


ACTIVATION_MODULES = {
    "sigmoid": Sigmoid, "tanh": Tanh, "relu": ReLU, "leaky_relu": LeakyReLU,
    "softmax": Softmax, "binary_step": BinaryStep, "linear": Identity, "identity": Identity,
}


def mlp(sizes, activation: str = "relu", output_activation: str | None = None, dtype=None,
        generator=None, weight_init: str | None = None) -> Sequential:
    """A multilayer perceptron: Linear layers of the given sizes with ``activation`` between.

    ``sizes = [2, 16, 16, 1]`` gives Linear(2,16), act, Linear(16,16), act, Linear(16,1).
    ``weight_init`` may be 'xavier' (with the gain of ``activation``; 1 for binary_step and
    softmax, which have none) or 'kaiming' (for ReLU); biases then start at zero. None keeps
    torch's default initialisation.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"mlp: sizes needs at least an input and an output size, got {sizes}")
    if activation not in ACTIVATION_MODULES:
        raise ValueError(f"mlp: unknown activation {activation!r}; expected one of "
                         f"{sorted(ACTIVATION_MODULES)}")
    if weight_init not in (None, "xavier", "kaiming"):
        raise ValueError(f"mlp: weight_init must be None, 'xavier' or 'kaiming', got {weight_init!r}")
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = Linear(fan_in, fan_out, dtype=dtype, generator=generator)
        if weight_init == "xavier":
            gain = init.calculate_gain(
                "linear" if activation in ("binary_step", "softmax") else activation)
            init.xavier_uniform_(layer.weight, gain=gain, generator=generator)
            init.zeros_(layer.bias)
        elif weight_init == "kaiming":
            init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=generator)
            init.zeros_(layer.bias)
        layers.append(layer)
        if i < len(sizes) - 2:
            layers.append(ACTIVATION_MODULES[activation]())
    if output_activation is not None:
        layers.append(ACTIVATION_MODULES[output_activation]())
    return Sequential(*layers)
