"""Draw a captured graph with matplotlib: boxes in layers, inputs left, output right.

Each box shows the node's label (name and op), its shape when it is not a scalar, its
``data`` and its ``grad`` = ∂output/∂node (full values up to 16 elements, else mean and
|max|). Along scalar edges the local derivative ∂child/∂parent and its product with the
child's grad are written: the chain rule, one edge at a time. The figure is sized from its
contents (in inches) and drawn on a plain ``matplotlib.figure.Figure`` (no pyplot, works
headless with Agg and inline in notebooks).
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from steepest.viz.structure import GraphData
from steepest.viz.layout import MAX_NODES, collapse, layers, route
from steepest.viz.text import edge_text, fill_color, node_lines

__all__ = ["draw"]

FONT = "DejaVu Sans Mono"
FONT_SIZE = 9.0
EDGE_FONT_SIZE = 7.5
CHAR = 0.615 / 72  # width of one monospace character per point of font size, in inches
LINESPACING = 1.2  # matplotlib steps lines by linespacing × the font size
LINE = LINESPACING / 72  # height of one line per point of font size, in inches
PAD = 0.08
ROW_GAP = 0.25
MARGIN = 0.3
VIA_HEIGHT = 0.12  # the room an edge takes where it passes a column
#: Edge labels are written only up to this many edges (beyond, the picture gets crowded).
MAX_LABELLED_EDGES = 60

LEGEND = ("data: the forward value · grad: ∂output/∂node · blue: parameters (requires_grad "
          "leaves), grey: constants, orange: op results, purple: the output")
LEGEND_EDGES = " · on arrows: local ∂child/∂parent × the child's grad = what the parent receives"


def _box_size(lines) -> tuple[float, float]:
    width = max(len(line) for line in lines) * CHAR * FONT_SIZE + 2 * PAD
    return width, len(lines) * LINE * FONT_SIZE + 2 * PAD


def draw(graph: GraphData, path=None, ax=None, max_nodes: int = MAX_NODES, digits: int = 4,
         derivatives: bool | None = None, title: str | None = None) -> Figure:
    """Draw ``graph`` and return the matplotlib Figure; also save it when ``path`` is given.

    Parameters
    ----------
    path : file to write (the format from its suffix: .png, .svg, .pdf).
    ax : draw into this Axes (its figure is returned) instead of a new figure sized to fit.
    max_nodes : graphs with more nodes are drawn collapsed by op
        (:func:`~steepest.viz.layout.collapse`), with a note saying so.
    digits : significant digits of the numbers shown.
    derivatives : write local derivatives and products on scalar edges; by default when
        there are at most 60 edges.
    title : a title above the picture.
    """
    shown = collapse(graph) if len(graph.nodes) > max_nodes else graph
    layer_of = layers(shown)
    columns, paths = route(shown, layer_of)
    lines = {n.id: node_lines(n, digits) for n in shown.nodes}
    for edge in shown.edges:
        if edge.source == edge.target:
            lines[edge.source].append(f"+{edge.count} edges within")
    sizes = {i: _box_size(text) for i, text in lines.items()}
    sizes.update({key: (0.0, VIA_HEIGHT) for column in columns for key in column
                  if isinstance(key, tuple)})
    if derivatives is None:
        derivatives = len(shown.edges) <= MAX_LABELLED_EDGES
    labels = {}
    if derivatives:
        labels = {k: text for k, e in enumerate(shown.edges)
                  if (text := edge_text(e, digits)) is not None}
    longest_label = max((max(map(len, t.split("\n"))) for t in labels.values()), default=0)
    gap = max(0.7, longest_label * CHAR * EDGE_FONT_SIZE + 0.35)
    row_gap = ROW_GAP * (2 if labels else 1)

    # columns left to right; each column's boxes stacked top to bottom, centred vertically
    spans, x = [], MARGIN
    for column in columns:
        column_width = max(sizes[key][0] for key in column)
        spans.append((x, x + column_width))
        x += column_width + gap
    width = x - gap + MARGIN
    heights = [sum(sizes[key][1] for key in column) + row_gap * (len(column) - 1)
               for column in columns]
    footer = (2 + bool(shown.note)) * 0.2 + 0.1
    height = max(heights) + 2 * MARGIN + footer + (0.35 if title else 0.0)
    entry, exit_ = {}, {}  # where edges arrive at and leave each key
    for k, column in enumerate(columns):
        y = footer + MARGIN + (max(heights) + heights[k]) / 2
        centre_x = (spans[k][0] + spans[k][1]) / 2
        for key in column:
            w, h = sizes[key]
            y_mid = y - h / 2
            if isinstance(key, tuple):
                entry[key], exit_[key] = (spans[k][0], y_mid), (spans[k][1], y_mid)
            else:
                entry[key], exit_[key] = (centre_x - w / 2, y_mid), (centre_x + w / 2, y_mid)
            y -= h + row_gap

    if ax is None:
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0, 0, 1, 1))
    else:
        fig = ax.figure
        ax.set_aspect("equal")
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.axis("off")

    for node in shown.nodes:
        (left, y_mid), (right, _) = entry[node.id], exit_[node.id]
        h = sizes[node.id][1]
        ax.add_patch(FancyBboxPatch((left, y_mid - h / 2), right - left, h,
                                    boxstyle="round,pad=0.02", fc=fill_color(node, shown),
                                    ec="0.35", lw=1.0, zorder=2))
        top = y_mid + h / 2 - PAD
        text = lines[node.id]
        ax.text(left + PAD, top, text[0], ha="left", va="top", family=FONT,
                fontsize=FONT_SIZE, fontweight="bold", zorder=3)
        if len(text) > 1:
            ax.text(left + PAD, top - LINE * FONT_SIZE, "\n".join(text[1:]), ha="left",
                    va="top", family=FONT, fontsize=FONT_SIZE, linespacing=LINESPACING,
                    zorder=3)

    out_degree, in_degree = defaultdict(int), defaultdict(int)
    for edge in shown.edges:
        out_degree[edge.source] += 1
        in_degree[edge.target] += 1
    repeats = defaultdict(int)
    for k, (edge, keys) in enumerate(zip(shown.edges, paths)):
        if edge.source == edge.target:
            continue
        repeat = repeats[(edge.source, edge.target)]
        repeats[(edge.source, edge.target)] += 1
        if layer_of[edge.source] >= layer_of[edge.target]:  # a summary's loop back: an arc below
            (sx, sy), (tx, ty) = entry[edge.source], exit_[edge.target]
            start = ((sx + exit_[edge.source][0]) / 2, sy - sizes[edge.source][1] / 2)
            end = ((tx + entry[edge.target][0]) / 2, ty - sizes[edge.target][1] / 2)
            segments, rad = [(start, end)], 0.35
        else:
            points = [exit_[keys[0]]]
            for key in keys[1:-1]:
                points += [entry[key], exit_[key]]
            points.append(entry[keys[-1]])
            segments = list(zip(points, points[1:]))
            rad = 0.25 * repeat * (-1) ** repeat if len(segments) == 1 else 0.0
        for a, b in segments[:-1]:
            ax.plot([a[0], b[0]], [a[1], b[1]], color="0.3", lw=0.9, zorder=1)
        a, b = segments[-1]
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=10,
                                     connectionstyle=f"arc3,rad={rad}", color="0.3", lw=0.9,
                                     shrinkA=0, shrinkB=1, zorder=1))
        if edge.count > 1 or k in labels:
            text = f"×{edge.count}" if edge.count > 1 else labels[k]
            near_target = out_degree[edge.source] > in_degree[edge.target]
            (a, b), t = (segments[-1], 0.45) if near_target else (segments[0], 0.55)
            t += 0.15 * repeat
            ax.text(a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1]), text, ha="center",
                    va="center", fontsize=EDGE_FONT_SIZE, family=FONT, color="#a1282b",
                    bbox=dict(fc="white", ec="none", alpha=0.85, pad=0.5), zorder=4)

    notes = [LEGEND + (LEGEND_EDGES if labels else "")]
    if shown.note:
        notes.insert(0, shown.note)
    if title:
        ax.text(width / 2, height - MARGIN / 2, title, ha="center", va="top", fontsize=12,
                fontweight="bold")
    ax.text(MARGIN, 0.12, "\n".join(notes), ha="left", va="bottom", fontsize=8, color="0.25",
            wrap=True)
    if path is not None:
        fig.savefig(Path(path), dpi=100, facecolor="white")
    return fig

