"""What a captured graph is made of: nodes, edges, and the plain graph the renderers read."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LEAF", "Node", "Edge", "GraphData"]

#: The op name of a leaf node (a tensor the user made: an input, a weight, a constant).
LEAF = "leaf"


@dataclass
class Node:
    """One tensor of the graph.

    id : position in ``Graph.nodes`` (parents come before their children).
    op : the op that made the tensor (``"MatMul"``, ``"Sigmoid"``...), ``"leaf"`` for leaves.
    name : the tensor's ``name`` (or the name given to :func:`graph`), None if unset.
    value : a copy of the tensor's data (None in a collapsed summary).
    grad : ∂output/∂node, same shape as ``value``; None for tensors without requires_grad.
    requires_grad : whether gradients flow into the tensor.
    count : how many tensors the node stands for in a collapsed summary (else 1).
    summary : True for the nodes of a collapsed summary (no value, grad or shape).
    """

    id: int
    op: str
    name: str | None
    shape: tuple
    dtype: str
    value: np.ndarray | None
    grad: np.ndarray | None
    requires_grad: bool
    count: int = 1
    summary: bool = False

    @property
    def is_leaf(self) -> bool:
        return self.op == LEAF

    @property
    def label(self) -> str:
        """The name, the op, or both: ``"w1"``, ``"Sigmoid"``, ``"a1 = Sigmoid"``; an unnamed
        leaf is ``"leaf"``, or ``"constant"`` when it does not require grad."""
        if self.name is None:
            return "constant" if self.is_leaf and not self.requires_grad else self.op
        return self.name if self.is_leaf else f"{self.name} = {self.op}"


@dataclass
class Edge:
    """``source → target``: the tensor ``source`` is an input of the op that made ``target``.

    local : ∂target/∂source (shaped like the source) when the target has one element, else None.
    product : the chain-rule term ∂output/∂target · ∂target/∂source sent to the source
        (None where the source does not require grad).
    count : how many edges it stands for (1, more in a collapsed summary).
    """

    source: int
    target: int
    local: np.ndarray | None = None
    product: np.ndarray | None = None
    count: int = 1


@dataclass
class GraphData:
    """The nodes (parents first, the output last) and edges of a recorded graph, without
    the renderings (:class:`steepest.viz.Graph` adds them); the renderers read only this."""

    nodes: list[Node]
    edges: list[Edge]
    note: str | None = None
    _index: dict = field(default_factory=dict, repr=False)

    @property
    def output(self) -> Node:
        return self.nodes[-1]

    def node(self, tensor) -> Node:
        """The node of ``tensor``; KeyError if the tensor is not part of this graph."""
        entry = self._index.get(id(tensor))
        if entry is None or entry[0]() is not tensor:
            raise KeyError(f"node: this tensor (shape {getattr(tensor, 'shape', None)}) is not "
                           f"part of the captured graph")
        return self.nodes[entry[1]]
