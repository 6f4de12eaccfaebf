"""st.nn.functional and the loss modules against torch.nn.functional / torch.nn, and the
refusals of issue 12 §2 (one-column cross-entropy, float labels, BCE targets, empty input)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import steepest as st
import steepest.nn.functional as F
from steepest import nn

REDUCTIONS = ["mean", "sum", "none"]
RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(5, 4)) * 2
LABELS = np.array([0, 3, 1, 3, 2])
PROBS = RNG.random((5, 4))


# ----------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh"])
def test_elementwise(helper_test_op, float_dtype, name):
    helper_test_op(getattr(F, name), getattr(TF, name), shapes=[(3, 4)], dtype=float_dtype)


@pytest.mark.parametrize("slope", [0.01, 0.2])
def test_leaky_relu(helper_test_op, float_dtype, slope):
    helper_test_op(lambda x: F.leaky_relu(x, slope), lambda x: TF.leaky_relu(x, slope),
                   shapes=[(3, 4)], dtype=float_dtype)
    helper_test_op(F.leaky_relu, TF.leaky_relu, shapes=[(6,)], dtype=float_dtype)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, -1, 2])
def test_softmax_dim(helper_test_op, float_dtype, name, dim):
    helper_test_op(lambda x: getattr(F, name)(x, dim=dim), lambda x: getattr(TF, name)(x, dim=dim),
                   shapes=[(2, 3, 4)], dtype=float_dtype)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 2, 3, 2)])
def test_softmax_implicit_dim_is_torchs(helper_test_op, name, shape):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # torch warns that the implicit dim is deprecated
        helper_test_op(lambda x: getattr(F, name)(x), lambda x: getattr(TF, name)(x),
                       shapes=[shape])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_dtype_argument_casts_first(name):
    z = RNG.normal(size=(3, 4)).astype(np.float32)
    x = st.tensor(z, requires_grad=True)
    out = getattr(F, name)(x, 1, dtype=np.float64)
    zt = torch.tensor(z, requires_grad=True)
    expected = getattr(TF, name)(zt, 1, dtype=torch.float64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-12)
    upstream = RNG.normal(size=(3, 4))
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    assert x.grad.dtype == np.float32
    np.testing.assert_allclose(x.grad, zt.grad.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_at_1e308_is_silent_and_equals_torch(name, no_float_warnings):
    z = np.array([[1e308, -1e308, 0.0], [-1e308, -1e308, -1e308], [1e308, 1e308, -1e308]])
    with no_float_warnings():
        out = getattr(F, name)(st.tensor(z), dim=1)
    np.testing.assert_array_equal(out.numpy(), getattr(TF, name)(torch.tensor(z), 1).numpy())


def test_linear(helper_test_op, float_dtype):
    helper_test_op(F.linear, TF.linear, shapes=[(5, 3), (4, 3), (4,)], dtype=float_dtype)
    helper_test_op(F.linear, TF.linear, shapes=[(5, 3), (4, 3)], dtype=float_dtype)


def test_dropout_scales_and_masks_with_its_generator():
    x = st.tensor(np.full((50, 40), 3.0), requires_grad=True)
    a = F.dropout(x, 0.25, generator=np.random.default_rng(1))
    b = F.dropout(x, 0.25, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert set(np.unique(a.numpy())) == {0.0, 4.0}
    a.sum().backward()
    np.testing.assert_array_equal(x.grad, a.numpy() / 3.0)
    assert F.dropout(x, 0.25, training=False) is x
    assert F.dropout(x, 0.0) is x


# ----------------------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_losses(helper_test_op, float_dtype, name, reduction):
    helper_test_op(lambda p, t: getattr(F, name)(p, t, reduction=reduction),
                   lambda p, t: getattr(TF, name)(p, t, reduction=reduction),
                   shapes=[(4, 3), (4, 3)], dtype=float_dtype)


def test_l1_gradient_at_equal_values_is_zero_like_torch(helper_test_op):
    helper_test_op(F.l1_loss, TF.l1_loss, inputs=[[1.0, 2.0, 3.0], [1.0, 0.0, 5.0]])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_labels(helper_test_op, float_dtype, reduction):
    helper_test_op(lambda z, y: F.cross_entropy(z, y, reduction=reduction),
                   lambda z, y: TF.cross_entropy(z, y, reduction=reduction),
                   inputs=[LOGITS, LABELS], dtype=float_dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.1, 0.5, 1.0])
@pytest.mark.parametrize("target", ["labels", "probabilities"])
def test_cross_entropy_label_smoothing(helper_test_op, float_dtype, reduction, smoothing,
                                       target):
    y = LABELS if target == "labels" else PROBS
    helper_test_op(
        lambda z, t: F.cross_entropy(z, t, reduction=reduction, label_smoothing=smoothing),
        lambda z, t: TF.cross_entropy(z, t, reduction=reduction, label_smoothing=smoothing),
        inputs=[LOGITS, y], requires_grad=[True, False], dtype=float_dtype)


def test_cross_entropy_label_smoothing_of_one_sample(helper_test_op):
    helper_test_op(lambda z, y: F.cross_entropy(z, y, label_smoothing=0.2),
                   lambda z, y: TF.cross_entropy(z, y, label_smoothing=0.2),
                   inputs=[LOGITS[0], np.array(2)])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_nll_loss(helper_test_op, float_dtype, reduction):
    helper_test_op(lambda z, y: F.nll_loss(F.log_softmax(z, dim=1), y, reduction=reduction),
                   lambda z, y: TF.nll_loss(TF.log_softmax(z, dim=1), y, reduction=reduction),
                   inputs=[LOGITS, LABELS], dtype=float_dtype)
    helper_test_op(lambda z, y: F.nll_loss(z, y, reduction=reduction),
                   lambda z, y: TF.nll_loss(z, y, reduction=reduction),
                   inputs=[LOGITS[1], np.array(3)], dtype=float_dtype)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
def test_binary_losses(helper_test_op, float_dtype, name, reduction):
    p = RNG.uniform(0.05, 0.95, (4, 3)) if name == "binary_cross_entropy" else LOGITS[:4, :3]
    helper_test_op(lambda p, t: getattr(F, name)(p, t, reduction=reduction),
                   lambda p, t: getattr(TF, name)(p, t, reduction=reduction),
                   inputs=[p, RNG.random((4, 3))], requires_grad=[True, False],
                   dtype=float_dtype)


MODULES = [
    (nn.MSELoss, torch.nn.MSELoss, {}, "regression"),
    (nn.L1Loss, torch.nn.L1Loss, {}, "regression"),
    (nn.BCELoss, torch.nn.BCELoss, {}, "probabilities"),
    (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss, {}, "regression"),
    (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, {}, "labels"),
    (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss, {"label_smoothing": 0.3}, "labels"),
    (nn.NLLLoss, torch.nn.NLLLoss, {}, "labels"),
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("st_cls, torch_cls, kwargs, kind", MODULES,
                         ids=[f"{m[0].__name__}{m[2]}" for m in MODULES])
def test_loss_modules(helper_test_op, float_dtype, st_cls, torch_cls, kwargs, kind, reduction):
    inputs = {"regression": [LOGITS, RNG.random((5, 4))],
              "probabilities": [RNG.uniform(0.05, 0.95, (5, 4)), RNG.random((5, 4))],
              "labels": [LOGITS, LABELS]}[kind]
    st_loss = st_cls(reduction=reduction, **kwargs)
    helper_test_op(st_loss, torch_cls(reduction=reduction, **kwargs), inputs=inputs,
                   requires_grad=[True, False], dtype=float_dtype)
    assert isinstance(st_loss, nn.Module)


def test_loss_module_reduction_checked_at_construction():
    with pytest.raises(ValueError, match=r"MSELoss: reduction must be one of .*'avg'"):
        nn.MSELoss(reduction="avg")
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: label_smoothing .*\[0, 1\], got 1.5"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"label_smoothing .*got '0.1'"):
        F.cross_entropy(st.tensor(LOGITS), LABELS, label_smoothing="0.1")


@pytest.mark.parametrize("call, message", [
    (lambda: F.cross_entropy(st.tensor(LOGITS), LABELS, weight=np.ones(4)), "weight"),
    (lambda: nn.CrossEntropyLoss(weight=np.ones(4)), "weight"),
    (lambda: F.binary_cross_entropy_with_logits(st.tensor([0.0]), st.tensor([1.0]),
                                                pos_weight=np.ones(1)), "pos_weight"),
    (lambda: F.relu(st.tensor([1.0]), inplace=True), "inplace"),
    (lambda: F.nll_loss(st.tensor(LOGITS), np.array([0, -100, 1, 2, 3])), "ignore_index=-100"),
])
def test_unsupported_torch_arguments_are_refused_not_ignored(call, message):
    with pytest.raises(NotImplementedError, match=message):
        call()


# ----------------------------------------------------------------------------- issue 12 §2
def test_cross_entropy_refuses_one_column_logits():
    """(N, 1) logits with labels {0, 1} gave loss 0 and nothing trained; torch refuses too."""
    logits = st.tensor(np.zeros((4, 1)), requires_grad=True)
    for function in (st.losses.cross_entropy, F.cross_entropy, nn.CrossEntropyLoss()):
        with pytest.raises(ValueError, match=r"\(4, 1\).*one output per class.*"
                                             r"binary_cross_entropy_with_logits"):
            function(logits, np.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="one output per class"):
        st.losses.cross_entropy(logits, np.ones((4, 1)))
    with pytest.raises(ValueError, match="one output per class"):
        F.nll_loss(logits, np.array([0, 0, 0, 0]))


def test_fit_with_one_output_and_cross_entropy_refuses():
    X, y = st.data.make_moons(40)
    model = st.nn.mlp([2, 8, 1])
    with pytest.raises(ValueError, match="one output per class"):
        st.fit(model, st.losses.cross_entropy, st.optim.SGD(model.parameters(), lr=0.1), X, y,
               epochs=1, verbose=False)


@pytest.mark.parametrize("labels", [np.array([0.0, 3.0, 1.0, 3.0, 2.0]),
                                    np.array([0.0, 3.0, 1.0, 3.0, 2.0], np.float32)])
def test_float_class_labels_are_told_to_be_integers(labels):
    for function in (F.cross_entropy, F.nll_loss):
        with pytest.raises(ValueError, match=r"class labels must be integers, got a float\d+ "
                                             r"target of shape \(5,\).*long\(\)"):
            function(st.tensor(LOGITS), st.tensor(labels))


def test_float_target_of_another_shape_names_both_options():
    with pytest.raises(ValueError, match=r"integer labels of shape \(5,\) or probabilities of "
                                         r"shape \(5, 4\), got a float64 target of shape \(5, 2\)"):
        F.cross_entropy(st.tensor(LOGITS), np.zeros((5, 2)))


@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("target", [2.0, -0.5])
def test_binary_targets_outside_0_1_are_refused(name, target):
    p = st.tensor([0.5, 0.5], requires_grad=True)
    with pytest.raises(ValueError, match=rf"{name}: targets must lie in \[0, 1\], got values "
                                         rf"from .*{abs(target)}"):
        getattr(F, name)(p, st.tensor([target, 1.0]))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("case", ["mse", "l1", "cross_entropy", "cross_entropy_soft", "nll",
                                  "bce", "bce_logits"])
def test_empty_input_gives_torchs_answer(case, reduction):
    """Documented choice: as torch, the mean of no elements is nan, the sum 0, 'none' empty."""
    empty, labels = np.zeros((0, 3)), np.zeros(0, np.int64)
    st_fn, torch_fn, target = {
        "mse": (F.mse_loss, TF.mse_loss, empty), "l1": (F.l1_loss, TF.l1_loss, empty),
        "cross_entropy": (F.cross_entropy, TF.cross_entropy, labels),
        "cross_entropy_soft": (F.cross_entropy, TF.cross_entropy, empty),
        "nll": (F.nll_loss, TF.nll_loss, labels),
        "bce": (F.binary_cross_entropy, TF.binary_cross_entropy, empty),
        "bce_logits": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                       empty)}[case]
    x = st.tensor(empty, requires_grad=True)
    out = st_fn(x, st.tensor(target), reduction=reduction)
    expected = torch_fn(torch.tensor(empty), torch.tensor(target), reduction=reduction)
    assert out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    if reduction != "none":
        out.backward()
        assert x.grad.shape == (0, 3)


@pytest.mark.parametrize("labels", [[0, 1], [1, 1], [2, 0]])
def test_cross_entropy_at_1e308_is_silent_and_equals_torch(labels, no_float_warnings):
    z = np.array([[1e308, -1e308, 0.0], [-1e308, 1e308, 1e308]])
    x = st.tensor(z, requires_grad=True)
    with no_float_warnings():
        out = F.cross_entropy(x, np.array(labels), reduction="none")
        out.sum().backward()
    zt = torch.tensor(z, requires_grad=True)
    expected = TF.cross_entropy(zt, torch.tensor(labels), reduction="none")
    expected.sum().backward()
    np.testing.assert_array_equal(out.numpy(), expected.detach().numpy())
    np.testing.assert_array_equal(x.grad, zt.grad.numpy())


def test_softmax_without_dim_on_3d_input_warns_like_torch_and_uses_its_dim():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    with pytest.warns(UserWarning, match="no dim given"):
        ours = F.softmax(st.tensor(x))
    with pytest.warns(UserWarning):
        expected = torch.nn.functional.softmax(torch.tensor(x))
    np.testing.assert_allclose(ours.numpy(), expected.numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- issue 20.6, 22.23
@pytest.mark.parametrize("num_classes", [-1, 6])
def test_one_hot_as_torch(num_classes):
    labels = [[0, 3], [2, 1]]
    ours, theirs = F.one_hot(st.tensor(labels), num_classes), \
        TF.one_hot(torch.tensor(labels), num_classes)
    assert ours.dtype == np.int64 and ours.shape == tuple(theirs.shape)
    assert ours.tolist() == theirs.tolist()
    with pytest.raises(ValueError, match=r"class values must be in \[0, 3\)"):
        F.one_hot(st.tensor([0, 3]), 3)
    with pytest.raises(TypeError, match="integer"):
        F.one_hot(st.tensor([0.0, 1.0]))


def test_one_hot_rows_times_a_table_is_an_embedding_lookup(helper_test_op, float_dtype):
    """Karpathy's makemore: ``F.one_hot(ix, 27).float() @ C`` equals ``C[ix]``."""
    helper_test_op(lambda ix, table: F.one_hot(ix, 4).to(table.dtype) @ table
                   if isinstance(ix, st.Tensor) else TF.one_hot(ix, 4).to(table.dtype) @ table,
                   inputs=[np.array([3, 0, 3]), np.arange(8.0).reshape(4, 2)], dtype=float_dtype)


@pytest.mark.parametrize("padding_idx", [None, 2, -1])
def test_embedding_function_as_torch(helper_test_op, float_dtype, padding_idx):
    helper_test_op(lambda ix, w: (F if isinstance(w, st.Tensor) else TF).embedding(
        ix, w, padding_idx=padding_idx),
        inputs=[np.array([[0, 2, 3], [3, 3, 1]]), np.arange(12.0).reshape(4, 3) / 5],
        dtype=float_dtype)


def test_batch_norm_function_in_training_updates_the_running_statistics_as_torch(
        helper_test_op, float_dtype):
    running = {}
    for module in (st, torch):
        running[module.__name__] = (module.zeros(3, dtype=getattr(module, str(float_dtype))),
                                    module.ones(3, dtype=getattr(module, str(float_dtype))))

    def bn(x, w, b):
        mean, var = running[("steepest" if isinstance(x, st.Tensor) else "torch")]
        return (F if isinstance(x, st.Tensor) else TF).batch_norm(
            x, mean, var, w, b, training=True, momentum=0.2, eps=1e-3)
    helper_test_op(bn, shapes=[(5, 3, 2), (3,), (3,)], dtype=float_dtype)
    for ours, theirs in zip(running["steepest"], running["torch"]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(),
                                   rtol=1e-10 if float_dtype == np.float64 else 1e-5)


def test_batch_norm_function_in_evaluation_as_torch(helper_test_op, float_dtype):
    def bn(x, mean, var):
        return (F if isinstance(x, st.Tensor) else TF).batch_norm(x, mean, var)
    helper_test_op(bn, shapes=[(4, 3), (3,), (3,)], low=[-2.0, -1.0, 0.5], high=[2.0, 1.0, 2.0],
                   dtype=float_dtype, requires_grad=[True, False, False])


@pytest.mark.parametrize("shape", [(3,), (2, 3)])
def test_layer_norm_function_as_torch(helper_test_op, float_dtype, shape):
    helper_test_op(lambda x, w, b: (F if isinstance(x, st.Tensor) else TF).layer_norm(
        x, shape, w, b, eps=1e-4), shapes=[(4,) + shape, shape, shape], dtype=float_dtype)


def test_linear_with_a_one_dimensional_weight_as_torch(helper_test_op, float_dtype):
    helper_test_op(lambda x, w: (F if isinstance(x, st.Tensor) else TF).linear(x, w),
                   shapes=[(4, 3), (3,)], dtype=float_dtype)
    helper_test_op(lambda x, w: (F if isinstance(x, st.Tensor) else TF).linear(x, w),
                   shapes=[(3,), (3,)], dtype=float_dtype)
    with pytest.raises(RuntimeError):
        TF.linear(torch.ones(2, 3), torch.ones(3), torch.ones(1))
    with pytest.raises(ValueError, match="a 1-D weight .* takes no bias"):
        F.linear(st.ones(2, 3), st.ones(3), st.ones(1))
