"""Deprecated path: this module is :mod:`steepest.training.checkpoint` (``st.checkpoint``).

``import steepest.checkpoint`` still works and warns; nothing in the package imports it.
"""

import warnings

from steepest.training.checkpoint import *  # noqa: F401,F403
from steepest.training.checkpoint import __all__

warnings.warn("steepest.checkpoint is deprecated; import steepest.training.checkpoint "
              "(st.checkpoint)",
              DeprecationWarning, stacklevel=2)
