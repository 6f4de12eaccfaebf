"""Differentiable operations: each computes its forward value and, beside it, its backward.

Every op follows one pattern::

    out = forward(inputs)
    def backward(grad_out):          # chain rule for this op only
        return (grad_for_input_0, grad_for_input_1, ...)   # None where not needed
    return _record(out, (inputs...), backward, "OpName")

Gradients of broadcast operands are summed back to the operand's own shape (and dtype) by
``_reduce_to``. Python scalars are used as they are, so ``float32_tensor * 0.5`` stays float32.
"""

from __future__ import annotations

import builtins

import numpy as np

from steepest.tensor import Tensor, _grad_mode, is_scalar

_wrap = Tensor._wrap


def _record(data: np.ndarray, parents: tuple, backward, op: str) -> Tensor:
    """Wrap ``data``; attach the graph only if grad mode is on and some parent requires grad."""
    out = _wrap(data if isinstance(data, np.ndarray) else np.asarray(data))  # 0-d: ndarray too
    if _grad_mode.enabled:
        for parent in parents:
            if parent.requires_grad:
                out.requires_grad = True
                out._parents = parents
                out._backward = backward
                out._op = op
                break
    return out


def as_tensor(value) -> Tensor:
    """A Tensor for ``value`` (returned as is if it already is one)."""
    return value if isinstance(value, Tensor) else Tensor(value)


def _scalar(value):
    """A NumPy scalar as a Python number, so it cannot upcast a float32 array."""
    return value.item() if isinstance(value, np.generic) else value


def _in_dtype(grad: np.ndarray, like: Tensor) -> np.ndarray:
    """``grad`` in ``like``'s dtype (an operand of the other float dtype upcasts the output)."""
    return grad if grad.dtype == like.data.dtype else grad.astype(like.data.dtype)


def _reduce_to(grad: np.ndarray, like: Tensor) -> np.ndarray:
    """Sum ``grad`` over the axes along which ``like`` was broadcast (in one ``sum``), in
    ``like``'s dtype."""
    shape = like.data.shape
    if grad.shape != shape:
        extra = grad.ndim - len(shape)
        axes = tuple(range(extra)) + tuple(
            extra + i for i, n in enumerate(shape) if n == 1 and grad.shape[extra + i] != 1)
        grad = grad.sum(axis=axes, keepdims=True).reshape(shape) if axes else grad.reshape(shape)
    return _in_dtype(grad, like)


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
        return _record(a.data + _scalar(b), (a,), lambda g: (g,), "AddScalar")
    b = as_tensor(b)
    out = _binary("add", np.add, a.data, b.data)

    def backward(g):
        return (_reduce_to(g, a) if a.requires_grad else None,
                _reduce_to(g, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Add")


def sub(a: Tensor, b) -> Tensor:
    """a − b; backward g to a, −g to b (each summed over its broadcast axes)."""
    if is_scalar(b):
        return _record(a.data - _scalar(b), (a,), lambda g: (g,), "SubScalar")
    b = as_tensor(b)
    out = _binary("sub", np.subtract, a.data, b.data)

    def backward(g):
        return (_reduce_to(g, a) if a.requires_grad else None,
                _reduce_to(-g, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Sub")


def rsub(a: Tensor, c) -> Tensor:
    """c − a for a scalar or array ``c`` on the left; backward −g."""
    if is_scalar(c):
        return _record(_scalar(c) - a.data, (a,), lambda g: (-g,), "RSubScalar")
    return sub(as_tensor(c), a)


def mul(a: Tensor, b) -> Tensor:
    """a · b (elementwise): ∂/∂a = b, ∂/∂b = a."""
    if is_scalar(b):
        c = _scalar(b)
        return _record(a.data * c, (a,), lambda g: (g * c,), "MulScalar")
    b = as_tensor(b)
    out = _binary("mul", np.multiply, a.data, b.data)

    def backward(g):
        return (_reduce_to(g * b.data, a) if a.requires_grad else None,
                _reduce_to(g * a.data, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Mul")


def div(a: Tensor, b) -> Tensor:
    """a / b: ∂/∂a = 1/b, ∂/∂b = −a/b²."""
    if is_scalar(b):
        c = _scalar(b)
        return _record(a.data / c, (a,), lambda g: (g / c,), "DivScalar")
    b = as_tensor(b)
    out = _binary("div", np.divide, a.data, b.data)

    def backward(g):
        g_over_b = g / b.data
        return (_reduce_to(g_over_b, a) if a.requires_grad else None,
                _reduce_to(-g_over_b * out, b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Div")


def rdiv(a: Tensor, c) -> Tensor:
    """c / a for a scalar or array ``c`` on the left: ∂/∂a = −c/a²."""
    if is_scalar(c):
        c = _scalar(c)
        out = c / a.data
        return _record(out, (a,), lambda g: (-g * out / a.data,), "RDivScalar")
    return div(as_tensor(c), a)


def neg(a: Tensor) -> Tensor:
    """−a; backward −g."""
    return _record(-a.data, (a,), lambda g: (-g,), "Neg")


def pow(a: Tensor, exponent) -> Tensor:
    """a ** p: ∂/∂a = p·a^(p−1); for a tensor exponent also ∂/∂p = a^p·ln a."""
    if is_scalar(exponent):
        p = _scalar(exponent)
        if p == 2:
            return _record(a.data * a.data, (a,), lambda g: (g * (2 * a.data),), "Square")
        if p == 0:  # a⁰ = 1, derivative 0 (also at a = 0, where p·a^(p−1) would be 0·∞)
            return _record(np.ones_like(a.data), (a,), lambda g: (np.zeros_like(g),),
                           "PowScalar")
        out = a.data ** p
        return _record(out, (a,), lambda g: (g * (p * a.data ** (p - 1)),), "PowScalar")
    b = as_tensor(exponent)
    out = _binary("pow", np.power, a.data, b.data)

    def backward(g):
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = _reduce_to(g * b.data * np.power(a.data, b.data - 1), a)
        if b.requires_grad:
            with np.errstate(divide="ignore", invalid="ignore"):
                log_a = np.where(a.data > 0, np.log(np.where(a.data > 0, a.data, 1)), 0.0)
            grad_b = _reduce_to(g * out * log_a, b)
        return grad_a, grad_b
    return _record(out, (a, b), backward, "Pow")


def rpow(a: Tensor, base) -> Tensor:
    """base ** a for a scalar base: ∂/∂a = base^a · ln(base)."""
    if is_scalar(base):
        c = _scalar(base)
        out = np.power(c, a.data)
        log_c = float(np.log(c)) if c > 0 else 0.0
        return _record(out, (a,), lambda g: (g * out * log_c,), "RPowScalar")
    return pow(as_tensor(base), a)


def _matmul_error(a, b) -> ValueError:
    inner_a = a.shape[-1] if a.ndim else None
    inner_b = (b.shape[-2] if b.ndim > 1 else b.shape[0]) if b.ndim else None
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
        out = np.matmul(a.data, b.data)
    except ValueError:
        raise _matmul_error(a.data, b.data) from None

    if a.ndim == 2 and b.ndim == 2:
        def backward(g):
            return (_in_dtype(g @ b.data.T, a) if a.requires_grad else None,
                    _in_dtype(a.data.T @ g, b) if b.requires_grad else None)
        return _record(out, (a, b), backward, "MatMul")

    def backward(g):
        a2 = a.data[None, :] if a.ndim == 1 else a.data
        b2 = b.data[:, None] if b.ndim == 1 else b.data
        g2 = g
        if b.ndim == 1:  # restore the dropped column axis first, then the dropped row axis
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = g2 @ np.swapaxes(b2, -1, -2)
            grad_a = _reduce_to(grad_a, _wrap(a2)).reshape(a.shape)
        if b.requires_grad:
            grad_b = np.swapaxes(a2, -1, -2) @ g2
            grad_b = _reduce_to(grad_b, _wrap(b2)).reshape(b.shape)
        return grad_a, grad_b
    return _record(out, (a, b), backward, "MatMul")


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weightᵀ + bias in one node (torch's layout: weight is (out_features, in_features)).

    Backward: ∂/∂x = g @ W, ∂/∂W = gᵀ @ x, ∂/∂b = Σ_batch g. Fusing the bias saves a node and
    a pass over the output, which is most of the per-layer overhead at small batch sizes.
    """
    if not isinstance(x, Tensor):
        x = as_tensor(x)
    x_data, w_data = x.data, weight.data
    if x_data.shape[-1:] != w_data.shape[1:]:
        raise ValueError(f"linear: input has shape {x.shape}, but the weight has shape "
                         f"{weight.shape} = (out_features, in_features); the input's last "
                         f"dimension must be {weight.shape[1]}")
    out = x_data @ w_data.T
    if bias is not None:
        out += bias.data
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(g):
        if g.ndim == 2:
            g2, x2 = g, x_data
        else:  # batched input: every leading axis is part of the batch
            g2, x2 = g.reshape(-1, g.shape[-1]), x_data.reshape(-1, x_data.shape[-1])
        grad_x = _in_dtype(g @ w_data, x) if x.requires_grad else None
        grad_w = _in_dtype(g2.T @ x2, weight) if weight.requires_grad else None
        if bias is None:
            return grad_x, grad_w
        return grad_x, grad_w, (_in_dtype(g2.sum(axis=0), bias) if bias.requires_grad else None)
    return _record(out, parents, backward, "Linear")


# ---------------------------------------------------------------------------- reductions
def _normalize_axis(axis, ndim):
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(ax % ndim if ndim else ax for ax in axes)


def _expand_reduced(g: np.ndarray, shape: tuple, axis, keepdims: bool) -> np.ndarray:
    """Reshape a reduced gradient so that it broadcasts against the input again."""
    if axis is None:
        return np.reshape(g, (1,) * len(shape))
    if not keepdims:
        g = np.expand_dims(g, axis)
    return g


def sum(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Σ over ``axis`` (all axes if None); backward broadcasts the gradient back."""
    axis = _normalize_axis(axis, a.ndim)
    out = np.sum(a.data, axis=axis, keepdims=keepdims)

    def backward(g):
        if axis is None:  # a full reduction: one fresh array, not a read-only broadcast view
            return (np.full(a.shape, g, dtype=a.dtype),)
        return (np.broadcast_to(_expand_reduced(g, a.shape, axis, keepdims), a.shape),)
    return _record(out, (a,), backward, "Sum")


def mean(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``; backward spreads g/n over the n reduced elements."""
    axis = _normalize_axis(axis, a.ndim)
    out = np.mean(a.data, axis=axis, keepdims=keepdims)
    count = a.data.size // builtins.max(np.asarray(out).size, 1) if a.data.size else 1

    def backward(g):
        if axis is None:
            return (np.full(a.shape, g / count, dtype=a.dtype),)
        return (np.broadcast_to(_expand_reduced(g, a.shape, axis, keepdims) / count, a.shape),)
    return _record(np.asarray(out, dtype=a.dtype if a.dtype.kind == "f" else None), (a,),
                   backward, "Mean")


def _extremum(name: str, reducer, a: Tensor, axis, keepdims: bool) -> Tensor:
    """max/min: the gradient goes to the extremal elements, shared equally among ties."""
    if a.data.size == 0:
        raise ValueError(f"{name}: cannot reduce an empty tensor of shape {a.shape}")
    axis = _normalize_axis(axis, a.ndim)
    out = reducer(a.data, axis=axis, keepdims=keepdims)

    def backward(g):
        kept = _expand_reduced(np.asarray(out), a.shape, axis, keepdims)
        mask = a.data == kept
        share = mask / mask.sum(axis=axis, keepdims=True)
        return ((share * _expand_reduced(g, a.shape, axis, keepdims)).astype(a.dtype, copy=False),)
    return _record(out, (a,), backward, name.capitalize())


def max(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Maximum over ``axis``; backward g to the maximal elements (shared among ties)."""
    return _extremum("max", np.max, a, axis, keepdims)


def min(a: Tensor, axis=None, keepdims: bool = False) -> Tensor:
    """Minimum over ``axis``; backward g to the minimal elements (shared among ties)."""
    return _extremum("min", np.min, a, axis, keepdims)


# ---------------------------------------------------------------------------- elementwise
def exp(a: Tensor) -> Tensor:
    """eᵃ; derivative eᵃ (the output itself)."""
    out = np.exp(a.data)
    return _record(out, (a,), lambda g: (g * out,), "Exp")


def log(a: Tensor) -> Tensor:
    """ln a; derivative 1/a."""
    out = np.log(a.data)
    return _record(out, (a,), lambda g: (g / a.data,), "Log")


def sqrt(a: Tensor) -> Tensor:
    """√a; derivative 1/(2√a)."""
    out = np.sqrt(a.data)
    return _record(out, (a,), lambda g: (g * 0.5 / out,), "Sqrt")


def abs(a: Tensor) -> Tensor:
    """|a|; derivative sign(a) (0 at 0, as in torch)."""
    return _record(np.abs(a.data), (a,), lambda g: (g * np.sign(a.data),), "Abs")


def clip(a: Tensor, min=None, max=None) -> Tensor:
    """a clamped to [min, max]; the gradient passes where min ≤ a ≤ max (as torch.clamp)."""
    if min is None and max is None:
        raise ValueError("clip: at least one of min and max must be given")
    lo = -np.inf if min is None else _scalar(min)
    hi = np.inf if max is None else _scalar(max)
    out = np.clip(a.data, lo, hi).astype(a.dtype, copy=False)

    def backward(g):
        return (g * ((a.data >= lo) & (a.data <= hi)),)
    return _record(out, (a,), backward, "Clip")


def maximum(a, b) -> Tensor:
    """Elementwise max(a, b); at ties each side gets half the gradient (as in torch)."""
    return _pairwise_extremum("maximum", np.maximum, np.greater, a, b)


def minimum(a, b) -> Tensor:
    """Elementwise min(a, b); at ties each side gets half the gradient (as in torch)."""
    return _pairwise_extremum("minimum", np.minimum, np.less, a, b)


def _pairwise_extremum(name, func, wins, a, b) -> Tensor:
    if is_scalar(a) and not is_scalar(b):
        a, b = b, a  # max/min are symmetric; a scalar on the right keeps a float32 tensor float32
    a = as_tensor(a)
    b_data = _scalar(b) if is_scalar(b) else as_tensor(b).data
    out = _binary(name, func, a.data, b_data)
    b_tensor = b if isinstance(b, Tensor) else None

    def backward(g):
        share_a = wins(a.data, b_data) + 0.5 * (a.data == b_data)
        grad_a = _reduce_to(g * share_a, a) if a.requires_grad else None
        if b_tensor is None:
            return (grad_a,)
        grad_b = _reduce_to(g * (1.0 - share_a), b_tensor) if b_tensor.requires_grad else None
        return grad_a, grad_b
    parents = (a,) if b_tensor is None else (a, b_tensor)
    return _record(out, parents, backward, name.capitalize())


def where(condition, a, b) -> Tensor:
    """Elementwise ``a if condition else b``; each branch gets the gradient where chosen.

    A Python scalar branch takes the other branch's dtype, so float32 stays float32.
    """
    cond = np.asarray(condition.data if isinstance(condition, Tensor) else condition, dtype=bool)
    if is_scalar(a) and isinstance(b, Tensor):  # a Python scalar takes the tensor's dtype
        a = _wrap(np.asarray(_scalar(a), dtype=np.result_type(b.data, _scalar(a))))
    if is_scalar(b) and isinstance(a, Tensor):
        b = _wrap(np.asarray(_scalar(b), dtype=np.result_type(a.data, _scalar(b))))
    a, b = as_tensor(a), as_tensor(b)
    try:
        out = np.where(cond, a.data, b.data)
    except ValueError:
        raise ValueError(f"where: condition {cond.shape}, a {a.shape} and b {b.shape} do not "
                         f"broadcast together") from None

    def backward(g):
        zero = np.zeros((), dtype=g.dtype)
        return (_reduce_to(np.where(cond, g, zero), a) if a.requires_grad else None,
                _reduce_to(np.where(cond, zero, g), b) if b.requires_grad else None)
    return _record(out, (a, b), backward, "Where")


def astype(a: Tensor, dtype) -> Tensor:
    """Cast to ``dtype``; float casts pass the gradient back in the input's dtype."""
    dtype = np.dtype(dtype)
    out = a.data.astype(dtype)
    if dtype.kind != "f":
        return _wrap(out)
    return _record(out, (a,), lambda g: (g.astype(a.dtype),), "Cast")


# ---------------------------------------------------------------------------- shapes
def reshape(a: Tensor, shape) -> Tensor:
    """The same elements in a new shape; the gradient is reshaped back."""
    try:
        out = a.data.reshape(shape)
    except ValueError:
        shape = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} "
                         f"({a.data.size} elements) into shape {shape}") from None
    return _record(out, (a,), lambda g: (g.reshape(a.shape),), "Reshape")


def flatten(a: Tensor, start_axis: int = 0) -> Tensor:
    """Merge all axes from ``start_axis`` on into one; the gradient is reshaped back."""
    return reshape(a, a.shape[:start_axis] + (-1,))


def transpose(a: Tensor, axes=None) -> Tensor:
    """Permute axes (reverse them if ``axes`` is None); backward applies the inverse permutation."""
    out = np.transpose(a.data, axes)
    inverse = None if axes is None else tuple(np.argsort([ax % a.ndim for ax in axes]))
    return _record(out, (a,), lambda g: (np.transpose(g, inverse),), "Transpose")


def _plain_index(index):
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _is_basic_index(index) -> bool:
    """Slices, integers, None and Ellipsis select each element at most once."""
    parts = index if isinstance(index, tuple) else (index,)
    return all(isinstance(p, (slice, int, type(None), type(Ellipsis))) and not isinstance(p, bool)
               for p in parts)


def getitem(a: Tensor, index) -> Tensor:
    """a[index] with NumPy indexing; backward scatter-adds, so repeated indices accumulate."""
    index = _plain_index(index)
    out = a.data[index]
    basic = _is_basic_index(index)

    def backward(g):
        grad = np.zeros_like(a.data)
        if basic:
            grad[index] = g
        else:
            np.add.at(grad, index, g)
        return (grad,)
    return _record(out, (a,), backward, "Index")


def concatenate(tensors, axis: int = 0) -> Tensor:
    """Join tensors along an existing axis; the gradient is split back at the seams."""
    tensors = tuple(as_tensor(t) for t in tensors)
    try:
        out = np.concatenate([t.data for t in tensors], axis=axis)
    except ValueError as error:
        raise ValueError(f"concatenate: shapes {[t.shape for t in tensors]} do not fit along "
                         f"axis {axis}: {error}") from None
    seams = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        return tuple(_in_dtype(part, t) for part, t in zip(np.split(g, seams, axis=axis), tensors))
    return _record(out, tensors, backward, "Concatenate")


def stack(tensors, axis: int = 0) -> Tensor:
    """Join equally shaped tensors along a new axis; backward takes each slice back out."""
    tensors = tuple(as_tensor(t) for t in tensors)
    shapes = {t.shape for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got "
                         f"{[t.shape for t in tensors]}")
    out = np.stack([t.data for t in tensors], axis=axis)

    def backward(g):
        return tuple(_in_dtype(np.take(g, i, axis=axis), t) for i, t in enumerate(tensors))
    return _record(out, tensors, backward, "Stack")
