"""`python -m simulator ...`: the simulate command without the top-level CLI."""

import sys

from simulator.cli import main

sys.exit(main())
