"""Optimizer paths on 2-D test functions (Distill's "Why Momentum Really Works" view).

Each optimizer starts at the clicked point and runs steepest's own (torch-exact) update on a
two-element parameter; the page draws the paths on the function's contour plot at once.
"""

from __future__ import annotations

import math

import numpy as np

from steepest.optim import catalogue, functions
from steepest.playground.config import (ConfigError, is_finite_number, optimizer_options,
                                        validate_optimizer)
from steepest.playground.session import label_of

__all__ = [
    "check_request", "run_paths", "contour", "CONTOUR_GRID", "MAX_STEPS", "ESCAPE",
    "FUNCTIONS", "DEFAULT_RACERS", "DEFAULT_LRS", "default_lr", "NOTES",
]

CONTOUR_GRID = 96
MAX_STEPS = 1000
ESCAPE = 1e6


#: the playground's landscapes (steepest.optim.functions) and each optimizer's default lr there.
#: L-BFGS and Newton keep lr 1: the full quasi-Newton / Newton step. Newton then lands on the
#: quadratic's minimum in one step, reaches Rosenbrock's (1, 1) in five (the second overshoots
#: below the plot), and jumps onto the saddle point in one step: its step solves ∇f = 0, and
#: the saddle is where ∇f = 0 (damping > 2, minus the smallest curvature there, escapes it).
DEFAULT_LRS = {
    "quadratic": {"gd": 0.09, "sgd": 0.02, "momentum": 0.02, "nesterov": 0.02, "rmsprop": 0.05,
                  "adam": 0.2, "adamw": 0.2, "adagrad": 1.0, "lbfgs": 1.0, "newton": 1.0},
    "rosenbrock": {"gd": 0.001, "sgd": 0.0005, "momentum": 0.0005, "nesterov": 0.0005,
                   "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05, "adagrad": 0.5, "lbfgs": 1.0,
                   "newton": 1.0},
    "saddle": {"gd": 0.05, "sgd": 0.02, "momentum": 0.02, "nesterov": 0.02, "rmsprop": 0.02,
               "adam": 0.05, "adamw": 0.05, "adagrad": 0.3, "lbfgs": 1.0, "newton": 1.0},
}
FUNCTIONS = {name: functions.FUNCTIONS[name] for name in DEFAULT_LRS}

DEFAULT_RACERS = [{"optimizer": "gd"}, {"optimizer": "sgd", "momentum": 0.9},
                  {"optimizer": "rmsprop"}, {"optimizer": "adam"}]


def default_lr(function: str, optimizer: str) -> float:
    """The lr a racer gets on ``function`` when none is given (the catalogue's otherwise)."""
    return DEFAULT_LRS[function].get(optimizer, catalogue.OPTIMIZERS[optimizer].default_lr)


def check_request(fields: dict) -> dict:
    """Validate a ``paths`` message's fields; returns keyword arguments for :func:`run_paths`."""
    allowed = {"function", "start", "steps", "optimizers"}
    if set(fields) - allowed:
        raise ConfigError(f"paths: unknown field(s) {sorted(set(fields) - allowed)}; expected "
                          f"some of {sorted(allowed)}")
    name = fields.get("function", "quadratic")
    if not isinstance(name, str) or name not in FUNCTIONS:
        raise ConfigError(f"paths: unknown function {name!r}; expected one of {', '.join(FUNCTIONS)}")
    (x0, x1), (y0, y1) = FUNCTIONS[name].box
    start = fields.get("start", list(FUNCTIONS[name].start))
    ok = isinstance(start, list) and len(start) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and is_finite_number(v) for v in start)
    if not ok or not (x0 <= start[0] <= x1 and y0 <= start[1] <= y1):
        raise ConfigError(f"paths: start must be [x, y] inside x in [{x0}, {x1}], y in "
                          f"[{y0}, {y1}], got {start!r}")
    steps = fields.get("steps", 200)
    if isinstance(steps, bool) or not isinstance(steps, int) or not 1 <= steps <= MAX_STEPS:
        raise ConfigError(f"paths: steps must be a whole number in 1..{MAX_STEPS}, got {steps!r}")
    racers = fields.get("optimizers", DEFAULT_RACERS)
    if not isinstance(racers, list) or not 1 <= len(racers) <= 4:
        raise ConfigError("paths: optimizers must be a list of 1 to 4 optimizer settings")
    checked = []
    for i, entry in enumerate(racers):
        if not isinstance(entry, dict):
            raise ConfigError(f"paths: optimizers[{i}] must be an object, got {entry!r}")
        cfg = {"optimizer": entry.get("optimizer"), "lr": None, **entry}
        if isinstance(cfg["optimizer"], str) and cfg["optimizer"] in catalogue.OPTIMIZERS \
                and cfg["lr"] is None:
            cfg["lr"] = default_lr(name, cfg["optimizer"])
        try:
            validate_optimizer(cfg, "paths")
        except ConfigError as exc:
            raise ConfigError(f"paths: optimizers[{i}]: {exc}") from None
        checked.append(cfg)
    return {"function": name, "start": [float(v) for v in start], "steps": steps,
            "optimizers": checked}


def run_paths(function: str, start, steps: int, optimizers: list) -> dict:
    """Every optimizer's path from ``start``: positions after 0..steps updates."""
    landscape = FUNCTIONS[function]
    (x0, x1), (y0, y1) = landscape.box
    results = []
    for cfg in optimizers:
        path = functions.run_path(landscape, start, cfg["optimizer"], steps, escape=ESCAPE,
                                  **optimizer_options(cfg))
        final = None if path.escaped or not math.isfinite(path.values[-1]) \
            else float(path.values[-1])
        results.append({"name": label_of(cfg), "config": cfg, "path": path.points.tolist(),
                        "final_value": final, "escaped": path.escaped})
    return {"type": "paths", "function": function, "bounds": [x0, x1, y0, y1],
            "start": list(start), "f_min": landscape.minimum, "optimum": list(landscape.optimum),
            "contour": contour(function), "size": CONTOUR_GRID, "runs": results,
            "title": landscape.title, "note": NOTES[function]}


def contour(function: str) -> list:
    """f − f_min on a CONTOUR_GRID² grid over the bounds, row-major from the top (y = y1), as
    rounded floats: the page draws log-spaced level lines through it with d3-contour."""
    landscape = FUNCTIONS[function]
    (x0, x1), (y0, y1) = landscape.box
    xs = np.linspace(x0, x1, CONTOUR_GRID)
    ys = np.linspace(y1, y0, CONTOUR_GRID)
    X, Y = np.meshgrid(xs, ys)
    values = np.maximum(landscape(np.stack([X, Y])) - landscape.minimum, 0.0)
    return [float(f"{v:.4g}") for v in values.ravel()]


#: why the default paths look as they do, in the course's words
NOTES = {
    "quadratic": "The valley is 20 times steeper across (y) than along (x): the Hessian's "
                 "eigenvalues are 20 and 1. GD must keep lr below 2/20 = 0.1 or it overshoots "
                 "across the valley, and at that lr it crawls along x; momentum carries speed "
                 "along the valley while the zigzag across it cancels out. Newton divides the "
                 "gradient by the exact curvature and lands on the minimum in one step at lr 1; "
                 "L-BFGS estimates that curvature from its last steps (each point of its path "
                 "is one step(closure) of 'iterations per step' inner iterations).",
    "rosenbrock": "GD at lr 0.001 zigzags: the curved valley's walls are about 1,000 times "
                  "steeper than its floor (Hessian eigenvalues near 1,000 and 0.4), so a step "
                  "small enough not to overshoot across the valley (lr < 2/1,000 = 0.002) "
                  "bounces from wall to wall and creeps along the floor toward (1, 1). Newton "
                  "rescales each step by the local curvature and gets there in five steps, one "
                  "of them far off the plot: its quadratic model holds only near the point.",
    "saddle": "At the origin the gradient vanishes but it is no minimum: f curves up along x "
              "and down along y. Started almost on the ridge (y = 0.01), GD lingers near the "
              "saddle until the tiny y grows; adaptive methods and momentum leave it sooner. "
              "Newton at lr 1 jumps onto the saddle in one step and stays: its step solves "
              "∇f = 0, and the saddle is such a point. Damping λ above 2 (the curvature along "
              "y is −2 there) makes H + λI positive definite, and Newton heads downhill.",
}
