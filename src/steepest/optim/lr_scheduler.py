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

import copy
import math
import numbers
import warnings
from collections import Counter

import numpy as np

from steepest.optim.optimizer import Optimizer
from steepest.optim.optimizer import check_hyperparameter as _check

__all__ = ["LRScheduler", "StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR",
           "LinearLR", "OneCycleLR", "ReduceLROnPlateau"]


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
        self.last_epoch += 1
        values = self.get_lr()
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
