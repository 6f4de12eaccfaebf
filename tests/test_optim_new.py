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

import functools

import numpy as np
import pytest
import torch

from steepest import optim
from steepest.nn import Parameter
import test_optim
from test_optim import _case_id, deviation, mlp_problem, rosenbrock_problem  # shared

STEPS = 100

try:  # torch's bfloat16 matmul on CPUs with AVX512-BF16/AMX: the order steepest emulates
    with open("/proc/cpuinfo") as _info:
        BF16_KERNELS = "avx512_bf16" in _info.read()
except OSError:
    BF16_KERNELS = False
#: Muon against torch: exact on such CPUs; elsewhere an occasional bfloat16 rounding differs
MUON_TOLERANCE = 1e-10 if BF16_KERNELS else 1e-3


def _array(param) -> np.ndarray:
    return param.detach().numpy()


#: test_optim's comparison with torch, over this file's ``STEPS`` unless told
run_against_torch = functools.partial(test_optim.run_against_torch, steps=STEPS)


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


RESUME = [("NAdam", dict(lr=0.01, decoupled_weight_decay=True, weight_decay=0.1)),
          ("RAdam", dict(lr=0.01)), ("Adamax", dict(lr=0.01)), ("Adadelta", dict()),
          ("Rprop", dict()), ("ASGD", dict(lr=0.05, t0=3)), ("Adafactor", dict()),
          ("Muon", dict(lr=0.02))]


@pytest.mark.parametrize("name, kwargs", RESUME, ids=[r[0] for r in RESUME])
def test_state_dict_resume_equals_uninterrupted_run(name, kwargs):
    matrices = (lambda model: [p for p in model.parameters() if p.ndim == 2]) \
        if name == "Muon" else (lambda model: model.parameters())
    test_optim.check_resume_equals_uninterrupted_run(name, kwargs, matrices)


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


# ----------------------------------------------------------------- Muon
def muon_problem(dtype):
    """The MLP's weight matrices (Muon steps 2-D parameters only); biases are left alone."""
    params, tparams, loss, tloss = mlp_problem(dtype, sizes=(3, 16, 8, 2))
    return params[0::2], tparams[0::2], loss, tloss


MUON_CASES = [dict(lr=0.02), dict(lr=0.02, nesterov=False, weight_decay=0.0),
              dict(lr=0.02, momentum=0.9, adjust_lr_fn="match_rms_adamw", ns_steps=3)]


@pytest.mark.parametrize("kwargs", MUON_CASES, ids=["default", "no-nesterov", "adamw-rms"])
def test_muon_matches_torch_bfloat16_newton_schulz(kwargs):
    """torch runs Newton–Schulz in bfloat16; the emulation gives the same bits, so 100 steps
    on shared gradients agree to 1e-10 (a float64 iteration is ~1e-2 away)."""
    assert run_against_torch(muon_problem, "Muon", kwargs, np.float64,
                             share_grads=True) < MUON_TOLERANCE
    assert run_against_torch(muon_problem, "Muon", kwargs, np.float32,
                             share_grads=True) < max(MUON_TOLERANCE, 1e-5)


@pytest.mark.skipif(not BF16_KERNELS, reason="torch's bfloat16 sums differ on this CPU")
def test_newton_schulz_gives_torchs_bits_for_small_matrices():
    from torch.optim._muon import _zeropower_via_newtonschulz
    rng = np.random.default_rng(0)
    for shape in [(8, 16), (16, 3), (2, 8), (3, 8), (9, 7), (16, 12)] * 5:
        g = rng.standard_normal(shape)
        expected = _zeropower_via_newtonschulz(torch.from_numpy(g), optim.muon.NS_COEFFICIENTS,
                                               5, 1e-7).double().numpy()
        np.testing.assert_array_equal(optim.muon.newton_schulz(g), expected)


def test_muon_float64_newton_schulz_is_the_same_iteration_without_rounding():
    far = run_against_torch(muon_problem, "Muon", dict(lr=0.02, ns_precision="float64"),
                            np.float64, share_grads=True, steps=5)
    assert 1e-5 < far < 1e-1
    rng = np.random.default_rng(3)
    g = rng.standard_normal((6, 4))
    exact = optim.muon.newton_schulz(g, precision="float64")
    singular = np.linalg.svd(exact, compute_uv=False)
    assert np.all((singular > 0.6) & (singular < 1.3)), singular  # near-orthogonal
    rounded = optim.muon.newton_schulz(g)
    np.testing.assert_array_equal(optim.muon.to_bfloat16(rounded), rounded)


def test_bfloat16_rounding_matches_torch():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.standard_normal(10000) * 10.0 ** rng.integers(-30, 30, 10000),
                        [0.0, -0.0, np.inf, -np.inf, 1 + 2 ** -8, 1 + 3 * 2 ** -8]])
    expected = torch.from_numpy(x).bfloat16().float().numpy()
    np.testing.assert_array_equal(optim.muon.to_bfloat16(x), expected)
    assert np.isnan(optim.muon.to_bfloat16(np.nan))


def test_muon_refuses_parameters_that_are_not_matrices_as_torch_does():
    with pytest.raises(ValueError, match="parameter 1 has shape \\(3,\\).*2-D"):
        optim.Muon([Parameter(np.zeros((3, 3))), Parameter(np.zeros(3))])
    with pytest.raises(ValueError):
        torch.optim.Muon([torch.zeros(3, requires_grad=True)])


# ----------------------------------------------------------------- LBFGS
LBFGS_CASES = [dict(max_iter=3), dict(max_iter=3, history_size=2, lr=0.5),
               dict(max_iter=3, line_search_fn="strong_wolfe"),
               dict(max_iter=2, line_search_fn="strong_wolfe", history_size=1)]


def _closure(opt, loss):
    """The closure LBFGS calls: zero the gradients, evaluate ``loss()``, backward."""
    def closure():
        opt.zero_grad()
        value = loss()
        value.backward()
        return value
    return closure


def run_lbfgs(problem, kwargs, outer_steps, strict=True):
    """Outer steps of both LBFGS with closures; returns the relative deviation after each
    (strict: the losses and the counts of iterations and evaluations must agree too)."""
    params, tparams, loss, tloss = problem(np.float64)
    opt, topt = optim.LBFGS(params, **kwargs), torch.optim.LBFGS(tparams, **kwargs)
    closure, tclosure = _closure(opt, loss), _closure(topt, tloss)
    deviations = []
    for _ in range(outer_steps):
        ours, theirs = float(opt.step(closure)), float(topt.step(tclosure).detach())
        assert not strict or abs(ours - theirs) <= 1e-8 * abs(theirs)
        deviations.append(deviation(params, tparams))
    state, tstate = opt.state[params[0]], topt.state[tparams[0]]
    assert not strict or (state["func_evals"], state["n_iter"]) == (tstate["func_evals"],
                                                                     tstate["n_iter"])
    return deviations


@pytest.mark.parametrize("problem", [mlp_problem, rosenbrock_problem], ids=["mlp", "rosenbrock"])
@pytest.mark.parametrize("kwargs", LBFGS_CASES, ids=[str(k) for k in LBFGS_CASES])
def test_lbfgs_matches_torch_over_a_few_outer_steps(kwargs, problem):
    assert max(run_lbfgs(problem, kwargs, 4)) < 1e-8


def test_lbfgs_defaults_stay_close_for_a_while():
    """With the defaults (20 inner iterations), last-bit differences of the dot products are
    fed back into the step lengths. Measured: the first outer step agrees to ~1e-14
    (3e-13 with the line search), later ones drift to ~1e-7 on the MLP, 1e-10 on Rosenbrock."""
    for problem in (mlp_problem, rosenbrock_problem):
        for kwargs in ({}, dict(line_search_fn="strong_wolfe")):
            deviations = run_lbfgs(problem, kwargs, 6, strict=False)
            assert deviations[0] < 1e-11
            assert max(deviations) < 1e-5


def test_lbfgs_minimises_rosenbrock_and_needs_a_closure():
    p = Parameter(np.array([-1.2, 1.0]))
    opt = optim.LBFGS([p], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        value = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        value.backward()
        return value
    for _ in range(10):
        opt.step(closure)
    np.testing.assert_allclose(_array(p), [1.0, 1.0], atol=1e-4)
    with pytest.raises(TypeError, match="closure"):
        opt.step()
    with pytest.raises(ValueError, match="one list of parameters"):
        optim.LBFGS([{"params": [p]}, {"params": [Parameter(np.zeros(2))]}])


@pytest.mark.parametrize("kwargs", [dict(max_iter=3), dict(max_iter=3, history_size=2,
                                                            line_search_fn="strong_wolfe")])
def test_lbfgs_loads_torchs_state_dict_and_continues_like_torch(kwargs):
    """torch's LBFGS state (history lists of tensors, 0-d tensors) loads into ours."""
    params, tparams, loss, tloss = rosenbrock_problem(np.float64)
    topt = torch.optim.LBFGS(tparams, **kwargs)
    tclosure = _closure(topt, tloss)
    for _ in range(3):
        topt.step(tclosure)
    params[0].detach().numpy()[...] = tparams[0].detach().numpy()
    opt = optim.LBFGS(params, **kwargs)
    opt.load_state_dict(topt.state_dict())
    state = opt.state[params[0]]
    assert all(isinstance(s, np.ndarray) for s in state["old_dirs"])
    closure = _closure(opt, loss)
    for _ in range(3):
        opt.step(closure)
        topt.step(tclosure)
    assert deviation(params, tparams) < 1e-8


def test_lbfgs_state_dict_resume_equals_uninterrupted_run():
    def make():
        p = Parameter(np.array([-1.2, 1.0]))
        opt = optim.LBFGS([p], max_iter=3, history_size=3)

        def closure():
            opt.zero_grad()
            value = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
            value.backward()
            return value
        return p, opt, closure
    p, opt, closure = make()
    for _ in range(6):
        opt.step(closure)
    q, opt_q, closure_q = make()
    for _ in range(3):
        opt_q.step(closure_q)
    saved, at = opt_q.state_dict(), _array(q).copy()
    opt_q.step(closure_q)  # the saved history must not change when training goes on
    r, opt_r, closure_r = make()
    r.detach().numpy()[...] = at
    opt_r.load_state_dict(saved)
    for _ in range(3):
        opt_r.step(closure_r)
    np.testing.assert_array_equal(_array(r), _array(p))


# ----------------------------------------------------------------- issue 22
def test_frozen_parameter_with_a_gradient_is_stepped_as_torch_steps_it():
    """Issue 22 item 8: SGD momentum 0.9, frozen at step 2, zero_grad(set_to_none=False):
    torch steps every parameter whose .grad is not None, so momentum keeps moving it."""
    for flat in (True, False):
        w, other = Parameter(np.array([1.0, 2.0])), Parameter(np.array([0.5, -1.0]))
        tw, tother = (torch.tensor(_array(x).copy(), requires_grad=True) for x in (w, other))
        opt = optim.SGD([w, other], lr=0.1, momentum=0.9)
        opt.flat_storage = flat
        topt = torch.optim.SGD([tw, tother], lr=0.1, momentum=0.9)
        for step in range(6):
            if step == 2:
                w.requires_grad_(False)
                tw.requires_grad_(False)
            opt.zero_grad(set_to_none=False)
            topt.zero_grad(set_to_none=False)
            loss = (other ** 2).sum() + ((w ** 2).sum() if w.requires_grad else 0.0)
            loss.backward()
            tloss = (tother ** 2).sum() + ((tw ** 2).sum() if tw.requires_grad else 0.0)
            tloss.backward()
            opt.step()
            topt.step()
        np.testing.assert_allclose(_array(w), tw.detach().numpy(), rtol=1e-14)
        np.testing.assert_allclose(_array(other), tother.detach().numpy(), rtol=1e-14)
        assert not np.allclose(_array(w), [1.0, 2.0])  # it moved


@pytest.mark.parametrize("name, kwargs", [
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("SGD", dict(lr=0.05)),  # torch saves momentum_buffer None
    ("Adam", dict(lr=0.01, amsgrad=True)), ("AdamW", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01))], ids=lambda v: v if isinstance(v, str) else "")
def test_torch_state_dict_of_the_older_optimizers_loads(name, kwargs):
    """Issue 22 item 24: torch's saved state (foreach/fused/differentiable/capturable keys,
    tensors as state, a float32 tensor as step) loads, and the runs continue together."""
    test_torch_state_dict_loads_and_continues_like_torch(name, kwargs)
