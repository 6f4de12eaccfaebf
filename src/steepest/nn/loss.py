"""Loss modules with torch's names, each a thin holder of options around ``nn.functional``.

    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    loss = loss_fn(model(X), y)
"""

from __future__ import annotations

from steepest.losses import _check_label_smoothing, _check_reduction
from steepest.nn import functional as F
from steepest.nn.module import Module

__all__ = ["MSELoss", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss"]


class _Loss(Module):
    """A loss module: stores ``reduction`` (checked now, not at the first batch)."""

    function = staticmethod(F.mse_loss)

    def __init__(self, *, reduction: str = "mean"):
        super().__init__()
        _check_reduction(type(self).__name__, reduction)
        self.reduction = reduction

    def forward(self, input, target):
        return type(self).function(input, target, reduction=self.reduction)

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error, see ``F.mse_loss``."""


class L1Loss(_Loss):
    """Mean absolute error, see ``F.l1_loss``."""

    function = staticmethod(F.l1_loss)


class BCELoss(_Loss):
    """Binary cross-entropy on probabilities, see ``F.binary_cross_entropy``."""

    function = staticmethod(F.binary_cross_entropy)

    def __init__(self, weight=None, *, reduction: str = "mean"):
        F._unsupported("BCELoss", "weight", weight)
        super().__init__(reduction=reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy on logits, see ``F.binary_cross_entropy_with_logits``."""

    function = staticmethod(F.binary_cross_entropy_with_logits)

    def __init__(self, weight=None, *, reduction: str = "mean", pos_weight=None):
        F._unsupported("BCEWithLogitsLoss", "weight", weight)
        F._unsupported("BCEWithLogitsLoss", "pos_weight", pos_weight)
        super().__init__(reduction=reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood on log-probabilities, see ``F.nll_loss``."""

    function = staticmethod(F.nll_loss)

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean"):
        F._unsupported(type(self).__name__, "weight", weight)
        super().__init__(reduction=reduction)
        self.ignore_index = ignore_index

    def forward(self, input, target):
        return type(self).function(input, target, ignore_index=self.ignore_index,
                                   reduction=self.reduction)


class CrossEntropyLoss(NLLLoss):
    """Cross-entropy of softmax(logits), see ``F.cross_entropy``; ``label_smoothing`` as torch."""

    function = staticmethod(F.cross_entropy)

    def __init__(self, weight=None, *, ignore_index: int = -100, reduction: str = "mean",
                 label_smoothing: float = 0.0):
        super().__init__(weight, ignore_index=ignore_index, reduction=reduction)
        self.label_smoothing = _check_label_smoothing("CrossEntropyLoss", label_smoothing)

    def forward(self, input, target):
        return F.cross_entropy(input, target, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)
