"""Deprecated path: the training loop is :mod:`steepest.training.loop` (``st.fit``).

``from steepest.train import fit`` still works and warns; nothing in the package imports it.
"""

import warnings

from steepest.training.history import DivergenceError, History  # noqa: F401
from steepest.training.loop import *  # noqa: F401,F403
from steepest.training.loop import __all__ as _moved

__all__ = [*_moved, "History", "DivergenceError"]

warnings.warn("steepest.train is deprecated; use st.fit, st.evaluate, st.predict (from "
              "steepest.training)", DeprecationWarning, stacklevel=2)
