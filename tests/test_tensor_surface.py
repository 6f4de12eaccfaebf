"""The torch surface of Tensor and of the top-level functions, each against torch: values,
gradients, shapes, dtypes, and the errors for misuse (issue 13 items 1-3; issue 12 §2)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steepest as st
from conftest import tolerance


def random(shape, low=-2.0, high=2.0, seed=1):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


def pair(array, requires_grad=False):
    """The same data as a steepest and a torch tensor."""
    return (st.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


# ------------------------------------------------------------------------- size, dtype, casts
def test_size_is_a_method_and_shape_a_tuple():
    x, tx = pair(random((2, 3, 4)))
    assert x.size() == tuple(tx.size()) == x.shape == (2, 3, 4)
    assert [x.size(d) for d in (0, 1, 2, -1, -3)] == [tx.size(d) for d in (0, 1, 2, -1, -3)]
    assert x.numel() == tx.numel() == 24
    with pytest.raises(IndexError, match="size: axis 3 is out of bounds"):
        x.size(3)


@pytest.mark.parametrize("cast", ["float", "double", "long", "int", "bool"])
def test_cast_methods_match_torch_dtypes(cast):
    x, tx = pair(random((2, 3)))
    out, expected = getattr(x, cast)(), getattr(tx, cast)()
    assert out.dtype == np.dtype(str(expected.dtype).removeprefix("torch."))
    np.testing.assert_array_equal(out.numpy(), expected.numpy())


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64"])
def test_to_and_type_take_torch_dtype_names(dtype):
    x = st.tensor(random((3,)))
    for out in (x.to(getattr(st, dtype)), x.type(getattr(st, dtype)), x.to(dtype=dtype)):
        assert out.dtype == np.dtype(dtype)
    assert x.to(st.float64) is x and x.to("cpu") is x   # nothing to change: the tensor itself
    assert x.to(st.float32).to(x).dtype == np.float64   # to(other): other's dtype


def test_dtype_names_are_torch_names():
    assert st.float == st.float32 == np.float32 and st.double == st.float64 == np.float64
    assert st.long == st.int64 == np.int64 and st.int == st.int32 and st.bool == np.bool_
    assert st.tensor([1.0]).type() == "steepest.FloatTensor"   # the default dtype, as torch
    assert st.tensor([1.0], dtype=st.float64).type() == "steepest.DoubleTensor"
    assert st.tensor([1]).type() == "steepest.LongTensor"


def test_float_cast_passes_the_gradient_as_torch(helper_test_op):
    helper_test_op(lambda x: (x.float() * 3).double(), shapes=[(2, 3)], dtype=np.float64,
                   rtol=1e-6)
    helper_test_op(lambda x: (x.double() ** 2).to(torch.float32 if isinstance(x, torch.Tensor)
                                                  else st.float32),
                   shapes=[(2, 3)], dtype=np.float32)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps"])
def test_to_another_device_names_it(device):
    with pytest.raises(ValueError, match=f"device '{device}' is not available.*CPU"):
        st.zeros(2).to(device)
    with pytest.raises(ValueError, match=f"device '{device}'"):
        st.zeros(2).to(device=device)


# ------------------------------------------------------------------------- formatting, builtins
@pytest.mark.parametrize("spec", [">7f", ".3e", "8.4f", "g", ""])
def test_format_of_a_one_element_tensor_as_torch(spec):
    value = 0.123456789
    assert format(st.tensor(value), spec) == format(torch.tensor(value), spec)
    assert format(st.tensor(value, dtype=st.float64), spec) == format(
        torch.tensor(value, dtype=torch.float64), spec)
    assert f"{st.tensor([[value]]):{spec or 'g'}}" == format(value, spec or "g")


def test_format_of_a_larger_tensor_with_a_spec_is_an_error():
    with pytest.raises(TypeError, match=r"one-element tensors only, got shape \(2,\)"):
        f"{st.tensor([1.0, 2.0]):>7f}"
    assert f"{st.tensor([1.0, 2.0])}" == str(st.tensor([1.0, 2.0]))


def test_builtin_abs(helper_test_op, float_dtype):
    helper_test_op(lambda x: abs(x), shapes=[(3, 4)], dtype=float_dtype, low=0.1)
    helper_test_op(lambda x: abs(x), shapes=[(3, 4)], dtype=float_dtype, low=-2, high=-0.1)


def test_equality_is_elementwise_and_tensors_still_hash_by_identity():
    pred, tpred = pair(np.array([0, 2, 1, 1]))
    y, ty = pair(np.array([0, 1, 1, 2]))
    for ours, theirs in ((pred == y, tpred == ty), (pred != y, tpred != ty),
                         (pred == 1, tpred == 1), (1 != pred, 1 != tpred)):
        assert ours.dtype == np.bool_
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert np.mean(pred == y) == 0.5
    assert (pred.argmax() == st.tensor(1)).item()
    a, b = st.tensor([1.0]), st.tensor([1.0])
    assert len({a, b}) == 2 and {a: 1, b: 2}[a] == 1


def test_quickstart_accuracy_line():
    """The Quickstart's `(pred.argmax(1) == y).type(torch.float).sum().item()`."""
    logits = random((6, 3), seed=2)
    labels = np.array([0, 1, 2, 2, 1, 0])
    ours = (st.tensor(logits).argmax(1) == st.tensor(labels)).type(st.float).sum().item()
    theirs = (torch.tensor(logits).argmax(1) == torch.tensor(labels)).type(torch.float).sum()
    assert ours == theirs.item()


# ------------------------------------------------------------------------- methods vs torch
METHODS = {
    "pow(2)": lambda x, w: x.pow(2) * w,
    "pow(3.5)": lambda x, w: abs(x).pow(3.5) * w,
    "pow(w)": lambda x, w: abs(x).pow(w),
    "mul": lambda x, w: x.mul(w),
    "add": lambda x, w: x.add(w),
    "add alpha": lambda x, w: x.add(w, alpha=-2.5),
    "sub": lambda x, w: x.sub(w),
    "sub alpha": lambda x, w: x.sub(w, alpha=0.5),
    "div": lambda x, w: x.div(abs(w) + 0.5),
    "matmul": lambda x, w: x.matmul(w.t()),
    "clamp": lambda x, w: (x * w).clamp(-0.9, 0.7),
    "clamp min=": lambda x, w: (x * w).clamp(min=-0.3),
    "clamp max=": lambda x, w: (x * w).clamp(max=0.3),
    "clamp_min": lambda x, w: (x * w).clamp_min(0.1),
    "clamp_max": lambda x, w: (x * w).clamp_max(0.1),
    "sin": lambda x, w: x.sin() * w,
    "cos": lambda x, w: x.cos() * w,
    "sum dim keepdim": lambda x, w: (x * w).sum(dim=1, keepdim=True),
    "mean dim": lambda x, w: (x * w).mean(dim=0),
    "max(dim).values": lambda x, w: (x * w).max(1).values,
    "max(dim, keepdim)[0]": lambda x, w: (x * w).max(dim=0, keepdim=True)[0],
    "min(dim).values": lambda x, w: (x * w).min(-1).values,
    "max(w)": lambda x, w: x.max(w),
    "min(w)": lambda x, w: x.min(w),
    "max()": lambda x, w: (x * w).max(),
    "softmax(dim=0)": lambda x, w: (x * w).softmax(dim=0),
    "log_softmax(dim=1)": lambda x, w: (x * w).log_softmax(dim=1),
}


@pytest.mark.parametrize("name", list(METHODS))
def test_methods_match_torch(helper_test_op, float_dtype, name):
    x = random((3, 4), seed=3)
    w = random((3, 4), seed=4)
    helper_test_op(METHODS[name], inputs=[x, w], dtype=float_dtype)


def test_max_min_with_dim_return_values_and_indices_as_torch():
    """Ties: the index of the first, and the gradient to that index only (torch's
    value-selecting backward), unlike max(axis=...) which shares it among the ties."""
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, -1.0]])
    for name in ("max", "min"):
        for dim, keepdim in ((1, False), (0, True), (-1, True)):
            x, tx = pair(data, requires_grad=True)
            out = getattr(x, name)(dim, keepdim)
            expected = getattr(tx, name)(dim, keepdim)
            assert type(out).__name__ == name and out._fields == ("values", "indices")
            np.testing.assert_array_equal(out.values.numpy(), expected.values.detach().numpy())
            np.testing.assert_array_equal(out.indices.numpy(), expected.indices.numpy())
            assert out.indices.dtype == np.int64
            (out.values * 2).sum().backward()
            (expected.values * 2).sum().backward()
            np.testing.assert_array_equal(x.grad, tx.grad.numpy())
            values, indices = getattr(st, name)(x, dim=dim, keepdim=keepdim)
            np.testing.assert_array_equal(indices.numpy(), expected.indices.numpy())


@pytest.mark.parametrize("name", ["argmax", "argmin"])
@pytest.mark.parametrize("dim, keepdim", [(None, False), (0, False), (1, True), (-1, False)])
def test_argmax_argmin_as_torch(name, dim, keepdim):
    data = np.array([[1.0, 5.0, 5.0, 0.0], [4.0, -2.0, 4.0, -2.0], [0.0, 0.0, 0.0, 0.0]])
    x, tx = pair(data)
    out = getattr(x, name)(dim=dim, keepdim=keepdim)
    expected = getattr(torch, name)(tx, dim=dim, keepdim=keepdim)
    assert out.dtype == np.int64 and out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    if dim is not None:
        np.testing.assert_array_equal(getattr(st, name)(x, dim).numpy(),
                                      getattr(torch, name)(tx, dim).numpy())


@pytest.mark.parametrize("op", [
    lambda x: x.sum(axis=1, dim=1), lambda x: x.mean(keepdims=True, keepdim=True),
    lambda x: st.softmax(x, axis=0, dim=0), lambda x: st.cat([x, x], 0, dim=0),
    lambda x: x.argmax(axis=0, dim=0), lambda x: x.max(0, axis=0)])
def test_axis_and_dim_together_is_an_error(op):
    with pytest.raises(TypeError, match="got both"):
        op(st.zeros(2, 3))


def test_cat_and_stack_with_dim(helper_test_op, float_dtype):
    helper_test_op(lambda a, b: st.cat([a, b], dim=1), lambda a, b: torch.cat([a, b], dim=1),
                   shapes=[(2, 3), (2, 1)], dtype=float_dtype)
    helper_test_op(lambda a, b: st.stack((a, b), dim=-1),
                   lambda a, b: torch.stack((a, b), dim=-1), shapes=[(2, 3), (2, 3)],
                   dtype=float_dtype)
    helper_test_op(lambda a, b: st.stack([a, b], 2), lambda a, b: torch.stack([a, b], 2),
                   shapes=[(2, 3), (2, 3)], dtype=float_dtype)


def test_unsqueeze_and_flatten_refuse_out_of_range_dims():
    with pytest.raises(IndexError, match="unsqueeze: axis 3 is out of bounds"):
        st.zeros(2, 3).unsqueeze(3)
    with pytest.raises(ValueError, match="flatten: start_dim"):
        st.zeros(2, 3, 4).flatten(2, 1)
    with pytest.raises(ValueError, match=r"permute: dims \(0, 0\)"):
        st.zeros(2, 3).permute(0, 0)


# ------------------------------------------------------------------------- functions, dtypes
def test_functions_at_top_level_match_torch(helper_test_op, float_dtype):
    for name in ("exp", "log", "tanh", "sigmoid", "relu", "sin", "cos", "abs"):
        helper_test_op(getattr(st, name), getattr(torch, name), shapes=[(3, 4)],
                       dtype=float_dtype, low=0.1)
    helper_test_op(st.matmul, torch.matmul, shapes=[(2, 3, 4), (4, 5)], dtype=float_dtype)
    helper_test_op(lambda x: st.transpose(x, 0, 2), lambda x: torch.transpose(x, 0, 2),
                   shapes=[(2, 3, 4)], dtype=float_dtype)


@pytest.mark.parametrize("args", [(0.0, 1.0, 5), (-3.0, 7.5, 11), (2.0, -1.0, 4), (1.0, 1.0, 1),
                                  (0.0, 1.0, 0), (0, 10, 7)])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_linspace_as_torch(args, dtype):
    out = st.linspace(*args, dtype=None if dtype is None else getattr(st, dtype))
    expected = torch.linspace(*args, dtype=None if dtype is None else getattr(torch, dtype))
    assert out.dtype == (np.float32 if dtype is None else np.float64)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), **tolerance(out.dtype))


@pytest.mark.parametrize("args", [(5,), (2, 9), (1, 10, 3), (0.0, 1.0, 0.1), (-1, 1, 0.25),
                                  (5, 0, -1)])
def test_arange_as_torch(args):
    """Integers give int64, floats the default dtype (float32, as torch)."""
    out, expected = st.arange(*args), torch.arange(*args)
    assert out.dtype == {torch.int64: np.int64, torch.float32: np.float32}[expected.dtype]
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)
    with st.default_dtype(st.float64):
        out, expected = st.arange(*args), torch.arange(*args, dtype=torch.float64)
    if out.dtype == np.float64:
        np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


def test_from_numpy_shares_memory_both_ways():
    array = np.arange(6.0).reshape(2, 3)
    x = st.from_numpy(array)
    assert x.dtype == np.float64 and np.shares_memory(x.numpy(), array)
    array[0, 0] = 7.0
    x[1, 2] = -1.0
    assert x[0, 0].item() == 7.0 and array[1, 2] == -1.0
    assert st.from_numpy(np.arange(3)).dtype == np.int64
    with pytest.raises(TypeError, match="from_numpy: expected a NumPy ndarray, got list"):
        st.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="dtype complex128 are not supported"):
        st.from_numpy(np.zeros(2, complex))


def test_like_constructors():
    x = st.tensor(random((2, 3)).astype(np.float32))
    for out, fill in ((st.zeros_like(x), 0.0), (st.ones_like(x), 1.0)):
        assert out.shape == (2, 3) and out.dtype == np.float32 and np.all(out.numpy() == fill)
    assert st.zeros_like(x, dtype=st.float64).dtype == np.float64
    st.manual_seed(0)
    first = st.randn_like(x)
    st.manual_seed(0)
    assert first.shape == (2, 3) and first.dtype == np.float32
    np.testing.assert_array_equal(first.numpy(), st.randn_like(x).data)
    assert st.randn_like(st.tensor([1, 2])).dtype == st.get_default_dtype() == np.float32
    assert st.ones_like(x, requires_grad=True).requires_grad


# ------------------------------------------------------------------------- item assignment
def test_setitem_on_plain_tensors_as_numpy():
    x = st.tensor(np.arange(12.0).reshape(3, 4))
    x[:, 1] = 0
    x[0] = st.tensor([9.0, 8.0, 7.0, 6.0])
    x[x > 10] = -1.0
    expected = np.arange(12.0).reshape(3, 4)
    expected[:, 1] = 0
    expected[0] = [9.0, 8.0, 7.0, 6.0]
    expected[expected > 10] = -1.0
    np.testing.assert_array_equal(x.numpy(), expected)
    assert x._version == 3


def test_setitem_on_a_leaf_that_requires_grad_only_under_no_grad():
    w = st.tensor(random((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used "
                                           "in an in-place operation"):
        w[:, 1] = 0
    with st.no_grad():
        w[:, 1] = 0
    assert np.all(w.numpy()[:, 1] == 0) and w.is_leaf and w.requires_grad


def test_setitem_in_a_graph_is_differentiable_as_torch(helper_test_op, float_dtype):
    def fn(x, w):
        y = x * 2
        y[:, 1] = w[:, 0] * 3      # overwritten entries pass no gradient to x
        y[0] = 0.5
        buffer = (st if isinstance(x, st.Tensor) else torch).zeros_like(x)  # a plain leaf
        buffer[1:, :2] = w[1:, 2:] ** 2
        return y * buffer + y
    helper_test_op(fn, inputs=[random((3, 4), seed=5), random((3, 4), seed=6)],
                   dtype=float_dtype)


# ------------------------------------------------------------------------- in-place ops
def inplace_chain(x, w):
    y = x * 2
    y += w
    y -= 0.5
    y *= w
    y /= 3
    y.add_(w, alpha=2)
    y.sub_(0.25)
    y.mul_(1.5)
    y.div_(w.abs() + 1)
    y.clamp_(-1, 1)
    return y


@pytest.mark.parametrize("fn", [
    inplace_chain,
    lambda x, w: (x * 2).copy_(w),
    lambda x, w: (x * 2).fill_(3.0) * w,
    lambda x, w: (x * 2).zero_() + w,
    lambda x, w: (x * 2).fill_(w.sum()),
    lambda x, w: (x * 2).copy_(w[0]) * x,
], ids=["chain", "copy_", "fill_", "zero_", "fill_(tensor)", "copy_ broadcast"])
def test_inplace_ops_in_a_graph_match_torch(helper_test_op, float_dtype, fn):
    helper_test_op(fn, inputs=[random((3, 4), seed=7), random((3, 4), seed=8)],
                   dtype=float_dtype)


def test_inplace_ops_without_grad_change_the_tensor_itself():
    x, tx = pair(random((2, 3)))
    array = x.numpy()
    for step in (lambda t: t.__iadd__(1.0), lambda t: t.__isub__(t * 0.5),
                 lambda t: t.__imul__(3), lambda t: t.__itruediv__(2), lambda t: t.add_(t),
                 lambda t: t.mul_(-1), lambda t: t.clamp_(-2, 1), lambda t: t.fill_(0.5),
                 lambda t: t.copy_(t * 4), lambda t: t.zero_()):
        before = x._version
        assert step(x) is x and step(tx) is tx
        assert x.numpy() is array and x._version == before + 1
        np.testing.assert_allclose(x.numpy(), tx.numpy(), rtol=1e-12)


@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/=", "add_", "mul_", "zero_", "fill_",
                                "copy_", "clamp_"])
def test_inplace_on_a_leaf_that_requires_grad_outside_no_grad_is_refused_as_in_torch(op):
    run = {"+=": lambda t: t.__iadd__(1), "-=": lambda t: t.__isub__(1),
           "*=": lambda t: t.__imul__(2), "/=": lambda t: t.__itruediv__(2),
           "add_": lambda t: t.add_(1), "mul_": lambda t: t.mul_(2), "zero_": lambda t: t.zero_(),
           "fill_": lambda t: t.fill_(1), "copy_": lambda t: t.copy_(t.detach() * 2),
           "clamp_": lambda t: t.clamp_(0, 1)}[op]
    message = "a leaf Variable that requires grad is being used in an in-place operation"
    with pytest.raises(RuntimeError, match=message):
        run(torch.ones(3, requires_grad=True))
    w = st.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match=message):
        run(w)
    assert w._version == 0 and np.all(w.numpy() == 1)


def test_manual_sgd_step_as_in_the_torch_tutorial():
    """`param -= lr * param.grad` under no_grad: the same weights as torch after 3 steps."""
    x = random((8, 3), seed=9)
    y = random((8,), seed=10)
    w, tw = pair(random((3,), seed=11), requires_grad=True)
    for _ in range(3):
        for param, X, Y in ((w, st.tensor(x), st.tensor(y)), (tw, torch.tensor(x),
                                                               torch.tensor(y))):
            loss = ((X @ param - Y).pow(2)).sum()
            loss.backward()
            with (st.no_grad() if param is w else torch.no_grad()):
                param -= 1e-2 * param.grad
            param.grad = None
    assert w.is_leaf and w.requires_grad and w._version == 3
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-12)


@pytest.mark.parametrize("case", ["saved output", "saved input", "leaf under no_grad",
                                  "view", "detach"])
def test_backward_through_a_tensor_modified_in_place_raises_as_torch(case):
    def run(lib):
        x = lib.tensor(random((2, 3)) + 3, requires_grad=True)
        no_grad = lib.no_grad
        if case == "saved output":      # exp saves its output
            y = x.exp()
            y += 1
            return y.sum()
        if case == "saved input":       # x * h saves h
            h = x * 2
            out = x * h
            h.mul_(3)
            return out.sum()
        if case == "leaf under no_grad":  # the optimizer updates a weight the graph saved
            out = (x * x).sum()
            with no_grad():
                x -= 0.1
            return out
        if case == "view":              # the view shares the base's version counter
            h = x * 2
            out = (h.log()).sum()       # log saves h
            with no_grad():
                h.reshape(-1)[0] = 5.0
            return out
        h = x.sin()                     # sin saves x; detach shares x's counter
        with no_grad():
            x.detach().zero_()
        return h.sum()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        run(torch).backward()
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation: .* is at "
                                           r"version [1-9]; expected version 0 instead"):
        run(st).backward()


def test_version_checks_look_only_at_changes_after_the_op_ran():
    """The checks compare each input's last in-place change with the moment its op ran: a
    change before the op, or to a tensor outside the graph, is no reason to refuse."""
    for lib in (st, torch):
        x = lib.tensor(random((3,)), dtype=lib.float64, requires_grad=True)
        h = x * 2
        with lib.no_grad():
            h.mul_(3.0)                 # before sin used h: fine
        out = h.sin()
        other = lib.zeros(3)
        other.add_(1.0)                 # after, but not in the graph: fine
        out.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(6 * random((3,))), rtol=1e-12)


def test_version_check_of_an_input_changed_twice_and_of_a_saved_output():
    x = st.tensor(random((3,)), dtype=st.float64, requires_grad=True)
    h = x * 2
    out = h.log()                       # log reads its input
    with st.no_grad():
        h.add_(1.0)
        h.add_(1.0)
    with pytest.raises(RuntimeError, match=r"an input of Log.* is at version 2; expected an "
                                           r"earlier version"):
        out.sum().backward()
    for lib in (st, torch):             # exp's backward reads its output
        x = lib.tensor(random((3,)), dtype=lib.float64, requires_grad=True)
        y = x.exp()
        out = y.sum()
        with lib.no_grad():
            y.mul_(2.0)
        with pytest.raises(RuntimeError, match=r"modified by an inplace operation"):
            out.backward()


def test_inplace_on_an_input_that_was_not_saved_is_refused_too():
    """Documented difference: torch accepts this (x + 1 saves nothing); steepest's graph links
    tensors, so it refuses rather than risk a wrong gradient."""
    x = st.tensor(random((3,)), requires_grad=True)
    h = x * 2
    out = h + 1
    h.mul_(5)
    with pytest.raises(RuntimeError, match="an input of AddScalar"):
        out.sum().backward()


def test_inplace_on_a_view_in_a_graph_is_refused_clearly():
    x = st.tensor(random((2, 3)), requires_grad=True)
    h = x * 2
    with pytest.raises(RuntimeError, match=r"view of another tensor .* \.clone\(\) it first"):
        h[0].zero_()
    with st.no_grad():
        h[0].zero_()  # outside a recorded graph a view writes through, as in torch
    assert np.all(h.numpy()[0] == 0) and h._version == 1


def test_setitem_that_reads_the_tensor_itself_is_refused_at_backward():
    """Documented difference: torch accepts y[:, 0] = y[:, 0] * 2 inside a graph; steepest
    refuses it (the value's history holds y itself) instead of looping or answering wrong."""
    x = st.tensor(random((2, 3)), requires_grad=True)
    y = x * 2
    y[:, 0] = y[:, 0] * 2
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    z = x * 2
    z = z.clone()
    column = z[:, 0] * 2
    z = z.clone()
    z[:, 0] = column  # the out-of-place way: assign into a fresh copy
    z.sum().backward()
    np.testing.assert_allclose(x.grad, [[4.0, 2.0, 2.0]] * 2)


# ------------------------------------------------------------------------- a tutorial program
def polynomial_fit(lib, steps=300):
    """"Learning PyTorch with Examples", tensors and autograd: fit sin(x) by a cubic, written
    once against a module namespace (torch or steepest)."""
    dtype = lib.float64
    x = lib.linspace(-np.pi, np.pi, 2000, dtype=dtype)
    y = lib.sin(x)
    a, b, c, d = (lib.tensor(v, dtype=dtype, requires_grad=True)
                  for v in np.random.default_rng(0).standard_normal(4))
    learning_rate = 1e-6
    for _ in range(steps):
        y_pred = a + b * x + c * x ** 2 + d * x ** 3
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with lib.no_grad():
            for param in (a, b, c, d):
                param -= learning_rate * param.grad
                param.grad = None
    return np.array([param.item() for param in (a, b, c, d)]), f"{loss:>7f}"


def test_the_tutorial_polynomial_gives_torchs_weights():
    (ours, our_loss), (theirs, their_loss) = polynomial_fit(st), polynomial_fit(torch)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    assert abs(float(our_loss) - float(their_loss)) <= 1e-9 * float(their_loss) + 2e-6


def test_inplace_errors_name_the_op_shape_and_dtype():
    x = st.zeros(3)
    with pytest.raises(RuntimeError, match=r"add_: the result has shape \(2, 3\), which does "
                                           r"not match this tensor's shape \(3,\)"):
        x += st.ones(2, 3)
    labels = st.tensor([0, 1, 2])
    with pytest.raises(TypeError, match="mul_: result type float64 can't be cast to this "
                                        "tensor's dtype int64"):
        labels *= 0.5
    assert x._version == 0 and labels._version == 0
    labels += 1  # int stays int
    np.testing.assert_array_equal(labels.numpy(), [1, 2, 3])
    x32 = st.zeros(2, dtype=st.float32)
    x32 += st.tensor([0.1, 0.2])  # float64 into float32: cast, as torch
    assert x32.dtype == np.float32
    np.testing.assert_allclose(x32.numpy(), [0.1, 0.2], rtol=1e-7)


def test_backward_after_an_optimizer_step_through_a_graph_of_the_old_weights_raises():
    """torch raises here; using the updated weights in the old graph would be a wrong gradient."""
    w = st.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    st.optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    tw = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    tloss = (tw * tw).sum()
    tloss.backward(retain_graph=True)
    torch.optim.SGD([tw], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tloss.backward()


# ------------------------------------------------------------------------- issue 22, items 1-5, 23
@pytest.mark.parametrize("index", [np.int64(1), np.int32(1), st.tensor(1)],
                         ids=["np.int64", "np.int32", "0-d tensor"])
def test_integer_scalar_indices_give_views_that_share_the_version_counter(index):
    """An in-place edit through ``y[np.int64(1)]`` must be seen by backward, as torch raises."""
    w = st.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=st.float64, requires_grad=True)
    y = w * 1.0
    z = (y ** 2).sum()
    view = y[index]
    assert np.shares_memory(view.numpy(), y.numpy())
    with st.no_grad():
        view.mul_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()
    tw = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    ty = tw * 1.0
    tz = (ty ** 2).sum()
    with torch.no_grad():
        ty[1].mul_(10)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        tz.backward()


def test_numpy_functions_refuse_a_tensor_that_requires_grad_as_torch():
    w = st.tensor([1.0, 2.0], dtype=st.float64, requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\).*st\.exp.*detach"):
        (w * np.exp(w)).sum()
    with pytest.raises(RuntimeError, match="Can't call numpy"):
        np.exp(torch.tensor([1.0], requires_grad=True))
    (w * st.exp(w)).sum().backward()     # the right way: [5.44, 22.17]
    np.testing.assert_allclose(np.asarray(w.grad), [2 * np.e, 3 * np.e ** 2], rtol=1e-12)
    np.testing.assert_array_equal(np.exp(w.detach()), np.exp([1.0, 2.0]))
    with st.no_grad():                   # outside grad mode the values are all there is
        np.testing.assert_array_equal(np.asarray(w), [1.0, 2.0])
    assert np.asarray(st.tensor([1.0, 2.0])).tolist() == [1.0, 2.0]


@pytest.mark.filterwarnings("ignore:Converting a tensor with requires_grad=True")
def test_tensor_of_a_list_of_tensors_that_require_grad_copies_their_values_as_torch():
    w = st.tensor([1.0, 2.0], dtype=st.float64, requires_grad=True)
    tw = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    ours, theirs = st.tensor([w[0] * 3, w[1]]), torch.tensor([tw[0] * 3, tw[1]])
    assert ours.tolist() == theirs.tolist() == [3.0, 2.0]
    assert not ours.requires_grad and not theirs.requires_grad


@pytest.mark.parametrize("edit", [
    lambda y, m: y[0].fill_(5), lambda y, m: y[m.tensor(0)].mul_(3),
    lambda y, m: y[np.int64(0)].add_(1), lambda y, m: y[-1].fill_(7),
], ids=["fill_", "tensor index mul_", "np.int64 add_", "negative fill_"])
def test_writes_through_element_views_as_torch(edit):
    data = [[1.0, 2.0], [3.0, 4.0]]
    for shape in ((2, 2), (4,)):
        y = st.tensor(data, dtype=st.float64).reshape(shape)
        ty = torch.tensor(data, dtype=torch.float64).reshape(shape)
        edit(y, st)
        edit(ty, torch)
        assert y.tolist() == ty.tolist()
    y, ty = st.tensor(data, dtype=st.float64), torch.tensor(data, dtype=torch.float64)
    y[1, 0].zero_()
    ty[1, 0].zero_()
    assert y.tolist() == ty.tolist()


def test_a_zero_dimensional_tensor_is_not_iterable_as_torch():
    for module in (st, torch):
        with pytest.raises(TypeError, match="iteration over a 0-d tensor"):
            list(module.tensor(5.0))
        with pytest.raises(TypeError):
            sum(module.tensor(2.0))
    rows = list(st.tensor([[1.0, 2.0], [3.0, 4.0]]))
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    assert sum(st.tensor([1.0, 2.0, 3.0])).item() == 6.0


@pytest.mark.parametrize("kwargs", [{"min": 1.5}, {"max": 2.5}, {"min": 1.5, "max": 2.5},
                                    {"min": 2}, {"min": st.tensor(1.5)}])
def test_clamp_of_an_integer_tensor_promotes_as_torch(kwargs):
    torch_kwargs = {k: torch.tensor(v.item()) if isinstance(v, st.Tensor) else v
                    for k, v in kwargs.items()}
    ours = st.tensor([1, 2, 3]).clamp(**kwargs)
    theirs = torch.tensor([1, 2, 3]).clamp(**torch_kwargs)
    assert ours.tolist() == theirs.tolist()
    assert ours.dtype.kind == ("f" if theirs.dtype.is_floating_point else "i")


def test_clamp_in_place_refuses_a_float_bound_on_an_integer_tensor_as_torch():
    x = st.tensor([1, 2, 3])
    with pytest.raises(RuntimeError):
        torch.tensor([1, 2, 3]).clamp_(min=1.5)
    with pytest.raises(TypeError, match="can't be cast"):
        x.clamp_(min=1.5)
    assert x.tolist() == [1, 2, 3]
    assert st.tensor([1, 5]).clamp_(max=3).tolist() == [1, 3]


@pytest.mark.filterwarnings("ignore:std\\(\\)")
@pytest.mark.parametrize("op", ["sum", "mean", "max", "min", "argmax", "std", "logsumexp",
                                "cumsum", "prod"])
@pytest.mark.parametrize("dim", [0, -1])
def test_dim_0_and_minus_1_on_a_zero_dimensional_tensor_as_torch(op, dim):
    theirs = getattr(torch.tensor(2.0, dtype=torch.float64), op)(dim)
    ours = getattr(st.tensor(2.0, dtype=st.float64), op)(dim)
    if isinstance(theirs, tuple):
        ours, theirs = ours[0], theirs[0]
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_dim_out_of_range_on_a_zero_dimensional_tensor_is_refused_as_torch():
    with pytest.raises(IndexError):
        torch.tensor(2.0).max(3)
    with pytest.raises(IndexError, match="max: dim 3 is out of range for a 0-d tensor"):
        st.tensor(2.0).max(3)
    with pytest.raises(IndexError):
        st.tensor(2.0).sum(1)


def test_max_and_argmax_of_an_empty_tensor_along_a_non_empty_dim_as_torch():
    ours, theirs = st.zeros(0, 3).max(1), torch.zeros(0, 3).max(1)
    assert ours.values.shape == tuple(theirs.values.shape) == (0,)
    assert ours.indices.shape == (0,) and ours.indices.dtype == np.int64
    assert st.zeros(0, 3).argmax(1).shape == tuple(torch.zeros(0, 3).argmax(1).shape)
    with pytest.raises(IndexError):
        torch.zeros(0, 3).max(0)
    with pytest.raises(ValueError, match="cannot reduce an empty tensor"):
        st.zeros(0, 3).max(0)
    with pytest.raises(ValueError, match="cannot reduce an empty tensor"):
        st.zeros(0, 3).max()


def test_deepcopy_of_leaves_and_modules():
    import copy
    w = st.tensor([1.0, 2.0], dtype=st.float64, requires_grad=True)
    w2 = copy.deepcopy(w)
    assert w2.requires_grad and w2.tolist() == [1.0, 2.0]
    assert not np.shares_memory(w2.numpy(), w.numpy())
    with pytest.raises(RuntimeError, match="only tensors created by the user"):
        copy.deepcopy(w * 2)
    model = st.nn.Linear(2, 1, dtype=st.float64)
    clone = copy.deepcopy(model)
    assert isinstance(clone.weight, st.nn.Parameter)
    with st.no_grad():
        clone.weight.fill_(0.0)
    assert model.weight.numpy().any()
