"""The optimizer and scheduler catalogue: every entry builds, steps as torch does, validates
with messages that name what is wrong, prints code that builds the same thing, and travels
as JSON."""

import inspect
import json

import numpy as np
import pytest
import torch

import steepest as st
from steepest.optim import catalogue
from steepest.optim.catalogue import (KINDS, OPTIMIZERS, SCHEDULERS, Entry, Hyperparameter,
                                      build_optimizer, build_scheduler, python_code, to_json,
                                      validate)
from test_muon_aux import TorchMuonWithAuxAdamW  # torch's Muon + AdamW, as one
from test_optim_new import MUON_TOLERANCE
from test_newton import TorchNewton, torch_newton, unflatten  # the reference Newton step

#: steepest classes without a torch class of their own (plain GD; Newton)
TORCH_CLASS = {"GD": torch.optim.SGD, "Newton": TorchNewton,
               "MuonWithAuxAdamW": TorchMuonWithAuxAdamW}
#: entry defaults that differ from the class's on purpose (a preset names a variant)
PRESETS = {("momentum", "momentum"), ("nesterov", "momentum"), ("nesterov", "nesterov"),
           ("onecycle", "cycle_momentum"), ("onecycle", "total_steps"),
           ("cyclic", "cycle_momentum")}


def _torch_optimizer(entry, params, values):
    cls = TORCH_CLASS.get(entry.cls.__name__) or getattr(torch.optim, entry.cls.__name__)
    return cls(params, **values)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_every_optimizer_entry_steps_as_torch_with_its_defaults(name):
    entry = OPTIMIZERS[name]
    w0 = np.array([1.0, -2.0, 0.5])
    c, s = np.array([0.3, 0.1, -0.4]), np.array([1.0, 4.0, 0.25])
    w = st.tensor(w0, dtype=st.float64, requires_grad=True)
    opt = build_optimizer(name, [w])
    tw = torch.tensor(w0, dtype=torch.float64, requires_grad=True)
    tc, ts = st.tensor(c, dtype=st.float64), st.tensor(s, dtype=st.float64)

    def loss():
        opt.zero_grad()
        value = (((w - tc) ** 2) * ts).sum()
        value.backward(retain_graph=True)
        return value

    def torch_loss():
        return (((tw - torch.tensor(c)) ** 2) * torch.tensor(s)).sum()

    topt = _torch_optimizer(entry, [tw], validate("optimizer", name, {}))

    def torch_closure():
        topt.zero_grad()
        value = torch_loss()
        value.backward(create_graph=isinstance(topt, TorchNewton))
        return value
    for _ in range(5):
        if opt.needs_closure:
            opt.step(loss)
            topt.step(torch_closure)
        else:
            loss()
            opt.step()
            torch_closure()
            topt.step()
    np.testing.assert_allclose(w.detach().numpy(), tw.detach().numpy(), rtol=1e-10, atol=1e-12)
    assert not np.allclose(w.detach().numpy(), w0)  # it moved
    assert opt.param_groups[0]["lr"] == entry.default_lr


@pytest.mark.parametrize("name", list(SCHEDULERS))
def test_every_scheduler_entry_sets_the_rates_torch_sets(name):
    entry = SCHEDULERS[name]
    w = st.tensor([1.0], dtype=st.float64, requires_grad=True)
    opt = build_optimizer("momentum", [w], lr=0.1)
    sched = build_scheduler(name, opt)
    tw = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    topt = torch.optim.SGD([tw], lr=0.1, momentum=0.9)
    tsched = getattr(torch.optim.lr_scheduler, entry.cls.__name__)(
        topt, **validate("scheduler", name, {}))
    ours, theirs = [], []
    for _ in range(100):
        opt.step()
        topt.step()
        if name == "plateau":
            sched.step(1.0)
            tsched.step(1.0)
        else:
            sched.step()
            tsched.step()
        ours.append(opt.param_groups[0]["lr"])
        theirs.append(topt.param_groups[0]["lr"])
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)
    assert len(set(ours)) > 1  # the schedule changed the rate within 100 steps


@pytest.mark.parametrize("entry", [*OPTIMIZERS.values(), *SCHEDULERS.values()],
                         ids=lambda e: e.name)
def test_defaults_are_the_class_defaults_except_named_presets(entry):
    keywords = inspect.signature(entry.cls).parameters
    for hp in entry.hyperparameters:
        class_default = keywords[hp.name].default
        if hp.name == "lr":
            assert hp.default == entry.default_lr
        elif class_default is not inspect.Parameter.empty and (entry.name, hp.name) not in PRESETS:
            assert hp.default == class_default, (entry.name, hp.name)
        assert hp.check(hp.default, entry.name) == hp.default or hp.kind == "pair"


def test_optimizers_list_lr_first_and_schedulers_have_no_default_lr():
    for e in OPTIMIZERS.values():
        assert e.hyperparameters[0].name == "lr" and e.default_lr > 0
    for e in SCHEDULERS.values():
        assert e.default_lr is None and "lr" not in e.names


def test_the_momentum_rule_is_data():
    takes_momentum = sorted(n for n, e in OPTIMIZERS.items() if "momentum" in e.names)
    assert takes_momentum == ["momentum", "muon", "nesterov", "rmsprop", "sgd"]
    with pytest.raises(ValueError, match=r"adam: unknown optimizer setting 'momentum'; adam "
                                         r"takes lr, betas"):
        validate("optimizer", "adam", {"momentum": 0.9})


def test_presets_fill_in_and_can_be_overridden():
    assert validate("optimizer", "nesterov", {}) == {
        "lr": 0.01, "momentum": 0.9, "dampening": 0.0, "weight_decay": 0.0, "nesterov": True}
    assert validate("optimizer", "momentum", {"momentum": 0.5})["momentum"] == 0.5


@pytest.mark.parametrize("kind, name, values, message", [
    ("optimizer", "sgdd", {}, r"unknown optimizer 'sgdd'; expected one of gd, sgd, momentum"),
    ("scheduler", "steps", {}, r"unknown scheduler 'steps'; expected one of step, exponential"),
    ("widget", "sgd", {}, r"kind must be 'optimizer' or 'scheduler', got 'widget'"),
    ("optimizer", "sgd", {"lr": 0.0}, r"sgd: lr must be a number in \(0, ∞\), got 0.0"),
    ("optimizer", "sgd", {"lr": -1}, r"sgd: lr must be a number in \(0, ∞\), got -1"),
    ("optimizer", "sgd", {"lr": float("nan")}, r"sgd: lr must be a number .*got nan"),
    ("optimizer", "sgd", {"lr": 10**400}, r"sgd: lr must be a number"),
    ("optimizer", "sgd", {"lr": True}, r"sgd: lr must be a number .*got True"),
    ("optimizer", "sgd", {"lr": "0.1"}, r"sgd: lr must be a number .*got '0.1'"),
    ("optimizer", "sgd", {"momentum": 1.0}, r"sgd: momentum must be a number in \[0, 1\), got 1.0"),
    ("optimizer", "sgd", {"nesterov": 1}, r"sgd: nesterov must be True or False, got 1"),
    ("optimizer", "sgd", {"nesterov": True}, r"SGD: invalid nesterov True; expected momentum > 0"),
    ("optimizer", "adam", {"betas": (0.9,)}, r"adam: betas must be a pair of numbers in \[0, 1\)"),
    ("optimizer", "adam", {"betas": (0.9, 1.0)}, r"adam: betas\[1\] must be a number in \[0, 1\)"),
    ("optimizer", "adam", {"betas": "ab"}, r"adam: betas must be a pair"),
    ("scheduler", "step", {"step_size": 2.5}, r"step: step_size must be a whole number in "
                                              r"\[1, ∞\), got 2.5"),
    ("scheduler", "step", {"step_size": 0}, r"step: step_size must be a whole number"),
    ("scheduler", "onecycle", {"anneal_strategy": "cosine"},
     r"onecycle: anneal_strategy must be one of 'cos', 'linear', got 'cosine'"),
    ("scheduler", "plateau", {"factor": 1.0}, r"plateau: factor must be a number in \(0, 1\)"),
])
def test_validate_names_the_setting_the_value_and_what_was_expected(kind, name, values, message):
    with pytest.raises(ValueError, match=message):
        validate(kind, name, values)


def test_validate_accepts_numpy_scalars_and_lists_for_pairs():
    out = validate("optimizer", "adam", {"lr": np.float32(0.5), "betas": [0.8, np.float64(0.9)]})
    assert out["lr"] == 0.5 and type(out["lr"]) is float
    assert out["betas"] == (0.8, 0.9)
    assert validate("scheduler", "step", {"step_size": np.int64(7)})["step_size"] == 7


def _another_value(hp: Hyperparameter):
    """A valid value other than the default, to show python_code carries every keyword."""
    if hp.kind == "bool":
        return not hp.default
    if hp.kind == "choice":
        return next(c for c in hp.choices if c != hp.default)
    if hp.kind == "pair":
        return (0.5, 0.75)
    if hp.kind == "int":
        return hp.default + 3
    high = hp.high if hp.high is not None else (hp.suggested[1] if hp.suggested else 1.0)
    low = hp.low if hp.low is not None else 0.0
    return (low + high) / 2 if (low + high) / 2 != hp.default else (low + 3 * high) / 4


def _made_by_code(kind, name, values):
    w = st.tensor([1.0], requires_grad=True)
    model = st.nn.Linear(1, 1)
    if kind == "optimizer":
        code = python_code(kind, name, values, "[w]")
        return code, eval(code, {"st": st, "w": w, "model": model}).param_groups[0]
    opt = st.optim.SGD([w], lr=0.1, momentum=0.9)
    code = python_code(kind, name, values, "opt")
    sched = eval(code, {"st": st, "opt": opt})
    return code, {key: getattr(sched, key, None) for key in ("step_size", "gamma", "T_max")}


@pytest.mark.parametrize("entry", [*OPTIMIZERS.values(), *SCHEDULERS.values()],
                         ids=lambda e: e.name)
def test_python_code_builds_what_build_builds(entry):
    kind = "optimizer" if entry.name in OPTIMIZERS else "scheduler"
    tried = 0
    for hp in entry.hyperparameters:
        values = {hp.name: _another_value(hp)}
        try:
            expected = validate(kind, entry.name, values)
        except ValueError as error:  # the class refuses this combination, not the catalogue
            assert str(error).startswith(entry.cls.__name__), error
            continue
        code, made = _made_by_code(kind, entry.name, values)
        assert code.startswith(entry.qualname + "(")
        assert "true" not in code and "false" not in code
        if kind == "optimizer":
            assert {k: made[k] for k in expected} == expected, code
        tried += 1
    assert tried >= len(entry.hyperparameters) - 1


def test_python_code_shows_lr_and_only_keywords_that_differ_from_the_class():
    assert python_code("optimizer", "sgd", {}, "model.parameters()") == \
        "st.optim.SGD(model.parameters(), lr=0.1)"
    assert python_code("optimizer", "momentum", {}, "model.parameters()") == \
        "st.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)"
    assert python_code("optimizer", "adam", {"betas": [0.8, 0.9], "amsgrad": True}, "ps") == \
        "st.optim.Adam(ps, lr=0.01, betas=(0.8, 0.9), amsgrad=True)"
    assert python_code("scheduler", "step", {"step_size": 5}, "opt") == \
        "st.optim.lr_scheduler.StepLR(opt, step_size=5)"


def test_to_json_is_plain_json_with_every_entry_and_its_defaults():
    data = json.loads(json.dumps(to_json(), allow_nan=False))
    assert list(data["optimizers"]) == list(OPTIMIZERS)
    assert list(data["schedulers"]) == list(SCHEDULERS)
    adam = data["optimizers"]["adam"]
    assert adam["class"] == "st.optim.Adam" and adam["default_lr"] == 0.01
    betas = next(h for h in adam["hyperparameters"] if h["name"] == "betas")
    assert betas["default"] == [0.9, 0.999] and betas["kind"] == "pair"
    kinds = {h["kind"] for t in data.values() for e in t.values() for h in e["hyperparameters"]}
    assert kinds == set(KINDS)


def test_an_entry_refuses_a_keyword_its_class_does_not_take():
    with pytest.raises(ValueError, match="catalogue entry gd2: GD has no keyword 'momentum'"):
        Entry("gd2", st.optim.GD, "GD", (Hyperparameter("momentum", 0.0, "float"),), 0.1, "")
    with pytest.raises(ValueError, match="kind must be one of"):
        Hyperparameter("x", 0, "list")


def test_catalogue_is_the_public_module():
    assert st.optim.catalogue is catalogue
    assert set(catalogue.__all__) <= set(dir(catalogue))


# ------------------------------------------------------------------ every entry, every surface

def test_every_optimizer_trains_through_steepest_train(tmp_path, capsys, monkeypatch):
    from steepest.cli import main
    from steepest.report import training_plots

    for plot in ("plot_decision_boundary", "plot_gradient_norms", "plot_training_curves",
                 "plot_step_losses"):  # the plots are test_cli's; here: the optimizer
        if hasattr(training_plots, plot):
            monkeypatch.setattr(training_plots, plot, lambda *args, **kwargs: None)
    monkeypatch.setattr(st.History, "plot", lambda *args, **kwargs: None)
    for name, entry in OPTIMIZERS.items():
        out = tmp_path / name
        assert main(["train", "--data", "moons", "--n-samples", "40", "--hidden", "3",
                     "--epochs", "1", "--optimizer", name, "--out", str(out)]) == 0, name
        config = json.loads((out / "history.json").read_text())["config"]
        assert config["optimizer"] == name and config["lr"] == entry.default_lr
        assert f"{entry.label} lr={entry.default_lr:g}" in capsys.readouterr().out


def test_every_optimizer_runs_in_one_steepest_sweep(tmp_path, capsys):
    from steepest.cli import main
    from steepest.sweeps import read_runs

    out = tmp_path / "sweep"
    assert main(["sweep", "--data", "moons", "--n-samples", "40", "--hidden", "3",
                 "--epochs", "1", "--optimizer", ",".join(OPTIMIZERS), "--lr", "0.01",
                 "--seeds", "1", "--workers", "1", "--out", str(out)]) == 0
    runs = read_runs(out / "runs.jsonl").values()
    assert sorted(r.config["optimizer"] for r in runs) == sorted(OPTIMIZERS)
    assert all(r.status == "ok" for r in runs)


def test_sweep_mlp_builds_each_catalogue_optimizer_with_its_presets(monkeypatch):
    from steepest.sweeps import mlp as sweep_mlp_module

    built = {}
    real = catalogue.build_optimizer

    def spy(name, params, **values):
        built[name] = real(name, params, **values)
        raise KeyboardInterrupt  # stop before training: the optimizer is what is checked
    monkeypatch.setattr(sweep_mlp_module.catalogue, "build_optimizer", spy)
    for name in OPTIMIZERS:
        with pytest.raises(KeyboardInterrupt):
            sweep_mlp_module.sweep_mlp(data="moons", optimizer=name, n_samples=40, hidden=[3])
        group = built[name].param_groups[0]
        assert {k: group[k] for k in OPTIMIZERS[name].names} == validate("optimizer", name, {})


def test_every_optimizer_runs_in_the_optimizers_lesson():
    from steepest.lessons.optimizers import optimizers

    lesson = optimizers(names=list(OPTIMIZERS), quadratic_steps=3, rosenbrock_steps=3,
                        lr_grid=(1e-3, 1e-2), epochs=1, hidden=(4,), n_train=60)
    labels = [e.label for e in OPTIMIZERS.values() if not e.needs_matrices]
    assert lesson.data["names"] == labels and "Muon" not in labels
    assert "Muon is left out of the landscapes: it steps weight matrices, and a landscape's " \
           "point is a vector." in lesson.findings
    # the digits MLP 64-4-10 has 310 parameters: entries offered for fewer are left out, saying why
    n_parameters = 64 * 4 + 4 + 4 * 10 + 10
    assert list(lesson.data["digits"]) == [e.label for e in OPTIMIZERS.values()
                                           if e.offered_for(n_parameters)]
    assert any(f.startswith("Newton is left out of the digits MLP: newton builds the exact")
               and "the digits MLP has 310" in f for f in lesson.findings)
    assert list(lesson.data["landscapes"]["rosenbrock"]["runs"]) == labels


# ------------------------------------------------------------------ small models only (Newton)

def _mlp_problem(hidden):
    model = st.nn.mlp([2, *hidden, 1], activation="tanh", dtype=st.float64,
                      generator=np.random.default_rng(0))
    rng = np.random.default_rng(1)
    return model, rng.normal(size=(16, 2)), rng.normal(size=(16, 1))


def test_newton_is_offered_up_to_its_max_parameters_and_refused_above_with_the_reason():
    newton = OPTIMIZERS["newton"]
    assert newton.max_parameters == catalogue.NEWTON_MAX_PARAMETERS and newton.instead == "lbfgs"
    assert all(e.max_parameters is None for n, e in OPTIMIZERS.items() if n != "newton")
    w = st.tensor(np.zeros(newton.max_parameters), requires_grad=True)
    assert isinstance(build_optimizer("newton", [w]), st.optim.Newton)
    big = st.nn.mlp([784, 64, 10])  # 50,890 parameters, from a generator like model.parameters()
    message = (r"^newton builds the exact n×n Hessian, one Hessian-vector product per "
               r"parameter: offered for models up to 150 parameters, this one has 50,890; "
               r"try lbfgs$")
    with pytest.raises(ValueError, match=message):
        build_optimizer("newton", big.parameters())
    with pytest.raises(ValueError, match="up to 150 parameters, this one has 151;"):
        build_optimizer("newton", [{"params": [st.tensor(np.zeros(151), requires_grad=True)]}])
    with pytest.raises(ValueError, match="this one has 50,890"):
        validate("optimizer", "newton", {}, n_parameters=50_890)
    assert validate("optimizer", "newton", {"damping": 0.5}, n_parameters=150) == \
        {"lr": 1.0, "damping": 0.5}
    assert to_json()["optimizers"]["newton"]["max_parameters"] == 150
    assert build_optimizer("adam", big.parameters()).param_groups[0]["lr"] == 0.01


def test_newton_from_the_catalogue_in_fit_is_torchs_dense_newton_step():
    """fit, full batch, one epoch: one damped Newton step with torch's Hessian."""
    model, X, y = _mlp_problem([4])   # 2-4-1: 17 parameters
    params = list(model.parameters())
    shapes = [tuple(p.shape) for p in params]
    w0 = np.concatenate([p.detach().numpy().ravel() for p in params])
    opt = build_optimizer("newton", model.parameters(), damping=0.5)
    st.fit(model, st.losses.mse, opt, X, y, epochs=1, batch_size=16, shuffle=False,
           verbose=0, metrics=())

    def loss(w):
        w1, b1, w2, b2 = unflatten(w, shapes)
        out = torch.tanh(torch.tensor(X) @ w1.T + b1) @ w2.T + b2
        return ((out - torch.tensor(y)) ** 2).mean()
    expected = torch_newton(loss, w0, 1, 1.0, 0.5)
    got = np.concatenate([p.detach().numpy().ravel() for p in model.parameters()])
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert not np.allclose(got, w0)


def test_newton_in_sweeps_runs_a_small_model_and_refuses_a_large_one():
    from steepest.sweeps import sweep_mlp

    history = sweep_mlp(data="moons", optimizer="newton", lr=1.0, n_samples=40, hidden=[3],
                        epochs=2)   # 2-3-2: 17 parameters
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"][-1])
    with pytest.raises(ValueError, match="newton builds the exact n×n Hessian.*this one has "
                                         "322; try lbfgs"):
        sweep_mlp(data="moons", optimizer="newton", n_samples=40, hidden=[64], epochs=1)


def test_cli_refuses_newton_on_a_large_model_in_one_line(tmp_path, capsys):
    from steepest.cli import main

    code = main(["train", "--data", "moons", "--n-samples", "40", "--hidden", "64",
                 "--epochs", "1", "--optimizer", "newton", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2
    assert err == ("steepest train: error: newton builds the exact n×n Hessian, one "
                   "Hessian-vector product per parameter: offered for models up to 150 "
                   "parameters, this one has 322; try lbfgs\n")


def test_python_code_for_newton_runs_and_takes_the_step_the_catalogue_builds():
    code = python_code("optimizer", "newton", {"damping": 0.25}, "[w]")
    assert code == "st.optim.Newton([w], lr=1.0, damping=0.25)"
    results = []
    for make in (lambda w: eval(code, {"st": st, "w": w}),
                 lambda w: build_optimizer("newton", [w], damping=0.25)):
        w = st.tensor([1.0, -2.0], dtype=st.float64, requires_grad=True)
        opt = make(w)
        opt.step(lambda: ((w * w * w).sum() + (w * w).sum()))
        results.append(w.detach().numpy())
    np.testing.assert_array_equal(*results)
    # (3w² + 2w)/(6w + 2 + 0.25) per coordinate: 5/8.25 and 8/(-9.75)
    np.testing.assert_allclose(results[0], [1 - 5 / 8.25, -2 - 8 / -9.75], rtol=1e-12)


def test_the_module_docstring_and_the_json_name_every_entry_and_its_model_limits():
    for name in [*OPTIMIZERS, *SCHEDULERS]:
        assert f" {name}" in catalogue.__doc__.replace("\n", " "), name
    data = json.loads(json.dumps(to_json()))["optimizers"]
    assert {n for n, e in data.items() if e["needs_matrices"]} == {"muon"}
    assert {n: e["max_parameters"] for n, e in data.items() if e["max_parameters"]} == \
        {"newton": 150}


def test_muon_from_the_catalogue_steps_matrices_with_muon_and_biases_with_adamw():
    model, X, y = _mlp_problem([4])
    opt = build_optimizer("muon", model.parameters(), adamw_lr=0.01)
    assert isinstance(opt, st.optim.MuonWithAuxAdamW) and opt.param_groups[0]["lr"] == 0.02
    tparams = [torch.tensor(p.detach().numpy().copy(), requires_grad=True)
               for p in model.parameters()]
    topt = TorchMuonWithAuxAdamW(tparams, **validate("optimizer", "muon", {"adamw_lr": 0.01}))
    for _ in range(5):
        opt.zero_grad()
        st.losses.mse(model(st.tensor(X)), st.tensor(y)).backward()
        topt.zero_grad()
        w1, b1, w2, b2 = tparams
        out = torch.tanh(torch.tensor(X) @ w1.T + b1) @ w2.T + b2
        ((out - torch.tensor(y)) ** 2).mean().backward()
        opt.step()
        topt.step()
    for p, q in zip(model.parameters(), tparams):  # bfloat16 sums: exact on AVX512-BF16 CPUs
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(),
                                   rtol=MUON_TOLERANCE, atol=1e-12)
