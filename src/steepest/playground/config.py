"""Validate a playground configuration: every field checked, every error names the field.

A configuration is a plain dict (it travels as JSON and lives in the page's URL). Missing
fields take the defaults in :data:`DEFAULTS`; unknown fields, wrong types and values out of
range raise :class:`ConfigError` with a message a learner can act on.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from steepest.optim import catalogue
from steepest.tensor import Tensor
from steepest.playground.datasets import DATASETS, FEATURES, MULTICLASS, REGRESSION

__all__ = [
    "ConfigError", "is_finite_number", "validate_optimizer", "validate_config", "n_classes_of", "ACTIVATIONS",
    "LOSSES", "OPTIMIZERS", "OPTIMIZER_OPTIONS", "optimizer_options", "SCHEDULES",
    "SCHEDULE_OPTIONS", "LEGACY_SCHEDULES", "validate_schedule", "schedule_options",
    "REGULARIZATIONS", "MAX_LAYERS", "MAX_NEURONS",
    "MAX_POINTS", "DEFAULTS", "OPTIMIZER_FIELDS", "MAX_CLASSES", "LARGEST_NETWORK",
    "NETWORK_OPTIMIZERS", "PATH_OPTIMIZERS",
]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "leaky_relu", "binary_step")
LOSSES = ("mse", "ce", "bce")
#: the optimizers of the catalogue (steepest.optim.catalogue), in its menu order
OPTIMIZERS = tuple(catalogue.OPTIMIZERS)
#: every keyword an optimizer entry takes besides lr: flat config (and URL) keys, None = unset
OPTIMIZER_OPTIONS = tuple(dict.fromkeys(hp.name for e in catalogue.OPTIMIZERS.values()
                                        for hp in e.hyperparameters if hp.name != "lr"))
#: the schedule menu: 'none' (a constant lr) and every scheduler of the catalogue, stepped after
#: every training step ('plateau' with that step's batch loss, so its patience counts steps)
SCHEDULES = ("none", *catalogue.SCHEDULERS)
#: every keyword a scheduler entry takes: flat config (and URL) keys beside the optimizer's
SCHEDULE_OPTIONS = tuple(dict.fromkeys(hp.name for e in catalogue.SCHEDULERS.values()
                                       for hp in e.hyperparameters))
_SHARED = sorted(set(SCHEDULE_OPTIONS) & set(OPTIMIZER_OPTIONS))
if _SHARED:  # one flat namespace: a keyword of both kinds would be ambiguous in a config
    raise RuntimeError(f"catalogue optimizers and schedulers share the keyword(s) "
                       f"{', '.join(_SHARED)}; the playground's flat config cannot tell them apart")
#: the schedules of configs from before the catalogue menu, over N = ``schedule_steps``
#: steps, as (catalogue name, its settings); 'constant' was no schedule
LEGACY_SCHEDULES = {
    "constant": None,
    "step": lambda n: ("step", {"step_size": n, "gamma": 0.5}),              # halve every N
    "exponential": lambda n: ("exponential", {"gamma": 0.1 ** (1.0 / n)}),   # ÷10 over N
    "cosine": lambda n: ("cosine", {"T_max": n}),                            # cosine over N
}
REGULARIZATIONS = ("none", "l1", "l2")

MAX_LAYERS = 6
MAX_NEURONS = 8
MAX_CLASSES = 6
MAX_POINTS = 1000

#: scalar parameters of the largest network a configuration allows (every feature, MAX_LAYERS
#: layers of MAX_NEURONS, MAX_CLASSES outputs): 478
LARGEST_NETWORK = sum((fan_in + 1) * fan_out for fan_in, fan_out in zip(
    [len(FEATURES), *[MAX_NEURONS] * MAX_LAYERS], [*[MAX_NEURONS] * MAX_LAYERS, MAX_CLASSES]))
#: the optimizers the network and race menus offer: those whose catalogue entry is offered for
#: the largest network (Newton's max_parameters leaves it out: one step of the 478-parameter
#: network took 0.21 s here, four frames' time, where a frame trains for at most 53 ms; Muon's
#: step took 2.5 ms, Adam's 0.1 ms, L-BFGS's 10 ms)
NETWORK_OPTIMIZERS = tuple(name for name, e in catalogue.OPTIMIZERS.items()
                           if e.offered_for(LARGEST_NETWORK))
#: the optimizers the 2-D paths offer: those that step a two-element vector with their own
#: update (Muon's is for weight matrices: on a vector it would be plain AdamW)
PATH_OPTIMIZERS = tuple(name for name, e in catalogue.OPTIMIZERS.items()
                        if e.offered_for(2) and not e.needs_matrices)

DEFAULTS = {
    "dataset": "circle", "n_samples": 400, "n_classes": 3, "noise": 0.0, "train_ratio": 0.5,
    "seed": 0, "init_seed": None, "points": [],
    "features": ["x1", "x2"], "hidden": [4, 2], "activation": "tanh", "activations": None,
    "loss": "auto", "optimizer": "sgd", "lr": 0.03, **dict.fromkeys(OPTIMIZER_OPTIONS),
    "schedule": "none", **dict.fromkeys(SCHEDULE_OPTIONS),
    "regularization": "none", "reg_rate": 0.0, "batch_size": 10,
}

OPTIMIZER_FIELDS = ("optimizer", "lr", *OPTIMIZER_OPTIONS)


class ConfigError(ValueError):
    """A configuration value the playground cannot use; the message names the field."""


def is_finite_number(value) -> bool:
    """math.isfinite that answers False, not OverflowError, for an int beyond any float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def _number(cfg, name, low, high, *, integer=False, low_open=False):
    value = cfg[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not is_finite_number(value):
        raise ConfigError(f"{name} must be a {'whole ' if integer else ''}number, got {value!r}")
    if integer and value != int(value):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bracket = "(" if low_open else "["
        raise ConfigError(f"{name} must be in {bracket}{low}, {high}], got {value!r}")
    cfg[name] = int(value) if integer else float(value)


def _choice(cfg, name, options):
    value = cfg[name]
    if value not in options:
        raise ConfigError(f"unknown {name} {value!r}; expected one of {', '.join(options)}")


def validate_optimizer(cfg: dict, surface: str = "network") -> None:
    """Check (in place) the optimizer fields of ``cfg`` against the catalogue; afterwards
    every keyword of the chosen optimizer holds its value (given or default), the others None.
    ``surface``: 'network' (the network and race menus) or 'paths', which offer
    NETWORK_OPTIMIZERS and PATH_OPTIMIZERS.
    """
    _choice(cfg, "optimizer", OPTIMIZERS)
    if cfg["optimizer"] not in (PATH_OPTIMIZERS if surface == "paths" else NETWORK_OPTIMIZERS):
        raise ConfigError(_not_offered(cfg["optimizer"], surface))
    _number(cfg, "lr", 0.0, 10.0, low_open=True)
    entry = catalogue.OPTIMIZERS[cfg["optimizer"]]
    given = {k: cfg.get(k) for k in OPTIMIZER_OPTIONS if cfg.get(k) is not None}
    foreign = [k for k in given if k not in entry.names]
    if foreign:
        raise ConfigError(f"{cfg['optimizer']} has no setting {foreign[0]!r}; it takes "
                          f"{', '.join(n for n in entry.names if n != 'lr') or 'only lr'}")
    try:
        checked = catalogue.validate("optimizer", cfg["optimizer"], {**given, "lr": cfg["lr"]})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    for key in OPTIMIZER_OPTIONS:
        value = checked.get(key)
        cfg[key] = list(value) if isinstance(value, tuple) else value


def _not_offered(name: str, surface: str) -> str:
    """Why ``surface`` ('network' or 'paths') does not offer the catalogue optimizer ``name``:
    the reason comes from its entry's properties."""
    entry = catalogue.OPTIMIZERS[name]
    if surface == "paths":
        why = (f"{name}'s own update is for weight matrices, and a path's point is a vector"
               if entry.needs_matrices else "the point has 2 parameters")
        return f"optimizer {name!r} is not offered for the 2-D paths: {why}"
    try:
        entry.check_size(LARGEST_NETWORK, "the playground's largest network")
    except ValueError as exc:
        return f"optimizer {name!r} is not offered for the playground's networks: {exc}"
    return f"optimizer {name!r} is not offered for the playground's networks"


def optimizer_options(cfg: dict) -> dict:
    """The keyword arguments of ``cfg``'s optimizer (a validated config), lr included."""
    names = catalogue.OPTIMIZERS[cfg["optimizer"]].names
    return {key: cfg[key] for key in names}


def validate_schedule(cfg: dict) -> None:
    """Check (in place) the schedule fields of ``cfg`` (after its optimizer's) against the
    catalogue; afterwards every keyword of the chosen scheduler holds its value (given or
    default), the others None. The scheduler is built once over the configured optimizer,
    so a combination it refuses (cycle_momentum without momentum) is refused here."""
    _choice(cfg, "schedule", SCHEDULES)
    name = cfg["schedule"]
    given = {k: cfg.get(k) for k in SCHEDULE_OPTIONS if cfg.get(k) is not None}
    names = catalogue.SCHEDULERS[name].names if name != "none" else ()
    foreign = [k for k in given if k not in names]
    if foreign:
        raise ConfigError(f"schedule {name!r} has no setting {foreign[0]!r}; it takes "
                          f"{', '.join(names) or 'no settings'}")
    checked = {}
    if name != "none":
        try:
            checked = catalogue.validate("scheduler", name, given)
            dummy = [Tensor(np.zeros((2, 2)), requires_grad=True)]
            catalogue.build_scheduler(name, catalogue.build_optimizer(
                cfg["optimizer"], dummy, **optimizer_options(cfg)), **checked)
        except ValueError as exc:
            raise ConfigError(f"schedule {exc}") from None
    for key in SCHEDULE_OPTIONS:
        cfg[key] = checked.get(key)


def schedule_options(cfg: dict) -> dict:
    """The keyword arguments of ``cfg``'s scheduler (a validated config); {} for 'none'."""
    if cfg["schedule"] == "none":
        return {}
    return {key: cfg[key] for key in catalogue.SCHEDULERS[cfg["schedule"]].names}


def _translate_legacy(raw: dict) -> dict:
    """A config from before the catalogue menu (it has ``schedule_steps``) in today's terms:
    'constant' becomes 'none', 'step', 'exponential' and 'cosine' the catalogue scheduler
    with the settings the old menu meant."""
    if "schedule_steps" not in raw:
        return raw
    raw = dict(raw)
    steps = raw.pop("schedule_steps")
    name = raw.get("schedule", "constant")
    if name not in LEGACY_SCHEDULES:
        raise ConfigError(f"schedule_steps belongs to the old schedules "
                          f"({', '.join(LEGACY_SCHEDULES)}), not {name!r}; give {name!r} its "
                          f"own settings instead")
    probe = {"schedule_steps": steps}
    _number(probe, "schedule_steps", 1, 10**6, integer=True)
    legacy = LEGACY_SCHEDULES[name]
    if legacy is None:
        raw["schedule"] = "none"
        return raw
    raw["schedule"], values = legacy(probe["schedule_steps"])
    return {**raw, **values}


def validate_config(raw, max_samples: int = 2000) -> dict:
    """The checked, completed configuration for ``raw`` (a dict), or :class:`ConfigError`.

    A config of the old schedule menu (``schedule_steps``) is translated first."""
    if not isinstance(raw, dict):
        raise ConfigError(f"config must be an object, got {type(raw).__name__}")
    raw = _translate_legacy(raw)
    unknown = sorted(set(raw) - set(DEFAULTS))
    if unknown:
        raise ConfigError(f"unknown config field(s) {', '.join(map(repr, unknown))}; expected "
                          f"some of {', '.join(DEFAULTS)}")
    cfg = {**DEFAULTS, **raw}
    _choice(cfg, "dataset", DATASETS)
    _number(cfg, "n_samples", 10, max_samples, integer=True)
    _number(cfg, "n_classes", 2, MAX_CLASSES, integer=True)
    _number(cfg, "noise", 0.0, 0.5)
    _number(cfg, "train_ratio", 0.1, 0.9)
    _number(cfg, "seed", 0, 2**31 - 1, integer=True)
    if cfg["init_seed"] is None:     # the initial weights' seed; the data keep ``seed``
        cfg["init_seed"] = cfg["seed"]
    _number(cfg, "init_seed", 0, 2**31 - 1, integer=True)
    _check_points(cfg)
    feats = cfg["features"]
    if not isinstance(feats, list) or not feats or any(not isinstance(f, str) or f not in FEATURES
                                                       for f in feats) \
            or len(set(feats)) != len(feats):
        raise ConfigError(f"features must be a non-empty list of distinct names from "
                          f"{', '.join(FEATURES)}, got {feats!r}")
    hidden = cfg["hidden"]
    if not isinstance(hidden, list) or len(hidden) > MAX_LAYERS:
        raise ConfigError(f"hidden must be a list of at most {MAX_LAYERS} layer sizes, got "
                          f"{len(hidden) if isinstance(hidden, list) else hidden!r} layers")
    for i, size in enumerate(hidden):
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_NEURONS:
            raise ConfigError(f"hidden[{i}] must be a whole number of neurons in 1..{MAX_NEURONS},"
                              f" got {size!r}")
    _choice(cfg, "activation", ACTIVATIONS)
    if cfg["activations"] is None:
        cfg["activations"] = [cfg["activation"]] * len(hidden)
    acts = cfg["activations"]
    if not isinstance(acts, list) or len(acts) != len(hidden) or any(a not in ACTIVATIONS for a in acts):
        raise ConfigError(f"activations must list one of {', '.join(ACTIVATIONS)} per hidden "
                          f"layer ({len(hidden)}), got {acts!r}")
    _check_loss(cfg)
    validate_optimizer(cfg)
    validate_schedule(cfg)
    _choice(cfg, "regularization", REGULARIZATIONS)
    _number(cfg, "reg_rate", 0.0, 10.0)
    _number(cfg, "batch_size", 1, max_samples, integer=True)
    return cfg


def _check_points(cfg):
    points = cfg["points"]
    if not isinstance(points, list) or len(points) > MAX_POINTS:
        raise ConfigError(f"points must be a list of at most {MAX_POINTS} [x1, x2, label] rows")
    for i, row in enumerate(points):
        ok = isinstance(row, list) and len(row) == 3 and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) and is_finite_number(v) for v in row)
        if not ok or abs(row[0]) > 6 or abs(row[1]) > 6 or row[2] not in (0, 1, 2, 3, 4, 5):
            raise ConfigError(f"points[{i}] must be [x1, x2, label] with |x| <= 6 and label "
                              f"0..5, got {row!r}")
    if cfg["dataset"] == "custom":
        labels = {int(row[2]) for row in points}
        if len(points) < 4 or len(labels) < 2:
            raise ConfigError("the custom data set needs at least 4 points of at least 2 classes:"
                              " click the plane to add points (shift-click for the other class)")


def n_classes_of(cfg) -> int:
    """Classes of the configured data set (0 for regression)."""
    if cfg["dataset"] in REGRESSION:
        return 0
    if cfg["dataset"] in MULTICLASS:
        return cfg["n_classes"]
    if cfg["dataset"] == "custom":
        return max(2, 1 + max(int(row[2]) for row in cfg["points"]))
    return 2


def _check_loss(cfg):
    k = n_classes_of(cfg)
    if cfg["loss"] == "auto":
        cfg["loss"] = "mse" if k == 0 else ("bce" if k == 2 else "ce")
    _choice(cfg, "loss", LOSSES)
    if k == 0 and cfg["loss"] != "mse":
        raise ConfigError(f"loss {cfg['loss']!r} needs classes; the regression data set "
                          f"{cfg['dataset']!r} uses loss 'mse'")
    if k > 2 and cfg["loss"] == "bce":
        raise ConfigError(f"loss 'bce' is for two classes; {cfg['dataset']!r} has {k}: use 'ce'"
                          " (softmax + cross-entropy) or 'mse'")

