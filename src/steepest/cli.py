"""The ``steepest`` command: ``steepest tour | train | lr-find | sweep | playground``.

    steepest tour [--out DIR] [--only NAME ...] [--open]
    steepest train --data moons --hidden 16,16 --activation relu --optimizer adam --lr 0.01 \\
                   [--optimizer-option amsgrad=true] [--schedule cosine] \\
                   [--schedule-option T_max=50] \\
                   --epochs 50 --batch-size 32 --seed 0 --out runs/moons [--resume | --overwrite]
    steepest lr-find --data digits --out runs/lr
    steepest sweep --data moons --optimizer sgd,adam --lr 1e-3:1:13 --seeds 3 --out runs/sweep
    steepest playground [--port 8000] [--host 127.0.0.1] [--no-browser]

``tour`` runs every lesson and writes the HTML report; ``sweep`` trains the model of
``train`` for each optimizer x learning rate x seed (see :mod:`steepest.sweeps`);
``playground`` serves the browser playground. Optimizer and schedule names, their default
learning rates and which options each takes come from :mod:`steepest.optim.catalogue`:
``--optimizer-option KEY=VALUE`` sets any other hyperparameter of the optimizer
(``betas=0.9,0.99``, ``amsgrad=true``), ``--schedule NAME`` with ``--schedule-option
KEY=VALUE`` adds a learning-rate schedule (train and sweep), stepped by ``fit`` once per epoch
(onecycle once per batch; plateau with the validation loss).

``train`` writes into ``--out``: ``history.json``, ``training_curves.png`` (loss and
accuracy), ``gradient_norms.png`` (per layer), ``decision_boundary.png`` (2-D data) and
``checkpoint.npz`` (updated atomically after every epoch). ``--resume`` continues from that
checkpoint with the run's saved settings (only ``--epochs``, the new total, may change) and
gives the same weights as an uninterrupted run. A directory that holds a run is not replaced
unless ``--overwrite`` is given. A run that diverges still writes its history and its loss
curve up to the divergence. What looks wrong at the end (chance-level accuracy, dead ReLUs,
vanishing gradients) is printed with what to try, and written on the plots.

``main(argv)`` returns the exit code: 0 on success, 2 for bad arguments or data (a one-line
``steepest <command>: error: ...`` message, never a traceback), 1 when training diverges, a
file cannot be written or memory runs out, 130 when interrupted (Ctrl-C).

Each subcommand is one ``_add_<name>(subparsers)`` function in :data:`SUBCOMMANDS`, which
adds its parser and sets ``run`` (a function ``args -> exit code``) as its default.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import time
import warnings

from steepest.io import write_json
from steepest.optim.catalogue import (
    OPTIMIZERS, SCHEDULERS, build_optimizer, build_scheduler, entry, takes,
)
from steepest.sweeps.cli import cli_advice as _cli_advice
from steepest.sweeps.options import (
    OWN_FLAGS, SCHEDULE_TIMING, check_options, check_schedule_length, options_text,
    parse_options, schedule_text,
)

__all__ = ["main", "build_parser"]

_HIDDEN_ACTIVATIONS = ("binary_step", "leaky_relu", "linear", "relu", "sigmoid", "tanh")

# settings of a run that --resume takes from the checkpoint (and that must not change)
_DEFAULTS = {"data": None, "n_samples": None, "noise": None, "hidden": None,
             "activation": "relu", "optimizer": "adam", "lr": None, "momentum": None,
             "weight_decay": None, "batch_size": 32, "seed": 0, "val_split": 0.2,
             "standardize": True, "clip_grad_norm": None, "optimizer_options": None,
             "schedule": None, "schedule_options": None}
_RUN_KEYS = tuple(_DEFAULTS)
# settings given as repeated KEY=VALUE flags, read against the run's catalogue entry:
# key -> (flag, catalogue table, the setting naming the entry)
_OPTION_KEYS = {"optimizer_options": ("--optimizer-option", "optimizer", "optimizer"),
                "schedule_options": ("--schedule-option", "scheduler", "schedule")}


class CLIError(ValueError):
    """A problem with the command's arguments or files, reported in one line."""


# --------------------------------------------------------------------------- argument types

def _int_at_least(low: int, high: int | None = None):
    """An argparse type: a whole number >= ``low`` (and <= ``high`` if given)."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low or (high is not None and value > high):
            bounds = f">= {low}" if high is None else f"from {low} to {high}"
            raise argparse.ArgumentTypeError(f"must be {bounds}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _float_in(low: float, high: float | None = None, low_open: bool = True):
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or (value <= low if low_open else value < low) or \
                (high is not None and value >= high):
            bounds = f"{'>' if low_open else '>='} {low:g}" + \
                (f" and < {high:g}" if high is not None else "")
            raise argparse.ArgumentTypeError(f"must be a number {bounds}, got {text}")
        return value
    return parse


def _hidden(text: str) -> list:
    """'16,16' -> [16, 16]; '' or 'none' -> [] (no hidden layer: a linear classifier)."""
    cleaned = text.strip().lower()
    if cleaned in ("", "none", "0"):
        return []
    sizes = []
    for part in cleaned.split(","):
        try:
            size = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"expected comma-separated layer sizes such as 16,16, got {text!r}") from None
        if size < 1:
            raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {size}")
        sizes.append(size)
    return sizes


# --------------------------------------------------------------------------- parser

def _add_model_arguments(p: argparse.ArgumentParser, resumable: bool = False,
                         with_lr: bool = True) -> None:
    from steepest.data import DATASET_NAMES

    p.add_argument("--data", choices=DATASET_NAMES, default=None,
                   help="data set" + (" (required unless --resume)" if resumable else
                                      " (required)"))
    p.add_argument("--n-samples", type=_positive_int, default=None,
                   help="number of samples for the generated 2-D data sets")
    p.add_argument("--noise", type=_float_in(0.0, low_open=False), default=None,
                   help="noise of the generated 2-D data sets")
    p.add_argument("--hidden", type=_hidden, default=None, metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default 16,16; 128 for digits)")
    p.add_argument("--activation", choices=_HIDDEN_ACTIVATIONS, default=None,
                   help="activation of the hidden layers (default relu)")
    p.add_argument("--optimizer", choices=list(OPTIMIZERS), default=None,
                   help="optimizer, with torch.optim's update rule (default adam)")
    if with_lr:
        rates = ", ".join(f"{name} {entry.default_lr:g}" for name, entry in OPTIMIZERS.items())
        p.add_argument("--lr", type=_float_in(0.0), default=None,
                       help=f"learning rate (default: {rates})")
    p.add_argument("--momentum", type=_float_in(0.0, 1.0, low_open=False), default=None,
                   help=f"momentum ({', '.join(takes('momentum'))})")
    p.add_argument("--weight-decay", type=_float_in(0.0, low_open=False), default=None,
                   help=f"weight decay ({', '.join(takes('weight_decay'))}; decoupled for "
                        f"adamw)")
    p.add_argument("--optimizer-option", action="append", default=None, metavar="KEY=VALUE",
                   help="any other setting of the optimizer's catalogue entry, repeatable: "
                        "betas=0.9,0.99 amsgrad=true (adam), damping=0.1 (newton), "
                        "line_search_fn=strong_wolfe max_iter=5 (lbfgs)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="default 32")
    p.add_argument("--seed", type=_non_negative_int, default=None,
                   help="seed for data, split, initialisation and shuffling (default 0)")
    p.add_argument("--val-split", type=_float_in(0.0, 1.0), default=None,
                   help="fraction of the data held out for validation (default 0.2)")
    p.add_argument("--no-standardize", dest="standardize", action="store_false", default=None,
                   help="do not standardise the features (by default: mean 0, std 1 from "
                        "the training part)")


def _add_tour(sub) -> None:
    tour = sub.add_parser("tour", help="run every lesson and write the HTML report",
                          description="Run the course's worked examples and write a report.")
    tour.add_argument("--out", default="steepest-tour", help="output directory "
                      "(default: steepest-tour)")
    tour.add_argument("--only", nargs="+", metavar="NAME", default=None,
                      help="run only these lessons")
    tour.add_argument("--open", action="store_true", help="open the report in a browser")
    tour.add_argument("--quick", action="store_true", help="small sizes for the curvature "
                      "lessons (seconds instead of about a minute)")
    tour.set_defaults(run=_cmd_tour)


def _add_train(sub) -> None:
    train = sub.add_parser("train", help="train an MLP on a data set",
                           description="Train an MLP classifier and write its history, plots "
                                       "and checkpoint to --out.")
    _add_model_arguments(train, resumable=True)
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help="total number of epochs (default 30)")
    train.add_argument("--schedule", choices=list(SCHEDULERS), default=None,
                       help=f"learning-rate schedule (default none: a constant lr), "
                            f"{SCHEDULE_TIMING}")
    train.add_argument("--schedule-option", action="append", default=None,
                       metavar="KEY=VALUE", help="a setting of the schedule, repeatable: "
                                                 "T_max=30 (cosine), T_0=10 T_mult=2 "
                                                 "(warm_restarts)")
    train.add_argument("--clip-grad-norm", type=_float_in(0.0), default=None,
                       metavar="MAX_NORM", help="clip the gradients' total norm")
    train.add_argument("--compile", action="store_true",
                       help="trace each training step once and replay it (st.compile): the "
                            "same numbers, less Python per step")
    train.add_argument("--out", required=True, help="output directory")
    again = train.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint.npz up to --epochs in total")
    again.add_argument("--overwrite", action="store_true",
                       help="replace the run already in --out (by default it is kept and "
                            "the command refuses)")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                       help="0 silent, 1 progress bar (a line per epoch when not a terminal), "
                            "2 a line per epoch (default: bar on a terminal, else silent)")
    train.set_defaults(run=_cmd_train)


def _add_lr_find(sub) -> None:
    lr_find = sub.add_parser("lr-find", help="learning-rate range test",
                             description="Sweep the learning rate exponentially over "
                                         "mini-batches and suggest one (fastai's lr_find).")
    _add_model_arguments(lr_find, with_lr=False)
    lr_find.add_argument("--start-lr", type=_float_in(0.0), default=1e-7, metavar="LR",
                         help="learning rate of the first step (default %(default)g)")
    lr_find.add_argument("--end-lr", type=_float_in(0.0), default=10.0, metavar="LR",
                         help="learning rate of the last step (default %(default)g)")
    lr_find.add_argument("--num-steps", type=_int_at_least(2), default=200, metavar="N",
                         help="mini-batch steps, spaced exponentially from --start-lr to "
                              "--end-lr (default %(default)d)")
    lr_find.add_argument("--out", required=True, help="output directory")
    lr_find.set_defaults(run=_cmd_lr_find)


def _add_sweep(sub) -> None:
    from steepest.sweeps import add_sweep_arguments

    sweep = sub.add_parser(
        "sweep", help="learning rate x optimizer x seed, on local cores or a Dask cluster",
        description="Train an MLP for every optimizer, learning rate and seed; resumable "
                    "(OUT/runs.jsonl), with plots (OUT/index.html).")
    add_sweep_arguments(sweep)
    sweep.set_defaults(run=_cmd_sweep)


def _add_playground(sub) -> None:
    playground = sub.add_parser(
        "playground", help="watch a network learn in the browser (one tab or a class)",
        description="Start the playground server and open it. For a class: --host 0.0.0.0; "
                    "students open the printed address (it carries the join code), the "
                    "teacher opens the printed /teacher address.")
    playground.add_argument("--port", type=_int_at_least(1, 65535), default=8000,
                            help="default 8000")
    playground.add_argument("--host", default="127.0.0.1",
                            help="default 127.0.0.1 (this machine only); 0.0.0.0 for a "
                                 "classroom (then a join code is required)")
    playground.add_argument("--max-sessions", type=_int_at_least(1, 1000), default=40,
                            help="browser tabs training at once (default 40)")
    playground.add_argument("--workers", type=_int_at_least(0, 256), default=None,
                            help="worker processes that train (default: the number of cores; "
                                 "0 trains in the server process)")
    playground.add_argument("--idle-minutes", type=_float_in(0, low_open=False), default=20.0,
                            help="release a tab nobody touched for this long (default 20; "
                                 "0 never)")
    playground.add_argument("--code", default=None,
                            help="the students' join code (default: generated for a "
                                 "non-loopback --host, none on 127.0.0.1)")
    playground.add_argument("--teacher-code", default=None,
                            help="the code of the teacher's view /teacher (default: generated)")
    playground.add_argument("--no-browser", dest="browser", action="store_false",
                            help="do not open a browser tab")
    playground.set_defaults(run=_cmd_playground)


#: one function per subcommand; each adds its parser (other commands append theirs here)
SUBCOMMANDS = [_add_tour, _add_train, _add_lr_find, _add_sweep, _add_playground]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``steepest`` command."""
    parser = argparse.ArgumentParser(
        prog="steepest", description="Neural-network optimization, exact and visible.")
    sub = parser.add_subparsers(dest="command")
    sub.required = True
    for add in SUBCOMMANDS:
        add(sub)
    sub.metavar = "{" + ",".join(sub.choices) + "}"
    return parser


# --------------------------------------------------------------------------- shared setup

def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _settings(args, saved: dict | None = None) -> dict:
    """The run's settings: explicit arguments, else the saved run's, else defaults."""
    settings = {}
    for key in _RUN_KEYS:
        if key in _OPTION_KEYS:
            continue
        given = getattr(args, key, None)
        if saved is not None and key in saved:
            if given is not None and given != saved[key]:
                flag = "--no-standardize" if key == "standardize" else \
                    "--" + key.replace("_", "-")
                raise CLIError(f"{flag} {_show(given)} differs from the checkpoint's run "
                               f"({_show(saved[key])}); --resume continues the same run, so "
                               f"leave it out or use a new --out")
            settings[key] = saved[key]
        else:
            settings[key] = given if given is not None else _DEFAULTS[key]
    if settings["data"] is None:
        raise CLIError("the following argument is required: --data")
    if settings["hidden"] is None:
        settings["hidden"] = [128] if settings["data"] == "digits" else [16, 16]
    if settings["lr"] is None:  # the catalogue's: a sweep run equals a train run
        settings["lr"] = OPTIMIZERS[settings["optimizer"]].default_lr
    for key in _OPTION_KEYS:
        settings[key] = _option_setting(args, key, settings, saved)
    own = {key: settings[key] for key in OWN_FLAGS  # the others: _make_optimizer's message
           if settings[key] is not None and key in OPTIMIZERS[settings["optimizer"]].names}
    check_options("optimizer", settings["optimizer"],
                  {**own, **(settings["optimizer_options"] or {})}, "--optimizer-option")
    return settings


def _option_setting(args, key: str, settings: dict, saved: dict | None) -> dict | None:
    """The KEY=VALUE settings of ``key``, read against the run's catalogue entry; on
    --resume each one given must equal the checkpoint's (unset there: the default)."""
    flag, kind, owner = _OPTION_KEYS[key]
    texts = getattr(args, flag[2:].replace("-", "_"), None)
    name = settings[owner]
    if name is None:
        if texts:
            raise CLIError(f"{flag} {texts[0]} needs --{owner}")
        return None
    given = parse_options(kind, name, texts, flag, OWN_FLAGS if kind == "optimizer" else None)
    if saved is None or key not in saved:
        return given or None
    kept = saved[key] or {}
    for option, value in given.items():
        hp = entry(kind, name).hyperparameter(option)
        before = kept.get(option, hp.default)
        if hp.check(value, name) != hp.check(before, name):
            raise CLIError(f"{flag} {options_text({option: value})} differs from the "
                           f"checkpoint's run ({options_text({option: before})}); --resume "
                           f"continues the same run, so leave it out or use a new --out")
    return saved[key]


def _load_data(settings: dict):
    from steepest.data import load_split

    return load_split(settings["data"], seed=settings["seed"], val_split=settings["val_split"],
                      standardize=settings["standardize"], n_samples=settings["n_samples"],
                      noise=settings["noise"])


def _build(settings: dict, n_features: int, n_classes: int):
    from steepest.nn import mlp
    from steepest.random import manual_seed
    from steepest.tensor import get_default_dtype

    manual_seed(settings["seed"])
    sizes = [n_features, *settings["hidden"], n_classes]
    count = sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))
    itemsize = get_default_dtype().itemsize
    # weights, gradients, two optimizer buffers (Adam), and each layer's output, its
    # activation and their gradients for one batch
    needed = itemsize * (4 * count + 4 * settings["batch_size"] * sum(sizes))
    available = _available_memory()
    too_big = (f"--hidden {_show(settings['hidden'])} makes a network of {count:.3g} "
               f"parameters, which needs about {needed / 2**30:.3g} GiB to train")
    if available is not None and needed > available:
        raise CLIError(f"{too_big}, more than the {available / 2**30:.3g} GiB of memory this "
                       f"machine has available; use smaller hidden layers")
    try:
        model = mlp(sizes, activation=settings["activation"])
    except MemoryError:
        raise CLIError(f"{too_big}, more memory than this machine can give; use smaller "
                       f"hidden layers") from None
    return model, sizes


def _available_memory() -> int | None:
    """Bytes of memory this machine can give now: ``MemAvailable`` of /proc/meminfo (Linux,
    which overcommits: an allocation that is too large is not refused, the process is
    killed later), else the physical memory (``os.sysconf``), else None (unknown)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def _make_optimizer(settings: dict, params):
    name = settings["optimizer"]
    values = {key: settings[key] for key in OWN_FLAGS if settings[key] is not None}
    for key in values:
        if key not in OPTIMIZERS[name].names:
            *others, last = takes(key)
            raise CLIError(f"{OWN_FLAGS[key]} applies to {', '.join(others)} and "
                           f"{last}, not {name}")
    return build_optimizer(name, params, **values, **(settings["optimizer_options"] or {}))


def _make_scheduler(settings: dict, optimizer):
    """The run's learning-rate scheduler over ``optimizer``, or None (a constant lr)."""
    if settings["schedule"] is None:
        return None
    try:
        return build_scheduler(settings["schedule"], optimizer,
                               **(settings["schedule_options"] or {}))
    except ValueError as error:
        raise CLIError(f"--schedule {settings['schedule']}: {_one_line(error)}") from None


def _describe(settings: dict, sizes: list) -> str:
    optimizer = " ".join(filter(None, (
        f"{OPTIMIZERS[settings['optimizer']].label} lr={settings['lr']:g}",
        options_text(settings["optimizer_options"]))))
    schedule = settings.get("schedule")
    if schedule is not None:
        optimizer += ", " + schedule_text(schedule, settings["schedule_options"])
    return (f"{settings['data']}, MLP {'-'.join(map(str, sizes))} ({settings['activation']}), "
            f"{optimizer}")


# --------------------------------------------------------------------------- commands

def _prepare_out(out: str) -> str:
    if not out.strip():
        raise CLIError("--out must name a directory, got an empty string")
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out} exists and is not a directory")
    os.makedirs(out, exist_ok=True)
    return out


#: what ``steepest train`` writes into --out (``--overwrite`` removes them first)
RUN_FILES = ("history.json", "checkpoint.npz", "training_curves.png", "gradient_norms.png",
             "decision_boundary.png")


def _check_out_for_a_run(args, out: str, checkpoint: str) -> None:
    """Refuse to replace a run in --out unless --resume or --overwrite says what to do."""
    if args.resume:
        if not os.path.isfile(checkpoint):
            raise CLIError(f"no checkpoint to resume from at {checkpoint}; run without "
                           f"--resume first")
        return
    existing = [name for name in ("checkpoint.npz", "history.json")
                if os.path.exists(os.path.join(out, name))]
    if existing and not args.overwrite:
        raise CLIError(f"--out {out} already holds a run ({', '.join(existing)}); continue it "
                       f"with --resume, replace it with --overwrite, or choose another --out")


def _saved_settings(checkpoint: str):
    """The run settings and epoch target stored by an earlier ``steepest train``."""
    from steepest.training.checkpoint import checkpoint_info

    extra = checkpoint_info(checkpoint).get("extra")
    saved = extra.get("config") if isinstance(extra, dict) else None
    if not isinstance(saved, dict) or not set(saved) <= set(_RUN_KEYS):
        raise CLIError(f"{checkpoint} was not written by 'steepest train' (no run settings "
                       f"inside); cannot resume it from the command line")
    for key, value in saved.items():
        expected = _saved_setting_problem(key, value)
        if expected:
            raise CLIError(f"{checkpoint} holds the setting {key}={json.dumps(value)}, but "
                           f"{key} must be {expected}; cannot resume it from the command line")
    epochs = extra.get("epochs")
    return saved, (epochs if isinstance(epochs, int) and epochs > 0 else 30)


def _saved_setting_problem(key: str, value) -> str | None:
    """What a setting stored in a checkpoint should have been, or None if it is usable."""
    from steepest.data import DATASET_NAMES

    def number(v, low, high=math.inf, whole=False):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and \
            (not whole or isinstance(v, int)) and low <= v < high
    choices = {"data": DATASET_NAMES, "activation": _HIDDEN_ACTIVATIONS,
               "optimizer": tuple(OPTIMIZERS)}
    if key == "schedule":
        usable = value is None or (isinstance(value, str) and value in SCHEDULERS)
        return None if usable else "null or one of " + ", ".join(SCHEDULERS)
    if key in choices:
        return None if value in choices[key] else \
            "one of " + ", ".join(map(str, choices[key]))
    checks = {
        "hidden": (lambda v: v is None or (isinstance(v, list) and all(
            number(n, 1, whole=True) for n in v)), "null or a list of layer sizes >= 1"),
        "n_samples": (lambda v: v is None or number(v, 1, whole=True), "null or a whole "
                                                                       "number >= 1"),
        "noise": (lambda v: v is None or number(v, 0), "null or a number >= 0"),
        "lr": (lambda v: v is None or (number(v, 0) and v > 0), "null or a number > 0"),
        "momentum": (lambda v: v is None or number(v, 0, 1), "null or a number in [0, 1)"),
        "weight_decay": (lambda v: v is None or number(v, 0), "null or a number >= 0"),
        "clip_grad_norm": (lambda v: v is None or (number(v, 0) and v > 0),
                           "null or a number > 0"),
        "batch_size": (lambda v: number(v, 1, whole=True), "a whole number >= 1"),
        "seed": (lambda v: number(v, 0, whole=True), "a whole number >= 0"),
        "val_split": (lambda v: number(v, 0, 1) and v > 0, "a number > 0 and < 1"),
        "standardize": (lambda v: isinstance(v, bool), "true or false"),
        "optimizer_options": (_options_object, "null or an object of settings"),
        "schedule_options": (_options_object, "null or an object of settings"),
    }
    usable, expected = checks[key]
    return None if usable(value) else expected


def _options_object(value) -> bool:
    return value is None or (isinstance(value, dict) and all(isinstance(k, str) for k in value))


def _cmd_train(args) -> int:
    from steepest.losses import cross_entropy
    from steepest.report.training_plots import (
        plot_decision_boundary, plot_gradient_norms, plot_step_losses,
    )
    from steepest.training.callbacks import ModelCheckpoint, StepLosses
    from steepest.training.checkpoint import load_checkpoint
    from steepest.training.history import DivergenceError
    from steepest.training.loop import evaluate, fit

    out = args.out
    checkpoint = os.path.join(out, "checkpoint.npz")
    _check_out_for_a_run(args, out, checkpoint)
    saved, saved_epochs = _saved_settings(checkpoint) if args.resume else (None, None)
    settings = _settings(args, saved)
    epochs = args.epochs or saved_epochs or 30
    _prepare_out(out)

    X_train, X_val, y_train, y_val, scaler, n_classes = _load_data(settings)
    model, sizes = _build(settings, X_train.shape[1], n_classes)
    optimizer = _make_optimizer(settings, model.parameters())
    scheduler = _make_scheduler(settings, optimizer)
    check_schedule_length(settings["schedule"], settings["schedule_options"], epochs,
                          -(-len(X_train) // settings["batch_size"]))
    initial_epoch, history = 0, None
    if saved is not None:
        loaded = load_checkpoint(checkpoint, model, optimizer, scheduler=scheduler)
        initial_epoch, history = loaded["epoch"] or 0, loaded["history"]
    extra = {"config": settings, "epochs": epochs}
    if scaler is not None:
        extra["standardizer"] = {"mean": scaler.mean_, "scale": scaler.scale_}

    title = _describe(settings, sizes)
    print(f"steepest train: {title}, {len(X_train)} training / {len(X_val)} validation samples"
          + (f"; resuming after epoch {initial_epoch}" if saved is not None else ""))
    if initial_epoch >= epochs:
        print(f"already trained for {initial_epoch} epochs (--epochs {epochs}); nothing to do")
        return 0
    verbose = "auto" if args.verbose is None else args.verbose
    steps = StepLosses()
    start = time.perf_counter()
    try:
        history = fit(model, cross_entropy, optimizer, X_train, y_train,
                         epochs=epochs, batch_size=settings["batch_size"],
                         validation_data=(X_val, y_val), seed=settings["seed"],
                         verbose=verbose, initial_epoch=initial_epoch, history=history,
                         clip_grad_norm=settings["clip_grad_norm"], compile=args.compile,
                         scheduler=scheduler,
                         callbacks=[ModelCheckpoint(checkpoint, extra=extra,
                                                    scheduler=scheduler), steps])
    except DivergenceError as error:  # keep what the learner needs to see it, then report
        losses = [*steps.losses, error.loss]
        diverged = {"message": _one_line(error), "epoch": error.epoch, "step": error.step,
                    "loss": error.loss if math.isfinite(error.loss) else None, "lr": error.lr}
        written = ["history.json", "training_curves.png"]
        write_json(os.path.join(out, "history.json"),
                   {**error.history.to_dict(), "config": settings, "diverged": diverged,
                    "step_losses": [v if math.isfinite(v) else None for v in losses]}, indent=1)
        plot_step_losses(losses, os.path.join(out, "training_curves.png"),
                         steps_per_epoch=error.history.params.get("steps"),
                         first_epoch=initial_epoch,
                         title=f"{title}\nthe loss at each step, up to the divergence",
                         note=_cli_advice(_one_line(error)))
        if len(error.history) > initial_epoch:
            plot_gradient_norms(error.history, model, os.path.join(out, "gradient_norms.png"))
            written.append("gradient_norms.png")
        if args.overwrite:  # the checkpoint is this run's once an epoch has ended
            _remove_older_run_files(out, written + ["checkpoint.npz"] * (
                len(error.history) > initial_epoch))
        print(f"wrote {', '.join(os.path.join(out, name) for name in written)} (the run up to "
              f"the divergence)")
        raise
    seconds = time.perf_counter() - start
    history.diagnosis = [_cli_advice(finding) for finding in history.diagnosis]

    train_scores = evaluate(model, cross_entropy, X_train, y_train)
    val_scores = evaluate(model, cross_entropy, X_val, y_val)
    written = ["history.json", "checkpoint.npz"]
    write_json(os.path.join(out, "history.json"),
               {**history.to_dict(), "config": settings,
                "final": {"train": train_scores, "validation": val_scores}}, indent=1)
    if len(history):
        history.plot(os.path.join(out, "training_curves.png"), title=title)
        plot_gradient_norms(history, model, os.path.join(out, "gradient_norms.png"))
        written[1:1] = ["training_curves.png", "gradient_norms.png"]
    if X_train.shape[1] == 2:
        raw_train = scaler.inverse_transform(X_train) if scaler is not None else X_train
        raw_val = scaler.inverse_transform(X_val) if scaler is not None else X_val
        plot_decision_boundary(
            model, raw_train, y_train, os.path.join(out, "decision_boundary.png"), scaler,
            raw_val, y_val, title=f"{settings['data']}: validation accuracy "
                                  f"{val_scores['accuracy']:.1%}")
        written.append("decision_boundary.png")
    print(f"final evaluation after epoch {len(history)} (the trained model on the whole sets, "
          f"in eval mode): train loss "
          f"{train_scores['loss']:.4f}, train accuracy {train_scores['accuracy']:.2%}; "
          f"validation loss {val_scores['loss']:.4f}, validation accuracy "
          f"{val_scores['accuracy']:.2%} ({seconds:.1f} s)")
    if _quiet(verbose):  # fit printed its diagnosis itself otherwise
        for finding in history.diagnosis:
            print(f"diagnosis: {finding}")
    if args.overwrite:
        _remove_older_run_files(out, written)
    print(f"wrote {', '.join(os.path.join(out, name) for name in written)}")
    return 0


def _remove_older_run_files(out: str, written: list) -> None:
    """After an --overwrite run: remove the replaced run's files that this run did not write
    again (a decision boundary of 2-D data, a checkpoint of a run that diverged at once).
    Until then the old run stays whole, so a Ctrl-C early in the new one loses nothing.
    Decided by name, not by modification time (which some file systems keep to the second)."""
    for name in RUN_FILES:
        path = os.path.join(out, name)
        if name not in written and os.path.exists(path):
            os.remove(path)


def _quiet(verbose) -> bool:
    """Whether ``fit(verbose=verbose)`` prints nothing here (so the CLI says it instead)."""
    from steepest.training.loop import _Progress

    return _Progress(verbose, 1, 1).mode == "quiet"


def _cmd_lr_find(args) -> int:
    from steepest.losses import cross_entropy
    from steepest.training.diagnostics import lr_range_test

    settings = _settings(args)
    if args.start_lr >= args.end_lr:
        raise CLIError(f"--start-lr ({args.start_lr:g}) must be smaller than --end-lr "
                       f"({args.end_lr:g})")
    out = _prepare_out(args.out)
    X_train, _, y_train, _, _, n_classes = _load_data(settings)
    model, sizes = _build(settings, X_train.shape[1], n_classes)
    optimizer = _make_optimizer(settings, model.parameters())
    result = lr_range_test(model, cross_entropy, optimizer, X_train, y_train,
                           start_lr=args.start_lr, end_lr=args.end_lr,
                           num_steps=args.num_steps, batch_size=settings["batch_size"],
                           seed=settings["seed"])
    name = OPTIMIZERS[settings["optimizer"]].label
    result.plot(os.path.join(out, "lr_find.png"),
                title=f"LR range test: {settings['data']}, MLP {'-'.join(map(str, sizes))}, "
                      f"{name}")
    settings = {k: v for k, v in settings.items()
                if k not in ("lr", "schedule", "schedule_options")}
    write_json(os.path.join(out, "lr_find.json"),
               {**result.to_dict(), "config": settings, "start_lr": args.start_lr,
                "end_lr": args.end_lr, "num_steps": args.num_steps}, indent=1)
    stop = " (stopped early: the loss diverged)" if result.stopped_early else ""
    print(f"steepest lr-find: {len(result.lrs)} steps from {args.start_lr:g} to "
          f"{result.lrs[-1]:.3g}{stop}")
    print(f"suggested learning rate for {name}: {result.suggested_lr:.3g} (steepest descent "
          f"of the smoothed loss); minimum/10: {result.lr_min:.3g}")
    print(f"wrote {os.path.join(out, 'lr_find.png')}, {os.path.join(out, 'lr_find.json')}")
    return 0


def _cmd_tour(args) -> int:
    try:
        from steepest.report import run_tour
    except ImportError as error:
        raise CLIError(f"the tour is not available in this installation ({error})") from None
    run_tour(args.out, only=args.only or None, open_browser=args.open,
             quick=args.quick)  # it prints progress
    return 0


def _cmd_playground(args) -> int:
    import os

    from steepest.playground.server import Limits, serve

    _check_address(args.host, args.port)

    for flag, code in (("--code", args.code), ("--teacher-code", args.teacher_code)):
        if code is not None and not (4 <= len(code) <= 64 and code.isalnum()):
            raise CLIError(f"{flag} must be 4 to 64 letters or digits, got {code!r}")
    workers = (os.cpu_count() or 1) if args.workers is None else args.workers
    limits = Limits(max_sessions=args.max_sessions, workers=workers,
                    idle_minutes=args.idle_minutes)
    try:
        serve(host=args.host, port=args.port, open_browser=args.browser, limits=limits,
              code=args.code, teacher_code=args.teacher_code)
    except SystemExit as stop:  # uvicorn exits (after its own one-line ERROR) if it cannot bind
        raise CLIError(f"the playground could not start on {args.host}:{args.port} (see the "
                       f"message above)") from stop
    return 0


def _check_address(host: str, port: int) -> None:
    """Refuse a --host that is empty, not an address of this machine, or a --port in use,
    naming which, by binding a socket to it once before the server starts."""
    import errno
    import ipaddress
    import socket

    if not host.strip():
        raise CLIError("--host must name an address, got an empty string (127.0.0.1 for this "
                       "machine only, 0.0.0.0 for every network interface)")
    if all(part.isdigit() for part in host.split(".")):
        try:
            ipaddress.IPv4Address(host)
        except ValueError as error:
            raise CLIError(f"--host {host} is not an IPv4 address ({error})") from None
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except (socket.gaierror, UnicodeError) as error:
        raise CLIError(f"--host {host} is not a host name or address this machine can use "
                       f"({error})") from None
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise CLIError(f"--port {port} is in use on {host} (by another program or "
                               f"playground); try --port {port + 1}") from None
            if error.errno == errno.EACCES:
                raise CLIError(f"--port {port} needs administrator rights; use a port from "
                               f"1024 up") from None
            raise CLIError(f"--host {host} is not an address of this machine "
                           f"({error.strerror})") from None


def _cmd_sweep(args) -> int:
    from steepest.sweeps import sweep_cli

    return sweep_cli(args)


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.strerror}: {error.filename}"
    return " ".join(text.split())


#: what to try when a command runs out of memory, by the prefix of its messages
_MEMORY_ADVICE = {
    "steepest train": "try smaller --hidden layers or --batch-size",
    "steepest lr-find": "try smaller --hidden layers or --batch-size",
    "steepest sweep": "try fewer runs at once (--workers) or smaller --hidden layers or "
                      "--batch-size",
    "": "an option asks for more than this machine can hold",
}


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def _sigterm_as_ctrl_c():
    """Let SIGTERM (kill, a job scheduler) end a command as Ctrl-C does: one line, exit 130,
    runs recorded so far kept and worker processes stopped, instead of an abrupt death. The
    previous handler comes back afterwards (main may run inside another program)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv=None) -> int:
    """Run the ``steepest`` command on ``argv`` (default ``sys.argv[1:]``); return the exit code.

    Whatever happens, the user sees one line per problem and never a traceback: warnings
    are shown as ``steepest <command>: warning: ...`` without file paths, and floating-point
    overflow inside training is left to the divergence guard to report.
    """
    with _sigterm_as_ctrl_c():
        return _main(argv)


def _main(argv) -> int:
    prefix = "steepest"

    def show_warning(message, category, filename, lineno, file=None, line=None):
        print(f"{prefix}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = show_warning
            import numpy as np

            from steepest.training.history import DivergenceError

            parser = build_parser()
            try:
                args = parser.parse_args(argv)
            except SystemExit as exit_:  # --help (0) or a usage error (2), already printed
                code = exit_.code
                return code if isinstance(code, int) else (0 if code is None else 2)
            prefix = f"steepest {args.command}"
            try:
                with np.errstate(all="ignore"):
                    return args.run(args)
            except DivergenceError as error:
                print(f"{prefix}: error: {_cli_advice(_one_line(error))}", file=sys.stderr)
                return 1
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except ValueError as error:
        print(f"{prefix}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"{prefix}: error: out of memory; {_MEMORY_ADVICE.get(prefix, _MEMORY_ADVICE[''])}",
              file=sys.stderr)
        return 1
    except OSError as error:
        print(f"{prefix}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except Exception as error:  # a bug: still one line, and how to report it
        print(f"{prefix}: error: unexpected {type(error).__name__}: {_one_line(error)} (a bug "
              f"in steepest; please report it with the command line)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
