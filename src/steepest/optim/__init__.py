"""Optimizers with torch.optim's update rules and defaults, and learning-rate schedulers."""

from steepest.optim import lr_scheduler
from steepest.optim.adagrad import Adagrad
from steepest.optim.adam import Adam, AdamW
from steepest.optim.gd import GD
from steepest.optim.optimizer import Optimizer
from steepest.optim.rmsprop import RMSprop
from steepest.optim.sgd import SGD
from steepest.optim import catalogue  # noqa: E402  (after the classes it lists)

__all__ = ["Optimizer", "GD", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "lr_scheduler", "catalogue"]
