"""River's drift detectors, imported without river's example datasets.

Why: `river.drift`'s package `__init__` imports `river.drift.datasets` (toy data for river's own
examples), which imports `river.datasets` and `river.stream`, which import pandas, scikit-learn
and SQLAlchemy whenever they are installed, and MLflow's server installs them. That cost every
slo-monitor process (monitor, responder, executor, even `validate`) ~0.7 s of start-up and
~80 MiB of resident memory for data it never reads (docs/reliability.md, "Ninth round").

So before river's drift package is first imported, its `datasets` submodule is registered as a
stand-in that says why it is missing if anyone reaches for it. When something imported
`river.drift` before us, it is left as it is: the detectors below are the same either way.

>>> detector = ADWIN(delta=0.002)
>>> isinstance(detector, DriftDetector)
True
"""

from __future__ import annotations

import sys
import types

_DATASETS = "river.drift.datasets"


class _DatasetsNotLoaded(types.ModuleType):
    """Stand-in for `river.drift.datasets`: any use of it names this module."""

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):   # import machinery and introspection probe dunders
            raise AttributeError(name)
        raise ImportError(f"{_DATASETS} is not loaded in slo-monitor processes (see {__name__}): "
                          f"import it in a process that does not import slo")


if "river.drift" not in sys.modules:
    sys.modules.setdefault(_DATASETS, _DatasetsNotLoaded(_DATASETS))

from river.base import DriftDetector  # noqa: E402 - after the stand-in, on purpose
from river.drift import ADWIN, PageHinkley  # noqa: E402

__all__ = ["ADWIN", "DriftDetector", "PageHinkley"]
