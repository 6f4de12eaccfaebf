"""Render the lessons: figures (matplotlib, headless) and one HTML page, via ``run_tour``.

``steepest tour`` on the command line calls :func:`run_tour`. The lessons
(:mod:`steepest.lessons`) compute; this package only draws what they return.
In a notebook, :func:`show_table` and :func:`show_figures` display a lesson inline.
"""

from steepest.report.figures import FIGURES, FigureFile, render_figures
from steepest.report.notebook import show_figures, show_table, table_markdown
from steepest.report.page import format_value, render_page
from steepest.report.tour import MARKER, run_tour

__all__ = ["run_tour", "render_figures", "render_page", "format_value", "FigureFile",
           "FIGURES", "MARKER", "show_figures", "show_table", "table_markdown"]
