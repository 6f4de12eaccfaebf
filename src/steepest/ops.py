"""Differentiable operations: each computes its forward value and, beside it, its backward.

Every op follows one pattern::

    out = forward(inputs)
    def backward(grad_out):          # chain rule for this op only
        return (grad_for_input_0, grad_for_input_1, ...)   # None where not needed
    return _record(out, (inputs...), backward, "OpName")

Gradients of broadcast operands are summed back to the operand's own shape (and dtype) by
``_reduce_to``. Python scalars are used as they are, so ``float32_tensor * 0.5`` stays float32.

Every backward is itself differentiable (higher-order gradients). Called with an ndarray ``g``
it computes with NumPy on arrays (the fast first-order path); called with a Tensor ``g``
(``create_graph=True``) the same formula runs on tensors through these very ops, so it is
recorded and can be differentiated again. The helpers below make one formula serve both:
``_operand`` (an input's values), ``_saved`` (the output's values), ``_math`` (NumPy or this
module), ``_where``, ``_masked`` and ``_reduce_to``. Masks (ReLU, clamp, max) are constants:
their derivative is zero almost everywhere, as in torch, and they select rather than multiply
where the upstream gradient holds a nan or inf (torch's ``threshold_backward``).
"""

from __future__ import annotations

import builtins
import itertools
import sys
from collections import namedtuple

import numpy as np
from numpy.exceptions import AxisError
from numpy.lib.array_utils import normalize_axis_tuple

from steepest.tensor import Tensor, _grad_mode, _share_version, is_scalar

__all__ = [
    "as_tensor", "add", "sub", "rsub", "mul", "div", "rdiv", "neg", "pow", "rpow", "matmul",
    "linear", "sum", "mean", "argmax", "argmin", "max", "min", "exp", "log", "sqrt", "sin",
    "cos", "abs", "clip", "maximum", "minimum", "where", "astype", "reshape", "flatten",
    "unsqueeze", "squeeze", "permute", "transpose", "clone", "getitem", "index_put",
    "concatenate", "cat", "stack",
]

_wrap = Tensor._wrap
_THIS_MODULE = sys.modules[__name__]  # ``_math``: these ops, for backwards under create_graph


def _record(data: np.ndarray, parents: tuple, backward, op: str,
            saves_output: bool = False) -> Tensor:
    """Wrap ``data``; attach the graph only if grad mode is on and some parent requires grad.

    ``saves_output``: the backward reads the output's values (exp, sigmoid, ...), so an
    in-place change of the output before backward must be refused too.
    """
    out = _wrap(data if isinstance(data, np.ndarray) else np.asarray(data))  # 0-d: ndarray too
    if _grad_mode.enabled:
        for parent in parents:
            if parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = _version_checked(backward, parents,
                                                 out if saves_output else None, op)
                out._op = op
                break
    return out


_NEVER_MODIFIED = itertools.repeat(0)


def _version_checked(backward, parents: tuple, output, op: str):
    """``backward``, preceded by a check that no input (nor a saved output) of the node was
    changed in place since the forward pass: their values would give a wrong gradient.

    Stricter than torch in one way: torch checks only the tensors a node saved, steepest
    every input, because the graph links tensors (not nodes) and an input rewritten in place
    carries a new history; such graphs are refused with the same message, never answered wrong.
    """
    versions = _NEVER_MODIFIED  # the common case, without building a tuple per node
    for parent in parents:
        if parent._versions is not None and parent._versions[0]:
            versions = tuple(p._versions[0] if p._versions is not None else 0 for p in parents)
            break

    def checked(g):
        for parent, version in zip(parents, versions):
            if parent._versions is not None and parent._versions[0] != version:
                raise _modified_error(op, parent, version, "an input")
        if output is not None and output._versions is not None and output._versions[0]:
            raise _modified_error(op, output, 0, "the output")
        return backward(g)
    return checked


def _modified_error(op: str, tensor: Tensor, expected: int, role: str) -> RuntimeError:
    return RuntimeError(
        f"one of the variables needed for gradient computation has been modified by an "
        f"inplace operation: {role} of {op}, a tensor of shape {tensor.shape} and dtype "
        f"{tensor.dtype}, is at version {tensor._versions[0]}; expected version {expected} "
        f"instead. Hint: use the out-of-place form (x = x + 1, not x += 1), or .clone() the "
        f"tensor before changing it in place")


def _axis_args(op: str, axis, keepdims, dim, keepdim):
    """Resolve NumPy's ``axis=``/``keepdims=`` and torch's ``dim=``/``keepdim=`` (either
    spelling; ``axis``/``keepdims`` is the canonical one), refusing both at once."""
    if dim is not None:
        if axis is not None:
            raise TypeError(f"{op}: got both axis={axis!r} and dim={dim!r}; pass one of them "
                            f"(dim is torch's name for axis)")
        axis = dim
    if keepdim is not None:
        if keepdims is not None:
            raise TypeError(f"{op}: got both keepdims={keepdims!r} and keepdim={keepdim!r}; "
                            f"pass one of them (keepdim is torch's name for keepdims)")
        keepdims = keepdim
    return axis, bool(keepdims)


def as_tensor(value) -> Tensor:
    """A Tensor for ``value`` (returned as is if it already is one)."""
    return value if isinstance(value, Tensor) else Tensor(value)


def _operand(t: Tensor, g):
    """``t``'s values inside a backward: the array ``t._data`` on the first-order path (``g`` an
    ndarray), the tensor ``t`` itself under ``create_graph=True`` (``g`` a Tensor), so that the
    backward's own arithmetic is recorded and can be differentiated again."""
    return t if isinstance(g, Tensor) else t._data


def _saved(out: np.ndarray, g, recompute):
    """The op's output values inside its backward: the array saved by the forward pass on the
    first-order path, ``recompute()`` (the forward again, as recorded tensors) under
    ``create_graph``, so that the output's own dependence on the inputs is differentiated."""
    return recompute() if isinstance(g, Tensor) else out


def _math(g):
    """Where a backward finds exp, log, cos, where, maximum, ...: NumPy for an array ``g``,
    steepest's recorded ops (this module, same names and signatures) for a Tensor ``g``."""
    return _THIS_MODULE if isinstance(g, Tensor) else np


def _where(condition: np.ndarray, a, b):
    """``np.where`` on arrays, the recorded ``where`` when a branch is a Tensor. Selecting (not
    multiplying by a 0/1 mask) keeps an upstream nan or inf out of the unselected entries, as
    torch's backward formulas do."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return where(condition, a, b)
    return np.where(condition, a, b)


def _masked(g, keep: np.ndarray):
    """``g`` where ``keep``, exactly 0 elsewhere (torch selects there, so an upstream nan or inf
    at a dropped entry gives 0, not nan·0). A multiplication by the mask when ``g`` is finite,
    which is the same number and many times faster than ``np.where``."""
    values = g._data if isinstance(g, Tensor) else g
    if not np.isfinite(values).all():
        return _where(keep, g, 0)
    return mul(g, _wrap(keep.astype(values.dtype))) if isinstance(g, Tensor) else g * keep


def _zeros_like(g):
    """A zero gradient shaped like ``g`` (an array, or a constant tensor under create_graph)."""
    zeros = np.zeros_like(g._data if isinstance(g, Tensor) else g)
    return _wrap(zeros) if isinstance(g, Tensor) else zeros


def _scalar(value):
    """A NumPy scalar as a Python number, so it cannot upcast a float32 array."""
    return value.item() if isinstance(value, np.generic) else value


def _in_dtype(grad, like: Tensor):
    """``grad`` in ``like``'s dtype (an operand of the other float dtype upcasts the output)."""
    return grad if grad.dtype == like._data.dtype else grad.astype(like._data.dtype)


def _sum_to_shape(grad, shape: tuple):
    """Sum ``grad`` (array or tensor) over the axes along which ``shape`` was broadcast to
    ``grad``'s shape, in one ``sum``."""
    if grad.shape != shape:
        extra = grad.ndim - len(shape)
        axes = tuple(range(extra)) + tuple(
            extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
        grad = grad.sum(axis=axes, keepdims=True).reshape(shape) if axes else grad.reshape(shape)
    return grad


def _reduce_to(grad, like: Tensor):
    """``grad`` summed over the axes along which ``like`` was broadcast, in ``like``'s dtype."""
    return _in_dtype(_sum_to_shape(grad, like._data.shape), like)


def _broadcast_error(op: str, a, b) -> ValueError:
    return ValueError(f"{op}: shapes {np.shape(a)} and {np.shape(b)} do not broadcast "
                      f"(trailing dimensions must be equal or 1)")


def _binary(op: str, func, a, b):
    """Apply a NumPy ufunc to two arrays, turning a broadcast failure into a clear error."""
    try:
        return func(a, b)
    except ValueError:
        raise _broadcast_error(op, a, b) from None


# ---------------------------------------------------------------------------- arithmetic
def add(a: Tensor, b) -> Tensor:
    """a + b; backward g to each operand (summed over its broadcast axes)."""
    if is_scalar(b):
        return _record(a._data + _scalar(b), (a,), lambda g: (g,), "AddScalar")
    b = as_tensor(b)
    out = _binary("add", np.add, a._data, b._data)

    def backward(g):
        return (_reduce_to(g, a) if a.requires_grad else None,
                _reduce_to(g, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Add")


def sub(a: Tensor, b) -> Tensor:
    """a − b; backward g to a, −g to b (each summed over its broadcast axes)."""
    if is_scalar(b):
        return _record(a._data - _scalar(b), (a,), lambda g: (g,), "SubScalar")
    b = as_tensor(b)
    out = _binary("sub", np.subtract, a._data, b._data)

    def backward(g):
        return (_reduce_to(g, a) if a.requires_grad else None,
                _reduce_to(-g, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Sub")


def rsub(a: Tensor, c) -> Tensor:
    """c − a for a scalar or array ``c`` on the left; backward −g."""
    if is_scalar(c):
        return _record(_scalar(c) - a._data, (a,), lambda g: (-g,), "RSubScalar")
    return sub(as_tensor(c), a)


def mul(a: Tensor, b) -> Tensor:
    """a · b (elementwise): ∂/∂a = b, ∂/∂b = a."""
    if is_scalar(b):
        c = _scalar(b)
        return _record(a._data * c, (a,), lambda g: (g * c,), "MulScalar")
    b = as_tensor(b)
    out = _binary("mul", np.multiply, a._data, b._data)

    def backward(g):
        return (_reduce_to(g * _operand(b, g), a) if a.requires_grad else None,
                _reduce_to(g * _operand(a, g), b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Mul")


def div(a: Tensor, b) -> Tensor:
    """a / b: ∂/∂a = 1/b, ∂/∂b = −a/b²."""
    if is_scalar(b):
        c = _scalar(b)
        return _record(a._data / c, (a,), lambda g: (g / c,), "DivScalar")
    b = as_tensor(b)
    out = _binary("div", np.divide, a._data, b._data)

    def backward(g):
        g_over_b = g / _operand(b, g)
        quotient = _saved(out, g, lambda: a / b) if b.requires_grad else None
        return (_reduce_to(g_over_b, a) if a.requires_grad else None,
                _reduce_to(-g_over_b * quotient, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Div", saves_output=True)


def rdiv(a: Tensor, c) -> Tensor:
    """c / a for a scalar or array ``c`` on the left: ∂/∂a = −c/a²."""
    if is_scalar(c):
        c = _scalar(c)
        out = c / a._data

        def backward(g):
            return (-g * _saved(out, g, lambda: c / a) / _operand(a, g),)
        return _record(out, (a,), backward, "RDivScalar", saves_output=True)
    return div(as_tensor(c), a)


def neg(a: Tensor) -> Tensor:
    """−a; backward −g."""
    return _record(-a._data, (a,), lambda g: (-g,), "Neg")


_QUIET = {"divide": "ignore", "invalid": "ignore", "over": "ignore"}  # nan/inf, as torch: silently


def pow(a: Tensor, exponent) -> Tensor:
    """a ** p: ∂/∂a = p·a^(p−1); for a tensor exponent also ∂/∂p = a^p·ln a.

    Edges as torch: where p = 0 the base gets 0 (also at a = 0, where p·a^(p−1) is 0·∞); where
    a = 0 and p ≥ 0 the exponent gets 0; a negative base gives the exponent a nan gradient
    (ln a); no NumPy warning is raised for these nan/inf.
    """
    if is_scalar(exponent):
        p = _scalar(exponent)
        if p == 2:
            return _record(a._data * a._data, (a,), lambda g: (g * (2 * _operand(a, g)),),
                           "Square")
        if p == 0:  # a⁰ = 1, derivative 0 (also at a = 0, where p·a^(p−1) would be 0·∞)
            return _record(np.ones_like(a._data), (a,), lambda g: (_zeros_like(g),),
                           "PowScalar")
        with np.errstate(**_QUIET):
            out = a._data ** p

        def backward_scalar(g):
            with np.errstate(**_QUIET):
                return (g * (p * _operand(a, g) ** (p - 1)),)
        return _record(out, (a,), backward_scalar, "PowScalar")
    b = as_tensor(exponent)
    with np.errstate(**_QUIET):
        out = _binary("pow", np.power, a._data, b._data)

    def backward(g):
        grad_a = grad_b = None
        base, power = _operand(a, g), _operand(b, g)
        with np.errstate(**_QUIET):
            if a.requires_grad:
                grad_a = _reduce_to(_where(b._data == 0, 0, g * power * base ** (power - 1)), a)
            if b.requires_grad:
                result = _saved(out, g, lambda: base ** power)
                grad_b = _reduce_to(_where((a._data == 0) & (b._data >= 0), 0,
                                           g * result * _math(g).log(base)), b)
        return grad_a, grad_b
    return _record(out, (a, b), backward, "Pow", saves_output=True)


def rpow(a: Tensor, base) -> Tensor:
    """base ** a for a scalar base: ∂/∂a = base^a · ln(base) (0 where base = 0 and a ≥ 0, nan
    for a negative base, as torch)."""
    if is_scalar(base):
        c = _scalar(base)
        with np.errstate(**_QUIET):
            out = np.power(c, a._data)
            log_c = float(np.log(c))

        def backward(g):
            with np.errstate(**_QUIET):
                grad = g * _saved(out, g, lambda: c ** a) * log_c
                return (_where(a._data >= 0, 0, grad) if c == 0 else grad,)
        return _record(out, (a,), backward, "RPowScalar", saves_output=True)
    return pow(as_tensor(base), a)


def _matmul_error(a, b) -> ValueError:
    inner_a = a.shape[-1] if a.ndim else None
    inner_b = (b.shape[-2] if b.ndim > 1 else b.shape[0]) if b.ndim else None
    if inner_a == inner_b:  # the inner dimensions fit: the batch dimensions do not broadcast
        batch_a, batch_b = a.shape[:-2], b.shape[:-2]
        return ValueError(f"matmul: shapes {a.shape} and {b.shape} have batch dimensions "
                          f"{batch_a} and {batch_b} that do not broadcast (the dimensions "
                          f"before the last two must be equal or 1); the inner dimensions "
                          f"({inner_a}) fit")
    return ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned: the left "
                      f"operand's last dimension ({inner_a}) must equal the right operand's "
                      f"{'second-to-last' if b.ndim > 1 else 'first'} dimension ({inner_b})")


def matmul(a, b) -> Tensor:
    """a @ b for 1-D, 2-D and batched operands (NumPy's matmul rules).

    Backward: ∂/∂a = g @ bᵀ, ∂/∂b = aᵀ @ g, with 1-D operands promoted to matrices and
    batch dimensions summed back to each operand's shape.
    """
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul: operands must have at least one dimension, got shapes "
                         f"{a.shape} and {b.shape}; use * for scalars")
    try:
        out = np.matmul(a._data, b._data)
    except ValueError:
        raise _matmul_error(a._data, b._data) from None

    if a.ndim == 2 and b.ndim == 2:
        def backward(g):
            return (_in_dtype(g @ _operand(b, g).T, a) if a.requires_grad else None,
                    _in_dtype(_operand(a, g).T @ g, b) if b.requires_grad else None)
        return _record(out, (a, b), backward, "MatMul")

    def backward(g):
        a2, b2, g2 = _operand(a, g), _operand(b, g), g
        if a.ndim == 1:
            a2 = a2.reshape((1,) + a.shape)
        if b.ndim == 1:  # restore the dropped column axis first, then the dropped row axis
            b2 = b2.reshape(b.shape + (1,))
            g2 = g2.reshape(g2.shape + (1,))
        if a.ndim == 1:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:])
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = _in_dtype(_sum_to_shape(g2 @ _swap_last(b2), a2.shape).reshape(a.shape), a)
        if b.requires_grad:
            grad_b = _in_dtype(_sum_to_shape(_swap_last(a2) @ g2, b2.shape).reshape(b.shape), b)
        return grad_a, grad_b
    return _record(out, (a, b), backward, "MatMul")


def _swap_last(x):
    """``x`` with its last two axes swapped (an array or a recorded tensor)."""
    return transpose(x, -1, -2) if isinstance(x, Tensor) else np.swapaxes(x, -1, -2)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weightᵀ + bias in one node (torch's layout: weight is (out_features, in_features)).

    Backward: ∂/∂x = g @ W, ∂/∂W = gᵀ @ x, ∂/∂b = Σ_batch g (summed further to the bias's own
    shape when it broadcasts, e.g. (1,) or ()). Fusing the bias saves a node and a pass over
    the output, which is most of the per-layer overhead at small batch sizes.
    """
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    x_data, w_data = x._data, weight._data
    if x_data.shape[-1:] != w_data.shape[1:]:
        raise ValueError(f"linear: input has shape {x.shape}, but the weight has shape "
                         f"{weight.shape} = (out_features, in_features); the input's last "
                         f"dimension must be {weight.shape[1]}")
    out = x_data @ w_data.T
    if bias is not None:
        out += bias._data
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        inputs, weights = (x, weight) if isinstance(g, Tensor) else (x_data, w_data)
        if g.ndim == 2:
            g2, x2 = g, inputs
        else:  # batched input: every leading axis is part of the batch
            g2, x2 = g.reshape(-1, g.shape[-1]), inputs.reshape(-1, inputs.shape[-1])
        grad_x = _in_dtype(g @ weights, x) if x.requires_grad else None
        grad_w = _in_dtype(g2.T @ x2, weight) if weight.requires_grad else None
        if bias is None:
            return grad_x, grad_w
        return grad_x, grad_w, (_reduce_to(g2.sum(axis=0), bias) if bias.requires_grad else None)
    return _record(out, parents, backward, "Linear")


# ---------------------------------------------------------------------------- reductions
def _normalize_axis(axis, ndim, op: str = "reduce", allow_duplicate: bool = False):
    """``axis`` as a tuple of non-negative axes; an out-of-range axis raises NumPy's
    ``AxisError`` (an ``IndexError`` and a ``ValueError``) naming the op."""
    if axis is None:
        return None
    try:
        return normalize_axis_tuple(axis, ndim, allow_duplicate=allow_duplicate)
    except AxisError as error:
        raise AxisError(f"{op}: {error}") from None


def _expand_reduced(g, shape: tuple, axis, keepdims: bool):
    """Reshape a reduced gradient (array or tensor) so that it broadcasts against the input
    again."""
    if axis is None:
        return g.reshape((1,) * len(shape))
    if not keepdims:
        g = g.reshape(tuple(1 if i in axis else n for i, n in enumerate(shape)))
    return g


def _expand(g: Tensor, shape: tuple) -> Tensor:
    """``g`` broadcast to ``shape`` as a recorded op: the backward of a sum under create_graph.
    Its own backward sums back (``_reduce_to``), so it differentiates again."""
    return _record(np.array(np.broadcast_to(g._data, shape)), (g,),
                   lambda grad: (_reduce_to(grad, g),), "Expand")


def sum(a: Tensor, axis=None, keepdims=None, *, dim=None, keepdim=None) -> Tensor:
    """Σ over ``axis`` (all axes if None); backward broadcasts the gradient back."""
    axis, keepdims = _axis_args("sum", axis, keepdims, dim, keepdim)
    axis = _normalize_axis(axis, a.ndim, "sum")
    out = np.sum(a._data, axis=axis, keepdims=keepdims)

    def backward(g):
        if isinstance(g, Tensor):
            return (_expand(_expand_reduced(g, a.shape, axis, keepdims), a.shape),)
        if axis is None:  # a full reduction: one fresh array, not a read-only broadcast view
            return (np.full(a.shape, g, dtype=a.dtype),)
        return (np.broadcast_to(_expand_reduced(g, a.shape, axis, keepdims), a.shape),)
    return _record(out, (a,), backward, "Sum")


def mean(a: Tensor, axis=None, keepdims=None, *, dim=None, keepdim=None) -> Tensor:
    """Mean over ``axis``; backward spreads g/n over the n reduced elements."""
    axis, keepdims = _axis_args("mean", axis, keepdims, dim, keepdim)
    axis = _normalize_axis(axis, a.ndim, "mean")
    out = np.mean(a._data, axis=axis, keepdims=keepdims)
    count = a._data.size // builtins.max(np.asarray(out).size, 1) if a._data.size else 1

    def backward(g):
        if isinstance(g, Tensor):
            return (_expand(_expand_reduced(g, a.shape, axis, keepdims) / count, a.shape),)
        if axis is None:
            return (np.full(a.shape, g / count, dtype=a.dtype),)
        return (np.broadcast_to(_expand_reduced(g, a.shape, axis, keepdims) / count, a.shape),)
    return _record(np.asarray(out, dtype=a.dtype if a.dtype.kind == "f" else None), (a,),
                   backward, "Mean")


def _extremum(name: str, reducer, a: Tensor, axis, keepdims: bool) -> Tensor:
    """max/min over ``axis``: the gradient goes to the extremal elements, shared equally among
    ties. Over all elements (torch's ``max()``) a nan extremum takes the whole gradient (shared
    among the nans), the other elements exactly 0; over some axes (torch's ``amax``) a row whose
    extremum is nan gets nan, as in torch."""
    if a._data.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {a.shape}")
    axis = _normalize_axis(axis, a.ndim, name)
    out = reducer(a._data, axis=axis, keepdims=keepdims)

    def backward(g):
        g = _expand_reduced(g, a.shape, axis, keepdims)
        if axis is None:
            mask = np.isnan(a._data) if np.isnan(out).any() else a._data == out
            return (_in_dtype(_where(mask, g / int(mask.sum()), 0), a),)
        mask = a._data == _expand_reduced(np.asarray(out), a.shape, axis, keepdims)
        with np.errstate(invalid="ignore"):  # a nan row: 0/0, the nan torch gives
            share = mask / mask.sum(axis=axis, keepdims=True)
        return (_in_dtype(g * share, a),)
    return _record(out, (a,), backward, name.capitalize(), saves_output=True)


#: What ``max(dim)``/``min(dim)`` return, as torch's ``torch.return_types.max``/``min``.
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


def _arg_extremum(name: str, finder, a: Tensor, axis, keepdims: bool) -> Tensor:
    """The index of the first extremal element along ``axis`` (over the flattened tensor if
    None), as an int64 tensor: not differentiable."""
    if a._data.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {a.shape}")
    if axis is None:
        out = np.asarray(finder(a._data), dtype=np.int64)
        return _wrap(out.reshape((1,) * a.ndim) if keepdims else out)
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise TypeError(f"{name}: axis must be an int or None, got {axis!r}")
    axis = _normalize_axis(axis, a.ndim, name)[0]
    return _wrap(finder(a._data, axis=axis, keepdims=keepdims).astype(np.int64, copy=False))


def argmax(a: Tensor, axis=None, keepdims=None, *, dim=None, keepdim=None) -> Tensor:
    """Index of the maximum along ``axis`` (first one among ties, as torch on the CPU)."""
    axis, keepdims = _axis_args("argmax", axis, keepdims, dim, keepdim)
    return _arg_extremum("argmax", np.argmax, a, axis, keepdims)


def argmin(a: Tensor, axis=None, keepdims=None, *, dim=None, keepdim=None) -> Tensor:
    """Index of the minimum along ``axis`` (first one among ties, as torch on the CPU)."""
    axis, keepdims = _axis_args("argmin", axis, keepdims, dim, keepdim)
    return _arg_extremum("argmin", np.argmin, a, axis, keepdims)


def _select_along(a: Tensor, indices: Tensor, axis: int, keepdims: bool, op: str) -> Tensor:
    """a's elements at ``indices`` along ``axis``; backward puts g back at those indices only
    (torch's value-selecting backward of ``max(dim)``: ties do not share)."""
    idx = indices._data if keepdims else np.expand_dims(indices._data, axis)
    picked = np.take_along_axis(a._data, idx, axis=axis)
    out = picked if keepdims else np.squeeze(picked, axis=axis)

    def backward(g):
        chosen = np.zeros(a.shape, dtype=bool)
        np.put_along_axis(chosen, idx, True, axis=axis)
        return (_in_dtype(_where(chosen, g if keepdims else _unsqueeze(g, axis), 0), a),)
    return _record(out, (a,), backward, op)


def _unsqueeze(x, axis: int):
    """``x`` with a new axis of length 1 at ``axis`` (an array or a recorded tensor)."""
    return unsqueeze(x, axis) if isinstance(x, Tensor) else np.expand_dims(x, axis)


def _max_or_min(name: str, a: Tensor, dim, keepdim, axis, keepdims):
    """torch's ``max``/``min`` dispatch: another tensor → elementwise; ``dim`` → (values,
    indices); ``axis=`` (NumPy's spelling) or nothing → the reduced tensor."""
    if isinstance(dim, Tensor):
        return (maximum if name == "max" else minimum)(a, dim)
    if dim is None:
        axis, keepdims = _axis_args(name, axis, keepdims, None, keepdim)
        return _extremum(name, np.max if name == "max" else np.min, a, axis, keepdims)
    if axis is not None:
        raise TypeError(f"{name}: got both dim={dim!r} and axis={axis!r}; pass one of them")
    _, keepdim = _axis_args(name, None, keepdims, None, keepdim)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{name}: dim must be an int, got {dim!r}; use axis= to reduce over "
                        f"several axes")
    axis = _normalize_axis(dim, a.ndim, name)[0] if a.ndim else 0
    indices = _arg_extremum("arg" + name, np.argmax if name == "max" else np.argmin,
                            a, axis if a.ndim else None, keepdim)
    if a.ndim == 0:
        return (max_result if name == "max" else min_result)(a.clone(), indices)
    values = _select_along(a, indices, axis, keepdim, name.capitalize())
    return (max_result if name == "max" else min_result)(values, indices)


def max(a: Tensor, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Maximum, as torch: ``max(a)`` and ``max(a, axis=...)`` give the reduced tensor (its
    gradient shared among ties); ``max(a, dim)`` gives ``(values, indices)`` (the gradient goes
    to the index); ``max(a, b)`` with a tensor ``b`` is ``maximum(a, b)``."""
    return _max_or_min("max", a, dim, keepdim, axis, keepdims)


def min(a: Tensor, dim=None, keepdim=None, *, axis=None, keepdims=None):
    """Minimum, as torch: see ``max``."""
    return _max_or_min("min", a, dim, keepdim, axis, keepdims)


# ---------------------------------------------------------------------------- elementwise
def exp(a: Tensor) -> Tensor:
    """eᵃ; derivative eᵃ (the output itself)."""
    a = as_tensor(a)
    out = np.exp(a._data)
    return _record(out, (a,), lambda g: (g * _saved(out, g, lambda: exp(a)),), "Exp",
                   saves_output=True)


def log(a: Tensor) -> Tensor:
    """ln a; derivative 1/a."""
    a = as_tensor(a)
    out = np.log(a._data)
    return _record(out, (a,), lambda g: (g / _operand(a, g),), "Log")


def sqrt(a: Tensor) -> Tensor:
    """√a; derivative 1/(2√a)."""
    out = np.sqrt(a._data)
    return _record(out, (a,), lambda g: (g * 0.5 / _saved(out, g, lambda: sqrt(a)),), "Sqrt",
                   saves_output=True)


def sin(a: Tensor) -> Tensor:
    """sin a; derivative cos a."""
    a = as_tensor(a)
    return _record(np.sin(a._data), (a,), lambda g: (g * _math(g).cos(_operand(a, g)),), "Sin")


def cos(a: Tensor) -> Tensor:
    """cos a; derivative −sin a."""
    a = as_tensor(a)
    return _record(np.cos(a._data), (a,), lambda g: (-g * _math(g).sin(_operand(a, g)),), "Cos")


def abs(a: Tensor) -> Tensor:
    """|a|; derivative sign(a) (0 at 0, as in torch)."""
    return _record(np.abs(a._data), (a,), lambda g: (g * np.sign(a._data),), "Abs")  # constant


def _bound(op: str, name: str, value, default):
    if value is None:
        return default
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"{op}: {name} is a tensor that requires grad; steepest passes no "
                            f"gradient to the bounds, use a constant or .detach() it")
        return value._data
    return _scalar(value)


def clip(a: Tensor, min=None, max=None) -> Tensor:
    """a clamped to [min, max]; the gradient passes where min ≤ a ≤ max (as torch.clamp)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    lo = _bound("clip", "min", min, -np.inf)
    hi = _bound("clip", "max", max, np.inf)
    out = np.clip(a._data, lo, hi).astype(a.dtype, copy=False)

    def backward(g):  # torch: the gradient where lo ≤ a ≤ hi, exactly 0 elsewhere (and at nan)
        return (_masked(g, (a._data >= lo) & (a._data <= hi)),)
    return _record(out, (a,), backward, "Clip")


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b); at ties each side gets half the gradient, and where a nan is
    compared both sides get all of it (as in torch)."""
    return _pairwise_extremum("maximum", np.maximum, np.less, a, b)


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b); at ties each side gets half the gradient, and where a nan is
    compared both sides get all of it (as in torch)."""
    return _pairwise_extremum("minimum", np.minimum, np.greater, a, b)


def _pairwise_extremum(name, func, loses, a, b) -> Tensor:
    """torch's formula: g (halved at ties) to each side, except exactly 0 to the side that
    ``loses`` (is strictly below for maximum, above for minimum)."""
    if is_scalar(a) and not is_scalar(b):
        a, b = b, a  # max/min are symmetric; a scalar on the right keeps a float32 tensor float32
    a = as_tensor(a)
    b_data = _scalar(b) if is_scalar(b) else as_tensor(b)._data
    out = _binary(name, func, a._data, b_data)
    b_tensor = b if isinstance(b, Tensor) else None

    def backward(g):
        tie = a._data == b_data
        shared = _where(tie, g * 0.5, g) if tie.any() else g
        grad_a = _reduce_to(_masked(shared, ~loses(a._data, b_data)), a) if a.requires_grad \
            else None
        if b_tensor is None:
            return (grad_a,)
        grad_b = _reduce_to(_masked(shared, ~loses(b_data, a._data)), b_tensor) \
            if b_tensor.requires_grad else None
        return grad_a, grad_b
    parents = (a,) if b_tensor is None else (a, b_tensor)
    return _record(out, parents, backward, name.capitalize())


def where(condition, a, b) -> Tensor:
    """Elementwise ``a if condition else b``; each branch gets the gradient where chosen.

    A Python scalar branch takes the other branch's dtype, so float32 stays float32.
    """
    cond = np.asarray(condition._data if isinstance(condition, Tensor) else condition, dtype=bool)
    if is_scalar(a) and isinstance(b, Tensor):  # a Python scalar takes the tensor's dtype
        a = _wrap(np.asarray(_scalar(a), dtype=np.result_type(b._data, _scalar(a))))
    if is_scalar(b) and isinstance(a, Tensor):
        b = _wrap(np.asarray(_scalar(b), dtype=np.result_type(a._data, _scalar(b))))
    a, b = as_tensor(a), as_tensor(b)
    try:
        out = np.where(cond, a._data, b._data)
    except ValueError:
        raise ValueError(f"where: condition {cond.shape}, a {a.shape} and b {b.shape} do not "
                         f"broadcast together") from None

    def backward(g):
        return (_reduce_to(_where(cond, g, 0), a) if a.requires_grad else None,
                _reduce_to(_where(cond, 0, g), b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Where")


def astype(a: Tensor, dtype) -> Tensor:
    """Cast to ``dtype``; float casts pass the gradient back in the input's dtype."""
    dtype = np.dtype(dtype)
    out = a._data.astype(dtype)
    if dtype.kind != "f":
        return _wrap(out)
    return _record(out, (a,), lambda g: (g.astype(a.dtype),), "Cast")


# ---------------------------------------------------------------------------- shapes
def _view_of(out: Tensor, a: Tensor) -> Tensor:
    """Mark ``out`` as a view of ``a`` when their data share memory: they then share one
    version counter, so an in-place change through either is seen by both (as in torch)."""
    if np.may_share_memory(out._data, a._data):
        _share_version(out, a)
    return out


def reshape(a: Tensor, shape) -> Tensor:
    """The same elements in a new shape (a view when NumPy can make one); the gradient is
    reshaped back."""
    try:
        out = a._data.reshape(shape)
    except (ValueError, TypeError):
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                         f"({a._data.size} elements) into shape {shape}") from None
    return _view_of(_record(out, (a,), lambda g: (g.reshape(a.shape),), "Reshape"), a)


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge axes ``start_dim`` … ``end_dim`` (inclusive) into one, as torch.flatten."""
    if a.ndim == 0:
        return reshape(a, (1,))
    start, end = (_normalize_axis(d, a.ndim, "flatten")[0] for d in (start_dim, end_dim))
    if start > end:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim "
                         f"({end_dim}) for a tensor of shape {a.shape}")
    merged = int(np.prod(a.shape[start:end + 1]))  # not -1: an empty batch has no -1 to infer
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    """Insert an axis of length 1 at ``dim`` (−ndim−1 ≤ dim ≤ ndim, as torch)."""
    position = _normalize_axis(dim, a.ndim + 1, "unsqueeze")[0]
    return reshape(a, a.shape[:position] + (1,) + a.shape[position:])


def squeeze(a: Tensor, dim=None) -> Tensor:
    """Drop axes of length 1 (all of them, or those among ``dim``; as torch, an axis in
    ``dim`` whose length is not 1 is left alone)."""
    axes = range(a.ndim) if dim is None else _normalize_axis(dim, a.ndim, "squeeze")
    drop = {ax for ax in axes if a.shape[ax] == 1}
    return reshape(a, tuple(n for ax, n in enumerate(a.shape) if ax not in drop))


def permute(a: Tensor, dims=None) -> Tensor:
    """Reorder the axes: output axis i is input axis ``dims[i]`` (NumPy's ``transpose(axes)``;
    all axes reversed if None); backward applies the inverse permutation."""
    if dims is not None:
        dims = tuple(dims)
        if sorted(_normalize_axis(dims, a.ndim, "permute", True)) != list(range(a.ndim)):
            raise ValueError(f"permute: dims {dims} must name each of the {a.ndim} axes of a "
                             f"tensor of shape {a.shape} exactly once")
    out = np.transpose(a._data, dims)
    inverse = None if dims is None else tuple(int(i) for i in np.argsort([ax % a.ndim
                                                                          for ax in dims]))

    def backward(g):
        return (permute(g, inverse) if isinstance(g, Tensor) else np.transpose(g, inverse),)
    return _view_of(_record(out, (a,), backward, "Permute"), a)


def transpose(a: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap axes ``dim0`` and ``dim1`` (torch.transpose); ``permute`` reorders all axes."""
    first, second = (_normalize_axis(d, a.ndim, "transpose")[0] if a.ndim else 0
                     for d in (dim0, dim1))
    dims = list(range(a.ndim))
    if a.ndim:
        dims[first], dims[second] = dims[second], dims[first]
    return permute(a, dims)


def clone(a: Tensor) -> Tensor:
    """A copy with its own memory; the gradient passes through unchanged."""
    return _record(a._data.copy(), (a,), lambda g: (g,), "Clone")


def _plain_index(index):
    if isinstance(index, Tensor):
        return index._data
    if isinstance(index, tuple):
        return tuple(i._data if isinstance(i, Tensor) else i for i in index)
    return index


def _is_basic_index(index) -> bool:
    """Slices, integers, None and Ellipsis select each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (slice, int, type(None), type(Ellipsis))) and not isinstance(p, bool)
               for p in parts)


def getitem(a: Tensor, index) -> Tensor:
    """a[index] with NumPy indexing; backward scatter-adds, so repeated indices accumulate."""
    index = _plain_index(index)
    out = a._data[index]
    basic = _is_basic_index(index)

    def backward(g):
        return (_index_add(g, a, index, basic),)
    out = _record(out, (a,), backward, "Index")
    return _view_of(out, a) if basic else out


def _index_add(g, like: Tensor, index, basic: bool):
    """Zeros shaped like ``like`` with ``g`` added at ``index`` (repeats accumulate): the
    backward of ``getitem``. For a Tensor ``g`` it is recorded, its own backward being
    ``g[index]`` again, so it differentiates again."""
    grad = np.zeros_like(like._data)
    values = g._data if isinstance(g, Tensor) else g
    if basic:
        grad[index] = values
    else:
        np.add.at(grad, index, values)
    if isinstance(g, Tensor):
        return _record(grad, (g,), lambda upstream: (upstream[index],), "IndexAdd")
    return grad


def index_put(a: Tensor, index, value) -> Tensor:
    """A copy of ``a`` with ``a[index] = value`` (what ``x[index] = value`` records in a graph).

    Backward: g with zeros at ``index`` to a; g[index] (summed over the axes along which
    ``value`` was broadcast) to value.
    """
    index = _plain_index(index)
    value_tensor = value if isinstance(value, Tensor) else None
    out = a._data.copy()
    try:
        out[index] = value._data if value_tensor is not None else value
    except ValueError:
        raise ValueError(f"setitem: a value of shape {np.shape(_data_of_value(value))} does not "
                         f"broadcast to the selected shape {a._data[index].shape}") from None

    def backward(g):
        grad_a = None
        if a.requires_grad and isinstance(g, Tensor):
            grad_a = index_put(g, index, 0)
        elif a.requires_grad:
            grad_a = g.copy()
            grad_a[index] = 0
        if value_tensor is None:
            return (grad_a,)
        grad_value = _reduce_to(g[index], value_tensor) if value_tensor.requires_grad else None
        return grad_a, grad_value
    parents = (a,) if value_tensor is None else (a, value_tensor)
    return _record(out, parents, backward, "IndexPut")


def _data_of_value(value):
    return value._data if isinstance(value, Tensor) else value


def concatenate(tensors, axis=None, *, dim=None) -> Tensor:
    """Join tensors along an existing axis (default 0); the gradient is split back at the
    seams. ``cat(tensors, dim)`` is torch's name for it."""
    axis, _ = _axis_args("concatenate", axis, None, dim, None)
    axis = 0 if axis is None else axis
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("concatenate: expected a non-empty sequence of tensors")
    if tensors[0].ndim:
        axis = _normalize_axis(axis, tensors[0].ndim, "concatenate")[0]
    try:
        out = np.concatenate([t._data for t in tensors], axis=axis)
    except ValueError as error:
        raise ValueError(f"concatenate: shapes {[t.shape for t in tensors]} do not fit along "
                         f"axis {axis}: {error}") from None
    seams = [0, *itertools.accumulate(t.shape[axis] for t in tensors)]
    before = (slice(None),) * axis

    def backward(g):
        return tuple(_in_dtype(g[before + (slice(start, stop),)], t)
                     for start, stop, t in zip(seams, seams[1:], tensors))
    return _record(out, tensors, backward, "Concatenate")


cat = concatenate


def stack(tensors, axis=None, *, dim=None) -> Tensor:
    """Join equally shaped tensors along a new axis (default 0); backward takes each slice
    back out."""
    axis, _ = _axis_args("stack", axis, None, dim, None)
    axis = 0 if axis is None else axis
    tensors = tuple(as_tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("stack: expected a non-empty sequence of tensors")
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got "
                         f"{[t.shape for t in tensors]}")
    axis = _normalize_axis(axis, tensors[0].ndim + 1, "stack")[0]
    out = np.stack([t._data for t in tensors], axis=axis)

    before = (slice(None),) * axis

    def backward(g):
        return tuple(_in_dtype(g[before + (i,)], t) for i, t in enumerate(tensors))
    return _record(out, tensors, backward, "Stack")
