"""Write the two streams to files instead of Kafka: DIR/predictions.jsonl and DIR/labels.jsonl.

One JSON object per line, exactly the Kafka message values, in event-time order within each
file. Handy for demos without a broker, for fixtures, and for replaying with other tools.
"""

from __future__ import annotations

from pathlib import Path

import orjson


class JsonlWriter:
    """A sink (see simulator.runner.Sink) appending records to predictions.jsonl / labels.jsonl."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.paths = {"prediction": self.directory / "predictions.jsonl",
                      "label": self.directory / "labels.jsonl"}
        self._files = {kind: open(path, "wb", buffering=1 << 20) for kind, path in self.paths.items()}
        self.counts = {"prediction": 0, "label": 0}

    def send(self, kind: str, event_time: float, record: dict) -> None:
        self._files[kind].write(orjson.dumps(record) + b"\n")
        self.counts[kind] += 1

    def tick(self) -> None:
        """Flush while idle (real-time mode), so someone tailing the files sees records promptly."""
        for f in self._files.values():
            f.flush()

    def close(self) -> None:
        for f in self._files.values():
            f.close()

    def describe(self) -> str:
        return f"{self.paths['prediction']} and {self.paths['label']}"
