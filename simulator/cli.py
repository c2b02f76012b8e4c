"""`slo-monitor simulate`: options and the run. The top-level CLI calls add_arguments() and run().

Also runnable alone for development: `python -m simulator --scenario precision_drop --dry-run`.
"""

from __future__ import annotations

import argparse
import dataclasses
import signal
import sys
import time
from typing import Sequence

from simulator.durations import format_duration, format_time, parse_duration, parse_time
from simulator.model import Behaviour, Population
from simulator.runner import NullSink, run_simulation, stderr_progress
from simulator.scenarios import SCENARIOS, build_scenario, describe_scenarios, scenario_parameters
from simulator.streams import DEFAULT_MODEL_ID, TrafficGenerator

# Fast-forward replays start here unless --start says otherwise, so they are reproducible.
DEFAULT_REPLAY_START = "2025-01-06T00:00:00Z"
_DEFAULTS = Behaviour()
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"  # same as kafka_writer's; kept here so --help needs no Kafka client

# Scenario-specific options: argparse dest -> the scenario builder parameter of the same name.
_SCENARIO_OPTIONS = ("change_at", "recover_at", "ramp", "precision_after", "recall_after", "segment",
                     "traffic_factor", "label_delay_after", "max_label_delay_after", "feature",
                     "shift", "drift_lag", "new_version", "rollout_share", "breakage", "flip_rate")


def _duration(text: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _time(text: str) -> float:
    try:
        return parse_time(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _probability(text: str) -> float:
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"must be in (0, 1], got {text}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the simulate options to `parser` (a subcommand parser or a standalone one)."""
    g = parser.add_argument_group("traffic")
    g.add_argument("--scenario", default="stable", choices=sorted(SCENARIOS), metavar="NAME",
                   help=f"what happens during the run: {', '.join(SCENARIOS)} (default: stable; "
                        "see --list-scenarios)")
    g.add_argument("--list-scenarios", action="store_true", help="describe the scenarios and exit")
    g.add_argument("--hours", type=float, default=24.0, metavar="H",
                   help="event-time duration of the predictions, in hours (default: 24)")
    g.add_argument("--rate", type=float, default=10_000.0, metavar="PREDICTIONS_PER_HOUR",
                   help="mean predictions per hour; traffic swings over the day around it (default: 10000)")
    g.add_argument("--seed", type=int, default=42, help="random seed: same seed, same traffic (default: 42)")
    g.add_argument("--start", type=_time, metavar="RFC3339",
                   help=f"event time of the start (default: {DEFAULT_REPLAY_START} in fast-forward, "
                        "now in real-time mode)")
    g.add_argument("--model-id", metavar="ID", default=DEFAULT_MODEL_ID, help=f"model_id on every record (default: {DEFAULT_MODEL_ID})")
    g.add_argument("--model-version", metavar="VERSION", default="v1", help="model_version before any rollout (default: v1)")
    g.add_argument("--diurnal-amplitude", type=float, metavar="A", default=Population().diurnal_amplitude,
                   help="daily traffic swing, 0 for flat traffic (default: %(default)s)")
    g.add_argument("--timestamps", choices=("rfc3339", "epoch"), default="rfc3339",
                   help="timestamp format: RFC 3339 UTC strings or epoch seconds (default: rfc3339)")

    m = parser.add_argument_group("model and review process (before any scenario change)")
    m.add_argument("--precision", type=_probability, metavar="P", default=_DEFAULTS.precision,
                   help="precision of the flagged class (default: %(default)s)")
    m.add_argument("--recall", type=_probability, metavar="P", default=_DEFAULTS.recall,
                   help="recall of the flagged class (default: %(default)s)")
    m.add_argument("--flagged-rate", type=_probability, metavar="P", default=_DEFAULTS.flagged_rate,
                   help="share of predictions flagged (default: %(default)s)")
    m.add_argument("--review-probability-flagged", type=_probability, metavar="P",
                   default=_DEFAULTS.review_probability_flagged,
                   help="chance a flagged prediction is reviewed (default: %(default)s)")
    m.add_argument("--review-probability-unflagged", type=_probability, metavar="P",
                   default=_DEFAULTS.review_probability_unflagged,
                   help="chance an unflagged prediction is reviewed (default: %(default)s)")
    m.add_argument("--label-delay", type=_duration, default=_DEFAULTS.label_delay_median, metavar="DURATION",
                   help="median review delay, lognormal (default: 2m)")
    m.add_argument("--label-delay-sigma", type=float, metavar="SIGMA", default=_DEFAULTS.label_delay_sigma,
                   help="lognormal shape of the delay; 0 = fixed delay (default: %(default)s)")
    m.add_argument("--max-label-delay", type=_duration, default=_DEFAULTS.label_delay_max, metavar="DURATION",
                   help="longest review delay (default: 1h)")
    m.add_argument("--label-tail", type=_duration, metavar="DURATION",
                   help="drop labels due later than this after the last prediction (default: emit all)")

    s = parser.add_argument_group("scenario parameters (each used only by scenarios that take it)")
    s.add_argument("--change-at", type=_duration, metavar="OFFSET",
                   help="when the scenario's change happens, after the start (default: half of --hours)")
    s.add_argument("--recover-at", type=_duration, metavar="OFFSET",
                   help="when it recovers / the new version is rolled back (default: never)")
    s.add_argument("--ramp", type=_duration, metavar="DURATION",
                   help="how long the change takes to reach full effect (gradual_decline default: 24h)")
    s.add_argument("--precision-after", type=_probability, metavar="P", help="precision after the change")
    s.add_argument("--recall-after", type=_probability, metavar="P", help="recall after the change")
    s.add_argument("--segment", metavar="KEY=VALUE", help="segment_drop: the segment that degrades (default: country=DE)")
    s.add_argument("--traffic-factor", type=float, metavar="X", help="low_traffic: traffic multiplier after the change (default: 0.05)")
    s.add_argument("--label-delay-after", type=_duration, metavar="DURATION",
                   help="label_delay_spike: median review delay after the change (default: 4h)")
    s.add_argument("--max-label-delay-after", type=_duration, metavar="DURATION",
                   help="label_delay_spike: longest review delay after the change (default: 24h)")
    s.add_argument("--feature", choices=("amount", "account_age_days", "txn_count_24h"),
                   help="feature_shift: which feature drifts (default: amount)")
    s.add_argument("--shift", type=float, metavar="SD", help="feature_shift: size of the shift, in standard deviations / log units (default: 1.5)")
    s.add_argument("--drift-lag", type=_duration, metavar="DURATION",
                   help="feature_shift: how long after the drift precision sags (default: 2h)")
    s.add_argument("--new-version", metavar="VERSION", help="bad_version: the version rolled out (default: v2)")
    s.add_argument("--rollout-share", type=_probability, metavar="P", help="bad_version: its share of traffic (default: 0.5)")
    s.add_argument("--breakage", choices=("unit", "nulls", "categories"),
                   help="upstream_change: what breaks (default: unit, amount sent in cents)")
    s.add_argument("--flip-rate", type=_probability, metavar="P",
                   help="bad_reviewer: share of that reviewer's labels that are wrong (default: 0.5)")

    o = parser.add_argument_group("output")
    o.add_argument("--bootstrap-servers", default=None, metavar="HOST:PORT",
                   help=f"Kafka to write to (default: $KAFKA_BOOTSTRAP_SERVERS or {DEFAULT_BOOTSTRAP})")
    o.add_argument("--predictions-topic", metavar="TOPIC", default="predictions", help="default: predictions")
    o.add_argument("--labels-topic", metavar="TOPIC", default="labels", help="default: labels")
    o.add_argument("--partitions", type=int, metavar="N", default=3,
                   help="partitions for topics this command creates, same for both (default: 3)")
    o.add_argument("--output-jsonl", metavar="DIR",
                   help="write DIR/predictions.jsonl and DIR/labels.jsonl instead of Kafka")
    o.add_argument("--dry-run", action="store_true", help="generate and summarise only; write nothing")
    o.add_argument("--realtime", action="store_true",
                   help="pace event time to the wall clock instead of fast-forwarding")
    o.add_argument("--speed", type=float, metavar="FACTOR",
                   help="real-time speed-up: 60 = one minute of event time per second (implies --realtime)")
    o.add_argument("--quiet", action="store_true", help="no progress lines or summary")

    f = parser.add_argument_group("closing the loop (Kafka, with --speed or --realtime)")
    f.add_argument("--follow-model-control", metavar="TOPIC",
                   help="serve the version each rollback record on TOPIC names (e.g. model-control)")
    f.add_argument("--follow-review-sampling", metavar="TOPIC",
                   help="review at the rates the records on TOPIC raise (e.g. review-sampling)")


def build_generator(args: argparse.Namespace) -> TrafficGenerator:
    """The generator the options describe (raises ValueError/TypeError on impossible settings)."""
    realtime = bool(args.realtime or args.speed is not None)
    duration = args.hours * 3600.0
    if args.start is not None:
        start = args.start
    elif realtime:
        start = round(time.time(), 3)
    else:
        start = parse_time(DEFAULT_REPLAY_START)
    base = Behaviour(
        precision=args.precision, recall=args.recall, flagged_rate=args.flagged_rate,
        review_probability_flagged=args.review_probability_flagged,
        review_probability_unflagged=args.review_probability_unflagged,
        label_delay_median=args.label_delay, label_delay_sigma=args.label_delay_sigma,
        label_delay_min=min(_DEFAULTS.label_delay_min, args.label_delay, args.max_label_delay),
        label_delay_max=args.max_label_delay)
    params = {name: getattr(args, name, None) for name in _SCENARIO_OPTIONS}
    accepted = scenario_parameters(args.scenario)
    if params["change_at"] is None and "change_at" in accepted:
        params["change_at"] = duration / 2
    ignored = sorted(k for k, v in params.items() if v is not None and k not in accepted)
    if ignored and not args.quiet:
        flags = ", ".join("--" + k.replace("_", "-") for k in ignored)
        print(f"note: scenario {args.scenario} does not use {flags}", file=sys.stderr)
    scenario = build_scenario(args.scenario, base, ignore_unknown=True, **params)
    scenario = dataclasses.replace(scenario, base_version=args.model_version)
    population = Population(diurnal_amplitude=args.diurnal_amplitude)
    return TrafficGenerator(scenario, start=start, duration=duration, rate_per_hour=args.rate,
                            seed=args.seed, model_id=args.model_id, population=population,
                            timestamp_format=args.timestamps, label_tail=args.label_tail)


def run(args: argparse.Namespace) -> int:
    """Run `simulate` with parsed options. 0 = done, 1 = write failed, 2 = bad options or no
    Kafka, 130 = interrupted (Ctrl-C or SIGTERM; what was sent is flushed first)."""
    from simulator.summary import format_summary

    if args.list_scenarios:
        print(describe_scenarios())
        print("\nOn the command line, change_at defaults to half of --hours; offsets are after --start.")
        return 0
    try:
        generator = build_generator(args)
    except (ValueError, TypeError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 2
    realtime = bool(args.realtime or args.speed is not None)
    speed = args.speed if args.speed is not None else 1.0
    if realtime and speed <= 0:
        print("simulate: --speed must be > 0", file=sys.stderr)
        return 2

    following = args.follow_model_control or args.follow_review_sampling
    if following and (not realtime or args.dry_run or args.output_jsonl):
        print("simulate: --follow-model-control and --follow-review-sampling need Kafka output and --speed or "
              "--realtime (fast-forwarded traffic is written before anything could follow)", file=sys.stderr)
        return 2

    if args.dry_run:
        sink = NullSink()
    elif args.output_jsonl:
        from simulator.jsonl_writer import JsonlWriter
        sink = JsonlWriter(args.output_jsonl)
    else:
        from simulator.kafka_writer import KafkaUnavailable, KafkaWriter
        try:
            sink = KafkaWriter(args.bootstrap_servers, args.predictions_topic, args.labels_topic,
                               partitions=args.partitions)
        except KafkaUnavailable as exc:
            print(f"simulate: {exc}", file=sys.stderr)
            return 2

    if not args.quiet:
        mode = f"real time x{speed:g}" if realtime else "fast-forward"
        followed = [topic for topic in (args.follow_model_control, args.follow_review_sampling) if topic]
        if followed:
            mode += f", following {' and '.join(followed)}"
        print(f"simulating {args.scenario} from {format_time(generator.start)} for "
              f"{format_duration(generator.duration)} ({mode}) to {sink.describe()}", file=sys.stderr)

    followers = []
    if following:
        from simulator.closed_loop import start_followers, stop_followers  # (Kafka only when following)
        try:
            followers = start_followers(generator, sink.bootstrap_servers, model_control=args.follow_model_control,
                                        review_sampling=args.follow_review_sampling)
        except RuntimeError as exc:
            sink.close()
            print(f"simulate: {exc}", file=sys.stderr)
            return 2
    previous = _sigterm_as_interrupt()
    try:
        report = run_simulation(generator, sink, realtime=realtime, speed=speed,
                                progress=None if args.quiet else stderr_progress)
    except Exception as exc:  # noqa: BLE001 - a failed write is reported, not a traceback
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    finally:
        _restore_sigterm(previous)
        if followers:
            stop_followers(followers)
    if not args.quiet:
        print(format_summary(report, generator, sink.describe()))
    return 130 if report.interrupted else 0


def _sigterm_as_interrupt():
    """Treat SIGTERM like Ctrl-C so a stopped real-time run still flushes what it sent."""
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        return signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not in the main thread
        return None


def _restore_sigterm(previous) -> None:
    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Produce realistic prediction and label traffic for slo-monitor, with scenarios.")
    add_arguments(parser)
    return run(parser.parse_args(argv))
