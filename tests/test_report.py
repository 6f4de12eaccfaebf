"""The tour: one page with every lesson, its images and results.json; errors; safe replacement."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from steepest.lessons import LESSON_NAMES
from steepest.report import MARKER, format_value, run_tour
from steepest.report import tour as tour_module

PNG = b"\x89PNG\r\n\x1a\n"


def _images(page: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', page)


def test_tour_writes_every_section_and_image(full_tour):
    out, index, lines = full_tour
    assert index == out / "index.html"
    page = index.read_text(encoding="utf-8")
    for name in LESSON_NAMES:
        assert f'<section id="{name}">' in page, name
        assert f'href="#{name}"' in page, f"table of contents lacks {name}"
    images = _images(page)
    assert len(images) >= 2 * len(LESSON_NAMES)
    for src in images:
        assert not src.startswith(("http:", "https:", "/")), src
        path = out / src
        assert path.is_file(), src
        assert path.read_bytes()[:8] == PNG and path.stat().st_size > 10_000, src
    assert len(lines) == len(LESSON_NAMES) + 1 and "lessons in" in lines[-1]


def test_tour_page_shows_course_tables_and_findings(full_tour):
    out, index, _ = full_tour
    page = index.read_text(encoding="utf-8")
    assert page.count("What the course says") == len(LESSON_NAMES)
    assert page.count("<h3>Findings</h3>") == len(LESSON_NAMES)
    assert page.count("<table>") >= len(LESSON_NAMES)
    # reference values shown, compared as numbers: their last digits depend on the machine
    shown = [float(n) for n in re.findall(r"(?<![\w.])\d+\.\d+(?:e[-+]?\d+)?", page)]
    for reference in (1.43552, 0.05707039820105493):
        assert any(math.isclose(v, reference, rel_tol=1e-12) for v in shown), reference
    assert "http://" not in page and "https://" not in page    # readable offline


def test_tour_results_json(full_tour):
    out, _, _ = full_tour
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert list(results["lessons"]) == list(LESSON_NAMES)
    vg = results["lessons"]["vanishing_gradient"]["data"]["runs"]
    assert vg["sigmoid"]["ratio_at_init"] < vg["relu"]["ratio_at_init"] / 100
    chain = results["lessons"]["backpropagation"]["data"]
    assert chain["dE_dw2"] == pytest.approx(0.05707039820105493, rel=1e-12)
    for lesson in results["lessons"].values():
        for figure in lesson["figures"]:
            assert (out / figure["file"]).is_file()
    assert (out / MARKER).is_file()
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")], \
        "temporary folders left behind"


def test_tour_optimizer_paths_shown_are_tame(full_tour):
    """Every path drawn keeps f at or below f(start) and is at most 5x the straight line
    (recomputed here from the stored points); some nearest-ending rate was refused for its
    wild path alone."""
    from steepest.lessons.optimizers import PROBLEMS
    out, _, _ = full_tour
    data = json.loads((out / "results.json").read_text(encoding="utf-8"))
    data = data["lessons"]["optimizers"]["data"]
    refused_for_path = 0
    for key, land in data["landscapes"].items():
        straight = np.linalg.norm(np.subtract(land["start"], land["optimum"]))
        for name, run in land["runs"].items():
            path = np.asarray(run["path"], dtype=float)
            f = PROBLEMS[key]["f"](path.T)
            assert np.all(f <= f[0] * (1 + 1e-12)), (key, name)
            assert np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)) <= 5 * straight
            i = data["lr_grid"].index(run["nearest_lr"])
            refused_for_path += (run["nearest_lr"] != run["lr"]
                                 and run["peak_over_start"][i] <= 1.0)
    assert refused_for_path >= 1


def test_tour_only_and_replacing_a_report(tmp_path):
    out = tmp_path / "tour"
    run_tour(out, only=["backpropagation"], log=None)
    first = (out / "index.html").read_text(encoding="utf-8")
    assert 'id="backpropagation"' in first and 'id="optimizers"' not in first
    run_tour(out, only=["activations", "backpropagation"], log=None)
    second = (out / "index.html").read_text(encoding="utf-8")
    # the course's order, whatever the order asked
    assert second.index('id="backpropagation"') < second.index('id="activations"')
    assert sorted("img/" + p.name for p in (out / "img").iterdir()) == sorted(_images(second))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tour"]


def test_failed_tour_leaves_the_old_report(tmp_path, monkeypatch):
    out = tmp_path / "tour"
    run_tour(out, only=["backpropagation"], log=None)
    before = (out / "index.html").read_text(encoding="utf-8")

    def broken(**kwargs):
        raise RuntimeError("lesson failed")
    monkeypatch.setitem(tour_module.LESSONS, "activations", broken)
    with pytest.raises(RuntimeError, match="lesson failed"):
        run_tour(out, only=["backpropagation", "activations"], log=None)
    assert (out / "index.html").read_text(encoding="utf-8") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tour"], "temporary folder left"


def test_unknown_lesson_name_lists_valid_names(tmp_path):
    with pytest.raises(ValueError) as info:
        run_tour(tmp_path / "t", only=["backprop"], log=None)
    message = str(info.value)
    assert "'backprop'" in message and "\n" not in message
    for name in LESSON_NAMES:
        assert name in message
    assert not (tmp_path / "t").exists()


def test_out_is_an_existing_file(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("not a folder")
    with pytest.raises(ValueError, match="not a directory"):
        run_tour(target, only=["backpropagation"], log=None)
    assert target.read_text() == "not a folder"


def test_out_is_a_folder_that_is_not_a_report(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a steepest tour report"):
        run_tour(tmp_path, only=["backpropagation"], log=None)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_out_in_an_unwritable_place(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ValueError, match="cannot create"):
        run_tour(blocker / "sub" / "tour", only=["backpropagation"], log=None)


def test_open_browser(tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(tour_module.webbrowser, "open", opened.append)
    index = run_tour(tmp_path / "t", only=["backpropagation"], open_browser=True, log=None)
    assert opened == [index.as_uri()]


@pytest.fixture(scope="module")
def drawn_figures(tour_figures, full_tour):
    """Every lesson's matplotlib Figures, as the tour drew them for its page."""
    out, _, _ = full_tour
    assert sorted(tour_figures) == sorted(LESSON_NAMES)
    assert sum(map(len, tour_figures.values())) == len(list((out / "img").glob("*.png")))
    return tour_figures


def test_every_plot_has_axis_labels(drawn_figures):
    """Each visible axes has an x label, or one below it in its column does; a y label, or one
    left of it in its row does (shared labels of a grid of panels)."""
    for name, figures in drawn_figures.items():
        for fig in figures:
            panels = [ax for ax in fig.axes if ax.axison and ax.get_subplotspec() is not None]
            where = {ax: (ax.get_subplotspec().rowspan.start,
                          ax.get_subplotspec().colspan.start) for ax in panels}
            for ax, (row, col) in where.items():
                title = f"{name}: {fig.get_suptitle()!r} / {ax.get_title()!r}"
                assert ax.get_xlabel() or any(
                    o.get_xlabel() for o, (r, c) in where.items() if c == col and r > row), \
                    f"{title} has no x label"
                assert ax.get_ylabel() or any(
                    o.get_ylabel() for o, (r, c) in where.items() if r == row and c < col), \
                    f"{title} has no y label"


def test_table_markdown():
    from steepest.lessons import Table
    from steepest.report import table_markdown
    table = Table("T", ["a", "b|c"], [[1.43552, "x"], [None, float("inf")]], note="n",
                  digits=12)
    assert table_markdown(table).splitlines() == [
        "**T**", "", "| a | b\\|c |", "|---|---|", "| 1.43552 | x |", "| — | ∞ (diverged) |",
        "", "*n*"]


def test_show_table_and_figures_display_inline(monkeypatch):
    display_module = pytest.importorskip("IPython.display")
    from steepest.lessons import run_lesson
    from steepest.report import show_figures, show_table, table_markdown
    shown = []
    monkeypatch.setattr(display_module, "display", lambda *objects: shown.extend(objects))
    lesson = run_lesson("backpropagation")
    show_table(lesson.tables[0])
    assert [type(o).__name__ for o in shown] == ["Markdown"]
    assert shown[0].data == table_markdown(lesson.tables[0])
    shown.clear()
    show_figures(lesson)
    assert [type(o).__name__ for o in shown] == ["Image", "Markdown"] * 3
    assert shown[0].data[:8] == PNG and shown[1].data.startswith("*The chain")


@pytest.mark.parametrize("value, digits, text", [
    (0.05707039820105493, 16, "0.05707039820105493"),
    (1.43552, 12, "1.43552"),
    (float("inf"), 6, "∞ (diverged)"),
    ("inf", 6, "∞ (diverged)"),
    (None, 6, "—"),
    (152, 6, "152"),
    (-1.98, 6, "−1.98"),
    (6.4e-31, 6, "6.4000e−31"),
    ("93.0%", 6, "93.0%"),
])
def test_format_value(value, digits, text):
    assert format_value(value, digits)[0] == text


def _data_points(ax) -> np.ndarray:
    """Every plotted data point of ``ax`` (line vertices and scatter offsets), in pixels."""
    points = []
    for line in ax.get_lines():
        xy = np.column_stack([np.asarray(line.get_xdata(), float),
                              np.asarray(line.get_ydata(), float)])
        xy = xy[np.all(np.isfinite(xy), axis=1)]
        if len(xy) and line.get_visible() and line.get_transform() == ax.transData:
            pixels = ax.transData.transform(xy)
            if line.get_linestyle() not in ("None", "", " ") and len(pixels) > 1:
                steps = np.linspace(0.0, 1.0, 12)[:, None, None]   # points along each segment
                pixels = (pixels[:-1] + steps * (pixels[1:] - pixels[:-1])).reshape(-1, 2)
            points.append(pixels)
    for collection in ax.collections:
        offsets = np.asarray(collection.get_offsets(), float)
        if offsets.size and collection.get_transform() == ax.transData:
            points.append(ax.transData.transform(offsets))
    return np.concatenate(points) if points else np.zeros((0, 2))


def test_legends_cover_no_data(drawn_figures):
    """No legend box (inside an axes or beside the panels) hides a plotted point."""
    covered = []
    for name, figures in drawn_figures.items():
        for fig in figures:
            canvas = FigureCanvasAgg(fig)
            canvas.draw()
            renderer = canvas.get_renderer()
            legends = [(lg, [ax]) for ax in fig.axes if (lg := ax.get_legend()) is not None]
            legends += [(lg, fig.axes) for lg in fig.legends]
            for legend, axes in legends:
                box = legend.get_window_extent(renderer)
                for ax in axes:
                    clip = ax.get_window_extent(renderer)
                    points = _data_points(ax)
                    inside_axes = ((points[:, 0] >= clip.x0) & (points[:, 0] <= clip.x1)
                                   & (points[:, 1] >= clip.y0) & (points[:, 1] <= clip.y1))
                    hidden = inside_axes & (points[:, 0] > box.x0) & (points[:, 0] < box.x1) \
                        & (points[:, 1] > box.y0) & (points[:, 1] < box.y1)
                    if hidden.any():
                        covered.append(f"{name}: {fig.get_suptitle()!r} / {ax.get_title()!r}: "
                                       f"the legend covers {int(hidden.sum())} data points")
    assert not covered, "\n".join(covered)


def test_leaky_relu_small_slope_is_visible(drawn_figures):
    """leaky ReLU's slope 0.01 for z < 0 is flat at the panel's scale: an inset zooms on it."""
    functions = drawn_figures["activations"][0]
    panel = next(ax for ax in functions.axes if ax.get_title().startswith("leaky_relu"))
    (inset,) = panel.child_axes
    assert "slope 0.01" in inset.get_title()
    (line,) = [line for line in inset.get_lines() if len(line.get_xdata()) > 2]
    z, f = np.asarray(line.get_xdata()), np.asarray(line.get_ydata())
    np.testing.assert_allclose(f, 0.01 * z, rtol=1e-12)
    low, high = inset.get_ylim()
    assert (f.max() - f.min()) / (high - low) > 0.5   # the slope spans most of the inset
    main_low, main_high = panel.get_ylim()
    assert (f.max() - f.min()) / (main_high - main_low) < 0.02   # ...but not the panel


def test_depth_colors_never_repeat_and_follow_depth():
    from matplotlib.colors import to_rgb

    from steepest.report.style import depth_colors
    colors = [to_rgb(c) for c in depth_colors(11)]
    assert len(set(colors)) == 11                              # layer 1 and 11 differ, ...
    lightness = [0.299 * r + 0.587 * g + 0.114 * b for r, g, b in colors]
    assert all(a < b for a, b in zip(lightness, lightness[1:]))   # ... ordered by depth
    assert len(depth_colors(1)) == 1


def test_layer_norms_coloured_by_depth_with_labelled_ends(drawn_figures):
    fig = next(f for f in drawn_figures["vanishing_gradient"]
               if "coloured by depth" in f.get_suptitle())
    panels = [ax for ax in fig.axes if ax.get_title()]
    layers = len(panels[0].get_lines())
    assert layers >= 3
    for ax in panels:
        colors = [tuple(line.get_color()) for line in ax.get_lines()]
        assert len(set(colors)) == layers == len(colors)
    (bar,) = [ax for ax in fig.axes if not ax.get_title()]
    labels = [t.get_text() for t in bar.get_yticklabels()]
    assert labels == ["layer 1\n(input)", f"layer {layers}\n(output)"]


def _browser_page(width: int):
    """A headless Chromium page ``width`` px wide (skip where there is no browser)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    import shutil
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    manager = sync_api.sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=executable,
                                          args=["--no-sandbox", "--disable-gpu"])
    except Exception as error:  # noqa: BLE001 - no usable browser here
        manager.stop()
        pytest.skip(f"no headless Chromium: {error}")
    page = browser.new_page(viewport={"width": width, "height": 900})
    return manager, browser, page


def test_tour_page_tables_fit_a_1280_px_window(full_tour):
    """At 1280 px no table of the page scrolls sideways, and neither does the page."""
    _, index, _ = full_tour
    manager, browser, page = _browser_page(1280)
    try:
        page.goto(index.as_uri())
        widths = page.evaluate("""() => [...document.querySelectorAll('.tablewrap')].map(
            w => [w.querySelector('caption').textContent, w.scrollWidth, w.clientWidth])""")
        page_width = page.evaluate("document.documentElement.scrollWidth")
    finally:
        browser.close()
        manager.stop()
    assert len(widths) >= len(LESSON_NAMES)
    assert [w for w in widths if w[1] > w[2]] == []
    assert page_width <= 1280


def test_wide_tables_are_compact_and_say_so():
    from steepest.lessons import Table
    from steepest.report.page import WIDE_COLUMNS, _table
    columns = [f"c{i}" for i in range(WIDE_COLUMNS + 1)]
    wide = _table(Table("T", columns, [[1.23456789] * len(columns)], digits=6))
    assert '<table class="wide">' in wide and ">1.23<" in wide
    assert "Shown to 3 significant digits; results.json has every digit." in wide
    narrow = _table(Table("T", columns[:3], [[1.23456789] * 3], digits=6))
    assert "<table>" in narrow and ">1.23457<" in narrow and "significant digits" not in narrow
