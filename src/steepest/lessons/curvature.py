"""Curvature lessons: what a learning rate is "too large" against, measured.

* :func:`critical_rate` — the course's quadratics (J(w) and the notebook exercise) have a
  constant second derivative, so 2/λ is exactly the rate at which gradient descent stops
  converging. A linear model with squared error on digits is quadratic too (H constant): at
  0.9·2/λ_max it converges, at 1.1·2/λ_max it diverges. A tanh network is not: its λ_max
  changes as it trains, so the same 1.1 can survive (the loss spikes, λ_max falls).
* :func:`edge_of_stability` — Cohen et al. (2021): full-batch gradient descent on a tanh MLP
  drives λ_max up until it reaches 2/η and then hovers there while the loss keeps falling,
  non-monotonically.
* :func:`loss_landscape` — the loss along the line from initial to trained weights (Goodfellow
  et al. 2015) and over the plane of the optimizer's path (Li et al. 2018).
* :func:`second_order` — what gradient descent approximates: Newton's step uses the Hessian,
  L-BFGS estimates it from gradients, GD takes every curvature to be 1/lr. Iterations and wall
  time to a tolerance on an ill-conditioned quadratic and on Rosenbrock.

Every number of a finding is read off the runs; the sentences only choose words by comparing
measured numbers.
"""

from __future__ import annotations

import math
import time

import numpy as np

from steepest import curvature
from steepest.data import load_digits
from steepest.lessons._base import Lesson, Table, descend, timed
from steepest.losses import sse
from steepest.nn.layers import Linear, Sequential, Tanh
from steepest.optim.adam import Adam
from steepest.optim.functions import FUNCTIONS
from steepest.optim.lbfgs import LBFGS
from steepest.optim.newton import Newton
from steepest.optim.sgd import SGD
from steepest.random import manual_seed
from steepest.tensor import Tensor, float64, tensor
from steepest.viz.landscapes import interpolate, landscape, parameters_vector

__all__ = ["critical_rate", "edge_of_stability", "loss_landscape", "second_order", "squared_error",
           "digits_subset", "tanh_mlp"]


def squared_error(out: Tensor, target: Tensor) -> Tensor:
    """½ Σ_k (out_k − target_k)², averaged over samples: the loss of Cohen et al. (2021)."""
    return 0.5 * ((out - target) ** 2).sum(axis=1).mean()


def digits_subset(samples: int):
    """The first ``samples`` digits, pixels in [0, 1], with one-hot float64 targets."""
    X, y = load_digits()
    X = np.asarray(X[:samples], dtype=np.float64) / 16.0
    onehot = np.eye(10)[np.asarray(y[:samples])]
    return tensor(X, dtype=float64), tensor(onehot, dtype=float64)


def tanh_mlp(sizes, seed: int = 0) -> Sequential:
    """A float64 tanh MLP with torch's default initialisation for ``seed``."""
    manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(fan_in, fan_out, dtype=float64))
        if i < len(sizes) - 2:
            layers.append(Tanh())
    return Sequential(*layers)


def _gradient_descent(model, X, Y, lr: float, steps: int, every: int = 0, iterations: int = 8):
    """Full-batch GD; the loss before each step and, every ``every`` steps, λ_max (Lanczos,
    warm-started from the previous measurement's eigenvector: λ_max moves little between
    measurements, so a few iterations track it)."""
    optimizer = SGD(model.parameters(), lr=lr)
    losses, sharp_steps, sharp = [], [], []
    vector = None
    with np.errstate(all="ignore"):
        for k, loss in descend(lambda: squared_error(model(X), Y), optimizer, steps):
            if every and k % every == 0:  # descend stops after a non-finite loss
                top, vector = curvature.sharpness(model, squared_error, X, Y,
                                                  iterations=iterations if vector is not None
                                                  else 3 * iterations, start=vector)
                sharp_steps.append(k)
                sharp.append(top)
            losses.append(loss.item())
            if losses[-1] > 1e6 * losses[0]:
                break
    return np.array(losses), np.array(sharp_steps), np.array(sharp)


def _quadratic_rates(x: np.ndarray):
    """J'' of the course's J(w) = Σ(2x − w·x)², measured by autodiff, and the closed form 2Σx²."""
    xs = tensor(x, dtype=float64)
    w = tensor(0.2, dtype=float64, requires_grad=True)
    operator = curvature.HessianOperator([w], forward=lambda: sse(w * xs, 2.0 * xs))
    return float(operator.dense()[0, 0]), 2.0 * float(np.sum(x * x))


def _outcome(losses: np.ndarray) -> tuple:
    """('converged' | 'diverged' | 'survived', a sentence with the measured numbers) of a GD
    run's losses."""
    if not np.all(np.isfinite(losses)) or losses[-1] > 10 * losses[0]:
        grown = losses[np.isfinite(losses)]
        return "diverged", (f"the loss grew from {losses[0]:.4g} to {grown[-1]:.3g} within "
                            f"{len(grown) - 1} steps")
    rises = int(np.sum(np.diff(losses) > 0))
    if rises == 0:
        return "converged", (f"the loss fell at every step, from {losses[0]:.4g} to "
                             f"{losses[-1]:.4g}")
    peak = f" (peak {losses.max():.4g})" if losses.max() > losses[0] else ""
    return "survived", (f"the loss rose at {rises} of {len(losses) - 1} steps{peak} and ended "
                        f"at {losses[-1]:.4g} from {losses[0]:.4g}")


def critical_rate(samples: int = 500, hidden: int = 32, steps: int = 60,
                  factors=(0.9, 1.1, 2.0), seed: int = 0, quick: bool = False) -> Lesson:
    """Measure λ_max, then train at multiples of 2/λ_max: a linear model and a tanh MLP."""
    if quick:
        samples, hidden, steps = 200, 16, 25
    with timed() as clock:
        measured_J, closed_J = _quadratic_rates(np.linspace(0.1, 0.5, 5))
        X, Y = digits_subset(samples)
        rows, runs = [], {}
        for model_name, sizes in (("linear model", (64, 10)), ("tanh MLP", (64, hidden, 10))):
            lam0, _ = curvature.sharpness(tanh_mlp(sizes, seed), squared_error, X, Y,
                                          iterations=30)
            runs[model_name] = {"lambda0": lam0, "runs": []}
            for factor in factors:
                model = tanh_mlp(sizes, seed)
                lr = factor * 2.0 / lam0
                losses, _, _ = _gradient_descent(model, X, Y, lr, steps)
                after = (curvature.sharpness(model, squared_error, X, Y, iterations=30)[0]
                         if np.all(np.isfinite(losses)) and losses[-1] < 1e3 else math.nan)
                outcome, sentence = _outcome(losses)
                runs[model_name]["runs"].append({"factor": factor, "lr": lr, "losses": losses,
                                                 "lambda_after": after, "outcome": outcome,
                                                 "sentence": sentence})
                rows.append([model_name, lam0, factor, lr, losses[0], losses[-1], after,
                             outcome])
    findings = [
        f"The course's J(w) = Σ(2x − w·x)² with x = 0.1…0.5: autodiff measures J'' = "
        f"{measured_J:.12g} (closed form 2Σx² = {closed_J:.12g}), so the critical learning "
        f"rate 2/J'' is {2 / measured_J:.6g}: the lesson on gradient descent sees α = 1.5 "
        f"overshoot and α = 2.0 diverge on either side of it."]
    for model_name, info in runs.items():
        parts = [f"{r['factor']:g}·2/λ (lr {r['lr']:.4g}) {r['outcome']}: {r['sentence']}"
                 for r in info["runs"]]
        findings.append(f"{model_name[0].upper() + model_name[1:]} on {samples} digits, "
                        f"squared error: λ_max = {info['lambda0']:.5g} at initialisation, so 2/λ_max = "
                        f"{2 / info['lambda0']:.4g}. " + "; ".join(parts) + ".")
    mlp = runs["tanh MLP"]["runs"]
    survivor = next((r for r in mlp if r["factor"] > 1 and math.isfinite(r["lambda_after"])
                     and r["lambda_after"] < runs["tanh MLP"]["lambda0"] * r["factor"]), None)
    if survivor is not None:
        findings.append(
            f"The MLP is not a quadratic: at {survivor['factor']:g}·2/λ its λ_max fell from "
            f"{runs['tanh MLP']['lambda0']:.4g} to {survivor['lambda_after']:.4g} during "
            f"training, so 2/λ_max became {2 / survivor['lambda_after']:.4g} against the lr "
            f"{survivor['lr']:.4g}: training itself moved the weights to where the step is "
            f"stable.")
    table = Table("Gradient descent at multiples of the critical rate 2/λ_max",
                  ["model", "λ_max at start", "lr ÷ (2/λ_max)", "lr", "loss at start",
                   "loss at end", "λ_max at end", "outcome"], rows, digits=4)
    return Lesson(
        name="critical_rate", title="The critical learning rate 2/λ_max",
        course=["A learning rate is too large when a step overshoots the valley; for a "
                "quadratic J(w) the step multiplies the distance to the minimum by "
                "(1 − α J''), so gradient descent converges exactly when α < 2/J''."],
        tables=[table], findings=findings,
        data={"quadratic": {"measured": measured_J, "closed_form": closed_J}, "runs": runs,
              "samples": samples},
        params={"samples": samples, "hidden": hidden, "steps": steps,
                "factors": list(factors), "seed": seed, "quick": quick},
        seconds=clock.seconds)


def edge_of_stability(samples: int = 1000, sizes=(64, 32, 32, 10), lrs=(0.2, 0.4),
                      steps: int = 1200, every: int = 50, seed: int = 0,
                      quick: bool = False) -> Lesson:
    """Full-batch GD at several rates; λ_max every ``every`` steps against 2/η."""
    if quick:
        samples, lrs, steps, every = 300, (0.4,), 300, 30
    with timed() as clock:
        X, Y = digits_subset(samples)
        runs, rows = [], []
        for lr in lrs:
            model = tanh_mlp(sizes, seed)
            losses, at, sharp = _gradient_descent(model, X, Y, lr, steps, every=every)
            threshold = 2.0 / lr
            reached = np.flatnonzero(sharp >= 0.9 * threshold)
            first = int(at[reached[0]]) if reached.size else None
            plateau = (float(np.median(sharp[reached[0]:])) if reached.size else math.nan)
            rises = int(np.sum(np.diff(losses[first:]) > 0)) if first is not None else 0
            runs.append({"lr": lr, "losses": losses, "steps": at, "sharpness": sharp,
                         "threshold": threshold, "reached_at": first, "plateau": plateau,
                         "loss_rises_after": rises})
            rows.append([lr, threshold, sharp[0], first if first is not None else "never",
                         plateau, losses[0], losses[-1], rises])
    findings = []
    for run in runs:
        if run["reached_at"] is None:
            findings.append(
                f"η = {run['lr']:g}: λ_max rose from {run['sharpness'][0]:.4g} to "
                f"{run['sharpness'][-1]:.4g} in {len(run['losses']) - 1} steps without "
                f"reaching 0.9·2/η = {0.9 * run['threshold']:.4g}.")
        else:
            findings.append(
                f"η = {run['lr']:g}: λ_max rose from {run['sharpness'][0]:.4g} to 2/η = "
                f"{run['threshold']:.4g} by step {run['reached_at']} and then hovered at a "
                f"median of {run['plateau']:.4g} ({run['plateau'] / run['threshold']:.2f}× 2/η), "
                f"while the loss kept falling from {run['losses'][0]:.4g} to "
                f"{run['losses'][-1]:.4g} with {run['loss_rises_after']} rises along the way.")
    table = Table("Sharpness λ_max under full-batch gradient descent",
                  ["η", "2/η", "λ_max at start", "step reaching 0.9·2/η", "median λ_max after",
                   "loss at start", "loss at end", "loss rises after"], rows, digits=4)
    return Lesson(
        name="edge_of_stability", title="The edge of stability",
        course=["The learning rate must stay below 2/λ for the step not to overshoot. Cohen et "
                "al. (2021) found that full-batch gradient descent on a network makes λ_max "
                "itself rise until it reaches 2/η, then hover there: the network trains at the "
                "edge of stability."],
        tables=[table], findings=findings,
        data={"runs": runs, "samples": samples, "sizes": list(sizes)},
        params={"samples": samples, "sizes": list(sizes), "lrs": list(lrs), "steps": steps,
                "every": every, "seed": seed, "quick": quick},
        seconds=clock.seconds)


def loss_landscape(samples: int = 500, hidden: int = 32, lr: float = 0.5, steps: int = 300,
                   resolution: int = 31, seed: int = 0, quick: bool = False) -> Lesson:
    """Train a tanh MLP with GD, then look at the loss along its line and over its plane."""
    if quick:
        samples, hidden, steps, resolution = 200, 16, 60, 11
    with timed() as clock:
        X, Y = digits_subset(samples)
        model = tanh_mlp((64, hidden, 10), seed)
        optimizer = SGD(model.parameters(), lr=lr)
        trajectory = [parameters_vector(model)]
        for _ in range(steps):
            optimizer.zero_grad()
            squared_error(model(X), Y).backward()
            optimizer.step()
            trajectory.append(parameters_vector(model))
        line = interpolate(model, squared_error, X, Y, trajectory[0], steps=41)
        plane = landscape(model, squared_error, X, Y,
                          trajectory=trajectory[::max(1, steps // 60)], resolution=resolution)
    start = line.losses[np.isclose(line.alphas, 0.0)][0]
    end = line.losses[np.isclose(line.alphas, 1.0)][0]
    between = line.losses[(line.alphas > 0) & (line.alphas < 1)]
    bumps = int(np.sum(np.diff(line.losses[(line.alphas >= 0) & (line.alphas <= 1)]) > 0))
    findings = [
        f"Along the straight line from the initial weights (loss {start:.4g}) to the trained "
        f"ones ({end:.4g}), the loss " + (
            "falls monotonically: no barrier separates them, as Goodfellow et al. (2015) "
            "found for many networks" if bumps == 0 else
            f"rises {bumps} times on the way (highest {between.max():.4g})") + ".",
        f"The optimizer's path lies mostly in a plane: its first two principal directions "
        f"explain {100 * plane.explained[0]:.1f}% and {100 * plane.explained[1]:.1f}% of its "
        f"variance; on that plane the loss ranges from {np.nanmin(plane.losses):.4g} to "
        f"{np.nanmax(plane.losses):.4g}."]
    lowest = int(np.argmin(line.losses))
    table = Table("The loss along the line θ₀ + α(θ₁ − θ₀) and over the path's plane",
                  ["where", "α or plane", "loss"],
                  [["initial weights θ₀", "α = 0", start], ["trained weights θ₁", "α = 1", end],
                   ["lowest on the line", f"α = {line.alphas[lowest]:.3g}",
                    line.losses[lowest]],
                   ["lowest on the plane", "PCA plane", float(np.nanmin(plane.losses))]],
                  digits=5)
    return Lesson(
        name="loss_landscape", title="Loss landscapes",
        course=["Gradient descent walks downhill on the loss surface; pictures of that surface "
                "along a line or over a plane through weight space show the valley it follows."],
        tables=[table], findings=findings,
        data={"line": {"alphas": line.alphas, "losses": line.losses},
              "plane": {"xs": plane.xs, "ys": plane.ys, "losses": plane.losses,
                        "path": plane.path, "explained": list(plane.explained),
                        "directions": plane.directions}},
        params={"samples": samples, "hidden": hidden, "lr": lr, "steps": steps,
                "resolution": resolution, "seed": seed, "quick": quick},
        seconds=clock.seconds)


def _hessian_at(function, point) -> np.ndarray:
    p = tensor(np.asarray(point, dtype=np.float64), requires_grad=True)
    return curvature.HessianOperator([p], forward=lambda: function(p)).dense()


def _methods(low: float, high: float, adam_lr: float) -> dict:
    """Each method's optimizer factory and the rule its settings come from, given the
    smallest curvature λ_min (at the minimum) and the largest λ_max (at the start or the
    minimum, whichever is larger: a step must be stable where the run begins)."""
    polyak_lr = 4.0 / (math.sqrt(high) + math.sqrt(low)) ** 2
    polyak_mu = ((math.sqrt(high) - math.sqrt(low)) / (math.sqrt(high) + math.sqrt(low))) ** 2
    return {
        "GD": (lambda p: SGD([p], lr=1.0 / high), f"lr = 1/λ_max = {1.0 / high:.4g}"),
        "momentum": (lambda p: SGD([p], lr=polyak_lr, momentum=polyak_mu),
                     f"Polyak's lr = {polyak_lr:.4g}, μ = {polyak_mu:.4g} from λ_min, λ_max"),
        "Adam": (lambda p: Adam([p], lr=adam_lr), f"lr = {adam_lr:g}"),
        "L-BFGS": (lambda p: LBFGS([p], lr=1.0, history_size=10, line_search_fn="strong_wolfe"),
                   "strong-Wolfe line search, history 10"),
        "Newton": (lambda p: Newton([p], lr=1.0), "lr = 1, exact Hessian"),
    }


def _minimise(function, start, make, steps: int, tol: float, minimum: float) -> dict:
    """Run one method until f − f* < tol; iterations, evaluations and seconds (a gradient
    method steps on the loss it measured, so f is evaluated once per iteration)."""
    p = tensor(np.asarray(start, dtype=np.float64), requires_grad=True)
    optimizer = make(p)
    evaluations = 0

    def closure():
        nonlocal evaluations
        evaluations += 1
        optimizer.zero_grad()
        loss = function(p)
        if isinstance(optimizer, LBFGS):
            loss.backward()
        return loss

    gaps, counts = [], []
    began = time.perf_counter()
    with np.errstate(all="ignore"):
        for k in range(steps + 1):
            loss = function(p)
            gap = loss.item() - minimum
            gaps.append(gap)
            counts.append(optimizer.state[p]["n_iter"] if isinstance(optimizer, LBFGS) and k
                          else k)
            if gap < tol or not math.isfinite(gap) or k == steps:
                break
            if optimizer.needs_closure:  # L-BFGS, Newton
                optimizer.step(closure)
            else:  # the gradient of the loss just measured: one evaluation
                evaluations += 1
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
    seconds = time.perf_counter() - began
    reached = gaps[-1] < tol
    return {"gaps": np.array(gaps), "counts": np.array(counts), "iterations": counts[-1],
            "evaluations": evaluations, "seconds": seconds, "reached": reached, "diverged": not math.isfinite(gaps[-1])}


def second_order(tol: float = 1e-8, steps: int = 20000, adam_lrs=(0.01, 0.03, 0.1, 0.3),
                 quick: bool = False) -> Lesson:
    """Newton, L-BFGS, GD, momentum and Adam on an ill-conditioned quadratic and Rosenbrock."""
    if quick:
        steps = 2000
    with timed() as clock:
        problems, rows = {}, []
        for key in ("rotated_quadratic", "rosenbrock"):
            function = FUNCTIONS[key]
            eigenvalues = np.linalg.eigvalsh(_hessian_at(function, function.optimum))
            at_start = np.linalg.eigvalsh(_hessian_at(function, function.start))
            condition = float(eigenvalues.max() / eigenvalues.min())
            low, high = float(eigenvalues.min()), float(max(eigenvalues.max(), at_start.max()))
            adam = {lr: _minimise(function, function.start, lambda p, lr=lr: Adam([p], lr=lr),
                                  steps, tol, function.minimum) for lr in adam_lrs}
            best_adam = min(adam, key=lambda lr: (not adam[lr]["reached"],
                                                  adam[lr]["iterations"] or steps,
                                                  adam[lr]["gaps"][-1]))
            runs = {}
            for name, (make, rule) in _methods(low, high, best_adam).items():
                run = (adam[best_adam] if name == "Adam" else
                       _minimise(function, function.start, make, steps, tol, function.minimum))
                run["rule"] = rule
                runs[name] = run
                rows.append([function.title, name, rule,
                             run["iterations"] if run["reached"] else
                             "diverged" if run["diverged"] else f"> {steps}",
                             run["evaluations"], run["seconds"], run["gaps"][-1]])
            problems[key] = {"title": function.title, "eigenvalues": eigenvalues,
                             "start_eigenvalues": at_start,
                             "condition": condition, "runs": runs, "adam_lrs": list(adam_lrs)}
    findings = []
    for problem in problems.values():
        ranked = sorted(problem["runs"].items(),
                        key=lambda kv: kv[1]["iterations"] if kv[1]["reached"] else math.inf)
        parts = [f"{name} {run['iterations']} iteration{'s' * (run['iterations'] != 1)} "
                 f"({1000 * run['seconds']:.3g} ms)"
                 if run["reached"] else f"{name} diverged" if run["diverged"] else
                 f"{name} not within {steps} iterations" for name, run in ranked]
        findings.append(
            f"{problem['title']}: the Hessian at the minimum has eigenvalues "
            f"{problem['eigenvalues'].min():.4g} and {problem['eigenvalues'].max():.4g}, "
            f"condition number κ = {problem['condition']:.4g} (largest curvature at the start "
            f"{problem['start_eigenvalues'].max():.4g}). To f − f* < {tol:g}: "
            + ", ".join(parts) + ".")
    table = Table(f"Iterations to f − f* < {tol:g} from the same start",
                  ["problem", "method", "settings", "iterations", "gradient evaluations",
                   "seconds", "final f − f*"], rows, digits=4)
    return Lesson(
        name="second_order", title="Second-order methods: what gradient descent approximates",
        course=["Gradient descent uses only the slope; the curvature decides how far a step may "
                "go. Newton's method divides the slope by the curvature and solves a quadratic "
                "in one step."],
        tables=[table], findings=findings,
        data={key: {"title": p["title"], "eigenvalues": p["eigenvalues"],
                    "condition": p["condition"],
                    "runs": {name: {"gaps": run["gaps"], "counts": run["counts"],
                                    "iterations": run["iterations"],
                                    "seconds": run["seconds"], "rule": run["rule"]}
                             for name, run in p["runs"].items()}}
              for key, p in problems.items()},
        params={"tol": tol, "steps": steps, "adam_lrs": list(adam_lrs), "quick": quick},
        seconds=clock.seconds)
