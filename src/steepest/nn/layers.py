"""Layers: Linear, containers (Sequential, ModuleList, ModuleDict), activation modules,
Dropout and Flatten."""

from __future__ import annotations

import math
import numbers
from collections import OrderedDict

import numpy as np

from steepest import activations as F
from steepest.nn import functional, init
from steepest.nn.module import Module, Parameter
from steepest.ops import as_tensor, flatten, linear
from steepest.tensor import Tensor, _cpu_only, get_default_dtype

__all__ = ["Linear", "Sequential", "ModuleList", "ModuleDict", "Sigmoid", "Tanh", "ReLU",
           "LeakyReLU", "Softmax", "LogSoftmax", "BinaryStep", "Identity", "Dropout", "Flatten",
           "Embedding", "BatchNorm1d", "LayerNorm", "ACTIVATION_MODULES"]


def _factory(who: str, device, dtype) -> np.dtype:
    """torch's factory keywords of a layer: ``device`` must be the CPU, ``dtype`` a float
    dtype (default: the default dtype)."""
    _cpu_only(device, who)
    dtype = np.dtype(dtype or get_default_dtype())
    if dtype.kind != "f":
        raise ValueError(f"{who}: dtype must be float32 or float64, got {dtype}")
    return dtype


class Linear(Module):
    """y = x @ Wᵀ + b, with W of shape (out_features, in_features) as in torch.

    Initialised as torch does: W ~ U(−1/√in, 1/√in) (kaiming_uniform_ with a = √5) and
    b ~ U(−1/√in, 1/√in), drawn from ``generator`` or the global seeded one.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None,
                 generator=None, *, device=None):
        super().__init__()
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Linear: {name} must be a positive integer (a number of "
                                 f"features), got {value!r}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        dtype = _factory("Linear", device, dtype)
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


class _Numbered(Module):
    """Children named 0, 1, 2, ... and kept dense (Sequential, ModuleList): item assignment,
    deletion, append, insert, extend, pop, len and iteration. ``_kind`` names the container in
    messages."""

    _kind: str

    def __setitem__(self, index, module: Module) -> None:
        key = _key_at(self, index)
        setattr(self, key, _checked_module(self._kind, key, module))

    def __delitem__(self, index) -> None:
        """``del container[index]`` (an int or a slice), then renumber, as torch."""
        keys = list(self._modules)[index] if isinstance(index, slice) \
            else [_key_at(self, index)]
        for key in keys:
            delattr(self, key)
        self._renumber(list(self._modules.values()))

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module: Module):
        """Add ``module`` at the end (named by the current length, as torch); returns self."""
        key = str(len(self))
        setattr(self, key, _checked_module(self._kind, key, module))
        return self

    def insert(self, index: int, module: Module):
        """Put ``module`` before position ``index`` (the modules after it move up one);
        returns self."""
        n = len(self)
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) \
                or not -n <= index <= n:
            raise IndexError(f"{self._kind}.insert: index must be an int from {-n} to {n}, got "
                             f"{index!r}")
        modules = list(self._modules.values())
        modules.insert(index, _checked_module(self._kind, index, module))
        self._renumber(modules)
        return self

    def extend(self, modules):
        """Append each of ``modules``; returns self."""
        for module in modules:
            self.append(module)
        return self

    def pop(self, index: int = -1) -> Module:
        """Remove and return the module at ``index``."""
        module = self[index]
        del self[index]
        return module

    def _renumber(self, modules) -> None:
        """Name ``modules`` 0, 1, 2, ... (torch keeps the numbering dense after a change)."""
        for key in list(self._modules):
            delattr(self, key)
        for i, module in enumerate(modules):
            setattr(self, str(i), module)


def _key_at(container: Module, index) -> str:
    """The name of the child at position ``index`` of a Sequential or ModuleList."""
    keys = list(container._modules)
    name = type(container).__name__
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{name}: indices must be integers or slices, got {index!r}")
    if not -len(keys) <= index < len(keys):
        raise IndexError(f"{name}: index {index} is out of range for {len(keys)} modules")
    return keys[index]


class Sequential(_Numbered):
    """Modules applied one after another; indexable and iterable like a list.

    As torch: ``Sequential(OrderedDict(name=module, ...))`` names the layers; a slice keeps
    the layers' names (``seq[1:]`` has keys ``1.*``, ``2.*``, ... of the original), and
    deleting renumbers the rest.
    """

    _kind = "Sequential"

    def __init__(self, *layers):
        super().__init__()
        if len(layers) == 1 and isinstance(layers[0], OrderedDict):
            for name, layer in layers[0].items():
                self.add_module(name, _checked_module("Sequential", name, layer))
        else:
            for layer in layers:
                self.append(layer)

    def forward(self, x):
        for layer in self._modules.values():
            x = layer(x)
        return x

    def __getitem__(self, index):
        if isinstance(index, slice):
            return type(self)(OrderedDict(list(self._modules.items())[index]))
        return self._modules[_key_at(self, index)]


class ModuleList(_Numbered):
    """A list of modules whose parameters the parent finds (a plain list would hide them)."""

    _kind = "ModuleList"

    def __init__(self, modules=None):
        super().__init__()
        for module in modules or ():
            self.append(module)

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return ModuleList(modules[index])
        return modules[index]

    def insert(self, index: int, module: Module) -> None:
        """Put ``module`` before position ``index`` (the modules after it move up one)."""
        super().insert(index, module)


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
    """max(0, z), see ``steepest.activations.relu``. ``inplace=False`` (torch's default) is
    accepted; ``inplace=True`` is refused with a message (steepest computes out of place)."""

    function = staticmethod(F.relu)

    def __init__(self, inplace: bool = False):
        super().__init__()
        functional._unsupported("ReLU", "inplace", inplace, False)
        self.inplace = False


class BinaryStep(_Elementwise):
    """1 if z ≥ 0 else 0 (zero gradient), see ``steepest.activations.binary_step``."""

    function = staticmethod(F.binary_step)


class Identity(_Elementwise):
    """The linear activation z ↦ z; accepts and ignores any arguments, as torch's does."""

    def __init__(self, *args, **kwargs):
        super().__init__()


class LeakyReLU(Module):
    """z if z > 0 else negative_slope·z."""

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False):
        super().__init__()
        functional._unsupported("LeakyReLU", "inplace", inplace, False)
        self.negative_slope = negative_slope
        self.inplace = False

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


class Embedding(Module):
    """A lookup table: ``Embedding(n, d)(indices)`` gives the rows of a learnable (n, d)
    weight at the integer indices, shape (*indices.shape, d); see ``F.embedding``.

    The weight starts as N(0, 1) draws (torch's default), with the row ``padding_idx`` (if
    given) set to zero, and that row gets no gradient.
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None,
                 max_norm=None, norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                 sparse: bool = False, _weight=None, _freeze: bool = False, device=None,
                 dtype=None, generator=None):
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"Embedding: {name} must be a positive integer, got {value!r}")
        functional._unsupported("Embedding", "max_norm", max_norm)
        functional._unsupported("Embedding", "scale_grad_by_freq", scale_grad_by_freq, False)
        functional._unsupported("Embedding", "sparse", sparse, False)
        dtype = _factory("Embedding", device, dtype)
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError(f"Embedding: padding_idx must be within num_embeddings "
                                 f"({num_embeddings}), got {padding_idx}")
            padding_idx %= num_embeddings
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(np.empty((num_embeddings, embedding_dim), dtype=dtype),
                                    requires_grad=not _freeze)
            init.normal_(self.weight, generator=generator)
            if padding_idx is not None:
                self.weight._data[padding_idx] = 0
        else:
            weight = as_tensor(_weight)
            if weight.shape != (num_embeddings, embedding_dim):
                raise ValueError(f"Embedding: _weight has shape {weight.shape}, expected "
                                 f"{(num_embeddings, embedding_dim)}")
            self.weight = Parameter(weight._data, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings, freeze: bool = True, padding_idx=None) -> "Embedding":
        """An Embedding around the given (n, d) table (frozen unless ``freeze=False``)."""
        embeddings = as_tensor(embeddings)
        if embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape "
                             f"{embeddings.shape}")
        return cls(*embeddings.shape, padding_idx=padding_idx, _weight=embeddings,
                   _freeze=freeze, dtype=embeddings.dtype)

    def forward(self, input) -> Tensor:
        return functional.embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"


class BatchNorm1d(Module):
    """Batch normalisation of (N, C) or (N, C, L) input over each channel C, as torch.

    Training mode normalises with the batch's statistics and updates ``running_mean`` and
    ``running_var`` (unbiased) by ``momentum`` (None: the cumulative average over
    ``num_batches_tracked`` batches); evaluation mode normalises with the running statistics
    (or the batch's if ``track_running_stats=False``). ``affine``: a learnable per-channel
    scale ``weight`` (ones) and shift ``bias`` (zeros).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum=0.1, affine: bool = True,
                 track_running_stats: bool = True, device=None, dtype=None):
        super().__init__()
        if isinstance(num_features, bool) or not isinstance(num_features, numbers.Integral) \
                or num_features < 1:
            raise ValueError(f"{type(self).__name__}: num_features must be a positive "
                             f"integer, got {num_features!r}")
        dtype = _factory(type(self).__name__, device, dtype)
        self.num_features, self.eps, self.momentum = int(num_features), eps, momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype=dtype))
            self.bias = Parameter(np.zeros(num_features, dtype=dtype))
        else:
            self.weight = self.bias = None
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, dtype=np.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def _check_input(self, input: Tensor) -> None:
        if input.ndim not in (2, 3):
            raise ValueError(f"{type(self).__name__}: expected 2-D or 3-D input (N, C) or "
                             f"(N, C, L), got shape {input.shape}")

    def forward(self, input) -> Tensor:
        input = as_tensor(input)
        self._check_input(input)
        if input.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: expected {self.num_features} channels "
                             f"(dim 1), got input of shape {input.shape}")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked._data += 1
            if self.momentum is None:  # the cumulative moving average
                factor = 1.0 / float(self.num_batches_tracked._data)
        use_batch = self.training or self.running_mean is None
        keep = not self.training or self.track_running_stats
        return functional.batch_norm(input, self.running_mean if keep else None,
                                     self.running_var if keep else None, self.weight,
                                     self.bias, use_batch, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class LayerNorm(Module):
    """Normalise each sample over its last dims ``normalized_shape`` (mean 0, variance 1),
    then scale by ``weight`` (ones) and shift by ``bias`` (zeros), as torch; the same in
    training and evaluation. See ``F.layer_norm``."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device=None, dtype=None):
        super().__init__()
        dtype = _factory("LayerNorm", device, dtype)
        self.normalized_shape = (int(normalized_shape),) \
            if isinstance(normalized_shape, numbers.Integral) else tuple(normalized_shape)
        self.eps, self.elementwise_affine = eps, elementwise_affine
        self.weight = Parameter(np.ones(self.normalized_shape, dtype=dtype)) \
            if elementwise_affine else None
        self.bias = Parameter(np.zeros(self.normalized_shape, dtype=dtype)) \
            if elementwise_affine and bias else None

    def forward(self, input) -> Tensor:
        return functional.layer_norm(input, self.normalized_shape, self.weight, self.bias,
                                     self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


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
