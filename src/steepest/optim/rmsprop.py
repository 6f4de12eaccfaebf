"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import (
    Optimizer, _is_bool, _is_number, _lerp_, check_hyperparameter,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, 2012), step for step as ``torch.optim.RMSprop``.

    Update of each parameter w with gradient ∇ (state v₀ = 0, ḡ₀ = 0, b₀ = 0)::

        g  = ∇ + weight_decay·w                 (g = −∇ + … if maximize)
        v  ← alpha·v + (1 − alpha)·g²
        ḡ  ← ḡ + (1 − alpha)·(g − ḡ)            (centered only)
        s  = √(v − ḡ²) + eps  if centered,  √v + eps  otherwise      (eps outside the root)
        b  ← momentum·b + g/s ;  w ← w − lr·b   if momentum > 0
        w  ← w − lr·g/s                          otherwise

    Defaults: lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
    maximize=False. There is no bias correction: v starts at 0, so the first steps are
    larger than lr (about lr/√(1 − alpha) = 10·lr at step 1).

    Keras differs: ``keras.optimizers.RMSprop`` has lr=1e-3, rho=0.9 (torch's alpha),
    eps=1e-7 *inside* the root (g/√(v + eps)), keeps lr inside the momentum buffer, and
    decouples ``weight_decay`` from the gradient.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 *, maximize: bool = False):
        super().__init__(params, {"lr": lr, "alpha": alpha, "eps": eps,
                                  "weight_decay": weight_decay, "momentum": momentum,
                                  "centered": centered, "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        for key, ok, expected in (
                ("alpha", lambda a: 0 <= a <= 1, "a number in [0, 1]"),
                ("eps", lambda e: e >= 0, "a number >= 0"),
                ("weight_decay", lambda w: w >= 0, "a number >= 0"),
                ("momentum", lambda m: m >= 0, "a number >= 0")):
            value = group[key]
            check_hyperparameter(name, key, value, _is_number(value) and ok(value), expected)
        for key in ("centered", "maximize"):
            check_hyperparameter(name, key, group[key], _is_bool(group[key]), "True or False")

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        state = {"step": 0, "square_avg": np.zeros_like(data)}
        if group["momentum"] > 0:
            state["momentum_buffer"] = np.zeros_like(data)
        if group["centered"]:
            state["grad_avg"] = np.zeros_like(data)
        return state

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        momentum = float(group["momentum"])
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        centered = group["centered"]
        state["step"] += 1
        arrays = [data, grad, state["square_avg"]]
        for key, wanted in (("grad_avg", centered), ("momentum_buffer", momentum > 0)):
            if wanted:
                if state.get(key) is None:
                    state[key] = np.zeros_like(data)
                arrays.append(state[key])
        for p, grad_block, square_avg, *rest in self._blocks(arrays, 2):
            work0, work1 = rest[-2:]
            g = self._effective_grad(p, grad_block, weight_decay, maximize, work0)
            np.multiply(square_avg, alpha, out=square_avg)   # v ← alpha·v + ((1 − alpha)·g)·g
            np.multiply(g, 1 - alpha, out=work1)
            np.multiply(work1, g, out=work1)
            np.add(square_avg, work1, out=square_avg)

            avg = work1                                      # s = √(v [− ḡ²]) + eps
            if centered:
                grad_avg = rest[0]
                _lerp_(grad_avg, g, 1 - alpha, work1)
                np.multiply(grad_avg, grad_avg, out=avg)
                np.subtract(square_avg, avg, out=avg)
                np.sqrt(avg, out=avg)
            else:
                np.sqrt(square_avg, out=avg)
            np.add(avg, eps, out=avg)

            if momentum > 0:
                buf = rest[-3]
                np.multiply(buf, momentum, out=buf)          # b ← momentum·b + g/s
                np.divide(g, avg, out=avg)
                np.add(buf, avg, out=buf)
                np.multiply(buf, lr, out=avg)                # w ← w − lr·b
                np.subtract(p, avg, out=p)
            else:
                np.multiply(g, -lr, out=work0)               # w ← w + (−lr·g)/s
                np.divide(work0, avg, out=work0)
                np.add(p, work0, out=p)
