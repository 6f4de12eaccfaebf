"""``--optimizer-option KEY=VALUE`` and ``--schedule-option KEY=VALUE``: catalogue settings
from the command line (``steepest train``, ``lr-find`` and ``sweep`` share them).

Each VALUE is read by the kind of the catalogue's hyperparameter (``betas=0.9,0.99`` a pair,
``amsgrad=true`` a bool, ``max_iter=5`` a whole number, ``line_search_fn=strong_wolfe`` a
choice, ``none`` where None is allowed), then :func:`~steepest.optim.catalogue.validate`
checks ranges and combinations. Every problem is a ValueError of one line that names the
flag, the KEY=VALUE given and what was expected. The values come back as plain JSON (a pair
as a list), which is how a run directory and a sweep record keep them.
"""

from __future__ import annotations

from steepest.optim import catalogue

__all__ = ["parse_options", "check_options", "options_text", "schedule_text",
           "check_schedule_length", "SCHEDULE_TIMING", "OWN_FLAGS"]

#: When fit steps a scheduler (LRSchedulerCallback's 'auto'): what a help text tells.
SCHEDULE_TIMING = ("stepped once per epoch, so its step counts (T_max, step_size, ...) are "
                   "epochs; onecycle once per batch, so its total_steps counts batches; "
                   "plateau at each epoch end with the validation loss")

#: optimizer settings that ``train``, ``lr-find`` and ``sweep`` take by flags of their own
OWN_FLAGS = {"lr": "--lr", "momentum": "--momentum", "weight_decay": "--weight-decay"}

_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _read(hp: catalogue.Hyperparameter, text: str):
    """``text`` as a value of ``hp``'s kind; the text itself where it does not read as one
    (the catalogue's check then names what was expected)."""
    word = text.strip()
    if word.lower() == "none" and hp.default is None:
        return None
    try:
        if hp.kind == "bool":
            return True if word.lower() in _TRUE else False if word.lower() in _FALSE else word
        if hp.kind == "int":
            return int(word)
        if hp.kind == "float":
            return float(word)
        if hp.kind == "pair":
            parts = [float(part) for part in word.split(",")]
            return parts if len(parts) == 2 else word
    except ValueError:
        return word
    return word  # a choice: the name itself


def _split(flag: str, text: str) -> tuple:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"{flag} expects KEY=VALUE (e.g. {flag} betas=0.9,0.99), got {text!r}")
    return key.strip(), value


def parse_options(kind: str, name: str, texts, flag: str, reserved: dict | None = None) -> dict:
    """``['betas=0.9,0.99', 'amsgrad=true']`` -> ``{'betas': [0.9, 0.99], 'amsgrad': True}``.

    ``kind`` is 'optimizer' or 'scheduler', ``name`` the catalogue entry, ``flag`` the option
    named in errors; ``reserved`` maps keys that have a flag of their own to that flag
    (``{'lr': '--lr'}``). Only the keys given come back (the catalogue fills the rest).
    """
    spec = catalogue.entry(kind, name)
    reserved = reserved or {}
    values, given = {}, {}
    for text in texts or ():
        key, raw = _split(flag, text)
        where = f"{flag} {key}={raw}"
        if key in reserved:
            raise ValueError(f"{where}: {key} has its own option; use {reserved[key]}")
        if key in given:
            raise ValueError(f"{where}: {key} is given twice (also {key}={given[key]})")
        if key not in spec.names:
            others = [other for other in catalogue.takes(key, kind) if other != name]
            elsewhere = f" ({key} is a setting of {', '.join(others)})" if others else ""
            settings = [n for n in spec.names if n not in reserved]
            own = [n for n in spec.names if n in reserved]
            own = f" (and {', '.join(own)} by {', '.join(reserved[n] for n in own)})" \
                if own else ""
            raise ValueError(f"{where}: {kind} {name} has no setting {key!r}{elsewhere}; "
                             f"{name} takes {', '.join(settings) or 'no other settings'}{own}")
        hp = spec.hyperparameter(key)
        value = _read(hp, raw)
        try:
            checked = hp.check(value, name)
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None
        given[key], values[key] = raw, list(checked) if isinstance(checked, tuple) else checked
    return values


def check_options(kind: str, name: str, values: dict, flag: str) -> None:
    """The catalogue's check of the combination (``nesterov`` needs ``momentum``), naming
    ``flag``."""
    try:
        catalogue.validate(kind, name, values)
    except ValueError as error:
        raise ValueError(f"{flag}: {error}") from None


def options_text(values: dict | None) -> str:
    """``{'betas': [0.9, 0.99], 'amsgrad': True}`` -> ``'betas=0.9,0.99 amsgrad=True'``."""
    def show(value):
        return ",".join(f"{v:g}" for v in value) if isinstance(value, (list, tuple)) else \
            f"{value:g}" if isinstance(value, float) else str(value)
    return " ".join(f"{key}={show(value)}" for key, value in (values or {}).items())


def schedule_text(schedule: str, values: dict | None) -> str:
    """``'lr schedule cosine (<label>) T_max=30'``: a schedule and its settings in words."""
    label = catalogue.SCHEDULERS[schedule].label
    return " ".join(filter(None, (f"lr schedule {schedule} ({label})", options_text(values))))


def check_schedule_length(schedule: str | None, values: dict | None, epochs: int,
                          steps_per_epoch: int) -> None:
    """ValueError before training if ``onecycle`` would be stepped past its ``total_steps``
    (fit steps it once per batch), naming the count and the option that fixes it."""
    if schedule != "onecycle":
        return
    total = (values or {}).get("total_steps",
                               catalogue.SCHEDULERS["onecycle"].hyperparameter("total_steps")
                               .default)
    needed = epochs * steps_per_epoch
    if total < needed:
        raise ValueError(f"--schedule onecycle steps once per batch: {epochs} epochs x "
                         f"{steps_per_epoch} batches = {needed} steps, more than its "
                         f"total_steps {total}; give --schedule-option total_steps={needed}")
