"""Figures of one training run: gradient norms per layer, the loss per step (of a run that
diverged) and the decision boundary.

``steepest train`` writes them next to ``History.plot``'s training curves; they are plain
functions of a History and a model, usable from a notebook too.
"""

from __future__ import annotations

import math

from steepest.training.history import add_diagnosis, finish_figure
from steepest.training.loop import predict
from steepest.training.task import linear_layers

__all__ = ["plot_gradient_norms", "plot_decision_boundary", "plot_step_losses"]


def _layer_labels(model) -> dict:
    return {name: f"layer {i + 1}: Linear({layer.in_features}→{layer.out_features})"
            for i, (name, layer) in enumerate(linear_layers(model))}


#: up to this many layers get a legend; more get a colour bar by depth
LEGEND_LAYERS = 6


def plot_gradient_norms(history, model, path=None, title: str | None = None):
    """Per-layer mean weight-gradient norm per epoch (log scale), one line per Linear layer.

    Colours run along a sequential colour map by depth (dark: input, light: output), so
    that a deep net's layers stay in order; beyond :data:`LEGEND_LAYERS` layers a colour bar
    with its ends labelled replaces the legend. Legends sit beside the axes, never on the
    lines. The run's diagnosis is written underneath. Returns ``path``, or the Figure.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from steepest.report.style import depth_colorbar, depth_colors

    norms = history.layer_grad_norms()
    labels = _layer_labels(model)
    depth = len(norms)
    colours = depth_colors(depth)
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.subplots()
    epochs = [e + 1 for e in history.epoch]
    for i, (name, values) in enumerate(norms.items()):
        label = labels.get(name, f"layer {i + 1}")
        if depth > 1 and i in (0, depth - 1):
            label += " (input)" if i == 0 else " (output)"
        ax.plot(epochs, values, label=label, color=colours[i],
                marker="." if len(epochs) < 30 else None)
    every = [v for values in norms.values() for v in values if math.isfinite(v)]
    positive = [v for v in every if v > 0]
    if positive and len(positive) < len(every):  # zeros (dead layers) stay visible, at 0
        ax.set_yscale("symlog", linthresh=min(positive))
        ax.set_ylim(bottom=0)
    elif positive:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("mean L2 norm of the weight gradient")
    ax.set_title(title or "Gradient norm per layer")
    ax.grid(alpha=0.3, which="both")
    if 0 < depth <= LEGEND_LAYERS:
        fig.legend(loc="outside right upper", title="input layer first", fontsize="small")
    elif depth > LEGEND_LAYERS:
        depth_colorbar(fig, ax, depth)
    add_diagnosis(fig, getattr(history, "diagnosis", []))
    return finish_figure(fig, path)


def plot_step_losses(losses, path=None, steps_per_epoch: int | None = None,
                     first_epoch: int = 0, title: str | None = None, note: str | None = None):
    """The batch loss at every step (log scale), e.g. of a run that diverged.

    A last loss that is NaN or infinite is marked at the top edge and named. Epoch starts
    are drawn as faint vertical lines when ``steps_per_epoch`` is given; ``note`` (the
    divergence message) is written underneath. Returns ``path``, or the Figure.
    """
    import numpy as np
    from matplotlib.figure import Figure

    from matplotlib.ticker import MaxNLocator

    values = np.asarray(losses, dtype=np.float64)
    steps = np.arange(1, len(values) + 1)
    finite = np.isfinite(values)
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(steps[finite], values[finite], color="C0", marker="." if len(values) < 60 else None,
            label="batch loss")
    positive = values[finite & (values > 0)]
    if positive.size and positive.max() / positive.min() > 100:
        ax.set_yscale("log")
    if len(values) and not finite[-1]:
        top = positive.max() if positive.size else 1.0
        ax.plot([steps[-1]], [top], "x", color="C3", markersize=12, markeredgewidth=3,
                label=f"step {steps[-1]}: loss = {values[-1]}")
    elif len(values):
        ax.plot([steps[-1]], [values[-1]], "x", color="C3", markersize=12, markeredgewidth=3,
                label=f"step {steps[-1]}: loss = {values[-1]:.3g}")
    if steps_per_epoch:
        for start in range(steps_per_epoch, len(values), steps_per_epoch):
            ax.axvline(start + 0.5, color="0.8", linewidth=1, zorder=0)
    ax.set_xlabel("step" + (f" (epoch {first_epoch + 1} starts at step 1)" if first_epoch
                            else ""))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("batch loss")
    ax.set_title(title or "Loss per step")
    ax.grid(alpha=0.3, which="both")
    fig.legend(loc="outside right upper", fontsize="small")
    add_diagnosis(fig, [note] if note else [])
    return finish_figure(fig, path)


def plot_decision_boundary(model, X, y, path=None, scaler=None, X_val=None, y_val=None,
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
    fig = Figure(figsize=(7, 5), layout="constrained")
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
    fig.legend(fontsize="small", loc="outside right upper")  # beside the points, not on them
    return finish_figure(fig, path)
