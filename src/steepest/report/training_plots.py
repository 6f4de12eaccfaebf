"""Figures of one training run: gradient norms per layer, and the decision boundary.

``steepest train`` writes them next to ``History.plot``'s training curves; they are plain
functions of a History and a model, usable from a notebook too.
"""

from __future__ import annotations

import math

from steepest.training.loop import predict
from steepest.training.task import linear_layers

__all__ = ["plot_gradient_norms", "plot_decision_boundary"]


def _layer_labels(model) -> dict:
    return {name: f"layer {i + 1}: Linear({layer.in_features}→{layer.out_features})"
            for i, (name, layer) in enumerate(linear_layers(model))}


def plot_gradient_norms(history, model, path, title: str | None = None):
    """Per-layer mean weight-gradient norm per epoch (log scale), one line per Linear layer."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    norms = history.layer_grad_norms()
    labels = _layer_labels(model)
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    epochs = [e + 1 for e in history.epoch]
    for name, values in norms.items():
        ax.plot(epochs, values, label=labels.get(name, name),
                marker="." if len(epochs) < 30 else None)
    if any(v > 0 for values in norms.values() for v in values if math.isfinite(v)):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("mean L2 norm of the weight gradient")
    ax.set_title(title or "Gradient norm per layer (input layer first)")
    ax.grid(alpha=0.3, which="both")
    if norms:
        ax.legend()
    fig.savefig(path, dpi=100)
    return path


def plot_decision_boundary(model, X, y, path, scaler=None, X_val=None, y_val=None,
                           title: str | None = None, resolution: int = 200):
    """Predicted class over the plane with the samples on top (2-D inputs only).

    ``X``/``X_val`` are in original units; ``scaler`` (a fitted Standardizer) maps them to
    what the model expects.
    """
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    every = np.concatenate([X, X_val]) if X_val is not None else X
    low, high = every.min(axis=0), every.max(axis=0)
    pad = 0.1 * (high - low) + 1e-9
    gx, gy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    inputs = scaler.transform(grid) if scaler is not None else grid
    out = predict(model, inputs, batch_size=4096)
    classes = out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else \
        (out.reshape(-1) > 0.5).astype(int)
    n_classes = int(max(classes.max(), y.max())) + 1
    colours = [f"C{i}" for i in range(n_classes)]
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=np.arange(n_classes + 1) - 0.5,
                cmap=ListedColormap(colours), alpha=0.25)
    for c in range(n_classes):
        ax.scatter(*X[y == c].T, s=14, color=colours[c], edgecolors="white", linewidths=0.4,
                   label=f"class {c} (train)")
        if X_val is not None:
            ax.scatter(*X_val[y_val == c].T, s=22, color=colours[c], marker="^",
                       edgecolors="black", linewidths=0.5, label=f"class {c} (validation)")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "Decision boundary")
    ax.legend(fontsize="small", loc="best")
    fig.savefig(path, dpi=100)
    return path
