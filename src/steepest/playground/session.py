"""One playground training session: configuration -> training steps -> snapshots.

Plain Python, no server and no browser: a test (or a notebook) can build a :class:`Session`,
call :meth:`Session.step` and read :meth:`Session.snapshot`. The server only validates
messages, paces snapshots and enforces limits; the page only draws.
"""

from __future__ import annotations

import base64
import math

import numpy as np

from steepest import curvature, losses
from steepest.activations import sigmoid, softmax
from steepest import ops
from steepest.tensor import no_grad, tensor
from steepest.compile import CompiledStep
from steepest.training import diagnostics
from steepest.nn import ACTIVATION_MODULES, LeakyReLU, Linear, ReLU, Sequential
from steepest.optim import catalogue
from steepest.optim.lr_scheduler import ReduceLROnPlateau
from steepest.playground.config import (ConfigError, OPTIMIZER_FIELDS, is_finite_number, n_classes_of,
                                        optimizer_options, schedule_options, validate_config,
                                        validate_optimizer)
from steepest.playground.datasets import DOMAIN, FEATURES, features, make_dataset, split

__all__ = [
    "quantize_unit", "encode_unit", "grid_points", "build_model", "build_optimizer", "build_scheduler",
    "scheduler_settings", "needs_metric",
    "Task", "Session", "Race", "Trend", "label_of", "GRID", "NEURON_STRIDE", "LR_RANGE_STEPS", "DIVERGED_LOSS",
    "HISTORY_LIMIT",
]

GRID = 40           # output heatmap resolution (cells per side)
NEURON_STRIDE = 2   # neuron heatmaps use every 2nd grid point: 20 x 20
DIVERGED_LOSS = 1e8
HISTORY_LIMIT = 1000  # loss-history rows kept per session (halved when full): bounded memory
LR_RANGE_STEPS = 300  # the learning-rate range test's steps (from the starting weights)


def quantize_unit(values) -> bytes:
    """Values in [-1, 1] as bytes 0..255 (the page decodes with ``b / 127.5 - 1``)."""
    return np.rint((np.clip(values, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8).tobytes()


def encode_unit(values) -> str:
    """Values in [-1, 1] as base64 bytes 0..255 (the page decodes with ``b / 127.5 - 1``)."""
    return base64.b64encode(quantize_unit(values)).decode("ascii")


def grid_points(size: int = GRID) -> np.ndarray:
    """Cell centres of a size x size grid on [-6, 6]², row-major from the top (x2 = +6)."""
    centres = (np.arange(size) + 0.5) / size * 2 * DOMAIN - DOMAIN
    x1, x2 = np.meshgrid(centres, centres[::-1])
    return np.column_stack([x1.ravel(), x2.ravel()])


def build_model(cfg: dict, n_outputs: int) -> Sequential:
    """Linear layers with the configured activation after each hidden layer, initialised from
    ``init_seed`` (the data come from ``seed``: fresh weights on the same data); float64, as the
    exported script and the chain-rule inspector (exact to 1e-9) expect."""
    rng = np.random.default_rng(cfg["init_seed"] if cfg.get("init_seed") is not None
                                else cfg["seed"])
    sizes = [len(cfg["features"]), *cfg["hidden"], n_outputs]
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(fan_in, fan_out, dtype=np.float64, generator=rng))
        if i < len(cfg["hidden"]):
            layers.append(ACTIVATION_MODULES[cfg["activations"][i]]())
    return Sequential(*layers)


def build_optimizer(cfg: dict, params):
    """The catalogue optimizer named by ``cfg['optimizer']`` with its hyperparameters."""
    return catalogue.build_optimizer(cfg["optimizer"], list(params), **optimizer_options(cfg))


def scheduler_settings(cfg: dict):
    """(catalogue scheduler name, its keyword values) for ``cfg``, or None for 'none'."""
    if cfg["schedule"] == "none":
        return None
    return cfg["schedule"], schedule_options(cfg)


def build_scheduler(cfg: dict, optimizer):
    """The learning-rate schedule stepped after every training step (None for 'none')."""
    settings = scheduler_settings(cfg)
    return None if settings is None else catalogue.build_scheduler(settings[0], optimizer,
                                                                   **settings[1])


def needs_metric(scheduler) -> bool:
    """Whether ``scheduler.step`` takes the loss (ReduceLROnPlateau)."""
    return isinstance(scheduler, ReduceLROnPlateau)


class Task:
    """How outputs meet targets: the loss, the probabilities and the shape of the output."""

    def __init__(self, cfg: dict):
        self.n_classes = n_classes_of(cfg)
        self.loss_name = cfg["loss"]
        if self.n_classes == 0:
            self.kind, self.n_outputs = "regression", 1
        elif self.n_classes == 2 and self.loss_name != "ce":
            self.kind, self.n_outputs = "binary", 1
        else:
            self.kind, self.n_outputs = "classes", self.n_classes

    def targets(self, y: np.ndarray) -> np.ndarray:
        """What the loss compares the output with."""
        if self.kind in ("regression", "binary"):
            return y.astype(np.float64).reshape(-1, 1)
        if self.loss_name == "mse":
            return np.eye(self.n_outputs)[y]
        return y.astype(np.int64)

    def loss(self, out, target):
        """The data loss of a batch (mean over samples)."""
        if self.kind == "regression":
            return losses.mse(out, target)
        if self.kind == "binary":
            if self.loss_name == "bce":
                return losses.binary_cross_entropy_with_logits(out, target)
            return losses.mse(sigmoid(out), target)
        if self.loss_name == "mse":
            return losses.mse(softmax(out, axis=-1), target)
        return losses.cross_entropy(out, target)

    def probabilities(self, out: np.ndarray) -> np.ndarray:
        """Regression values, P(class 1) (binary) or class probabilities (classes)."""
        if self.kind == "regression":
            return out[:, 0]
        if self.kind == "binary":
            return 1.0 / (1.0 + np.exp(-np.clip(out[:, 0], -500, 500)))
        shifted = np.exp(out - out.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)


class Session:
    """A network learning a 2-D data set, one mini-batch step at a time.

    ``Session(config)`` validates ``config`` (see :func:`validate_config`) and builds data,
    network (initialised from ``seed``), optimizer and schedule. :meth:`step` trains,
    :meth:`snapshot` reports what the page draws.
    """

    def __init__(self, config: dict, max_samples: int = 2000):
        cfg = validate_config(config, max_samples=max_samples)
        self.config = cfg
        X, y = make_dataset(cfg["dataset"], cfg["n_samples"], cfg["noise"], cfg["seed"],
                            cfg["n_classes"], cfg["points"])
        self.points_train, self.y_train, self.points_test, self.y_test = split(
            X, y, cfg["train_ratio"], cfg["seed"])
        cfg["batch_size"] = min(cfg["batch_size"], len(self.points_train))  # few custom points
        self.task = Task(cfg)
        self.X_train = features(self.points_train, cfg["features"])
        self.X_test = features(self.points_test, cfg["features"])
        self.T_train = self.task.targets(self.y_train)
        self.T_test = self.task.targets(self.y_test)
        self.grid = grid_points()
        self.X_grid = features(self.grid, cfg["features"])
        self.model = build_model(cfg, self.task.n_outputs)
        self.optimizer = build_optimizer(cfg, self.model.parameters())
        self.scheduler = build_scheduler(cfg, self.optimizer)
        self._order_rng = np.random.default_rng(cfg["seed"] + 2)
        self._order = np.empty(0, dtype=np.int64)
        self.step_count = 0
        self.batch_index = np.empty(0, dtype=np.int64)
        self.diverged = None
        self.history = []
        self.lr_changes = []
        self.edits = []            # [step, layer, row, col or None, value]: weights set by hand
        self._critical = None      # (step, 2/λ_max of the training loss then)
        self._last_loss = math.nan
        self.trend = Trend()
        self._parameters = list(self.model.parameters())
        # forward and backward of a step, traced once per batch shape and replayed (the same
        # bits as eager); the update stays outside, after the divergence check. L-BFGS, which
        # evaluates the batch itself inside step(closure), runs eagerly.
        self._gradients = (self._loss_and_gradients if self.optimizer.needs_closure else
                           CompiledStep(self._loss_and_gradients, models=[self.model],
                                        optimizers=[self.optimizer]))

    # ----------------------------------------------------------------------- training

    @property
    def steps_per_epoch(self) -> int:
        return -(-len(self.X_train) // self.config["batch_size"])

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _next_batch(self) -> np.ndarray:
        position = (self.step_count % self.steps_per_epoch) * self.config["batch_size"]
        if position == 0:
            self._order = self._order_rng.permutation(len(self.X_train))
        return self._order[position:position + self.config["batch_size"]]

    def penalty(self):
        """The regularisation term: rate·Σ|W| (L1) or rate·½ΣW² (L2) over weights, not biases."""
        kind, rate = self.config["regularization"], self.config["reg_rate"]
        if kind == "none" or rate == 0:
            return None
        weights = [m.weight for m in self.model if isinstance(m, Linear)]
        if kind == "l1":
            terms = [ops.sum(ops.abs(w)) for w in weights]
        else:
            terms = [ops.sum(w * w) * 0.5 for w in weights]
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return total * rate

    def _batch(self, index: np.ndarray) -> tuple:
        """The training rows ``index`` as (inputs, targets) Tensors."""
        return tensor(self.X_train[index]), tensor(self.T_train[index])

    def batch_loss(self, index: np.ndarray):
        """Data loss (a Tensor) of the training rows ``index``, without the penalty."""
        x, t = self._batch(index)
        return self.task.loss(self.model(x), t)

    def _evaluated(self, index: np.ndarray):
        """The closure of an optimizer that calls ``step(closure)``: the batch's loss (with the
        penalty) and its gradient."""
        return self._loss_and_gradients(*self._batch(index))[1]

    def _loss_and_gradients(self, x, t):
        """Data loss and loss with penalty of a batch, after backward of the latter."""
        self.optimizer.zero_grad()
        loss = self.task.loss(self.model(x), t)
        penalty = self.penalty()
        total = loss if penalty is None else loss + penalty
        total.backward()
        return loss, total

    def step(self, n: int = 1) -> int:
        """Train ``n`` mini-batch steps (fewer if the run diverges); returns steps taken."""
        taken = 0
        for _ in range(n):
            if self.diverged is not None:
                break
            index = self._next_batch()
            loss, total = self._gradients(*self._batch(index))
            value, total = loss.item(), total.item()  # L1/L2 can diverge on their own
            if not math.isfinite(total) or total > DIVERGED_LOSS:
                self.optimizer.zero_grad()  # no update, no gradient: as before the backward
                self._stop(total)
                break
            if self.optimizer.needs_closure:  # L-BFGS evaluates the batch itself
                self.optimizer.step(lambda: self._evaluated(index))
            else:
                self.optimizer.step()
            if self.scheduler is not None:  # plateau: the batch's loss before this update
                self.scheduler.step(*([value] if needs_metric(self.scheduler) else []))
            self.batch_index = index
            self._last_loss = value
            self.trend.update(value, self._parameters)
            self.step_count += 1
            taken += 1
        return taken

    def _stop(self, value: float) -> None:
        lr = self.lr
        readout = _json_float(self.dataset_loss(self.X_train, self.T_train))
        shown = "too large to print" if readout is None else f"{readout:.4g}"
        self.diverged = {
            "step": self.step_count, "loss": readout, "lr": lr,
            "message": (f"Training diverged at step {self.step_count}: the training loss "
                        f"(read-out) is {shown} with learning rate {lr:g}, and the next "
                        f"batch's loss became {value:.4g}. Each step overshot the minimum by "
                        f"more than the one before. Try a learning rate about 10x smaller "
                        f"({lr / 10:g}), an adaptive optimizer such as Adam, a larger batch or "
                        f"L2 regularisation, then press reset."),
        }

    def set_lr(self, lr: float) -> None:
        """Change the learning rate now, keeping weights and optimizer state.

        ``config`` keeps the starting rate; the change is recorded in ``lr_changes``.
        """
        trial = {**self.config, "lr": lr}
        validate_optimizer(trial)
        self.lr_changes.append([self.step_count, trial["lr"]])
        for group in self.optimizer.param_groups:
            group["lr"] = trial["lr"]
        if self.scheduler is not None:
            self.scheduler.base_lrs = [trial["lr"] for _ in self.optimizer.param_groups]

    MAX_EDIT = 100.0

    def edit(self, layer, row, col, value) -> float:
        """Set ``W[layer][row, col]`` (or the bias ``b[layer][row]`` for ``col`` None) by hand,
        as TF Playground's click on a link or a bias does; the edit is recorded for the export."""
        linears = [m for m in self.model if isinstance(m, Linear)]
        if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(linears):
            raise ConfigError(f"edit: layer must be in 0..{len(linears) - 1}, got {layer!r}")
        target = linears[layer].weight if col is not None else linears[layer].bias
        limits = [("row", row, target._data.shape[0])]
        if col is not None:
            limits.append(("col", col, target._data.shape[1]))
        for name, index, size in limits:
            if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < size:
                raise ConfigError(f"edit: {name} must be in 0..{size - 1}, got {index!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not is_finite_number(value) or abs(value) > self.MAX_EDIT:
            raise ConfigError(f"edit: value must be a number in [-{self.MAX_EDIT:g}, "
                              f"{self.MAX_EDIT:g}], got {value!r}")
        target._data[(row, col) if col is not None else row] = float(value)
        self.edits.append([self.step_count, layer, row, col, float(value)])
        self.diverged = None
        return float(value)

    # ----------------------------------------------------------------------- looking

    def _forward_all(self, X: np.ndarray) -> list:
        """Outputs of every layer for X under no_grad: [input, layer 1, ..., last layer]."""
        outputs = [X]
        with no_grad():
            h = tensor(X)
            for layer in self.model:
                h = layer(h)
                outputs.append(h._data)
        return outputs

    def dataset_loss(self, X: np.ndarray, T: np.ndarray) -> float:
        """Mean data loss over all of X (no penalty), under no_grad."""
        with no_grad():
            return self.task.loss(self.model(tensor(X)), tensor(T)).item()

    def _maps(self) -> tuple:
        """The output map (GRID², as uint8 parts) and one uint8 map per hidden neuron
        ((GRID/2)²): ``(kind, {part: bytes}, [[neuron bytes, ...] per layer])``."""
        outputs = self._forward_all(self.X_grid)
        prob = self.task.probabilities(outputs[-1])
        if self.task.kind == "classes":
            parts = {"class": prob.argmax(axis=1).astype(np.uint8).tobytes(),
                     "conf": quantize_unit(prob.max(axis=1) * 2 - 1),
                     **{f"p{k}": quantize_unit(prob[:, k] * 2 - 1)   # for smooth colours
                        for k in range(prob.shape[1])}}
        elif self.task.kind == "binary":
            parts = {"data": quantize_unit(prob * 2 - 1)}
        else:
            parts = {"data": quantize_unit(prob)}
        neurons = []
        for i, layer in enumerate(self.model):
            if isinstance(layer, Linear) or i == len(self.model) - 1:
                continue
            values = outputs[i + 1].reshape(GRID, GRID, -1)[::NEURON_STRIDE, ::NEURON_STRIDE]
            scale = max(1.0, float(np.abs(values).max()))
            neurons.append([quantize_unit(values[:, :, j] / scale) for j in range(values.shape[2])])
        return self.task.kind, parts, neurons

    def heatmaps(self) -> dict:
        """Output heatmap (GRID²) and one heatmap per hidden neuron ((GRID/2)²), base64."""
        kind, parts, neurons = self._maps()
        out = {"kind": kind, "size": GRID,
               **{name: base64.b64encode(raw).decode("ascii") for name, raw in parts.items()}}
        return {"output": out, "neuron_size": GRID // NEURON_STRIDE,
                "neurons": [[base64.b64encode(raw).decode("ascii") for raw in layer]
                            for layer in neurons]}

    def map_frame(self) -> tuple:
        """The maps as one binary frame: ``(layout, bytes)``. The bytes are the output map's
        parts in ``layout['output']['parts']`` order (GRID² bytes each), then every neuron map
        ((GRID/2)² bytes), layer by layer; a byte b means b / 127.5 - 1 (class parts: the
        class index)."""
        kind, parts, neurons = self._maps()
        layout = {"output": {"kind": kind, "size": GRID, "parts": list(parts)},
                  "neurons": [len(layer) for layer in neurons],
                  "neuron_size": GRID // NEURON_STRIDE}
        return layout, b"".join([*parts.values(), *(raw for layer in neurons for raw in layer)])

    def feature_heatmaps(self) -> list:
        """One heatmap per input feature ((GRID/2)², fixed for a configuration)."""
        values = self.X_grid.reshape(GRID, GRID, -1)[::NEURON_STRIDE, ::NEURON_STRIDE]
        return [encode_unit(values[:, :, j] / max(1.0, float(np.abs(values[:, :, j]).max())))
                for j in range(values.shape[2])]

    def layer_stats(self) -> dict:
        """Per-layer gradient norms, update/weight ratios (log10) and dead ReLU units."""
        norms = diagnostics.gradient_norms(self.model)
        ratios = diagnostics.update_to_weight_ratios(self.model, self.optimizer)
        dead = 0
        if any(type(m) in (ReLU, LeakyReLU) for m in self.model):
            fractions = diagnostics.dead_relu_fraction(self.model, self.X_train)
            sizes = {name: m.out_features for name, m in self.model.named_modules()
                     if isinstance(m, Linear)}
            for name, fraction in fractions.items():
                dead += int(round(fraction * sizes[str(int(name) - 1)]))
        return {"grad_norms": [_json_float(v) for v in norms.values()],
                "update_ratios": [_json_float(v) for v in ratios.values()], "dead_relu": dead}

    def notes(self, stats: dict) -> list:
        """Plain-language explanations of what the numbers show right now."""
        notes = []
        acts = self.config["activations"]
        if "binary_step" in acts and self.step_count:
            first = acts.index("binary_step")
            notes.append(f"Binary step (hidden layer {first + 1}) has derivative 0 everywhere: "
                         f"no gradient reaches the {first + 1} layer(s) before it, so they "
                         f"never learn (gradient norm 0).")
        norms = [n for n in stats["grad_norms"] if n is not None]
        if len(norms) > 2 and norms[-1] > 0 and 0 < norms[0] < 1e-4 * norms[-1]:
            notes.append("Vanishing gradients: the first layer's gradient is over 10,000x "
                         "smaller than the last layer's.")
        if stats["dead_relu"]:
            notes.append(f"{stats['dead_relu']} ReLU unit(s) output 0 for every training point "
                         f"(dead): they pass no gradient, so plain gradient descent cannot bring "
                         f"them back. Try a smaller learning rate (now {self.lr:g}), leaky ReLU "
                         f"(its negative side keeps a small slope), or fresh initial weights "
                         f"(another seed), then reset.")
        return notes

    def critical_lr(self):
        """2/λ_max of the training loss (full batch, without the penalty): above it, gradient
        descent overshoots along the sharpest direction. Measured by Lanczos on Hessian-vector
        products every :data:`CURVATURE_EVERY` steps; None once the run diverged."""
        if self.diverged is not None:
            return None
        if self._critical is None or self.step_count - self._critical[0] >= CURVATURE_EVERY:
            with np.errstate(all="ignore"):
                top, _ = curvature.sharpness(self.model, self.task.loss, tensor(self.X_train),
                                             tensor(self.T_train), iterations=12)
            self._critical = (self.step_count, 2.0 / top if top > 0 else math.inf)
        return self._critical[1]

    def _overshoot_text(self, critical):
        """The too-large-lr explanation while the loss only oscillates (None otherwise)."""
        overshoot = self.trend.overshooting()
        if overshoot is None or self.diverged is not None:
            return None
        return self.trend.explain(overshoot, self.lr, critical)

    def snapshot(self, with_heatmaps: bool = True) -> dict:
        """Everything the page draws for the current state, as JSON-ready numbers."""
        train_loss = self.dataset_loss(self.X_train, self.T_train)
        test_loss = self.dataset_loss(self.X_test, self.T_test)
        if not self.history or self.history[-1][0] != self.step_count:
            self.history.append([self.step_count, _json_float(train_loss), _json_float(test_loss)])
            if len(self.history) > HISTORY_LIMIT:
                self.history = self.history[::2]
        stats = self.layer_stats()
        critical = self.critical_lr()
        snap = {
            "type": "snapshot", "step": self.step_count,
            "epoch": self.step_count // self.steps_per_epoch,
            "train_loss": _json_float(train_loss), "test_loss": _json_float(test_loss), "lr": self.lr,
            "weights": [np.round(m.weight._data, 4).tolist() for m in self.model
                        if isinstance(m, Linear)],
            "biases": [np.round(m.bias._data, 4).tolist() for m in self.model
                       if isinstance(m, Linear)],
            **stats, "notes": self.notes(stats), "diverged": self.diverged,
            "overshoot": self._overshoot_text(critical),
            "critical_lr": None if critical is None else _json_float(critical),
        }
        if with_heatmaps:
            snap.update(self.heatmaps())
        return snap

    def describe(self) -> dict:
        """The data and the network's shape: sent once per configuration."""
        def rows(points, y):
            return np.column_stack([np.round(points, 3), np.round(y, 3)]).tolist()
        return {
            "type": "ready", "config": self.config, "task": self.task.kind,
            "n_classes": self.task.n_classes, "n_outputs": self.task.n_outputs,
            "train": rows(self.points_train, self.y_train),
            "test": rows(self.points_test, self.y_test),
            "features": [FEATURES[f][0] for f in self.config["features"]],
            "feature_maps": self.feature_heatmaps(), "neuron_size": GRID // NEURON_STRIDE,
            "steps_per_epoch": self.steps_per_epoch,
        }

    def lr_range(self) -> dict:
        """steepest.diagnostics.lr_range_test from the network's starting weights (a fresh copy
        built as reset would: the trained weights are neither used nor changed), 300 steps
        from lr 1e-5 to 10; the proposal is the lr where the smoothed loss falls fastest."""
        cfg = self.config
        fresh = build_model(cfg, self.task.n_outputs)
        result = diagnostics.lr_range_test(
            fresh, self.task.loss, lambda params: build_optimizer(cfg, params),
            self.X_train, self.T_train, start_lr=1e-5, end_lr=10.0, num_steps=LR_RANGE_STEPS,
            batch_size=cfg["batch_size"], seed=cfg["seed"])
        return {"type": "lr_range", "lrs": result.lrs.tolist(),
                "losses": [_json_float(v) for v in result.smoothed],
                "suggested_lr": float(result.suggested_lr), "steps": LR_RANGE_STEPS,
                "weights": "starting"}


#: steps between two measurements of the critical learning rate 2/λ_max (a few ms each)
CURVATURE_EVERY = 200


class Trend:
    """Watches the training loss and the updates for a learning rate that is too large.

    Too large while only oscillating: the smoothed batch loss stays well above its earlier
    minimum (or rises) and consecutive updates Δw_t, Δw_{t-1} point against each other
    (cos < 0 on average): each step jumps across the valley instead of down it.
    """

    SMOOTHING = 0.02        # exponential moving averages over ~50 steps
    WARM_UP = 100           # steps before any verdict
    STALL_RATIO = 1.3       # smoothed loss this far above its earlier minimum: stalled
    FLIP_RATIO = 1.1        # ... or this far while the updates flip
    FLIP_COSINE = -0.2      # mean cosine of consecutive updates below this: they flip

    def __init__(self):
        self.steps = 0
        self.loss = None
        self.lowest = math.inf
        self.cosine = 0.0
        self._weights = None
        self._update = None

    def update(self, loss: float, parameters) -> None:
        flat = np.concatenate([p._data.ravel() for p in parameters])
        if self._weights is not None:
            update = flat - self._weights
            if self._update is not None:
                norms = math.sqrt(float(update @ update) * float(self._update @ self._update))
                cosine = float(update @ self._update) / norms if norms > 0 else 0.0
                self.cosine += self.SMOOTHING * (cosine - self.cosine)
            self._update = update
        self._weights = flat
        self.steps += 1
        self.loss = loss if self.loss is None else self.loss + self.SMOOTHING * (loss - self.loss)
        if self.steps > self.WARM_UP // 2:
            self.lowest = min(self.lowest, self.loss)

    def overshooting(self) -> dict | None:
        """The numbers behind the verdict, or None while the loss falls as it should."""
        if self.steps < self.WARM_UP or not math.isfinite(self.lowest):
            return None
        flipping = self.cosine < self.FLIP_COSINE
        above = self.loss - self.lowest > (0.02 if flipping else 0.05) and \
            self.loss > (self.FLIP_RATIO if flipping else self.STALL_RATIO) * self.lowest
        if above:
            return {"loss": self.loss, "lowest": self.lowest, "cosine": self.cosine,
                    "flipping": flipping}
        return None

    @staticmethod
    def explain(numbers: dict, lr: float, critical: float | None = None) -> str:
        trend = (f"the training loss (smoothed {numbers['loss']:.3g}) sits above its earlier "
                 f"minimum {numbers['lowest']:.3g} instead of falling")
        if critical is not None and math.isfinite(critical) and lr > critical:
            trend += (f"; lr {lr:g} > 2/λ_max = {critical:.3g}, the largest rate at which a "
                      f"step along the sharpest direction does not overshoot")
        if numbers["flipping"]:
            return (f"The learning rate {lr:g} is too large: the step overshoots the valley. "
                    f"Consecutive updates point in opposite directions (cosine "
                    f"{numbers['cosine']:.2f} on average) and {trend}. Try lr/3 = {lr / 3:.3g}.")
        return (f"The loss has stopped falling: {trend}. The learning rate {lr:g} is probably "
                f"too large for this optimizer; try lr/3 = {lr / 3:.3g}.")


def _json_float(value):
    """A float for JSON, None for NaN and infinities (JSON has no NaN)."""
    value = float(value)
    return value if math.isfinite(value) else None


class Race:
    """The same network, data, initial weights and batches trained by 2–4 optimizers at once."""

    def __init__(self, config: dict, optimizers: list, max_samples: int = 2000):
        if not isinstance(optimizers, list) or not 2 <= len(optimizers) <= 4:
            raise ConfigError("optimizers must be a list of 2 to 4 optimizer settings, got "
                              f"{len(optimizers) if isinstance(optimizers, list) else optimizers!r}")
        self.sessions = []
        for i, entry in enumerate(optimizers):
            if not isinstance(entry, dict) or set(entry) - set(OPTIMIZER_FIELDS):
                raise ConfigError(f"optimizers[{i}] must be an object with fields from "
                                  f"{', '.join(OPTIMIZER_FIELDS)}, got {entry!r}")
            shared = {k: v for k, v in config.items() if k not in OPTIMIZER_FIELDS or k == "lr"}
            self.sessions.append(Session({**shared, **entry}, max_samples=max_samples))
        start = self.sessions[0].model.state_dict()
        for session in self.sessions[1:]:
            session.model.load_state_dict(start)

    @property
    def step_count(self) -> int:
        return self.sessions[0].step_count

    def step(self, n: int = 1) -> int:
        return max([s.step(n) for s in self.sessions])

    def snapshot(self) -> dict:
        runs = []
        for s in self.sessions:
            snap = s.snapshot(with_heatmaps=False)
            heat = s.heatmaps()["output"]
            runs.append({"name": label_of(s.config), "train_loss": snap["train_loss"],
                         "test_loss": snap["test_loss"], "diverged": snap["diverged"],
                         "output": heat})
        first = self.sessions[0]
        return {"type": "race_snapshot", "step": self.step_count,
                "epoch": self.step_count // first.steps_per_epoch, "runs": runs}


def label_of(cfg: dict) -> str:
    """A short name for a validated optimizer setting: the catalogue's label, the settings
    that differ from its defaults, the lr; e.g. 'SGD momentum 0.9 lr 0.03'."""
    entry = catalogue.OPTIMIZERS[cfg["optimizer"]]
    parts = [entry.label]
    for hp in entry.hyperparameters:
        value = cfg.get(hp.name)
        default = list(hp.default) if isinstance(hp.default, tuple) else hp.default
        if hp.name == "lr" or value is None or value == default:
            continue
        if value is True:
            parts.append(hp.name)
        elif isinstance(value, list):
            parts.append(f"{hp.name} ({', '.join(f'{v:g}' for v in value)})")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            parts.append(f"{hp.name} {value:g}")
        else:
            parts.append(f"{hp.name} {value}")
    return " ".join(parts) + f" lr {cfg['lr']:g}"
