"""The course notebooks: stored clean, solvable (teacher's edition), helpful when unsolved.

Each notebook is executed twice with nbclient:

* teacher's edition (as stored, solution cells kept): runs top to bottom without an error,
  every check cell prints its confirmation, and the lessons' figures appear inline;
* learner's edition (``steepest.exercises.learner_version``: cells tagged ``solution``
  removed): every check cell fails with ``NotFilledInError`` ("you have not filled in this
  TODO yet"), not a NameError, and no other cell fails.
"""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

from steepest.exercises import SOLUTION_TAG, learner_version  # noqa: E402

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
                f"{path.name}: outputs are stored; run python -m steepest.exercises strip"


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
    notebook = _execute(_read(path), allow_errors=False)
    checks = [c for c in notebook.cells if "check" in _tags(c)]
    for cell in checks:
        assert "Correct" in _text(cell), f"{path.name}: {_source(cell)!r} printed {_text(cell)!r}"
    images = sum("image/png" in o.get("data", {}) for c in notebook.cells
                 if c.cell_type == "code" for o in c.outputs)
    assert images >= 1, f"{path.name}: no figure was drawn inline"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_learner_edition_checks_say_not_filled_in(path):
    learner = nbformat.from_dict(learner_version(_read(path)))
    assert not any(SOLUTION_TAG in _tags(c) for c in learner.cells)
    notebook = _execute(learner, allow_errors=True)
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
