"""The run ``steepest sweep`` makes at each point: an MLP classifier, as ``steepest train``."""

from __future__ import annotations

import inspect
import math
import numbers
from collections.abc import Mapping

import numpy as np

from steepest.optim import catalogue
from steepest.sweeps.options import check_schedule_length
from steepest.tensor import Tensor

__all__ = ["sweep_mlp", "check_mlp_config", "OPTIMIZERS"]

#: The optimizer names a config may use: the catalogue's (``momentum`` is SGD with 0.9).
OPTIMIZERS = catalogue.OPTIMIZERS

#: sweep_mlp's keywords that are optimizer hyperparameters (unset: the catalogue's default)
_OPTIMIZER_SETTINGS = ("lr", "momentum", "weight_decay")


def sweep_mlp(*, data: str, optimizer: str = "adam", lr: float | None = None, seed: int = 0,
              epochs: int = 30, hidden=None, activation: str = "relu", batch_size: int = 32,
              n_samples: int | None = None, noise: float | None = None,
              val_split: float = 0.2, standardize: bool = True, momentum: float | None = None,
              weight_decay: float | None = None, clip_grad_norm: float | None = None,
              compile: bool = False, optimizer_options: Mapping | None = None,
              schedule: str | None = None, schedule_options: Mapping | None = None):
    """Train an MLP classifier as ``steepest train`` does; the ``train_fn`` of ``steepest sweep``.

    ``seed`` drives the data (generated sets), the validation split, the initial weights and
    the shuffling, so the result is a function of the settings alone. The initial weights come
    from ``Generator().manual_seed(seed)``, the stream ``st.manual_seed(seed)`` starts, so a run
    equals ``steepest train`` with the same options; ``compile`` runs fit's steps through
    :func:`steepest.compile` (the same numbers). ``optimizer_options`` are the optimizer's
    other catalogue settings (``{'amsgrad': True}``); ``schedule`` names a catalogue
    scheduler, built with ``schedule_options`` and stepped by fit (per epoch; onecycle per
    batch; plateau with the validation loss). Returns the :class:`~steepest.History`.
    """
    settings = dict(locals())
    check_mlp_config(settings)
    from steepest.data import load_split
    from steepest.losses import cross_entropy
    from steepest.nn import mlp
    from steepest.random import Generator
    from steepest.training import fit

    split = load_split(data, seed=seed, val_split=val_split, standardize=standardize,
                       n_samples=n_samples, noise=noise)
    if hidden is None:
        hidden = [128] if data == "digits" else [16, 16]
    sizes = [split.X_train.shape[1], *hidden, split.n_classes]
    model = mlp(sizes, activation=activation, generator=Generator().manual_seed(seed))
    opt = catalogue.build_optimizer(optimizer, model.parameters(), **_optimizer_values(settings))
    scheduler = None
    if schedule is not None:
        check_schedule_length(schedule, schedule_options, epochs,
                              -(-len(split.X_train) // batch_size))
        scheduler = catalogue.build_scheduler(schedule, opt, **(schedule_options or {}))
    return fit(model, cross_entropy, opt, split.X_train, split.y_train, epochs=epochs,
               batch_size=batch_size, validation_data=(split.X_val, split.y_val), seed=seed,
               verbose=0, clip_grad_norm=clip_grad_norm, compile=bool(compile),
               scheduler=scheduler)


def _optimizer_values(config: Mapping) -> dict:
    """The optimizer's keywords in ``config``: lr, momentum, weight_decay and its options."""
    values = {k: config[k] for k in _OPTIMIZER_SETTINGS if config.get(k) is not None}
    options = config.get("optimizer_options") or {}
    if not isinstance(options, Mapping):
        raise ValueError(f"optimizer_options must be a dict of optimizer settings, got "
                         f"{options!r}")
    twice = sorted(set(values) & set(options))
    if twice:
        raise ValueError(f"optimizer_options sets {twice[0]}, which is a setting of its own "
                         f"here ({twice[0]}={values[twice[0]]!r}); give it once")
    return {**values, **options}


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
    activation = config.get("activation", "relu")
    if activation not in ACTIVATION_MODULES:
        raise ValueError(f"unknown activation {activation!r}; expected one of "
                         f"{', '.join(sorted(ACTIVATION_MODULES))}")
    name = config.get("optimizer", "adam")
    catalogue.validate("optimizer", name, _optimizer_values(config))
    schedule, schedule_options = config.get("schedule"), config.get("schedule_options")
    if schedule is None and schedule_options:
        raise ValueError(f"schedule_options {dict(schedule_options)} need a schedule")
    if schedule is not None:
        if schedule_options is not None and not isinstance(schedule_options, Mapping):
            raise ValueError(f"schedule_options must be a dict of scheduler settings, got "
                             f"{schedule_options!r}")
        values = catalogue.validate("scheduler", schedule, dict(schedule_options or {}))
        dummy = [Tensor(np.zeros((2, 2)), requires_grad=True)]  # the scheduler's own checks
        catalogue.build_scheduler(schedule, catalogue.build_optimizer(
            name, dummy, **_optimizer_values(config)), **values)

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

    number("seed", 0, low_open=False, integer=True)
    number("epochs", 1, low_open=False, integer=True)
    number("batch_size", 1, low_open=False, integer=True)
    number("n_samples", 2, low_open=False, integer=True)
    number("noise", 0.0, low_open=False)
    number("val_split", 0.0, high=1.0)
    number("clip_grad_norm", 0.0)
    hidden = config.get("hidden")
    if hidden is not None and not (isinstance(hidden, (list, tuple)) and all(
            isinstance(h, numbers.Integral) and not isinstance(h, bool) and h >= 1
            for h in hidden)):
        raise ValueError(f"hidden must be a list of layer sizes >= 1, got {hidden!r}")


sweep_mlp.check_config = check_mlp_config
