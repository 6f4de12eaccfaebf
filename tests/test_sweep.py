"""Sweeps: grids, executors (serial, process pool, a real Dask cluster), resume, faults, plots.

The MLP runs are tiny (a few dozen points, one small hidden layer, a few epochs); the
orchestration tests use toy train functions that return a dict at once, so that what is
tested is the bookkeeping, not the training.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest

import steepest as st
from steepest.cli import main
from steepest.report.sweep_page import plot_sweep, sweep_series, write_sweep_report
from steepest.sweeps import (
    SerialExecutor, best_points, check_mlp_config, dask_executor, expand_grid, log_range, parse_lr,
    read_runs, sweep_mlp,
)

SRC = os.path.dirname(os.path.dirname(st.__file__))
TINY = {"data": ["moons"], "n_samples": [60], "hidden": [[6]], "epochs": [3],
        "batch_size": [16]}
# lr 100 diverges, lr 0.03 trains: records of both kinds
TINY_GRID = {**TINY, "optimizer": ["sgd", "adam"], "lr": [0.03, 100.0], "seed": [0, 1]}


def toy(lr, seed, fail_at=None, nan_at=None, sleep=0.0):
    """A 'training' whose final loss is known: (log10 lr + 2)^2 + seed / 100 (best lr 0.01)."""
    time.sleep(sleep)
    if fail_at is not None and lr == fail_at:
        raise ZeroDivisionError(f"toy failure at lr={lr}")
    loss = math.nan if (nan_at is not None and lr >= nan_at and seed == 1) else \
        (math.log10(lr) + 2) ** 2 + seed / 100
    return {"loss": loss, "accuracy": 1 / (1 + loss) if math.isfinite(loss) else 0.0}


def kill_first_attempt(lr, seed, flag_dir, victim_lr):
    """On the first attempt of (``victim_lr``, seed 0): tell the test its pid, wait to be killed."""
    flag = os.path.join(flag_dir, "started")
    if lr == victim_lr and seed == 0 and not os.path.exists(flag):
        with open(flag + ".tmp", "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(flag + ".tmp", flag)
        time.sleep(30)  # the test SIGKILLs this process long before
    time.sleep(0.05)
    return toy(lr, seed)


def kill_self(lr, seed, victim_lr):
    """Every attempt of ``victim_lr`` kills its own worker process."""
    time.sleep(0.05)
    if lr == victim_lr:
        os.kill(os.getpid(), signal.SIGKILL)
    return toy(lr, seed)


def records_of(result):
    return [r.to_json() for r in result]


def same_runs(a, b):
    """Bit-identical: config, status, final, best and every history value."""
    assert [r.config for r in a] == [r.config for r in b]
    for x, y in zip(a, b):
        jx, jy = x.to_json(), y.to_json()
        for key in ("status", "final", "best", "history"):
            assert jx[key] == jy[key], (x.config, key)


# --------------------------------------------------------------------------- grids

def test_log_range_is_log_spaced_with_exact_ends():
    rates = log_range(1e-3, 1, 13)
    assert len(rates) == 13 and rates[0] == 1e-3 and rates[-1] == 1.0
    np.testing.assert_allclose(np.diff(np.log10(rates)), 0.25, rtol=1e-8)
    assert parse_lr("1e-3:1:13") == rates
    assert parse_lr("0.01, 0.1") == [0.01, 0.1]
    assert parse_lr("0.5") == [0.5]


@pytest.mark.parametrize("text, fragment", [
    ("1e-3:1", "LOW:HIGH:COUNT"), ("a:1:3", "numbers"), ("1e-3:1:2.5", "whole COUNT"),
    ("0:1:3", "low must be a finite number > 0"), ("1:0.1:3", "must not exceed"),
    ("1e-3:1:0", "count must be"), ("1e-3:1:1", "one value cannot span"),
    ("-0.1", "> 0"), ("0", "> 0"), ("0.1,x", "expected learning rates"), ("nan", "> 0"),
])
def test_parse_lr_rejects_malformed_ranges(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_lr(text)


def test_expand_grid_is_the_product_then_the_explicit_configs():
    points = expand_grid({"a": [1, 2], "b": ["x", "y", "z"]}, configs=[{"a": 9, "b": "w"}])
    assert points[:3] == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"}, {"a": 1, "b": "z"}]
    assert len(points) == 7 and points[-1] == {"a": 9, "b": "w"}
    assert expand_grid(configs=[{"lr": 0.1}]) == [{"lr": 0.1}]


@pytest.mark.parametrize("grid, configs, fragment", [
    ({"lr": []}, None, "empty list"),
    ({"lr": 0.1}, None, "must be a list"),
    ({"optimizer": "adam"}, None, "must be a list"),
    ({"lr": [0.1, 0.1]}, None, "appears twice"),
    ({"lr": [0.1]}, [{"lr": 0.1}], "appears twice"),
    (None, None, "no runs"),
    (None, ["lr=0.1"], "must be a dict"),
])
def test_expand_grid_rejects_bad_grids(grid, configs, fragment):
    with pytest.raises(ValueError, match=fragment):
        expand_grid(grid, configs)


@pytest.mark.parametrize("change, fragment", [
    ({"optimizer": ["adam", "adamm"]}, "unknown optimizer 'adamm'"),
    ({"lr": [0.1, 0.0]}, r"sgd: lr must be a number in \(0, ∞\), got 0.0"),
    ({"lr": [-1e-3]}, r"lr must be a number in \(0, ∞\)"),
    ({"lr": [math.inf]}, r"lr must be a number in \(0, ∞\)"),
    ({"lr": ["0.1"]}, r"lr must be a number in \(0, ∞\), got '0.1'"),
    ({"optimizer": ["adam"], "momentum": [0.9]}, "adam: unknown optimizer setting 'momentum'"),
    ({"seed": [-1]}, "seed must be a whole number >= 0"),
    ({"epochs": [0]}, "epochs must be a whole number >= 1"),
    ({"data": ["mnist"]}, "data must be one of"),
    ({"activation": ["swish"]}, "unknown activation 'swish'"),
    ({"lrate": [0.1]}, "unknown setting 'lrate'"),
    ({"hidden": [[16, 0]]}, "hidden must be a list of layer sizes"),
    ({"optimizer": ["adam"], "optimizer_options": [{"amsgrad": "yes"}]},
     "adam: amsgrad must be True or False, got 'yes'"),
    ({"optimizer_options": [{"lr": 0.1}]}, "optimizer_options sets lr"),
    ({"schedule": ["cosine"], "schedule_options": [{"T_max": 0}]},
     r"cosine: T_max must be a whole number in \[1, ∞\), got 0"),
    ({"schedule": ["cosine"], "schedule_options": [{"gamma": 0.5}]},
     "cosine: unknown scheduler setting 'gamma'"),
    ({"schedule_options": [{"T_max": 2}]}, "need a schedule"),
    ({"optimizer": ["rprop"], "schedule": ["cyclic"],
      "schedule_options": [{"cycle_momentum": True}]}, "cycle_momentum=True needs"),
])
def test_bad_mlp_grids_fail_before_anything_runs(tmp_path, change, fragment):
    grid = {**TINY_GRID, **change}
    out = tmp_path / "out"
    with pytest.raises(ValueError, match=fragment):
        st.sweep(sweep_mlp, grid, executor=SerialExecutor(), out=out)
    assert not out.exists()  # nothing was started or written


def test_a_train_fn_that_cannot_reach_worker_processes_is_refused_up_front():
    with pytest.raises(ValueError, match="cannot be sent to worker processes"):
        st.sweep(lambda lr: {"loss": lr}, {"lr": [0.1]}, workers=1)


# --------------------------------------------------------------------------- records

def test_a_run_equals_training_it_directly():
    config = {key: values[0] for key, values in TINY_GRID.items()}
    [run] = st.sweep(sweep_mlp, configs=[config], executor=SerialExecutor())
    direct = sweep_mlp(**config)
    assert run.status == "ok" and run.attempts == 1 and run.seconds > 0
    assert run.history.to_dict() == direct.to_dict()
    assert run.final == {k: direct.history[k][-1] for k in
                         ("loss", "accuracy", "val_loss", "val_accuracy")}
    assert run.best["val_loss"] == min(direct.history["val_loss"])
    assert run.best["val_accuracy"] == max(direct.history["val_accuracy"])


def test_sweep_mlp_is_steepest_train_with_the_same_options(tmp_path, capsys):
    assert main(["train", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
                 "3", "--batch-size", "16", "--optimizer", "sgd", "--lr", "0.03", "--seed",
                 "1", "--verbose", "0", "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "history.json").read_text())["history"]
    history = sweep_mlp(data="moons", n_samples=60, hidden=[6], epochs=3, batch_size=16,
                        optimizer="sgd", lr=0.03, seed=1)
    for key in ("loss", "val_loss", "val_accuracy"):
        assert history.history[key] == saved[key]


def test_failures_and_divergences_are_recorded_and_the_sweep_goes_on():
    result = st.sweep(toy, {"lr": [0.01, 0.1, 1.0, 10.0], "seed": [0, 1]},
                      configs=[{"lr": 0.5, "seed": 0, "fail_at": 0.5},
                               {"lr": 20.0, "seed": 1, "nan_at": 10.0}],
                      executor=SerialExecutor())
    statuses = {(r.config["lr"], r.config["seed"]): r.status for r in result}
    assert statuses.pop((0.5, 0)) == "failed"
    assert statuses.pop((20.0, 1)) == "diverged"
    assert set(statuses.values()) == {"ok"}
    failed = result[8]
    assert failed.error.startswith("ZeroDivisionError: toy failure at lr=0.5 (at test_sweep.py:")
    assert result.counts() == {"ok": 8, "diverged": 1, "failed": 1}
    # a DivergenceError from fit: the epochs before it are kept
    [diverged] = st.sweep(sweep_mlp, configs=[{**{k: v[0] for k, v in TINY.items()},
                                               "optimizer": "sgd", "lr": 100.0}],
                          executor=SerialExecutor())
    assert diverged.status == "diverged" and "DivergenceError" in diverged.error
    assert diverged.history is not None


def test_train_fn_must_return_a_history_or_metrics():
    [run] = st.sweep(str, configs=[{"object": 1}], executor=SerialExecutor())
    assert run.status == "failed" and "must return a History or a dict" in run.error


# --------------------------------------------------------------------------- executors

@pytest.fixture(scope="module")
def serial_runs():
    return st.sweep(sweep_mlp, TINY_GRID, executor=SerialExecutor())


def test_the_tiny_grid_has_ok_and_diverged_runs(serial_runs):
    assert [r.status for r in serial_runs] == ["ok", "ok", "diverged", "diverged"] * 2


@pytest.mark.parametrize("workers", [1, 2])
def test_process_pool_gives_bit_identical_runs(serial_runs, workers):
    same_runs(st.sweep(sweep_mlp, TINY_GRID, workers=workers), serial_runs)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A real cluster: `dask scheduler` and two single-threaded `dask worker` processes."""
    distributed = pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [SRC, *filter(None, [os.environ.get("PYTHONPATH")])])}
    scratch = tmp_path_factory.mktemp("dask")
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--port", str(port),
                               *common], env=env, cwd=scratch, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                 "--no-nanny", "--local-directory", str(scratch), *common],
                env=env, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=90)
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_a_dask_cluster_gives_bit_identical_runs(serial_runs, dask_cluster):
    with dask_executor(dask_cluster) as executor:
        workers = executor.client.scheduler_info()["workers"]
        assert len(workers) == 2
        result = st.sweep(sweep_mlp, TINY_GRID, executor=executor)
        ran_on = executor.client.run(os.getpid)  # the runs happened in the worker processes
    assert os.getpid() not in ran_on.values()
    same_runs(result, serial_runs)


def test_cli_scheduler_flag_runs_on_the_cluster(dask_cluster, tmp_path, capsys):
    assert main(["sweep", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
                 "2", "--batch-size", "16", "--optimizer", "sgd,adam", "--lr", "0.01,0.1",
                 "--seeds", "1", "--scheduler", dask_cluster, "--out", str(tmp_path)]) == 0
    assert f"on the Dask cluster at {dask_cluster}" in capsys.readouterr().out
    on_dask = read_runs(tmp_path / "runs.jsonl")
    assert len(on_dask) == 4
    for run in on_dask.values():
        assert run.history.to_dict() == sweep_mlp(**run.config).to_dict()


def test_dask_needs_an_address_it_can_parse():
    pytest.importorskip("distributed")
    with pytest.raises(ValueError, match="looks like tcp://host:8786"):
        dask_executor("nowhere")


# --------------------------------------------------------------------------- resume

class Interrupt:
    """A callback that presses Ctrl-C after ``k`` runs have been recorded."""

    def __init__(self, k):
        self.k, self.seen = k, []

    def __call__(self, run):
        self.seen.append(run.key)
        if len(self.seen) == self.k:
            raise KeyboardInterrupt


@pytest.mark.parametrize("executor", ["serial", "pool"])
def test_resume_runs_exactly_the_remaining_runs(tmp_path, executor):
    grid = {"lr": log_range(1e-3, 1, 4), "seed": [0, 1, 2], "sleep": [0.01]}
    make = (lambda: SerialExecutor()) if executor == "serial" else (lambda: None)
    first = Interrupt(5)
    with pytest.raises(KeyboardInterrupt):
        st.sweep(toy, grid, executor=make(), workers=2, out=tmp_path, callback=first.__call__)
    on_disk = read_runs(tmp_path / "runs.jsonl")
    assert list(on_disk) == first.seen and len(first.seen) == 5
    second = []
    result = st.sweep(toy, grid, executor=make(), workers=2, out=tmp_path,
                      callback=lambda run: second.append(run.key))
    every = {r.key for r in result}
    assert len(every) == 12 and result.executed == 7
    assert set(second) == every - set(first.seen) and len(second) == 7
    lines = (tmp_path / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 12 and {json.loads(line)["key"] for line in lines} == every
    same_runs(result, st.sweep(toy, grid, executor=SerialExecutor()))
    # a third call finds everything done and runs nothing
    assert st.sweep(toy, grid, executor=make(), out=tmp_path).executed == 0


def test_a_torn_last_line_is_skipped_and_not_glued_to_the_next(tmp_path):
    grid = {"lr": [0.01, 0.1], "seed": [0]}
    st.sweep(toy, grid, executor=SerialExecutor(), out=tmp_path)
    path = tmp_path / "runs.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][: len(lines[1]) // 2])  # died mid-write
    result = st.sweep(toy, grid, executor=SerialExecutor(), out=tmp_path)
    assert result.executed == 1
    written = path.read_text().splitlines()
    assert len(written) == 3 and json.loads(written[2])["key"] == json.loads(lines[1])["key"]


def test_retry_failed_reruns_only_failed_runs(tmp_path):
    grid = {"lr": [0.01, 0.1, 1.0], "seed": [0], "fail_at": [0.1]}
    st.sweep(toy, grid, executor=SerialExecutor(), out=tmp_path)
    again = st.sweep(toy, grid, executor=SerialExecutor(), out=tmp_path, retry_failed=True)
    assert again.executed == 1 and again.counts()["failed"] == 1


def test_summary_csv_has_a_row_per_run(tmp_path):
    import csv

    result = st.sweep(toy, {"lr": [0.01, 0.1], "seed": [0, 1]}, executor=SerialExecutor(),
                      out=tmp_path)
    with open(tmp_path / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [float(r["final_loss"]) for r in rows] == [r.final["loss"] for r in result]
    assert [r["status"] for r in rows] == ["ok"] * 4 and rows[3]["seed"] == "1"


def test_ctrl_c_on_the_command_line_then_rerun_completes_the_sweep(tmp_path):
    out = tmp_path / "sweep"
    args = [sys.executable, "-m", "steepest", "sweep", "--data", "moons", "--n-samples", "60",
            "--hidden", "6", "--epochs", "12", "--batch-size", "8", "--optimizer", "sgd,adam",
            "--lr", "1e-3:1:4", "--seeds", "2", "--workers", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, text=True)
    runs = out / "runs.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and \
            (not runs.exists() or len(runs.read_text().splitlines()) < 3):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal sends: the whole group
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before it could be interrupted")
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "rerun the same command to run the rest" in err
    done_first = len(runs.read_text().splitlines())
    assert 3 <= done_first < 16
    rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{16 - done_first} run now" in rerun.stdout
    lines = runs.read_text().splitlines()
    assert len(lines) == 16 and len({json.loads(line)["key"] for line in lines}) == 16


def test_sigterm_to_the_command_alone_stops_its_workers_and_keeps_the_runs(tmp_path):
    out = tmp_path / "sweep"
    args = [sys.executable, "-m", "steepest", "sweep", "--data", "moons", "--n-samples", "60",
            "--hidden", "6", "--epochs", "40", "--batch-size", "4", "--optimizer", "sgd,adam",
            "--lr", "1e-3:1:4", "--seeds", "2", "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(args, env={**os.environ, "PYTHONPATH": SRC},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    runs = out / "runs.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None and \
            (not runs.exists() or len(runs.read_text().splitlines()) < 2):
        time.sleep(0.05)
    children = [int(pid) for pid in
                open(f"/proc/{proc.pid}/task/{proc.pid}/children").read().split()]
    proc.send_signal(signal.SIGTERM)    # the main process only, as `kill PID` does
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before it could be stopped")
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert len(runs.read_text().splitlines()) >= 2
    deadline = time.monotonic() + 20
    alive = children
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if os.path.exists(f"/proc/{pid}")
                 and "zombie" not in open(f"/proc/{pid}/status").read()]
        time.sleep(0.1)
    assert not alive, f"worker processes left running: {alive}"


# --------------------------------------------------------------------------- lost workers

def test_a_worker_killed_mid_run_is_retried_once(tmp_path):
    grid = {"lr": [0.001, 0.01, 0.1, 1.0], "seed": [0, 1], "flag_dir": [str(tmp_path)],
            "victim_lr": [0.1]}
    flag = tmp_path / "started"

    def killer():
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(int(flag.read_text()), signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    result = st.sweep(kill_first_attempt, grid, workers=2)
    thread.join()
    assert [r.status for r in result] == ["ok"] * 8
    victim = next(r for r in result if r.config["lr"] == 0.1 and r.config["seed"] == 0)
    assert victim.attempts == 2  # killed once, then it ran to the end
    expected = [toy(r.config["lr"], r.config["seed"])["loss"] for r in result]
    assert [r.final["loss"] for r in result] == expected


def test_a_run_that_kills_its_worker_every_time_is_recorded_failed_alone(tmp_path):
    result = st.sweep(kill_self, {"lr": [0.01, 0.1, 1.0], "seed": [0, 1],
                                  "victim_lr": [0.1]}, workers=2, out=tmp_path)
    status = {(r.config["lr"], r.config["seed"]): r for r in result}
    for seed in (0, 1):
        victim = status.pop((0.1, seed))
        assert victim.status == "failed" and victim.attempts == 2
        assert "worker process running it died 2 times" in victim.error
    assert all(r.status == "ok" and r.attempts <= 2 for r in status.values())
    assert len(read_runs(tmp_path / "runs.jsonl")) == 6


def test_a_given_process_pool_is_left_open_and_a_broken_one_replaced(tmp_path):
    with ProcessPoolExecutor(2) as pool:
        result = st.sweep(kill_self, {"lr": [0.01, 0.1], "seed": [0], "victim_lr": [0.1]},
                          executor=pool)
        assert [r.status for r in result] == ["ok", "failed"]
    with ProcessPoolExecutor(2) as pool:
        st.sweep(toy, {"lr": [0.01], "seed": [0]}, executor=pool)
        assert pool.submit(abs, -3).result() == 3  # still usable: sweep did not shut it down


# --------------------------------------------------------------------------- plots

@pytest.fixture(scope="module")
def plotted(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("plots")
    grid = {"optimizer": ["sgd", "adam"], "lr": log_range(1e-4, 100, 7), "seed": [0, 1, 2],
            "nan_at": [1.0]}
    configs = [{"optimizer": "adam", "lr": 1e-3, "seed": 7, "fail_at": 1e-3}]
    result = st.sweep(toy_with_optimizer, grid, configs=configs, executor=SerialExecutor())
    records = records_of(result)
    drawn = plot_sweep(records, tmp_path / "sweep.png", title="toy")
    return records, drawn, tmp_path


def toy_with_optimizer(optimizer, lr, seed, nan_at=None, fail_at=None):
    """toy() with 'adam' ten times as fast: its best rate is 0.001 instead of 0.01."""
    if lr == fail_at:
        raise ZeroDivisionError(f"toy failure at lr={lr}")
    scale = 10 if optimizer == "adam" else 1
    return toy(lr * scale, seed, nan_at=nan_at * scale if nan_at else None)


def test_the_plot_marks_exactly_the_diverged_and_failed_rates(plotted):
    records, drawn, _ = plotted
    for status in ("diverged", "failed"):
        for optimizer in ("sgd", "adam"):
            recorded = sorted({r["config"]["lr"] for r in records if r["status"] == status
                               and r["config"]["optimizer"] == optimizer})
            for series in drawn["panels"].values():
                assert series[optimizer][status] == recorded
        drawn_marks = sorted(float(x) for ax in drawn["figure"].axes[:1]
                             for c in ax.collections if c.get_gid() == status
                             for x in c.get_offsets()[:, 0])
        recorded_marks = sorted(lr for lr, opt in {(r["config"]["lr"], r["config"]["optimizer"])
                                                   for r in records if r["status"] == status})
        assert drawn_marks == recorded_marks
    assert any(r["status"] == "diverged" for r in records)
    assert any(r["status"] == "failed" for r in records)


def test_the_plotted_band_is_median_min_max_over_ok_seeds(plotted):
    records, drawn, _ = plotted
    series = drawn["panels"]["loss"]["sgd"]
    for lr, median, low, high in zip(series["x"], series["median"], series["min"], series["max"]):
        losses = [r["final"]["loss"] for r in records if r["config"]["optimizer"] == "sgd"
                  and r["config"]["lr"] == lr and r["status"] == "ok"]
        assert (median, low, high) == (np.median(losses), min(losses), max(losses))
    # sgd at 1 and above: seed 1 diverged, the band is over seeds 0 and 2
    assert series["x"][-1] == 100.0 and series["min"][-1] == toy(100.0, 0)["loss"]


def test_best_rate_per_optimizer_is_the_known_optimum(plotted):
    records, drawn, _ = plotted
    # loss = (log10(lr * scale) + 2)^2: best lr 0.01 for sgd, 0.001 for adam (scale 10) --
    # but adam's 0.001 had a failed run, so its best is a neighbour
    assert drawn["best"]["sgd"]["x"] == 0.01
    assert drawn["best"]["adam"]["x"] in (1e-4, 0.01)
    assert best_points(records, metric="accuracy")["sgd"]["x"] == 0.01


def test_the_report_page_and_pictures_are_written(plotted):
    records, _, tmp_path = plotted
    names = write_sweep_report(records, tmp_path, title="toy sweep")
    for name in names:
        assert (tmp_path / name).stat().st_size > 1000
    assert (tmp_path / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (tmp_path / "index.html").read_text()
    assert 'src="sweep.png"' in page and 'src="time.png"' in page
    assert page.count("ZeroDivisionError") == 1


def test_series_leave_out_non_finite_and_non_ok_runs():
    records = [{"config": {"optimizer": "a", "lr": 0.1}, "status": "ok", "final": {"loss": 1.0}},
               {"config": {"optimizer": "a", "lr": 0.1}, "status": "diverged",
                "final": {"loss": None}},
               {"config": {"optimizer": "a", "lr": 1.0}, "status": "failed", "final": {}}]
    s = sweep_series(records, "loss")["a"]
    assert (s["x"], s["median"], s["diverged"], s["failed"]) == ([0.1], [1.0], [0.1], [1.0])


# --------------------------------------------------------------------------- command line

def test_a_sweep_where_every_run_diverged_still_writes_its_report(tmp_path, capsys):
    out = tmp_path / "s"
    code = main(["sweep", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
                 "2", "--optimizer", "sgd", "--lr", "1e6", "--seeds", "1", "--workers", "1",
                 "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert [run.status for run in read_runs(out / "runs.jsonl").values()] == ["diverged"]
    for name in ("summary.csv", "sweep.png", "time.png", "index.html"):
        assert (out / name).exists()


def test_cli_sweep_writes_records_summary_and_report(tmp_path, capsys):
    out = tmp_path / "s"
    code = main(["sweep", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
                 "2", "--batch-size", "16", "--optimizer", "sgd,momentum", "--lr", "1e-2:1e2:3",
                 "--seeds", "2", "--workers", "1", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "2 optimizers x 3 learning rates (0.01 to 100) x 2 seeds = 12 runs" in text
    assert "best learning rate per optimizer" in text
    runs = read_runs(out / "runs.jsonl")
    assert len(runs) == 12
    for name in ("summary.csv", "sweep.png", "time.png", "index.html"):
        assert (out / name).exists()
    a_run = next(iter(runs.values()))
    check_mlp_config(a_run.config)
    assert a_run.history.to_dict() == sweep_mlp(**a_run.config).to_dict()


@pytest.mark.parametrize("flags, fragment", [
    (["--lr", "1e-3:1"], "LOW:HIGH:COUNT"),
    (["--lr", "0"], "> 0"),
    (["--optimizer", "sgd,adamm"], "unknown optimizer 'adamm'"),
    (["--seeds", "0"], "--seeds N needs N >= 1"),
    (["--epochs", "0"], "epochs must be a whole number >= 1"),
    (["--optimizer", "sgd,sgd"], "lists a value twice"),
    (["--activation", "swish"], "unknown activation"),
    (["--workers", "0"], "--workers must be >= 1"),
    (["--optimizer", "adam,sgd", "--optimizer-option", "amsgrad=true"],
     "--optimizer-option amsgrad=true: optimizer sgd has no setting 'amsgrad'"),
    (["--optimizer-option", "momentum=0.5"], "momentum has its own option; use --momentum"),
    (["--schedule-option", "T_max=2"], "--schedule-option T_max=2 needs --schedule"),
    (["--schedule", "cosine", "--schedule-option", "T_max=x"],
     "--schedule-option T_max=x: cosine: T_max must be a whole number"),
])
def test_cli_bad_inputs_give_one_line_and_exit_2(tmp_path, capsys, flags, fragment):
    out = tmp_path / "never"
    code = main(["sweep", "--data", "moons", "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and "Traceback" not in err
    assert not out.exists()


def test_cli_optimizer_options_and_schedule_apply_to_every_run_and_are_recorded(tmp_path,
                                                                               capsys):
    import torch

    out = tmp_path / "s"
    options = ["--optimizer-option", "amsgrad=true", "--schedule", "cosine",
               "--schedule-option", "T_max=2", "--schedule-option", "eta_min=0.001"]
    argv = ["sweep", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs", "4",
            "--batch-size", "16", "--optimizer", "adam,adamw", "--lr", "0.01,0.1", "--seeds",
            "1", "--workers", "1", "--out", str(out), *options]
    assert main(argv) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "optimizer options amsgrad=True, lr schedule cosine (cosine annealing) T_max=2 " \
           "eta_min=0.001" in first
    runs = list(read_runs(out / "runs.jsonl").values())
    assert len(runs) == 4
    for run in runs:
        assert run.config["optimizer_options"] == {"amsgrad": True}
        assert run.config["schedule"] == "cosine"
        assert run.config["schedule_options"] == {"T_max": 2, "eta_min": 0.001}
        opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=run.config["lr"])
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=2, eta_min=0.001)
        expected = []
        for _ in range(4):
            expected.append(opt.param_groups[0]["lr"])
            opt.step()
            cosine.step()
        np.testing.assert_allclose(run.history.history["lr"], expected, rtol=1e-12)
    # a run is steepest train with the same flags
    adam = next(r for r in runs if r.config["optimizer"] == "adam" and r.config["lr"] == 0.1)
    assert main(["train", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
                 "4", "--batch-size", "16", "--optimizer", "adam", "--lr", "0.1", "--verbose",
                 "0", "--out", str(tmp_path / "t"), *options]) == 0
    trained = json.loads((tmp_path / "t" / "history.json").read_text())["history"]
    assert adam.history.history["val_loss"] == trained["val_loss"]
    assert adam.history.history["lr"] == trained["lr"]
    # the same command again finds every run recorded; without the schedule it is a new grid
    capsys.readouterr()
    assert main(argv) == 0
    assert "4 already in" in capsys.readouterr().out.splitlines()[0]
    assert main(argv[:-len(options) + 2]) == 0
    assert "already in" not in capsys.readouterr().out.splitlines()[0]


def test_a_sweep_run_without_lr_equals_steepest_train_without_lr(tmp_path, capsys):
    assert main(["train", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
                 "2", "--out", str(tmp_path / "t")]) == 0
    trained = json.loads((tmp_path / "t" / "history.json").read_text())
    swept = sweep_mlp(data="moons", n_samples=60, hidden=[6], epochs=2, seed=0).to_dict()
    np.testing.assert_allclose(swept["history"]["loss"], trained["history"]["loss"], rtol=1e-12)


def test_the_cli_counts_only_this_grids_finished_runs_and_names_a_linear_model(tmp_path,
                                                                                capsys):
    out = str(tmp_path / "s")
    common = ["sweep", "--data", "moons", "--n-samples", "60", "--epochs", "1", "--seeds", "1",
              "--workers", "1", "--out", out]
    assert main([*common, "--hidden", "6", "--optimizer", "sgd", "--lr", "0.1"]) == 0
    capsys.readouterr()
    assert main([*common, "--hidden", ",", "--optimizer", "adam", "--lr", "0.01"]) == 0
    first_line = capsys.readouterr().out.splitlines()[0]
    assert "already in" not in first_line          # the sgd run belongs to another grid
    assert "linear model (no hidden layer)" in first_line and "MLP" not in first_line


# --------------------------------------------------------------------------- faults (issue 22)

def exits(lr, seed):
    """A train_fn that calls sys.exit, as a script's main() might."""
    if lr == 0.1:
        sys.exit(3)
    return toy(lr, seed)


@pytest.mark.parametrize("line, why", [
    ("null", "it is a JSON null, not an object"),
    ("[1, 2]", "it is a JSON array, not an object"),
    ('"text"', "it is a JSON string, not an object"),
    ({"history": 5}, 'its "history" is number 5'),
    ({"final": [1]}, 'its "final" is array [1], not an object of numbers'),
    ({"history": {"history": {}, "epoch": "x"}}, '"history"."epoch" is string "x"'),
    ({"history": {"history": {"loss": ["a"]}, "epoch": [0]}}, '"history"."history" is'),
    ({"status": "odd"}, 'its "status" is string "odd"'),
    ({"config": None}, 'its "config" is null'),
    ({"attempts": 0}, 'its "attempts" is number 0'),
    ({"seconds": "1"}, 'its "seconds" is string "1"'),
])
def test_a_valid_json_line_that_is_not_a_record_is_skipped_with_a_warning(tmp_path, line, why):
    grid = {"lr": [0.01, 0.1], "seed": [0]}
    st.sweep(toy, grid, executor=SerialExecutor(), out=tmp_path)
    path = tmp_path / "runs.jsonl"
    good = path.read_text().splitlines()
    text = line if isinstance(line, str) else json.dumps({**json.loads(good[1]), **line})
    path.write_text(good[0] + "\n" + text + "\n")
    with pytest.warns(RuntimeWarning, match=rf"runs\.jsonl line 2 is not a run record and is "
                                            rf"skipped: .*{re.escape(why)}"):
        result = st.sweep(toy, grid, executor=SerialExecutor(), out=tmp_path)
    assert result.executed == 1 and result.counts()["ok"] == 2


def test_a_torn_line_is_named_in_a_warning_too(tmp_path):
    grid = {"lr": [0.01, 0.1], "seed": [0]}
    st.sweep(toy, grid, executor=SerialExecutor(), out=tmp_path)
    path = tmp_path / "runs.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n" + lines[1][:20])
    with pytest.warns(RuntimeWarning, match="line 2 is not a run record .*not complete JSON"):
        assert len(read_runs(path)) == 1


def test_a_sweep_cli_resume_with_a_malformed_line_is_not_a_bug(tmp_path, capsys):
    out = tmp_path / "s"
    common = ["sweep", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
              "1", "--optimizer", "sgd", "--lr", "0.1,1", "--seeds", "1", "--workers", "1",
              "--out", str(out)]
    assert main(common) == 0
    with open(out / "runs.jsonl", "a") as fh:
        fh.write("null\n")
    capsys.readouterr()
    assert main(common) == 0
    err = capsys.readouterr().err
    assert "unexpected" not in err
    assert err.count("runs.jsonl line 3 is not a run record and is skipped") == 1, err


def test_system_exit_in_train_fn_is_a_failed_run_not_the_end_of_the_caller(tmp_path):
    result = st.sweep(exits, {"lr": [0.01, 0.1, 1.0], "seed": [0]},
                      executor=SerialExecutor(), out=tmp_path)
    assert [r.status for r in result] == ["ok", "failed", "ok"]
    assert result[1].error.startswith("SystemExit: 3")
    pooled = st.sweep(exits, {"lr": [0.01, 0.1], "seed": [1]}, workers=2)
    assert [r.status for r in pooled] == ["ok", "failed"]


def test_numpy_arrays_and_numbers_in_a_grid_are_plain_values(tmp_path):
    from_numpy = st.sweep(toy, {"lr": np.logspace(-3, -1, 3), "seed": np.arange(2)},
                          executor=SerialExecutor(), out=tmp_path)
    assert [r.config for r in from_numpy] == [
        {"lr": lr, "seed": seed} for lr in (0.001, 0.01, 0.1) for seed in (0, 1)]
    assert all(type(r.config["lr"]) is float and type(r.config["seed"]) is int
               for r in from_numpy)
    again = st.sweep(toy, {"lr": [0.001, 0.01, 0.1], "seed": [0, 1]},
                     executor=SerialExecutor(), out=tmp_path)
    assert again.executed == 0  # the same run keys as Python numbers
    hidden = expand_grid({"hidden": np.array([[16, 16], [32, 32]])})
    assert hidden == [{"hidden": [16, 16]}, {"hidden": [32, 32]}]
    with pytest.raises(ValueError, match=r"0-d NumPy array .*write \[0\.1\] for a single"):
        expand_grid({"lr": np.array(0.1)})
    with pytest.raises(ValueError, match=r"got 0\.1 \(write \[0\.1\] for a single value\)"):
        expand_grid({"lr": np.float64(0.1)})


def test_a_grid_too_large_to_run_is_refused_naming_its_size():
    with pytest.raises(ValueError, match=r"the grid has 1,001,000 runs \(1,001 lr x 1,000 "
                                         r"seed\), more than a sweep can run"):
        expand_grid({"data": ["moons"], "lr": list(range(1, 1002)), "seed": range(1000)})
    with pytest.raises(ValueError, match="count 10,000,000,000 is more values"):
        log_range(1e-3, 1, 10**10)


@pytest.mark.parametrize("flags, fragment", [
    (["--seeds", "100000000000000"],
     "steepest sweep: error: argument --seeds: --seeds 100000000000000 asks for"),
    (["--lr", "1e-3:1:100000000000"], "argument --lr: log_range: count 100,000,000,000"),
    (["--seeds", "20000"], "the grid has 1,040,000 runs (4 optimizer x 13 lr x "
                           "20,000 seed)"),
])
def test_a_sweep_too_large_names_its_cause_not_the_model(tmp_path, capsys, flags, fragment):
    code = main(["sweep", "--data", "moons", "--out", str(tmp_path / "never"), *flags])
    err = capsys.readouterr().err
    assert code == 2 and fragment in err, err
    assert "--hidden" not in err.splitlines()[-1] and "out of memory" not in err


def test_running_out_of_memory_in_a_sweep_does_not_blame_the_model_size(tmp_path, capsys,
                                                                       monkeypatch):
    from steepest.sweeps import cli as sweep_cli_module

    def no_memory(*args, **kwargs):
        raise MemoryError
    monkeypatch.setattr(sweep_cli_module, "sweep", no_memory)
    code = main(["sweep", "--data", "moons", "--workers", "1", "--out", str(tmp_path / "s")])
    line = capsys.readouterr().err.strip().splitlines()[-1]
    assert code == 1 and line.startswith("steepest sweep: error: out of memory; try fewer runs")


def test_cli_advice_and_a_best_rate_at_the_edge_of_the_grid(tmp_path, capsys):
    out = tmp_path / "s"
    assert main(["sweep", "--data", "moons", "--n-samples", "60", "--hidden", "6", "--epochs",
                 "3", "--optimizer", "sgd,adam", "--lr", "0.01,1,100", "--seeds", "1",
                 "--workers", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "adam: lr 0.01 (val_loss" in text
    assert "the smallest rate tried: widen the grid (--lr below 0.01)" in text
    sgd_line = next(line for line in text.splitlines() if "sgd: lr" in line)
    assert "widen" not in sgd_line   # lr 100 was tried too (and diverged)
    page = (out / "index.html").read_text(encoding="utf-8")
    assert "--clip-grad-norm 1.0" in page and "fit(..., clip_grad_norm" not in page
    assert "the smallest lr tried: widen the grid (--lr)" in page
    assert "clip_grad_norm=1.0" in (out / "runs.jsonl").read_text()  # the record is as raised


def test_best_points_flag_a_best_rate_at_either_edge():
    def record(lr, loss):
        return {"config": {"optimizer": "sgd", "lr": lr}, "status": "ok",
                "final": {"loss": loss}}
    edges = [best_points([record(0.1, a), record(1.0, b), record(10.0, c)])["sgd"]["edge"]
             for a, b, c in ((1, 2, 3), (2, 1, 3), (3, 2, 1))]
    assert edges == ["low", None, "high"]
    assert best_points([record(0.1, 1.0)])["sgd"]["edge"] is None


def _start_dask(port: int, scratch, workers: int = 2) -> list:
    """`dask scheduler` and ``workers`` single-threaded `dask worker` processes on 127.0.0.1
    (they can import steepest and this test module); returns the processes."""
    distributed = pytest.importorskip("distributed")
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [SRC, os.path.dirname(__file__), *filter(None, [os.environ.get("PYTHONPATH")])])}
    common = ["--no-dashboard", "--host", "127.0.0.1"]
    procs = [subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--port", str(port),
                               *common], env=env, cwd=scratch, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)]
    try:
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "dask", "worker", address, "--nthreads", "1",
                 "--no-nanny", "--local-directory", str(scratch), *common],
                env=env, cwd=scratch, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=90)
    except BaseException:
        _stop(procs)
        raise
    return procs


def _stop(procs) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_losing_the_dask_scheduler_records_nothing_unfinished_and_a_rerun_completes(
        tmp_path):
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    out = tmp_path / "sweep"
    args = [sys.executable, "-m", "steepest", "sweep", "--data", "moons", "--n-samples", "60",
            "--hidden", "6", "--epochs", "40", "--batch-size", "4", "--optimizer", "sgd,adam",
            "--lr", "1e-3:1:4", "--seeds", "3", "--scheduler", address, "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": SRC}
    runs = out / "runs.jsonl"
    cluster = _start_dask(port, tmp_path)
    try:
        proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and \
                (not runs.exists() or len(runs.read_text().splitlines()) < 2):
            time.sleep(0.02)
        cluster[0].kill()  # the scheduler
        _, err = proc.communicate(timeout=120)
    finally:
        _stop(cluster)
    if proc.returncode == 0:
        pytest.skip("the sweep finished before the scheduler could be stopped")
    lines = err.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, err
    assert lines[0].startswith(f"steepest sweep: error: lost the connection to the Dask "
                               f"scheduler at {address}")
    assert "rerun the same command when the scheduler is back" in lines[0]
    recorded = [json.loads(line) for line in runs.read_text().splitlines()]
    assert 2 <= len(recorded) < 24 and {r["status"] for r in recorded} == {"ok"}
    cluster = _start_dask(port, tmp_path)  # the scheduler is back
    try:
        rerun = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    finally:
        _stop(cluster)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(recorded)} already in" in rerun.stdout
    assert f"{24 - len(recorded)} run now" in rerun.stdout and "24 ok" in rerun.stdout
    assert "Traceback" not in rerun.stderr


def test_attempts_count_the_runs_dask_restarted_after_losing_a_worker(tmp_path):
    port = _free_port()
    cluster = _start_dask(port, tmp_path)
    flag_dir = tmp_path / "flags"
    flag_dir.mkdir()

    def kill_the_worker_of_the_first_attempt():
        flag = flag_dir / "started"
        deadline = time.monotonic() + 120
        while not flag.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # the run has been started for a while
        os.kill(int(flag.read_text()), signal.SIGKILL)
    killer = threading.Thread(target=kill_the_worker_of_the_first_attempt, daemon=True)
    killer.start()
    try:
        with dask_executor(f"tcp://127.0.0.1:{port}") as executor:
            result = st.sweep(kill_first_attempt, {"lr": [0.01, 0.1, 1.0], "seed": [0, 1],
                                                   "flag_dir": [str(flag_dir)],
                                                   "victim_lr": [0.1]}, executor=executor)
    finally:
        killer.join(timeout=5)
        _stop(cluster)
    attempts = {(r.config["lr"], r.config["seed"]): r.attempts for r in result}
    assert all(r.status == "ok" for r in result)
    assert attempts == {(0.01, 0): 1, (0.01, 1): 1, (0.1, 0): 2, (0.1, 1): 1, (1.0, 0): 1,
                        (1.0, 1): 1}


def _sigint_disposition():
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_pool_workers_leave_ctrl_c_to_the_parent_and_an_interrupted_pool_is_joined(tmp_path):
    """Ctrl-C reaches the whole process group: the workers ignore it (the parent stops them),
    and the pool's thread is joined before the sweep returns, so that Python prints no
    'Exception ignored in: <module threading> ... Bad file descriptor' at exit."""
    import concurrent.futures.process as process_module

    from steepest.sweeps.executors import _process_pool

    pool = _process_pool(1)
    try:
        assert pool.submit(_sigint_disposition).result(timeout=60)
    finally:
        pool.shutdown()
    with pytest.raises(KeyboardInterrupt):
        st.sweep(toy, {"lr": log_range(1e-3, 1, 4), "seed": [0, 1], "sleep": [0.2]},
                 workers=2, out=tmp_path, callback=Interrupt(1))
    alive = [t for t in threading.enumerate()
             if isinstance(t, process_module._ExecutorManagerThread) and t.is_alive()]
    assert alive == []
