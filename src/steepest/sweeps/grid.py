"""The configs of a sweep: a grid's cartesian product, explicit configs, learning-rate ranges."""

from __future__ import annotations

import itertools
import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from steepest.sweeps.records import config_key

__all__ = ["log_range", "parse_lr", "expand_grid"]


def log_range(low: float, high: float, count: int) -> list:
    """``count`` log-spaced numbers from ``low`` to ``high`` (both included), 10 digits each.

    Rounded to 10 significant digits so that the same range gives the same numbers (and so
    the same run keys for resuming) on every machine.
    """
    if not (isinstance(count, numbers.Integral) and not isinstance(count, bool) and count >= 1):
        raise ValueError(f"log_range: count must be a whole number >= 1, got {count!r}")
    for name, value in (("low", low), ("high", high)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"log_range: {name} must be a finite number > 0, got {value!r}")
    if count == 1 and low != high:
        raise ValueError(f"log_range: one value cannot span {low:g} to {high:g}; give a "
                         f"count >= 2 or equal ends")
    if low > high:
        raise ValueError(f"log_range: low ({low:g}) must not exceed high ({high:g})")
    values = np.logspace(math.log10(low), math.log10(high), int(count))
    return [float(f"{v:.10g}") for v in values]


def parse_lr(text: str) -> list:
    """Learning rates from text: ``'1e-3:1:13'`` (13 log-spaced from 1e-3 to 1),
    ``'0.01,0.1'`` (a list) or ``'0.1'``. Every rate must be a finite number > 0."""
    cleaned = text.strip()
    if ":" in cleaned:
        parts = cleaned.split(":")
        if len(parts) != 3:
            raise ValueError(f"a learning-rate range is LOW:HIGH:COUNT, e.g. 1e-3:1:13; got "
                             f"{text!r}")
        try:
            low, high = float(parts[0]), float(parts[1])
            count = int(parts[2])
        except ValueError:
            raise ValueError(f"a learning-rate range is LOW:HIGH:COUNT with numbers LOW, HIGH "
                             f"and a whole COUNT, e.g. 1e-3:1:13; got {text!r}") from None
        return log_range(low, high, count)
    rates = []
    for part in cleaned.split(","):
        try:
            rate = float(part)
        except ValueError:
            raise ValueError(f"expected learning rates such as 0.01,0.1 or a range such as "
                             f"1e-3:1:13, got {text!r}") from None
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"learning rates must be finite numbers > 0, got {part.strip()}")
        rates.append(rate)
    return rates


def expand_grid(grid=None, configs=None) -> list:
    """The configs of a sweep: the cartesian product of ``grid`` then the explicit ``configs``.

    ``grid`` maps each setting to a non-empty list of values (``{'lr': [0.01, 0.1],
    'seed': [0, 1]}``; a value that is itself a list, such as hidden sizes, goes inside a
    list: ``'hidden': [[16, 16]]``); the product runs with the last setting changing fastest.
    ``configs`` is a list of dicts added as they are. A config that appears twice is an error.
    """
    points = []
    if grid is not None:
        if not isinstance(grid, Mapping):
            raise ValueError(f"grid must map setting names to lists of values, got "
                             f"{type(grid).__name__}")
        names = list(grid)
        for name in names:
            values = grid[name]
            if not isinstance(name, str):
                raise ValueError(f"grid setting names must be strings, got {name!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(f"grid[{name!r}] must be a list of values, got {values!r} "
                                 f"(write [{values!r}] for a single value)")
            if len(values) == 0:
                raise ValueError(f"grid[{name!r}] is an empty list: a sweep over it has no runs")
        points += [dict(zip(names, combo)) for combo in
                   itertools.product(*(grid[name] for name in names))]
    for i, config in enumerate(configs or ()):
        if not isinstance(config, Mapping):
            raise ValueError(f"configs[{i}] must be a dict of settings, got {config!r}")
        points.append(dict(config))
    if not points:
        raise ValueError("the sweep has no runs: give a grid with values or explicit configs")
    seen = {}
    for i, config in enumerate(points):
        key = config_key(config)
        if key in seen:
            raise ValueError(f"config {config} appears twice in the sweep (runs {seen[key]} "
                             f"and {i}); each run must differ in some setting, e.g. the seed")
        seen[key] = i
    return points
