"""Adadelta: a step whose size comes from running averages of past steps and gradients."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import (
    Optimizer, _check_flags, _check_non_negative, _is_number, check_hyperparameter,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    r"""Adadelta (Zeiler, 2012), step for step as ``torch.optim.Adadelta``.

    Update of each parameter w with gradient ∇ (v₀ = u₀ = 0)::

        g  = ∇ + weight_decay·w                 (g = −∇ + … if maximize)
        v  ← ρ·v + (1 − ρ)·g²
        Δ  = √(u + eps) / √(v + eps) · g        (units of w: a ratio of RMS step to RMS grad)
        u  ← ρ·u + (1 − ρ)·Δ²
        w  ← w − lr·Δ

    Zeiler's rule has no learning rate (lr = 1, the default); eps sets the size of the first
    steps (√eps / √(v + eps)·g). Defaults: lr=1.0, rho=0.9, eps=1e-6, weight_decay=0,
    maximize=False.

    Keras differs: ``keras.optimizers.Adadelta`` has lr=1e-3 (so it barely moves unless
    raised to 1), rho=0.95, eps=1e-7, and decoupled weight decay.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, {"lr": lr, "rho": rho, "eps": eps,
                                  "weight_decay": weight_decay, "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        rho = group["rho"]
        check_hyperparameter(name, "rho", rho, _is_number(rho) and 0 <= rho <= 1,
                             "a number in [0, 1]")
        _check_non_negative(name, group, ("eps", "weight_decay"))
        _check_flags(name, group, ("maximize",))

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"step": 0, "square_avg": np.zeros_like(data), "acc_delta": np.zeros_like(data)}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        state["step"] += 1
        for p, grad_block, square_avg, acc_delta, work0, work1, work2 in self._blocks(
                [data, grad, state["square_avg"], state["acc_delta"]], 3):
            g = self._effective_grad(p, grad_block, weight_decay, maximize, work0)
            np.multiply(square_avg, rho, out=square_avg)   # v ← ρv + ((1 − ρ)g)g
            np.multiply(g, 1 - rho, out=work1)
            np.multiply(work1, g, out=work1)
            np.add(square_avg, work1, out=square_avg)
            np.add(square_avg, eps, out=work1)             # std = √(v + eps)
            np.sqrt(work1, out=work1)
            np.add(acc_delta, eps, out=work2)              # Δ = √(u + eps)/std·g
            np.sqrt(work2, out=work2)
            np.divide(work2, work1, out=work2)
            np.multiply(work2, g, out=work2)
            np.multiply(acc_delta, rho, out=acc_delta)     # u ← ρu + ((1 − ρ)Δ)Δ
            np.multiply(work2, 1 - rho, out=work1)
            np.multiply(work1, work2, out=work1)
            np.add(acc_delta, work1, out=acc_delta)
            np.multiply(work2, -lr, out=work2)             # w ← w + (−lr)Δ
            np.add(p, work2, out=p)
