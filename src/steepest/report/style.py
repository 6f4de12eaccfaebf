"""One look for every figure: fonts, sizes, grids, and a fixed colour per optimizer/activation.

Figures are made with ``matplotlib.figure.Figure`` directly and saved as PNG through the Agg
renderer: no pyplot, no backend switch (a notebook's inline backend is left alone), no display
needed.
"""

from __future__ import annotations

from contextlib import contextmanager

import matplotlib
import numpy as np
from matplotlib import rc_context
from matplotlib.cm import ScalarMappable
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

__all__ = ["RC", "OPTIMIZER_COLORS", "ACTIVATION_COLORS", "CLASS_COLORS", "new_figure",
           "style", "save", "qualitative", "depth_colors", "depth_colorbar"]

RC = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.titleweight": "bold",
    "axes.labelsize": 11,
    "legend.fontsize": 9.5,
    "legend.framealpha": 0.9,
    "xtick.labelsize": 10,
    "ytick.labelsize": 10,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.titlesize": 13,
    "figure.titleweight": "bold",
    "lines.linewidth": 2.0,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
}

#: One colour per optimizer, the same in every figure.
OPTIMIZER_COLORS = {
    "GD": "#1f77b4",            # blue
    "SGD+momentum": "#ff7f0e",  # orange
    "RMSprop": "#2ca02c",       # green
    "Adam": "#d62728",          # red
}

#: One colour per activation, the same in every figure.
ACTIVATION_COLORS = {
    "sigmoid": "#d62728",       # red: the one that vanishes
    "tanh": "#9467bd",          # purple
    "relu": "#2ca02c",          # green
    "softmax": "#8c564b",       # brown
    "binary_step": "#7f7f7f",   # grey
    "linear": "#17becf",        # cyan
    "leaky_relu": "#bcbd22",    # olive
}

#: One colour per learning-rate class of lesson 1.
CLASS_COLORS = {
    "slow": "#1f77b4",
    "well chosen": "#2ca02c",
    "overshooting": "#ff7f0e",
    "divergent": "#d62728",
}


def qualitative(n: int):
    """n clearly different colours (tab10, then tab20) for series such as learning rates."""
    cmap = matplotlib.colormaps["tab10" if n <= 10 else "tab20"]
    return [cmap(i) for i in range(n)]


def depth_colors(n: int):
    """n colours for layers 1..n, ordered by depth along one sequential colormap (viridis:
    dark purple next to the input, yellow-green at the output). Unlike a qualitative cycle
    they never repeat however deep the network, and neighbouring layers look alike."""
    cmap = matplotlib.colormaps["viridis"]
    return [cmap(0.92 * i / (n - 1) if n > 1 else 0.0) for i in range(n)]


def depth_colorbar(fig, ax, n: int):
    """A colour bar beside ``ax`` for :func:`depth_colors` (n), its ends labelled
    "layer 1 (input)" and "layer n (output)"; a legend of n entries would not say the order."""
    norm = BoundaryNorm(np.arange(0.5, n + 1.5), n)
    bar = fig.colorbar(ScalarMappable(norm=norm, cmap=ListedColormap(depth_colors(n))),
                       ax=ax, ticks=[1, n] if n > 1 else [1], fraction=0.05, pad=0.02)
    bar.set_ticklabels(["layer 1\n(input)", f"layer {n}\n(output)"] if n > 1
                       else ["layer 1"])
    bar.set_label("layer (depth)")
    return bar


@contextmanager
def style():
    """The report's rcParams, for the duration of the block."""
    with rc_context(RC):
        yield


def new_figure(width: float = 11.0, height: float = 4.2, ncols: int = 1, nrows: int = 1,
               **subplot_kw):
    """A Figure with a grid of axes, laid out with constrained layout."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **subplot_kw)
    return fig, axes


def save(fig, path, dpi: int = 100) -> None:
    """Write ``fig`` as a PNG."""
    fig.savefig(path, dpi=dpi, format="png")
