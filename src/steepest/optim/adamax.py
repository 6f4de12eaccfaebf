"""Adamax: Adam with the infinity norm in place of the root mean square."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import Optimizer, _check_betas, _check_flags, _lerp_

__all__ = ["Adamax"]


class Adamax(Optimizer):
    r"""Adamax (Kingma & Ba, 2015, section 7.1), step for step as ``torch.optim.Adamax``.

    Update of each parameter w with gradient ∇ at step t = 1, 2, … (m₀ = u₀ = 0)::

        g  = ∇ + weight_decay·w                 (g = −∇ + … if maximize)
        m  ← m + (1 − β₁)·(g − m)
        u  ← max(β₂·u, |g| + eps)               (an exponentially weighted infinity norm)
        w  ← w − (lr / (1 − β₁ᵗ)) · m/u

    u needs no bias correction (a max is not pulled towards its zero start the way a
    mean is). Defaults: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, maximize=False.

    Keras differs: ``keras.optimizers.Adamax`` has lr=1e-3, eps=1e-7 added outside the max
    (u ← max(β₂·u, |g|); w ← w − lr/(1 − β₁ᵗ) · m/(u + eps)), and decoupled weight decay.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, *, maximize: bool = False):
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        _check_betas(type(self).__name__, group)
        _check_flags(type(self).__name__, group, ("maximize",))

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"step": 0, "exp_avg": np.zeros_like(data), "exp_inf": np.zeros_like(data)}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        state["step"] += 1
        clr = lr / (1 - beta1 ** state["step"])
        for p, grad_block, exp_avg, exp_inf, work0, work1 in self._blocks(
                [data, grad, state["exp_avg"], state["exp_inf"]], 2):
            g = self._effective_grad(p, grad_block, weight_decay, maximize, work0)
            _lerp_(exp_avg, g, 1 - beta1, work1)          # m ← m + (1 − β₁)(g − m)
            np.multiply(exp_inf, beta2, out=exp_inf)      # u ← max(β₂u, |g| + eps)
            np.absolute(g, out=work1)
            np.add(work1, eps, out=work1)
            np.maximum(exp_inf, work1, out=exp_inf)
            np.multiply(exp_avg, -clr, out=work0)         # w ← w + (−clr·m)/u
            np.divide(work0, exp_inf, out=work0)
            np.add(p, work0, out=p)
