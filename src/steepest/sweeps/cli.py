"""``steepest sweep``: its options, the run over the grid, and the summary it prints."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

from steepest.optim.catalogue import OPTIMIZERS, SCHEDULERS, takes
from steepest.sweeps.executors import ClusterLost, SerialExecutor, dask_executor, default_workers
from steepest.sweeps.grid import MAX_RUNS, expand_grid, log_range, parse_lr
from steepest.sweeps.jsonl import RUNS_FILE, SUMMARY_FILE, read_runs
from steepest.sweeps.mlp import check_mlp_config, sweep_mlp
from steepest.sweeps.options import (
    OWN_FLAGS, SCHEDULE_TIMING, options_text, parse_options, schedule_text,
)
from steepest.sweeps.records import SweepResult, best_points, config_key
from steepest.sweeps.runner import sweep

__all__ = ["add_sweep_arguments", "sweep_cli", "grid_first", "cli_advice", "CLI_WORDS"]

#: library advice (fit's and diagnose's words) -> the command line's options
CLI_WORDS = (
    ("(fit(..., clip_grad_norm=1.0))", "(--clip-grad-norm 1.0)"),
    ("Try relu (or leaky_relu), fewer layers, or the Adam optimizer.",
     "Try --activation relu (or leaky_relu), fewer --hidden layers, or --optimizer adam."),
    ("Try a smaller learning rate (lr/10), leaky_relu, or the Adam optimizer.",
     "Try a smaller --lr (lr/10), --activation leaky_relu, or --optimizer adam."),
    ("Try another learning rate (a learning-rate range test finds one), more epochs, or the "
     "Adam optimizer.", "Try another --lr (steepest lr-find finds one), more --epochs, or "
                        "--optimizer adam."),
)


def cli_advice(text: str) -> str:
    """Library advice in command-line words (``steepest train`` and ``sweep`` print it)."""
    for library, command_line in CLI_WORDS:
        text = text.replace(library, command_line)
    return text


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
        if count > MAX_RUNS:
            raise ValueError(f"--seeds {count} asks for {count:,} runs per optimizer and "
                             f"learning rate, more than a sweep can run (at most "
                             f"{MAX_RUNS:,} runs in all)")
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
    parser.add_argument("--momentum", type=float, default=None,
                        help=f"momentum ({', '.join(takes('momentum'))})")
    parser.add_argument("--weight-decay", type=float, default=None, help="weight decay")
    parser.add_argument("--optimizer-option", action="append", default=None,
                        metavar="KEY=VALUE",
                        help="another setting of the optimizers' catalogue entries, the same "
                             "for every run, repeatable: amsgrad=true, betas=0.9,0.99")
    parser.add_argument("--schedule", choices=list(SCHEDULERS), default=None,
                        help=f"learning-rate schedule of every run (default none: a constant "
                             f"lr), {SCHEDULE_TIMING}")
    parser.add_argument("--schedule-option", action="append", default=None,
                        metavar="KEY=VALUE", help="a setting of the schedule, repeatable: "
                                                  "T_max=30 (cosine)")
    parser.add_argument("--clip-grad-norm", type=float, default=None, metavar="MAX_NORM",
                        help="clip the gradients' total norm")
    parser.add_argument("--compile", action="store_true", default=None,
                        help="trace each run's training step once and replay it "
                             "(st.compile): the same numbers, less Python per step")
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
    schedule = config.get("schedule")
    schedule = "" if schedule is None else \
        ", " + schedule_text(schedule, config.get("schedule_options"))
    options = options_text(config.get("optimizer_options"))
    options = f", optimizer options {options}" if options else ""
    if not hidden:  # --hidden , : no hidden layer
        return (f"{config['data']}, linear model (no hidden layer), "
                f"{config['epochs']} epochs{options}{schedule}")
    return (f"{config['data']}, MLP hidden {'-'.join(map(str, hidden))} "
            f"({config.get('activation', 'relu')}), {config['epochs']} epochs{options}"
            f"{schedule}")


def _catalogue_options(args) -> dict:
    """--optimizer-option (read against every optimizer of the sweep: each must take it)
    and --schedule/--schedule-option, as config settings."""
    settings = {}
    optimizer_options = None
    for name in args.optimizer:
        if name not in OPTIMIZERS:
            break  # check_mlp_config names it
        optimizer_options = parse_options("optimizer", name, args.optimizer_option,
                                          "--optimizer-option", OWN_FLAGS)
    if optimizer_options:
        settings["optimizer_options"] = optimizer_options
    if args.schedule is None:
        if args.schedule_option:
            raise ValueError(f"--schedule-option {args.schedule_option[0]} needs --schedule")
        return settings
    settings["schedule"] = args.schedule
    schedule_options = parse_options("scheduler", args.schedule, args.schedule_option,
                                     "--schedule-option")
    if schedule_options:
        settings["schedule_options"] = schedule_options
    return settings


def sweep_cli(args) -> int:
    """``steepest sweep``: run the grid, write runs.jsonl, summary.csv and the plots.

    Bad settings raise ValueError (the CLI prints one line, exit 2) before any run starts;
    returns 1 if some run failed (raised or lost its worker twice), else 0.
    """
    fixed = {"data": args.data, "epochs": args.epochs, "hidden": args.hidden,
             "activation": args.activation, "batch_size": args.batch_size,
             "n_samples": args.n_samples, "noise": args.noise, "val_split": args.val_split,
             "standardize": args.standardize, "momentum": args.momentum,
             "weight_decay": args.weight_decay, "clip_grad_norm": args.clip_grad_norm,
             "compile": args.compile}
    fixed = {**{k: v for k, v in fixed.items() if v is not None}, **_catalogue_options(args)}
    for name in ("optimizer", "lr", "seeds"):
        values = getattr(args, name)
        if not values:
            raise ValueError(f"--{name} needs at least one value")
        if len(set(values)) != len(values):
            raise ValueError(f"--{name} lists a value twice: {values}")
    grid = {**{k: [v] for k, v in fixed.items()}, "optimizer": args.optimizer,
            "lr": args.lr, "seed": args.seeds}
    configs = expand_grid(grid)
    for config in configs:
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
    keys = {config_key(config) for config in configs}
    already = keys & read_runs(os.path.join(out, RUNS_FILE)).keys()  # of this grid only
    rates = f" ({args.lr[0]:g} to {args.lr[-1]:g})" if len(args.lr) > 1 else f" ({args.lr[0]:g})"
    print(f"steepest sweep: {_count(args.optimizer, 'optimizer')} x "
          f"{_count(args.lr, 'learning rate')}{rates} x {_count(args.seeds, 'seed')} = "
          f"{_count(range(n_runs), 'run')}; "
          f"{_describe_model(grid_first(grid))}; on {where}"
          + (f"; {len(already)} already in {os.path.join(out, RUNS_FILE)}" if already else ""),
          flush=True)
    def done() -> str:
        count = len(keys & read_runs(os.path.join(out, RUNS_FILE)).keys())
        return f"{count} of {n_runs} runs are in {os.path.join(out, RUNS_FILE)}"
    try:
        result = sweep(sweep_mlp, grid, executor=executor, workers=args.workers, out=out,
                       retry_failed=args.retry_failed, progress=None)
    except KeyboardInterrupt:
        print(f"steepest sweep: interrupted; {done()}; rerun the same command to run the rest",
              file=sys.stderr)
        return 130
    except ClusterLost as error:
        print(f"steepest sweep: error: {error}; {done()}; rerun the same command when the "
              f"scheduler is back to run the rest", file=sys.stderr)
        return 1
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
    from steepest.report.sweep_page import write_sweep_report

    counts = result.counts()
    print(f"{len(result)} runs ({result.executed} run now, in {result.seconds:.1f} s): "
          + ", ".join(f"{n} {status}" for status, n in counts.items()))
    title = _describe_model(first)
    records = [{**r.to_json(), "error": cli_advice(r.error) if r.error else r.error}
               for r in result]
    written = write_sweep_report(records, out, title=title, x_flag="--lr")
    best = best_points(records)
    if best:
        metric = next(iter(best.values()))["metric"]
        print(f"best learning rate per optimizer (median final {metric.replace('_', ' ')} "
              f"over seeds, rates where every seed finished):")
        for optimizer, point in best.items():
            edge = {"low": f"; the smallest rate tried: widen the grid (--lr below "
                           f"{point['x']:.3g})",
                    "high": f"; the largest rate tried: widen the grid (--lr above "
                            f"{point['x']:.3g})"}.get(point["edge"], "")
            print(f"  {optimizer:>9}: lr {point['x']:.3g} ({metric} {point['median']:.4g})"
                  f"{edge}")
    failed = [r for r in records if r["status"] == "failed"]
    if failed:
        print(f"{len(failed)} run(s) failed; first: {failed[0]['config']} -> "
              f"{failed[0]['error']}")
    print("wrote " + ", ".join(os.path.join(out, name) for name in
                               (RUNS_FILE, SUMMARY_FILE, *written)))
    return 1 if failed else 0
