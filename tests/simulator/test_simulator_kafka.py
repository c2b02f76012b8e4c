"""End to end on the real broker: simulate into fresh topics and read everything back."""

import argparse

import orjson
import pytest
from confluent_kafka.admin import AdminClient

from simulator import cli
from tests.kafka_support import read_all, unique_topic


@pytest.fixture
def topics(kafka_bootstrap):
    """Two fresh topic names, deleted afterwards."""
    names = unique_topic("sim-predictions"), unique_topic("sim-labels")
    yield names
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    for future in admin.delete_topics(list(names), operation_timeout=30).values():
        try:
            future.result()
        except Exception:  # noqa: BLE001 - cleanup only
            pass


@pytest.mark.kafka
def test_simulate_writes_both_topics_keyed_by_prediction_id(kafka_bootstrap, topics, capsys):
    predictions_topic, labels_topic = topics
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args([
        "--scenario", "precision_drop", "--hours", "2", "--rate", "3000", "--seed", "5",
        "--change-at", "1h", "--bootstrap-servers", kafka_bootstrap,
        "--predictions-topic", predictions_topic, "--labels-topic", labels_topic])
    assert cli.run(args) == 0
    summary = capsys.readouterr().out

    predictions = read_all(kafka_bootstrap, predictions_topic)
    labels = read_all(kafka_bootstrap, labels_topic)
    assert f"sent {len(predictions):,} predictions" in summary
    assert f"and {len(labels):,} labels" in summary
    assert len(predictions) > 4000 and len(labels) > 200

    ids = set()
    for key, value in predictions:
        record = orjson.loads(value)
        assert key == record["prediction_id"].encode()
        ids.add(record["prediction_id"])
    assert len(ids) == len(predictions)          # idempotent producer: no duplicates
    for key, value in labels:
        record = orjson.loads(value)
        assert key == record["prediction_id"].encode()
        assert record["prediction_id"] in ids
