"""Lesson 1: gradient descent on J(w) = Σ(z − w·x)² with z = 2x, and the learning rate.

Every number comes from the engine: ``J = st.losses.sse(w * x, z)``, ``J.backward()`` gives
dJ/dw and ``st.optim.GD`` takes the step. The closed form (each step multiplies w − 2 by
1 − 2αΣx²) is only the theory the measured runs are compared with; each run's class (slow,
well chosen, overshooting, divergent) is read off its own trajectory, never from α.
"""

from __future__ import annotations

import numpy as np

from steepest import losses
from steepest.optim import GD
from steepest.tensor import ones, tensor
from steepest.lessons._base import Lesson, Table, descend, timed

__all__ = ["gradient_descent", "run_gd", "classify_run", "cost_curve", "RATE_CLASSES"]

#: The learning-rate classes, in the order of growing α.
RATE_CLASSES = ("slow", "well chosen", "overshooting", "divergent")

COURSE = [
    "Gradient descent looks for the w that minimises the cost J(w) = Σ (z_i − w·x_i)²; for "
    "data on the line z = 2x the optimum is w = 2.",
    "Update rule: w_{i+1} = w_i − α · dJ/dw(w_i), α being the learning rate. Starting from "
    "w0 = 0.2 with α = 0.4, each iteration moves w closer to 2 with a smaller step, because "
    "the slope decreases near the minimum.",
    "A large learning rate can overshoot the minimum and diverge; a small one converges "
    "slowly.",
]


def run_gd(x, w0: float, alpha: float, steps: int):
    """Gradient descent on J(w) = Σ(2x − w·x)² with the engine; w, J, dJ/dw before each step.

    Returns arrays of length ``steps + 1``: entry k holds w_k, J(w_k) and dJ/dw(w_k).
    A run whose w overflows is cut where it stops being finite.
    """
    x = tensor(np.asarray(x, dtype=float))
    z = 2.0 * x
    w = tensor(float(w0), requires_grad=True)
    optimizer = GD([w], lr=alpha)
    ws, js, grads = [], [], []
    with np.errstate(over="ignore", invalid="ignore"):
        for _, loss in descend(lambda: losses.sse(w * x, z), optimizer, steps):
            ws.append(w.item())
            js.append(loss.item())
            grads.append(w.grad.item())
    return np.array(ws), np.array(js), np.array(grads)


def cost_curve(x, w_values) -> np.ndarray:
    """J(w) for each w of ``w_values`` (one engine evaluation, for drawing the curve)."""
    x = tensor(np.asarray(x, dtype=float))
    w = tensor(np.asarray(w_values, dtype=float)[:, None])
    return losses.sse(w * x, (2.0 * x) * ones(len(w_values), 1),
                         reduction="none").sum(axis=1)._data


def classify_run(w: np.ndarray, optimum: float = 2.0, tol: float = 1e-3) -> dict:
    """Read a run's behaviour off its trajectory w_0, w_1, ..., w_N.

    * divergent: the distance to the optimum grew, |w_N − w*| > |w_0 − w*|;
    * overshooting: the sign of w − w* alternates at every step (w jumps over the optimum)
      while the distance shrinks;
    * well chosen: |w − w*| fell below ``tol`` within the N steps, without overshooting;
    * slow: none of these (still short of the optimum after N steps, on one side).
    """
    error = np.asarray(w, dtype=float) - optimum
    distance = np.abs(error)
    signs = np.sign(error)
    changes = int(np.sum(signs[1:] * signs[:-1] < 0))
    alternates = len(error) > 2 and changes == len(error) - 1
    grew = (not np.isfinite(distance[-1])) or distance[-1] > distance[0]
    below = np.flatnonzero(distance < tol)
    steps_to_tol = int(below[0]) if below.size else None
    if grew:
        label = "divergent"
    elif alternates:
        label = "overshooting"
    elif steps_to_tol is not None:
        label = "well chosen"
    else:
        label = "slow"
    ratios = distance[1:] / np.where(distance[:-1] == 0, np.nan, distance[:-1])
    return {"class": label, "sign_changes": changes, "steps": len(error) - 1,
            "steps_to_tol": steps_to_tol, "final_distance": float(distance[-1]),
            "initial_distance": float(distance[0]),
            "mean_contraction": float(np.nanmean(ratios)) if ratios.size else float("nan")}


def gradient_descent(x=(0.1, 0.2, 0.3, 0.4, 0.5), w0: float = 0.2, alpha: float = 0.4,
                     table_iterations: int = 3,
                     alphas=(0.05, 0.4, 1.5, 2.0), steps: int = 30,
                     tol: float = 1e-3) -> Lesson:
    """Run lesson 1.

    Parameters
    ----------
    x : the inputs (targets are z = 2x). The course notes do not give them; [0.1..0.5] is the
        reference choice (Σx² = 0.55).
    w0, alpha : start and learning rate of the worked example (the course's 0.2 and 0.4).
    table_iterations : iterations shown in the worked-example table (0..table_iterations).
    alphas : learning rates of the study.
    steps : iterations per run of the study.
    tol : a run has converged when |w − 2| < tol.
    """
    with timed() as clock:
        x = np.asarray(x, dtype=float)
        sum_x2 = float(np.sum(x * x))
        fastest, limit = 1.0 / (2.0 * sum_x2), 1.0 / sum_x2
        w, J, dJ = run_gd(x, w0, alpha, max(steps, table_iterations))
        iterations = {"iteration": list(range(table_iterations + 1)),
                      "w": w[:table_iterations + 1], "J": J[:table_iterations + 1],
                      "dJdw": dJ[:table_iterations + 1]}
        example = classify_run(w, tol=tol)

        runs = []
        for a in alphas:
            wa, Ja, dJa = run_gd(x, w0, a, steps)
            verdict = classify_run(wa, tol=tol)
            runs.append({"alpha": float(a), "w": wa, "J": Ja, "dJdw": dJa, **verdict,
                         "theory_factor": 1.0 - 2.0 * a * sum_x2})

        curve_w = np.linspace(-0.5, 4.5, 201)
        curve_J = cost_curve(x, curve_w)
        findings = [
            f"From w0 = {w0:g} with α = {alpha:g} the engine reproduces the course's descent: "
            f"w = {', '.join(f'{v:.6g}' for v in iterations['w'])} and J = "
            f"{', '.join(f'{v:.6g}' for v in iterations['J'])}; dJ/dw shrinks from "
            f"{dJ[0]:.4g} to {dJ[table_iterations]:.4g}, so the steps get smaller as the "
            f"slope flattens.",
            f"Each measured step multiplies w − 2 by {example['mean_contraction']:.4f} on "
            f"average (theory: 1 − 2αΣx² = {1 - 2 * alpha * sum_x2:.4f}); "
            + (f"|w − 2| < {tol:g} after {example['steps_to_tol']} iterations."
               if example["steps_to_tol"] is not None else
               f"|w − 2| is still {example['final_distance']:.3g} after {example['steps']} "
               f"iterations."),
            f"With Σx² = {sum_x2:g} the theory puts the one-step learning rate at 1/(2Σx²) = "
            f"{fastest:.4f} (above it w overshoots and oscillates) and the divergence limit at "
            f"1/Σx² = {limit:.4f}.",
        ]
        for run in runs:
            a, cls = run["alpha"], run["class"]
            crossings = ("never crossing the optimum" if run["sign_changes"] == 0 else
                         f"crossing the optimum {run['sign_changes']} times")
            if cls == "slow":
                text = (f"α = {a:g} is slow: after {run['steps']} steps w = {run['w'][-1]:.4f} "
                        f"is still {run['final_distance']:.3g} from 2, {crossings}.")
            elif cls == "well chosen":
                text = (f"α = {a:g} is well chosen: |w − 2| < {tol:g} after "
                        f"{run['steps_to_tol']} steps, {crossings}.")
            elif cls == "overshooting":
                reach = (f"reaches |w − 2| < {tol:g} after {run['steps_to_tol']} steps"
                         if run["steps_to_tol"] is not None else
                         f"ends {run['final_distance']:.3g} from 2")
                text = (f"α = {a:g} overshoots: w − 2 changes sign at every one of the "
                        f"{run['sign_changes']} steps while |w − 2| shrinks by "
                        f"{abs(run['mean_contraction']):.3f} per step; it {reach}.")
            else:
                text = (f"α = {a:g} diverges: |w − 2| grows from {run['initial_distance']:.3g} "
                        f"to {run['final_distance']:.3g} in {run['steps']} steps "
                        f"(×{run['mean_contraction']:.3f} per step).")
            findings.append(text)

        iteration_table = Table(
            f"Iterations from w0 = {w0:g}, α = {alpha:g}",
            ["iteration", "w", "J(w)", "dJ/dw"],
            [[k, iterations["w"][k], iterations["J"][k], iterations["dJdw"][k]]
             for k in range(table_iterations + 1)], digits=12)
        study_table = Table(
            f"Learning-rate study ({steps} steps from w0 = {w0:g})",
            ["α", "theory factor 1 − 2αΣx²", "measured factor |w−2| per step",
             "sign changes", f"steps to |w−2| < {tol:g}", "final |w − 2|", "class (measured)"],
            [[r["alpha"], r["theory_factor"], r["mean_contraction"], r["sign_changes"],
              r["steps_to_tol"] if r["steps_to_tol"] is not None else "—",
              r["final_distance"], r["class"]] for r in runs],
            note=f"Thresholds from theory: 1/(2Σx²) = {fastest:.4f}, 1/Σx² = {limit:.4f}. "
                 f"The class is computed from each run's w values.")

    return Lesson(
        name="gradient_descent", title="1. Gradient descent and the learning rate",
        course=COURSE, tables=[iteration_table, study_table], findings=findings,
        data={"x": x, "sum_x2": sum_x2, "optimum": 2.0, "thresholds": {
            "one_step": fastest, "divergence": limit}, "iterations": iterations,
            "example_run": {"w": w, "J": J, "dJdw": dJ, **example}, "runs": runs,
            "tol": tol, "curve": {"w": curve_w, "J": curve_J}},
        params={"x": x, "w0": w0, "alpha": alpha, "table_iterations": table_iterations,
                "alphas": list(alphas), "steps": steps, "tol": tol},
        seconds=clock.seconds)
