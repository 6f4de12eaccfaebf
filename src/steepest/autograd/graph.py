"""The reverse pass as a public API, and the recorded graph as torch shows it.

* :func:`grad` and :func:`backward` (``torch.autograd.grad``/``backward``) drive the one
  reverse pass of ``steepest.tensor`` (``_run_backward``): several outputs, ``inputs=``,
  ``create_graph=True`` (the backward is itself recorded, for second derivatives).
* ``tensor.grad_fn`` is a :class:`Node` named as torch names it (``MulBackward0``, ...), with
  ``name()`` and ``next_functions``; leaves that require grad appear as
  :class:`AccumulateGrad` with ``.variable``. Nodes are light views built on demand from the
  tensor's own fields (``_op``, ``_parents``), so recording a graph costs nothing extra.
  Two nodes of the same tensor compare equal (``==``); unlike torch they are not the same
  object. After ``backward()`` frees a graph, ``grad_fn`` keeps its name but
  ``next_functions`` is empty (steepest drops the links to free the memory).
"""

from __future__ import annotations

import itertools

import numpy as np

from steepest.tensor import (Tensor, _changes, _check_unchanged, _data_of, _hooks, _retained,
                             _run_backward, _run_plain)

__all__ = ["grad", "backward", "Node", "AccumulateGrad", "RemovableHandle", "node_of"]

# torch's node names where they are not ``<op>Backward0``; the internal op names stay as
# they are. Ops that torch records as several nodes show torch's outermost one.
_TORCH_NAMES = {
    "AddScalar": "AddBackward0", "SubScalar": "SubBackward0", "RSubScalar": "RsubBackward1",
    "MulScalar": "MulBackward0", "DivScalar": "DivBackward0", "RDivScalar": "MulBackward0",
    "Square": "PowBackward0", "PowScalar": "PowBackward0", "Pow": "PowBackward1",
    "RPowScalar": "PowBackward2", "Linear": "AddmmBackward0", "Clip": "ClampBackward1",
    "Cast": "ToCopyBackward0", "Concatenate": "CatBackward0", "ReLU": "ReluBackward0",
    "LeakyReLU": "LeakyReluBackward0", "CrossEntropy": "NllLossBackward0",
    "NLL": "NllLossBackward0", "MSE": "MseLossBackward0", "L1": "MeanBackward0",
    "BinaryCrossEntropy": "BinaryCrossEntropyBackward0",
    "BCEWithLogits": "BinaryCrossEntropyWithLogitsBackward0", "Dropout": "MulBackward0",
    "BinaryStep": "HeavisideBackward0", "IndexPut": "CopySlices",
}
# ops of a tensor and a Python number: torch wraps the number as a second input (None)
_SCALAR_OPERAND = {"AddScalar", "SubScalar", "MulScalar", "DivScalar", "RDivScalar",
                   "Dropout"}
_QUALIFIED = {"CopySlices", "AccumulateGrad"}  # name() is "torch::autograd::<class>"


def _shape_dependent_name(tensor: Tensor) -> str | None:
    """torch's name for ops that torch tells apart by arguments steepest does not keep
    (``sum()`` vs ``sum(dim)``, ``x[0]`` vs ``x[0:2]`` vs ``x[[0, 1]]``, ...), read off the
    shapes of the output and, while the graph is kept, of its input."""
    op, ndim = tensor._op, tensor._data.ndim
    source = tensor._parents[0]._data.shape if tensor._parents else None
    if op in ("Sum", "Mean"):
        return f"{op}Backward{0 if ndim == 0 else 1}"
    if op in ("Max", "Min"):
        return f"{op}Backward{1 if ndim == 0 else 0}"
    if op == "MatMul":
        return ("DotBackward0", "MvBackward0", "MmBackward0")[ndim] if ndim < 3 \
            else "UnsafeViewBackward0"
    if op == "Linear" and len(tensor._parents) == 2:
        return "MmBackward0"
    if op == "Permute":
        return "TBackward0" if ndim == 2 else "PermuteBackward0"
    shape = tensor._data.shape
    if op == "Reshape":
        if source is not None and ndim == len(source) + 1 and \
                any(shape[:i] + shape[i + 1:] == source for i in range(ndim) if shape[i] == 1):
            return "UnsqueezeBackward0"
        if source is not None and ndim < len(source) and 1 in source and \
                tuple(n for n in source if n != 1) == tuple(n for n in shape if n != 1):
            return "SqueezeBackward0" if 1 not in shape else "SqueezeBackward1"
        return "ViewBackward0" if tensor._base is not None else "UnsafeViewBackward0"
    if op == "Index":
        if tensor._base is None:
            return "IndexBackward0"
        if source is not None and ndim == len(source):
            return "SliceBackward0"
        return "SelectBackward0"
    return None


def torch_name(tensor: Tensor) -> str:
    """The class name torch gives the node that computed ``tensor``."""
    return (_shape_dependent_name(tensor) or _TORCH_NAMES.get(tensor._op)
            or f"{tensor._op}Backward0")


class Node:
    """A recorded op, as torch's ``grad_fn`` (subclasses carry torch's names)."""

    __slots__ = ("_tensor",)

    def __init__(self, tensor: Tensor):
        self._tensor = tensor

    def name(self) -> str:
        cls = type(self).__name__
        return f"torch::autograd::{cls}" if cls in _QUALIFIED else cls

    @property
    def next_functions(self) -> tuple:
        """One ``(node, 0)`` per input: the input's ``grad_fn``, an ``AccumulateGrad`` for a
        leaf that requires grad, None for an input that needs no gradient."""
        tensor = self._tensor
        parents = tensor._parents
        if tensor._op == "Linear" and parents:  # torch: addmm(bias, input, weight.t())
            x, weight, *bias = parents
            links = [_link(b) for b in bias] + [
                _link(x), _TransposedWeight(weight) if weight.requires_grad else None]
            return tuple((link, 0) for link in links)
        links = tuple((_link(parent), 0) for parent in parents)
        if tensor._op in _SCALAR_OPERAND and links:
            links += ((None, 0),)
        return links

    def __call__(self, *grads):
        """Apply this node's backward to the gradient(s) of its output (as torch's nodes);
        returns one gradient per input."""
        backward = self._tensor._backward
        if backward is None:
            raise RuntimeError(f"{self.name()}: the graph was freed by backward(); pass "
                               f"retain_graph=True to keep it")
        if self._tensor._recorded_at != _changes[0]:
            _check_unchanged(self._tensor)
        arrays = backward(_data_of(grads[0]))
        return tuple(None if g is None else Tensor._wrap(np.asarray(g)) for g in arrays)

    def __eq__(self, other):
        return type(other) is type(self) and other._tensor is self._tensor

    def __hash__(self):
        return hash((type(self).__name__, id(self._tensor)))

    def __repr__(self):
        return f"<{type(self).__name__} object at {id(self._tensor):#x}>"


class AccumulateGrad(Node):
    """The node through which a leaf receives its ``.grad``; ``variable`` is the leaf."""

    __slots__ = ()

    @property
    def variable(self) -> Tensor:
        return self._tensor

    @property
    def next_functions(self) -> tuple:
        return ()

    def __call__(self, *grads):
        raise RuntimeError("AccumulateGrad: not callable; call backward() on an output")


class _TransposedWeight(Node):
    """The ``weight.t()`` inside torch's ``linear``, between its node and the weight's."""

    __slots__ = ()

    @property
    def next_functions(self) -> tuple:
        return ((_link(self._tensor), 0),)

    def __call__(self, *grads):
        return (Tensor._wrap(np.asarray(_data_of(grads[0])).T),)


_TransposedWeight.__name__ = _TransposedWeight.__qualname__ = "TBackward0"
_node_classes = {"AccumulateGrad": AccumulateGrad}


def node_of(tensor: Tensor) -> Node:
    """The ``grad_fn`` of a computed tensor, as an instance of the class of torch's name."""
    name = torch_name(tensor)
    cls = _node_classes.get(name)
    if cls is None:
        cls = _node_classes[name] = type(name, (Node,), {"__slots__": ()})
    return cls(tensor)


def _link(parent: Tensor):
    if parent._op:
        return node_of(parent)
    return AccumulateGrad(parent) if parent.requires_grad else None


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` unregisters the hook (also on leaving a
    ``with`` block)."""

    _ids = itertools.count()

    def __init__(self, table: dict, hook):
        self._table = table
        self.id = next(self._ids)
        table[self.id] = hook

    def remove(self) -> None:
        self._table.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


# ------------------------------------------------------------------------ the reverse pass
def _tensors(value, arg: str, who: str) -> tuple:
    """A tensor or a sequence of tensors as a tuple, with a message naming ``arg``."""
    items = (value,) if isinstance(value, Tensor) else value
    try:
        items = tuple(items)
    except TypeError:
        raise TypeError(f"{who}: {arg} must be a Tensor or a sequence of Tensors, got "
                        f"{type(value).__name__}") from None
    for item in items:
        if not isinstance(item, Tensor):
            raise TypeError(f"{who}: {arg} must hold Tensors, got {type(item).__name__}")
    return items


def seed(output: Tensor, given, create_graph: bool = False, who: str = "backward",
         arg: str = "gradient"):
    """The gradient that starts the reverse pass at ``output``: ``given`` (checked against
    the output's shape, in its dtype), or 1 for a one-element output. A tensor under
    ``create_graph`` (a given tensor is kept as it is, so that its own graph is followed)."""
    if given is None:
        if output._data.size != 1:
            raise RuntimeError(
                f"{who}: gradient can be implied only for a one-element (scalar) output, got "
                f"shape {output.shape}; pass {arg}= with that shape")
        array = np.ones_like(output._data)
    else:
        array = np.array(_data_of(given), dtype=output._data.dtype)
        if array.shape != output.shape:
            raise ValueError(f"{who}: {arg} has shape {array.shape}, but the output has shape "
                             f"{output.shape}; they must match")
    if not create_graph:
        return array
    if isinstance(given, Tensor) and given.dtype == output.dtype:
        return given
    return Tensor._wrap(array)


def _check_output(output: Tensor, index: int, who: str) -> None:
    if output._data.dtype.kind in "iub":
        raise RuntimeError(
            f"{who}: this tensor has integer dtype {output._data.dtype}; integer tensors "
            f"hold labels and indices and are not differentiable, and a cast to an "
            f"integer type cuts the graph. Keep the value you differentiate in float32 "
            f"or float64")
    if not output.requires_grad:
        where = "this tensor" if who == "backward" else f"output {index}"
        raise RuntimeError(
            f"{who}: {where} does not require grad and has no graph; create the "
            f"inputs with requires_grad=True (and not inside no_grad) to differentiate")


def _checked_inputs(inputs, who: str) -> tuple:
    inputs = _tensors(inputs, "inputs", who)
    if not inputs:
        raise ValueError(f"{who}: inputs must not be empty (leave it out to reach every leaf)")
    for i, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"{who}: input {i} (shape {tensor.shape}) does not require "
                               f"grad; differentiate only with respect to tensors with "
                               f"requires_grad=True")
    return inputs


def tensor_backward(output: Tensor, gradient, retain_graph, create_graph: bool, inputs):
    """``Tensor.backward``: the reverse pass from one output (the training loop's path)."""
    data = output._data
    if (gradient is None and inputs is None and not create_graph and output.requires_grad
            and data.size == 1 and data.dtype.kind not in "iub" and not (_hooks or _retained)):
        _run_plain(output, np.ones_like(data), bool(retain_graph))  # loss.backward(), checked
        return
    _check_output(output, 0, "backward")
    start = seed(output, gradient, create_graph)
    retain_graph = create_graph if retain_graph is None else bool(retain_graph)
    if inputs is None and not create_graph and not (_hooks or _retained):
        _run_plain(output, start, retain_graph)
        return
    if inputs is not None:
        inputs = _checked_inputs(inputs, "backward")
    _run_backward((output,), (start,), retain_graph, create_graph, inputs)


def run(outputs, grad_outputs, retain_graph, create_graph: bool, inputs, who: str,
        accumulate: bool = True, arg: str = "gradient"):
    """Check the arguments of a reverse pass from several outputs and run it (see
    ``_run_backward``)."""
    outputs = _tensors(outputs, "tensors" if who == "backward" else "outputs", who)
    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = (grad_outputs,)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"{who}: got {len(grad_outputs)} {arg} for {len(outputs)} outputs; "
                         f"pass one per output (None for a one-element output)")
    for i, output in enumerate(outputs):
        _check_output(output, i, who)
    seeds = [seed(o, g, create_graph, who, arg) for o, g in zip(outputs, grad_outputs)]
    if inputs is not None:
        inputs = _checked_inputs(inputs, who)
    if retain_graph is None:
        retain_graph = create_graph
    return _run_backward(outputs, seeds, bool(retain_graph), bool(create_graph), inputs,
                         accumulate)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False,
             inputs=None) -> None:
    """``torch.autograd.backward``: accumulate the gradients of ``tensors`` (weighted by
    ``grad_tensors``, one per tensor) into the leaves' ``.grad`` (only ``inputs``' if given)."""
    run(tensors, grad_tensors, retain_graph, create_graph, inputs, "backward",
        arg="grad_tensors")


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused=None, materialize_grads: bool = False) -> tuple:
    """``torch.autograd.grad``: Σᵢ ∂outputᵢ/∂input · grad_outputᵢ for each input, returned
    as a tuple of tensors (nothing is accumulated into ``.grad``).

    ``create_graph=True`` records the computation, so the result can be differentiated again
    (Hessian-vector products, gradient penalties). An input the outputs do not depend on is an
    error unless ``allow_unused=True`` (then None) or ``materialize_grads=True`` (then zeros).
    """
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and not allow_unused:
        raise ValueError("grad: materialize_grads=True needs allow_unused not False")
    inputs = _tensors(inputs, "inputs", "grad")
    found = run(outputs, grad_outputs, retain_graph, create_graph, inputs, "grad",
                accumulate=False, arg="grad_outputs")
    results, seen = [], set()
    for i, (tensor, g) in enumerate(zip(inputs, found)):
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: input {i} (shape {tensor.shape}) was not used in the graph of the "
                    f"outputs; pass allow_unused=True to get None for it")
            results.append(Tensor._wrap(np.zeros_like(tensor._data))
                           if materialize_grads else None)
        elif isinstance(g, Tensor):
            results.append(g)
        else:
            if id(g) in seen or not isinstance(g, np.ndarray) or g.base is not None \
                    or not g.flags.writeable:
                g = np.array(g, dtype=tensor.dtype)
            seen.add(id(g))
            results.append(Tensor._wrap(g))
    return tuple(results)
