"""Choice of the rollback target (pure)."""

from __future__ import annotations

from remediation.model_registry import registry_version
from remediation.rollback_target import BREACHED_TAG, VersionInfo, choose_target

READY = "READY"


def versions(*numbers: int, breached: tuple[int, ...] = (), pending: tuple[int, ...] = ()) -> list[VersionInfo]:
    return [VersionInfo(str(n), "PENDING_REGISTRATION" if n in pending else READY,
                        {BREACHED_TAG: "{}"} if n in breached else {}) for n in numbers]


def test_last_healthy_version_wins_even_if_it_is_not_the_previous_one():
    target = choose_target("9", "6", versions(5, 6, 7, 8, 9))
    assert target.version == "6"
    assert target.reason == "version 6: the last version the monitor saw meet the objective"


def test_previous_version_is_by_number_not_by_text():
    assert choose_target("10", None, versions(2, 9, 10)).version == "9"


def test_breached_unregistered_not_ready_or_the_breaching_version_itself_are_never_chosen():
    assert choose_target("5", "5", versions(3, 4, 5)).version == "4"
    assert "is the breaching version" in choose_target("5", "5", versions(3, 4, 5)).reason
    unregistered = choose_target("5", "12", versions(3, 4, 5))
    assert unregistered.reason.endswith("(the last healthy version 12 is not registered)")
    assert choose_target("5", None, versions(3, 4, 5, pending=(4,))).version == "3"
    assert choose_target("5", None, versions(3, 4, 5, breached=(3, 4))).version is None
    assert choose_target("5", "7", versions(5, 6, 7, breached=(7,))).version is None   # nothing older


def test_version_names_of_the_simulator_map_to_registry_numbers():
    assert [registry_version(v) for v in ("v5", "V12", 7, "5", None, "v1.2")] == ["5", "12", "7", "5", None, "v1.2"]
