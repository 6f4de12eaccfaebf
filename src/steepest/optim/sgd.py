"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import Optimizer, _is_bool, _is_number, check_hyperparameter

__all__ = ["SGD"]


class SGD(Optimizer):
    r"""SGD, step for step as ``torch.optim.SGD``.

    Update of each parameter w with gradient ∇ (t = 1, 2, …)::

        g  = ∇ + weight_decay·w                 (g = −∇ + … if maximize)
        b₁ = g ;  b_t = momentum·b_{t−1} + (1 − dampening)·g     (only if momentum ≠ 0)
        d  = g + momentum·b_t  if nesterov,  b_t  if momentum ≠ 0,  g  otherwise
        w ← w − lr·d

    Defaults (torch 2.x): lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False,
    maximize=False. The first momentum buffer is the gradient itself (not dampened).
    Nesterov needs momentum > 0 and dampening = 0.

    Keras differs: ``keras.optimizers.SGD`` has lr=0.01 and keeps the learning rate inside
    the velocity (v ← momentum·v − lr·g; w ← w + v; Nesterov: w ← w + momentum·v − lr·g),
    which is the same run for a constant lr but not when a schedule changes lr; its
    ``weight_decay`` is decoupled (w ← w − lr·wd·w), not added to the gradient.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False, *, maximize: bool = False):
        super().__init__(params, {"lr": lr, "momentum": momentum, "dampening": dampening,
                                  "weight_decay": weight_decay, "nesterov": nesterov,
                                  "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        momentum, dampening = group["momentum"], group["dampening"]
        check_hyperparameter(name, "momentum", momentum,
                             _is_number(momentum) and momentum >= 0, "a number >= 0")
        check_hyperparameter(name, "dampening", dampening, _is_number(dampening),
                             "a finite number (usually in [0, 1])")
        check_hyperparameter(name, "weight_decay", group["weight_decay"],
                             _is_number(group["weight_decay"]) and group["weight_decay"] >= 0,
                             "a number >= 0")
        check_hyperparameter(name, "nesterov", group["nesterov"], _is_bool(group["nesterov"]),
                             "True or False")
        check_hyperparameter(name, "maximize", group["maximize"], _is_bool(group["maximize"]),
                             "True or False")
        if group["nesterov"]:
            check_hyperparameter(name, "nesterov", True, momentum > 0 and dampening == 0,
                                 f"momentum > 0 and dampening == 0 with nesterov=True "
                                 f"(got momentum={momentum}, dampening={dampening})")

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr = float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay, maximize = float(group["weight_decay"]), group["maximize"]
        nesterov = group["nesterov"]
        arrays = [data, grad]
        first_step = False
        if momentum != 0:
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = np.empty_like(data)
                first_step = True
            arrays.append(state["momentum_buffer"])
        for p, grad_block, *rest in self._blocks(arrays, 2):
            *buffer, work0, work1 = rest
            g = self._effective_grad(p, grad_block, weight_decay, maximize, work0)
            if buffer:
                buf = buffer[0]
                if first_step:  # the first buffer is the gradient itself, undampened
                    np.copyto(buf, g)
                else:
                    np.multiply(buf, momentum, out=buf)
                    if dampening == 0:
                        np.add(buf, g, out=buf)
                    else:
                        np.multiply(g, 1 - dampening, out=work1)
                        np.add(buf, work1, out=buf)
                if nesterov:
                    np.multiply(buf, momentum, out=work1)
                    np.add(g, work1, out=work1)
                    g = work1
                else:
                    g = buf
            # w ← w − lr·d, the product in a scratch buffer (never in .grad or in the state)
            scratch = g if (g is work0 or g is work1) else work1
            np.multiply(g, lr, out=scratch)
            np.subtract(p, scratch, out=p)
