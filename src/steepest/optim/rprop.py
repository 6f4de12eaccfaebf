"""Rprop: per-weight step sizes that grow while the gradient's sign holds, shrink when it flips."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import (
    Optimizer, _check_flags, _is_number, check_hyperparameter,
)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    r"""Rprop (Riedmiller & Braun, 1993; iRprop⁻), step for step as ``torch.optim.Rprop``.

    Each weight w has its own step size s (s₀ = lr) and remembers its last gradient g₋::

        g  = ∇                                   (g = −∇ if maximize)
        f  = η₊ if g·g₋ > 0,  η₋ if g·g₋ < 0,  1 if g·g₋ = 0
        s  ← clip(s·f, step_size_min, step_size_max)
        g  ← 0 where f = η₋                      (after a sign flip: no move, and no flip next)
        w  ← w − sign(g)·s ;  g₋ ← g

    Only the gradient's sign is used, never its size, so Rprop is meant for full batches.
    Defaults: lr=1e-2, etas=(η₋, η₊)=(0.5, 1.2), step_sizes=(1e-6, 50), maximize=False.

    Keras differs: Keras has no Rprop.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 1e-2, etas: tuple = (0.5, 1.2),
                 step_sizes: tuple = (1e-6, 50), *, maximize: bool = False):
        etas = tuple(etas) if isinstance(etas, (list, tuple)) else etas
        step_sizes = tuple(step_sizes) if isinstance(step_sizes, (list, tuple)) else step_sizes
        super().__init__(params, {"lr": lr, "etas": etas, "step_sizes": step_sizes,
                                  "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        etas, sizes = group["etas"], group["step_sizes"]
        check_hyperparameter(name, "etas", etas,
                             isinstance(etas, (tuple, list)) and len(etas) == 2
                             and all(_is_number(e) for e in etas)
                             and 0 < etas[0] < 1 < etas[1],
                             "a pair (etaminus, etaplus) with 0 < etaminus < 1 < etaplus")
        check_hyperparameter(name, "step_sizes", sizes,
                             isinstance(sizes, (tuple, list)) and len(sizes) == 2
                             and all(_is_number(s) for s in sizes) and 0 <= sizes[0] <= sizes[1],
                             "a pair (min, max) with 0 <= min <= max")
        _check_flags(name, group, ("maximize",))

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"step": 0, "prev": np.zeros_like(data),
                "step_size": np.full_like(data, float(group["lr"]))}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        etaminus, etaplus = (float(e) for e in group["etas"])
        size_min, size_max = (float(s) for s in group["step_sizes"])
        state["step"] += 1
        for p, grad_block, prev, step_size, work0, work1 in self._blocks(
                [data, grad, state["prev"], state["step_size"]], 2):
            if group["maximize"]:
                np.negative(grad_block, out=work0)
            else:
                np.copyto(work0, grad_block)
            g = work0
            factor = work1                                # f from the sign of g·g₋
            np.multiply(g, prev, out=factor)
            np.sign(factor, out=factor)
            np.copyto(factor, etaplus, where=factor > 0)
            np.copyto(factor, etaminus, where=factor < 0)
            np.copyto(factor, 1.0, where=factor == 0)
            np.multiply(step_size, factor, out=step_size)  # s ← clip(s·f, min, max)
            np.clip(step_size, size_min, size_max, out=step_size)
            np.copyto(g, 0.0, where=factor == etaminus)
            np.copyto(prev, g)
            np.sign(g, out=g)                             # w ← w − sign(g)·s
            np.multiply(g, step_size, out=g)
            np.subtract(p, g, out=p)
