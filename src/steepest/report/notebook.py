"""Show a lesson's tables and figures inline in a Jupyter notebook.

The notebooks call these instead of each defining its own copy::

    from steepest.report import show_figures, show_table
    lesson = lessons.gradient_descent()
    show_table(lesson.table("Iterations"))
    show_figures(lesson)

IPython is imported only when something is shown, so steepest does not depend on it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from steepest.report.figures import render_figures
from steepest.report.page import format_value

__all__ = ["show_figures", "show_table", "table_markdown"]


def table_markdown(table, max_digits: int = 8) -> str:
    """A lesson's :class:`~steepest.lessons.Table` as a Markdown table (title, rows, note).

    Floats are shown as on the tour's page, with at most ``max_digits`` significant digits.
    """
    def cell(value) -> str:
        text, _ = format_value(value, min(table.digits, max_digits))
        return text.replace("|", "\\|")

    lines = [f"**{table.title}**", "", "| " + " | ".join(map(cell, table.columns)) + " |",
             "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"*{table.note}*"]
    return "\n".join(lines)


def show_table(table, max_digits: int = 8) -> None:
    """Display a lesson's table in the notebook (as Markdown)."""
    from IPython.display import Markdown, display

    display(Markdown(table_markdown(table, max_digits)))


def show_figures(lesson) -> None:
    """Draw the lesson's figures (those of the tour's page) in the notebook, with captions."""
    from IPython.display import Image, Markdown, display

    with tempfile.TemporaryDirectory() as folder:
        for figure in render_figures(lesson, folder):
            display(Image(filename=str(Path(folder) / figure.file)),
                    Markdown(f"*{figure.caption}*"))
