"""The course's lessons, run on the engine: each returns numbers, tables and findings.

Each lesson is a function of its parameters returning a :class:`~steepest.lessons.Lesson`;
``LESSONS`` lists them in the course's order. Lessons compute, they never plot:
``steepest.report`` turns a Lesson into figures and a page (``steepest tour``).

>>> from steepest.lessons import run_lesson
>>> lesson = run_lesson("backpropagation")
>>> round(lesson.data["dE_dw2"], 6)
0.05707
"""

from __future__ import annotations

import inspect

from steepest.lessons._base import Lesson, Table, to_jsonable
from steepest.lessons.activations import activations
from steepest.lessons.backpropagation import backpropagation
from steepest.lessons.curvature import (
    critical_rate, edge_of_stability, loss_landscape, second_order,
)
from steepest.lessons.gradient_descent import gradient_descent
from steepest.lessons.notebook_exercise import notebook_exercise
from steepest.lessons.optimizers import optimizers
from steepest.lessons.vanishing_gradient import vanishing_gradient

__all__ = ["Lesson", "Table", "LESSONS", "LESSON_NAMES", "run_lesson", "to_jsonable",
           "gradient_descent", "notebook_exercise", "backpropagation", "vanishing_gradient",
           "activations", "optimizers", "critical_rate", "edge_of_stability", "loss_landscape",
           "second_order"]

#: Lesson name -> function, in the course's order.
LESSONS = {
    "gradient_descent": gradient_descent,
    "notebook_exercise": notebook_exercise,
    "backpropagation": backpropagation,
    "vanishing_gradient": vanishing_gradient,
    "activations": activations,
    "optimizers": optimizers,
    "critical_rate": critical_rate,
    "edge_of_stability": edge_of_stability,
    "loss_landscape": loss_landscape,
    "second_order": second_order,
}

LESSON_NAMES = tuple(LESSONS)


def run_lesson(name: str, quick: bool = False, **params) -> Lesson:
    """Run the named lesson with its default parameters (or those given). ``quick``: the small
    sizes of the lessons that have them (the curvature lessons), for tests and a fast tour."""
    if name not in LESSONS:
        raise ValueError(f"unknown lesson {name!r}; valid names: {', '.join(LESSON_NAMES)}")
    if quick and "quick" in inspect.signature(LESSONS[name]).parameters:
        params["quick"] = True
    return LESSONS[name](**params)
