"""A compiled training step: trace the NumPy kernels of one step once, then replay them.

``step = st.compile(train_step)`` is used as ``torch.compile`` or tinygrad's ``TinyJit``::

    @st.compile
    def train_step(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

Call 1 runs eagerly (it finds the optimizers and lets them build their flat buffers). Calls 2
and 3 trace: the step runs eagerly with every array it makes wrapped in an ndarray subclass
whose ``__array_ufunc__`` / ``__array_function__`` (and array-making methods: ``astype``,
``copy``, fancy indexing, ``np.array``, ``np.zeros``, ...) append each kernel to a tape, and
every array made during the trace is kept as that kernel's output buffer (the optimizers'
parameters are wrapped too, so a penalty on the weights is recorded). The two tapes must
match (else the step's Python control flow depends on values: it runs eagerly, with a
warning saying where the tapes part). Call 4 replays the
tape once and checks it against the eager step bit for bit, from the same state (parameters,
optimizer state, random generator restored in between); if they differ the step stays eager,
with a warning saying so. Later calls copy their inputs into the input buffers and run the tape:
a flat list of NumPy calls with ``out=``, no graph nodes, closures or new arrays (the random
draws of dropout excepted: they are drawn afresh from steepest.random's generator, in eager
order, so compiled and eager give the same bits).

The optimizer's update is not traced: ``optimizer.step()`` is called at its place in the tape
(and so is a scheduler's ``step()`` inside the step). It already runs in place over flat
buffers with ``out=`` ufuncs, and calling it keeps every per-step scalar right (the learning
rate a scheduler set, Adam's bias corrections, step counts) and any change of
hyperparameters. The gradients it reads are the replayed buffers. With ``optimizers=`` named,
the step may leave the update to its caller (forward and backward compiled).

Tracing is per thread: one trace at a time patches NumPy's array constructors and the
``step`` methods, and other threads run eagerly through the patches, untouched.

Guards, checked every call: the arguments' types, shapes and dtypes (and the values of
non-array arguments), the optimizers' parameters (the same tensors, arrays and
``requires_grad``), the ``training`` flags of the modules the step can reach, and every value
the step read into Python during the trace (``bool(array)``, ``.item()``: checked again at
replay). A change of shapes, dtypes, parameters or flags re-traces (up to ``max_traces`` kinds
of call, then refuses); a read value that changes refuses, naming it.
"""

from __future__ import annotations

import copy
import functools
import threading
import warnings

import numpy as np

from steepest import random as _random
from steepest.nn.module import Module
from steepest.optim import lr_scheduler as _lr_scheduler
from steepest.optim.optimizer import Optimizer
from steepest.tensor import Tensor

__all__ = ["compile", "CompiledStep", "CompileError"]


class CompileError(RuntimeError):
    """A step that cannot be compiled safely (the message names the cause)."""


# ------------------------------------------------------------------------- the tracer
class _Tape:
    """The kernels of one traced step: ``(function, args, kwargs)`` with arrays as buffers."""

    def __init__(self):
        self.calls: list = []
        self.signature: list = []   # what two traces of the same step must share
        self.outs: dict = {}        # id -> plain array written in place (not made in the trace)
        self.paused = 0

    def add(self, function, args: tuple, kwargs: dict, label) -> None:
        self.calls.append((function, args, kwargs))
        self.signature.append((label, _describe(args), _describe(kwargs)))


class _Tracing(threading.local):
    """The tape of the step being traced on this thread (None: not tracing). Other threads
    run eagerly meanwhile, untouched by the patches (they see no tape)."""
    tape: _Tape | None = None


_TRACING = _Tracing()
_TRACE_LOCK = threading.RLock()  # one trace at a time patches NumPy and the step methods


def _tape():
    return _TRACING.tape


def _describe(value):
    """A comparable description: arrays by shape and dtype, scalars by value."""
    if isinstance(value, np.ndarray):
        return ("array", value.shape, value.dtype.str)
    if isinstance(value, (tuple, list)):
        return tuple(_describe(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _describe(v)) for k, v in value.items())
    if isinstance(value, slice):
        return ("slice", value.start, value.stop, value.step)
    if isinstance(value, (int, float, complex, bool, str, type(None), np.generic, np.dtype,
                          type(Ellipsis))):
        return value if not isinstance(value, float) or value == value else "nan"
    return getattr(value, "__name__", type(value).__name__)


def _plain(value):
    """``value`` with every traced array replaced by a plain ndarray view of its memory."""
    if isinstance(value, _Traced):
        return value.view(np.ndarray)
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _traced(value, fresh: bool = False):
    """A traced view of ``value``'s memory; ``fresh``: the array was made here (its ``base``
    then reads None, as the eager array's would: the engine copies views, not fresh arrays)."""
    if isinstance(value, np.ndarray) and not isinstance(value, _Traced):
        value = value.view(_Traced)
        if fresh:
            value._fresh = True
        return value
    if isinstance(value, np.generic):
        value = np.asarray(value).view(_Traced)
        value._fresh = True
        return value
    if isinstance(value, tuple):
        return tuple(_traced(v) for v in value)
    if isinstance(value, list):
        return [_traced(v) for v in value]
    return value


def _has_traced(value) -> bool:
    if isinstance(value, _Traced):
        return True
    if isinstance(value, (tuple, list)):
        return any(_has_traced(v) for v in value)
    if isinstance(value, dict):
        return any(_has_traced(v) for v in value.values())
    return False


def _as_outs(result) -> tuple:
    """A ufunc's results as the tuple of arrays its replay writes into (0-d arrays for
    scalars; the same objects on every call)."""
    return tuple(np.asarray(r) if isinstance(r, np.generic) else r
                 for r in (result if isinstance(result, tuple) else (result,)))


def _copy_into(out: np.ndarray, function, args: tuple, kwargs: dict) -> None:
    np.copyto(out, function(*args, **kwargs), casting="unsafe")


def _new_array(function, args, kwargs, result, label):
    """Record a call that returns a new array: replayed as a copy into that array."""
    if isinstance(result, np.generic):
        result = np.asarray(result)
    if not isinstance(result, np.ndarray):
        return result
    result = result.view(np.ndarray)
    _tape().add(_copy_into, (result, function, args, kwargs), {}, label)
    return _traced(result, fresh=True)


def _fill(out: np.ndarray, value) -> None:
    out.fill(value)


def _makes_view(result, args) -> bool:
    if not isinstance(result, np.ndarray):
        return False
    stack = list(args)
    while stack:
        arg = stack.pop()
        if isinstance(arg, np.ndarray):
            if np.may_share_memory(result, arg):
                return True
        elif isinstance(arg, (tuple, list)):
            stack.extend(arg)
    return False


class _Traced(np.ndarray):
    """An ndarray whose kernels are appended to the active tape (see the module docstring)."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        args, kw = _plain(inputs), _plain(kwargs)
        tape = _TRACING.tape
        if tape is None or tape.paused:
            return _traced(getattr(ufunc, method)(*args, **kw))
        if method == "at":
            ufunc.at(*args, **kw)
            tape.add(ufunc.at, args, kw, (ufunc.__name__, "at"))
            return None
        given = kw.get("out")
        if given is not None:
            given = given if isinstance(given, tuple) else (given,)
            original = kwargs["out"] if isinstance(kwargs["out"], tuple) else (kwargs["out"],)
            for out, was in zip(given, original):
                if out is not None and not isinstance(was, _Traced):
                    tape.outs.setdefault(id(out), out)  # a parameter, a buffer: snapshotted
        result = getattr(ufunc, method)(*args, **kw)
        outs = _as_outs(result)
        tape.add(ufunc if method == "__call__" else getattr(ufunc, method), args,
                 kw if given is not None else {**kw, "out": outs}, (ufunc.__name__, method))
        if given is not None:
            return kwargs["out"] if isinstance(result, tuple) or not isinstance(
                kwargs["out"], tuple) else kwargs["out"][0]
        if isinstance(result, tuple):
            return tuple(_traced(r, fresh=True) for r in outs)
        return _traced(outs[0], fresh=True)

    def __array_function__(self, func, types_, args, kwargs):
        tape = _TRACING.tape
        plain_args, plain_kwargs = _plain(args), _plain(kwargs)
        if tape is None or tape.paused:
            return _traced(func(*plain_args, **plain_kwargs))
        name = getattr(func, "__name__", str(func))
        if func is np.copyto:
            func(*plain_args, **plain_kwargs)
            tape.add(func, plain_args, plain_kwargs, name)
            return None
        if name in _FILLERS:
            result = func(*plain_args, **plain_kwargs)
            value = _FILLERS[name](plain_args, plain_kwargs)
            if value is not None:
                tape.add(_fill, (result, value), {}, name)
            return _traced(result, fresh=True)
        result = func(*plain_args, **plain_kwargs)
        if isinstance(result, tuple):  # split, nonzero...: each piece a view or a copy
            if all(_makes_view(r, plain_args) for r in result):
                return tuple(r.view(_Traced) for r in result)
            pieces = []
            for i, piece in enumerate(result):
                pieces.append(_new_array(_item_of, (func, i, plain_args, plain_kwargs), {},
                                         piece, (name, i)))
            return tuple(pieces)
        if _makes_view(result, plain_args):
            return _traced(result)
        if "out" in plain_kwargs and plain_kwargs["out"] is not None:
            tape.add(func, plain_args, plain_kwargs, name)
            return _traced(result)
        return _new_array(func, plain_args, plain_kwargs, result, name)

    @property
    def base(self):
        return None if self.__dict__.get("_fresh") else np.ndarray.base.__get__(self)

    # ---- array-making methods that bypass the two protocols
    def _method(self, name, *args, **kwargs):
        base = self.view(np.ndarray)
        result = getattr(base, name)(*_plain(args), **_plain(kwargs))
        tape = _TRACING.tape
        if tape is None or tape.paused or _makes_view(result, (base,)):
            return _traced(result)
        return _new_array(getattr(np.ndarray, name), (base, *_plain(args)), _plain(kwargs),
                          result, name)

    def astype(self, *args, **kwargs):
        return self._method("astype", *args, **kwargs)

    def copy(self, *args, **kwargs):
        return self._method("copy", *args, **kwargs)

    def reshape(self, *args, **kwargs):
        return self._method("reshape", *args, **kwargs)

    def ravel(self, *args, **kwargs):
        return self._method("ravel", *args, **kwargs)

    def flatten(self, *args, **kwargs):
        return self._method("flatten", *args, **kwargs)

    def __getitem__(self, index):
        return self._method("__getitem__", index)

    def __setitem__(self, index, value):
        base = self.view(np.ndarray)
        index, value = _plain(index), _plain(value)
        base[index] = value
        tape = _TRACING.tape
        if tape is not None and not tape.paused:
            tape.add(np.ndarray.__setitem__, (base, index, value), {}, "setitem")

    def fill(self, value):
        self.__setitem__(Ellipsis, value)

    # ---- values read into Python: guards checked at replay
    def _read(self, kind, value):
        tape = _TRACING.tape
        if tape is not None and not tape.paused:
            tape.add(_guard, (self.view(np.ndarray), kind, value), {},
                      ("read", kind, _describe(value)))
        return value

    def __bool__(self):
        return self._read("bool", bool(self.view(np.ndarray)))

    def __float__(self):
        return self._read("float", float(self.view(np.ndarray)))

    def __int__(self):
        return self._read("int", int(self.view(np.ndarray)))

    def item(self, *args):
        return self._read("item", self.view(np.ndarray).item(*args))

    def tolist(self):
        return self._read("tolist", self.view(np.ndarray).tolist())


def _item_of(function, i, args, kwargs):
    return function(*args, **kwargs)[i]


def _like_value(args, kwargs, position, key, default):
    if key in kwargs:
        return kwargs[key]
    return args[position] if len(args) > position else default


_FILLERS = {
    "zeros_like": lambda a, k: 0,
    "ones_like": lambda a, k: 1,
    "empty_like": lambda a, k: None,
    "full_like": lambda a, k: _like_value(a, k, 1, "fill_value", None),
}


# NumPy functions that make arrays from a traced one (or from nothing) without dispatching:
# replaced while a trace runs, so their arrays join the tape.
def _patched_array(original):
    @functools.wraps(original)
    def array(obj, *args, **kwargs):
        tape = _TRACING.tape
        if tape is None or tape.paused or not _has_traced(obj):
            return original(obj, *args, **kwargs)
        plain = _plain(obj)
        result = original(plain, *args, **kwargs)
        if isinstance(plain, np.ndarray) and _makes_view(result, (plain,)):
            return _traced(result)
        return _new_array(original, (plain, *args), kwargs, result, original.__name__)
    return array


def _patched_creator(original, value_of):
    @functools.wraps(original)
    def create(*args, **kwargs):
        result = original(*args, **kwargs)
        tape = _TRACING.tape
        if tape is None or tape.paused:
            return result
        value = value_of(args, kwargs)
        if value is not None:
            tape.add(_fill, (result, value), {}, original.__name__)
        return _traced(result, fresh=True)
    return create


_PATCHES = {
    "array": _patched_array,
    "asarray": _patched_array,
    "asanyarray": _patched_array,
    "ascontiguousarray": _patched_array,
    "zeros": lambda f: _patched_creator(f, lambda a, k: 0),
    "ones": lambda f: _patched_creator(f, lambda a, k: 1),
    "empty": lambda f: _patched_creator(f, lambda a, k: None),
    "full": lambda f: _patched_creator(f, lambda a, k: _like_value(a, k, 1, "fill_value", None)),
}


def _draw(out: np.ndarray, engine, n: int) -> None:
    out[...] = engine.random_raw(n)


def _random_hook(engine, n: int):
    """steepest.random's raw draws during a trace: recorded, drawn afresh at replay."""
    values = engine.random_raw(n).astype(np.uint64)
    tape = _TRACING.tape
    if tape is None or tape.paused:
        return values
    tape.add(_draw, (values, engine, n), {}, ("draw", n))
    return _traced(values, fresh=True)


# ------------------------------------------------------------------------- the compiled step
def _call_step(optimizer, bindings, original_step):
    for param, grad in bindings:
        param._grad, param._grad_tensor = grad, None
    original_step(optimizer)


def _call_scheduler(scheduler, args, kwargs, original_step):
    original_step(scheduler, *args, **kwargs)


def _step_classes(root=Optimizer):
    classes, stack = [], [root]
    while stack:
        cls = stack.pop()
        if "step" in cls.__dict__:
            classes.append(cls)
        stack.extend(cls.__subclasses__())
    return classes


class CompiledStep:
    """A training step that is traced once and replayed (see the module docstring).

    ``fn``: the step, a function of tensors / arrays (and hashable constants) that runs
    forward, backward and ``optimizer.step()``. ``models``: modules whose ``train()``/``eval()``
    mode the step depends on (modules reachable from ``fn``'s closure and globals are found
    by themselves). ``max_traces``: how many kinds of call (shapes, dtypes, modes) may be
    traced before a new kind is refused. ``verify``: check the first replay against the eager
    step bit for bit (the safety net that catches anything the tracer missed).
    ``optimizers``: the optimizers whose parameters the step trains, named instead of found
    by the first (eager) call; then the step need not call their ``step()`` itself.
    """

    def __init__(self, fn, models=(), max_traces: int = 8, verify: bool = True,
                 optimizers=None):
        if not callable(fn):
            raise TypeError(f"compile: expected a callable training step, got "
                            f"{type(fn).__name__}")
        self.fn = fn
        self.max_traces = max_traces
        self.verify = verify
        self.models = [models] if isinstance(models, Module) else list(models)
        self._entries: dict = {}      # key -> _Entry
        self._submodules = None
        self.optimizers: list = [] if optimizers is None else (
            [optimizers] if isinstance(optimizers, Optimizer) else list(optimizers))
        self._explicit = optimizers is not None
        self.eager_reason: str | None = None  # why the step runs eagerly (None: compiled)
        self.traces = 0
        functools.update_wrapper(self, fn)

    # ---- what a call's tape depends on
    def _modules(self) -> list:
        found = list(self.models)
        fn = self.fn
        cells = [c.cell_contents for c in (getattr(fn, "__closure__", None) or ())
                 if _cell_filled(c)]
        names = getattr(getattr(fn, "__code__", None), "co_names", ())
        glob = getattr(fn, "__globals__", {})
        cells += [glob[n] for n in names if n in glob]
        cells.append(getattr(fn, "__self__", None))
        for value in cells:
            if isinstance(value, Module) and all(value is not m for m in found):
                found.append(value)
        return found

    def _key(self, args, kwargs):
        parts = []
        for value in list(args) + [kwargs[k] for k in sorted(kwargs)]:
            if isinstance(value, Tensor):
                if value.requires_grad:
                    return None
                parts.append(("T", value.shape, value.dtype.str))
            elif isinstance(value, np.ndarray):
                parts.append(("A", value.shape, value.dtype.str))
            else:
                try:
                    hash(value)
                except TypeError:
                    raise CompileError(f"compile: argument {value!r} of type "
                                       f"{type(value).__name__} is neither a tensor, an array "
                                       f"nor a hashable constant") from None
                parts.append(("V", type(value).__name__, value))
        if self._submodules is None:  # found once: the modules the step can reach
            self._submodules = [m for model in self._modules() for m in model.modules()]
        modes = tuple([m.training for m in self._submodules])
        return tuple(sorted(kwargs)), tuple(parts), modes

    def _params_now(self) -> tuple:
        return tuple((p, p._data, p.requires_grad) for opt in self.optimizers
                     for group in opt.param_groups for p in group["params"])

    # ---- calls
    def __call__(self, *args, **kwargs):
        if self.eager_reason is not None:
            return self.fn(*args, **kwargs)
        if not self._explicit and not self.optimizers and not self._entries:
            return self._discover(args, kwargs)
        key = self._key(args, kwargs)
        if key is None:
            self.eager_reason = ("an argument is a tensor that requires grad: the replay would "
                                 "not fill its .grad")
            warnings.warn(f"compile: the step runs eagerly: {self.eager_reason}",
                          RuntimeWarning, stacklevel=2)
            return self.fn(*args, **kwargs)
        entry = self._entries.get(key)
        if entry is not None and not entry.params_hold(self._params_now()):
            entry = None     # new parameters or rebound arrays: trace again
            del self._entries[key]
        if entry is None:
            if len(self._entries) >= self.max_traces:
                raise CompileError(
                    f"compile: {self.max_traces} kinds of call traced already (shapes, dtypes, "
                    f"train/eval modes or parameters keep changing); this one has key {key}. "
                    f"Pass max_traces= or use the eager step")
            entry = self._entries[key] = _Entry(self)
        return entry.call(args, kwargs)

    def _discover(self, args, kwargs):
        """The first call: eager, noting which optimizers step."""
        with _TRACE_LOCK:
            return self._discover_locked(args, kwargs)

    def _discover_locked(self, args, kwargs):
        seen = []
        me = threading.get_ident()
        originals = {cls: cls.__dict__["step"] for cls in _step_classes()}

        def spy(original):
            def step(opt, *a, **k):
                if threading.get_ident() == me and all(opt is not s for s in seen):
                    seen.append(opt)
                return original(opt, *a, **k)
            return step
        try:
            for cls, original in originals.items():
                cls.step = spy(original)
            result = self.fn(*args, **kwargs)
        finally:
            for cls, original in originals.items():
                cls.step = original
        self.optimizers = seen
        if not seen:
            self.eager_reason = ("the step calls no optimizer's step(); nothing to compile "
                                 "(compile a function that runs forward, backward and "
                                 "optimizer.step())")
        return result


def _cell_filled(cell) -> bool:
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


class _Entry:
    """One kind of call: its traces, then its tape."""

    def __init__(self, owner: CompiledStep):
        self.owner = owner
        self.tapes: list = []
        self.tape: _Tape | None = None
        self.inputs: list = []      # (argument position or name, buffer)
        self._output = None         # the step's result, its arrays the output buffers
        self.params = owner._params_now()
        self.final_bindings: list = []
        self.verified = not owner.verify

    def params_hold(self, now: tuple) -> bool:
        if len(now) != len(self.params):
            return False
        return all(a[0] is b[0] and a[1] is b[1] and a[2] == b[2]
                   for a, b in zip(now, self.params))

    def call(self, args, kwargs):
        if self.tape is None:
            return self._trace(args, kwargs)
        if not self.verified:
            return self._verify(args, kwargs)
        return self._replay(args, kwargs)

    # ---- tracing
    def _trace(self, args, kwargs):
        with _TRACE_LOCK:  # the originals below are the unpatched ones
            return self._trace_locked(args, kwargs)

    def _trace_locked(self, args, kwargs):
        owner = self.owner
        tape = _Tape()
        t_args = [_trace_input(v) for v in args]
        t_kwargs = {k: _trace_input(v) for k, v in kwargs.items()}
        step_originals = {cls: cls.__dict__["step"] for cls in _step_classes()}
        scheduler_originals = {cls: cls.__dict__["step"]
                               for cls in _step_classes(_lr_scheduler.LRScheduler)}
        np_originals = {name: getattr(np, name) for name in _PATCHES}
        depth = [0]
        optimizers = owner.optimizers

        def traced_step(original):
            def step(opt, *a, **k):
                if _TRACING.tape is not tape:  # another thread, running eagerly
                    return original(opt, *a, **k)
                if depth[0] or all(opt is not o for o in optimizers):
                    if depth[0] == 0:
                        raise CompileError(
                            f"compile: the step calls {type(opt).__name__}.step() of an "
                            f"optimizer that its first call did not use; the step's Python "
                            f"control flow changed")
                    return original(opt, *a, **k)
                if a or k.get("closure") is not None:
                    raise CompileError(f"compile: {type(opt).__name__}.step(closure) "
                                       f"re-evaluates the model inside the step; "
                                       f"closure-based optimizers are not compiled")
                unwrap()
                bindings = []
                for group in opt.param_groups:
                    for p in group["params"]:
                        if p._grad is not None:
                            p._grad = _plain(p._grad)
                        bindings.append((p, p._grad))
                tape.paused += 1
                depth[0] += 1
                try:
                    original(opt)
                finally:
                    depth[0] -= 1
                    tape.paused -= 1
                own = next(step_originals[c] for c in type(opt).__mro__ if c in step_originals)
                tape.add(_call_step, (opt, tuple(bindings), own), {},
                         ("step", type(opt).__name__))
                wrap()
            return step

        params = [p for opt in optimizers for group in opt.param_groups
                  for p in group["params"]]

        def wrap():  # parameters read in the step are traced too (a penalty on the weights)
            for p in params:
                if not isinstance(p._data, _Traced):
                    p._data = p._data.view(_Traced)

        def unwrap():  # the optimizers see their own arrays (flat buffers, views)
            for p in params:
                if isinstance(p._data, _Traced):
                    p._data = p._data.base

        def traced_scheduler(original):
            def step(scheduler, *a, **k):
                if depth[0] or _TRACING.tape is not tape:
                    return original(scheduler, *a, **k)
                if _has_traced(a) or _has_traced(k) or any(
                        isinstance(v, Tensor) for v in list(a) + list(k.values())):
                    raise CompileError(
                        f"compile: {type(scheduler).__name__}.step() gets a value computed "
                        f"in the step (a metric); step the scheduler outside the compiled "
                        f"step, with the returned loss")
                tape.paused += 1
                depth[0] += 1
                try:
                    original(scheduler, *a, **k)
                finally:
                    depth[0] -= 1
                    tape.paused -= 1
                own = next(scheduler_originals[c] for c in type(scheduler).__mro__
                           if c in scheduler_originals)
                tape.add(_call_scheduler, (scheduler, a, k, own), {},
                         ("scheduler", type(scheduler).__name__))
            return step
        _TRACING.tape = tape
        try:
            for cls, original in scheduler_originals.items():
                cls.step = traced_scheduler(original)
            for cls, original in step_originals.items():
                cls.step = traced_step(original)
            for name, patch in _PATCHES.items():
                setattr(np, name, patch(np_originals[name]))
            _random.Generator._raw_hook = staticmethod(_random_hook)
            wrap()
            result = owner.fn(*t_args, **t_kwargs)
        finally:
            unwrap()
            _TRACING.tape = None
            for cls, original in step_originals.items():
                cls.step = original
            for cls, original in scheduler_originals.items():
                cls.step = original
            for name, original in np_originals.items():
                setattr(np, name, original)
            _random.Generator._raw_hook = None
        for opt in optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    if isinstance(p._grad, _Traced):
                        p._grad, p._grad_tensor = p._grad.view(np.ndarray), None
        self.final_bindings = [(p, p._grad) for opt in optimizers for group in opt.param_groups
                               for p in group["params"]]
        self.tapes.append(tape)
        owner.traces += 1
        self.inputs = [(key, value._data if isinstance(value, Tensor) else value)
                       for key, value in list(enumerate(t_args)) + list(t_kwargs.items())
                       if isinstance(value, (Tensor, np.ndarray))]
        self._output = _detach_output(result, copy=False)
        if len(self.tapes) == 2:
            self._settle()
        return _detach_output(self._output, copy=True)

    def _settle(self):
        first, second = self.tapes
        if first.signature != second.signature:
            at = next((i for i, (a, b) in enumerate(zip(first.signature, second.signature))
                       if a != b), min(len(first.signature), len(second.signature)))
            one = first.signature[at] if at < len(first.signature) else "the end"
            two = second.signature[at] if at < len(second.signature) else "the end"
            self.owner.eager_reason = (
                f"two traces of the step differ at kernel {at} ({one} vs {two}): its Python "
                f"control flow or its scalars depend on the values of its arrays")
            warnings.warn(f"compile: the step runs eagerly: {self.owner.eager_reason}",
                          RuntimeWarning, stacklevel=4)
            return
        self.tape = second
        self.tapes = []  # the first trace's buffers go
        self.calls = tuple(second.calls)
        self.input_buffers = [(key, buf.view(np.ndarray)) for key, buf in self.inputs]

    # ---- replay
    def _feed(self, args, kwargs):
        for key, buf in self.input_buffers:
            value = args[key] if isinstance(key, int) else kwargs[key]
            np.copyto(buf, value._data if isinstance(value, Tensor) else value)

    def _replay(self, args, kwargs):
        self._feed(args, kwargs)
        for function, a, k in self.calls:
            function(*a, **k)
        for param, grad in self.final_bindings:
            if param._grad is not grad:
                param._grad, param._grad_tensor = grad, None
        return _detach_output(self._output, copy=True)

    def _verify(self, args, kwargs):
        """The first replay, checked bit for bit against the eager step from the same state."""
        owner = self.owner
        modules = owner._modules()
        saved = _Snapshot(owner.optimizers, self.tape, modules)
        replayed = self._replay(args, kwargs)
        after_replay = _Snapshot(owner.optimizers, self.tape, modules)
        saved.restore()
        eager = owner.fn(*args, **kwargs)
        after_eager = _Snapshot(owner.optimizers, self.tape, modules)
        problem = after_replay.differs(after_eager) or _outputs_differ(replayed, eager)
        if problem:
            owner.eager_reason = (f"the replayed step differs from the eager one ({problem}): "
                                  f"an array left the trace")
            warnings.warn(f"compile: the step runs eagerly: {owner.eager_reason}",
                          RuntimeWarning, stacklevel=3)
        else:
            for param, grad in self.final_bindings:
                param._grad, param._grad_tensor = grad, None
            self.verified = True
        return eager


def _guard(buf: np.ndarray, kind: str, value) -> None:
    """A value the traced step read into Python (a branch, a check): it must not change."""
    now = _read_now(buf, kind)
    if now != value and not (now != now and value != value):
        raise CompileError(
            f"compile: the step read a value into Python during its trace ({kind}() of an "
            f"array of shape {buf.shape}: {value!r}) and it is {now!r} now; a compiled step "
            f"cannot branch on its arrays' values (a check that passed at trace time fails "
            f"now, or the step's control flow depends on its data). Run this step eagerly")


def _read_now(buf, kind):
    if kind == "bool":
        return bool(buf)
    if kind == "float":
        return float(buf)
    if kind == "int":
        return int(buf)
    if kind == "tolist":
        return buf.tolist()
    return buf.item()


def _trace_input(value):
    if isinstance(value, Tensor):
        t = Tensor._wrap(np.array(value._data).view(_Traced))
        t.requires_grad = value.requires_grad
        return t
    if isinstance(value, np.ndarray):
        return np.array(value).view(_Traced)
    return value


def _detach_output(value, copy: bool):
    """The step's result with its arrays as plain arrays (copied at replay)."""
    if isinstance(value, Tensor):
        data = value._data
        data = data.view(np.ndarray) if isinstance(data, _Traced) else data
        out = Tensor._wrap(data.copy() if copy else data)
        return out
    if isinstance(value, np.ndarray):
        data = value.view(np.ndarray)
        return data.copy() if copy else data
    if isinstance(value, tuple):
        return tuple(_detach_output(v, copy) for v in value)
    if isinstance(value, list):
        return [_detach_output(v, copy) for v in value]
    if isinstance(value, dict):
        return {k: _detach_output(v, copy) for k, v in value.items()}
    return value


def _outputs_differ(a, b) -> str:
    if isinstance(a, Tensor):
        a = a._data
    if isinstance(b, Tensor):
        b = b._data
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype or a.tobytes() != b.tobytes():
            return "the step's outputs"
        return ""
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        if len(a) != len(b):
            return "the step's outputs"
        return next((p for p in (_outputs_differ(x, y) for x, y in zip(a, b)) if p), "")
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            return "the step's outputs"
        return next((p for p in (_outputs_differ(a[k], b[k]) for k in a) if p), "")
    same = (a == b) or (a != a and b != b)
    return "" if same else "the step's outputs"


class _Snapshot:
    """Parameters, optimizer state, random generators and arrays written in place: copied,
    restorable, comparable bit for bit."""

    def __init__(self, optimizers, tape: _Tape, modules=()):
        arrays, plain, self.grads = {}, [], []
        for module in modules:
            for t in list(module.parameters()) + list(module.buffers()):
                arrays.setdefault(id(t._data), t._data)
        for opt in optimizers:
            for group in opt.param_groups:
                for p in group["params"]:
                    arrays.setdefault(id(p._data), p._data)
                    self.grads.append(None if p._grad is None else p._grad.copy())
            dicts = list(opt.state.values()) + [b.state for b in opt._buckets.values()]
            for d in dicts:
                for key, value in d.items():
                    if isinstance(value, np.ndarray):
                        arrays.setdefault(id(value), value)
                    else:
                        plain.append((d, key, value))
            plain.append((opt.__dict__, "_step_count", opt._step_count))
            for group in opt.param_groups:
                plain.extend((group, key, value) for key, value in group.items()
                             if key != "params")
        for out in tape.outs.values():
            arrays.setdefault(id(out), out)
        self.arrays = [(a, a.copy()) for a in arrays.values()]
        self.plain = plain
        self.schedulers = [(c[1][0], {k: copy.deepcopy(v) for k, v in vars(c[1][0]).items()
                                      if k != "optimizer"})
                           for c in tape.calls if c[0] is _call_scheduler]
        engines = {id(c[1][1]): c[1][1] for c in tape.calls if c[0] is _draw}
        engines[id(_random.default_generator._engine)] = _random.default_generator._engine
        self.engines = [(e, e.state) for e in engines.values()]
        self.normal = _random.default_generator._next_normal

    def restore(self):
        for array, saved in self.arrays:
            np.copyto(array, saved)
        for d, key, value in self.plain:
            d[key] = value
        for engine, state in self.engines:
            engine.state = state
        for scheduler, saved in self.schedulers:
            vars(scheduler).update(copy.deepcopy(saved))
        _random.default_generator._next_normal = self.normal

    def differs(self, other: "_Snapshot") -> str:
        for (a, x), (b, y) in zip(self.arrays, other.arrays):
            if x.shape != y.shape or x.tobytes() != y.tobytes():
                return f"an array of shape {x.shape} (parameter, state or buffer)"
        for x, y in zip(self.grads, other.grads):
            if (x is None) != (y is None) or (x is not None and x.tobytes() != y.tobytes()):
                return "a parameter's gradient"
        for (_, key, x), (_, _, y) in zip(self.plain, other.plain):
            if not (x is y or x == y):
                return f"optimizer state or hyperparameter {key!r}"
        for (_, x), (_, y) in zip(self.engines, other.engines):
            if str(x) != str(y):
                return "the random generator's position"
        return ""


def compile(fn=None, *, models=(), optimizers=None, max_traces: int = 8, verify: bool = True):
    """Compile a training step: ``step = st.compile(train_step)`` or ``@st.compile``.

    See :class:`CompiledStep`. The step runs forward, backward and ``optimizer.step()`` (or,
    with ``optimizers=`` named, forward and backward only, the update left to the caller);
    calls replay the traced kernels (bit-identical to the eager step), re-trace on new shapes,
    dtypes, parameters or train/eval modes, and fall back to the eager step (with a warning
    naming the cause) where a replay would not be safe.
    """
    if fn is None:
        return functools.partial(compile, models=models, optimizers=optimizers,
                                 max_traces=max_traces, verify=verify)
    return CompiledStep(fn, models=models, optimizers=optimizers, max_traces=max_traces,
                        verify=verify)
