"""Muon: momentum whose update matrix is orthogonalised by a Newton–Schulz iteration."""

from __future__ import annotations

import math

import numpy as np

from steepest.optim.adam import Adam
from steepest.optim.optimizer import (
    Optimizer, _check_betas, _check_flags, _check_non_negative, _is_number, _lerp_,
    check_hyperparameter,
)

__all__ = ["Muon", "MuonWithAuxAdamW", "to_bfloat16", "newton_schulz"]

NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def to_bfloat16(x) -> np.ndarray:
    """x rounded to bfloat16 as torch rounds it, held in a float32 array.

    torch converts to float32 first (round to nearest even), then keeps the top 16 bits of
    the float32, rounding to nearest even on the 16 dropped bits; NaN stays NaN.
    """
    x32 = np.asarray(x, dtype=np.float32)
    bits = x32.view(np.uint32).astype(np.uint64)
    bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = bits.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x32), np.float32(np.nan), out)


def _bf16_matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a·b of bfloat16 matrices with float32 accumulation in the order of the AVX512-BF16 /
    AMX kernels torch calls on such CPUs: products in pairs along the inner axis (each
    product is exact in float32), each pair's sum added to the running sum."""
    a, b = a.astype(np.float32), b.astype(np.float32)
    acc = np.zeros((a.shape[0], b.shape[1]), dtype=np.float32)
    inner = a.shape[1]
    for k in range(0, inner - 1, 2):
        acc += np.multiply.outer(a[:, k], b[k]) + np.multiply.outer(a[:, k + 1], b[k + 1])
    if inner % 2:
        acc += np.multiply.outer(a[:, -1], b[-1])
    return acc


def _bf16_addmm(c: np.ndarray, a: np.ndarray, b: np.ndarray, beta: float,
                alpha: float = 1.0) -> np.ndarray:
    """bfloat16(beta·c + alpha·(a·b)): the float32 sum fused into one rounding (an FMA)."""
    scaled = np.float32(alpha) * _bf16_matmul(a, b)
    fused = np.float64(np.float32(beta)) * c.astype(np.float64) + scaled.astype(np.float64)
    return to_bfloat16(fused.astype(np.float32))


def newton_schulz(matrix: np.ndarray, coefficients: tuple = NS_COEFFICIENTS, steps: int = 5,
                  eps: float = 1e-7, precision: str = "bfloat16") -> np.ndarray:
    r"""The quintic Newton–Schulz iteration that pushes a matrix's singular values towards 1.

    X₀ = M/max(‖M‖_F, eps) (on the wide orientation, so X·Xᵀ is the small Gram matrix), then
    ``steps`` times: A = X·Xᵀ ;  B = b·A + c·A·A ;  X ← a·X + B·X. With the default
    coefficients (a, b, c) the singular values land in about [0.7, 1.2], not exactly 1.

    ``precision='bfloat16'`` reproduces torch's CPU arithmetic: every tensor is bfloat16,
    each matrix product (and addmm) accumulates in float32 and is rounded once to bfloat16.
    The float32 accumulation order is that of the AVX512-BF16/AMX kernels (pairs of products,
    see ``_bf16_matmul``): on such a CPU it gives torch's bits exactly for inner dimensions
    up to 16 (checked on 130 random matrices); with inner dimensions of 32 and more, where
    torch's kernels block the sums otherwise, about one call in six differed in the bfloat16
    rounding of an element; CPUs without bfloat16 instructions were not checked.
    ``'float64'`` runs the same iteration without rounding. Returns a float64 array.
    """
    a, b, c = (float(v) for v in coefficients)
    if precision == "float64":
        x = np.asarray(matrix, dtype=np.float64)
        x = x.T if matrix.shape[0] > matrix.shape[1] else x
        x = x / max(float(np.sqrt(np.sum(x * x))), eps)
        for _ in range(steps):
            gram = x @ x.T
            x = a * x + (b * gram + c * (gram @ gram)) @ x
    else:
        bf = to_bfloat16
        x = bf(matrix)
        x = x.T if matrix.shape[0] > matrix.shape[1] else x
        norm = bf(np.sqrt(np.sum(x * x, dtype=np.float32)))
        x = bf(x / np.maximum(norm, bf(eps)))
        for _ in range(steps):
            gram = bf(_bf16_matmul(x, x.T))
            update = _bf16_addmm(gram, gram, gram, b, c)
            x = _bf16_addmm(x, update, x, a)
        x = x.astype(np.float64)
    return x.T if matrix.shape[0] > matrix.shape[1] else x


class Muon(Optimizer):
    r"""Muon (Jordan et al., 2024), step for step as ``torch.optim.Muon``: for 2-D weights only.

    Update of each weight matrix W (A×B) with gradient G (momentum buffer M₀ = 0)::

        M  ← M + (1 − μ)·(G − M)                 (torch's lerp: an EMA of the gradients)
        U  = G + μ·(M − G)  if nesterov,  M otherwise
        O  = NS(U)                               (≈ the orthogonal factor of U's SVD)
        W  ← W·(1 − lr·weight_decay) − lr·s·O

    with s = √max(1, A/B) (``adjust_lr_fn=None`` or ``'original'``), 0.2·√max(A, B)
    (``'match_rms_adamw'``, Moonshot's, to reuse AdamW's lr and weight decay). NS is
    :func:`newton_schulz`: in bfloat16 exactly as torch computes it on the CPU
    (``ns_precision='bfloat16'``, the default), or in float64 (``'float64'``; it then
    differs from torch's weights by 1e-2 relative after one step on a small MLP, 7e-2 after
    100). Defaults: lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
    ns_coefficients=(3.4445, −4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None.

    Like torch, Muon refuses parameters that are not matrices: give biases, embeddings and
    the like to another optimizer (AdamW). Each matrix is stepped on its own.

    Keras differs: ``keras.optimizers.Muon`` (recent Keras 3) does not refuse the other
    variables: it updates them (and, by default, embeddings) with a built-in AdamW.
    """

    flat_storage = False
    #: steepest's own option: torch's state dicts lack it, so loading one keeps the current value
    _own_options = frozenset({"ns_precision"})

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple = NS_COEFFICIENTS, eps: float = 1e-7,
                 ns_steps: int = 5, adjust_lr_fn: str | None = None, *,
                 ns_precision: str = "bfloat16"):
        ns_coefficients = (tuple(ns_coefficients) if isinstance(ns_coefficients, (list, tuple))
                           else ns_coefficients)
        super().__init__(params, {"lr": lr, "weight_decay": weight_decay, "momentum": momentum,
                                  "nesterov": nesterov, "ns_coefficients": ns_coefficients,
                                  "eps": eps, "ns_steps": ns_steps,
                                  "adjust_lr_fn": adjust_lr_fn, "ns_precision": ns_precision})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        name = type(self).__name__
        _check_non_negative(name, group, ("weight_decay", "momentum", "eps"))
        coefficients, steps = group["ns_coefficients"], group["ns_steps"]
        check_hyperparameter(name, "ns_coefficients", coefficients,
                             isinstance(coefficients, (tuple, list)) and len(coefficients) == 3
                             and all(_is_number(v) for v in coefficients),
                             "three numbers (a, b, c)")
        check_hyperparameter(name, "ns_steps", steps,
                             isinstance(steps, (int, np.integer)) and not isinstance(steps, bool)
                             and 0 <= steps < 100, "an integer in [0, 100)")
        check_hyperparameter(name, "adjust_lr_fn", group["adjust_lr_fn"],
                             group["adjust_lr_fn"] in (None, "original", "match_rms_adamw"),
                             "None, 'original' or 'match_rms_adamw'")
        check_hyperparameter(name, "ns_precision", group["ns_precision"],
                             group["ns_precision"] in ("bfloat16", "float64"),
                             "'bfloat16' or 'float64'")
        _check_flags(name, group, ("nesterov",))
        self._check_matrices(group)

    def _check_matrices(self, group: dict) -> None:
        for i, param in enumerate(group["params"]):
            if param.ndim != 2:
                raise ValueError(f"Muon: parameter {i} has shape {tuple(param.shape)}; Muon "
                                 f"steps 2-D weight matrices only (as torch.optim.Muon): give "
                                 f"biases and other parameters to another optimizer, e.g. AdamW")

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        return {"momentum_buffer": np.zeros_like(data)}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        lr, momentum = float(group["lr"]), float(group["momentum"])
        buf = state["momentum_buffer"]
        _lerp_(buf, grad, 1 - momentum, np.empty_like(buf))
        if group["nesterov"]:
            update = grad.copy()
            _lerp_(update, buf, momentum, np.empty_like(buf))
        else:
            update = buf
        ortho = newton_schulz(update, group["ns_coefficients"], group["ns_steps"],
                              float(group["eps"]), group["ns_precision"])
        rows, cols = data.shape[:2]
        if group["adjust_lr_fn"] == "match_rms_adamw":
            ratio = 0.2 * math.sqrt(max(rows, cols))
        else:
            ratio = math.sqrt(max(1, rows / cols))
        np.multiply(data, 1 - lr * float(group["weight_decay"]), out=data)
        np.add(data, ortho * -(lr * ratio), out=data)


class MuonWithAuxAdamW(Muon):
    r"""Muon for the weight matrices, AdamW for every other parameter: one optimizer for a
    whole network (Keller Jordan's "Muon with auxiliary AdamW").

    A parameter with 2 dimensions takes :class:`Muon`'s update with ``lr``, ``weight_decay``,
    ``momentum``, ``nesterov`` and the Newton–Schulz options; any other (biases, gains,
    scalars) takes ``torch.optim.AdamW``'s update with its own ``adamw_lr``, ``adamw_betas``,
    ``adamw_eps`` and ``adamw_weight_decay``::

        W (2-D):  W ← W·(1 − lr·weight_decay) − lr·s·NS(momentum of G)      (see Muon)
        b (rest): b ← b·(1 − adamw_lr·adamw_weight_decay) − adamw_lr·m̂/(√v̂ + adamw_eps)

    Step for step equal to ``torch.optim.Muon`` over the matrices plus ``torch.optim.AdamW``
    over the rest; the state is kept per parameter (``momentum_buffer`` for a matrix;
    ``step``, ``exp_avg``, ``exp_avg_sq`` for the others). Defaults: Muon's (lr=1e-3,
    weight_decay=0.1, momentum=0.95, nesterov=True, ...) and AdamW's (adamw_lr=1e-3,
    adamw_betas=(0.9, 0.999), adamw_eps=1e-8, adamw_weight_decay=1e-2). torch has no such
    class (its Muon refuses non-matrices); Keras's Muon does the same split by itself.
    """

    def __init__(self, params, lr: float = 1e-3, weight_decay: float = 0.1,
                 momentum: float = 0.95, nesterov: bool = True,
                 ns_coefficients: tuple = NS_COEFFICIENTS, eps: float = 1e-7,
                 ns_steps: int = 5, adjust_lr_fn: str | None = None, adamw_lr: float = 1e-3,
                 adamw_betas: tuple = (0.9, 0.999), adamw_eps: float = 1e-8,
                 adamw_weight_decay: float = 1e-2, *, ns_precision: str = "bfloat16"):
        ns_coefficients = (tuple(ns_coefficients) if isinstance(ns_coefficients, (list, tuple))
                           else ns_coefficients)
        adamw_betas = tuple(adamw_betas) if isinstance(adamw_betas, (list, tuple)) \
            else adamw_betas
        Optimizer.__init__(self, params, {
            "lr": lr, "weight_decay": weight_decay, "momentum": momentum,
            "nesterov": nesterov, "ns_coefficients": ns_coefficients, "eps": eps,
            "ns_steps": ns_steps, "adjust_lr_fn": adjust_lr_fn, "ns_precision": ns_precision,
            "adamw_lr": adamw_lr, "adamw_betas": adamw_betas, "adamw_eps": adamw_eps,
            "adamw_weight_decay": adamw_weight_decay})

    def _validate(self, group: dict) -> None:
        super()._validate(group)
        _check_betas(type(self).__name__, group, ("adamw_lr", "adamw_eps", "adamw_weight_decay"),
                     betas_key="adamw_betas")

    def _check_matrices(self, group: dict) -> None:
        """Every shape is welcome: the matrices go to Muon, the rest to AdamW."""

    @staticmethod
    def _adamw_group(group: dict) -> dict:
        """The AdamW hyperparameters of ``group`` under the names :class:`Adam` reads."""
        return {"lr": group["adamw_lr"], "betas": group["adamw_betas"],
                "eps": group["adamw_eps"], "weight_decay": group["adamw_weight_decay"],
                "amsgrad": False, "maximize": False, "decoupled_weight_decay": True}

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        if data.ndim == 2:
            return super()._init_state(data, group)
        return Adam._init_state(self, data, self._adamw_group(group))

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        if data.ndim == 2:
            super()._update(data, grad, state, group)
        else:  # Adam's torch-exact update, run on this optimizer's blocks and scratch arrays
            Adam._update(self, data, grad, state, self._adamw_group(group))
