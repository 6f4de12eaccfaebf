"""Lesson 6: GD, SGD with momentum, RMSprop and Adam compared.

Two 2-D landscapes (an ill-conditioned quadratic whose long axis is not aligned with the
coordinates, and Rosenbrock's banana valley): each optimizer runs a fixed number of steps
from the same start at every learning rate of a grid (the whole sweep is kept, so the
sensitivity to the learning rate shows). The rate shown for each optimizer is chosen by
:func:`select_rate` from the measured runs: among the *tame* ones (f never rose above its
starting value, and the path is at most 5 times as long as the straight line to the optimum),
the one that ends nearest the optimum; so a rate that lands near the optimum only after a wild
first phase, at the edge of stability, is not the one shown. Then one MLP, from the same
initial weights, is trained on the 8x8 digits with each optimizer.
All updates are ``st.optim``'s (torch's rules); the losses and gradients are the engine's.
"""

from __future__ import annotations

import numpy as np

from steepest.data import load_digits, train_test_split
from steepest.lessons._base import Lesson, Table, timed
from steepest.losses import cross_entropy
from steepest.nn import mlp
from steepest.optim import catalogue
from steepest.optim.functions import FUNCTIONS, run_path
from steepest.tensor import float64

__all__ = ["optimizers", "OPTIMIZERS", "PROBLEMS", "select_rate", "SELECTION_RULE"]

#: The optimizers compared by default: their catalogue names under their labels (the names
#: the lesson's tables and data use). Any catalogue name or label may be passed as ``names``.
OPTIMIZERS = {catalogue.OPTIMIZERS[n].label: n for n in ("gd", "momentum", "rmsprop", "adam")}

#: Learning rates of the digits MLP where the lesson departs from the catalogue's defaults.
DIGITS_LRS = {"GD": 0.1, "SGD+momentum": 0.01, "RMSprop": 1e-3, "Adam": 1e-3}

COURSE = [
    "An optimization function adjusts the model's weights to minimise the loss. Common ones "
    "are gradient descent and its variants, like Adam and RMSprop; advanced algorithms "
    "adjust the step automatically rather than using one fixed learning rate.",
    "Gradient descent takes a fixed fraction (the learning rate) of the gradient at each "
    "step: too large and it overshoots or diverges, too small and it is slow.",
]

#: The two landscapes, from :data:`steepest.optim.functions.FUNCTIONS`.
PROBLEMS = {key: {"f": fn, "start": fn.start, "optimum": fn.optimum, "title": fn.title,
                  "box": fn.box}
            for key, fn in (("quadratic", FUNCTIONS["rotated_quadratic"]),
                            ("rosenbrock", FUNCTIONS["rosenbrock"]))}


def _entry(name: str) -> catalogue.Entry:
    """The catalogue entry of a catalogue name or label ('SGD+momentum' -> 'momentum')."""
    if name in catalogue.OPTIMIZERS:
        return catalogue.OPTIMIZERS[name]
    by_label = {e.label: e for e in catalogue.OPTIMIZERS.values()}
    if name in by_label:
        return by_label[name]
    raise ValueError(f"optimizers: unknown optimizer {name!r}; expected a name or label of "
                     f"the catalogue: {', '.join(catalogue.OPTIMIZERS)}")


#: How the rate shown for each optimizer is chosen (said on the page, applied by select_rate).
SELECTION_RULE = ("Rate shown: the one ending nearest the optimum among the tame runs of the "
                  "grid, those along which f never rose above its starting value and whose "
                  "path is at most {ratio:g} times as long as the straight line from the start "
                  "to the optimum (no blow-up, no wild oscillation).")


def select_rate(distances, tame) -> int:
    """Index of the learning rate to show: the nearest-ending tame run (or any, if none is).

    ``distances[i]`` is the final distance to the optimum at the i-th rate of the grid,
    ``tame[i]`` whether that run stayed tame (see :data:`SELECTION_RULE`). A rate that lands
    near the optimum only after blowing up or zigzagging across the landscape sits at the edge
    of stability and is not one a practitioner would pick.
    """
    distances = np.where(np.isfinite(distances), np.asarray(distances, dtype=float), np.inf)
    tame = np.asarray(tame, dtype=bool)
    return int(np.argmin(np.where(tame, distances, np.inf)) if tame.any()
               else np.argmin(distances))


def _tameness(path, values, optimum) -> tuple[float, float]:
    """(max f / f(start), path length / straight distance from start to optimum) of a run."""
    with np.errstate(over="ignore", invalid="ignore"):
        peak = float(np.max(values) / values[0])
        length = float(np.sum(np.linalg.norm(np.diff(path, axis=0), axis=1)))
    straight = float(np.linalg.norm(path[0] - np.asarray(optimum)))
    return peak, length / straight


def _distance(path, optimum) -> float:
    with np.errstate(over="ignore", invalid="ignore"):
        d = float(np.linalg.norm(path[-1] - np.asarray(optimum)))
    return d if np.isfinite(d) else float("inf")


def _digits_comparison(names, lrs, hidden, epochs, batch_size, seed, n_train):
    from steepest.training.loop import fit

    X, y = load_digits()
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, seed=seed,
                                                      stratify=True)
    if n_train is not None:
        X_train, y_train = X_train[:n_train], y_train[:n_train]
    sizes = [X.shape[1], *hidden, int(y.max()) + 1]
    results, left_out = {}, {}
    for name in names:
        model = mlp(sizes, activation="relu", dtype=float64,
                    generator=np.random.default_rng(seed))
        n_parameters = sum(p.numel() for p in model.parameters())
        entry = _entry(name)
        try:  # Newton: the catalogue's max_parameters
            entry.check_size(n_parameters, "the digits MLP")
        except ValueError as exc:
            left_out[name] = str(exc)
            continue
        optimizer = catalogue.build_optimizer(entry.name, model.parameters(), lr=lrs[name])
        history = fit(model, cross_entropy, optimizer, X_train, y_train,
                      epochs=epochs, batch_size=batch_size, validation_data=(X_val, y_val),
                      metrics=("accuracy",), seed=seed, verbose=0)
        h = history.history
        results[name] = {"lr": lrs[name], "loss": np.array(h["loss"]),
                         "val_loss": np.array(h["val_loss"]),
                         "accuracy": np.array(h["accuracy"]),
                         "val_accuracy": np.array(h["val_accuracy"])}
    return results, left_out, sizes, len(X_train), len(X_val)


def optimizers(names=tuple(OPTIMIZERS), quadratic_steps: int = 100,
               rosenbrock_steps: int = 1000,
               lr_grid=(1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.2, 0.5),
               digits_lrs=None, hidden=(64, 32), epochs: int = 12, batch_size: int = 32,
               n_train: int | None = None, seed: int = 0,
               max_path_ratio: float = 5.0) -> Lesson:
    """Run lesson 6.

    names : optimizers to compare: catalogue names or labels (default the labels of
        :data:`OPTIMIZERS`); the lesson's data and tables use the labels.
    quadratic_steps, rosenbrock_steps : the fixed number of steps on each landscape.
    lr_grid : learning rates tried on the landscapes (ascending); each optimizer's shown rate
        is picked from them by :func:`select_rate`.
    max_path_ratio : a run is tame only if its path is at most this many times as long as the
        straight line from the start to the optimum (and f never rose above f(start)).
    digits_lrs : learning rate per optimizer for the digits MLP (default: GD 0.1,
        SGD+momentum 0.01, RMSprop 0.001, Adam 0.001, the catalogue's for others).
    hidden, epochs, batch_size, n_train, seed : the digits MLP and its training.
    """
    every = tuple(_entry(n).label for n in names)
    # the landscapes' point is a vector: entries that step weight matrices (Muon) sit them out
    names = tuple(n for n in every if not _entry(n).needs_matrices)
    lr_grid = tuple(sorted(lr_grid))
    digits_lrs = {**{n: DIGITS_LRS.get(n, _entry(n).default_lr) for n in every},
                  **(digits_lrs or {})}
    with timed() as clock:
        landscapes = {}
        for key, problem in PROBLEMS.items():
            steps = quadratic_steps if key == "quadratic" else rosenbrock_steps
            f, start, optimum = problem["f"], problem["start"], problem["optimum"]
            per_optimizer = {}
            for name in names:
                runs = [run_path(f, start, _entry(name).name, steps, lr=lr)[:2]
                        for lr in lr_grid]
                sweep = np.array([_distance(path, optimum) for path, _ in runs])
                peak, path_ratio = np.array([_tameness(path, values, optimum)
                                             for path, values in runs]).T
                tame = (peak <= 1.0) & (path_ratio <= max_path_ratio)  # NaN: not tame
                chosen = select_rate(sweep, tame)
                nearest = int(np.argmin(sweep))
                path, values = runs[chosen]
                per_optimizer[name] = {"lr": float(lr_grid[chosen]), "path": path,
                                       "values": values, "final_distance": float(sweep[chosen]),
                                       "final_value": float(values[-1]), "sweep": sweep,
                                       "peak_over_start": peak, "path_ratio": path_ratio,
                                       "tame": tame,
                                       "nearest_lr": float(lr_grid[nearest]),
                                       "nearest_distance": float(sweep[nearest])}
            landscapes[key] = {"title": problem["title"], "start": list(start),
                               "optimum": list(optimum), "steps": steps,
                               "box": problem["box"], "runs": per_optimizer}

        digits, left_out, sizes, n_tr, n_val = _digits_comparison(
            every, digits_lrs, hidden, epochs, batch_size, seed, n_train)

        rule = SELECTION_RULE.format(ratio=max_path_ratio)
        findings = []
        for key, land in landscapes.items():
            runs = land["runs"]
            ranked = sorted(runs, key=lambda n: runs[n]["final_distance"])
            findings.append(
                f"{land['title']}, {land['steps']} steps from {tuple(land['start'])}: "
                + "; ".join(f"{n} (lr {runs[n]['lr']:g}) ends {runs[n]['final_distance']:.2e} "
                            f"from the optimum" for n in ranked)
                + f". Best: {ranked[0]}, worst: {ranked[-1]}.")
            for n in names:
                run = runs[n]
                if not np.any(run["tame"]):
                    findings.append(f"On the {key}, no {n} run of the grid was tame; the "
                                    f"nearest-ending one, lr {run['lr']:g}, is shown.")
                if run["nearest_lr"] == run["lr"]:
                    continue
                i = lr_grid.index(run["nearest_lr"])
                reasons = []
                if not run["peak_over_start"][i] <= 1.0:
                    reasons.append(f"f rose to {run['peak_over_start'][i]:.3g} times its "
                                   f"starting value on the way")
                if not run["path_ratio"][i] <= max_path_ratio:
                    reasons.append(f"its path was {run['path_ratio'][i]:.3g} times as long as "
                                   f"the straight line to the optimum")
                why = " and ".join(reasons)
                findings.append(
                    f"On the {key}, {n} ended nearest the optimum at lr {run['nearest_lr']:g} "
                    f"({run['nearest_distance']:.2e} away), but {why}; lr {run['lr']:g} is "
                    f"shown.")
            at_edge = [n for n in names if runs[n]["lr"] == max(lr_grid)]
            if at_edge:
                findings.append(
                    f"On the {key}, the rate shown for {' and '.join(at_edge)} is the largest "
                    f"tried ({max(lr_grid):g}); a larger one might end nearer still.")
            if "GD" in runs:
                start_distance = float(np.linalg.norm(np.subtract(land["start"],
                                                                  land["optimum"])))
                sweep = runs["GD"]["sweep"]
                # usable: ends at least 10x nearer the optimum than it started
                usable = [lr for lr, d in zip(lr_grid, sweep) if d < 0.1 * start_distance]
                above = [(lr, d) for lr, d in zip(lr_grid, sweep)
                         if usable and lr > max(usable)]
                if above:
                    lr_bad, d_bad = above[0]
                    if not np.isfinite(d_bad):
                        outcome = "overflows (diverges)"
                    elif d_bad >= start_distance:
                        outcome = f"ends {d_bad:.3g} away, farther than it started"
                    else:
                        outcome = (f"ends {d_bad:.3g} away, hardly nearer than its start "
                                   f"({start_distance:.3g})")
                    findings.append(
                        f"On the {key}, GD gets at least 10x nearer the optimum only up to lr "
                        f"{max(usable):g} in the grid; at {lr_bad:g} it {outcome}. The steepest "
                        f"direction caps the learning rate, and with that cap the progress "
                        f"along the flattest direction is slow.")
        final = {n: digits[n]["val_accuracy"][-1] for n in digits}
        ranked = sorted(final, key=final.get, reverse=True)
        first = {n: digits[n]["val_accuracy"][0] for n in digits}
        findings.append(
            f"Digits MLP {sizes} (ReLU, same initial weights), {epochs} epochs: final "
            f"validation accuracy " + ", ".join(f"{n} {final[n]:.1%}" for n in ranked)
            + "; after the first epoch: " + ", ".join(f"{n} {first[n]:.1%}" for n in first)
            + f". Spread of the final accuracies: {max(final.values()) - min(final.values()):.1%}.")
        findings.extend(f"{n} is left out of the digits MLP: {why}."
                        for n, why in left_out.items())
        findings.extend(f"{n} is left out of the landscapes: it steps weight matrices, and a "
                        f"landscape's point is a vector." for n in every if n not in names)

        landscape_table = Table(
            "Final distance to the optimum",
            ["optimizer"] + [f"{k}: lr" for k in landscapes]
            + [f"{k}: distance after {landscapes[k]['steps']} steps" for k in landscapes],
            [[n] + [landscapes[k]["runs"][n]["lr"] for k in landscapes]
             + [landscapes[k]["runs"][n]["final_distance"] for k in landscapes]
             for n in names],
            note=rule + " Grid: " + ", ".join(f"{v:g}" for v in lr_grid)
            + ". SGD uses momentum 0.9; RMSprop and Adam use torch's defaults (alpha 0.99; "
            "betas (0.9, 0.999), eps 1e-8).")
        sweep_rows = []
        for k, land in landscapes.items():
            for n in names:
                run = land["runs"][n]
                tame = [lr for lr, ok in zip(lr_grid, run["tame"]) if ok]
                sweep_rows.append([k, n] + list(run["sweep"])
                                  + [max(tame) if tame else "—", run["lr"]])
        sweep_table = Table("Learning-rate sweep: final distance to the optimum",
                            ["landscape", "optimizer"] + [f"{v:g}" for v in lr_grid]
                            + ["largest tame lr", "lr shown"],
                            sweep_rows, note="∞: the run overflowed; values far above the "
                                             "start distance: it blew up without overflowing. "
                                             + rule)
        digits_table = Table(
            "Digits MLP: final accuracy",
            ["optimizer", "lr", "train loss (running mean, last epoch)", "val loss",
             "train accuracy", "val accuracy"],
            [[n, digits[n]["lr"], digits[n]["loss"][-1], digits[n]["val_loss"][-1],
              f"{digits[n]['accuracy'][-1]:.1%}", f"{digits[n]['val_accuracy'][-1]:.1%}"]
             for n in digits],
            note=f"MLP {sizes}, ReLU, torch's default initialisation from seed {seed}, "
                 f"batch {batch_size}, {epochs} epochs, {n_tr} training and {n_val} "
                 f"validation digits (st.fit).")

    return Lesson(
        name="optimizers", title="6. Optimizers: GD, momentum, RMSprop, Adam",
        course=COURSE, tables=[landscape_table, digits_table, sweep_table],
        findings=findings,
        data={"names": list(names), "lr_grid": list(lr_grid), "landscapes": landscapes,
              "selection_rule": rule,
              "digits": digits, "digits_sizes": sizes, "epochs": epochs},
        params={"names": list(every), "quadratic_steps": quadratic_steps,
                "rosenbrock_steps": rosenbrock_steps, "lr_grid": list(lr_grid),
                "digits_lrs": digits_lrs, "hidden": list(hidden), "epochs": epochs,
                "batch_size": batch_size, "n_train": n_train, "seed": seed,
                "max_path_ratio": max_path_ratio},
        seconds=clock.seconds)
