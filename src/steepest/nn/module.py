"""Module and Parameter: the containers that make a network's weights easy to find and save."""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Iterator

import numpy as np

from steepest.tensor import Tensor, bump_version

__all__ = ["Parameter", "Module", "IncompatibleKeys"]

#: What ``load_state_dict`` returns, as torch's ``_IncompatibleKeys``: the keys of the module
#: that the state dict lacked, and the keys of the state dict that the module does not have.
IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Parameter(Tensor):
    """A Tensor that is a learnable weight: requires grad by default, found by ``parameters()``.

    Its ``.data`` may be assigned or edited in place to set weights by hand; setting
    ``requires_grad = False`` (or ``requires_grad_(False)``) freezes it for every optimizer.
    """

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


def _check_entry(who: str, name, value, kind: type, expected: str) -> None:
    """``name`` a non-empty string without '.', ``value`` None or a ``kind``."""
    if not isinstance(name, str) or not name or "." in name:
        raise KeyError(f"{who}: name must be a non-empty string without '.', got {name!r}")
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"{who}: {name!r} must be {expected}, got {type(value).__name__}")


class Module:
    """Base class of layers and models: parameters and child modules registered by attribute.

    Subclasses set parameters and sub-modules as attributes in ``__init__`` and define
    ``forward``; calling the module calls ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call super().__init__() "
                                 f"before setting attribute {name!r}")
        if name in self._buffers:  # assigning a tensor (or None) to a buffer replaces it
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign a {type(value).__name__} to buffer {name!r} "
                                f"of {type(self).__name__} (a Tensor or None is expected)")
            self._buffers[name] = value
            object.__setattr__(self, name, value)
            return
        if isinstance(value, Parameter):  # a replaced entry keeps its place in the order
            self._modules.pop(name, None)
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._parameters.pop(name, None)
            self._modules[name] = value
        else:
            self._parameters.pop(name, None)
            self._modules.pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        self._buffers.pop(name, None)
        self._non_persistent_buffers.discard(name)
        object.__delattr__(self, name)

    def add_module(self, name: str, module) -> None:
        """Register ``module`` (a Module or None) as the child ``name``, as torch."""
        _check_entry("add_module", name, module, Module, "a Module")
        setattr(self, name, module)

    register_module = add_module

    def register_buffer(self, name: str, tensor, persistent: bool = True) -> None:
        """Keep ``tensor`` (e.g. BatchNorm's running mean) with the module: not a parameter
        (no gradient, no optimizer), but saved in ``state_dict`` (unless ``persistent=False``)
        and converted by ``to(dtype)``."""
        _check_entry("register_buffer", name, tensor, Tensor, "a Tensor or None")
        if name in self.__dict__ and name not in self._buffers:
            raise KeyError(f"register_buffer: attribute {name!r} already exists")
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ----------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, "Module"]]:
        """This module and every descendant, with dotted names (iterative, any depth)."""
        stack = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            yield name, module
            children = [(f"{name}.{child}" if name else child, m)
                        for child, m in module._modules.items()]
            stack.extend(reversed(children))

    def modules(self) -> Iterator["Module"]:
        """This module and every descendant, parents first."""
        for _, module in self.named_modules():
            yield module

    def children(self) -> Iterator["Module"]:
        """The direct sub-modules, in the order they were set."""
        yield from self._modules.values()

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        yield from self._modules.items()

    def apply(self, fn) -> "Module":
        """Call ``fn(module)`` on every descendant, children before parents (torch's order),
        then on self; returns self. E.g. ``model.apply(init_weights)``."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    def _named_once(self, table: str) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, tensor) pairs of every module's ``table`` (``_parameters`` or
        ``_buffers``), each tensor once even if shared, None entries skipped."""
        seen = set()
        for module_name, module in self.named_modules():
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_name}.{name}" if module_name else name), value

    def named_parameters(self) -> Iterator[tuple[str, Parameter]]:
        """(dotted name, parameter) pairs, each parameter once even if shared."""
        return self._named_once("_parameters")

    def parameters(self) -> Iterator[Parameter]:
        for _, param in self.named_parameters():
            yield param

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """(dotted name, buffer) pairs, each buffer once."""
        return self._named_once("_buffers")

    def buffers(self) -> Iterator[Tensor]:
        for _, buffer in self.named_buffers():
            yield buffer

    def _named_state(self) -> Iterator[tuple[str, Tensor]]:
        """Every parameter and persistent buffer by dotted name, as torch's state dict lists
        them: a module or tensor reachable twice (shared) appears under each name."""
        for module_name, module in self.named_modules():
            entries = list(module._parameters.items()) + [
                (name, buffer) for name, buffer in module._buffers.items()
                if name not in module._non_persistent_buffers]
            for name, value in entries:
                if value is not None:
                    yield (f"{module_name}.{name}" if module_name else name), value

    def num_parameters(self, trainable_only: bool = False) -> int:
        return sum(p._data.size for p in self.parameters()
                   if p.requires_grad or not trainable_only)

    # ----------------------------------------------------------------- modes and grads
    def train(self, mode: bool = True) -> "Module":
        """Training mode (Dropout active); returns self."""
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self) -> "Module":
        """Evaluation mode (Dropout off); returns self."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget accumulated gradients (set them to None, as torch does by default)."""
        for param in self.parameters():
            param._grad = None

    def requires_grad_(self, requires_grad: bool = True) -> "Module":
        """Freeze (False) or unfreeze (True) every parameter; returns self."""
        for param in self.parameters():
            param.requires_grad_(requires_grad)
        return self

    # ----------------------------------------------------------------- device and dtype
    def to(self, *args, **kwargs) -> "Module":
        """torch's ``to(device)`` / ``to(dtype)`` / ``to(device, dtype)``; returns self.

        steepest computes on the CPU only: device "cpu" is accepted (a no-op), any other
        device is an error. A float dtype converts every parameter in place (same Parameter
        objects, new arrays), like torch; do it before building the optimizer.
        """
        unknown = set(kwargs) - {"device", "dtype", "non_blocking", "copy"}
        if unknown:
            raise TypeError(f"Module.to: unexpected keyword arguments {sorted(unknown)}")
        dtype = kwargs.get("dtype")
        for value in (*args, kwargs.get("device")):
            if value is None:
                continue
            if _is_cpu(value):
                continue
            if _float_dtype(value) is not None:
                dtype = value
                continue
            raise ValueError(f"Module.to: device {value!r} is not available; steepest computes "
                             f"on the CPU only (use 'cpu' or leave out the device)")
        if dtype is not None:
            target = _float_dtype(dtype)
            if target is None:
                raise ValueError(f"Module.to: dtype must be float32 or float64, got {dtype!r}")
            for param in self.parameters():
                if param._grad is not None and param._grad.dtype != target:
                    param._grad = param._grad.astype(target)
                param._data = param._data.astype(target, copy=False)
            for buffer in self.buffers():
                if buffer.dtype.kind == "f":
                    buffer._data = buffer._data.astype(target, copy=False)
        return self

    def float(self) -> "Module":
        """Parameters in float32; returns self."""
        return self.to(np.float32)

    def double(self) -> "Module":
        """Parameters in float64; returns self."""
        return self.to(np.float64)

    def cpu(self) -> "Module":
        return self

    # ----------------------------------------------------------------- state
    def state_dict(self, *, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Every parameter and persistent buffer by dotted name, as torch: detached tensors
        that share memory with the module (editing one edits the model; take
        ``copy.deepcopy(model.state_dict())`` for a snapshot), or with ``keep_vars`` the
        parameters themselves. A module or parameter that is reachable twice appears under
        both names, so torch's state dicts load strictly."""
        return OrderedDict((prefix + name, value if keep_vars else value.detach())
                           for name, value in self._named_state())

    def load_state_dict(self, state: dict, strict: bool = True) -> IncompatibleKeys:
        """Copy values into the parameters and buffers in place, after checking names, shapes
        and dtypes; returns torch's ``(missing_keys, unexpected_keys)``.

        Every entry is checked and converted to its parameter's dtype first (numbers of a
        kind that converts safely: integers or floats into floats, not text or complex); a
        ValueError names every missing and unexpected key (when ``strict``) and every entry
        that does not fit, and nothing is changed unless everything fits.
        """
        if not hasattr(state, "keys"):
            raise TypeError(f"load_state_dict for {type(self).__name__}: state must be a dict "
                            f"of arrays by parameter name, got {type(state).__name__}")
        own = dict(self._named_state())
        missing = [k for k in own if k not in state]
        unexpected = [k for k in state if k not in own]
        problems, converted = [], {}
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        for name, param in own.items():
            if name not in state:
                continue
            value = _array_of(state[name])
            if value is None or not np.can_cast(value.dtype, param.dtype, casting="same_kind"):
                got = type(state[name]).__name__ if value is None else f"dtype {value.dtype}"
                problems.append(f"{name}: checkpoint has {got}, model needs numbers for "
                                f"dtype {param.dtype}")
            elif value.shape != param.shape:
                problems.append(f"shape mismatch for {name}: checkpoint {value.shape} vs "
                                f"model {param.shape}")
            else:
                converted[name] = value.astype(param.dtype, copy=False)
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + ", ".join(problems))
        for name, value in converted.items():
            own[name]._data[...] = value
            bump_version(own[name])  # a graph of the old values must not backpropagate now
        return IncompatibleKeys(missing, unexpected)

    # ----------------------------------------------------------------- display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__}({self.extra_repr()}"]
        for name, child in self._modules.items():
            child_lines = repr(child).splitlines()
            count = child.num_parameters()
            suffix = f"  # {count:,} parameters" if count else ""
            lines.append(f"  ({name}): " + child_lines[0] + (suffix if len(child_lines) == 1
                                                             else ""))
            lines.extend("  " + line for line in child_lines[1:])
        if len(lines) == 1:
            return lines[0] + ")"
        total = self.num_parameters()
        return "\n".join(lines) + f"\n)  # {total:,} parameters in total"


def _array_of(value):
    """An entry of a state dict as an ndarray of numbers, or None if it is not one."""
    try:
        array = np.asarray(value._data if isinstance(value, Tensor) else value)
    except (TypeError, ValueError):
        return None
    return array if array.dtype.kind in "biuf" else None


def _is_cpu(device) -> bool:
    text = str(device)
    return text == "cpu" or text.startswith("cpu:") or text == "device(type='cpu')"


def _float_dtype(value):
    """np.float32 / np.float64 for a float dtype given any way, else None."""
    if isinstance(value, str) and value.startswith(("cpu", "cuda", "mps", "meta", "xla")):
        return None
    try:
        dtype = np.dtype(value)
    except TypeError:
        return None
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else None
