"""Loss landscapes: the loss along a line and over a plane through weight space.

* :func:`interpolate` — Goodfellow, Vinyals & Saxe (2015): the loss along the straight line
  θ(α) = θ₀ + α (θ₁ − θ₀) from the initial weights (α = 0) to the trained ones (α = 1).
* :func:`random_directions` — Li et al. (2018), "Visualizing the Loss Landscape of Neural
  Nets": two random directions, each filter (a weight matrix's row: one neuron's incoming
  weights) rescaled to the norm of the same filter of θ, biases left out (direction 0). Without
  this, a plot of a network with large weights looks flat and one with small weights sharp.
* :func:`pca_directions` — the two principal directions of an optimizer's trajectory
  {θ_i − θ_final}, so the path can be drawn on the plane it mostly moved in.
* :func:`landscape` — the loss over the plane θ + a d₁ + b d₂ on a grid, with the path
  projected on it when a trajectory is given.

Weight vectors are flat float64 arrays over the model's trainable parameters in order, as
:func:`parameters_vector` returns them (the same layout as :mod:`steepest.curvature`). The
model's weights are put back exactly when a function returns.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from steepest.tensor import Tensor, no_grad

__all__ = ["Landscape", "parameters_vector", "interpolate", "random_directions",
           "pca_directions", "landscape"]


def _trainable(model) -> list:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("landscape: the model has no parameter that requires grad")
    return params


def parameters_vector(model) -> np.ndarray:
    """The model's trainable parameters as one flat float64 vector (a copy)."""
    return np.concatenate([np.asarray(p._data, dtype=np.float64).ravel()
                           for p in _trainable(model)])


class _Weights:
    """Sets the model's parameters to flat vectors, and puts the original ones back on exit."""

    def __init__(self, model):
        self.params = _trainable(model)
        self.saved = [p._data.copy() for p in self.params]
        self.n = sum(p._data.size for p in self.params)

    def set(self, vector: np.ndarray) -> None:
        if vector.shape != (self.n,):
            raise ValueError(f"landscape: a weight vector must have shape ({self.n},), got "
                             f"{vector.shape}")
        start = 0
        for p in self.params:
            size = p._data.size
            p._data[...] = vector[start:start + size].reshape(p._data.shape)
            start += size

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p, array in zip(self.params, self.saved):
            p._data[...] = array
        return False


def _loss_at(model, loss_fn, X, y):
    """A function of a flat weight vector: the loss there (under no_grad)."""
    dtype = _trainable(model)[0].dtype
    X = X if isinstance(X, Tensor) else Tensor(np.asarray(X, dtype=dtype)
                                                if np.asarray(X).dtype.kind == "f" else X)
    y = y if isinstance(y, Tensor) else Tensor(np.asarray(y, dtype=dtype)
                                                if np.asarray(y).dtype.kind == "f" else y)

    def evaluate(weights: _Weights, vector: np.ndarray) -> float:
        weights.set(vector)
        with no_grad(), np.errstate(all="ignore"):
            return float(loss_fn(model(X), y).item())
    return evaluate


@dataclass
class Landscape:
    """Losses on a line (``kind='line'``: ``alphas``, ``losses``) or a plane (``kind='plane'``:
    ``xs``, ``ys``, ``losses[j, i]`` at ``(xs[i], ys[j])``, and ``path`` the trajectory's
    coordinates in that plane, first point first)."""

    kind: str
    losses: np.ndarray
    alphas: np.ndarray | None = None
    xs: np.ndarray | None = None
    ys: np.ndarray | None = None
    path: np.ndarray | None = None
    path_losses: np.ndarray | None = None
    directions: str = ""
    explained: tuple = field(default_factory=tuple)

    def draw(self, path=None, ax=None, title: str | None = None):
        """A matplotlib Figure (written to ``path`` when given): the loss curve along the line,
        or filled log-spaced contours of the plane with the path, its start and its end."""
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.colors import LogNorm
        from matplotlib.figure import Figure

        fig = ax.figure if ax is not None else Figure(figsize=(6.4, 5.0), layout="constrained")
        if ax is None:
            FigureCanvasAgg(fig)
            ax = fig.add_subplot()
        finite = self.losses[np.isfinite(self.losses)]
        if self.kind == "line":
            ax.plot(self.alphas, self.losses, color="#1f77b4")
            for alpha, label, marker in ((0.0, "initial weights (α = 0)", "o"),
                                         (1.0, "trained weights (α = 1)", "*")):
                i = int(np.argmin(np.abs(self.alphas - alpha)))
                ax.plot(self.alphas[i], self.losses[i], marker, color="black", ms=9,
                        label=label, linestyle="none")
            ax.set_xlabel("α: θ = θ₀ + α (θ₁ − θ₀)")
            ax.set_ylabel("loss")
            if finite.size and finite.min() > 0 and finite.max() / finite.min() > 30:
                ax.set_yscale("log")
            ax.legend(loc="upper center")
            ax.set_title(title or "Loss along the line from initial to trained weights",
                         fontsize=11)
        else:
            low = max(finite.min(), 1e-12) if finite.size else 1e-12
            high = max(finite.max(), low * 1.01) if finite.size else 1.0
            logarithmic = high / low > 10  # log-spaced levels show a valley spanning decades
            levels = (np.geomspace if logarithmic else np.linspace)(low, high, 24)
            clipped = np.clip(self.losses, low, high)
            filled = ax.contourf(self.xs, self.ys, clipped, levels=levels, cmap="viridis",
                                 norm=LogNorm(low, high) if logarithmic else None)
            ax.contour(self.xs, self.ys, clipped, levels=levels[::3], colors="white",
                       linewidths=0.5, alpha=0.6)
            bar = fig.colorbar(filled, ax=ax, label="loss" + (" (log scale)" if logarithmic
                                                              else ""))
            bar.set_ticks(levels[::4])
            bar.set_ticklabels([f"{v:.4g}" for v in levels[::4]])
            if self.path is not None and len(self.path):
                ax.plot(self.path[:, 0], self.path[:, 1], "-", color="white", lw=1.2)
                ax.plot(self.path[:, 0], self.path[:, 1], ".", color="#ff7f0e", ms=4)
                ax.plot(*self.path[0], "o", color="white", mec="black", ms=8, label="start")
                ax.plot(*self.path[-1], "*", color="#ff7f0e", mec="black", ms=14, label="end")
                ax.legend(loc="upper right")
            names = ("PC 1", "PC 2") if self.explained else ("direction 1", "direction 2")
            if self.explained:
                names = tuple(f"{n} ({100 * e:.0f}% of the path's variance)"
                              for n, e in zip(names, self.explained))
            ax.set_xlabel(names[0])
            ax.set_ylabel(names[1])
            ax.grid(False)
            ax.set_title(title or f"Loss around the trained weights\n({self.directions})",
                         fontsize=11)
        if path is not None:
            fig.savefig(path, dpi=110)
        return fig


def interpolate(model, loss_fn, X, y, start, end=None, steps: int = 41,
                extent: tuple = (-0.5, 1.5)) -> Landscape:
    """The loss at θ₀ + α (θ₁ − θ₀) for ``steps`` values of α over ``extent``.

    ``start`` is θ₀ (a flat vector, e.g. :func:`parameters_vector` before training); ``end`` is
    θ₁ (default: the model's current weights).
    """
    weights = _Weights(model)
    with weights:
        end = parameters_vector(model) if end is None else np.asarray(end, dtype=np.float64)
        start = np.asarray(start, dtype=np.float64)
        evaluate = _loss_at(model, loss_fn, X, y)
        alphas = np.linspace(extent[0], extent[1], int(steps))
        for must in (0.0, 1.0):
            if extent[0] <= must <= extent[1] and not np.any(np.isclose(alphas, must)):
                alphas = np.sort(np.append(alphas, must))
        losses = np.array([evaluate(weights, start + a * (end - start)) for a in alphas])
    return Landscape(kind="line", losses=losses, alphas=alphas, directions="linear path")


def random_directions(model, seed: int = 0) -> tuple:
    """Two filter-normalised random directions (Li et al. 2018) for the model's weights.

    Each filter (row of a weight matrix; the whole tensor for one with more than 2 dims'
    leading axis) of a Gaussian direction is scaled to the norm of the same filter of the
    weights; 0- and 1-dimensional parameters (biases) get direction 0.
    """
    rng = np.random.default_rng(seed)
    directions = []
    for _ in range(2):
        parts = []
        for p in _trainable(model):
            w = np.asarray(p._data, dtype=np.float64)
            if w.ndim <= 1:
                parts.append(np.zeros(w.size))
                continue
            d = rng.standard_normal(w.shape)
            rows_w = w.reshape(w.shape[0], -1)
            rows_d = d.reshape(d.shape[0], -1)
            norms_d = np.linalg.norm(rows_d, axis=1, keepdims=True)
            rows_d = rows_d * (np.linalg.norm(rows_w, axis=1, keepdims=True)
                               / np.where(norms_d > 0, norms_d, 1.0))
            parts.append(rows_d.ravel())
        directions.append(np.concatenate(parts))
    return directions[0], directions[1]


def pca_directions(trajectory, end=None) -> tuple:
    """The two principal directions of ``trajectory`` (flat weight vectors, in order) around
    its last point (or ``end``), with the share of the path's variance each explains.

    Returns ``(d1, d2, (explained1, explained2))`` with unit vectors d1, d2.
    """
    points = np.asarray(trajectory, dtype=np.float64)
    if points.ndim != 2 or len(points) < 3:
        raise ValueError(f"pca_directions: trajectory must be at least 3 flat weight vectors, "
                         f"got an array of shape {points.shape}")
    center = points[-1] if end is None else np.asarray(end, dtype=np.float64)
    offsets = points - center
    _, singular, right = np.linalg.svd(offsets, full_matrices=False)
    variance = singular ** 2
    share = variance / variance.sum() if variance.sum() > 0 else np.zeros_like(variance)
    return right[0], right[1], (float(share[0]), float(share[1]))


def landscape(model, loss_fn, X, y, trajectory=None, directions=None, resolution: int = 25,
              extent: float | None = None, seed: int = 0) -> Landscape:
    """The loss over the plane θ + a d₁ + b d₂ around the model's current weights θ.

    Directions: PCA of ``trajectory`` when given (its path is projected on the plane), else
    ``directions=(d1, d2)``, else :func:`random_directions` (filter-normalised). The grid spans
    ``[-extent, extent]`` in a and b (default 1 for random directions; for PCA, the path's
    range with a margin).
    """
    weights = _Weights(model)
    with weights:
        center = parameters_vector(model)
        explained, path = (), None
        if trajectory is not None:
            d1, d2, explained = pca_directions(trajectory, end=center)
            offsets = np.asarray(trajectory, dtype=np.float64) - center
            path = np.column_stack([offsets @ d1, offsets @ d2])
            kind = "PCA directions of the optimizer's path"
        elif directions is not None:
            d1, d2 = (np.asarray(d, dtype=np.float64) for d in directions)
            kind = "given directions"
        else:
            d1, d2 = random_directions(model, seed=seed)
            kind = "filter-normalised random directions"
        if path is not None and extent is None:
            span_x = np.abs(path[:, 0]).max() * 1.25 or 1.0
            span_y = np.abs(path[:, 1]).max() * 1.25 or 1.0
        else:
            span_x = span_y = 1.0 if extent is None else float(extent)
        xs = np.linspace(-span_x, span_x, int(resolution))
        ys = np.linspace(-span_y, span_y, int(resolution))
        evaluate = _loss_at(model, loss_fn, X, y)
        losses = np.array([[evaluate(weights, center + a * d1 + b * d2) for a in xs]
                           for b in ys])
        path_losses = (None if path is None else
                       np.array([evaluate(weights, center + a * d1 + b * d2) for a, b in path]))
    return Landscape(kind="plane", losses=losses, xs=xs, ys=ys, path=path,
                     path_losses=path_losses, directions=kind, explained=explained)
