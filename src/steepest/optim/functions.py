"""2-D test functions for optimizers, and one path runner for any catalogue optimizer.

Each function takes a point ``p`` with ``p[0] = x`` and ``p[1] = y``: a Tensor (then its
gradient comes from the engine's backward), or NumPy arrays stacked on the first axis (a
contour grid ``f(np.stack([X, Y]))``). The lessons and the playground draw the paths of
:func:`run_path` on these landscapes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from steepest.optim.catalogue import build_optimizer
from steepest.tensor import Tensor

__all__ = ["Function2D", "FUNCTIONS", "quadratic", "rosenbrock", "saddle", "value_and_grad",
           "run_path", "Path"]


def quadratic(p, condition: float = 20.0, angle_deg: float = 0.0):
    """f(p) = ½(u² + condition·v²), (u, v) = p rotated by ``angle_deg``; minimum 0 at (0, 0).

    The Hessian's eigenvalues are 1 and ``condition`` (its condition number), along axes
    turned by ``angle_deg`` from x and y.
    """
    c, s = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    x, y = p[0], p[1]
    u = c * x + s * y
    v = -s * x + c * y
    return 0.5 * (u * u + condition * (v * v))


def rosenbrock(p, a: float = 1.0, b: float = 100.0):
    """f(x, y) = (a − x)² + b(y − x²)²; minimum 0 at (a, a²), along a curved valley."""
    x, y = p[0], p[1]
    return (a - x) ** 2 + b * (y - x * x) ** 2


def saddle(p):
    """f(x, y) = x² − y² + y⁴/4: a saddle at the origin, minima −1 at (0, ±√2)."""
    x, y = p[0], p[1]
    return x * x - y * y + 0.25 * y ** 4


@dataclass(frozen=True)
class Function2D:
    """A landscape: the function, its plotting box, a start, a minimiser and the minimum."""

    name: str
    title: str
    f: Callable
    box: tuple        # ((x0, x1), (y0, y1))
    start: tuple
    optimum: tuple
    minimum: float

    def __call__(self, p):
        return self.f(p)


def _rotated(p):
    return quadratic(p, condition=20.0, angle_deg=36.87)


#: The landscapes the lessons and the playground use, by name.
FUNCTIONS: dict = {fn.name: fn for fn in (
    Function2D("quadratic", "Quadratic ½(x² + 20y²)", quadratic,
               ((-4.0, 4.0), (-3.0, 3.0)), (-3.5, 2.0), (0.0, 0.0), 0.0),
    Function2D("rotated_quadratic", "Ill-conditioned quadratic ½(u² + 20v²), rotated", _rotated,
               ((-5.0, 5.0), (-3.5, 3.5)), (-4.0, 2.0), (0.0, 0.0), 0.0),
    Function2D("rosenbrock", "Rosenbrock (1 − x)² + 100(y − x²)²", rosenbrock,
               ((-2.0, 2.0), (-1.0, 3.0)), (-1.5, 2.0), (1.0, 1.0), 0.0),
    Function2D("saddle", "Saddle x² − y² + y⁴/4", saddle,
               ((-2.5, 2.5), (-2.5, 2.5)), (-2.0, 0.01), (0.0, math.sqrt(2.0)), -1.0),
)}


def value_and_grad(function, point) -> tuple:
    """(f(point), ∇f(point)) with the gradient from the engine's backward (float64)."""
    p = Tensor(np.array(point, dtype=np.float64), requires_grad=True)
    value = function(p)
    value.backward()
    return value.item(), p._grad.copy()


class Path(NamedTuple):
    """The points an optimizer visited (``(k, 2)``), f at each, and whether it escaped."""

    points: np.ndarray
    values: np.ndarray
    escaped: bool


def run_path(function, start, optimizer: str, steps: int, *, escape: float | None = None,
             **values) -> Path:
    """Minimise ``function`` from ``start`` with the catalogue optimizer ``optimizer``.

    ``values`` are its hyperparameters (``lr=0.1, momentum=0.9``; unset: the catalogue's
    defaults). Returns the ``steps + 1`` points visited and f at each; fewer if f stops
    being finite (that last value is kept: it shows the blow-up) or, with ``escape``, when
    a coordinate leaves ``[-escape, escape]`` or stops being finite (that point is not kept,
    and ``escaped`` is True).
    """
    p = Tensor(np.array(start, dtype=np.float64), requires_grad=True)
    opt = build_optimizer(optimizer, [p], **values)
    points, found, escaped = [], [], False
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(steps + 1):
            opt.zero_grad()
            loss = function(p)
            points.append(p._data.copy())
            found.append(loss.item())
            if k == steps or not math.isfinite(found[-1]):
                break
            loss.backward()
            opt.step()
            if escape is not None and not np.all(np.abs(p._data) <= escape):
                escaped = True
                break
    return Path(np.array(points), np.array(found), escaped)
