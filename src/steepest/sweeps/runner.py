"""Running a sweep: every config on an executor, worker loss survived, records saved as
they come."""

from __future__ import annotations

import json
import math
import os
import pickle
import time
import traceback
from collections import deque
from collections.abc import Mapping
from concurrent.futures import FIRST_COMPLETED, BrokenExecutor, Executor, ProcessPoolExecutor, wait

from steepest.sweeps.executors import ClusterLost, _Pool
from steepest.sweeps.grid import expand_grid
from steepest.sweeps.jsonl import RUNS_FILE, SUMMARY_FILE, _append_line, read_runs, write_summary
from steepest.sweeps.records import STATUSES, Run, SweepResult, _metric_better, config_key

__all__ = ["sweep"]


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


def _execute(train_fn, config: dict, marker) -> dict:
    """Run one config on a worker; always returns a plain dict (nothing raised, all picklable).

    ``marker`` says 'this run started here': a file to create (a process pool: how a lost
    worker's run is found) or a StartEvent to log (Dask: how its silent restarts are counted).
    """
    from steepest.training import DivergenceError, History

    if isinstance(marker, str):
        with open(marker, "w") as fh:
            fh.write(str(os.getpid()))
    elif marker is not None:
        marker.record()
    start = time.perf_counter()
    history, error, status = None, None, "ok"
    try:
        result = train_fn(**config)
    except DivergenceError as exc:
        status, error, history = "diverged", _one_line_error(exc, where=False), exc.history
        final, best = _summarise_history(history) if history is not None else ({}, {})
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - a failing run is recorded, the
        # sweep goes on; sys.exit() in train_fn too (it would end the caller's program)
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
    markers: dict = {}  # future -> how its run says it started

    def finish(index, payload, marker=None):
        history = payload.pop("history")
        silent = pool.recomputations(marker)
        on_run(index, Run(dict(configs[index]), attempts=lost[index] + silent + 1,
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
        if isinstance(marker, str) and os.path.exists(marker):
            os.unlink(marker)
        try:
            future = pool.submit(_execute, train_fn, configs[index], marker)
        except BrokenExecutor:
            source.appendleft(index)
            return False
        except Exception:  # noqa: BLE001 - e.g. a Dask client that closed
            source.appendleft(index)
            if pool.connection_lost():
                raise ClusterLost(_lost_message(pool, in_flight, source)) from None
            raise
        in_flight[future] = index
        markers[future] = marker
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
        cut_off = False
        for future in [f for f in in_flight if f.done() or broken]:
            try:
                payload = future.result()
            except BrokenExecutor:
                broken = True  # the others of this pool fail too; handled below
                continue
            except Exception as error:  # noqa: BLE001 - the worker, not the run, failed
                if pool.connection_lost():  # not the run's fault: leave it unrecorded
                    cut_off = True
                    continue
                index = in_flight.pop(future)
                markers.pop(future, None)
                lose(index, f"worker lost {lost[index] + 1} times; last: "
                            f"{_one_line_error(error)}", queue)
                continue
            finish(in_flight.pop(future), payload, markers.pop(future))
        if cut_off:
            raise ClusterLost(_lost_message(pool, in_flight, queue, alone))
        if broken:
            victims = []
            for future, index in list(in_flight.items()):
                try:
                    finish(index, future.result())  # it finished just before the break
                except BrokenExecutor:
                    victims.append(index)
            in_flight.clear()
            markers.clear()
            pool.rebuild()  # the old workers are gone now, so the markers are final
            for index in sorted(victims, reverse=True):
                if pool.started(index):
                    lose(index, f"the worker process running it died {lost[index] + 1} times "
                                f"(killed, e.g. by SIGKILL or out of memory)", alone)
                else:
                    queue.appendleft(index)


def _lost_message(pool, *unfinished) -> str:
    count = sum(len(part) for part in unfinished)
    where = getattr(pool.executor, "address", None)
    return (f"lost the connection to the Dask scheduler{f' at {where}' if where else ''}; "
            f"{count} unfinished run{'' if count == 1 else 's'} not recorded")


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

    Raises
    ------
    ClusterLost
        The executor lost its cluster (a Dask scheduler went away). The runs finished
        before are recorded; the others are not (they did not fail): rerunning with the same
        ``out`` once the cluster is back runs them. ``attempts`` of a run counts the times
        Dask silently started it again after losing the worker that ran it.
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
