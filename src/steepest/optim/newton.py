"""Newton's method with damping: the step gradient descent approximates, for small models."""

from __future__ import annotations

import numpy as np

from steepest.curvature import HessianOperator
from steepest.optim.optimizer import Optimizer, _check_non_negative
from steepest.tensor import Tensor, bump_version, enable_grad

__all__ = ["Newton", "hessian_of"]


def hessian_of(loss: Tensor, params: list) -> tuple:
    """(gradient, Hessian) of a scalar ``loss`` in all ``params`` as one vector (float64 arrays
    of length n and n×n), from :class:`steepest.curvature.HessianOperator`: the gradient with
    ``create_graph=True``, then n Hessian-vector products, one per column H·eᵢ."""
    operator = HessianOperator(params, forward=lambda: loss)
    if not operator.connected:
        raise RuntimeError("Newton: the loss has no graph back to the parameters: did the "
                           "closure call loss.backward()? backward() frees the graph the "
                           "Hessian needs; return the loss without it, or call "
                           "backward(retain_graph=True)")
    return operator.gradient, operator.dense()


class Newton(Optimizer):
    r"""Damped Newton's method: w ← w − lr·(H + damping·I)⁻¹·∇, with the exact Hessian H.

    Near a minimum the loss is about J(w + d) ≈ J(w) + ∇·d + ½·dᵀH·d; the Newton step
    d = −H⁻¹∇ jumps to that quadratic's minimum, so a quadratic is solved in one step (lr=1,
    damping=0). Gradient descent's w ← w − lr·∇ replaces H⁻¹ by lr·I: it is Newton's step
    with every curvature taken to be 1/lr, which is why lr must stay below 2/λ_max.
    ``damping`` (Levenberg–Marquardt) adds λ·I: a step between Newton's (λ → 0) and gradient
    descent with lr/λ (λ large). Away from a minimum H may have negative eigenvalues, where
    the undamped step heads for a saddle or a maximum: damping larger than −λ_min keeps
    H + λI positive definite.

    ``step(closure)`` like LBFGS, but the closure only computes and returns the loss: the
    Hessian needs its graph, which ``backward()`` frees (``backward(retain_graph=True)`` in
    the closure is fine). The Hessian costs n backward passes of the gradient (n parameters)
    and n² numbers: small models only.
    Defaults: lr=1.0, damping=0.0. torch and Keras have no Newton optimizer (torch's
    ``torch.autograd.functional.hessian`` gives the same H; the tests solve with it).
    """

    flat_storage = False
    needs_closure = True  #: step(closure): fit and the other surfaces pass one

    def __init__(self, params, lr: float = 1.0, damping: float = 0.0):
        super().__init__(params, {"lr": lr, "damping": damping})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        _check_non_negative(type(self).__name__, group, ("damping",))

    def step(self, closure):  # type: ignore[override]
        """One Newton step per parameter group; returns the closure's loss."""
        if closure is None or not callable(closure):
            raise TypeError(f"Newton.step: closure must be a function that computes and "
                            f"returns the loss (the Hessian needs the graph); got {closure!r}")
        with enable_grad():
            loss = closure()
        if not isinstance(loss, Tensor) or loss._data.size != 1 or not loss.requires_grad:
            raise TypeError(f"Newton.step: the closure must return the loss as a one-element "
                            f"tensor with a graph, got {loss!r}")
        self._step_count += 1
        for group in self.param_groups:
            params = [p for p in group["params"] if p.requires_grad]
            gradient, hessian = hessian_of(loss, params)
            damped = hessian + float(group["damping"]) * np.eye(len(gradient))
            try:
                direction = np.linalg.solve(damped, gradient)
            except np.linalg.LinAlgError:
                raise np.linalg.LinAlgError(
                    f"Newton.step: H + damping·I is singular (damping={group['damping']}); "
                    f"use damping > 0") from None
            offset = 0
            for p in params:
                size = p._data.size
                p._data -= (float(group["lr"]) * direction[offset:offset + size]).reshape(
                    p._data.shape).astype(p._data.dtype)
                bump_version(p)
                offset += size
            state = self.state.setdefault(params[0], {}) if params else {}
            state["step"] = state.get("step", 0) + 1
        return loss
