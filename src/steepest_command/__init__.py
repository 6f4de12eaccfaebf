"""The ``steepest`` console script.

It lives outside the ``steepest`` package on purpose: importing anything inside ``steepest``
first runs the package's ``__init__`` (NumPy and the whole library, about a second), and a
Ctrl-C pressed then would print a traceback before :func:`steepest.cli.main` could catch it.
Here the import itself is guarded: one line, exit code 130, as for a Ctrl-C later on.
"""

import sys

__all__ = ["main"]


def main(argv=None) -> int:
    """Import and run :func:`steepest.cli.main`; a Ctrl-C during the import exits with 130."""
    try:
        from steepest.cli import main as run
    except KeyboardInterrupt:
        print("steepest: interrupted", file=sys.stderr)
        return 130
    return run(argv)
