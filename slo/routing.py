"""Which tracker keys a record feeds: one per SLO of its model, plus one per configured segment.

A key is (slo, model_id, segment); `segment` is None for the whole model or ``"country=US"``.
Its text form ``slo/model_id[/segment]`` is the Kafka key of slo-status and slo-alerts and the
PagerDuty dedup key.

>>> from slo.spec import parse_slo_yaml
>>> f = parse_slo_yaml("slos: [{name: p, model_id: m, metric: precision, positive_label: 1, "
...                    "objective: 0.9, segments: [country, device]}]")
>>> [k.dedup_key for k in keys_for_prediction(f, "m", {"country": "US", "plan": "pro"})]
['p/m', 'p/m/country=US']
>>> keys_for_prediction(f, "other-model", {})
[]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

from schemas.joined import JoinedRecord
from slo.spec import SloFile


class TrackerKey(NamedTuple):
    """Identity of one tracked SLO slice."""

    slo: str
    model_id: str
    segment: str | None = None

    @property
    def dedup_key(self) -> str:
        """``slo/model_id[/segment]``: Kafka key and PagerDuty dedup key."""
        base = f"{self.slo}/{self.model_id}"
        return f"{base}/{self.segment}" if self.segment is not None else base

    @classmethod
    def parse(cls, text: str) -> TrackerKey:
        """Inverse of `dedup_key` (the segment may itself contain '/').

        >>> TrackerKey.parse("p/m/country=US")
        TrackerKey(slo='p', model_id='m', segment='country=US')
        """
        slo, _, rest = text.partition("/")
        model_id, sep, segment = rest.partition("/")
        if not slo or not model_id:
            raise ValueError(f"not a tracker key: {text!r}")
        return cls(slo, model_id, segment if sep else None)


def segment_label(key: str, value: str) -> str:
    """Render one segment as ``key=value``."""
    return f"{key}={value}"


def keys_for_prediction(slo_file: SloFile, model_id: str,
                        segment: Mapping[str, str] | None) -> list[TrackerKey]:
    """Keys fed by a record of `model_id` with these segment attributes."""
    keys: list[TrackerKey] = []
    for spec in slo_file.slos_for_model(model_id):
        keys.append(TrackerKey(spec.name, model_id, None))
        if segment:
            for seg_key in spec.segments:
                value = segment.get(seg_key)
                if value is not None:
                    keys.append(TrackerKey(spec.name, model_id, segment_label(seg_key, str(value))))
    return keys


def keys_for(slo_file: SloFile, record: JoinedRecord) -> list[TrackerKey]:
    """Keys a joined record feeds: each SLO of its model, whole and per configured segment."""
    return keys_for_prediction(slo_file, record.model_id, record.segment)
