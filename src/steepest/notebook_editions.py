"""Notebook editions: the learner's (solution cells removed), the solutions, clean outputs.

Solutions live in the notebooks themselves, in cells tagged ``solution`` placed between the
TODO cell and its check cell (see :mod:`steepest.exercises`). The notebooks in the repository
are the teacher's edition: run top to bottom, every check passes. The learner's edition drops
the solution cells::

    python -m steepest.notebook_editions learner notebooks/*.ipynb -o handout/
    python -m steepest.notebook_editions solutions notebooks/03_optimization_function.ipynb
    python -m steepest.notebook_editions strip notebooks/*.ipynb [--check]   # clear outputs
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from steepest.io import write_text

__all__ = ["SOLUTION_TAG", "learner_version", "strip_outputs", "solution_sources", "main"]

SOLUTION_TAG = "solution"


def _tags(cell: dict) -> list:
    return list(cell.get("metadata", {}).get("tags", []))


def strip_outputs(notebook: dict) -> dict:
    """The notebook with every output and execution count cleared (as it is kept in git)."""
    notebook = json.loads(json.dumps(notebook))
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cell.get("metadata", {}).pop("execution", None)
    return notebook


def learner_version(notebook: dict) -> dict:
    """The learner's edition: cells tagged ``solution`` removed, outputs cleared."""
    notebook = strip_outputs(notebook)
    notebook["cells"] = [c for c in notebook["cells"] if SOLUTION_TAG not in _tags(c)]
    return notebook


def solution_sources(notebook: dict) -> list:
    """The source of every cell tagged ``solution``, in order."""
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in notebook.get("cells", []) if SOLUTION_TAG in _tags(c)]


def _read(path) -> dict:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _write(notebook: dict, path) -> None:
    write_text(path, json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def _has_outputs(notebook: dict) -> bool:
    return any(c.get("outputs") or c.get("execution_count") is not None
               for c in notebook.get("cells", []) if c.get("cell_type") == "code")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m steepest.notebook_editions",
        description="Notebook editions: the learner's (without solutions), the solutions, "
                    "clean outputs.")
    sub = parser.add_subparsers(dest="command", required=True)
    learner = sub.add_parser("learner", help="write learner editions (solution cells removed)")
    learner.add_argument("notebooks", nargs="+")
    learner.add_argument("-o", "--output", required=True, help="folder for the learner editions")
    solutions = sub.add_parser("solutions", help="print the solution cells")
    solutions.add_argument("notebooks", nargs="+")
    strip = sub.add_parser("strip", help="clear outputs in place (for committing)")
    strip.add_argument("notebooks", nargs="+")
    strip.add_argument("--check", action="store_true",
                       help="change nothing; exit 1 if a notebook has outputs")
    args = parser.parse_args(argv)

    if args.command == "learner":
        out = Path(args.output)
        out.mkdir(parents=True, exist_ok=True)
        for path in args.notebooks:
            _write(learner_version(_read(path)), out / Path(path).name)
            print(f"{out / Path(path).name}")
    elif args.command == "solutions":
        for path in args.notebooks:
            print(f"# ===== {path}")
            for i, source in enumerate(solution_sources(_read(path)), start=1):
                print(f"# --- solution {i}\n{source}\n")
    else:
        dirty = []
        for path in args.notebooks:
            notebook = _read(path)
            if _has_outputs(notebook):
                dirty.append(path)
                if not args.check:
                    _write(strip_outputs(notebook), path)
        if args.check:
            if dirty:
                print("notebooks with outputs: " + ", ".join(dirty), file=sys.stderr)
                return 1
        else:
            for path in dirty:
                print(f"stripped {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
