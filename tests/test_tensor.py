"""The Tensor itself: construction and dtype rules, and the semantics of backward()."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch

import steepest as st


# ------------------------------------------------------------------------- construction, dtypes
def test_python_floats_become_the_default_dtype_float32_as_in_torch():
    assert st.get_default_dtype() == np.float32
    for dtype in (np.float32, np.float64):
        with st.default_dtype(dtype):
            assert st.get_default_dtype() == dtype
            assert st.tensor(1.5).dtype == dtype
            assert st.tensor([1.0, 2.0]).dtype == dtype
            assert st.tensor([[1, 2.5]]).dtype == dtype
            assert st.Tensor([0.1]).dtype == dtype
            assert st.zeros(2).dtype == st.ones(2).dtype == st.randn(2).dtype == dtype
            assert st.nn.Linear(2, 3).weight.dtype == dtype
    assert st.get_default_dtype() == np.float32
    assert st.tensor(1.5).dtype == torch.tensor(1.5).dtype.__str__().replace("torch.", "")


def test_default_dtype_context_puts_the_old_default_back_after_an_error():
    with pytest.raises(KeyError):
        with st.default_dtype(st.float64):
            raise KeyError("inside")
    assert st.get_default_dtype() == np.float32
    with pytest.raises(ValueError, match="set_default_dtype: dtype must be float32 or float64"):
        st.set_default_dtype(np.int64)


def test_numpy_float_arrays_keep_their_dtype():
    assert st.tensor(np.ones(3, np.float32)).dtype == np.float32
    assert st.tensor(np.ones(3, np.float64)).dtype == np.float64
    assert st.tensor(np.float32(2.0)).dtype == np.float32
    assert st.tensor(np.ones(3, np.float16)).dtype == np.float32  # computed in float32
    assert st.tensor([1.0, 2.0], dtype=np.float32).dtype == np.float32


def test_integer_tensors_are_allowed_but_cannot_require_grad():
    labels = st.tensor([0, 2, 1])
    assert labels.dtype.kind == "i"
    np.testing.assert_array_equal((labels + 1).numpy(), [1, 3, 2])
    with pytest.raises(TypeError, match="requires_grad.*int"):
        st.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="requires_grad"):
        labels.requires_grad_()
    with pytest.raises(TypeError):
        st.Tensor(np.arange(3), requires_grad=True)


def test_unsupported_data_is_rejected():
    with pytest.raises(TypeError, match="tensor"):
        st.tensor(["a", "b"])


@pytest.mark.parametrize("data", [2**70, [1, 2**64], [[0], [-2**63 - 1]], 2**63])
def test_integers_beyond_int64_name_the_argument_and_value(data):
    """Issue 12 §3: tensor(2**70) raised NumPy's raw error; torch refuses it too."""
    big = data if isinstance(data, int) else np.ravel(np.array(data, dtype=object))[-1]
    with pytest.raises(TypeError, match=rf"tensor: data holds the integer {big}, which does "
                                        rf"not fit in int64.*dtype=st.float64"):
        st.tensor(data)
    with pytest.raises(TypeError, match=rf"integer {big}"):
        st.tensor(data, dtype=np.int64)
    assert st.tensor(data, dtype=st.float64).dtype == np.float64
    assert st.tensor(2**63 - 1).item() == 2**63 - 1 and st.tensor(-2**63).item() == -2**63


def test_tensor_copies_its_data():
    data = np.array([1.0, 2.0])
    t = st.tensor(data)
    data[0] = 100.0
    assert t.numpy()[0] == 1.0


def test_default_dtype_is_float32_and_can_be_float64():
    assert st.get_default_dtype() == np.float32  # torch's default
    try:
        st.set_default_dtype(np.float64)
        assert st.tensor([1.0, 2.0]).dtype == np.float64
        assert st.zeros(2).dtype == np.float64 and st.randn(2).dtype == np.float64
    finally:
        st.set_default_dtype(np.float32)
    assert st.tensor([1.0]).dtype == np.float32
    with st.default_dtype(st.float64):
        assert st.ones(1).dtype == np.float64
    assert st.ones(1).dtype == np.float32
    with pytest.raises(ValueError, match="float32 or float64"):
        st.set_default_dtype(np.int32)


def test_constructors():
    assert st.zeros(2, 3).shape == (2, 3) and st.zeros((2, 3)).numpy().sum() == 0
    assert st.ones(4).numpy().sum() == 4
    assert st.full((2, 2), 7.0).numpy().tolist() == [[7.0, 7.0], [7.0, 7.0]]
    assert st.zeros_like(st.ones(3)).shape == (3,)
    assert st.ones_like(st.zeros((2, 1))).numpy().tolist() == [[1.0], [1.0]]
    assert st.arange(5).numpy().tolist() == [0, 1, 2, 3, 4]
    st.manual_seed(7)
    a = st.randn(3, 2)
    st.manual_seed(7)
    b = st.randn(3, 2)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert ((st.rand(100).numpy() >= 0) & (st.rand(100).numpy() < 1)).all()
    assert st.zeros(2, requires_grad=True).requires_grad


def test_scalar_conversion():
    t = st.tensor([[2.5]])
    assert t.item() == 2.5 and float(t) == 2.5 and int(st.tensor(3)) == 3
    with pytest.raises(ValueError, match=r"item.*\(2,\)"):
        st.tensor([1.0, 2.0]).item()
    with pytest.raises(ValueError, match=r"ambiguous"):
        bool(st.tensor([1.0, 2.0]))


def test_comparisons_are_not_differentiable():
    x = st.tensor([1.0, -1.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == bool and not mask.requires_grad
    assert (x >= 1.0).numpy().tolist() == [True, False]
    assert (x < 0).numpy().tolist() == [False, True] and (x <= -1).numpy().tolist() == [False, True]


def test_float32_stays_float32_end_to_end():
    """One graph through many ops with Python scalars and losses: float32 at every node and
    in every gradient."""
    rng = np.random.default_rng(0)
    x = st.tensor(rng.uniform(0.5, 1.5, (4, 3)).astype(np.float32), requires_grad=True)
    w = st.tensor(rng.normal(size=(2, 3)).astype(np.float32), requires_grad=True)
    b = st.tensor(np.zeros(2, np.float32), requires_grad=True)
    steps = [x * 0.5, 2 ** x, x / 3, x - 1, 1 - x, 3 / x, x ** 1.5, x ** 2, -x, x + 1.0,
             x.exp(), x.log(), x.sqrt(), x.abs(), x.clip(0.7, 1.2), st.maximum(x, 1.0),
             st.minimum(1.0, x), st.where(x > 1, x, 0.0), x.sum(axis=0), x.mean(),
             x.max(1).values, x.max(axis=1), x.T, x.reshape(-1), x[[0, 0, 1]],
             st.concatenate([x, x]), st.stack([x, x]),
             st.linear(x, w, b), x @ w.T, st.sigmoid(x), st.tanh(x), st.relu(x),
             st.leaky_relu(x), st.softmax(x), st.log_softmax(x), st.binary_step(x)]
    for i, y in enumerate(steps):
        assert y.dtype == np.float32, f"step {i}: {y.dtype}"
    losses = [st.losses.sse(x, np.ones((4, 3))), st.losses.half_sse(x, 1.0 + 0 * x),
              st.losses.mse(x, [[1.0] * 3] * 4),
              st.losses.cross_entropy(x, np.array([0, 1, 2, 0])),
              st.losses.cross_entropy(x, np.full((4, 3), 1 / 3)),
              st.losses.binary_cross_entropy(x / 2, np.full((4, 3), 0.3)),
              st.losses.binary_cross_entropy_with_logits(x, np.full((4, 3), 0.3))]
    for i, loss in enumerate(losses):
        assert loss.dtype == np.float32, f"loss {i}: {loss.dtype}"
    total = sum(y.sum() for y in steps) + sum(losses)
    assert total.dtype == np.float32
    total.backward()
    for p in (x, w, b):
        assert p.grad.dtype == np.float32 and p.grad.shape == p.shape


@pytest.mark.parametrize("make", [
    lambda a, b: a @ b.T,                                   # 2-D matmul (its fast path)
    lambda a, b: a.reshape(1, 2, 3) @ b.T,                  # batched matmul
    lambda a, b: st.linear(a, b, b[0, :2]),
    lambda a, b: st.concatenate([a, b]),
    lambda a, b: st.stack([a, b]),
    lambda a, b: a * b + a / b - b,
], ids=["matmul", "batched matmul", "linear", "concatenate", "stack", "arithmetic"])
def test_mixed_dtype_operands_each_get_a_gradient_in_their_own_dtype(make):
    """float32 and float64 operands: the output is float64 (NumPy's promotion), but each
    operand's gradient is in its own dtype, with the values of the all-float64 graph."""
    rng = np.random.default_rng(0)
    a64, b64 = rng.uniform(0.5, 1.5, (2, 3)), rng.uniform(0.5, 1.5, (2, 3))
    a = st.tensor(a64.astype(np.float32), requires_grad=True)
    b = st.tensor(b64, requires_grad=True)
    reference = [st.tensor(a.numpy().astype(np.float64), requires_grad=True),
                 st.tensor(b64, requires_grad=True)]
    make(a, b).sum().backward()
    make(*reference).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad, reference[0].grad, rtol=1e-6)
    np.testing.assert_allclose(b.grad, reference[1].grad, rtol=1e-12)


def test_numpy_array_of_a_tensor_copies_and_asarray_shares():
    t = st.tensor([1.0, 2.0])
    copied = np.array(t)
    copied[0] = 5.0
    assert t.numpy()[0] == 1.0
    assert np.asarray(t) is t.numpy()
    assert np.asarray(t, dtype=np.float32).dtype == np.float32


def test_astype_casts_and_passes_the_gradient_back_in_the_input_dtype():
    x = st.tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    assert not x.astype(np.int64).requires_grad
    assert st.tensor([1.0]).float().dtype == np.float32


# ------------------------------------------------------------------------- backward semantics
def test_long_chain_needs_no_recursion():
    """100,000 ops in a chain: backward is iterative, the recursion limit is left alone."""
    limit = sys.getrecursionlimit()
    x = st.tensor(1.0, requires_grad=True, dtype=st.float64)
    y = x
    for _ in range(50_000):
        y = y * 1.00001 + 0.5          # two ops per iteration
    assert 100_000 > 10 * limit
    y.backward()
    assert sys.getrecursionlimit() == limit
    np.testing.assert_allclose(x.grad, 1.00001 ** 50_000, rtol=1e-9)
    del y  # freeing a long graph must not crash either


def test_gradients_accumulate_across_backward_calls_until_zeroed():
    x = st.tensor([1.0, -2.0, 3.0], requires_grad=True)
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0, 3.0])
    (x * x).sum().backward()                      # a second, separate graph
    np.testing.assert_array_equal(x.grad, [3.0 + 2.0, 3.0 - 4.0, 3.0 + 6.0])
    x.zero_grad()
    assert x.grad is None
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, -4.0, 6.0])


def test_second_backward_through_a_freed_graph_raises():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    z = x * 2.0
    z.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (z * 3.0).sum().backward()           # new root, but z's part of the graph is freed


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    np.testing.assert_array_equal(x.grad, [2.0, 4.0])
    y.backward()
    np.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_no_grad_builds_no_graph():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    with st.no_grad():
        assert not st.is_grad_enabled()
        y = x * 2.0 + x.exp()
        with st.enable_grad():
            z = x * 2.0
    assert st.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.sum().backward()


def test_no_grad_restores_mode_after_an_exception():
    with pytest.raises(ZeroDivisionError):
        with st.no_grad():
            1 / 0
    assert st.is_grad_enabled()


def test_ops_on_tensors_without_grad_record_nothing():
    a, b = st.tensor([1.0]), st.tensor([2.0])
    c = a * b + 1.0
    assert not c.requires_grad and c.is_leaf


def test_backward_with_explicit_gradient_on_non_scalar_output():
    x = st.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * x
    y.backward(np.array([1.0, 10.0, 100.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 40.0, 600.0])
    x.zero_grad()
    (x * x).backward(st.tensor([1.0, 0.0, -1.0]))
    np.testing.assert_array_equal(x.grad, [2.0, 0.0, -6.0])


def test_non_scalar_backward_without_gradient_names_the_shape():
    x = st.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match=r"\(2, 3\)"):
        (x * 2.0).backward()


def test_backward_gradient_of_wrong_shape_is_rejected():
    x = st.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_a_tensor_that_does_not_require_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        st.tensor([1.0]).sum().backward()


def test_node_used_twice_accumulates():
    x = st.tensor([1.5, -2.0], requires_grad=True)
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, -4.0])
    y = st.tensor([3.0], requires_grad=True)
    (y + y + y).sum().backward()
    np.testing.assert_array_equal(y.grad, [3.0])


def test_diamond_graph_matches_hand_derivative_and_torch():
    """d = (2x + 1)·(6x): ∂d/∂x = 24x + 6."""
    values = np.array([0.5, -1.0, 2.0])
    x = st.tensor(values, requires_grad=True)
    a = x * 2.0
    d = (a + 1.0) * (a * 3.0)
    d.backward(np.ones(3))
    np.testing.assert_allclose(x.grad, 24 * values + 6, rtol=1e-15)
    with pytest.warns(UserWarning, match="not a leaf"):
        assert a.grad is None                  # only leaves receive .grad (torch warns too)

    tx = torch.tensor(values, requires_grad=True)
    ta = tx * 2.0
    ((ta + 1.0) * (ta * 3.0)).backward(torch.ones(3))
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-15)


def test_shared_subexpression_with_several_consumers():
    """h feeds three branches that meet again: compare with torch."""
    values = np.array([[0.3, -0.7], [1.1, 0.4]])
    def f(x):  # the same code runs on steepest and torch tensors
        h = (x @ x).tanh()
        return (h * x).sum() + (h ** 2).mean() - h.exp().sum()
    x = st.tensor(values, requires_grad=True)
    f(x).backward()
    tx = torch.tensor(values, requires_grad=True)
    f(tx).backward()
    np.testing.assert_allclose(x.grad, tx.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("make", [
    lambda x, y: x + y,
    lambda x, y: x + y.reshape(2, 3),
    lambda x, y: x - y,
    lambda x, y: st.concatenate([x, y]),
    lambda x, y: x + (y + 1.0),
])
def test_leaf_grads_are_distinct_writable_arrays(make):
    """Leaves fed from the same upstream array own separate .grad buffers."""
    x = st.tensor(np.ones((2, 3)), requires_grad=True)
    y = st.tensor(np.ones((2, 3)), requires_grad=True)
    make(x, y).sum().backward()
    assert x.grad is not y.grad
    assert not np.shares_memory(x.grad, y.grad)
    before = y.grad.numpy().copy()
    x.grad[0, 0] = 123.0                       # in-place edit, as optimizers do
    x.grad *= 2.0
    np.testing.assert_array_equal(y.grad, before)


def test_leaf_grad_does_not_alias_the_gradient_argument():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    seed = np.array([5.0, 6.0])
    (x + 0.0).backward(seed)
    seed[0] = -1.0
    np.testing.assert_array_equal(x.grad, [5.0, 6.0])
    root = st.tensor([1.0, 2.0], requires_grad=True)
    root.backward(seed)                        # a leaf as the root
    seed[1] = -1.0
    np.testing.assert_array_equal(root.grad, [-1.0, 6.0])


def test_gradient_of_a_broadcast_sum_is_writable():
    x = st.tensor(np.ones((2, 3)), requires_grad=True)
    x.sum().backward()
    assert x.grad.numpy().flags.writeable
    x.grad += 1.0
    np.testing.assert_array_equal(x.grad, np.full((2, 3), 2.0))


def test_zero_dimensional_results_are_ndarrays():
    x = st.tensor(3.0, requires_grad=True)
    y = x * x + 1.0
    assert isinstance(y.numpy(), np.ndarray) and y.shape == ()
    y.backward()
    assert isinstance(x.grad.numpy(), np.ndarray) and x.grad.shape == () and x.grad == 6.0


def test_detach_and_freezing():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2.0
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and np.shares_memory(d.numpy(), y.numpy())
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)
    x.requires_grad_(False)
    assert not (x * 2.0).requires_grad


def test_constant_branch_gets_no_grad():
    x = st.tensor([1.0, 2.0], requires_grad=True)
    c = st.tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad, [3.0, 4.0])


def test_repr_mentions_grad_state():
    assert "requires_grad=True" in repr(st.tensor([1.0], requires_grad=True))
    assert "grad_fn" in repr(st.tensor([1.0], requires_grad=True) * 2.0)
    assert "float64" in repr(st.tensor(np.ones(1, np.float64)))  # not the default: shown
    assert "dtype" not in repr(st.tensor(np.ones(1, np.float32)))  # the default, as torch


def test_backward_through_an_integer_tensor_says_so():
    labels = st.tensor([1, 2, 3])
    with pytest.raises(RuntimeError, match="integer dtype int64.*not differentiable"):
        labels.sum().backward()
    w = st.tensor([1.5, 2.5], requires_grad=True)
    rounded = (w * 2).astype(np.int64)  # the cast to int cuts the graph
    with pytest.raises(RuntimeError, match="integer dtype"):
        rounded.sum().backward()
