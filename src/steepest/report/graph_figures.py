"""The computation-graph figure of the backpropagation lesson, drawn by :mod:`steepest.viz`
from the graph the lesson captured (``lesson.data["graph"]``, nothing recomputed)."""

from __future__ import annotations

from steepest.viz import Graph

__all__ = ["backpropagation_graph"]


def backpropagation_graph(lesson):
    """The two-neuron chain's graph (every value, ∂E/∂node, local derivative and product):
    return the matplotlib Figure and its caption."""
    fig = Graph.from_dict(lesson.data["graph"]).draw(
        title="The chain rule, node by node: x → z1 → a1 → z2 → a2 → E")
    return fig, ("The computation graph steepest recorded for the chain, after one backward "
                 "pass: each box shows its value (data) and ∂E/∂node (grad); each arrow the "
                 "local derivative ∂child/∂parent and its product with the child's grad, which "
                 "is what the parent receives. The numbers equal the chain-rule factors in the "
                 "tables.")
