"""A sweep's records: one :class:`Run` per config, a :class:`SweepResult`, and the rule that
picks the best learning rate per optimizer from them (which the report's plots use too)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Run", "SweepResult", "STATUSES", "config_key", "summary_rows", "best_points",
           "group_records", "metric_of", "finite_metric"]

STATUSES = ("ok", "diverged", "failed")


#: settings that change how a run is computed, never its numbers (st.compile replays the
#: eager step bit for bit): not part of a run's identity, so a resumed sweep may switch them
_NOT_IDENTITY = frozenset({"compile"})


def config_key(config: Mapping) -> str:
    """The identity of a run: its config as canonical JSON (sorted keys, no spaces), without
    the settings that leave its numbers alone (``compile``)."""
    config = {k: v for k, v in config.items() if k not in _NOT_IDENTITY}
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=repr)


def _json_number(value):
    """A float for JSON: non-finite numbers (a diverged loss) become None."""
    value = float(value)
    return value if math.isfinite(value) else None


@dataclass
class Run:
    """One point of a sweep and what came of it.

    ``final`` holds each metric's last value (``loss``, ``accuracy``, ``val_loss`` ...),
    ``best`` each metric's best epoch value (lowest loss, highest accuracy), ``seconds`` the
    wall time of ``train_fn`` on its worker, ``attempts`` how many times it was started.
    """

    config: dict
    status: str
    final: dict = field(default_factory=dict)
    best: dict = field(default_factory=dict)
    history: object = None
    seconds: float = 0.0
    error: str | None = None
    attempts: int = 1

    @property
    def key(self) -> str:
        return config_key(self.config)

    def to_json(self) -> dict:
        """A strict-JSON dict (non-finite numbers become null)."""
        return {"key": self.key, "config": self.config, "status": self.status,
                "final": {k: _json_number(v) for k, v in self.final.items()},
                "best": {k: _json_number(v) for k, v in self.best.items()},
                "seconds": self.seconds, "attempts": self.attempts, "error": self.error,
                "history": self.history.to_dict() if self.history is not None else None}

    @classmethod
    def from_json(cls, data: Mapping) -> "Run":
        """The Run of a :meth:`to_json` record; ValueError naming what is wrong with one that
        is not such a record (a line of runs.jsonl edited or written by something else)."""
        from steepest.training import History

        _check_record(data)

        def numbers_of(d):
            return {k: math.nan if v is None else float(v) for k, v in (d or {}).items()}
        history = data.get("history")
        return cls(config=dict(data["config"]), status=data["status"],
                   final=numbers_of(data.get("final")), best=numbers_of(data.get("best")),
                   history=History.from_dict(history) if history is not None else None,
                   seconds=float(data.get("seconds") or 0.0), error=data.get("error"),
                   attempts=int(data.get("attempts") or 1))


def _json_kind(value) -> str:
    """What a JSON value is, in JSON's words."""
    if value is None:
        return "null"
    for kinds, name in ((bool, "true/false"), ((int, float), "number"), (str, "string"),
                        (list, "array"), (Mapping, "object")):
        if isinstance(value, kinds):
            return name
    return type(value).__name__


def _number_or_null(value) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _check_record(data) -> None:
    """Raise ValueError naming the first field that keeps ``data`` from being a run record."""
    def wrong(field, value, expected):
        raise ValueError(f"its {field} is {_json_kind(value)} {json.dumps(value)[:40]}, "
                         f"not {expected}")
    if not isinstance(data, Mapping):
        raise ValueError(f"it is a JSON {_json_kind(data)}, not an object")
    if not isinstance(data.get("config"), Mapping):
        wrong('"config"', data.get("config"), "an object of settings")
    if data.get("status") not in STATUSES:
        wrong('"status"', data.get("status"), " or ".join(map(repr, STATUSES)))
    for name in ("final", "best"):
        value = data.get(name)
        if value is not None and not (isinstance(value, Mapping)
                                      and all(map(_number_or_null, value.values()))):
            wrong(f'"{name}"', value, "an object of numbers")
    for name, fits, expected in (
            ("seconds", _number_or_null, "a number"),
            ("attempts", lambda v: v is None or (isinstance(v, int) and
                                                 not isinstance(v, bool) and v >= 1),
             "a whole number >= 1"),
            ("error", lambda v: v is None or isinstance(v, str), "a string")):
        if not fits(data.get(name)):
            wrong(f'"{name}"', data.get(name), expected)
    history = data.get("history")
    if history is None:
        return
    if not isinstance(history, Mapping):
        wrong('"history"', history, "an object (a History's to_dict)")
    columns = history.get("history", {})
    if not isinstance(columns, Mapping) or not all(
            isinstance(v, list) and all(map(_number_or_null, v)) for v in columns.values()):
        wrong('"history"."history"', columns, "an object of lists of numbers")
    epochs = history.get("epoch", [])
    if not isinstance(epochs, list) or not all(
            isinstance(e, int) and not isinstance(e, bool) for e in epochs):
        wrong('"history"."epoch"', epochs, "a list of whole numbers")
    for name, kind, expected in (("params", Mapping, "an object"),
                                 ("diagnosis", list, "a list")):
        if history.get(name) is not None and not isinstance(history[name], kind):
            wrong(f'"history"."{name}"', history[name], expected)


class SweepResult(Sequence):
    """The records of a sweep in grid order (a sequence of :class:`Run`), plus summaries."""

    def __init__(self, runs, seconds: float = 0.0, executed: int = 0):
        self.runs = list(runs)
        self.seconds = seconds      # wall time of this call
        self.executed = executed    # runs executed by this call (the rest came from out/)

    def __getitem__(self, index):
        return self.runs[index]

    def __len__(self) -> int:
        return len(self.runs)

    def counts(self) -> dict:
        """``{'ok': n, 'diverged': n, 'failed': n}``."""
        return {s: sum(r.status == s for r in self.runs) for s in STATUSES}

    def best_rates(self, by: str = "optimizer", x: str = "lr", metric: str | None = None):
        """``{group: x}``: per value of ``by``, the ``x`` with the best median ``metric``.

        See :func:`best_points` (the rule the report's plots use too).
        """
        return {group: point["x"] for group, point in
                best_points([r.to_json() for r in self.runs], by, x, metric).items()}

    def to_rows(self) -> list:
        """One flat dict per run: config, status, final metrics, seconds, attempts, error."""
        return summary_rows(self.runs)

    def __repr__(self) -> str:
        counts = ", ".join(f"{k} {v}" for k, v in self.counts().items())
        return f"SweepResult({len(self)} runs: {counts})"


def _metric_better(name: str):
    """max for accuracies, min for everything else (losses, errors)."""
    return max if "acc" in name else min


def summary_rows(runs) -> list:
    rows = []
    for r in runs:
        row = {k: (",".join(map(str, v)) if isinstance(v, list) else v)
               for k, v in r.config.items()}
        row["status"] = r.status
        row.update({f"final_{k}": v for k, v in r.final.items()})
        row.update(seconds=round(r.seconds, 4), attempts=r.attempts, error=r.error or "")
        rows.append(row)
    return rows


def finite_metric(value) -> bool:
    """A recorded metric that is a number, not None (a diverged run's null) nor inf/nan."""
    return value is not None and math.isfinite(value)


def metric_of(records, *names):
    """The first of ``names`` that some record has among its final metrics, else None."""
    return next((n for n in names if any(n in r["final"] for r in records)), None)


def group_records(records, by="optimizer", x="lr") -> dict:
    """``{group: {x: [records]}}``, groups in order of appearance, x values sorted."""
    groups: dict = {}
    for r in records:
        groups.setdefault(r["config"].get(by), {}).setdefault(r["config"].get(x), []).append(r)
    return {g: dict(sorted(v.items())) for g, v in groups.items()}


def best_points(records, by="optimizer", x="lr", metric=None) -> dict:
    """Per group, the ``x`` with the best median ``metric`` over the runs there.

    Only an ``x`` where every run finished ``ok`` counts (a rate at which a seed diverges is
    not a good rate). ``metric`` defaults to ``val_loss`` if recorded, else ``loss``; lower is
    better unless the name contains 'acc'. Returns ``{group: {'x', 'metric', 'median',
    'edge'}}``; ``edge`` is ``'low'`` or ``'high'`` when the best ``x`` is the smallest or
    largest tried in its group (the best may lie beyond the grid: widen it), else None.
    """
    records = list(records)
    metric = metric or metric_of(records, "val_loss", "loss")
    better = max if metric and "acc" in metric else min
    best = {}
    for group, by_x in group_records(records, by, x).items():
        candidates = []
        for value, runs in by_x.items():
            scores = [r["final"].get(metric) for r in runs]
            if all(r["status"] == "ok" for r in runs) and all(map(finite_metric, scores)):
                candidates.append((float(np.median(scores)), value))
        if candidates:
            median, value = better(candidates, key=lambda c: c[0])
            tried = list(by_x)  # sorted
            edge = None if len(tried) < 2 else \
                "low" if value == tried[0] else "high" if value == tried[-1] else None
            best[group] = {"x": value, "metric": metric, "median": median, "edge": edge}
    return best
