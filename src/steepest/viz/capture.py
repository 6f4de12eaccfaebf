"""Capture the recorded graph behind a tensor, with the gradient of the output at every node.

``Tensor.backward`` keeps gradients only for leaves and frees the graph it walked. To show
the chain rule node by node (as micrograd's ``draw_dot`` does), :func:`graph` runs the same
reverse pass (``steepest.tensor._run_backward``) with an observer, keeping the graph and
leaving every ``.grad`` alone (no hooks run), and keeps

* every node's value and ∂output/∂node (intermediate nodes too),
* along every edge ``parent → child`` the *product* ∂output/∂child · ∂child/∂parent that the
  chain rule sends to the parent (the node's gradient is the sum of its edges' products),
* and, where it is cheap, the *local derivative* ∂child/∂parent: for every child with one
  element (then it is exactly the backward closure applied to 1, shaped like the parent).

Leaves' ``.grad`` are never touched. The capture needs the graph, so take it **before**
``output.backward()`` (which frees the graph), or after ``output.backward(retain_graph=True)``;
a freed graph raises ``RuntimeError`` saying so.
"""

from __future__ import annotations

import io
import weakref

import numpy as np

from steepest.autograd import graph as autograd_graph
from steepest.tensor import Tensor, _run_backward
from steepest.viz.layout import collapse
from steepest.viz.structure import LEAF, Edge, GraphData, Node
from steepest.viz.text import parse_dict, to_dict, to_dot, to_json

__all__ = ["graph", "Graph"]


class Graph(GraphData):
    """The nodes (parents first, the output last) and edges of a recorded graph.

    Render with :meth:`draw` (matplotlib), :meth:`to_dot` (Graphviz) or :meth:`to_json`;
    :meth:`node` finds the node of a tensor that took part.
    """

    def draw(self, path=None, ax=None, **options):
        """Draw with matplotlib and return the Figure (see :func:`steepest.viz.draw.draw`)."""
        from steepest.viz.draw import draw  # matplotlib is imported only when drawing
        return draw(self, path=path, ax=ax, **options)

    def collapsed(self, by: str = "op") -> "Graph":
        """A summary graph with one node per op (see :func:`steepest.viz.layout.collapse`)."""
        return collapse(self, by=by)

    def to_dot(self, digits: int = 4) -> str:
        """Graphviz DOT text (see :func:`steepest.viz.text.to_dot`)."""
        return to_dot(self, digits=digits)

    def to_dict(self) -> dict:
        """The JSON contract as Python objects (see :mod:`steepest.viz.text`)."""
        return to_dict(self)

    def to_json(self, indent=None) -> str:
        """The JSON contract as strict JSON text (see :mod:`steepest.viz.text`)."""
        return to_json(self, indent=indent)

    @classmethod
    def from_dict(cls, data: dict) -> "Graph":
        """Rebuild a graph (for drawing) from :meth:`to_dict`'s output."""
        nodes, edges, note = parse_dict(data)
        return cls(nodes=nodes, edges=edges, note=note)

    def _repr_png_(self):
        """Jupyter shows a captured graph as its picture."""
        buffer = io.BytesIO()
        self.draw().savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def _all_nodes(root: Tensor) -> list[Tensor]:
    """Every tensor behind ``root``, constants included, parents before children
    (iterative depth-first search, so any depth works)."""
    order, visited = [], {id(root)}
    stack = [(root, iter(root._parents))]
    while stack:
        tensor, parents = stack[-1]
        for parent in parents:
            if id(parent) not in visited:
                visited.add(id(parent))
                stack.append((parent, iter(parent._parents)))
                break
        else:
            stack.pop()
            order.append(tensor)
    return order


def _check_capturable(output) -> None:
    if not isinstance(output, Tensor):
        raise TypeError(f"graph: output must be a steepest Tensor, got "
                        f"{type(output).__name__}")
    if output._op and output._backward is None:
        raise RuntimeError(
            "graph: the graph behind this tensor was already freed by backward(); capture it "
            "before calling backward(), or call backward(retain_graph=True)")
    if output.is_leaf:
        raise RuntimeError(
            "graph: this tensor has no recorded graph (it is a leaf: made by the user, not by "
            "an op); compute it from tensors with requires_grad=True, outside no_grad(), and "
            "pass the result")


def _names(names) -> dict:
    """``{"w1": tensor, ...}`` (or pairs, e.g. ``model.named_parameters()``) → id → name."""
    if names is None:
        return {}
    items = names.items() if isinstance(names, dict) else names
    by_id = {}
    for name, tensor in items:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"graph: names must map a name to a Tensor, got {name!r} → "
                            f"{type(tensor).__name__}")
        by_id[id(tensor)] = str(name)
    return by_id


def _owned(array) -> np.ndarray:
    """A private copy, so later in-place updates (an optimizer step) do not change the picture."""
    return np.array(array)


def graph(output: Tensor, gradient=None, names=None) -> Graph:
    """Capture the graph that produced ``output`` and ∂output/∂node at every node.

    Parameters
    ----------
    output : a tensor computed by ops (a loss, usually). Its graph must still be recorded:
        capture before ``output.backward()``, or after ``backward(retain_graph=True)``.
    gradient : the seed of the reverse pass, required when ``output`` has more than one
        element (as for ``backward``); ``None`` means 1 for a one-element output.
    names : optional ``{name: tensor}`` (or ``(name, tensor)`` pairs such as
        ``model.named_parameters()``) labelling tensors; otherwise a tensor's ``name`` is used.

    Returns
    -------
    Graph, whose nodes run parents first and output last. Leaves' ``.grad`` are not changed.
    """
    _check_capturable(output)
    seed = autograd_graph.seed(output, gradient, who="graph")
    tensors = _all_nodes(output)
    freed = [t for t in tensors if t._op and t._backward is None]
    if freed:
        raise RuntimeError(
            f"graph: part of the graph (through '{freed[0]._op}') was already freed by an "
            f"earlier backward(); capture before backward(), or pass retain_graph=True to it")
    given = _names(names)
    position = {id(t): i for i, t in enumerate(tensors)}

    grads, edges_by_target = {}, {}

    def observe(tensor, grad, products):
        """Keep each node's gradient and, per edge, what the chain rule sent along it."""
        grads[id(tensor)] = grad
        if products is None:
            return
        locals_ = (tensor._backward(np.ones_like(tensor._data)) if tensor._data.size == 1
                   else (None,) * len(tensor._parents))
        edges = edges_by_target[id(tensor)] = []
        for parent, product, local in zip(tensor._parents, products, locals_):
            wanted = parent.requires_grad and product is not None
            edges.append(Edge(position[id(parent)], position[id(tensor)],
                              local=_owned(local) if wanted and local is not None else None,
                              product=_owned(product) if wanted else None))

    _run_backward([output], [seed], retain_graph=True, accumulate=False, observe=observe)

    nodes = []
    for i, tensor in enumerate(tensors):
        grad = grads.get(id(tensor))
        nodes.append(Node(
            id=i, op=tensor._op or LEAF, name=given.get(id(tensor), tensor.name),
            shape=tuple(tensor.shape), dtype=str(tensor.dtype), value=_owned(tensor._data),
            grad=None if grad is None else _owned(np.broadcast_to(grad, tensor.shape)),
            requires_grad=bool(tensor.requires_grad)))
    edges = [edge for tensor in tensors for edge in edges_by_target.get(id(tensor), ())]
    index = {id(t): (weakref.ref(t), i) for i, t in enumerate(tensors)}
    return Graph(nodes=nodes, edges=edges, _index=index)
