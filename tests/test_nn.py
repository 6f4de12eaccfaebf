"""nn: Linear in torch's layout, Module bookkeeping, Dropout, state dicts and initialisers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

import steepest as st
from steepest import nn
from steepest.nn import init


# ----------------------------------------------------------------- Linear
def test_linear_layout_and_forward_match_torch():
    layer = nn.Linear(3, 4, dtype=st.float64, generator=np.random.default_rng(0))
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (4,)
    x = np.random.default_rng(1).standard_normal((5, 3))
    expected = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(layer.weight.numpy()),
                                          torch.from_numpy(layer.bias.numpy())).numpy()
    out = layer(st.tensor(x))
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-14)
    single = layer(st.tensor(x[0]))  # one sample without a batch axis, as torch allows
    np.testing.assert_allclose(single.numpy(), expected[0], rtol=1e-14)


def test_linear_gradients_match_torch():
    layer = nn.Linear(3, 2, dtype=st.float64, generator=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((6, 3))
    w = torch.tensor(layer.weight.numpy(), requires_grad=True)
    b = torch.tensor(layer.bias.numpy(), requires_grad=True)
    torch.nn.functional.linear(torch.from_numpy(x), w, b).pow(2).sum().backward()
    (layer(st.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(layer.weight.grad, w.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad, b.grad.numpy(), rtol=1e-13)


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.ones((1, 3))
    np.testing.assert_allclose(layer(st.tensor(x)).numpy(), x @ layer.weight.numpy().T)


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    layer = nn.Linear(400, 500, generator=np.random.default_rng(0))
    bound = 1 / math.sqrt(400)
    for values in (layer.weight.numpy(), layer.bias.numpy()):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.98 * bound  # fills the whole interval
    w = layer.weight.numpy()
    assert abs(w.mean()) < 0.01 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)  # std of U(−b, b)


def test_linear_init_is_reproducible_with_manual_seed():
    st.manual_seed(123)
    a = nn.mlp([3, 5, 2])
    st.manual_seed(123)
    b = nn.mlp([3, 5, 2])
    c = nn.mlp([3, 5, 2])
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(p.numpy(), q.numpy())
        assert not np.array_equal(q.numpy(), r.numpy())
    d = nn.Linear(3, 2, generator=np.random.default_rng(7))
    e = nn.Linear(3, 2, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(d.weight.numpy(), e.weight.numpy())


def test_linear_dtype_and_invalid_sizes():
    assert nn.Linear(2, 3, dtype=np.float32).weight.dtype == np.float32
    assert nn.Linear(2, 3).weight.dtype == np.float32  # the default dtype, as torch
    assert nn.Linear(2, 3, dtype=st.float64).weight.dtype == np.float64
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="out_features"):
        nn.Linear(2, 2.5)


# ----------------------------------------------------------------- Module bookkeeping
def test_parameters_and_named_parameters():
    model = nn.mlp([3, 8, 2], activation="tanh")
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert [p.shape for p in model.parameters()] == [(8, 3), (8,), (2, 8), (2,)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in model.parameters())
    assert model.num_parameters() == 3 * 8 + 8 + 8 * 2 + 2


def test_shared_parameter_is_listed_once_and_frozen_ones_are_not_trainable():
    first = nn.Linear(4, 4)
    model = nn.Sequential(first, nn.Tanh(), first)
    assert len(list(model.parameters())) == 2
    model[0].bias.requires_grad_(False)
    assert model.num_parameters(trainable_only=True) == 16


def test_nested_modules_have_dotted_names():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 3), nn.ReLU())
            self.head = nn.Linear(3, 1)

        def forward(self, x):
            return self.head(self.body(x))

    names = [name for name, _ in Net().named_parameters()]
    assert names == ["body.0.weight", "body.0.bias", "head.weight", "head.bias"]


def test_train_and_eval_reach_every_submodule():
    model = nn.Sequential(nn.Linear(2, 2), nn.Sequential(nn.Dropout(0.5)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_repr_shows_parameter_counts():
    text = repr(nn.mlp([3, 8, 2]))
    assert "Linear(in_features=3, out_features=8, bias=True)  # 32 parameters" in text
    assert "# 18 parameters" in text
    assert text.endswith("# 50 parameters in total")


def test_sequential_accepts_only_modules():
    model = nn.Sequential(nn.Linear(2, 2))
    assert model.append(nn.ReLU()) is model and len(model) == 2
    with pytest.raises(TypeError, match="Sequential: entry '1' is a function"):
        nn.Sequential(nn.ReLU(), st.relu)
    with pytest.raises(TypeError, match="Sequential: entry '2' is a function"):
        model.append(st.relu)  # not silently kept as a plain attribute that forward skips
    assert len(model) == 2


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid", "leaky_relu", "softmax",
                                        "binary_step", "linear"])
def test_mlp_xavier_init_works_for_every_activation(activation):
    model = nn.mlp([4, 6, 2], activation=activation, weight_init="xavier",
                   generator=np.random.default_rng(0))
    gain = {"tanh": 5 / 3, "relu": math.sqrt(2), "leaky_relu": math.sqrt(2 / (1 + 0.01 ** 2))
            }.get(activation, 1.0)
    bound = gain * math.sqrt(6 / (4 + 6))
    assert np.abs(model[0].weight.numpy()).max() <= bound
    assert not model[0].bias.numpy().any()


# ----------------------------------------------------------------- Dropout
def test_dropout_is_the_identity_in_eval_mode():
    drop = nn.Dropout(0.4).eval()
    x = st.tensor(np.random.default_rng(0).standard_normal((10, 10)))
    np.testing.assert_array_equal(drop(x).numpy(), x.numpy())


def test_dropout_zeroes_a_fraction_p_and_scales_survivors():
    p = 0.3
    drop = nn.Dropout(p, generator=np.random.default_rng(0))
    x = st.tensor(np.full((200, 500), 2.0), requires_grad=True)
    out = drop(x)
    zero_fraction = np.mean(out.numpy() == 0)
    assert zero_fraction == pytest.approx(p, abs=0.005)  # 100 000 draws: std ≈ 0.0015
    np.testing.assert_allclose(out.numpy()[out.numpy() != 0], 2.0 / (1 - p))
    assert out.numpy().mean() == pytest.approx(2.0, rel=0.01)  # inverted dropout keeps the mean
    out.sum().backward()
    np.testing.assert_allclose(x.grad, out.numpy() / 2.0)  # gradient flows through survivors only


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True, float("nan"), None])
def test_dropout_rejects_invalid_p(p):
    """The message names the argument, the value and what was expected."""
    expected = rf"Dropout: p must be .*\[0, 1\], got {re.escape(repr(p))}"
    with pytest.raises(ValueError, match=expected):
        nn.Dropout(p)


def test_dropout_with_p_one_zeroes_everything_like_torch():
    x = st.tensor(np.ones((3, 4)), requires_grad=True)
    out = nn.Dropout(1.0)(x)
    out.sum().backward()
    assert not out.numpy().any() and not x.grad.numpy().any()
    assert not torch.nn.Dropout(1.0)(torch.ones(3, 4)).any()


# ----------------------------------------------------------------- state dicts
def test_state_dict_round_trip():
    a, b = nn.mlp([3, 4, 2]), nn.mlp([3, 4, 2])
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    b.load_state_dict(state)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    state["0.bias"][:] = 99.0  # the state dict's tensors alias the parameters, as torch's
    assert np.all(np.asarray(a[0].bias.detach()) == 99.0)


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = nn.mlp([3, 4, 2])
    before = [p.numpy().copy() for p in model.parameters()]
    state = model.state_dict()
    del state["2.bias"]
    state["3.weight"] = np.zeros((2, 4))
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing" in message and "2.bias" in message
    assert "unexpected" in message and "3.weight" in message
    for p, array in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), array)  # nothing was loaded
    state["0.weight"] = np.full((4, 3), 0.5)
    model.load_state_dict(state, strict=False)  # non-strict loads what matches
    np.testing.assert_array_equal(model[0].weight.numpy(), np.full((4, 3), 0.5))
    np.testing.assert_array_equal(model[2].bias.numpy(), before[3])  # missing: left as it was


def test_load_state_dict_names_shape_mismatches():
    model = nn.mlp([3, 4, 2])
    state = model.state_dict()
    state["0.weight"] = np.zeros((3, 4))  # transposed: Keras' layout, not torch's
    with pytest.raises(ValueError, match=r"0\.weight.*\(3, 4\).*\(4, 3\)"):
        model.load_state_dict(state)


def test_load_state_dict_accepts_torch_weights():
    tnet = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), torch.nn.Linear(4, 2))
    tnet = tnet.double()
    model = nn.mlp([3, 4, 2])
    model.load_state_dict({k: v.detach().numpy() for k, v in tnet.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 3))
    np.testing.assert_allclose(model(st.tensor(x)).numpy(),
                               tnet(torch.from_numpy(x)).detach().numpy(), rtol=1e-13)


# ----------------------------------------------------------------- initialisers
FAN_OUT, FAN_IN = 300, 400


def _weight():
    return nn.Parameter(np.empty((FAN_OUT, FAN_IN)))


@pytest.mark.parametrize("fill, kind, scale", [
    (lambda w, g: init.xavier_uniform_(w, generator=g), "uniform",
     math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (lambda w, g: init.xavier_uniform_(w, gain=init.calculate_gain("tanh"), generator=g),
     "uniform", 5 / 3 * math.sqrt(6 / (FAN_IN + FAN_OUT))),
    (lambda w, g: init.xavier_normal_(w, generator=g), "normal",
     math.sqrt(2 / (FAN_IN + FAN_OUT))),
    (lambda w, g: init.kaiming_uniform_(w, nonlinearity="relu", generator=g), "uniform",
     math.sqrt(6 / FAN_IN)),
    (lambda w, g: init.kaiming_uniform_(w, a=math.sqrt(5), generator=g), "uniform",
     1 / math.sqrt(FAN_IN)),
    (lambda w, g: init.kaiming_normal_(w, nonlinearity="relu", generator=g), "normal",
     math.sqrt(2 / FAN_IN)),
    (lambda w, g: init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu", generator=g),
     "normal", math.sqrt(2 / FAN_OUT)),
], ids=["xavier_uniform", "xavier_uniform_tanh", "xavier_normal", "kaiming_uniform",
        "kaiming_uniform_a_sqrt5", "kaiming_normal", "kaiming_normal_fan_out"])
def test_initialiser_statistics(fill, kind, scale):
    """scale is the bound of U(−b, b) or the std of N(0, std²); 120 000 draws each."""
    w = fill(_weight(), np.random.default_rng(0)).numpy()
    assert abs(w.mean()) < 0.02 * (scale if kind == "normal" else scale / math.sqrt(3))
    if kind == "uniform":
        assert np.abs(w).max() <= scale
        assert np.abs(w).max() > 0.99 * scale
        assert w.std() == pytest.approx(scale / math.sqrt(3), rel=0.01)
    else:
        assert w.std() == pytest.approx(scale, rel=0.01)
        assert np.abs(w).max() > 3 * scale  # tails: a bounded fill would fail this


def test_initialisers_agree_with_torch_statistically():
    tw = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
    torch.manual_seed(0)
    pairs = [
        (init.xavier_normal_, torch.nn.init.xavier_normal_),
        (lambda w, generator: init.kaiming_normal_(w, nonlinearity="relu", generator=generator),
         lambda w: torch.nn.init.kaiming_normal_(w, nonlinearity="relu")),
        (lambda w, generator: init.kaiming_uniform_(w, a=math.sqrt(5), generator=generator),
         lambda w: torch.nn.init.kaiming_uniform_(w, a=math.sqrt(5))),
    ]
    for ours, theirs in pairs:
        w = ours(_weight(), generator=np.random.default_rng(0)).numpy()
        assert w.std() == pytest.approx(theirs(tw).std().item(), rel=0.02)


def test_calculate_gain_matches_torch():
    for name in ("linear", "sigmoid", "tanh", "relu"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2))
    with pytest.raises(ValueError, match="nonlinearity"):
        init.calculate_gain("swish")


def test_fans_of_a_convolution_kernel_count_the_receptive_field_like_torch():
    """(out, in, kh, kw): fan-in in·kh·kw, fan-out out·kh·kw (torch's rule)."""
    shape = (8, 4, 3, 5)
    fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
    assert (fan_in, fan_out) == (4 * 15, 8 * 15)
    w = init.xavier_uniform_(nn.Parameter(np.empty(shape)), generator=np.random.default_rng(0))
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert bound * 0.98 < np.abs(w.numpy()).max() <= bound


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="2 dimensions"):
        init.xavier_uniform_(nn.Parameter(np.zeros(5)))


# ----------------------------------------------------------------- torch's nn surface
@pytest.mark.parametrize("args, name, value", [((True, 3), "in_features", "True"),
                                               ((2, False), "out_features", "False"),
                                               (("2", 3), "in_features", "'2'"),
                                               ((2, -1), "out_features", "-1")])
def test_linear_refuses_non_integer_sizes_naming_argument_and_value(args, name, value):
    with pytest.raises(ValueError, match=rf"Linear: {name} must be a positive integer .*got "
                                         rf"{re.escape(value)}"):
        nn.Linear(*args)


def test_linear_accepts_numpy_integers():
    assert nn.Linear(np.int64(2), np.int32(3)).weight.shape == (3, 2)


def test_load_state_dict_writes_nothing_when_a_late_entry_is_bad():
    """Every entry is checked and converted before the first write (no half-loaded model)."""
    model = nn.mlp([3, 4, 2])
    before = [p.numpy().copy() for p in model.parameters()]
    for bad in (np.array(["a", "b"]), np.zeros(2, complex), np.zeros(3), None, "x"):
        state = {k: np.full(v.shape, 7.0) for k, v in model.state_dict().items()}
        state["2.bias"] = bad
        with pytest.raises(ValueError, match=r"2\.bias"):
            model.load_state_dict(state)
        for p, array in zip(model.parameters(), before):
            np.testing.assert_array_equal(p.numpy(), array)


def test_load_state_dict_converts_numbers_and_tensors():
    model = nn.mlp([2, 1])
    model.load_state_dict({"0.weight": st.tensor([[1, 2]]), "0.bias": np.array([3], np.int32)})
    np.testing.assert_array_equal(model[0].weight.numpy(), [[1.0, 2.0]])
    assert model[0].bias.dtype == np.float32 and model[0].bias.numpy()[0] == 3.0
    with pytest.raises(TypeError, match="dict of arrays.*NoneType"):
        model.load_state_dict(None)


def _named_structure(module):
    return [(name, type(m).__name__) for name, m in module.named_modules()]


def _net_with_containers(nn_):
    """The same model class, written once, for steepest's or torch's nn."""
    class Net(nn_.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn_.ModuleList([nn_.Linear(2, 3), nn_.Linear(3, 3)])
            self.layers.append(nn_.Linear(3, 1))
            self.heads = nn_.ModuleDict({"a": nn_.Linear(1, 2), "b": nn_.Identity()})
            self.heads["c"] = nn_.Linear(1, 1, bias=False)
    return Net()


def test_module_list_and_dict_register_parameters_like_torch():
    ours, theirs = _net_with_containers(nn), _net_with_containers(torch.nn)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    assert [type(m).__name__ for m in ours.modules()] == \
           [type(m).__name__ for m in theirs.modules()]
    assert [type(m).__name__ for m in ours.children()] == ["ModuleList", "ModuleDict"]
    assert len(ours.layers) == 3 and list(ours.heads) == ["a", "b", "c"] and "b" in ours.heads
    assert isinstance(ours.layers[1:], nn.ModuleList) and len(ours.layers[1:]) == 2
    with pytest.raises(TypeError, match=r"ModuleList: entry '3' is a int, expected a Module"):
        ours.layers.append(3)
    with pytest.raises(TypeError, match=r"ModuleDict: entry 'd' is a str"):
        ours.heads["d"] = "relu"


def test_apply_visits_children_before_parents_like_torch():
    seen, seen_torch = [], []
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU(), nn.Linear(3, 1)))
    tmodel = torch.nn.Sequential(torch.nn.Linear(2, 3),
                                 torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(3, 1)))
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    tmodel.apply(lambda m: seen_torch.append(type(m).__name__))
    assert seen == seen_torch

    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.constant_(m.weight, 0.5)
    model.apply(init_weights)
    assert (model[1][1].weight.numpy() == 0.5).all()


def test_requires_grad_freezes_every_parameter():
    model = nn.mlp([2, 3, 1])
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    model.requires_grad_()
    assert all(p.requires_grad for p in model.parameters())


def test_to_accepts_cpu_and_refuses_other_devices_by_name():
    model = nn.mlp([2, 3, 1])
    weight = model[0].weight
    assert model.to("cpu") is model and model.to(device="cpu") is model
    assert model.to(torch.device("cpu")) is model and model.cpu() is model
    assert model[0].weight is weight and weight.dtype == np.float32
    for device in ("cuda", "cuda:0", "mps", torch.device("cuda", 1)):
        with pytest.raises(ValueError, match=rf"device {re.escape(repr(device))} is not "
                                             rf"available.*CPU only"):
            model.to(device)


@pytest.mark.parametrize("dtype", [np.float32, "float32", torch.float32])
def test_to_dtype_converts_parameters_in_place(dtype):
    model = nn.mlp([2, 3, 1])
    weight = model[0].weight
    x = np.ones((1, 2))
    expected = model(st.tensor(x)).numpy()
    model.to("cpu", dtype) if not isinstance(dtype, torch.dtype) else model.float()
    assert model[0].weight is weight and weight.dtype == np.float32
    np.testing.assert_allclose(model(st.tensor(x, dtype=np.float32)).numpy(), expected, rtol=1e-6)
    assert model.double()[0].weight.dtype == np.float64
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got 'int64'"):
        model.to(dtype="int64")


@pytest.mark.parametrize("start, end", [(1, -1), (0, 1), (0, -1), (1, 2), (-2, -1), (2, 2)])
def test_flatten_dims_like_torch(start, end):
    x = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    out = nn.Flatten(start, end)(st.tensor(x))
    expected = torch.nn.Flatten(start, end)(torch.tensor(x))
    assert out.shape == tuple(expected.shape)
    np.testing.assert_array_equal(out.numpy(), expected.numpy())
    assert nn.Flatten()(st.tensor(x)).shape == (2, 60)


def test_flatten_gradient_and_errors():
    x = st.tensor(np.ones((2, 3, 1)), requires_grad=True)
    (nn.Flatten(0, 1)(x) * st.tensor([[1.0]] * 6)).sum().backward()
    assert x.grad.shape == (2, 3, 1)
    with pytest.raises(IndexError, match=r"flatten: axis 3 is out of bounds .* dimension 3"):
        nn.Flatten(3)(x)
    with pytest.raises(ValueError, match=r"start_dim \(2\) must not come after end_dim \(1\)"):
        nn.Flatten(2, 1)(x)


@pytest.mark.parametrize("cls", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_softmax_modules_take_dim(cls, dim):
    x = np.random.default_rng(0).normal(size=(3, 4))
    np.testing.assert_allclose(getattr(nn, cls)(dim=dim)(st.tensor(x)).numpy(),
                               getattr(torch.nn, cls)(dim=dim)(torch.tensor(x)).numpy(),
                               rtol=1e-12)
    np.testing.assert_allclose(getattr(nn, cls)(axis=dim)(st.tensor(x)).numpy(),
                               getattr(torch.nn, cls)(dim=dim)(torch.tensor(x)).numpy(),
                               rtol=1e-12)


def test_identity_ignores_arguments_like_torch():
    x = st.tensor([1.0, 2.0])
    assert nn.Identity(54, unused="x")(x) is x


# ----------------------------------------------------------------- gradient clipping
def _grads_pair(dtype, scale=1.0):
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=s) * scale for s in [(4, 3), (4,), (1, 4)]]
    ours = [st.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
    for o, t, a in zip(ours, theirs, arrays):
        o.grad = a.astype(dtype) * 1.0
        t.grad = torch.tensor(a.astype(dtype))
    return ours, theirs


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
def test_clip_grad_norm_matches_torch(float_dtype, max_norm, norm_type):
    ours, theirs = _grads_pair(float_dtype)
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    tol = {"rtol": 1e-10, "atol": 1e-12} if float_dtype == np.float64 else {"rtol": 1e-5}
    assert isinstance(total, st.Tensor) and total.dtype == float_dtype
    np.testing.assert_allclose(total.item(), expected.item(), **tol)
    for o, t in zip(ours, theirs):
        assert o.grad.dtype == float_dtype
        np.testing.assert_allclose(o.grad, t.grad.numpy(), **tol)


def test_clip_grad_norm_uses_torchs_epsilon():
    """With max_norm equal to the norm, the gradient shrinks by max_norm / (norm + 1e-6)."""
    p = st.tensor([3.0, 4.0], requires_grad=True, dtype=st.float64)
    p.grad = np.array([3.0, 4.0])
    nn.utils.clip_grad_norm_([p], 5.0)
    np.testing.assert_allclose(p.grad, np.array([3.0, 4.0]) * 5.0 / (5.0 + 1e-6), rtol=1e-15)
    assert (p.grad.numpy() < [3.0, 4.0]).all()


def test_clip_grad_norm_skips_missing_grads_and_refuses_nonfinite():
    a = st.tensor([1.0], requires_grad=True, dtype=st.float64)
    b = st.tensor([1.0], requires_grad=True, dtype=st.float64)
    a.grad = np.array([np.inf])
    with pytest.raises(RuntimeError, match="total norm.*inf.*error_if_nonfinite"):
        nn.utils.clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_(b, 1.0).item() == 0.0
    with pytest.raises(ValueError, match="max_norm must be a number, got '1'"):
        nn.utils.clip_grad_norm_([a], "1")


@pytest.mark.parametrize("clip_value", [0.1, 1.0])
def test_clip_grad_value_matches_torch(float_dtype, clip_value):
    ours, theirs = _grads_pair(float_dtype)
    assert nn.utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    for o, t in zip(ours, theirs):
        np.testing.assert_array_equal(o.grad, t.grad.numpy())


def test_flatten_of_an_empty_batch_matches_torch():
    x = np.zeros((0, 3, 2))
    out = nn.Flatten()(st.tensor(x))
    assert out.shape == tuple(torch.nn.Flatten()(torch.tensor(x)).shape) == (0, 6)


def test_load_state_dict_and_init_make_a_graph_of_the_old_weights_stale():
    """torch raises here (copy_ under no_grad bumps the version); the old graph must not
    silently backpropagate with the new weights."""
    layer = nn.Linear(2, 1)
    loss = (layer.weight ** 2).sum()
    layer.load_state_dict({"weight": np.full((1, 2), 5.0), "bias": np.zeros(1)})
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()
    w = st.tensor(np.array([1.0, 2.0]), requires_grad=True)
    loss = (w ** 2).sum()
    nn.init.constant_(w, 5.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        loss.backward()


@pytest.mark.parametrize("norm_type", [0, -1.0, -math.inf])
def test_clip_grad_norm_refuses_orders_that_are_not_sizes(norm_type):
    w = st.tensor(np.ones(3), requires_grad=True)
    w.grad = np.array([1.0, 0.0, 2.0])
    with pytest.raises(ValueError, match="norm_type must be > 0"):
        nn.utils.clip_grad_norm_([w], 1.0, norm_type=norm_type)
    np.testing.assert_array_equal(w.grad, [1.0, 0.0, 2.0])


# ------------------------------------------------------------- layers of the courses (issue 20.6)
TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}


def _torch_copy(module, torch_module):
    """Give ``torch_module`` the parameters and buffers of ``module`` (same values)."""
    torch_module.load_state_dict({k: torch.from_numpy(np.array(v.numpy()))
                                  for k, v in module.state_dict().items()})
    return torch_module


def _compare_grads(module, torch_module, float_dtype):
    tol = {"rtol": 1e-10, "atol": 1e-12} if float_dtype == np.float64 else \
        {"rtol": 1e-5, "atol": 1e-5}
    theirs = dict(torch_module.named_parameters())
    for name, param in module.named_parameters():
        np.testing.assert_allclose(np.asarray(param.grad), theirs[name].grad.numpy(), **tol,
                                   err_msg=name)


def test_embedding_looks_up_rows_and_accumulates_gradients_as_torch(float_dtype):
    emb = nn.Embedding(5, 3, padding_idx=1, dtype=float_dtype)
    assert emb.weight.shape == (5, 3) and emb.weight.dtype == float_dtype
    assert not emb.weight.numpy()[1].any()                 # the padding row starts at zero
    temb = _torch_copy(emb, torch.nn.Embedding(5, 3, padding_idx=1,
                                               dtype=TORCH_DTYPE[float_dtype]))
    idx = [[0, 1, 4], [4, 4, 2]]                            # repeats accumulate; 1 is padding
    out, tout = emb(st.tensor(idx)), temb(torch.tensor(idx))
    assert out.shape == tuple(tout.shape) == (2, 3, 3) and out.dtype == float_dtype
    np.testing.assert_array_equal(out.detach().numpy(), tout.detach().numpy())
    upstream = np.random.default_rng(0).standard_normal((2, 3, 3)).astype(float_dtype)
    out.backward(upstream)
    tout.backward(torch.from_numpy(upstream))
    _compare_grads(emb, temb, float_dtype)
    assert not np.asarray(emb.weight.grad)[1].any()
    for bad in (5, -1):
        with pytest.raises(IndexError, match="index out of range"):
            temb(torch.tensor([bad]))
        with pytest.raises(IndexError, match=r"the table has 5 rows \(indices 0 to 4\)"):
            emb(st.tensor([bad]))
    with pytest.raises(TypeError, match="integer indices"):
        emb(st.tensor([1.0]))


def test_embedding_from_pretrained_is_frozen_as_torch():
    table = st.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=st.float64)
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad
    assert emb(st.tensor([1, 0])).tolist() == [[3.0, 4.0], [1.0, 2.0]]


@pytest.mark.parametrize("kwargs", [{}, {"momentum": None}, {"momentum": 0.3},
                                    {"affine": False}, {"track_running_stats": False}])
@pytest.mark.parametrize("shape", [(8, 3), (6, 3, 4)])
def test_batch_norm_1d_in_training_and_evaluation_as_torch(float_dtype, kwargs, shape):
    bn = nn.BatchNorm1d(3, dtype=float_dtype, **kwargs)
    tbn = _torch_copy(bn, torch.nn.BatchNorm1d(3, dtype=TORCH_DTYPE[float_dtype], **kwargs))
    assert list(bn.state_dict()) == list(tbn.state_dict())
    tol = {"rtol": 1e-10, "atol": 1e-12} if float_dtype == np.float64 else \
        {"rtol": 1e-5, "atol": 1e-5}
    rng = np.random.default_rng(1)
    for step in range(3):
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(float_dtype)
        sx = st.tensor(x, requires_grad=True)
        tx = torch.tensor(x, requires_grad=True)
        out, tout = bn(sx), tbn(tx)
        assert out.dtype == float_dtype and out.shape == tuple(tout.shape)
        np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **tol)
        upstream = rng.standard_normal(shape).astype(float_dtype)
        out.backward(upstream)
        tout.backward(torch.from_numpy(upstream))
        np.testing.assert_allclose(np.asarray(sx.grad), tx.grad.numpy(), **tol)
    if bn.affine:
        _compare_grads(bn, tbn, float_dtype)
    for key, value in tbn.state_dict().items():
        np.testing.assert_allclose(bn.state_dict()[key].numpy(), value.numpy(), **tol,
                                   err_msg=key)
    bn.eval()
    tbn.eval()
    x = rng.standard_normal(shape).astype(float_dtype)
    np.testing.assert_allclose(bn(st.tensor(x)).detach().numpy(),
                               tbn(torch.tensor(x)).detach().numpy(), **tol)


def test_batch_norm_refuses_one_value_per_channel_in_training_and_wrong_channels():
    bn = nn.BatchNorm1d(3, dtype=st.float64)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(st.zeros(1, 3, dtype=st.float64))
    with pytest.raises(ValueError, match="expected 3 channels"):
        bn(st.zeros(4, 2, dtype=st.float64))
    bn.eval()
    assert bn(st.zeros(1, 3, dtype=st.float64)).shape == (1, 3)   # fine in evaluation


def test_batch_norm_buffers_follow_to_dtype_and_load_from_torch():
    tbn = torch.nn.BatchNorm1d(2).double()
    tbn(torch.randn(5, 2, dtype=torch.float64))
    bn = nn.BatchNorm1d(2, dtype=st.float32)
    result = bn.load_state_dict({k: v.numpy() for k, v in tbn.state_dict().items()})
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_allclose(bn.running_var.numpy(), tbn.running_var.numpy(), rtol=1e-6)
    assert int(bn.num_batches_tracked) == 1
    bn.double()
    assert bn.running_mean.dtype == np.float64 and bn.num_batches_tracked.dtype == np.int64
    assert [name for name, _ in bn.named_buffers()] == ["running_mean", "running_var",
                                                         "num_batches_tracked"]
    assert len(list(bn.parameters())) == 2


@pytest.mark.parametrize("normalized_shape,kwargs", [
    (4, {}), ((3, 4), {}), (4, {"elementwise_affine": False}), (4, {"bias": False}),
])
def test_layer_norm_as_torch(float_dtype, normalized_shape, kwargs):
    ln = nn.LayerNorm(normalized_shape, dtype=float_dtype, **kwargs)
    tln = torch.nn.LayerNorm(normalized_shape, dtype=TORCH_DTYPE[float_dtype], **kwargs)
    rng = np.random.default_rng(2)
    with st.no_grad(), torch.no_grad():
        for param, tparam in zip(ln.parameters(), tln.parameters()):
            values = rng.standard_normal(param.shape).astype(float_dtype)
            param.copy_(st.tensor(values))
            tparam.copy_(torch.from_numpy(values))
    x = rng.standard_normal((2, 3, 4)).astype(float_dtype)
    sx, tx = st.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, tout = ln(sx), tln(tx)
    tol = {"rtol": 1e-10, "atol": 1e-12} if float_dtype == np.float64 else \
        {"rtol": 1e-5, "atol": 1e-5}
    np.testing.assert_allclose(out.detach().numpy(), tout.detach().numpy(), **tol)
    upstream = rng.standard_normal(x.shape).astype(float_dtype)
    out.backward(upstream)
    tout.backward(torch.from_numpy(upstream))
    np.testing.assert_allclose(np.asarray(sx.grad), tx.grad.numpy(), **tol)
    _compare_grads(ln, tln, float_dtype)


@pytest.mark.parametrize("make", [
    lambda m, **kw: m.nn.Linear(2, 3, **kw), lambda m, **kw: m.nn.Embedding(4, 2, **kw),
    lambda m, **kw: m.nn.BatchNorm1d(3, **kw), lambda m, **kw: m.nn.LayerNorm(3, **kw),
], ids=["Linear", "Embedding", "BatchNorm1d", "LayerNorm"])
def test_layers_accept_torch_factory_keywords(make):
    layer = make(st, device="cpu", dtype=st.float32)
    assert all(p.dtype == np.float32 for p in layer.parameters())
    make(torch, device="cpu", dtype=torch.float32)
    with pytest.raises(ValueError, match="device 'cuda' is not available"):
        make(st, device="cuda")


def test_activation_modules_accept_inplace_false():
    for m in (st, torch):
        m.nn.ReLU(inplace=False)
        m.nn.LeakyReLU(0.1, inplace=False)
        m.nn.Dropout(0.5, inplace=False)
    with pytest.raises(NotImplementedError, match="inplace=True is not supported"):
        nn.ReLU(inplace=True)


# ------------------------------------------------------------- state dicts as torch's (22.13, 24)
def _pair_of_models():
    layers = [(nn.Linear(2, 3, dtype=st.float64), torch.nn.Linear(2, 3).double()),
              (nn.ReLU(), torch.nn.ReLU()),
              (nn.Linear(3, 1, dtype=st.float64), torch.nn.Linear(3, 1).double())]
    return nn.Sequential(*[a for a, _ in layers]), torch.nn.Sequential(*[b for _, b in layers])


def test_a_slice_of_sequential_keeps_its_keys_as_torch():
    model, tmodel = _pair_of_models()
    assert list(model[1:].state_dict()) == list(tmodel[1:].state_dict()) == ["2.weight",
                                                                               "2.bias"]
    assert model[1:][1] is model[2] and len(model[::2]) == 2


def test_a_module_shared_twice_keeps_both_key_sets_as_torch():
    shared, tshared = nn.Linear(2, 2, dtype=st.float64), torch.nn.Linear(2, 2).double()
    model, tmodel = nn.Sequential(shared, nn.ReLU(), shared), \
        torch.nn.Sequential(tshared, torch.nn.ReLU(), tshared)
    assert list(model.state_dict()) == list(tmodel.state_dict())
    assert len(list(model.parameters())) == len(list(tmodel.parameters())) == 2
    result = model.load_state_dict({k: v.detach().numpy() for k, v in
                                     tmodel.state_dict().items()})
    assert result == ([], [])
    np.testing.assert_array_equal(shared.weight.detach().numpy(), tshared.weight.detach().numpy())


def test_state_dict_tensors_alias_the_parameters_as_torch():
    model, tmodel = _pair_of_models()
    state, tstate = model.state_dict(), tmodel.state_dict()
    assert isinstance(state["0.weight"], st.Tensor) and not state["0.weight"].requires_grad
    state["0.bias"].fill_(3.0)
    tstate["0.bias"].fill_(3.0)
    assert model[0].bias.tolist() == tmodel[0].bias.tolist() == [3.0, 3.0, 3.0]
    snapshot = __import__("copy").deepcopy(model.state_dict())   # a copy, as in torch
    with st.no_grad():
        model[0].bias.fill_(0.0)
    assert snapshot["0.bias"].tolist() == [3.0, 3.0, 3.0]


def test_load_state_dict_returns_missing_and_unexpected_keys_as_torch():
    model, tmodel = _pair_of_models()
    state = {k: v.detach().numpy() for k, v in tmodel.state_dict().items()}
    assert model.load_state_dict(state) == tmodel.load_state_dict(tmodel.state_dict())
    del state["2.bias"]
    state["extra"] = np.zeros(1)
    ours = model.load_state_dict(state, strict=False)
    theirs = tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()},
                                    strict=False)
    assert ours.missing_keys == theirs.missing_keys == ["2.bias"]
    assert ours.unexpected_keys == theirs.unexpected_keys == ["extra"]


def test_sequential_from_an_ordered_dict_and_list_operations_as_torch():
    from collections import OrderedDict

    def build(m):
        return m.nn.Sequential(OrderedDict([("fc", m.nn.Linear(2, 3)), ("act", m.nn.ReLU())]))
    model, tmodel = build(st), build(torch)
    assert list(model.state_dict()) == list(tmodel.state_dict()) == ["fc.weight", "fc.bias"]
    assert isinstance(model.fc, nn.Linear) and isinstance(model[1], nn.ReLU)

    def grow(m, seq):
        seq.append(m.nn.Linear(3, 4))
        seq.insert(1, m.nn.Tanh())
        seq.extend([m.nn.Sigmoid(), m.nn.Linear(4, 1)])
        seq[0] = m.nn.Linear(2, 3)
        del seq[2]
        return [type(layer).__name__ for layer in seq], list(seq.state_dict())
    assert grow(st, nn.Sequential(nn.Linear(2, 3), nn.ReLU())) == \
        grow(torch, torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU()))
    seq, tseq = nn.Sequential(nn.ReLU(), nn.Tanh(), nn.Sigmoid()), \
        torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Sigmoid())
    del seq[0:2]
    del tseq[0:2]
    assert [type(x).__name__ for x in seq] == [type(x).__name__ for x in tseq] == ["Sigmoid"]
    assert list(seq._modules) == list(tseq._modules) == ["0"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]


# ----------------------------------------------------------------- init (22.23, 24)
def test_calculate_gain_selu_and_friends_as_torch():
    for name in ("selu", "conv3d", "conv_transpose2d", "tanh", "relu", "sigmoid", "linear"):
        assert init.calculate_gain(name) == pytest.approx(torch.nn.init.calculate_gain(name))
    assert init.calculate_gain("leaky_relu", 0.2) == \
        pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2))


@pytest.mark.parametrize("name", ["kaiming_uniform_", "kaiming_normal_"])
def test_kaiming_on_an_empty_tensor_warns_and_returns_it_as_torch(name):
    empty = st.zeros(0, 3, dtype=st.float64)
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        assert getattr(init, name)(empty) is empty
    with pytest.warns(UserWarning, match="zero-element tensors is a no-op"):
        getattr(torch.nn.init, name)(torch.zeros(0, 3))


def test_state_dict_prefix_and_keep_vars_as_torch():
    model, tmodel = _pair_of_models()
    assert list(model.state_dict(prefix="net.")) == list(tmodel.state_dict(prefix="net."))
    kept, tkept = model.state_dict(keep_vars=True), tmodel.state_dict(keep_vars=True)
    assert kept["0.weight"] is model[0].weight and tkept["0.weight"] is tmodel[0].weight


def test_module_list_insert_delete_and_pop_as_torch():
    def edit(m):
        modules = m.nn.ModuleList([m.nn.ReLU(), m.nn.Tanh(), m.nn.Linear(2, 2)])
        modules.insert(1, m.nn.Sigmoid())
        del modules[0]
        popped = modules.pop(1)
        modules[-1] = m.nn.Linear(2, 3)
        return ([type(x).__name__ for x in modules], type(popped).__name__,
                list(modules.state_dict()), list(modules._modules))
    assert edit(st) == edit(torch)
    with pytest.raises(IndexError, match="ModuleList.insert: index must be an int from -1 to 1"):
        nn.ModuleList([nn.ReLU()]).insert(5, nn.Tanh())
