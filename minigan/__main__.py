"""``python -m minigan ...`` runs the command line (see ``minigan/cli.py``, then ``minigan/app/``)."""

import sys

from minigan.cli import main

sys.exit(main())
