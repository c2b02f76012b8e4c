"""Memory per pending prediction in the join state and per SLO key in the engine.

    .venv/bin/python bench/memory.py [--pending 1000000] [--keys 1000]

Join state: a fresh subprocess fills one `JoinShard` with 1 million pending predictions, each
made the way the flow makes it: a contract JSON message (100 models, versions v1/v2, 10
countries, 4 features, ids like the simulator's) decoded by `flows.decode_stage.decode_batch`
and handed to `JoinShard.add_prediction` (which also files its expiry deadline). Reported per
pending prediction: the growth of resident memory (VmRSS from /proc/self/status, after
gc.collect(); includes allocator overhead) and, in a second subprocess, the growth of memory
traced by tracemalloc (Python objects only), plus the pickled size of the shard's recovery
snapshot.

SLO key: bench/engine.py's measurement (tracemalloc over 1,000 trackers restored from the
snapshot of one fed with 8 hours of 1,000 labels/h), imported and re-run, plus the RSS growth of
the same 1,000 trackers in a subprocess. Targets (issue 6): at most 200 bytes per pending
prediction and 64 KiB per key.
"""

from __future__ import annotations

import argparse
import gc
import json
import pickle
import subprocess
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import LoadWatch, md_table, print_machine, python, rss_kib, verdict  # noqa: E402

COUNTRIES = ("US", "GB", "DE", "FR", "IN", "BR", "CA", "JP", "MX", "AU")


def prediction_record(i: int) -> tuple[int, int, bytes, bytes]:
    """(partition, offset, key, value) of the i-th prediction, as the flow's source reads them."""
    import orjson

    pid = f"5f3a9c1e-{i:010d}"
    record = {
        "prediction_id": pid, "model_id": f"model-{i % 100:03d}", "model_version": "v2" if i % 5 else "v1",
        "timestamp": 1_767_225_600.0 + i * 0.005, "predicted_label": int(i % 10 == 0),
        "score": round((i * 7919 % 10_000) / 10_000, 4), "review_probability": 1.0 if i % 10 == 0 else 0.111,
        "segment": {"country": COUNTRIES[i % 10]},
        "features": {"amount": 12.5 + i % 300, "account_age_days": 400.0, "txn_count_24h": 3,
                     "merchant_category": "grocery"},
    }
    return i % 4, i // 4, pid.encode(), orjson.dumps(record)


def decoded_prediction(i: int):
    from flows.decode_stage import decode_batch
    from flows.kafka_source import MessageBatch

    partition, offset, key, value = prediction_record(i)
    return decode_batch(MessageBatch("predictions", partition, [(key, value, offset)], []), "labels").events[0]


def child_join(count: int, traced: bool) -> dict:
    """Fill a JoinShard with `count` decoded pending predictions; bytes per prediction."""
    from flows.join_state import JoinSettings, JoinShard

    shard = JoinShard(JoinSettings())
    for i in range(1000):    # warm up: interned strings, shared segments, allocator arenas
        decoded_prediction(count + i)
    gc.collect()
    if traced:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0] if traced else rss_kib() * 1024
    for i in range(count):
        event = decoded_prediction(i)
        shard.add_prediction(event.prediction_id, event.event)
    gc.collect()
    after = tracemalloc.get_traced_memory()[0] if traced else rss_kib() * 1024
    assert len(shard.predictions) == count
    result = {"per_prediction": (after - before) / count}
    if not traced:
        result["pickled"] = len(pickle.dumps(shard.snapshot(), protocol=pickle.HIGHEST_PROTOCOL)) / count
        pid, pending = next(iter(shard.predictions.items()))
        result["parts"] = {
            "id string": sys.getsizeof(pid),
            "packed record (time, review probability, score, attribute index)": sys.getsizeof(pending),
            "dict slot (predictions)": _dict_bytes(shard.predictions) / count,
            "deadline list slot": 8,
            "shared table of (model, version, label, segment)": sum(map(sys.getsizeof, shard._metas)) / count,
        }
    return result


def _dict_bytes(d: dict) -> int:
    return sys.getsizeof(d)


def child_tracker_rss(keys: int, per_hour: float) -> dict:
    """RSS growth of `keys` SloTrackers restored from a snapshot (as bench/engine.py, untraced)."""
    import engine

    from slo.spec import parse_slo_yaml
    from slo.tracker import SloTracker

    spec = parse_slo_yaml(engine.SLO).slos[0]
    template = engine.make_records(int(8 * per_hour), per_hour, seed=7)
    tracker = SloTracker(spec)
    for r in template:
        tracker.observe(r)
    tracker.advance(template[-1].labeled_at)
    blob = pickle.dumps(tracker, protocol=pickle.HIGHEST_PROTOCOL)
    del template
    gc.collect()
    before = rss_kib() * 1024
    trackers = [pickle.loads(blob) for _ in range(keys)]
    for t in trackers:
        t.advance(tracker.last_step * tracker.ring.width + 120.0)
    gc.collect()
    return {"per_key": (rss_kib() * 1024 - before) / keys}


def run_child(*args: str) -> dict:
    done = subprocess.run([python(), __file__, *args], capture_output=True, text=True, timeout=1200)
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pending", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=1000.0, help="labels per hour per key (SLO key figure)")
    parser.add_argument("--child", choices=["join-rss", "join-traced", "tracker-rss"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.child == "tracker-rss":
            result = child_tracker_rss(args.keys, args.rate)
        else:
            result = child_join(args.pending, traced=args.child == "join-traced")
        print(json.dumps(result))
        return

    print_machine("Memory (issue 6.3)")
    watch = LoadWatch().start()
    rss = run_child("--child", "join-rss", "--pending", str(args.pending))
    traced = run_child("--child", "join-traced", "--pending", str(args.pending))
    import engine
    from slo.spec import parse_slo_yaml

    spec = parse_slo_yaml(engine.SLO).slos[0]
    key_traced, key_pickled, key_counted = engine.memory_per_key(spec, args.keys, args.rate)
    key_rss = run_child("--child", "tracker-rss", "--keys", str(args.keys), "--rate", str(args.rate))
    watch.stop()

    per_pending = rss["per_prediction"]
    per_key = max(key_traced, key_rss["per_key"])
    rows = [
        [f"join state: per pending prediction ({args.pending:,} pending in a JoinShard)",
         f"{rss['per_prediction']:,.0f} B", f"{traced['per_prediction']:,.0f} B",
         f"{rss['pickled']:,.0f} B", "<= 200 B", verdict(per_pending <= 200)],
        [f"SLO engine: per key ({args.keys:,} SloTrackers, 8 h at {args.rate:,.0f} labels/h)",
         f"{key_rss['per_key'] / 1024:,.1f} KiB", f"{key_traced / 1024:,.1f} KiB",
         f"{key_pickled / 1024:,.1f} KiB", "<= 64 KiB", verdict(per_key <= 64 * 1024)],
    ]
    print(md_table(["what", "resident (RSS growth)", "Python objects (tracemalloc)", "pickled snapshot",
                    "target", "met?"], rows))
    print()
    print(f"- per pending prediction: **{per_pending:,.0f} B** resident (target <= 200 B: "
          f"{verdict(per_pending <= 200)})")
    print(f"- per SLO key: **{per_key / 1024:,.1f} KiB** (target <= 64 KiB: {verdict(per_key <= 64 * 1024)})")
    parts = ", ".join(f"{name} {size:,.0f} B" for name, size in rss["parts"].items())
    print(f"- where a pending prediction's bytes go (sys.getsizeof): {parts}")
    print(f"- SloTracker.memory_bytes() of the fed tracker: {key_counted / 1024:.1f} KiB")
    print(f"- {watch.describe()} (memory figures do not depend on load; the verdicts use the larger of RSS "
          "and tracemalloc for keys, RSS for pending predictions)")


if __name__ == "__main__":
    main()
