"""Derivatives of whole functions, with torch.autograd.functional's names and signatures.

``func`` takes a tensor (or a tuple of tensors: ``inputs``) and returns a tensor (or a tuple).
Each function returns tensors shaped as torch's do: a single tensor where ``inputs`` (and the
outputs) are single tensors, tuples where they are tuples.

* ``vjp``: vᵀ·J (one reverse pass);
* ``jvp``: J·v, by the double-backward trick (the vjp with a dummy cotangent u is linear in u;
  its gradient with respect to u, taken along v, is J·v), so no forward mode is needed;
* ``jacobian``: one vjp per output element;
* ``hessian``: the jacobian of the gradient;
* ``vhp`` / ``hvp``: the Hessian (symmetric for a scalar function with continuous second
  derivatives) times v, as a double vector-Jacobian product: ∇ₓ(∇ₓf · v). This costs about two
  gradients, against n for the dense Hessian.

``create_graph=True`` returns results that are themselves differentiable; ``strict=True``
raises when an output does not depend on an input (torch's check); ``vectorize`` is accepted
for torch's signature and computes the same numbers row by row.
"""

from __future__ import annotations

import numpy as np

from steepest.autograd.graph import grad
from steepest.ops import concatenate
from steepest.tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(name: str, argument: str, value) -> tuple[bool, tuple]:
    """(was it a tuple, the tensors as a tuple), refusing anything but tensors."""
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for position, item in enumerate(values):
        if not isinstance(item, Tensor):
            where = f" (item {position})" if is_tuple else ""
            raise TypeError(f"{name}: {argument}{where} must be a steepest Tensor, got "
                            f"{type(item).__name__}")
    return is_tuple, values


def _prepare(inputs: tuple, create_graph: bool) -> tuple:
    """Inputs that require grad: the caller's own where their graph is wanted (so results can
    be differentiated with respect to them), detached copies otherwise."""
    return tuple(x if create_graph and x.requires_grad else x.detach().requires_grad_(True)
                 for x in inputs)


def _outputs(name: str, func, inputs: tuple) -> tuple[bool, tuple]:
    return _as_tuple(name, "the output of func", func(*inputs))


def _grads(name: str, outputs: tuple, inputs: tuple, cotangents, create_graph: bool,
           strict: bool) -> tuple:
    """Σ_k cotangents[k]·∂outputs[k]/∂inputs, zeros (or an error if ``strict``) for an input
    that no output depends on."""
    differentiable = [(out, v) for out, v in zip(outputs, cotangents) if out.requires_grad]
    if differentiable:
        found = grad(tuple(o for o, _ in differentiable), inputs,
                     tuple(v for _, v in differentiable), retain_graph=True,
                     create_graph=create_graph, allow_unused=True)
    else:
        found = (None,) * len(inputs)
    results = []
    for position, (x, g) in enumerate(zip(inputs, found)):
        if g is None:
            if strict:
                raise RuntimeError(f"{name}: the output is independent of input {position}; "
                                   f"with strict=True this is an error (strict=False gives "
                                   f"zeros)")
            g = Tensor._wrap(np.zeros_like(x._data))
        results.append(g if create_graph else g.detach())
    return tuple(results)


def _check_v(name: str, v: tuple, like: tuple, what: str) -> tuple:
    if len(v) != len(like):
        raise ValueError(f"{name}: v has {len(v)} tensors, but there are {len(like)} {what}")
    for position, (vector, tensor) in enumerate(zip(v, like)):
        if vector.shape != tensor.shape:
            raise ValueError(f"{name}: v (item {position}) has shape {vector.shape}, but the "
                             f"{what[:-1]} it pairs with has shape {tensor.shape}")
    return v


def _default_v(name: str, v, like: tuple, what: str) -> tuple:
    if v is not None:
        return _check_v(name, _as_tuple(name, "v", v)[1], like, what)
    if len(like) != 1 or like[0]._data.size != 1:
        raise RuntimeError(f"{name}: v can be omitted only when the {what} are a single "
                           f"one-element tensor; pass v")
    return (Tensor._wrap(np.ones_like(like[0]._data)),)


def _detached(outputs: tuple, create_graph: bool) -> tuple:
    return outputs if create_graph else tuple(o.detach() for o in outputs)


def _unpack(is_tuple: bool, values: tuple):
    return values if is_tuple else values[0]


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), vᵀ·J): the vector-Jacobian product, one reverse pass."""
    inputs_tuple, inputs = _as_tuple("vjp", "inputs", inputs)
    inputs = _prepare(inputs, create_graph)
    outputs_tuple, outputs = _outputs("vjp", func, inputs)
    v = _default_v("vjp", v, outputs, "outputs")
    result = _grads("vjp", outputs, inputs, v, create_graph, strict)
    return (_unpack(outputs_tuple, _detached(outputs, create_graph)),
            _unpack(inputs_tuple, result))


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J·v): the Jacobian-vector product, by the double-backward trick:
    with u a dummy cotangent, g(u) = uᵀJ is linear in u and ∂(g(u)·v)/∂u = J·v."""
    inputs_tuple, inputs = _as_tuple("jvp", "inputs", inputs)
    inputs = _prepare(inputs, create_graph)
    v = _default_v("jvp", v, inputs, "inputs")
    outputs_tuple, outputs = _outputs("jvp", func, inputs)
    dummies = tuple(Tensor(np.zeros_like(o._data), requires_grad=True) for o in outputs)
    transposed = _grads("jvp", outputs, inputs, dummies, True, strict)
    result = _grads("jvp", transposed, dummies, v, create_graph, strict=False)
    return (_unpack(outputs_tuple, _detached(outputs, create_graph)),
            _unpack(outputs_tuple, result))


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """∂func(inputs)/∂inputs, shaped output.shape + input.shape (tuples of tuples for tuples:
    [output][input]); one vjp per output element."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError(f"jacobian: strategy must be 'reverse-mode' or 'forward-mode', got "
                         f"{strategy!r}")
    inputs_tuple, inputs = _as_tuple("jacobian", "inputs", inputs)
    inputs = _prepare(inputs, create_graph)
    outputs_tuple, outputs = _outputs("jacobian", func, inputs)
    per_output = []
    for out in outputs:
        rows = []
        for k in range(out._data.size):
            basis = np.zeros(out.shape, dtype=out.dtype)
            basis.reshape(-1)[k] = 1.0
            rows.append(_grads("jacobian", (out,), inputs, (Tensor._wrap(basis),),
                               create_graph, strict))
        blocks = []
        for position, x in enumerate(inputs):
            parts = [row[position].reshape(1, *x.shape) for row in rows]
            if parts:
                block = concatenate(parts, 0).reshape(out.shape + x.shape)
            else:
                block = Tensor._wrap(np.zeros(out.shape + x.shape, dtype=x.dtype))
            blocks.append(block if create_graph else block.detach())
        per_output.append(_unpack(inputs_tuple, tuple(blocks)))
    return _unpack(outputs_tuple, tuple(per_output))


def _scalar_output(name: str, func, inputs: tuple) -> Tensor:
    is_tuple, outputs = _outputs(name, func, inputs)
    if is_tuple or outputs[0]._data.size != 1:
        raise RuntimeError(f"{name}: func must return a single one-element tensor, got "
                           f"{'a tuple' if is_tuple else 'shape ' + str(outputs[0].shape)}")
    return outputs[0]


def hessian(func, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """∂²func/∂inputs², shaped input.shape + input.shape (a tuple of tuples [i][j] for tuple
    inputs): the jacobian of the gradient. func must return one element."""
    inputs_tuple, inputs = _as_tuple("hessian", "inputs", inputs)

    def gradient(*xs):
        out = _scalar_output("hessian", func, xs)
        return _unpack(inputs_tuple, _grads("hessian", (out,), xs,
                                            (Tensor._wrap(np.ones_like(out._data)),),
                                            create_graph=True, strict=strict))
    return jacobian(gradient, inputs if inputs_tuple else inputs[0], create_graph=create_graph,
                    strict=strict, vectorize=vectorize, strategy=outer_jacobian_strategy)


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), vᵀ·H): a double vector-Jacobian product, ∇ₓ(∇ₓf · v)."""
    return _hessian_product("vhp", func, inputs, v, create_graph, strict)


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H·v). The Hessian of a scalar function is symmetric, so H·v = (vᵀH)ᵀ is
    computed as vhp does, ∇ₓ(∇ₓf · v): two reverse passes (torch's hvp takes a third, through
    the double-backward trick, for the same numbers)."""
    return _hessian_product("hvp", func, inputs, v, create_graph, strict)


def _hessian_product(name: str, func, inputs, v, create_graph: bool, strict: bool):
    inputs_tuple, inputs = _as_tuple(name, "inputs", inputs)
    inputs = _prepare(inputs, create_graph)
    v = _default_v(name, v, inputs, "inputs")
    out = _scalar_output(name, func, inputs)
    gradients = _grads(name, (out,), inputs, (Tensor._wrap(np.ones_like(out._data)),),
                       create_graph=True, strict=strict)
    result = _grads(name, gradients, inputs, v, create_graph, strict)
    return (out if create_graph else out.detach()), _unpack(inputs_tuple, result)
