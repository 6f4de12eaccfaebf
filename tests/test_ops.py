"""Every differentiable op against torch (values and gradients, float64 and float32), the
broadcasting rules under hypothesis with finite-difference gradients, kink conventions and the
ops' error messages."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import assume, given, settings
from hypothesis import strategies as hst
from hypothesis.extra.numpy import mutually_broadcastable_shapes

import steepest as st


def away_from(values, kinks, margin=0.1):
    """Move values that lie within ``margin`` of a kink to ``margin`` beyond it (minitorch's
    trick), so neither torch comparisons nor finite differences straddle a kink."""
    values = np.array(values, dtype=np.float64)
    for kink in kinks:
        close = np.abs(values - kink) < margin
        values[close] = kink + np.where(values[close] >= kink, margin, -margin)
    return values


def random(shape, low=-2.0, high=2.0, seed=1):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# ------------------------------------------------------------------------- arithmetic
BINARY_SHAPES = [
    [(3, 4), (3, 4)],
    [(2, 3, 4), (4,)],        # leading axes of b broadcast
    [(3, 1), (1, 4)],         # size-1 axes on both sides
    [(4,), (2, 3, 4)],
    [(), (2, 3)],             # 0-d operand
    [(2, 1, 4), (3, 1)],
]


@pytest.mark.parametrize("shapes", BINARY_SHAPES, ids=str)
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_arithmetic(helper_test_op, float_dtype, op, shapes):
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    low, high = ([-2.0, 0.5], [2.0, 2.0]) if op == "div" else (-2.0, 2.0)
    helper_test_op(fn, shapes=shapes, dtype=float_dtype, low=low, high=high)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_binary_arithmetic_with_constant_operand(helper_test_op, float_dtype, op):
    """One operand does not require grad: the other still gets its gradient."""
    fn = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b,
          "mul": lambda a, b: a * b, "div": lambda a, b: a / b}[op]
    helper_test_op(fn, shapes=[(3, 4), (4,)], dtype=float_dtype, low=0.5,
                   requires_grad=[False, True])
    helper_test_op(fn, shapes=[(3, 4), (4,)], dtype=float_dtype, low=0.5,
                   requires_grad=[True, False])


def test_ndarray_on_the_left(helper_test_op, float_dtype):
    """ndarray <op> Tensor defers to the tensor's reflected operators."""
    c = random((3, 4), 0.5, 2.0).astype(float_dtype)
    tc = torch.tensor(c)
    pairs = [(lambda x: c + x, lambda x: tc + x), (lambda x: c - x, lambda x: tc - x),
             (lambda x: c * x, lambda x: tc * x), (lambda x: c / x, lambda x: tc / x)]
    for st_fn, torch_fn in pairs:
        helper_test_op(st_fn, torch_fn, shapes=[(3, 4)], dtype=float_dtype, low=0.5)


SCALAR_OPS = {
    "x*0.5": lambda x: x * 0.5,
    "0.5*x": lambda x: 0.5 * x,
    "x/3": lambda x: x / 3,
    "3/x": lambda x: 3 / x,
    "x-1": lambda x: x - 1,
    "1-x": lambda x: 1 - x,
    "x+2.5": lambda x: x + 2.5,
    "2.5+x": lambda x: 2.5 + x,
    "x**2": lambda x: x ** 2,
    "x**3": lambda x: x ** 3,
    "x**0.5": lambda x: x ** 0.5,
    "x**-1.5": lambda x: x ** -1.5,
    "x**0": lambda x: x ** 0,
    "2**x": lambda x: 2 ** x,
    "0.5**x": lambda x: 0.5 ** x,
    "x*np.float64(0.5)": lambda x: x * np.float64(0.5),
    "-x": lambda x: -x,
}


@pytest.mark.parametrize("name", list(SCALAR_OPS))
def test_ops_with_python_scalars(helper_test_op, float_dtype, name):
    """Scalars keep the tensor's dtype: float32 in, float32 out and float32 gradients."""
    helper_test_op(SCALAR_OPS[name], shapes=[(3, 4)], dtype=float_dtype, low=0.5, high=2.0)


def test_pow_scalar_zero_exponent_at_zero_base():
    """x**0 has derivative 0 everywhere, also at x = 0 (torch: 0, not 0·∞ = NaN)."""
    x = st.tensor([0.0, 1.5], requires_grad=True)
    with np.errstate(all="raise"):
        (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 4), (4,)], [(4,), (3, 4)], [(3, 4), ()]],
                         ids=str)
def test_pow_tensor_exponent(helper_test_op, float_dtype, shapes):
    """Positive bases: ∂/∂a = p·a^(p−1), ∂/∂p = a^p·ln a."""
    helper_test_op(lambda a, p: a ** p, shapes=shapes, dtype=float_dtype,
                   low=[0.5, -2.0], high=[2.0, 2.0])


# ------------------------------------------------------------------------- matmul / linear
MATMUL_SHAPES = [
    [(4,), (4,)],             # 1-D · 1-D: a scalar
    [(4,), (4, 3)],           # 1-D · 2-D
    [(3, 4), (4,)],           # 2-D · 1-D
    [(3, 4), (4, 5)],         # 2-D
    [(2, 3, 4), (4, 5)],      # batched · matrix
    [(2, 1, 3, 4), (5, 4, 2)],  # batch dims broadcast both ways
    [(2, 3, 4), (4,)],
    [(4,), (2, 4, 3)],
]


@pytest.mark.parametrize("shapes", MATMUL_SHAPES, ids=str)
def test_matmul(helper_test_op, float_dtype, shapes):
    helper_test_op(lambda a, b: a @ b, shapes=shapes, dtype=float_dtype)
    helper_test_op(st.matmul, torch.matmul, shapes=shapes, dtype=float_dtype)


def test_matmul_with_ndarray_operand(helper_test_op, float_dtype):
    w = random((4, 2)).astype(float_dtype)
    helper_test_op(lambda x: x @ w, lambda x: x @ torch.tensor(w), shapes=[(3, 4)],
                   dtype=float_dtype)
    helper_test_op(lambda x: w.T @ x, lambda x: torch.tensor(w).T @ x, shapes=[(4, 3)],
                   dtype=float_dtype)


@pytest.mark.parametrize("x_shape", [(5, 3), (3,), (2, 5, 3)], ids=str)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
def test_linear(helper_test_op, float_dtype, x_shape, bias):
    """st.linear(x, W, b) = x @ W.T + b with W of shape (out_features, in_features)."""
    shapes = [x_shape, (4, 3)] + ([(4,)] if bias else [])
    helper_test_op(st.linear, F.linear, shapes=shapes, dtype=float_dtype)


def test_linear_equals_unfused_graph():
    x, w, b = random((5, 3)), random((4, 3), seed=2), random((4,), seed=3)
    fused = [st.tensor(v, requires_grad=True) for v in (x, w, b)]
    plain = [st.tensor(v, requires_grad=True) for v in (x, w, b)]
    upstream = random((5, 4), seed=4)
    out_fused = st.linear(*fused)
    out_plain = plain[0] @ plain[1].T + plain[2]
    np.testing.assert_allclose(out_fused.numpy(), out_plain.numpy(), rtol=1e-12)
    out_fused.backward(upstream)
    out_plain.backward(upstream)
    for f, p in zip(fused, plain):
        np.testing.assert_allclose(f.grad, p.grad, rtol=1e-12)


# ------------------------------------------------------------------------- reductions
def _torch_reduce(name, axis, keepdims):
    def fn(x):
        dims = tuple(range(x.ndim)) if axis is None else axis
        if name == "sum":
            return torch.sum(x, dim=dims, keepdim=keepdims)
        if name == "mean":
            return torch.mean(x, dim=dims, keepdim=keepdims)
        return (torch.amax if name == "max" else torch.amin)(x, dim=dims, keepdim=keepdims)
    return fn


@pytest.mark.parametrize("keepdims", [False, True], ids=["", "keepdims"])
@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 2), (-1, 0)], ids=str)
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions(helper_test_op, float_dtype, name, axis, keepdims):
    helper_test_op(lambda x: getattr(x, name)(axis=axis, keepdims=keepdims),
                   _torch_reduce(name, axis, keepdims), shapes=[(2, 3, 4)], dtype=float_dtype)
    helper_test_op(lambda x: getattr(st, name)(x, axis=axis, keepdims=keepdims),
                   _torch_reduce(name, axis, keepdims), shapes=[(2, 3, 4)], dtype=float_dtype)
    if name in ("sum", "mean"):  # torch's spelling (max(dim) returns (values, indices))
        helper_test_op(lambda x: getattr(x, name)(dim=axis, keepdim=keepdims),
                       _torch_reduce(name, axis, keepdims), shapes=[(2, 3, 4)],
                       dtype=float_dtype)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
def test_reductions_of_1d_and_0d(helper_test_op, float_dtype, name):
    helper_test_op(lambda x: getattr(x, name)(), _torch_reduce(name, None, False),
                   shapes=[(5,)], dtype=float_dtype)
    helper_test_op(lambda x: getattr(x, name)(axis=0), _torch_reduce(name, 0, False),
                   shapes=[(5,)], dtype=float_dtype)
    helper_test_op(lambda x: getattr(x, name)(), _torch_reduce(name, None, False),
                   shapes=[()], dtype=float_dtype)


@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_ties_share_the_gradient_like_torch_amax(helper_test_op, name):
    """At ties the gradient is split equally among the extremal elements (torch.amax/amin)."""
    data = np.array([[1.0, 3.0, 3.0, -2.0], [-2.0, -2.0, 0.5, -2.0]])
    helper_test_op(lambda x: getattr(x, name)(), _torch_reduce(name, None, False),
                   inputs=[data])
    helper_test_op(lambda x: getattr(x, name)(axis=1), _torch_reduce(name, 1, False),
                   inputs=[data])


def test_mean_of_integer_tensor_is_not_truncated():
    assert st.tensor([1, 2]).mean().item() == 1.5
    assert st.tensor([1, 2]).sum().item() == 3


# ------------------------------------------------------------------------- elementwise
def test_exp(helper_test_op, float_dtype):
    helper_test_op(st.exp, torch.exp, shapes=[(3, 4)], dtype=float_dtype)
    helper_test_op(lambda x: x.exp(), torch.exp, shapes=[(3, 4)], dtype=float_dtype)


def test_log(helper_test_op, float_dtype):
    helper_test_op(st.log, torch.log, shapes=[(3, 4)], dtype=float_dtype, low=0.1, high=3.0)
    helper_test_op(lambda x: x.log(), torch.log, shapes=[(3, 4)], dtype=float_dtype,
                   low=0.1, high=3.0)


def test_sqrt(helper_test_op, float_dtype):
    helper_test_op(st.sqrt, torch.sqrt, shapes=[(3, 4)], dtype=float_dtype, low=0.1, high=3.0)
    helper_test_op(lambda x: x.sqrt(), torch.sqrt, shapes=[(3, 4)], dtype=float_dtype,
                   low=0.1, high=3.0)


def test_abs(helper_test_op, float_dtype):
    data = away_from(random((3, 4)), [0.0])
    helper_test_op(st.abs, torch.abs, inputs=[data], dtype=float_dtype)
    helper_test_op(lambda x: x.abs(), torch.abs, inputs=[data], dtype=float_dtype)


@pytest.mark.parametrize("bounds", [(-0.5, 0.5), (-0.5, None), (None, 0.5)], ids=str)
def test_clip(helper_test_op, float_dtype, bounds):
    lo, hi = bounds
    data = away_from(random((4, 5)), [b for b in bounds if b is not None])
    helper_test_op(lambda x: x.clip(lo, hi), lambda x: torch.clamp(x, lo, hi), inputs=[data],
                   dtype=float_dtype)
    helper_test_op(lambda x: st.clip(x, min=lo, max=hi), lambda x: torch.clamp(x, lo, hi),
                   inputs=[data], dtype=float_dtype)


def test_kink_conventions_match_torch(helper_test_op):
    """Exactly at the kinks: |x|' = 0 at 0, clamp passes the gradient at its bounds."""
    data = np.array([-1.0, -0.5, 0.0, 0.5, 1.0])
    helper_test_op(st.abs, torch.abs, inputs=[data])
    helper_test_op(lambda x: x.clip(-0.5, 0.5), lambda x: torch.clamp(x, -0.5, 0.5),
                   inputs=[data])


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="clip"):
        st.tensor([1.0]).clip()


@pytest.mark.parametrize("shapes", [[(3, 4), (3, 4)], [(3, 1), (4,)], [(2, 3, 4), (3, 1)]],
                         ids=str)
@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum(helper_test_op, float_dtype, name, shapes):
    helper_test_op(getattr(st, name), getattr(torch, name), shapes=shapes, dtype=float_dtype)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_with_scalar(helper_test_op, float_dtype, name):
    """A scalar on either side; float32 stays float32."""
    data = away_from(random((3, 4)), [0.25])
    clamp = {"maximum": lambda x: torch.clamp(x, min=0.25),
             "minimum": lambda x: torch.clamp(x, max=0.25)}[name]
    helper_test_op(lambda x: getattr(st, name)(x, 0.25), clamp, inputs=[data], dtype=float_dtype)
    helper_test_op(lambda x: getattr(st, name)(0.25, x), clamp, inputs=[data], dtype=float_dtype)


@pytest.mark.parametrize("name", ["maximum", "minimum"])
def test_maximum_minimum_ties_split_like_torch(helper_test_op, name):
    a = np.array([1.0, 2.0, -3.0, 0.5])
    b = np.array([1.0, 1.0, -3.0, 4.0])
    helper_test_op(getattr(st, name), getattr(torch, name), inputs=[a, b])


def test_where(helper_test_op, float_dtype):
    cond = random((3, 4)) > 0
    tcond = torch.tensor(cond)
    helper_test_op(lambda a, b: st.where(cond, a, b), lambda a, b: torch.where(tcond, a, b),
                   shapes=[(3, 4), (3, 4)], dtype=float_dtype)
    cond_col = random((3, 1), seed=5) > 0
    helper_test_op(lambda a, b: st.where(cond_col, a, b),
                   lambda a, b: torch.where(torch.tensor(cond_col), a, b),
                   shapes=[(3, 4), (4,)], dtype=float_dtype)


def test_where_with_tensor_condition_and_scalar_branch(helper_test_op, float_dtype):
    """A hand-made ReLU: where(x > 0, x, 0.0); the scalar must not upcast float32."""
    data = away_from(random((3, 4)), [0.0])
    helper_test_op(lambda x: st.where(x > 0, x, 0.0), lambda x: torch.where(x > 0, x, 0.0),
                   inputs=[data], dtype=float_dtype)
    helper_test_op(lambda x: st.where(x > 0, 0.0, x), lambda x: torch.where(x > 0, 0.0, x),
                   inputs=[data], dtype=float_dtype)


# ------------------------------------------------------------------------- shapes
SHAPE_OPS = {
    "reshape(6,4)": (lambda x: x.reshape(6, 4), lambda x: x.reshape(6, 4)),
    "reshape((-1,))": (lambda x: x.reshape((-1,)), lambda x: x.reshape(-1)),
    "st.reshape": (lambda x: st.reshape(x, (4, 3, 2)), lambda x: x.reshape(4, 3, 2)),
    "flatten(1)": (lambda x: x.flatten(1), lambda x: x.flatten(1)),
    "flatten(0,1)": (lambda x: x.flatten(0, 1), lambda x: x.flatten(0, 1)),
    "flatten(-2)": (lambda x: x.flatten(-2), lambda x: x.flatten(-2)),
    "flatten()": (lambda x: x.flatten(), lambda x: x.flatten()),
    "view(4,-1)": (lambda x: x.view(4, -1), lambda x: x.view(4, -1)),
    "permute(2,1,0)": (lambda x: x.permute(2, 1, 0), lambda x: x.permute(2, 1, 0)),
    "permute((2,0,1))": (lambda x: x.permute((2, 0, 1)), lambda x: x.permute(2, 0, 1)),
    "permute(-1,0,1)": (lambda x: x.permute(-1, 0, 1), lambda x: x.permute(-1, 0, 1)),
    "st.permute": (lambda x: st.permute(x, (0, 2, 1)), lambda x: x.permute(0, 2, 1)),
    "transpose(0,1)": (lambda x: x.transpose(0, 1), lambda x: x.transpose(0, 1)),
    "transpose(-1,0)": (lambda x: x.transpose(-1, 0), lambda x: x.transpose(-1, 0)),
    "transpose(1,1)": (lambda x: x.transpose(1, 1), lambda x: x.transpose(1, 1)),
    "st.transpose": (lambda x: st.transpose(x, 2, 1), lambda x: torch.transpose(x, 2, 1)),
    "unsqueeze(0)": (lambda x: x.unsqueeze(0), lambda x: x.unsqueeze(0)),
    "unsqueeze(-1)": (lambda x: x.unsqueeze(-1), lambda x: x.unsqueeze(-1)),
    "unsqueeze(2)": (lambda x: x.unsqueeze(2), lambda x: x.unsqueeze(2)),
    "unsqueeze(1).squeeze()": (lambda x: x.unsqueeze(1).squeeze(),
                               lambda x: x.unsqueeze(1).squeeze()),
    "unsqueeze(1).squeeze(1)": (lambda x: x.unsqueeze(1).squeeze(1),
                                lambda x: x.unsqueeze(1).squeeze(1)),
    "squeeze(0) no-op": (lambda x: x.squeeze(0), lambda x: x.squeeze(0)),
    "clone": (lambda x: x.clone(), lambda x: x.clone()),
}


@pytest.mark.parametrize("name", list(SHAPE_OPS))
def test_shape_ops(helper_test_op, float_dtype, name):
    st_fn, torch_fn = SHAPE_OPS[name]
    helper_test_op(st_fn, torch_fn, shapes=[(2, 3, 4)], dtype=float_dtype)


def test_T(helper_test_op, float_dtype):
    helper_test_op(lambda x: x.T, lambda x: x.T, shapes=[(3, 4)], dtype=float_dtype)
    helper_test_op(lambda x: x.T, lambda x: x, shapes=[(4,)], dtype=float_dtype)


def test_t_and_transpose_of_a_matrix_swap_its_axes(helper_test_op, float_dtype):
    """A torch user's x.transpose(0, 1) on a matrix is its transpose (not x unchanged)."""
    for fn in (lambda x: x.t(), lambda x: x.transpose(0, 1), lambda x: x.transpose(1, 0)):
        out, (x,) = helper_test_op(fn, shapes=[(3, 4)], dtype=float_dtype)
        np.testing.assert_array_equal(out.numpy(), x.numpy().T)
    helper_test_op(lambda x: x.t(), shapes=[(4,)], dtype=float_dtype)
    with pytest.raises(ValueError, match=r"t: expects a tensor with at most 2 dimensions"):
        st.zeros(2, 3, 4).t()


INDEXES = {
    "int": 1,
    "negative int": -1,
    "slice": slice(1, 3),
    "step slice": (slice(None), slice(None, None, 2)),
    "int and slice": (0, slice(1, None)),
    "ellipsis": (Ellipsis, 1),
    "None": (None, 0),
    "int,int,int": (1, 2, 3),
    "repeated int array": [0, 0, 2, 0],
    "2-D int array": np.array([[0, 1], [1, 1]]),
    "paired int arrays, repeated pairs": (np.array([0, 0, 1, 0]), np.array([2, 2, 1, 2])),
    "int array and slice": (slice(None), [3, 3, 0]),
    "boolean mask": np.array([True, False, True]),
    "full boolean mask": (random((3, 4, 5), seed=7) > 0),
}


def _torch_index(index):
    if isinstance(index, (np.ndarray, list)):
        return torch.tensor(np.asarray(index))
    if isinstance(index, tuple):
        return tuple(_torch_index(i) for i in index)
    return index


@pytest.mark.parametrize("name", list(INDEXES))
def test_indexing(helper_test_op, float_dtype, name):
    """Backward scatter-adds: an element selected k times gets k times the gradient."""
    index = INDEXES[name]
    helper_test_op(lambda x: x[index], lambda x: x[_torch_index(index)], shapes=[(3, 4, 5)],
                   dtype=float_dtype)


def test_indexing_with_boolean_tensor_mask(helper_test_op, float_dtype):
    data = away_from(random((3, 4)), [0.0])
    helper_test_op(lambda x: x[x > 0], lambda x: x[x > 0], inputs=[data], dtype=float_dtype)


def test_repeated_index_gradient_counts_repeats():
    """Independent of torch: x[[0, 0, 0, 2]].sum() has gradient [3, 0, 1]."""
    x = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 0, 2]].sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 0.0, 1.0])


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_concatenate(helper_test_op, float_dtype, axis):
    shapes = {0: [(1, 3), (2, 3), (4, 3)], 1: [(2, 1), (2, 3), (2, 2)],
              -1: [(2, 1), (2, 3), (2, 2)]}[axis]
    helper_test_op(lambda *ts: st.concatenate(ts, axis=axis), lambda *ts: torch.cat(ts, dim=axis),
                   shapes=shapes, dtype=float_dtype)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_stack(helper_test_op, float_dtype, axis):
    helper_test_op(lambda *ts: st.stack(ts, axis=axis), lambda *ts: torch.stack(ts, dim=axis),
                   shapes=[(2, 3)] * 3, dtype=float_dtype)


def test_concatenate_and_stack_with_a_constant(helper_test_op):
    helper_test_op(lambda a, b: st.concatenate([a, b]), lambda a, b: torch.cat([a, b]),
                   shapes=[(2, 3), (1, 3)], requires_grad=[True, False])
    helper_test_op(lambda a, b: st.stack([a, b]), lambda a, b: torch.stack([a, b]),
                   shapes=[(2, 3), (2, 3)], requires_grad=[False, True])


def test_composite_expression(helper_test_op, float_dtype):
    """A small network-like expression: every input gets its gradient through several ops."""
    def fn(x, w, b):
        h = (x @ w + b).tanh()
        return (h * h / (1 + x.sum() ** 2)).mean(axis=0).sum()
    helper_test_op(fn, shapes=[(5, 3), (3, 4), (4,)], dtype=float_dtype)


# ------------------------------------------------------------------------- hypothesis: broadcasting
BROADCAST = mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1,
                                          max_side=3)
SETTINGS = settings(max_examples=30, deadline=None)

BROADCAST_OPS = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "maximum": st.maximum,
}


def _operands(shapes, seed, op):
    rng = np.random.default_rng(seed)
    a = rng.uniform(-2.0, 2.0, size=shapes[0])
    b = rng.uniform(-2.0, 2.0, size=shapes[1])
    if op == "div":
        b = np.sign(b + 1e-300) * (np.abs(b) + 0.5)   # away from 0
    return a, b


def _check_grad_shapes(fn, arrays, seed, result_shape):
    tensors = [st.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    assert out.shape == result_shape
    out.backward(np.random.default_rng(seed).standard_normal(out.shape))
    for t in tensors:
        assert t.grad is not None and t.grad.shape == t.shape, (t.grad, t.shape)


@pytest.mark.parametrize("op", list(BROADCAST_OPS))
@SETTINGS
@given(shapes=BROADCAST, seed=hst.integers(0, 2**16))
def test_broadcast_gradients_property(op, shapes, seed):
    a, b = _operands(shapes.input_shapes, seed, op)
    if op == "maximum":
        diff = np.abs(np.subtract(a, b))
        assume(diff.min() > 1e-3)            # no finite difference across the kink
    fn = BROADCAST_OPS[op]
    result = st.gradcheck(fn, a, b)
    assert result.ok, str(result)
    _check_grad_shapes(fn, (a, b), seed, shapes.result_shape)


@SETTINGS
@given(shapes=mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, min_side=1,
                                            max_side=3),
       seed=hst.integers(0, 2**16))
def test_where_broadcast_gradients_property(shapes, seed):
    rng = np.random.default_rng(seed)
    cond_shape, a_shape, b_shape = shapes.input_shapes
    cond = rng.random(cond_shape) > 0.5
    a, b = rng.uniform(-2, 2, a_shape), rng.uniform(-2, 2, b_shape)

    def fn(x, y):
        return st.where(cond, x, y)
    result = st.gradcheck(fn, a, b)
    assert result.ok, str(result)
    _check_grad_shapes(fn, (a, b), seed, shapes.result_shape)


@SETTINGS
@given(shapes=BROADCAST, seed=hst.integers(0, 2**16))
def test_broadcast_matches_numpy_forward(shapes, seed):
    """The forward of every broadcasting op is NumPy's own broadcast result."""
    a, b = _operands(shapes.input_shapes, seed, "div")
    ta, tb = st.tensor(a), st.tensor(b)
    np.testing.assert_array_equal((ta + tb).numpy(), a + b)
    np.testing.assert_array_equal((ta * tb).numpy(), a * b)
    np.testing.assert_array_equal((ta / tb).numpy(), a / b)
    np.testing.assert_array_equal(st.minimum(ta, tb).data, np.minimum(a, b))


# ------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, axis, ndim", [
    (lambda x: x.sum(axis=5), 5, 2), (lambda x: x.mean(axis=2), 2, 2),
    (lambda x: x.max(axis=-3), -3, 2), (lambda x: x.min(axis=(0, 2)), 2, 2),
    (lambda x: st.sum(x, dim=-3), -3, 2), (lambda x: x.argmax(axis=2), 2, 2),
    (lambda x: x.max(2), 2, 2), (lambda x: st.softmax(x, axis=2), 2, 2),
    (lambda x: x.sum(axis=0, keepdims=True).mean(axis=3), 3, 2),
    (lambda x: st.concatenate([x, x], axis=2), 2, 2), (lambda x: st.stack([x, x], axis=3), 3, 3),
    (lambda x: x.flatten(2), 2, 2), (lambda x: x.transpose(0, 2), 2, 2),
])
def test_out_of_range_axis_raises_as_numpy(call, axis, ndim):
    """Issue 12 §2: an out-of-range axis used to wrap around (sum(axis=5) of a 2-D tensor
    summed axis 1); NumPy and torch refuse it. AxisError is an IndexError and a ValueError."""
    x = st.tensor(np.arange(6.0).reshape(2, 3))
    with pytest.raises(np.exceptions.AxisError,
                       match=f"axis {axis} is out of bounds for array of dimension {ndim}"):
        call(x)
    with pytest.raises(np.exceptions.AxisError):
        np.sum(x.numpy(), axis=axis) if ndim == 2 else np.stack([x.numpy(), x.numpy()], axis=axis)


def test_batched_matmul_mismatch_names_the_batch_dims():
    """Issue 12 §3: the inner dimensions fit, the batch dimensions (2,) and (3,) do not."""
    a, b = st.tensor(np.ones((2, 4, 5))), st.tensor(np.ones((3, 5, 6)))
    with pytest.raises(ValueError, match=r"batch dimensions \(2,\) and \(3,\) that do not "
                                         r"broadcast.*inner dimensions \(5\) fit"):
        a @ b
    with pytest.raises(ValueError, match=r"batch dimensions \(2, 3\) and \(4,\)"):
        st.matmul(np.ones((2, 3, 4, 5)), st.tensor(np.ones((4, 5, 6))))
    with pytest.raises(ValueError, match=r"last dimension \(5\) must equal .* \(4\)"):
        st.tensor(np.ones((2, 4, 5))) @ st.tensor(np.ones((2, 4, 6)))


def test_matmul_shape_mismatch_names_op_and_shapes():
    a, b = st.tensor(np.ones((3, 4))), st.tensor(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"matmul.*\(3, 4\).*\(5, 2\)"):
        a @ b
    with pytest.raises(ValueError, match=r"matmul.*\(4,\).*\(3,\)"):
        st.tensor(np.ones(4)) @ st.tensor(np.ones(3))
    with pytest.raises(ValueError, match=r"matmul"):
        st.tensor(np.ones(4)) @ st.tensor(2.0)


@pytest.mark.parametrize("op, fn", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("maximum", st.maximum), ("minimum", st.minimum),
    ("pow", lambda a, b: a ** b),
])
def test_broadcast_failure_names_op_and_shapes(op, fn):
    a, b = st.tensor(np.ones((2, 3))), st.tensor(np.ones((4,)))
    with pytest.raises(ValueError, match=rf"{op}.*\(2, 3\).*\(4,\)"):
        fn(a, b)


def test_where_broadcast_failure_names_shapes():
    with pytest.raises(ValueError, match=r"where.*\(2, 3\).*\(4,\)"):
        st.where(np.ones((2, 3), bool), st.tensor(np.ones((2, 3))), st.tensor(np.ones(4)))


def test_linear_shape_mismatch_names_shapes():
    with pytest.raises(ValueError, match=r"linear.*\(5, 3\).*\(4, 2\)"):
        st.linear(st.tensor(np.ones((5, 3))), st.tensor(np.ones((4, 2))))


def test_reshape_and_shape_op_errors():
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        st.tensor(np.ones((2, 3))).reshape(4, 2)
    with pytest.raises(ValueError, match=r"concatenate"):
        st.concatenate([st.tensor(np.ones((2, 3))), st.tensor(np.ones((2, 4)))], axis=0)
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(2, 4\)"):
        st.stack([st.tensor(np.ones((2, 3))), st.tensor(np.ones((2, 4)))])
    with pytest.raises(ValueError, match=r"max.*empty"):
        st.tensor(np.ones((0, 3))).max()


# ------------------------------------------------ issue 22: torch's edges and nan semantics
def _grads_against_torch(fn, values, upstream=None):
    """Gradients of fn(*values) (float64) in steepest and torch, under ``upstream`` (ones by
    default), as lists of arrays."""
    ours = [st.tensor(v, dtype=st.float64, requires_grad=True) for v in values]
    theirs = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in values]
    out_st, out_torch = fn(st, *ours), fn(torch, *theirs)
    seed = np.ones(out_st.shape) if upstream is None else np.asarray(upstream, dtype=float)
    out_st.backward(seed)
    out_torch.backward(torch.tensor(seed))
    return [np.asarray(t.grad) for t in ours], [t.grad.numpy() for t in theirs]


@pytest.mark.parametrize("bias_shape", [(1,), ()], ids=["(1,)", "()"])
def test_linear_bias_gradient_has_the_bias_shape(bias_shape):
    rng = np.random.default_rng(0)
    values = [rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=bias_shape)]
    ours, theirs = _grads_against_torch(
        lambda m, x, w, b: m.nn.functional.linear(x, w, b), values)
    assert ours[2].shape == bias_shape
    np.testing.assert_allclose(ours[2], theirs[2], rtol=1e-12)


def test_pow_edges_match_torch_without_warnings():
    """0**0 gives the base 0; a zero base with p ≥ 0 gives the exponent 0; a negative base gives
    the exponent nan; 0**−1 gives −inf to both (torch's pow_backward formulas)."""
    base, exponent = [0.0, -2.0, 0.0, 2.0, 0.0, -1.5], [0.0, 2.0, -1.0, 0.0, 3.0, 0.5]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours, theirs = _grads_against_torch(lambda m, a, b: a ** b, [base, exponent])
        for p in (0.0, 1.5, -1.0, 2.0):
            ours_scalar, theirs_scalar = _grads_against_torch(lambda m, a: a ** p,
                                                              [[0.0, -1.0, 2.0]])
            np.testing.assert_allclose(ours_scalar[0], theirs_scalar[0], rtol=1e-12,
                                       err_msg=f"a ** {p}")
        for c in (0.0, -2.0, 2.0):
            ours_base, theirs_base = _grads_against_torch(lambda m, a: c ** a,
                                                          [[2.0, 0.0, -1.0, 0.5]])
            np.testing.assert_allclose(ours_base[0], theirs_base[0], rtol=1e-12,
                                       err_msg=f"{c} ** a")
    np.testing.assert_allclose(ours[0], theirs[0], rtol=1e-12)
    np.testing.assert_allclose(ours[1], theirs[1], rtol=1e-12)
    assert ours[0][0] == 0.0 and np.isnan(ours[1][1])


def test_max_of_all_elements_routes_the_gradient_to_the_nan():
    ours, theirs = _grads_against_torch(lambda m, a: a.max(), [[1.0, np.nan, 3.0, np.nan]])
    np.testing.assert_array_equal(ours[0], theirs[0])
    np.testing.assert_array_equal(ours[0], [0.0, 0.5, 0.0, 0.5])
    ours, theirs = _grads_against_torch(lambda m, a: a.min(), [[1.0, np.nan, -3.0]])
    np.testing.assert_array_equal(ours[0], theirs[0])


def test_max_along_an_axis_with_a_nan_row_gives_torchs_nan_row():
    values = [[[1.0, np.nan, 3.0], [1.0, 2.0, 2.0]]]
    ours, theirs = _grads_against_torch(
        lambda m, a: a.amax(dim=1) if m is torch else a.max(axis=1), values)
    np.testing.assert_array_equal(ours[0], theirs[0])


INF, NAN = np.inf, np.nan


@pytest.mark.parametrize("name, fn, values, upstream", [
    ("relu", lambda m, a: m.relu(a), [[NAN, -1.0, 1.0, 0.0, -2.0]], [1.0, INF, NAN, NAN, NAN]),
    ("clamp", lambda m, a: m.clamp(a, 0.0, 0.7), [[-1.0, 1.0, 0.5, NAN]], [INF, NAN, 1.0, 1.0]),
    ("where", lambda m, a: m.where(a > 0, a, a * 2), [[-1.0, 1.0]], [INF, NAN]),
    ("maximum", lambda m, a: m.maximum(a, m.zeros(3, dtype=a.dtype)), [[NAN, -1.0, 0.0]],
     [1.0, INF, NAN]),
    ("max", lambda m, a: a.max().reshape(1), [[1.0, 5.0, 2.0]], [INF]),
    ("max_dim", lambda m, a: a.max(0)[0].reshape(1), [[1.0, 5.0, 2.0]], [NAN]),
    ("getitem", lambda m, a: a[1:], [[1.0, 5.0, 2.0]], [NAN, INF]),
    ("nll", lambda m, a: m.nn.functional.nll_loss(a, m.tensor([1, 0]), reduction="none"),
     [[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]], [INF, NAN]),
])
def test_a_nan_or_inf_upstream_meets_a_zero_mask_as_in_torch(name, fn, values, upstream):
    """torch selects (threshold_backward, where, masked_fill, scatter) rather than multiplying
    by a 0/1 mask: an upstream nan or inf leaves the unselected entries exactly 0, and a nan
    input passes ReLU's gradient (nan > 0 is false, so it is not thresholded away)."""
    with np.errstate(invalid="ignore"):
        ours, theirs = _grads_against_torch(fn, values, upstream)
    np.testing.assert_array_equal(ours[0], theirs[0], err_msg=name)


def test_log_at_zero_is_minus_inf_with_torchs_gradient_and_no_warning():
    import warnings

    import torch
    x = st.tensor([0.0, 1.0], dtype=st.float64, requires_grad=True)
    tx = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = st.log(x)
        out.sum().backward()
    torch.log(tx).sum().backward()
    np.testing.assert_array_equal(out.detach().numpy(), torch.log(tx).detach().numpy())
    np.testing.assert_array_equal(np.asarray(x.grad), tx.grad.numpy())
