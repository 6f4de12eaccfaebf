"""The course notebooks: stored clean, solvable (teacher's edition), helpful when unsolved.

Each notebook is executed twice with nbclient:

* teacher's edition (as stored, solution cells kept): runs top to bottom without an error,
  every check cell prints its confirmation, and the lessons' figures appear inline;
* learner's edition (``steepest.notebook_editions.learner_version``: cells tagged ``solution``
  removed): every check cell fails with ``NotFilledInError`` ("you have not filled in this
  TODO yet"), not a NameError, and no other cell fails.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from steepest.notebook_editions import SOLUTION_TAG, learner_version  # noqa: E402

NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXPECTED = ["01_gradient_descent", "02_backpropagation", "03_optimization_function",
            "04_vanishing_gradients_and_activations", "05_optimizers"]


def _tags(cell) -> set:
    return set(cell.get("metadata", {}).get("tags", []))


def _source(cell) -> str:
    return cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])


def _read(path: Path):
    return nbformat.read(path, as_version=4)


@pytest.fixture(autouse=True)
def _headless(monkeypatch):
    """The kernel inherits the environment: no display needed (%matplotlib inline draws)."""
    monkeypatch.setenv("MPLBACKEND", "Agg")


def _execute(notebook, allow_errors: bool):
    client = nbclient.NotebookClient(
        notebook, timeout=120, kernel_name="python3", allow_errors=allow_errors,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}})
    client.execute()
    return notebook


ANSWER_MARK = "ANSWER-VALUES "


def _answer_names(exercise_cell) -> list:
    """The names an exercise asks for: those its TODO cell sets to ``...``."""
    return re.findall(r"^(\w+)\s*=\s*\.\.\.", _source(exercise_cell), flags=re.MULTILINE)


def _with_answer_probes(notebook):
    """The notebook with a cell after each solution that prints the solution's values."""
    cells = []
    for i, cell in enumerate(notebook.cells):
        cells.append(cell)
        if SOLUTION_TAG in _tags(cell):
            names = _answer_names(notebook.cells[i - 1])
            cells.append(nbformat.v4.new_code_cell(
                "import json as _json, numpy as _np\n"
                f"print({ANSWER_MARK!r} + _json.dumps({{_name: _np.asarray(globals()[_name], "
                f"dtype=float).ravel().tolist() for _name in {names!r}}}))"))
    notebook.cells = cells
    return notebook


@lru_cache(maxsize=None)
def _executed(path: Path, edition: str):
    """Each notebook runs once per edition for all the tests (the teacher's with probes)."""
    if edition == "teacher":
        return _execute(_with_answer_probes(_read(path)), allow_errors=False)
    learner = nbformat.from_dict(learner_version(_read(path)))
    assert not any(SOLUTION_TAG in _tags(c) for c in learner.cells)
    return _execute(learner, allow_errors=True)


def _errors(cell) -> list:
    return [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]


def _text(cell) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.get("output_type") == "stream":
            parts.append(output.get("text", ""))
        elif "data" in output:
            parts.append(output["data"].get("text/plain", ""))
    return "".join(parts)


def test_the_notebooks_extra_runs_them_without_torch():
    """notebooks/README installs `[notebooks]`: Jupyter and the kernel, not the test-only torch."""
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((NOTEBOOK_DIR.parent / "pyproject.toml").read_text())["project"]
    extra = [re.split(r"[<>=!~\[ ;]", spec)[0].lower()
             for spec in project["optional-dependencies"]["notebooks"]]
    assert {"ipykernel", "nbclient", "nbformat"} <= set(extra)
    assert {"jupyterlab", "notebook", "jupyter"} & set(extra)
    assert "torch" not in extra
    readme = (NOTEBOOK_DIR / "README.md").read_text(encoding="utf-8")
    assert 'pip install -e ".[notebooks]"' in readme
    assert '".[test]"' not in readme.split("## How an exercise works")[0]


def test_the_five_notebooks_exist():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_stored_valid_and_without_outputs(path):
    notebook = _read(path)
    nbformat.validate(notebook)
    assert notebook.nbformat == 4
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, \
                f"{path.name}: outputs are stored; run python -m steepest.notebook_editions strip"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_exercise_is_todo_solution_check(path):
    cells = _read(path).cells
    solutions = [i for i, c in enumerate(cells) if SOLUTION_TAG in _tags(c)]
    assert solutions, f"{path.name} has no exercise"
    for i in solutions:
        todo, check = cells[i - 1], cells[i + 1]
        assert "exercise" in _tags(todo) and "# TODO" in _source(todo) \
            and "..." in _source(todo), f"{path.name}: cell {i - 1} is not a TODO cell"
        assert "check" in _tags(check) and "check_" in _source(check), \
            f"{path.name}: cell {i + 1} is not a check cell"
    markdown = [c for c in cells if c.cell_type == "markdown"]
    assert len(markdown) >= 4, f"{path.name}: too little explanation"
    assert any("lessons." in _source(c) for c in cells)
    assert any("show_figures(" in _source(c) or "plt." in _source(c) for c in cells
               if c.cell_type == "code" and "def show_figures" not in _source(c))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_use_the_shared_display_helpers(path):
    """show_figures/show_table come from steepest.report, not from a copy in each notebook."""
    sources = [_source(c) for c in _read(path).cells if c.cell_type == "code"]
    assert not any("def show_figures" in s or "def show_table" in s for s in sources)
    assert any("from steepest.report import show_figures, show_table" in s for s in sources)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_teacher_edition_runs_and_every_check_passes(path):
    notebook = _executed(path, "teacher")
    checks = [c for c in notebook.cells if "check" in _tags(c)]
    for cell in checks:
        assert "Correct" in _text(cell), f"{path.name}: {_source(cell)!r} printed {_text(cell)!r}"
    images = sum("image/png" in o.get("data", {}) for c in notebook.cells
                 if c.cell_type == "code" for o in c.outputs)
    assert images >= 1, f"{path.name}: no figure was drawn inline"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_learner_edition_checks_say_not_filled_in(path):
    notebook = _executed(path, "learner")
    checked = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        errors = _errors(cell)
        if "check" in _tags(cell):
            assert len(errors) == 1, f"{path.name}: {_source(cell)!r} did not fail"
            assert errors[0]["ename"] == "NotFilledInError", errors[0]["ename"]
            assert "you have not filled in this TODO yet" in errors[0]["evalue"]
            checked += 1
        else:
            assert not errors, (f"{path.name}: {_source(cell)[:60]!r} failed in the learner's "
                                f"edition: {errors[0]['ename']}: {errors[0]['evalue']}")
    assert checked >= 1


# ------------------------------------------------------------------------- no answer shown early
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")


def _significant_digits(text: str) -> int:
    mantissa = re.split(r"[eE]", text.lstrip("+-"))[0].replace(".", "").lstrip("0")
    return len(mantissa)


def _shows(text: str, value: float) -> bool:
    """Whether a number printed in ``text`` is ``value``, as printed with its own digits."""
    for match in _NUMBER.finditer(text):
        shown, digits = float(match.group()), _significant_digits(match.group())
        if digits >= 3 and shown != 0.0:
            exponent = int(f"{abs(shown):e}".split("e")[1])
            if abs(shown - value) <= 0.5001 * 10.0 ** (exponent - digits + 1):
                return True
        elif shown == value:
            return True
    return False


def _revealed(text: str, values: list) -> bool:
    """A scalar answer (of 3 or more significant digits) printed, or most of an array's."""
    distinct = sorted({v for v in values if v not in (0.0, 1.0, -1.0)})
    if len(values) == 1:
        v = values[0]
        return _significant_digits(repr(v)) >= 3 and _shows(text, v)
    return bool(distinct) and 2 * sum(_shows(text, v) for v in distinct) >= len(distinct)


def _answers(path: Path) -> dict:
    """name -> the teacher's solution values (flattened), from the probe cells."""
    answers = {}
    for cell in _executed(path, "teacher").cells:
        text = _text(cell) if cell.cell_type == "code" else ""
        if text.startswith(ANSWER_MARK):
            answers.update(json.loads(text[len(ANSWER_MARK):]))
    return answers


def _learner_text(cell) -> str:
    return _source(cell) if cell.cell_type == "markdown" else _text(cell)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_learner_edition_shows_no_answer_before_the_exercises_end(path):
    """No cell of the learner's edition reveals an exercise's answer before the last check.

    The answers are the teacher's solution values; a cell reveals one if its output (or, for
    markdown, its text) prints it: a scalar to its printed digits, or most of an array's
    entries. Before the last check a learner could otherwise copy the answer from a nearby
    cell (an autodiff print, a lesson table) instead of working it out.
    """
    answers = _answers(path)
    assert answers or "04_" in path.stem, f"{path.name}: no numeric answer found"
    cells = _executed(path, "learner").cells
    last_check = max(i for i, c in enumerate(cells) if "check" in _tags(c))
    for i, cell in enumerate(cells[:last_check]):
        text = _learner_text(cell)
        for name, values in answers.items():
            assert not _revealed(text, values), (
                f"{path.name}: cell {i} shows the answer {name} = {values} before the "
                f"exercises end:\n{text[:400]}")


@pytest.mark.parametrize("text, values, revealed", [
    ("J(0.2) = 1.782,  dJ/dw at 0.2 = -1.98  (autodiff)", [-1.98], True),
    ("dJ/dw at 0.2 = -1.980000", [-1.98], True),
    ("J(0.2) = 1.782", [-1.98], False),
    ("limit 1/Σx² = 1.8182.", [1.8181818181818181], True),
    ("limit 1.9", [1.8181818181818181], False),
    ("lr = 0.05", [0.05], False),                      # too short to be told from a choice
    ("[[ 6.5  5.   7.   3. ]\n [13.  10.  14.   6. ]]", [6.5, 5, 7, 3, 13, 10, 14, 6], True),
    ("prediction [15. 13. 18. 11.]", [6.5, 5, 7, 3, 13, 10, 14, 6, 19.5, 15, 21, 9], False),
])
def test_the_answer_scan_finds_printed_answers(text, values, revealed):
    assert _revealed(text, values) is revealed
