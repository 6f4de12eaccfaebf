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
import operator
import sys
from collections import namedtuple

import numpy as np
from numpy.exceptions import AxisError
from numpy.lib.array_utils import normalize_axis_tuple

from steepest.tensor import (
    Tensor, _changes, _grad_mode, _share_version, get_default_dtype, is_scalar, linspace,
    zeros_like,
)

__all__ = [
    "as_tensor", "add", "sub", "rsub", "mul", "div", "rdiv", "neg", "pow", "rpow", "matmul",
    "linear", "sum", "mean", "argmax", "argmin", "max", "min", "exp", "log", "sqrt", "sin",
    "cos", "abs", "clip", "maximum", "minimum", "where", "astype", "reshape", "flatten",
    "unsqueeze", "squeeze", "permute", "transpose", "clone", "getitem", "index_put",
    "concatenate", "cat", "stack",
    "result_type", "var", "std", "norm", "logsumexp", "cumsum", "flip", "prod", "log10", "log2",
    "log1p", "expm1", "rsqrt", "square", "sign", "floor", "ceil", "round", "trunc", "dot", "mm",
    "bmm", "outer", "masked_fill", "gather", "scatter", "scatter_add", "index_select", "sort",
    "topk", "expand", "repeat", "split", "chunk", "bitwise_and", "bitwise_or", "bitwise_xor",
    "bitwise_not", "floor_divide", "remainder", "any", "all", "isnan", "isinf", "isfinite",
    "logical_and", "logical_or", "logical_xor", "logical_not", "tril", "triu", "unbind",
    "masked_select", "nonzero", "count_nonzero", "histogram", "allclose", "equal",
]

_wrap = Tensor._wrap
_THIS_MODULE = sys.modules[__name__]  # ``_math``: these ops, for backwards under create_graph


def _record(data: np.ndarray, parents: tuple, backward, op: str,
            saves_output: bool = False) -> Tensor:
    """Wrap ``data``; attach the graph only if grad mode is on and some parent requires grad.

    The node keeps the in-place change count at this moment: backward refuses to run it if an
    input changed in place since (``tensor._check_unchanged``), and with ``saves_output``
    (the backward reads the output's values: exp, sigmoid, ...) if the output did.
    """
    out = _wrap(data if isinstance(data, np.ndarray) else np.asarray(data))  # 0-d: ndarray too
    if _grad_mode.enabled:
        for parent in parents:
            if parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                out._op = op
                out._recorded_at = _changes[0]
                if saves_output:
                    out._saved_output = out
                break
    return out


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


def _saved(out: np.ndarray, g, forward, *inputs):
    """The op's output values inside its backward: the array saved by the forward pass on the
    first-order path, ``forward(*inputs)`` (the forward again, as recorded tensors) under
    ``create_graph``, so that the output's own dependence on the inputs is differentiated."""
    return forward(*inputs) if isinstance(g, Tensor) else out


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


#: Up to this many elements ``np.where`` beats a finiteness check plus a multiplication;
#: above it ``np.where``'s data-dependent branches make it several times slower.
_SELECT_BELOW = 2048
_ZERO = {}  # dtype -> a 0-d zero of it, so that np.where's result keeps g's dtype


def _masked(g, keep: np.ndarray):
    """``g`` where ``keep``, exactly 0 elsewhere (torch selects there, so an upstream nan or inf
    at a dropped entry gives 0, not nan·0). Large finite arrays are multiplied by the mask,
    the same number and many times faster than ``np.where``."""
    if isinstance(g, Tensor):
        if not np.isfinite(g._data).all():
            return _where(keep, g, 0)
        return mul(g, _wrap(keep.astype(g._data.dtype)))
    if g.size <= _SELECT_BELOW or not np.isfinite(g).all():
        zero = _ZERO.get(g.dtype)
        if zero is None:
            zero = _ZERO[g.dtype] = np.zeros((), g.dtype)
        return np.where(keep, g, zero)
    return g * keep


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
    """Apply a NumPy ufunc to two arrays, in torch's result dtype (``result_type``), turning
    a broadcast failure into a clear error."""
    try:
        same = a.dtype is b.dtype  # NumPy's built-in dtypes are singletons: the usual case
    except AttributeError:
        same = False
    if not same:
        a, b = _promote(op, a, b)
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
        quotient = _saved(out, g, operator.truediv, a, b) if b.requires_grad else None
        return (_reduce_to(g_over_b, a) if a.requires_grad else None,
                _reduce_to(-g_over_b * quotient, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Div", saves_output=True)


def rdiv(a: Tensor, c) -> Tensor:
    """c / a for a scalar or array ``c`` on the left: ∂/∂a = −c/a²."""
    if is_scalar(c):
        c = _scalar(c)
        out = c / a._data

        def backward(g):
            return (-g * _saved(out, g, operator.truediv, c, a) / _operand(a, g),)
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
                result = _saved(out, g, operator.pow, base, power)
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
                grad = g * _saved(out, g, operator.pow, c, a) * log_c
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
        if isinstance(g, Tensor):
            inputs, weights = x, weight
        else:
            inputs, weights = x_data, w_data
        if g.ndim == 2:
            g2, x2 = g, inputs
        else:  # batched input: every leading axis is part of the batch
            g2, x2 = g.reshape(-1, g.shape[-1]), inputs.reshape(-1, inputs.shape[-1])
        grad_x = _in_dtype(g @ weights, x) if x.requires_grad else None
        grad_w = _in_dtype(g2.T @ x2, weight) if weight.requires_grad else None
        if bias is None:
            return grad_x, grad_w
        grad_b = None
        if bias.requires_grad:
            grad_b = g2.sum(axis=0)
            if grad_b.shape != bias._data.shape:  # a bias of shape (1,) or () broadcast
                grad_b = _sum_to_shape(grad_b, bias._data.shape)
            grad_b = _in_dtype(grad_b, bias)
        return grad_x, grad_w, grad_b
    return _record(out, parents, backward, "Linear")


# ---------------------------------------------------------------------------- reductions
def _normalize_axis(axis, ndim, op: str = "reduce", allow_duplicate: bool = False):
    """``axis`` as a tuple of non-negative axes; an out-of-range axis raises NumPy's
    ``AxisError`` (an ``IndexError`` and a ``ValueError``) naming the op."""
    if axis is None:
        return None
    try:
        if ndim == 0:  # torch accepts dims 0 and -1 on a 0-d tensor: there is nothing to reduce
            dims = axis if isinstance(axis, tuple) else (axis,)
            if builtins.any(d not in (0, -1) for d in dims):
                raise AxisError(f"dim {axis} is out of range for a 0-d tensor (only 0 and -1)")
            return ()
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


def _accumulator(data: np.ndarray, axis):
    """The dtype to add float32 in along ``axis``: NumPy sums a contiguous last axis pairwise
    (accurate) but any other axis one row at a time, whose float32 error grows with the row
    count (4e-4 relative over 180 000 rows, where torch's cascade sum stays at 1e-7); those
    sums run in float64 and round once."""
    if data.dtype != np.float32 or axis is None:
        return None
    return np.float64 if builtins.any(d != data.ndim - 1 for d in axis) else None


def sum(a: Tensor, axis=None, keepdims=None, *, dim=None, keepdim=None) -> Tensor:
    """Σ over ``axis`` (all axes if None); backward broadcasts the gradient back."""
    axis, keepdims = _axis_args("sum", axis, keepdims, dim, keepdim)
    axis = _normalize_axis(axis, a.ndim, "sum")
    out = np.sum(a._data, axis=axis, keepdims=keepdims, dtype=_accumulator(a._data, axis))
    if out.dtype != a.dtype and a.dtype.kind == "f":
        out = np.asarray(out, dtype=a.dtype)

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
    out = np.mean(a._data, axis=axis, keepdims=keepdims, dtype=_accumulator(a._data, axis))
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
    axis = _normalize_axis(axis, a.ndim, name)
    _check_not_empty(name, a, axis)
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


def _check_not_empty(name: str, a: Tensor, axis) -> None:
    """Refuse to reduce over an axis of length 0 (there is no extremum); other axes of length 0
    give an empty result, as torch."""
    lengths = a.shape if axis is None else [a.shape[i] for i in axis]
    if a._data.size == 0 and (not lengths or 0 in lengths):
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {a.shape} over "
                         f"{'all axes' if axis is None else f'axis {axis}'}")


#: What ``max(dim)``/``min(dim)`` return, as torch's ``torch.return_types.max``/``min``.
max_result = namedtuple("max", ["values", "indices"])
min_result = namedtuple("min", ["values", "indices"])


def _arg_extremum(name: str, finder, a: Tensor, axis, keepdims: bool) -> Tensor:
    """The index of the first extremal element along ``axis`` (over the flattened tensor if
    None), as an int64 tensor: not differentiable."""
    if axis is not None and (not isinstance(axis, (int, np.integer)) or isinstance(axis, bool)):
        raise TypeError(f"{name}: axis must be an int or None, got {axis!r}")
    if a.ndim == 0 and axis is not None:
        _normalize_axis(axis, 0, name)
        axis = None
    _check_not_empty(name, a, None if axis is None else _normalize_axis(axis, a.ndim, name))
    if axis is None:
        out = np.asarray(finder(a._data), dtype=np.int64)
        return _wrap(out.reshape((1,) * a.ndim) if keepdims else out)
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
    axis = _normalize_axis(dim, a.ndim, name)[0] if a.ndim else _normalize_axis(dim, 0, name)
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
    return _record(out, (a,), lambda g: (g * _saved(out, g, exp, a),), "Exp",
                   saves_output=True)


def log(a: Tensor) -> Tensor:
    """ln a; derivative 1/a (log 0 = −inf and its gradient ±inf without a warning, as torch)."""
    a = as_tensor(a)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log(a._data)

    def backward(g):
        if isinstance(g, Tensor):
            return (g / a,)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (g / a._data,)
    return _record(out, (a,), backward, "Log")


def sqrt(a: Tensor) -> Tensor:
    """√a; derivative 1/(2√a)."""
    out = np.sqrt(a._data)
    return _record(out, (a,), lambda g: (g * 0.5 / _saved(out, g, sqrt, a),), "Sqrt",
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
    """a clamped to [min, max]; the gradient passes where min ≤ a ≤ max (as torch.clamp).
    The result has torch's dtype: an integer tensor clamped by a float bound becomes float."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    lo = _bound("clip", "min", min, -np.inf)
    hi = _bound("clip", "max", max, np.inf)
    target = result_type(a, *(_scalar(v) for v in (min, max) if v is not None))
    out = np.clip(a._data, lo, hi).astype(target, copy=False)

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


def where(condition, a=None, b=None):
    """Elementwise ``a if condition else b``; each branch gets the gradient where chosen.

    A Python scalar branch takes the other branch's dtype, so float32 stays float32.
    ``where(condition)`` alone is torch's: the indices of the true elements, one int64
    tensor per axis.
    """
    if a is None and b is None:
        return _nonzero_tuple(condition)
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
    if a.dtype != b.dtype:  # torch's promotion: a 0-d float64 branch keeps float32 float32
        out = out.astype(result_type(a, b), copy=False)

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
    """An index with tensors replaced by their arrays, and integer scalars (``np.int64(1)``, a
    0-d integer tensor) by Python ints, so that they index as integers: a view, as in torch."""
    if isinstance(index, tuple):
        return tuple(_plain_index_part(i) for i in index)
    return _plain_index_part(index)


def _plain_index_part(part):
    if isinstance(part, Tensor):
        part = part._data
        if part.ndim == 0 and part.dtype.kind in "iu":
            return int(part)
        return part
    if isinstance(part, np.integer):
        return int(part)
    return part


def _is_basic_index(index) -> bool:
    """Slices, integers, None and Ellipsis select each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.all(isinstance(p, (slice, int, type(None), type(Ellipsis)))
                        and not isinstance(p, bool) for p in parts)


def getitem(a: Tensor, index) -> Tensor:
    """a[index] with NumPy indexing; backward scatter-adds, so repeated indices accumulate."""
    index = _plain_index(index)
    out = a._data[index]
    basic = _is_basic_index(index)
    if basic and not isinstance(out, np.ndarray):  # one element: a 0-d view, not a copy
        out = a._data[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]

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


# ============================================================================ torch's surface
# Statistics, maths, linear algebra, indexing and shape ops, bitwise and integer operators, and
# torch's type promotion (issue 20 item 4). Each backward follows the higher-order contract: an
# ndarray ``g`` gives ndarrays, a Tensor ``g`` (create_graph) gives Tensors made of these ops.

def _category(dtype) -> int:
    return {"b": 0, "i": 1, "u": 1, "f": 2}[np.dtype(dtype).kind]


def _promote_types(first, second) -> np.dtype:
    """torch's promotion of two tensors' dtypes: the higher category wins outright (int64 with
    float32 is float32, where NumPy says float64); within a category the wider type."""
    first_category, second_category = _category(first), _category(second)
    if first_category != second_category:
        return np.dtype(first if first_category > second_category else second)
    return np.promote_types(first, second)


def _combine_categories(higher, lower):
    """torch's ``combine_categories``: ``higher`` (a tier's dtype, or None) wins unless
    ``lower`` is of a higher category."""
    if higher is None:
        return lower
    if lower is None or np.dtype(higher).kind == "f":
        return higher
    if np.dtype(higher).kind == "b" or np.dtype(lower).kind == "f":
        return _promote_types(higher, lower)
    return higher


def result_type(*operands) -> np.dtype:
    """The dtype torch gives an op on ``operands`` (tensors, arrays and Python numbers).

    Three tiers, as ``torch.result_type``: tensors with dimensions decide; a 0-d tensor counts
    only if it is of a higher category (bool < integer < float), and a Python number only if
    it is of a higher category than both (a float then gives the default dtype). So
    ``float32 tensor + float64 0-d tensor`` is float32, and ``int tensor * 1.5`` is float.
    """
    tiers = [None, None, None]  # dimensioned, zero-dimensional, Python numbers
    for value in operands:
        if value is None:
            continue
        if isinstance(value, (Tensor, np.ndarray)):
            dtype = value.dtype
            tier = 0 if value.ndim else 1
        else:
            if isinstance(value, (bool, np.bool_)):
                dtype = np.dtype(bool)
            elif isinstance(value, (int, np.integer)):
                dtype = np.dtype(np.int64)
            else:
                dtype = get_default_dtype()
            tier = 2
        tiers[tier] = dtype if tiers[tier] is None else _promote_types(tiers[tier], dtype)
    return _combine_categories(tiers[0], _combine_categories(tiers[1], tiers[2]))


def _promote(op: str, a, b):
    """Arrays ``a`` and ``b`` cast to torch's result dtype where NumPy's would differ (NumPy
    lets a 0-d float64 array upcast a float32 array; torch does not). Python numbers stay as
    they are: NumPy already treats them as torch does, except a float with integers."""
    target = result_type(a, b)
    return tuple(x.astype(target) if isinstance(x, np.ndarray) and x.dtype != target else
                 x if isinstance(x, np.ndarray) or target.kind != "f" else float(x)
                 for x in (a, b))


def _lift(t: Tensor, other, division: bool = False) -> Tensor:
    """An integer or bool tensor cast to the default float dtype where torch's result is a
    float: combined with a Python float, or (``division``) in a true division."""
    if t._data.dtype.kind == "f":
        return t
    if isinstance(other, (float, np.floating)) or division and (
            is_scalar(other) or isinstance(other, Tensor) and other._data.dtype.kind != "f"):
        return astype(t, get_default_dtype())
    return t


def _kept_shape(shape: tuple, axis) -> tuple:
    """``shape`` with the reduced ``axis`` (a tuple, or None for all) set to 1."""
    return tuple(1 if axis is None or i in axis else n for i, n in enumerate(shape))


def _unreduce(g, shape: tuple, axis):
    """A reduced gradient ``g`` broadcast back to ``shape`` (ndarray or Tensor)."""
    g = g.reshape(_kept_shape(shape, axis))
    return expand(g, shape) if isinstance(g, Tensor) else np.broadcast_to(g, shape)


def _sum_to(g, shape: tuple):
    """``g`` summed over the axes along which ``shape`` was broadcast (ndarray or Tensor)."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(
        extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


def _zero_grad(g):
    """The gradient of a piecewise-constant op (sign, floor, round, ...): zeros, as torch."""
    return zeros_like(g) if isinstance(g, Tensor) else np.zeros_like(g)


def _reduction_axes(op: str, a: Tensor, dim, keepdim, axis, keepdims):
    axis, keepdims = _axis_args(op, axis, keepdims, dim, keepdim)
    return _normalize_axis(axis, a.ndim, op), keepdims


# ---------------------------------------------------------------------------- statistics
def _correction(op: str, unbiased, correction, ddof) -> float:
    given = [v for v in (unbiased, correction, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: give one of unbiased=, correction= (torch) and ddof= (NumPy), "
                        f"got unbiased={unbiased!r}, correction={correction!r}, ddof={ddof!r}")
    if unbiased is not None:
        if not isinstance(unbiased, (bool, np.bool_)):
            raise TypeError(f"{op}: unbiased must be True or False, got {unbiased!r}")
        return 1 if unbiased else 0
    value = correction if correction is not None else ddof
    return 1 if value is None else value


def var(a: Tensor, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None,
        keepdims=None, ddof=None) -> Tensor:
    """Variance Σ(a − ā)² / (n − correction) over ``dim`` (all if None). torch's default is
    unbiased (correction=1), NumPy's population (ddof=0); ``x.var(unbiased=False)`` or
    ``correction=0`` gives the population variance.

    Backward: g · 2(a − ā) / (n − correction).
    """
    if isinstance(dim, (bool, np.bool_)):  # torch's var(unbiased) overload
        dim, unbiased = None, dim
    c = _correction("var", unbiased, correction, ddof)
    if a.dtype.kind != "f":
        raise TypeError(f"var/std: only float tensors are supported, got dtype {a.dtype}; "
                        f"convert with .float() or .double() first")
    axis, keepdims = _reduction_axes("var", a, dim, keepdim, axis, keepdims)
    n = a._data.size if axis is None else int(np.prod([a.shape[i] for i in axis]))
    accumulator = _accumulator(a._data, axis)
    centred = a._data - a._data.mean(axis=axis, keepdims=True,
                                     dtype=accumulator).astype(a.dtype, copy=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(np.sum(centred * centred, axis=axis, keepdims=keepdims,
                                dtype=accumulator).astype(a.dtype, copy=False)
                         / np.asarray(builtins.max(n - c, 0), dtype=a.dtype))

    with np.errstate(divide="ignore"):
        scale = float(np.float64(2.0) / np.float64(n - c))

    def backward(g):
        if isinstance(g, Tensor):
            return (_unreduce(g, a.shape, axis) * (a - mean(a, axis=axis, keepdims=True)) * scale,)
        with np.errstate(invalid="ignore"):
            return (_unreduce(g, a.shape, axis) * centred * scale,)
    return _record(out, (a,), backward, "Var")


def std(a: Tensor, dim=None, unbiased=None, keepdim=None, *, correction=None, axis=None,
        keepdims=None, ddof=None) -> Tensor:
    """Standard deviation √var (unbiased by default, as torch; see ``var``).

    Backward: g / (2·std) times var's gradient, 0 where std is 0 (as torch).
    """
    if isinstance(dim, (bool, np.bool_)):
        dim, unbiased = None, dim
    variance = var(a, dim, unbiased, keepdim, correction=correction, axis=axis,
                   keepdims=keepdims, ddof=ddof)
    out = np.sqrt(variance._data)
    constant = out == 0

    def backward(g):
        if isinstance(g, Tensor):
            return (where(constant, 0.0, g / (sqrt(variance) * 2)),)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.where(constant, 0, g / (2 * out)).astype(out.dtype, copy=False),)
    return _record(out, (variance,), backward, "Std", saves_output=True)


def norm(a: Tensor, p="fro", dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """The vector p-norm (Σ|a|ᵖ)^(1/p) over ``dim`` (all elements if None): p = 2 ('fro'),
    1, inf (max |a|), -inf (min |a|), 0 (the count of non-zeros) or any other number.

    Backward (torch's): p=2: g·a/‖a‖ (0 where ‖a‖ = 0); p=1: g·sign(a); p=±inf: g·sign(a)
    shared among the extremal elements; other p: g·sign(a)·|a|^(p−1)/‖a‖^(p−1), 0 where a
    or ‖a‖ is 0.
    """
    if p == "fro" or p is None:
        p = 2
    if isinstance(p, str) or isinstance(p, bool):
        raise ValueError(f"norm: p must be a number, 'fro', inf or -inf, got {p!r}")
    axis, keepdims = _reduction_axes("norm", a, dim, keepdim, axis, keepdims)
    if a.dtype.kind != "f":
        raise TypeError(f"norm: expected a float tensor, got dtype {a.dtype}; convert with "
                        f".float() or .double() first")
    magnitude = np.abs(a._data)
    if p == np.inf or p == -np.inf:
        reduced = (np.max if p > 0 else np.min)(magnitude, axis=axis, keepdims=True)
    elif p == 0:
        reduced = np.sum(magnitude != 0, axis=axis, keepdims=True).astype(a.dtype)
    elif p == 1:
        reduced = np.sum(magnitude, axis=axis, keepdims=True)
    elif p == 2:
        reduced = np.sqrt(np.sum(a._data * a._data, axis=axis, keepdims=True))
    else:
        reduced = np.sum(magnitude ** p, axis=axis, keepdims=True) ** (1.0 / p)
    out = reduced if keepdims else reduced.reshape(
        tuple(n for i, n in enumerate(a.shape) if axis is not None and i not in axis))

    def backward(g):
        g = _unreduce(g, a.shape, axis)
        x = _operand(a, g)
        if p == 0:
            return (_zero_grad(g),)
        if p == 1:
            return (g * np.sign(a._data),)
        if p in (np.inf, -np.inf):
            ties = (magnitude == reduced)
            share = np.sign(a._data) * ties / ties.sum(axis=axis, keepdims=True)
            return (g * share.astype(a.dtype, copy=False),)
        total = reduced if isinstance(g, np.ndarray) else norm(
            a, p, axis=axis, keepdims=True)
        zero = reduced == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            if p == 2:
                scaled = x / total
            else:  # sign(a)·|a|^(p−1), which is 0 at a = 0 (for p < 1 too), over ‖a‖^(p−1)
                nonzero = magnitude != 0
                size = abs(where(nonzero, x, 1.0)) if isinstance(x, Tensor) else \
                    np.where(nonzero, magnitude, 1.0)
                scaled = np.sign(a._data) * size ** (p - 1) / total ** (p - 1)
            if isinstance(scaled, np.ndarray):
                return (np.where(zero, 0.0, g * scaled).astype(a.dtype, copy=False),)
        return (g * where(zero, 0.0, scaled),)
    return _record(np.asarray(out, dtype=a.dtype), (a,), backward, "Norm")


def logsumexp(a: Tensor, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """log Σ exp(a) over ``dim``, computed as m + log Σ exp(a − m) with m the maximum (0 where
    m is infinite), so large values do not overflow. Backward: g · softmax(a) = g·exp(a − out)."""
    axis, keepdims = _reduction_axes("logsumexp", a, dim, keepdim, axis, keepdims)
    if a.dtype.kind != "f":
        a = astype(a, get_default_dtype())
    if a._data.size == 0:
        kept = np.full(_kept_shape(a.shape, axis), -np.inf, a.dtype)
    else:
        peak = np.max(a._data, axis=axis, keepdims=True)
        peak = np.where(np.isinf(peak), 0.0, peak).astype(a.dtype, copy=False)
        with np.errstate(divide="ignore"):
            kept = np.log(np.sum(np.exp(a._data - peak), axis=axis, keepdims=True)) + peak
    out = kept if keepdims else kept.reshape(
        tuple(n for i, n in enumerate(a.shape) if axis is not None and i not in axis))

    def backward(g):
        if isinstance(g, Tensor):
            return (_unreduce(g, a.shape, axis) * exp(a - logsumexp(a, axis=axis,
                                                                     keepdims=True)),)
        return (_unreduce(g, a.shape, axis) * np.exp(a._data - kept),)
    return _record(np.asarray(out), (a,), backward, "LogSumExp")


def _one_axis(op: str, a: Tensor, dim) -> int:
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
        raise TypeError(f"{op}: dim must be an int, got {dim!r}")
    return _normalize_axis(dim, builtins.max(a.ndim, 1), op)[0]


def _accumulating(a: Tensor, dtype) -> Tensor:
    """``a`` in the dtype a running sum or product takes: ``dtype`` if given, else int64 for
    integer and bool input (as torch), else its own."""
    if dtype is not None:
        return astype(a, dtype)
    return astype(a, np.int64) if a.dtype.kind in "biu" else a


def cumsum(a: Tensor, dim, *, dtype=None) -> Tensor:
    """Running sums along ``dim``: out_i = Σ_{j≤i} a_j. Backward: the running sums of g taken
    from the end (flip, cumsum, flip). Integer and bool input sums in int64, as torch."""
    axis = _one_axis("cumsum", a, dim)
    a = _accumulating(a, dtype)
    if a.ndim == 0:
        return _record(a._data.copy(), (a,), lambda g: (g,), "CumSum")

    def backward(g):
        if isinstance(g, Tensor):
            return (flip(cumsum(flip(g, axis), axis), axis),)
        return (np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis),)
    return _record(np.cumsum(a._data, axis=axis), (a,), backward, "CumSum")


def flip(a: Tensor, dims) -> Tensor:
    """The elements in reverse order along ``dims``; backward flips g back."""
    dims = _normalize_axis(dims, a.ndim, "flip")

    def backward(g):
        return (flip(g, dims) if isinstance(g, Tensor) else np.flip(g, dims),)
    return _record(np.flip(a._data, dims).copy(), (a,), backward, "Flip")


def prod(a: Tensor, dim=None, keepdim=None, *, dtype=None, axis=None, keepdims=None) -> Tensor:
    """Π a over ``dim`` (all elements if None). Backward: g times the product of the other
    elements, computed from products to the left and to the right (exact with zeros)."""
    a = _accumulating(a, dtype)
    axis, keepdims = _reduction_axes("prod", a, dim, keepdim, axis, keepdims)
    out = np.prod(a._data, axis=axis, keepdims=keepdims)

    def backward(g):
        g = _unreduce(g, a.shape, axis)
        if isinstance(g, Tensor):
            if (a._data == 0).any():
                raise NotImplementedError("prod: the second derivative through a product with "
                                          "a zero factor is not implemented")
            return (g * prod(a, axis=axis, keepdims=True) / a,)
        return (g * _product_of_others(a._data, axis),)
    return _record(np.asarray(out), (a,), backward, "Prod")


def _product_of_others(data: np.ndarray, axis) -> np.ndarray:
    """For each element, the product of the other elements of its reduced group: the product
    to its left times the product to its right (no division, so exact with zeros)."""
    axes = tuple(range(data.ndim)) if axis is None else axis
    last = tuple(range(data.ndim - len(axes), data.ndim))
    moved = np.moveaxis(data, axes, last)
    flat = moved.reshape(moved.shape[:data.ndim - len(axes)] + (-1,))
    if flat.shape[-1] == 0:
        return np.zeros_like(data)
    ones = np.ones(flat.shape[:-1] + (1,), data.dtype)
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.flip(np.concatenate([flat[..., 1:], ones], axis=-1), -1),
                               axis=-1), -1)
    return np.moveaxis((left * right).reshape(moved.shape), last, axes)


# ---------------------------------------------------------------------------- maths
def _unary(name: str, forward, derivative, a, saves_output: bool = False) -> Tensor:
    """An elementwise op: ``forward`` on the array; backward g · ``derivative(x, out)``, which
    is written with operators so that it runs on arrays and, under create_graph, on tensors."""
    a = as_tensor(a)
    if a.dtype.kind != "f":
        a = astype(a, get_default_dtype())
    out = forward(a._data)

    def backward(g):
        if isinstance(g, Tensor):  # the output again, with its graph, where the backward reads it
            return (g * derivative(a, _UNARY[name](a) if saves_output else None),)
        return (g * derivative(a._data, out),)
    return _record(out, (a,), backward, name, saves_output=saves_output)


_UNARY = {}


_LN10, _LN2 = float(np.log(10.0)), float(np.log(2.0))


def log10(a) -> Tensor:
    """log₁₀ a; derivative 1/(a ln 10)."""
    return _unary("Log10", np.log10, lambda x, out: 1 / (x * _LN10), a)


def log2(a) -> Tensor:
    """log₂ a; derivative 1/(a ln 2)."""
    return _unary("Log2", np.log2, lambda x, out: 1 / (x * _LN2), a)


def log1p(a) -> Tensor:
    """ln(1 + a), exact for small a; derivative 1/(1 + a)."""
    return _unary("Log1p", np.log1p, lambda x, out: 1 / (x + 1), a)


def expm1(a) -> Tensor:
    """eᵃ − 1, exact for small a; derivative eᵃ = out + 1."""
    return _unary("Expm1", np.expm1, lambda x, out: out + 1, a, saves_output=True)


def rsqrt(a) -> Tensor:
    """1/√a; derivative −½ a^(−3/2) = −½ out³."""
    return _unary("Rsqrt", lambda x: 1 / np.sqrt(x), lambda x, out: out * out * out * -0.5, a,
                  saves_output=True)


def square(a) -> Tensor:
    """a²; derivative 2a. Integer input stays integer (not differentiable), as torch."""
    a = as_tensor(a)
    if a.dtype.kind != "f":
        return _wrap(a._data * a._data)
    return _unary("Square", np.square, lambda x, out: x * 2, a)


def _piecewise_constant(name: str, function, a, keeps_integers: bool = True) -> Tensor:
    """sign, floor, ceil, round, trunc: the gradient is 0 everywhere (as torch)."""
    a = as_tensor(a)
    if a.dtype.kind != "f":
        return _wrap(function(a._data) if keeps_integers else a._data.copy())
    return _record(function(a._data), (a,), lambda g: (_zero_grad(g),), name)


def sign(a) -> Tensor:
    """−1, 0 or 1 by the sign of a (NaN stays NaN); gradient 0."""
    return _piecewise_constant("Sign", np.sign, a)


def floor(a) -> Tensor:
    """The largest integer ≤ a, in a's dtype; gradient 0."""
    return _piecewise_constant("Floor", np.floor, a, keeps_integers=False)


def ceil(a) -> Tensor:
    """The smallest integer ≥ a, in a's dtype; gradient 0."""
    return _piecewise_constant("Ceil", np.ceil, a, keeps_integers=False)


def round(a, decimals: int = 0) -> Tensor:
    """a rounded to ``decimals`` places, halves to even (as torch and NumPy); gradient 0."""
    return _piecewise_constant("Round", lambda x: np.round(x, decimals), a,
                               keeps_integers=decimals >= 0)


def trunc(a) -> Tensor:
    """a rounded towards 0; gradient 0."""
    return _piecewise_constant("Trunc", np.trunc, a, keeps_integers=False)


_UNARY.update({"Log10": log10, "Log2": log2, "Log1p": log1p, "Expm1": expm1, "Rsqrt": rsqrt,
               "Square": square})


# ---------------------------------------------------------------------------- linear algebra
def _operands_of_rank(op: str, a, b, ndim: int, second: str, same_dtype: bool = True):
    """``a`` and ``b`` as tensors, checked to be ``ndim``-D (torch names them ``input`` and
    ``second``) and, with ``same_dtype``, of one dtype (torch's linear-algebra ops do not
    promote)."""
    a, b = as_tensor(a), as_tensor(b)
    for name, t in (("input", a), (second, b)):
        if t.ndim != ndim:
            raise ValueError(f"{op}: {name} must be a {ndim}-D tensor, got shape {t.shape}")
    if same_dtype and a.dtype != b.dtype:
        raise TypeError(f"{op}: expected both operands to have the same dtype, got {a.dtype} "
                        f"and {b.dtype}; convert one with .to(other.dtype)")
    return a, b


def dot(a, b) -> Tensor:
    """Σ a_i b_i of two 1-D tensors of the same length (a 0-d tensor), as torch.dot."""
    a, b = _operands_of_rank("dot", a, b, 1, "tensor")
    if a.shape != b.shape:
        raise ValueError(f"dot: the tensors must have the same length, got {a.shape[0]} and "
                         f"{b.shape[0]}")
    return matmul(a, b)


def mm(a, b) -> Tensor:
    """The matrix product of two 2-D tensors (no broadcasting, as torch.mm)."""
    return matmul(*_operands_of_rank("mm", a, b, 2, "mat2"))


def bmm(a, b) -> Tensor:
    """Batched matrix products of two 3-D tensors (b, n, m) @ (b, m, p), as torch.bmm."""
    a, b = _operands_of_rank("bmm", a, b, 3, "mat2")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"bmm: the batch sizes differ: {a.shape[0]} and {b.shape[0]}")
    return matmul(a, b)


def outer(a, b) -> Tensor:
    """The outer product a_i b_j of two 1-D tensors (torch.outer); differentiable through
    reshape and mul."""
    a, b = _operands_of_rank("outer", a, b, 1, "vec2", same_dtype=False)
    return mul(reshape(a, (-1, 1)), reshape(b, (1, -1)))


# ---------------------------------------------------------------------------- indexing, shape
def _mask_of(op: str, mask) -> np.ndarray:
    array = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.dtype != np.bool_:
        raise TypeError(f"{op}: mask must be a bool tensor, got dtype {array.dtype}; compare "
                        f"to make one (x > 0)")
    return array


def masked_fill(a: Tensor, mask, value) -> Tensor:
    """``a`` with ``value`` where ``mask`` (a bool tensor broadcastable to a's shape) is True,
    in a's dtype. Backward: g where the mask is False to a; the sum of g where it is True to a
    0-d tensor ``value``."""
    mask = _mask_of("masked_fill", mask)
    value_tensor = value if isinstance(value, Tensor) else None
    if value_tensor is not None and value_tensor.ndim:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                         f"{value_tensor.shape}")
    try:
        full_mask = np.broadcast_to(mask, a.shape)
    except ValueError:
        raise ValueError(f"masked_fill: the mask of shape {mask.shape} does not broadcast to "
                         f"the tensor's shape {a.shape}") from None
    out = a._data.copy()
    out[full_mask] = value._data if value_tensor is not None else _scalar(value)
    keep = ~full_mask

    def backward(g):
        grad_a = g * keep if a.requires_grad else None
        if value_tensor is None:
            return (grad_a,)
        if not value_tensor.requires_grad:
            return grad_a, None
        grad_value = (g * full_mask).sum()
        if isinstance(grad_value, Tensor):
            return grad_a, astype(grad_value, value_tensor.dtype)
        return grad_a, np.asarray(grad_value, dtype=value_tensor.dtype)
    parents = (a,) if value_tensor is None else (a, value_tensor)
    return _record(out, parents, backward, "MaskedFill")


def _index_tuple(op: str, a: Tensor, dim: int, index: np.ndarray) -> tuple:
    """The advanced index that picks, for each position of ``index``, a's element at that
    position with the ``dim`` coordinate replaced by the index's value (torch's gather)."""
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: index must be an integer tensor, got dtype {index.dtype}")
    if index.ndim != a.ndim:
        raise ValueError(f"{op}: index must have as many dimensions as the tensor ({a.ndim}), "
                         f"got shape {index.shape}")
    for d, (n_index, n_input) in enumerate(zip(index.shape, a.shape)):
        if d != dim and n_index > n_input:
            raise ValueError(f"{op}: index has size {n_index} in dimension {d}, larger than "
                             f"the tensor's {n_input} (shape {a.shape}, index {index.shape})")
    size = a.shape[dim]
    if index.size and (index.min() < -size or index.max() >= size):
        raise IndexError(f"{op}: index out of range for dimension {dim} of size {size}")
    parts = list(np.indices(index.shape, sparse=True))
    parts[dim] = index
    return tuple(parts)


def gather(a: Tensor, dim, index) -> Tensor:
    """out[i][j] = a[index[i][j]][j] (dim=0), a[i][index[i][j]] (dim=1), …, as torch.gather;
    backward scatter-adds g back (repeated indices accumulate)."""
    index = index._data if isinstance(index, Tensor) else np.asarray(index)
    if a.ndim == 0:
        return getitem(reshape(a, (1,)), index.reshape(-1)).reshape(index.shape)
    dim = _one_axis("gather", a, dim)
    return getitem(a, _index_tuple("gather", a, dim, index))


def _scatter(op: str, a: Tensor, dim, index, src, reduce_add: bool) -> Tensor:
    index = index._data if isinstance(index, Tensor) else np.asarray(index)
    dim = _one_axis(op, a, dim)
    parts = _index_tuple(op, a, dim, index)
    src_tensor = src if isinstance(src, Tensor) else None
    if src_tensor is not None:
        if src_tensor.ndim != index.ndim or builtins.any(
                n_i > n_s for n_i, n_s in zip(index.shape, src_tensor.shape)):
            raise ValueError(f"{op}: src of shape {src_tensor.shape} must be at least as large "
                             f"as index {index.shape} in every dimension")
        crop = tuple(slice(0, n) for n in index.shape)
        values = src_tensor._data[crop]
    else:
        crop, values = None, _scalar(src)
    out = a._data.copy()
    if reduce_add:
        np.add.at(out, parts, values)
    else:
        out[parts] = values

    def backward(g):
        grad_a = None
        if a.requires_grad and reduce_add:
            grad_a = g
        elif a.requires_grad:  # the overwritten places pass nothing back
            written = _hit(a.shape, parts)
            grad_a = masked_fill(g, written, 0.0) if isinstance(g, Tensor) else \
                np.where(written, 0, g)
        if src_tensor is None:
            return (grad_a,)
        grad_src = None
        if src_tensor.requires_grad:
            picked = getitem(g, parts) if isinstance(g, Tensor) else g[parts]
            pad = [(0, n_s - n_i) for n_i, n_s in zip(index.shape, src_tensor.shape)]
            grad_src = _pad_zeros(picked, pad) if isinstance(g, Tensor) else np.pad(picked, pad)
        return grad_a, grad_src
    parents = (a,) if src_tensor is None else (a, src_tensor)
    return _record(out, parents, backward, "ScatterAdd" if reduce_add else "Scatter")


def _hit(shape: tuple, parts: tuple) -> np.ndarray:
    hit = np.zeros(shape, dtype=bool)
    hit[parts] = True
    return hit


def _pad_zeros(a: Tensor, pad) -> Tensor:
    """``a`` padded with zeros, ``pad`` = [(before, after)] per axis; backward crops g."""
    crop = tuple(slice(before, before + n) for (before, _), n in zip(pad, a.shape))
    return _record(np.pad(a._data, pad), (a,), lambda g: (getitem(g, crop) if isinstance(
        g, Tensor) else g[crop],), "ConstantPad")


def scatter(a: Tensor, dim, index, src=None, *, value=None) -> Tensor:
    """A copy of ``a`` with src's values (or ``value``) written at ``index`` along ``dim``
    (self[index[i][j]][j] = src[i][j] for dim=0), as torch.scatter. Backward: g with zeros at
    the written places to a; g at them to src."""
    if (src is None) == (value is None):
        raise TypeError("scatter: give exactly one of src (a tensor) and value (a number)")
    return _scatter("scatter", a, dim, index, value if src is None else src, False)


def scatter_add(a: Tensor, dim, index, src) -> Tensor:
    """A copy of ``a`` with src's values added at ``index`` along ``dim`` (repeated indices
    accumulate), as torch.scatter_add. Backward: g to a; g at the indices to src."""
    return _scatter("scatter_add", a, dim, index, src, True)


def index_select(a: Tensor, dim, index) -> Tensor:
    """The entries at the 1-D integer ``index`` along ``dim`` (torch.index_select); backward
    adds g back at the indices."""
    index = index._data if isinstance(index, Tensor) else np.asarray(index)
    if index.ndim > 1 or index.dtype.kind not in "iu":
        raise TypeError(f"index_select: index must be a 1-D integer tensor, got shape "
                        f"{index.shape} and dtype {index.dtype}")
    if a.ndim == 0:
        return getitem(reshape(a, (1,)), index.reshape(-1)).reshape(index.shape)
    dim = _one_axis("index_select", a, dim)
    return getitem(a, (slice(None),) * dim + (index.reshape(-1),))


#: What ``sort``/``topk`` return, as torch's ``torch.return_types``.
sort_result = namedtuple("sort", ["values", "indices"])
topk_result = namedtuple("topk", ["values", "indices"])


def _sorted_indices(data: np.ndarray, axis: int, descending: bool) -> np.ndarray:
    """A stable sort's indices (ties keep their order, NaN sorts as the largest, as torch)."""
    if not descending:
        return np.argsort(data, axis=axis, kind="stable")
    flipped = np.flip(data, axis)
    order = np.argsort(flipped, axis=axis, kind="stable")  # NaN last, ties: last first
    return np.flip(data.shape[axis] - 1 - order, axis)


def sort(a: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """``(values, indices)`` sorted along ``dim`` (ties in their original order); values are
    a gather of a, so the gradient goes back to the sorted positions."""
    if a.ndim == 0:
        return sort_result(a.clone(), _wrap(np.zeros((), np.int64)))
    axis = _one_axis("sort", a, dim)
    indices = _sorted_indices(a._data, axis, descending)
    return sort_result(gather(a, axis, indices), _wrap(indices))


def topk(a: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (``largest=False``: smallest) entries along ``dim`` and their indices,
    as torch.topk; the gradient goes back to the chosen positions."""
    axis = _one_axis("topk", a, dim) if a.ndim else 0
    size = a.shape[axis] if a.ndim else 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= size:
        raise ValueError(f"topk: k must be an int from 0 to {size} (the size of dimension "
                         f"{dim}), got {k!r}")
    if a.ndim == 0:
        return topk_result(a.clone(), _wrap(np.zeros((), np.int64)))
    indices = np.take(_sorted_indices(a._data, axis, largest), np.arange(k), axis=axis)
    return topk_result(gather(a, axis, indices), _wrap(indices))


def expand(a: Tensor, *sizes) -> Tensor:
    """A broadcast view of ``a`` with the given sizes (−1 keeps a size; new axes go in front),
    as torch.expand; backward sums g over the expanded axes."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) \
        else tuple(sizes)
    extra = len(sizes) - a.ndim
    if extra < 0:
        raise ValueError(f"expand: the number of sizes ({len(sizes)}) must be at least the "
                         f"tensor's number of dimensions ({a.ndim}), shape {a.shape}")
    shape = tuple(n if n != -1 else a.shape[i - extra] for i, n in enumerate(sizes))
    if builtins.any(n == -1 for n in sizes[:extra]):
        raise ValueError(f"expand: -1 is not allowed for the new leading dimensions {sizes}")
    try:
        out = np.broadcast_to(a._data, shape)
    except ValueError:
        raise ValueError(f"expand: a tensor of shape {a.shape} cannot be expanded to {shape}; "
                         f"only dimensions of size 1 can grow") from None
    return _view_of(_record(out, (a,), lambda g: (_sum_to(g, a.shape),), "Expand"), a)


def repeat(a: Tensor, *sizes) -> Tensor:
    """``a`` tiled ``sizes`` times along each axis (torch.repeat; NumPy's tile); backward sums
    the copies of g."""
    sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) \
        else tuple(sizes)
    if len(sizes) < a.ndim:
        raise ValueError(f"repeat: the number of repeats ({len(sizes)}) must be at least the "
                         f"tensor's number of dimensions ({a.ndim})")
    shape = (1,) * (len(sizes) - a.ndim) + a.shape
    out = np.tile(a._data.reshape(shape), sizes)
    interleaved = tuple(n for pair in zip(sizes, shape) for n in pair)

    def backward(g):
        summed = g.reshape(interleaved).sum(axis=tuple(range(0, 2 * len(sizes), 2)))
        return (summed.reshape(a.shape),)
    return _record(out, (a,), backward, "Repeat")


def split(a: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Views of consecutive pieces along ``dim``: of ``split_size`` each (the last may be
    smaller) or of the given list of sizes, as torch.split."""
    axis = _one_axis("split", a, dim)
    size = a.shape[axis]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0 and size:
            raise ValueError(f"split: split_size must be positive, got {step}")
        sections = [builtins.min(step, size - start) for start in range(0, size, step)] \
            if size else [0]
    else:
        sections = [int(n) for n in split_size_or_sections]
        if builtins.sum(sections) != size:
            raise ValueError(f"split: sections {sections} must sum to the size {size} of "
                             f"dimension {dim}")
    starts = np.cumsum([0] + sections)
    lead = (slice(None),) * axis
    return tuple(getitem(a, lead + (slice(int(s), int(s) + n),))
                 for s, n in zip(starts, sections))


def chunk(a: Tensor, chunks: int, dim: int = 0) -> tuple:
    """At most ``chunks`` views of equal size ⌈n/chunks⌉ along ``dim`` (the last smaller),
    as torch.chunk."""
    if isinstance(chunks, bool) or not isinstance(chunks, (int, np.integer)) or chunks < 1:
        raise ValueError(f"chunk: chunks must be a positive int, got {chunks!r}")
    size = a.shape[_one_axis("chunk", a, dim)]
    return split(a, builtins.max(-(-size // chunks), 1), dim)


# ---------------------------------------------------------------------------- integer operators
def _bitwise(name: str, func, a, b) -> Tensor:
    arrays = _arrays(a, b)
    for dtype in (np.asarray(x).dtype for x in arrays):
        if dtype.kind not in "biu":
            raise TypeError(f"{name}: defined for bool and integer tensors only, got dtype "
                            f"{dtype}; compare first (x > 0) to get a mask")
    return _wrap(np.asarray(_binary(name, func, *arrays)))


def bitwise_and(a, b) -> Tensor:
    """a & b: logical and of bool tensors, bitwise and of integers (not differentiable)."""
    return _bitwise("bitwise_and", np.bitwise_and, a, b)


def bitwise_or(a, b) -> Tensor:
    """a | b: logical or of bool tensors, bitwise or of integers (not differentiable)."""
    return _bitwise("bitwise_or", np.bitwise_or, a, b)


def bitwise_xor(a, b) -> Tensor:
    """a ^ b: logical xor of bool tensors, bitwise xor of integers (not differentiable)."""
    return _bitwise("bitwise_xor", np.bitwise_xor, a, b)


def bitwise_not(a: Tensor) -> Tensor:
    """~a: logical not of a bool tensor, bitwise not of integers (not differentiable)."""
    if a.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: defined for bool and integer tensors only, got dtype "
                        f"{a.dtype}; for a mask use ~(x > 0), for floats 1 - x or -x")
    return _wrap(np.asarray(~a._data))


def _division_operands(a, b):
    """The operands of ``//`` and ``%`` (tensors as arrays, numbers as they are) and torch's
    result dtype for them (bools divide as int64)."""
    target = result_type(a, b)
    if target.kind == "b":
        target = np.dtype(np.int64)
    a_data, b_data = (x._data.astype(target, copy=False) if isinstance(x, Tensor) else
                      _scalar(x) for x in (a, b))
    return a_data, b_data, target


def floor_divide(a, b) -> Tensor:
    """⌊a / b⌋ (Python's ``//``, rounding down). As torch, it has no derivative: a backward
    through it raises."""
    a_data, b_data, target = _division_operands(a, b)
    if target.kind in "iu" and np.any(np.asarray(b_data) == 0):
        raise ZeroDivisionError("floor_divide: integer division by zero")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(_binary("floor_divide", np.floor_divide, a_data, b_data))
    parents = tuple(t for t in (a, b) if isinstance(t, Tensor))

    def backward(g):
        raise RuntimeError("floor_divide: the derivative of floor division is not "
                           "implemented (it is 0 almost everywhere); detach() its inputs")
    return _record(out.astype(target, copy=False), parents, backward, "FloorDivide")


def remainder(a, b) -> Tensor:
    """a − b·⌊a / b⌋ (Python's ``%``: the sign of b). Backward: g to a, −g·⌊a/b⌋ to b."""
    a_data, b_data, target = _division_operands(a, b)
    if target.kind in "iu" and np.any(np.asarray(b_data) == 0):
        raise ZeroDivisionError("remainder: integer modulo by zero")
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.asarray(_binary("remainder", np.remainder, a_data, b_data)).astype(target,
                                                                                  copy=False)
    a_tensor = a if isinstance(a, Tensor) else None
    b_tensor = b if isinstance(b, Tensor) else None

    def backward(g):
        grads = []
        if a_tensor is not None:
            grads.append(_sum_to(g, a_tensor.shape) if a_tensor.requires_grad else None)
        if b_tensor is not None:
            grad_b = None
            if b_tensor.requires_grad:
                with np.errstate(divide="ignore", invalid="ignore"):
                    quotient = np.floor_divide(a_data, b_data)
                grad_b = _sum_to(g * -quotient, b_tensor.shape)
            grads.append(grad_b)
        return tuple(grads)
    parents = tuple(t for t in (a_tensor, b_tensor) if t is not None)
    return _record(out, parents, backward, "Remainder")


def _nonzero_tuple(condition) -> tuple:
    """The indices where ``condition`` is true, one int64 tensor per axis (torch.where(c))."""
    data = condition._data if isinstance(condition, Tensor) else np.asarray(condition)
    return tuple(_wrap(i.astype(np.int64, copy=False)) for i in np.nonzero(data))


# ---------------------------------------------------------------------------- more of torch's names
def any(a: Tensor, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """Whether any element (along ``dim``) is non-zero: a bool tensor."""
    axis, keepdims = _reduction_axes("any", a, dim, keepdim, axis, keepdims)
    return _wrap(np.asarray(np.any(a._data, axis=axis, keepdims=keepdims)))


def all(a: Tensor, dim=None, keepdim=None, *, axis=None, keepdims=None) -> Tensor:
    """Whether every element (along ``dim``) is non-zero: a bool tensor."""
    axis, keepdims = _reduction_axes("all", a, dim, keepdim, axis, keepdims)
    return _wrap(np.asarray(np.all(a._data, axis=axis, keepdims=keepdims)))


def _elementwise_test(function, a) -> Tensor:
    return _wrap(np.asarray(function(as_tensor(a)._data)))


def isnan(a) -> Tensor:
    """Where a is NaN (bool)."""
    return _elementwise_test(np.isnan, a)


def isinf(a) -> Tensor:
    """Where a is ±inf (bool)."""
    return _elementwise_test(np.isinf, a)


def isfinite(a) -> Tensor:
    """Where a is neither NaN nor ±inf (bool)."""
    return _elementwise_test(np.isfinite, a)


def logical_and(a, b) -> Tensor:
    """a ∧ b, each read as a truth value (non-zero is True): a bool tensor."""
    return _wrap(np.asarray(_binary("logical_and", np.logical_and, *_arrays(a, b))))


def logical_or(a, b) -> Tensor:
    """a ∨ b, each read as a truth value (non-zero is True): a bool tensor."""
    return _wrap(np.asarray(_binary("logical_or", np.logical_or, *_arrays(a, b))))


def logical_xor(a, b) -> Tensor:
    """a ⊻ b, each read as a truth value (non-zero is True): a bool tensor."""
    return _wrap(np.asarray(_binary("logical_xor", np.logical_xor, *_arrays(a, b))))


def logical_not(a) -> Tensor:
    """¬a, read as a truth value (non-zero is True): a bool tensor."""
    return _elementwise_test(np.logical_not, a)


def _arrays(*values) -> tuple:
    return tuple(v._data if isinstance(v, Tensor) else _scalar(v) for v in values)


def _triangle(name: str, keep, a: Tensor, diagonal: int) -> Tensor:
    if a.ndim < 2:
        raise ValueError(f"{name}: expected a tensor with at least 2 dimensions, got shape "
                         f"{a.shape}")
    rows, cols = a.shape[-2:]
    mask = keep(np.ones((rows, cols), dtype=bool), diagonal)
    return where(mask, a, 0)


def tril(a: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle of the last two dims (entries with col − row ≤ diagonal), the rest 0;
    the gradient passes only through the kept entries."""
    return _triangle("tril", np.tril, as_tensor(a), diagonal)


def triu(a: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle of the last two dims (entries with col − row ≥ diagonal), the rest 0;
    the gradient passes only through the kept entries."""
    return _triangle("triu", np.triu, as_tensor(a), diagonal)


def unbind(a: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, each without that dim (views), as torch.unbind."""
    axis = _one_axis("unbind", a, dim)
    lead = (slice(None),) * axis
    return tuple(getitem(a, lead + (i,)) for i in range(a.shape[axis]))


def masked_select(a: Tensor, mask) -> Tensor:
    """The elements where the bool ``mask`` (broadcast to a's shape) is True, as a 1-D tensor;
    backward puts g back at those places."""
    mask = _mask_of("masked_select", mask)
    shape = np.broadcast_shapes(a.shape, mask.shape)
    source = a if shape == a.shape else expand(a, shape)
    return getitem(source, np.broadcast_to(mask, shape))


def nonzero(a, as_tuple: bool = False):
    """The indices of the non-zero elements: an (n, ndim) int64 tensor, or with ``as_tuple``
    one index tensor per dim."""
    if as_tuple:
        return _nonzero_tuple(a)
    return _wrap(np.argwhere(as_tensor(a)._data).astype(np.int64, copy=False))


def count_nonzero(a: Tensor, dim=None) -> Tensor:
    """The number of non-zero elements (along ``dim``), int64."""
    axis = _normalize_axis(dim, a.ndim, "count_nonzero")
    return _wrap(np.asarray(np.count_nonzero(a._data, axis=axis), dtype=np.int64))


def histogram(input: Tensor, bins: int = 100, *, range=None, weight=None,
              density: bool = False):
    """torch's ``histogram``: ``(hist, bin_edges)`` with ``bins`` equal bins over ``range``
    (default: the input's min to max, widened by 0.5 each side when they are equal).

    An element x falls in the last bin i with edge[i] ≤ x (the rightmost edge belongs to the
    last bin; elements outside the range are not counted). With ``density``, hist is divided
    by Σ hist and then by each bin's width, in the input's dtype as torch does, so that it
    integrates to one. Not differentiable.
    """
    data = as_tensor(input)._data
    if data.dtype.kind != "f":
        raise TypeError(f"histogram: input must be a float tensor, got dtype {data.dtype}")
    if not isinstance(bins, (int, np.integer)) or isinstance(bins, bool) or bins < 1:
        raise ValueError(f"histogram: bins must be a positive int, got {bins!r}")
    values = data.ravel()
    if range is None:
        low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    else:
        low, high = (float(edge) for edge in range)
    if low > high:
        raise ValueError(f"histogram: range must be (min, max) with min <= max, got {range!r}")
    if low == high:
        low, high = low - 0.5, high + 0.5
    edges = linspace(low, high, bins + 1, dtype=data.dtype)._data
    inside = (values >= edges[0]) & (values <= edges[-1])
    index = np.minimum(np.searchsorted(edges, values[inside], side="right") - 1, bins - 1)
    weights = None if weight is None else as_tensor(weight)._data.ravel()[inside]
    hist = np.bincount(index, weights=weights, minlength=bins).astype(data.dtype)
    if density:
        hist = hist / hist.sum(dtype=data.dtype) / np.diff(edges)
    return _wrap(hist), _wrap(edges)


def allclose(a, b, rtol: float = 1e-5, atol: float = 1e-8, equal_nan: bool = False) -> bool:
    """Whether |a − b| ≤ atol + rtol·|b| everywhere (torch's defaults)."""
    return bool(np.allclose(*_arrays(as_tensor(a), as_tensor(b)), rtol=rtol, atol=atol,
                            equal_nan=equal_nan))


def equal(a, b) -> bool:
    """Whether a and b have the same shape and the same elements."""
    return bool(np.array_equal(as_tensor(a)._data, as_tensor(b)._data))
