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

from steepest.lessons._base import Lesson, Table, to_jsonable
from steepest.lessons.activations import activations
from steepest.lessons.backpropagation import backpropagation
from steepest.lessons.gradient_descent import gradient_descent
from steepest.lessons.notebook_exercise import notebook_exercise
from steepest.lessons.optimizers import optimizers
from steepest.lessons.vanishing_gradient import vanishing_gradient

__all__ = ["Lesson", "Table", "LESSONS", "LESSON_NAMES", "run_lesson", "to_jsonable",
           "gradient_descent", "notebook_exercise", "backpropagation", "vanishing_gradient",
           "activations", "optimizers"]

#: Lesson name -> function, in the course's order.
LESSONS = {
    "gradient_descent": gradient_descent,
    "notebook_exercise": notebook_exercise,
    "backpropagation": backpropagation,
    "vanishing_gradient": vanishing_gradient,
    "activations": activations,
    "optimizers": optimizers,
}

LESSON_NAMES = tuple(LESSONS)


def run_lesson(name: str, **params) -> Lesson:
    """Run the named lesson with its default parameters (or those given)."""
    if name not in LESSONS:
        raise ValueError(f"unknown lesson {name!r}; valid names: {', '.join(LESSON_NAMES)}")
    return LESSONS[name](**params)
