"""Plots and a small HTML page for a sweep, drawn from its records (runs.jsonl lines).

A record is a dict with ``config``, ``status``, ``final`` and ``seconds`` (what
:meth:`steepest.sweeps.Run.to_json` writes); nothing is recomputed here. Each plot function
returns the data it drew, so tests can check the picture against the records.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
from matplotlib.ticker import NullFormatter

from steepest.optim.catalogue import OPTIMIZERS
from steepest.report.page import CSS, format_value
from steepest.report.style import OPTIMIZER_COLORS, new_figure, qualitative, save, style
from steepest.sweeps.records import best_points, finite_metric, group_records, metric_of

__all__ = ["sweep_series", "plot_sweep", "plot_times", "write_sweep_report"]

def _colors(groups) -> dict:
    """The report's colour for an optimizer (by its catalogue label), else a spare one."""
    spare = iter(qualitative(len(groups) + 4)[4:])
    labels = {name: entry.label for name, entry in OPTIMIZERS.items()}
    return {g: OPTIMIZER_COLORS.get(labels.get(g, g)) or next(spare) for g in groups}


def sweep_series(records, metric: str, by: str = "optimizer", x: str = "lr") -> dict:
    """Per group: the x values and the median, min and max of ``metric`` over ok runs there.

    Returns ``{group: {'x': [...], 'median': [...], 'min': [...], 'max': [...],
    'diverged': [x ...], 'failed': [x ...]}}``; an x where no run finished ok has no point but
    still appears under 'diverged'/'failed' if a run there did.
    """
    series = {}
    for group, by_x in group_records(records, by, x).items():
        s = {"x": [], "median": [], "min": [], "max": [], "diverged": [], "failed": []}
        for value, runs in by_x.items():
            scores = [r["final"].get(metric) for r in runs if r["status"] == "ok"]
            scores = [v for v in scores if finite_metric(v)]
            if scores:
                s["x"].append(value)
                s["median"].append(float(np.median(scores)))
                s["min"].append(float(np.min(scores)))
                s["max"].append(float(np.max(scores)))
            for status in ("diverged", "failed"):
                if any(r["status"] == status for r in runs):
                    s[status].append(value)
        series[group] = s
    return series


def _label(metric: str) -> str:
    return ("final " + metric.replace("val_", "validation ").replace("_", " "))


def plot_sweep(records, path, *, by: str = "optimizer", x: str = "lr",
               title: str | None = None) -> dict:
    """Final loss and accuracy (validation if recorded) against ``x`` (log scale), a line per
    ``by`` value: the median over the other settings (seeds) with a min-max band; learning
    rates where some run diverged are marked ✕ at the top, failed ones ◆; the best rate per
    optimizer is a star. Writes a PNG; returns what was drawn (see :func:`sweep_series`) as
    ``{'panels': {metric: series}, 'best': best_points(...), 'figure': Figure}``.
    """
    records = list(records)
    loss = metric_of(records, "val_loss", "loss") or "loss"
    metrics = [loss] + [m for m in [metric_of(records, "val_accuracy", "accuracy")] if m]
    best = best_points(records, by, x, loss)
    groups = list(group_records(records, by, x))
    colors = _colors(groups)
    drawn = {"panels": {}, "best": best}
    with style():
        fig, axes = new_figure(6.2 * len(metrics), 4.6, ncols=len(metrics))
        for ax, metric in zip(axes[0], metrics):
            series = sweep_series(records, metric, by, x)
            drawn["panels"][metric] = series
            marks = {"diverged": [], "failed": []}
            for k, (group, s) in enumerate(series.items()):
                color = colors[group]
                label = f"{group}" + (f" (best {best[group]['x']:.3g})" if group in best else "")
                ax.plot(s["x"], s["median"], "o-", color=color, ms=4, label=label)
                ax.fill_between(s["x"], s["min"], s["max"], color=color, alpha=0.18, lw=0)
                for status in marks:
                    marks[status] += [(v, color, k) for v in s[status]]
                if group in best and metric == loss:
                    b = best[group]
                    ax.plot([b["x"]], [b["median"]], "*", color=color, ms=15, mec="black",
                            mew=0.8, zorder=5)
            top = ax.get_xaxis_transform()  # x in data, y in axes units
            # one row of marks per optimizer at the top: diverged rows, then failed rows
            for row, (status, marker) in enumerate((("diverged", "x"), ("failed", "D"))):
                points = marks[status]
                if points:
                    ax.scatter([p[0] for p in points],
                               [0.97 - 0.03 * (p[2] + row * len(series)) for p in points],
                               marker=marker, c=[p[1] for p in points], s=36, transform=top,
                               clip_on=False, zorder=6, gid=status)
                    ax.scatter([], [], marker=marker, c="0.25", s=36,
                               label=f"{status} (some seed)")
            if not any(len(s["x"]) for s in series.values()):  # no run finished: only marks
                rates = [p[0] for points in marks.values() for p in points if p[0] > 0]
                if rates:
                    ax.set_xlim(min(rates) / 2, max(rates) * 2)
            ax.set_xscale("log")
            if "loss" in metric and any(v > 0 for s in series.values() for v in s["max"]) \
                    and _spread(series) > 20:
                ax.set_yscale("log")
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_minor_formatter(NullFormatter())  # no labels between decades
            rows = len(series) * sum(bool(marks[status]) for status in marks)
            if rows:
                _headroom(ax, 0.03 * rows + 0.03)  # the marks sit above the data
            ax.set_xlabel("learning rate" if x == "lr" else x)
            ax.set_ylabel(_label(metric))
            ax.set_title(_label(metric).capitalize() + f" vs {'learning rate' if x == 'lr' else x}")
            ax.legend(loc="best", fontsize=8.5)
        fig.suptitle((title + ": " if title else "Sweep: ") +
                     "median over seeds, band min to max, ★ best rate")
        save(fig, path)
    drawn["figure"] = fig
    return drawn


def _headroom(ax, fraction: float) -> None:
    """Raise the top of the y axis so that the data fill only the lower 1 - fraction."""
    low, high = ax.get_ylim()
    if ax.get_yscale() == "log":
        ax.set_ylim(low, low * (high / low) ** (1 / (1 - fraction)))
    else:
        ax.set_ylim(low, low + (high - low) / (1 - fraction))


def _spread(series) -> float:
    values = [v for s in series.values() for v in s["min"] + s["max"] if v > 0]
    return max(values) / min(values) if values else 1.0


def plot_times(records, path, *, by: str = "optimizer", x: str = "lr",
               title: str | None = None) -> dict:
    """Wall time of every run against ``x``, a colour per ``by`` value (dots; line = median).

    Returns ``{group: {'x': [...], 'seconds': [...]}}`` (one entry per run).
    """
    records = list(records)
    groups = group_records(records, by, x)
    colors = _colors(list(groups))
    drawn = {}
    with style():
        fig, axes = new_figure(6.2, 4.2)
        ax = axes[0][0]
        for group, by_x in groups.items():
            xs = [v for v, runs in by_x.items() for _ in runs]
            secs = [r["seconds"] for runs in by_x.values() for r in runs]
            drawn[group] = {"x": xs, "seconds": secs}
            ax.scatter(xs, secs, s=14, color=colors[group], alpha=0.6)
            ax.plot(list(by_x), [float(np.median([r["seconds"] for r in runs]))
                                 for runs in by_x.values()], "-", color=colors[group],
                    label=f"{group}")
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_ylim(bottom=0)
        ax.set_xlabel("learning rate" if x == "lr" else x)
        ax.set_ylabel("seconds per run")
        total = sum(r["seconds"] for r in records)
        ax.set_title(title or f"Time per run ({len(records)} runs, {total:.1f} s of work)")
        ax.legend(loc="best", fontsize=8.5)
        save(fig, path)
    return drawn


def _table(columns, rows, caption) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for value in row:
            text, cls = format_value(value, 4)
            cells.append(f'<td class="{cls}">{html.escape(text)}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (f'<div class="tablewrap"><table><caption>{html.escape(caption)}</caption>'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def write_sweep_report(records, out, *, title: str | None = None, by: str = "optimizer",
                       x: str = "lr") -> list:
    """Write ``sweep.png``, ``time.png`` and ``index.html`` into ``out``; return their names."""
    records = list(records)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    drawn = plot_sweep(records, out / "sweep.png", by=by, x=x, title=title)
    plot_times(records, out / "time.png", by=by, x=x)
    counts = {s: sum(r["status"] == s for r in records) for s in ("ok", "diverged", "failed")}
    loss = next(iter(drawn["panels"]))
    acc = next((m for m in drawn["panels"] if m != loss), None)
    best_rows = []
    for group, b in drawn["best"].items():
        runs = [r for r in records if r["config"].get(by) == group and r["config"].get(x) == b["x"]]
        accs = [r["final"].get(acc) for r in runs] if acc else []
        best_rows.append([str(group), b["x"], b["median"],
                          f"{np.median(accs):.1%}" if accs else None, len(runs)])
    trouble = [[str(r["config"].get(by)), r["config"].get(x), r["config"].get("seed"),
                r["status"], r.get("error") or ""] for r in records if r["status"] != "ok"]
    tables = _table([by, f"best {x}", f"median {loss}", f"median {acc}" if acc else "—", "runs"],
                    best_rows, f"Best {x} per {by} (rates where every run finished)")
    if trouble:
        tables += _table([by, x, "seed", "status", "what happened"], trouble[:200],
                         "Runs that diverged or failed" + (" (first 200)" if len(trouble) > 200
                                                           else ""))
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>steepest sweep</title><style>{CSS}</style></head>
<body><header><div class="wrap"><h1>Sweep: {html.escape(title or 'learning rate x optimizer')}</h1>
<p>{len(records)} runs: {counts['ok']} ok, {counts['diverged']} diverged, {counts['failed']}
failed. Every number is in <a style="color:#fff" href="runs.jsonl">runs.jsonl</a> and
<a style="color:#fff" href="summary.csv">summary.csv</a>.</p></div></header>
<div class="wrap"><main><section>
<h3>Final loss and accuracy against the learning rate</h3>
<figure><img src="sweep.png" alt="final loss and accuracy against the learning rate">
<figcaption>Line: median over seeds; band: min to max; ✕ at the top: a rate where some seed
diverged; ★: the best rate per {html.escape(by)}.</figcaption></figure>
{tables}
<h3>Time per run</h3>
<figure><img src="time.png" alt="seconds per run"></figure>
</section></main>
<footer>Made by <code>steepest sweep</code>.</footer></div></body></html>
"""
    (out / "index.html").write_text(page, encoding="utf-8")
    return ["sweep.png", "time.png", "index.html"]
