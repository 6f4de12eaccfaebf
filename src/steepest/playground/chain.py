"""Chain-rule inspector: ∂L/∂w for one weight as a sum over paths of local derivatives.

For the weight ``W_l[i, j]`` (layer ``l``, from unit ``j`` below to unit ``i``) and a batch of
samples ``n``::

    ∂L/∂W_l[i, j] = Σ_n Σ_paths a_{l-1}[n, j] · f'_l(z_l[n, i]) · W_{l+1}[k, i] · f'_{l+1}(z_{l+1}[n, k]) · … · ∂L/∂ŷ[n, o]

where a path runs from unit ``i`` through one unit per later layer to an output ``o``; the
regularisation term adds ``rate·sign(w)`` (L1) or ``rate·w`` (L2). The local derivatives
``f'(z)`` and ``∂L/∂ŷ`` come from steepest's own backward passes of the activation and the
loss, and the total is checked against the autodiff gradient of the same batch.
"""

from __future__ import annotations

import itertools

import numpy as np

from steepest import ops
from steepest.tensor import no_grad, tensor
from steepest.nn import Linear
from steepest.playground.config import ConfigError

__all__ = [
    "weight_name", "inspect_weight", "MAX_LISTED_PATHS", "MAX_ENUMERATED_PATHS",
]

MAX_LISTED_PATHS = 12
MAX_ENUMERATED_PATHS = 4096


def weight_name(layer: int, row: int, col: int) -> str:
    """The page's name of ``W[layer][row, col]``: layers count from 1, rows and columns from 0
    (as indices into the weight matrix), in the inspector's header and in its factors alike."""
    return f"W{layer + 1}[{row}, {col}]"


def _local_derivative(activation, z: np.ndarray) -> np.ndarray:
    """f'(z) elementwise, from the activation's own backward pass."""
    t = tensor(z, requires_grad=True)
    ops.sum(activation(t)).backward()
    return t._grad


def inspect_weight(session, layer, row, col) -> dict:
    """The chain-rule breakdown of ∂L/∂W_layer[row, col] on the session's current batch."""
    linears = [m for m in session.model if isinstance(m, Linear)]
    if isinstance(layer, bool) or not isinstance(layer, int) or not 0 <= layer < len(linears):
        raise ConfigError(f"inspect: layer must be in 0..{len(linears) - 1}, got {layer!r}")
    W = linears[layer].weight
    for name, value, size in (("row", row, W.shape[0]), ("col", col, W.shape[1])):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < size:
            raise ConfigError(f"inspect: {name} must be in 0..{size - 1}, got {value!r}")
    index = session.batch_index if len(session.batch_index) else np.arange(
        min(session.config["batch_size"], len(session.X_train)))
    X, T = session.X_train[index], session.T_train[index]

    # Autodiff: the gradient the optimizer would use for this batch.
    parameters = list(session.model.parameters())
    training_grads = [p._grad for p in parameters]  # the snapshot's gradient norms use these
    session.model.zero_grad()
    loss = session.batch_loss(index)
    penalty = session.penalty()
    (loss if penalty is None else loss + penalty).backward()
    autodiff = float(W._grad[row, col])
    for parameter, grad in zip(parameters, training_grads):
        parameter._grad = grad

    # Manual forward, keeping pre-activations z and activations a per Linear layer.
    modules = list(session.model)
    a_prev, z_list, derivs, inputs = X, [], [], []
    position = 0
    for k, lin in enumerate(linears):
        while modules[position] is not lin:
            position += 1
        inputs.append(a_prev)
        z = a_prev @ lin.weight._data.T + lin.bias._data
        z_list.append(z)
        activation = modules[position + 1] if position + 1 < len(modules) else None
        if k < len(linears) - 1:
            derivs.append(_local_derivative(activation, z))
            with no_grad():
                a_prev = activation(tensor(z))._data
    out = tensor(z_list[-1], requires_grad=True)
    session.task.loss(out, tensor(T)).backward()
    dL_dout = out._grad                                           # (n, outputs)

    later = [lin.out_features for lin in linears[layer + 1:]]   # units on the path after i
    n_paths = int(np.prod(later)) if later else 1
    x_in = inputs[layer][:, col]
    f_i = derivs[layer][:, row] if layer < len(linears) - 1 else np.ones(len(index))
    listed, total_paths = [], 0.0
    if n_paths <= MAX_ENUMERATED_PATHS:
        for units in itertools.product(*[range(s) for s in later]):
            chain_units = (row, *units)
            product = x_in * f_i
            factors = [("input a", x_in), ("f'(z)", f_i)]
            for step, k in enumerate(units):
                m = layer + 1 + step
                w = linears[m].weight._data[k, chain_units[step]]
                product = product * w
                factors.append((weight_name(m, k, chain_units[step]), np.full(len(index), w)))
                if m < len(linears) - 1:
                    product = product * derivs[m][:, k]
                    factors.append(("f'(z)", derivs[m][:, k]))
            output = chain_units[-1] if units else row
            product = product * dL_dout[:, output]
            factors.append(("∂L/∂ŷ", dL_dout[:, output]))
            contribution = float(product.sum())
            total_paths += contribution
            listed.append({"units": list(chain_units), "contribution": contribution,
                           "factors": [{"name": name, "first_sample": float(v[0])}
                                       for name, v in factors]})
        listed.sort(key=lambda p: -abs(p["contribution"]))
        listed = listed[:MAX_LISTED_PATHS]
    else:
        delta = dL_dout
        for m in range(len(linears) - 1, layer, -1):
            delta = (delta @ linears[m].weight._data) * derivs[m - 1]
        total_paths = float((x_in * delta[:, row]).sum())
    w_value = float(W._data[row, col])
    rate, kind = session.config["reg_rate"], session.config["regularization"]
    penalty_grad = 0.0 if kind == "none" else rate * (np.sign(w_value) if kind == "l1" else w_value)
    return {"type": "inspect", "layer": layer, "row": row, "col": col, "weight": w_value,
            "name": weight_name(layer, row, col),
            "batch_size": len(index), "n_paths": n_paths, "paths": listed,
            "sum_over_paths": total_paths, "penalty_grad": float(penalty_grad),
            "chain_rule_grad": total_paths + float(penalty_grad), "autodiff_grad": autodiff}
