"""See the chain rule: capture the graph behind a tensor and draw every value and gradient.

::

    import steepest as st
    a = st.tensor(-4.0, requires_grad=True); b = st.tensor(2.0, requires_grad=True)
    g = (a * b + b ** 3).relu()
    picture = st.viz.graph(g)          # before g.backward(), which frees the graph
    picture.draw("graph.png")          # matplotlib Figure; also .to_dot(), .to_json()
    picture.node(a).grad               # ∂g/∂a; every intermediate node has its grad too

:func:`graph` runs its own reverse pass over the recorded graph (leaves' ``.grad`` are left
alone), so it needs the graph: capture before ``backward()``, or after
``backward(retain_graph=True)``. Depends on the engine only; matplotlib is imported when
drawing.

:func:`landscape` and :func:`interpolate` show the loss over a plane or along a line through
weight space (Li et al. 2018; Goodfellow et al. 2015), with an optimizer's path on it.
"""

from steepest.viz.capture import Graph, graph
from steepest.viz.landscapes import (
    Landscape, interpolate, landscape, parameters_vector, pca_directions, random_directions,
)
from steepest.viz.structure import LEAF, Edge, Node
from steepest.viz.layout import MAX_NODES
from steepest.viz.text import FULL_VALUES_MAX, JSON_MAX_ELEMENTS

__all__ = ["graph", "draw_graph", "Graph", "Node", "Edge", "LEAF", "MAX_NODES",
           "JSON_MAX_ELEMENTS", "FULL_VALUES_MAX", "landscape", "interpolate", "Landscape",
           "parameters_vector", "pca_directions", "random_directions"]


def draw_graph(output, path=None, gradient=None, names=None, **options):
    """``graph(output, gradient, names).draw(path, **options)``: the picture in one call."""
    return graph(output, gradient=gradient, names=names).draw(path=path, **options)
