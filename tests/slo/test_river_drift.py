"""slo/river_drift.py: river's detectors without river's example datasets (and what they import).

Each check runs in a fresh interpreter: in the test session something may have imported
`river.drift` (with its datasets) already.
"""

from __future__ import annotations

import json
import subprocess
import sys

# Modules river's datasets pulled into every slo-monitor process (~90 MiB), none of them ours.
HEAVY = ("sklearn", "pandas", "sqlalchemy")


def _fresh(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    return json.loads(out.stdout.splitlines()[-1])


def test_the_services_entry_points_do_not_import_river_datasets_dependencies():
    result = _fresh(
        "import json, sys\n"
        "import slo_monitor.cli, flows.monitor_flow, remediation.executor, remediation.responder, slo.change\n"
        f"print(json.dumps({{name: name in sys.modules for name in {HEAVY!r} + ('river.drift', 'river.datasets')}}))"
    )
    assert result == {"sklearn": False, "pandas": False, "sqlalchemy": False, "river.drift": True,
                      "river.datasets": False}


def test_the_stand_in_says_why_the_datasets_are_missing():
    result = _fresh(
        "import json\n"
        "import slo.river_drift\n"
        "import river.drift.datasets as datasets\n"
        "try:\n"
        "    datasets.AirlinePassengers\n"
        "except ImportError as error:\n"
        "    print(json.dumps({'error': str(error)}))\n"
    )
    assert "river.drift.datasets is not loaded" in result["error"] and "slo.river_drift" in result["error"]


def test_river_imported_first_is_left_whole():
    result = _fresh(
        "import json, sys\n"
        "import river.drift\n"
        "from slo.river_drift import ADWIN\n"
        "print(json.dumps({'datasets': type(sys.modules['river.drift.datasets']).__name__,"
        " 'same': ADWIN is river.drift.ADWIN}))"
    )
    assert result == {"datasets": "module", "same": True}


def test_detectors_from_the_shim_detect_and_pickle_as_river_s():
    """The detector is river's own class: same detections, and recovery snapshots name river's module."""
    result = _fresh(
        "import json, pickle, random\n"
        "from slo.river_drift import ADWIN\n"
        "rng = random.Random(12345)\n"
        "stream = rng.choices([0, 1], k=1000) + rng.choices(range(4, 8), k=1000)\n"
        "adwin = ADWIN()\n"
        "hits = [i for i, x in enumerate(stream) if (adwin.update(x), adwin.drift_detected)[1]]\n"
        "print(json.dumps({'hits': hits, 'module': type(pickle.loads(pickle.dumps(adwin))).__module__}))"
    )
    assert result == {"hits": [1023], "module": "river.drift.adwin"}
