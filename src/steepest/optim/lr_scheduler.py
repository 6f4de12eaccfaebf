"""Learning-rate schedulers, step for step as ``torch.optim.lr_scheduler`` (torch 2.13).

A scheduler changes ``group['lr']`` of its optimizer's parameter groups. Call
``scheduler.step()`` once per epoch (OneCycleLR: once per batch) *after*
``optimizer.step()``; ``get_last_lr()`` returns the learning rates it set last.

Creating a scheduler already applies its schedule's value for step 0 (for example LinearLR
multiplies lr by ``start_factor`` at once) and records each group's starting lr as
``group['initial_lr']``, as torch does. The chainable schedulers (StepLR, MultiStepLR,
ExponentialLR, CosineAnnealingLR, LinearLR) update the *current* lr recursively, exactly
as torch's ``get_lr`` does, so their floating-point sequences equal torch's.
"""

from __future__ import annotations

import bisect
import copy
import math
import numbers
import types
import warnings
from collections import Counter
from functools import partial

import numpy as np

from steepest.optim.optimizer import Optimizer
from steepest.optim.optimizer import check_hyperparameter as _check

__all__ = ["LRScheduler", "LambdaLR", "MultiplicativeLR", "StepLR", "MultiStepLR",
           "ConstantLR", "LinearLR", "ExponentialLR", "PolynomialLR", "CosineAnnealingLR",
           "CosineAnnealingWarmRestarts", "CyclicLR", "OneCycleLR", "SequentialLR",
           "ChainedScheduler", "ReduceLROnPlateau"]


def _is_int(value) -> bool:
    """A whole number: Python int or NumPy integer (np.int64(10)), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
    """A finite real number: Python or NumPy (np.float32(0.9)), not a bool."""
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
            and math.isfinite(value))


def _require_optimizer(scheduler: str, optimizer) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{scheduler}: expected a steepest Optimizer, got "
                        f"{type(optimizer).__name__}")


def _per_group(name: str, optimizer: Optimizer, value) -> list:
    """One value per parameter group: a list of the right length, or a scalar repeated."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} has {len(value)} values but the optimizer has "
                             f"{len(optimizer.param_groups)} parameter groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


class LRScheduler:
    """Base class: subclasses define ``get_lr()``, the lrs for step ``self.last_epoch``.

    ``last_epoch`` counts the scheduler's steps (−1 before the constructor's initial step).
    ``state_dict()`` holds every attribute except the optimizer; ``load_state_dict()``
    restores them, so a resumed schedule continues where it stopped.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        _require_optimizer(type(self).__name__, optimizer)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{type(self).__name__}: param_groups[{i}] has no "
                                   f"'initial_lr' while resuming with last_epoch="
                                   f"{last_epoch}; load the optimizer's state_dict first")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._optimizer_steps_at_start = getattr(optimizer, "_step_count", 0)
        self._initial_step()

    def _initial_step(self) -> None:
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    def get_lr(self) -> list:
        raise NotImplementedError(f"{type(self).__name__} must define get_lr()")

    def get_last_lr(self) -> list:
        """The learning rates set by the last ``step()`` (one per parameter group)."""
        return list(self._last_lr)

    def step(self) -> None:
        """Advance the schedule by one step and write the new lrs into the optimizer."""
        if (self._step_count == 1 and getattr(self.optimizer, "_step_count", 1)
                == self._optimizer_steps_at_start):
            warnings.warn("lr_scheduler.step() was called before optimizer.step(); call "
                          "optimizer.step() first, or the schedule's first value is skipped",
                          UserWarning, stacklevel=2)
        self._step_count += 1
        self._update_lr()

    def _update_lr(self, epoch: int | None = None) -> None:
        """Set the lrs of the next step, or (``epoch`` given) of step ``epoch`` by the closed
        form where the schedule has one (SequentialLR starts a schedule this way)."""
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def _current_lrs(self) -> list:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict:
        """Every attribute except the optimizer (copies)."""
        return {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                if key != "optimizer"}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore the attributes saved by ``state_dict()``."""
        self.__dict__.update(copy.deepcopy(state_dict))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, last_lr={self._last_lr})"


class StepLR(LRScheduler):
    """lr ← lr·gamma every ``step_size`` steps: lrₜ = base_lr·gamma^⌊t/step_size⌋.

    Defaults: gamma=0.1. Keras: ``ExponentialDecay(staircase=True)``.
    """

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1,
                 last_epoch: int = -1):
        _check("StepLR", "step_size", step_size, _is_int(step_size) and step_size >= 1,
               "a positive integer")
        _check("StepLR", "gamma", gamma, _is_real(gamma) and gamma > 0, "a number > 0")
        self.step_size = int(step_size)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [base * self.gamma ** (self.last_epoch // self.step_size)
                for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """lr ← lr·gamma at each milestone step: lrₜ = base_lr·gamma^(number of milestones ≤ t).

    Defaults: gamma=0.1. Keras: ``PiecewiseConstantDecay`` (given the values, not a factor).
    """

    def __init__(self, optimizer: Optimizer, milestones, gamma: float = 0.1,
                 last_epoch: int = -1):
        milestones = list(milestones)
        _check("MultiStepLR", "milestones", milestones,
               all(_is_int(m) and m >= 0 for m in milestones), "non-negative integers")
        _check("MultiStepLR", "gamma", gamma, _is_real(gamma) and gamma > 0, "a number > 0")
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self.last_epoch not in self.milestones:
            return self._current_lrs()
        factor = self.gamma ** self.milestones[self.last_epoch]
        return [group["lr"] * factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        milestones = sorted(self.milestones.elements())
        return [base * self.gamma ** bisect.bisect_right(milestones, self.last_epoch)
                for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr ← lr·gamma every step: lrₜ = base_lr·gammaᵗ.

    Keras: ``ExponentialDecay(decay_steps=1, decay_rate=gamma)``.
    """

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check("ExponentialLR", "gamma", gamma, _is_real(gamma) and gamma > 0, "a number > 0")
        self.gamma = float(gamma)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [base * self.gamma ** self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Cosine annealing from base_lr down to eta_min over T_max steps (SGDR without restarts).

    Closed form: lrₜ = eta_min + (base_lr − eta_min)·(1 + cos(π·t/T_max))/2. Like torch 2.13
    it is computed recursively from the current lr,
    lrₜ = eta_min + (lrₜ₋₁ − eta_min)·(1 + cos(πt/T_max))/(1 + cos(π(t−1)/T_max)),
    so another change of lr made in between carries through. Past T_max the lr rises again
    (the cosine continues, period 2·T_max). Defaults: eta_min=0. Keras: ``CosineDecay``
    (which stays at its minimum after decay_steps).
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0,
                 last_epoch: int = -1):
        _check("CosineAnnealingLR", "T_max", T_max, _is_int(T_max) and T_max >= 1,
               "a positive integer")
        _check("CosineAnnealingLR", "eta_min", eta_min, _is_real(eta_min) and eta_min >= 0,
               "a number >= 0")
        self.T_max = int(T_max)
        self.eta_min = float(eta_min)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        groups = self.optimizer.param_groups
        t, T, eta_min = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:  # resumed with last_epoch > 0: closed form
            return [eta_min + (base - eta_min) * (1 + math.cos(t * math.pi / T)) / 2
                    for base in self.base_lrs]
        if (t - 1 - T) % (2 * T) == 0:      # leaving the minimum (where the ratio is 0/0)
            return [group["lr"] + (base - eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base, group in zip(self.base_lrs, groups)]
        return [(1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
                * (group["lr"] - eta_min) + eta_min for group in groups]

    def _get_closed_form_lr(self) -> list:
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base in self.base_lrs]


class LinearLR(LRScheduler):
    """Linear warm-up (or decay) of the lr factor from ``start_factor`` to ``end_factor``.

    lrₜ = base_lr·(start_factor + (end_factor − start_factor)·min(t, total_iters)/total_iters),
    computed recursively as torch does. Defaults: start_factor=1/3, end_factor=1.0,
    total_iters=5. Keras: no built-in warm-up scheduler (``CosineDecay(warmup_steps=…)``).
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3,
                 end_factor: float = 1.0, total_iters: int = 5, last_epoch: int = -1):
        _check("LinearLR", "start_factor", start_factor,
               _is_real(start_factor) and 0 < start_factor <= 1, "a number in (0, 1]")
        _check("LinearLR", "end_factor", end_factor,
               _is_real(end_factor) and 0 <= end_factor <= 1, "a number in [0, 1]")
        _check("LinearLR", "total_iters", total_iters, _is_int(total_iters) and total_iters >= 1,
               "a positive integer")
        self.start_factor = float(start_factor)
        self.end_factor = float(end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        change = self.end_factor - self.start_factor
        factor = 1.0 + change / (self.total_iters * self.start_factor
                                 + (self.last_epoch - 1) * change)
        return [group["lr"] * factor for group in groups]

    def _get_closed_form_lr(self) -> list:
        return [base * (self.start_factor + (self.end_factor - self.start_factor)
                        * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base in self.base_lrs]


class OneCycleLR(LRScheduler):
    r"""The 1cycle policy (Smith & Topin, 2017): warm up to max_lr, then anneal far below.

    Two phases (default, fastai's form): over the first pct_start·total_steps steps the lr
    goes from max_lr/div_factor up to max_lr, then down to
    max_lr/(div_factor·final_div_factor), each by a half cosine
    (``anneal_strategy='cos'``: end + (start − end)·(1 + cos(π·pct))/2) or a straight line.
    ``three_phase=True`` mirrors the warm-up before a final annihilation phase. With
    ``cycle_momentum`` (default True) the momentum (or Adam's β₁) moves the opposite way,
    between max_momentum=0.95 and base_momentum=0.85. Call ``step()`` once per batch,
    ``total_steps`` times at most (or give ``epochs`` and ``steps_per_epoch``).
    Defaults: pct_start=0.3, div_factor=25, final_div_factor=1e4. Keras: no built-in.
    """

    def __init__(self, optimizer: Optimizer, max_lr, total_steps: int | None = None,
                 epochs: int | None = None, steps_per_epoch: int | None = None,
                 pct_start: float = 0.3, anneal_strategy: str = "cos",
                 cycle_momentum: bool = True, base_momentum=0.85, max_momentum=0.95,
                 div_factor: float = 25.0, final_div_factor: float = 1e4,
                 three_phase: bool = False, last_epoch: int = -1):
        name = "OneCycleLR"
        _require_optimizer(name, optimizer)
        if total_steps is not None:
            _check(name, "total_steps", total_steps, _is_int(total_steps) and total_steps > 0,
                   "a positive integer")
            self.total_steps = int(total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check(name, "epochs", epochs, _is_int(epochs) and epochs > 0, "a positive integer")
            _check(name, "steps_per_epoch", steps_per_epoch,
                   _is_int(steps_per_epoch) and steps_per_epoch > 0, "a positive integer")
            self.total_steps = int(epochs) * int(steps_per_epoch)
        else:
            raise ValueError(f"{name}: give total_steps, or both epochs and steps_per_epoch")
        _check(name, "pct_start", pct_start,
               _is_real(pct_start) and 0 <= pct_start <= 1, "a number in [0, 1]")
        _check(name, "anneal_strategy", anneal_strategy, anneal_strategy in ("cos", "linear"),
               "'cos' or 'linear'")
        for key, value in (("div_factor", div_factor), ("final_div_factor", final_div_factor)):
            _check(name, key, value, _is_real(value) and value > 0, "a number > 0")
        first_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                {"end_step": first_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": float(2 * pct_start * self.total_steps) - 2,
                 "start_lr": "max_lr", "end_lr": "initial_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "initial_lr",
                 "end_lr": "min_lr", "start_momentum": "max_momentum",
                 "end_momentum": "max_momentum"},
            ]
        else:
            self._schedule_phases = [
                {"end_step": first_end, "start_lr": "initial_lr", "end_lr": "max_lr",
                 "start_momentum": "max_momentum", "end_momentum": "base_momentum"},
                {"end_step": self.total_steps - 1, "start_lr": "max_lr", "end_lr": "min_lr",
                 "start_momentum": "base_momentum", "end_momentum": "max_momentum"},
            ]
        self._anneal_func_type = anneal_strategy
        max_lrs = _per_group("max_lr", optimizer, max_lr)
        for value in max_lrs:
            _check(name, "max_lr", value, _is_real(value) and value > 0, "a number > 0")
        max_lrs = [float(value) for value in max_lrs]
        if last_epoch == -1:
            for max_lr_i, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = max_lr_i / div_factor
                group["max_lr"] = max_lr_i
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{name}: cycle_momentum=True needs an optimizer with "
                                 f"momentum or betas (SGD, RMSprop, Adam); pass "
                                 f"cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            max_momentums = _per_group("max_momentum", optimizer, max_momentum)
            base_momentums = _per_group("base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(max_momentums, base_momentums,
                                                optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (m_max, *group["betas"][1:])
                    else:
                        group["momentum"] = m_max
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list:
        step_num = self.last_epoch
        if step_num > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step_num} times; total_steps is "
                             f"{self.total_steps}")
        lrs = []
        last = len(self._schedule_phases) - 1
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step_num <= end_step or i == last:
                    pct = (step_num - start_step) / (end_step - start_step)
                    lr = self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct)
                    if self.cycle_momentum:
                        momentum = self._anneal(group[phase["start_momentum"]],
                                                group[phase["end_momentum"]], pct)
                    break
                start_step = phase["end_step"]
            lrs.append(lr)
            if self.cycle_momentum:
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply lr by ``factor`` when a metric has not improved for ``patience`` steps.

    ``step(metric)`` after each epoch. "Improved" means below best·(1 − threshold)
    (mode='min', threshold_mode='rel'), best − threshold ('abs'), or above
    best·(1 + threshold) / best + threshold in mode='max'. After more than ``patience``
    steps without improvement: lr ← max(lr·factor, min_lr) (skipped if that changes lr by
    less than eps), then ``cooldown`` steps in which bad steps are not counted.
    Defaults: mode='min', factor=0.1, patience=10, threshold=1e-4, threshold_mode='rel',
    cooldown=0, min_lr=0, eps=1e-8. Keras: ``ReduceLROnPlateau`` callback (min_delta is an
    absolute threshold there, and min_lr is applied as a floor the same way).
    """

    def __init__(self, optimizer: Optimizer, mode: str = "min", factor: float = 0.1,
                 patience: int = 10, threshold: float = 1e-4, threshold_mode: str = "rel",
                 cooldown: int = 0, min_lr=0, eps: float = 1e-8):
        name = "ReduceLROnPlateau"
        _require_optimizer(name, optimizer)
        _check(name, "factor", factor, _is_real(factor) and 0 <= factor < 1,
               "a number in [0, 1)")
        _check(name, "patience", patience, _is_int(patience) and patience >= 0,
               "an integer >= 0")
        _check(name, "cooldown", cooldown, _is_int(cooldown) and cooldown >= 0,
               "an integer >= 0")
        _check(name, "threshold", threshold, _is_real(threshold) and threshold >= 0,
               "a number >= 0")
        _check(name, "eps", eps, _is_real(eps) and eps >= 0, "a number >= 0")
        self.factor = float(factor)
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group("min_lr", optimizer, min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        for value in self.min_lrs:
            _check(name, "min_lr", value, _is_real(value) and value >= 0, "numbers >= 0")
        self.patience = int(patience)
        self.cooldown = int(cooldown)
        self.eps = float(eps)
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._init_is_better(mode, threshold, threshold_mode)
        self._reset()

    def _init_is_better(self, mode: str, threshold: float, threshold_mode: str) -> None:
        _check("ReduceLROnPlateau", "mode", mode, mode in ("min", "max"), "'min' or 'max'")
        _check("ReduceLROnPlateau", "threshold_mode", threshold_mode,
               threshold_mode in ("rel", "abs"), "'rel' or 'abs'")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode

    def _reset(self) -> None:
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def _is_better(self, a: float, best: float) -> bool:
        if self.mode == "min" and self.threshold_mode == "rel":
            return a < best * (1.0 - self.threshold)
        if self.mode == "min":
            return a < best - self.threshold
        if self.threshold_mode == "rel":
            return a > best * (self.threshold + 1.0)
        return a > best + self.threshold

    def step(self, metrics) -> None:  # type: ignore[override]
        """Record this epoch's metric (a number or one-element tensor) and maybe cut the lr."""
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} "
                                   f"parameter groups but min_lr has {len(self.min_lrs)} "
                                   f"values; set scheduler.min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


def _lambdas(name: str, optimizer: Optimizer, lr_lambda) -> list:
    """One callable per parameter group (a single one is shared by all)."""
    lambdas = _per_group(f"{name}: lr_lambda", optimizer, lr_lambda)
    for i, fn in enumerate(lambdas):
        if not callable(fn):
            raise TypeError(f"{name}: lr_lambda must be a function of the step (or one per "
                            f"parameter group), got {type(fn).__name__} at {i}")
    return lambdas


class _LambdaState:
    """state_dict without the functions (they do not pickle): as torch, only the attributes
    of callable objects are saved; plain functions come from the constructor."""

    def state_dict(self) -> dict:
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "lr_lambdas")}
        state["lr_lambdas"] = [None if isinstance(fn, types.FunctionType)
                               else copy.deepcopy(fn.__dict__) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = copy.deepcopy(state_dict)
        saved = state.pop("lr_lambdas", [None] * len(self.lr_lambdas))
        self.__dict__.update(state)
        for fn, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                fn.__dict__.update(attributes)


class LambdaLR(_LambdaState, LRScheduler):
    """lrₜ = base_lr·λ(t) for a function λ of the step count t (one per group, or shared).

    Keras: a ``LearningRateSchedule`` subclass or the ``LearningRateScheduler`` callback,
    whose function returns the lr itself (given the epoch and current lr), not a factor.
    """

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        _require_optimizer("LambdaLR", optimizer)
        self.lr_lambdas = _lambdas("LambdaLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [base * fn(self.last_epoch) for fn, base in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(_LambdaState, LRScheduler):
    """lrₜ = lrₜ₋₁·λ(t) for t ≥ 1: the function gives a factor per step, applied to the current
    lr. Keras: no built-in (a ``LearningRateScheduler`` callback returning lr·λ(epoch)).
    """

    def __init__(self, optimizer: Optimizer, lr_lambda, last_epoch: int = -1):
        _require_optimizer("MultiplicativeLR", optimizer)
        self.lr_lambdas = _lambdas("MultiplicativeLR", optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial:
            return self._current_lrs()
        return [group["lr"] * fn(self.last_epoch)
                for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)]


class ConstantLR(LRScheduler):
    """lrₜ = base_lr·factor for t < total_iters, then base_lr (a constant warm-up).

    Computed as torch does: lr·factor at step 0, lr·(1/factor) at step total_iters.
    Defaults: factor=1/3, total_iters=5. Keras: no built-in.
    """

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5,
                 last_epoch: int = -1):
        _check("ConstantLR", "factor", factor, _is_real(factor) and 0 < factor <= 1,
               "a number in (0, 1]")
        _check("ConstantLR", "total_iters", total_iters,
               _is_int(total_iters) and total_iters >= 0, "an integer >= 0")
        self.factor = float(factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        groups = self.optimizer.param_groups
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in groups]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [group["lr"] * (1.0 / self.factor) for group in groups]

    def _get_closed_form_lr(self) -> list:
        return [base * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lrₜ = base_lr·(1 − min(t, total_iters)/total_iters)^power: down to 0 at total_iters.

    Computed recursively as torch does, lrₜ = lrₜ₋₁·((1 − t/T)/(1 − (t−1)/T))^power.
    Defaults: total_iters=5, power=1. Keras: ``PolynomialDecay`` decays to an
    ``end_learning_rate`` (default 1e-4) instead of 0 and can ``cycle``.
    """

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0,
                 last_epoch: int = -1):
        _check("PolynomialLR", "total_iters", total_iters,
               _is_int(total_iters) and total_iters >= 1, "a positive integer")
        _check("PolynomialLR", "power", power, _is_real(power), "a finite number")
        self.total_iters = int(total_iters)
        self.power = power
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        if self._is_initial or self.last_epoch > self.total_iters:
            return self._current_lrs()
        t, T = self.last_epoch, self.total_iters
        decay = ((1.0 - t / T) / (1.0 - (t - 1) / T)) ** self.power
        return [group["lr"] * decay for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self) -> list:
        return [base * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters)
                ** self.power for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""SGDR (Loshchilov & Hutter, 2017): cosine annealing that restarts every Tᵢ steps.

    lr = eta_min + (base_lr − eta_min)·(1 + cos(π·T_cur/Tᵢ))/2, where T_cur counts the steps
    since the last restart and Tᵢ = T_0·T_multⁱ is the length of the i-th run. ``step(epoch)``
    also takes a fractional epoch (e.g. ``epoch + batch/batches``), as in torch.
    Defaults: T_mult=1, eta_min=0. Keras: ``CosineDecayRestarts`` (first_decay_steps=T_0,
    t_mul=T_mult but 2.0 by default, an ``m_mul`` that can also lower each restart's peak,
    and alpha, eta_min as a fraction of the initial lr).
    """

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0,
                 last_epoch: int = -1):
        name = "CosineAnnealingWarmRestarts"
        _check(name, "T_0", T_0, _is_int(T_0) and T_0 >= 1, "a positive integer")
        _check(name, "T_mult", T_mult, _is_int(T_mult) and T_mult >= 1, "an integer >= 1")
        _check(name, "eta_min", eta_min, _is_real(eta_min), "a finite number")
        self.T_0, self.T_i, self.T_mult = int(T_0), int(T_0), int(T_mult)
        self.eta_min = eta_min
        self.T_cur = last_epoch
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list:
        return [self.eta_min + (base - self.eta_min)
                * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2 for base in self.base_lrs]

    def step(self, epoch=None) -> None:
        """Advance one step, or jump to ``epoch`` (may be fractional)."""
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        else:
            _check("CosineAnnealingWarmRestarts.step", "epoch", epoch,
                   _is_real(epoch) and epoch >= 0, "a number >= 0")
            if epoch >= self.T_0:
                if self.T_mult == 1:
                    self.T_cur = epoch % self.T_0
                else:
                    n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                    self.T_cur = epoch - self.T_0 * (self.T_mult ** n - 1) / (self.T_mult - 1)
                    self.T_i = self.T_0 * self.T_mult ** n
            else:
                self.T_i = self.T_0
                self.T_cur = epoch
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = lr
        self._last_lr = self._current_lrs()


class CyclicLR(LRScheduler):
    r"""Cyclical learning rates (Smith, 2017): the lr goes up and down between base_lr and max_lr.

    With c = ⌊1 + t/(up + down)⌋ the cycle and x = 1 + t/(up + down) − c its phase::

        s  = x/r  if x ≤ r,  (x − 1)/(r − 1) otherwise       (r = up/(up + down))
        lr = base_lr + (max_lr − base_lr)·s·scale

    scale is 1 (``mode='triangular'``), 1/2^(c−1) (``'triangular2'``, halving each cycle),
    gammaᵗ (``'exp_range'``), or ``scale_fn`` of c or t (``scale_mode``). With
    ``cycle_momentum`` (default) the momentum (Adam's β₁) moves the other way, from
    max_momentum at the low lr to base_momentum at the peak. Call ``step()`` once per batch.
    Defaults: step_size_up=2000, step_size_down=step_size_up, mode='triangular', gamma=1,
    base_momentum=0.8, max_momentum=0.9. Keras: no built-in (TensorFlow Addons had
    ``CyclicalLearningRate``, without the momentum cycle).
    """

    def __init__(self, optimizer: Optimizer, base_lr, max_lr, step_size_up: int = 2000,
                 step_size_down: int | None = None, mode: str = "triangular",
                 gamma: float = 1.0, scale_fn=None, scale_mode: str = "cycle",
                 cycle_momentum: bool = True, base_momentum=0.8, max_momentum=0.9,
                 last_epoch: int = -1):
        name = "CyclicLR"
        _require_optimizer(name, optimizer)
        self.optimizer = optimizer
        base_lrs = _per_group(f"{name}: base_lr", optimizer, base_lr)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = _per_group(f"{name}: max_lr", optimizer, max_lr)
        _check(name, "step_size_up", step_size_up, _is_real(step_size_up) and step_size_up > 0,
               "a number > 0")
        _check(name, "step_size_down", step_size_down, step_size_down is None
               or (_is_real(step_size_down) and step_size_down >= 0), "None or a number >= 0")
        step_size_up = float(step_size_up)
        step_size_down = float(step_size_down) if step_size_down is not None else step_size_up
        self.total_size = step_size_up + step_size_down
        self.step_ratio = step_size_up / self.total_size
        _check(name, "mode", mode, scale_fn is not None
               or mode in ("triangular", "triangular2", "exp_range"),
               "'triangular', 'triangular2' or 'exp_range' (or give scale_fn)")
        _check(name, "scale_mode", scale_mode, scale_mode in ("cycle", "iterations"),
               "'cycle' or 'iterations'")
        self.mode = mode
        self.gamma = gamma
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode
        self._init_scale_fn()
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{name}: cycle_momentum=True needs an optimizer with "
                                 f"momentum or betas (SGD, RMSprop, Adam); pass "
                                 f"cycle_momentum=False")
            self.use_beta1 = "betas" in optimizer.defaults
            self.base_momentums = _per_group(f"{name}: base_momentum", optimizer,
                                             base_momentum)
            self.max_momentums = _per_group(f"{name}: max_momentum", optimizer, max_momentum)
            if last_epoch == -1:
                for m_max, m_base, group in zip(self.max_momentums, self.base_momentums,
                                                optimizer.param_groups):
                    if self.use_beta1:
                        group["betas"] = (m_max, *group["betas"][1:])
                    else:
                        group["momentum"] = m_max
                    group["max_momentum"] = m_max
                    group["base_momentum"] = m_base
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs

    def _init_scale_fn(self) -> None:
        if self._scale_fn_custom is not None:
            return
        if self.mode == "triangular":
            self._scale_fn_ref, self.scale_mode = self._triangular_scale_fn, "cycle"
        elif self.mode == "triangular2":
            self._scale_fn_ref, self.scale_mode = self._triangular2_scale_fn, "cycle"
        else:
            self._scale_fn_ref = partial(self._exp_range_scale_fn, self.gamma)
            self.scale_mode = "iterations"

    def scale_fn(self, x) -> float:
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        return self._scale_fn_ref(x)

    @staticmethod
    def _triangular_scale_fn(x: float) -> float:
        return 1.0

    @staticmethod
    def _triangular2_scale_fn(x: float) -> float:
        return 1 / (2.0 ** (x - 1))

    @staticmethod
    def _exp_range_scale_fn(gamma: float, x: float) -> float:
        return gamma ** x

    def get_lr(self) -> list:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        at = cycle if self.scale_mode == "cycle" else self.last_epoch
        lrs = [base + (peak - base) * scale_factor * self.scale_fn(at)
               for base, peak in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            for group, low, high in zip(self.optimizer.param_groups, self.base_momentums,
                                        self.max_momentums):
                momentum = high - (high - low) * scale_factor * self.scale_fn(at)
                if self.use_beta1:
                    group["betas"] = (momentum, *group["betas"][1:])
                else:
                    group["momentum"] = momentum
        return lrs

    def state_dict(self) -> dict:
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_scale_fn_ref", "_scale_fn_custom")}
        fn = self._scale_fn_custom
        state["_scale_fn_custom"] = (None if fn is None or isinstance(fn, types.FunctionType)
                                     else copy.deepcopy(fn.__dict__))
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = copy.deepcopy(state_dict)
        fn = state.pop("_scale_fn_custom", None)
        self.__dict__.update(state)
        if fn is not None:
            self._scale_fn_custom.__dict__.update(fn)
        self._init_scale_fn()


def _check_schedulers(name: str, schedulers, optimizer) -> list:
    schedulers = list(schedulers)
    if not schedulers:
        raise ValueError(f"{name}: expects at least one scheduler, got none")
    for i, scheduler in enumerate(schedulers):
        if not isinstance(scheduler, LRScheduler):
            raise TypeError(f"{name}: schedulers[{i}] is a {type(scheduler).__name__}, "
                            f"expected an lr scheduler")
        if isinstance(scheduler, ReduceLROnPlateau):
            raise ValueError(f"{name}: schedulers[{i}] is a ReduceLROnPlateau, which needs a "
                             f"metric in step(); it cannot be combined")
        if scheduler.optimizer is not optimizer:
            raise ValueError(f"{name}: schedulers[{i}] ({type(scheduler).__name__}) belongs to "
                             f"another optimizer; all must share one")
    return schedulers


class _Combined(LRScheduler):
    """state_dict holds each inner scheduler's state_dict."""

    def state_dict(self) -> dict:
        state = {key: copy.deepcopy(value) for key, value in self.__dict__.items()
                 if key not in ("optimizer", "_schedulers")}
        state["_schedulers"] = [s.state_dict() for s in self._schedulers]
        return state

    def load_state_dict(self, state_dict: dict) -> None:
        state = copy.deepcopy(state_dict)
        inner = state.pop("_schedulers")
        self.__dict__.update(state)
        for scheduler, saved in zip(self._schedulers, inner):
            scheduler.load_state_dict(saved)


class SequentialLR(_Combined):
    """One schedule after another: ``schedulers[i]`` runs from ``milestones[i−1]`` on.

    At each milestone the next schedule starts from its step 0 (by its closed form, from the
    group's initial lr), e.g. ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5),
    CosineAnnealingLR(opt, T_max=95)], milestones=[5])`` for warm-up then cosine decay.
    Keras: ``CosineDecay(warmup_target=…, warmup_steps=…)`` covers that one combination.
    """

    def __init__(self, optimizer: Optimizer, schedulers, milestones, last_epoch: int = -1):
        _require_optimizer("SequentialLR", optimizer)
        schedulers = _check_schedulers("SequentialLR", schedulers, optimizer)
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expects one milestone fewer than schedulers, got "
                             f"{len(schedulers)} schedulers and {len(milestones)} milestones")
        _check("SequentialLR", "milestones", milestones,
               all(_is_int(m) for m in milestones), "integers")
        self._schedulers = schedulers
        self._milestones = milestones
        self.last_epoch = last_epoch + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo(self)
        index = bisect.bisect_right(milestones, 0)
        schedulers[index]._initial_step()
        self._last_lr = schedulers[index].get_last_lr()

    def _undo(self, scheduler) -> None:
        """Take back the initial step each inner scheduler took when it was made."""
        inner = scheduler._schedulers if scheduler is self else getattr(
            scheduler, "_schedulers", None)
        if inner is not None:
            for s in inner:
                self._undo(s)
        else:
            scheduler.last_epoch -= 1

    def step(self) -> None:  # type: ignore[override]
        self.last_epoch += 1
        index = bisect.bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[index]
        if index > 0 and self._milestones[index - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Combined):
    """Several schedules at once: each ``step()`` steps every scheduler in order, so their
    factors multiply (e.g. ConstantLR's warm-up × ExponentialLR's decay). Keras: no built-in.
    """

    def __init__(self, schedulers, optimizer: Optimizer | None = None):
        schedulers = list(schedulers)
        if optimizer is None and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)
        self._schedulers = _check_schedulers("ChainedScheduler", schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = self._current_lrs()

    def step(self) -> None:  # type: ignore[override]
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()

    def __repr__(self) -> str:
        names = ", ".join(type(s).__name__ for s in self._schedulers)
        return f"ChainedScheduler([{names}], last_lr={self._last_lr})"
