"""``run_tour``: run the lessons, draw them, and write one HTML page plus results.json.

The report is built in a temporary folder beside the target and moved into place only when
it is complete, so an existing report is replaced only by a finished one, and a failure
leaves the old report untouched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import webbrowser
from contextlib import nullcontext
from pathlib import Path

from steepest.lessons import LESSON_NAMES, LESSONS
from steepest.lessons._base import to_jsonable

__all__ = ["run_tour", "MARKER"]

#: The file that marks a folder as a steepest tour report (so it may be replaced).
MARKER = ".steepest-tour"


def _single_blas_thread():
    """Limit BLAS to one thread if threadpoolctl is available: the tour's matrices are tiny,
    and a multi-threaded BLAS on a busy machine makes them several times slower."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


def _select(only) -> list[str]:
    if only is None:
        return list(LESSON_NAMES)
    if isinstance(only, str):
        only = [only]
    names = list(dict.fromkeys(only))
    unknown = [n for n in names if n not in LESSONS]
    if unknown or not names:
        what = f"unknown lesson name(s) {', '.join(map(repr, unknown))}" if unknown \
            else "no lesson selected"
        raise ValueError(f"{what}; valid names: {', '.join(LESSON_NAMES)}")
    return [n for n in LESSON_NAMES if n in names]  # the course's order


def _check_target(out: Path) -> None:
    """Refuse a target that is a file, or a folder that is neither empty nor a tour report."""
    if out.exists() or out.is_symlink():
        if not out.is_dir():
            raise ValueError(f"output path {str(out)!r} exists and is not a directory; choose "
                             f"a folder name for the report")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise ValueError(f"output folder {str(out)!r} is not empty and is not a steepest "
                             f"tour report; refusing to replace it (choose a new or empty "
                             f"folder)")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ValueError(f"cannot create the folder {str(parent)!r} for the report: "
                         f"{error.strerror or error}") from None
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write the report into {str(parent)!r}: permission denied")


def _swap_in(tmp: Path, out: Path) -> None:
    """Move the finished report ``tmp`` to ``out``, replacing an old report there."""
    old = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.rename(out, old / "report")
    try:
        os.rename(tmp, out)
    except OSError:
        if old is not None:  # put the old report back
            os.rename(old / "report", out)
            shutil.rmtree(old, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def run_tour(out_dir="steepest-tour", only=None, open_browser: bool = False,
             log=print) -> Path:
    """Run the lessons and write ``out_dir/index.html``, ``out_dir/img/*.png`` and
    ``out_dir/results.json``; return the path of index.html.

    Parameters
    ----------
    out_dir : folder for the report. A file there, a folder that is neither empty nor an
        earlier tour report, or a place that cannot be written raises ValueError.
    only : lesson names to run (default: all, in the course's order):
        gradient_descent, notebook_exercise, backpropagation, vanishing_gradient,
        activations, optimizers. An unknown name raises ValueError listing the valid ones.
    open_browser : open the page in the default browser when done.
    log : callable taking one progress line (``print`` by default; ``None`` for silence).
    """
    from steepest._version import __version__
    from steepest.report.figures import render_figures
    from steepest.report.page import render_page

    log = log or (lambda message: None)
    names = _select(only)
    out = Path(out_dir).expanduser().absolute()
    _check_target(out)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as error:
        raise ValueError(f"cannot write the report into {str(out.parent)!r}: "
                         f"{error.strerror or error}") from None
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; a report is an ordinary folder
        start = time.perf_counter()
        lessons, figures = [], {}
        img_dir = tmp / "img"
        img_dir.mkdir()
        with _single_blas_thread():
            for i, name in enumerate(names, 1):
                lesson = LESSONS[name]()
                t0 = time.perf_counter()
                figures[name] = render_figures(lesson, img_dir)
                draw = time.perf_counter() - t0
                lessons.append(lesson)
                log(f"[{i}/{len(names)}] {name}: computed in {lesson.seconds:.1f} s, "
                    f"{len(figures[name])} figure{'s' if len(figures[name]) != 1 else ''} "
                    f"in {draw:.1f} s")
        total = time.perf_counter() - start
        page = render_page(lessons, figures, total, __version__)
        (tmp / "index.html").write_text(page, encoding="utf-8")
        results = {"generator": "steepest tour", "version": __version__,
                   "seconds": round(total, 3), "lessons": {
                       lesson.name: {**lesson.to_dict(), "figures": [
                           {"file": "img/" + f.file, "caption": f.caption}
                           for f in figures[lesson.name]]} for lesson in lessons}}
        (tmp / "results.json").write_text(
            json.dumps(to_jsonable(results), indent=1, allow_nan=False, ensure_ascii=False),
            encoding="utf-8")
        (tmp / MARKER).write_text("steepest tour report; safe to delete\n", encoding="utf-8")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    index = out / "index.html"
    log(f"steepest tour: {len(lessons)} lesson{'s' if len(lessons) != 1 else ''} in "
        f"{total:.1f} s -> {index}")
    if open_browser:
        webbrowser.open(index.as_uri())
    return index
