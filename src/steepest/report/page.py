"""The tour's single HTML page: inline CSS, a table of contents, one section per lesson.

The page needs nothing but the PNGs beside it (``img/``), so it reads offline and can be
zipped or mailed as a folder.
"""

from __future__ import annotations

import html
import math
import re
from datetime import datetime, timezone

__all__ = ["format_value", "render_page"]

_PERCENT = re.compile(r"^[−-]?\d[\d.]*%$")

CSS = """
:root { --ink: #1d232b; --muted: #5b6570; --line: #dfe3e8; --accent: #1f5fa8;
        --course: #f5f8fc; --finding: #f3faf4; }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
       Arial, "Noto Sans", "DejaVu Sans", sans-serif; color: var(--ink); background: #fff; }
header { background: #1d2b3a; color: #fff; padding: 28px 0 22px; }
header p { color: #c9d4df; margin: 6px 0 0; }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 28px; }
h1 { margin: 0; font-size: 30px; }
h2 { font-size: 25px; margin: 0 0 14px; padding-top: 8px; border-bottom: 2px solid var(--line);
     padding-bottom: 6px; }
h3 { font-size: 17px; margin: 22px 0 8px; color: var(--accent); text-transform: uppercase;
     letter-spacing: .04em; }
nav.toc { background: #fafbfc; border: 1px solid var(--line); border-radius: 8px;
          padding: 14px 22px; margin: 26px 0; }
nav.toc h2 { border: 0; font-size: 18px; margin: 0 0 6px; padding: 0; }
nav.toc ol { margin: 0; padding-left: 0; list-style: none; columns: 2; }
nav.toc li { margin: 3px 0; }
nav.toc a { color: var(--accent); text-decoration: none; font-weight: 600; }
nav.toc a:hover { text-decoration: underline; }
nav.toc .time { color: var(--muted); font-size: 13px; margin-left: 6px; }
section { margin: 34px 0 52px; }
.course { background: var(--course); border-left: 4px solid #8fb3de; padding: 6px 18px;
          border-radius: 0 6px 6px 0; }
.course ul, .findings { margin: 8px 0; padding-left: 20px; }
.course li { margin: 5px 0; }
.findings { background: var(--finding); border-left: 4px solid #72b37e;
            padding: 10px 18px 10px 36px;
            border-radius: 0 6px 6px 0; }
.findings li { margin: 6px 0; }
.tablewrap { overflow-x: auto; margin: 10px 0 4px; }
table { border-collapse: collapse; font-size: 14px; min-width: 40%; }
caption { text-align: left; font-weight: 600; padding: 4px 0 6px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 12px; text-align: right;
         white-space: nowrap; }
th { background: #f0f3f6; font-weight: 600; white-space: normal; vertical-align: bottom; }
table.wide { font-size: 12.5px; }
table.wide th, table.wide td { padding: 4px 4px; }
table.wide td.num { font-size: 11.5px; letter-spacing: -.02em; }
td.text, th.text { text-align: left; white-space: normal; }
td.num { font-variant-numeric: tabular-nums; font-family: "DejaVu Sans Mono", Menlo, Consolas,
         monospace; font-size: 13px; }
tbody tr:nth-child(even) { background: #fafbfc; }
p.note { color: var(--muted); font-size: 13.5px; margin: 2px 0 14px; }
figure { margin: 16px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
/* a figure with small labels is not shrunk below --least (labels 9 px high): it grows past
   the text column, centred on it, up to its full size or the window's width, and scrolls
   sideways in a window narrower than --least */
figure.wide { --shown: min(var(--natural), calc(100vw - 32px)); width: var(--shown);
              margin-left: calc(50% - var(--shown) / 2); overflow-x: auto; }
figure.wide img { min-width: var(--least); }
figcaption { color: var(--muted); font-size: 14px; margin-top: 4px; }
.meta { color: var(--muted); font-size: 13px; }
footer { border-top: 1px solid var(--line); color: var(--muted); font-size: 13px;
         padding: 16px 0 30px; }
code { background: #f0f3f6; padding: 1px 4px; border-radius: 3px; font-size: 90%; }
"""


def format_value(value, digits: int = 6) -> tuple[str, str]:
    """(text, css class) of a table cell: floats to ``digits`` significant digits."""
    if value is None:
        return "—", "text"
    if isinstance(value, str):
        if value in ("inf", "-inf", "nan"):
            return {"inf": "∞ (diverged)", "-inf": "−∞", "nan": "nan"}[value], "num"
        return value, "num" if _PERCENT.match(value) else "text"
    if isinstance(value, bool):
        return ("yes" if value else "no"), "text"
    if isinstance(value, int) or (hasattr(value, "dtype") and value.dtype.kind in "iu"):
        return str(int(value)), "num"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value), "text"
    if math.isnan(v):
        return "nan", "num"
    if math.isinf(v):
        return ("∞ (diverged)" if v > 0 else "−∞"), "num"
    if v == 0:
        return "0", "num"
    magnitude = abs(v)
    if magnitude >= 1e6 or magnitude < 1e-4:
        text = f"{v:.{min(digits, 4)}e}"
    else:
        text = f"{v:.{digits}g}"
    return text.replace("-", "−"), "num"


#: Tables with more columns than this are set compactly, with at most WIDE_DIGITS digits, so
#: that they fit the page's 1124 px column (a 1280 px window) without scrolling sideways.
WIDE_COLUMNS = 10
WIDE_DIGITS = 3


def _table(table) -> str:
    wide = len(table.columns) > WIDE_COLUMNS
    digits = min(table.digits, WIDE_DIGITS) if wide else table.digits
    attributes = ' class="wide"' if wide else ""
    out = [f'<div class="tablewrap"><table{attributes}>',
           f"<caption>{html.escape(table.title)}</caption>", "<thead><tr>"]
    first = table.rows[0] if table.rows else []
    for i, column in enumerate(table.columns):
        cls = format_value(first[i], digits)[1] if i < len(first) else "num"
        cls = "text" if cls == "text" else ""
        out.append(f'<th class="{cls}">{html.escape(str(column))}</th>')
    out.append("</tr></thead><tbody>")
    for row in table.rows:
        out.append("<tr>")
        for value in row:
            text, cls = format_value(value, digits)
            out.append(f'<td class="{cls}">{html.escape(text)}</td>')
        out.append("</tr>")
    out.append("</tbody></table></div>")
    note = table.note
    if digits < table.digits:
        note = (note + " " if note else "") + (f"Shown to {digits} significant digits; "
                                                f"results.json has every digit.")
    if note:
        out.append(f'<p class="note">{html.escape(note)}</p>')
    return "".join(out)


def _section(lesson, figures, img_prefix: str) -> str:
    parts = [f'<section id="{html.escape(lesson.name)}">',
             f"<h2>{html.escape(lesson.title)}</h2>",
             '<h3>What the course says</h3><div class="course"><ul>']
    parts += [f"<li>{html.escape(s)}</li>" for s in lesson.course]
    parts.append("</ul></div><h3>Measured</h3>")
    parts += [_table(t) for t in lesson.tables]
    if figures:
        parts.append("<h3>Plots</h3>")
        for fig in figures:
            size = f' width="{fig.width}" height="{fig.height}"' if fig.width else ""
            wide = (f' class="wide" style="--natural: {fig.width + 2}px; --least: '
                    f'{fig.min_width}px"') if fig.min_width and fig.width else ""
            parts.append(f'<figure{wide}><img src="{html.escape(img_prefix + fig.file)}"{size} '
                         f'alt="{html.escape(fig.caption)}" loading="lazy">'
                         f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>")
    parts.append('<h3>Findings</h3><ul class="findings">')
    parts += [f"<li>{html.escape(s)}</li>" for s in lesson.findings]
    parts.append("</ul>")
    parts.append(f'<p class="meta">Computed in {lesson.seconds:.2f} s. Parameters: '
                 f"<code>{html.escape(_params(lesson.params))}</code></p></section>")
    return "".join(parts)


def _params(params: dict) -> str:
    def short(v):
        if isinstance(v, float):
            return f"{v:g}"
        if isinstance(v, (list, tuple)):
            return "(" + ", ".join(short(x) for x in v) + ")"
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k}: {short(x)}" for k, x in v.items()) + "}"
        if hasattr(v, "tolist"):
            return short(v.tolist())
        return str(v)
    return ", ".join(f"{k}={short(v)}" for k, v in params.items())


def render_page(lessons, figures: dict, total_seconds: float, version: str,
                img_prefix: str = "img/") -> str:
    """The whole page for ``lessons`` (in order) and their ``figures`` (by lesson name)."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    toc = "".join(
        f'<li><a href="#{html.escape(l.name)}">{html.escape(l.title)}</a>'
        f'<span class="time">{l.seconds:.1f} s</span></li>' for l in lessons)
    sections = "".join(_section(l, figures.get(l.name, []), img_prefix) for l in lessons)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="steepest {html.escape(version)}">
<title>steepest tour: neural-network optimization, measured</title>
<style>{CSS}</style>
</head>
<body>
<header><div class="wrap">
<h1>steepest tour: neural-network optimization, measured</h1>
<p>{len(lessons)} lesson{'s' if len(lessons) != 1 else ''} of the course, each run on steepest's
autodiff engine and optimizers. Generated {stamp} by steepest {html.escape(version)} in
{total_seconds:.1f} s. Every number below is in <a style="color:#fff"
href="results.json">results.json</a>.</p>
</div></header>
<div class="wrap">
<nav class="toc"><h2>Contents</h2><ol>{toc}</ol></nav>
<main>{sections}</main>
<footer>Made by <code>steepest tour</code>. Figures: matplotlib (Agg). The course's claims are
quoted or paraphrased from the course notes; the findings are written from the measured
numbers.</footer>
</div>
</body>
</html>
"""
