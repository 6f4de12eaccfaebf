"""Lesson 4: the vanishing gradient, measured layer by layer in deep networks.

Three deep MLPs that differ only in their hidden activation (sigmoid, tanh, ReLU) are trained
on the same real task, the 8x8 handwritten digits, from the same seed, with the same
initialisation rule (Glorot-uniform scaled by each activation's gain, ``mlp(...,
weight_init='xavier')``), the same batches and the same plain gradient descent. The gradient
norm of every Linear weight is measured on the whole training set at initialisation and after
every epoch (``steepest.training.diagnostics.gradient_norms``).
"""

from __future__ import annotations

import numpy as np

from steepest import losses, nn
from steepest.data import load_digits, train_test_split
from steepest.lessons._base import Lesson, Table, timed
from steepest.optim import GD
from steepest.tensor import tensor
from steepest.training.callbacks import Callback
from steepest.training.diagnostics import gradient_norms, relative_update_norms
from steepest.training.loop import evaluate, fit

__all__ = ["vanishing_gradient", "deep_mlp"]

COURSE = [
    "With the sigmoid, the derivative of the activation is between 0 and 1 (at most 0.25), "
    "so gradients become very small as they are propagated backward through the network.",
    "In a network with many layers the gradients of the weights in the earlier layers become "
    "very small: neurons in earlier layers learn very slowly, training takes longer, and "
    "accuracy may suffer.",
    "Gradient = ∂E/∂a_n · ∂a_n/∂z_n · ∂z_n/∂w_i: a product in which the sigmoid's derivative "
    "appears once per layer. This is why sigmoid (and tanh) are avoided in deep networks and "
    "ReLU is preferred in hidden layers.",
]


def deep_mlp(activation: str, hidden_layers: int, width: int, n_in: int = 64,
             n_out: int = 10, seed: int = 0, weight_init: str = "xavier"):
    """A deep MLP with ``hidden_layers`` hidden layers of ``width`` units, reproducibly built."""
    return nn.mlp([n_in] + [width] * hidden_layers + [n_out], activation=activation,
                     weight_init=weight_init, generator=np.random.default_rng(seed))


class _Probe(Callback):
    """Loss and per-layer weight-gradient norms on the whole training set, after each epoch
    of ``fit`` (and once by hand at initialisation); leaves no gradient behind."""

    def __init__(self, X, y):
        self.X, self.y = tensor(X), tensor(y)
        self.losses, self.norms, self.layers = [], [], []

    def record(self, model) -> None:
        model.zero_grad()
        loss = losses.cross_entropy(model(self.X), self.y)
        loss.backward()
        norms = gradient_norms(model)
        model.zero_grad()
        self.losses.append(loss.item())
        self.norms.append([float(v) for v in norms.values()])
        self.layers = list(norms)

    def on_epoch_end(self, epoch, logs=None) -> None:
        self.record(self.model)


def _geometric_shrink(norms) -> float:
    """The typical factor by which the norm changes per layer going back (geometric mean)."""
    norms = np.asarray(norms, dtype=float)
    if len(norms) < 2 or np.any(norms <= 0):
        return float("nan")
    return float((norms[0] / norms[-1]) ** (1.0 / (len(norms) - 1)))


def vanishing_gradient(activations=("sigmoid", "tanh", "relu"), hidden_layers: int = 10,
                       width: int = 32, epochs: int = 10, batch_size: int = 32,
                       lr: float = 0.02, n_train: int | None = None, seed: int = 0,
                       weight_init: str = "xavier") -> Lesson:
    """Run lesson 4.

    activations : hidden activations to compare (same everything else).
    hidden_layers, width : the depth and width of the networks.
    epochs, batch_size, lr : plain mini-batch gradient descent (``st.optim.GD``).
    n_train : use only the first ``n_train`` training rows (for quick runs); None: all 1437.
    seed : seeds the split, the weights and the batch order.
    weight_init : passed to ``st.nn.mlp`` ('xavier' scales by the activation's gain).
    """
    with timed() as clock:
        X, y = load_digits()
        X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, seed=seed,
                                                          stratify=True)
        if n_train is not None:
            X_train, y_train = X_train[:n_train], y_train[:n_train]

        runs = {}
        for activation in activations:
            model = deep_mlp(activation, hidden_layers, width, n_in=X.shape[1], seed=seed,
                             weight_init=weight_init)
            probe = _Probe(X_train, y_train)
            probe.record(model)
            initial = model.state_dict()
            accuracy0 = evaluate(model, losses.cross_entropy, X_val, y_val)["accuracy"]
            history = fit(model, losses.cross_entropy, GD(model.parameters(), lr=lr),
                          X_train, y_train, epochs=epochs, batch_size=batch_size,
                          validation_data=(X_val, y_val), callbacks=[probe], seed=seed,
                          verbose=0)
            moved = list(relative_update_norms(initial, model).values())
            norms_by_epoch = np.array(probe.norms)
            ratios = norms_by_epoch[:, 0] / norms_by_epoch[:, -1]
            layer_names = probe.layers
            runs[activation] = {
                "norms": norms_by_epoch, "ratio_first_last": ratios,
                "ratio_at_init": float(ratios[0]), "ratio_at_end": float(ratios[-1]),
                "shrink_per_layer_at_init": _geometric_shrink(norms_by_epoch[0]),
                "train_loss": np.array(probe.losses),
                "val_accuracy": np.array([accuracy0] + history.history["val_accuracy"]),
                "weight_change": np.array(moved),
            }

        findings = []
        for activation, run in runs.items():
            n = run["norms"][0]
            findings.append(
                f"{activation}: at initialisation the first layer's gradient norm is "
                f"{n[0]:.3g} and the last layer's {n[-1]:.3g} (ratio {run['ratio_at_init']:.3g}; "
                f"×{run['shrink_per_layer_at_init']:.3g} per layer going back); after {epochs} "
                f"epochs the ratio is {run['ratio_at_end']:.3g}, the training loss "
                f"{run['train_loss'][-1]:.3f} and the validation accuracy "
                f"{run['val_accuracy'][-1]:.1%}.")
        if "sigmoid" in runs and "relu" in runs:
            s, r = runs["sigmoid"], runs["relu"]
            chance = 1.0 / len(np.unique(y))
            findings.append(
                f"The sigmoid network's first-to-last gradient ratio ({s['ratio_at_init']:.2g}) "
                f"is {r['ratio_at_init'] / s['ratio_at_init']:.2g} times smaller than the ReLU "
                f"network's ({r['ratio_at_init']:.2g}). In {epochs} epochs the first sigmoid "
                f"layer's weights moved by {s['weight_change'][0]:.2g} of their initial norm "
                f"(its last layer's by {s['weight_change'][-1]:.2g}), the first ReLU layer's by "
                f"{r['weight_change'][0]:.2g}. The sigmoid network ends at "
                f"{s['val_accuracy'][-1]:.1%} validation accuracy (chance: {chance:.0%}) where "
                f"ReLU reaches {r['val_accuracy'][-1]:.1%}.")

        if "tanh" in runs:
            t = runs["tanh"]
            vanishes = t["ratio_at_init"] < 1e-2
            findings.append(
                f"tanh: ratio {t['ratio_at_init']:.3g} at initialisation, so at this depth and "
                + ("with this initialisation its gradient vanishes too, as the course warns."
                   if vanishes else
                   "with gain-scaled initialisation its gradient does not vanish: its "
                   "derivative is up to 1 (the sigmoid's at most 0.25). The course's warning "
                   "about tanh applies when its units saturate (large |z|)."))

        ratio_table = Table(
            "First-to-last-layer gradient-norm ratio",
            ["activation", "‖∂L/∂W_first‖ at init", "‖∂L/∂W_last‖ at init", "ratio at init",
             "factor per layer (ratio^(1/(L−1)))", f"ratio after {epochs} epochs",
             "‖ΔW_first‖/‖W_first‖", "train loss", "val accuracy"],
            [[a, r["norms"][0][0], r["norms"][0][-1], r["ratio_at_init"],
              r["shrink_per_layer_at_init"], r["ratio_at_end"], r["weight_change"][0],
              r["train_loss"][-1], f"{r['val_accuracy'][-1]:.1%}"] for a, r in runs.items()],
            note=f"{hidden_layers} hidden layers of {width} units, {weight_init} "
                 f"initialisation (scaled by each activation's gain), GD lr = {lr:g}, "
                 f"batch {batch_size}, {len(X_train)} "
                 f"training and {len(X_val)} validation digits (st.fit); norms and loss on "
                 f"the whole training set; ‖ΔW_first‖/‖W_first‖: how far training moved the "
                 f"first layer's weights, relative to their initial norm.")
        depth_table = Table(
            "Gradient norm per layer at initialisation",
            ["layer (1 = next to the input)", "module"] + list(runs),
            [[i + 1, name] + [runs[a]["norms"][0][i] for a in runs]
             for i, name in enumerate(layer_names)],
            note="‖∂L/∂W‖ of each Linear weight; 'module' is its index in the Sequential.")

    return Lesson(
        name="vanishing_gradient", title="4. The vanishing gradient in deep networks",
        course=COURSE, tables=[ratio_table, depth_table], findings=findings,
        data={"layers": layer_names, "runs": runs, "epochs": list(range(epochs + 1)),
              "n_train": len(X_train), "n_val": len(X_val)},
        params={"activations": list(activations), "hidden_layers": hidden_layers,
                "width": width, "epochs": epochs, "batch_size": batch_size, "lr": lr,
                "n_train": n_train, "seed": seed, "weight_init": weight_init},
        seconds=clock.seconds)
