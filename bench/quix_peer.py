"""The peer job in Quix Streams: join labels to predictions by id, rolling 1-hour precision per model.

Runs inside bench/.venv-quix (Quix Streams 3.x needs confluent-kafka < 2.13, slo-monitor's venv
has 2.16), started by bench/throughput.py on the same preloaded topics:

    bench/.venv-quix/bin/python bench/quix_peer.py --predictions P --labels L --predictions-count N ...

The job, written the way the Quix documentation suggests:

    predictions ─┐ concat  stateful join   to_topic(joined)
    labels ──────┴────────► (state keyed ──► group_by(model_id) ──► stateful rolling precision
                             by message key                        per model ──► to_topic(status)
                             = prediction_id)

- join: a prediction waits in state until its label comes (and the other way round); there is
  no expiry (Quix has no event-time timers), so the state grows with unlabeled predictions;
- precision: per model, counters of flagged labels per minute of prediction time (one small
  state key per minute); each time the model's label time enters a new minute, the precision of
  the predictions of the last 60 minutes is written to the status topic.

Like `slo-monitor run` without `--recovery-dir`, state is not made durable
(`use_changelog_topics=False`). It stops once it has processed every input message and every
joined record it repartitioned, and prints one JSON line: counts, and the wall-clock time and the
process's CPU time at the first and the last message processed.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import tempfile
import time
from datetime import datetime

from quixstreams import Application, State


def event_time(value: str | float) -> float:
    """RFC 3339 or epoch seconds, as the contract allows."""
    return datetime.fromisoformat(value).timestamp() if isinstance(value, str) else float(value)


def join(value: dict, state: State) -> dict | None:
    """Match a prediction and its label (message key = prediction_id = state key)."""
    if value["k"] == "p":
        label = state.get("l")
        if label is None:
            state.set("p", value)
            return None
        state.delete("l")
        prediction = value
    else:
        prediction = state.get("p")
        if prediction is None:
            state.set("l", value)
            return None
        state.delete("p")
        label = value
    return {"prediction_id": prediction["id"], "model_id": prediction["model_id"],
            "predicted_at": prediction["t"], "labeled_at": label["t"],
            "predicted_label": prediction["predicted_label"], "label": label["label"]}


def rolling_precision(joined: dict, state: State) -> dict | None:
    """Per model (state key): flagged labels per minute of prediction time; a precision per minute."""
    if joined["predicted_label"] == 1:
        bucket = f"b{int(joined['predicted_at'] // 60)}"
        counts = state.get(bucket) or [0, 0]
        counts[0 if joined["label"] == 1 else 1] += 1
        state.set(bucket, counts)
    minute = int(joined["labeled_at"] // 60)
    last = state.get("m")
    if last is not None and minute <= last:
        return None
    state.set("m", minute)
    hits = misses = 0
    for m in range(minute - 60, minute):
        counts = state.get(f"b{m}")
        if counts is not None:
            hits += counts[0]
            misses += counts[1]
    if last is not None:
        for m in range(last - 60, min(minute - 60, last)):
            state.delete(f"b{m}")
    labels = hits + misses
    return {"model_id": joined["model_id"], "window_end": minute * 60, "labels": labels,
            "precision": hits / labels if labels else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap-servers", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"))
    parser.add_argument("--predictions", required=True)
    parser.add_argument("--labels", required=True)
    parser.add_argument("--joined-topic", required=True)
    parser.add_argument("--status-topic", required=True)
    parser.add_argument("--group", required=True, help="consumer group (also names Quix's internal topics)")
    parser.add_argument("--predictions-count", type=int, required=True)
    parser.add_argument("--labels-count", type=int, required=True)
    args = parser.parse_args()
    logging.getLogger("quixstreams").setLevel(logging.WARNING)

    processed = {"predictions": 0, "labels": 0, "repartition": 0}
    times: dict[str, float] = {}
    app: Application | None = None

    def cpu() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def on_processed(topic: str, partition: int, offset: int) -> None:
        now = time.time()
        if "first" not in times:
            times["first"], times["cpu_first"] = now, cpu()
        times["last"] = now
        kind = ("predictions" if topic == args.predictions else "labels" if topic == args.labels
                else "repartition")
        processed[kind] += 1
        if (processed["predictions"] >= args.predictions_count and processed["labels"] >= args.labels_count
                and processed["repartition"] >= args.labels_count):
            times["cpu_last"] = cpu()
            app.stop()

    with tempfile.TemporaryDirectory(prefix="quix-state-") as state_dir:
        app = Application(
            broker_address=args.bootstrap_servers, consumer_group=args.group, auto_offset_reset="earliest",
            state_dir=state_dir, use_changelog_topics=False, on_message_processed=on_processed,
            loglevel="WARNING",
        )
        predictions = app.topic(args.predictions, key_deserializer="str", value_deserializer="json")
        labels = app.topic(args.labels, key_deserializer="str", value_deserializer="json")
        joined_topic = app.topic(args.joined_topic, value_serializer="json")
        status_topic = app.topic(args.status_topic, value_serializer="json")

        p = app.dataframe(predictions).apply(lambda v: {
            "k": "p", "id": v["prediction_id"], "model_id": v["model_id"], "t": event_time(v["timestamp"]),
            "predicted_label": v["predicted_label"]})
        lab = app.dataframe(labels).apply(lambda v: {"k": "l", "t": event_time(v["timestamp"]),
                                                       "label": v["label"]})
        joined = p.concat(lab).apply(join, stateful=True).filter(lambda v: v is not None)
        joined.to_topic(joined_topic)
        per_model = joined.group_by("model_id")
        status = per_model.apply(rolling_precision, stateful=True).filter(lambda v: v is not None)
        status.to_topic(status_topic)
        started = time.time()
        app.run()
    print(json.dumps({"started": started, **times, **processed}), flush=True)


if __name__ == "__main__":
    main()
