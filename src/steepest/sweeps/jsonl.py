"""A sweep's files: ``runs.jsonl`` (one record per finished run, appended whole) and
``summary.csv`` (one row per run)."""

from __future__ import annotations

import csv
import io
import json
import os

from steepest.io import write_text
from steepest.sweeps.records import Run, summary_rows

__all__ = ["read_runs", "write_summary", "RUNS_FILE", "SUMMARY_FILE"]

RUNS_FILE = "runs.jsonl"
SUMMARY_FILE = "summary.csv"


def read_runs(path) -> dict:
    """``{key: Run}`` from a runs.jsonl file; a later line for the same config wins.

    A line that is not a complete JSON record (the machine died while writing it) is skipped.
    """
    runs = {}
    if not os.path.exists(path):
        return runs
    with open(path, "rb") as fh:
        for line in fh:
            try:
                data = json.loads(line)
                run = Run.from_json(data)
            except (ValueError, KeyError, TypeError):
                continue
            runs[run.key] = run
    return runs


def _append_line(path, record: dict) -> None:
    """Append one JSON line with a single write, then fsync: a reader sees whole lines only."""
    line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size and _last_byte(path) != b"\n":
            line = b"\n" + line  # end a torn last line first, so this record stays whole
        written = os.write(fd, line)
        if written != len(line):  # pragma: no cover - regular files take the whole buffer
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
        os.fsync(fd)
    finally:
        os.close(fd)


def _last_byte(path) -> bytes:
    with open(path, "rb") as fh:
        fh.seek(-1, os.SEEK_END)
        return fh.read(1)


def write_summary(path, runs) -> None:
    """One CSV row per run (config columns, status, final metrics, seconds, attempts, error)."""
    rows = summary_rows(runs)
    columns = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    write_text(path, text.getvalue())
