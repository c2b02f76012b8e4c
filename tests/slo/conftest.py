"""Make the shared stream helpers (slo_sim.py) importable from the SLO engine tests."""

import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parent)
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
