"""Garbage-collector settings for a long-running monitor process.

The flow allocates a few short-lived tuples per event. At CPython's default every 700 of them
trigger a young collection, every 100th of those a full one, and each full one walks every tracked
object of the process (modules, pydantic schemas, trackers, metric children: ~250k objects). That
was about a quarter of the flow's CPU. Freezing what start-up loaded (never garbage) and running
the young pass every 50,000 allocations cuts it to ~1 us per event (bench/flow_cpu.py with and
without `--default-gc`). Cycles are still collected, only in larger batches.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 50_000


def tune_for_streaming() -> None:
    """Freeze what start-up loaded and collect young objects less often (call once, before the flow runs)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
