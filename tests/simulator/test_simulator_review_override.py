"""The hook for raised review sampling (issue 7): changeable while the stream runs."""

import threading

import pytest

from simulator.model import Behaviour
from simulator.scenarios import stable
from tests.simulator.sim_helpers import HOUR, START, collect, make_generator

BASE = Behaviour(review_probability_unflagged=0.05)


def run_with_override_at(gen, at: float, rate: float, until: float | None):
    """Consume events, calling set_review_rate just before event time reaches `at` (as a consumer
    of review-sampling would between two events; it applies from the next prediction on)."""
    out, armed = [], True
    for kind, t, record in gen.events():
        if armed and t >= at - 60:
            gen.set_review_rate(gen.model_id, rate, until)
            armed = False
        out.append((kind, t, record))
    return out


def test_raised_rate_applies_from_the_call_until_expiry_and_only_raises():
    gen = make_generator(stable(BASE), hours=3, rate=20_000)
    events = run_with_override_at(gen, START + HOUR, 0.5, START + 2 * HOUR)
    preds = [(t, r) for k, t, r in events if k == "prediction"]
    labelled = {r["prediction_id"] for k, _, r in events if k == "label"}

    def phase(lo, hi, flag):
        rs = [r for t, r in preds if START + lo <= t < START + hi and r["predicted_label"] == flag]
        return {r["review_probability"] for r in rs}, sum(r["prediction_id"] in labelled for r in rs) / len(rs)

    assert phase(0, HOUR - 60, 0)[0] == {0.05}
    probs, share = phase(HOUR, 2 * HOUR, 0)
    assert probs == {0.5} and share == pytest.approx(0.5, abs=0.02)
    assert phase(2 * HOUR, 3 * HOUR, 0)[0] == {0.05}          # expired
    assert phase(HOUR, 2 * HOUR, 1)[0] == {1.0}              # never lowered


def test_override_changes_reviews_but_not_the_traffic():
    plain = collect(make_generator(stable(BASE), hours=2)).predictions
    gen = make_generator(stable(BASE), hours=2)
    raised = [(t, r) for k, t, r in run_with_override_at(gen, START + HOUR, 0.3, None) if k == "prediction"]
    strip = lambda rs: [(t, {k: v for k, v in r.items() if k != "review_probability"}) for t, r in rs]  # noqa: E731
    assert strip(plain) == strip(raised)
    assert gen.stats.reviewed > gen.stats.predictions * 0.15


def test_overrides_for_other_models_and_clearing():
    gen = make_generator(stable(BASE), hours=1)
    gen.set_review_rate("another-model", 0.9)
    assert gen.review_rate_override(gen.model_id, START) is None
    assert gen.review_rate_override("another-model", START) == 0.9
    gen.set_review_rate(gen.model_id, 0.4, until_time=START + 10)
    assert gen.review_rate_override(gen.model_id, START + 9.9) == 0.4
    assert gen.review_rate_override(gen.model_id, START + 10) is None
    gen.clear_review_rate(gen.model_id)
    assert gen.review_rate_override(gen.model_id, START) is None
    with pytest.raises(ValueError):
        gen.set_review_rate(gen.model_id, 0)


def test_override_can_come_from_another_thread():
    gen = make_generator(stable(BASE), hours=2, rate=5000)
    events = gen.events()
    first = [next(events) for _ in range(10)]
    t = threading.Thread(target=gen.set_review_rate, args=(gen.model_id, 1.0))
    t.start()
    t.join()
    rest = [e for e in events if e[0] == "prediction"]
    assert all(r["review_probability"] == 1.0 for _, _, r in rest)
    assert first


def test_review_sampling_records_from_the_responder_apply_and_tombstones_clear():
    from simulator.review_sampling import apply_review_sampling

    gen = make_generator(stable(BASE), hours=1)
    apply_review_sampling(gen, {"model_id": gen.model_id, "rate": 0.25,
                                "expires_at": "2025-01-06T00:30:00Z", "reason": "breach"})
    assert gen.review_rate_override(gen.model_id, START + 60) == 0.25
    assert gen.review_rate_override(gen.model_id, START + 1800) is None
    apply_review_sampling(gen, {"model_id": gen.model_id, "rate": 0.5, "expires_at": None})
    assert gen.review_rate_override(gen.model_id, START + 10 * HOUR) == 0.5
    apply_review_sampling(gen, None, model_id=gen.model_id)
    assert gen.review_rate_override(gen.model_id, START) is None
    with pytest.raises(ValueError):
        apply_review_sampling(gen, None)
