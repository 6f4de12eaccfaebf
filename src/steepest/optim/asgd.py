"""ASGD: SGD with a decaying step and a running (Polyak–Ruppert) average of the weights."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import Optimizer, _check_flags, _check_non_negative

__all__ = ["ASGD"]


def _float32(value: float) -> float:
    """value rounded to float32, as torch stores ASGD's eta and mu (0-d float32 tensors)."""
    return float(np.float32(value))


class ASGD(Optimizer):
    r"""Averaged SGD (Polyak & Juditsky, 1992), step for step as ``torch.optim.ASGD``.

    Update of each parameter w at step t = 1, 2, … (η₀ = lr, μ₀ = 1, the average a)::

        g  = ∇ + weight_decay·w                 (g = −∇ + … if maximize)
        w  ← w·(1 − λ·ηₜ₋₁) − ηₜ₋₁·g
        a  ← a + μₜ₋₁·(w − a)   (a ← w while μ = 1, i.e. until step t0)
        ηₜ = lr / (1 + λ·lr·t)^α ;  μₜ = 1 / max(1, t − t0)

    The averaged weights live in ``optimizer.state[p]['ax']``: copy them into the model to
    evaluate the average. torch keeps η and μ as float32 tensors (its default scalar dtype),
    so they are rounded to float32 here as well. Defaults: lr=1e-2, lambd=1e-4, alpha=0.75,
    t0=1e6, weight_decay=0, maximize=False.

    Keras differs: Keras has no ASGD (its ``use_ema`` option keeps an exponential average
    of the weights instead of this arithmetic one).
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0.0, *, maximize: bool = False):
        super().__init__(params, {"lr": lr, "lambd": lambd, "alpha": alpha, "t0": t0,
                                  "weight_decay": weight_decay, "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        _check_non_negative(name, group, ("lambd", "alpha", "t0", "weight_decay"))
        _check_flags(name, group, ("maximize",))

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"step": 0, "eta": _float32(group["lr"]), "mu": 1.0,
                "ax": np.zeros_like(data)}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, lambd, alpha = float(group["lr"]), float(group["lambd"]), float(group["alpha"])
        t0, weight_decay = float(group["t0"]), float(group["weight_decay"])
        state["step"] += 1
        step, eta, mu = state["step"], state["eta"], state["mu"]
        for p, grad_block, ax, work0, work1 in self._blocks([data, grad, state["ax"]], 2):
            g = self._effective_grad(p, grad_block, weight_decay, group["maximize"], work0)
            np.multiply(p, 1 - lambd * eta, out=p)     # w ← w(1 − λη) + (−η)g
            np.multiply(g, -eta, out=work1)
            np.add(p, work1, out=p)
            if mu != 1:                                # a ← a + (w − a)μ
                np.subtract(p, ax, out=work1)
                np.multiply(work1, mu, out=work1)
                np.add(ax, work1, out=ax)
            else:
                np.copyto(ax, p)
        state["eta"] = _float32(lr / ((1 + lambd * lr * step) ** alpha))
        state["mu"] = _float32(1 / max(1, step - t0))
