"""Exports of a session: the run as JSON, the model as a steepest checkpoint, Python code.

Each returns an ``{"type": "export", ...}`` message; the page turns it into a download. The
Python code rebuilds data, network, optimizer and batch order, so running it for the same
number of steps gives the same weights as the playground.
"""

from __future__ import annotations

import base64
import json
import io
import pprint

from steepest._version import __version__
from steepest.serialization import save
from steepest.nn import Linear
from steepest.optim import catalogue
from steepest.optim.lr_scheduler import ReduceLROnPlateau
from steepest.playground.config import optimizer_options
from steepest.playground.session import scheduler_settings

__all__ = [
    "run_json", "checkpoint", "python_code", "EXPORTS",
]

_ACTIVATION_CODE = {"relu": "st.nn.ReLU()", "tanh": "st.nn.Tanh()", "sigmoid": "st.nn.Sigmoid()",
                    "linear": "st.nn.Identity()", "leaky_relu": "st.nn.LeakyReLU()",
                    "binary_step": "st.nn.BinaryStep()"}


def _message(what: str, filename: str, mime: str, content: str, encoding: str = "text") -> dict:
    return {"type": "export", "what": what, "filename": filename, "mime": mime,
            "encoding": encoding, "content": content}


def run_json(session) -> dict:
    """Settings and loss history of the run."""
    run = {"steepest_version": __version__, "config": session.config,
           "steps": session.step_count, "epoch": session.step_count // session.steps_per_epoch,
           "lr_changes": session.lr_changes, "diverged": session.diverged,
           "history": {"columns": ["step", "train_loss", "test_loss"], "rows": session.history}}
    return _message("json", "playground-run.json", "application/json", json.dumps(run, indent=1))


def checkpoint(session) -> dict:
    """The run as one ``st.save`` file (``.npz``), base64-encoded: ``st.load`` reads it as
    ``{"model", "optimizer", "scheduler", "playground_config", "steps", "epoch"}``, and
    ``model.load_state_dict(st.load(path)["model"])`` restores the weights."""
    state = {"model": session.model.state_dict(), "optimizer": session.optimizer.state_dict(),
             "scheduler": None if session.scheduler is None else session.scheduler.state_dict(),
             "playground_config": session.config, "steps": session.step_count,
             "epoch": session.step_count // session.steps_per_epoch}
    buffer = io.BytesIO()
    save(state, buffer)
    return _message("checkpoint", "playground.npz", "application/octet-stream",
                    base64.b64encode(buffer.getvalue()).decode("ascii"), "base64")


def _step_code(cfg: dict) -> str:
    """The script's update: ``optimizer.step()`` after a backward, or ``step(closure)`` for an
    optimizer that evaluates the loss itself (L-BFGS), as the session does."""
    evaluate = ["loss = data_loss(model(st.tensor(X_train[index])), st.tensor(T_train[index]))",
                "extra = penalty()"]
    if catalogue.OPTIMIZERS[cfg["optimizer"]].cls.needs_closure:
        body = "\n".join(f"        {line}" for line in (
            "optimizer.zero_grad()", *evaluate,
            "total = loss if extra is None else loss + extra", "total.backward()",
            "return total"))
        before = f"\n    {evaluate[0]}  # the batch's loss, for the schedule" \
            if _schedule_takes_loss(cfg) else ""
        return f"{before}\n    def closure():\n{body}\n    optimizer.step(closure)"
    return "\n".join(f"    {line}" for line in (
        "optimizer.zero_grad()", *evaluate,
        "(loss if extra is None else loss + extra).backward()", "optimizer.step()"))


def _schedule_takes_loss(cfg: dict) -> bool:
    """ReduceLROnPlateau: stepped with the batch's loss before the update, as the session."""
    settings = scheduler_settings(cfg)
    return settings is not None and \
        issubclass(catalogue.SCHEDULERS[settings[0]].cls, ReduceLROnPlateau)


def _scheduler_step_code(cfg: dict) -> str:
    if scheduler_settings(cfg) is None:
        return ""
    metric = "loss.item()" if _schedule_takes_loss(cfg) else ""
    return f"\n    scheduler.step({metric})"


def _optimizer_code(cfg: dict) -> str:
    return catalogue.python_code("optimizer", cfg["optimizer"], optimizer_options(cfg),
                                 "model.parameters()")


def _scheduler_code(cfg: dict) -> str:
    settings = scheduler_settings(cfg)
    return "None" if settings is None else catalogue.python_code("scheduler", *settings,
                                                                 "optimizer")


def _loss_code(task) -> tuple:
    """(targets expression, loss body) for the session's task."""
    if task.kind == "regression":
        return "y.astype(np.float64).reshape(-1, 1)", "st.losses.mse(out, target)"
    if task.kind == "binary":
        loss = ("st.losses.binary_cross_entropy_with_logits(out, target)" if task.loss_name == "bce"
                else "st.losses.mse(st.sigmoid(out), target)")
        return "y.astype(np.float64).reshape(-1, 1)", loss
    if task.loss_name == "mse":
        return f"np.eye({task.n_outputs})[y]", "st.losses.mse(st.softmax(out, axis=-1), target)"
    return "y.astype(np.int64)", "st.losses.cross_entropy(out, target)"


def _penalty_code(cfg: dict, n_layers: int) -> str:
    if cfg["regularization"] == "none" or cfg["reg_rate"] == 0:
        return "    return None"
    term = "st.sum(st.abs({w}))" if cfg["regularization"] == "l1" else "st.sum({w} * {w}) * 0.5"
    weights = [f"layers[{i}].weight" for i in range(n_layers)]
    terms = " + ".join(term.format(w=w) for w in weights)
    return (f"    layers = [m for m in model if isinstance(m, st.nn.Linear)]\n"
            f"    return ({terms}) * {cfg['reg_rate']!r}")


def python_code(session) -> dict:
    """A script that rebuilds this run with steepest and trains it for the same steps."""
    cfg = session.config
    linears = [m for m in session.model if isinstance(m, Linear)]
    lines = []
    for i, lin in enumerate(linears):
        lines.append(f"    st.nn.Linear({lin.in_features}, {lin.out_features}, "
                     f"dtype=st.float64, generator=rng),")
        if i < len(cfg["hidden"]):
            lines.append(f"    {_ACTIVATION_CODE[cfg['activations'][i]]},")
    targets, loss = _loss_code(session.task)
    config_text = pprint.pformat(cfg, sort_dicts=False)  # a Python literal, by repr
    code = f'''"""Reproduces a steepest playground run: {cfg["dataset"]} data, hidden layers {cfg["hidden"]},
{cfg["optimizer"]} at lr {cfg["lr"]:g}, {session.step_count} steps. Run with: python this_file.py"""
import numpy as np

import steepest as st
from steepest.playground.datasets import features, make_dataset, split

config = {config_text}
STEPS = {session.step_count}
LR_CHANGES = {dict((int(s), float(lr)) for s, lr in session.lr_changes)!r}  # step -> new learning rate
EDITS = {[tuple(e) for e in session.edits]!r}  # (step, layer, row, col or None for the bias, value) set by hand

X, y = make_dataset(config["dataset"], config["n_samples"], config["noise"], config["seed"],
                    config["n_classes"], config["points"])
train_points, y_train, test_points, y_test = split(X, y, config["train_ratio"], config["seed"])
X_train, X_test = features(train_points, config["features"]), features(test_points, config["features"])


def targets_of(y):
    return {targets}


T_train, T_test = targets_of(y_train), targets_of(y_test)

rng = np.random.default_rng(config["init_seed"])   # initial weights, drawn layer by layer
model = st.nn.Sequential(
{chr(10).join(lines)}
)
optimizer = {_optimizer_code(cfg)}
scheduler = {_scheduler_code(cfg)}


def data_loss(out, target):
    return {loss}


def penalty():
{_penalty_code(cfg, len(linears))}


order_rng = np.random.default_rng(config["seed"] + 2)   # batch order, reshuffled every epoch
batch_size = config["batch_size"]
steps_per_epoch = -(-len(X_train) // batch_size)
linears = [m for m in model if isinstance(m, st.nn.Linear)]


def apply_edits(step):
    for at, layer, row, col, value in EDITS:
        if at == step:
            target = linears[layer].weight if col is not None else linears[layer].bias
            with st.no_grad():
                target[(row, col) if col is not None else row] = value


for step in range(STEPS):
    apply_edits(step)
    if step in LR_CHANGES:
        for group in optimizer.param_groups:
            group["lr"] = LR_CHANGES[step]
        if scheduler is not None:
            scheduler.base_lrs = [LR_CHANGES[step] for _ in optimizer.param_groups]
    position = (step % steps_per_epoch) * batch_size
    if position == 0:
        order = order_rng.permutation(len(X_train))
    index = order[position:position + batch_size]
{_step_code(cfg)}{_scheduler_step_code(cfg)}
apply_edits(STEPS)

with st.no_grad():
    print("train loss", data_loss(model(st.tensor(X_train)), st.tensor(T_train)).item())
    print("test loss", data_loss(model(st.tensor(X_test)), st.tensor(T_test)).item())
'''
    return _message("python", "playground_run.py", "text/x-python", code)


EXPORTS = {"json": run_json, "checkpoint": checkpoint, "python": python_code}
