"""Autograd's public surface against torch: create_graph, autograd.grad/backward(inputs=),
.grad/.data as tensors, grad_fn names, hooks and retain_grad."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steepest as st

RNG = np.random.default_rng(7)
F64 = {"rtol": 1e-10, "atol": 1e-12}


def pair(*shape, requires_grad=True):
    """The same float64 values as a steepest leaf and a torch leaf."""
    values = RNG.standard_normal(shape)
    return (st.tensor(values, requires_grad=requires_grad, dtype=st.float64),
            torch.tensor(values, requires_grad=requires_grad, dtype=torch.float64))


# ----------------------------------------------------------------------- create_graph
def test_create_graph_second_derivative_of_mul_add_sum_matches_torch():
    (x, tx), (w, tw) = pair(3, 4), pair(3, 4)

    def f(m, a, b):
        return ((a * a * b + a * 3.0) * b).sum() + (a * b).sum(1).sum()

    g_x, g_w = st.autograd.grad(f(st, x, w), (x, w), create_graph=True)
    t_x, t_w = torch.autograd.grad(f(torch, tx, tw), (tx, tw), create_graph=True)
    np.testing.assert_allclose(g_x.numpy(), t_x.detach().numpy(), **F64)
    np.testing.assert_allclose(g_w.numpy(), t_w.detach().numpy(), **F64)
    assert g_x.requires_grad and g_x.grad_fn is not None
    # the gradient of a weighted sum of first derivatives: a Hessian-vector product
    v = RNG.standard_normal((3, 4))
    hv = st.autograd.grad((g_x * st.tensor(v)).sum(), (x, w))
    thv = torch.autograd.grad((t_x * torch.tensor(v)).sum(), (tx, tw))
    for mine, theirs in zip(hv, thv):
        np.testing.assert_allclose(mine.numpy(), theirs.numpy(), **F64)


def test_backward_create_graph_gives_leaves_a_differentiable_grad():
    (x, tx) = pair(5)
    (x * x * x).sum().backward(create_graph=True)
    (tx * tx * tx).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.detach().numpy(), **F64)
    (second,) = st.autograd.grad(x.grad.sum(), x, retain_graph=True)
    (t_second,) = torch.autograd.grad(tx.grad.sum(), tx, retain_graph=True)
    np.testing.assert_allclose(second.numpy(), t_second.numpy(), **F64)  # 6x
    # a second create_graph backward accumulates with a differentiable sum
    (x * x).sum().backward(create_graph=True)
    (tx * tx).sum().backward(create_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.detach().numpy(), **F64)
    (third,) = st.autograd.grad(x.grad.sum(), x)
    (t_third,) = torch.autograd.grad(tx.grad.sum(), tx)
    np.testing.assert_allclose(third.numpy(), t_third.numpy(), **F64)


def test_create_graph_keeps_the_graph_and_first_order_path_returns_arrays():
    x, _ = pair(4)
    y = (x * x).sum()
    st.autograd.grad(y, x, create_graph=True)
    (again,) = st.autograd.grad(y, x)  # retain_graph defaults to create_graph
    np.testing.assert_allclose(again.numpy(), 2 * x.numpy(), **F64)
    assert not again.requires_grad
    with pytest.raises(RuntimeError, match="second time"):
        st.autograd.grad(y, x)


def test_backward_of_an_op_without_recorded_backward_names_it():
    x, _ = pair(3)

    def step(t):
        return st.ops._record(t._data * 2, (t,), lambda g: (np.asarray(g) * 2,), "Doubled")
    with pytest.raises(NotImplementedError, match="Doubled"):
        st.autograd.grad(step(x).sum(), x, create_graph=True)


# ----------------------------------------------------------------------- grad_fn
def _graph_ops(m, x, w, b, y, labels):
    """One expression per op whose node torch names; ``m`` is st or torch."""
    F = m.nn.functional
    return {
        "add": x + y, "add_scalar": x + 2.0, "sub": x - y, "sub_scalar": x - 2.0,
        "rsub": 2.0 - x, "mul": x * y, "mul_scalar": x * 2.0, "div": x / y,
        "div_scalar": x / 2.0, "neg": -x, "square": x ** 2, "pow_scalar": x ** 3,
        "mm": x @ w, "mv": x @ w[:, 0], "linear": F.linear(x, w.T, b),
        "linear_no_bias": F.linear(x, w.T), "sum": x.sum(), "sum_dim": x.sum(1),
        "mean": x.mean(), "mean_dim": x.mean(1), "exp": x.exp(), "log": (x * x).log(),
        "sqrt": (x * x).sqrt(), "sin": x.sin(), "cos": x.cos(), "abs": x.abs(),
        "clamp": x.clamp(-1.0, 1.0), "maximum": m.maximum(x, y), "where": m.where(x > 0, x, y),
        "view": x.reshape(12), "unsqueeze": x.unsqueeze(0),
        "permute": x.unsqueeze(0).permute(2, 0, 1),
        "t": x.t(), "clone": x.clone(), "select": x[0], "slice": x[0:2], "index": x[[0, 1]],
        "cat": m.cat([x, y]), "stack": m.stack([x, y]), "sigmoid": m.sigmoid(x),
        "tanh": m.tanh(x), "relu": m.relu(x), "leaky_relu": F.leaky_relu(x),
        "softmax": F.softmax(x, dim=1), "log_softmax": F.log_softmax(x, dim=1),
        "nll_loss": F.nll_loss(x, labels), "cross_entropy": F.cross_entropy(x, labels),
        "mse_loss": F.mse_loss(x, y),
    }


def test_grad_fn_names_and_next_functions_match_torch():
    (x, tx), (y, ty) = pair(3, 4), pair(3, 4)
    (w, tw), (b, tb) = pair(4, 5), pair(5)
    ours = _graph_ops(st, x, w, b, y, st.tensor([0, 1, 2]))
    theirs = _graph_ops(torch, tx, tw, tb, ty, torch.tensor([0, 1, 2]))
    for key, out in ours.items():
        t_fn = theirs[key].grad_fn
        fn = out.grad_fn
        assert type(fn).__name__ == type(t_fn).__name__, key
        assert fn.name() == t_fn.name(), key
        assert f"grad_fn=<{t_fn.name()}>" in repr(out), key
    # next_functions: one (node, 0) per input; AccumulateGrad for leaves, None for constants
    def shape_of(fn):
        return [None if f is None else type(f).__name__ for f, _ in fn.next_functions]
    for key in ("add", "mul_scalar", "mm", "linear", "sum", "mse_loss", "clone"):
        assert shape_of(ours[key].grad_fn) == shape_of(theirs[key].grad_fn), key


def test_next_functions_walk_the_graph_to_accumulate_grad():
    (x, tx), (w, tw) = pair(2, 3), pair(3, 4)
    loss, t_loss = (x @ w).tanh().sum(), (tx @ tw).tanh().sum()

    def walk(fn):
        names = [fn.name()]
        while fn.next_functions:
            fn = fn.next_functions[0][0]
            names.append(fn.name())
        return names, fn
    (names, last), (t_names, t_last) = walk(loss.grad_fn), walk(t_loss.grad_fn)
    assert names == t_names == ["SumBackward0", "TanhBackward0", "MmBackward0",
                                "torch::autograd::AccumulateGrad"]
    assert last.variable is x and t_last.variable is tx
    assert loss.grad_fn == loss.grad_fn and loss.grad_fn != last
    assert x.grad_fn is None and tx.grad_fn is None


def test_is_leaf_and_requires_grad_like_torch():
    x, tx = pair(3)
    y, ty = x * 2.0, tx * 2.0
    c, tc = st.tensor([1.0]), torch.tensor([1.0])
    assert (x.is_leaf, y.is_leaf, c.is_leaf) == (tx.is_leaf, ty.is_leaf, tc.is_leaf)
    assert c.requires_grad_() is c and c.requires_grad and c.is_leaf
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        y.requires_grad_(False)


def test_a_computed_tensor_stays_a_non_leaf_after_backward_frees_its_graph():
    """Issue 22 item 14: backward() used to make a computed tensor look like a leaf."""
    x, tx = pair(3)
    y, ty = x * 2.0, tx * 2.0
    y.sum().backward()
    ty.sum().backward()
    assert y.is_leaf is ty.is_leaf is False
    assert y.grad_fn.name() == ty.grad_fn.name() == "MulBackward0"
    with pytest.raises(RuntimeError, match="only leaf tensors"):
        y.requires_grad_(False)
    with pytest.raises(ValueError, match="leaf"):
        st.optim.SGD([y], lr=0.1)
    with pytest.raises(ValueError):
        torch.optim.SGD([ty], lr=0.1)


# ----------------------------------------------------------------------- hooks, retain_grad
def _hooked_net(m, x, w, log):
    h = x @ w
    h.retain_grad()
    h.register_hook(lambda g: log.append(("h", g.sum().item())))
    a = h.tanh()
    a.retain_grad()
    a.register_hook(lambda g: g * 3.0)  # replaces the gradient flowing on from a
    handle = w.register_hook(lambda g: log.append(("w", g.sum().item())))
    loss = (a * a).sum()
    return h, a, loss, handle


def test_hooks_and_retain_grad_match_torch():
    (x, tx), (w, tw) = pair(2, 3), pair(3, 4)
    log, t_log = [], []
    h, a, loss, handle = _hooked_net(st, x, w, log)
    th, ta, t_loss, t_handle = _hooked_net(torch, tx, tw, t_log)
    assert h.retains_grad and th.retains_grad and not x.retains_grad
    loss.backward(retain_graph=True)
    t_loss.backward(retain_graph=True)
    for mine, theirs in ((h, th), (a, ta), (w, tw)):
        np.testing.assert_allclose(mine.grad.numpy(), theirs.grad.numpy(), **F64)
    np.testing.assert_allclose([v for _, v in log], [v for _, v in t_log], **F64)
    assert [k for k, _ in log] == [k for k, _ in t_log] == ["h", "w"]
    handle.remove()
    t_handle.remove()
    loss.backward()
    t_loss.backward()
    assert [k for k, _ in log] == [k for k, _ in t_log] == ["h", "w", "h"]
    np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy(), **F64)  # accumulated twice
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), **F64)


def test_a_hook_on_a_leaf_changes_what_accumulates():
    x, tx = pair(3)
    x.register_hook(lambda g: g * 0.0 + 1.0)
    tx.register_hook(lambda g: g * 0.0 + 1.0)
    (x * x).sum().backward()
    (tx * tx).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])


def test_hook_errors_name_the_problem():
    x, _ = pair(3)
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        st.tensor([1.0]).register_hook(print)
    x.register_hook(lambda g: st.tensor([1.0, 2.0]))
    with pytest.raises(RuntimeError, match=r"shape \(2,\); expected shape \(3,\)"):
        (x * 2.0).sum().backward()
    with pytest.raises(RuntimeError, match="requires_grad=False"):
        st.tensor([1.0]).retain_grad()


def test_non_leaf_grad_is_none_without_retain_grad():
    x, tx = pair(3)
    y, ty = x * 2.0, tx * 2.0
    y.sum().backward()
    ty.sum().backward()
    with pytest.warns(UserWarning, match="not a leaf"):
        assert ty.grad is None
    with pytest.warns(UserWarning, match="not a leaf .*retain_grad"):
        assert y.grad is None
    assert not y.retains_grad


# ----------------------------------------------------------------------- autograd.grad
def _two_outputs(x, w):
    h = (x @ w).sigmoid()
    return (h * h).sum(), h.mean(0), h


def test_autograd_grad_matches_torch_and_leaves_grad_alone():
    (x, tx), (w, tw) = pair(4, 3), pair(3, 2)
    v = RNG.standard_normal(2)
    loss, mean, h = _two_outputs(x, w)
    t_loss, t_mean, th = _two_outputs(tx, tw)
    ours = st.autograd.grad([loss, mean], [w, x, h], grad_outputs=[None, st.tensor(v)])
    theirs = torch.autograd.grad([t_loss, t_mean], [tw, tx, th],
                                 grad_outputs=[None, torch.tensor(v)])
    for mine, truth in zip(ours, theirs):
        assert isinstance(mine, st.Tensor) and not mine.requires_grad
        np.testing.assert_allclose(mine.numpy(), truth.numpy(), **F64)
    assert x.grad is None and w.grad is None


def test_autograd_grad_unused_inputs_and_argument_errors():
    (x, tx), (u, tu) = pair(3), pair(3)
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="input 1 .* not used .* allow_unused=True"):
        st.autograd.grad(y, [x, u], retain_graph=True)
    gx, gu = st.autograd.grad(y, [x, u], allow_unused=True, retain_graph=True)
    t_gx, t_gu = torch.autograd.grad((tx * 2.0).sum(), [tx, tu], allow_unused=True)
    assert gu is None and t_gu is None
    np.testing.assert_array_equal(gx.numpy(), t_gx.numpy())
    (zeros,) = st.autograd.grad(y, u, materialize_grads=True, retain_graph=True)
    np.testing.assert_array_equal(zeros.numpy(), np.zeros(3))
    with pytest.raises(RuntimeError, match="input 0 .* does not require grad"):
        st.autograd.grad(y, st.tensor([1.0]))
    with pytest.raises(RuntimeError, match="output 0 does not require grad"):
        st.autograd.grad(st.tensor([1.0]), x)
    with pytest.raises(RuntimeError, match="grad_outputs="):
        st.autograd.grad(x * 2.0, x)
    with pytest.raises(ValueError, match="grad_outputs has shape"):
        st.autograd.grad(x * 2.0, x, grad_outputs=st.ones(2))
    with pytest.raises(TypeError, match="inputs must hold Tensors"):
        st.autograd.grad(y, [x, 3.0])


def test_backward_with_inputs_accumulates_only_into_them():
    (x, tx), (w, tw) = pair(4, 3), pair(3, 2)
    loss, _, h = _two_outputs(x, w)
    t_loss, _, th = _two_outputs(tx, tw)
    loss.backward(inputs=[w, h])
    t_loss.backward(inputs=[tw, th])
    assert x.grad is None and tx.grad is None
    np.testing.assert_allclose(w.grad.numpy(), tw.grad.numpy(), **F64)
    np.testing.assert_allclose(h.grad.numpy(), th.grad.numpy(), **F64)
    (x, tx), (w, tw) = pair(4, 3), pair(3, 2)
    outputs, t_outputs = _two_outputs(x, w)[:2], _two_outputs(tx, tw)[:2]
    v = RNG.standard_normal(2)
    st.autograd.backward(outputs, [None, v], inputs=x)
    torch.autograd.backward(t_outputs, [None, torch.tensor(v)], inputs=tx)
    assert w.grad is None and tw.grad is None
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **F64)
    with pytest.raises(ValueError, match="inputs must not be empty"):
        (x * 1.0).sum().backward(inputs=[])


# ----------------------------------------------------------------------- .grad and .data
def test_grad_is_a_tensor_that_zeroes_in_place():
    x, tx = pair(3)
    (x * x).sum().backward()
    g = x.grad
    assert isinstance(g, st.Tensor) and not g.requires_grad and g is x.grad
    assert np.shares_memory(np.asarray(g), x.grad.numpy())
    x.grad.zero_()
    np.testing.assert_array_equal(np.asarray(x.grad), np.zeros(3))
    (x * x).sum().backward()
    x.grad.data.zero_()  # p.grad.data.zero_(), as older torch code writes
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))
    (x * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0, 3.0])


def test_grad_assignment_is_checked():
    x, _ = pair(3)
    given = st.tensor([1.0, 2.0, 3.0], dtype=st.float64)
    x.grad = given
    assert x.grad is given
    x.grad = np.array([4.0, 5.0, 6.0])
    np.testing.assert_array_equal(x.grad.numpy(), [4.0, 5.0, 6.0])
    x.grad = None
    assert x.grad is None
    with pytest.raises(RuntimeError, match=r"grad: assigned a gradient of shape \(2,\) and dtype "
                                           r"float64; expected .* shape \(3,\) and dtype float64"):
        x.grad = np.ones(2)
    with pytest.raises(RuntimeError, match="dtype float32"):
        x.grad = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="grad: expected a Tensor, an ndarray or None, got list"):
        x.grad = [1.0, 2.0, 3.0]


def test_data_is_a_detached_tensor_with_its_own_version_counter_as_in_torch():
    x, tx = pair(3)
    d, td = x.data, tx.data
    assert isinstance(d, st.Tensor) and not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.numpy(), x.numpy())
    y, ty = x * x, tx * tx
    # an in-place change through .data bypasses the version check: the backward uses the new
    # values without a word, in torch as here
    x.data.mul_(2.0)
    tx.data.mul_(2.0)
    assert x._version == 0
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **F64)
    # the same change through the tensor itself is caught
    z = x * x
    with st.no_grad():
        x.mul_(2.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_data_assignment_rebinds_and_may_change_the_shape():
    x, tx = pair(3)
    x.data = st.ones(2, 2, dtype=st.float64)
    tx.data = torch.ones(2, 2, dtype=torch.float64)
    assert x.shape == tuple(tx.shape) == (2, 2) and x.requires_grad
    array = np.zeros(4)
    x.data = array
    assert x.numpy() is array
    with pytest.raises(TypeError, match="data: this tensor requires grad, so its data must be "
                                        "float32 or float64, got dtype int64"):
        x.data = np.arange(3)
    with pytest.raises(TypeError, match="data: expected a Tensor or an ndarray, got list"):
        x.data = [1.0]


def test_max_of_outputs_data_over_dim_as_the_tutorials_write_it():
    scores, t_scores = pair(4, 3)
    values, indices = st.max(scores.data, 1)
    t_values, t_indices = torch.max(t_scores.data, 1)
    np.testing.assert_array_equal(indices.numpy(), t_indices.numpy())
    np.testing.assert_array_equal(values.numpy(), t_values.numpy())


def test_viz_graph_runs_the_same_reverse_pass_without_hooks_or_grads():
    x, tx = pair(3)
    calls = []
    h = x * x
    h.register_hook(lambda g: calls.append(1))
    h.retain_grad()
    loss = (h * 2.0).sum()
    picture = st.viz.graph(loss)
    assert calls == [] and x.grad is None and h.grad is None
    t_loss = (tx * tx * 2.0).sum()
    t_loss.backward()
    np.testing.assert_allclose(picture.node(x).grad, tx.grad.numpy(), **F64)
    loss.backward()  # the capture kept the graph
    assert calls == [1]
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), **F64)


def test_hooks_and_retain_grad_do_not_keep_tensors_alive():
    import gc
    import weakref

    from steepest.tensor import _hooks, _retained
    x, _ = pair(3)
    h = x * 2.0
    h.register_hook(lambda g: None)
    h.retain_grad()
    alive = weakref.ref(h)
    del h
    gc.collect()
    assert alive() is None and not _hooks and not _retained
