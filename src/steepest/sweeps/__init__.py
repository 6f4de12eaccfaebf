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
became NaN/inf or :class:`~steepest.training.DivergenceError` was raised; ``'failed'``: it
raised, with the error text), final and best metrics, history, wall time and attempts. A run
that raises or diverges is recorded and the sweep goes on. A worker process that dies
mid-run (SIGKILL, out of memory) breaks a process pool: the pool is rebuilt, the runs that
had not finished are resubmitted, and each run that was executing when a worker died is
retried once, alone, so that a run which kills its worker every time is recorded
``'failed'`` without taking the others with it.

With ``out``, every finished run is appended to ``out/runs.jsonl`` (one JSON object per line,
written with a single ``write`` and fsync-ed), and a rerun skips the configs already there:
a sweep interrupted by Ctrl-C or a lost machine resumes where it stopped.
``out/summary.csv`` has one row per run. On Dask, a run that Dask started again after losing
its worker counts each start in ``attempts``; losing the scheduler raises
:class:`ClusterLost` with the finished runs recorded and the others not (they did not fail),
so rerunning once the scheduler is back completes the sweep.

The package's parts: :mod:`~steepest.sweeps.grid` (configs), :mod:`~steepest.sweeps.records`
(Run, SweepResult, the best-rate rule), :mod:`~steepest.sweeps.executors` (serial, process
pool and its recovery, Dask), :mod:`~steepest.sweeps.jsonl` (the files),
:mod:`~steepest.sweeps.runner` (:func:`sweep`), :mod:`~steepest.sweeps.mlp` (the run of
``steepest sweep``, with the optimizer's catalogue options and a learning-rate schedule),
:mod:`~steepest.sweeps.options` (``--optimizer-option`` and ``--schedule-option``, shared with
``steepest train``) and :mod:`~steepest.sweeps.cli`. ``st.sweep`` is the function and
``steepest.sweeps`` this package; patch a name where it is used (``steepest.sweeps.runner.x``).
"""

from steepest.sweeps.cli import add_sweep_arguments, grid_first, sweep_cli
from steepest.sweeps.executors import ClusterLost, SerialExecutor, dask_executor, default_workers
from steepest.sweeps.grid import expand_grid, log_range, parse_lr
from steepest.sweeps.jsonl import RUNS_FILE, SUMMARY_FILE, read_runs, write_summary
from steepest.sweeps.mlp import OPTIMIZERS, check_mlp_config, sweep_mlp
from steepest.sweeps.records import (
    STATUSES, Run, SweepResult, best_points, config_key, summary_rows,
)
from steepest.sweeps.runner import sweep

__all__ = ["sweep", "Run", "SweepResult", "SerialExecutor", "dask_executor", "expand_grid",
           "log_range", "parse_lr", "sweep_mlp", "check_mlp_config", "read_runs",
           "OPTIMIZERS", "STATUSES", "add_sweep_arguments", "sweep_cli", "best_points",
           "config_key", "summary_rows", "write_summary", "default_workers", "grid_first",
           "RUNS_FILE", "SUMMARY_FILE", "ClusterLost"]
