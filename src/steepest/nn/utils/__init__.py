"""torch.nn.utils's gradient clipping: ``st.nn.utils.clip_grad_norm_``, ``clip_grad_value_``."""

from steepest.nn.utils.clip_grad import clip_grad_norm_, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_"]
