"""Render the lessons: figures (matplotlib, headless) and one HTML page, via ``run_tour``.

``steepest tour`` on the command line calls :func:`run_tour`. The lessons
(:mod:`steepest.lessons`) compute; this package only draws what they return.
"""

from steepest.report.figures import FIGURES, FigureFile, render_figures
from steepest.report.page import format_value, render_page
from steepest.report.tour import MARKER, run_tour

__all__ = ["run_tour", "render_figures", "render_page", "format_value", "FigureFile",
           "FIGURES", "MARKER"]
