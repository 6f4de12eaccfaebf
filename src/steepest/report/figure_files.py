"""What every lesson figure shares: the record the page gets (:class:`FigureFile`), saving a
lesson's PNG with its legends moved off the data, and the sizes the page needs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg

from steepest.report.style import save

__all__ = ["FigureFile", "READABLE_PX", "DPI", "readable_width", "png_size", "legend",
           "nan_for_infinite",
           "settle_legends", "save_lesson_figure", "sized"]


@dataclass
class FigureFile:
    """A PNG written for the page: its file name (inside the image folder), caption, size in
    pixels (0 where unknown), and the narrowest width in pixels at which its smallest text
    stays readable (0: any; the page then lets it grow past the text column up to the window,
    and scroll sideways in a narrower window, rather than shrink it further)."""

    file: str
    caption: str
    width: int = 0
    height: int = 0
    min_width: int = 0


#: the smallest text on the page, in CSS pixels
READABLE_PX = 9.0
DPI = 100  # what style.save writes


def readable_width(path: Path, smallest_points: float) -> int:
    """The narrowest display width (pixels, with the 1 px border) at which text of
    ``smallest_points`` in the PNG at ``path`` is :data:`READABLE_PX` high."""
    natural = png_size(path)[0]
    return math.ceil(natural * READABLE_PX / (smallest_points / 72 * DPI)) + 2


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header."""
    with open(path, "rb") as fh:
        header = fh.read(24)
    return int.from_bytes(header[16:20], "big"), int.from_bytes(header[20:24], "big")


_INSIDE = ("upper right", "upper left", "lower left", "lower right", "center right",
           "center left", "upper center", "lower center", "center")


def _plotted_points(ax) -> np.ndarray:
    """The pixels of every plotted point of ``ax``: line vertices, points along each drawn
    segment, scatter offsets (reference lines such as axhline are not data)."""
    points = []
    for line in ax.get_lines():
        if not line.get_visible() or line.get_transform() != ax.transData:
            continue
        xy = np.column_stack([np.asarray(line.get_xdata(), float),
                              np.asarray(line.get_ydata(), float)])
        pixels = ax.transData.transform(xy[np.all(np.isfinite(xy), axis=1)])
        if line.get_linestyle() not in ("None", "", " ") and len(pixels) > 1:
            along = np.linspace(0.0, 1.0, 12)[:, None, None]
            pixels = (pixels[:-1] + along * (pixels[1:] - pixels[:-1])).reshape(-1, 2)
        points.append(pixels)
    for collection in ax.collections:
        offsets = np.asarray(collection.get_offsets(), float)
        if offsets.size and collection.get_transform() == ax.transData:
            points.append(ax.transData.transform(offsets))
    return np.concatenate(points) if points else np.zeros((0, 2))


def _hides_data(points: np.ndarray, legend, renderer) -> bool:
    """Whether the legend's box covers any of ``points`` (pixels, from _plotted_points)."""
    box = legend.get_window_extent(renderer)
    return bool(np.any((points[:, 0] > box.x0) & (points[:, 0] < box.x1)
                       & (points[:, 1] > box.y0) & (points[:, 1] < box.y1)))


def legend(ax, **kwargs):
    """``ax.legend(**kwargs)``, moved where it hides no plotted point when the figure is saved
    (see :func:`settle_legends`)."""
    kwargs.setdefault("loc", "best")
    ax._steepest_legend = {k: v for k, v in kwargs.items() if k != "loc"}
    return ax.legend(**kwargs)


def settle_legends(fig, rounds: int = 3) -> None:
    """Put each legend made by :func:`legend` where it hides no plotted point: matplotlib's
    "best" place if free, else the first free corner or side of its axes, else outside, right
    of the axes.

    Moving a legend outside changes the layout of the others (constrained layout), so this
    repeats, drawing once per round, until no legend moves.
    """
    if all(getattr(ax, "_steepest_legend", None) is None for ax in fig.axes):
        return  # no legend of ours: nothing to move, and no draw to pay for
    renderer = FigureCanvasAgg(fig).get_renderer()
    for _ in range(rounds):
        fig.draw(renderer)
        moved = False
        for ax in fig.axes:
            kwargs = getattr(ax, "_steepest_legend", None)
            legend = ax.get_legend()
            if kwargs is None or legend is None:
                continue
            points = _plotted_points(ax)  # the legend moves below, the data does not
            if not _hides_data(points, legend, renderer):
                continue
            moved = True
            for loc in _INSIDE:
                legend.set_loc(loc)
                if not _hides_data(points, legend, renderer):
                    break
            else:
                ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0,
                          **kwargs)
        if not moved:
            return


def save_lesson_figure(fig, img_dir: Path, lesson, stem: str) -> str:
    """Write ``fig`` as ``<lesson>-<stem>.png`` in ``img_dir``; return the file name."""
    name = f"{lesson.name}-{stem}.png"
    settle_legends(fig)
    save(fig, Path(img_dir) / name)
    return name


def sized(figures: list, img_dir) -> list:
    """The records with each PNG's pixel size filled in (the page's width/height attributes,
    so it does not jump while images load)."""
    for record in figures:
        record.width, record.height = png_size(Path(img_dir) / record.file)
    return figures


def nan_for_infinite(values) -> np.ndarray:
    """``values`` as floats with every non-finite entry (a diverged run) set to NaN, which
    matplotlib leaves out of a line instead of stretching the axis to infinity."""
    values = np.asarray(values, dtype=float)
    return np.where(np.isfinite(values), values, np.nan)
