"""Gradients as values: ``grad`` (torch.autograd.grad) and ``functional`` (jacobian, hessian,
hvp, vhp, jvp, vjp).

``grad(outputs, inputs, create_graph=True)`` records the backward pass itself, so the gradients
it returns can be differentiated again: every op's backward computes on tensors through
steepest's own ops when it is handed a tensor (see ``steepest.ops``).
"""

from __future__ import annotations

import numpy as np

from steepest.tensor import Tensor, enable_grad, no_grad

__all__ = ["grad", "functional"]


def _as_tuple(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _seed(output: Tensor, grad_output, create_graph: bool):
    if grad_output is None:
        if output._data.size != 1:
            raise RuntimeError(f"grad: grad can be implied only for one-element outputs, got "
                               f"an output of shape {output.shape}; pass grad_outputs")
        grad_output = np.ones_like(output._data)
    elif isinstance(grad_output, Tensor):
        if grad_output.shape != output.shape:
            raise ValueError(f"grad: a grad_output has shape {grad_output.shape}, but its "
                             f"output has shape {output.shape}; they must match")
        return grad_output if create_graph else grad_output._data
    grad_output = np.asarray(grad_output, dtype=output.dtype)
    if grad_output.shape != output.shape:
        raise ValueError(f"grad: a grad_output has shape {grad_output.shape}, but its output "
                         f"has shape {output.shape}; they must match")
    return Tensor._wrap(grad_output) if create_graph else grad_output


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused: bool = False, materialize_grads: bool = False):
    """The gradients of ``outputs`` with respect to ``inputs`` (a tuple, one per input), as
    torch.autograd.grad: Σ_k grad_outputs[k] · ∂outputs[k]/∂input. Nothing accumulates into
    ``.grad``. With ``create_graph=True`` the results carry a graph (higher-order gradients).
    ``retain_graph`` is accepted for torch's signature; steepest's graph is kept either way.
    """
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    grad_outputs = _as_tuple(grad_outputs) if grad_outputs is not None else (None,) * len(outputs)
    if len(grad_outputs) != len(outputs):
        raise ValueError(f"grad: got {len(grad_outputs)} grad_outputs for {len(outputs)} "
                         f"outputs; give one per output")
    for position, tensor in enumerate(inputs):
        if not isinstance(tensor, Tensor) or not tensor.requires_grad:
            raise RuntimeError(f"grad: input {position} does not require grad; differentiate "
                               f"with respect to tensors made with requires_grad=True")
    pending, grads = {}, {}
    stack = []
    for output, grad_output in zip(outputs, grad_outputs):
        if not output.requires_grad:
            raise RuntimeError("grad: an output does not require grad and has no graph")
        seed = _seed(output, grad_output, create_graph)
        grads[output] = seed if output not in grads else grads[output] + seed
        if output not in pending:
            pending[output] = 0
            stack.append(output)
    while stack:  # count each node's consumers (Kahn's algorithm, as Tensor.backward)
        for parent in stack.pop()._parents:
            if parent.requires_grad:
                if parent in pending:
                    pending[parent] += 1
                else:
                    pending[parent] = 1
                    stack.append(parent)
    wanted = set(inputs)
    found = {}
    ready = [node for node, count in pending.items() if count == 0]
    with enable_grad() if create_graph else no_grad():
        while ready:
            node = ready.pop()
            node_grad = grads.pop(node, None)
            if node in wanted and node_grad is not None:
                found[node] = node_grad
            if node_grad is not None and node._backward is not None:
                for parent, parent_grad in zip(node._parents, node._backward(node_grad)):
                    if parent_grad is None or not parent.requires_grad:
                        continue
                    existing = grads.get(parent)
                    grads[parent] = parent_grad if existing is None else existing + parent_grad
            for parent in node._parents:
                if parent.requires_grad:
                    pending[parent] -= 1
                    if not pending[parent]:
                        ready.append(parent)
    results = []
    for position, tensor in enumerate(inputs):
        value = found.get(tensor)
        if value is None:
            if not (allow_unused or materialize_grads):
                raise RuntimeError(f"grad: input {position} was not used in the graph of the "
                                   f"outputs; pass allow_unused=True to get None for it")
            value = np.zeros_like(tensor._data) if materialize_grads else None
        if value is not None and not isinstance(value, Tensor):
            value = Tensor._wrap(np.array(value, dtype=tensor.dtype))
        results.append(value)
    return tuple(results)


from steepest.autograd import functional  # noqa: E402
