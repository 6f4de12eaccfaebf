"""Figures of the curvature lessons (critical rate, edge of stability, loss landscape), drawn
from each Lesson's data only."""

from __future__ import annotations

import numpy as np

from steepest.report.figure_files import FigureFile, nan_for_infinite, save_lesson_figure
from steepest.report.style import new_figure, qualitative
from steepest.viz.landscapes import Landscape

__all__ = ["figures_critical_rate", "figures_edge_of_stability", "figures_loss_landscape",
           "figures_second_order"]


def figures_critical_rate(lesson, img_dir) -> list[FigureFile]:
    runs = lesson.data["runs"]
    fig, axes = new_figure(12, 4.4, ncols=len(runs))
    for ax, (model_name, info) in zip(axes[0], runs.items()):
        colors = qualitative(len(info["runs"]))
        start = info["runs"][0]["losses"][0]
        notes = 0
        for color, run in zip(colors, info["runs"]):
            losses = nan_for_infinite(run["losses"])
            ax.plot(np.arange(len(losses)), losses, "-", color=color,
                    label=f"lr = {run['factor']:g} · 2/λ_max = {run['lr']:.3g}")
            off = np.flatnonzero(~(losses <= 3 * start))
            if off.size:  # the run leaves the panel: say where it went
                k = int(off[0])
                below, above = losses[k - 1], losses[k]
                crossing = (k - 1 + (3 * start - below) / (above - below)
                            if np.isfinite(above) else k - 1)
                ax.annotate(f"diverges: {losses[~np.isnan(losses)][-1]:.2g} at step "
                            f"{np.count_nonzero(~np.isnan(losses)) - 1}",
                            xy=(crossing, 3 * start), xytext=(len(losses) * 0.35 + 2,
                                                       (2.7 - 0.4 * notes) * start),
                            color=color, fontsize=9,
                            arrowprops=dict(arrowstyle="->", color=color))
                notes += 1
        lowest = min(np.nanmin(nan_for_infinite(r["losses"])) for r in info["runs"])
        ax.set_ylim(0.9 * lowest, 3 * start)
        ax.set_xlabel("gradient-descent step (full batch)")
        ax.set_ylabel("loss")
        ax.set_title(f"{model_name}: λ_max = {info['lambda0']:.4g} at the start")
        ax.legend(loc="center right")
    fig.suptitle("Training at multiples of the critical learning rate 2/λ_max")
    name = save_lesson_figure(fig, img_dir, lesson, "runs")
    return [FigureFile(name, "Full-batch gradient descent from the same initial weights at "
                             "0.9, 1.1 and 2 times 2/λ_max measured at initialisation: the "
                             "linear model's loss is a quadratic, the MLP's is not.")]


def figures_edge_of_stability(lesson, img_dir) -> list[FigureFile]:
    runs = lesson.data["runs"]
    colors = qualitative(len(runs))
    fig, axes = new_figure(12, 4.6, ncols=2)
    ax_loss, ax_sharp = axes[0]
    for color, run in zip(colors, runs):
        losses = nan_for_infinite(run["losses"])
        ax_loss.plot(np.arange(len(losses)), losses, color=color, lw=1.2,
                     label=f"η = {run['lr']:g}")
        ax_sharp.plot(run["steps"], nan_for_infinite(run["sharpness"]), "o-", ms=3, color=color,
                      label=f"λ_max, η = {run['lr']:g}")
        ax_sharp.axhline(run["threshold"], color=color, ls="--", lw=1.2,
                         label=f"2/η = {run['threshold']:.3g}")
    ax_loss.set_xlabel("gradient-descent step (full batch)")
    ax_loss.set_ylabel("training loss")
    ax_loss.set_title("Training loss")
    ax_loss.legend(loc="upper right")
    ax_sharp.set_xlabel("gradient-descent step (full batch)")
    ax_sharp.set_ylabel("sharpness λ_max")
    ax_sharp.set_title("Sharpness λ_max against 2/η")
    ax_sharp.legend(loc="lower right")
    fig.suptitle(f"Edge of stability: a tanh MLP {lesson.data['sizes']} on "
                 f"{lesson.data['samples']} digits")
    name = save_lesson_figure(fig, img_dir, lesson, "sharpness")
    return [FigureFile(name, "Left: the loss under full-batch gradient descent. Right: the top "
                             "Hessian eigenvalue measured every few steps (Lanczos on "
                             "Hessian-vector products), with 2/η dashed in the same colour.")]


def figures_loss_landscape(lesson, img_dir) -> list[FigureFile]:
    d = lesson.data
    line = Landscape(kind="line", alphas=np.asarray(d["line"]["alphas"], dtype=float),
                     losses=nan_for_infinite(d["line"]["losses"]))
    plane = Landscape(kind="plane", xs=np.asarray(d["plane"]["xs"], dtype=float),
                      ys=np.asarray(d["plane"]["ys"], dtype=float),
                      losses=nan_for_infinite(d["plane"]["losses"]),
                      path=np.asarray(d["plane"]["path"], dtype=float),
                      explained=tuple(d["plane"]["explained"]),
                      directions=d["plane"]["directions"])
    fig, axes = new_figure(12, 4.8, ncols=2)
    line.draw(ax=axes[0][0])
    plane.draw(ax=axes[0][1])
    fig.suptitle("The loss along the training line and over the plane of the path")
    name = save_lesson_figure(fig, img_dir, lesson, "landscape")
    return [FigureFile(name, "Left: the loss at θ₀ + α(θ₁ − θ₀) (Goodfellow et al. 2015). "
                             "Right: the loss over the plane of the path's two principal "
                             "directions (Li et al. 2018), with the path: one dot per "
                             "recorded step, from the white circle to the star.")]


def figures_second_order(lesson, img_dir) -> list[FigureFile]:
    problems = list(lesson.data.values())
    fig, axes = new_figure(12, 5.0, ncols=len(problems))
    for ax, problem in zip(axes[0], problems):
        runs = problem["runs"]
        for color, (name, run) in zip(qualitative(len(runs)), runs.items()):
            gaps = nan_for_infinite(run["gaps"])
            gaps = np.where(gaps > 0, gaps, np.nan)
            ax.plot(np.asarray(run["counts"]), gaps, "-", color=color, lw=1.6,
                    marker="o" if len(gaps) < 30 else None, ms=4,
                    label=name if ax is axes[0][0] else None)
        ax.axhline(lesson.params["tol"], color="0.4", ls=":", lw=1.2,
                   label="tolerance" if ax is axes[0][0] else None)
        ax.set_yscale("log")
        ax.set_xscale("symlog", linthresh=10)
        ax.set_xlim(left=0)
        ax.set_xlabel("iteration (log scale past 10; L-BFGS: inner iterations)")
        ax.set_ylabel("f − f* (log scale)")
        ax.set_title(f"{problem['title']}\nκ = {problem['condition']:.4g} at the minimum",
                     fontsize=11)
    fig.legend(loc="outside lower center", ncol=6)
    fig.suptitle("Second-order and first-order methods from the same start")
    name = save_lesson_figure(fig, img_dir, lesson, "convergence")
    return [FigureFile(name, "The distance to the minimum value per iteration: Newton uses "
                             "the exact Hessian, L-BFGS an estimate built from gradients, "
                             "the others the gradient only; the table gives each method's "
                             "settings, taken from the measured curvature for GD and momentum.")]
