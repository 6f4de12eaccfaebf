"""Higher-order autodiff against torch: second and third derivatives of every op (hypothesis over
shapes and values, float64, 1e-10), a gradient-norm penalty trained for a few steps, and
``st.autograd.functional`` against ``torch.autograd.functional``."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.autograd.functional as torch_functional
from hypothesis import given, settings
from hypothesis import strategies as hst

import steepest as st
from steepest.autograd import functional, grad

RTOL = 1e-10


def _leaf(lib, array):
    if lib is torch:
        return torch.tensor(array, dtype=torch.float64, requires_grad=True)
    return st.tensor(array, dtype=st.float64, requires_grad=True)


def _constant(lib, array):
    return torch.tensor(array, dtype=torch.float64) if lib is torch else \
        st.tensor(array, dtype=st.float64)


def _numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().numpy(force=True)  # force: torch's ZeroTensor (l1's 2nd derivative)
    return np.asarray(value.detach().numpy())


def derivatives(lib, fn, arrays, weights, orders=3):
    """The first ``orders`` derivatives of fn at ``arrays``, each contracted with random
    weights: L₀ = Σ w₀·fn(x), L_k = Σ_i Σ w_k,i · ∂L_(k−1)/∂x_i; returns [∂L_k/∂x_i] for every
    k < orders (zeros where L_k does not depend on x_i)."""
    differentiate = torch.autograd.grad if lib is torch else grad
    xs = [_leaf(lib, a) for a in arrays]
    level = (fn(lib, *xs) * _constant(lib, weights[0])).sum()
    results = []
    for k in range(orders):
        if not level.requires_grad:  # the rest is identically zero
            results += [[np.zeros_like(a) for a in arrays]] * (orders - k)
            break
        grads = differentiate(level, xs, create_graph=True, allow_unused=True)
        results.append([np.zeros_like(a) if g is None else _numpy(g)
                        for g, a in zip(grads, arrays)])
        terms = [(g * _constant(lib, w)).sum() for g, w in zip(grads, weights[k + 1])
                 if g is not None]
        level = terms[0] if terms else _constant(lib, 0.0)
        for term in terms[1:]:
            level = level + term
    return results


def assert_derivatives_match(fn, arrays, seed, orders=3):
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        out_shape = tuple(fn(torch, *[torch.tensor(a) for a in arrays]).shape)
    weights = [rng.standard_normal(out_shape)] + [
        [rng.standard_normal(np.shape(a)) for a in arrays] for _ in range(orders)]
    ours = derivatives(st, fn, arrays, weights, orders)
    theirs = derivatives(torch, fn, arrays, weights, orders)
    for order, (mine, torchs) in enumerate(zip(ours, theirs), start=1):
        for position, (a, b) in enumerate(zip(mine, torchs)):
            assert a.shape == b.shape, f"order {order}, input {position}: shape"
            np.testing.assert_allclose(
                a, b, rtol=RTOL, atol=RTOL * (1 + np.abs(b).max(initial=0)),
                err_msg=f"derivative of order {order} with respect to input {position}")


def _labels(lib, n, classes):
    values = np.arange(n) * 7 % classes
    return torch.tensor(values) if lib is torch else st.tensor(values)


def _amax(lib, x, dim):
    return x.amax(dim=dim) if lib is torch else x.max(axis=dim)


#: name -> (fn(lib, *inputs), shapes(n, m), (low, high)); fn is written once for both libraries
OPS = {
    "add": (lambda m, a, b: (a + b) * a, lambda n, k: [(n, k), (k,)], (-2, 2)),
    "sub": (lambda m, a, b: (a - b) * b, lambda n, k: [(n, 1), (n, k)], (-2, 2)),
    "rsub": (lambda m, a: (1.5 - a) * a, lambda n, k: [(n, k)], (-2, 2)),
    "mul": (lambda m, a, b: a * b * a, lambda n, k: [(n, k), (k,)], (-2, 2)),
    "div": (lambda m, a, b: a / b, lambda n, k: [(n, k), (n, 1)], (0.5, 2)),
    "rdiv": (lambda m, a: 2.5 / a, lambda n, k: [(n, k)], (0.5, 2)),
    "neg": (lambda m, a: -a * a, lambda n, k: [(n, k)], (-2, 2)),
    "square": (lambda m, a: a ** 2, lambda n, k: [(n, k)], (-2, 2)),
    "cube": (lambda m, a: a ** 3, lambda n, k: [(n, k)], (-2, 2)),
    "pow_fraction": (lambda m, a: a ** 1.5, lambda n, k: [(n, k)], (0.5, 2)),
    "pow_negative": (lambda m, a: a ** -2.5, lambda n, k: [(n, k)], (0.5, 2)),
    "pow_zero": (lambda m, a: a ** 0 * a, lambda n, k: [(n, k)], (-2, 2)),
    "pow_tensor": (lambda m, a, b: a ** b, lambda n, k: [(n, k), (k,)], (0.5, 2)),
    "rpow": (lambda m, a: 1.7 ** a, lambda n, k: [(n, k)], (-2, 2)),
    "matmul": (lambda m, a, b: a @ b, lambda n, k: [(n, k), (k, 3)], (-2, 2)),
    "matmul_vector": (lambda m, a, b: (a @ b) * a[0], lambda n, k: [(k,), (2, k, n)], (-2, 2)),
    "matmul_batched": (lambda m, a, b: a @ b, lambda n, k: [(2, n, k), (k,)], (-2, 2)),
    "linear": (lambda m, x, w, b: m.nn.functional.linear(x * x, w, b),
               lambda n, k: [(n, k), (3, k), (3,)], (-2, 2)),
    "linear_scalar_bias": (lambda m, x, w, b: m.nn.functional.linear(x, w * w, b),
                           lambda n, k: [(2, n, k), (3, k), ()], (-2, 2)),
    "sum": (lambda m, a: a.sum(dim=0) * a.sum(), lambda n, k: [(n, k)], (-2, 2)),
    "mean": (lambda m, a: (a * a).mean(dim=1, keepdim=True) * a, lambda n, k: [(n, k)],
             (-2, 2)),
    "max_all": (lambda m, a: (a * a).max() * a, lambda n, k: [(n, k)], (-2, 2)),
    "max_axis": (lambda m, a: _amax(m, a * a, 1) ** 2, lambda n, k: [(n, k)], (-2, 2)),
    "max_dim": (lambda m, a: a.max(0)[0] ** 3, lambda n, k: [(n, k)], (-2, 2)),
    "min_dim": (lambda m, a: a.min(1, keepdim=True)[0] * a, lambda n, k: [(n, k)], (-2, 2)),
    "exp": (lambda m, a: m.exp(a * a), lambda n, k: [(n, k)], (-1.5, 1.5)),
    "log": (lambda m, a: m.log(a), lambda n, k: [(n, k)], (0.5, 2)),
    "sqrt": (lambda m, a: m.sqrt(a), lambda n, k: [(n, k)], (0.5, 2)),
    "sin": (lambda m, a: m.sin(a), lambda n, k: [(n, k)], (-3, 3)),
    "cos": (lambda m, a: m.cos(a), lambda n, k: [(n, k)], (-3, 3)),
    "abs": (lambda m, a: m.abs(a) ** 3, lambda n, k: [(n, k)], (-2, 2)),
    "clamp": (lambda m, a: m.clamp(a * a, 0.3, 1.5) ** 2, lambda n, k: [(n, k)], (-2, 2)),
    "maximum": (lambda m, a, b: m.maximum(a * a, b) ** 2, lambda n, k: [(n, k), (k,)], (-2, 2)),
    "minimum": (lambda m, a, b: m.minimum(a, b * b) ** 2, lambda n, k: [(n, k), (n, k)],
                (-2, 2)),
    "where": (lambda m, a, b: m.where(a > 0, a * b, b * b), lambda n, k: [(n, k), (k,)],
              (-2, 2)),
    "reshape": (lambda m, a: (a.reshape(k_of(a), -1) ** 2).flatten() ** 2,
                lambda n, k: [(n, k)], (-2, 2)),
    "permute_transpose": (lambda m, a: (a.permute(2, 0, 1) ** 2).transpose(0, 2).transpose(0, 1) * a,
                lambda n, k: [(n, k, 2)], (-2, 2)),
    "unsqueeze": (lambda m, a: (a.unsqueeze(1) ** 2).squeeze(1) * a, lambda n, k: [(n, k)],
                  (-2, 2)),
    "clone": (lambda m, a: a.clone() * a, lambda n, k: [(n, k)], (-2, 2)),
    "getitem": (lambda m, a: a[1:, ::2] ** 3, lambda n, k: [(n + 1, k)], (-2, 2)),
    "getitem_repeated": (lambda m, a: a[[0, 0, 1]] ** 3, lambda n, k: [(n + 1, k)], (-2, 2)),
    "cat": (lambda m, a, b: m.cat([a * a, b], 1) ** 2, lambda n, k: [(n, k), (n, 2)], (-2, 2)),
    "stack": (lambda m, a, b: m.stack([a * a, b], 1) ** 2, lambda n, k: [(n, k), (n, k)],
              (-2, 2)),
    "sigmoid": (lambda m, a: m.sigmoid(a), lambda n, k: [(n, k)], (-3, 3)),
    "tanh": (lambda m, a: m.tanh(a), lambda n, k: [(n, k)], (-3, 3)),
    "relu": (lambda m, a: m.relu(a) ** 3, lambda n, k: [(n, k)], (-2, 2)),
    "leaky_relu": (lambda m, a: m.nn.functional.leaky_relu(a, 0.1) ** 3, lambda n, k: [(n, k)],
                   (-2, 2)),
    "softmax": (lambda m, a: m.softmax(a, dim=1), lambda n, k: [(n, k)], (-3, 3)),
    "log_softmax": (lambda m, a: m.log_softmax(a, dim=0), lambda n, k: [(n, k)], (-3, 3)),
    "mse": (lambda m, a, b: m.nn.functional.mse_loss(a * a, b), lambda n, k: [(n, k), (n, k)],
            (-2, 2)),
    "l1": (lambda m, a, b: m.nn.functional.l1_loss(a * a, b, reduction="sum"),
           lambda n, k: [(n, k), (n, k)], (-2, 2)),
    "cross_entropy": (lambda m, a: m.nn.functional.cross_entropy(a, _labels(m, *a.shape)),
                      lambda n, k: [(n, k + 1)], (-3, 3)),
    "cross_entropy_probabilities": (
        lambda m, a, p: m.nn.functional.cross_entropy(a, p * p, reduction="none"),
        lambda n, k: [(n, k + 1), (n, k + 1)], (-2, 2)),
    "cross_entropy_smoothed": (
        lambda m, a, p: m.nn.functional.cross_entropy(a, p, label_smoothing=0.2,
                                                      reduction="sum"),
        lambda n, k: [(n, k + 1), (n, k + 1)], (0, 1)),
    "cross_entropy_labels_smoothed": (
        lambda m, a: m.nn.functional.cross_entropy(a, _labels(m, *a.shape), label_smoothing=0.1),
        lambda n, k: [(n, k + 1)], (-3, 3)),
    "nll": (lambda m, a: m.nn.functional.nll_loss(a * a, _labels(m, *a.shape), reduction="none"),
            lambda n, k: [(n, k + 1)], (-2, 2)),
    "binary_cross_entropy": (lambda m, p, t: m.nn.functional.binary_cross_entropy(p, t),
                             lambda n, k: [(n, k), (n, k)], (0.2, 0.8)),
    "binary_cross_entropy_with_logits": (
        lambda m, z, t: m.nn.functional.binary_cross_entropy_with_logits(z * z, t),
        lambda n, k: [(n, k), (n, k)], (0, 1)),
}


def k_of(a):
    return a.shape[1]


def _setitem(lib, a, b):
    """c = a²; c[:, 0] = b[:, 0]³ (an in-place write into a computed tensor: index_put)."""
    c = a * a
    c[:, 0] = b[:, 0] ** 3
    return c * a


OPS["index_put"] = (_setitem, lambda n, k: [(n, k), (n, 2)], (-2, 2))
OPS["squeeze_flatten"] = (lambda m, a: (a.unsqueeze(0) ** 2).flatten(1).squeeze(0) * a[0, 0],
                          lambda n, k: [(n, k)], (-2, 2))


@pytest.mark.parametrize("name", sorted(OPS))
@settings(max_examples=6, deadline=None)
@given(n=hst.integers(1, 3), k=hst.integers(1, 4), seed=hst.integers(0, 2**32 - 1))
def test_second_and_third_derivatives_match_torch(name, n, k, seed):
    fn, shapes, (low, high) = OPS[name]
    rng = np.random.default_rng(seed)
    arrays = [rng.uniform(low, high, size=shape) for shape in shapes(n, k)]
    assert_derivatives_match(fn, arrays, seed)


@pytest.mark.parametrize("name", sorted(OPS))
def test_derivatives_of_float32_inputs_stay_float32(name):
    """No backward upcasts under create_graph (a float64 constant or mask would)."""
    fn, shapes, (low, high) = OPS[name]
    rng = np.random.default_rng(0)
    xs = [st.tensor(rng.uniform(low, high, shape).astype(np.float32), requires_grad=True)
          for shape in shapes(2, 3)]
    level = (fn(st, *xs) ** 2).sum()
    for order in range(1, 4):
        if not level.requires_grad:
            break
        grads = [g for g in grad(level, xs, create_graph=True, allow_unused=True)
                 if g is not None]
        assert [g.dtype for g in grads] == [np.dtype(np.float32)] * len(grads), f"order {order}"
        level = sum((g * g).sum() for g in grads)


def test_the_table_covers_the_ops_with_a_backward():
    """A new op in ops.py or activations.py must be added to OPS (by a name containing it)."""
    covered = " ".join(OPS)
    engine = ["add", "sub", "rsub", "mul", "div", "rdiv", "neg", "pow", "rpow", "matmul",
              "linear", "sum", "mean", "max", "min", "exp", "log", "sqrt", "sin", "cos", "abs",
              "clamp", "maximum", "minimum", "where", "reshape", "permute", "unsqueeze",
              "clone", "getitem", "cat", "stack", "sigmoid", "tanh", "relu", "softmax",
              "cross_entropy", "nll", "binary_cross_entropy", "mse", "l1", "index_put",
              "squeeze", "flatten", "transpose"]
    assert [op for op in engine if op not in covered] == []


def test_a_graph_gradient_is_a_tensor_with_history_and_the_first_order_path_is_unchanged():
    x = st.tensor([0.3, -1.2], dtype=st.float64, requires_grad=True)
    (g,) = grad((x.sin() * x).sum(), x, create_graph=True)
    assert isinstance(g, st.Tensor) and g.requires_grad
    y = st.tensor([0.3, -1.2], dtype=st.float64, requires_grad=True)
    (y.sin() * y).sum().backward()
    np.testing.assert_array_equal(g.detach().numpy(), np.asarray(y.grad))


def test_dropout_has_the_masks_derivatives():
    """Dropout is x·mask: its gradient is the mask, its second derivative 0 (torch's formula on
    the mask steepest drew)."""
    x = st.tensor(np.linspace(-1, 1, 12).reshape(3, 4), dtype=st.float64, requires_grad=True)
    out = st.nn.functional.dropout(x * x, 0.5, generator=np.random.default_rng(3))
    mask = np.where(np.asarray(x.detach().numpy()) != 0,
                    out.detach().numpy() / x.detach().numpy() ** 2, 0)
    (g,) = grad(out.sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * x.detach().numpy() * mask, rtol=1e-12)
    (h,) = grad(g.sum(), x)
    np.testing.assert_allclose(h.detach().numpy(), 2 * mask, rtol=1e-12)


@pytest.mark.parametrize("edge", ["square", "cube", "exp", "sigmoid"])
def test_third_derivative_of_elementary_functions_by_hand(edge):
    """d³/dx³ at x = 0.5 by hand: x² → 0, x³ → 6, eˣ → eˣ, σ → σ(1−σ)(1−6σ+6σ²)."""
    fn = {"square": lambda x: x ** 2, "cube": lambda x: x ** 3, "exp": st.exp,
          "sigmoid": st.sigmoid}[edge]
    s = 1 / (1 + np.exp(-0.5))
    expected = {"square": 0.0, "cube": 6.0, "exp": np.exp(0.5),
                "sigmoid": s * (1 - s) * (1 - 6 * s + 6 * s * s)}[edge]
    x = st.tensor(0.5, dtype=st.float64, requires_grad=True)
    (d1,) = grad(fn(x), x, create_graph=True)
    (d2,) = grad(d1, x, create_graph=True)
    if not d2.requires_grad:
        assert expected == 0.0
        return
    (d3,) = grad(d2, x)
    assert d3.item() == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_a_cast_is_differentiated_twice_in_the_target_dtype():
    """astype: float64 → float32 → float64 passes each derivative back in the input's dtype."""
    values = np.array([0.3, -1.2, 2.0])
    x = st.tensor(values, dtype=st.float64, requires_grad=True)
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (gx,) = grad((x.astype(np.float32).astype(np.float64) ** 3).sum(), x, create_graph=True)
    (gt,) = torch.autograd.grad((t.float().double() ** 3).sum(), t, create_graph=True)
    assert gx.dtype == np.float64
    (hx,) = grad(gx.sum(), x)
    (ht,) = torch.autograd.grad(gt.sum(), t)
    np.testing.assert_allclose(_numpy(gx), _numpy(gt), rtol=1e-6)
    np.testing.assert_allclose(_numpy(hx), _numpy(ht), rtol=1e-6)


@pytest.mark.filterwarnings("ignore:Using backward\\(\\) with create_graph:UserWarning")
def test_backward_with_create_graph_gives_a_differentiable_grad():
    """The public path: loss.backward(create_graph=True), then x.grad differentiated again."""
    values = np.array([[0.5, -1.0], [2.0, 0.25]])
    x = st.tensor(values, dtype=st.float64, requires_grad=True)
    t = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    for lib, leaf in ((st, x), (torch, t)):
        (lib.tanh(leaf @ leaf) ** 2).sum().backward(create_graph=True)
    (hx,) = grad((x.grad * x.grad).sum(), x)
    (ht,) = torch.autograd.grad((t.grad * t.grad).sum(), t)
    np.testing.assert_allclose(_numpy(hx), _numpy(ht), rtol=1e-10)


# ------------------------------------------------------------- gradient-norm penalty
def _mlp_weights(seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(0, 0.5, (8, 4)), rng.normal(0, 0.1, 8), rng.normal(0, 0.5, (3, 8)),
            rng.normal(0, 0.1, 3)]


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
def test_gradient_norm_penalty_trains_as_in_torch(activation):
    """loss + λ‖∇θ loss‖² (a gradient penalty: needs the gradient's own gradient) over five SGD
    steps of a 4-8-3 MLP, against torch from the same weights."""
    rng = np.random.default_rng(1)
    x_data, labels = rng.normal(size=(16, 4)), rng.integers(0, 3, 16)
    penalty, lr = 0.3, 0.2

    def train(lib, differentiate):
        params = [_leaf(lib, w) for w in _mlp_weights()]
        x = _constant(lib, x_data)
        y = torch.tensor(labels) if lib is torch else st.tensor(labels)
        act = getattr(lib, activation)
        losses = []
        for _ in range(5):
            hidden = act(lib.nn.functional.linear(x, params[0], params[1]))
            loss = lib.nn.functional.cross_entropy(
                lib.nn.functional.linear(hidden, params[2], params[3]), y)
            grads = differentiate(loss, params, create_graph=True)
            total = loss + penalty * sum((g * g).sum() for g in grads)
            steps = differentiate(total, params)
            params = [_leaf(lib, _numpy(p) - lr * _numpy(s)) for p, s in zip(params, steps)]
            losses.append(float(total.item()))
        return losses, [_numpy(p) for p in params]

    ours, our_params = train(st, grad)
    theirs, their_params = train(torch, torch.autograd.grad)
    np.testing.assert_allclose(ours, theirs, rtol=1e-10)
    for mine, torchs in zip(our_params, their_params):
        np.testing.assert_allclose(mine, torchs, rtol=1e-10, atol=1e-12)
    assert ours[-1] < ours[0]


# ------------------------------------------------------------------- functional
def _fn_pair(lib, x, w):
    return lib.tanh(w @ x) * lib.exp(x[:2])


def _scalar_fn(lib, x, w):
    return (lib.sigmoid(w @ x) * x[:2]).sum() ** 2 + (x ** 3).sum()


def _pair(values):
    return [torch.tensor(v, dtype=torch.float64) for v in values], \
        [st.tensor(v, dtype=st.float64) for v in values]


def _assert_nested_close(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            _assert_nested_close(a, b)
        return
    assert isinstance(ours, st.Tensor)
    assert ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(_numpy(ours), _numpy(theirs), rtol=1e-10, atol=1e-12)


RNG = np.random.default_rng(5)
X, W, V_IN, V_W, V_OUT = (RNG.normal(size=s) for s in [(3,), (2, 3), (3,), (2, 3), (2,)])


@pytest.mark.parametrize("tupled", [True, False], ids=["tuple", "tensor"])
@pytest.mark.parametrize("name", ["jacobian", "hessian", "vjp", "jvp", "hvp", "vhp"])
def test_functional_matches_torch(name, tupled):
    (tx, tw), (sx, sw) = _pair([X, W])
    (tv, tvw, tvo), (sv, svw, svo) = _pair([V_IN, V_W, V_OUT])
    scalar = name in ("hessian", "hvp", "vhp")
    fn = _scalar_fn if scalar else _fn_pair

    def call(module, lib, x, w, v, vw, vo):
        f = (lambda a, b: fn(lib, a, b)) if tupled else (lambda a: fn(lib, a, w))
        inputs = (x, w) if tupled else x
        v_in = (v, vw) if tupled else v
        if name in ("jacobian", "hessian"):
            return getattr(module, name)(f, inputs)
        return getattr(module, name)(f, inputs, vo if name == "vjp" else v_in)

    ours = call(functional, st, sx, sw, sv, svw, svo)
    theirs = call(torch_functional, torch, tx, tw, tv, tvw, tvo)
    _assert_nested_close(ours, theirs)


def test_hvp_with_create_graph_differentiates_again():
    (tx, tw), (sx, sw) = _pair([X, W])
    tx.requires_grad_(True)
    sx.requires_grad_(True)
    (tv,), (sv,) = _pair([V_IN])
    _, ours = functional.hvp(lambda a: _scalar_fn(st, a, sw), sx, sv, create_graph=True)
    _, theirs = torch_functional.hvp(lambda a: _scalar_fn(torch, a, tw), tx, tv,
                                     create_graph=True)
    (ours_again,) = grad(ours.sum(), sx)
    (theirs_again,) = torch.autograd.grad(theirs.sum(), tx)
    np.testing.assert_allclose(_numpy(ours_again), _numpy(theirs_again), rtol=1e-10)


def test_functional_results_carry_no_graph_without_create_graph():
    x = st.tensor(X, dtype=st.float64, requires_grad=True)
    out, product = functional.hvp(lambda a: (a ** 3).sum(), x, st.tensor(V_IN))
    assert not out.requires_grad and not product.requires_grad
    np.testing.assert_allclose(product.numpy(), 6 * X * V_IN, rtol=1e-14)


def test_strict_refuses_an_input_the_output_ignores():
    x, y = st.tensor([1.0, 2.0]), st.tensor([3.0])
    with pytest.raises(RuntimeError, match="independent of input 1"):
        functional.jacobian(lambda a, b: a * 2, (x, y), strict=True)
    jac = functional.jacobian(lambda a, b: a * 2, (x, y))
    np.testing.assert_array_equal(jac[1].numpy(), np.zeros((2, 1)))


def test_hessian_needs_a_scalar_function():
    with pytest.raises(RuntimeError, match="one-element"):
        functional.hessian(lambda a: a * a, st.tensor([1.0, 2.0]))
