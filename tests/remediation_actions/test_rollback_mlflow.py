"""The rollback action against a real MLflow tracking server (no Kafka): target choice, tags that
make it undoable, and never half done when MLflow fails in the middle."""

from __future__ import annotations

from typing import Any

import pytest

from remediation.action_handler import ActionFailed, ActionUnavailable, Skip
from remediation.alert_record import parse_alert
from remediation.model_registry import MlflowRegistry
from remediation.playbook_config import parse_playbook_config
from remediation.rollback import ALREADY_DONE, FINISH, MOVE, RollbackHandler, undo_rollback
from remediation.rollback_target import BREACHED_TAG, ROLLBACK_TAG, decode_tag
from tests.kafka_support import free_port
from tests.remediation_actions.mlflow_support import FaultyProxy, register_model
from tests.remediation_actions.support import breach

CONFIG = parse_playbook_config({})


def handler_for(url: str) -> tuple[RollbackHandler, list[tuple[str, str, Any]]]:
    sent: list[tuple[str, str, Any]] = []
    return RollbackHandler(MlflowRegistry(url), lambda t, k, v: sent.append((t, k, v))), sent


def setup(mlflow_client: Any, **kw: Any):
    name = register_model(mlflow_client)
    alert = parse_alert(breach(model_id=name, **kw))
    return name, alert, CONFIG.playbook(alert)


def tag(client: Any, name: str, version: str, key: str) -> dict | None:
    return decode_tag(client.get_model_version(name, version).tags.get(key))


def champion(client: Any, name: str) -> str:
    return client.get_model_version_by_alias(name, "champion").version


def test_moves_champion_to_the_last_healthy_version_records_it_and_can_be_undone(mlflow_server, mlflow_client):
    name, alert, book = setup(mlflow_client)
    handler, sent = handler_for(mlflow_server.url)
    plan = handler.plan(alert, book)
    assert plan.payload.kind == MOVE and plan.payload.to_version == "4"
    assert plan.summary.startswith(f"move champion of {name} from version 5 to version 4: the last version")
    assert champion(mlflow_client, name) == "5"                    # planning changes nothing

    applied = handler.apply(alert, book, plan)
    assert champion(mlflow_client, name) == "4"
    moved = tag(mlflow_client, name, "4", ROLLBACK_TAG)
    assert moved["state"] == "done" and moved["from_version"] == "5" and moved["alias"] == "champion"
    assert moved["alert_id"] == alert.alert_id
    assert tag(mlflow_client, name, "5", BREACHED_TAG)["alert_id"] == alert.alert_id
    assert [(t, k) for t, k, _ in sent] == [("model-control", name)]
    message = sent[0][2]
    assert {k: message[k] for k in ("model_id", "from_version", "to_version", "alert_id")} == {
        "model_id": name, "from_version": "5", "to_version": "4", "alert_id": alert.alert_id}
    assert message["reason"].startswith("SLO fraud-precision critical alert on version 5")
    assert applied.details["notified"]["change_event"] == "not configured"

    # a second plan for the same alert recognises the finished move instead of moving again
    again = handler.plan(alert, book)
    assert again.payload.kind == ALREADY_DONE
    # a different alert finds champion where it no longer expects it
    other = parse_alert(breach(model_id=name))
    skip = handler.plan(other, CONFIG.playbook(other))
    assert isinstance(skip, Skip) and skip.rule == "alias_moved"

    assert undo_rollback(MlflowRegistry(mlflow_server.url), name) == ("5", "4")
    assert champion(mlflow_client, name) == "5"
    assert tag(mlflow_client, name, "4", ROLLBACK_TAG)["state"] == "undone"
    assert tag(mlflow_client, name, "5", BREACHED_TAG) is None


def test_never_chooses_a_breached_version_and_falls_back_to_the_previous_one(mlflow_server, mlflow_client):
    name, alert, book = setup(mlflow_client, version="v5", last_healthy="v4")   # "vN" as the simulator writes
    mlflow_client.set_model_version_tag(name, "4", BREACHED_TAG, '{"alert_id": "earlier"}')
    handler, _ = handler_for(mlflow_server.url)
    plan = handler.plan(alert, book)
    assert plan.payload.to_version == "3"
    assert "the last healthy version 4 is marked as breached" in plan.payload.why

    without = parse_alert(breach(model_id=name, last_healthy=None))
    assert handler.plan(without, book).payload.to_version == "3"

    first = parse_alert(breach(model_id=name, version="1"))
    mlflow_client.set_registered_model_alias(name, "champion", "1")
    skip = handler.plan(first, book)
    assert isinstance(skip, Skip) and skip.rule == "no_target"


def test_unknown_model_or_alias_or_version_is_skipped_with_the_reason(mlflow_server, mlflow_client):
    handler, _ = handler_for(mlflow_server.url)
    missing = parse_alert(breach(model_id="no-such-model"))
    assert handler.plan(missing, CONFIG.playbook(missing)).rule == "not_registered"
    name = register_model(mlflow_client)
    mlflow_client.delete_registered_model_alias(name, "champion")
    alert = parse_alert(breach(model_id=name))
    assert handler.plan(alert, CONFIG.playbook(alert)).rule == "no_alias"
    unversioned = parse_alert(breach(model_id=name, version=None))
    assert handler.plan(unversioned, CONFIG.playbook(unversioned)).rule == "no_version"
    assert RollbackHandler(None, lambda *a: None).plan(alert, CONFIG.playbook(alert)).rule == "no_registry"


def test_alias_move_whose_answer_is_lost_is_finished_not_repeated(mlflow_server, mlflow_client):
    name, alert, book = setup(mlflow_client)
    with FaultyProxy(mlflow_server.url) as proxy:
        handler, sent = handler_for(proxy.url)
        plan = handler.plan(alert, book)
        proxy.fail("POST", "registered-models/alias", "forward_drop", count=1)   # applied, answer lost
        with pytest.raises(ActionUnavailable) as lost:
            handler.apply(alert, book, plan)
        assert lost.value.uncertain
        assert champion(mlflow_client, name) == "4"
        assert tag(mlflow_client, name, "4", ROLLBACK_TAG)["state"] == "pending"   # undo info already there
        assert sent == []                                                         # nothing announced yet

        retry = handler.plan(alert, book)
        assert retry.payload.kind == FINISH
        handler.apply(alert, book, retry)
    assert tag(mlflow_client, name, "4", ROLLBACK_TAG)["state"] == "done"
    assert len(sent) == 1 and sent[0][2]["to_version"] == "4"
    alias_posts = [s for s in proxy.seen() if s[0] == "POST" and "registered-models/alias" in s[1]]
    assert len(alias_posts) == 1                                                 # moved exactly once


def test_failed_alias_move_leaves_no_claim_behind_when_the_executor_gives_up(mlflow_server, mlflow_client):
    name, alert, book = setup(mlflow_client)
    with FaultyProxy(mlflow_server.url) as proxy:
        handler, sent = handler_for(proxy.url)
        proxy.fail("POST", "registered-models/alias", 503)                     # MLflow fails the move
        with pytest.raises(ActionUnavailable) as failed:
            handler.apply(alert, book, handler.plan(alert, book))
        assert failed.value.uncertain                                          # a 5xx: cannot know
        assert champion(mlflow_client, name) == "5"
        assert tag(mlflow_client, name, "4", ROLLBACK_TAG)["state"] == "pending"

        late = handler.plan(alert, book)                                       # MLflow answers reads again
        assert late.payload.kind == MOVE and late.payload.stale_pending == ("4",)
        with pytest.raises(ActionFailed) as gave_up:
            handler.apply(alert, book, late, late=True)
        assert gave_up.value.rule == "mlflow_unavailable"
    assert champion(mlflow_client, name) == "5"
    assert tag(mlflow_client, name, "4", ROLLBACK_TAG) is None                 # no claim of a move
    assert sent == []


def test_mlflow_down_is_unavailable_and_certainly_unchanged(mlflow_client):
    handler, _ = handler_for(f"http://127.0.0.1:{free_port()}")                 # nothing listens
    alert = parse_alert(breach(model_id="m"))
    with pytest.raises(ActionUnavailable) as down:
        handler.plan(alert, CONFIG.playbook(alert))
    assert not down.value.uncertain and "connection refused" in str(down.value)
