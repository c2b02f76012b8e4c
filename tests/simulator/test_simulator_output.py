"""Records match the public contract; the CLI's JSONL path works end to end via run(args)."""

import argparse
import math
import re

import orjson
import pytest

from simulator import cli
from simulator.durations import parse_time
from simulator.jsonl_writer import JsonlWriter
from simulator.runner import NullSink, run_simulation
from simulator.scenarios import build_scenario, stable
from tests.simulator.sim_helpers import HOUR, START, collect, make_generator

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def check_timestamp(v, epoch: bool) -> None:
    if epoch:
        assert is_number(v)
    else:
        assert isinstance(v, str) and RFC3339_Z.match(v), v
        parse_time(v)


def check_prediction(r: dict, epoch: bool = False) -> None:
    """The contract's Prediction fields, with the types this simulator promises (ints 1/0)."""
    assert {"prediction_id", "model_id", "timestamp", "predicted_label"} <= set(r)
    assert isinstance(r["prediction_id"], str) and 1 <= len(r["prediction_id"]) <= 256
    assert isinstance(r["model_id"], str) and r["model_id"]
    assert isinstance(r["model_version"], str)
    check_timestamp(r["timestamp"], epoch)
    assert type(r["predicted_label"]) is int and r["predicted_label"] in (0, 1)
    assert is_number(r["score"]) and 0 <= r["score"] <= 1
    assert is_number(r["review_probability"]) and 0 < r["review_probability"] <= 1
    assert isinstance(r["segment"], dict)
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in r["segment"].items())
    assert isinstance(r["features"], dict)
    assert all(isinstance(k, str) and (v is None or isinstance(v, str) or is_number(v))
               for k, v in r["features"].items())


def check_label(r: dict, epoch: bool = False) -> None:
    assert {"prediction_id", "label", "timestamp"} <= set(r)
    assert isinstance(r["prediction_id"], str) and r["prediction_id"]
    assert type(r["label"]) is int and r["label"] in (0, 1)
    check_timestamp(r["timestamp"], epoch)
    assert isinstance(r["model_id"], str) and isinstance(r["reviewer"], str)


@pytest.mark.parametrize("fmt", ["rfc3339", "epoch"])
def test_records_follow_the_contract(fmt):
    c = collect(make_generator(stable(), hours=2, timestamp_format=fmt))
    epoch = fmt == "epoch"
    for t, r in c.predictions:
        check_prediction(orjson.loads(orjson.dumps(r)), epoch)
        assert (r["timestamp"] if epoch else parse_time(r["timestamp"])) == pytest.approx(t, abs=1e-3)
    for t, r in c.labels:
        check_label(orjson.loads(orjson.dumps(r)), epoch)
        assert (r["timestamp"] if epoch else parse_time(r["timestamp"])) == pytest.approx(t, abs=1e-3)
    assert any(r["features"]["account_age_days"] is None for _, r in c.predictions)  # nulls occur


@pytest.mark.parametrize("fmt", ["rfc3339", "epoch"])
def test_records_pass_the_monitors_own_decoder(fmt):
    """Cross-check with the monitor's parser (schemas.decode), the one that routes to the DLQ."""
    decode = pytest.importorskip("schemas.decode", reason="schemas.decode not available")
    timestamps = pytest.importorskip("schemas.timestamps", reason="schemas.timestamps not available")
    c = collect(make_generator(build_scenario("bad_version", change_at=600), hours=0.5,
                               timestamp_format=fmt))
    for t, r in c.predictions[:3000]:
        decoded = decode.decode_prediction(orjson.dumps(r))
        assert decoded.prediction_id == r["prediction_id"]
        assert timestamps.parse_event_time(r["timestamp"]) == pytest.approx(t, abs=1e-3)
    for t, r in c.labels:
        decode.decode_label(orjson.dumps(r))
        assert timestamps.parse_event_time(r["timestamp"]) == pytest.approx(t, abs=1e-3)


def parse(argv):
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def read_jsonl(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_cli_output_jsonl_end_to_end(tmp_path, capsys):
    args = parse(["--scenario", "precision_drop", "--hours", "4", "--rate", "5000", "--seed", "3",
                  "--change-at", "2h", "--precision-after", "0.8", "--output-jsonl", str(tmp_path),
                  "--label-delay", "5m", "--max-label-delay", "30m", "--diurnal-amplitude", "0"])
    assert cli.run(args) == 0
    preds = read_jsonl(tmp_path / "predictions.jsonl")
    labels = read_jsonl(tmp_path / "labels.jsonl")
    assert len(preds) == pytest.approx(20_000, rel=0.1)
    assert labels
    for r in preds[:2000]:
        check_prediction(r)
    for r in labels[:2000]:
        check_label(r)
    assert preds[0]["timestamp"].startswith("2025-01-06T00:")  # the fixed replay start
    for stream in (preds, labels):
        times = [parse_time(r["timestamp"]) for r in stream]
        assert times == sorted(times)
    out = capsys.readouterr().out
    assert f"sent {len(preds):,} predictions" in out and f"{len(labels):,} labels" in out
    assert "precision 0.97 -> 0.8" in out

    # Same options again: byte-identical files (deterministic replays).
    again = tmp_path / "again"
    assert cli.run(parse(["--scenario", "precision_drop", "--hours", "4", "--rate", "5000", "--seed", "3",
                          "--change-at", "2h", "--precision-after", "0.8", "--output-jsonl", str(again),
                          "--label-delay", "5m", "--max-label-delay", "30m", "--diurnal-amplitude", "0",
                          "--quiet"])) == 0
    assert (again / "predictions.jsonl").read_bytes() == (tmp_path / "predictions.jsonl").read_bytes()
    assert (again / "labels.jsonl").read_bytes() == (tmp_path / "labels.jsonl").read_bytes()


def test_cli_options_reach_the_generator():
    args = parse(["--scenario", "bad_version", "--start", "2024-03-01T12:00:00Z", "--hours", "10",
                  "--model-id", "m1", "--model-version", "2024a", "--new-version", "2024b",
                  "--rollout-share", "0.2", "--review-probability-unflagged", "0.2",
                  "--timestamps", "epoch", "--segment", "country=FR"])
    gen = cli.build_generator(args)
    assert gen.start == parse_time("2024-03-01T12:00:00Z") and gen.duration == 10 * HOUR
    assert gen.model_id == "m1" and gen.timestamp_format == "epoch"
    sc = gen.scenario
    assert sc.base_version == "2024a" and sc.rollouts[0].version == "2024b"
    assert sc.rollouts[0].at == 5 * HOUR        # --change-at defaults to half of --hours
    assert sc.rollouts[0].share == 0.2
    assert sc.base.review_probability_unflagged == 0.2


def test_cli_realtime_defaults_start_to_now():
    import time
    gen = cli.build_generator(parse(["--speed", "60", "--hours", "1"]))
    assert abs(gen.start - time.time()) < 5


def test_cli_list_scenarios_dry_run_and_bad_options(capsys, tmp_path):
    assert cli.run(parse(["--list-scenarios"])) == 0
    assert "segment_drop" in capsys.readouterr().out
    assert cli.run(parse(["--hours", "1", "--rate", "1000", "--dry-run"])) == 0
    assert "sent" in capsys.readouterr().out
    assert cli.run(parse(["--scenario", "precision_drop", "--change-at", "2h", "--recover-at", "1h",
                          "--dry-run"])) == 2
    assert "recovery" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse(["--label-delay", "soon"])
    with pytest.raises(SystemExit):
        parse(["--scenario", "nope"])


def test_cli_reports_an_unreachable_broker(capsys):
    # Port 9 (discard) has nobody listening: a clear message and exit 2, not a hang.
    args = parse(["--hours", "0.1", "--bootstrap-servers", "127.0.0.1:9", "--quiet"])
    assert cli.run(args) == 2
    assert "cannot reach Kafka" in capsys.readouterr().err


def test_jsonl_writer_writes_one_object_per_line(tmp_path):
    w = JsonlWriter(tmp_path)
    w.send("prediction", 1.0, {"prediction_id": "a", "x": 1})
    w.send("label", 2.0, {"prediction_id": "a", "label": 1})
    w.close()
    assert read_jsonl(tmp_path / "predictions.jsonl") == [{"prediction_id": "a", "x": 1}]
    assert read_jsonl(tmp_path / "labels.jsonl") == [{"prediction_id": "a", "label": 1}]


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.slept = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds
        self.slept += seconds


def test_realtime_mode_paces_event_time_to_the_wall_clock():
    gen = make_generator(build_scenario("stable"), hours=1, rate=600)
    clock = FakeClock()
    sent = []

    class Recorder(NullSink):
        def send(self, kind, t, record):
            super().send(kind, t, record)
            sent.append((clock.now, t))

    report = run_simulation(gen, Recorder(), realtime=True, speed=60, clock=clock, sleep=clock.sleep)
    assert report.counts["prediction"] == gen.stats.predictions > 0
    for wall, t in sent:       # each event goes out no earlier than its scaled due time
        assert wall - 1000.0 >= (t - START) / 60 - 1e-9
        assert wall - 1000.0 <= (t - START) / 60 + 0.2 + 1e-9
    assert clock.slept == pytest.approx((sent[-1][1] - START) / 60, abs=0.25)


def test_fast_forward_does_not_sleep_and_interrupt_still_closes_the_sink():
    gen = make_generator(stable(), hours=1)
    clock = FakeClock()
    closed = []

    class Interrupting(NullSink):
        def send(self, kind, t, record):
            super().send(kind, t, record)
            if self.counts["prediction"] == 50:
                raise KeyboardInterrupt

        def close(self):
            closed.append(True)

    report = run_simulation(gen, Interrupting(), clock=clock, sleep=clock.sleep)
    assert report.interrupted and closed == [True] and clock.slept == 0
    assert report.counts["prediction"] == 49   # the 50th raised before being counted


def test_generation_and_cli_parsing_do_not_import_kafka():
    import subprocess
    import sys
    code = ("import argparse, sys, simulator, simulator.runner, simulator.summary, simulator.jsonl_writer, "
            "simulator.review_sampling, simulator.cli as c; c.add_arguments(argparse.ArgumentParser()); "
            "print('confluent_kafka' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
