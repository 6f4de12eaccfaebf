"""What every lesson returns: numbers, tables and findings, never a plot.

A lesson is a function that runs the engine on one topic of the course and returns a
:class:`Lesson`: the course's claim (``course``), the measured tables, the findings written
from the measured numbers, and ``data`` (every array and number a plot or a test needs).
``steepest.report`` renders a Lesson; lessons never import the report.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Table", "Lesson", "to_jsonable", "timed", "descend"]


@dataclass
class Table:
    """A measured table: column headers and rows of numbers or short strings."""

    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    digits: int = 6  #: significant digits to show floats with


    def to_dict(self) -> dict:
        return {"title": self.title, "columns": list(self.columns),
                "rows": to_jsonable(self.rows), "note": self.note, "digits": self.digits}


@dataclass
class Lesson:
    """The outcome of one lesson.

    name : the lesson's id (``gradient_descent``...), also its section id on the page.
    title : a heading.
    course : what the course material says on the topic (sentences, paraphrased or quoted).
    tables : the measured tables.
    findings : sentences computed from the numbers (each states a measured figure).
    data : every number and array behind the tables and plots, by name.
    params : the parameters the lesson ran with.
    seconds : how long the lesson took.
    """

    name: str
    title: str
    course: list[str]
    tables: list[Table]
    findings: list[str]
    data: dict[str, Any]
    params: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def table(self, title_start: str) -> Table:
        """The first table whose title starts with ``title_start``."""
        for table in self.tables:
            if table.title.startswith(title_start):
                return table
        raise KeyError(f"{self.name}: no table titled {title_start!r}...; tables: "
                       f"{[t.title for t in self.tables]}")

    def to_dict(self) -> dict:
        """Everything as JSON-serialisable values (arrays as lists, non-finite as strings)."""
        return {"name": self.name, "title": self.title, "seconds": round(self.seconds, 3),
                "params": to_jsonable(self.params), "course": list(self.course),
                "findings": list(self.findings),
                "tables": [t.to_dict() for t in self.tables], "data": to_jsonable(self.data)}


def to_jsonable(value):
    """Convert arrays, NumPy scalars, tuples and dicts to plain JSON values.

    NaN and infinities (a diverging run) become the strings 'nan', 'inf' and '-inf', so the
    result passes ``json.dumps(..., allow_nan=False)``.
    """
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        if math.isfinite(value):
            return value
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if value is None or isinstance(value, str):
        return value
    raise TypeError(f"to_jsonable: cannot convert {type(value).__name__} {value!r}")


class timed:
    """Context manager measuring wall time in ``.seconds``."""

    def __enter__(self):
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self._start
        return False


def descend(loss_fn, optimizer, steps: int):
    """The lessons' descent loop: yield ``(k, loss)`` for k = 0, 1, ..., ``steps``.

    Each ``loss = loss_fn()`` is yielded with its gradients computed (``backward`` done),
    before the optimizer's k-th step, so the caller reads the parameters and gradients at
    iterate k; the step is then taken (none after the last). The loop ends after the first
    non-finite loss, or when the caller breaks. Overflow warnings are the caller's to silence
    (``np.errstate``): a diverging run is often the lesson's point.
    """
    for k in range(steps + 1):
        optimizer.zero_grad()
        loss = loss_fn()
        loss.backward()
        yield k, loss
        if k == steps or not math.isfinite(loss.item()):
            return
        optimizer.step()
