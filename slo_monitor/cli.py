"""`slo-monitor`: the command line of CONTRACT.md (validate, run, simulate, demo).

Each subcommand imports its subsystem only when it runs, so `validate` answers at once and
never needs Kafka or Bytewax.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from flows.settings import DEFAULT_BOOTSTRAP


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slo-monitor",
        description="Streaming SLO monitor for ML models: precision and recall from delayed, "
        "sampled human-review labels, on Kafka.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    validate = commands.add_parser("validate", help="check an SLO file; exit 0 if valid")
    validate.add_argument("file", help="SLO file (YAML)")
    validate.set_defaults(handler=_validate)

    run = commands.add_parser("run", help="run the monitor until SIGTERM or SIGINT")
    add_run_arguments(run)
    run.set_defaults(handler=_run)

    simulate = commands.add_parser("simulate", help="produce realistic prediction and label traffic")
    from simulator.cli import add_arguments as add_simulate_arguments

    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=_simulate)

    demo = commands.add_parser("demo", help="the whole main job on this machine, end to end")
    demo.add_argument("--bootstrap-servers", default=_bootstrap_default())
    demo.add_argument("--hours", type=float, default=12.0, help="event time to simulate (default 12)")
    demo.set_defaults(handler=_demo)
    return parser


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    run.add_argument("--config", required=True, help="SLO file (YAML)")
    run.add_argument("--bootstrap-servers", default=_bootstrap_default(), help="Kafka (env KAFKA_BOOTSTRAP_SERVERS)")
    run.add_argument("--partitions", type=int, default=4, help="partitions of topics it creates (default 4)")
    run.add_argument("--metrics-port", type=int, default=9464, help="Prometheus port, 0 for none (default 9464)")
    run.add_argument("--metrics-host", default="127.0.0.1", help="address the metrics server binds (default loopback)")
    run.add_argument("--max-label-delay", default="7d", help="how long a prediction waits for its label (default 7d)")
    run.add_argument("--label-wait-margin", default="10m", help="how far predictions must progress past an early label before it expires (default 10m)")
    run.add_argument("--shards", type=int, default=16, help="join shards; fixed for the life of a recovery store")
    run.add_argument("--until-end", action="store_true", help="stop at the end of the input topics (replay)")
    for name in ("predictions", "labels", "joined"):
        run.add_argument(f"--{name}-topic", default=None, help=f"name of the {name} topic")


def _bootstrap_default() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)


def _validate(args: argparse.Namespace) -> int:
    from slo.spec import SloSpecError, load_slo_file

    try:
        slo_file = load_slo_file(args.file)
    except SloSpecError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 1
    names = ", ".join(slo.name for slo in slo_file.slos)
    print(f"valid: {len(slo_file.slos)} SLO(s): {names}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from slo_monitor.run import run_monitor

    return run_monitor(args)


def _simulate(args: argparse.Namespace) -> int:
    from simulator.cli import run as run_simulation

    return run_simulation(args)


def _demo(args: argparse.Namespace) -> int:
    from slo_monitor.demo import run_demo

    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
