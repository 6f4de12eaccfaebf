"""Layers: Linear, containers (Sequential, ModuleList, ModuleDict), activation modules,
Dropout and Flatten."""

from __future__ import annotations

import math
import numbers

import numpy as np

from steepest import activations as F
from steepest.nn import functional, init
from steepest.nn.module import Module, Parameter
from steepest.ops import as_tensor, flatten, linear
from steepest.tensor import Tensor, get_default_dtype

__all__ = ["Linear", "Sequential", "ModuleList", "ModuleDict", "Sigmoid", "Tanh", "ReLU",
           "LeakyReLU", "Softmax", "LogSoftmax", "BinaryStep", "Identity", "Dropout", "Flatten",
           "ACTIVATION_MODULES"]


class Linear(Module):
    """y = x @ Wᵀ + b, with W of shape (out_features, in_features) as in torch.

    Initialised as torch does: W ~ U(−1/√in, 1/√in) (kaiming_uniform_ with a = √5) and
    b ~ U(−1/√in, 1/√in), drawn from ``generator`` or the global seeded one.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None,
                 generator=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer (a number of "
                                 f"features), got {value!r}")
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


class ModuleList(Module):
    """A list of modules whose parameters the parent finds (a plain list would hide them)."""

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def __setitem__(self, index: int, module: Module) -> None:
        key = list(self._modules)[index]
        setattr(self, key, _checked_module("ModuleList", key, module))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module) -> "ModuleList":
        """Add ``module`` at the end; returns self."""
        key = str(len(self))
        setattr(self, key, _checked_module("ModuleList", key, module))
        return self

    def extend(self, modules) -> "ModuleList":
        for module in modules:
            self.append(module)
        return self


class ModuleDict(Module):
    """Modules by name (an ordered dict) whose parameters the parent finds."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]

    def __setitem__(self, key: str, module: Module) -> None:
        if not isinstance(key, str) or not key or "." in key:
            raise KeyError(f"ModuleDict: keys must be non-empty strings without '.', got {key!r}")
        setattr(self, key, _checked_module("ModuleDict", key, module))

    def __delitem__(self, key: str) -> None:
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key) -> bool:
        return key in self._modules

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()

    def update(self, modules) -> None:
        items = modules.items() if hasattr(modules, "items") else modules
        for key, module in items:
            self[key] = module


def _checked_module(container: str, key, module):
    if not isinstance(module, Module):
        raise TypeError(f"{container}: entry {key!r} is a {type(module).__name__}, expected a "
                        f"Module")
    return module


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
    """The linear activation z ↦ z; accepts and ignores any arguments, as torch's does."""

    def __init__(self, *args, **kwargs):
        super().__init__()


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
    """softmax along ``dim`` (torch's name; ``axis`` is accepted too). None picks torch's
    implicit dimension: 0 for 0-, 1- and 3-D input, else 1."""

    def __init__(self, dim: int | None = None, *, axis: int | None = None):
        super().__init__()
        if axis is not None and dim is not None and axis != dim:
            raise ValueError(f"{type(self).__name__}: dim={dim} and axis={axis} disagree; "
                             f"give one of them")
        self.dim = dim if axis is None else axis

    def forward(self, x):
        return functional.softmax(x, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log softmax along ``dim`` (None: torch's implicit choice, see Softmax)."""

    def forward(self, x):
        return functional.log_softmax(x, self.dim)


class Dropout(Module):
    """Zero each element with probability p in training, scale survivors by 1/(1 − p).

    In eval mode it is the identity (inverted dropout, as in torch); see ``F.dropout``.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False, generator=None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, numbers.Real) or not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be a probability, a number in [0, 1], got {p!r}")
        functional._unsupported("Dropout", "inplace", inplace, False)
        self.p = float(p)
        self.generator = generator

    def forward(self, x):
        return functional.dropout(x, self.p, self.training, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Flatten dims start_dim..end_dim into one; the default (1, −1) keeps the batch dim:
    (N, ...) → (N, features)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x):
        return flatten(as_tensor(x), self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


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
