"""Figures of a training run: depth-ordered colours, legends that cover nothing, diagnosis."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import to_rgba
from matplotlib.figure import Figure

import steepest as st
from steepest.data import make_moons
from steepest.report.training_plots import (
    plot_decision_boundary, plot_gradient_norms, plot_step_losses,
)


def _history(depth: int, epochs: int = 8) -> st.History:
    """Gradient norms that shrink by 10x per layer toward the input (a vanishing pattern)."""
    history = st.History()
    for epoch in range(epochs):
        logs = {"loss": 1.0 / (epoch + 1), "accuracy": 0.5 + 0.05 * epoch,
                "val_loss": 1.1 / (epoch + 1), "val_accuracy": 0.5 + 0.04 * epoch}
        for layer in range(depth):
            logs[f"grad_norm/{2 * layer}"] = 10.0 ** (layer - depth) * (1 + 0.1 * epoch)
        history.append(epoch, logs)
    return history


def _model(depth: int):
    st.manual_seed(0)
    return st.nn.mlp([4] + [5] * (depth - 1) + [3], activation="sigmoid")


def _drawn(figure: Figure) -> Figure:
    FigureCanvasAgg(figure).draw()
    return figure


def _points_in_display(figure: Figure) -> np.ndarray:
    """Every plotted line vertex and scatter point, in pixels."""
    points = []
    for ax in figure.axes:
        for line in ax.get_lines():
            xy = line.get_xydata()
            xy = xy[np.isfinite(xy).all(axis=1)]
            if len(xy):
                points.append(line.get_transform().transform(xy))
        for collection in ax.collections:
            offsets = np.asarray(collection.get_offsets())
            if offsets.ndim == 2 and len(offsets) and collection.get_offset_transform():
                points.append(collection.get_offset_transform().transform(offsets))
    return np.concatenate(points) if points else np.empty((0, 2))


def _legends(figure: Figure) -> list:
    return [legend for legend in figure.legends] + \
        [ax.get_legend() for ax in figure.axes if ax.get_legend() is not None]


def _assert_no_legend_covers_a_point(figure: Figure) -> None:
    points = _points_in_display(figure)
    assert len(points)
    for legend in _legends(figure):
        box = legend.get_window_extent()
        inside = ((points[:, 0] >= box.x0) & (points[:, 0] <= box.x1)
                  & (points[:, 1] >= box.y0) & (points[:, 1] <= box.y1))
        assert not inside.any(), f"{inside.sum()} points under the legend"


def test_many_layers_get_a_sequential_colour_map_by_depth_with_labelled_ends():
    """Issue 12 §4: with 11 layers the default colours repeat (layers 1 and 11 both blue)."""
    depth = 11
    figure = _drawn(plot_gradient_norms(_history(depth), _model(depth)))
    lines = figure.axes[0].get_lines()
    assert len(lines) == depth
    colours = [to_rgba(line.get_color()) for line in lines]
    assert len(set(colours)) == depth
    viridis = colormaps["viridis"]
    positions = []
    for colour in colours:  # where on viridis each colour sits
        grid = np.linspace(0, 1, 1001)
        distance = np.abs(viridis(grid) - np.array(colour)).sum(axis=1)
        assert distance.min() < 1e-2
        positions.append(grid[int(np.argmin(distance))])
    assert np.all(np.diff(positions) > 0)  # input (dark) -> output (light)
    bar = figure.axes[1]
    labels = [t.get_text() for t in bar.get_yticklabels()]
    assert labels == ["layer 1\n(input)", f"layer {depth}\n(output)"]
    assert not _legends(figure)


def test_few_layers_get_a_legend_beside_the_lines_naming_input_and_output():
    figure = _drawn(plot_gradient_norms(_history(3), _model(3)))
    (legend,) = _legends(figure)
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[0].endswith("(input)") and texts[-1].endswith("(output)")
    assert texts[0].startswith("layer 1: Linear(4→5)")
    _assert_no_legend_covers_a_point(figure)


def test_dead_layers_with_zero_gradients_stay_on_the_plot():
    history = _history(3)
    for key in ("grad_norm/0", "grad_norm/2"):
        history.history[key][4:] = [0.0] * 4
    figure = _drawn(plot_gradient_norms(history, _model(3)))
    ax = figure.axes[0]
    assert ax.get_yscale() == "symlog" and ax.get_ylim()[0] == 0


def test_history_and_step_loss_plots_keep_legends_off_the_lines():
    _assert_no_legend_covers_a_point(_drawn(_history(3).plot()))
    losses = [0.7, 0.69, 3.0, 60.0, np.inf]
    figure = _drawn(plot_step_losses(losses, steps_per_epoch=2, note="diverged at step 5"))
    _assert_no_legend_covers_a_point(figure)
    assert any("step 5: loss = inf" in t.get_text() for t in _legends(figure)[0].get_texts())
    assert any("diverged at step 5" in t.get_text() for t in figure.texts)


def test_decision_boundary_legend_covers_no_sample():
    X, y = make_moons(200, noise=0.1, seed=0)
    st.manual_seed(0)
    model = st.nn.mlp([2, 8, 2])
    st.fit(model, st.losses.cross_entropy, st.optim.Adam(model.parameters(), lr=0.05), X, y,
           epochs=5, verbose=0)
    figure = _drawn(plot_decision_boundary(model, X[:150], y[:150], X_val=X[150:],
                                           y_val=y[150:], resolution=60))
    _assert_no_legend_covers_a_point(figure)


def test_the_diagnosis_is_written_under_the_gradient_norms(tmp_path):
    history = _history(3)
    history.diagnosis = ["vanishing gradients: try relu"]
    path = plot_gradient_norms(history, _model(3), tmp_path / "g.png")
    assert path == tmp_path / "g.png" and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    figure = plot_gradient_norms(history, _model(3))
    assert any("vanishing gradients: try relu" in t.get_text() for t in figure.texts)


@pytest.mark.parametrize("draw", [
    lambda: plot_gradient_norms(_history(2), _model(2)),
    lambda: plot_step_losses([1.0, 0.5]),
    lambda: _history(2).plot(),
])
def test_without_a_path_the_figures_show_inline(draw):
    figure = draw()
    assert isinstance(figure, Figure)
    assert figure._repr_png_()[:8] == b"\x89PNG\r\n\x1a\n"
