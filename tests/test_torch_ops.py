"""The tensor surface that the tutorials use, each op against torch in float64 and float32:
values, gradients, shapes and dtypes (issue 20 item 4), and torch's type promotion and bool
dtype (issue 22 item 12)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steepest as st


@pytest.fixture
def same_default_dtype():
    """torch's default float dtype set to steepest's for the test (they may differ)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype({np.dtype(np.float32): torch.float32,
                             np.dtype(np.float64): torch.float64}[st.get_default_dtype()])
    yield
    torch.set_default_dtype(previous)


def call(name, *args, **kwargs):
    """``x.name(*args, **kwargs)`` for a steepest or a torch tensor ``x`` (the first input)."""
    return lambda x: getattr(x, name)(*args, **kwargs)


# ------------------------------------------------------------------------- statistics
@pytest.mark.parametrize("kwargs", [
    {}, {"dim": 0}, {"dim": 1, "keepdim": True}, {"dim": (0, 2)}, {"unbiased": False},
    {"dim": 1, "correction": 0}, {"dim": -1, "correction": 2}, {"dim": 2, "unbiased": True},
])
@pytest.mark.parametrize("op", ["std", "var"])
def test_std_and_var_are_unbiased_by_default_as_torch(helper_test_op, float_dtype, op, kwargs):
    helper_test_op(call(op, **kwargs), shapes=[(3, 4, 5)], dtype=float_dtype)


def test_std_positional_unbiased_overloads_and_numpy_ddof():
    x, tx = st.tensor([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], dtype=st.float64), \
        torch.tensor([[1.0, 2.0, 4.0], [3.0, 5.0, 9.0]], dtype=torch.float64)
    assert x.std(False).item() == pytest.approx(tx.std(False).item(), rel=1e-12)
    np.testing.assert_allclose(x.std(1, False).numpy(), tx.std(1, False).numpy(), rtol=1e-12)
    # NumPy's own functions keep NumPy's population default (they pass ddof=0)
    assert np.std(x).item() == pytest.approx(np.std(x.numpy()), rel=1e-12)
    assert x.std().item() != pytest.approx(np.std(x.numpy()), rel=1e-6)
    with pytest.raises(TypeError, match="one of unbiased=, correction="):
        x.std(unbiased=True, correction=0)
    with pytest.raises(TypeError, match="only float tensors"):
        st.tensor([1, 2]).std()


def test_std_of_a_constant_has_a_zero_gradient_as_torch(no_float_warnings):
    x = st.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], dtype=st.float64, requires_grad=True)
    tx = torch.tensor([[2.0, 2.0, 2.0], [1.0, 2.0, 4.0]], dtype=torch.float64,
                      requires_grad=True)
    with no_float_warnings():
        x.std(1).sum().backward()
    tx.std(1).sum().backward()
    np.testing.assert_allclose(np.asarray(x.grad), tx.grad.numpy(), rtol=1e-12)
    assert not np.asarray(x.grad)[0].any()


def test_makemore_update_to_data_ratio_line():
    """``((lr*p.grad).std() / p.data.std()).log10()`` from makemore part 3."""
    rng = np.random.default_rng(0)
    w, g = rng.standard_normal((10, 20)), rng.standard_normal((10, 20))
    ours = ((0.1 * st.tensor(g)).std() / st.tensor(w).std()).log10().item()
    theirs = ((0.1 * torch.tensor(g)).std() / torch.tensor(w).std()).log10().item()
    assert ours == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("p,kwargs", [
    ("fro", {}), (2, {"dim": 1}), (1, {"dim": 0, "keepdim": True}), (3, {}),
    (0.5, {"dim": 1}), (float("inf"), {"dim": 1}), (float("-inf"), {}), (0, {"dim": 0}),
])
def test_norm_as_torch(helper_test_op, float_dtype, p, kwargs):
    helper_test_op(call("norm", p, **kwargs), shapes=[(3, 4)], dtype=float_dtype, low=0.1,
                   high=2.0 if p != 0.5 else 1.0)
    helper_test_op(call("norm", p, **kwargs), shapes=[(3, 4)], dtype=float_dtype)


@pytest.mark.parametrize("p", [0.5, 1.5, 3, 2])
def test_norm_gradient_with_zero_elements_as_torch(helper_test_op, float_dtype, p):
    data = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 0.0], [0.3, 0.0, -0.4]])
    helper_test_op(call("norm", p, dim=1), inputs=[data], dtype=float_dtype)


def test_norm_gradient_at_zero_is_zero_as_torch():
    x = st.zeros(3, dtype=st.float64, requires_grad=True)
    x.norm().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])


@pytest.mark.parametrize("kwargs", [{"dim": 1}, {"dim": 0, "keepdim": True}, {"dim": (0, 1)}])
def test_logsumexp_as_torch_and_stable(helper_test_op, float_dtype, kwargs):
    helper_test_op(call("logsumexp", **kwargs), shapes=[(3, 4)], dtype=float_dtype)
    helper_test_op(call("logsumexp", **kwargs), shapes=[(3, 4)], dtype=float_dtype, low=500,
                   high=800)


def test_logsumexp_of_minus_infinity_rows():
    x = st.tensor([[-np.inf, -np.inf], [0.0, -np.inf]], dtype=st.float64)
    tx = torch.tensor([[-np.inf, -np.inf], [0.0, -np.inf]], dtype=torch.float64)
    np.testing.assert_array_equal(x.logsumexp(1).numpy(), tx.logsumexp(1).numpy())


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_cumsum_as_torch(helper_test_op, float_dtype, dim):
    helper_test_op(call("cumsum", dim), shapes=[(3, 4)], dtype=float_dtype)


def test_cumsum_of_integers_is_int64_as_torch():
    assert st.tensor([1, 2, 3], dtype=st.int32).cumsum(0).dtype == np.int64
    assert st.tensor([True, True]).cumsum(0).tolist() == [1, 2]


@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"dim": 1, "keepdim": True}])
def test_prod_as_torch_with_and_without_zeros(helper_test_op, float_dtype, kwargs):
    helper_test_op(call("prod", **kwargs), shapes=[(3, 4)], dtype=float_dtype, low=0.5)
    data = np.array([[0.0, 2.0, 3.0, 1.5], [0.0, 0.0, 2.0, 1.0], [1.0, 2.0, 3.0, 4.0]])
    helper_test_op(call("prod", **kwargs), inputs=[data], dtype=float_dtype)


# ------------------------------------------------------------------------- maths
@pytest.mark.parametrize("name,low,high", [
    ("log10", 0.1, 3), ("log2", 0.1, 3), ("log1p", -0.5, 3), ("expm1", -2, 2),
    ("sqrt", 0.1, 3), ("rsqrt", 0.1, 3), ("square", -2, 2), ("sign", -2, 2), ("floor", -2, 2),
    ("ceil", -2, 2), ("round", -2, 2), ("exp", -2, 2), ("abs", -2, 2), ("trunc", -2, 2),
])
def test_elementwise_maths_as_torch(helper_test_op, float_dtype, name, low, high):
    helper_test_op(call(name), shapes=[(3, 4)], dtype=float_dtype, low=low, high=high)
    helper_test_op(getattr(st, name), getattr(torch, name), shapes=[(5,)], dtype=float_dtype,
                   low=low, high=high)


def test_round_halves_to_even_and_decimals_as_torch():
    values = [0.5, 1.5, 2.5, -0.5, -1.5, 0.125, 2.675]
    x, tx = st.tensor(values, dtype=st.float64), torch.tensor(values, dtype=torch.float64)
    np.testing.assert_array_equal(x.round().numpy(), tx.round().numpy())
    np.testing.assert_allclose(x.round(decimals=2).numpy(), tx.round(decimals=2).numpy())


def test_integer_maths_keeps_torch_dtypes():
    for name in ("sign", "floor", "ceil", "round", "square"):
        x, tx = st.tensor([-3, 0, 4]), torch.tensor([-3, 0, 4])
        out, expected = getattr(x, name)(), getattr(tx, name)()
        assert out.dtype == np.int64 and out.tolist() == expected.tolist(), name
    assert st.tensor([1, 100]).log10().dtype == st.get_default_dtype()


# ------------------------------------------------------------------------- linear algebra
@pytest.mark.parametrize("name,shapes", [
    ("dot", [(5,), (5,)]), ("mm", [(3, 4), (4, 2)]), ("bmm", [(2, 3, 4), (2, 4, 5)]),
    ("outer", [(3,), (4,)]),
])
def test_linear_algebra_as_torch(helper_test_op, float_dtype, name, shapes):
    helper_test_op(lambda a, b: getattr(a, name)(b), shapes=shapes, dtype=float_dtype)
    helper_test_op(getattr(st, name), getattr(torch, name), shapes=shapes, dtype=float_dtype)


@pytest.mark.parametrize("name,shapes,match", [
    ("dot", [(2, 2), (2, 2)], "input must be a 1-D"), ("dot", [(2,), (3,)], "same length"),
    ("mm", [(2, 2, 2), (2, 2)], "input must be a 2-D"), ("bmm", [(2, 2), (2, 2)], "3-D"),
    ("bmm", [(2, 3, 4), (3, 4, 5)], "batch sizes differ"), ("outer", [(2, 2), (2,)], "1-D"),
])
def test_linear_algebra_refuses_wrong_shapes_with_a_message(name, shapes, match):
    a, b = (st.ones(*s, dtype=st.float64) for s in shapes)
    with pytest.raises(ValueError, match=match):
        getattr(st, name)(a, b)


def test_mm_refuses_mixed_dtypes_as_torch():
    with pytest.raises(TypeError, match="same dtype"):
        st.mm(st.ones(2, 2, dtype=st.float32), st.ones(2, 2, dtype=st.float64))


# ------------------------------------------------------------------------- indexing and shape
def test_where_with_tensors_scalars_and_the_method(helper_test_op, float_dtype):
    mask = np.array([[True, False, True], [False, False, True]])
    def where(c, a, b):
        return (st if isinstance(c, st.Tensor) else torch).where(c, a, b)

    helper_test_op(where, inputs=[mask, np.ones((2, 3)) * 0.5, np.arange(3.0)],
                   dtype=float_dtype)
    helper_test_op(lambda c, a: a.where(c, 2.5), inputs=[mask, np.ones((2, 3))],
                   dtype=float_dtype)
    helper_test_op(lambda c, a: where(c, 0.0, a), inputs=[mask, np.ones((2, 3))],
                   dtype=float_dtype)


def test_where_with_only_a_condition_gives_indices_as_torch():
    mask = [[True, False], [True, True]]
    ours, theirs = st.where(st.tensor(mask)), torch.where(torch.tensor(mask))
    assert [t.tolist() for t in ours] == [t.tolist() for t in theirs]
    assert all(t.dtype == np.int64 for t in ours)


def test_masked_fill_as_torch(helper_test_op, float_dtype):
    mask = np.array([[True, False, True], [False, False, True]])
    helper_test_op(lambda m, a: a.masked_fill(m, -1.5), inputs=[mask, np.ones((2, 3))],
                   dtype=float_dtype)
    helper_test_op(lambda m, a, v: a.masked_fill(m[0], v), inputs=[mask, np.ones((2, 3)),
                                                                    np.array(2.0)],
                   dtype=float_dtype)
    helper_test_op(lambda m, a: a.masked_fill(m, float("-inf")).softmax(-1),
                   inputs=[mask[::-1].copy(), np.ones((2, 3))], dtype=float_dtype)


def test_masked_fill_keeps_the_tensor_dtype_and_wants_a_bool_mask():
    x = st.ones(3, dtype=st.float32)
    assert x.masked_fill(st.tensor([True, False, True]), st.tensor(5.0,
                                                                   dtype=st.float64)).dtype \
        == np.float32
    with pytest.raises(TypeError, match="mask must be a bool tensor"):
        x.masked_fill(st.tensor([1, 0, 1]), 0.0)
    y = st.zeros(3, dtype=st.float64)
    y.masked_fill_(st.tensor([False, True, False]), 7.0)
    assert y.tolist() == [0.0, 7.0, 0.0]


@pytest.mark.parametrize("dim,index", [
    (0, [[0, 1, 2, 0], [2, 2, 1, 0]]), (1, [[3, 0], [1, 1], [0, 2]]), (-1, [[1], [0], [3]]),
])
def test_gather_as_torch_with_repeated_indices(helper_test_op, float_dtype, dim, index):
    helper_test_op(lambda a, i: a.gather(dim, i), inputs=[np.arange(12.0).reshape(3, 4) / 7,
                                                          np.array(index)], dtype=float_dtype)


@pytest.mark.parametrize("name", ["scatter", "scatter_add"])
def test_scatter_and_scatter_add_as_torch(helper_test_op, float_dtype, name):
    index = np.array([[0, 1, 2, 0], [2, 0, 1, 1]])  # no repeats along dim 0 per column
    helper_test_op(lambda a, i, s: getattr(a, name)(0, i, s),
                   inputs=[np.ones((3, 4)), index, np.arange(8.0).reshape(2, 4)],
                   dtype=float_dtype)
    repeated = np.array([[0, 0], [1, 0]])
    helper_test_op(lambda a, i, s: a.scatter_add(1, i, s),
                   inputs=[np.zeros((2, 3)), repeated, np.ones((2, 2))], dtype=float_dtype)


def test_scatter_value_and_in_place_forms_as_torch():
    index = [[1], [0], [2]]
    out = st.zeros(3, 4, dtype=st.int64).scatter_(1, st.tensor(index), value=1)
    expected = torch.zeros(3, 4, dtype=torch.int64).scatter_(1, torch.tensor(index), value=1)
    assert out.tolist() == expected.tolist()


@pytest.mark.parametrize("dim", [0, 1])
def test_index_select_as_torch(helper_test_op, float_dtype, dim):
    helper_test_op(lambda a, i: a.index_select(dim, i),
                   inputs=[np.arange(12.0).reshape(3, 4), np.array([2, 0, 2])],
                   dtype=float_dtype)


@pytest.mark.parametrize("kwargs", [{}, {"dim": 0}, {"descending": True},
                                    {"dim": 0, "descending": True}])
def test_sort_values_indices_and_gradient_as_torch(helper_test_op, float_dtype, kwargs):
    helper_test_op(lambda a: a.sort(**kwargs)[0], shapes=[(4, 5)], dtype=float_dtype)
    data = np.array([[3.0, 1.0, 3.0, 2.0], [1.0, 1.0, 0.0, 1.0]])
    ours = st.tensor(data).sort(**kwargs)
    theirs = torch.tensor(data).sort(stable=True, **kwargs)
    assert ours.indices.tolist() == theirs.indices.tolist()
    assert ours.indices.dtype == np.int64
    assert st.tensor(data).argsort(**kwargs).tolist() == theirs.indices.tolist()


@pytest.mark.parametrize("kwargs", [{"k": 2}, {"k": 3, "dim": 0}, {"k": 1, "largest": False}])
def test_topk_as_torch(helper_test_op, float_dtype, kwargs):
    helper_test_op(lambda a: a.topk(**kwargs).values, shapes=[(4, 5)], dtype=float_dtype)
    data = np.random.default_rng(3).permutation(20).reshape(4, 5).astype(float)
    ours, theirs = st.tensor(data).topk(**kwargs), torch.tensor(data).topk(**kwargs)
    assert ours.indices.tolist() == theirs.indices.tolist()
    with pytest.raises(ValueError, match="k must be an int from 0 to 5"):
        st.tensor(data).topk(6)


@pytest.mark.parametrize("shape,sizes", [((3, 1), (3, 4)), ((1, 3), (2, -1, 3)),
                                         ((3,), (2, 3))])
def test_expand_as_torch_shares_memory(helper_test_op, float_dtype, shape, sizes):
    helper_test_op(call("expand", *sizes), shapes=[shape], dtype=float_dtype)
    x = st.zeros(*shape, dtype=st.float64)
    assert np.shares_memory(x.numpy(), x.expand(*sizes).numpy())
    helper_test_op(lambda a, b: a.expand_as(b) * b, shapes=[shape, torch.zeros(
        shape).expand(*sizes).shape], dtype=float_dtype)


def test_expand_refuses_a_dimension_that_is_not_1():
    with pytest.raises(ValueError, match=r"shape \(3,\) cannot be expanded to \(4,\)"):
        st.zeros(3).expand(4)


@pytest.mark.parametrize("shape,sizes", [((2, 3), (2, 1)), ((3,), (2, 2)), ((2, 3), (1, 2, 3))])
def test_repeat_as_torch(helper_test_op, float_dtype, shape, sizes):
    helper_test_op(call("repeat", *sizes), shapes=[shape], dtype=float_dtype)


@pytest.mark.parametrize("args", [(2,), (2, 1), ([1, 4], 1), (5, 0)])
def test_split_as_torch(helper_test_op, float_dtype, args):
    for piece in range(len(torch.zeros(3, 5).split(*args))):
        helper_test_op(lambda a, piece=piece: a.split(*args)[piece] * 2, shapes=[(3, 5)],
                       dtype=float_dtype)
    x = st.zeros(3, 5)
    assert all(np.shares_memory(x.numpy(), part.numpy()) for part in x.split(*args))


@pytest.mark.parametrize("chunks,dim", [(2, 0), (3, 1), (6, 1), (1, 0)])
def test_chunk_as_torch(chunks, dim):
    data = np.arange(15.0).reshape(3, 5)
    ours, theirs = st.tensor(data).chunk(chunks, dim), torch.tensor(data).chunk(chunks, dim)
    assert [p.tolist() for p in ours] == [p.tolist() for p in theirs]


def test_small_surface_methods_as_torch():
    x, tx = st.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert x.dim() == tx.dim() == x.ndim == 3
    assert x.nelement() == tx.nelement() == 24
    assert st.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    assert round(st.tensor(2.6)) == 3 and round(st.tensor(2.625), 2) == 2.62


# ------------------------------------------------------------------------- operators
def test_bool_operators_as_torch():
    a, b = [True, False, True, False], [True, True, False, False]
    for op in (lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y,
               lambda x, y: ~x, lambda x, y: x & ~y):
        ours, theirs = op(st.tensor(a), st.tensor(b)), op(torch.tensor(a), torch.tensor(b))
        assert ours.dtype == np.bool_ and ours.tolist() == theirs.tolist()
    assert (st.tensor([12, 10]) & 6).tolist() == (torch.tensor([12, 10]) & 6).tolist()
    assert (~st.tensor([0, 5])).tolist() == (~torch.tensor([0, 5])).tolist()


def test_bitwise_operators_refuse_floats_with_a_hint():
    with pytest.raises(TypeError, match="bool and integer tensors only.*x > 0"):
        st.tensor([1.0]) & st.tensor([True])
    with pytest.raises(TypeError, match="bool and integer tensors only"):
        ~st.tensor([1.0])


@pytest.mark.parametrize("a,b", [([7, -7, 5], [2, 2, -3]), ([7.5, -7.5, 5.0], [2.0, 2.0, -3.0])])
def test_floor_division_and_remainder_as_torch(same_default_dtype, a, b):
    for op in (lambda x, y: x // y, lambda x, y: x % y, lambda x, y: x // 2, lambda x, y: x % 3,
               lambda x, y: 11 // y, lambda x, y: 11 % y):
        ours, theirs = op(st.tensor(a), st.tensor(b)), op(torch.tensor(a), torch.tensor(b))
        assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_remainder_gradient_as_torch(helper_test_op, float_dtype):
    helper_test_op(lambda a, b: a % b, shapes=[(3, 4), (4,)], dtype=float_dtype,
                   low=[-5.0, 0.5], high=[5.0, 2.0])
    helper_test_op(lambda a: a % 1.5, shapes=[(3, 4)], dtype=float_dtype)


def test_floor_division_has_no_derivative_as_torch():
    x = st.tensor([3.0, 4.0], dtype=st.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match="derivative of floor division"):
        (x // 2).sum().backward()


# ------------------------------------------------------------------------- dtypes and promotion
def test_bool_tensors_are_bool_and_work_as_masks():
    mask = st.tensor([True, False, True])
    assert mask.dtype == np.bool_ and torch.tensor([True]).dtype == torch.bool
    x = st.tensor([1.0, 2.0, 3.0], dtype=st.float64)
    assert x[mask].tolist() == [1.0, 3.0]
    assert st.where(mask, x, -x).tolist() == [1.0, -2.0, 3.0]
    assert (x > 1.5).dtype == np.bool_ and (x == 2.0).dtype == np.bool_
    assert mask.sum().item() == 2 and mask.sum().dtype == np.int64
    assert (mask * x).dtype == np.float64   # bool × float → float, as torch


@pytest.mark.parametrize("value,dtype", [(3, torch.int64), (3.0, None), (True, torch.bool)])
def test_full_infers_the_dtype_as_torch(same_default_dtype, value, dtype):
    ours, theirs = st.full((2, 3), value), torch.full((2, 3), value)
    expected = st.get_default_dtype() if dtype is None else \
        np.dtype(str(dtype).removeprefix("torch."))
    assert ours.dtype == expected and ours.shape == tuple(theirs.shape)
    assert ours.tolist() == theirs.tolist()
    assert st.full_like(ours, 2).dtype == expected


TORCH_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
                np.dtype(np.int64): torch.int64, np.dtype(np.int32): torch.int32,
                np.dtype(np.bool_): torch.bool}

OPERANDS = {
    "f32": lambda m: m.tensor([1.5, 2.0], dtype=m.float32),
    "f64": lambda m: m.tensor([1.5, 2.0], dtype=m.float64),
    "i64": lambda m: m.tensor([1, 2]),
    "i32": lambda m: m.tensor([1, 2], dtype=m.int32),
    "bool": lambda m: m.tensor([True, False]),
    "f64_0d": lambda m: m.tensor(2.0, dtype=m.float64),
    "f32_0d": lambda m: m.tensor(2.0, dtype=m.float32),
    "i64_0d": lambda m: m.tensor(2),
    "py_float": lambda m: 2.5,
    "py_int": lambda m: 3,
}


@pytest.mark.parametrize("op", ["add", "mul", "sub", "div"])
@pytest.mark.parametrize("left,right", [
    ("f32", "f64_0d"), ("f64_0d", "f32"), ("f32", "py_float"), ("i64", "py_float"),
    ("i64", "f32"), ("i64", "f64_0d"), ("i32", "i64"), ("i64", "py_int"), ("bool", "py_int"),
    ("f32", "i64"), ("f32_0d", "f64_0d"), ("i64_0d", "f32"), ("i64", "i64"), ("f32", "f64"),
    ("py_float", "i64"), ("py_int", "i32"),
])
def test_type_promotion_as_torch(same_default_dtype, op, left, right):
    """torch.result_type: a 0-d tensor or a Python number does not promote a float32 tensor;
    an integer tensor with a Python float gives the default float dtype; division gives a
    float."""
    functions = {"add": lambda a, b: a + b, "mul": lambda a, b: a * b,
                 "sub": lambda a, b: a - b, "div": lambda a, b: a / b}
    if op == "sub" and "bool" in (left, right):
        pytest.skip("torch refuses subtraction of bools")
    theirs = functions[op](OPERANDS[left](torch), OPERANDS[right](torch))
    ours = functions[op](OPERANDS[left](st), OPERANDS[right](st))
    assert TORCH_DTYPES[ours.dtype] == theirs.dtype, (left, op, right)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_result_type_matches_torch_result_type(same_default_dtype):
    for left in OPERANDS:
        for right in OPERANDS:
            if left.startswith("py") and right.startswith("py"):
                continue
            theirs = torch.result_type(OPERANDS[left](torch), OPERANDS[right](torch))
            ours = st.result_type(OPERANDS[left](st), OPERANDS[right](st))
            assert TORCH_DTYPES[ours] == theirs, (left, right)


def test_float32_stays_float32_through_a_float64_scalar_tensor_with_its_gradient():
    x = st.tensor([1.0, 2.0], dtype=st.float32, requires_grad=True)
    s = st.tensor(3.0, dtype=st.float64, requires_grad=True)
    y = (x * s).sum()
    assert y.dtype == np.float32
    y.backward()
    assert np.asarray(x.grad).dtype == np.float32 and np.asarray(s.grad).dtype == np.float64
    assert float(np.asarray(s.grad)) == 3.0


# ------------------------------------------------------------------------- more of torch's names
@pytest.mark.parametrize("expression", [
    lambda x, m: x.any(), lambda x, m: (x > 0).all(1), lambda x, m: x.any(0, keepdim=True),
    lambda x, m: x.isnan(), lambda x, m: x.isinf(), lambda x, m: x.isfinite(),
    lambda x, m: m.logical_and(x > 0, x < 1), lambda x, m: (x > 0).logical_or(x < -1),
    lambda x, m: (x > 0).logical_xor(x > 1), lambda x, m: m.logical_not(x),
    lambda x, m: x.eq(0.0), lambda x, m: x.ne(0.0), lambda x, m: x.lt(1.0),
    lambda x, m: x.le(1.0), lambda x, m: x.gt(1.0), lambda x, m: x.ge(1.0),
    lambda x, m: x.nonzero(), lambda x, m: m.nonzero(x, as_tuple=True)[1],
    lambda x, m: x.count_nonzero(), lambda x, m: x.count_nonzero(dim=0),
    lambda x, m: x.new_zeros(2, 3), lambda x, m: x.new_ones((2,)), lambda x, m: x.new_full(
        (2,), 7), lambda x, m: x.new_tensor([1, 2]), lambda x, m: (x > 0).type_as(m.tensor([1])),
], ids=lambda f: "")
def test_non_differentiable_surface_as_torch(expression):
    data = np.array([[0.0, 1.5, -2.0], [np.nan, 0.5, np.inf]])
    ours, theirs = expression(st.tensor(data), st), expression(torch.tensor(data), torch)
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == np.dtype(str(theirs.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("expression", [
    lambda x: x.amax(1), lambda x: x.amin(0, keepdim=True), lambda x: x.amax(),
    lambda x: x.maximum(x.flip(1)), lambda x: x.minimum(x * 0.5), lambda x: x.neg(),
    lambda x: x.reciprocal(), lambda x: x.tril(), lambda x: x.triu(1),
    lambda x: x.tril().masked_fill(x.tril() == 0, float("-inf")).softmax(-1),
    lambda x: x.unbind(1)[2], lambda x: x.masked_select(x > 0.5), lambda x: x.tile(2),
    lambda x: x.view_as(x.t()), lambda x: x.reshape_as(x.t()),
], ids=lambda f: "")
def test_differentiable_surface_as_torch(helper_test_op, float_dtype, expression):
    data = np.array([[0.3, 1.5, -2.0], [1.5, 0.7, 0.2], [-0.1, 0.4, 2.2]])
    helper_test_op(expression, inputs=[data], dtype=float_dtype)


def test_containment_allclose_equal_and_layout_methods_as_torch():
    x, tx = st.tensor([1.0, 2.0, 3.0]), torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert (2.0 in x) == (2.0 in tx) is True and (5.0 in x) == (5.0 in tx) is False
    assert x.allclose(x + 1e-9) and not x.allclose(x + 1e-3) and st.allclose(x, x)
    assert x.equal(st.tensor([1.0, 2.0, 3.0])) and not x.equal(st.tensor([1.0, 2.0]))
    assert x.cpu() is x and x.contiguous() is x
    assert x.is_floating_point() and not st.tensor([1]).is_floating_point()


@pytest.mark.parametrize("other", ["f64_0d", "i64", "f64"])
def test_where_promotes_as_torch(same_default_dtype, other):
    mask = [True, False]
    ours = st.where(st.tensor(mask), OPERANDS["f32"](st), OPERANDS[other](st))
    theirs = torch.where(torch.tensor(mask), OPERANDS["f32"](torch), OPERANDS[other](torch))
    assert TORCH_DTYPES[ours.dtype] == theirs.dtype
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


def test_makemore_batchnorm_by_hand_cell_runs_with_torchs_numbers():
    """makemore part 3's training step with BatchNorm written by hand: embedding lookup,
    std(0, keepdim=True), running statistics under no_grad, cross-entropy, the gradients."""
    rng = np.random.default_rng(5)
    init = {"C": rng.standard_normal((27, 4)), "W1": rng.standard_normal((12, 16)) * 0.2,
            "bngain": np.ones((1, 16)), "bnbias": np.zeros((1, 16)),
            "W2": rng.standard_normal((16, 27)) * 0.1, "b2": np.zeros(27)}
    X, Y = rng.integers(0, 27, (32, 3)), rng.integers(0, 27, 32)

    def values(t):
        return t.numpy() if isinstance(t, torch.Tensor) else np.array(t)

    def step(m, F):
        p = {k: m.tensor(v, dtype=m.float64, requires_grad=True) for k, v in init.items()}
        bnmean_running, bnstd_running = m.zeros((1, 16), dtype=m.float64), \
            m.ones((1, 16), dtype=m.float64)
        emb = p["C"][m.tensor(X)]
        hpreact = emb.view(emb.shape[0], -1) @ p["W1"]
        bnmeani = hpreact.mean(0, keepdim=True)
        bnstdi = hpreact.std(0, keepdim=True)
        hpreact = p["bngain"] * (hpreact - bnmeani) / bnstdi + p["bnbias"]
        with m.no_grad():
            bnmean_running = 0.999 * bnmean_running + 0.001 * bnmeani
            bnstd_running = 0.999 * bnstd_running + 0.001 * bnstdi
        h = m.tanh(hpreact)
        loss = F.cross_entropy(h @ p["W2"] + p["b2"], m.tensor(Y))
        loss.backward()
        saturated = (h.abs() > 0.97).float().mean()
        grad_w1 = m.tensor(values(p["W1"].grad))  # the cell's p.grad, as a tensor either way
        ratio = ((0.1 * grad_w1).std() / p["W1"].detach().std()).log10()
        return ([loss.item(), saturated.item(), float(ratio)] +
                [values(t) for t in (bnmean_running, bnstd_running)] +
                [values(p[k].grad) for k in sorted(p)])
    import torch.nn.functional as TF
    import steepest.nn.functional as SF
    for ours, theirs in zip(step(st, SF), step(torch, TF)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12)
