"""Layered left-to-right layout of a graph, and the summary of graphs too large to draw.

Layers: an op node sits one layer right of its deepest input; a leaf sits just left of its
first consumer, so inputs are on the left, the output on the right, and each weight next to
the op that uses it. Within a layer nodes are ordered by the mean position of their
neighbours (a few barycentre sweeps), which removes most crossings in small graphs.
"""

from __future__ import annotations

from collections import defaultdict

from steepest.viz.structure import LEAF, Edge, GraphData, Node

__all__ = ["MAX_NODES", "layers", "route", "collapse"]

#: Graphs with more nodes are drawn as a summary collapsed by op.
MAX_NODES = 200


def layers(graph: GraphData) -> list[int]:
    """The layer (column) of every node, 0 for the leftmost."""
    parents, children = defaultdict(list), defaultdict(list)
    for edge in graph.edges:
        if edge.source < edge.target:  # always in a captured graph; a summary may loop back
            parents[edge.target].append(edge.source)
            children[edge.source].append(edge.target)
    depth = [0] * len(graph.nodes)
    for node in graph.nodes:  # parents come first, so one pass suffices
        if parents[node.id]:
            depth[node.id] = 1 + max(depth[p] for p in parents[node.id])
    for node in graph.nodes:
        if not parents[node.id] and children[node.id]:
            depth[node.id] = min(depth[c] for c in children[node.id]) - 1
    lowest = min(depth, default=0)
    return [d - lowest for d in depth]


def route(graph: GraphData, layer_of: list[int], sweeps: int = 4):
    """Columns of keys to place and the path of every edge through them.

    An edge that spans several layers passes through a waypoint in each layer between
    (key ``("via", edge_index, layer)``), so it runs in the gaps between boxes instead of
    across them. Returns ``(columns, paths)``: per layer the keys top to bottom (node ids
    and waypoints, ordered by the barycentre heuristic), per edge the keys it runs through.
    """
    columns = defaultdict(list)
    for node in graph.nodes:
        columns[layer_of[node.id]].append(node.id)
    paths = []
    for k, edge in enumerate(graph.edges):
        first, last = layer_of[edge.source], layer_of[edge.target]
        via = [("via", k, layer) for layer in range(first + 1, last)]
        for key in via:
            columns[key[2]].append(key)
        paths.append([edge.source, *via, edge.target])
    ordered = [columns[k] for k in range(max(columns, default=-1) + 1)]
    left, right = defaultdict(list), defaultdict(list)
    for path in paths:
        for a, b in zip(path, path[1:]):
            if a != b:
                left[b].append(a)
                right[a].append(b)

    def sweep(column_indices, neighbours):
        position = {key: i for column in ordered for i, key in enumerate(column)}
        for k in column_indices:
            def barycentre(key):
                near = neighbours[key]
                return sum(position[m] for m in near) / len(near) if near else position[key]
            ordered[k] = sorted(ordered[k], key=barycentre)
            position.update({key: i for i, key in enumerate(ordered[k])})

    for _ in range(sweeps):
        sweep(range(1, len(ordered)), left)
        sweep(range(len(ordered) - 2, -1, -1), right)
    return ordered, paths


def collapse(graph: GraphData, by: str = "op") -> GraphData:
    """One node per op (leaves split into parameters and constants), edges counted.

    The summary keeps which kinds of op feed which; each node's ``count`` says how many
    tensors it stands for. Values and gradients are dropped (``None``).
    """
    if by != "op":
        raise ValueError(f"collapse: by must be 'op', got {by!r}")

    def group_of(node: Node) -> str:
        if node.is_leaf:
            return "parameter" if node.requires_grad else "constant"
        return node.op

    layer_of = layers(graph)
    members = defaultdict(list)
    for node in graph.nodes:
        members[group_of(node)].append(node)
    # groups in the order of their mean layer, so the summary still reads left to right
    names = sorted(members, key=lambda g: (sum(layer_of[n.id] for n in members[g])
                                           / len(members[g]), g))
    output_group = group_of(graph.output)
    names.remove(output_group)
    names.append(output_group)  # the output's group last, as Graph.output expects
    group_id = {g: i for i, g in enumerate(names)}
    nodes = [Node(id=group_id[g], op=LEAF if g in ("parameter", "constant") else g,
                  name=f"{g}s" if g in ("parameter", "constant") else None, shape=(), dtype="",
                  value=None, grad=None, requires_grad=g != "constant", count=len(members[g]),
                  summary=True)
             for g in names]
    counts = defaultdict(int)
    by_node = {n.id: group_id[group_of(n)] for n in graph.nodes}
    for edge in graph.edges:
        counts[(by_node[edge.source], by_node[edge.target])] += 1
    edges = [Edge(s, t, count=c) for (s, t), c in sorted(counts.items())]
    note = (f"{len(graph.nodes)} nodes and {len(graph.edges)} edges: too many to draw one by "
            f"one, so collapsed by op (box: op × how many; arrow: × how many edges)")
    return type(graph)(nodes=nodes, edges=edges, note=note)  # a Graph stays a Graph
