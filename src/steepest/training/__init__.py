"""Training: the ``fit`` loop, its ``History``, callbacks, checkpoints and diagnostics.

Imports run one way, each module using only those listed before it::

    history      History, DivergenceError
    checkpoint   atomic .npz checkpoints            (history)
    callbacks    EarlyStopping, ModelCheckpoint ... (history, checkpoint)
    task         targets for the loss, metrics      (engine, nn, data)
    diagnostics  gradient norms, dead ReLUs, advice, LR range test (callbacks, task)
    loop         fit / evaluate / predict           (all of the above)
"""

from steepest.training import callbacks, checkpoint, diagnostics
from steepest.training.history import DivergenceError, History
from steepest.training.loop import evaluate, fit, predict

__all__ = ["fit", "evaluate", "predict", "History", "DivergenceError", "callbacks",
           "checkpoint", "diagnostics"]
