"""The Optimizer base class: parameter groups, per-parameter state, zero_grad and state_dict.

Subclasses implement ``_update(param, grad, state, group)`` for one parameter; the base class
handles what every optimizer shares, with torch.optim's conventions:

* ``param_groups`` is a list of dicts, each with ``'params'`` and its own hyperparameters
  (missing ones come from the optimizer's defaults);
* parameters whose ``grad`` is None are skipped; every other one is stepped, as torch steps
  it, even with ``requires_grad=False`` (a frozen parameter that kept a zeroed ``.grad`` after
  ``zero_grad(set_to_none=False)`` still moves under momentum, in torch and here);
* ``state_dict()`` / ``load_state_dict()`` round-trip everything a resumed run needs, so it
  continues exactly as the uninterrupted one would.

Updates are in place: ``param.data`` and the state buffers (made once by ``_init_state``) are
written with ufuncs' ``out=``, and temporaries live in shared scratch arrays, so a step
allocates nothing. ``_blocks`` runs an update over cache-sized blocks of large parameters.
The subclasses reproduce torch.optim's single-tensor (CPU default) code operation by
operation, in the same order, so float64 trajectories agree with torch's to ~1e-12 (torch's
CPU kernels fuse some multiply-adds, the only source of last-bit differences).

Flat storage (``flat_storage = True``, the default): the parameters of one group and one dtype
that take part in a step live as views into one contiguous buffer (each ``param.data`` is
rebound to its view when the optimizer first steps them together), and so does their state,
so an update is one pass per operation over the whole group (torch's "foreach"/"fused" idea)
instead of one per parameter. Each step copies the gradients into a flat gradient buffer, or
(a bucket larger than one cache block) reads each block straight from the parameters'
``.grad`` (``grad_in_blocks``); ``.grad`` itself is left alone. Elementwise arithmetic gives
the same bits wherever an element
sits in an array, so both paths give bit-identical results. The optimizer falls back to the
per-parameter path, for that step, whenever the flat view does not hold: a parameter rebound
with ``param.data = ...`` (it is copied into a fresh buffer), a changed set of parameters with a
gradient (a parameter whose gradient is None sits out; a set that stays for a second step
gets its own buffer), state loaded or edited by hand (gathered back into flat buffers at the
next step), or parameters whose step counts differ. ``flat_storage = False`` on the class, when
the optimizer is made, keeps every parameter's own array. Hold ``param`` rather than an old
``param.data`` array: after the first step the array is a view into the flat buffer.
"""

from __future__ import annotations

import bisect
import copy
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from steepest.tensor import Tensor, bump_versions, enable_grad

__all__ = ["Optimizer", "check_hyperparameter"]


def check_hyperparameter(optimizer: str, name: str, value, valid: bool, expected: str) -> None:
    """Raise ValueError naming the optimizer, the argument, its value and what was expected."""
    if not valid:
        raise ValueError(f"{optimizer}: invalid {name} {value!r}; expected {expected}")


def _is_number(value) -> bool:
    return (isinstance(value, (int, float, np.integer, np.floating))
            and not isinstance(value, bool) and math.isfinite(value))


def _is_bool(value) -> bool:
    return isinstance(value, (bool, np.bool_))


def _check_betas(name: str, group: dict, keys: tuple = ("eps", "weight_decay"),
                 betas_key: str = "betas") -> None:
    """Validate ``group[betas_key]`` (a pair in [0, 1)) and the given keys (numbers >= 0)."""
    betas = group[betas_key]
    check_hyperparameter(name, betas_key, betas,
                         isinstance(betas, (tuple, list)) and len(betas) == 2,
                         "a pair (beta1, beta2)")
    for i, beta in enumerate(betas):
        check_hyperparameter(name, f"{betas_key}[{i}] (beta{i + 1})", beta,
                             _is_number(beta) and 0 <= beta < 1, "a number in [0, 1)")
    _check_non_negative(name, group, keys)


def _check_non_negative(name: str, group: dict, keys: tuple) -> None:
    """Validate that the given keys are numbers >= 0."""
    for key in keys:
        value = group[key]
        check_hyperparameter(name, key, value, _is_number(value) and value >= 0,
                             "a number >= 0")


def _check_flags(name: str, group: dict, keys: tuple) -> None:
    """Validate that the given keys are booleans."""
    for key in keys:
        check_hyperparameter(name, key, group[key], _is_bool(group[key]), "True or False")


def _update_moments(exp_avg: np.ndarray, exp_avg_sq: np.ndarray, g: np.ndarray, beta1: float,
                    beta2: float, work: np.ndarray) -> None:
    """Adam's two running moments in place, as torch computes them:
    m ← m + (1 − β₁)(g − m) and v ← β₂v + ((1 − β₂)g)·g (``work`` is scratch)."""
    _lerp_(exp_avg, g, 1 - beta1, work)
    np.multiply(exp_avg_sq, beta2, out=exp_avg_sq)
    np.multiply(g, 1 - beta2, out=work)
    np.multiply(work, g, out=work)
    np.add(exp_avg_sq, work, out=exp_avg_sq)


def _lerp_(start: np.ndarray, end: np.ndarray, weight: float, work: np.ndarray) -> None:
    """start ← start + weight·(end − start) in place, with torch.lerp's two formulas.

    torch uses ``start + w·(end − start)`` for |w| < 0.5 and ``end − (1 − w)·(end − start)``
    otherwise (each is the more accurate one on its side); ``work`` is a scratch buffer.
    """
    np.subtract(end, start, out=work)
    if abs(weight) < 0.5:
        np.multiply(work, weight, out=work)
        np.add(start, work, out=start)
    else:
        np.multiply(work, weight - 1.0, out=work)
        np.add(end, work, out=start)


class _FlatBucket:
    """Parameters of one group and one dtype, stored as views into contiguous buffers.

    ``data`` holds the parameters (each ``param.data`` is rebound to its view), ``grad`` the
    gradients of a step, ``state`` the optimizer state as one flat array per key (plus the
    values shared by all, such as ``step``); each parameter's own state dict holds views into
    those arrays, so the per-parameter path and ``state_dict()`` see the same numbers.
    """

    def __init__(self, params: list):
        self.params = list(params)
        self.shapes = [param._data.shape for param in self.params]
        bounds = np.cumsum([0] + [param._data.size for param in self.params]).tolist()
        self.slices = [slice(lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]
        dtype = self.params[0]._data.dtype
        self.data = np.empty(bounds[-1], dtype=dtype)
        self.grad = np.empty(bounds[-1], dtype=dtype)
        self.data_views = self._views(self.data)
        for param, view in zip(self.params, self.data_views):
            view[...] = param._data
            param._data = view
        self.state: dict = {}
        self.state_views: dict = {}    # key -> each parameter's view into state[key]
        self.param_states: list = []   # each parameter's state dict, as gathered
        self.view_checks: list = []    # (state dict, key, view) that must still hold
        self.plain_keys: list = []     # keys of the values shared by all (step counts)

    def _views(self, flat: np.ndarray) -> list:
        return [flat[part].reshape(shape) for part, shape in zip(self.slices, self.shapes)]

    def same_params(self, params: list) -> bool:
        """Whether these are the bucket's parameters, in order."""
        if len(params) != len(self.params):
            return False
        for param, mine in zip(params, self.params):
            if param is not mine:
                return False
        return True

    def holds_data(self) -> bool:
        """Whether every parameter's ``.data`` is still its view (not rebound)."""
        for param, view in zip(self.params, self.data_views):
            if param._data is not view:
                return False
        return True

    def state_in_sync(self, states: dict) -> bool:
        """Whether every parameter's state is still the gathered one: the same dict, holding
        our views and the shared values (a per-parameter step, a load or an edit breaks this)."""
        if not self.param_states:
            return False
        size = len(self.state)
        for param, mine in zip(self.params, self.param_states):
            if states.get(param) is not mine or len(mine) != size:
                return False
        for mine, key, view in self.view_checks:
            if mine.get(key) is not view:
                return False
        for key in self.plain_keys:
            value = self.state[key]
            for mine in self.param_states:
                if not _same_value(mine.get(key, _MISSING), value):
                    return False
        return True

    def gather_state(self, states: dict) -> bool:
        """Copy the parameters' states into flat buffers and point each state at its views.

        Returns False (and changes nothing) unless all states have the same keys, the same
        non-array values (step counts) and arrays of their parameter's shape and dtype.
        """
        param_states = [states[param] for param in self.params]
        first = param_states[0]
        dtype = self.data.dtype
        for param, state in zip(self.params, param_states):
            if state.keys() != first.keys():
                return False
            for key, value in state.items():
                if isinstance(value, np.ndarray):
                    if value.shape != param._data.shape or value.dtype != dtype:
                        return False
                elif isinstance(first[key], np.ndarray) or not _same_value(value, first[key]):
                    return False
        self.state, self.state_views = {}, {}
        for key, value in first.items():
            if isinstance(value, np.ndarray):
                flat = np.empty_like(self.data)
                views = self._views(flat)
                for state, view in zip(param_states, views):
                    view[...] = state[key]
                    state[key] = view
                self.state[key], self.state_views[key] = flat, views
            else:
                self.state[key] = value
        self.param_states = param_states
        self._index_state()
        return True

    def _index_state(self) -> None:
        self.view_checks = [(state, key, view) for key, views in self.state_views.items()
                            for state, view in zip(self.param_states, views)]
        self.plain_keys = [key for key in self.state if key not in self.state_views]

    def scatter_state(self) -> None:
        """After a flat update: share new values (the step count) and new buffers (e.g. a
        momentum buffer made at the first step) with every parameter's state."""
        if len(self.state) != len(self.state_views) + len(self.plain_keys):
            for key, value in self.state.items():   # a key new in this step
                if key not in self.state_views and isinstance(value, np.ndarray):
                    views = self.state_views[key] = self._views(value)
                    for state, view in zip(self.param_states, views):
                        state[key] = view
            self._index_state()
        for key in self.plain_keys:
            value = self.state[key]
            for state in self.param_states:
                state[key] = value


_MISSING = object()


class _NewState(Exception):
    """A threaded chunk of an update tried to make a state array (it would be chunk-sized)."""


class _ChunkState(dict):
    """One thread's share of a flat bucket's state: views of its arrays and copies of its
    plain values; a new array (a first step's momentum buffer) is refused, so that the step
    runs on one thread instead."""

    def __setitem__(self, key, value):
        if key not in self and isinstance(value, np.ndarray):
            raise _NewState(key)
        super().__setitem__(key, value)


_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _thread_pool(threads: int) -> ThreadPoolExecutor:
    """The optimizers' worker threads (made once, grown when more are asked for)."""
    global _POOL
    with _POOL_LOCK:
        if _POOL is None or _POOL._max_workers < threads:
            _POOL = ThreadPoolExecutor(max_workers=threads,
                                       thread_name_prefix="steepest-optim")
        return _POOL


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class _BlockGather:
    """The gradients of a flat bucket, handed out block by block: a block inside one
    parameter is a view of that parameter's gradient; one that straddles parameters is
    copied into the bucket's flat gradient buffer."""

    def __init__(self, bucket: _FlatBucket, grads: list):
        self.flat = bucket.grad
        self.grads = [grad.reshape(-1) for grad in grads]
        self.starts = [part.start for part in bucket.slices]
        self.slices = bucket.slices

    def all(self) -> None:
        np.concatenate(self.grads, out=self.flat)

    def block(self, lo: int, hi: int) -> np.ndarray:
        first = bisect.bisect_right(self.starts, lo) - 1
        part = self.slices[first]
        if hi <= part.stop:
            return self.grads[first][lo - part.start:hi - part.start]
        pieces = []
        index = first
        while index < len(self.slices) and self.slices[index].start < hi:
            part = self.slices[index]
            pieces.append(self.grads[index][max(lo, part.start) - part.start:
                                            min(hi, part.stop) - part.start])
            index += 1
        return np.concatenate(pieces, out=self.flat[lo:hi])


def _same_value(a, b) -> bool:
    """Equality of plain state values (step counts, None), never of arrays."""
    if a is b:
        return True
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return False
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _from_torch(key: str, value):
    """A torch tensor of a saved torch state as an array (0-d: a number; ``step``: an int);
    lists of them (LBFGS's history) element by element."""
    if isinstance(value, (list, tuple)):
        return type(value)(_from_torch(key, item) for item in value)
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
        if value.ndim == 0:
            value = value.item()
            if key == "step" and float(value).is_integer():
                value = int(value)
    return value


class Optimizer:
    """Base class. ``params``: an iterable of parameters or of dicts (parameter groups)."""

    #: True for optimizers whose ``step(closure)`` evaluates the loss itself (L-BFGS, Newton):
    #: fit, sweeps and the lessons then pass a closure that recomputes the batch's loss.
    needs_closure = False

    #: Keep each group's parameters and state in flat buffers (see the module docstring);
    #: set to False on an instance for the per-parameter path (same results, more calls).
    flat_storage = True

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        self._work_buffers: dict = {}  # scratch arrays shared by parameters of one shape
        self._block_cache: dict = {}   # views of blocks of long-lived arrays (_block_views)
        self._step_count = 0           # read by the lr schedulers (scheduler-before-step warning)
        self.flat_storage = self.flat_storage  # the class default, fixed for this instance
        self._buckets: dict = {}       # (group index, dtype) -> _FlatBucket
        self._last_sets: dict = {}     # (group index, dtype) -> parameters of the last new set
        name = type(self).__name__
        if isinstance(params, Tensor):
            raise TypeError(f"{name}: params must be an iterable of tensors "
                            f"(e.g. model.parameters()), got a single Tensor; wrap it in a list")
        try:
            groups = list(params)
        except TypeError:
            raise TypeError(f"{name}: params must be an iterable of tensors or of parameter-group "
                            f"dicts (e.g. model.parameters()), got {params!r} of type "
                            f"{type(params).__name__}") from None
        if not groups:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list; pass "
                             f"model.parameters() or a list of tensors")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def _validate(self, group: dict) -> None:
        """Check one group's hyperparameters (subclasses extend; lr is common to all)."""
        lr = group["lr"]
        check_hyperparameter(type(self).__name__, "learning rate lr", lr,
                             _is_number(lr) and lr >= 0, "a number >= 0")

    def add_param_group(self, group: dict) -> None:
        """Add a group of parameters with its own hyperparameters (e.g. a lower lr)."""
        name = type(self).__name__
        params = group["params"]
        params = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for i, param in enumerate(params):
            if not isinstance(param, Tensor):
                raise TypeError(f"{name}: parameter {i} is a {type(param).__name__}, "
                                f"expected a Tensor")
            if not param.is_leaf:
                raise ValueError(f"{name}: parameter {i} is computed by an op, not a leaf "
                                 f"tensor; optimizers update leaf tensors only")
            if id(param) in seen:
                raise ValueError(f"{name}: parameter {i} appears in more than one group")
            seen.add(id(param))
        unknown = set(group) - set(self.defaults) - {"params"}
        if unknown:
            raise ValueError(f"{name}: unknown option(s) {sorted(unknown)}; valid options are "
                             f"{sorted(self.defaults)}")
        full = {**self.defaults, **group, "params": params}
        self._validate(full)
        self.param_groups.append(full)
        if self.flat_storage:
            self._make_buckets(len(self.param_groups) - 1, params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next backward (they accumulate otherwise)."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none:
                    param._grad = None
                elif param._grad is not None:
                    param._grad[...] = 0

    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        ``closure``, if given, re-evaluates the model and returns the loss (as in torch).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._step_count += 1
        taking_part = [self._params_with_grad(index, group)  # all checked before any update
                       for index, group in enumerate(self.param_groups)]
        for index, (group, by_dtype) in enumerate(zip(self.param_groups, taking_part)):
            for dtype, params in by_dtype.items():
                bucket = self._flat_bucket((index, dtype), params, group)
                if bucket is None:
                    self._step_each(params, group)
                else:
                    self._step_flat(bucket, group)
                bump_versions(params)  # as torch: a graph that saved the old weights is stale
        return loss

    def _params_with_grad(self, index: int, group: dict) -> dict:
        """The group's parameters that take part in this step, by dtype, gradients checked.

        As in torch, a parameter takes part when its gradient is not None, whether or not it
        requires grad. A gradient must be an ndarray of the parameter's shape and dtype: one of
        another shape would broadcast silently into every weight.
        """
        by_dtype: dict = {}
        for i, param in enumerate(group["params"]):
            grad = param._grad
            if grad is None:
                continue
            data = param._data
            if (not isinstance(grad, np.ndarray) or grad.shape != data.shape
                    or grad.dtype != data.dtype):
                self._bad_grad(index, i, param, grad)
            same_dtype = by_dtype.get(data.dtype)
            if same_dtype is None:
                by_dtype[data.dtype] = [param]
            else:
                same_dtype.append(param)
        return by_dtype

    def _bad_grad(self, group_index: int, index: int, param: Tensor, grad) -> None:
        where = (f"{type(self).__name__}.step: parameter {index} of group {group_index}"
                 + (f" ({param.name!r})" if param.name else ""))
        if not isinstance(grad, np.ndarray):
            raise TypeError(f"{where} has a .grad of type {type(grad).__name__}; expected a "
                            f"NumPy array of shape {param.shape} and dtype {param.dtype}")
        if grad.shape != param.shape:
            raise ValueError(f"{where} has shape {param.shape}, but its .grad has shape "
                             f"{grad.shape}; a gradient must have its parameter's shape "
                             f"(it is not broadcast)")
        raise TypeError(f"{where} has dtype {param.dtype}, but its .grad has dtype "
                        f"{grad.dtype}; a gradient must have its parameter's dtype")

    def _step_each(self, params: list, group: dict) -> None:
        """The per-parameter path: one update per parameter, on its own arrays."""
        for param in params:
            state = self.state.get(param)
            if state is None:
                state = self.state[param] = self._init_state(param._data, group)
            self._update(param._data, param._grad, state, group)

    def _flat_bucket(self, key: tuple, params: list, group: dict):
        """The flat buffers for ``params`` (one group, one dtype), or None to go per parameter.

        Buckets are made with the group (``add_param_group``) from its parameters that
        require a gradient, so ``param.data`` is rebound once, before training. A parameter
        rebound since (``param.data = ...``) is copied into a fresh bucket. A step whose set
        of parameters differs (a frozen or unused one) goes per parameter, on the same views;
        a set that stays for two steps in a row gets its own bucket.
        The state is (re)gathered into flat buffers when it is not the bucket's views any more
        (new, loaded or edited state); parameters at different step counts go per parameter.
        """
        if not self.flat_storage or len(params) < 2:
            return None
        bucket = self._buckets.get(key)
        if bucket is None or not bucket.same_params(params):
            # a new set of parameters (some frozen or unused since): per parameter this
            # step; if the next step has the same set, it gets a bucket of its own
            previous, self._last_sets[key] = self._last_sets.get(key), tuple(params)
            if previous is None or len(previous) != len(params) or any(
                    a is not b for a, b in zip(previous, params)):
                return None
            bucket = self._buckets[key] = _FlatBucket(params)
        elif not bucket.holds_data():
            bucket = self._buckets[key] = _FlatBucket(params)
        if not bucket.state_in_sync(self.state):
            for param in params:
                if param not in self.state:
                    self.state[param] = self._init_state(param._data, group)
            if not bucket.gather_state(self.state):
                return None
        return bucket

    def _make_buckets(self, index: int, params: list) -> None:
        """Flat buckets for a new group: its trainable parameters, one bucket per dtype."""
        by_dtype: dict = {}
        for param in params:
            if param.requires_grad:
                by_dtype.setdefault(param._data.dtype, []).append(param)
        for dtype, same_dtype in by_dtype.items():
            if len(same_dtype) > 1:  # one parameter is its own flat buffer already
                self._buckets[(index, dtype)] = _FlatBucket(same_dtype)

    #: Whether ``_update`` reads the gradient only through ``_blocks`` (as its second array):
    #: then a large flat bucket's gradients are not gathered into one buffer first; each block
    #: reads its parameter's ``.grad`` directly (or gathers the few blocks that straddle two
    #: parameters), which saves a write and a re-read of every gradient. Same bits either way.
    grad_in_blocks = False

    #: Whether ``_update`` is elementwise (each element of the result depends on the same
    #: element of its arrays only, plus scalars): then a large flat update may be split into
    #: contiguous chunks updated by different threads (NumPy releases the GIL in ufuncs),
    #: which gives the same bits as one thread.
    elementwise = False

    #: Threads for a flat update of at least ``thread_min_size`` elements: None uses the
    #: cores (at most 4), 1 never splits.
    threads = None

    #: Elements from which a flat update is split across threads. Measured on 2 busy cores
    #: (Adam, float32): 2^18 elements 1.3x slower on 2 threads (the update runs from the L2
    #: cache; handing out chunks and gathering the gradient costs more), 2^20 0.64x.
    thread_min_size = 1 << 20

    def _thread_count(self, size: int) -> int:
        if not self.elementwise or size < self.thread_min_size:
            return 1
        threads = self.threads if self.threads is not None else min(_cores(), 4)
        return max(1, min(threads, size // self.block_size))

    def _step_threaded(self, bucket: "_FlatBucket", group: dict, threads: int) -> bool:
        """The flat update in ``threads`` contiguous chunks on worker threads; False (nothing
        changed) when the update must make a new state array first (one thread does that)."""
        size = bucket.data.size
        per = -(-size // threads)
        per = -(-per // self.block_size) * self.block_size  # whole blocks per chunk
        chunks = [(lo, min(lo + per, size)) for lo in range(0, size, per)]
        states = [_ChunkState({key: (value[lo:hi] if isinstance(value, np.ndarray) else value)
                               for key, value in bucket.state.items()}) for lo, hi in chunks]
        pool = _thread_pool(len(chunks))
        futures = [pool.submit(self._update, bucket.data[lo:hi], bucket.grad[lo:hi], state,
                               group) for (lo, hi), state in zip(chunks, states)]
        errors = [future.exception() for future in futures]
        refused = [isinstance(error, _NewState) for error in errors]
        if any(refused):
            if not all(refused):
                raise RuntimeError(f"{type(self).__name__}: a threaded update made new state "
                                   f"in some chunks only; set threads = 1")
            return False
        for error in errors:
            if error is not None:
                raise error
        for key, value in states[0].items():
            if not isinstance(value, np.ndarray):
                bucket.state[key] = value
        return True

    def _step_flat(self, bucket: "_FlatBucket", group: dict) -> None:
        """The flat path: one update over the whole bucket, its gradients gathered into one
        buffer (at once, or block by block in ``_blocks``, see ``grad_in_blocks``), split
        across threads when it is large and elementwise."""
        grads = [param._grad for param in bucket.params]
        threads = self._thread_count(bucket.data.size)
        if threads > 1:
            np.concatenate([grad.reshape(-1) for grad in grads], out=bucket.grad)
            if self._step_threaded(bucket, group, threads):
                bucket.scatter_state()
                return
            self._update(bucket.data, bucket.grad, bucket.state, group)
        elif self.grad_in_blocks and bucket.data.size > self.block_size:
            self._pending_grad = _BlockGather(bucket, grads)
            try:
                self._update(bucket.data, bucket.grad, bucket.state, group)
            finally:
                self._pending_grad = None
        else:
            np.concatenate([grad.reshape(-1) for grad in grads], out=bucket.grad)
            self._update(bucket.data, bucket.grad, bucket.state, group)
        bucket.scatter_state()

    def _init_state(self, data: np.ndarray, group: dict) -> dict:
        """Fresh state for a parameter with values ``data`` (buffers are updated in place)."""
        return {}

    def _update(self, data: np.ndarray, grad: np.ndarray, state: dict, group: dict) -> None:
        """Update ``data`` in place from ``grad`` and ``state``: one parameter or a flat bucket."""
        raise NotImplementedError

    # ----------------------------------------------------------------- helpers for _update
    #: Elements per block of a blocked update: 32768 float32 (128 KiB) per array, so the
    #: few arrays an update touches stay in the L2 cache across its dozen passes.
    block_size = 32768

    _pending_grad = None  # a _BlockGather while a flat update reads its gradient by blocks

    def _blocks(self, arrays: list, n_work: int):
        """Same-shaped arrays cut into cache-sized blocks, each with ``n_work`` scratch arrays.

        Yields tuples ``(*views, *scratch)``. An update written for whole arrays runs
        unchanged on each block (elementwise math does not care), but reads each array from
        memory once instead of once per pass: the main cost of Adam on a large layer.
        Small or non-contiguous arrays come back whole, as one block. Scratch arrays are made
        once and shared by all parameters (they hold nothing between updates). The second
        array is the gradient: in a flat update with ``grad_in_blocks`` each block of it is
        taken from the parameters' own gradients just before the block is used.
        """
        first = arrays[0]
        size = first.size
        block = self.block_size
        gather = self._pending_grad
        if gather is not None and arrays[1] is not gather.flat:
            gather = None
        if size <= block or not all(a.flags.c_contiguous for a in arrays):
            if gather is not None:
                gather.all()
            yield (*arrays, *self._scratch(first.shape, first.dtype, n_work))
            return
        grad = arrays[1].reshape(-1)
        for lo, views in self._block_views(arrays, n_work, block):
            n = views[0].size
            views[1] = grad[lo:lo + n] if gather is None else gather.block(lo, lo + n)
            yield tuple(views)

    def _block_views(self, arrays: list, n_work: int, block: int) -> list:
        """(start, [views of each block, None for the gradient, scratch...]) per block, made
        once per set of arrays (parameters and state buffers live across steps; slicing them
        anew each step cost ~1 µs a view, 40 µs a step for Adam on a 270k-parameter MLP)."""
        keep = [a for i, a in enumerate(arrays) if i != 1]
        key = (block, n_work, *(id(a) for a in keep))
        cached = self._block_cache.get(key)
        if cached is not None and all(a is b for a, b in zip(cached[0], keep)):
            return [(lo, list(views)) for lo, views in cached[1]]
        if len(self._block_cache) > 64:  # buckets remade, parameters dropped: start afresh
            self._block_cache.clear()
        flats = [a.reshape(-1) for a in keep]
        work = self._scratch((block,), arrays[0].dtype, n_work)
        blocks = []
        for lo in range(0, arrays[0].size, block):
            views = [flat[lo:lo + block] for flat in flats]
            n = views[0].size
            views.insert(1, None)
            blocks.append((lo, tuple(views + [w if n == block else w[:n] for w in work])))
        self._block_cache[key] = (keep, blocks)
        return [(lo, list(views)) for lo, views in blocks]

    def _scratch(self, shape: tuple, dtype, count: int) -> list:
        key = (shape, dtype, threading.get_ident())  # each thread its own
        buffers = self._work_buffers.get(key)
        if buffers is None:
            buffers = self._work_buffers[key] = []
        while len(buffers) < count:
            buffers.append(np.empty(shape, dtype=dtype))
        return buffers[:count]

    @staticmethod
    def _effective_grad(param: np.ndarray, grad: np.ndarray, weight_decay: float,
                        maximize: bool, out: np.ndarray) -> np.ndarray:
        """g = (−grad if maximize else grad) + weight_decay·param, as torch computes it.

        Returns ``grad`` itself when neither applies, else ``out`` filled with g; ``grad``
        (the parameter's ``.grad``) is never modified.
        """
        if weight_decay != 0:
            np.multiply(param, weight_decay, out=out)
            if maximize:
                np.subtract(out, grad, out=out)
            else:
                np.add(out, grad, out=out)
            return out
        if maximize:
            np.negative(grad, out=out)
            return out
        return grad

    @classmethod
    def _decayed_grad(cls, param: np.ndarray, grad: np.ndarray, lr: float, weight_decay: float,
                      decoupled: bool, maximize: bool, out: np.ndarray) -> np.ndarray:
        """g with weight decay, coupled (g + wd·w, as Adam) or decoupled (w ← w·(1 − lr·wd)
        first, as AdamW; then g alone), in torch's order of operations."""
        if not decoupled:
            return cls._effective_grad(param, grad, weight_decay, maximize, out)
        if weight_decay != 0:
            np.multiply(param, 1 - lr * weight_decay, out=param)
        return cls._effective_grad(param, grad, 0.0, maximize, out)

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict:
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]} (copies)."""
        index = {}
        groups = []
        for group in self.param_groups:
            ids = []
            for param in group["params"]:
                index[id(param)] = len(index)
                ids.append(index[id(param)])
            groups.append({**{k: v for k, v in group.items() if k != "params"}, "params": ids})
        state = {index[id(p)]: {k: (v.copy() if isinstance(v, np.ndarray) else v)
                                for k, v in s.items()}
                 for p, s in self.state.items() if id(p) in index}
        return {"state": state, "param_groups": copy.deepcopy(groups)}

    #: Group entries that lr schedulers add (OneCycleLR, any LRScheduler): not hyperparameters
    #: of another optimizer, so a saved state may carry them.
    _scheduler_keys = frozenset({"initial_lr", "max_lr", "min_lr", "max_momentum",
                                 "base_momentum"})

    #: Group entries of a torch.optim state dict that choose torch's kernels (multi-tensor,
    #: fused, differentiable, CUDA-graph capturable), not the arithmetic: dropped on loading.
    _torch_kernel_keys = frozenset({"foreach", "fused", "differentiable", "capturable"})

    #: Options of steepest's own that torch's state dicts lack: a saved state without them
    #: keeps the current values.
    _own_options: frozenset = frozenset()

    def _state_shape(self, key: str, param: Tensor):
        """The shape a saved state array ``key`` of ``param`` must have (None: not checked)."""
        return param.shape

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and buffers saved by ``state_dict()`` of the same optimizer.

        Everything is checked before anything is written: the saved groups must have this
        optimizer's hyperparameters (an SGD state does not load into Adam), valid values
        (as the constructor checks them), the same numbers of groups and parameters, and state
        arrays of each parameter's shape. On any error the optimizer is unchanged.

        A state dict saved by the same torch.optim class (``torch.save(opt.state_dict())``
        read back with ``torch.load``) loads too: its kernel switches (``foreach``, ``fused``,
        ``differentiable``, ``capturable``) are dropped, its tensors become arrays and its
        0-d tensors numbers (``step`` an int; float32 scalars such as NAdam's ``mu_product``
        keep their float32 value).
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if (not isinstance(state_dict, dict) or not isinstance(state_dict.get("state"), dict)
                or not isinstance(state_dict.get("param_groups"), (list, tuple))):
            got = (f"a dict with keys {sorted(map(str, state_dict))}"
                   if isinstance(state_dict, dict) else repr(state_dict))
            raise TypeError(f"{where}: state_dict must be a dict with 'state' (a dict) and "
                            f"'param_groups' (a list), as made by {name}.state_dict(); "
                            f"got {got}")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{where}: the saved state has {len(saved_groups)} "
                             f"parameter groups, this optimizer has {len(self.param_groups)}")
        merged_groups = []
        params = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if not isinstance(saved, dict) or not isinstance(saved.get("params"), (list, tuple)):
                raise TypeError(f"{where}: param_groups[{i}] must be a dict with a 'params' "
                                f"list, got {saved!r}")
            saved = {k: v for k, v in saved.items() if k not in self._torch_kernel_keys}
            options = set(saved) - {"params"}
            missing = sorted(set(self.defaults) - options - self._own_options)
            foreign = sorted(options - set(self.defaults) - self._scheduler_keys)
            if missing or foreign:
                raise ValueError(
                    f"{where}: param_groups[{i}] is not the state of a {name}: "
                    + (f"it lacks {missing}" if missing else "")
                    + ("; " if missing and foreign else "")
                    + (f"it has options {foreign} that {name} does not know" if foreign else "")
                    + f"; expected the options {sorted(self.defaults)} (load a state saved "
                      f"by the same optimizer class)")
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{where}: group {i} has {len(saved['params'])} parameters "
                                 f"saved but {len(group['params'])} here")
            merged = {**group, **{k: v for k, v in saved.items() if k != "params"}}
            self._validate(merged)
            merged_groups.append(merged)
            params.extend(zip(saved["params"], group["params"]))
        new_state = {}
        for saved_index, param in params:
            saved = state_dict["state"].get(saved_index, state_dict["state"].get(str(saved_index)))
            if saved is None:
                continue
            if not isinstance(saved, dict):
                raise TypeError(f"{where}: state of parameter {saved_index} must be a dict, "
                                f"got {type(saved).__name__}")
            restored = {}
            for key, value in saved.items():
                value = _from_torch(key, value)
                if isinstance(value, np.ndarray) and value.ndim:
                    shape = self._state_shape(key, param)
                    if shape is not None and value.shape != shape:
                        raise ValueError(f"{where}: state {key!r} of parameter {saved_index} "
                                         f"has shape {value.shape}, the parameter has shape "
                                         f"{param.shape}" + ("" if shape == param.shape else
                                                             f" (expected {shape})"))
                    value = np.array(value, dtype=param.dtype)
                restored[key] = value
            new_state[param] = restored
        for merged, group in zip(merged_groups, self.param_groups):
            group.update(merged)
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"
