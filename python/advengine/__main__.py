"""``python -m advengine`` runs the command-line interface."""

import sys

from advengine.cli import main

sys.exit(main())
