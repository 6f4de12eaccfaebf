"""Lesson 2: the notebook exercise of the course, solved with the engine.

``input = [1, 2, 3, 4]``, ``target = [2, 3, 4, 5]``, W1 a 4x4 matrix whose rows are all
``[1.5, 1.3, 1.8, 1.1]``, ``prediction = input @ W1``, ``loss = mean((prediction − target)²)``.
The exercise asks for the gradient G1 and for gradient-descent steps until the loss is below
1.30. Here autodiff gives G1, ``st.optim.GD`` takes the steps, and the run is repeated for
several learning rates; the closed form (the error is multiplied by 1 − 15·lr per step) is the
theory the measurements are compared with.

The course notes' second cell evaluates ``New_W1 @ input`` although the first used ``input @ W1``;
the lesson computes both and uses ``input @ W1`` throughout.
"""

from __future__ import annotations

import numpy as np

from steepest.losses import mse
from steepest.optim import GD
from steepest.tensor import tensor
from steepest.lessons._base import Lesson, Table, descend, timed

__all__ = ["notebook_exercise", "run_exercise", "INPUT", "TARGET", "W1_ROW"]

INPUT = (1.0, 2.0, 3.0, 4.0)
TARGET = (2.0, 3.0, 4.0, 5.0)
W1_ROW = (1.5, 1.3, 1.8, 1.1)

COURSE = [
    "An optimization function adjusts the model's weights to minimise the loss between the "
    "predictions and the targets; the simplest is gradient descent.",
    "Exercise: with input = [1, 2, 3, 4], target = [2, 3, 4, 5] and W1 (every row "
    "[1.5, 1.3, 1.8, 1.1]), prediction = input @ W1 and loss = mean((prediction − target)²): "
    "compute the gradient G1, then update the weights until the loss is below 1.30.",
    "When updating the weights you apply a fraction of the gradient, controlled by the "
    "learning rate. The gradient must be recomputed (and reset) before each update.",
]


def _weights(W1=None) -> np.ndarray:
    return np.tile(np.array(W1_ROW), (4, 1)) if W1 is None else np.array(W1, dtype=float)


def _fmt(values) -> str:
    return "[" + ", ".join(f"{v:.10g}" for v in np.asarray(values).ravel()) + "]"


def _loss(prediction, target):
    return mse(prediction, target)


def run_exercise(lr: float, max_steps: int, threshold: float = 1.30, W1=None,
                 stop_below: float | None = None):
    """GD on W1 with the engine: the loss before every step, and the steps to go below.

    Returns ``(losses, steps_to_threshold)``: ``losses[k]`` is the loss after k updates
    (``losses[0]`` is the initial 125.25), ``steps_to_threshold`` the first k with
    ``losses[k] < threshold`` (None if never within ``max_steps``). The run stops early once
    the loss is below ``stop_below`` (if given) or is no longer finite.
    """
    x, target = tensor(INPUT), tensor(TARGET)
    weight = tensor(_weights(W1), requires_grad=True)
    optimizer = GD([weight], lr=lr)
    losses, reached = [], None
    with np.errstate(over="ignore", invalid="ignore"):
        for k, loss in descend(lambda: _loss(x @ weight, target), optimizer, max_steps):
            value = loss.item()
            losses.append(value)
            if reached is None and value < threshold:
                reached = k
            if stop_below is not None and value < stop_below:
                break
    return np.array(losses), reached


def notebook_exercise(lrs=(0.001, 0.01, 0.05, 1 / 15, 0.1, 0.14),
                      divergent_lrs=(0.13, 0.135), threshold: float = 1.30,
                      max_steps: int = 200) -> Lesson:
    """Run lesson 2.

    lrs : learning rates of the main table (the reference values cover these).
    divergent_lrs : extra rates either side of the limit 2/15, to show where divergence starts.
    threshold : the exercise's target loss.
    max_steps : the most updates per run.
    """
    with timed() as clock:
        x = tensor(INPUT)
        target = tensor(TARGET)
        W1 = tensor(_weights(), requires_grad=True)
        prediction = x @ W1
        loss = _loss(prediction, target)
        loss.backward()
        G1 = W1.grad.copy()
        gain = 2.0 * float(np.sum(np.square(INPUT))) / len(INPUT)  # 15: d(error)/d(lr) factor
        limit = 2.0 / gain

        runs = []
        for lr in sorted(set(lrs) | set(divergent_lrs)):
            losses, reached = run_exercise(lr, max_steps, threshold)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = losses[1:] / losses[:-1]
            finite = ratio[np.isfinite(ratio)]
            grows = bool(len(finite) and np.all(finite > 1.0))
            runs.append({"lr": float(lr), "label": "1/15" if np.isclose(lr, 1 / 15) else f"{lr:g}",
                         "losses": losses, "loss_after_one_step": float(losses[1]),
                         "steps_to_threshold": reached, "grows_every_step": grows,
                         "main": lr in lrs,
                         "theory_factor": (1.0 - gain * lr) ** 2})

        # the course notes' second cell: New_W1 @ input instead of input @ W1
        W = tensor(_weights())
        transposed_prediction = W @ x
        transposed_loss = _loss(transposed_prediction, target).item()
        inconsistency = []
        for run in runs:
            if not run["main"]:
                continue
            W_new = tensor(_weights() - run["lr"] * G1)
            notes_cell = _loss(W_new @ x, target).item()
            inconsistency.append({"lr": run["lr"], "label": run["label"],
                                  "input_at_W1": run["loss_after_one_step"],
                                  "W1_at_input": notes_cell})

        findings = [
            f"Autodiff gives loss {loss.item():g} and G1 = outer(input, 2(prediction − target)/4) "
            f"with rows {'; '.join(_fmt(r) for r in G1)}.",
            f"Every GD step multiplies the prediction error by 1 − {gain:g}·lr (the loss by its "
            f"square), so the run converges for 0 < lr < 2/{gain:g} = {limit:.4f} and diverges "
            f"above; lr = 1/{gain:g} reaches the minimum in one step.",
        ]
        for run in runs:
            if run["steps_to_threshold"] is not None:
                findings.append(
                    f"lr = {run['label']}: loss {run['loss_after_one_step']:.6g} after one step, "
                    f"below {threshold:.2f} after {run['steps_to_threshold']} step"
                    f"{'s' if run['steps_to_threshold'] != 1 else ''}.")
            elif run["grows_every_step"]:
                findings.append(
                    f"lr = {run['label']} (> 2/{gain:g}): the loss grows at every step "
                    f"(×{run['losses'][1] / run['losses'][0]:.4f}), from {run['losses'][0]:g} to "
                    f"{run['losses'][-1]:.4g} after {len(run['losses']) - 1} steps: divergence.")
            else:
                findings.append(
                    f"lr = {run['label']}: the loss does not reach {threshold:.2f} within "
                    f"{len(run['losses']) - 1} steps (last {run['losses'][-1]:.4g}).")
        findings.append(
            f"The course notes' second cell computes New_W1 @ input (the transpose). With the "
            f"original W1 that gives {_fmt(transposed_prediction._data)} and loss "
            f"{transposed_loss:.6g} instead of input @ W1 = {_fmt(prediction._data)} and "
            f"{loss.item():g}; this lesson uses input @ W1 everywhere, so the loss it prints "
            f"after an update is the loss of the model whose gradient was taken.")

        main_table = Table(
            f"Gradient descent until the loss is below {threshold:.2f}",
            ["lr", "loss after 1 step", f"theory factor (1 − {gain:g} lr)²", "measured factor",
             f"steps to loss < {threshold:.2f}", "loss grows every step"],
            [[r["label"], r["loss_after_one_step"], r["theory_factor"],
              r["loss_after_one_step"] / r["losses"][0],
              r["steps_to_threshold"] if r["steps_to_threshold"] is not None else "never",
              "yes" if r["grows_every_step"] else "no"] for r in runs],
            note=f"Divergence limit from theory: 2/{gain:g} = {limit:.6f}. "
                 f"Rows {', '.join(r['label'] for r in runs if not r['main'])} bracket it.",
            digits=12)
        notes_table = Table(
            "The course notes' New_W1 @ input versus input @ W1 (loss after one step)",
            ["lr", "input @ W1 (used here)", "New_W1 @ input (course notes' cell)"],
            [["0 (original W1)", loss.item(), transposed_loss]]
            + [[c["label"], c["input_at_W1"], c["W1_at_input"]] for c in inconsistency],
            digits=10)

    return Lesson(
        name="notebook_exercise", title="2. The notebook exercise: loss below 1.30",
        course=COURSE, tables=[main_table, notes_table], findings=findings,
        data={"input": list(INPUT), "target": list(TARGET), "W1_row": list(W1_ROW),
              "prediction": prediction._data, "loss": loss.item(), "gradient": G1,
              "threshold": threshold, "gain": gain, "diverges_above_lr": limit, "runs": runs,
              "transposed": {"prediction": transposed_prediction._data,
                             "loss": transposed_loss, "after_one_step": inconsistency}},
        params={"lrs": list(lrs), "divergent_lrs": list(divergent_lrs),
                "threshold": threshold, "max_steps": max_steps},
        seconds=clock.seconds)
