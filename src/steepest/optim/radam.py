"""RAdam: Adam with a rectified (variance-corrected) adaptive step."""

from __future__ import annotations

import math

import numpy as np

from steepest.optim.optimizer import Optimizer, _check_betas, _check_flags, _update_moments

__all__ = ["RAdam"]


class RAdam(Optimizer):
    r"""RAdam (Liu et al., 2020), step for step as ``torch.optim.RAdam``.

    Update of each parameter w with gradient ∇ at step t = 1, 2, … (m₀ = v₀ = 0)::

        w   ← w·(1 − lr·weight_decay)               (decoupled_weight_decay)
        g   = ∇ + weight_decay·w                    (coupled, the default; −∇ + … if maximize)
        m   ← m + (1 − β₁)·(g − m) ;  v ← β₂·v + (1 − β₂)·g²
        ρ∞  = 2/(1 − β₂) − 1 ;  ρₜ = ρ∞ − 2t·β₂ᵗ/(1 − β₂ᵗ)
        rₜ  = √((ρₜ − 4)(ρₜ − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρₜ))
        w   ← w − lr · m/(1 − β₁ᵗ) · rₜ·√(1 − β₂ᵗ)/(√v + eps)    if ρₜ > 5
        w   ← w − lr · m/(1 − β₁ᵗ)                              otherwise (SGD with momentum)

    With the default β₂ = 0.999 the first five steps are the un-adapted momentum steps: the
    variance of v is too large to trust while few gradients have been seen.
    Defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0,
    decoupled_weight_decay=False, maximize=False.

    Keras differs: Keras has no RAdam (TensorFlow Addons' ``RectifiedAdam`` had one, with
    ``total_steps``/warm-up options that torch lacks).
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False):
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay,
                                  "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        _check_betas(type(self).__name__, group)
        _check_flags(type(self).__name__, group, ("decoupled_weight_decay", "maximize"))

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"step": 0, "exp_avg": np.zeros_like(data), "exp_avg_sq": np.zeros_like(data)}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        weight_decay = float(group["weight_decay"])
        decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
        state["step"] += 1
        step = state["step"]
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * step * (beta2 ** step) / bias_correction2
        rectified = rho_t > 5.0
        if rectified:
            rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                             / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            bias_correction2_sqrt = bias_correction2 ** 0.5
        for p, grad_block, exp_avg, exp_avg_sq, work0, work1 in self._blocks(
                [data, grad, state["exp_avg"], state["exp_avg_sq"]], 2):
            g = self._decayed_grad(p, grad_block, lr, weight_decay, decoupled, maximize,
                                    work0)
            _update_moments(exp_avg, exp_avg_sq, g, beta1, beta2, work1)
            np.divide(exp_avg, bias_correction1, out=work0)  # ((m / (1 − β₁ᵗ))·lr)
            np.multiply(work0, lr, out=work0)
            if rectified:                                    # ·(√(1 − β₂ᵗ)/(√v + eps))·rₜ
                np.sqrt(exp_avg_sq, out=work1)
                np.add(work1, eps, out=work1)
                np.divide(bias_correction2_sqrt, work1, out=work1)
                np.multiply(work0, work1, out=work0)
                np.multiply(work0, rect, out=work0)
            np.subtract(p, work0, out=p)
