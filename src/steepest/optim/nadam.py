"""NAdam: Adam with Nesterov momentum and a momentum schedule."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import Optimizer, _check_betas, _check_flags, _update_moments

__all__ = ["NAdam"]


class NAdam(Optimizer):
    r"""NAdam (Dozat, 2016), step for step as ``torch.optim.NAdam``.

    Update of each parameter w with gradient ∇ at step t = 1, 2, … (m₀ = v₀ = 0, Π₀ = 1)::

        w   ← w·(1 − lr·weight_decay)              (decoupled_weight_decay, "NAdamW")
        g   = ∇ + weight_decay·w                   (coupled, the default; −∇ + … if maximize)
        μₜ  = β₁·(1 − ½·0.96^(t·momentum_decay))   (the momentum schedule)
        Πₜ  = Πₜ₋₁·μₜ                               (mu_product, a float32 number as in torch)
        m   ← m + (1 − β₁)·(g − m) ;  v ← β₂·v + (1 − β₂)·g²
        d   = √(v / (1 − β₂ᵗ)) + eps
        w   ← w − lr·(1 − μₜ)/(1 − Πₜ) · g/d − lr·μₜ₊₁/(1 − Πₜ·μₜ₊₁) · m/d

    Defaults: lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
    decoupled_weight_decay=False, maximize=False. torch keeps ``mu_product`` as a float32
    tensor (its default scalar dtype), so Πₜ is rounded to float32 after each product here too.

    Keras differs: ``keras.optimizers.Nadam`` has lr=1e-3, eps=1e-7 added to √v̂ with
    v̂ = v/(1 − β₂ᵗ) as here, but a fixed schedule 0.96^(0.004·t) (no momentum_decay), its
    running product of μ kept in its own variable, and ``weight_decay`` always decoupled.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 2e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, maximize: bool = False):
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay,
                                  "momentum_decay": momentum_decay,
                                  "decoupled_weight_decay": decoupled_weight_decay,
                                  "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        _check_betas(name, group, ("eps", "weight_decay", "momentum_decay"))
        _check_flags(name, group, ("decoupled_weight_decay", "maximize"))

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"step": 0, "mu_product": 1.0, "exp_avg": np.zeros_like(data),
                "exp_avg_sq": np.zeros_like(data)}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = (float(b) for b in group["betas"])
        weight_decay, momentum_decay = float(group["weight_decay"]), float(group["momentum_decay"])
        decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
        state["step"] += 1
        step = state["step"]
        bias_correction2 = 1 - beta2 ** step
        mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
        mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
        mu_product = float(np.float32(state["mu_product"]) * np.float32(mu))
        state["mu_product"] = mu_product
        mu_product_next = mu_product * mu_next
        grad_scale = -lr * (1.0 - mu) / (1.0 - mu_product)
        avg_scale = (-lr * mu_next) / (1.0 - mu_product_next)
        for p, grad_block, exp_avg, exp_avg_sq, work0, work1 in self._blocks(
                [data, grad, state["exp_avg"], state["exp_avg_sq"]], 2):
            g = self._decayed_grad(p, grad_block, lr, weight_decay, decoupled, maximize,
                                    work0)
            _update_moments(exp_avg, exp_avg_sq, g, beta1, beta2, work1)
            denom = work1                                    # d = √(v / (1 − β₂ᵗ)) + eps
            np.divide(exp_avg_sq, bias_correction2, out=denom)
            np.sqrt(denom, out=denom)
            np.add(denom, eps, out=denom)
            np.multiply(g, grad_scale, out=work0)            # w ← w + c₁·g/d
            np.divide(work0, denom, out=work0)
            np.add(p, work0, out=p)
            np.multiply(exp_avg, avg_scale, out=work0)       # w ← w + c₂·m/d
            np.divide(work0, denom, out=work0)
            np.add(p, work0, out=p)
