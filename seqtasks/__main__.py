"""``python -m seqtasks`` runs the command line."""

import sys

from seqtasks.cli import main

sys.exit(main())
