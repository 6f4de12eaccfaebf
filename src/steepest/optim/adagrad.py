"""Adagrad: per-weight step sizes that shrink with the sum of squared gradients."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import Optimizer, _is_bool, _is_number, check_hyperparameter

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011), step for step as ``torch.optim.Adagrad``.

    Update of each parameter w with gradient ∇ at step t = 1, 2, …
    (state G₀ = initial_accumulator_value)::

        g   = ∇ + weight_decay·w                (g = −∇ + … if maximize)
        lrₜ = lr / (1 + (t − 1)·lr_decay)
        G   ← G + g²
        w   ← w − lrₜ·g / (√G + eps)           (eps outside the root)

    Defaults: lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, maximize=False. G only grows, so every weight's step size only shrinks.

    Keras differs: ``keras.optimizers.Adagrad`` has lr=1e-3,
    initial_accumulator_value=0.1, eps=1e-7 *inside* the root (g/√(G + eps)), no lr_decay,
    and decoupled ``weight_decay``.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0.0,
                 weight_decay: float = 0.0, initial_accumulator_value: float = 0.0,
                 eps: float = 1e-10, *, maximize: bool = False):
        super().__init__(params, {"lr": lr, "lr_decay": lr_decay, "weight_decay": weight_decay,
                                  "initial_accumulator_value": initial_accumulator_value,
                                  "eps": eps, "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            value = group[key]
            check_hyperparameter(name, key, value, _is_number(value) and value >= 0,
                                 "a number >= 0")
        check_hyperparameter(name, "maximize", group["maximize"], _is_bool(group["maximize"]),
                             "True or False")

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"step": 0,
                "sum": np.full_like(data, group["initial_accumulator_value"])}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        state["step"] += 1
        step = state["step"]
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        eps = float(group["eps"])
        clr = float(group["lr"]) / (1 + (step - 1) * float(group["lr_decay"]))
        for p, grad_block, total, work0, work1 in self._blocks(
                [data, grad, state["sum"]], 2):
            g = self._effective_grad(p, grad_block, weight_decay, maximize, work0)
            np.multiply(g, g, out=work1)                     # G ← G + g²
            np.add(total, work1, out=total)
            np.sqrt(total, out=work1)                        # √G + eps
            np.add(work1, eps, out=work1)
            np.multiply(g, -clr, out=work0)                  # w ← w + (−lrₜ·g)/(√G + eps)
            np.divide(work0, work1, out=work0)
            np.add(p, work0, out=p)
