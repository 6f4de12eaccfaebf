"""torch.utils's data tools: ``from steepest.utils.data import DataLoader, TensorDataset``."""

from steepest.utils import data

__all__ = ["data"]
