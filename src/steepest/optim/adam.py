"""Adam and AdamW: momentum and RMS scaling with bias correction."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import Optimizer, _check_betas, _check_flags, _update_moments

__all__ = ["Adam", "AdamW"]


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), step for step as ``torch.optim.Adam``.

    Update of each parameter w with gradient ∇ at step t = 1, 2, … (m₀ = v₀ = v̂₀ = 0)::

        w  ← w·(1 − lr·weight_decay)            (decoupled_weight_decay, i.e. AdamW)
        g  = ∇ + weight_decay·w                 (coupled, the default; g = −∇ + … if maximize)
        m  ← m + (1 − β₁)·(g − m)               (torch's lerp)
        v  ← β₂·v + (1 − β₂)·g²
        v̂  ← max(v̂, v)                          (amsgrad only; then v̂ replaces v below)
        w  ← w − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)

    Defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
    maximize=False, decoupled_weight_decay=False. Adam's weight_decay is L2 added to the
    gradient, so it is rescaled by the adaptive denominator; use AdamW for decay that is not.

    Keras differs: ``keras.optimizers.Adam`` has eps=1e-7 and applies it to the
    *uncorrected* root (w ← w − lr·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + eps), Kingma & Ba's
    "epsilon hat"), so eps weighs √(1−β₂ᵗ) times more in early steps; its
    ``weight_decay`` is always decoupled.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False, *,
                 maximize: bool = False, decoupled_weight_decay: bool = False):
        betas = tuple(betas) if isinstance(betas, (list, tuple)) else betas
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps,
                                  "weight_decay": weight_decay, "amsgrad": amsgrad,
                                  "maximize": maximize,
                                  "decoupled_weight_decay": decoupled_weight_decay})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        _check_betas(name, group)
        _check_flags(name, group, ("amsgrad", "maximize", "decoupled_weight_decay"))

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        state = {"step": 0, "exp_avg": np.zeros_like(data),
                 "exp_avg_sq": np.zeros_like(data)}
        if group["amsgrad"]:
            state["max_exp_avg_sq"] = np.zeros_like(data)
        return state

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, eps = float(group["lr"]), float(group["eps"])
        beta1, beta2 = group["betas"]
        beta1, beta2 = float(beta1), float(beta2)
        weight_decay = float(group["weight_decay"])
        decoupled, maximize = group["decoupled_weight_decay"], group["maximize"]
        state["step"] += 1
        step = state["step"]
        bias_correction1 = 1 - beta1 ** step
        bias_correction2 = 1 - beta2 ** step
        step_size = lr / bias_correction1
        bias_correction2_sqrt = bias_correction2 ** 0.5

        arrays = [data, grad, state["exp_avg"], state["exp_avg_sq"]]
        if group["amsgrad"]:
            if "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(data)
            arrays.append(state["max_exp_avg_sq"])
        for p, grad_block, exp_avg, exp_avg_sq, *rest in self._blocks(arrays, 2):
            *max_exp_avg_sq, work0, work1 = rest
            g = self._decayed_grad(p, grad_block, lr, weight_decay, decoupled, maximize,
                                    work0)
            _update_moments(exp_avg, exp_avg_sq, g, beta1, beta2, work1)

            second = exp_avg_sq
            if max_exp_avg_sq:                               # amsgrad: v̂ ← max(v̂, v)
                second = max_exp_avg_sq[0]
                np.maximum(second, exp_avg_sq, out=second)
            denom = work1                                    # √v / √(1 − β₂ᵗ) + eps
            np.sqrt(second, out=denom)
            np.divide(denom, bias_correction2_sqrt, out=denom)
            np.add(denom, eps, out=denom)
            np.multiply(exp_avg, -step_size, out=work0)      # w ← w + (−step_size·m)/denom
            np.divide(work0, denom, out=work0)
            np.add(p, work0, out=p)


class AdamW(Adam):
    r"""AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay, as torch.optim.AdamW.

    Each step first shrinks the weights, w ← w·(1 − lr·weight_decay), then takes Adam's step
    on the plain gradient (see :class:`Adam` for the formulas), so the decay is not divided
    by √v. Defaults: lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
    amsgrad=False, maximize=False.

    Keras differs: ``keras.optimizers.AdamW`` has weight_decay=0.004 and eps=1e-7 (with
    Adam's "epsilon hat" placement, see :class:`Adam`).
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW always decouples, whatever was saved
            group["decoupled_weight_decay"] = True
