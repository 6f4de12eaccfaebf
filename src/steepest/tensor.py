"""The Tensor: an ndarray plus the record of how it was made, and backward() over that record.

A tensor made by a differentiable op remembers its parents and a ``backward`` closure that maps
the gradient of the output to the gradients of the parents (the chain rule, one op at a time).
``Tensor.backward`` walks the recorded graph in reverse topological order, iteratively, so a
chain of any depth works without touching Python's recursion limit: it counts each node's
consumers once, then runs a node's backward as soon as all its consumers have run.

Semantics (as in PyTorch):

* only leaf tensors (made by the user, ``requires_grad=True``) receive ``.grad``, and
  computed ones that called ``retain_grad()``;
* gradients accumulate into ``.grad`` across ``backward()`` calls until zeroed;
* ``.grad`` is a tensor over the leaf's own writable array ``_grad`` (never a view, never
  shared with another leaf), so optimizers may update the array in place;
* ``backward(create_graph=True)`` and ``st.autograd.grad(..., create_graph=True)`` run every
  node's backward on tensors, so that the gradients carry a graph of their own;
* ``backward()`` frees the graph it walked, so a second ``backward()`` through the same graph
  raises ``RuntimeError`` unless the first call passed ``retain_graph=True``;
* under ``with no_grad():`` no graph is recorded at all;
* in-place ops (``x += 1``, ``x[:, 0] = 0``, ``zero_()``, ...) change the tensor's own array and
  bump its version counter (``_version``); on a leaf that requires grad they are allowed only
  under ``no_grad`` (an optimizer step), and ``backward()`` through a node whose input (or
  saved output) was changed since the forward pass raises instead of giving a wrong gradient.
  Views (``reshape``, basic indexing, ``permute``, ``detach``) share their base's counter.
  Not detected, as in torch: editing ``x.data`` in place (``x.data[0] = 5``,
  ``x.data.mul_(2)``) between forward and backward: ``.data`` has its own version counter.

Axis arguments: ``axis=``/``keepdims=`` (NumPy's spelling) are the canonical names; torch's
``dim=``/``keepdim=`` are accepted everywhere as aliases (passing both is an error). One
difference follows torch: ``x.max(dim)``/``x.min(dim)`` return ``(values, indices)``, while
``x.max(axis=...)`` returns the reduced tensor.
"""

from __future__ import annotations

import math
import numbers
import threading
import warnings
import weakref
from contextlib import contextmanager

import numpy as np

__all__ = [
    "Tensor", "Size", "tensor", "zeros", "ones", "zeros_like", "ones_like", "full", "full_like",
    "arange", "linspace", "from_numpy",
    "no_grad", "enable_grad", "is_grad_enabled", "set_default_dtype", "get_default_dtype",
    "default_dtype",
    "check_device", "float32", "float64", "int32", "int64",
]

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

#: dtype names as in torch (``st.float32``, ...; ``st.float``, ``st.double``, ``st.long``,
#: ``st.int`` and ``st.bool`` are exported by the package, not defined here, so that this
#: module keeps Python's builtins).
float32 = np.dtype(np.float32)
float64 = np.dtype(np.float64)
int32 = np.dtype(np.int32)
int64 = np.dtype(np.int64)
_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "int64": "LongTensor",
               "int32": "IntTensor", "bool": "BoolTensor"}


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()
_default_dtype = np.dtype(np.float32)  # torch's default


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
    """Set the float dtype of Python floats, factories (``zeros``, ``randn``, ...) and new
    parameters: float32 (torch's default) or float64."""
    global _default_dtype
    dtype = np.dtype(dtype)
    if dtype not in _FLOAT_DTYPES:
        raise ValueError(f"set_default_dtype: dtype must be float32 or float64, got {dtype}")
    _default_dtype = dtype


def get_default_dtype() -> np.dtype:
    """The float dtype of Python floats, factories and new parameters (float32 unless set)."""
    return _default_dtype


@contextmanager
def default_dtype(dtype):
    """Context with another default dtype, put back on exit: the course's exact worked
    examples run under ``with st.default_dtype(st.float64):``."""
    previous = _default_dtype
    set_default_dtype(dtype)
    try:
        yield
    finally:
        set_default_dtype(previous)


def check_device(device, who: str = "to") -> None:
    """Accept the CPU (steepest's only device); name any other device in a ValueError."""
    name = str(device)
    if name not in ("cpu", "cpu:0"):
        raise ValueError(f"{who}: device {name!r} is not available; steepest computes with "
                         f"NumPy on the CPU only, so use 'cpu' (or drop the call)")


def _big_integer(data):
    """The first Python int in (nested lists of) ``data`` that no int64 holds, or None."""
    if isinstance(data, (list, tuple)):
        for item in data:
            found = _big_integer(item)
            if found is not None:
                return found
        return None
    is_int = isinstance(data, int) and not isinstance(data, bool)
    return data if is_int and not -2**63 <= data < 2**63 else None


def _integer_overflow(big) -> TypeError:
    return TypeError(f"tensor: data holds the integer {big}, which does not fit in int64 "
                     f"(-2**63 to 2**63 - 1); give it as a float (e.g. {big}.0) or pass "
                     f"dtype=st.float64")


class Size(tuple):
    """A shape, as torch's ``torch.Size``: a tuple of ints with ``numel()``."""

    def numel(self) -> int:
        """The number of elements of a tensor of this shape (1 for ``()``)."""
        return math.prod(self)


def _as_array(data, dtype=None) -> np.ndarray:
    """Convert user data to an ndarray: Python floats become the default dtype, arrays keep
    theirs, integers and bools stay integer and bool."""
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, (list, tuple)):
        with no_grad():  # tensors inside a list give their values, as in torch.tensor
            return _converted(data, dtype)
    return _converted(data, dtype)


def _converted(data, dtype) -> np.ndarray:
    if dtype is not None:
        try:
            return np.array(data, dtype=dtype)
        except OverflowError:
            raise _integer_overflow(_big_integer(data)) from None
    if isinstance(data, np.ndarray):
        array = data.copy()
    else:
        array = np.array(data)
        if array.dtype == object or array.dtype == np.uint64:
            big = _big_integer(data)
            if big is not None:
                raise _integer_overflow(big)
    if array.dtype.kind == "f":
        if not isinstance(data, (np.ndarray, np.generic)):
            array = array.astype(_default_dtype, copy=False)
        elif array.dtype not in _FLOAT_DTYPES:
            array = array.astype(np.float32)  # float16 and friends: compute in float32
    elif array.dtype.kind not in "iub":
        raise TypeError(f"tensor: unsupported data of dtype {array.dtype}; expected numbers")
    return array


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    Parameters
    ----------
    data : array_like
        Numbers. Python floats become the default dtype (float32, as in torch; see
        ``set_default_dtype`` and ``default_dtype``); NumPy arrays keep float32 or float64;
        integers stay integer (labels and indices, never differentiable); bools stay bool
        (masks for indexing, ``where`` and ``masked_fill``), as torch.
    requires_grad : bool
        Whether gradients should flow into this tensor (it becomes a leaf with ``.grad``).
    dtype : optional
        Force a dtype.

    Attributes
    ----------
    data : Tensor
        The values as a tensor outside the graph, sharing this tensor's memory but with a
        version counter of its own, as torch's ``.data``: editing it in place
        (``x.data[0] = 5``, ``x.data.mul_(2)``) bypasses the version check, so done between a
        forward pass and its ``backward()`` it gives wrong gradients without a word, exactly as
        in torch. Use the in-place tensor ops under ``no_grad`` instead. Assigning
        (``p.data = t``) rebinds the values (the shape may change). ``numpy()`` is the ndarray.
    grad : Tensor or None
        The accumulated gradient (a tensor without a grad of its own, over the array
        ``_grad`` that optimizers update).
    grad_fn : the node that made this tensor (torch's names, ``MulBackward0``), None on leaves.
    """

    __slots__ = ("_data", "_grad", "requires_grad", "_parents", "_backward", "_op", "name",
                 "_versions", "_base", "_grad_tensor", "_recorded_at", "_saved_output",
                 "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Size):  # torch.Tensor(x.shape): a new tensor of that shape
            data = np.zeros(data, dtype=_default_dtype if dtype is None else dtype)
        self._data = _as_array(data, dtype)
        self._grad = None
        self._grad_tensor = None
        self._parents = ()
        self._backward = None
        self._op = ""
        self.name = name
        self._versions = None  # see bump_version; made on the first in-place change or view
        self._base = None      # the tensor this one is a view of, if any
        self._recorded_at = 0  # a node: the in-place change count when its op was recorded
        self._saved_output = None  # a node whose backward reads its output: that tensor
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: np.ndarray) -> "Tensor":
        """A tensor around an existing array, without copying or checks (the ops' fast path)."""
        out = object.__new__(cls)
        out._data = array
        out._grad = None
        out._grad_tensor = None
        out.requires_grad = False
        out._parents = ()
        out._backward = None
        out._op = ""
        out.name = None
        out._versions = None
        out._base = None
        out._recorded_at = 0
        out._saved_output = None
        return out

    # ----------------------------------------------------------------- properties
    @property
    def data(self) -> "Tensor":
        """The values as a tensor outside the graph: shares this tensor's memory but has its
        own version counter (see the class docstring for what editing it in place means)."""
        return Tensor._wrap(self._data)

    @data.setter
    def data(self, value) -> None:
        array = _data_of(value)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"data: expected a Tensor or an ndarray, got {type(value).__name__}")
        if self.requires_grad and array.dtype not in _FLOAT_DTYPES:
            raise TypeError(f"data: this tensor requires grad, so its data must be float32 or "
                            f"float64, got dtype {array.dtype}")
        self._data = array

    @property
    def grad(self):
        """The gradient accumulated by ``backward()`` (None until then): a tensor without a
        grad of its own sharing memory with the accumulated array, the same object on every
        access until the gradient changes (so ``x.grad.zero_()`` zeroes it in place)."""
        array = self._grad
        if array is None:
            self._grad_tensor = None  # zero_grad() dropped the array: drop its tensor too
            if self._op and not _retained.holds(self):
                warnings.warn(
                    "The .grad attribute of a Tensor that is not a leaf Tensor is being "
                    "accessed. Its .grad attribute won't be populated during backward(); call "
                    ".retain_grad() on it before backward() if you want it, or read the "
                    "gradient of a leaf (made with requires_grad=True)", UserWarning,
                    stacklevel=2)
            return None
        cached = self._grad_tensor
        if cached is None or cached._data is not array:
            cached = self._grad_tensor = Tensor._wrap(array)
        return cached

    @grad.setter
    def grad(self, value) -> None:
        if value is None:
            self._grad = self._grad_tensor = None
            return
        array = _data_of(value)
        if not isinstance(array, np.ndarray):
            raise TypeError(f"grad: expected a Tensor, an ndarray or None, got "
                            f"{type(value).__name__}")
        if array.shape != self.shape or array.dtype != self.dtype:
            raise RuntimeError(f"grad: assigned a gradient of shape {array.shape} and dtype "
                               f"{array.dtype}; expected this tensor's shape {self.shape} and "
                               f"dtype {self.dtype}")
        self._grad = array
        self._grad_tensor = value if isinstance(value, Tensor) else None

    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._data.dtype

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def size(self, dim=None):
        """The shape as a ``Size`` (``x.size()``) or the length of axis ``dim``
        (``x.size(1)``), as torch; ``x.shape`` is the same ``Size``."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_ops._normalize_axis(dim, self.ndim, "size")[0]]

    def numel(self) -> int:
        """The number of elements."""
        return self._data.size

    @property
    def _version(self) -> int:
        """How many in-place changes this tensor (or a view of its memory) has seen."""
        return self._versions[0] if self._versions is not None else 0

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user made (not computed by a recorded op); a computed tensor
        stays a non-leaf after ``backward()`` freed its graph, as in torch."""
        return not self._op

    @property
    def grad_fn(self):
        """The node that computed this tensor (``MulBackward0``, ...), or None for a leaf."""
        return None if not self._op else _graph.node_of(self)

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's ``.grad`` in ``backward()`` (a no-op on a leaf)."""
        if not self.requires_grad:
            raise RuntimeError("retain_grad: can't retain_grad on a tensor that has "
                               "requires_grad=False")
        if self._op:
            _retained.add(self, True)

    @property
    def retains_grad(self) -> bool:
        """Whether ``retain_grad()`` was called on this non-leaf tensor."""
        return bool(self._op) and _retained.holds(self)

    def register_hook(self, hook):
        """Call ``hook(grad)`` whenever the gradient with respect to this tensor is computed;
        a tensor it returns replaces the gradient. Returns a handle whose ``remove()`` undoes
        the registration."""
        if not self.requires_grad:
            raise RuntimeError("register_hook: cannot register a hook on a tensor that "
                               "doesn't require gradient")
        if not callable(hook):
            raise TypeError(f"register_hook: hook must be callable, got {type(hook).__name__}")
        return _graph.RemovableHandle(_hooks.add(self, {}), hook)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self._data)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Turn gradient tracking on or off in place (off freezes a parameter)."""
        if requires_grad and self._data.dtype not in _FLOAT_DTYPES:
            raise TypeError(
                f"requires_grad: only float32/float64 tensors can require gradients, "
                f"got dtype {self._data.dtype} (integer tensors hold labels and indices)")
        if not requires_grad and not self.is_leaf:
            raise RuntimeError("requires_grad_(False): only leaf tensors can be frozen; "
                               "use .detach() on a computed tensor")
        self.requires_grad = bool(requires_grad)
        return self

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self._data

    def item(self) -> float:
        """The single value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise ValueError(f"item: only one-element tensors convert to a Python number, "
                             f"got shape {self.shape}")
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data (and version counter), cut out of the graph."""
        out = Tensor._wrap(self._data)
        _share_version(out, self)
        return out

    def clone(self) -> "Tensor":
        """A copy with its own memory, still in the graph (the gradient passes through)."""
        return _ops.clone(self)

    def astype(self, dtype) -> "Tensor":
        """Cast to ``dtype`` (a float cast stays differentiable; an integer cast cuts the graph)."""
        return _ops.astype(self, dtype)

    def to(self, *args, dtype=None, device=None, copy: bool = False) -> "Tensor":
        """torch's ``to``: ``to(dtype)``, ``to("cpu")``, ``to(other_tensor)``; this tensor itself
        when nothing changes. Devices other than the CPU raise an error naming the device."""
        for arg in args:
            if isinstance(arg, Tensor):
                dtype = arg.dtype
            elif isinstance(arg, str):
                try:
                    dtype = np.dtype(arg)
                except TypeError:
                    device = arg
            else:
                dtype = arg
        if device is not None:
            check_device(device)
        if dtype is None or np.dtype(dtype) == self.dtype:
            return self.clone() if copy else self
        return self.astype(dtype)

    def type(self, dtype=None):
        """With ``dtype``: cast, as ``to(dtype)``. Without: the type's name, as torch
        (``'steepest.DoubleTensor'``)."""
        if dtype is None:
            return "steepest." + _TYPE_NAMES.get(self.dtype.name, self.dtype.name)
        return self.to(dtype)

    def float(self) -> "Tensor":
        """As float32 (torch's ``float``)."""
        return self.to(np.float32)

    def double(self) -> "Tensor":
        """As float64."""
        return self.to(np.float64)

    def long(self) -> "Tensor":
        """As int64 (labels, indices): not differentiable."""
        return self.to(np.int64)

    def int(self) -> "Tensor":
        """As int32: not differentiable."""
        return self.to(np.int32)

    def bool(self) -> "Tensor":
        """As booleans: not differentiable."""
        return self.to(np.bool_)

    def zero_grad(self) -> None:
        self._grad = None

    # torch's in-place random fills, drawn as torch draws them (see steepest.random)
    def uniform_(self, from_=0.0, to=1.0, *, generator=None) -> "Tensor":
        return _random.uniform_(self, from_, to, generator=generator)

    def normal_(self, mean=0.0, std=1.0, *, generator=None) -> "Tensor":
        return _random.normal_(self, mean, std, generator=generator)

    def random_(self, from_=None, to=None, *, generator=None) -> "Tensor":
        return _random.random_(self, from_, to, generator=generator)

    def bernoulli_(self, p=0.5, *, generator=None) -> "Tensor":
        return _random.bernoulli_(self, p, generator=generator)

    def exponential_(self, lambd=1.0, *, generator=None) -> "Tensor":
        return _random.exponential_(self, lambd, generator=generator)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", precision=6, prefix="tensor(")
        extras = []
        if self._data.dtype != _default_dtype and self._data.dtype.kind == "f":
            extras.append(f"dtype={self._data.dtype}")
        if self._op:
            extras.append(f"grad_fn=<{_graph.torch_name(self)}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __bool__(self):
        if self._data.size != 1:
            raise ValueError(f"the truth value of a tensor of shape {self.shape} is ambiguous")
        return bool(self._data)

    def __format__(self, spec: str) -> str:
        """f-strings: a one-element tensor formats as its number (``f"{loss:>7f}"``)."""
        if self._data.size == 1 and (spec or self._data.ndim == 0):
            return format(self.item(), spec)
        if not spec:
            return str(self)
        raise TypeError(f"format: spec {spec!r} applies to one-element tensors only, got "
                        f"shape {self.shape}; format .item() values or .tolist()")

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        """A one-element integer tensor as a list index: ``classes[pred.argmax(0)]``."""
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise TypeError(f"only a one-element integer tensor can be used as an index, got "
                            f"shape {self.shape} and dtype {self.dtype}")
        return int(self._data.reshape(()))

    def __array__(self, dtype=None, copy=None):
        """NumPy's view of the tensor: ``np.asarray(t)`` shares the data, ``np.array(t)`` copies.

        Refused for a tensor that requires grad while grad mode is on, as torch refuses: a
        NumPy function would compute on the values outside the graph, and the gradient would
        silently miss that path (``(w * np.exp(w)).sum()``). Use ``st.exp(w)`` to stay in the
        graph, or ``w.detach()`` for the values alone.
        """
        if self.requires_grad and _grad_mode.enabled:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad: a NumPy function would "
                "compute outside the graph and its gradient would be lost. Use steepest's "
                "own function (st.exp(w), not np.exp(w)) to differentiate through it, or "
                "tensor.detach() for the values alone")
        return np.array(self._data, dtype=dtype, copy=copy)

    def __iter__(self):
        """The sub-tensors along the first axis (views, as torch); a 0-d tensor is not iterable."""
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self._data)))

    __hash__ = object.__hash__

    # ----------------------------------------------------------------- backward
    def backward(self, gradient=None, retain_graph=None, create_graph: bool = False,
                 inputs=None) -> None:
        """Backpropagate: accumulate d(self)/d(leaf) * gradient into every leaf's ``.grad``.

        ``gradient`` may be omitted only for a one-element tensor (it defaults to 1). The graph
        walked is freed afterwards unless ``retain_graph=True`` (default: ``create_graph``); a
        second backward through a freed graph raises ``RuntimeError``. ``create_graph=True``
        records the backward pass itself, so the ``.grad`` tensors can be differentiated again.
        ``inputs``: accumulate only into these tensors' ``.grad`` (leaves or not).
        """
        _graph.tensor_backward(self, gradient, retain_graph, bool(create_graph), inputs)

    # ----------------------------------------------------------------- operators
    # An integer or bool tensor meeting a Python float (or in a true division) is first cast to
    # the default float dtype, as torch promotes (``_ops._lift``); float tensors skip the call.
    def __add__(self, other):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, other)
        return _ops.add(self, other)

    __radd__ = __add__  # a + b = b + a

    def __sub__(self, other):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, other)
        return _ops.sub(self, other)

    def __rsub__(self, other):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, other)
        return _ops.rsub(self, other)

    def __mul__(self, other):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, other)
        return _ops.mul(self, other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, other, True)
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, other, True)
        return _ops.rdiv(self, other)

    def __pow__(self, exponent):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, exponent)
        return _ops.pow(self, exponent)

    def __rpow__(self, base):
        if self._data.dtype.kind != "f":
            self = _ops._lift(self, base)
        return _ops.rpow(self, base)

    def __neg__(self):
        return _ops.neg(self)

    def __abs__(self):
        return _ops.abs(self)

    def __matmul__(self, other):
        return _ops.matmul(self, other)

    def __rmatmul__(self, other):
        return _ops.matmul(other, self)

    def __getitem__(self, index):
        return _ops.getitem(self, index)

    # bool and integer operators (not differentiable, except %, as torch)
    def __and__(self, other):
        return _ops.bitwise_and(self, other)

    def __rand__(self, other):
        return _ops.bitwise_and(other, self)

    def __or__(self, other):
        return _ops.bitwise_or(self, other)

    def __ror__(self, other):
        return _ops.bitwise_or(other, self)

    def __xor__(self, other):
        return _ops.bitwise_xor(self, other)

    def __rxor__(self, other):
        return _ops.bitwise_xor(other, self)

    def __invert__(self):
        return _ops.bitwise_not(self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __setitem__(self, index, value):
        """``x[index] = value`` in place (differentiable for a tensor in a graph: the overwritten
        entries pass no gradient back, ``value`` gets the gradient of its entries)."""
        _inplace(self, "setitem", lambda t: _ops.index_put(t, index, value), (value,))

    # in-place arithmetic: the tensor's own array changes (see the module docstring)
    def __iadd__(self, other):
        return _inplace(self, "add_", lambda t: _ops.add(t, other), (other,))

    def __isub__(self, other):
        return _inplace(self, "sub_", lambda t: _ops.sub(t, other), (other,))

    def __imul__(self, other):
        return _inplace(self, "mul_", lambda t: _ops.mul(t, other), (other,))

    def __itruediv__(self, other):
        return _inplace(self, "div_", lambda t: _ops.div(t, other), (other,))

    def add_(self, other, alpha=1):
        """self += alpha · other, in place."""
        return _inplace(self, "add_", lambda t: _ops.add(t, _scaled(other, alpha)), (other,))

    def sub_(self, other, alpha=1):
        """self −= alpha · other, in place."""
        return _inplace(self, "sub_", lambda t: _ops.sub(t, _scaled(other, alpha)), (other,))

    mul_ = __imul__
    div_ = __itruediv__

    def clamp_(self, min=None, max=None):
        return _inplace(self, "clamp_", lambda t: _ops.clip(t, min, max), (min, max))

    def zero_(self):
        """Set every element to 0, in place."""
        return _inplace(self, "zero_", lambda t: _ops.index_put(t, Ellipsis, 0))

    def fill_(self, value):
        """Set every element to ``value``, in place."""
        return _inplace(self, "fill_", lambda t: _ops.index_put(t, Ellipsis, value), (value,))

    def copy_(self, source):
        """Copy ``source``'s values (broadcast to this shape, cast to this dtype) in place."""
        return _inplace(self, "copy_", lambda t: _ops.index_put(t, Ellipsis, source), (source,))

    # comparisons give boolean tensors of the data: they are not differentiable. Tensors still
    # hash by identity, so they key dicts and sets (membership tests on lists compare with ==)
    def __eq__(self, other):
        return Tensor._wrap(np.asarray(self._data == _data_of(other)))

    def __ne__(self, other):
        return Tensor._wrap(np.asarray(self._data != _data_of(other)))

    def __lt__(self, other):
        return Tensor._wrap(self._data < _data_of(other))

    def __le__(self, other):
        return Tensor._wrap(self._data <= _data_of(other))

    def __gt__(self, other):
        return Tensor._wrap(self._data > _data_of(other))

    def __ge__(self, other):
        return Tensor._wrap(self._data >= _data_of(other))

    # ----------------------------------------------------------------- method forms of ops
    def add(self, other, alpha=1):
        """self + alpha · other."""
        return _ops.add(self, _scaled(other, alpha))

    def sub(self, other, alpha=1):
        """self − alpha · other."""
        return _ops.sub(self, _scaled(other, alpha))

    def mul(self, other):
        return _ops.mul(self, other)

    def div(self, other):
        return _ops.div(self, other)

    def matmul(self, other):
        return _ops.matmul(self, other)

    def pow(self, exponent):
        return _ops.pow(self, exponent)

    # dtype= casts first (as torch's sum/mean); out= is NumPy's, here only so that np.mean(t),
    # np.sum(t), np.max(t) work on tensors (they call these methods)
    def sum(self, axis=None, keepdims=None, *, dim=None, keepdim=None, dtype=None, out=None):
        source = _numpy_call_args(self, "sum", dtype, out)
        return _ops.sum(source, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims=None, *, dim=None, keepdim=None, dtype=None, out=None):
        source = _numpy_call_args(self, "mean", dtype, out)
        return _ops.mean(source, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, dim=None, keepdim=None, *, axis=None, keepdims=None, out=None):
        """``max()``/``max(axis=...)``: the reduced tensor; ``max(dim)``: ``(values, indices)``."""
        _numpy_call_args(self, "max", None, out)
        return _ops.max(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def min(self, dim=None, keepdim=None, *, axis=None, keepdims=None, out=None):
        """``min()``/``min(axis=...)``: the reduced tensor; ``min(dim)``: ``(values, indices)``."""
        _numpy_call_args(self, "min", None, out)
        return _ops.min(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def argmax(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _ops.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _ops.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def exp(self):
        return _ops.exp(self)

    def log(self):
        return _ops.log(self)

    def sqrt(self):
        return _ops.sqrt(self)

    def sin(self):
        return _ops.sin(self)

    def cos(self):
        return _ops.cos(self)

    def abs(self):
        return _ops.abs(self)

    def clip(self, min=None, max=None):
        return _ops.clip(self, min, max)

    clamp = clip

    def clamp_min(self, min):
        return _ops.clip(self, min, None)

    def clamp_max(self, max):
        return _ops.clip(self, None, max)

    def reshape(self, *shape):
        return _ops.reshape(self, _shape_of(shape))

    def view(self, *shape):
        """torch's ``view``: ``reshape`` (a view of the same memory when NumPy can make one)."""
        return _ops.reshape(self, _shape_of(shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        return _ops.flatten(self, start_dim, end_dim)

    def unsqueeze(self, dim: int):
        return _ops.unsqueeze(self, dim)

    def squeeze(self, dim=None):
        return _ops.squeeze(self, dim)

    def permute(self, *dims):
        """Reorder all axes: ``x.permute(2, 0, 1)`` (NumPy's ``transpose(axes)``)."""
        return _ops.permute(self, _shape_of(dims))

    def transpose(self, dim0: int, dim1: int):
        """Swap two axes, as torch (``x.transpose(0, 1)``); ``permute`` reorders all of them."""
        return _ops.transpose(self, dim0, dim1)

    def t(self):
        """The transpose of a matrix (0-D and 1-D tensors come back as they are), as torch."""
        if self.ndim > 2:
            raise ValueError(f"t: expects a tensor with at most 2 dimensions, got shape "
                             f"{self.shape}; use transpose(dim0, dim1) or permute(...)")
        return _ops.permute(self, None)

    @property
    def T(self):
        """All axes reversed (a matrix's transpose)."""
        return _ops.permute(self, None)

    def sigmoid(self):
        return _activations.sigmoid(self)

    def tanh(self):
        return _activations.tanh(self)

    def relu(self):
        return _activations.relu(self)

    def softmax(self, axis=None, *, dim=None):
        return _activations.softmax(self, axis, dim=dim)

    def log_softmax(self, axis=None, *, dim=None):
        return _activations.log_softmax(self, axis, dim=dim)

    # torch's surface: statistics, maths, linear algebra, indexing and shape (issue 20 item 4)
    def var(self, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None,
            keepdims=None, ddof=None, dtype=None, out=None):
        """Variance, unbiased by default as torch (``unbiased=False``/``correction=0`` for the
        population variance; NumPy's ``ddof=`` is accepted, so ``np.var(t)`` stays NumPy's)."""
        source = _numpy_call_args(self, "var", dtype, out)
        return _ops.var(source, dim, unbiased, keepdim, correction=correction, axis=axis,
                        keepdims=keepdims, ddof=ddof)

    def std(self, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None,
            keepdims=None, ddof=None, dtype=None, out=None):
        """Standard deviation, unbiased by default as torch (see ``var``)."""
        source = _numpy_call_args(self, "std", dtype, out)
        return _ops.std(source, dim, unbiased, keepdim, correction=correction, axis=axis,
                        keepdims=keepdims, ddof=ddof)

    def norm(self, p="fro", dim=None, keepdim=False):
        return _ops.norm(self, p, dim, keepdim)

    def logsumexp(self, dim, keepdim=False):
        return _ops.logsumexp(self, dim, keepdim)

    def cumsum(self, dim, *, dtype=None):
        return _ops.cumsum(self, dim, dtype=dtype)

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        return _ops.prod(self, dim, keepdim, dtype=dtype)

    def log10(self):
        return _ops.log10(self)

    def log2(self):
        return _ops.log2(self)

    def log1p(self):
        return _ops.log1p(self)

    def expm1(self):
        return _ops.expm1(self)

    def rsqrt(self):
        return _ops.rsqrt(self)

    def square(self):
        return _ops.square(self)

    def sign(self):
        return _ops.sign(self)

    def floor(self):
        return _ops.floor(self)

    def ceil(self):
        return _ops.ceil(self)

    def round(self, decimals: int = 0):
        return _ops.round(self, decimals)

    def __round__(self, ndigits=None):
        """``round(t)``: a one-element tensor as a Python number, as torch."""
        value = self.item()
        return round(value) if ndigits is None else round(value, ndigits)

    def trunc(self):
        return _ops.trunc(self)

    def flip(self, *dims):
        return _ops.flip(self, _shape_of(dims))

    def dot(self, other):
        return _ops.dot(self, other)

    def mm(self, other):
        return _ops.mm(self, other)

    def bmm(self, other):
        return _ops.bmm(self, other)

    def outer(self, other):
        return _ops.outer(self, other)

    def where(self, condition, other):
        """``self`` where ``condition`` is True, else ``other`` (torch's ``x.where(c, y)``)."""
        return _ops.where(condition, self, other)

    def masked_fill(self, mask, value):
        return _ops.masked_fill(self, mask, value)

    def masked_fill_(self, mask, value):
        """Set the elements where ``mask`` is True to ``value``, in place."""
        return _inplace(self, "masked_fill_", lambda t: _ops.masked_fill(t, mask, value),
                        (value,))

    def gather(self, dim, index):
        return _ops.gather(self, dim, index)

    def scatter(self, dim, index, src=None, *, value=None):
        return _ops.scatter(self, dim, index, src, value=value)

    def scatter_(self, dim, index, src=None, *, value=None):
        """``scatter`` in place."""
        return _inplace(self, "scatter_", lambda t: _ops.scatter(t, dim, index, src,
                                                                 value=value), (src,))

    def scatter_add(self, dim, index, src):
        return _ops.scatter_add(self, dim, index, src)

    def scatter_add_(self, dim, index, src):
        """``scatter_add`` in place."""
        return _inplace(self, "scatter_add_", lambda t: _ops.scatter_add(t, dim, index, src),
                        (src,))

    def index_select(self, dim, index):
        return _ops.index_select(self, dim, index)

    def sort(self, dim=-1, descending=False, stable=False):
        return _ops.sort(self, dim, descending, stable)

    def argsort(self, dim=-1, descending=False, stable=False):
        return _ops.sort(self, dim, descending, stable).indices

    def topk(self, k, dim=-1, largest=True, sorted=True):
        return _ops.topk(self, k, dim, largest, sorted)

    def expand(self, *sizes):
        return _ops.expand(self, *sizes)

    def expand_as(self, other):
        return _ops.expand(self, other.shape)

    def repeat(self, *sizes):
        return _ops.repeat(self, *sizes)

    def split(self, split_size, dim=0):
        return _ops.split(self, split_size, dim)

    def chunk(self, chunks, dim=0):
        return _ops.chunk(self, chunks, dim)

    def dim(self) -> int:
        """The number of dimensions (``ndim``), as torch."""
        return self._data.ndim

    def nelement(self) -> int:
        """The number of elements (``numel``), as torch."""
        return self._data.size

    floor_divide = __floordiv__
    remainder = __mod__

    def logical_not(self):
        return _ops.logical_not(self)

    def logical_and(self, other):
        return _ops.logical_and(self, other)

    def logical_or(self, other):
        return _ops.logical_or(self, other)

    def logical_xor(self, other):
        return _ops.logical_xor(self, other)

    def any(self, dim=None, keepdim=None, *, axis=None, keepdims=None, out=None):
        _numpy_call_args(self, "any", None, out)
        return _ops.any(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def all(self, dim=None, keepdim=None, *, axis=None, keepdims=None, out=None):
        _numpy_call_args(self, "all", None, out)
        return _ops.all(self, dim, keepdim, axis=axis, keepdims=keepdims)

    def amax(self, dim=None, keepdim=False):
        """The maximum over ``dim`` (all if None), its gradient shared among ties."""
        return _ops.max(self, axis=dim, keepdims=keepdim)

    def amin(self, dim=None, keepdim=False):
        """The minimum over ``dim`` (all if None), its gradient shared among ties."""
        return _ops.min(self, axis=dim, keepdims=keepdim)

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def isnan(self):
        return _ops.isnan(self)

    def isinf(self):
        return _ops.isinf(self)

    def isfinite(self):
        return _ops.isfinite(self)

    def maximum(self, other):
        return _ops.maximum(self, other)

    def minimum(self, other):
        return _ops.minimum(self, other)

    def neg(self):
        return _ops.neg(self)

    def reciprocal(self):
        """1 / self; derivative −1/self²."""
        return _ops.rdiv(_ops._lift(self, 1, True), 1)

    def tril(self, diagonal=0):
        return _ops.tril(self, diagonal)

    def triu(self, diagonal=0):
        return _ops.triu(self, diagonal)

    def unbind(self, dim=0):
        return _ops.unbind(self, dim)

    def masked_select(self, mask):
        return _ops.masked_select(self, mask)

    def nonzero(self, *, as_tuple=False):
        return _ops.nonzero(self, as_tuple)

    def count_nonzero(self, dim=None):
        return _ops.count_nonzero(self, dim)

    def allclose(self, other, rtol=1e-5, atol=1e-8, equal_nan=False) -> bool:
        return _ops.allclose(self, other, rtol, atol, equal_nan)

    def equal(self, other) -> bool:
        return _ops.equal(self, other)

    def tile(self, *dims):
        """``repeat`` with missing leading counts taken as 1, as torch.tile."""
        dims = _shape_of(dims)
        return _ops.repeat(self, (1,) * (self.ndim - len(dims)) + tuple(dims))

    def view_as(self, other):
        return self.view(other.shape)

    def reshape_as(self, other):
        return self.reshape(other.shape)

    def type_as(self, other):
        return self.to(other.dtype)

    def new_zeros(self, *size, dtype=None, requires_grad=False):
        """Zeros of ``size`` in this tensor's dtype (unless ``dtype`` says)."""
        return zeros(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_ones(self, *size, dtype=None, requires_grad=False):
        """Ones of ``size`` in this tensor's dtype (unless ``dtype`` says)."""
        return ones(*size, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_full(self, size, fill_value, *, dtype=None, requires_grad=False):
        """``fill_value`` in ``size``, in this tensor's dtype (unless ``dtype`` says)."""
        return full(size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def new_tensor(self, data, *, dtype=None, requires_grad=False):
        """A tensor of ``data`` in this tensor's dtype (unless ``dtype`` says)."""
        return Tensor(data, dtype=dtype or self.dtype, requires_grad=requires_grad)

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def cpu(self):
        """This tensor: steepest computes on the CPU only."""
        return self

    def contiguous(self):
        """This tensor (NumPy handles any memory layout)."""
        return self

    def __contains__(self, element) -> bool:
        """``value in t``: whether any element equals ``value``, as torch."""
        return bool(np.any(self._data == _data_of(element)))

    def __deepcopy__(self, memo):
        """``copy.deepcopy``: a new leaf with copied values (a Parameter stays a Parameter),
        as torch; only leaves can be copied, a computed tensor names ``detach()``."""
        if not self.is_leaf:
            raise RuntimeError("deepcopy: only tensors created by the user (graph leaves) "
                               "support the deepcopy protocol; deepcopy x.detach() instead")
        if id(self) in memo:
            return memo[id(self)]
        out = object.__new__(type(self))
        Tensor.__init__(out, self._data.copy(), requires_grad=self.requires_grad)
        if self._grad is not None:
            out._grad = self._grad.copy()
        out.name = self.name
        memo[id(self)] = out
        return out


def _numpy_call_args(t: Tensor, op: str, dtype, out) -> Tensor:
    if out is not None:
        raise TypeError(f"{op}: out= is not supported; use the returned tensor")
    return t if dtype is None else t.to(dtype)


def _scaled(other, alpha):
    return other if alpha == 1 else other * alpha


def _share_version(view: Tensor, base: Tensor) -> None:
    """Let ``view`` (whose data is a view of ``base``'s) share ``base``'s version counter."""
    if base._versions is None:
        base._versions = [0, 0, 0]
    view._versions = base._versions
    view._base = base if base._base is None else base._base


def _inplace(target: Tensor, name: str, compute, operands=()) -> Tensor:
    """Replace ``target``'s values by ``compute(target)`` in its own array, as torch's in-place
    ops do, and bump its version counter.

    When a graph is being recorded (the target or an operand requires grad), ``compute`` runs
    on a copy that takes over the target's history, and the target becomes the new node.
    """
    if not _grad_mode.enabled or not (target.requires_grad or any(
            isinstance(o, Tensor) and o.requires_grad for o in operands)):
        result = compute(target)
    else:
        if target.requires_grad and not target._op:
            raise RuntimeError(
                f"{name}: a leaf Variable that requires grad is being used in an in-place "
                f"operation. Change it under `with st.no_grad():` (as an optimizer step "
                f"does), or write x = x + ... to make a new tensor")
        if target._base is not None:
            raise RuntimeError(
                f"{name}: this tensor is a view of another tensor (from reshape, indexing, "
                f"permute or detach), and an in-place change recorded for gradients would "
                f"change that tensor behind its history; .clone() it first")
        source = Tensor._wrap(target._data.copy())
        source.requires_grad = target.requires_grad
        _move_history(target, source)
        result = compute(source)
    _write(target, name, result._data)
    if result._op:
        _move_history(result, target)
        target.requires_grad = True
    bump_version(target)
    return target


def _move_history(source: Tensor, target: Tensor) -> None:
    """Make ``target`` the node ``source`` was (its op, inputs, backward and their checks)."""
    target._parents, target._backward, target._op = source._parents, source._backward, source._op
    target._recorded_at, target._saved_output = source._recorded_at, source._saved_output


#: In-place changes made so far, to any tensor: the clock of the version checks. An op records
#: the count when it runs; if it is unchanged at its backward, nothing changed in between and
#: the check is one comparison (the usual forward, backward, step loop).
_changes = [0]


def bump_version(tensor: Tensor) -> None:
    """Record that ``tensor``'s values changed in place (an in-place op, an optimizer step), so
    that a backward through a graph that saved its old values raises instead of using new ones.

    ``tensor._versions`` (shared with its views) is [version, the change count at its last
    change, the change count at the change before].
    """
    bump_versions((tensor,))


def bump_versions(tensors) -> None:
    """:func:`bump_version` for tensors changed together (an optimizer step): one tick."""
    _changes[0] += 1
    now = _changes[0]
    for tensor in tensors:
        versions = tensor._versions
        if versions is None:
            tensor._versions = [1, now, 0]
        else:
            versions[0] += 1
            versions[2] = versions[1]
            versions[1] = now


def _check_unchanged(node: Tensor) -> None:
    """Raise if an input of ``node``'s op (or the output its backward reads) changed in place
    since the op ran: the backward would compute with the new values, a wrong gradient.

    Stricter than torch in one way: torch checks only the tensors a node saved, steepest
    every input, because the graph links tensors (not nodes) and an input rewritten in place
    carries a new history; such graphs are refused with the same message, never answered wrong.
    """
    recorded = node._recorded_at
    for parent in node._parents:
        if parent._versions is not None and parent._versions[1] > recorded:
            raise _modified_error(node._op, parent, recorded, "an input")
    output = node._saved_output
    if output is not None and output._versions is not None and output._versions[1] > recorded:
        raise _modified_error(node._op, output, recorded, "the output")


def _modified_error(op: str, tensor: Tensor, recorded: int, role: str) -> RuntimeError:
    version, _, before = tensor._versions
    expected = (f"expected version {version - 1} instead" if before <= recorded else
                "expected an earlier version (it changed more than once since)")
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: {role} of {op}, a tensor of shape {tensor.shape} and dtype "
        f"{tensor.dtype}, is at version {version}; {expected}. Hint: use the out-of-place "
        f"form (x = x + 1, not x += 1), or .clone() the tensor before changing it in place")


def _write(target: Tensor, name: str, values: np.ndarray) -> None:
    """Copy ``values`` into ``target.data`` in place, with torch's rules for shape and dtype."""
    if values.shape != target.shape:
        raise RuntimeError(f"{name}: the result has shape {values.shape}, which does not match "
                           f"this tensor's shape {target.shape}; an in-place op cannot change "
                           f"the shape (write x = x + y to broadcast into a new tensor)")
    try:
        np.copyto(target._data, values, casting="same_kind")
    except TypeError:
        raise TypeError(f"{name}: result type {values.dtype} can't be cast to this tensor's "
                        f"dtype {target.dtype} in place; convert first, e.g. x = x.to("
                        f"st.float64)") from None
    except ValueError as error:
        raise ValueError(f"{name}: cannot write into this tensor's data ({error})") from None


def _data_of(value):
    return value._data if isinstance(value, Tensor) else value


def _consumer_counts(roots) -> dict:
    """For each node that needs a gradient, the number of recorded uses that send it one.

    A node's gradient is complete once every op that used it (counted once per use) has run
    its backward: these counts are the whole topological sort (Kahn's algorithm). One dict
    entry per node, iterative, and a straight chain costs one lookup per node.
    """
    counts = dict.fromkeys(roots, 0)  # tensors hash by identity, so they key dicts
    stack = list(counts)
    while stack:
        for parent in stack.pop()._parents:
            if parent.requires_grad:
                if parent in counts:
                    counts[parent] += 1
                else:
                    counts[parent] = 1
                    stack.append(parent)
    return counts


def _needed_counts(roots, inputs) -> dict:
    """``_consumer_counts`` restricted to the nodes through which a gradient reaches one of
    ``inputs`` (``autograd.grad`` and ``backward(inputs=...)`` run no other backward)."""
    counts = _consumer_counts(roots)
    remaining, order = dict(counts), []
    ready = [node for node, count in counts.items() if not count]
    while ready:  # a dry run of Kahn's algorithm: consumers before the nodes they use
        node = ready.pop()
        order.append(node)
        for parent in node._parents:
            if parent.requires_grad:
                remaining[parent] -= 1
                if not remaining[parent]:
                    ready.append(parent)
    needed = set(inputs)
    for node in reversed(order):
        if node not in needed and any(parent in needed for parent in node._parents):
            needed.add(node)
    kept = {node: 0 for node in counts if node in needed}
    for node in kept:
        for parent in node._parents:
            if parent in kept:
                kept[parent] += 1
    return kept


# Tensor hooks and retain_grad() live outside the slots, in weak tables: a backward pass
# looks at them only while some tensor has one, so the usual pass pays nothing for them.
class _ByTensor(dict):
    """A table keyed by tensor identity (``id`` -> (weak reference, value)) that forgets a
    tensor when it is collected (weakref's own tables compare keys with ``==``, which is
    elementwise for tensors). Empty, it is falsy at C speed: the reverse pass asks that."""

    def value(self, tensor, default=None):
        entry = dict.get(self, id(tensor))
        return entry[1] if entry is not None and entry[0]() is tensor else default

    def holds(self, tensor) -> bool:
        return self.value(tensor, self) is not self

    def add(self, tensor, value):
        """``tensor``'s value, after storing ``value`` for it if it had none."""
        if not self.holds(tensor):
            key = id(tensor)
            self[key] = (weakref.ref(tensor, lambda _: self.pop(key, None)), value)
        return self.value(tensor)


_hooks = _ByTensor()     # tensor -> {handle id: fn}
_retained = _ByTensor()  # non-leaf tensors that keep their .grad -> True


def _apply_hooks(node: Tensor, grad, create_graph: bool):
    """Run ``node``'s hooks on its gradient, in the order registered; a hook that returns a
    tensor replaces the gradient (with the same shape)."""
    for fn in tuple(_hooks.value(node, {}).values()):
        result = fn(grad if isinstance(grad, Tensor) else Tensor._wrap(grad))
        if result is None:
            continue
        if np.shape(result) != node.shape:
            raise RuntimeError(f"hook {getattr(fn, '__name__', fn)!r} returned a gradient of "
                               f"shape {np.shape(result)}; expected shape {node.shape}")
        if create_graph:
            grad = result if isinstance(result, Tensor) else Tensor._wrap(np.asarray(result))
        else:
            grad = np.asarray(_data_of(result), dtype=node._data.dtype)
    return grad


def _accumulate(node: Tensor, grad, assigned: set) -> None:
    """Add ``grad`` into ``node``'s ``.grad``. On the ndarray path the tensor owns its array
    (no view, no buffer shared with another tensor); under create_graph it is a tensor with a
    graph, a differentiable copy at first and a differentiable sum after (as torch)."""
    if isinstance(grad, Tensor):
        total = _ops.clone(grad) if node._grad is None else node.grad + grad
        node._grad, node._grad_tensor = total._data, total
        return
    if (id(grad) in assigned or not isinstance(grad, np.ndarray) or grad.base is not None
            or not grad.flags.writeable):
        grad = np.array(grad)
    assigned.add(id(grad))
    node._grad = grad if node._grad is None else node._grad + grad


def _freed_error(op: str) -> RuntimeError:
    return RuntimeError(
        f"backward: trying to backward through the graph a second time: the graph through "
        f"'{op}' was already freed by an earlier backward(). Call backward(retain_graph=True) "
        f"the first time if you need to backpropagate through the same graph twice")


def _run_backward(roots, seeds, retain_graph: bool, create_graph: bool = False,
                  inputs=None, accumulate: bool = True, observe=None):
    """Send ``seeds`` back from ``roots``: each node runs once, when all its consumers have.

    ``inputs=None``: every leaf (and tensor that called ``retain_grad()``) accumulates its
    ``.grad``. Otherwise only the nodes leading to ``inputs`` run; with ``accumulate`` their
    ``.grad`` accumulates (``backward(inputs=...)``), without it the gradients are returned,
    one per input, None where unreached (``autograd.grad``). ``create_graph``: the seeds are
    tensors and every backward runs on tensors under grad mode, so that it is recorded too.
    ``observe(node, grad, parent_grads)`` sees every node's complete gradient and what its
    backward sent to each parent (None for a leaf); ``st.viz.graph`` draws from it, with
    ``accumulate=False`` and without hooks.
    """
    for root in roots:
        if root._backward is None and root._op:
            raise _freed_error(root._op)
    pending = _consumer_counts(roots) if inputs is None else _needed_counts(roots, inputs)
    grads = {}
    for root, seed in zip(roots, seeds):
        if root in pending:
            grads[root] = seed if root not in grads else grads[root] + seed
    targets = None if inputs is None else set(inputs)
    found = {}
    hooked = (_hooks or _retained) and observe is None
    assigned = set()  # ids of arrays already handed to a tensor's .grad in this pass
    ready = []
    for root in grads:
        if not pending[root]:
            ready.append(root)
    finished = 0
    switch = create_graph or hooked  # backward closures of arrays record nothing anyway
    if switch:  # grad mode during the pass is create_graph's, as in torch
        previous = _grad_mode.enabled
        _grad_mode.enabled = create_graph
    try:
        while ready:
            node = ready.pop()
            finished += 1
            grad = grads.pop(node, None)
            parents = node._parents
            if grad is not None:
                if hooked:
                    grad = _apply_hooks(node, grad, create_graph)
                    if accumulate and targets is None and node._op and _retained.holds(node):
                        _accumulate(node, grad, assigned)
                if targets is not None and node in targets:
                    if accumulate:
                        _accumulate(node, grad, assigned)
                    else:
                        found[node] = grad
                backward = node._backward
                if backward is None:
                    if node._op:
                        raise _freed_error(node._op)
                    if observe is not None:
                        observe(node, grad, None)
                    elif targets is None:
                        _accumulate(node, grad, assigned)
                    continue
                if targets is None or any(parent in pending for parent in parents):
                    if node._recorded_at != _changes[0]:
                        _check_unchanged(node)
                    sent = backward(grad)
                    for parent, parent_grad in zip(parents, sent):
                        if parent_grad is None or not parent.requires_grad or (
                                targets is not None and parent not in pending):
                            continue
                        if create_graph and not isinstance(parent_grad, Tensor):
                            raise _not_recorded(node._op)
                        existing = grads.get(parent)
                        grads[parent] = parent_grad if existing is None else \
                            existing + parent_grad
                    if observe is not None:
                        observe(node, grad, sent)
                    if not retain_graph:
                        node._backward = node._saved_output = None
                        node._parents = ()
            for parent in parents:  # with inputs=, only the parents that lead to them count
                if parent.requires_grad and (targets is None or parent in pending):
                    pending[parent] -= 1
                    if not pending[parent]:
                        ready.append(parent)
    finally:
        if switch:
            _grad_mode.enabled = previous
    if finished < len(pending):
        raise _stuck_error(pending)
    return None if inputs is None else [found.get(t) for t in inputs]


def _stuck_error(pending: dict) -> RuntimeError:
    stuck = sorted({node._op or "leaf" for node, count in pending.items() if count})
    return RuntimeError(
        "backward: one of the variables needed for gradient computation has been modified "
        "by an inplace operation: the graph loops back through a tensor changed in place "
        f"(ops waiting on it: {', '.join(stuck)}), so no order of the chain rule exists; "
        "clone() the tensor before changing it in place")


def _run_plain(root: Tensor, seed: np.ndarray, retain_graph: bool) -> None:
    """``_run_backward`` for the training loop's ``loss.backward()``: one root, ndarrays, every
    leaf's ``.grad``, no hooks. The same walk without the general one's branches, which cost
    a tenth of a small net's step."""
    if root._backward is None and root._op:
        raise _freed_error(root._op)
    pending = _consumer_counts((root,))
    grads = {root: seed}
    assigned = set()
    ready = [root]
    finished = 0
    while ready:
        node = ready.pop()
        finished += 1
        grad = grads.pop(node, None)
        parents = node._parents
        if grad is not None:
            backward = node._backward
            if backward is None:  # a leaf: _accumulate's array branch, inlined (hot loop)
                if node._op:
                    raise _freed_error(node._op)
                if (id(grad) in assigned or not isinstance(grad, np.ndarray)
                        or grad.base is not None or not grad.flags.writeable):
                    grad = np.array(grad)
                assigned.add(id(grad))
                node._grad = grad if node._grad is None else node._grad + grad
                continue
            if node._recorded_at != _changes[0]:  # something changed in place since the forward
                _check_unchanged(node)
            for parent, parent_grad in zip(parents, backward(grad)):
                if parent_grad is None or not parent.requires_grad:
                    continue
                existing = grads.get(parent)
                grads[parent] = parent_grad if existing is None else existing + parent_grad
            if not retain_graph:
                node._backward = node._saved_output = None
                node._parents = ()
        for parent in parents:
            if parent.requires_grad:
                pending[parent] -= 1
                if not pending[parent]:
                    ready.append(parent)
    if finished < len(pending):
        raise _stuck_error(pending)


def _not_recorded(op: str) -> NotImplementedError:
    return NotImplementedError(
        f"backward(create_graph=True): the backward of '{op}' is not differentiable yet (it "
        f"computed on arrays); differentiate once, without create_graph, or use ops whose "
        f"backward is recorded")


# ------------------------------------------------------------------------ constructors
def tensor(data, requires_grad: bool = False, dtype=None, *, device=None) -> Tensor:
    """Make a tensor from data (copied). Python floats become the default dtype (float32) unless
    ``dtype`` says, ints int64, bools bool (a mask); NumPy arrays keep theirs (float64 stays
    float64), as torch."""
    _cpu_only(device, "tensor")
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _cpu_only(device, who: str) -> None:
    if device is not None:
        check_device(device, who)


def _shape_of(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def zeros(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _cpu_only(device, "zeros")
    return Tensor(np.zeros(_shape_of(shape), dtype=dtype or _default_dtype),
                  requires_grad=requires_grad)


def ones(*shape, dtype=None, requires_grad: bool = False, device=None) -> Tensor:
    _cpu_only(device, "ones")
    return Tensor(np.ones(_shape_of(shape), dtype=dtype or _default_dtype),
                  requires_grad=requires_grad)


def _dtype_of_value(value) -> np.dtype:
    """torch's dtype for a fill value: bool, int64 for integers, the default float dtype."""
    if isinstance(value, Tensor):
        return value.dtype
    if isinstance(value, (bool, np.bool_)):
        return np.dtype(np.bool_)
    if isinstance(value, (numbers.Integral, np.integer)):
        return np.dtype(np.int64)
    if isinstance(value, np.floating):
        return np.dtype(value.dtype)
    return _default_dtype


def full(shape, value, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    """A tensor of ``shape`` filled with ``value``, in the dtype torch infers from it (bool,
    int64, or the default float dtype) unless ``dtype`` says."""
    _cpu_only(device, "full")
    shape = (shape,) if isinstance(shape, (numbers.Integral, np.integer)) else tuple(shape)
    return Tensor(np.full(shape, _data_of(value), dtype=dtype or _dtype_of_value(value)),
                  requires_grad=requires_grad)


def zeros_like(t: Tensor, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    """Zeros of ``t``'s shape and (unless ``dtype`` says) dtype."""
    _cpu_only(device, "zeros_like")
    return Tensor(np.zeros_like(_data_of(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Tensor, dtype=None, requires_grad: bool = False, *, device=None) -> Tensor:
    """Ones of ``t``'s shape and (unless ``dtype`` says) dtype."""
    _cpu_only(device, "ones_like")
    return Tensor(np.ones_like(_data_of(t), dtype=dtype), requires_grad=requires_grad)


def full_like(t: Tensor, value, dtype=None, requires_grad: bool = False, *,
              device=None) -> Tensor:
    """``value`` in ``t``'s shape and (unless ``dtype`` says) dtype, as torch.full_like."""
    _cpu_only(device, "full_like")
    return Tensor(np.full_like(_data_of(t), _data_of(value), dtype=dtype),
                  requires_grad=requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False, *,
           device=None) -> Tensor:
    """Values start, start + step, ... below end (``arange(n)`` counts 0 … n−1), as torch:
    int64 for integer arguments, the default float dtype if any argument is a float."""
    _cpu_only(device, "arange")
    if end is None:
        start, end = 0, start
    if dtype is None and any(isinstance(v, (float, np.floating)) for v in (start, end, step)):
        dtype = _default_dtype
    return Tensor(np.arange(start, end, step, dtype=dtype), requires_grad=requires_grad)


def linspace(start, end, steps: int, dtype=None, requires_grad: bool = False, *,
             device=None) -> Tensor:
    """``steps`` evenly spaced values from start to end inclusive, computed as torch does:
    start + i·Δ for the first half, end − (steps−1−i)·Δ for the second half,
    Δ = (end − start)/(steps − 1)."""
    _cpu_only(device, "linspace")
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 0:
        raise ValueError(f"linspace: steps must be a non-negative int, got {steps!r}")
    i = np.arange(steps, dtype=np.float64)
    delta = (end - start) / (steps - 1) if steps > 1 else 0.0
    values = np.where(i < steps / 2, start + i * delta, end - (steps - 1 - i) * delta)
    return Tensor(values.astype(dtype or _default_dtype), requires_grad=requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor that shares ``array``'s memory (changes show on both sides) and keeps its dtype."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected a NumPy ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "fiub" or (array.dtype.kind == "f"
                                          and array.dtype not in _FLOAT_DTYPES):
        raise TypeError(f"from_numpy: arrays of dtype {array.dtype} are not supported; expected "
                        f"float32, float64, an integer or bool dtype")
    return Tensor._wrap(array)


def is_scalar(value) -> bool:
    """A Python or NumPy number: combined with a tensor without upcasting it."""
    return isinstance(value, numbers.Number) and not isinstance(value, bool) or \
        isinstance(value, np.generic)


from steepest import activations as _activations  # noqa: E402  (operators dispatch here)
from steepest.autograd import graph as _graph  # noqa: E402
from steepest import ops as _ops  # noqa: E402
from steepest import random as _random  # noqa: E402
