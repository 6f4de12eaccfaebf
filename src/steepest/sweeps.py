"""Sweeps: every point of a grid (learning rate x optimizer x seed ...) trained in parallel.

::

    result = st.sweep(st.sweep_mlp, {"data": ["moons"], "optimizer": ["sgd", "adam"],
                                     "lr": st.log_range(1e-3, 1, 7), "seed": [0, 1, 2]})
    result.best_rates()        # {'adam': 0.01, 'sgd': 1.0}: best median validation loss

:func:`sweep` calls ``train_fn(**config)`` for each config, on any
:class:`concurrent.futures.Executor`: a local process pool sized to the cores by default,
:class:`SerialExecutor` in this process, or a Dask cluster through :func:`dask_executor`
(``Client(address).get_executor()``: Dask schedules, retries lost tasks and moves the data;
nothing here is a scheduler of its own). A run's result depends on its config only (seeds
come from the config), so any executor and any number of workers give the same records.

Each run becomes a :class:`Run` record: config, status (``'ok'``, ``'diverged'``: the loss
became NaN/inf or :class:`~steepest.train.DivergenceError` was raised; ``'failed'``: it
raised, with the error text), final and best metrics, history, wall time and attempts. A run
that raises or diverges is recorded and the sweep goes on. A worker process that dies
mid-run (SIGKILL, out of memory) breaks a process pool: the pool is rebuilt, the runs that
had not finished are resubmitted, and each run that was executing when a worker died is
retried once, alone, so that a run which kills its worker every time is recorded
``'failed'`` without taking the others with it.

With ``out``, every finished run is appended to ``out/runs.jsonl`` (one JSON object per line,
written with a single ``write`` and fsync-ed), and a rerun skips the configs already there:
a sweep interrupted by Ctrl-C or a lost machine resumes where it stopped.
``out/summary.csv`` has one row per run.

``st.sweep`` is the function and ``steepest.sweeps`` this module (named apart, so that
``import steepest.sweeps`` and ``mock.patch("steepest.sweeps.x")`` reach the module).
"""

from __future__ import annotations

import csv
import inspect
import io
import itertools
import json
import math
import numbers
import os
import pickle
import sys
import tempfile
import time
import traceback
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import (
    FIRST_COMPLETED, BrokenExecutor, Executor, Future, ProcessPoolExecutor, wait,
)
from dataclasses import dataclass, field

import numpy as np

__all__ = ["sweep", "Run", "SweepResult", "SerialExecutor", "dask_executor", "expand_grid",
           "log_range", "parse_lr", "sweep_mlp", "check_mlp_config", "read_runs",
           "OPTIMIZERS", "STATUSES", "add_sweep_arguments", "sweep_cli"]

STATUSES = ("ok", "diverged", "failed")
RUNS_FILE = "runs.jsonl"
SUMMARY_FILE = "summary.csv"


# --------------------------------------------------------------------------- records

def config_key(config: Mapping) -> str:
    """The identity of a run: its config as canonical JSON (sorted keys, no spaces)."""
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
        from steepest.training import History

        def numbers_of(d):
            return {k: math.nan if v is None else float(v) for k, v in (d or {}).items()}
        history = data.get("history")
        return cls(config=dict(data["config"]), status=data["status"],
                   final=numbers_of(data.get("final")), best=numbers_of(data.get("best")),
                   history=History.from_dict(history) if history is not None else None,
                   seconds=float(data.get("seconds") or 0.0), error=data.get("error"),
                   attempts=int(data.get("attempts") or 1))


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

        See :func:`steepest.report.sweep_page.best_points` (the rule the plots use too).
        """
        from steepest.report.sweep_page import best_points

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


# --------------------------------------------------------------------------- grids

def log_range(low: float, high: float, count: int) -> list:
    """``count`` log-spaced numbers from ``low`` to ``high`` (both included), 10 digits each.

    Rounded to 10 significant digits so that the same range gives the same numbers (and so
    the same run keys for resuming) on every machine.
    """
    if not (isinstance(count, numbers.Integral) and not isinstance(count, bool) and count >= 1):
        raise ValueError(f"log_range: count must be a whole number >= 1, got {count!r}")
    for name, value in (("low", low), ("high", high)):
        if not (isinstance(value, numbers.Real) and math.isfinite(value) and value > 0):
            raise ValueError(f"log_range: {name} must be a finite number > 0, got {value!r}")
    if count == 1 and low != high:
        raise ValueError(f"log_range: one value cannot span {low:g} to {high:g}; give a "
                         f"count >= 2 or equal ends")
    if low > high:
        raise ValueError(f"log_range: low ({low:g}) must not exceed high ({high:g})")
    values = np.logspace(math.log10(low), math.log10(high), int(count))
    return [float(f"{v:.10g}") for v in values]


def parse_lr(text: str) -> list:
    """Learning rates from text: ``'1e-3:1:13'`` (13 log-spaced from 1e-3 to 1),
    ``'0.01,0.1'`` (a list) or ``'0.1'``. Every rate must be a finite number > 0."""
    cleaned = text.strip()
    if ":" in cleaned:
        parts = cleaned.split(":")
        if len(parts) != 3:
            raise ValueError(f"a learning-rate range is LOW:HIGH:COUNT, e.g. 1e-3:1:13; got "
                             f"{text!r}")
        try:
            low, high = float(parts[0]), float(parts[1])
            count = int(parts[2])
        except ValueError:
            raise ValueError(f"a learning-rate range is LOW:HIGH:COUNT with numbers LOW, HIGH "
                             f"and a whole COUNT, e.g. 1e-3:1:13; got {text!r}") from None
        return log_range(low, high, count)
    rates = []
    for part in cleaned.split(","):
        try:
            rate = float(part)
        except ValueError:
            raise ValueError(f"expected learning rates such as 0.01,0.1 or a range such as "
                             f"1e-3:1:13, got {text!r}") from None
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"learning rates must be finite numbers > 0, got {part.strip()}")
        rates.append(rate)
    return rates


def expand_grid(grid=None, configs=None) -> list:
    """The configs of a sweep: the cartesian product of ``grid`` then the explicit ``configs``.

    ``grid`` maps each setting to a non-empty list of values (``{'lr': [0.01, 0.1],
    'seed': [0, 1]}``; a value that is itself a list, such as hidden sizes, goes inside a
    list: ``'hidden': [[16, 16]]``); the product runs with the last setting changing fastest.
    ``configs`` is a list of dicts added as they are. A config that appears twice is an error.
    """
    points = []
    if grid is not None:
        if not isinstance(grid, Mapping):
            raise ValueError(f"grid must map setting names to lists of values, got "
                             f"{type(grid).__name__}")
        names = list(grid)
        for name in names:
            values = grid[name]
            if not isinstance(name, str):
                raise ValueError(f"grid setting names must be strings, got {name!r}")
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
                raise ValueError(f"grid[{name!r}] must be a list of values, got {values!r} "
                                 f"(write [{values!r}] for a single value)")
            if len(values) == 0:
                raise ValueError(f"grid[{name!r}] is an empty list: a sweep over it has no runs")
        points += [dict(zip(names, combo)) for combo in
                   itertools.product(*(grid[name] for name in names))]
    for i, config in enumerate(configs or ()):
        if not isinstance(config, Mapping):
            raise ValueError(f"configs[{i}] must be a dict of settings, got {config!r}")
        points.append(dict(config))
    if not points:
        raise ValueError("the sweep has no runs: give a grid with values or explicit configs")
    seen = {}
    for i, config in enumerate(points):
        key = config_key(config)
        if key in seen:
            raise ValueError(f"config {config} appears twice in the sweep (runs {seen[key]} "
                             f"and {i}); each run must differ in some setting, e.g. the seed")
        seen[key] = i
    return points


# --------------------------------------------------------------------------- executors

class SerialExecutor(Executor):
    """Runs each submitted call at once, in this process (for debugging and comparisons)."""

    def submit(self, fn, /, *args, **kwargs):
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # noqa: B036 - delivered through the future
            future.set_exception(error)
        return future


def default_workers() -> int:
    """The number of cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def dask_executor(address: str = "local", *, workers: int | None = None):
    """A :class:`concurrent.futures.Executor` on a Dask cluster: ``Client(address).get_executor()``.

    ``address`` is a scheduler address such as ``'tcp://10.0.0.5:8786'`` (start one with
    ``dask scheduler`` and ``dask worker ADDRESS --nthreads 1`` on each machine), or
    ``'local'`` for a ``LocalCluster`` of ``workers`` single-threaded processes on this
    machine. Shutting the executor down (``with dask_executor(...) as ex:`` or
    ``ex.shutdown()``) closes the client and the local cluster. Needs ``dask[distributed]``
    (``pip install 'steepest[dask]'``). Tasks are submitted with ``pure=False``, so that a
    retried run is computed again rather than looked up.
    """
    try:
        from distributed import Client, LocalCluster
        from distributed.cfexecutor import ClientExecutor
    except ImportError as error:
        raise ImportError(f"a Dask executor needs dask.distributed ({error}); install it with "
                          f"pip install 'steepest[dask]'") from None
    if not isinstance(address, str) or not address.strip():
        raise ValueError(f"address must be 'local' or a scheduler address such as "
                         f"tcp://host:8786, got {address!r}")
    cluster = None
    if address == "local":
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                               processes=True, dashboard_address=None)
        client = Client(cluster)
    else:
        if "://" not in address and ":" not in address:
            raise ValueError(f"a scheduler address looks like tcp://host:8786, got {address!r}")
        client = Client(address, timeout="15s")

    class DaskExecutor(ClientExecutor):
        def shutdown(self, wait=True, **kwargs):
            try:
                super().shutdown(wait=wait)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()

    executor = DaskExecutor(client, pure=False)
    executor.client = client
    return executor


# --------------------------------------------------------------------------- running

def _one_line_error(error: BaseException, where: bool = True) -> str:
    """``'Type: message (at file.py:line)'``: what went wrong and where, without a traceback."""
    text = " ".join(str(error).split()) or "(no message)"
    frames = traceback.extract_tb(error.__traceback__) if where else None
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno})" if frames else ""
    return f"{type(error).__name__}: {text}{where}"


def _summarise_history(history) -> tuple:
    """(final, best) metric values of a History (learning rate and gradient norms left out)."""
    final, best = {}, {}
    for name, values in history.history.items():
        if name == "lr" or name.startswith("grad_norm/") or not values:
            continue
        final[name] = float(values[-1])
        finite = [v for v in values if math.isfinite(v)]
        best[name] = float(_metric_better(name)(finite)) if finite else math.nan
    return final, best


def _execute(train_fn, config: dict, marker: str | None) -> dict:
    """Run one config on a worker; always returns a plain dict (nothing raised, all picklable)."""
    from steepest.training import DivergenceError, History

    if marker is not None:
        with open(marker, "w") as fh:  # 'this run started here': how a lost worker's run is found
            fh.write(str(os.getpid()))
    start = time.perf_counter()
    history, error, status = None, None, "ok"
    try:
        result = train_fn(**config)
    except DivergenceError as exc:
        status, error, history = "diverged", _one_line_error(exc, where=False), exc.history
        final, best = _summarise_history(history) if history is not None else ({}, {})
    except Exception as exc:  # noqa: BLE001 - a failing run is recorded, the sweep goes on
        status, error, final, best = "failed", _one_line_error(exc), {}, {}
    else:
        if isinstance(result, History):
            history = result
            final, best = _summarise_history(result)
        elif isinstance(result, Mapping):
            try:
                final, best = {str(k): float(v) for k, v in result.items()}, {}
            except (TypeError, ValueError):
                status, final, best = "failed", {}, {}
                error = f"train_fn returned a dict whose values are not all numbers: {result!r}"
        else:
            status, final, best = "failed", {}, {}
            error = (f"train_fn must return a History or a dict of final metrics, got "
                     f"{type(result).__name__}")
        bad = [k for k, v in final.items() if "loss" in k and not math.isfinite(v)]
        if status == "ok" and bad:
            status, error = "diverged", f"final {bad[0]} is {final[bad[0]]}"
    return {"status": status, "final": final, "best": best, "error": error,
            "history": history.to_dict() if history is not None else None,
            "seconds": time.perf_counter() - start}


def _process_pool(workers: int) -> ProcessPoolExecutor:
    """A local pool whose workers die quietly on SIGTERM (the default action), whatever
    handler the parent process installed before forking them."""
    return ProcessPoolExecutor(workers, initializer=_default_sigterm)


def _default_sigterm() -> None:
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_DFL)


class _Pool:
    """The executor a sweep runs on; a broken process pool is replaced by a new one."""

    def __init__(self, executor, workers):
        self.given = executor
        self.workers = workers or default_workers()
        self.executor = executor if executor is not None else _process_pool(self.workers)
        self.markers = tempfile.mkdtemp(prefix="steepest-sweep-") \
            if isinstance(self.executor, ProcessPoolExecutor) else None

    def marker(self, index: int) -> str | None:
        """The file a process-pool worker creates when it starts run ``index``."""
        return os.path.join(self.markers, str(index)) if self.markers else None

    def started(self, index: int) -> bool:
        return self.markers is not None and os.path.exists(self.marker(index))

    def rebuild(self) -> None:
        """Shut the broken pool down (its workers are gone after this) and start a new one."""
        if self.markers is None:
            raise RuntimeError("the executor broke and cannot be rebuilt; rerun the sweep "
                               "to resume it")
        workers = getattr(self.executor, "_max_workers", self.workers)
        self.executor.shutdown(wait=True)
        self.executor = _process_pool(workers)

    def close(self, cancel: bool = False) -> None:
        if self.executor is not self.given:
            if cancel:  # interrupted: stop the runs in progress too, leave no worker behind
                for process in list((getattr(self.executor, "_processes", None) or {}).values()):
                    process.terminate()
            self.executor.shutdown(wait=not cancel, cancel_futures=cancel)
        if self.markers:
            for name in os.listdir(self.markers):
                os.unlink(os.path.join(self.markers, name))
            os.rmdir(self.markers)


def _run_all(train_fn, configs: dict, pool: _Pool, retries: int, on_run) -> None:
    """Run ``configs`` ({index: config}) on ``pool``; ``on_run(index, Run)`` as each finishes.

    Worker loss: a future that fails on its own (Dask gave up on a task after losing its
    workers) is resubmitted up to ``retries`` times, then recorded failed. A broken process
    pool fails every future it had; the runs that had started (their marker file exists) are
    suspects: each is retried alone (nothing else in flight, so a second break is its own
    doing) up to ``retries`` times; runs that had not started go back to the queue at no cost.
    """
    from steepest.training import History

    queue = deque(sorted(configs))
    alone: deque = deque()
    lost = dict.fromkeys(configs, 0)
    in_flight: dict = {}

    def finish(index, payload):
        history = payload.pop("history")
        on_run(index, Run(dict(configs[index]), attempts=lost[index] + 1,
                          history=History.from_dict(history) if history else None, **payload))

    def lose(index, reason, retry_queue):
        lost[index] += 1
        if lost[index] > retries:
            on_run(index, Run(dict(configs[index]), "failed", error=reason,
                              attempts=lost[index]))
        else:
            retry_queue.appendleft(index)

    def submit(source: deque) -> bool:
        """Submit the next run of ``source``; False (the run put back) if the pool is broken."""
        index = source.popleft()
        marker = pool.marker(index)
        if marker and os.path.exists(marker):
            os.unlink(marker)
        try:
            future = pool.executor.submit(_execute, train_fn, configs[index], marker)
        except BrokenExecutor:
            source.appendleft(index)
            return False
        in_flight[future] = index
        return True

    while queue or alone or in_flight:
        broken = False
        if alone:
            if not in_flight:
                broken = not submit(alone)
        else:
            while queue and not broken:
                broken = not submit(queue)
        if in_flight and not broken:
            wait(list(in_flight), return_when=FIRST_COMPLETED)
        for future in [f for f in in_flight if f.done() or broken]:
            try:
                payload = future.result()
            except BrokenExecutor:
                broken = True  # the others of this pool fail too; handled below
                continue
            except Exception as error:  # noqa: BLE001 - the worker, not the run, failed
                index = in_flight.pop(future)
                lose(index, f"worker lost {lost[index] + 1} times; last: "
                            f"{_one_line_error(error)}", queue)
                continue
            finish(in_flight.pop(future), payload)
        if broken:
            victims = []
            for future, index in list(in_flight.items()):
                try:
                    finish(index, future.result())  # it finished just before the break
                except BrokenExecutor:
                    victims.append(index)
            in_flight.clear()
            pool.rebuild()  # the old workers are gone now, so the markers are final
            for index in sorted(victims, reverse=True):
                if pool.started(index):
                    lose(index, f"the worker process running it died {lost[index] + 1} times "
                                f"(killed, e.g. by SIGKILL or out of memory)", alone)
                else:
                    queue.appendleft(index)


# --------------------------------------------------------------------------- runs.jsonl

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
    from steepest.training.checkpoint import atomic_write

    rows = summary_rows(runs)
    columns = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = text.getvalue().encode("utf-8")
    atomic_write(path, lambda fh: fh.write(data))


# --------------------------------------------------------------------------- sweep

def sweep(train_fn, grid=None, *, configs=None, executor: Executor | None = None,
          workers: int | None = None, out=None, retries: int = 1, retry_failed: bool = False,
          check=None, progress=False, callback=None) -> SweepResult:
    """Run ``train_fn(**config)`` for every config of the grid, in parallel; return the records.

    Parameters
    ----------
    train_fn : callable
        Takes a config's settings as keyword arguments and returns a
        :class:`~steepest.History` (from :func:`steepest.fit`) or a dict of final metrics.
        To run in worker processes it must be importable (a module-level function). Take
        every seed from the config: then a run's result does not depend on where it ran.
    grid : dict of lists, optional
        The cartesian product of these settings (see :func:`expand_grid`).
    configs : list of dicts, optional
        Explicit configs, run after the grid's.
    executor : concurrent.futures.Executor, optional
        Where to run: default a local process pool of ``workers`` processes (default: the
        cores), :class:`SerialExecutor` for this process, :func:`dask_executor` for Dask. A
        given executor is not shut down.
    out : path, optional
        Directory for ``runs.jsonl`` (appended to as runs finish; configs already there are
        skipped, so rerunning resumes) and ``summary.csv``.
    retries : int
        How many times a run whose worker died is retried before it is recorded failed.
    retry_failed : bool
        With ``out``: run again the configs recorded as failed (not those that diverged).
    check : callable, optional
        ``check(config)`` raises ValueError for a bad config; every config is checked before
        anything runs. Default: ``train_fn.check_config`` if it has one (:func:`sweep_mlp`).
    progress : bool or None
        A tqdm bar over runs (None: only on a terminal).
    callback : callable, optional
        ``callback(run)`` in this process as each run finishes (after it is saved).

    Returns
    -------
    SweepResult
        The :class:`Run` records in grid order.
    """
    from steepest.data import _check_int

    retries = _check_int("retries", retries, 0)
    if workers is not None:
        workers = _check_int("workers", workers, 1)
    if not callable(train_fn):
        raise TypeError(f"train_fn must be callable, got {type(train_fn).__name__}")
    points = expand_grid(grid, configs)
    check = check if check is not None else getattr(train_fn, "check_config", None)
    if check is not None:
        for config in points:
            check(config)
    if executor is None or isinstance(executor, ProcessPoolExecutor):
        try:
            pickle.dumps(train_fn)
        except Exception as error:  # noqa: BLE001 - any pickling failure means the same
            raise ValueError(f"train_fn {getattr(train_fn, '__qualname__', train_fn)!r} cannot "
                             f"be sent to worker processes ({error}); define it at module "
                             f"level, or pass executor=SerialExecutor()") from None
    runs_path = None
    done: dict = {}
    if out is not None:
        for config in points:
            try:
                json.dumps(config, allow_nan=False)
            except (TypeError, ValueError) as error:
                raise ValueError(f"with out=, configs must be plain JSON (numbers, strings, "
                                 f"lists): {config!r} is not ({error})") from None
        os.makedirs(out, exist_ok=True)
        runs_path = os.path.join(out, RUNS_FILE)
        done = read_runs(runs_path)
    records: list = [None] * len(points)
    todo = {}
    for index, config in enumerate(points):
        previous = done.get(config_key(config))
        if previous is not None and not (retry_failed and previous.status == "failed"):
            records[index] = previous
        else:
            todo[index] = config

    from tqdm.auto import tqdm

    bar = tqdm(total=len(points), initial=len(points) - len(todo), unit="run", desc="sweep",
               disable=None if progress is None else not progress, dynamic_ncols=True)
    counts = dict.fromkeys(STATUSES, 0)

    def on_run(index, run):
        records[index] = run
        if runs_path is not None:
            _append_line(runs_path, run.to_json())
        counts[run.status] += 1
        bar.set_postfix(counts, refresh=False)
        bar.update(1)
        if callback is not None:
            callback(run)

    start = time.perf_counter()
    pool = _Pool(executor, workers) if todo else None
    interrupted = True
    try:
        if todo:
            _run_all(train_fn, todo, pool, retries, on_run)
        interrupted = False
    finally:
        bar.close()
        if pool is not None:
            pool.close(cancel=interrupted)
    result = SweepResult(records, time.perf_counter() - start, len(todo))
    if out is not None:
        write_summary(os.path.join(out, SUMMARY_FILE), result)
    return result


# --------------------------------------------------------------------------- an MLP run

#: Optimizer names a config may use: (class name in st.optim, default keyword arguments).
OPTIMIZERS = {
    "gd": ("GD", {}),
    "sgd": ("SGD", {}),
    "momentum": ("SGD", {"momentum": 0.9}),
    "nesterov": ("SGD", {"momentum": 0.9, "nesterov": True}),
    "rmsprop": ("RMSprop", {}),
    "adam": ("Adam", {}),
    "adamw": ("AdamW", {}),
    "adagrad": ("Adagrad", {}),
}
#: learning rate when none is given; also ``steepest train``'s, so a run equals a train run
DEFAULT_LR = {"gd": 0.1, "sgd": 0.1, "momentum": 0.01, "nesterov": 0.01, "rmsprop": 1e-3,
              "adam": 1e-2, "adamw": 1e-2, "adagrad": 1e-2}


def sweep_mlp(*, data: str, optimizer: str = "adam", lr: float | None = None, seed: int = 0,
              epochs: int = 30, hidden=None, activation: str = "relu", batch_size: int = 32,
              n_samples: int | None = None, noise: float | None = None,
              val_split: float = 0.2, standardize: bool = True, momentum: float | None = None,
              weight_decay: float | None = None, clip_grad_norm: float | None = None):
    """Train an MLP classifier as ``steepest train`` does; the ``train_fn`` of ``steepest sweep``.

    ``seed`` drives the data (generated sets), the validation split, the initial weights and
    the shuffling, so the result is a function of the settings alone. The initial weights come
    from ``st.Generator().manual_seed(seed)``, the stream ``st.manual_seed(seed)`` starts, so a
    run equals ``steepest train`` with the same options. Returns the :class:`~steepest.History`.
    """
    import steepest as st

    check_mlp_config({k: v for k, v in locals().items() if k != "st"})
    kwargs = {k: v for k, v in (("n_samples", n_samples), ("noise", noise)) if v is not None}
    if data != "digits":
        kwargs["seed"] = seed
    X, y = st.data.load_dataset(data, **kwargs)
    X_train, X_val, y_train, y_val = st.data.train_test_split(X, y, test_size=val_split,
                                                              seed=seed, stratify=True)
    if standardize:
        scaler = st.data.Standardizer().fit(X_train)
        X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    if hidden is None:
        hidden = [128] if data == "digits" else [16, 16]
    sizes = [X.shape[1], *hidden, int(np.max(y)) + 1]
    model = st.nn.mlp(sizes, activation=activation, generator=st.Generator().manual_seed(seed))
    name, defaults = OPTIMIZERS[optimizer]
    options = dict(defaults, lr=lr if lr is not None else DEFAULT_LR[optimizer])
    if momentum is not None:
        options["momentum"] = momentum
    if weight_decay is not None:
        options["weight_decay"] = weight_decay
    opt = getattr(st.optim, name)(model.parameters(), **options)
    return st.fit(model, st.losses.cross_entropy, opt, X_train, y_train, epochs=epochs,
                  batch_size=batch_size, validation_data=(X_val, y_val), seed=seed, verbose=0,
                  clip_grad_norm=clip_grad_norm)


def check_mlp_config(config: Mapping) -> None:
    """Raise ValueError naming the setting if ``config`` is not something :func:`sweep_mlp` runs."""
    from steepest.data import DATASET_NAMES
    from steepest.nn import ACTIVATION_MODULES

    known = set(inspect.signature(sweep_mlp).parameters)
    unknown = sorted(set(config) - known)
    if unknown:
        raise ValueError(f"unknown setting {unknown[0]!r} in {dict(config)}; sweep_mlp takes "
                         f"{', '.join(sorted(known))}")
    if config.get("data") not in DATASET_NAMES:
        raise ValueError(f"data must be one of {', '.join(DATASET_NAMES)}, got "
                         f"{config.get('data')!r}")
    optimizer = config.get("optimizer", "adam")
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; expected one of "
                         f"{', '.join(OPTIMIZERS)}")
    activation = config.get("activation", "relu")
    if activation not in ACTIVATION_MODULES:
        raise ValueError(f"unknown activation {activation!r}; expected one of "
                         f"{', '.join(sorted(ACTIVATION_MODULES))}")

    def number(name, low, *, low_open=True, high=None, integer=False, none_ok=True):
        value = config.get(name)
        if value is None and none_ok:
            return
        kind = numbers.Integral if integer else numbers.Real
        ok = isinstance(value, kind) and not isinstance(value, bool) and math.isfinite(value) \
            and (value > low if low_open else value >= low) and (high is None or value < high)
        if not ok:
            bound = f"{'>' if low_open else '>='} {low:g}" + (f" and < {high:g}" if high else "")
            raise ValueError(f"{name} must be a {'whole ' if integer else ''}number {bound}, "
                             f"got {value!r}")

    number("lr", 0.0)
    number("seed", 0, low_open=False, integer=True)
    number("epochs", 1, low_open=False, integer=True)
    number("batch_size", 1, low_open=False, integer=True)
    number("n_samples", 2, low_open=False, integer=True)
    number("noise", 0.0, low_open=False)
    number("val_split", 0.0, high=1.0)
    number("momentum", 0.0, low_open=False, high=1.0)
    number("weight_decay", 0.0, low_open=False)
    number("clip_grad_norm", 0.0)
    hidden = config.get("hidden")
    if hidden is not None and not (isinstance(hidden, (list, tuple)) and all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
            for h in hidden)):
        raise ValueError(f"hidden must be a list of layer sizes >= 1, got {hidden!r}")
    if config.get("momentum") is not None and OPTIMIZERS[optimizer][0] not in ("SGD", "RMSprop"):
        raise ValueError(f"momentum applies to sgd, momentum, nesterov and rmsprop, not "
                         f"{optimizer}")
    if config.get("weight_decay") is not None and optimizer == "gd":
        raise ValueError("weight_decay does not apply to gd (plain gradient descent); use sgd")


sweep_mlp.check_config = check_mlp_config


# --------------------------------------------------------------------------- command line

def _comma_list(kind, what: str):
    """An argparse type: comma-separated values of ``kind`` ('16,16' -> [16, 16])."""
    import argparse

    def parse(text: str) -> list:
        try:
            return [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    return parse


def _argparse_type(parse):
    import argparse

    def wrapped(text: str):
        try:
            return parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
    return wrapped


def _seeds(text: str) -> list:
    """'5' -> seeds 0..4; '0,3,7' -> those seeds."""
    if "," not in text:
        count = int(text)
        if count < 1:
            raise ValueError(f"--seeds N needs N >= 1, got {count}")
        return list(range(count))
    return [int(part) for part in text.split(",") if part.strip()]


def add_sweep_arguments(parser) -> None:
    """The options of ``steepest sweep`` (the model options of ``steepest train``, plus lists)."""
    from steepest.data import DATASET_NAMES

    parser.add_argument("--data", choices=DATASET_NAMES, required=True, help="data set")
    parser.add_argument("--optimizer", type=_comma_list(str.strip, "names such as sgd,adam"),
                        default=["sgd", "momentum", "rmsprop", "adam"], metavar="NAMES",
                        help=f"optimizers, comma-separated, from {','.join(OPTIMIZERS)} "
                             f"(default sgd,momentum,rmsprop,adam; momentum is SGD with 0.9)")
    parser.add_argument("--lr", type=_argparse_type(parse_lr), default=log_range(1e-3, 1, 13),
                        metavar="RATES", help="learning rates: LOW:HIGH:COUNT log-spaced, or "
                                              "a list 0.01,0.1 (default 1e-3:1:13)")
    parser.add_argument("--seeds", type=_argparse_type(_seeds), default=[0, 1, 2],
                        metavar="N|LIST", help="N seeds 0..N-1, or a list 0,3,7 (default 3)")
    parser.add_argument("--epochs", type=int, default=30, help="epochs per run (default 30)")
    parser.add_argument("--hidden", type=_comma_list(int, "layer sizes such as 16,16"),
                        default=None, metavar="SIZES",
                        help="hidden layer sizes (default 16,16; 128 for digits)")
    parser.add_argument("--activation", default="relu", help="hidden activation (default relu)")
    parser.add_argument("--batch-size", type=int, default=32, help="default 32")
    parser.add_argument("--n-samples", type=int, default=None,
                        help="samples of the generated 2-D data sets")
    parser.add_argument("--noise", type=float, default=None,
                        help="noise of the generated 2-D data sets")
    parser.add_argument("--val-split", type=float, default=0.2,
                        help="fraction held out for validation (default 0.2)")
    parser.add_argument("--no-standardize", dest="standardize", action="store_false",
                        help="do not standardise the features")
    parser.add_argument("--momentum", type=float, default=None, help="momentum (sgd, rmsprop)")
    parser.add_argument("--weight-decay", type=float, default=None, help="weight decay")
    parser.add_argument("--clip-grad-norm", type=float, default=None, metavar="MAX_NORM",
                        help="clip the gradients' total norm")
    parser.add_argument("--out", required=True,
                        help="directory: runs.jsonl (rerunning resumes), summary.csv, plots")
    parser.add_argument("--workers", type=int, default=None,
                        help="local worker processes (default: the cores; 1 runs in this "
                             "process)")
    parser.add_argument("--scheduler", default=None, metavar="ADDR",
                        help="run on a Dask cluster: tcp://host:8786, or 'local' for a "
                             "LocalCluster (needs pip install 'steepest[dask]')")
    parser.add_argument("--retry-failed", action="store_true",
                        help="run again the runs recorded as failed in OUT/runs.jsonl")


def _describe_model(config: Mapping) -> str:
    hidden = config.get("hidden")
    if hidden is None:
        hidden = [128] if config["data"] == "digits" else [16, 16]
    if not hidden:  # --hidden , : no hidden layer
        return (f"{config['data']}, linear model (no hidden layer), "
                f"{config['epochs']} epochs")
    return (f"{config['data']}, MLP hidden {'-'.join(map(str, hidden))} "
            f"({config.get('activation', 'relu')}), {config['epochs']} epochs")


def sweep_cli(args) -> int:
    """``steepest sweep``: run the grid, write runs.jsonl, summary.csv and the plots.

    Bad settings raise ValueError (the CLI prints one line, exit 2) before any run starts;
    returns 1 if some run failed (raised or lost its worker twice), else 0.
    """
    fixed = {"data": args.data, "epochs": args.epochs, "hidden": args.hidden,
             "activation": args.activation, "batch_size": args.batch_size,
             "n_samples": args.n_samples, "noise": args.noise, "val_split": args.val_split,
             "standardize": args.standardize, "momentum": args.momentum,
             "weight_decay": args.weight_decay, "clip_grad_norm": args.clip_grad_norm}
    fixed = {k: v for k, v in fixed.items() if v is not None}
    for name in ("optimizer", "lr", "seeds"):
        values = getattr(args, name)
        if not values:
            raise ValueError(f"--{name} needs at least one value")
        if len(set(values)) != len(values):
            raise ValueError(f"--{name} lists a value twice: {values}")
    grid = {**{k: [v] for k, v in fixed.items()}, "optimizer": args.optimizer,
            "lr": args.lr, "seed": args.seeds}
    for config in expand_grid(grid):
        check_mlp_config(config)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"--workers must be >= 1, got {args.workers}")
    if args.scheduler is not None and args.workers == 1:
        raise ValueError("--workers 1 runs in this process; leave it out with --scheduler")
    out = args.out
    if not str(out).strip():
        raise ValueError("--out must name a directory, got an empty string")
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"--out {out} exists and is not a directory")

    executor, where = None, f"{args.workers or default_workers()} local processes"
    if args.workers == 1:
        executor, where = SerialExecutor(), "this process"
    elif args.scheduler is not None:
        try:
            executor = dask_executor(args.scheduler, workers=args.workers)
        except ImportError as error:
            raise ValueError(f"--scheduler: {error}") from None
        where = "a local Dask cluster" if args.scheduler == "local" else \
            f"the Dask cluster at {args.scheduler}"
    n_runs = len(args.optimizer) * len(args.lr) * len(args.seeds)
    keys = {config_key(config) for config in expand_grid(grid)}
    already = keys & read_runs(os.path.join(out, RUNS_FILE)).keys()  # of this grid only
    rates = f" ({args.lr[0]:g} to {args.lr[-1]:g})" if len(args.lr) > 1 else f" ({args.lr[0]:g})"
    print(f"steepest sweep: {_count(args.optimizer, 'optimizer')} x "
          f"{_count(args.lr, 'learning rate')}{rates} x {_count(args.seeds, 'seed')} = "
          f"{_count(range(n_runs), 'run')}; "
          f"{_describe_model(grid_first(grid))}; on {where}"
          + (f"; {len(already)} already in {os.path.join(out, RUNS_FILE)}" if already else ""),
          flush=True)
    try:
        result = sweep(sweep_mlp, grid, executor=executor, workers=args.workers, out=out,
                       retry_failed=args.retry_failed, progress=None)
    except KeyboardInterrupt:
        done = len(keys & read_runs(os.path.join(out, RUNS_FILE)).keys())
        print(f"steepest sweep: interrupted; {done} of {n_runs} runs are in "
              f"{os.path.join(out, RUNS_FILE)}; rerun the same command to run the rest",
              file=sys.stderr)
        return 130
    finally:
        if executor is not None and not isinstance(executor, SerialExecutor):
            executor.shutdown(wait=False)
    return _report(result, out, grid_first(grid))


def _count(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def grid_first(grid: Mapping) -> dict:
    """The grid's first config (for titles)."""
    return {k: v[0] for k, v in grid.items()}


def _report(result: SweepResult, out, first: dict) -> int:
    from steepest.report.sweep_page import best_points, write_sweep_report

    counts = result.counts()
    print(f"{len(result)} runs ({result.executed} run now, in {result.seconds:.1f} s): "
          + ", ".join(f"{n} {status}" for status, n in counts.items()))
    title = _describe_model(first)
    records = [r.to_json() for r in result]
    written = write_sweep_report(records, out, title=title)
    best = best_points(records)
    if best:
        metric = next(iter(best.values()))["metric"]
        print(f"best learning rate per optimizer (median final {metric.replace('_', ' ')} "
              f"over seeds, rates where every seed finished):")
        for optimizer, point in best.items():
            print(f"  {optimizer:>9}: lr {point['x']:.3g} ({metric} {point['median']:.4g})")
    failed = [r for r in result if r.status == "failed"]
    if failed:
        print(f"{len(failed)} run(s) failed; first: {failed[0].config} -> {failed[0].error}")
    print("wrote " + ", ".join(os.path.join(out, name) for name in
                               (RUNS_FILE, SUMMARY_FILE, *written)))
    return 1 if failed else 0
