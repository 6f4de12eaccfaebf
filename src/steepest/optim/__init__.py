"""Optimizers with torch.optim's update rules and defaults, and learning-rate schedulers."""

from steepest.optim.gd import GD
from steepest.optim.optimizer import Optimizer

__all__ = ["Optimizer", "GD"]
