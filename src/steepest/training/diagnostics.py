"""Diagnostics: is the network learning well, and what learning rate should it use?

* :func:`gradient_norms` — L2 norm of each Linear layer's weight gradient, input to output.
  Norms that shrink by orders of magnitude toward the input mean vanishing gradients (deep
  sigmoid/tanh nets); huge norms mean exploding ones.
* :func:`update_to_weight_ratios` — how big a step is relative to the weights, per layer, as
  in Karpathy's "update:data ratio" (around 1e-3, i.e. -3 in log10, is healthy for SGD).
* :func:`relative_update_norms` — the measured ``||Δw|| / ||w||`` between two snapshots.
* :func:`dead_relu_fraction` — the share of ReLU units that output 0 for every sample.
* :class:`GradientMonitor` — a callback that records these per epoch and warns.
* :func:`diagnose` — after training: chance-level accuracy, dead ReLUs, vanishing gradients,
  each with what to try (``fit`` and ``steepest train`` report it).
* :func:`lr_range_test` — the learning-rate finder of Smith (2015) / fastai's ``lr_find``.
* ``clip_grad_norm_`` — torch's gradient clipping by the total norm, which is
  :func:`steepest.nn.utils.clip_grad_norm_` (one implementation; also importable here).
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np

from steepest.data import _as_ndarray, _check_int
from steepest.nn.layers import ReLU
from steepest.nn.utils.clip_grad import clip_grad_norm_
from steepest.tensor import Tensor, no_grad
from steepest.training.callbacks import Callback
from steepest.training.task import _first_dtype, _prepare, linear_layers

__all__ = ["gradient_norms", "update_to_weight_ratios", "relative_update_norms",
           "dead_relu_fraction", "GradientMonitor", "lr_range_test", "LRRangeResult",
           "clip_grad_norm_", "diagnose", "chance_accuracy"]


# --------------------------------------------------------------------------- per-layer numbers

def gradient_norms(model) -> dict:
    """``{layer name: ||∂loss/∂W||₂}`` for each Linear layer's weight, in depth order.

    Call after ``loss.backward()``. A layer whose weight has no gradient yet gets NaN.
    Layer names are the dotted module names (``'0'``, ``'2'``, ... in a Sequential).
    """
    norms = {}
    for name, layer in linear_layers(model):
        g = layer.weight._grad
        norms[name] = math.nan if g is None else math.sqrt(float(np.dot(g.ravel(), g.ravel())))
    return norms


def _lr_of(param, lr_or_optimizer) -> float:
    if isinstance(lr_or_optimizer, numbers.Real):
        return float(lr_or_optimizer)
    for group in lr_or_optimizer.param_groups:
        if any(p is param for p in group["params"]):
            return float(group["lr"])
    raise ValueError("update_to_weight_ratios: a Linear weight is not in the optimizer's "
                     "parameter groups")


def update_to_weight_ratios(model, lr, log10: bool = True) -> dict:
    """Karpathy's update-to-data ratio per Linear layer: ``lr · std(grad) / std(W)``.

    This is the size of a plain SGD step relative to the spread of the weights, computed from
    the current gradients (call after ``backward``). Returned as ``log10`` of the ratio by
    default, as Karpathy plots it: about -3 is healthy, much lower (-5) means the layer
    barely learns, much higher (-1) that the steps are too big. ``lr`` is a number or an
    optimizer (each layer then uses its group's lr). For adaptive optimizers (Adam, RMSprop)
    the real step differs from ``lr · grad``; use :func:`relative_update_norms` to measure it.
    Layers without a gradient, or with constant weights, get NaN.
    """
    ratios = {}
    for name, layer in linear_layers(model):
        w, g = layer.weight._data, layer.weight._grad
        spread = float(np.std(w))
        if g is None or spread == 0.0:
            ratios[name] = math.nan
            continue
        ratio = _lr_of(layer.weight, lr) * float(np.std(g)) / spread
        ratios[name] = (math.log10(ratio) if ratio > 0 else -math.inf) if log10 else ratio
    return ratios


def relative_update_norms(before: dict, model) -> dict:
    """The measured ``||W_now − W_before|| / ||W_before||`` per Linear layer.

    ``before`` is ``model.state_dict()`` taken earlier (e.g. before a step or an epoch).
    Unlike :func:`update_to_weight_ratios` this is the update the optimizer really made.
    """
    ratios = {}
    for name, layer in linear_layers(model):
        key = f"{name}.weight" if name else "weight"
        old = np.asarray(before[key])
        denom = float(np.linalg.norm(old))
        change = float(np.linalg.norm(layer.weight._data - old))
        ratios[name] = change / denom if denom else math.nan
    return ratios


def dead_relu_fraction(model, x, batch_size: int = 1024) -> dict:
    """``{ReLU module name: fraction of its units that are 0 for every sample of x}``.

    A unit is dead on ``x`` when its input is <= 0 for all rows, so it passes no gradient
    and cannot recover by training on that data. Only ReLU *modules* are seen (a
    ``st.relu`` call inside a custom ``forward`` is not). Runs under no_grad in eval mode.
    """
    X = _as_ndarray(x)
    batch_size = _check_int("dead_relu_fraction: batch_size", batch_size, 1)
    relus = [(name, m) for name, m in model.named_modules() if type(m) is ReLU]
    if not relus:
        return {}
    active = {name: None for name, _ in relus}

    def recorder(name, module):
        original = type(module).forward

        def forward(inp):
            out = original(module, inp)
            fired = (out._data > 0).reshape(-1, out.shape[-1]).any(axis=0)
            active[name] = fired if active[name] is None else (active[name] | fired)
            return out
        return forward

    was_training = model.training
    model.eval()
    for name, module in relus:
        object.__setattr__(module, "forward", recorder(name, module))
    try:
        with no_grad():
            data = X.astype(_first_dtype(model), copy=False)
            for lo in range(0, len(data), batch_size):
                model(Tensor._wrap(data[lo:lo + batch_size]))
    finally:
        for _, module in relus:
            object.__delattr__(module, "forward")
        model.train(was_training)
    return {name: (math.nan if fired is None else float(1.0 - fired.mean()))
            for name, fired in active.items()}


# --------------------------------------------------------------------------- GradientMonitor

class GradientMonitor(Callback):
    """Record per-layer gradient health each epoch and warn about vanishing/exploding gradients.

    Per epoch it records, in ``self.records`` (a dict of lists, like ``History.history``):

    * ``grad_norm/<layer>``: mean over the epoch's steps of the weight-gradient L2 norm
      (as ``fit`` logs it);
    * ``update_ratio/<layer>``: :func:`update_to_weight_ratios` (log10) of the last step;
    * ``dead_relu/<layer>``: :func:`dead_relu_fraction` on ``x`` (when ``x`` is given).

    It warns (``warnings.warn``, a ``RuntimeWarning``, once per kind per run) when gradients
    vanish — the first layer's norm is below ``vanish_ratio`` times the last layer's, or some
    norm is below ``vanish_norm`` — or explode (some norm above ``explode_norm``). The
    messages are kept in ``self.messages``.
    """

    def __init__(self, x=None, vanish_ratio: float = 1e-4, vanish_norm: float = 1e-7,
                 explode_norm: float = 1e3, sample_size: int = 512, warn: bool = True):
        self.x = None if x is None else _as_ndarray(x)[:sample_size]
        self.vanish_ratio = vanish_ratio
        self.vanish_norm = vanish_norm
        self.explode_norm = explode_norm
        self.warn = warn
        self.records: dict = {}
        self.messages: list = []
        self._warned: set = set()

    def on_train_begin(self, logs=None) -> None:
        self._warned = set()

    def _record(self, key: str, value: float) -> None:
        self.records.setdefault(key, []).append(float(value))

    def _alert(self, kind: str, message: str) -> None:
        self.messages.append(message)
        if self.warn and kind not in self._warned:
            self._warned.add(kind)
            warnings.warn(message, RuntimeWarning, stacklevel=2)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        prefix = "grad_norm/"
        norms = {k[len(prefix):]: v for k, v in logs.items() if k.startswith(prefix)}
        if not norms:
            norms = gradient_norms(self.model)
        for name, value in norms.items():
            self._record(prefix + name, value)
        for name, value in update_to_weight_ratios(self.model, self.optimizer).items():
            self._record(f"update_ratio/{name}", value)
        if self.x is not None:
            for name, value in dead_relu_fraction(self.model, self.x).items():
                self._record(f"dead_relu/{name}", value)
        self.check(epoch, norms)

    def check(self, epoch: int, norms: dict) -> None:
        """Warn if the per-layer norms look vanishing or exploding."""
        values = [v for v in norms.values() if math.isfinite(v)]
        if not values:
            return
        names = list(norms)
        first, last = norms[names[0]], norms[names[-1]]
        where = f"epoch {epoch + 1}"
        if len(names) > 1 and last > 0 and first / last < self.vanish_ratio:
            self._alert("vanish", f"vanishing gradients at {where}: the first layer's gradient "
                        f"norm ({first:.2e}) is {first / last:.1e} times the last layer's "
                        f"({last:.2e}); early layers barely learn. Try ReLU instead of "
                        f"sigmoid/tanh, He/Xavier initialisation, or a shallower network.")
        elif min(values) < self.vanish_norm:
            layer = names[int(np.nanargmin([norms[n] for n in names]))]
            self._alert("vanish", f"vanishing gradients at {where}: layer {layer}'s gradient "
                        f"norm is {norms[layer]:.2e} (< {self.vanish_norm:g}); it has "
                        f"practically stopped learning (saturated or dead units?).")
        if max(values) > self.explode_norm:
            layer = names[int(np.nanargmax([norms[n] for n in names]))]
            self._alert("explode", f"exploding gradients at {where}: layer {layer}'s gradient "
                        f"norm is {norms[layer]:.2e} (> {self.explode_norm:g}). Try a smaller "
                        f"learning rate or gradient clipping (fit(..., clip_grad_norm=1.0)).")


# --------------------------------------------------------------------------- diagnosis

#: a layer with at least this share of dead ReLU units is reported
DEAD_SHARE = 0.5
#: the first layer's gradient norm below this times the last layer's means vanishing gradients
VANISH_RATIO = 1e-3
#: rows of the training data on which dead units are counted (enough, and cheap)
DIAGNOSIS_ROWS = 2048


def chance_accuracy(labels) -> float:
    """The accuracy of always predicting the most common class: ``max_c count(c) / n``."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return math.nan
    return float(np.bincount(labels.astype(np.int64).ravel()).max() / labels.size)


def _activation_names(model) -> set:
    return {type(m).__name__ for _, m in model.named_modules()}


def diagnose(model, history, x=None, y=None, lr=None) -> list:
    """What looks wrong with a finished run, and what to try: a list of sentences (may be empty).

    Three checks, on what the run recorded and on the model as it is now:

    * chance-level accuracy: the last (validation, else training) accuracy is within
      ``max(2%, 10% of the room above chance)`` of :func:`chance_accuracy` of the labels ``y``;
    * dead ReLUs: :func:`dead_relu_fraction` on up to :data:`DIAGNOSIS_ROWS` rows of ``x``;
      a layer with at least :data:`DEAD_SHARE` of its units dead is reported;
    * vanishing gradients: in the last epoch, the first Linear layer's mean gradient norm is
      below :data:`VANISH_RATIO` times the last one's (or every norm is 0).

    ``lr`` (the learning rate used) only makes the advice concrete.
    """
    findings = []
    h = history.history
    at_lr = f" (lr = {lr:g})" if lr is not None else ""
    key = "val_accuracy" if "val_accuracy" in h else "accuracy"
    chance = chance_accuracy(y) if y is not None else math.nan
    accuracy = h[key][-1] if h.get(key) else math.nan
    at_chance = (math.isfinite(chance) and math.isfinite(accuracy)
                 and accuracy <= chance + max(0.02, 0.1 * (1 - chance)))
    if at_chance:
        findings.append(f"{'validation' if key.startswith('val_') else 'training'} accuracy "
                        f"{accuracy:.1%} is chance level: always answering the most common "
                        f"class scores {chance:.1%}. The network has not learned the task.")
    causes = 0
    if x is not None:
        dead = dead_relu_fraction(model, _as_ndarray(x)[:DIAGNOSIS_ROWS])
        layers = [("all" if share == 1.0 else f"{share:.0%}", depth)
                  for depth, share in enumerate(dead.values(), start=1) if share >= DEAD_SHARE]
        if layers:
            causes += 1
            where = ", ".join(f"{amount} of hidden layer {depth}" for amount, depth in layers)
            constant = any(amount == "all" for amount, _ in layers)
            findings.append(
                f"dead ReLUs: {where}: these units output 0 for every training sample, so no "
                f"gradient flows through them and they cannot recover"
                + ("; the network's output no longer depends on its input" if constant else "")
                + f". A too-large learning rate{at_lr} usually kills them. Try a smaller "
                f"learning rate (lr/10), leaky_relu, or the Adam optimizer.")
    norms = {name: values[-1] for name, values in history.layer_grad_norms().items()
             if values and math.isfinite(values[-1])}
    if len(norms) >= 2:
        names = list(norms)
        first, last = norms[names[0]], norms[names[-1]]
        saturating = _activation_names(model) & {"Sigmoid", "Tanh"}
        why = ""
        if "Sigmoid" in saturating:
            why = (" A sigmoid passes on at most a quarter of the gradient (its slope is at "
                   "most 0.25), so the gradient shrinks at every layer.")
        elif saturating:
            why = (" A saturated tanh passes on almost none of the gradient, so it shrinks "
                   "at every layer.")
        if last > 0 and first < VANISH_RATIO * last:
            causes += 1
            findings.append(
                f"vanishing gradients: in the last epoch the first layer's gradient norm is "
                + (f"{first:.1e}, {first / last:.0e} times" if first > 0 else "0, against")
                + f" the last layer's ({last:.1e}), so the first layers barely learn.{why} "
                f"Try relu (or leaky_relu), fewer layers, "
                f"or the Adam optimizer.")
        elif last == 0 and first == 0 and not causes:
            causes += 1
            findings.append("every layer's weight gradient is 0 in the last epoch: the "
                            "network has stopped learning.")
    if at_chance and not causes:
        findings.append("Try another learning rate (a learning-rate range test finds one), "
                        "more epochs, or the Adam optimizer.")
    return findings


# --------------------------------------------------------------------------- LR range test

@dataclass
class LRRangeResult:
    """What :func:`lr_range_test` measured.

    One entry per step taken in ``lrs`` (the learning rates), ``losses`` (raw batch losses),
    ``smoothed`` (fastai's debiased exponential moving average, which decides when to stop)
    and ``centered`` (a centred moving average of the raw losses over ``2k + 1`` steps,
    ``k = max(1, num_steps // 25)``, which has no lag).

    ``suggested_lr`` is the lr where the centred average falls fastest (most negative slope
    against log lr, before its minimum). The centred curve is used because an EMA with
    smooth = 0.98 lags about 50 steps behind the losses — two decades of lr in a 200-step
    sweep — which pushes a slope read off it towards too-large learning rates.
    ``lr_min`` is fastai's other rule of thumb: the lr at the minimum of ``smoothed``, / 10.
    ``stopped_early`` is True when the sweep stopped because the loss diverged.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggested_lr: float
    lr_min: float
    stopped_early: bool = False
    centered: np.ndarray = field(default_factory=lambda: np.empty(0))

    def to_dict(self) -> dict:
        """A strict-JSON copy: non-finite numbers (no suggestion, a diverged loss) become None."""
        def clean(v):
            return float(v) if math.isfinite(v) else None
        return {"lrs": [clean(v) for v in self.lrs], "losses": [clean(v) for v in self.losses],
                "smoothed": [clean(v) for v in self.smoothed],
                "centered": [clean(v) for v in self.centered],
                "suggested_lr": clean(self.suggested_lr), "lr_min": clean(self.lr_min),
                "stopped_early": self.stopped_early}

    def plot(self, path, title: str | None = None):
        """Save loss against learning rate (log x axis) with the suggestion marked."""
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6.5, 4.8), layout="constrained")
        ax = fig.subplots()
        ax.plot(self.lrs, self.losses, color="0.75", linewidth=1, label="batch loss")
        ax.plot(self.lrs, self.smoothed, color="C1", linewidth=1, linestyle="--",
                label="EMA of the loss (stopping rule)")
        if len(self.centered) == len(self.lrs):
            ax.plot(self.lrs, self.centered, color="C0", linewidth=2,
                    label="centred average of the loss")
        if math.isfinite(self.suggested_lr):
            ax.axvline(self.suggested_lr, color="C3", linestyle="--",
                       label=f"steepest descent: lr = {self.suggested_lr:.2g}")
        if math.isfinite(self.lr_min):
            ax.axvline(self.lr_min, color="C2", linestyle=":",
                       label=f"minimum / 10: lr = {self.lr_min:.2g}")
        ax.set_xscale("log")
        curve = self.centered if len(self.centered) == len(self.lrs) else self.smoothed
        finite = curve[np.isfinite(curve)]
        if finite.size:
            low, high = finite.min(), finite[0]
            span = max(high - low, 1e-12)
            ax.set_ylim(low - 0.1 * span, max(high, low) + 0.6 * span)
        ax.set_xlabel("learning rate (log scale)")
        ax.set_ylabel("training loss")
        ax.set_title(title or "Learning-rate range test")
        ax.grid(alpha=0.3, which="both")
        fig.legend(loc="outside lower center", ncols=2, fontsize="small")  # off the curves
        fig.savefig(path, dpi=100)
        return path


def _centered_average(losses: np.ndarray, k: int) -> np.ndarray:
    """Mean of each loss and its k neighbours on both sides (edges padded): no lag."""
    if len(losses) == 0:
        return losses.copy()
    padded = np.pad(losses, k, mode="edge")
    return np.convolve(padded, np.ones(2 * k + 1) / (2 * k + 1), mode="valid")


def _steepest(lrs: np.ndarray, curve: np.ndarray) -> float:
    """The lr of the most negative slope d curve / d log lr, up to the curve's minimum."""
    finite = np.isfinite(curve)
    if finite.sum() < 3:
        return math.nan
    lrs, curve = lrs[finite], curve[finite]
    best = int(np.argmin(curve))
    if best < 2:
        return float(lrs[best]) / 10
    slopes = np.gradient(curve[:best + 1], np.log(lrs[:best + 1]))
    return float(lrs[int(np.argmin(slopes))])


def _min_over_10(lrs: np.ndarray, curve: np.ndarray) -> float:
    finite = np.isfinite(curve)
    if not finite.any():
        return math.nan
    return float(lrs[finite][int(np.argmin(curve[finite]))]) / 10


def lr_range_test(model, loss_fn, optimizer, x, y, start_lr: float = 1e-7, end_lr: float = 10.0,
                  num_steps: int = 200, batch_size: int = 32, smooth: float = 0.98,
                  diverge_factor: float = 4.0, seed: int = 0) -> LRRangeResult:
    """Sweep the learning rate exponentially and record the loss (fastai's ``lr_find``).

    Step ``i`` of ``num_steps`` trains one mini-batch at
    ``lr_i = start_lr · (end_lr / start_lr) ** (i / (num_steps − 1))``. Losses are smoothed by
    an exponential moving average debiased as in Adam (``avg / (1 − smooth^(i+1))``); the
    sweep stops early once the smoothed loss exceeds ``diverge_factor`` times its best (or
    becomes NaN). Afterwards the model's weights, its training mode and the optimizer's state
    (learning rates included) are restored, so the test leaves no trace.

    Parameters
    ----------
    optimizer : Optimizer, or a factory ``params -> Optimizer`` (e.g.
        ``lambda p: st.optim.Adam(p)``); a factory's optimizer is thrown away afterwards.
    x, y : the training data (checked like ``fit`` checks it). Batches are drawn in a
        shuffled order from ``seed``, starting a new pass when the data runs out.

    Returns
    -------
    LRRangeResult
        ``suggested_lr``: the lr at the steepest descent of the loss (of its lag-free centred
        average, before its minimum); ``lr_min``: the lr of the smoothed minimum / 10. Read
        the plot (``result.plot``): pick an lr where the loss still falls steeply, well
        before it blows up.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_range_test: need 0 < start_lr < end_lr, got start_lr={start_lr!r},"
                         f" end_lr={end_lr!r}")
    num_steps = _check_int("lr_range_test: num_steps", num_steps, 2)
    if not 0 <= smooth < 1:
        raise ValueError(f"lr_range_test: smooth must be in [0, 1), got {smooth!r}")
    if not diverge_factor > 1:
        raise ValueError(f"lr_range_test: diverge_factor must be > 1, got {diverge_factor!r}")
    X, task = _prepare(model, loss_fn, x, y, (), batch_size)
    targets = task.targets
    owned = not hasattr(optimizer, "param_groups")
    if owned:
        if not callable(optimizer):
            raise TypeError("lr_range_test: optimizer must be an Optimizer or a factory "
                            "params -> Optimizer")
        optimizer = optimizer(model.parameters())
    weights = model.state_dict()
    optimizer_state = None if owned else optimizer.state_dict()
    step_count = getattr(optimizer, "_step_count", None)
    was_training = model.training
    lrs = start_lr * (end_lr / start_lr) ** (np.arange(num_steps) / (num_steps - 1))
    rng = np.random.default_rng(seed)
    n = len(X)
    losses, smoothed = [], []
    avg, best = 0.0, math.inf
    stopped = False
    order, position = rng.permutation(n), 0
    model.train()
    try:
        for i, lr in enumerate(lrs):
            for group in optimizer.param_groups:
                group["lr"] = float(lr)
            if position >= n:
                order, position = rng.permutation(n), 0
            idx = order[position:position + batch_size]
            position += batch_size
            optimizer.zero_grad()
            out = model(Tensor._wrap(X[idx]))
            loss = loss_fn(out, targets[idx])
            loss.backward()
            optimizer.step()
            value = loss.item()
            avg = smooth * avg + (1 - smooth) * value
            current = avg / (1 - smooth ** (i + 1))
            losses.append(value)
            smoothed.append(current)
            if not math.isfinite(current) or (i > 0 and current > diverge_factor * best):
                stopped = True
                break
            best = min(best, current)
    finally:
        model.load_state_dict(weights)
        model.train(was_training)
        model.zero_grad()
        if optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
            if step_count is not None:
                optimizer._step_count = step_count
    taken = np.asarray(lrs[:len(losses)])
    losses_arr = np.asarray(losses, dtype=np.float64)
    smoothed_arr = np.asarray(smoothed, dtype=np.float64)
    centered = _centered_average(losses_arr, max(1, num_steps // 25))
    return LRRangeResult(taken, losses_arr, smoothed_arr, _steepest(taken, centered),
                         _min_over_10(taken, smoothed_arr), stopped, centered)
