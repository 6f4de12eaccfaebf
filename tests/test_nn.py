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
    layer = nn.Linear(3, 4, generator=np.random.default_rng(0))
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (4,)
    x = np.random.default_rng(1).standard_normal((5, 3))
    expected = torch.nn.functional.linear(torch.from_numpy(x), torch.from_numpy(layer.weight.data),
                                          torch.from_numpy(layer.bias.data)).numpy()
    out = layer(st.tensor(x))
    assert out.shape == (5, 4)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14)
    single = layer(st.tensor(x[0]))  # one sample without a batch axis, as torch allows
    np.testing.assert_allclose(single.data, expected[0], rtol=1e-14)


def test_linear_gradients_match_torch():
    layer = nn.Linear(3, 2, generator=np.random.default_rng(0))
    x = np.random.default_rng(1).standard_normal((6, 3))
    w = torch.tensor(layer.weight.data, requires_grad=True)
    b = torch.tensor(layer.bias.data, requires_grad=True)
    torch.nn.functional.linear(torch.from_numpy(x), w, b).pow(2).sum().backward()
    (layer(st.tensor(x)) ** 2).sum().backward()
    np.testing.assert_allclose(layer.weight.grad, w.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad, b.grad.numpy(), rtol=1e-13)


def test_linear_without_bias():
    layer = nn.Linear(3, 2, bias=False)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.ones((1, 3))
    np.testing.assert_allclose(layer(st.tensor(x)).data, x @ layer.weight.data.T)


def test_linear_default_init_is_uniform_within_one_over_sqrt_fan_in():
    layer = nn.Linear(400, 500, generator=np.random.default_rng(0))
    bound = 1 / math.sqrt(400)
    for values in (layer.weight.data, layer.bias.data):
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.98 * bound  # fills the whole interval
    w = layer.weight.data
    assert abs(w.mean()) < 0.01 * bound
    assert w.std() == pytest.approx(bound / math.sqrt(3), rel=0.01)  # std of U(−b, b)


def test_linear_init_is_reproducible_with_manual_seed():
    st.manual_seed(123)
    a = nn.mlp([3, 5, 2])
    st.manual_seed(123)
    b = nn.mlp([3, 5, 2])
    c = nn.mlp([3, 5, 2])
    for p, q, r in zip(a.parameters(), b.parameters(), c.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
        assert not np.array_equal(q.data, r.data)
    d = nn.Linear(3, 2, generator=np.random.default_rng(7))
    e = nn.Linear(3, 2, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(d.weight.data, e.weight.data)


def test_linear_dtype_and_invalid_sizes():
    assert nn.Linear(2, 3, dtype=np.float32).weight.dtype == np.float32
    assert nn.Linear(2, 3).weight.dtype == np.float64
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
    with pytest.raises(TypeError, match="Sequential: layer 1 is a function"):
        nn.Sequential(nn.ReLU(), st.relu)
    with pytest.raises(TypeError, match="Sequential: layer 2 is a function"):
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
    assert np.abs(model[0].weight.data).max() <= bound
    assert not model[0].bias.data.any()


# ----------------------------------------------------------------- Dropout
def test_dropout_is_the_identity_in_eval_mode():
    drop = nn.Dropout(0.4).eval()
    x = st.tensor(np.random.default_rng(0).standard_normal((10, 10)))
    np.testing.assert_array_equal(drop(x).data, x.data)


def test_dropout_zeroes_a_fraction_p_and_scales_survivors():
    p = 0.3
    drop = nn.Dropout(p, generator=np.random.default_rng(0))
    x = st.tensor(np.full((200, 500), 2.0), requires_grad=True)
    out = drop(x)
    zero_fraction = np.mean(out.data == 0)
    assert zero_fraction == pytest.approx(p, abs=0.005)  # 100 000 draws: std ≈ 0.0015
    np.testing.assert_allclose(out.data[out.data != 0], 2.0 / (1 - p))
    assert out.data.mean() == pytest.approx(2.0, rel=0.01)  # inverted dropout keeps the mean
    out.sum().backward()
    np.testing.assert_allclose(x.grad, out.data / 2.0)  # gradient flows through survivors only


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5", True, float("nan"), None])
def test_dropout_rejects_invalid_p(p):
    """The message names the argument, the value and what was expected."""
    with pytest.raises(ValueError, match=rf"Dropout: p must be .*\[0, 1\], got {re.escape(repr(p))}"):
        nn.Dropout(p)


def test_dropout_with_p_one_zeroes_everything_like_torch():
    x = st.tensor(np.ones((3, 4)), requires_grad=True)
    out = nn.Dropout(1.0)(x)
    out.sum().backward()
    assert not out.data.any() and not x.grad.any()
    assert not torch.nn.Dropout(1.0)(torch.ones(3, 4)).any()


# ----------------------------------------------------------------- state dicts
def test_state_dict_round_trip():
    a, b = nn.mlp([3, 4, 2]), nn.mlp([3, 4, 2])
    state = a.state_dict()
    assert list(state) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    b.load_state_dict(state)
    for p, q in zip(a.parameters(), b.parameters()):
        np.testing.assert_array_equal(p.data, q.data)
    state["0.bias"][:] = 99.0  # the state dict holds copies
    assert not np.any(a[0].bias.data == 99.0)


def test_load_state_dict_names_missing_and_unexpected_keys():
    model = nn.mlp([3, 4, 2])
    before = [p.data.copy() for p in model.parameters()]
    state = model.state_dict()
    del state["2.bias"]
    state["3.weight"] = np.zeros((2, 4))
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    message = str(error.value)
    assert "missing" in message and "2.bias" in message
    assert "unexpected" in message and "3.weight" in message
    for p, array in zip(model.parameters(), before):
        np.testing.assert_array_equal(p.data, array)  # nothing was loaded
    state["0.weight"] = np.full((4, 3), 0.5)
    model.load_state_dict(state, strict=False)  # non-strict loads what matches
    np.testing.assert_array_equal(model[0].weight.data, np.full((4, 3), 0.5))
    np.testing.assert_array_equal(model[2].bias.data, before[3])  # missing: left as it was


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
    np.testing.assert_allclose(model(st.tensor(x)).data,
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
    w = fill(_weight(), np.random.default_rng(0)).data
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
        w = ours(_weight(), generator=np.random.default_rng(0)).data
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
    assert bound * 0.98 < np.abs(w.data).max() <= bound


def test_fans_need_two_dimensions():
    with pytest.raises(ValueError, match="2 dimensions"):
        init.xavier_uniform_(nn.Parameter(np.zeros(5)))
