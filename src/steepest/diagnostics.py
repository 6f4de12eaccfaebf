"""Deprecated path: this module is :mod:`steepest.training.diagnostics` (``st.diagnostics``).

``import steepest.diagnostics`` still works and warns; nothing in the package imports it.
"""

import warnings

from steepest.training.diagnostics import *  # noqa: F401,F403
from steepest.training.diagnostics import __all__

warnings.warn("steepest.diagnostics is deprecated; import steepest.training.diagnostics "
              "(st.diagnostics)",
              DeprecationWarning, stacklevel=2)
