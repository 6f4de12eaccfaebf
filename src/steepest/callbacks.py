"""Deprecated path: this module is :mod:`steepest.training.callbacks` (``st.callbacks``).

``import steepest.callbacks`` still works and warns; nothing in the package imports it.
"""

import warnings

from steepest.training.callbacks import *  # noqa: F401,F403
from steepest.training.callbacks import __all__

warnings.warn("steepest.callbacks is deprecated; import steepest.training.callbacks "
              "(st.callbacks)",
              DeprecationWarning, stacklevel=2)
