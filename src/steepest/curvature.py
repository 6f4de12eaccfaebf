"""Curvature of a loss: the Hessian's largest eigenvalues, measured with Hessian-vector products.

For a quadratic J(w) = ½ λ w², gradient descent w ← w − η λ w multiplies w by (1 − η λ) each
step: it converges when |1 − η λ| < 1, i.e. η < 2/λ. A network's loss is locally quadratic,
with the Hessian H in place of λ, so the step is stable along every eigenvector of H only while

    η < 2 / λ_max(H)            (the critical learning rate)

``sharpness`` measures λ_max(H) without forming H: each Lanczos iteration needs one product
H v, which is the gradient of (∇L · v) (a double backward, exact to rounding). For n
parameters that costs about two gradients per product instead of n gradients for H itself.

* :func:`hessian_vector_product` — H v for a model's loss, as arrays.
* :class:`HessianOperator` — H as a linear operator (``matvec``, ``dense`` for small models).
* :func:`hessian_eigenvalues` — the k largest eigenvalues and their eigenvectors (Lanczos with
  full reorthogonalisation).
* :func:`sharpness` — ``(λ_max, eigenvector)``.
* :func:`critical_learning_rate` — 2 / λ_max.

Eigenvectors are flat float64 vectors over ``model.parameters()`` in order, each parameter
flattened (``np.concatenate([p.numpy().ravel() for p in params])`` has the same layout).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from steepest.autograd import grad as _autograd_grad
from steepest.tensor import Tensor, enable_grad

__all__ = ["HessianOperator", "hessian_vector_product", "hessian_eigenvalues", "sharpness",
           "critical_learning_rate"]


def _trainable(model_or_params) -> list:
    params = list(model_or_params.parameters() if hasattr(model_or_params, "parameters")
                  else model_or_params)
    params = [p for p in params if p.requires_grad]
    if not params:
        raise ValueError("curvature: the model has no parameter that requires grad; there is "
                         "no Hessian to measure")
    return params


def _as_input(value, name: str, dtype) -> Tensor:
    if isinstance(value, Tensor):
        return value
    array = np.asarray(value)
    if array.dtype.kind == "f":
        array = array.astype(dtype, copy=False)
    elif array.dtype.kind not in "iub":
        raise TypeError(f"curvature: {name} must be numbers (an array or a Tensor), got dtype "
                        f"{array.dtype}")
    return Tensor(array)


class HessianOperator:
    """The Hessian of ``loss_fn(model(X), y)`` with respect to the trainable parameters.

    The gradient is computed once with ``create_graph=True``; each :meth:`matvec` is then one
    backward pass through that gradient's graph: H v = ∇(∇L · v).

    Parameters
    ----------
    model : Module (or an iterable of parameters, with ``forward`` given)
    loss_fn : callable(prediction, target) -> scalar Tensor
    X, y : the data the loss is measured on (the whole batch: full-batch curvature)
    forward : optional callable() -> loss Tensor, replacing ``loss_fn(model(X), y)``
    """

    def __init__(self, model, loss_fn=None, X=None, y=None, forward=None):
        self.params = _trainable(model)
        self.shapes = [p.shape for p in self.params]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.n = sum(self.sizes)
        dtype = self.params[0].dtype
        with enable_grad():
            if forward is not None:
                loss = forward()
            else:
                if loss_fn is None or X is None or y is None:
                    raise TypeError("HessianOperator: pass loss_fn, X and y (or forward=)")
                loss = loss_fn(model(_as_input(X, "X", dtype)), _as_input(y, "y", dtype))
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                raise ValueError(f"HessianOperator: the loss must be a one-element Tensor, got "
                                 f"{type(loss).__name__} of shape {getattr(loss, 'shape', '?')}")
            self.loss = float(loss.item())
            self._grads = _autograd_grad(loss, self.params, create_graph=True,
                                         allow_unused=True)
        #: whether the loss depends on any parameter at all (False: no graph reaches them)
        self.connected = any(g is not None for g in self._grads)
        self.gradient = self._flatten(self._grads)
        self.products = 0  #: how many H v products were computed

    def _flatten(self, tensors) -> np.ndarray:
        parts = [np.zeros(size) if t is None else np.asarray(t.detach().numpy(), dtype=np.float64)
                 .ravel() for t, size in zip(tensors, self.sizes)]
        return np.concatenate(parts) if parts else np.zeros(0)

    def _split(self, vector: np.ndarray) -> list:
        out, start = [], 0
        for p, size, shape in zip(self.params, self.sizes, self.shapes):
            out.append(Tensor(vector[start:start + size].reshape(shape).astype(p.dtype)))
            start += size
        return out

    def matvec(self, vector) -> np.ndarray:
        """H v for a flat vector ``v`` of length ``n`` (float64 result)."""
        vector = np.asarray(vector, dtype=np.float64)
        if vector.shape != (self.n,):
            raise ValueError(f"matvec: vector must have shape ({self.n},), got {vector.shape}")
        used = [(g, v) for g, v in zip(self._grads, self._split(vector)) if g is not None
                and g.requires_grad]
        if not used:  # the gradient does not depend on the parameters: a linear loss
            return np.zeros(self.n)
        with enable_grad():
            products = _autograd_grad([g for g, _ in used], self.params,
                                      grad_outputs=[v for _, v in used], retain_graph=True,
                                      allow_unused=True)
        self.products += 1
        return self._flatten(products)

    __matmul__ = matvec

    def dense(self) -> np.ndarray:
        """The whole n × n Hessian, one column per basis vector (for small models only)."""
        if self.n > 5000:
            raise ValueError(f"dense: {self.n} parameters would make a {self.n}² Hessian; use "
                             f"hessian_eigenvalues for large models")
        eye = np.eye(self.n)
        return np.stack([self.matvec(eye[i]) for i in range(self.n)], axis=1)


def hessian_vector_product(model, loss_fn, X, y, vector) -> np.ndarray:
    """H v of ``loss_fn(model(X), y)`` for a flat vector ``v`` over the trainable parameters."""
    return HessianOperator(model, loss_fn, X, y).matvec(vector)


def _positive_int(value, name: str, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be a whole number >= {low}, got {value!r}")
    return int(value)


def _lanczos(matvec, n: int, k: int, iterations: int, seed: int, start=None):
    """The k largest Ritz pairs of a symmetric operator after ``iterations`` Lanczos steps.

    With full reorthogonalisation against every earlier vector (twice, to keep the basis
    orthogonal to rounding), so the Ritz values are free of the ghost copies plain Lanczos
    produces. ``start`` (default: a Gaussian vector drawn with ``seed``) is the first basis
    vector: an earlier eigenvector makes a warm start. Returns eigenvalues (descending) and
    eigenvectors as columns.
    """
    m = min(iterations, n)
    basis = np.empty((m + 1, n))
    if start is None or not np.any(start):
        start = np.random.default_rng(seed).standard_normal(n)
    start = np.asarray(start, dtype=np.float64)
    basis[0] = start / np.linalg.norm(start)
    alphas, betas = [], []
    for j in range(m):
        w = matvec(basis[j])
        alpha = float(basis[j] @ w)
        w = w - alpha * basis[j] - (betas[-1] * basis[j - 1] if j else 0.0)
        for _ in range(2):
            w -= basis[:j + 1].T @ (basis[:j + 1] @ w)
        alphas.append(alpha)
        beta = float(np.linalg.norm(w))
        if beta <= 1e-12 * max(1.0, abs(alpha)) or j == m - 1:
            break
        betas.append(beta)
        basis[j + 1] = w / beta
    size = len(alphas)
    tridiagonal = np.diag(alphas) + np.diag(betas[:size - 1], 1) + np.diag(betas[:size - 1], -1)
    values, vectors = np.linalg.eigh(tridiagonal)
    order = np.argsort(values)[::-1][:k]
    ritz = basis[:size].T @ vectors[:, order]
    return values[order], ritz


def hessian_eigenvalues(model, loss_fn, X, y, k: int = 5, iterations: int | None = None,
                        seed: int = 0, start=None):
    """The ``k`` largest eigenvalues of the loss's Hessian (descending) and their eigenvectors.

    Lanczos on Hessian-vector products: ``iterations`` products (default ``max(2k + 20, 30)``,
    at most the number of parameters). Returns ``(values, vectors)`` with ``vectors[:, i]`` the
    unit eigenvector of ``values[i]``, flat over the trainable parameters. ``start``: the
    first Lanczos vector (e.g. the eigenvector of an earlier measurement, to track λ_max
    during training with fewer iterations); default a Gaussian vector drawn with ``seed``.
    """
    k = _positive_int(k, "k")
    operator = HessianOperator(model, loss_fn, X, y)
    iterations = (max(2 * k + 20, 30) if iterations is None
                  else _positive_int(iterations, "iterations", low=k))
    if start is not None and np.shape(start) != (operator.n,):
        raise ValueError(f"hessian_eigenvalues: start must have shape ({operator.n},), got "
                         f"{np.shape(start)}")
    return _lanczos(operator.matvec, operator.n, min(k, operator.n), iterations, seed, start)


def sharpness(model, loss_fn, X, y, iterations: int = 20, seed: int = 0, start=None):
    """The top Hessian eigenvalue λ_max of ``loss_fn(model(X), y)`` and its unit eigenvector.

    ``iterations`` Lanczos steps, one Hessian-vector product each (``start``: a warm start, see
    :func:`hessian_eigenvalues`). λ_max is the "sharpness" of Cohen et al. (2021): full-batch
    gradient descent with learning rate η is stable only while λ_max < 2/η.
    """
    values, vectors = hessian_eigenvalues(model, loss_fn, X, y, k=1,
                                          iterations=_positive_int(iterations, "iterations"),
                                          seed=seed, start=start)
    return float(values[0]), vectors[:, 0]


def critical_learning_rate(model, loss_fn, X, y, iterations: int = 20, seed: int = 0) -> float:
    """2 / λ_max: the largest learning rate for which gradient descent is locally stable.

    ``inf`` where the loss has no positive curvature (λ_max ≤ 0).
    """
    top, _ = sharpness(model, loss_fn, X, y, iterations=iterations, seed=seed)
    return 2.0 / top if top > 0 else math.inf
