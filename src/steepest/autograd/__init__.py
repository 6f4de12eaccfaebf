"""torch.autograd's surface: :func:`grad`, :func:`backward` and the graph's nodes.

``st.autograd.grad(outputs, inputs)`` returns gradients without touching ``.grad``;
``create_graph=True`` records the reverse pass so that it can be differentiated again;
``st.autograd.functional`` builds jacobian, hessian, hvp, vhp, jvp and vjp on it.
"""

from steepest.autograd import functional
from steepest.autograd.graph import AccumulateGrad, Node, RemovableHandle, backward, grad

__all__ = ["grad", "backward", "Node", "AccumulateGrad", "RemovableHandle", "functional"]
