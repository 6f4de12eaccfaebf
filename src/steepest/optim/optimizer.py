"""The Optimizer base class: parameter groups, per-parameter state, zero_grad and state_dict.

Subclasses implement ``_update(param, grad, state, group)`` for one parameter; the base class
handles what every optimizer shares, with torch.optim's conventions:

* ``param_groups`` is a list of dicts, each with ``'params'`` and its own hyperparameters
  (missing ones come from the optimizer's defaults);
* parameters whose ``grad`` is None or that have ``requires_grad=False`` are skipped;
* ``state_dict()`` / ``load_state_dict()`` round-trip everything a resumed run needs, so it
  continues exactly as the uninterrupted one would.

Updates are in place: ``param.data`` and the state buffers (made once by ``_init_state``) are
written with ufuncs' ``out=``, and temporaries live in shared scratch arrays, so a step
allocates nothing. ``_blocks`` runs an update over cache-sized blocks of large parameters.
The subclasses reproduce torch.optim's single-tensor (CPU default) code operation by
operation, in the same order, so float64 trajectories agree with torch's to ~1e-12 (torch's
CPU kernels fuse some multiply-adds, the only source of last-bit differences).
"""

from __future__ import annotations

import copy
import math

import numpy as np

from steepest.tensor import Tensor, enable_grad

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


class Optimizer:
    """Base class. ``params``: an iterable of parameters or of dicts (parameter groups)."""

    def __init__(self, params, defaults: dict):
        self.defaults = dict(defaults)
        self.param_groups: list[dict] = []
        self.state: dict = {}
        self._work_buffers: dict = {}  # scratch arrays shared by parameters of one shape
        self._step_count = 0           # read by the lr schedulers (scheduler-before-step warning)
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors "
                            f"(e.g. model.parameters()), got a single Tensor; wrap it in a list")
        groups = list(params)
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

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients before the next backward (they accumulate otherwise)."""
        for group in self.param_groups:
            for param in group["params"]:
                if set_to_none:
                    param.grad = None
                elif param.grad is not None:
                    param.grad[...] = 0

    def step(self, closure=None):
        """One update of every parameter that has a gradient.

        ``closure``, if given, re-evaluates the model and returns the loss (as in torch).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        self._step_count += 1
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None or not param.requires_grad:
                    continue
                state = self.state.get(param)
                if state is None:
                    state = self.state[param] = self._init_state(param, group)
                self._update(param, param.grad, state, group)
        return loss

    def _init_state(self, param: Tensor, group: dict) -> dict:
        """Fresh per-parameter state (buffers are preallocated once, updated in place)."""
        return {}

    def _update(self, param: Tensor, grad: np.ndarray, state: dict, group: dict) -> None:
        raise NotImplementedError

    # ----------------------------------------------------------------- helpers for _update
    #: Elements per block of a blocked update: 32768 float32 (128 KiB) per array, so the
    #: few arrays an update touches stay in the L2 cache across its dozen passes.
    block_size = 32768

    def _blocks(self, arrays: list, n_work: int) -> list:
        """Same-shaped arrays cut into cache-sized blocks, each with ``n_work`` scratch arrays.

        Returns a list of tuples ``(*views, *scratch)``. An update written for whole arrays
        runs unchanged on each block (elementwise math does not care), but reads each array
        from memory once instead of once per pass: the main cost of Adam on a large layer.
        Small or non-contiguous arrays come back whole, as one block. Scratch arrays are made
        once and shared by all parameters (they hold nothing between updates).
        """
        first = arrays[0]
        size = first.size
        block = self.block_size
        if size <= block or not all(a.flags.c_contiguous for a in arrays):
            return [(*arrays, *self._scratch(first.shape, first.dtype, n_work))]
        flats = [a.reshape(-1) for a in arrays]
        work = self._scratch((block,), first.dtype, n_work)
        blocks = []
        for lo in range(0, size, block):
            views = [flat[lo:lo + block] for flat in flats]
            n = views[0].size
            blocks.append((*views, *(w if n == block else w[:n] for w in work)))
        return blocks

    def _scratch(self, shape: tuple, dtype, count: int) -> list:
        key = (shape, dtype)
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

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyperparameters and buffers saved by ``state_dict()``; shapes are checked."""
        name = type(self).__name__
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}.load_state_dict: the saved state has {len(saved_groups)} "
                             f"parameter groups, this optimizer has {len(self.param_groups)}")
        params = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            if len(saved["params"]) != len(group["params"]):
                raise ValueError(f"{name}.load_state_dict: group {i} has "
                                 f"{len(saved['params'])} parameters saved but "
                                 f"{len(group['params'])} here")
            params.extend(zip(saved["params"], group["params"]))
        new_state = {}
        for saved_index, param in params:
            saved = state_dict["state"].get(saved_index, state_dict["state"].get(str(saved_index)))
            if saved is None:
                continue
            restored = {}
            for key, value in saved.items():
                if isinstance(value, np.ndarray) and value.ndim and value.shape != param.shape:
                    raise ValueError(f"{name}.load_state_dict: state {key!r} of parameter "
                                     f"{saved_index} has shape {value.shape}, the parameter "
                                     f"has shape {param.shape}")
                restored[key] = (np.array(value, dtype=param.dtype) if isinstance(value, np.ndarray)
                                 and value.ndim else value)
            new_state[param] = restored
        for saved, group in zip(saved_groups, self.param_groups):
            group.update({k: v for k, v in saved.items() if k != "params"})
        self.state = new_state

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines.extend(f"    {k}: {v}" for k, v in sorted(group.items()) if k != "params")
        return "\n".join(lines) + "\n)"
