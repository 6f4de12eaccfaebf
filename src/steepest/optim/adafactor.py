"""Adafactor: Adam-like scaling with a factored (row × column) second moment."""

from __future__ import annotations

import numpy as np

from steepest.optim.optimizer import (
    Optimizer, _check_flags, _check_non_negative, _is_number, _lerp_, check_hyperparameter,
)

__all__ = ["Adafactor"]


def _mean_square(grad: np.ndarray, axis: int) -> np.ndarray:
    """mean(g², axis) as torch computes it: ‖g‖₂ along the axis, squared, over the length."""
    norm = np.sqrt(np.sum(grad * grad, axis=axis, keepdims=True))
    return norm * norm / grad.shape[axis]


class Adafactor(Optimizer):
    r"""Adafactor (Shazeer & Stern, 2018), step for step as ``torch.optim.Adafactor`` (torch 2.13).

    Update of each parameter W (n×m, or a vector) with gradient G at step t = 1, 2, …::

        β̂ₜ  = t^beta2_decay                      (the weight of the new squares, 1 − β₂ₜ)
        ρₜ  = min(lr, 1/√t) ;  αₜ = max(eps₂, RMS(W))·ρₜ    (a step relative to W's size)
        W   ← W·(1 − lr·weight_decay)
        R   ← R + β̂ₜ·(mean(G², columns) − R) ;  C ← C + β̂ₜ·(mean(G², rows) − C)
        V̂   = R·C / mean(R)                     (rank-1 estimate of v; vectors keep v itself)
        U   = G / √max(V̂, eps₁²)
        W   ← W − αₜ/max(1, RMS(U)/d) · U       (update clipping at d)

    Memory: R and C are n + m numbers where Adam keeps 2·n·m. Matrices (and the last two
    axes of larger arrays) are factored; vectors keep a full v. There is no first moment.
    eps₁ defaults to the dtype's machine epsilon. Defaults: lr=1e-2, beta2_decay=−0.8,
    eps=(None, 1e-3), d=1.0, weight_decay=0, maximize=False. Each parameter is stepped on
    its own (RMS(W) is per parameter), never in a flat buffer.

    Keras differs: ``keras.optimizers.Adafactor`` has lr=1e-3 with ``relative_step=True``
    (ρₜ = min(lr, 1/√t) as here), eps₁=1e-30 added to G² before the averages
    (eps₂=1e-3 the same), clip_threshold=1.0 as d, and decoupled weight decay.
    """

    flat_storage = False

    def __init__(self, params, lr: float = 1e-2, beta2_decay: float = -0.8,
                 eps: tuple = (None, 1e-3), d: float = 1.0, weight_decay: float = 0.0, *,
                 maximize: bool = False):
        eps = tuple(eps) if isinstance(eps, (list, tuple)) else eps
        super().__init__(params, {"lr": lr, "beta2_decay": beta2_decay, "eps": eps, "d": d,
                                  "weight_decay": weight_decay, "maximize": maximize})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        decay, eps, d = group["beta2_decay"], group["eps"], group["d"]
        check_hyperparameter(name, "beta2_decay", decay, _is_number(decay) and decay <= 0,
                             "a number <= 0")
        check_hyperparameter(name, "eps", eps,
                             isinstance(eps, (tuple, list)) and len(eps) == 2
                             and (eps[0] is None or (_is_number(eps[0]) and eps[0] >= 0))
                             and _is_number(eps[1]) and eps[1] >= 0,
                             "a pair (eps1 or None, eps2) of numbers >= 0")
        check_hyperparameter(name, "d", d, _is_number(d) and d >= 1, "a number >= 1")
        _check_non_negative(name, group, ("weight_decay",))
        _check_flags(name, group, ("maximize",))

    def _state_shape(self, key: str, param) -> tuple:
        shape = tuple(param.shape)
        if key == "row_var":
            return shape[:-1] + (1,)
        if key == "col_var":
            return shape[:-2] + (1, shape[-1])
        return shape

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        if data.ndim > 1:
            return {"step": 0, "row_var": np.zeros(data.shape[:-1] + (1,), dtype=data.dtype),
                    "col_var": np.zeros(data.shape[:-2] + (1, data.shape[-1]), dtype=data.dtype)}
        return {"step": 0, "variance": np.zeros_like(data)}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, decay, d = float(group["lr"]), float(group["beta2_decay"]), float(group["d"])
        eps1, eps2 = group["eps"]
        eps1 = float(np.finfo(data.dtype).eps) if eps1 is None else float(eps1)
        weight_decay = float(group["weight_decay"])
        g = -grad if group["maximize"] else grad
        state["step"] += 1
        step = float(state["step"])
        weight = step ** decay
        rho = min(lr, 1 / (step ** 0.5))
        alpha = max(float(eps2), float(np.sqrt(np.sum(data * data))) / (data.size ** 0.5)) * rho
        if weight_decay != 0:
            np.multiply(data, 1 - lr * weight_decay, out=data)
        if g.ndim > 1:
            row_var, col_var = state["row_var"], state["col_var"]
            _lerp_(row_var, _mean_square(g, -1), weight, np.empty_like(row_var))
            _lerp_(col_var, _mean_square(g, -2), weight, np.empty_like(col_var))
            estimate = row_var @ col_var
            estimate /= np.maximum(np.mean(row_var, axis=-2, keepdims=True), eps1)
        else:
            variance = state["variance"]
            _lerp_(variance, g * g, weight, np.empty_like(variance))
            estimate = variance.copy()
        np.maximum(estimate, eps1 * eps1, out=estimate)     # U = G / √max(V̂, eps₁²)
        np.sqrt(estimate, out=estimate)
        update = np.divide(1.0, estimate, out=estimate)
        update *= g
        denom = max(1.0, float(np.sqrt(np.sum(update * update)))
                    / ((update.size ** 0.5) * d))
        update *= -alpha / denom
        data += update
