"""Muon with auxiliary AdamW (one optimizer for a whole MLP) against torch.optim.Muon on the
weight matrices plus torch.optim.AdamW on the biases, and its catalogue entry on every
surface."""

import copy

import numpy as np
import pytest
import torch

import steepest as st
from steepest import optim
from test_optim import mlp_problem  # the shared tanh MLP, same weights in both libraries
from test_optim_new import MUON_TOLERANCE  # exact where torch's bfloat16 kernels are known

class TorchMuonWithAuxAdamW:
    """The reference: torch.optim.Muon over the matrices plus torch.optim.AdamW over the rest."""

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 adamw_lr=1e-3, adamw_betas=(0.9, 0.999), adamw_eps=1e-8,
                 adamw_weight_decay=1e-2, **muon):
        params = list(params)
        matrices = [p for p in params if p.ndim == 2]
        others = [p for p in params if p.ndim != 2]
        self.parts = []
        if matrices:
            self.parts.append(torch.optim.Muon(matrices, lr=lr, weight_decay=weight_decay,
                                               momentum=momentum, nesterov=nesterov, **muon))
        if others:
            self.parts.append(torch.optim.AdamW(others, lr=adamw_lr, betas=adamw_betas,
                                                eps=adamw_eps, weight_decay=adamw_weight_decay,
                                                foreach=False))

    def zero_grad(self):
        for part in self.parts:
            part.zero_grad()

    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for part in self.parts:
            part.step()
        return loss


def run_against_torch(dtype, kwargs, steps=100):
    """Largest relative deviation of (matrices, others) over the run; both libraries step
    with torch's gradients (bfloat16 rounding would amplify last-bit gradient differences)."""
    params, tparams, _, tloss = mlp_problem(dtype, sizes=(3, 16, 8, 2))
    opt = optim.MuonWithAuxAdamW(params, **kwargs)
    topt = TorchMuonWithAuxAdamW(tparams, **{k: v for k, v in kwargs.items()
                                             if k != "ns_precision"})
    worst = {True: 0.0, False: 0.0}
    for _ in range(steps):
        topt.zero_grad()
        tloss().backward()
        for p, q in zip(params, tparams):
            p.grad = q.grad.numpy().copy()
        opt.step()
        topt.step()
        for p, q in zip(params, tparams):
            expected = q.detach().numpy()
            gap = float(np.max(np.abs(p.detach().numpy() - expected)) / np.max(np.abs(expected)))
            worst[q.ndim == 2] = max(worst[q.ndim == 2], gap)
    return worst[True], worst[False]


CASES = [dict(lr=0.02, adamw_lr=0.01),
         dict(lr=0.02, momentum=0.9, nesterov=False, weight_decay=0.0, adamw_lr=0.005,
              adamw_betas=(0.8, 0.95), adamw_eps=1e-6, adamw_weight_decay=0.1),
         dict(lr=0.01, adjust_lr_fn="match_rms_adamw", ns_steps=3, adamw_lr=0.01)]


@pytest.mark.parametrize("kwargs", CASES, ids=["default", "options", "adamw-rms"])
def test_matrices_step_as_torchs_muon_and_the_rest_as_torchs_adamw(kwargs):
    matrices, others = run_against_torch(np.float64, kwargs)
    assert matrices < MUON_TOLERANCE and others < 1e-10
    matrices, others = run_against_torch(np.float32, kwargs)
    assert matrices < max(MUON_TOLERANCE, 1e-5) and others < 1e-5


def test_the_float64_newton_schulz_moves_only_the_matrices_off_torch():
    matrices, others = run_against_torch(np.float64, dict(lr=0.02, adamw_lr=0.01,
                                                          ns_precision="float64"), steps=20)
    assert matrices > 1e-4 and others < 1e-10


def test_state_is_kept_per_parameter_and_a_resumed_run_equals_the_uninterrupted_one():
    def problem():
        model = st.nn.mlp([3, 8, 2], activation="tanh", dtype=st.float64,
                          generator=np.random.default_rng(4))
        x = np.random.default_rng(5).standard_normal((16, 3))
        y = np.arange(16) % 2
        return model, lambda: st.losses.cross_entropy(model(st.tensor(x)), y)

    def steps(opt, loss, n):
        for _ in range(n):
            opt.zero_grad()
            loss().backward()
            opt.step()

    model, loss = problem()
    opt = optim.MuonWithAuxAdamW(model.parameters(), lr=0.02, adamw_lr=0.01)
    steps(opt, loss, 10)
    saved, weights = opt.state_dict(), copy.deepcopy(model.state_dict())
    keys = [sorted(saved["state"][i]) for i in range(4)]
    assert keys == [["momentum_buffer"], ["exp_avg", "exp_avg_sq", "step"]] * 2
    assert saved["param_groups"][0]["adamw_lr"] == 0.01
    steps(opt, loss, 10)
    resumed_model, resumed_loss = problem()
    resumed_model.load_state_dict(weights)
    resumed = optim.MuonWithAuxAdamW(resumed_model.parameters())
    resumed.load_state_dict(saved)
    assert resumed.param_groups[0]["lr"] == 0.02
    steps(resumed, resumed_loss, 10)
    for mine, theirs in zip(resumed_model.parameters(), model.parameters()):
        np.testing.assert_array_equal(mine.detach().numpy(), theirs.detach().numpy())


@pytest.mark.parametrize("kwargs, message", [
    (dict(adamw_lr=-1.0), r"MuonWithAuxAdamW: invalid adamw_lr -1.0; expected a number >= 0"),
    (dict(adamw_betas=(0.9, 1.0)), r"invalid adamw_betas\[1\] \(beta2\) 1.0"),
    (dict(momentum=-0.5), r"invalid momentum -0.5"),
])
def test_bad_settings_name_the_argument(kwargs, message):
    with pytest.raises(ValueError, match=message):
        optim.MuonWithAuxAdamW(st.nn.mlp([2, 3, 1]).parameters(), **kwargs)
