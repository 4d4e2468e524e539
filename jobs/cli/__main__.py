"""``python -m jobs.cli`` runs the ``watchlake`` command."""

import sys

from jobs.cli import main

sys.exit(main())
