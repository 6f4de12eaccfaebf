"""Lesson 3: backpropagation through the course's chain of two sigmoid neurons.

x → z1 = w1·x + b1 → a1 = σ(z1) → z2 = w2·a1 + b2 → a2 = σ(z2) → E = ½(T − a2)².

The network is ``Sequential(Linear(1, 1), Sigmoid(), Linear(1, 1), Sigmoid())`` with the
course's weights set by hand, the error is ``st.losses.half_sse`` and the update
``st.optim.GD(lr=0.4)``. The chain-rule factors are computed from the forward values and
multiplied out by hand, beside the gradients autodiff produces, so the two can be compared.
``data["graph"]`` is the chain's graph captured by :func:`steepest.viz.graph` (its JSON
contract): every node's value and ∂E/∂node, every edge's local derivative and product.
"""

from __future__ import annotations

import numpy as np

from steepest import losses, nn, viz
from steepest.optim import GD
from steepest.tensor import tensor
from steepest.lessons._base import Lesson, Table, timed

__all__ = ["backpropagation", "two_neuron_chain"]

COURSE = [
    "Training is supervised: the error E = ½ Σ (T − a2)² between the prediction a2 and the "
    "ground truth T is propagated back through the network to adjust weights and biases.",
    "Backpropagation applies the chain rule: ∂E/∂w2 = −(T − a2) × a2(1 − a2) × a1, and "
    "similarly for the biases and the first neuron; then w ← w − learning rate × gradient.",
    "Example: one input x = 0.1 and two neurons (w1 = 0.15, b1 = 0.4, w2 = 0.45, b2 = 0.65), "
    "ground truth T = 0.25, learning rate 0.4. Forward propagation, error, backpropagation and "
    "update are repeated until the error is small or a maximum number of iterations is reached.",
]


def two_neuron_chain(w1=0.15, b1=0.4, w2=0.45, b2=0.65):
    """The course's network as a steepest model, with the weights set by hand."""
    model = nn.Sequential(nn.Linear(1, 1), nn.Sigmoid(), nn.Linear(1, 1),
                             nn.Sigmoid())
    model[0].weight._data[...] = w1
    model[0].bias._data[...] = b1
    model[2].weight._data[...] = w2
    model[2].bias._data[...] = b2
    return model


def _parameters(model) -> dict:
    return {"w1": model[0].weight.item(), "b1": model[0].bias.item(),
            "w2": model[2].weight.item(), "b2": model[2].bias.item()}


def backpropagation(x: float = 0.1, w1: float = 0.15, b1: float = 0.4, w2: float = 0.45,
                    b2: float = 0.65, T: float = 0.25, lr: float = 0.4,
                    stop_below: float = 1e-4, max_iterations: int = 1000,
                    report_iterations=(1, 2, 10, 100)) -> Lesson:
    """Run lesson 3.

    stop_below, max_iterations : training stops before the first iteration whose error is
        below ``stop_below``, or after ``max_iterations`` updates.
    report_iterations : iterations whose error (before the update) is tabulated.
    """
    with timed() as clock:
        model = two_neuron_chain(w1, b1, w2, b2)
        inputs, target = tensor([[x]]), tensor([[T]])
        z1 = model[0](inputs)
        a1 = model[1](z1)
        z2 = model[2](a1)
        a2 = model[3](z2)
        E = losses.half_sse(a2, target)
        graph = viz.graph(E, names={  # captured before backward(), which frees the graph
            "x": inputs, "w1": model[0].weight, "b1": model[0].bias, "z1": z1, "a1": a1,
            "w2": model[2].weight, "b2": model[2].bias, "z2": z2, "a2": a2, "T": target, "E": E})
        E.backward()
        forward = {"x": x, "z1": z1.item(), "a1": a1.item(), "z2": z2.item(),
                   "a2": a2.item(), "E": E.item()}
        autodiff = {"dE_dw1": model[0].weight.grad.item(), "dE_db1": model[0].bias.grad.item(),
                    "dE_dw2": model[2].weight.grad.item(), "dE_db2": model[2].bias.grad.item()}

        a1v, a2v = forward["a1"], forward["a2"]
        factors = {"dE/da2 = −(T − a2)": -(T - a2v), "da2/dz2 = a2(1 − a2)": a2v * (1 - a2v),
                   "dz2/dw2 = a1": a1v, "dz2/da1 = w2": w2,
                   "da1/dz1 = a1(1 − a1)": a1v * (1 - a1v), "dz1/dw1 = x": x}
        f = list(factors.values())
        delta2 = f[0] * f[1]
        delta1 = delta2 * f[3] * f[4]
        chain = {"dE_dw2": (delta2 * f[2], "−(T−a2) · a2(1−a2) · a1"),
                 "dE_db2": (delta2, "−(T−a2) · a2(1−a2)"),
                 "dE_dw1": (delta1 * f[5], "−(T−a2) · a2(1−a2) · w2 · a1(1−a1) · x"),
                 "dE_db1": (delta1, "−(T−a2) · a2(1−a2) · w2 · a1(1−a1)")}

        optimizer = GD(model.parameters(), lr=lr)
        optimizer.step()
        after_one_step = _parameters(model)

        # training from the start: E before each iteration
        model = two_neuron_chain(w1, b1, w2, b2)
        optimizer = GD(model.parameters(), lr=lr)
        errors = []
        stopped_at = None
        for iteration in range(1, max_iterations + 1):
            optimizer.zero_grad()
            error = losses.half_sse(model(inputs), target)
            errors.append(error.item())
            if errors[-1] < stop_below:
                stopped_at = iteration
                break
            error.backward()
            optimizer.step()
        errors = np.array(errors)
        final = _parameters(model)
        output = model(inputs).item()
        E_before = {str(k): float(errors[k - 1]) for k in report_iterations
                    if k <= len(errors)}

        ratio_w = autodiff["dE_dw2"] / autodiff["dE_dw1"]
        ratio_b = autodiff["dE_db2"] / autodiff["dE_db1"]
        max_gap = max(abs(chain[k][0] - autodiff[k]) / abs(autodiff[k]) for k in chain)
        findings = [
            f"Forward: z1 = {forward['z1']:.6g}, a1 = {a1v:.10g}, z2 = {forward['z2']:.10g}, "
            f"a2 = {a2v:.10g}, E = {forward['E']:.10g}.",
            f"The chain-rule products and the autodiff gradients agree to {max_gap:.1e} "
            f"relative: ∂E/∂w2 = {autodiff['dE_dw2']:.10g}, ∂E/∂b2 = {autodiff['dE_db2']:.10g}, "
            f"∂E/∂w1 = {autodiff['dE_dw1']:.10g}, ∂E/∂b1 = {autodiff['dE_db1']:.10g}.",
            f"∂E/∂w1 is {ratio_w:.1f}x smaller than ∂E/∂w2. The ratio is "
            f"a1 / (w2 · a1(1−a1) · x) = {a1v:.3f} / ({w2:g} · {f[4]:.4f} · {x:g}): the gradient "
            f"reaching the first neuron is multiplied by w2 and by the sigmoid derivative "
            f"a1(1−a1) = {f[4]:.4f} (never above 0.25). For the biases, where the input plays "
            f"no part, ∂E/∂b1 is {ratio_b:.2f}x smaller than ∂E/∂b2, the ratio being "
            f"1/(w2 · a1(1−a1)).",
            f"One update with lr = {lr:g}: w1 {w1:g} → {after_one_step['w1']:.10g}, b1 {b1:g} → "
            f"{after_one_step['b1']:.10g}, w2 {w2:g} → {after_one_step['w2']:.10g}, b2 {b2:g} → "
            f"{after_one_step['b2']:.10g}; w1 moves {abs(after_one_step['w1'] - w1):.2e}, w2 "
            f"moves {abs(after_one_step['w2'] - w2):.2e}.",
            ("E before iterations " + ", ".join(f"{k}: {v:.6g}" for k, v in E_before.items())
             + ". " + (f"E fell below {stop_below:g} before iteration {stopped_at}"
                       if stopped_at else f"E was still {errors[-1]:.3g} after "
                       f"{max_iterations} iterations")
             + f"; the output a2 is then {output:.6f} (target {T:g})."),
        ]
        forward_table = Table("Forward pass", ["quantity", "value"],
                              [[k, v] for k, v in forward.items()], digits=16)
        factor_table = Table("Chain-rule factors", ["factor", "value"],
                             [[k, v] for k, v in factors.items()], digits=16)
        gradient_table = Table(
            "Gradients: chain rule by hand vs autodiff",
            ["gradient", "product of factors", "by hand", "autodiff", "relative difference"],
            [[k.replace("dE_d", "∂E/∂"), chain[k][1], chain[k][0], autodiff[k],
              abs(chain[k][0] - autodiff[k]) / abs(autodiff[k])] for k in
             ("dE_dw2", "dE_db2", "dE_dw1", "dE_db1")], digits=16)
        update_table = Table(
            f"One update (lr = {lr:g})", ["parameter", "before", "gradient", "after"],
            [[p, v0, autodiff[f"dE_d{p}"], after_one_step[p]]
             for p, v0 in (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))], digits=16)
        error_table = Table(
            "Error before iteration", ["iteration", "E"],
            [[int(k), v] for k, v in E_before.items()] + [[len(errors), float(errors[-1])]],
            note=(f"Iteration {len(errors)}: the first with E < {stop_below:g}; training stops "
                  f"there." if stopped_at else f"Iteration {len(errors)}: the last one run."),
            digits=16)

    return Lesson(
        name="backpropagation", title="3. Backpropagation through two sigmoid neurons",
        course=COURSE,
        tables=[forward_table, factor_table, gradient_table, update_table, error_table],
        findings=findings,
        data={**forward, "T": T, "lr": lr, "parameters": {"w1": w1, "b1": b1, "w2": w2, "b2": b2},
              "factors": factors, "chain_rule": {k: v[0] for k, v in chain.items()},
              **autodiff, "after_one_step": after_one_step, "errors": errors,
              "E_before_iteration": E_before, "stopped_at": stopped_at,
              "final_parameters": final, "final_output": output,
              "ratio_dw2_dw1": ratio_w, "ratio_db2_db1": ratio_b, "graph": graph.to_dict()},
        params={"x": x, "w1": w1, "b1": b1, "w2": w2, "b2": b2, "T": T, "lr": lr,
                "stop_below": stop_below, "max_iterations": max_iterations},
        seconds=clock.seconds)
