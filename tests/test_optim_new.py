"""The optimizers added for issue 21 against torch.optim (the truth), step for step.

Trajectories on (a) a 3-8-8-2 tanh MLP with cross-entropy on fixed data (torch's nn.Linear
gets steepest's initial weights) and (b) the Rosenbrock function from (−1.2, 1):
* float64, 100 steps, both optimizers fed torch's gradients (only the optimizers are
  compared): 1e-10 relative;
* float64, 50 steps end to end (each library its own gradients): 1e-10. Longer end-to-end
  runs are not a test of the optimizer: NAdam at lr 0.01 on the MLP turns unstable near step
  55 and doubles any last-bit gradient difference every step (6e-8 by step 100), while the
  same run on shared gradients stays within 4e-16;
* float32, 100 steps on torch's gradients: 1e-5.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import steepest as st
from steepest import optim
from steepest.nn import Parameter

torch.set_num_threads(1)

STEPS = 100


def _torch_dtype(dtype):
    return torch.float64 if dtype == np.float64 else torch.float32


def _array(param) -> np.ndarray:
    return param.detach().numpy()


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
            t_layer.weight.copy_(torch.from_numpy(_array(s_layer.weight).copy()))
            t_layer.bias.copy_(torch.from_numpy(_array(s_layer.bias).copy()))
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
        worst = max(worst, float(np.max(np.abs(_array(p) - expected))) / scale)
    return worst


def run_against_torch(problem, name, kwargs, dtype, share_grads=False, steps=STEPS,
                      torch_kwargs=None):
    """Run both optimizers; return the largest relative deviation over the run.

    maximize=True runs maximize −f, so the trajectories stay bounded (and equal f's).
    """
    params, tparams, loss, tloss = problem(dtype)
    opt = getattr(optim, name)(params, **kwargs)
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


# (optimizer, keyword arguments, lr on Rosenbrock if it differs, torch-only keyword arguments)
CASES = [
    ("NAdam", dict(lr=0.01), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.1), None),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), None),
    ("NAdam", dict(lr=0.01, momentum_decay=0.01, maximize=True), None),
    ("NAdam", dict(lr=0.01, betas=(0.3, 0.9), eps=1e-6), None),
    ("RAdam", dict(lr=0.01), 1e-3),
    ("RAdam", dict(lr=0.01, weight_decay=0.1), 1e-3),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True), 1e-3),
    ("RAdam", dict(lr=0.01, betas=(0.5, 0.9), maximize=True), 1e-3),
    ("Adamax", dict(lr=0.01), None),
    ("Adamax", dict(lr=0.01, weight_decay=0.1, eps=1e-6), None),
    ("Adamax", dict(lr=0.01, betas=(0.3, 0.9), maximize=True), None),
    ("Adadelta", dict(lr=1.0), None),
    ("Adadelta", dict(lr=0.5, rho=0.5, eps=1e-4, weight_decay=0.1), None),
    ("Adadelta", dict(lr=1.0, maximize=True), None),
    ("Rprop", dict(lr=0.01), None),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-4, 0.1)), None),
    ("Rprop", dict(lr=0.01, maximize=True), None),
    ("ASGD", dict(lr=0.05), 5e-4),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, t0=10, weight_decay=0.1), 5e-4),
    ("ASGD", dict(lr=0.05, t0=0, maximize=True), 5e-4),
    ("Adafactor", dict(lr=0.01), None),
    ("Adafactor", dict(lr=0.01, beta2_decay=-0.5, d=2.0, weight_decay=0.1), None),
    ("Adafactor", dict(lr=0.01, eps=(1e-3, 1e-2), maximize=True), None),
]


def _case_id(case):
    name, kwargs, _ = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kwargs.items() if k != "lr")


def _torch_only(name):
    return {} if name == "Adafactor" else {"foreach": False}


PRECISIONS = [(np.float64, True, STEPS, 1e-10), (np.float64, False, 50, 1e-10),
              (np.float32, True, STEPS, 1e-5)]


@pytest.mark.parametrize("dtype, share_grads, steps, tolerance", PRECISIONS,
                         ids=["float64", "float64-own-grads", "float32"])
@pytest.mark.parametrize("problem", [mlp_problem, rosenbrock_problem], ids=["mlp", "rosenbrock"])
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_trajectory_matches_torch(case, problem, dtype, share_grads, steps, tolerance):
    name, kwargs, rosen_lr = case
    if problem is rosenbrock_problem and rosen_lr is not None:
        kwargs = {**kwargs, "lr": rosen_lr}
    worst = run_against_torch(problem, name, kwargs, dtype, share_grads=share_grads,
                              steps=steps, torch_kwargs=_torch_only(name))
    assert worst < tolerance


@pytest.mark.parametrize("case", CASES[::3], ids=[_case_id(c) for c in CASES[::3]])
def test_per_parameter_path_and_blocks_match_torch(case, monkeypatch):
    """The same runs without flat storage, and with blocks of 5 elements."""
    monkeypatch.setattr(optim.Optimizer, "block_size", 5)
    monkeypatch.setattr(optim.Optimizer, "flat_storage", False)
    name, kwargs, _ = case
    assert run_against_torch(mlp_problem, name, kwargs, np.float64, share_grads=True,
                             torch_kwargs=_torch_only(name)) < 1e-10


@pytest.mark.parametrize("name", [c[0] for c in CASES[::3]] + ["Muon"])
def test_defaults_match_torch(name):
    w = Parameter(np.zeros((2, 2)))
    ours = getattr(optim, name)([w]).defaults
    theirs = getattr(torch.optim, name)([torch.zeros(2, 2, requires_grad=True)]).defaults
    for key, value in ours.items():
        if key == "ns_precision":  # steepest's own option (Muon in float64)
            continue
        expected = theirs[key]
        assert (tuple(value) if isinstance(value, (list, tuple)) else value) == (
            tuple(expected) if isinstance(expected, (list, tuple)) else expected), key


def _train(model, opt, x, y, steps):
    for _ in range(steps):
        opt.zero_grad()
        st.losses.cross_entropy(model(st.tensor(x)), y).backward()
        opt.step()


RESUME = [("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
          ("RAdam", dict(lr=0.01)), ("Adamax", dict(lr=0.01)), ("Adadelta", dict()),
          ("Rprop", dict()), ("ASGD", dict(lr=0.05, t0=3)), ("Adafactor", dict()),
          ("Muon", dict(lr=0.02))]


@pytest.mark.parametrize("name, kwargs", RESUME, ids=[r[0] for r in RESUME])
def test_state_dict_resume_equals_uninterrupted_run(name, kwargs):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3))
    y = rng.integers(0, 2, 32)

    def make(seed):
        model = st.nn.mlp([3, 8, 2], activation="tanh", generator=np.random.default_rng(seed))
        params = [p for p in model.parameters() if p.ndim == 2] if name == "Muon" else (
            model.parameters())
        return model, getattr(optim, name)(params, **kwargs)

    model, opt = make(1)
    _train(model, opt, x, y, 20)
    model_a, opt_a = make(1)
    _train(model_a, opt_a, x, y, 10)
    model_state, opt_state = model_a.state_dict(), opt_a.state_dict()
    _train(model_a, opt_a, x, y, 3)  # the checkpoint must not change when training goes on
    model_b, opt_b = make(99)
    model_b.load_state_dict(model_state)
    opt_b.load_state_dict(opt_state)
    _train(model_b, opt_b, x, y, 10)
    for (key, p), q in zip(model.named_parameters(), model_b.parameters()):
        assert np.array_equal(_array(p), _array(q)), key


@pytest.mark.parametrize("name, kwargs", RESUME, ids=[r[0] for r in RESUME])
def test_torch_state_dict_loads_and_continues_like_torch(name, kwargs):
    """A torch optimizer's state dict (tensors, foreach/differentiable/... keys) loads into
    ours; both then continue from the same point to the same trajectory."""
    params, tparams, loss, tloss = mlp_problem(np.float64)
    if name == "Muon":
        params, tparams = params[0::2], tparams[0::2]
    topt = getattr(torch.optim, name)(tparams, **kwargs)
    for _ in range(5):
        topt.zero_grad()
        tloss().backward()
        topt.step()
    with torch.no_grad():
        for p, q in zip(params, tparams):
            p.detach().numpy()[...] = q.numpy()
    opt = getattr(optim, name)(params, **kwargs)
    opt.load_state_dict(topt.state_dict())
    for _ in range(10):
        topt.zero_grad()
        tloss().backward()
        topt.step()
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert deviation(params, tparams) < 1e-10
