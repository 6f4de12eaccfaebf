"""The ``steepest`` command: ``steepest tour | train | lr-find``.

    steepest tour [--out DIR] [--only NAME ...] [--open]
    steepest train --data moons --hidden 16,16 --activation relu --optimizer adam --lr 0.01 \\
                   --epochs 50 --batch-size 32 --seed 0 --out runs/moons [--resume]
    steepest lr-find --data digits --out runs/lr

``train`` writes into ``--out``: ``history.json``, ``training_curves.png`` (loss and
accuracy), ``gradient_norms.png`` (per layer), ``decision_boundary.png`` (2-D data) and
``checkpoint.npz`` (updated atomically after every epoch). ``--resume`` continues from that
checkpoint with the run's saved settings (only ``--epochs``, the new total, may change) and
gives the same weights as an uninterrupted run.

``main(argv)`` returns the exit code: 0 on success, 2 for bad arguments or data (a one-line
``steepest <command>: error: ...`` message, never a traceback), 1 when training diverges or
a file cannot be written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

__all__ = ["main", "build_parser"]

_OPTIMIZER_CLASSES = {"gd": "GD", "sgd": "SGD", "rmsprop": "RMSprop", "adam": "Adam",
                      "adamw": "AdamW", "adagrad": "Adagrad"}
_DEFAULT_LR = {"gd": 0.1, "sgd": 0.1, "rmsprop": 1e-3, "adam": 1e-2, "adamw": 1e-2,
               "adagrad": 1e-2}
_HIDDEN_ACTIVATIONS = ("binary_step", "leaky_relu", "linear", "relu", "sigmoid", "tanh")

# settings of a run that --resume takes from the checkpoint (and that must not change)
_DEFAULTS = {"data": None, "n_samples": None, "noise": None, "hidden": None,
             "activation": "relu", "optimizer": "adam", "lr": None, "momentum": None,
             "weight_decay": None, "batch_size": 32, "seed": 0, "val_split": 0.2,
             "standardize": True, "clip_grad_norm": None}
_RUN_KEYS = tuple(_DEFAULTS)


class CLIError(ValueError):
    """A problem with the command's arguments or files, reported in one line."""


# --------------------------------------------------------------------------- argument types

def _int_at_least(low: int):
    """An argparse type: a whole number >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
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

def _add_model_arguments(p: argparse.ArgumentParser, dataset_names) -> None:
    p.add_argument("--data", choices=dataset_names, default=None,
                   help="data set (required unless --resume)")
    p.add_argument("--n-samples", type=_positive_int, default=None,
                   help="number of samples for the generated 2-D data sets")
    p.add_argument("--noise", type=_float_in(0.0, low_open=False), default=None,
                   help="noise of the generated 2-D data sets")
    p.add_argument("--hidden", type=_hidden, default=None, metavar="SIZES",
                   help="hidden layer sizes, comma-separated (default 16,16; 128 for digits)")
    p.add_argument("--activation", choices=_HIDDEN_ACTIVATIONS, default=None,
                   help="activation of the hidden layers (default relu)")
    p.add_argument("--optimizer", choices=sorted(_OPTIMIZER_CLASSES), default=None,
                   help="optimizer, with torch.optim's update rule (default adam)")
    p.add_argument("--lr", type=_float_in(0.0), default=None,
                   help="learning rate (default: 0.1 for gd/sgd, 1e-3 rmsprop, 1e-2 others)")
    p.add_argument("--momentum", type=_float_in(0.0, 1.0, low_open=False), default=None,
                   help="momentum (sgd, rmsprop)")
    p.add_argument("--weight-decay", type=_float_in(0.0, low_open=False), default=None,
                   help="weight decay (L2; decoupled for adamw)")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="default 32")
    p.add_argument("--seed", type=_non_negative_int, default=None,
                   help="seed for data, split, initialisation and shuffling (default 0)")
    p.add_argument("--val-split", type=_float_in(0.0, 1.0), default=None,
                   help="fraction of the data held out for validation (default 0.2)")
    p.add_argument("--no-standardize", dest="standardize", action="store_false", default=None,
                   help="do not standardise the features (by default: mean 0, std 1 from "
                        "the training part)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``steepest`` command."""
    from steepest.data import DATASET_NAMES

    parser = argparse.ArgumentParser(
        prog="steepest", description="Neural-network optimization, exact and visible.")
    sub = parser.add_subparsers(dest="command", metavar="{tour,train,lr-find}")
    sub.required = True

    tour = sub.add_parser("tour", help="run every lesson and write the HTML report",
                          description="Run the course's worked examples and write a report.")
    tour.add_argument("--out", default="steepest-tour", help="output directory "
                      "(default: steepest-tour)")
    tour.add_argument("--only", nargs="+", metavar="NAME", default=None,
                      help="run only these lessons")
    tour.add_argument("--open", action="store_true", help="open the report in a browser")

    train = sub.add_parser("train", help="train an MLP on a data set",
                           description="Train an MLP classifier and write its history, plots "
                                       "and checkpoint to --out.")
    _add_model_arguments(train, DATASET_NAMES)
    train.add_argument("--epochs", type=_positive_int, default=None,
                       help="total number of epochs (default 30)")
    train.add_argument("--clip-grad-norm", type=_float_in(0.0), default=None,
                       metavar="MAX_NORM", help="clip the gradients' total norm")
    train.add_argument("--out", required=True, help="output directory")
    train.add_argument("--resume", action="store_true",
                       help="continue from OUT/checkpoint.npz up to --epochs in total")
    train.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                       help="0 silent, 1 progress bar (a line per epoch when not a terminal), "
                            "2 a line per epoch (default: bar on a terminal, else silent)")

    lr_find = sub.add_parser("lr-find", help="learning-rate range test",
                             description="Sweep the learning rate exponentially over "
                                         "mini-batches and suggest one (fastai's lr_find).")
    _add_model_arguments(lr_find, DATASET_NAMES)
    lr_find.add_argument("--start-lr", type=_float_in(0.0), default=1e-7)
    lr_find.add_argument("--end-lr", type=_float_in(0.0), default=10.0)
    lr_find.add_argument("--num-steps", type=_int_at_least(2), default=200)
    lr_find.add_argument("--out", required=True, help="output directory")
    _add_playground_parser(sub)
    return parser


# --------------------------------------------------------------------------- shared setup

def _show(value) -> str:
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def _settings(args, saved: dict | None = None) -> dict:
    """The run's settings: explicit arguments, else the saved run's, else defaults."""
    settings = {}
    for key in _RUN_KEYS:
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
    if settings["lr"] is None:
        settings["lr"] = _DEFAULT_LR[settings["optimizer"]]
    return settings


def _load_data(settings: dict):
    import numpy as np

    from steepest.data import Standardizer, load_dataset, train_test_split

    kwargs = {}
    if settings["n_samples"] is not None:
        kwargs["n_samples"] = settings["n_samples"]
    if settings["noise"] is not None:
        kwargs["noise"] = settings["noise"]
    if settings["data"] != "digits":
        kwargs["seed"] = settings["seed"]
    X, y = load_dataset(settings["data"], **kwargs)
    X_train, X_val, y_train, y_val = train_test_split(
        X, y, test_size=settings["val_split"], seed=settings["seed"], stratify=True)
    scaler = None
    if settings["standardize"]:
        scaler = Standardizer().fit(X_train)
        X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    n_classes = int(np.max(y)) + 1
    return X_train, X_val, y_train, y_val, scaler, n_classes


def _build(settings: dict, n_features: int, n_classes: int):
    import steepest as st

    st.manual_seed(settings["seed"])
    sizes = [n_features, *settings["hidden"], n_classes]
    model = st.nn.mlp(sizes, activation=settings["activation"])
    return model, sizes


def _make_optimizer(settings: dict, params):
    import steepest as st

    name = settings["optimizer"]
    cls = getattr(st.optim, _OPTIMIZER_CLASSES[name], None)
    if cls is None:  # pragma: no cover - every listed optimizer exists
        raise CLIError(f"optimizer {name!r} is not available in this version of steepest")
    kwargs = {"lr": settings["lr"]}
    if settings["momentum"] is not None:
        if name not in ("sgd", "rmsprop"):
            raise CLIError(f"--momentum applies to sgd and rmsprop, not {name}")
        kwargs["momentum"] = settings["momentum"]
    if settings["weight_decay"] is not None:
        if name == "gd":
            raise CLIError("--weight-decay does not apply to gd (plain gradient descent); "
                           "use sgd")
        kwargs["weight_decay"] = settings["weight_decay"]
    return cls(params, **kwargs)


def _describe(settings: dict, sizes: list) -> str:
    return (f"{settings['data']}, MLP {'-'.join(map(str, sizes))} ({settings['activation']}), "
            f"{_OPTIMIZER_CLASSES[settings['optimizer']]} lr={settings['lr']:g}")


# --------------------------------------------------------------------------- plots

def _layer_labels(model) -> dict:
    from steepest.train import linear_layers

    return {name: f"layer {i + 1}: Linear({layer.in_features}→{layer.out_features})"
            for i, (name, layer) in enumerate(linear_layers(model))}


def plot_gradient_norms(history, model, path, title: str | None = None):
    """Per-layer mean weight-gradient norm per epoch (log scale), one line per Linear layer."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    norms = history.layer_grad_norms()
    labels = _layer_labels(model)
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.subplots()
    epochs = [e + 1 for e in history.epoch]
    for name, values in norms.items():
        ax.plot(epochs, values, label=labels.get(name, name),
                marker="." if len(epochs) < 30 else None)
    if any(v > 0 for values in norms.values() for v in values if math.isfinite(v)):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("mean L2 norm of the weight gradient")
    ax.set_title(title or "Gradient norm per layer (input layer first)")
    ax.grid(alpha=0.3, which="both")
    if norms:
        ax.legend()
    fig.savefig(path, dpi=100)
    return path


def plot_decision_boundary(model, X, y, path, scaler=None, X_val=None, y_val=None,
                           title: str | None = None, resolution: int = 200):
    """Predicted class over the plane with the samples on top (2-D inputs only).

    ``X``/``X_val`` are in original units; ``scaler`` (a fitted Standardizer) maps them to
    what the model expects.
    """
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    from steepest.train import predict

    every = np.concatenate([X, X_val]) if X_val is not None else X
    low, high = every.min(axis=0), every.max(axis=0)
    pad = 0.1 * (high - low) + 1e-9
    gx, gy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], resolution),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], resolution))
    grid = np.column_stack([gx.ravel(), gy.ravel()])
    inputs = scaler.transform(grid) if scaler is not None else grid
    out = predict(model, inputs, batch_size=4096)
    classes = out.argmax(axis=1) if out.ndim == 2 and out.shape[1] > 1 else \
        (out.reshape(-1) > 0.5).astype(int)
    n_classes = int(max(classes.max(), y.max())) + 1
    colours = [f"C{i}" for i in range(n_classes)]
    fig = Figure(figsize=(5.5, 5), layout="constrained")
    ax = fig.subplots()
    ax.contourf(gx, gy, classes.reshape(gx.shape), levels=np.arange(n_classes + 1) - 0.5,
                cmap=ListedColormap(colours), alpha=0.25)
    for c in range(n_classes):
        ax.scatter(*X[y == c].T, s=14, color=colours[c], edgecolors="white", linewidths=0.4,
                   label=f"class {c} (train)")
        if X_val is not None:
            ax.scatter(*X_val[y_val == c].T, s=22, color=colours[c], marker="^",
                       edgecolors="black", linewidths=0.5, label=f"class {c} (validation)")
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    ax.set_title(title or "Decision boundary")
    ax.legend(fontsize="small", loc="best")
    fig.savefig(path, dpi=100)
    return path


# --------------------------------------------------------------------------- commands

def _prepare_out(out: str) -> str:
    if not out.strip():
        raise CLIError("--out must name a directory, got an empty string")
    if os.path.exists(out) and not os.path.isdir(out):
        raise CLIError(f"--out {out} exists and is not a directory")
    os.makedirs(out, exist_ok=True)
    return out


def _write_json(path: str, payload: dict) -> None:
    from steepest.checkpoint import atomic_write

    text = json.dumps(payload, indent=1)
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def _cmd_train(args) -> int:
    import steepest as st
    from steepest.callbacks import ModelCheckpoint
    from steepest.checkpoint import checkpoint_info, load_checkpoint

    out = args.out
    checkpoint = os.path.join(out, "checkpoint.npz")
    saved = None
    if args.resume:
        if not os.path.isfile(checkpoint):
            raise CLIError(f"no checkpoint to resume from at {checkpoint}; run without "
                           f"--resume first")
        info = checkpoint_info(checkpoint)
        saved = ((info.get("extra") or {}).get("config"))
        if not isinstance(saved, dict):
            raise CLIError(f"{checkpoint} was not written by 'steepest train' (no run "
                           f"settings inside); cannot resume it from the command line")
    settings = _settings(args, saved)
    if args.epochs is not None:
        epochs = args.epochs
    elif saved is not None:  # the resumed run's own target
        epochs = int((info.get("extra") or {}).get("epochs") or 30)
    else:
        epochs = 30
    _prepare_out(out)

    X_train, X_val, y_train, y_val, scaler, n_classes = _load_data(settings)
    model, sizes = _build(settings, X_train.shape[1], n_classes)
    optimizer = _make_optimizer(settings, model.parameters())
    initial_epoch, history = 0, None
    if saved is not None:
        loaded = load_checkpoint(checkpoint, model, optimizer)
        initial_epoch, history = loaded["epoch"] or 0, loaded["history"]
    extra = {"config": settings, "epochs": epochs}
    if scaler is not None:
        extra["standardizer"] = {"mean": scaler.mean_, "scale": scaler.scale_}

    print(f"steepest train: {_describe(settings, sizes)}, "
          f"{len(X_train)} training / {len(X_val)} validation samples"
          + (f"; resuming after epoch {initial_epoch}" if saved is not None else ""))
    if initial_epoch >= epochs:
        print(f"already trained for {initial_epoch} epochs (--epochs {epochs}); nothing to do")
    start = time.perf_counter()
    history = st.fit(model, st.losses.cross_entropy, optimizer, X_train, y_train,
                     epochs=epochs, batch_size=settings["batch_size"],
                     validation_data=(X_val, y_val), seed=settings["seed"],
                     verbose="auto" if args.verbose is None else args.verbose,
                     initial_epoch=initial_epoch, history=history,
                     clip_grad_norm=settings["clip_grad_norm"],
                     callbacks=[ModelCheckpoint(checkpoint, extra=extra)])
    seconds = time.perf_counter() - start

    train_scores = st.evaluate(model, st.losses.cross_entropy, X_train, y_train)
    val_scores = st.evaluate(model, st.losses.cross_entropy, X_val, y_val)
    title = _describe(settings, sizes)
    written = ["history.json", "checkpoint.npz"]
    _write_json(os.path.join(out, "history.json"),
                {**history.to_dict(), "config": settings,
                 "final": {"train": train_scores, "validation": val_scores}})
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
    print(f"final (epoch {len(history)}): train loss {train_scores['loss']:.4f}, "
          f"train accuracy {train_scores['accuracy']:.2%}; validation loss "
          f"{val_scores['loss']:.4f}, validation accuracy {val_scores['accuracy']:.2%} "
          f"({seconds:.1f} s)")
    print(f"wrote {', '.join(os.path.join(out, name) for name in written)}")
    return 0


def _cmd_lr_find(args) -> int:
    import steepest as st
    from steepest.diagnostics import lr_range_test

    settings = _settings(args)
    if args.start_lr >= args.end_lr:
        raise CLIError(f"--start-lr ({args.start_lr:g}) must be smaller than --end-lr "
                       f"({args.end_lr:g})")
    out = _prepare_out(args.out)
    X_train, _, y_train, _, _, n_classes = _load_data(settings)
    model, sizes = _build(settings, X_train.shape[1], n_classes)
    optimizer = _make_optimizer(settings, model.parameters())
    result = lr_range_test(model, st.losses.cross_entropy, optimizer, X_train, y_train,
                           start_lr=args.start_lr, end_lr=args.end_lr,
                           num_steps=args.num_steps, batch_size=settings["batch_size"],
                           seed=settings["seed"])
    name = _OPTIMIZER_CLASSES[settings["optimizer"]]
    result.plot(os.path.join(out, "lr_find.png"),
                title=f"LR range test: {settings['data']}, MLP {'-'.join(map(str, sizes))}, "
                      f"{name}")
    settings = {k: v for k, v in settings.items() if k != "lr"}
    _write_json(os.path.join(out, "lr_find.json"),
                {**result.to_dict(), "config": settings, "start_lr": args.start_lr,
                 "end_lr": args.end_lr, "num_steps": args.num_steps})
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
    run_tour(args.out, only=args.only or None, open_browser=args.open)  # it prints progress
    return 0


def _add_playground_parser(sub) -> None:
    playground = sub.add_parser("playground", help="watch a network learn in the browser",
                                description="Start the local playground server and open it.")
    playground.add_argument("--port", type=_int_at_least(1), default=8000, help="default 8000")
    playground.add_argument("--host", default="127.0.0.1",
                            help="default 127.0.0.1 (this machine only); 0.0.0.0 for a classroom")
    playground.add_argument("--no-browser", dest="browser", action="store_false",
                            help="do not open a browser tab")


def _cmd_playground(args) -> int:
    from steepest.playground.server import serve

    serve(host=args.host, port=args.port, open_browser=args.browser)
    return 0


_COMMANDS = {"train": _cmd_train, "lr-find": _cmd_lr_find, "tour": _cmd_tour,
             "playground": _cmd_playground}


def _one_line(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and error.strerror:
        text = f"{error.strerror}: {error.filename}"
    return " ".join(text.split())


def main(argv=None) -> int:
    """Run the ``steepest`` command on ``argv`` (default ``sys.argv[1:]``); return the exit code."""
    from steepest.train import DivergenceError

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2), already printed
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 2)
    command = args.command
    try:
        return _COMMANDS[command](args)
    except DivergenceError as error:
        message = _one_line(error).replace("(fit(..., clip_grad_norm=1.0))",
                                           "(--clip-grad-norm 1.0)")
        print(f"steepest {command}: error: {message}", file=sys.stderr)
        return 1
    except ValueError as error:
        print(f"steepest {command}: error: {_one_line(error)}", file=sys.stderr)
        return 2
    except OSError as error:
        print(f"steepest {command}: error: {_one_line(error)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"steepest {command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
