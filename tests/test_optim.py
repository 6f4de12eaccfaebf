"""The optimizers against torch.optim (the truth), step for step, and their bookkeeping.

Trajectories: 50 steps on (a) a 3-8-8-2 tanh MLP with cross-entropy on fixed data (torch's
nn.Linear gets steepest's initial weights) and (b) the Rosenbrock function from (−1.2, 1).
float64 runs are end to end (each library computes its own gradients) and must agree to
1e-10 relative; float32 runs give both optimizers torch's gradients, so that only the
optimizers are compared (end to end, Adam-like rules amplify the engines' last-bit gradient
differences where a gradient crosses zero), and must agree to 1e-5.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import steepest as st
from steepest import optim
from steepest.nn import Parameter

torch.set_num_threads(1)

STEPS = 50

# (optimizer, keyword arguments, learning rate on Rosenbrock if it differs)
CASES = [
    ("SGD", dict(lr=0.05), 5e-4),
    ("SGD", dict(lr=0.05, momentum=0.9), 5e-4),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5), 5e-4),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True), 5e-4),
    ("SGD", dict(lr=0.05, weight_decay=0.1), 5e-4),
    ("SGD", dict(lr=0.05, maximize=True), 5e-4),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1, nesterov=True, maximize=True), 5e-4),
    ("RMSprop", dict(lr=0.01), None),
    ("RMSprop", dict(lr=0.01, momentum=0.9), None),
    ("RMSprop", dict(lr=0.01, centered=True), None),
    ("RMSprop", dict(lr=0.01, weight_decay=0.1), None),
    ("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-6, centered=True, momentum=0.5,
                     weight_decay=0.1, maximize=True), None),
    ("Adam", dict(lr=0.01), None),
    ("Adam", dict(lr=0.01, weight_decay=0.1), None),
    ("Adam", dict(lr=0.01, amsgrad=True), None),
    ("Adam", dict(lr=0.01, maximize=True), None),
    ("Adam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6), None),  # lerp weight >= 0.5 branch
    ("AdamW", dict(lr=0.01), None),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True, maximize=True), None),
    ("Adagrad", dict(lr=0.1), None),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1), None),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1), None),
    ("Adagrad", dict(lr=0.1, initial_accumulator_value=0.5), None),
    ("Adagrad", dict(lr=0.1, maximize=True), None),
]


def _case_id(case):
    name, kwargs, _ = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items() if k != "lr")


def _torch_dtype(dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def mlp_problem(dtype, sizes=(3, 8, 8, 2)):
    """A tanh MLP in both libraries with the same weights, data and loss."""
    net = st.nn.mlp(list(sizes), activation="tanh", dtype=dtype,
                    generator=np.random.default_rng(1))
    layers = []
    for i in range(len(sizes) - 1):
        layers += [torch.nn.Linear(sizes[i], sizes[i + 1]), torch.nn.Tanh()]
    tnet = torch.nn.Sequential(*layers[:-1]).to(_torch_dtype(dtype))
    with torch.no_grad():
        for t_layer, s_layer in zip(tnet[::2], net[::2]):
            t_layer.weight.copy_(torch.from_numpy(s_layer.weight.numpy().copy()))
            t_layer.bias.copy_(torch.from_numpy(s_layer.bias.numpy().copy()))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((16, sizes[0])).astype(dtype)
    y = rng.integers(0, sizes[-1], 16)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    return (list(net.parameters()), list(tnet.parameters()),
            lambda: st.losses.cross_entropy(net(st.tensor(x)), y),
            lambda: torch.nn.functional.cross_entropy(tnet(xt), yt))


def rosenbrock_problem(dtype):
    """f(x, y) = (1 − x)² + 100 (y − x²)² from (−1.2, 1) in both libraries."""
    p = Parameter(np.array([-1.2, 1.0], dtype=dtype))
    q = torch.tensor([-1.2, 1.0], dtype=_torch_dtype(dtype), requires_grad=True)

    def f(v):
        return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2
    return [p], [q], lambda: f(p), lambda: f(q)


def deviation(params, tparams) -> float:
    """max |Δ| / max |w_torch| over all parameters (a run that left the finite numbers fails)."""
    worst = 0.0
    for p, q in zip(params, tparams):
        expected = q.detach().numpy()
        assert np.all(np.isfinite(expected)), "torch's run diverged: choose a smaller lr"
        scale = max(float(np.max(np.abs(expected))), 1e-300)
        worst = max(worst, float(np.max(np.abs(p.detach().numpy() - expected))) / scale)
    return worst


#: torch's single-tensor loop: the update order steepest follows
NO_FOREACH = {"foreach": False}


def run_against_torch(problem, name, kwargs, dtype, share_grads=False, steps=STEPS,
                      torch_kwargs=None):
    """Run both optimizers; return the largest relative deviation over the run (``deviation``).

    ``torch_kwargs`` go to torch's optimizer only, and steepest's own ``ns_precision`` to
    steepest's only. maximize=True runs maximize −f, so the trajectories stay bounded (and equal
    f's).
    """
    params, tparams, loss, tloss = problem(dtype)
    opt = getattr(optim, name)(params, **kwargs)
    kwargs = {k: v for k, v in kwargs.items() if k != "ns_precision"}
    topt = getattr(torch.optim, name)(tparams, **kwargs, **(torch_kwargs or {}))
    sign = -1.0 if kwargs.get("maximize") else 1.0
    worst = 0.0
    for _ in range(steps):
        topt.zero_grad()
        (tloss() * sign).backward()
        opt.zero_grad()
        if share_grads:
            for p, q in zip(params, tparams):
                p.grad = q.grad.numpy().copy()
        else:
            (loss() * sign).backward()
        grads_before = [np.array(p.grad, copy=True) for p in params]
        opt.step()
        topt.step()
        for p, g in zip(params, grads_before):
            assert p.dtype == dtype, "the parameter changed dtype"
            np.testing.assert_array_equal(np.asarray(p.grad), g, err_msg="step() modified .grad")
        worst = max(worst, deviation(params, tparams))
    return worst


# float64: each library its own gradients, to 1e-10. float32: both optimizers are fed torch's
# gradients (last-bit gradient differences are amplified where a gradient crosses zero), 1e-5.
PRECISIONS = [(np.float64, False, 1e-10), (np.float32, True, 1e-5)]


@pytest.mark.parametrize("dtype, share_grads, tolerance", PRECISIONS,
                         ids=["float64", "float32"])
@pytest.mark.parametrize("problem", [mlp_problem, rosenbrock_problem], ids=["mlp", "rosenbrock"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_trajectory_matches_torch(case, problem, dtype, share_grads, tolerance):
    name, kwargs, rosen_lr = case
    if problem is rosenbrock_problem and rosen_lr is not None:
        kwargs = {**kwargs, "lr": rosen_lr}
    assert run_against_torch(problem, name, kwargs, dtype, share_grads=share_grads,
                             torch_kwargs=NO_FOREACH) < tolerance


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_blocked_updates_match_torch(case, monkeypatch):
    """Large parameters are updated in cache-sized blocks: with blocks of 5 elements (so the
    MLP's 8x8 weights split into blocks of 5, 5, ..., 4) the trajectory must not change."""
    monkeypatch.setattr(optim.Optimizer, "block_size", 5)
    name, kwargs, _ = case
    assert run_against_torch(mlp_problem, name, kwargs, np.float64, torch_kwargs=NO_FOREACH) < 1e-10


def test_float32_end_to_end_sgd_matches_torch():
    """With each library's own float32 gradients, plain SGD still follows torch closely."""
    assert run_against_torch(mlp_problem, "SGD", dict(lr=0.05, momentum=0.9), np.float32,
                             torch_kwargs=NO_FOREACH) < 1e-5


# ----------------------------------------------------------------- bookkeeping
def _quadratic_step(params, opt):
    """One step on Σ_p Σ (p − 1)², with gradient 2(p − 1) for every parameter."""
    opt.zero_grad()
    total = None
    for p in params:
        term = ((p - 1.0) ** 2).sum()
        total = term if total is None else total + term
    total.backward()
    opt.step()


def test_param_groups_with_their_own_lr_match_torch():
    a, b = Parameter(np.array([1.0, -2.0])), Parameter(np.array([[0.5, 3.0]]))
    ta, tb = (torch.tensor(x.numpy().copy(), requires_grad=True) for x in (a, b))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.01}], lr=0.1, momentum=0.9)
    topt = torch.optim.SGD([{"params": [ta]}, {"params": [tb], "lr": 0.01}], lr=0.1,
                           momentum=0.9, foreach=False)
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[1]["lr"] == 0.01
    for _ in range(10):
        _quadratic_step([a, b], opt)
        topt.zero_grad()
        (((ta - 1) ** 2).sum() + ((tb - 1) ** 2).sum()).backward()
        topt.step()
    np.testing.assert_allclose(a.numpy(), ta.detach().numpy(), rtol=1e-14)
    np.testing.assert_allclose(b.numpy(), tb.detach().numpy(), rtol=1e-14)


@pytest.mark.parametrize("name", ["SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "GD"])
def test_params_without_grad_do_not_move_and_frozen_ones_with_a_grad_do(name):
    """torch steps every parameter whose .grad is not None, frozen or not (issue 22 item 8)."""
    used, unused, frozen = (Parameter(np.array([2.0, -1.0])) for _ in range(3))
    frozen.requires_grad_(False)
    kwargs = {"momentum": 0.9} if name == "SGD" else {}
    opt = getattr(optim, name)([used, unused, frozen], lr=0.1, **kwargs)
    start_unused, start_frozen = unused.numpy().copy(), frozen.numpy().copy()
    opt.zero_grad()
    ((used - 1.0) ** 2).sum().backward()
    opt.step()
    np.testing.assert_array_equal(frozen.numpy(), start_frozen)  # no .grad: not stepped
    assert frozen not in opt.state
    for _ in range(2):
        opt.zero_grad()
        ((used - 1.0) ** 2).sum().backward()
        frozen.grad = np.ones(2)  # a gradient on a frozen parameter: stepped, as in torch
        opt.step()
    assert unused.grad is None
    np.testing.assert_array_equal(unused.numpy(), start_unused)
    assert np.all(frozen.numpy() < start_frozen)
    assert not np.array_equal(used.numpy(), [2.0, -1.0])
    assert unused not in opt.state and frozen in opt.state


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
], ids=["SGD", "RMSprop", "Adam", "AdamW", "Adagrad"])
def test_state_dict_resume_equals_uninterrupted_run(name, kwargs):
    check_resume_equals_uninterrupted_run(name, kwargs)


def check_resume_equals_uninterrupted_run(name, kwargs,
                                          params_of=lambda model: model.parameters()):
    """20 steps in one go equal 10, a checkpoint (state_dict) loaded into a fresh model and
    optimizer, and 10 more: the weights and the optimizer's state, bit for bit."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3))
    y = rng.integers(0, 2, 32)

    def make(seed):
        model = st.nn.mlp([3, 8, 2], activation="tanh", generator=np.random.default_rng(seed))
        return model, getattr(optim, name)(params_of(model), **kwargs)

    def train(model, opt, steps):
        for _ in range(steps):
            opt.zero_grad()
            st.losses.cross_entropy(model(st.tensor(x)), y).backward()
            opt.step()

    model, opt = make(1)
    train(model, opt, 20)

    model_a, opt_a = make(1)
    train(model_a, opt_a, 10)
    # the model's state_dict aliases the weights, as torch's: a checkpoint copies it
    model_state, opt_state = copy.deepcopy(model_a.state_dict()), opt_a.state_dict()
    train(model_a, opt_a, 3)  # the optimizer's checkpoint must not change when training goes on
    model_b, opt_b = make(99)
    model_b.load_state_dict(model_state)
    opt_b.load_state_dict(opt_state)
    train(model_b, opt_b, 10)
    for (key, p), q in zip(model.named_parameters(), model_b.parameters()):
        assert np.array_equal(p.numpy(), q.numpy()), key
    saved = opt.state_dict()
    for index, state in opt_b.state_dict()["state"].items():
        for key, value in state.items():
            assert np.array_equal(value, saved["state"][index][key]), key


def test_state_buffers_are_updated_in_place_and_keep_float32():
    model = st.nn.mlp([3, 4, 2], dtype=np.float32, generator=np.random.default_rng(0))
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True, weight_decay=0.1)
    x = np.random.default_rng(1).standard_normal((5, 3)).astype(np.float32)
    arrays = [p.numpy() for p in model.parameters()]
    buffers = None
    for _ in range(3):
        opt.zero_grad()
        st.losses.mse(model(st.tensor(x)), np.zeros((5, 2), np.float32)).backward()
        opt.step()
        current = [(id(s["exp_avg"]), id(s["exp_avg_sq"]), id(s["max_exp_avg_sq"]))
                   for s in opt.state.values()]
        assert buffers is None or current == buffers
        buffers = current
    for p, array in zip(model.parameters(), arrays):
        assert p.numpy() is array and p.dtype == np.float32
        state = opt.state[p]
        assert all(state[k].dtype == np.float32 for k in ("exp_avg", "exp_avg_sq"))


def test_gd_equals_sgd_with_defaults():
    a, b = Parameter(np.array([3.0, -1.0])), Parameter(np.array([3.0, -1.0]))
    gd, sgd = optim.GD([a], lr=0.1), optim.SGD([b], lr=0.1)
    for _ in range(5):
        _quadratic_step([a], gd)
        _quadratic_step([b], sgd)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_defaults_match_torch():
    p = [Parameter(np.zeros(2))]
    tp = [torch.zeros(2, requires_grad=True)]
    for name in ("SGD", "RMSprop", "Adam", "AdamW", "Adagrad"):
        ours, theirs = getattr(optim, name)(p).defaults, getattr(torch.optim, name)(tp).defaults
        for key, value in ours.items():
            assert theirs[key] == value, (name, key)


def test_step_with_closure_returns_the_loss():
    p = Parameter(np.array([2.0]))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = ((p - 1.0) ** 2).sum()
        loss.backward()
        return loss
    loss = opt.step(closure)
    assert loss.item() == pytest.approx(1.0)
    assert p.numpy()[0] == pytest.approx(2.0 - 0.1 * 2.0)


@pytest.mark.parametrize("name, kwargs, mentions", [
    ("SGD", dict(lr=-0.1), "lr"),
    ("SGD", dict(momentum=-0.5), "momentum"),
    ("SGD", dict(weight_decay=-1.0), "weight_decay"),
    ("SGD", dict(nesterov=True), "nesterov"),
    ("SGD", dict(momentum=0.9, dampening=0.1, nesterov=True), "nesterov"),
    ("RMSprop", dict(alpha=-0.1), "alpha"),
    ("RMSprop", dict(eps=-1e-8), "eps"),
    ("RMSprop", dict(momentum=-1.0), "momentum"),
    ("Adam", dict(betas=(1.0, 0.999)), "beta1"),
    ("Adam", dict(betas=(0.9, -0.1)), "beta2"),
    ("Adam", dict(eps=-1.0), "eps"),
    ("Adam", dict(lr=float("nan")), "lr"),
    ("AdamW", dict(weight_decay=-0.01), "weight_decay"),
    ("Adagrad", dict(lr_decay=-0.1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1.0), "initial_accumulator_value"),
    ("Adagrad", dict(eps=-1.0), "eps"),
])
def test_invalid_hyperparameters_raise_naming_the_argument(name, kwargs, mentions):
    with pytest.raises(ValueError, match=mentions):
        getattr(optim, name)([Parameter(np.zeros(2))], **kwargs)


def test_invalid_group_hyperparameter_is_checked_too():
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([{"params": [Parameter(np.zeros(1))], "momentum": -1.0}], lr=0.1)


def test_invalid_parameter_lists_raise_naming_the_problem():
    p = Parameter(np.zeros(2))
    with pytest.raises(TypeError, match="single Tensor"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 is computed by an op"):
        optim.SGD([p * 2.0], lr=0.1)
    with pytest.raises(ValueError, match="parameter 0 appears in more than one group"):
        optim.SGD([{"params": [p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['betas'\]"):
        optim.SGD([{"params": [p], "betas": (0.9, 0.99)}], lr=0.1)


def test_zero_grad_keeps_the_buffers_when_not_set_to_none():
    p = Parameter(np.array([1.0, 2.0]))
    opt = optim.SGD([p], lr=0.1)
    (p * p).sum().backward()
    grad = p.grad
    opt.zero_grad(set_to_none=False)
    assert p.grad is grad
    np.testing.assert_array_equal(grad, [0.0, 0.0])
    opt.zero_grad()
    assert p.grad is None


def test_load_state_dict_checks_groups_and_buffer_shapes():
    def stepped(shape):
        p = Parameter(np.ones(shape))
        opt = optim.Adam([p], lr=0.1)
        (p * p).sum().backward()
        opt.step()
        return opt

    state = stepped((2, 3)).state_dict()
    with pytest.raises(ValueError, match=r"state 'exp_avg' of parameter 0 has shape \(2, 3\), "
                                         r"the parameter has shape \(3, 2\)"):
        stepped((3, 2)).load_state_dict(state)
    two_groups = optim.Adam([{"params": [Parameter(np.ones(1))]},
                             {"params": [Parameter(np.ones(1))]}])
    with pytest.raises(ValueError, match="1 parameter groups, this optimizer has 2"):
        two_groups.load_state_dict(state)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_lerp_is_exact_at_both_ends_like_torch_lerp(dtype):
    """torch.lerp's two formulas make weight 0 give start and weight 1 give end exactly
    (start + 1·(end − start) alone would not), e.g. Adam with beta1 = 0 keeps m = g."""
    from steepest.optim.optimizer import _lerp_
    rng = np.random.default_rng(0)
    start, end = rng.standard_normal((2, 1000)).astype(dtype)
    assert not np.array_equal(start + (end - start), end)  # the single formula is not exact
    for weight, expected in ((0.0, start), (1.0, end)):
        value = start.copy()
        _lerp_(value, end, weight, np.empty_like(value))
        np.testing.assert_array_equal(value, expected)


# ------------------------------------------------------------------ issue 12: checked inputs
@pytest.mark.parametrize("name", ["GD", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad"])
@pytest.mark.parametrize("flat", [True, False])
def test_gradient_of_the_wrong_shape_or_dtype_is_refused_naming_the_parameter(name, flat):
    a = Parameter(np.zeros((2, 3)))
    b = Parameter(np.zeros(3))
    b.name = "bias"
    opt = getattr(optim, name)([a, b], lr=0.1)
    opt.flat_storage = flat
    a.grad = np.ones((2, 3))
    with pytest.raises(RuntimeError, match=r"grad: assigned a gradient of shape \(1,\)"):
        b.grad = np.ones(1)  # the .grad setter refuses it, as torch's does
    b._grad = np.ones(1)  # the optimizer still checks arrays put there underneath
    with pytest.raises(ValueError, match=r"parameter 1 of group 0 \('bias'\) has shape \(3,\), "
                                         r"but its .grad has shape \(1,\)"):
        opt.step()
    b._grad = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match=r"parameter 1 .* dtype float64, but its .grad has "
                                        r"dtype float32"):
        opt.step()
    b._grad = [1.0, 1.0, 1.0]
    with pytest.raises(TypeError, match=r"parameter 1 .* \.grad of type list"):
        opt.step()
    assert not a.numpy().any() and not b.numpy().any()  # nothing moved, not even parameter 0


def test_a_bad_gradient_in_a_later_group_stops_the_whole_step():
    a, b = Parameter(np.zeros(2)), Parameter(np.zeros(3))
    opt = optim.SGD([{"params": [a]}, {"params": [b]}], lr=0.1)
    a.grad, b._grad = np.ones(2), np.ones((3, 1))
    with pytest.raises(ValueError, match=r"parameter 0 of group 1 has shape \(3,\)"):
        opt.step()
    assert not a.numpy().any()


def test_optimizer_of_none_names_the_argument():
    with pytest.raises(TypeError, match=r"SGD: params must be an iterable .* got None of "
                                        r"type NoneType"):
        optim.SGD(None, lr=0.1)


def _stepped(name, **kwargs):
    p = Parameter(np.array([1.0, -2.0]))
    opt = getattr(optim, name)([p], **kwargs)
    (p * p).sum().backward()
    opt.step()
    return opt


@pytest.mark.parametrize("source, target", [("SGD", "Adam"), ("Adam", "SGD"),
                                            ("SGD", "GD"), ("Adagrad", "RMSprop")])
def test_load_state_dict_refuses_another_optimizers_state(source, target):
    saved = _stepped(source, lr=0.1).state_dict()
    opt = _stepped(target, lr=0.1)
    before = opt.state_dict()
    with pytest.raises(ValueError, match=f"is not the state of a {target}"):
        opt.load_state_dict(saved)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    assert all(np.array_equal(v, after["state"][0][k]) for k, v in before["state"][0].items())


def test_load_state_dict_validates_values_and_changes_nothing_on_error():
    opt = _stepped("Adam", lr=0.1)
    good = opt.state_dict()
    bad = opt.state_dict()
    bad["param_groups"][0]["lr"] = -5
    bad["state"][0]["exp_avg"] = bad["state"][0]["exp_avg"] + 1.0
    fresh = _stepped("Adam", lr=0.2)
    before = fresh.state_dict()
    with pytest.raises(ValueError, match=r"Adam: invalid learning rate lr -5; expected a number"):
        fresh.load_state_dict(bad)
    assert fresh.param_groups[0]["lr"] == 0.2
    assert np.array_equal(fresh.state_dict()["state"][0]["exp_avg"],
                          before["state"][0]["exp_avg"])
    fresh.load_state_dict(good)
    assert fresh.param_groups[0]["lr"] == 0.1


@pytest.mark.parametrize("bad, got", [(None, "got None"),
                                      ({"state": {}}, r"got a dict with keys \['state'\]"),
                                      ([1, 2], r"got \[1, 2\]")])
def test_load_state_dict_of_a_non_state_names_the_argument(bad, got):
    with pytest.raises(TypeError, match=r"SGD.load_state_dict: state_dict must be a dict with "
                                        r"'state' .* and 'param_groups' .*" + got):
        _stepped("SGD", lr=0.1).load_state_dict(bad)


def test_load_state_dict_keeps_scheduler_entries():
    opt = _stepped("SGD", lr=0.1, momentum=0.9)
    optim.lr_scheduler.OneCycleLR(opt, max_lr=0.5, total_steps=10)
    fresh = _stepped("SGD", lr=0.1, momentum=0.9)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.param_groups[0]["max_lr"] == 0.5
