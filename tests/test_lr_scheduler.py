"""Learning-rate schedulers against torch.optim.lr_scheduler: the same lr sequence each step."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst

from steepest import optim
from steepest.nn import Parameter
from steepest.optim import lr_scheduler

STEPS = 100

SCHEDULERS = [
    ("StepLR", dict(step_size=7, gamma=0.5)),
    ("MultiStepLR", dict(milestones=[10, 25, 25, 60], gamma=0.3)),
    ("ExponentialLR", dict(gamma=0.95)),
    ("CosineAnnealingLR", dict(T_max=30)),                  # goes past T_max: the lr rises again
    ("CosineAnnealingLR", dict(T_max=100, eta_min=0.001)),
    ("LinearLR", dict()),
    ("LinearLR", dict(start_factor=0.1, end_factor=0.5, total_iters=40)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS)),
    ("OneCycleLR", dict(max_lr=[0.5, 0.05], epochs=10, steps_per_epoch=10, pct_start=0.25,
                        anneal_strategy="linear", three_phase=True)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=STEPS, cycle_momentum=False, div_factor=10.0,
                        final_div_factor=100.0)),
    ("LambdaLR", dict(lr_lambda=lambda t: 0.97 ** t * (1 + t % 3))),
    ("LambdaLR", dict(lr_lambda=[lambda t: 1 / (1 + t), lambda t: math.sqrt(t + 1)])),
    ("MultiplicativeLR", dict(lr_lambda=lambda t: 0.9 if t % 4 else 1.05)),
    ("ConstantLR", dict()),
    ("ConstantLR", dict(factor=0.3, total_iters=17)),
    ("PolynomialLR", dict()),
    ("PolynomialLR", dict(total_iters=60, power=2.5)),
    ("CosineAnnealingWarmRestarts", dict(T_0=10)),
    ("CosineAnnealingWarmRestarts", dict(T_0=7, T_mult=2, eta_min=0.001)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=10)),
    ("CyclicLR", dict(base_lr=[0.01, 0.001], max_lr=[0.1, 0.05], step_size_up=7,
                      step_size_down=13, mode="triangular2", base_momentum=0.7)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=9, mode="exp_range",
                      gamma=0.99)),
    ("CyclicLR", dict(base_lr=0.01, max_lr=0.1, step_size_up=5, cycle_momentum=False,
                      scale_fn=lambda x: 0.5 ** (x / 10), scale_mode="iterations")),
]


def _pair(lrs=(0.1, 0.02), optimizer="SGD", **kwargs):
    """The same optimizer in both libraries, one parameter per group, no gradients."""
    ours = getattr(optim, optimizer)(
        [{"params": [Parameter(np.zeros(2))], "lr": lr} for lr in lrs], **kwargs)
    theirs = getattr(torch.optim, optimizer)(
        [{"params": [torch.zeros(2, requires_grad=True)], "lr": lr} for lr in lrs], **kwargs)
    return ours, theirs


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("name, kwargs", SCHEDULERS,
                         ids=[f"{n}-{i}" for i, (n, _) in enumerate(SCHEDULERS)])
def test_lr_sequence_matches_torch(name, kwargs):
    opt, topt = _pair(momentum=0.9)
    sched = getattr(lr_scheduler, name)(opt, **kwargs)
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
    ours, theirs = [sched.get_last_lr()], [tsched.get_last_lr()]
    momenta, tmomenta = [_momenta(opt)], [_momenta(topt)]
    for _ in range(STEPS):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        ours.append(sched.get_last_lr())
        theirs.append(tsched.get_last_lr())
        momenta.append(_momenta(opt))
        tmomenta.append(_momenta(topt))
    np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0)
    np.testing.assert_allclose(momenta, tmomenta, rtol=1e-15, atol=0)
    assert [g["lr"] for g in opt.param_groups] == ours[-1]


def test_one_cycle_cycles_adams_beta1_like_torch():
    opt, topt = _pair(optimizer="Adam")
    sched = lr_scheduler.OneCycleLR(opt, max_lr=0.01, total_steps=50)
    tsched = torch.optim.lr_scheduler.OneCycleLR(topt, max_lr=0.01, total_steps=50)
    for _ in range(50):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)
        assert opt.param_groups[0]["betas"] == pytest.approx(topt.param_groups[0]["betas"],
                                                             rel=1e-15)
    with pytest.raises(ValueError, match="total_steps"):
        sched.step()


def _metrics():
    """Falls, then plateaus with noise, then worsens: every branch of ReduceLROnPlateau."""
    rng = np.random.default_rng(0)
    values = [1.0 / (1 + i) for i in range(20)]
    values += list(0.05 + 0.001 * rng.standard_normal(40))
    values += list(0.05 + 0.002 * np.arange(40))
    return [float(v) for v in values]


@pytest.mark.parametrize("kwargs", [
    dict(),
    dict(patience=3, factor=0.5),
    dict(patience=2, factor=0.5, cooldown=4, threshold=1e-2, threshold_mode="abs"),
    dict(patience=1, factor=0.2, min_lr=[1e-3, 1e-4]),
    dict(mode="max", patience=2, factor=0.5, threshold=0.05),
    dict(patience=0, factor=0.9, eps=1e-3),
], ids=["defaults", "patience3", "abs-cooldown", "min_lr", "max", "eps"])
def test_reduce_lr_on_plateau_matches_torch(kwargs):
    opt, topt = _pair()
    sched = lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kwargs)
    ours, theirs = [], []
    metrics = _metrics()
    if kwargs.get("mode") == "max":
        metrics = [1.0 - m for m in metrics]  # an accuracy-like metric that rises
    for metric in metrics:
        sched.step(metric)
        tsched.step(metric)
        ours.append(sched.get_last_lr())
        theirs.append(tsched.get_last_lr())
    assert ours == theirs
    assert len({tuple(lr) for lr in ours}) > 1, "the lr never changed: the test is too weak"


@pytest.mark.parametrize("name, kwargs", [
    ("StepLR", dict(step_size=5)),
    ("CosineAnnealingLR", dict(T_max=20)),
    ("LinearLR", dict(total_iters=30)),
    ("OneCycleLR", dict(max_lr=0.5, total_steps=60)),
])
def test_state_dict_resume_continues_the_schedule(name, kwargs):
    def make():
        opt = optim.SGD([Parameter(np.zeros(2))], lr=0.1, momentum=0.9)
        return opt, getattr(lr_scheduler, name)(opt, **kwargs)

    opt, sched = make()
    full = []
    for _ in range(50):
        opt.step()
        sched.step()
        full.append((sched.get_last_lr(), opt.param_groups[0]["momentum"]))

    opt_a, sched_a = make()
    for _ in range(25):
        opt_a.step()
        sched_a.step()
    opt_state, sched_state = opt_a.state_dict(), sched_a.state_dict()
    opt_b, sched_b = make()
    opt_b.load_state_dict(opt_state)
    sched_b.load_state_dict(sched_state)
    resumed = []
    for _ in range(25):
        opt_b.step()
        sched_b.step()
        resumed.append((sched_b.get_last_lr(), opt_b.param_groups[0]["momentum"]))
    assert resumed == full[25:]


def test_reduce_lr_on_plateau_state_dict_round_trip():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    sched = lr_scheduler.ReduceLROnPlateau(opt, patience=2, cooldown=1)
    for metric in [1.0, 0.9, 0.95, 0.96]:
        sched.step(metric)
    state = sched.state_dict()
    other = lr_scheduler.ReduceLROnPlateau(optim.SGD([Parameter(np.zeros(1))], lr=0.1))
    other.load_state_dict(state)
    assert (other.best, other.num_bad_epochs, other.patience) == (0.9, 2, 2)
    other.optimizer.param_groups[0]["lr"] = opt.param_groups[0]["lr"]
    sched.step(0.97)
    other.step(0.97)
    assert sched.get_last_lr() == other.get_last_lr() == [pytest.approx(0.01)]


def test_cosine_annealing_follows_the_closed_form():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.2)
    sched = lr_scheduler.CosineAnnealingLR(opt, T_max=40, eta_min=0.01)
    for t in range(1, 41):
        opt.step()
        sched.step()
        expected = 0.01 + (0.2 - 0.01) * (1 + math.cos(math.pi * t / 40)) / 2
        assert sched.get_last_lr()[0] == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_linear_warmup_reaches_the_base_lr():
    opt = optim.Adam([Parameter(np.zeros(1))], lr=0.01)
    sched = lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=4)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(6):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    np.testing.assert_allclose(lrs, [0.0025, 0.004375, 0.00625, 0.008125, 0.01, 0.01, 0.01])


def test_warns_when_scheduler_steps_before_optimizer():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    sched = lr_scheduler.StepLR(opt, step_size=1)
    with pytest.warns(UserWarning, match="before optimizer.step"):
        sched.step()
    opt2 = optim.SGD([Parameter(np.zeros(1))], lr=0.1)
    sched2 = lr_scheduler.StepLR(opt2, step_size=1)
    opt2.step()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sched2.step()


@pytest.mark.parametrize("make, mentions", [
    (lambda o: lr_scheduler.StepLR(o, step_size=0), "step_size"),
    (lambda o: lr_scheduler.ExponentialLR(o, gamma=-0.5), "gamma"),
    (lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=0), "T_max"),
    (lambda o: lr_scheduler.LinearLR(o, start_factor=0.0), "start_factor"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1), "total_steps"),
    (lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10, pct_start=1.5),
     "pct_start"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=1.0), "factor"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, mode="up"), "mode"),
    (lambda o: lr_scheduler.ReduceLROnPlateau(o, threshold_mode="pct"), "threshold_mode"),
])
def test_invalid_scheduler_arguments_raise(make, mentions):
    with pytest.raises(ValueError, match=mentions):
        make(optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9))


def test_one_cycle_needs_momentum_to_cycle():
    opt = optim.Adagrad([Parameter(np.zeros(1))])
    with pytest.raises(ValueError, match="cycle_momentum"):
        lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)


@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.StepLR(o, step_size=1),
    lambda o: lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=10),
    lambda o: lr_scheduler.ReduceLROnPlateau(o),
], ids=["StepLR", "OneCycleLR", "ReduceLROnPlateau"])
def test_schedulers_need_a_steepest_optimizer(make):
    topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(TypeError, match="expected a steepest Optimizer, got SGD"):
        make(topt)


# ------------------------------------------------------------------ issue 12: NumPy numbers
@pytest.mark.parametrize("make", [
    lambda o: lr_scheduler.StepLR(o, step_size=np.int64(2), gamma=np.float32(0.5)),
    lambda o: lr_scheduler.MultiStepLR(o, milestones=[np.int64(2), np.int32(4)],
                                       gamma=np.float64(0.5)),
    lambda o: lr_scheduler.ExponentialLR(o, gamma=np.float32(0.9)),
    lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=np.int64(10), eta_min=np.float32(0.0)),
    lambda o: lr_scheduler.LinearLR(o, start_factor=np.float32(0.5), total_iters=np.int64(3)),
    lambda o: lr_scheduler.OneCycleLR(o, max_lr=np.float32(0.5), total_steps=np.int64(10),
                                      pct_start=np.float64(0.3)),
    lambda o: lr_scheduler.ReduceLROnPlateau(o, factor=np.float32(0.5), patience=np.int64(2)),
], ids=["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
        "OneCycleLR", "ReduceLROnPlateau"])
def test_schedulers_accept_numpy_numbers_and_keep_lr_a_python_float(make):
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    sched = make(opt)
    for _ in range(5):
        opt.step()
        if isinstance(sched, lr_scheduler.ReduceLROnPlateau):
            sched.step(1.0)
        else:
            sched.step()
    lr = opt.param_groups[0]["lr"]
    assert type(lr) is float, type(lr)  # no float32 lr creeping in from np.float32(gamma)


@pytest.mark.parametrize("max_lr", [-1.0, 0.0, float("nan"), float("inf"), [0.1, -0.1]])
def test_one_cycle_refuses_a_bad_max_lr(max_lr):
    p, q = Parameter(np.zeros(1)), Parameter(np.zeros(1))
    opt = optim.SGD([{"params": [p]}, {"params": [q]}], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError, match=r"OneCycleLR: invalid max_lr .*; expected a number > 0"):
        lr_scheduler.OneCycleLR(opt, max_lr=max_lr, total_steps=10)


def _combined(lib, opt, kind):
    sched = lib.lr_scheduler if lib is torch.optim else lr_scheduler
    if kind == "sequential":
        return sched.SequentialLR(opt, [sched.LinearLR(opt, start_factor=0.1, total_iters=5),
                                        sched.CosineAnnealingLR(opt, T_max=40),
                                        sched.StepLR(opt, step_size=9, gamma=0.5),
                                        sched.ExponentialLR(opt, gamma=0.97)],
                                  milestones=[5, 45, 70])
    return sched.ChainedScheduler([sched.ConstantLR(opt, factor=0.5, total_iters=4),
                                   sched.ExponentialLR(opt, gamma=0.95),
                                   sched.MultiStepLR(opt, milestones=[30, 50], gamma=3.0)])


def _run(opt, sched, steps):
    lrs = []
    for _ in range(steps):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr())
    return lrs


@pytest.mark.parametrize("kind", ["sequential", "chained"])
def test_combined_schedules_match_torch(kind):
    opt, topt = _pair(momentum=0.9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch warns about its inner schedulers' first step
        sched, tsched = _combined(optim, opt, kind), _combined(torch.optim, topt, kind)
        ours, theirs = _run(opt, sched, 120), _run(topt, tsched, 120)
    assert len(set(map(tuple, ours))) > 20
    assert repr(sched).startswith(type(sched).__name__)
    np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0)


NEW = ["LambdaLR", "MultiplicativeLR", "ConstantLR", "PolynomialLR",
       "CosineAnnealingWarmRestarts", "CyclicLR", "sequential", "chained"]


def _make(name, opt):
    if name in ("sequential", "chained"):
        return _combined(optim, opt, name)
    kwargs = {"LambdaLR": dict(lr_lambda=lambda t: 0.9 ** t),
              "MultiplicativeLR": dict(lr_lambda=lambda t: 0.95),
              "ConstantLR": dict(factor=0.5, total_iters=12),
              "PolynomialLR": dict(total_iters=30, power=2.0),
              "CosineAnnealingWarmRestarts": dict(T_0=5, T_mult=2),
              "CyclicLR": dict(base_lr=0.01, max_lr=0.1, step_size_up=4,
                               mode="triangular2")}[name]
    return getattr(lr_scheduler, name)(opt, **kwargs)


@pytest.mark.parametrize("name", NEW)
def test_new_schedulers_resume_from_state_dict(name):
    """A schedule saved at step 10 and loaded into a fresh scheduler continues exactly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        opt, _ = _pair(momentum=0.9)
        sched = _make(name, opt)
        whole = _run(opt, sched, 30)
        opt_a, _ = _pair(momentum=0.9)
        sched_a = _make(name, opt_a)
        _run(opt_a, sched_a, 10)
        saved_sched, saved_opt = sched_a.state_dict(), opt_a.state_dict()
        _run(opt_a, sched_a, 3)  # the saved state must not change when the run goes on
        opt_b, _ = _pair(momentum=0.9)
        sched_b = _make(name, opt_b)
        opt_b.load_state_dict(saved_opt)
        sched_b.load_state_dict(saved_sched)
        assert _run(opt_b, sched_b, 20) == whole[10:]


def test_lambda_schedulers_save_no_functions_but_the_attributes_of_callable_objects():
    class Decay:
        def __init__(self):
            self.rate = 0.5

        def __call__(self, t):
            return self.rate ** t

    opt, _ = _pair()
    fn = Decay()
    sched = lr_scheduler.LambdaLR(opt, [fn, lambda t: 1.0])
    saved = sched.state_dict()
    assert saved["lr_lambdas"] == [{"rate": 0.5}, None]
    fn.rate = 0.9
    sched.load_state_dict(saved)
    assert fn.rate == 0.5
    with pytest.raises(TypeError, match="lr_lambda must be a function"):
        lr_scheduler.LambdaLR(opt, 0.5)
    with pytest.raises(ValueError, match="lr_lambda has 3 values but the optimizer has 2"):
        lr_scheduler.MultiplicativeLR(opt, [fn] * 3)


def test_warm_restarts_take_fractional_epochs_like_torch():
    opt, topt = _pair()
    sched = lr_scheduler.CosineAnnealingWarmRestarts(opt, T_0=5, T_mult=2)
    tsched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=5, T_mult=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for epoch in np.arange(0, 40, 0.35):
            sched.step(float(epoch))
            tsched.step(float(epoch))
            assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15)


@pytest.mark.parametrize("make, mentions", [
    (lambda o: lr_scheduler.ConstantLR(o, factor=0), "factor"),
    (lambda o: lr_scheduler.PolynomialLR(o, total_iters=0), "total_iters"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=0), "T_0"),
    (lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=0.5), "T_mult"),
    (lambda o: lr_scheduler.CyclicLR(o, 0.01, 0.1, mode="sawtooth"), "mode"),
    (lambda o: lr_scheduler.SequentialLR(o, [lr_scheduler.StepLR(o, 3)], milestones=[2]),
     "one milestone fewer"),
    (lambda o: lr_scheduler.ChainedScheduler([lr_scheduler.ReduceLROnPlateau(o)]),
     "ReduceLROnPlateau"),
    (lambda o: lr_scheduler.SequentialLR(o, [], milestones=[]), "at least one"),
])
def test_invalid_new_scheduler_arguments_are_named(make, mentions):
    opt, _ = _pair(momentum=0.9)
    with pytest.raises((ValueError, TypeError), match=mentions):
        make(opt)


def test_combined_schedulers_refuse_another_optimizers_scheduler():
    opt, _ = _pair()
    other, _ = _pair()
    with pytest.raises(ValueError, match="another optimizer"):
        lr_scheduler.ChainedScheduler([lr_scheduler.StepLR(opt, 3),
                                       lr_scheduler.StepLR(other, 3)])


@settings(max_examples=40, deadline=None)
@given(base=hst.floats(1e-4, 0.05), ratio=hst.floats(1.5, 100.0), up=hst.integers(1, 30),
       down=hst.one_of(hst.none(), hst.integers(0, 30)),
       mode=hst.sampled_from(["triangular", "triangular2", "exp_range"]),
       gamma=hst.floats(0.9, 1.0))
def test_cyclic_lr_matches_torch_for_any_settings(base, ratio, up, down, mode, gamma):
    kwargs = dict(base_lr=base, max_lr=base * ratio, step_size_up=up, step_size_down=down,
                  mode=mode, gamma=gamma)
    opt, topt = _pair(momentum=0.9)
    sched = lr_scheduler.CyclicLR(opt, **kwargs)
    tsched = torch.optim.lr_scheduler.CyclicLR(topt, **kwargs)
    ours, theirs = _run(opt, sched, 80), _run(topt, tsched, 80)
    np.testing.assert_allclose(ours, theirs, rtol=1e-15, atol=0)
    np.testing.assert_allclose(_momenta(opt), _momenta(topt), rtol=1e-15, atol=0)


@settings(max_examples=40, deadline=None)
@given(t0=hst.integers(1, 20), mult=hst.integers(1, 3), eta_min=hst.floats(0.0, 0.01),
       power=hst.floats(0.1, 3.0), total=hst.integers(1, 60))
def test_restarts_and_polynomial_match_torch_for_any_settings(t0, mult, eta_min, power, total):
    for name, kwargs in (("CosineAnnealingWarmRestarts", dict(T_0=t0, T_mult=mult,
                                                              eta_min=eta_min)),
                         ("PolynomialLR", dict(total_iters=total, power=power))):
        opt, topt = _pair()
        sched = getattr(lr_scheduler, name)(opt, **kwargs)
        tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kwargs)
        np.testing.assert_allclose(_run(opt, sched, 100), _run(topt, tsched, 100),
                                   rtol=1e-15, atol=0)
