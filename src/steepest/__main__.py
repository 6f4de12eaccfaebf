"""``python -m steepest ...`` runs the command line, like the ``steepest`` script."""

import sys

from steepest.cli import main

sys.exit(main())
