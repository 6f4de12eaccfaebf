"""Optimizer paths on 2-D test functions (Distill's "Why Momentum Really Works" view).

Each optimizer starts at the clicked point and runs steepest's own (torch-exact) update on a
two-element parameter; the page draws the paths on the function's contour plot at once.
"""

from __future__ import annotations

import math

import numpy as np

import steepest as st
from steepest.nn import Parameter
from steepest.playground.config import DEFAULTS, ConfigError, validate_optimizer
from steepest.playground.session import build_optimizer, encode_unit, label_of

__all__ = [
    "check_request", "run_paths", "contour", "CONTOUR_GRID", "MAX_STEPS", "ESCAPE",
    "FUNCTIONS", "DEFAULT_RACERS",
]

CONTOUR_GRID = 64
MAX_STEPS = 1000
ESCAPE = 1e6


def _quadratic(x, y):
    """f = ½(x² + 20 y²): condition number 20, a long narrow valley."""
    return 0.5 * x * x + 10.0 * y * y


def _rosenbrock(x, y):
    """f = (1 − x)² + 100 (y − x²)²: a curved valley, minimum at (1, 1)."""
    return (1.0 - x) ** 2 + 100.0 * (y - x * x) ** 2


def _saddle(x, y):
    """f = x² − y² + y⁴/4: a saddle at the origin, minima at (0, ±√2)."""
    return x * x - y * y + 0.25 * y ** 4


FUNCTIONS = {
    # name: (function, bounds (x0, x1, y0, y1), default start, minimum value, default lrs)
    "quadratic": (_quadratic, (-4.0, 4.0, -3.0, 3.0), (-3.5, 2.0), 0.0,
                  {"gd": 0.09, "sgd": 0.02, "rmsprop": 0.05, "adam": 0.2, "adamw": 0.2, "adagrad": 1.0}),
    "rosenbrock": (_rosenbrock, (-2.0, 2.0, -1.0, 3.0), (-1.5, 2.5), 0.0,
                   {"gd": 0.001, "sgd": 0.0005, "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05, "adagrad": 0.5}),
    "saddle": (_saddle, (-2.5, 2.5, -2.5, 2.5), (-2.0, 0.01), -1.0,
               {"gd": 0.05, "sgd": 0.02, "rmsprop": 0.02, "adam": 0.05, "adamw": 0.05, "adagrad": 0.3}),
}

DEFAULT_RACERS = [{"optimizer": "gd"}, {"optimizer": "sgd", "momentum": 0.9},
                  {"optimizer": "rmsprop"}, {"optimizer": "adam"}]


def check_request(fields: dict) -> dict:
    """Validate a ``paths`` message's fields; returns keyword arguments for :func:`run_paths`."""
    allowed = {"function", "start", "steps", "optimizers"}
    if set(fields) - allowed:
        raise ConfigError(f"paths: unknown field(s) {sorted(set(fields) - allowed)}; expected "
                          f"some of {sorted(allowed)}")
    name = fields.get("function", "quadratic")
    if not isinstance(name, str) or name not in FUNCTIONS:
        raise ConfigError(f"paths: unknown function {name!r}; expected one of {', '.join(FUNCTIONS)}")
    x0, x1, y0, y1 = FUNCTIONS[name][1]
    start = fields.get("start", list(FUNCTIONS[name][2]))
    ok = isinstance(start, list) and len(start) == 2 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in start)
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
        cfg = {**{k: DEFAULTS[k] for k in ("momentum", "nesterov", "beta1", "beta2", "alpha",
                                           "weight_decay")},
               "optimizer": entry.get("optimizer"), "lr": None, **entry}
        if isinstance(cfg["optimizer"], str) and cfg["optimizer"] in FUNCTIONS[name][4] \
                and cfg["lr"] is None:
            cfg["lr"] = FUNCTIONS[name][4][cfg["optimizer"]]
        try:
            validate_optimizer(cfg)
        except ConfigError as exc:
            raise ConfigError(f"paths: optimizers[{i}]: {exc}") from None
        checked.append(cfg)
    return {"function": name, "start": [float(v) for v in start], "steps": steps,
            "optimizers": checked}


def run_paths(function: str, start, steps: int, optimizers: list) -> dict:
    """Every optimizer's path from ``start``: positions after 0..steps updates."""
    f, bounds, _, f_min, _ = FUNCTIONS[function]
    results = []
    for cfg in optimizers:
        xy = Parameter(np.array(start, dtype=np.float64))
        opt = build_optimizer(cfg, [xy])
        path = [xy._data.tolist()]
        escaped = False
        for _ in range(steps):
            opt.zero_grad()
            value = f(xy[0], xy[1])
            value.backward()
            opt.step()
            if not np.all(np.isfinite(xy._data)) or np.abs(xy._data).max() > ESCAPE:
                escaped = True
                break
            path.append(xy._data.tolist())
        with st.no_grad():
            final = float(f(xy[0], xy[1]).item()) if not escaped else None
        results.append({"name": label_of(cfg), "config": cfg, "path": path,
                        "final_value": final, "escaped": escaped})
    return {"type": "paths", "function": function, "bounds": list(bounds), "start": list(start),
            "f_min": f_min, "contour": contour(function), "size": CONTOUR_GRID, "runs": results}


def contour(function: str) -> str:
    """log(1 + f − f_min) on a grid over the bounds, scaled to [-1, 1] and encoded."""
    f, (x0, x1, y0, y1), _, f_min, _ = FUNCTIONS[function]
    xs = np.linspace(x0, x1, CONTOUR_GRID)
    ys = np.linspace(y1, y0, CONTOUR_GRID)
    X, Y = np.meshgrid(xs, ys)
    values = np.log1p(np.maximum(f(X, Y) - f_min, 0.0))
    return encode_unit(values / values.max() * 2 - 1)
