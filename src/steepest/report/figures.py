"""The figures of each lesson, drawn from the Lesson's data only (nothing is recomputed here).

Every ``figures_<lesson>(lesson, img_dir)`` writes PNGs into ``img_dir`` and returns a list
of :class:`Figure` records (file name and caption) in the order they appear on the page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch
from matplotlib.ticker import MaxNLocator

from steepest.report import curvature_figures
from steepest.report.figure_files import FigureFile
from steepest.report.figure_files import legend as _legend
from steepest.report.figure_files import nan_for_infinite as _nan_for_infinite
from steepest.report.figure_files import readable_width as _readable_width
from steepest.report.figure_files import save_lesson_figure as _save
from steepest.report.figure_files import sized as _sized
from steepest.report.graph_figures import backpropagation_graph
from steepest.viz.draw import EDGE_FONT_SIZE
from steepest.report.style import (
    ACTIVATION_COLORS, CLASS_COLORS, OPTIMIZER_COLORS, depth_colorbar, depth_colors, new_figure,
    qualitative, style,
)

__all__ = ["FigureFile", "FIGURES", "render_figures"]


#: final distances at or beyond this (and non-finite ones: divergence) are drawn at it
SENSITIVITY_CAP = 1e3
#: each optimizer's capped points sit this factor above the previous one's, so none hides
#: another where several diverge at the same rates
CAP_OFFSET = 1.7


# ---------------------------------------------------------------- 1. gradient descent
def figures_gradient_descent(lesson, img_dir) -> list[FigureFile]:
    d = lesson.data
    figures = []
    curve_w, curve_J = np.asarray(d["curve"]["w"]), np.asarray(d["curve"]["J"])
    shown = [r for r in d["runs"] if r["class"] in ("well chosen", "overshooting")]
    example_alpha = lesson.params["alpha"]
    picks = [dict(d["example_run"], alpha=example_alpha)]
    picks += [r for r in shown if r["class"] == "overshooting"][:1]

    fig, axes = new_figure(11, 4.3, ncols=len(picks))
    for ax, run in zip(axes[0], picks):
        ax.plot(curve_w, curve_J, color="0.35", lw=1.6, label="J(w) = Σ(z − w·x)²")
        w = np.asarray(run["w"])[:8]
        J = np.asarray(run["J"])[:8]
        color = CLASS_COLORS[run["class"]]
        for k in range(len(w) - 1):
            ax.annotate("", xy=(w[k + 1], J[k + 1]), xytext=(w[k], J[k]),
                        arrowprops=dict(arrowstyle="->", color=color, lw=1.4))
        ax.plot(w, J, "o", color=color, ms=6, label=f"w_k, first {len(w) - 1} steps")
        for k in range(min(4, len(w))):
            ax.annotate(f"w{k}", (w[k], J[k]), textcoords="offset points", xytext=(4, 6),
                        fontsize=9, color=color)
        ax.axvline(d["optimum"], color="0.5", ls=":", lw=1.2, label="optimum w = 2")
        ax.set_xlabel("w")
        ax.set_ylabel("J(w)")
        ax.set_title(f"α = {run['alpha']:g}: {run['class']}")
        _legend(ax)
    fig.suptitle("Gradient descent steps on the cost curve")
    name = _save(fig, img_dir, lesson, "steps")
    panels = "; ".join(f"α = {run['alpha']:g}: {run['class']}, w − 2 changes sign "
                       f"{run['sign_changes']} times in {run['steps']} steps" for run in picks)
    figures.append(FigureFile(name, f"The cost J(w) and the first gradient-descent steps from "
                                    f"w0 = {lesson.params['w0']:g} ({panels})."))

    fig, axes = new_figure(12, 4.3, ncols=2)
    ax_j, ax_w = axes[0]
    for run in d["runs"]:
        color = CLASS_COLORS[run["class"]]
        label = f"α = {run['alpha']:g} ({run['class']})"
        J = _nan_for_infinite(run["J"])
        ax_j.semilogy(np.arange(len(J)), J, "-o", ms=3, color=color, label=label)
        w = _nan_for_infinite(run["w"])[:16]
        ax_w.plot(np.arange(len(w)), w - d["optimum"], "-o", ms=4, color=color, label=label)
    ax_j.set_xlabel("iteration")
    ax_j.set_ylabel("J(w)  (log scale)")
    ax_j.set_title("Cost per iteration")
    ax_w.set_yscale("symlog", linthresh=0.1)
    ax_w.axhline(0, color="0.4", lw=1)
    ax_w.set_xlabel("iteration")
    ax_w.set_ylabel("w − 2  (symmetric log)")
    ax_w.set_title("w − 2 over the first 15 iterations")
    handles, labels = ax_j.get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center")
    th = d["thresholds"]
    fig.suptitle(f"Learning-rate study  (1/(2Σx²) = {th['one_step']:.3f}, "
                 f"1/Σx² = {th['divergence']:.3f})")
    name = _save(fig, img_dir, lesson, "rates")
    figures.append(FigureFile(name, "Each α's run, coloured by the class read off its numbers: "
                                    "slow (still far after all steps), well chosen, "
                                    "overshooting (w − 2 changes sign every step) and "
                                    "divergent (|w − 2| grows)."))
    return figures


# ---------------------------------------------------------------- 2. notebook exercise
def figures_notebook_exercise(lesson, img_dir) -> list[FigureFile]:
    d = lesson.data
    floor = 1e-4
    fig, axes = new_figure(12, 4.6, ncols=2)
    colors = qualitative(len(d["runs"]))
    steps_total = max(len(r["losses"]) for r in d["runs"]) - 1
    for ax, horizon, title in ((axes[0][0], 20, "First 20 steps"),
                               (axes[0][1], None, f"All {steps_total} steps")):
        for run, color in zip(d["runs"], colors):
            losses = _nan_for_infinite(run["losses"])
            below = np.flatnonzero(losses < floor)
            cut = below[0] if below.size else None
            if cut is not None:
                losses = losses[:cut + 1].copy()
                losses[-1] = floor
            if horizon is not None:
                losses = losses[:horizon + 1]
            diverges = run["steps_to_threshold"] is None and run["grows_every_step"]
            label = f"lr = {run['label']}" + (" (diverges)" if diverges else "")
            ax.semilogy(np.arange(len(losses)), losses, "--" if diverges else "-",
                        color=color, marker="o" if horizon else None, ms=3, label=label)
            if cut is not None and cut < len(losses):
                ax.plot(cut, floor, "v", color=color, ms=8, mec="k")
        ax.axhline(d["threshold"], color="k", ls=":", lw=1.3,
                   label=f"target loss {d['threshold']:.2f}")
        ax.set_ylim(floor / 2, None)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("gradient-descent step")
        ax.set_ylabel("loss = mean((input @ W1 − target)²)")
        ax.set_title(title)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside right center", fontsize=9.5)
    fig.suptitle("The notebook exercise: loss per step for each learning rate (log scale)")
    name = _save(fig, img_dir, lesson, "loss")
    one_step = [r for r in d["runs"] if r["label"] == "1/15"]
    note = (f" lr = 1/15 lands on the minimum in one step (loss "
            f"{one_step[0]['loss_after_one_step']:.1e})." if one_step else "")
    return [FigureFile(name, f"Loss before each step. Dashed: the runs whose loss grew at "
                             f"every step (the theory's limit is lr = 2/{d['gain']:g}). A "
                             f"triangle marks where a run falls below {floor:g}, the bottom "
                             f"of the plot.{note}")]


# ---------------------------------------------------------------- 3. backpropagation
def _box(ax, xy, text, color):
    x, y = xy
    ax.add_patch(FancyBboxPatch((x - 0.72, y - 0.5), 1.44, 1.0,
                                boxstyle="round,pad=0.05", fc=color, ec="0.3", lw=1.2))
    ax.text(x, y, text, ha="center", va="center", fontsize=10)


def figures_backpropagation(lesson, img_dir) -> list[FigureFile]:
    d = lesson.data
    p = d["parameters"]
    fig, axes = new_figure(11, 3.3)
    ax = axes[0][0]
    ax.set_xlim(-0.85, 10.15)
    ax.set_ylim(-1.35, 1.2)
    ax.axis("off")
    factors = d["factors"]  # the chain-rule factors, as the lesson computed them
    s1, s2 = factors["da1/dz1 = a1(1 − a1)"], factors["da2/dz2 = a2(1 − a2)"]
    nodes = [(0.0, f"x = {d['x']:g}"),
             (3.1, f"z1 = {d['z1']:.4f}\na1 = σ(z1) = {d['a1']:.4f}\nσ′(z1) = {s1:.4f}"),
             (6.2, f"z2 = {d['z2']:.4f}\na2 = σ(z2) = {d['a2']:.4f}\nσ′(z2) = {s2:.4f}"),
             (9.3, f"E = ½(T − a2)²\n= {d['E']:.5f}")]
    fills = ["#e8f0fa", "#fdf0e0", "#fdf0e0", "#f3e6f3"]
    for (x, text), fill in zip(nodes, fills):
        _box(ax, (x, 0.0), text, fill)
    forward_labels = [f"w1 = {p['w1']:g}, b1 = {p['b1']:g}", f"w2 = {p['w2']:g}, b2 = {p['b2']:g}",
                      f"T = {d['T']:g}"]
    backward_labels = [f"∂E/∂w1 = {d['dE_dw1']:.3e}\n∂E/∂b1 = {d['dE_db1']:.3e}",
                       f"∂E/∂w2 = {d['dE_dw2']:.3e}\n∂E/∂b2 = {d['dE_db2']:.3e}",
                       f"∂E/∂a2 = −(T − a2)\n= {factors['dE/da2 = −(T − a2)']:.4f}"]
    for i in range(3):
        x0, x1 = nodes[i][0] + 0.8, nodes[i + 1][0] - 0.8
        ax.add_patch(FancyArrowPatch((x0, 0.2), (x1, 0.2), arrowstyle="-|>",
                                     mutation_scale=14, color="#1f77b4", lw=1.5))
        ax.add_patch(FancyArrowPatch((x1, -0.2), (x0, -0.2), arrowstyle="-|>",
                                     mutation_scale=14, color="#d62728", lw=1.5))
        ax.text((x0 + x1) / 2, 0.32, forward_labels[i], ha="center", va="bottom",
                fontsize=9.5, color="#1f77b4")
        ax.text((x0 + x1) / 2, -0.32, backward_labels[i], ha="center", va="top",
                fontsize=9.5, color="#d62728")
    ax.text(-0.75, 1.15, "→ forward pass: values", color="#1f77b4", fontsize=10,
            fontweight="bold", va="top")
    ax.text(-0.75, -1.3, f"← backward pass: autodiff gradients (∂E/∂w2 is "
                        f"{d['ratio_dw2_dw1']:.1f}x ∂E/∂w1)", color="#d62728", fontsize=10,
            fontweight="bold", va="bottom")
    fig.suptitle("Two sigmoid neurons: forward values and backpropagated gradients")
    name = _save(fig, img_dir, lesson, "diagram")
    figures = [FigureFile(name, "The chain x → neuron 1 → neuron 2 → E with the course's "
                                "weights: forward values in blue, the gradients autodiff "
                                "computes in red.")]

    fig, axes = new_figure(11, 4.0, ncols=2)
    errors = np.asarray(d["errors"])
    iterations = np.arange(1, len(errors) + 1)
    for ax, log in ((axes[0][0], False), (axes[0][1], True)):
        ax.plot(iterations, errors, color="#9467bd", label="E before the iteration")
        marks = {int(k): v for k, v in d["E_before_iteration"].items()}
        ax.plot(list(marks), list(marks.values()), "o", color="k", ms=5,
                label="iterations " + ", ".join(str(k) for k in marks))
        if log:
            ax.set_yscale("log")
            ax.axhline(lesson.params["stop_below"], color="0.4", ls=":", lw=1.3,
                       label=f"stop below {lesson.params['stop_below']:g}")
        ax.set_xlabel("iteration")
        ax.set_ylabel("E" + ("  (log scale)" if log else ""))
        _legend(ax)
    axes[0][0].set_title("Error E, linear scale")
    axes[0][1].set_title("Error E, log scale")
    fig.suptitle(f"Training the chain with GD, lr = {d['lr']:g}")
    name = _save(fig, img_dir, lesson, "error")
    figures.append(FigureFile(name, "The error before each iteration of forward pass, "
                                    "backpropagation and update."))
    fig, caption = backpropagation_graph(lesson)
    name = _save(fig, img_dir, lesson, "graph")
    figures.insert(1, FigureFile(name, caption, min_width=_readable_width(
        Path(img_dir) / name, EDGE_FONT_SIZE)))
    return figures


# ---------------------------------------------------------------- 4. vanishing gradient
def figures_vanishing_gradient(lesson, img_dir) -> list[FigureFile]:
    d = lesson.data
    runs = d["runs"]
    depth = np.arange(1, len(d["layers"]) + 1)
    last_epoch = d["epochs"][-1]
    fig, axes = new_figure(11, 4.4, ncols=2)
    for ax, index, title in ((axes[0][0], 0, "At initialisation"),
                             (axes[0][1], -1, f"After {last_epoch} epochs")):
        for activation, run in runs.items():
            ax.semilogy(depth, np.asarray(run["norms"])[index], "-o", ms=4,
                        color=ACTIVATION_COLORS.get(activation),
                        label=f"{activation} (first/last {run['ratio_first_last'][index]:.2g})")
        ax.set_xlabel("layer (1 = first, next to the input)")
        ax.set_ylabel("‖∂L/∂W‖ of the layer  (log scale)")
        ax.set_xticks(depth)
        ax.set_title(title)
        _legend(ax)
    fig.suptitle(f"Gradient norm by depth, {len(depth) - 1} hidden layers")
    name = _save(fig, img_dir, lesson, "norms")
    per_layer = ", ".join(f"{a} ×{run['shrink_per_layer_at_init']:.2g}"
                          for a, run in runs.items())
    figures = [FigureFile(name, "The gradient norm of each Linear weight, on the whole "
                                "training set. At initialisation, each layer going back to the "
                                f"input multiplies it by (geometric mean): {per_layer}.")]

    fig, axes = new_figure(11, 3.9, ncols=3)
    epochs = np.asarray(d["epochs"])
    for activation, run in runs.items():
        color = ACTIVATION_COLORS.get(activation)
        axes[0][0].plot(epochs, run["train_loss"], "-o", ms=4, color=color, label=activation)
        axes[0][1].plot(epochs, 100 * np.asarray(run["val_accuracy"]), "-o", ms=4,
                        color=color, label=activation)
        axes[0][2].semilogy(epochs, run["ratio_first_last"], "-o", ms=4, color=color,
                            label=activation)
    axes[0][0].set_ylabel("training loss (cross-entropy)")
    axes[0][0].set_title("Training loss")
    axes[0][1].set_ylabel("validation accuracy (%)")
    axes[0][1].set_ylim(0, 100)
    axes[0][1].set_title("Validation accuracy")
    axes[0][2].set_ylabel("‖∂L/∂W_first‖ / ‖∂L/∂W_last‖")
    axes[0][2].set_title("First-to-last gradient ratio")
    for ax in axes[0]:
        ax.set_xlabel("epoch")
        _legend(ax)
    fig.suptitle("Training the three deep networks on the 8x8 digits")
    name = _save(fig, img_dir, lesson, "training")
    figures.append(FigureFile(name, "Loss, validation accuracy and gradient ratio per epoch "
                                    "(epoch 0 = initialisation)."))

    fig, axes = new_figure(12, 4.0, ncols=len(runs))
    colors = depth_colors(len(depth))
    for ax, (activation, run) in zip(axes[0], runs.items()):
        norms = np.asarray(run["norms"], dtype=float)      # (epoch, layer)
        for layer, color in zip(range(norms.shape[1]), colors):
            ax.semilogy(epochs, _nan_for_infinite(norms[:, layer]), "-", color=color, lw=1.6)
        ax.set_title(activation, color=ACTIVATION_COLORS.get(activation))
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0][0].set_ylabel("‖∂L/∂W‖ of the layer  (log scale)")
    depth_colorbar(fig, list(axes[0]), len(depth))
    fig.suptitle("Each layer's gradient norm per epoch, coloured by depth")
    name = _save(fig, img_dir, lesson, "layers")
    figures.append(FigureFile(name, f"One line per Linear layer, from layer 1 (next to the "
                                    f"input, darkest) to layer {len(depth)} (the output, "
                                    f"lightest). In the sigmoid network the early layers' "
                                    f"lines lie far below the late ones."))
    return figures


# ---------------------------------------------------------------- 5. activations
def figures_activations(lesson, img_dir) -> list[FigureFile]:
    d = lesson.data
    grid = np.asarray(d["grid"])
    fig, axes = new_figure(12, 6.8, ncols=4, nrows=2)
    flat = axes.ravel()
    for ax, name in zip(flat, d["order"]):
        curve = d["curves"][name]
        color = ACTIVATION_COLORS[name]
        ax.plot(grid, curve["f"], color=color, label="f(z)")
        ax.plot(grid, curve["derivative"], "--", color=color, alpha=0.75,
                label="f′(z) (autodiff)")
        ax.plot(grid[::25], np.asarray(curve["numpy_derivative"])[::25], "x", color="k",
                ms=5, label="f′ (NumPy)")
        ax.axhline(0, color="0.6", lw=0.8)
        ax.axvline(0, color="0.6", lw=0.8)
        title = name if name != "softmax" else "softmax: p1 of 3 scores"
        ax.set_title(f"{title}\nrange {d['ranges'][name]}", fontsize=10.5)
        others = ", ".join(f"z{i + 2} = {v:g}" for i, v in enumerate(d["softmax_others"]))
        ax.set_xlabel("z" if name != "softmax" else f"score z1  ({others})")
        if name == "leaky_relu":
            _zoom_negative_side(ax, grid, curve, color)
    for row in axes:
        row[0].set_ylabel("f(z) and f′(z)")
    handles, labels = flat[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3, fontsize=9.5)
    ax = flat[len(d["order"])]
    for name in ("sigmoid", "tanh", "relu"):
        ax.plot(grid, d["curves"][name]["derivative"], color=ACTIVATION_COLORS[name],
                label=f"{name}′ (max {np.max(d['curves'][name]['derivative']):.2f})")
    ax.set_title("Derivatives compared\n(autodiff)", fontsize=10.5)
    ax.set_xlabel("z")
    ax.set_ylim(-0.05, 1.7)   # room above the curves for the legend
    _legend(ax, fontsize=8.5, loc="upper left")
    fig.suptitle("The seven activation functions (solid) and their derivatives (dashed)")
    name = _save(fig, img_dir, lesson, "functions")
    figures = [FigureFile(name, "Each function and its derivative from autodiff; the crosses "
                                "are the registry's NumPy derivative at every 25th grid point. "
                                "The last panel puts the derivatives of sigmoid, tanh and ReLU "
                                "on one axis.")]

    sm = d["softmax"]
    scores, probs = np.asarray(sm["scores"]), np.asarray(sm["probabilities"])
    fig, axes = new_figure(10, 3.8, ncols=2)
    labels = [f"class {i + 1}" for i in range(len(scores))]
    score_bars = axes[0][0].bar(labels, scores, color="#7f7f7f")
    for bar, value in zip(score_bars, scores):
        axes[0][0].annotate(f"{value:g}", (bar.get_x() + bar.get_width() / 2, value),
                            ha="center", va="bottom" if value >= 0 else "top", fontsize=9,
                            xytext=(0, 2 if value >= 0 else -2), textcoords="offset points")
    axes[0][0].axhline(0, color="0.3", lw=0.8)
    axes[0][0].set_ylabel("score z_i")
    axes[0][0].set_title("Raw scores")
    bars = axes[0][1].bar(labels, probs, color=ACTIVATION_COLORS["softmax"])
    for bar, value in zip(bars, probs):
        axes[0][1].annotate(f"{value:.3f}", (bar.get_x() + bar.get_width() / 2, value),
                            ha="center", va="bottom", fontsize=9, xytext=(0, 2),
                            textcoords="offset points")
    axes[0][1].set_ylabel("probability softmax(z)_i")
    axes[0][1].set_ylim(0, 1)
    axes[0][1].set_title(f"softmax: probabilities (sum {probs.sum():.6f})")
    for ax in axes[0]:
        ax.set_xlabel("class i")
    fig.suptitle("softmax turns scores into probabilities")
    name = _save(fig, img_dir, lesson, "softmax")
    figures.append(FigureFile(name, "The same classes before and after softmax (the findings "
                                    "check the order, the range and the sum)."))
    return figures


def _zoom_negative_side(ax, grid, curve, color) -> None:
    """An inset blowing up z < 0, where leaky ReLU's small slope is flat at the panel's scale."""
    negative = grid <= 0
    f = np.asarray(curve["f"])[negative]
    slope = float(np.median(np.asarray(curve["derivative"])[grid < 0]))
    inset = ax.inset_axes([0.06, 0.47, 0.42, 0.33])
    inset.plot(grid[negative], f, color=color)
    inset.axhline(0, color="0.6", lw=0.8)
    low = float(f.min())
    inset.set_ylim(1.25 * low, -0.35 * low)
    inset.set_xlim(float(grid[negative][0]), 0.0)
    inset.tick_params(labelsize=7.5)
    inset.yaxis.tick_right()
    inset.grid(True, alpha=0.3)
    inset.set_title(f"zoom on z < 0: slope {slope:g}", fontsize=8.5)


# ---------------------------------------------------------------- 6. optimizers
def _contour_grid(key, box, n=240):
    (x0, x1), (y0, y1) = box
    X, Y = np.meshgrid(np.linspace(x0, x1, n), np.linspace(y0, y1, n))
    from steepest.lessons.optimizers import PROBLEMS
    Z = PROBLEMS[key]["f"](np.stack([X, Y]))  # the same formula, on plain arrays
    return X, Y, np.asarray(Z)


def figures_optimizers(lesson, img_dir) -> list[FigureFile]:
    d = lesson.data
    figures = []
    lands = d["landscapes"]
    names = d["names"]
    fig, axes = new_figure(13, 3.2 * len(lands) + 0.6, ncols=len(names), nrows=len(lands))
    for row, (key, land) in zip(axes, lands.items()):
        X, Y, Z = _contour_grid(key, land["box"])
        levels = np.geomspace(max(Z.min(), 1e-3), Z.max(), 16)
        (x0, x1), (y0, y1) = land["box"]
        for ax, name in zip(row, names):
            run = land["runs"][name]
            ax.contour(X, Y, Z, levels=levels, colors="0.7", linewidths=0.7)
            path = np.asarray(run["path"], dtype=float)
            keep = np.all(np.isfinite(path), axis=1)
            color = OPTIMIZER_COLORS[name]
            ax.plot(path[keep, 0], path[keep, 1], "-", lw=1.4, color=color)
            ax.plot(path[keep][-1, 0], path[keep][-1, 1], "o", ms=6, color=color, mec="k")
            ax.plot(*land["start"], "ks", ms=6)
            ax.plot(*land["optimum"], "*", color="gold", mec="k", ms=13)
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
            ax.set_title(f"{name}, lr {run['lr']:g}\nends {run['final_distance']:.1e} away",
                         fontsize=10.5, color=color)
            ax.tick_params(labelsize=8.5)
            ax.grid(False)
        row[0].set_ylabel(f"{key}, {land['steps']} steps\ny", fontsize=11)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    fig.suptitle("Optimizer paths at the chosen learning rates "
                 "(square: start, star: optimum, dot: final point)")
    name = _save(fig, img_dir, lesson, "paths")
    figures.append(FigureFile(name, "Each optimizer's path from the same start; contours are "
                                    "geometric levels of f. " + d["selection_rule"]))

    fig, axes = new_figure(12, 4.2, ncols=len(lands))
    for ax, (key, land) in zip(axes[0], lands.items()):
        for name, run in land["runs"].items():
            values = _nan_for_infinite(run["values"])
            ax.semilogy(np.arange(len(values)), np.maximum(values, 1e-30),
                        color=OPTIMIZER_COLORS[name], label=f"{name} (lr {run['lr']:g})")
        ax.set_xlabel("step")
        ax.set_ylabel("f  (log scale)")
        ax.set_title(land["title"], fontsize=11)
        _legend(ax)
    fig.suptitle("Function value per step")
    name = _save(fig, img_dir, lesson, "values")
    figures.append(FigureFile(name, "The value of the landscape along each path."))

    fig, axes = new_figure(12, 4.2, ncols=len(lands))
    grid = np.asarray(d["lr_grid"], dtype=float)
    for ax, (key, land) in zip(axes[0], lands.items()):
        start_distance = float(np.linalg.norm(np.subtract(land["start"], land["optimum"])))
        for rank, (name, run) in enumerate(land["runs"].items()):
            sweep = np.asarray(run["sweep"], dtype=float)
            capped = ~(sweep < SENSITIVITY_CAP)  # nan and inf too
            shown = np.where(capped, SENSITIVITY_CAP * CAP_OFFSET ** rank, sweep)
            wild = ~np.asarray(run["tame"], dtype=bool) & ~capped
            color = OPTIMIZER_COLORS[name]
            ax.loglog(grid, shown, "-", color=color, label=name)
            ax.plot(grid[~wild & ~capped], shown[~wild & ~capped], "o", ms=4, color=color)
            ax.plot(grid[wild], shown[wild], "o", ms=5, mfc="white", mec=color)
            ax.plot(grid[capped], shown[capped], "x", ms=7, mew=1.8, color=color)
            ax.plot(run["lr"], run["final_distance"], "*", ms=13, mec="k", color=color)
        ax.plot([], [], "o", ms=5, mfc="white", mec="0.3", label="not tame")
        ax.plot([], [], "x", ms=7, mew=1.8, color="0.3", label="diverged (at the cap)")
        ax.axhline(start_distance, color="0.4", ls=":", lw=1.2, label="start distance")
        ax.set_xlabel("learning rate")
        ax.set_ylabel(f"final distance to optimum (capped at {SENSITIVITY_CAP:g})")
        ax.set_title(land["title"], fontsize=11)
        _legend(ax, fontsize=8.5)
    fig.suptitle("Sensitivity to the learning rate (star: the rate shown)")
    name = _save(fig, img_dir, lesson, "sweep")
    figures.append(FigureFile(name, (
        f"Final distance to the optimum for every learning rate of the grid; ✕ marks runs "
        f"that diverged or ended beyond {SENSITIVITY_CAP:g}, drawn at that cap with each "
        f"optimizer's line a little higher than the one before (×{CAP_OFFSET:g}) so that "
        f"none hides another; hollow points are runs that were not tame. ")
        + d["selection_rule"]))

    digits = d["digits"]
    fig, axes = new_figure(11, 4.0, ncols=2)
    for name, run in digits.items():
        color = OPTIMIZER_COLORS[name]
        epochs = np.arange(1, len(run["loss"]) + 1)
        axes[0][0].plot(epochs, run["loss"], "-", color=color, label=f"{name} train")
        axes[0][0].plot(epochs, run["val_loss"], "--", color=color, label=f"{name} val")
        axes[0][1].plot(epochs, 100 * np.asarray(run["val_accuracy"]), "-o", ms=3,
                        color=color, label=f"{name} (lr {run['lr']:g})")
    axes[0][0].set_ylabel("cross-entropy loss")
    axes[0][0].set_ylim(0, None)
    axes[0][0].set_title("Loss (solid: training, running mean; dashed: validation)",
                         fontsize=11)
    _legend(axes[0][0], fontsize=8, ncol=2)
    axes[0][1].set_ylabel("validation accuracy (%)")
    axes[0][1].set_title("Validation accuracy")
    _legend(axes[0][1])
    for ax in axes[0]:
        ax.set_xlabel("epoch")
    fig.suptitle(f"The same MLP {d['digits_sizes']} trained on the digits with each optimizer")
    name = _save(fig, img_dir, lesson, "digits")
    figures.append(FigureFile(name, "Loss and validation accuracy per epoch, from the same "
                                    "initial weights."))
    return figures


FIGURES = {
    "gradient_descent": figures_gradient_descent,
    "notebook_exercise": figures_notebook_exercise,
    "backpropagation": figures_backpropagation,
    "vanishing_gradient": figures_vanishing_gradient,
    "activations": figures_activations,
    "optimizers": figures_optimizers,
    "critical_rate": curvature_figures.figures_critical_rate,
    "edge_of_stability": curvature_figures.figures_edge_of_stability,
    "loss_landscape": curvature_figures.figures_loss_landscape,
    "second_order": curvature_figures.figures_second_order,
}


def render_figures(lesson, img_dir) -> list[FigureFile]:
    """Write the lesson's PNGs into ``img_dir`` (created if needed); return their records."""
    Path(img_dir).mkdir(parents=True, exist_ok=True)
    with style():
        return _sized(FIGURES[lesson.name](lesson, img_dir), img_dir)
