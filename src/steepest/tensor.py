"""The Tensor: an ndarray plus the record of how it was made, and backward() over that record.

A tensor made by a differentiable op remembers its parents and a ``backward`` closure that maps
the gradient of the output to the gradients of the parents (the chain rule, one op at a time).
``Tensor.backward`` walks the recorded graph in reverse topological order, iteratively, so a
chain of any depth works without touching Python's recursion limit: it counts each node's
consumers once, then runs a node's backward as soon as all its consumers have run.

Semantics (as in PyTorch):

* only leaf tensors (made by the user, ``requires_grad=True``) receive ``.grad``;
* gradients accumulate into ``.grad`` across ``backward()`` calls until zeroed;
* each leaf's ``.grad`` is its own writable ndarray (never a view, never shared with another
  leaf), so optimizers may update it in place;
* ``backward()`` frees the graph it walked, so a second ``backward()`` through the same graph
  raises ``RuntimeError`` unless the first call passed ``retain_graph=True``;
* under ``with no_grad():`` no graph is recorded at all.
"""

from __future__ import annotations

import numbers
import threading
from contextlib import contextmanager

import numpy as np

__all__ = [
    "Tensor", "tensor", "zeros", "ones", "zeros_like", "ones_like", "full", "arange",
    "randn", "rand", "manual_seed", "default_generator", "no_grad", "enable_grad",
    "is_grad_enabled", "set_default_dtype", "get_default_dtype",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()
_default_dtype = np.dtype(np.float64)
_generator = np.random.default_rng(0)


def is_grad_enabled() -> bool:
    """Whether ops record a graph right now (False inside ``no_grad``)."""
    return _grad_mode.enabled


@contextmanager
def no_grad():
    """Context in which ops record no graph: for evaluation and for optimizer updates."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = False
    try:
        yield
    finally:
        _grad_mode.enabled = previous


@contextmanager
def enable_grad():
    """Context that records a graph again inside an enclosing ``no_grad``."""
    previous = _grad_mode.enabled
    _grad_mode.enabled = True
    try:
        yield
    finally:
        _grad_mode.enabled = previous


def set_default_dtype(dtype) -> None:
    """Set the float dtype used for Python data and new parameters (float64 or float32)."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"set_default_dtype: dtype must be float32 or float64, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The float dtype used for Python data and new parameters (float64 unless changed)."""
    return _default_dtype


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed steepest's global generator (used by randn/rand, initialisers, shuffling)."""
    global _generator
    _generator = np.random.default_rng(seed)
    return _generator


def default_generator() -> np.random.Generator:
    """The global generator that steepest draws from when no ``generator=`` is given."""
    return _generator


def _as_array(data, dtype=None) -> np.ndarray:
    """Convert user data to an ndarray: Python floats become the default dtype, arrays keep theirs."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        return np.array(data, dtype=dtype)
    if isinstance(data, np.ndarray):
        array = data.copy()
    else:
        array = np.array(data)
    if array.dtype.kind == "f":
        if not isinstance(data, (np.ndarray, np.generic)):
            array = array.astype(_default_dtype, copy=False)
        elif array.dtype not in _FLOAT_DTYPES:
            array = array.astype(np.float32)  # float16 and friends: compute in float32
    elif array.dtype.kind == "b":
        array = array.astype(_default_dtype)
    elif array.dtype.kind not in "iu":
        raise TypeError(f"tensor: unsupported data of dtype {array.dtype}; expected numbers")
    return array


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data : array_like
        Numbers. Python floats become the default dtype (float64); NumPy arrays keep float32
        or float64; integers stay integer (labels and indices, never differentiable).
    requires_grad : bool
        Whether gradients should flow into this tensor (it becomes a leaf with ``.grad``).
    dtype : optional
        Force a dtype.
    """

    __slots__ = ("data", "grad", "requires_grad", "_parents", "_backward", "_op", "name",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        self.data = _as_array(data, dtype)
        self.grad = None
        self._parents = ()
        self._backward = None
        self._op = ""
        self.name = name
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> "Tensor":
        """A tensor around an existing array, without copying or checks (the ops' fast path)."""
        out = object.__new__(cls)
        out.data = array
        out.grad = None
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        out._op = ""
        out.name = None
        return out

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (no recorded parents)."""
        return self._backward is None

    def __len__(self) -> int:
        return len(self.data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Turn gradient tracking on or off in place (off freezes a parameter)."""
        if requires_grad and self.data.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"requires_grad: only float32/float64 tensors can require gradients, "
                f"got dtype {self.data.dtype} (integer tensors hold labels and indices)")
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad_(False): only leaf tensors can be frozen; "
                               "use .detach() on a computed tensor")
        self.requires_grad = bool(requires_grad)
        return self

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> float:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python number, "
                             f"got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        return self.data.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut out of the graph."""
        return Tensor._wrap(self.data)

    def astype(self, dtype) -> "Tensor":
        from steepest import ops
        return ops.astype(self, dtype)

    def float(self) -> "Tensor":
        return self.astype(np.float32)

    def double(self) -> "Tensor":
        return self.astype(np.float64)

    def zero_grad(self) -> None:
        self.grad = None

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=6, prefix="tensor(")
        extras = []
        if self.data.dtype != _default_dtype and self.data.dtype.kind == "f":
            extras.append(f"dtype={self.data.dtype}")
        if self._op:
            extras.append(f"grad_fn=<{self._op}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self):
        if self.data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __array__(self, dtype=None, copy=None):
        """NumPy's view of the tensor: ``np.asarray(t)`` shares the data, ``np.array(t)`` copies."""
        return np.array(self.data, dtype=dtype, copy=copy)

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- backward
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Backpropagate: accumulate d(self)/d(leaf) * gradient into every leaf's ``.grad``.

        ``gradient`` may be omitted only for a one-element tensor (it defaults to 1). The graph
        walked is freed afterwards unless ``retain_graph=True``; a second backward through a
        freed graph raises ``RuntimeError``.
        """
        if self.data.dtype.kind in "iub":
            raise RuntimeError(
                f"backward: this tensor has integer dtype {self.data.dtype}; integer tensors "
                f"hold labels and indices and are not differentiable, and a cast to an "
                f"integer type cuts the graph. Keep the value you differentiate in float32 "
                f"or float64")
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; create the "
                "inputs with requires_grad=True (and not inside no_grad) to differentiate")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: gradient can be implied only for a one-element (scalar) "
                    f"output, got shape {self.shape}; pass gradient= with that shape")
            seed = np.ones_like(self.data)
        else:
            seed = np.array(gradient.data if isinstance(gradient, Tensor) else gradient,
                            dtype=self.data.dtype)
            if seed.shape != self.shape:
                raise ValueError(f"backward: gradient has shape {seed.shape}, but the output "
                                 f"has shape {self.shape}; they must match")
        _run_backward(self, seed, retain_graph)

    # ----------------------------------------------------------------- operators
    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(self, other)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.rsub(self, other)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(self, other)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.rdiv(self, other)

    def __pow__(self, exponent):
        return _ops.pow(self, exponent)

    def __rpow__(self, base):
        return _ops.rpow(self, base)

    def __neg__(self):
        return _ops.neg(self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # comparisons give plain boolean arrays of the data: they are not differentiable
    def __lt__(self, other):
        return Tensor._wrap(self.data < _data_of(other))

    def __le__(self, other):
        return Tensor._wrap(self.data <= _data_of(other))

    def __gt__(self, other):
        return Tensor._wrap(self.data > _data_of(other))

    def __ge__(self, other):
        return Tensor._wrap(self.data >= _data_of(other))

    # ----------------------------------------------------------------- method forms of ops
    def sum(self, axis=None, keepdims=False):
        return _ops.sum(self, axis, keepdims)

    def mean(self, axis=None, keepdims=False):
        return _ops.mean(self, axis, keepdims)

    def max(self, axis=None, keepdims=False):
        return _ops.max(self, axis, keepdims)

    def min(self, axis=None, keepdims=False):
        return _ops.min(self, axis, keepdims)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def abs(self):
        return _ops.abs(self)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min, max)

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.reshape(self, shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.transpose(self, axes or None)

    @property
    def T(self):
        return _ops.transpose(self, None)

    def flatten(self, start_axis: int = 0):
        return _ops.flatten(self, start_axis)

    def sigmoid(self):
        return _activations.sigmoid(self)

    def tanh(self):
        return _activations.tanh(self)

    def relu(self):
        return _activations.relu(self)

    def softmax(self, axis=-1):
        return _activations.softmax(self, axis)

    def log_softmax(self, axis=-1):
        return _activations.log_softmax(self, axis)


def _data_of(value):
    return value.data if isinstance(value, Tensor) else value


def _consumer_counts(root: Tensor) -> dict:
    """For each node that needs a gradient, the number of recorded uses that send it one.

    A node's gradient is complete once every op that used it (counted once per use) has run
    its backward: these counts are the whole topological sort (Kahn's algorithm). One dict
    entry per node, iterative, and a straight chain costs one lookup per node.
    """
    counts = {root: 0}  # tensors hash by identity, so they key dicts
    stack = [root]
    while stack:
        for parent in stack.pop()._parents:
            if parent.requires_grad:
                if parent in counts:
                    counts[parent] += 1
                else:
                    counts[parent] = 1
                    stack.append(parent)
    return counts


def _run_backward(root: Tensor, seed: np.ndarray, retain_graph: bool) -> None:
    """Send ``seed`` back from ``root``: each node runs once, when all its consumers have."""
    if root._backward is None and root._op:
        raise RuntimeError(
            "backward: trying to backward through the graph a second time; the first "
            "backward() freed it. Call backward(retain_graph=True) the first time if you "
            "need to backpropagate through the same graph twice")
    pending = _consumer_counts(root)
    grads = {root: seed}
    assigned = set()  # ids of arrays already handed to a leaf's .grad in this pass
    ready = [root]
    while ready:
        node = ready.pop()
        grad = grads.pop(node, None)
        parents = node._parents
        if grad is not None:
            if node._backward is None:
                if node._op:
                    raise RuntimeError(
                        f"backward: the graph through '{node._op}' was already freed by an "
                        f"earlier backward(); pass retain_graph=True to the first call")
                if (id(grad) in assigned or not isinstance(grad, np.ndarray)
                        or grad.base is not None or not grad.flags.writeable):
                    grad = np.array(grad)  # the leaf owns its .grad: no view, no shared buffer
                assigned.add(id(grad))
                node.grad = grad if node.grad is None else node.grad + grad
                continue
            for parent, parent_grad in zip(parents, node._backward(grad)):
                if parent_grad is None or not parent.requires_grad:
                    continue
                existing = grads.get(parent)
                grads[parent] = parent_grad if existing is None else existing + parent_grad
            if not retain_graph:
                node._backward = None
                node._parents = ()
        for parent in parents:
            if parent.requires_grad:
                pending[parent] -= 1
                if not pending[parent]:
                    ready.append(parent)


# ------------------------------------------------------------------------ constructors
def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """Make a tensor from data (copied). Python floats become float64 unless ``dtype`` says."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _shape_of(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros(_shape_of(shape), dtype=dtype or _default_dtype),
                  requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones(_shape_of(shape), dtype=dtype or _default_dtype),
                  requires_grad=requires_grad)


def full(shape, value, dtype=None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full(shape, value, dtype=dtype or _default_dtype),
                  requires_grad=requires_grad)


def zeros_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(_data_of(t)), requires_grad=requires_grad)


def ones_like(t: Tensor, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(_data_of(t)), requires_grad=requires_grad)


def arange(*args, dtype=None) -> Tensor:
    return Tensor(np.arange(*args, dtype=dtype))


def randn(*shape, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Standard normal samples from ``generator`` (default: steepest's seeded global one)."""
    rng = generator or _generator
    return Tensor(rng.standard_normal(_shape_of(shape)).astype(dtype or _default_dtype),
                  requires_grad=requires_grad)


def rand(*shape, dtype=None, requires_grad: bool = False, generator=None) -> Tensor:
    """Uniform samples in [0, 1) from ``generator`` (default: steepest's seeded global one)."""
    rng = generator or _generator
    return Tensor(rng.random(_shape_of(shape)).astype(dtype or _default_dtype),
                  requires_grad=requires_grad)


def is_scalar(value) -> bool:
    """A Python or NumPy number: combined with a tensor without upcasting it."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool) or \
        isinstance(value, np.generic)


from steepest import activations as _activations  # noqa: E402  (operators dispatch here)
from steepest import ops as _ops  # noqa: E402
