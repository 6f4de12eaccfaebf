"""The playground's session code, without server or browser: training, validation, views.

Truth comes from outside the code under test: hand-derived updates, torch.optim on the 2-D
paths, steepest's autodiff for the chain-rule sums, a fresh Session for the race, and the
exported script re-run from scratch.
"""

import base64
import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as hs

import steepest as st
from steepest.playground import chain, export, paths
from steepest.playground.config import (LARGEST_NETWORK, MAX_CLASSES, MAX_LAYERS, MAX_NEURONS,
                                        NETWORK_OPTIMIZERS, PATH_OPTIMIZERS, ConfigError,
                                        validate_config)
from steepest.playground.datasets import DATASETS, FEATURES, features, make_dataset
from steepest.playground.session import GRID, Race, Session, build_model, grid_points


def decode_unit(text: str) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.uint8) / 127.5 - 1.0


@pytest.mark.parametrize("bad, field", [
    ({"dataset": "banana"}, "dataset"),
    ({"hidden": [4] * 50}, "hidden"),
    ({"hidden": [9]}, "hidden[0]"),
    ({"lr": -0.1}, "lr"),
    ({"lr": float("nan")}, "lr"),
    ({"batch_size": 0}, "batch_size"),
    ({"features": []}, "features"),
    ({"features": ["x3"]}, "features"),
    ({"activation": "swish"}, "activation"),
    ({"activations": ["relu"]}, "activations"),
    ({"dataset": "plane", "loss": "bce"}, "loss"),
    ({"dataset": "blobs", "loss": "bce"}, "loss"),
    ({"dataset": "custom", "points": [[0, 0, 0]]}, "custom"),
    ({"points": [[0, 0, 9]]}, "points[0]"),
    ({"momentum": 1.5}, "momentum"),
    ({"optimizer": "sgd", "nesterov": True}, "nesterov"),
    ({"wings": 2}, "wings"),
    ({"lr": 10 ** 400}, "lr"),
])
def test_bad_config_names_the_field(bad, field):
    with pytest.raises(ConfigError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Session(bad)


def test_limits_allow_the_largest_network():
    cfg = validate_config({"hidden": [8] * MAX_LAYERS})
    assert cfg["activations"] == ["tanh"] * MAX_LAYERS


def test_batch_larger_than_training_set_uses_the_whole_set():
    session = Session({"n_samples": 40, "batch_size": 30})
    assert session.config["batch_size"] == 20 and session.steps_per_epoch == 1


def test_gd_step_is_lr_times_gradient_and_lr_changes_without_reset():
    session = Session({"optimizer": "gd", "lr": 0.1, "hidden": [3]})
    session.step(5)
    weights = [p.numpy().copy() for p in session.model.parameters()]
    session.set_lr(0.5)
    assert all(np.array_equal(w, p.numpy()) for w, p in zip(weights, session.model.parameters()))
    index = session._next_batch()
    session.model.zero_grad()
    session.batch_loss(index).backward()
    grads = [p.grad.numpy().copy() for p in session.model.parameters()]
    session.step(1)
    for w, g, p in zip(weights, grads, session.model.parameters()):
        np.testing.assert_allclose(p.numpy(), w - 0.5 * g, rtol=1e-12, atol=1e-15)
    assert session.lr_changes == [[5, 0.5]]


def test_divergence_stops_with_an_explanation_and_no_nan():
    session = Session({"optimizer": "sgd", "lr": 10.0, "hidden": [8, 8], "activation": "relu",
                       "dataset": "plane"})
    taken = session.step(500)
    assert taken < 500 and session.diverged is not None
    message = session.diverged["message"]
    assert "diverged at step" in message and "learning rate 10" in message and "smaller" in message
    assert session.step(5) == 0
    json.dumps(session.snapshot(), allow_nan=False)


def test_output_heatmap_is_the_networks_prediction_on_the_grid():
    session = Session({"dataset": "xor", "features": ["x1", "x2", "x1x2"], "hidden": [4]})
    session.step(50)
    snap = session.snapshot()
    expected = st.predict(session.model, features(grid_points(), ["x1", "x2", "x1x2"]))
    probability = 1 / (1 + np.exp(-expected[:, 0]))
    np.testing.assert_allclose(decode_unit(snap["output"]["data"]), 2 * probability - 1, atol=1 / 127)
    assert snap["output"]["size"] == GRID and len(snap["neurons"]) == 1 and len(snap["neurons"][0]) == 4


def test_multiclass_heatmap_holds_classes_and_softmax_cross_entropy():
    session = Session({"dataset": "spirals", "n_classes": 4, "hidden": [8]})
    assert session.task.kind == "classes" and session.task.n_outputs == 4
    out = session.model(st.tensor(session.X_train))
    expected = torch.nn.functional.cross_entropy(torch.tensor(out.numpy()),
                                                 torch.tensor(session.y_train)).item()
    assert session.dataset_loss(session.X_train, session.T_train) == pytest.approx(expected, rel=1e-12)
    classes = np.frombuffer(base64.b64decode(session.snapshot()["output"]["class"]), np.uint8)
    assert classes.max() < 4


def test_binary_step_stops_gradient_to_earlier_layers():
    session = Session({"hidden": [4, 4], "activations": ["tanh", "binary_step"], "optimizer": "sgd",
                       "lr": 0.1})
    first = session.model[0].weight.numpy().copy()
    session.step(20)
    snap = session.snapshot()
    assert snap["grad_norms"][0] == 0 and snap["grad_norms"][1] == 0 and snap["grad_norms"][2] > 0
    assert np.array_equal(first, session.model[0].weight.numpy())
    assert any("Binary step" in note for note in snap["notes"])


def test_dead_relu_units_are_counted():
    session = Session({"hidden": [4], "activation": "relu"})
    session.model[0].bias.numpy()[:2] = -1e3
    assert session.snapshot()["dead_relu"] == 2


def test_update_ratio_matches_karpathy_formula():
    session = Session({"optimizer": "gd", "lr": 0.1, "hidden": [3]})
    session.step(1)
    w, g = session.model[0].weight.numpy(), session.model[0].weight.grad.numpy()
    expected = math.log10(0.1 * np.std(g) / np.std(w))
    assert session.snapshot()["update_ratios"][0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("cfg", [
    {"hidden": [3, 2], "regularization": "l2", "reg_rate": 0.01},
    {"dataset": "blobs", "hidden": [4, 3], "activation": "relu", "regularization": "l1", "reg_rate": 0.003},
    {"dataset": "plane", "hidden": [], "features": ["x1", "x2", "sinx1"]},
    {"hidden": [8] * 6, "activation": "sigmoid"},   # 32,768 paths: summed by back-propagation
])
def test_chain_rule_sum_over_paths_equals_autodiff(cfg):
    session = Session({**cfg, "optimizer": "adam", "lr": 0.02})
    session.step(13)
    n_layers = len(cfg["hidden"]) + 1
    for layer in range(n_layers):
        result = chain.inspect_weight(session, layer, 0, 1)
        assert result["chain_rule_grad"] == pytest.approx(result["autodiff_grad"], rel=1e-9, abs=1e-15)
        if result["paths"]:
            first = result["paths"][0]
            assert first["units"][0] == 0 and len(first["units"]) == n_layers - layer
    with pytest.raises(ConfigError, match="layer"):
        chain.inspect_weight(session, n_layers, 0, 0)


def test_exported_python_reproduces_the_weights_exactly():
    session = Session({"dataset": "spirals", "loss": "mse", "hidden": [5, 3], "activation": "leaky_relu",
                       "regularization": "l1", "reg_rate": 0.001, "optimizer": "sgd",
                       "momentum": 0.9, "nesterov": True, "schedule": "cosine", "schedule_steps": 50})
    session.step(37)
    session.set_lr(0.01)
    session.step(25)
    namespace = {"__name__": "exported"}
    exec(compile(export.python_code(session)["content"], "exported", "exec"), namespace)
    for mine, theirs in zip(session.model.parameters(), namespace["model"].parameters()):
        assert np.array_equal(mine.numpy(), theirs.numpy())


def test_checkpoint_export_loads_into_a_fresh_model(tmp_path):
    session = Session({"hidden": [3]})
    session.step(10)
    message = export.checkpoint(session)
    path = tmp_path / "run.npz"
    path.write_bytes(base64.b64decode(message["content"]))
    fresh = build_model({**session.config, "seed": 99}, 1)
    saved = st.load(path)                       # the plain st.load reads it (issue 25)
    fresh.load_state_dict(saved["model"])
    for a, b in zip(session.model.parameters(), fresh.parameters()):
        assert np.array_equal(a.numpy(), b.numpy())
    assert saved["steps"] == 10 and saved["playground_config"]["hidden"] == [3]
    optimizer = st.optim.SGD(fresh.parameters(), lr=0.5)
    optimizer.load_state_dict(saved["optimizer"])
    assert optimizer.param_groups[0]["lr"] == session.lr
    run = json.loads(export.run_json(session)["content"])
    assert run["steps"] == 10 and run["config"]["hidden"] == [3]


def test_race_shares_start_and_matches_standalone_sessions():
    base = {"hidden": [4], "dataset": "moons"}
    race = Race(base, [{"optimizer": "sgd", "lr": 0.1, "momentum": 0.9}, {"optimizer": "adam", "lr": 0.01}])
    for p, q in zip(*(s.model.parameters() for s in race.sessions)):
        assert np.array_equal(p.numpy(), q.numpy())
    race.step(30)
    alone = Session({**base, "optimizer": "adam", "lr": 0.01})
    alone.step(30)
    snap = race.snapshot()
    assert [r["name"] for r in snap["runs"]] == ["SGD momentum 0.9 lr 0.1", "Adam lr 0.01"]
    assert snap["runs"][1]["train_loss"] == alone.snapshot()["train_loss"]
    assert snap["runs"][0]["train_loss"] != snap["runs"][1]["train_loss"]
    with pytest.raises(ConfigError, match="2 to 4"):
        Race(base, [{"optimizer": "sgd"}])


def test_lr_range_test_proposes_a_rate_and_leaves_weights():
    session = Session({"hidden": [4]})
    before = [p.numpy().copy() for p in session.model.parameters()]
    result = session.lr_range()
    assert 1e-5 <= result["suggested_lr"] <= 10
    assert all(np.array_equal(b, p.numpy()) for b, p in zip(before, session.model.parameters()))


def test_gd_path_on_quadratic_matches_the_closed_form():
    request = paths.check_request({"function": "quadratic", "start": [-3.0, 2.0], "steps": 25,
                                   "optimizers": [{"optimizer": "gd", "lr": 0.04}]})
    path = np.array(paths.run_paths(**request)["runs"][0]["path"])
    t = np.arange(26)
    np.testing.assert_allclose(path[:, 0], -3.0 * (1 - 0.04) ** t, rtol=1e-12)
    np.testing.assert_allclose(path[:, 1], 2.0 * (1 - 0.04 * 20) ** t, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("function", list(paths.FUNCTIONS))
def test_paths_match_torch_optimizers(function):
    request = paths.check_request({"function": function, "steps": 60})
    result = paths.run_paths(**request)
    f = paths.FUNCTIONS[function]
    for run, cfg in zip(result["runs"], request["optimizers"]):
        xy = torch.tensor(request["start"], dtype=torch.float64, requires_grad=True)
        if cfg["optimizer"] == "adam":
            opt = torch.optim.Adam([xy], lr=cfg["lr"])
        elif cfg["optimizer"] == "rmsprop":
            opt = torch.optim.RMSprop([xy], lr=cfg["lr"])
        else:
            opt = torch.optim.SGD([xy], lr=cfg["lr"], momentum=cfg["momentum"] or 0.0)
        expected = [xy.detach().numpy().copy()]
        for _ in range(60):
            opt.zero_grad()
            f(xy).backward()
            opt.step()
            expected.append(xy.detach().numpy().copy())
        np.testing.assert_allclose(np.array(run["path"]), np.array(expected), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("bad, text", [
    ({"function": "himmelblau"}, "unknown function"),
    ({"start": [100, 0]}, "start"),
    ({"steps": 0}, "steps"),
    ({"optimizers": [{"optimizer": "lion"}]}, "optimizers\\[0\\]"),
])
def test_bad_paths_requests_are_refused(bad, text):
    with pytest.raises(ConfigError, match=text):
        paths.check_request(bad)


def test_datasets_are_reproducible_and_on_the_plane():
    for name in DATASETS:
        if name == "custom":
            continue
        X, y = make_dataset(name, 200, 0.1, 3, 3)
        X2, y2 = make_dataset(name, 200, 0.1, 3, 3)
        assert np.array_equal(X, X2) and np.array_equal(y, y2)
        assert X.shape == (200, 2) and np.abs(X).max() <= 7.5



_LEAF = hs.one_of(hs.none(), hs.booleans(), hs.integers(-10**6, 10**6),
                  hs.floats(allow_nan=True, allow_infinity=True), hs.text(max_size=8),
                  hs.sampled_from(["circle", "spirals", "custom", "relu", "adam", "l1", "x1"]))
JSON_VALUES = hs.recursive(_LEAF, lambda inner: hs.lists(inner, max_size=4), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(hs.dictionaries(hs.sampled_from(sorted(validate_config({}))), JSON_VALUES, max_size=4))
def test_any_json_config_builds_a_session_or_gets_a_config_error(raw):
    try:
        session = Session(raw)
    except ConfigError as error:
        assert str(error)
        return
    session.step(2)
    json.dumps(session.snapshot(), allow_nan=False)


@settings(max_examples=200, deadline=None)
@given(hs.dictionaries(hs.sampled_from(["function", "start", "steps", "optimizers"]), JSON_VALUES,
                       max_size=3))
def test_any_paths_request_is_accepted_or_refused_with_a_config_error(raw):
    try:
        paths.check_request(raw)
    except ConfigError as error:
        assert str(error)


def test_a_penalty_that_blows_up_stops_the_run_with_an_explanation():
    """lr · L2 rate > 2 makes the weights grow whatever the data loss does (MSE on sigmoid
    outputs stays bounded): the run must stop and say so, never stream inf."""
    session = Session({"loss": "mse", "regularization": "l2", "reg_rate": 10, "lr": 1})
    session.step(400)
    assert session.diverged is not None
    assert all(np.isfinite(p.numpy()).all() for p in session.model.parameters())
    json.dumps(session.snapshot(), allow_nan=False)


def test_the_chain_rule_inspector_leaves_the_training_gradients_alone():
    session = Session({"optimizer": "sgd", "lr": 0.05})
    session.step(5)
    before = [p.grad.numpy().copy() for p in session.model.parameters()]
    chain.inspect_weight(session, 0, 0, 1)
    for grad, p in zip(before, session.model.parameters()):
        np.testing.assert_array_equal(p.grad, grad)


def test_a_learning_rate_that_only_oscillates_is_explained_with_numbers():
    """SGD at lr 10 on the circle bounces (loss 1-3, no divergence): named while it bounces."""
    session = Session({"lr": 10.0, "seed": 0})
    session.step(600)
    snap = session.snapshot()
    assert session.diverged is None
    note = snap["overshoot"]
    assert "learning rate 10 is too large" in note and "lr/3 = 3.33" in note and "cosine -" in note
    calm = Session({"lr": 0.03, "seed": 0})
    calm.step(600)
    assert calm.snapshot()["overshoot"] is None


def test_adam_stalling_above_its_minimum_gets_the_softer_note():
    session = Session({"optimizer": "adam", "lr": 0.3, "seed": 0})
    session.step(600)
    note = session.snapshot()["overshoot"]
    assert "stopped falling" in note and "lr/3 = 0.1" in note


def test_divergence_quotes_the_training_loss_read_out():
    session = Session({"dataset": "plane", "hidden": [8, 8], "activation": "relu", "lr": 10})
    session.step(100)
    snap = session.snapshot()
    assert snap["diverged"]["loss"] == snap["train_loss"]
    assert f"{snap['train_loss']:.4g}" in snap["diverged"]["message"]


def test_dead_relus_come_with_advice():
    session = Session({"lr": 10.0, "activation": "relu", "seed": 0})
    session.step(300)
    note = next(n for n in session.snapshot()["notes"] if "dead" in n)
    assert "smaller learning rate" in note and "leaky ReLU" in note and "seed" in note


def test_the_inspector_names_weights_one_way_in_header_and_factors():
    from steepest.playground import chain

    session = Session({"hidden": [3, 2], "seed": 1})
    session.step(2)
    result = chain.inspect_weight(session, 0, 1, 0)
    assert result["name"] == "W1[1, 0]"
    names = [f["name"] for p in result["paths"] for f in p["factors"] if f["name"].startswith("W")]
    assert names and all(n.startswith(("W2[", "W3[")) for n in names)
    first = result["paths"][0]
    assert first["factors"][2]["name"] == f"W2[{first['units'][1]}, {first['units'][0]}]"


def test_fresh_weights_on_the_same_data():
    """TF Playground's reset: init_seed draws new weights; the data, split and order stay."""
    a, b = Session({"hidden": [3]}), Session({"hidden": [3], "init_seed": 7})
    assert np.array_equal(a.points_train, b.points_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(np.asarray(a.model[0].weight.data), np.asarray(b.model[0].weight.data))
    assert a.config["init_seed"] == 0 and Session({"seed": 5}).config["init_seed"] == 5


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_lr_range_starts_from_the_starting_weights_and_its_proposal_trains(optimizer):
    """The proposal does not depend on how far the network has trained, and it works."""
    fresh, trained = Session({"optimizer": optimizer}), Session({"optimizer": optimizer})
    trained.step(500)
    proposal = fresh.lr_range()["suggested_lr"]
    assert trained.lr_range()["suggested_lr"] == proposal
    run = Session({"optimizer": optimizer, "lr": proposal})
    run.step(1500)
    assert run.snapshot(with_heatmaps=False)["train_loss"] < 0.25


def test_weights_and_biases_edited_by_hand_are_kept_and_exported():
    session = Session({"hidden": [3, 2]})
    session.step(10)
    session.edit(0, 1, 0, 2.5)
    session.edit(1, 0, None, -0.75)                      # a bias
    assert np.asarray(session.model[0].weight.data)[1, 0] == 2.5
    assert np.asarray(session.model[2].bias.data)[0] == -0.75
    session.step(15)
    session.edit(2, 0, 1, 0.125)
    namespace = {"__name__": "exported"}
    exec(compile(export.python_code(session)["content"], "exported", "exec"), namespace)
    for mine, theirs in zip(session.model.parameters(), namespace["model"].parameters()):
        assert np.array_equal(np.asarray(mine.data), np.asarray(theirs.data))
    for bad, text in [((5, 0, 0, 1.0), "layer"), ((0, 9, 0, 1.0), "row"), ((0, 0, 7, 1.0), "col"),
                      ((0, 0, 0, 1e9), "value"), ((0, 0, 0, float("nan")), "value")]:
        with pytest.raises(ConfigError, match=text):
            session.edit(*bad)


@pytest.mark.parametrize("name", list(paths.catalogue.OPTIMIZERS))
def test_every_catalogue_optimizer_works_in_the_playground(name):
    """Session, export (bit-exact), race and paths accept every entry of optim.catalogue that
    they offer; the networks refuse the others with the catalogue's reason."""
    if name in NETWORK_OPTIMIZERS:
        session = Session({"optimizer": name, "lr": 0.01, "hidden": [3]})
        session.step(7)
        namespace = {"__name__": "exported"}
        exec(compile(export.python_code(session)["content"], "exported", "exec"), namespace)
        for mine, theirs in zip(session.model.parameters(), namespace["model"].parameters()):
            assert np.array_equal(np.asarray(mine.data), np.asarray(theirs.data)), name
        race = Race({"hidden": [2]}, [{"optimizer": name}, {"optimizer": "sgd"}])
        assert race.step(3) == 3
    else:
        why = (rf"optimizer '{name}' is not offered for the playground's networks: {name} .*: "
               rf"offered for models up to .* parameters, the playground's largest network "
               rf"has 478")
        with pytest.raises(ConfigError, match=why):
            Session({"optimizer": name, "hidden": [1]})
        with pytest.raises(ConfigError, match=why):
            Race({"hidden": [1]}, [{"optimizer": name}, {"optimizer": "sgd"}])
    request = {"optimizers": [{"optimizer": name}], "steps": 5}
    if name in PATH_OPTIMIZERS:
        result = paths.run_paths(**paths.check_request(request))
        assert len(result["runs"][0]["path"]) == 6
    else:
        with pytest.raises(ConfigError, match=rf"paths: optimizers\[0\]: optimizer '{name}' is "
                                              rf"not offered for the 2-D paths: {name}'s own "
                                              rf"update is for weight matrices"):
            paths.check_request(request)


def test_the_largest_network_has_the_parameters_the_menus_are_filtered_for():
    cfg = {"dataset": "blobs", "n_classes": MAX_CLASSES, "loss": "ce",
           "features": list(FEATURES), "hidden": [MAX_NEURONS] * MAX_LAYERS}
    session = Session(cfg)
    assert sum(p.numel() for p in session.model.parameters()) == LARGEST_NETWORK == 478
    assert "newton" in PATH_OPTIMIZERS and "newton" not in NETWORK_OPTIMIZERS
    assert "lbfgs" in NETWORK_OPTIMIZERS and "lbfgs" in PATH_OPTIMIZERS
    assert "muon" in NETWORK_OPTIMIZERS and "muon" not in PATH_OPTIMIZERS
    newton = paths.catalogue.OPTIMIZERS["newton"]
    assert not newton.offered_for(LARGEST_NETWORK) and newton.offered_for(2)


@pytest.mark.parametrize("function", ["quadratic", "rosenbrock", "saddle"])
def test_newton_and_lbfgs_paths_follow_torchs_hessian_and_land_where_the_lesson_says(function):
    """Default lr 1 on the paths: Newton solves the quadratic in one step, reaches
    Rosenbrock's (1, 1), and lands on the saddle point (0, 0), which damping 3 escapes."""
    from test_newton import torch_newton

    landscape = paths.FUNCTIONS[function]
    request = paths.check_request({"function": function, "steps": 20, "optimizers": [
        {"optimizer": "newton"}, {"optimizer": "newton", "damping": 3.0},
        {"optimizer": "lbfgs"}]})
    assert [cfg["lr"] for cfg in request["optimizers"]] == [1.0, 1.0, 1.0]
    newton, damped, lbfgs = paths.run_paths(**request)["runs"]
    for run, damping in ((newton, 0.0), (damped, 3.0)):
        expected = [np.array(landscape.start)]
        for _ in range(20):
            expected.append(torch_newton(landscape.f, expected[-1], 1, 1.0, damping))
        np.testing.assert_allclose(run["path"], expected, rtol=1e-10, atol=1e-12)
    end = np.array(newton["path"][-1])
    if function == "quadratic":
        np.testing.assert_allclose(newton["path"][1], [0.0, 0.0], atol=1e-12)
    elif function == "rosenbrock":
        np.testing.assert_allclose(end, [1.0, 1.0], atol=1e-9)
    else:
        np.testing.assert_allclose(end, [0.0, 0.0], atol=1e-12)       # the saddle point
        np.testing.assert_allclose(damped["path"][-1], landscape.optimum, atol=1e-3)  # x·0.6^k
    np.testing.assert_allclose(lbfgs["path"][-1], landscape.optimum, atol=1e-4)


def test_multiclass_maps_carry_every_class_probability_for_smooth_colours():
    session = Session({"dataset": "blobs", "n_classes": 4, "hidden": [4]})
    layout, frame = session.map_frame()
    parts = layout["output"]["parts"]
    assert parts == ["class", "conf", "p0", "p1", "p2", "p3"] and len(frame) >= 6 * 1600
    probs = np.stack([np.frombuffer(frame[i * 1600:(i + 1) * 1600], np.uint8) / 255.0
                      for i in range(2, 6)])
    np.testing.assert_allclose(probs.sum(axis=0), 1.0, atol=4 / 255)


def test_the_critical_learning_rate_is_two_over_the_dense_hessians_top_eigenvalue():
    """The snapshot's 2/λ_max (Lanczos, 12 products) against eigh of the dense Hessian."""
    from steepest import curvature

    session = Session({"lr": 0.03, "seed": 0})
    session.step(30)
    snap = session.snapshot()
    dense = curvature.HessianOperator(session.model, session.task.loss,
                                      st.tensor(session.X_train),
                                      st.tensor(session.T_train)).dense()
    expected = 2.0 / np.linalg.eigvalsh(dense)[-1]
    assert snap["critical_lr"] == pytest.approx(expected, rel=1e-6)
    assert "critical_lr" in json.loads(json.dumps(snap))


def test_the_overshoot_note_names_two_over_lambda_exactly_when_the_lr_exceeds_it():
    from steepest.playground.session import Trend

    numbers = {"loss": 2.0, "lowest": 1.0, "cosine": -0.6, "flipping": True}
    assert "lr 3 > 2/λ_max = 1.4" in Trend.explain(numbers, 3.0, 1.4)
    assert "2/λ_max" not in Trend.explain(numbers, 1.0, 1.4)
    assert "2/λ_max" not in Trend.explain(numbers, 3.0, None)
    # SGD at lr 10 with batches of 10 bounces, yet the full-batch 2/λ_max after 600 steps is
    # above 10: mini-batch noise, not the full-batch curvature, makes it bounce; the note
    # then says nothing of 2/λ_max
    session = Session({"lr": 10.0, "seed": 0})
    session.step(600)
    snap = session.snapshot()
    assert ("2/λ_max" in snap["overshoot"]) == (snap["critical_lr"] < 10.0)


# --------------------------------------------------------------------------- schedules

#: a setting per scheduler that makes its lr move within 30 steps
SCHEDULE_SETTINGS = {
    "step": {"step_size": 7}, "exponential": {"gamma": 0.9}, "cosine": {"T_max": 12},
    "linear": {"total_iters": 10}, "onecycle": {"total_steps": 40}, "constant": {},
    "polynomial": {"total_iters": 20, "power": 2.0}, "warm_restarts": {"T_0": 5, "T_mult": 2},
    "cyclic": {"step_size_up": 4, "mode": "triangular2"},
    "plateau": {"patience": 1, "factor": 0.5, "threshold": 0.1},
}


@pytest.mark.parametrize("name", list(st.optim.catalogue.SCHEDULERS))
def test_every_catalogue_schedule_steps_as_torchs_and_exports_bit_exactly(name):
    """The playground steps its schedule after every training step (plateau with the batch's
    loss before the update); the learning rates are torch's scheduler's, stepped alike."""
    config = {"hidden": [3], "optimizer": "momentum", "lr": 0.05, "schedule": name,
              **SCHEDULE_SETTINGS[name]}
    session = Session(config)
    lrs, losses = [], []
    for _ in range(30):
        session.step(1)
        lrs.append(session.lr)
        losses.append(session._last_loss)
    values = st.optim.catalogue.validate("scheduler", name, SCHEDULE_SETTINGS[name])
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.05, momentum=0.9)
    scheduler = getattr(torch.optim.lr_scheduler,
                        st.optim.catalogue.SCHEDULERS[name].cls.__name__)(opt, **values)
    expected = []
    for loss in losses:
        opt.step()
        scheduler.step(*([loss] if name == "plateau" else []))
        expected.append(opt.param_groups[0]["lr"])
    np.testing.assert_allclose(lrs, expected, rtol=1e-12, atol=1e-15)
    assert len(set(lrs)) > 1, "the schedule should move the lr in this test"
    assert session.config["schedule"] == name
    namespace = {"__name__": "exported"}
    exec(compile(export.python_code(session)["content"], "exported", "exec"), namespace)
    for mine, theirs in zip(session.model.parameters(), namespace["model"].parameters()):
        assert np.array_equal(mine.numpy(), theirs.numpy()), name
    assert namespace["optimizer"].param_groups[0]["lr"] == session.lr


@pytest.mark.parametrize("old, expected", [
    ({"schedule": "constant", "schedule_steps": 500}, {"schedule": "none"}),
    ({"schedule": "step", "schedule_steps": 300}, {"schedule": "step", "step_size": 300,
                                                   "gamma": 0.5}),
    ({"schedule": "exponential", "schedule_steps": 100},
     {"schedule": "exponential", "gamma": 0.1 ** (1 / 100)}),
    ({"schedule": "cosine", "schedule_steps": 50}, {"schedule": "cosine", "T_max": 50,
                                                    "eta_min": 0.0}),
    ({"schedule_steps": 1000}, {"schedule": "none"}),
])
def test_configs_of_the_old_schedule_menu_are_translated(old, expected):
    cfg = validate_config(old)
    assert "schedule_steps" not in cfg
    for key, value in expected.items():
        assert cfg[key] == value, key
    # the old 'exponential' divided the lr by 10 over N steps
    if old.get("schedule") == "exponential":
        session = Session({**old, "lr": 0.1})
        session.step(100)
        assert session.lr == pytest.approx(0.01, rel=1e-12)


@pytest.mark.parametrize("bad, text", [
    ({"schedule": "sgdr"}, "unknown schedule 'sgdr'; expected one of none, step"),
    ({"schedule": "cosine", "T_max": 0}, "schedule cosine: T_max must be a whole number in "
                                         "[1, ∞), got 0"),
    ({"schedule": "cosine", "gamma": 0.5}, "schedule 'cosine' has no setting 'gamma'; it takes "
                                           "T_max, eta_min"),
    ({"T_0": 5}, "schedule 'none' has no setting 'T_0'; it takes no settings"),
    ({"schedule": "cyclic", "mode": "min"}, "schedule cyclic: mode must be one of"),
    ({"optimizer": "rprop", "schedule": "cyclic", "cycle_momentum": True},
     "schedule CyclicLR: cycle_momentum=True needs an optimizer with momentum"),
    ({"schedule": "warm_restarts", "schedule_steps": 100},
     "schedule_steps belongs to the old schedules (constant, step, exponential, cosine), not "
     "'warm_restarts'"),
    ({"schedule": "cosine", "schedule_steps": 0}, "schedule_steps must be in [1, 1000000]"),
])
def test_bad_schedule_settings_name_the_setting(bad, text):
    with pytest.raises(ConfigError) as error:
        validate_config(bad)
    assert text in str(error.value)
