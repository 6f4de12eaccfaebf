"""Text renderings of a captured graph: node labels, Graphviz DOT, and the JSON contract.

JSON contract (``Graph.to_dict()``; ``Graph.to_json()`` is the same as text)::

    {"nodes": [{"id": 0, "op": "leaf", "name": "w1", "shape": [1, 1], "dtype": "float64",
                "value": [[0.15]], "grad": [[0.00102]], "requires_grad": true, "count": 1},
               ...],                          # parents before children, the output last
     "edges": [[0, 3], ...],                  # [from_id, to_id]: from is an input of to's op
     "derivatives": [{"local": ..., "product": ...}, ...],   # one per edge, same order
     "output": 7, "note": null}

* ``op`` is ``"leaf"`` for tensors made by the user; ``name`` is None when unset.
* ``value``, ``grad``, ``local`` and ``product`` are a number (one-element tensors), a nested
  list (up to :data:`JSON_MAX_ELEMENTS` elements), or, beyond that, a summary
  ``{"summary": true, "shape": [...], "mean", "std", "min", "max"}``; ``grad`` is None for
  tensors that do not require grad, ``local`` None where it is not recorded (targets with
  more than one element). Non-finite numbers (nan, ±inf) become None, so the text is strict
  JSON.
"""

from __future__ import annotations

import json
import math

import numpy as np

from steepest.viz.structure import Edge, GraphData, Node

__all__ = ["JSON_MAX_ELEMENTS", "FULL_VALUES_MAX", "to_dict", "to_json", "parse_dict", "to_dot",
           "node_lines", "edge_text", "format_number", "fill_color"]

#: Arrays with more elements are summarised in the JSON (mean, std, min, max).
JSON_MAX_ELEMENTS = 256
#: Arrays with at most this many elements are written out in full in labels (DOT, drawing).
FULL_VALUES_MAX = 16


# ------------------------------------------------------------------ labels
def format_number(x, digits: int = 4) -> str:
    """``x`` with ``digits`` significant digits: 0.6023, 0.001021, 125.2, -3.2e+07."""
    text = f"{float(x):.{digits}g}"
    return "0" if text == "-0" else text


def _format_array(array: np.ndarray, digits: int) -> list[str]:
    """Full values for small arrays (one line per row), else a summary line."""
    array = np.asarray(array)
    if array.size == 1:
        return [format_number(array.reshape(()), digits)]
    if array.size <= FULL_VALUES_MAX and array.ndim <= 2:
        rows = array.reshape(1, -1) if array.ndim == 1 else array
        return ["[" + " ".join(format_number(v, digits) for v in row) + "]" for row in rows]
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    if finite.size == 0:
        return ["no finite values"]
    return [f"mean {format_number(finite.mean(), digits)}, "
            f"|max| {format_number(np.abs(finite).max(), digits)}"]


def node_lines(node: Node, digits: int = 4) -> list[str]:
    """The text of a node's box: label, shape, data and grad (micrograd's label | data | grad).

    Every node gets a ``data`` line and a ``grad`` line; ``grad —`` marks a tensor that does
    not require grad (a constant), so no gradient flows into it.
    """
    if node.summary:
        return [f"{node.name or node.op} ×{node.count}"]
    lines = [node.label]
    if node.value is not None and node.value.size != 1:
        lines.append(f"{node.shape} {node.dtype}")
    for key, array in (("data", node.value), ("grad", node.grad)):
        if array is None:
            lines.append(f"{key} —")
            continue
        values = _format_array(array, digits)
        if len(values) == 1:
            lines.append(f"{key} {values[0]}")
        else:
            lines.append(key)
            lines.extend("  " + v for v in values)
    return lines


def edge_text(edge: Edge, digits: int = 4) -> str | None:
    """``∂ 0.6023  → 0.05707``: local derivative and chain-rule product of a scalar edge."""
    if edge.product is None or edge.product.size != 1:
        return None
    product = format_number(edge.product.reshape(()), digits)
    if edge.local is None:
        return f"→ {product}"
    return f"local {format_number(edge.local.reshape(()), digits)}\n× grad = {product}"


# ------------------------------------------------------------------ DOT
def _dot_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def to_dot(graph: GraphData, digits: int = 4) -> str:
    """Graphviz DOT text, left to right; every node's label carries its data and grad."""
    lines = ["digraph steepest {", "  rankdir=LR;",
             '  node [shape=box, style="rounded,filled", fontname="monospace", fontsize=10];']
    if graph.note:
        lines.append(f'  label="{_dot_escape(graph.note)}"; labelloc=t;')
    for node in graph.nodes:
        label = "\\l".join(_dot_escape(line) for line in node_lines(node, digits)) + "\\l"
        lines.append(f'  n{node.id} [label="{label}", fillcolor="{fill_color(node, graph)}"];')
    for edge in graph.edges:
        attributes = []
        text = edge_text(edge, digits)
        if edge.count > 1:
            text = f"×{edge.count}"
        if text:
            attributes.append('label="' + _dot_escape(text).replace("\n", "\\n") + '"')
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"  n{edge.source} -> n{edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"


#: Box colours: parameters / constants / op results / the output.
FILLS = {"parameter": "#dbe9f7", "constant": "#eeeeee", "op": "#fdf0e0", "output": "#efe0f3"}


def fill_color(node: Node, graph: GraphData) -> str:
    if node.id == graph.output.id and not node.summary:
        return FILLS["output"]
    if node.is_leaf:
        return FILLS["parameter"] if node.requires_grad else FILLS["constant"]
    return FILLS["op"]


# ------------------------------------------------------------------ JSON
def _number(x):
    x = float(x)
    return x if math.isfinite(x) else None


def _jsonable(array):
    """A number, a nested list, or a summary beyond JSON_MAX_ELEMENTS; None stays None."""
    if array is None:
        return None
    array = np.asarray(array)
    if array.size == 1 and array.ndim == 0:
        return _number(array)
    if array.size <= JSON_MAX_ELEMENTS:
        return _nested(array.astype(float))
    finite = array[np.isfinite(array)] if array.dtype.kind == "f" else array
    stats = {"mean": None, "std": None, "min": None, "max": None}
    if finite.size:
        stats = {"mean": _number(finite.mean()), "std": _number(finite.std()),
                 "min": _number(finite.min()), "max": _number(finite.max())}
    return {"summary": True, "shape": list(array.shape), **stats}


def _nested(array: np.ndarray):
    if array.ndim == 0:
        return _number(array)
    return [_nested(row) for row in array]


def to_dict(graph: GraphData) -> dict:
    """The documented JSON contract (see the module docstring) as Python objects."""
    nodes = [{"id": n.id, "op": n.op, "name": n.name, "shape": list(n.shape), "dtype": n.dtype,
              "value": _jsonable(n.value), "grad": _jsonable(n.grad),
              "requires_grad": n.requires_grad, "count": n.count, "summary": n.summary}
             for n in graph.nodes]
    return {"nodes": nodes,
            "edges": [[e.source, e.target] for e in graph.edges],
            "derivatives": [{"local": _jsonable(e.local), "product": _jsonable(e.product),
                             "count": e.count} for e in graph.edges],
            "output": graph.output.id, "note": graph.note}


def to_json(graph: GraphData, indent=None) -> str:
    """:func:`to_dict` as strict JSON text."""
    return json.dumps(to_dict(graph), indent=indent, allow_nan=False, ensure_ascii=False)


def _array(value):
    if value is None or isinstance(value, dict):
        return None
    return np.asarray(value, dtype=float)


def parse_dict(data: dict) -> tuple[list[Node], list[Edge], str | None]:
    """Nodes, edges and note from :func:`to_dict`'s output (summarised arrays become None);
    ``Graph.from_dict`` builds the graph from them."""
    nodes = [Node(id=n["id"], op=n["op"], name=n["name"], shape=tuple(n["shape"]),
                  dtype=n.get("dtype", "float64"), value=_array(n["value"]),
                  grad=_array(n["grad"]), requires_grad=n.get("requires_grad", True),
                  count=n.get("count", 1), summary=n.get("summary", False))
             for n in data["nodes"]]
    derivatives = data.get("derivatives") or [{}] * len(data["edges"])
    edges = [Edge(source, target, local=_array(d.get("local")), product=_array(d.get("product")),
                  count=d.get("count", 1))
             for (source, target), d in zip(data["edges"], derivatives)]
    return nodes, edges, data.get("note")
