"""Optimizers with torch.optim's update rules and defaults, and learning-rate schedulers."""

from steepest.optim import lr_scheduler
from steepest.optim.adadelta import Adadelta
from steepest.optim.adafactor import Adafactor
from steepest.optim.adagrad import Adagrad
from steepest.optim.adam import Adam, AdamW
from steepest.optim.adamax import Adamax
from steepest.optim.asgd import ASGD
from steepest.optim.gd import GD
from steepest.optim.lbfgs import LBFGS
from steepest.optim.muon import Muon, MuonWithAuxAdamW
from steepest.optim.nadam import NAdam
from steepest.optim.newton import Newton
from steepest.optim.optimizer import Optimizer
from steepest.optim.radam import RAdam
from steepest.optim.rmsprop import RMSprop
from steepest.optim.rprop import Rprop
from steepest.optim.sgd import SGD
from steepest.optim import catalogue  # noqa: E402  (after the classes it lists)

__all__ = ["Optimizer", "GD", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "NAdam", "RAdam",
           "Adamax", "Adadelta", "Rprop", "ASGD", "Adafactor", "Muon", "MuonWithAuxAdamW",
           "LBFGS", "Newton", "lr_scheduler", "catalogue"]
