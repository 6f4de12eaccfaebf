"""Plain gradient descent, the course's update rule."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import Optimizer

__all__ = ["GD"]


class GD(Optimizer):
    """Gradient descent: w ← w − lr · ∂loss/∂w, nothing else.

    The update of the course notes (``W1 -= lr * G1``): no momentum, no weight decay. Equal to
    ``SGD(params, lr)`` with every option at its default.
    """

    grad_in_blocks = True  # _update reads grad through _blocks only
    elementwise = True     # threads may split a large flat update (Optimizer.elementwise)

    def __init__(self, params, lr: float = 0.1):
        super().__init__(params, {"lr": lr})

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr = group["lr"]
        for p, g, scratch in self._blocks([data, grad], 1):
            np.multiply(g, lr, out=scratch)
            np.subtract(p, scratch, out=p)
