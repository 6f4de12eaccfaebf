"""One table of the optimizers and learning-rate schedulers every surface offers.

The CLI, sweeps, lessons, reports and the playground name, build, validate and print code
for optimizers from :data:`OPTIMIZERS` and schedulers from :data:`SCHEDULERS`; none of them
keeps a list of its own. Adding an optimizer is one :class:`Entry` here plus its class.

An entry lists the class keywords a surface may set, each a :class:`Hyperparameter` with its
default, kind and valid range, and what models it is offered for: ``max_parameters`` (Newton
builds an n×n Hessian, so small models only; :func:`build_optimizer` refuses larger ones
with the reason and what to use instead) and ``needs_matrices`` (Muon's own update is for
weight matrices; ``"muon"`` is :class:`~steepest.optim.muon.MuonWithAuxAdamW`, AdamW for
the rest). Surfaces filter their menus on these properties, never on names: the
playground's network menus leave out entries that cannot step its largest network in time,
its 2-D paths those that need matrices.

The optimizers: gd, sgd, momentum and nesterov (SGD presets), rmsprop, adam, adamw, adagrad,
nadam, radam, adamax, adadelta, rprop, asgd, adafactor, lbfgs, newton and muon; the
schedulers: step, exponential, cosine, linear, onecycle, constant, polynomial,
warm_restarts, cyclic and plateau. A name may preset a class's keywords: ``"momentum"`` is
``SGD`` with ``momentum=0.9``. The class stays the judge of combinations (``nesterov`` needs
``momentum > 0``): :func:`validate` builds the optimizer once over a dummy parameter so its
message reaches the caller before any training starts.
"""

from __future__ import annotations

import inspect
import math
import numbers
from dataclasses import dataclass

import numpy as np

from steepest.optim import lr_scheduler
from steepest.optim.adadelta import Adadelta
from steepest.optim.adafactor import Adafactor
from steepest.optim.adagrad import Adagrad
from steepest.optim.adam import Adam, AdamW
from steepest.optim.adamax import Adamax
from steepest.optim.asgd import ASGD
from steepest.optim.gd import GD
from steepest.optim.lbfgs import LBFGS
from steepest.optim.muon import MuonWithAuxAdamW
from steepest.optim.nadam import NAdam
from steepest.optim.newton import Newton
from steepest.optim.optimizer import Optimizer
from steepest.optim.radam import RAdam
from steepest.optim.rmsprop import RMSprop
from steepest.optim.rprop import Rprop
from steepest.optim.sgd import SGD
from steepest.tensor import Tensor

__all__ = ["Hyperparameter", "Entry", "OPTIMIZERS", "SCHEDULERS", "KINDS", "build_optimizer",
           "build_scheduler", "validate", "python_code", "to_json", "entry", "takes",
           "count_parameters", "NEWTON_MAX_PARAMETERS"]

#: The kinds of hyperparameter value a form or a command line can hold.
KINDS = ("float", "int", "bool", "choice", "pair")


@dataclass(frozen=True)
class Hyperparameter:
    """One class keyword: its default, kind and valid range.

    ``low``/``high`` bound the valid values (inclusive unless ``low_open``/``high_open``;
    None: unbounded); for a ``pair`` they bound each element. ``suggested`` is the range a
    slider or a grid spans where the valid range is unbounded (an lr may be 1e6 to show a
    blow-up, a slider stops at 10). A default of None makes None a valid value ("not set").
    """

    name: str
    default: object
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    label: str = ""
    help: str = ""
    low_open: bool = False
    high_open: bool = False
    suggested: tuple = ()

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"Hyperparameter {self.name}: kind must be one of "
                             f"{', '.join(KINDS)}, got {self.kind!r}")
        if self.kind == "choice" and self.default not in self.choices:
            raise ValueError(f"Hyperparameter {self.name}: default {self.default!r} is not "
                             f"among choices {self.choices}")

    def range_text(self) -> str:
        """The valid range as a reader writes it: '(0, ∞)', '[0, 1)'."""
        low = "-∞" if self.low is None else f"{self.low:g}"
        high = "∞" if self.high is None else f"{self.high:g}"
        left = "(" if self.low_open or self.low is None else "["
        right = ")" if self.high_open or self.high is None else "]"
        return f"{left}{low}, {high}{right}"

    def check(self, value, owner: str):
        """``value`` as this keyword stores it, or ValueError naming owner, keyword and value."""
        if value is None and self.default is None:
            return None
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{owner}: {self.name} must be True or False, got {value!r}")
            return bool(value)
        if self.kind == "choice":
            if not isinstance(value, str) or value not in self.choices:
                raise ValueError(f"{owner}: {self.name} must be one of "
                                 f"{', '.join(map(repr, self.choices))}, got {value!r}")
            return value
        if self.kind == "pair":
            if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
                raise ValueError(f"{owner}: {self.name} must be a pair of numbers in "
                                 f"{self.range_text()}, got {value!r}")
            return tuple(self._number(v, owner, f"{self.name}[{i}]", float)
                         for i, v in enumerate(value))
        return self._number(value, owner, self.name, int if self.kind == "int" else float)

    def _number(self, value, owner: str, what: str, kind: type):
        integral = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
        real = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        ok = integral if kind is int else real
        ok = ok and _isfinite_no_overflow(value) and self._inside(value)
        if not ok:
            whole = "whole " if kind is int else ""
            raise ValueError(f"{owner}: {what} must be a {whole}number in {self.range_text()}, "
                             f"got {value!r}")
        return kind(value)

    def _inside(self, value) -> bool:
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


def _isfinite_no_overflow(value) -> bool:
    """math.isfinite that answers False, not OverflowError, for an int beyond any float."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class Entry:
    """One name every surface uses for a class and the keywords it may set.

    ``hyperparameters`` list lr first for optimizers; ``default_lr`` is the learning rate
    used when none is given (the one table the CLI and sweeps share), None for schedulers.
    ``max_parameters`` is the largest model, in scalar parameters, the optimizer is offered
    for (None: any); ``size_reason`` says why and ``instead`` names the entry to use then.
    ``needs_matrices``: the optimizer's own update is for weight matrices (Muon), so surfaces
    whose parameters are vectors only (the 2-D paths) leave it out.
    """

    name: str
    cls: type
    label: str
    hyperparameters: tuple
    default_lr: float | None
    summary: str
    max_parameters: int | None = None
    size_reason: str = ""
    instead: str = ""
    needs_matrices: bool = False

    def __post_init__(self):
        keywords = inspect.signature(self.cls).parameters
        for hp in self.hyperparameters:
            if hp.name not in keywords:
                raise ValueError(f"catalogue entry {self.name}: {self.cls.__name__} has no "
                                 f"keyword {hp.name!r}")

    def offered_for(self, n_parameters: int) -> bool:
        """Whether a model of ``n_parameters`` scalar parameters may use this entry."""
        return self.max_parameters is None or n_parameters <= self.max_parameters

    def check_size(self, n_parameters: int, model: str = "this one") -> None:
        """ValueError naming the entry, the model's size and the limit if it is too large."""
        if not self.offered_for(n_parameters):
            instead = f"; try {self.instead}" if self.instead else ""
            raise ValueError(f"{self.name} {self.size_reason}: offered for models up to "
                             f"{self.max_parameters:,} parameters, {model} has "
                             f"{n_parameters:,}{instead}")

    def hyperparameter(self, name: str) -> Hyperparameter:
        """The hyperparameter called ``name``, or KeyError."""
        for hp in self.hyperparameters:
            if hp.name == name:
                return hp
        raise KeyError(name)

    @property
    def names(self) -> tuple:
        """The keywords this entry accepts, in table order."""
        return tuple(hp.name for hp in self.hyperparameters)

    @property
    def qualname(self) -> str:
        """The class as a user writes it after ``import steepest as st``."""
        module = "st.optim.lr_scheduler" if issubclass(self.cls, lr_scheduler.LRScheduler) \
            else "st.optim"
        return f"{module}.{self.cls.__name__}"


def _hp(name, default, kind, low=None, high=None, **more) -> Hyperparameter:
    return Hyperparameter(name, default, kind, low, high, **more)


def _lr(default: float) -> Hyperparameter:
    return _hp("lr", default, "float", 0.0, None, low_open=True, log=True, label="learning rate",
               suggested=(1e-5, 10.0), help="step size: w ← w − lr·update")


_MOMENTUM_HELP = "fraction of the previous step kept: b ← μ·b + g"


def _momentum(default: float = 0.0) -> Hyperparameter:
    return _hp("momentum", default, "float", 0.0, 1.0, high_open=True, label="momentum μ",
               help=_MOMENTUM_HELP)


def _weight_decay(default: float = 0.0, decoupled: bool = False) -> Hyperparameter:
    how = "decoupled: w ← w − lr·wd·w" if decoupled else \
        "L2, added to the gradient: g + wd·w"
    return _hp("weight_decay", default, "float", 0.0, None, label="weight decay",
               suggested=(0.0, 0.1), help=how)


def _eps(default: float) -> Hyperparameter:
    return _hp("eps", default, "float", 0.0, None, low_open=True, log=True, label="ε",
               suggested=(1e-12, 1e-3), help="added to the denominator for stability")


def _sgd_entry(name: str, label: str, lr: float, momentum: float, nesterov: bool,
               summary: str) -> Entry:
    return Entry(name, SGD, label, (
        _lr(lr), _momentum(momentum),
        _hp("dampening", 0.0, "float", 0.0, 1.0, label="dampening",
            help="b ← μ·b + (1 − dampening)·g"),
        _weight_decay(),
        _hp("nesterov", nesterov, "bool", label="Nesterov", help="step with g + μ·b"),
    ), lr, summary)


def _betas() -> Hyperparameter:
    return _hp("betas", (0.9, 0.999), "pair", 0.0, 1.0, high_open=True, label="β₁, β₂",
               help="decay of the running mean of g and of g²")


def _adam_entry(name: str, cls: type, label: str, weight_decay: float, summary: str) -> Entry:
    return Entry(name, cls, label, (
        _lr(1e-2), _betas(),
        _eps(1e-8), _weight_decay(weight_decay, decoupled=cls is AdamW),
        _hp("amsgrad", False, "bool", label="AMSGrad", help="divide by the largest v so far"),
    ), 1e-2, summary)


#: Newton's largest model: one step (n Hessian-vector products) of a 2-hidden-layer tanh MLP
#: of 151 parameters took 30 ms here, 177 parameters in 3 layers 60 ms; 393 in 6 layers 175 ms.
NEWTON_MAX_PARAMETERS = 150

#: name -> Entry for every optimizer a surface offers, in the order menus list them.
OPTIMIZERS: dict = {e.name: e for e in (
    Entry("gd", GD, "GD", (_lr(0.1),), 0.1,
          "plain gradient descent: w ← w − lr·∇"),
    _sgd_entry("sgd", "SGD", 0.1, 0.0, False,
               "stochastic gradient descent, with optional momentum and weight decay"),
    _sgd_entry("momentum", "SGD+momentum", 0.01, 0.9, False,
               "SGD with momentum 0.9: steps build up along consistent directions"),
    _sgd_entry("nesterov", "Nesterov", 0.01, 0.9, True,
               "SGD with Nesterov momentum 0.9: looks one step ahead"),
    Entry("rmsprop", RMSprop, "RMSprop", (
        _lr(1e-3),
        _hp("alpha", 0.99, "float", 0.0, 1.0, label="α",
            help="decay of the running mean of g²"),
        _eps(1e-8), _weight_decay(), _momentum(),
        _hp("centered", False, "bool", label="centered",
            help="divide by the variance of g instead of its second moment"),
    ), 1e-3, "divides each step by a running root-mean-square of the gradient"),
    _adam_entry("adam", Adam, "Adam", 0.0,
                "momentum and RMSprop combined, with bias correction"),
    _adam_entry("adamw", AdamW, "AdamW", 1e-2,
                "Adam with decoupled weight decay"),
    Entry("adagrad", Adagrad, "Adagrad", (
        _lr(1e-2),
        _hp("lr_decay", 0.0, "float", 0.0, None, label="lr decay",
            help="lr / (1 + (t − 1)·lr_decay)"),
        _weight_decay(),
        _hp("initial_accumulator_value", 0.0, "float", 0.0, None, label="initial accumulator"),
        _eps(1e-10),
    ), 1e-2, "divides each step by the root of the summed squared gradients"),
    Entry("nadam", NAdam, "NAdam", (
        _lr(2e-3), _betas(), _eps(1e-8), _weight_decay(),
        _hp("momentum_decay", 4e-3, "float", 0.0, None, label="momentum decay",
            help="μₜ = β₁·(1 − ½·0.96^(t·momentum_decay))"),
        _hp("decoupled_weight_decay", False, "bool", label="decoupled weight decay",
            help="w ← w·(1 − lr·wd) instead of g + wd·w"),
    ), 2e-3, "Adam with Nesterov momentum"),
    Entry("radam", RAdam, "RAdam", (
        _lr(1e-3), _betas(), _eps(1e-8), _weight_decay(),
        _hp("decoupled_weight_decay", False, "bool", label="decoupled weight decay",
            help="w ← w·(1 − lr·wd) instead of g + wd·w"),
    ), 1e-3, "Adam whose adaptive step is switched on as its variance estimate firms up"),
    Entry("adamax", Adamax, "Adamax", (
        _lr(2e-3), _betas(), _eps(1e-8), _weight_decay(),
    ), 2e-3, "Adam with a running maximum of |g| in place of the root mean square"),
    Entry("adadelta", Adadelta, "Adadelta", (
        _lr(1.0),
        _hp("rho", 0.9, "float", 0.0, 1.0, label="ρ",
            help="decay of the running means of g² and of the squared steps"),
        _eps(1e-6), _weight_decay(),
    ), 1.0, "step = RMS of past steps / RMS of gradients × g: no learning rate needed"),
    Entry("rprop", Rprop, "Rprop", (
        _lr(1e-2),
        _hp("etas", (0.5, 1.2), "pair", 0.0, None, low_open=True, label="η₋, η₊",
            help="shrink / grow each step size when the gradient's sign flips / holds"),
        _hp("step_sizes", (1e-6, 50.0), "pair", 0.0, None, label="smallest, largest step"),
    ), 1e-2, "per-weight step sizes driven by the gradient's sign only (full batch)"),
    Entry("asgd", ASGD, "ASGD", (
        _lr(1e-2),
        _hp("lambd", 1e-4, "float", 0.0, None, label="λ", help="decay of the step size"),
        _hp("alpha", 0.75, "float", 0.0, None, label="α", help="ηₜ = lr/(1 + λ·lr·t)^α"),
        _hp("t0", 1e6, "float", 0.0, None, label="t₀", suggested=(0.0, 1e6),
            help="step at which weight averaging starts"),
        _weight_decay(),
    ), 1e-2, "SGD with a running average of the weights (state['ax'])"),
    Entry("adafactor", Adafactor, "Adafactor", (
        _lr(1e-2),
        _hp("beta2_decay", -0.8, "float", None, 0.0, label="β₂ decay",
            help="weight of the new g² at step t: t^beta2_decay"),
        _hp("d", 1.0, "float", 1.0, None, label="clipping threshold d"),
        _weight_decay(decoupled=True),
    ), 1e-2, "Adam-like scaling from row and column means of g² (little memory)"),
    Entry("lbfgs", LBFGS, "L-BFGS", (
        _lr(1.0),
        _hp("max_iter", 20, "int", 1, None, label="iterations per step", suggested=(1, 100),
            help="inner L-BFGS iterations in one step(closure)"),
        _hp("history_size", 100, "int", 1, None, label="history",
            suggested=(1, 100), help="gradient pairs kept to estimate the inverse Hessian"),
        _hp("line_search_fn", None, "choice", choices=(None, "strong_wolfe"),
            label="line search", help="None: fixed step lr; 'strong_wolfe': a line search"),
    ), 1.0, "quasi-Newton: an inverse-Hessian estimate from recent gradients (full batch)"),
    Entry("newton", Newton, "Newton", (
        _lr(1.0),
        _hp("damping", 0.0, "float", 0.0, None, label="damping λ", suggested=(0.0, 10.0),
            help="(H + λ·I)⁻¹·∇: λ > −λ_min keeps the step downhill near a saddle"),
    ), 1.0, "w ← w − lr·(H + λI)⁻¹·∇ with the exact Hessian: one step solves a quadratic",
        max_parameters=NEWTON_MAX_PARAMETERS,
        size_reason="builds the exact n×n Hessian, one Hessian-vector product per parameter",
        instead="lbfgs"),
    Entry("muon", MuonWithAuxAdamW, "Muon", (
        _lr(0.02),
        _hp("momentum", 0.95, "float", 0.0, 1.0, high_open=True, label="momentum μ",
            help="M ← μ·M + (1 − μ)·G, then Newton–Schulz orthogonalises it"),
        _hp("nesterov", True, "bool", label="Nesterov", help="orthogonalise G + μ·(M − G)"),
        _weight_decay(0.1, decoupled=True),
        _hp("adamw_lr", 1e-3, "float", 0.0, None, low_open=True, log=True,
            label="AdamW lr (non-matrices)", suggested=(1e-5, 1.0),
            help="the learning rate of the biases and other non-matrix parameters (AdamW)"),
    ), 0.02, "weight matrices: momentum orthogonalised by Newton–Schulz; the rest AdamW",
        needs_matrices=True),
)}

_STEPS = "whole number of scheduler steps"

#: name -> Entry for every learning-rate scheduler a surface offers (no entry: constant lr).
SCHEDULERS: dict = {e.name: e for e in (
    Entry("step", lr_scheduler.StepLR, "step decay", (
        _hp("step_size", 100, "int", 1, None, label="step size", suggested=(1, 10_000),
            help=f"lr × gamma every step_size steps ({_STEPS})"),
        _hp("gamma", 0.1, "float", 0.0, 1.0, low_open=True, label="γ"),
    ), None, "multiply lr by gamma every step_size steps"),
    Entry("exponential", lr_scheduler.ExponentialLR, "exponential decay", (
        _hp("gamma", 0.99, "float", 0.0, 1.0, low_open=True, label="γ",
            help="lr × gamma every step"),
    ), None, "multiply lr by gamma every step"),
    Entry("cosine", lr_scheduler.CosineAnnealingLR, "cosine annealing", (
        _hp("T_max", 100, "int", 1, None, label="T_max", suggested=(1, 10_000),
            help="steps from lr down to eta_min"),
        _hp("eta_min", 0.0, "float", 0.0, None, label="η_min", help="the lowest lr"),
    ), None, "lr follows half a cosine from its start down to eta_min over T_max steps"),
    Entry("linear", lr_scheduler.LinearLR, "linear warm-up", (
        _hp("start_factor", 1.0 / 3, "float", 0.0, 1.0, low_open=True, label="start factor"),
        _hp("end_factor", 1.0, "float", 0.0, 1.0, label="end factor"),
        _hp("total_iters", 5, "int", 0, None, label="steps", suggested=(0, 10_000)),
    ), None, "lr × a factor moving linearly from start_factor to end_factor"),
    Entry("onecycle", lr_scheduler.OneCycleLR, "one cycle", (
        _hp("max_lr", 0.1, "float", 0.0, None, low_open=True, log=True, label="max lr",
            suggested=(1e-5, 10.0)),
        _hp("total_steps", 100, "int", 1, None, label="total steps", suggested=(1, 10_000)),
        _hp("pct_start", 0.3, "float", 0.0, 1.0, label="warm-up fraction"),
        _hp("anneal_strategy", "cos", "choice", choices=("cos", "linear"), label="annealing"),
        _hp("cycle_momentum", False, "bool", label="cycle momentum",
            help="move momentum (or β₁) against the lr; needs an optimizer with one"),
        _hp("div_factor", 25.0, "float", 0.0, None, low_open=True, label="div factor"),
        _hp("final_div_factor", 1e4, "float", 0.0, None, low_open=True, log=True,
            label="final div factor"),
    ), None, "warm up to max_lr, then anneal far below the start (Smith's 1cycle)"),
    Entry("constant", lr_scheduler.ConstantLR, "constant warm-up", (
        _hp("factor", 1.0 / 3, "float", 0.0, 1.0, low_open=True, label="factor"),
        _hp("total_iters", 5, "int", 0, None, label="steps", suggested=(0, 10_000),
            help=f"lr × factor until this step ({_STEPS})"),
    ), None, "lr × factor for the first total_iters steps, then lr"),
    Entry("polynomial", lr_scheduler.PolynomialLR, "polynomial decay", (
        _hp("total_iters", 5, "int", 1, None, label="steps", suggested=(1, 10_000),
            help="steps from lr down to 0"),
        _hp("power", 1.0, "float", 0.0, None, label="power"),
    ), None, "lr × (1 − t/total_iters)^power, down to 0"),
    Entry("warm_restarts", lr_scheduler.CosineAnnealingWarmRestarts, "cosine warm restarts", (
        _hp("T_0", 50, "int", 1, None, label="T₀", suggested=(1, 10_000),
            help="steps of the first cosine run"),
        _hp("T_mult", 1, "int", 1, None, label="T_mult", suggested=(1, 4),
            help="each run is T_mult times longer than the last"),
        _hp("eta_min", 0.0, "float", 0.0, None, label="η_min", help="the lowest lr"),
    ), None, "cosine annealing that restarts at the full lr (SGDR)"),
    Entry("cyclic", lr_scheduler.CyclicLR, "cyclic", (
        _hp("base_lr", 1e-3, "float", 0.0, None, log=True, label="base lr",
            suggested=(1e-5, 10.0)),
        _hp("max_lr", 0.1, "float", 0.0, None, low_open=True, log=True, label="max lr",
            suggested=(1e-5, 10.0)),
        _hp("step_size_up", 2000, "int", 1, None, label="steps up", suggested=(1, 10_000)),
        _hp("mode", "triangular", "choice", choices=("triangular", "triangular2", "exp_range"),
            label="mode"),
        _hp("gamma", 1.0, "float", 0.0, 1.0, low_open=True, label="γ",
            help="exp_range: the amplitude × gamma^t"),
        _hp("cycle_momentum", False, "bool", label="cycle momentum",
            help="move momentum (or β₁) against the lr; needs an optimizer with one"),
    ), None, "lr goes up and down between base_lr and max_lr (Smith's cyclical rates)"),
    Entry("plateau", lr_scheduler.ReduceLROnPlateau, "reduce on plateau", (
        _hp("mode", "min", "choice", choices=("min", "max"), label="mode"),
        _hp("factor", 0.1, "float", 0.0, 1.0, low_open=True, high_open=True, label="factor"),
        _hp("patience", 10, "int", 0, None, label="patience", suggested=(0, 100)),
        _hp("threshold", 1e-4, "float", 0.0, None, label="threshold"),
        _hp("cooldown", 0, "int", 0, None, label="cooldown"),
        _hp("min_lr", 0.0, "float", 0.0, None, label="min lr"),
    ), None, "multiply lr by factor when the metric stops improving (step(metric))"),
)}

_TABLES = {"optimizer": OPTIMIZERS, "scheduler": SCHEDULERS}


def entry(kind: str, name: str) -> Entry:
    """The catalogue's entry for ``name`` of ``kind`` ('optimizer' or 'scheduler')."""
    if kind not in _TABLES:
        raise ValueError(f"kind must be 'optimizer' or 'scheduler', got {kind!r}")
    table = _TABLES[kind]
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; expected one of {', '.join(table)}")
    return table[name]


def takes(keyword: str, kind: str = "optimizer") -> list:
    """The names of ``kind`` whose entry lists ``keyword`` (``takes('momentum')``)."""
    return [name for name, e in _TABLES[kind].items() if keyword in e.names]


def count_parameters(params) -> int:
    """The scalar parameters in ``params``: tensors, or param-group dicts holding them."""
    total = 0
    for item in params:
        tensors = item["params"] if isinstance(item, dict) else [item]
        tensors = [tensors] if isinstance(tensors, Tensor) else tensors
        total += sum(int(np.size(t._data)) for t in tensors)
    return total


def validate(kind: str, name: str, values: dict, n_parameters: int | None = None) -> dict:
    """The keyword arguments for ``name``: ``values`` checked and completed with defaults.

    Raises ValueError naming the entry, the keyword, the value and what was expected. For an
    optimizer the class also checks the combination (built once over a dummy parameter),
    and, given the model's ``n_parameters``, that the entry is offered for a model that size.
    """
    spec = entry(kind, name)
    if n_parameters is not None:
        spec.check_size(n_parameters)
    unknown = [key for key in values if key not in spec.names]
    if unknown:
        raise ValueError(f"{name}: unknown {kind} setting {unknown[0]!r}; {name} takes "
                         f"{', '.join(spec.names) or 'no settings'}")
    checked = {hp.name: hp.check(values.get(hp.name, hp.default), name)
               for hp in spec.hyperparameters}
    if kind == "optimizer":
        spec.cls([Tensor(np.zeros(1), requires_grad=True)], **checked)
    return checked


def build_optimizer(name: str, params, **values) -> Optimizer:
    """The optimizer ``name`` over ``params``; unset keywords take the catalogue's defaults.

    ValueError if the model is larger than the entry's ``max_parameters``."""
    spec = entry("optimizer", name)
    params = list(params)
    return spec.cls(params, **validate("optimizer", name, values, count_parameters(params)))


def build_scheduler(name: str, optimizer: Optimizer, **values) -> lr_scheduler.LRScheduler:
    """The scheduler ``name`` driving ``optimizer``; unset keywords take the defaults."""
    spec = entry("scheduler", name)
    return spec.cls(optimizer, **validate("scheduler", name, values))


def python_code(kind: str, name: str, values: dict, target: str) -> str:
    """The line of Python that builds ``name`` with ``values`` over ``target``.

    ``target`` is the first argument as code (``"model.parameters()"``, ``"opt"``); keywords
    equal to the class's own default are left out, lr always shown, values written by repr:
    ``python_code('optimizer', 'momentum', {}, 'model.parameters()')`` ->
    ``"st.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)"``.
    """
    spec = entry(kind, name)
    checked = validate(kind, name, values)
    signature = inspect.signature(spec.cls).parameters
    parts = [target]
    for key, value in checked.items():
        class_default = signature[key].default
        same = class_default is not inspect.Parameter.empty and _same(value, class_default)
        if key == "lr" or not same:
            parts.append(f"{key}={value!r}")
    return f"{spec.qualname}({', '.join(parts)})"


def _same(value, class_default) -> bool:
    """Whether a checked value equals the class's default (True is not 1, (a, b) is [a, b])."""
    if isinstance(value, (bool, tuple)) or isinstance(class_default, (bool, tuple)):
        return type(value) is type(class_default) and value == class_default
    return value == class_default


def _hp_json(hp: Hyperparameter) -> dict:
    default = list(hp.default) if isinstance(hp.default, tuple) else hp.default
    return {"name": hp.name, "default": default, "kind": hp.kind, "low": hp.low,
            "high": hp.high, "low_open": hp.low_open, "high_open": hp.high_open,
            "log": hp.log, "choices": list(hp.choices), "suggested": list(hp.suggested),
            "label": hp.label or hp.name, "help": hp.help}


def to_json() -> dict:
    """The catalogue as plain JSON data (what the playground page builds its forms from)."""
    def table(entries: dict) -> dict:
        return {name: {"name": e.name, "label": e.label, "class": e.qualname,
                       "summary": e.summary, "default_lr": e.default_lr,
                       "max_parameters": e.max_parameters, "needs_matrices": e.needs_matrices,
                       "hyperparameters": [_hp_json(hp) for hp in e.hyperparameters]}
                for name, e in entries.items()}
    return {"optimizers": table(OPTIMIZERS), "schedulers": table(SCHEDULERS)}
