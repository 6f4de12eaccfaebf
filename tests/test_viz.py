"""steepest.viz: the captured graph's values and gradients against torch, micrograd's README
example and the seed's hand values; its DOT, JSON and PNG renderings; misuse errors."""

from __future__ import annotations

import warnings

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

import steepest as st
from steepest.viz.text import JSON_MAX_ELEMENTS, format_number

REFERENCE = json.loads((Path(__file__).parent / "data" / "reference_values.json").read_text())
TOL = {"rtol": 1e-10, "atol": 1e-12}


def close(actual, expected, **tol):
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               **(tol or TOL))


# ------------------------------------------------------------- intermediate grads vs torch
def _safe_div(a, b):
    return a / (b * b + 1)


# (arity, steepest and torch alike, or (steepest, torch))
OPS = {
    "add": (2, lambda a, b: a + b),
    "sub": (2, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b),
    "matmul": (2, lambda a, b: a @ b),
    "div": (2, _safe_div),
    "tanh": (1, lambda a: a.tanh()),
    "sigmoid": (1, lambda a: a.sigmoid()),
    "relu": (1, lambda a: a.relu()),
    "neg": (1, lambda a: -a),
    "transpose": (1, lambda a: a.T),
    "scale": (1, lambda a: a * 0.7),
    "square": (1, lambda a: a ** 2),
    "plus_column_sums": (1, lambda a: a + a.sum(0, keepdims=True)),
    "exp_tanh": (1, lambda a: a.tanh().exp()),
}


@hst.composite
def expressions(draw):
    """A random program over 3x3 tensors: which op, on which earlier values (reuse allowed)."""
    n_leaves = draw(hst.integers(1, 3))
    constant = draw(hst.lists(hst.booleans(), min_size=n_leaves, max_size=n_leaves))
    steps = []
    for k in range(draw(hst.integers(1, 8))):
        name = draw(hst.sampled_from(sorted(OPS)))
        operands = [draw(hst.integers(0, n_leaves + k - 1)) for _ in range(OPS[name][0])]
        steps.append((name, operands))
    return n_leaves, constant, steps, draw(hst.integers(0, 2**16))


def _run(program, make, finish):
    n_leaves, constant, steps, seed = program
    rng = np.random.default_rng(seed)
    values = [make(rng.uniform(-1.5, 1.5, (3, 3)), not (c and i > 0))  # leaf 0 learns
              for i, c in enumerate(constant)]
    for name, operands in steps:
        values.append(OPS[name][1](*(values[i] for i in operands)))
    weights = rng.standard_normal((3, 3))
    return values, finish(values[-1], weights) + values[0].sum()  # leaf 0 always counts


@settings(max_examples=40, deadline=None)
@given(program=expressions())
def test_every_node_grad_equals_torch_retain_grad(program):
    st_values, st_out = _run(program, lambda a, g: st.tensor(a, requires_grad=g),
                             lambda v, w: (v * st.tensor(w)).sum())
    captured = st.viz.graph(st_out)

    def make_torch(a, g):
        return torch.tensor(a, dtype=torch.float64, requires_grad=g)
    torch_values, torch_out = _run(program, make_torch, lambda v, w: (v * torch.tensor(w)).sum())
    for t in torch_values:
        if t.requires_grad and not t.is_leaf:
            t.retain_grad()
    torch_out.backward()

    close(captured.output.value, torch_out.detach().numpy())
    checked = 0
    for st_value, torch_value in zip(st_values, torch_values):
        try:
            node = captured.node(st_value)
        except KeyError:  # not an ancestor of the output
            continue
        close(node.value, torch_value.detach().numpy())
        if torch_value.requires_grad:
            close(node.grad, torch_value.grad.numpy())
            checked += 1
        else:
            assert node.grad is None and node.op == "leaf"
    assert checked >= 1
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert all(v.grad is None for v in st_values)  # the capture leaves .grad alone
    # reading .grad of an intermediate that requires grad warns, as in torch; none, no warning
    warned = any("not a leaf" in str(w.message) for w in caught)
    assert warned == any(v.requires_grad for v in st_values[program[0]:])


@settings(max_examples=25, deadline=None)
@given(program=expressions())
def test_a_node_grad_is_the_sum_of_the_products_on_its_outgoing_edges(program):
    _, out = _run(program, lambda a, g: st.tensor(a, requires_grad=g),
                  lambda v, w: (v * st.tensor(w)).sum())
    captured = st.viz.graph(out)
    for node in captured.nodes[:-1]:
        products = [e.product for e in captured.edges if e.source == node.id]
        if node.requires_grad:
            close(node.grad, np.sum(products, axis=0))
        else:
            assert all(p is None for p in products)
    close(captured.output.grad, 1.0)


def test_a_seed_gradient_for_a_non_scalar_output_matches_torch_backward():
    rng = np.random.default_rng(3)
    a, seed = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x = st.tensor(a, requires_grad=True)
    h = x.tanh()
    y = h * x
    captured = st.viz.graph(y, gradient=seed)
    xt = torch.tensor(a, requires_grad=True)
    ht = xt.tanh()
    ht.retain_grad()
    (ht * xt).backward(torch.tensor(seed))
    close(captured.node(h).grad, ht.grad.numpy())
    close(captured.node(x).grad, xt.grad.numpy())


# ------------------------------------------------------------- micrograd's README example
def micrograd_example(
        leaf=lambda value: st.tensor(value, requires_grad=True, dtype=st.float64)):
    """micrograd's README expression on 0-d tensors made by ``leaf`` (steepest's by default,
    torch's for the oracle; float64, as micrograd's Python floats); returns every named value."""
    a = leaf(-4.0)
    b = leaf(2.0)
    c = a + b
    d = a * b + b ** 3
    c = c + (c + 1)
    c = c + (1 + c + (-a))
    d = d + (d * 2 + (b + a).relu())
    d = d + (3 * d + (b - a).relu())
    e = c - d
    f = e ** 2
    g = f / 2.0
    g = g + 10.0 / f
    return dict(a=a, b=b, c=c, d=d, e=e, f=f, g=g)


def test_micrograd_readme_example_values_and_grads():
    v = micrograd_example()
    captured = st.viz.graph(v["g"])
    # micrograd 0.1.0 prints g.data 24.7041, a.grad 138.8338, b.grad 645.5773 (4 decimals)
    assert captured.output.value.item() == pytest.approx(24.7041, abs=5e-5)
    assert captured.node(v["a"]).grad.item() == pytest.approx(138.8338, abs=5e-5)
    assert captured.node(v["b"]).grad.item() == pytest.approx(645.5773, abs=5e-5)
    # 2 leaves and 25 ops; 14 binary ops (2 edges each) and 11 unary ones
    assert (len(captured.nodes), len(captured.edges)) == (27, 39)
    # and the same leaves' grads through steepest's own backward
    v["g"].backward()
    close(captured.node(v["a"]).grad, v["a"].grad)
    close(captured.node(v["b"]).grad, v["b"].grad)


def test_micrograd_example_intermediate_grads_equal_torch():
    v = micrograd_example()
    captured = st.viz.graph(v["g"])
    torch_all = micrograd_example(
        lambda value: torch.tensor(value, dtype=torch.float64, requires_grad=True))
    torch_values = {key: torch_all[key] for key in "cdefg"}
    for t in torch_values.values():
        t.retain_grad()
    torch_all["g"].backward()
    for key, t in torch_values.items():
        close(captured.node(v[key]).value, t.detach().numpy())
        close(captured.node(v[key]).grad, t.grad.numpy())
    close(captured.node(v["a"]).grad, torch_all["a"].grad.numpy())


# ------------------------------------------------------------- the course's examples
def test_seed_exercise_graph_shows_G1_on_W1():
    ref = REFERENCE["notebook_exercise"]
    inputs, target = st.tensor(ref["input"]), st.tensor(ref["target"])
    W1 = st.tensor(np.tile(ref["W1_row"], (4, 1)), requires_grad=True)
    loss = st.mean((inputs @ W1 - target) ** 2)
    captured = st.viz.graph(loss, names={"W1": W1, "input": inputs, "target": target})
    node = captured.node(W1)
    assert node.name == "W1" and node.op == "leaf"
    close(node.grad, ref["gradient"], rtol=1e-9)
    close(captured.output.value, ref["loss"], rtol=1e-9)
    assert captured.node(inputs).grad is None  # a constant: no gradient flows into it
    # DOT/JSON carry G1 in full (16 elements: written out, not summarised)
    assert captured.to_dict()["nodes"][node.id]["grad"] == ref["gradient"]
    assert "[26 20 28 12]" in captured.to_dot()


def test_two_neuron_chain_locals_and_products_equal_the_hand_chain_rule():
    ref = REFERENCE["two_neuron_chain"]
    x, T, w1, b1, w2, b2 = (st.tensor(ref[k], requires_grad=k not in "xT", dtype=st.float64)
                            for k in ("x", "T", "w1", "b1", "w2", "b2"))
    m1 = w1 * x
    z1 = m1 + b1
    a1 = z1.sigmoid()
    m2 = w2 * a1
    z2 = m2 + b2
    a2 = z2.sigmoid()
    E = st.losses.half_sse(a2, T)
    captured = st.viz.graph(E)

    def edge(source, target):
        (found,) = [e for e in captured.edges if e.source == captured.node(source).id
                    and e.target == captured.node(target).id]
        return found

    a1v, a2v = ref["a1"], ref["a2"]
    close(edge(a2, E).local, -(ref["T"] - a2v))                 # ∂E/∂a2 = −(T − a2)
    close(edge(z2, a2).local, a2v * (1 - a2v))                  # σ'(z2)
    close(edge(a1, m2).local, ref["w2"])                        # ∂z2/∂a1 = w2
    close(edge(w2, m2).local, a1v)                              # ∂z2/∂w2 = a1
    close(edge(w1, m1).local, ref["x"])                         # ∂z1/∂w1 = x
    assert edge(x, m1).local is None and edge(x, m1).product is None  # x is a constant
    close(edge(z1, a1).local, a1v * (1 - a1v))                  # σ'(z1)
    delta2 = -(ref["T"] - a2v) * a2v * (1 - a2v)
    close(captured.node(z2).grad, delta2)
    close(edge(b2, z2).product, ref["dE_db2"])
    close(captured.node(w2).grad, ref["dE_dw2"])
    close(captured.node(w1).grad, ref["dE_dw1"])
    close(captured.node(b1).grad, ref["dE_db1"])
    for e in captured.edges:  # on scalar edges the product is the child's grad × the local
        if e.product is not None:
            close(e.product, captured.nodes[e.target].grad * e.local)


# ------------------------------------------------------------- renderings
def test_dot_has_every_node_and_edge_and_each_label_carries_value_and_grad():
    v = micrograd_example()
    captured = st.viz.graph(v["g"], names={"a": v["a"], "b": v["b"]})
    dot = captured.to_dot()
    assert dot.startswith("digraph") and "rankdir=LR" in dot
    labels = dict(re.findall(r'^\s+n(\d+) \[label="([^"]*)"', dot, flags=re.M))
    assert len(labels) == 27
    assert len(re.findall(r"^\s+n\d+ -> n\d+", dot, flags=re.M)) == 39
    for node in captured.nodes:
        label = labels[str(node.id)]
        assert f"data {format_number(node.value)}" in label
        assert f"grad {format_number(node.grad)}" in label
    assert labels[str(captured.node(v["a"]).id)].startswith("a\\l")


def test_json_contract():
    v = micrograd_example()
    v["a"].name = "a"
    captured = st.viz.graph(v["g"])
    data = json.loads(captured.to_json())
    assert len(data["nodes"]) == 27 and len(data["edges"]) == 39
    assert len(data["derivatives"]) == 39 and data["output"] == 26
    assert [n["id"] for n in data["nodes"]] == list(range(27))
    for node, entry in zip(captured.nodes, data["nodes"]):
        assert set(entry) >= {"id", "op", "name", "shape", "value", "grad"}
        assert entry["value"] == pytest.approx(node.value.item(), rel=1e-15)
        assert entry["grad"] == pytest.approx(node.grad.item(), rel=1e-15)
        assert entry["op"] == ("leaf" if node.is_leaf else node.op) and entry["op"]
    by_id = {n["id"]: n for n in data["nodes"]}
    assert by_id[captured.node(v["a"]).id]["name"] == "a"
    assert by_id[captured.node(v["b"]).id]["name"] is None
    assert all(0 <= s < t <= 26 for s, t in data["edges"])  # parents before children


def test_json_summarises_large_arrays_and_writes_non_finite_numbers_as_null():
    n = int(np.sqrt(JSON_MAX_ELEMENTS)) + 1
    big = st.tensor(np.arange(n * n, dtype=float).reshape(n, n), requires_grad=True)
    out = (big * 2).sum()
    data = json.loads(st.viz.graph(out).to_json())
    value = data["nodes"][0]["value"]
    assert value["summary"] is True and value["shape"] == [n, n]
    assert value["mean"] == pytest.approx((n * n - 1) / 2) and value["max"] == n * n - 1
    x = st.tensor([1.0, 0.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        out = st.log(x).sum()
    data = json.loads(st.viz.graph(out).to_json())  # strict JSON: allow_nan=False inside
    assert data["nodes"][1]["value"][1] is None and data["output"] == 2


def test_from_dict_round_trips_what_draw_needs():
    captured = st.viz.graph(micrograd_example()["g"])
    again = st.viz.Graph.from_dict(captured.to_dict())
    assert again.to_dot() == captured.to_dot()


def test_draw_writes_a_png_headless_with_one_box_per_node(tmp_path):
    captured = st.viz.graph(micrograd_example()["g"])
    fig = captured.draw(tmp_path / "graph.png")
    assert isinstance(fig, Figure)
    assert (tmp_path / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax = fig.axes[0]
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == 27
    texts = [t.get_text() for t in ax.texts]
    assert any("grad 138.8" in t for t in texts)  # a's box
    assert any("local" in t for t in texts)       # the derivatives along edges


def test_draw_into_a_given_axes_returns_its_figure(tmp_path):
    fig = Figure()
    ax = fig.add_subplot()
    captured = st.viz.graph(micrograd_example()["g"])
    assert captured.draw(ax=ax) is fig
    fig.savefig(tmp_path / "on_axes.svg")
    assert (tmp_path / "on_axes.svg").read_text().lstrip().startswith("<?xml")


def test_a_large_graph_is_collapsed_by_op_with_a_note(tmp_path):
    model = st.nn.Sequential(*[m for _ in range(60) for m in (st.nn.Linear(3, 3), st.nn.Tanh())])
    out = model(st.randn(4, 3)).sum()
    captured = st.viz.graph(out)
    assert len(captured.nodes) == 1 + 120 + 120 + 1  # input, 120 parameters, 120 ops, sum
    summary = captured.collapsed()
    assert sum(n.count for n in summary.nodes) == len(captured.nodes)
    assert sum(e.count for e in summary.edges) == len(captured.edges)
    counts = {n.name or n.op: n.count for n in summary.nodes}
    assert counts == {"constants": 1, "parameters": 120, "Linear": 60, "Tanh": 60, "Sum": 1}
    fig = captured.draw(tmp_path / "big.png")
    assert any("collapsed by op" in t.get_text() for t in fig.axes[0].texts)
    small = st.viz.graph(micrograd_example()["g"]).draw()
    assert not any("collapsed" in t.get_text() for t in small.axes[0].texts)


def test_names_from_named_parameters_label_the_nodes():
    model = st.nn.Sequential(st.nn.Linear(2, 2), st.nn.Tanh())
    out = model(st.tensor([[1.0, 2.0]])).sum()
    captured = st.viz.graph(out, names=model.named_parameters())
    assert {n.name for n in captured.nodes if n.requires_grad and n.is_leaf} == \
        {"0.weight", "0.bias"}


# ------------------------------------------------------------- misuse
def test_capture_after_backward_that_freed_the_graph_says_what_to_do():
    v = micrograd_example()
    v["g"].backward()
    with pytest.raises(RuntimeError, match=r"already freed.*before calling backward\(\).*"
                                           r"retain_graph=True"):
        st.viz.graph(v["g"])


def test_capture_after_backward_with_retain_graph_works_and_keeps_leaf_grads():
    v = micrograd_example()
    v["g"].backward(retain_graph=True)
    a_grad = v["a"].grad.numpy().copy()
    captured = st.viz.graph(v["g"])
    close(captured.node(v["a"]).grad, a_grad)
    np.testing.assert_array_equal(v["a"].grad, a_grad)  # not accumulated into a second time


def test_non_scalar_output_without_gradient_is_an_error():
    y = st.tensor([1.0, 2.0], requires_grad=True) * 3
    with pytest.raises(RuntimeError, match=r"shape \(2,\).*gradient="):
        st.viz.graph(y)
    with pytest.raises(ValueError, match=r"gradient has shape \(3,\)"):
        st.viz.graph(y, gradient=[1.0, 2.0, 3.0])


def test_a_tensor_without_a_graph_is_an_error():
    with pytest.raises(RuntimeError, match="no recorded graph.*requires_grad=True"):
        st.viz.graph(st.tensor(2.0, requires_grad=True))
    x = st.tensor(2.0, requires_grad=True)
    with st.no_grad():
        y = x * 3
    with pytest.raises(RuntimeError, match="no recorded graph"):
        st.viz.graph(y)
    with pytest.raises(TypeError, match="steepest Tensor, got float"):
        st.viz.graph(2.0)


def test_node_lookup_of_a_foreign_tensor_is_a_key_error():
    captured = st.viz.graph(micrograd_example()["g"])
    with pytest.raises(KeyError, match="not part of the captured graph"):
        captured.node(st.tensor(1.0))


# ------------------------------------------------------------- the tour's lesson
def test_backpropagation_lesson_graph_equals_its_hand_chain_rule(tmp_path):
    from steepest.lessons import backpropagation
    from steepest.report.figures import render_figures

    lesson = backpropagation()
    captured = st.viz.Graph.from_dict(lesson.data["graph"])
    nodes = {n.name: n for n in captured.nodes}
    assert set(nodes) == {"x", "w1", "b1", "z1", "a1", "w2", "b2", "z2", "a2", "T", "E"}

    def local(source, target):
        (edge,) = [e for e in captured.edges
                   if (e.source, e.target) == (nodes[source].id, nodes[target].id)]
        return edge.local.item()

    factors, chain = lesson.data["factors"], lesson.data["chain_rule"]
    close(local("a2", "E"), factors["dE/da2 = −(T − a2)"])
    close(local("z2", "a2"), factors["da2/dz2 = a2(1 − a2)"])
    close(local("w2", "z2"), factors["dz2/dw2 = a1"])
    close(local("a1", "z2"), factors["dz2/da1 = w2"])
    close(local("z1", "a1"), factors["da1/dz1 = a1(1 − a1)"])
    close(local("w1", "z1"), factors["dz1/dw1 = x"])
    for parameter in ("w1", "b1", "w2", "b2"):
        close(nodes[parameter].grad.item(), chain[f"dE_d{parameter}"])
    ref = REFERENCE["two_neuron_chain"]
    for key in ("z1", "a1", "z2", "a2", "E"):
        close(nodes[key].value.item(), ref[key])
    (graph_figure,) = [f for f in render_figures(lesson, tmp_path) if "graph" in f.file]
    assert (tmp_path / graph_figure.file).read_bytes()[:4] == b"\x89PNG"
    assert "chain-rule factors" in graph_figure.caption


# ------------------------------------------------------------- dtypes, labels, depth
def test_float32_graph_keeps_float32_and_matches_torch():
    rng = np.random.default_rng(5)
    a, w = rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal((3, 2))
    x = st.tensor(a, requires_grad=True)
    W = st.tensor(w.astype(np.float32), requires_grad=True)
    h = (x @ W).tanh()
    captured = st.viz.graph((h * h).mean())
    xt = torch.tensor(a, requires_grad=True)
    Wt = torch.tensor(w.astype(np.float32), requires_grad=True)
    ht = (xt @ Wt).tanh()
    ht.retain_grad()
    (ht * ht).mean().backward()
    assert captured.node(h).grad.dtype == np.float32
    close(captured.node(h).grad, ht.grad.numpy(), rtol=1e-5, atol=1e-6)
    close(captured.node(W).grad, Wt.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_integer_tensors_are_constant_leaves_and_everything_renders(tmp_path):
    counts = st.tensor(np.array([0, 2]))
    x = st.tensor([1.5, -0.5], requires_grad=True)
    captured = st.viz.graph((x * counts).sum())
    node = captured.node(counts)
    assert node.op == "leaf" and node.grad is None and node.label == "constant"
    close(captured.node(x).grad, [0.0, 2.0])
    assert json.loads(captured.to_json())["nodes"][node.id]["value"] == [0, 2]
    assert "data [0 2]" in captured.to_dot()
    captured.draw(tmp_path / "int.png")
    assert (tmp_path / "int.png").read_bytes()[:4] == b"\x89PNG"


def test_a_deep_chain_is_captured_iteratively_and_drawn_collapsed():
    x = st.tensor(1.0, requires_grad=True, dtype=st.float64)  # compared to 1e-9 below
    y = x
    for _ in range(3000):
        y = y * 1.0001
    captured = st.viz.graph(y)
    assert len(captured.nodes) == 3001 and len(captured.edges) == 3000
    close(captured.node(x).grad, 1.0001 ** 3000, rtol=1e-9)
    fig = captured.draw()
    assert any("+2999 edges within" in t.get_text() for t in fig.axes[0].texts)


def test_a_graph_shows_itself_as_a_png_in_jupyter():
    assert st.viz.graph(micrograd_example()["g"])._repr_png_()[:4] == b"\x89PNG"
